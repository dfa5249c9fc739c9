package ledger

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func dtJournalAccounts(t *testing.T) map[string]*Account {
	return dtAccounts(
		dtAcc(t, "acc_A", "RON", "1000.00", withSeq(1)),
		dtAcc(t, "acc_B", "RON", "0.00", withSeq(2)),
		dtAcc(t, "acc_C", "RON", "50.00", withSeq(3)),
		dtAcc(t, "acc_D", "EUR", "200.00", withSeq(4)),
		dtAcc(t, "acc_E", "EUR", "0.00", withSeq(5)),
		dtAcc(t, "acc_F", "EUR", "0.00", withSeq(6), withStatus(StatusFrozen)),
	)
}

func TestJournal(t *testing.T) {
	type L = JournalLineInput
	cases := []struct {
		name     string
		lines    []L
		code     string            // "" success
		fields   []string          // for validation
		balances map[string]string // after, for success
		cp       map[string]string // counterparty per account, for success
	}{
		{name: "three lines one currency",
			lines:    []L{{"acc_A", Debit, "100.00"}, {"acc_B", Credit, "60.00"}, {"acc_C", Credit, "40"}},
			balances: map[string]string{"acc_A": "900", "acc_B": "60", "acc_C": "90"},
			cp:       map[string]string{"acc_A": "", "acc_B": "", "acc_C": ""}},
		{name: "two lines name each other",
			lines:    []L{{"acc_A", Debit, "1.00"}, {"acc_B", Credit, "1.00"}},
			balances: map[string]string{"acc_A": "999", "acc_B": "1"},
			cp:       map[string]string{"acc_A": "acc_B", "acc_B": "acc_A"}},
		{name: "two currencies each balanced",
			lines:    []L{{"acc_A", Debit, "100"}, {"acc_B", Credit, "100"}, {"acc_D", Debit, "10.50"}, {"acc_E", Credit, "10.50"}},
			balances: map[string]string{"acc_A": "900", "acc_B": "100", "acc_D": "189.50", "acc_E": "10.50"}},
		{name: "one line", lines: []L{{"acc_A", Debit, "1"}}, code: EValidation, fields: []string{"lines"}},
		{name: "no lines", code: EValidation, fields: []string{"lines"}},
		{name: "unbalanced by one ban", lines: []L{{"acc_A", Debit, "100.00"}, {"acc_B", Credit, "99.99"}},
			code: EValidation, fields: []string{"lines"}},
		{name: "balanced in sum but not per currency", lines: []L{{"acc_A", Debit, "100.00"}, {"acc_E", Credit, "100.00"}},
			code: EValidation, fields: []string{"lines"}},
		{name: "an account named twice", lines: []L{{"acc_A", Debit, "10"}, {"acc_B", Credit, "5"}, {"acc_A", Credit, "5"}},
			code: EValidation, fields: []string{"lines[2].account_id"}},
		{name: "an account named twice, same side", lines: []L{{"acc_A", Debit, "5"}, {"acc_A", Debit, "5"}, {"acc_B", Credit, "10"}},
			code: EValidation, fields: []string{"lines[1].account_id"}},
		{name: "bad type", lines: []L{{"acc_A", "out", "10"}, {"acc_B", Credit, "10"}},
			code: EValidation, fields: []string{"lines[0].type"}},
		{name: "zero amount", lines: []L{{"acc_A", Debit, "0"}, {"acc_B", Credit, "0"}},
			code: EValidation, fields: []string{"lines[0].amount", "lines[1].amount"}},
		{name: "scale of the line's account", lines: []L{{"acc_A", Debit, "1.001"}, {"acc_B", Credit, "1.001"}},
			code: EValidation, fields: []string{"lines[0].amount", "lines[1].amount"}},
		{name: "unknown account", lines: []L{{"acc_A", Debit, "1"}, {"acc_Z", Credit, "1"}}, code: ENotFound},
		{name: "system account not postable", lines: []L{{"acc_A", Debit, "1"}, {"external:RON", Credit, "1"}}, code: ENotFound},
		{name: "debit beyond funds", lines: []L{{"acc_C", Debit, "50.01"}, {"acc_A", Credit, "50.01"}}, code: EInsufficientFunds},
		{name: "frozen account", lines: []L{{"acc_D", Debit, "1"}, {"acc_F", Credit, "1"}}, code: EAccountClosed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			accs := dtJournalAccounts(t)
			snap := dtSnap(accs)
			b, err := Journal(accs, JournalInput{Lines: tc.lines, Details: Details{Memo: "accrual", Reference: "J-7"}}, dtActor("u_alice"))
			snap.assertUnchanged(t, accs)
			if tc.code != "" {
				e := dtLedgerErr(t, err, tc.code)
				if tc.code == EValidation {
					dtWantFields(t, e, tc.fields...)
				}
				if tc.code == EInsufficientFunds && (e.Shortfall == nil || e.Shortfall.AccountID != "acc_C" ||
					!e.Shortfall.Available.Equal(dtDec("50")) || !e.Shortfall.Requested.Equal(dtDec("50.01"))) {
					t.Errorf("shortfall %+v", e.Shortfall)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Txn.Kind != TxnJournal || b.Txn.Status != TxnPosted || b.Txn.Memo != "accrual" || len(b.Txn.Lines) != len(tc.lines) {
				t.Errorf("txn %+v", b.Txn)
			}
			if len(b.System) != 0 {
				t.Errorf("a journal moved system accounts: %+v", b.System)
			}
			if len(b.Updates) != len(tc.balances) {
				t.Errorf("%d updates, want %d", len(b.Updates), len(tc.balances))
			}
			for id, want := range tc.balances {
				u := dtUpdate(t, b, id)
				dtEqDec(t, id+" balance", u.Account.Balance, want)
				if u.Line == nil || u.Line.Seq != accs[id].Seq+1 || u.Account.Seq != accs[id].Seq+1 ||
					!u.Line.BalanceAfter.Equal(u.Account.Balance) || u.Line.Kind != TxnJournal || u.Line.Reference != "J-7" {
					t.Errorf("%s line %+v", id, u.Line)
				}
				if cp, ok := tc.cp[id]; ok && u.Line.CounterpartyAccountID != cp {
					t.Errorf("%s counterparty %q, want %q", id, u.Line.CounterpartyAccountID, cp)
				}
			}
		})
	}
}

func TestJournalLineCountLimits(t *testing.T) {
	for _, n := range []int{2, 39, 40, 41} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			accs := map[string]*Account{}
			var lines []JournalLineInput
			for i := range n {
				id := fmt.Sprintf("acc_%02d", i)
				accs[id] = dtAcc(t, id, "RON", "100.00")
				if i == 0 {
					lines = append(lines, JournalLineInput{id, Credit, fmt.Sprintf("%d.00", n-1)})
				} else {
					lines = append(lines, JournalLineInput{id, Debit, "1.00"})
				}
			}
			b, err := Journal(accs, JournalInput{Lines: lines}, dtActor("u_alice"))
			if n > MaxJournalLines {
				dtWantFields(t, err, "lines")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Updates) != n {
				t.Fatalf("%d updates", len(b.Updates))
			}
			dtEqDec(t, "first balance", dtUpdate(t, b, "acc_00").Account.Balance, fmt.Sprintf("%d", 100+n-1))
			dtEqDec(t, "last balance", dtUpdate(t, b, fmt.Sprintf("acc_%02d", n-1)).Account.Balance, "99")
		})
	}
}

func TestJournalUnbalancedMessageSaysByHowMuch(t *testing.T) {
	_, err := Journal(dtJournalAccounts(t), JournalInput{Lines: []JournalLineInput{
		{"acc_A", Debit, "100.00"}, {"acc_B", Credit, "99.99"}}}, dtActor("u_alice"))
	e := dtLedgerErr(t, err, EValidation)
	if len(e.Fields) != 1 || !strings.Contains(e.Fields[0].Message, "RON") || !strings.Contains(e.Fields[0].Message, "0.01") {
		t.Errorf("fields %+v", e.Fields)
	}
}

// FuzzJournalBalances books random journal vouchers over two or three
// accounts in RON and EUR and checks the books' invariants on every success,
// and that a refusal is the one the rules call for.
func FuzzJournalBalances(f *testing.F) {
	// nAcc, ccyBits, typeBits, three amounts (minor units), available,
	// overdraft and pending (shifted by 8 bits per account), available of
	// acc_B, flags (bit 0: balance each currency; bits 2-4: no funds check).
	f.Add(uint8(0), uint8(0), uint8(1), uint32(10000), uint32(10000), uint32(0), uint32(50000), uint32(0), uint32(0), uint32(0), uint8(0))
	f.Add(uint8(1), uint8(0), uint8(1), uint32(10000), uint32(6000), uint32(4000), uint32(5000), uint32(0), uint32(0), uint32(0), uint8(1))
	f.Add(uint8(1), uint8(4), uint8(5), uint32(250), uint32(250), uint32(999), uint32(100), uint32(0x0a0b0c), uint32(0x070809), uint32(500), uint8(3))
	f.Add(uint8(1), uint8(6), uint8(2), uint32(1), uint32(1), uint32(1), uint32(0), uint32(0), uint32(0), uint32(0), uint8(0xff))
	f.Add(uint8(0), uint8(3), uint8(0), uint32(99999), uint32(1), uint32(0), uint32(0), uint32(1), uint32(2), uint32(3), uint8(0x1d))
	f.Add(uint8(1), uint8(0), uint8(3), uint32(70000), uint32(30000), uint32(0), uint32(60000), uint32(0xff), uint32(0), uint32(0), uint8(1))
	f.Fuzz(func(t *testing.T, nAcc, ccyBits, typeBits uint8, a0, a1, a2, avail, overdraft, pending, avail2 uint32, flags uint8) {
		n := 2 + int(nAcc%2)
		amounts := []uint32{a0, a1, a2}
		ids := []string{"acc_A", "acc_B", "acc_C"}
		accs := map[string]*Account{}
		start := map[string]*Account{}
		for i := range n {
			ccy := "RON"
			if ccyBits&(1<<i) != 0 {
				ccy = "EUR"
			}
			// available = avail_i ≥ 0: the books start in a valid state.
			av := int64(avail % 1_000_000)
			if i == 1 {
				av = int64(avail2 % 1_000_000)
			}
			od := int64((overdraft >> (8 * i)) % 50_000)
			pe := int64((pending >> (8 * i)) % 50_000)
			acc := dtAcc(t, ids[i], ccy, "0", withSeq(int64(i*7)))
			acc.OverdraftLimit = decimal.New(od, -2)
			acc.Pending = decimal.New(pe, -2)
			acc.Balance = decimal.New(av+pe-od, -2)
			acc.FundsChecked = flags&(1<<(2+i)) == 0
			accs[acc.ID] = acc
			cp := *acc
			start[acc.ID] = &cp
		}
		lines := make([]Line, n)
		for i := range n {
			typ := Credit
			if typeBits&(1<<i) != 0 {
				typ = Debit
			}
			lines[i] = Line{AccountID: ids[i], Type: typ, Amount: decimal.New(int64(amounts[i]%200_000), -2), Currency: accs[ids[i]].Currency}
		}
		if flags&1 != 0 { // balance each currency on its last line
			last := map[string]int{}
			for i, l := range lines {
				last[l.Currency.Code] = i
			}
			for ccy, li := range last {
				sum := decimal.Zero
				for i, l := range lines {
					if i != li && l.Currency.Code == ccy {
						sum = sum.Add(l.Signed())
					}
				}
				if !sum.IsZero() {
					lines[li].Type, lines[li].Amount = Credit, sum.Neg()
					if sum.IsPositive() {
						lines[li].Type, lines[li].Amount = Debit, sum
					}
				}
			}
		}
		in := JournalInput{Details: Details{Memo: "fuzz"}}
		sums := map[string]decimal.Decimal{}
		valid := true
		for _, l := range lines {
			in.Lines = append(in.Lines, JournalLineInput{l.AccountID, l.Type, l.Amount.StringFixed(2)})
			if !l.Amount.IsPositive() {
				valid = false
			}
			sums[l.Currency.Code] = sums[l.Currency.Code].Add(l.Signed())
		}
		for _, s := range sums {
			if !s.IsZero() {
				valid = false
			}
		}
		fundsOK := true
		for _, l := range lines {
			a := accs[l.AccountID]
			if a.FundsChecked && l.Type == Debit && a.Available().LessThan(l.Amount) {
				fundsOK = false
			}
		}

		b, err := Journal(accs, in, dtActor("u_alice"))
		for id, a := range accs {
			s := start[id]
			if !a.Balance.Equal(s.Balance) || !a.Pending.Equal(s.Pending) || a.Seq != s.Seq {
				t.Fatalf("Journal changed its input account %s", id)
			}
		}
		switch {
		case !valid:
			if ErrorCode(err) != EValidation {
				t.Fatalf("invalid voucher %+v: got %v, want validation", in.Lines, err)
			}
			return
		case !fundsOK:
			sf := dtLedgerErr(t, err, EInsufficientFunds).Shortfall
			if sf == nil || !sf.Available.LessThan(sf.Requested) || !accs[sf.AccountID].FundsChecked ||
				!sf.Available.Equal(accs[sf.AccountID].Available()) {
				t.Fatalf("shortfall %+v", sf)
			}
			return
		case err != nil:
			t.Fatalf("valid voucher %+v within funds refused: %v", in.Lines, err)
		}

		// Invariant 1: per currency, account deltas plus system deltas are zero.
		total := map[string]decimal.Decimal{}
		for _, u := range b.Updates {
			s := start[u.Account.ID]
			c := u.Account.Currency.Code
			total[c] = total[c].Add(u.Account.Balance.Sub(s.Balance))
		}
		for _, d := range b.System {
			total[d.Currency] = total[d.Currency].Add(d.Delta)
		}
		for c, s := range total {
			if !s.IsZero() {
				t.Fatalf("%s does not balance: %s (voucher %+v)", c, s, in.Lines)
			}
		}
		// Invariant 2: one line per touched account, seq +1, balance_after.
		if len(b.Updates) != n {
			t.Fatalf("%d updates for %d lines", len(b.Updates), n)
		}
		for i, u := range b.Updates {
			if i > 0 && b.Updates[i-1].Account.ID >= u.Account.ID {
				t.Fatalf("updates not sorted by account id")
			}
			s := start[u.Account.ID]
			var l Line
			for _, x := range lines {
				if x.AccountID == u.Account.ID {
					l = x
				}
			}
			if u.Account.Seq != s.Seq+1 || u.Line == nil || u.Line.Seq != s.Seq+1 {
				t.Fatalf("%s: seq %d→%d", u.Account.ID, s.Seq, u.Account.Seq)
			}
			if !u.Account.Balance.Equal(s.Balance.Add(l.Signed())) || !u.Line.BalanceAfter.Equal(u.Account.Balance) {
				t.Fatalf("%s: balance %s→%s after %s %s, line says %s", u.Account.ID, s.Balance, u.Account.Balance, l.Type, l.Amount, u.Line.BalanceAfter)
			}
			if !u.Account.Pending.Equal(s.Pending) || !u.Account.OverdraftLimit.Equal(s.OverdraftLimit) {
				t.Fatalf("%s: pending or overdraft moved", u.Account.ID)
			}
			// Invariant 3: funds-checked accounts never go below available zero.
			if u.Account.FundsChecked && u.Account.Available().IsNegative() {
				t.Fatalf("%s: available %s after the voucher", u.Account.ID, u.Account.Available())
			}
		}
	})
}
