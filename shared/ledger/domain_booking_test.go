package ledger

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/treasuryledger/treasury/shared/money"
)

func TestEntryPostsAgainstExternal(t *testing.T) {
	cases := []struct {
		name      string
		typ       string
		amount    string
		balance   string
		wantBal   string
		wantType  string
		extDelta  string
		extTypeOf string
	}{
		{"income", Credit, "250.00", "1000.00", "1250.00", Credit, "-250.00", Debit},
		{"bank charge", Debit, "12.5", "1000.00", "987.50", Debit, "12.50", Credit},
		{"debit to exactly zero", Debit, "1000", "1000.00", "0.00", Debit, "1000", Credit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acc := dtAcc(t, "acc_A", "RON", tc.balance, withSeq(3))
			b, err := Entry(acc, EntryInput{Type: tc.typ, Amount: tc.amount,
				Details: Details{Memo: "m", Reference: "r", Category: "fees"}}, dtActor("u_alice"))
			if err != nil {
				t.Fatal(err)
			}
			txn := b.Txn
			if txn.Kind != TxnEntry || txn.Status != TxnPosted || txn.InitialStatus != TxnPosted || txn.Source != "api" {
				t.Errorf("txn kind %q status %q initial %q source %q", txn.Kind, txn.Status, txn.InitialStatus, txn.Source)
			}
			if !ValidID(txn.ID, TransactionPrefix) {
				t.Errorf("txn id %q", txn.ID)
			}
			if txn.ValueDate != "2026-11-20" || txn.Category != "fees" || string(txn.Metadata) != "{}" {
				t.Errorf("value date %q category %q metadata %s", txn.ValueDate, txn.Category, txn.Metadata)
			}
			if !txn.CreatedAt.Equal(dtNow) || txn.CreatedBy != "u_alice" || !txn.PostedAt.Equal(dtNow) || txn.PostedBy != "u_alice" {
				t.Errorf("created %v %q posted %v %q", txn.CreatedAt, txn.CreatedBy, txn.PostedAt, txn.PostedBy)
			}
			if len(txn.Lines) != 2 || txn.Lines[0].AccountID != "acc_A" || txn.Lines[0].Type != tc.wantType ||
				txn.Lines[1].AccountID != "external:RON" || txn.Lines[1].Type != tc.extTypeOf ||
				!txn.Lines[0].Amount.Equal(txn.Lines[1].Amount) || !txn.Lines[1].Amount.Equal(dtDec(tc.amount)) {
				t.Errorf("lines = %+v", txn.Lines)
			}
			if money.Format(txn.Lines[0].Amount, acc.Currency) != money.Format(dtDec(tc.amount), acc.Currency) {
				t.Errorf("amount shown %s", money.Format(txn.Lines[0].Amount, acc.Currency))
			}
			if len(b.Updates) != 1 {
				t.Fatalf("%d updates", len(b.Updates))
			}
			u := b.Updates[0]
			dtEqDec(t, "balance", u.Account.Balance, tc.wantBal)
			if u.Account.Seq != 4 || !u.Account.LastPostedAt.Equal(dtNow) {
				t.Errorf("account seq %d last %v", u.Account.Seq, u.Account.LastPostedAt)
			}
			l := u.Line
			if l == nil || l.Seq != 4 || l.TransactionID != txn.ID || l.Kind != TxnEntry || l.Type != tc.wantType ||
				!l.BalanceAfter.Equal(dtDec(tc.wantBal)) || l.CounterpartyAccountID != "external:RON" ||
				l.Memo != "m" || l.Reference != "r" || l.ValueDate != "2026-11-20" || !l.PostedAt.Equal(dtNow) || l.PostedBy != "u_alice" {
				t.Errorf("history line = %+v", l)
			}
			if len(b.System) != 1 || b.System[0].AccountID != "external:RON" || b.System[0].Currency != "RON" ||
				!b.System[0].Delta.Equal(dtDec(tc.extDelta)) {
				t.Errorf("system = %+v", b.System)
			}
			dtEqDec(t, "balance moved + external moved", u.Account.Balance.Sub(acc.Balance).Add(b.System[0].Delta), "0")
			if !acc.Balance.Equal(dtDec(tc.balance)) || acc.Seq != 3 {
				t.Errorf("input account changed: %s seq %d", acc.Balance, acc.Seq)
			}
		})
	}
}

func TestEntryValidation(t *testing.T) {
	cases := []struct {
		name   string
		in     EntryInput
		fields []string
	}{
		{"amount missing", EntryInput{Type: Credit}, []string{"amount"}},
		{"amount zero", EntryInput{Type: Credit, Amount: "0.00"}, []string{"amount"}},
		{"amount negative", EntryInput{Type: Credit, Amount: "-5.00"}, []string{"amount"}},
		{"amount scale", EntryInput{Type: Credit, Amount: "5.001"}, []string{"amount"}},
		{"amount separators", EntryInput{Type: Credit, Amount: "1,250.50"}, []string{"amount"}},
		{"amount float-ish", EntryInput{Type: Credit, Amount: "1.2e2"}, []string{"amount"}},
		{"type missing", EntryInput{Amount: "5"}, []string{"type"}},
		{"type unknown", EntryInput{Type: "refund", Amount: "5"}, []string{"type"}},
		{"type upper case", EntryInput{Type: "CREDIT", Amount: "5"}, []string{"type"}},
		{"value date impossible", EntryInput{Type: Credit, Amount: "5", Details: Details{ValueDate: "2026-02-30"}}, []string{"value_date"}},
		{"value date unpadded", EntryInput{Type: Credit, Amount: "5", Details: Details{ValueDate: "2026-2-3"}}, []string{"value_date"}},
		{"value date timestamp", EntryInput{Type: Credit, Amount: "5", Details: Details{ValueDate: "2026-11-20T10:00:00Z"}}, []string{"value_date"}},
		{"memo 500", EntryInput{Type: Credit, Amount: "5", Details: Details{Memo: strings.Repeat("m", 500)}}, nil},
		{"memo 501", EntryInput{Type: Credit, Amount: "5", Details: Details{Memo: strings.Repeat("m", 501)}}, []string{"memo"}},
		{"reference 140", EntryInput{Type: Credit, Amount: "5", Details: Details{Reference: strings.Repeat("r", 140)}}, nil},
		{"reference 141", EntryInput{Type: Credit, Amount: "5", Details: Details{Reference: strings.Repeat("r", 141)}}, []string{"reference"}},
		{"category 65", EntryInput{Type: Credit, Amount: "5", Details: Details{Category: strings.Repeat("c", 65)}}, []string{"category"}},
		{"metadata array", EntryInput{Type: Credit, Amount: "5", Details: Details{Metadata: []byte(`[]`)}}, []string{"metadata"}},
		{"all at once", EntryInput{Type: "x", Amount: "0", Details: Details{Memo: "a\x01b", ValueDate: "tomorrow", Reference: strings.Repeat("r", 141)}},
			[]string{"type", "amount", "memo", "value_date", "reference"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acc := dtAcc(t, "acc_A", "RON", "1000")
			b, err := Entry(acc, tc.in, dtActor("u_alice"))
			dtWantFields(t, err, tc.fields...)
			if len(tc.fields) == 0 && b == nil {
				t.Fatal("no booking")
			}
		})
	}
}

func TestFundsCheck(t *testing.T) {
	cases := []struct {
		name      string
		acc       *Account
		typ       string
		amount    string
		wantBal   string // "" when refused
		available string // shortfall
	}{
		{"debit beyond balance", dtAcc(t, "acc_A", "RON", "1000.00"), Debit, "1000.01", "", "1000.00"},
		{"debit of exactly the balance", dtAcc(t, "acc_A", "RON", "1000.00"), Debit, "1000.00", "0", ""},
		{"overdraft counts", dtAcc(t, "acc_A", "RON", "100.00", withOverdraft("50.00")), Debit, "150.00", "-50.00", ""},
		{"beyond overdraft", dtAcc(t, "acc_A", "RON", "100.00", withOverdraft("50.00")), Debit, "150.01", "", "150.00"},
		{"pending holds count", dtAcc(t, "acc_A", "RON", "100.00", withPending("60.00")), Debit, "40.01", "", "40.00"},
		{"pending holds leave room", dtAcc(t, "acc_A", "RON", "100.00", withPending("60.00")), Debit, "40.00", "60.00", ""},
		{"empty account", dtAcc(t, "acc_A", "RON", "0"), Debit, "0.01", "", "0"},
		{"credit to an overdrawn account", dtAcc(t, "acc_A", "RON", "-50.00"), Credit, "10.00", "-40.00", ""},
		{"credit with holds beyond balance", dtAcc(t, "acc_A", "RON", "0", withPending("500")), Credit, "1.00", "1.00", ""},
		{"account without funds check", dtAcc(t, "acc_A", "RON", "0", notFundsChecked), Debit, "999.99", "-999.99", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := dtSnap(dtAccounts(tc.acc))
			b, err := Entry(tc.acc, EntryInput{Type: tc.typ, Amount: tc.amount}, dtActor("u_alice"))
			before.assertUnchanged(t, dtAccounts(tc.acc))
			if tc.wantBal == "" {
				e := dtLedgerErr(t, err, EInsufficientFunds)
				if e.Shortfall == nil {
					t.Fatal("insufficient-funds without a shortfall")
				}
				if e.Shortfall.AccountID != "acc_A" || e.Shortfall.Currency != "RON" {
					t.Errorf("shortfall names %q %q", e.Shortfall.AccountID, e.Shortfall.Currency)
				}
				dtEqDec(t, "shortfall available", e.Shortfall.Available, tc.available)
				dtEqDec(t, "shortfall requested", e.Shortfall.Requested, tc.amount)
				if b != nil {
					t.Error("a refused posting returned a booking")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dtEqDec(t, "balance", b.Updates[0].Account.Balance, tc.wantBal)
		})
	}
}

func TestPostingToFrozenOrClosedAccount(t *testing.T) {
	for _, st := range []string{StatusFrozen, StatusClosed} {
		t.Run(st, func(t *testing.T) {
			acc := dtAcc(t, "acc_A", "RON", "1000", withStatus(st), withThreshold("100"))
			other := dtAcc(t, "acc_B", "RON", "1000")
			_, err := Entry(acc, EntryInput{Type: Credit, Amount: "5"}, dtActor("u_alice"))
			dtLedgerErr(t, err, EAccountClosed)
			_, err = Entry(acc, EntryInput{Type: Debit, Amount: "5"}, dtActor("u_alice"))
			dtLedgerErr(t, err, EAccountClosed)
			_, err = Transfer(other, acc, TransferInput{FromAccountID: "acc_B", ToAccountID: "acc_A", Amount: "5"}, dtActor("u_alice"))
			dtLedgerErr(t, err, EAccountClosed)
			_, err = Transfer(acc, other, TransferInput{FromAccountID: "acc_A", ToAccountID: "acc_B", Amount: "5"}, dtActor("u_alice"))
			dtLedgerErr(t, err, EAccountClosed)
			_, err = Withdrawal(acc, WithdrawalInput{Amount: "5"}, dtActor("u_alice")) // posted at once
			dtLedgerErr(t, err, EAccountClosed)
			_, err = Withdrawal(acc, WithdrawalInput{Amount: "500"}, dtActor("u_alice")) // would be held
			dtLedgerErr(t, err, EAccountClosed)
			_, err = Journal(dtAccounts(acc, other), JournalInput{Lines: []JournalLineInput{
				{"acc_B", Debit, "5"}, {"acc_A", Credit, "5"}}}, dtActor("u_alice"))
			dtLedgerErr(t, err, EAccountClosed)
			dtSnap(dtAccounts(other)).assertUnchanged(t, dtAccounts(other))
			dtEqDec(t, "other balance", other.Balance, "1000")
		})
	}
}

func TestTransferSameCurrency(t *testing.T) {
	from := dtAcc(t, "acc_A", "RON", "1000.00", withSeq(2))
	to := dtAcc(t, "acc_B", "RON", "10.00", withSeq(7))
	accs := dtAccounts(from, to)
	snap := dtSnap(accs)
	b, err := Transfer(from, to, TransferInput{FromAccountID: "acc_A", ToAccountID: "acc_B", Amount: "150",
		ToAmount: dtPtr("150.00"), Details: Details{Memo: "float", ValueDate: "2026-11-19"}}, dtActor("u_bob"))
	if err != nil {
		t.Fatal(err)
	}
	snap.assertUnchanged(t, accs)
	if b.Txn.Kind != TxnTransfer || b.Txn.Rate != nil || len(b.System) != 0 {
		t.Errorf("kind %q rate %v system %+v", b.Txn.Kind, b.Txn.Rate, b.System)
	}
	want := []Line{
		{AccountID: "acc_A", Type: Debit, Amount: dtDec("150"), Currency: from.Currency},
		{AccountID: "acc_B", Type: Credit, Amount: dtDec("150"), Currency: to.Currency},
	}
	if len(b.Txn.Lines) != 2 {
		t.Fatalf("lines %+v", b.Txn.Lines)
	}
	for i, l := range b.Txn.Lines {
		if l.AccountID != want[i].AccountID || l.Type != want[i].Type || !l.Amount.Equal(want[i].Amount) || l.Currency != want[i].Currency {
			t.Errorf("line %d = %+v, want %+v", i, l, want[i])
		}
	}
	if len(b.Updates) != 2 || b.Updates[0].Account.ID != "acc_A" || b.Updates[1].Account.ID != "acc_B" {
		t.Fatalf("updates not one per account sorted by id")
	}
	ua, ub := b.Updates[0], b.Updates[1]
	dtEqDec(t, "from balance", ua.Account.Balance, "850.00")
	dtEqDec(t, "to balance", ub.Account.Balance, "160.00")
	if ua.Line.Seq != 3 || ub.Line.Seq != 8 || ua.Account.Seq != 3 || ub.Account.Seq != 8 {
		t.Errorf("seq from %d/%d to %d/%d, want 3 and 8", ua.Line.Seq, ua.Account.Seq, ub.Line.Seq, ub.Account.Seq)
	}
	if ua.Line.Type != Debit || ub.Line.Type != Credit || !ua.Line.BalanceAfter.Equal(dtDec("850")) || !ub.Line.BalanceAfter.Equal(dtDec("160")) {
		t.Errorf("lines %+v / %+v", ua.Line, ub.Line)
	}
	if ua.Line.CounterpartyAccountID != "acc_B" || ub.Line.CounterpartyAccountID != "acc_A" {
		t.Errorf("counterparties %q %q", ua.Line.CounterpartyAccountID, ub.Line.CounterpartyAccountID)
	}
	if ua.Line.ValueDate != "2026-11-19" || ua.Line.Memo != "float" || ua.Line.PostedBy != "u_bob" {
		t.Errorf("line details %+v", ua.Line)
	}
}

func TestTransferValidation(t *testing.T) {
	cases := []struct {
		name     string
		from, to string // currencies
		same     bool
		amount   string
		toAmount *string
		fields   []string
	}{
		{"to_amount differs in one currency", "RON", "RON", false, "150.00", dtPtr("150.01"), []string{"to_amount"}},
		{"to_amount equal other spelling", "RON", "RON", false, "150", dtPtr("150.00"), nil},
		{"same account", "RON", "RON", true, "150.00", nil, []string{"to_account_id"}},
		{"exchange without to_amount", "EUR", "USD", false, "100.00", nil, []string{"to_amount"}},
		{"exchange to_amount zero", "EUR", "USD", false, "100.00", dtPtr("0"), []string{"to_amount"}},
		{"exchange to_amount in the target's scale", "EUR", "JPY", false, "100.00", dtPtr("16234.5"), []string{"to_amount"}},
		{"exchange amount in the source's scale", "JPY", "EUR", false, "100.5", dtPtr("1.00"), []string{"amount"}},
		{"amount missing", "RON", "RON", false, "", nil, []string{"amount"}},
		{"everything wrong", "EUR", "USD", false, "-1", nil, []string{"amount", "to_amount"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from := dtAcc(t, "acc_A", tc.from, "1000")
			to := dtAcc(t, "acc_B", tc.to, "0")
			if tc.same {
				to = from
			}
			_, err := Transfer(from, to, TransferInput{FromAccountID: from.ID, ToAccountID: to.ID, Amount: tc.amount, ToAmount: tc.toAmount}, dtActor("u_alice"))
			dtWantFields(t, err, tc.fields...)
			if tc.same {
				dtEqDec(t, "balance", from.Balance, "1000")
			}
		})
	}
}

func TestTransferExchange(t *testing.T) {
	cases := []struct {
		name             string
		from, to         string
		amount, toAmount string
		rate             string
	}{
		{"EUR to USD", "EUR", "USD", "100.00", "123.32", "1.2332"},
		{"EUR to JPY", "EUR", "JPY", "100.00", "16234", "162.34"},
		{"USD to BHD", "USD", "BHD", "1000", "376.000", "0.376"},
		{"repeating rate rounded to 10 decimals", "RON", "EUR", "3.00", "1.00", "0.3333333333"},
		{"rate of two", "RON", "EUR", "5", "10", "2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from := dtAcc(t, "acc_A", tc.from, "1000", withSeq(0))
			to := dtAcc(t, "acc_B", tc.to, "0", withSeq(1))
			b, err := Transfer(from, to, TransferInput{FromAccountID: "acc_A", ToAccountID: "acc_B",
				Amount: tc.amount, ToAmount: dtPtr(tc.toAmount)}, dtActor("u_alice"))
			if err != nil {
				t.Fatal(err)
			}
			if b.Txn.Kind != TxnExchange || b.Txn.Rate == nil || money.FormatRate(*b.Txn.Rate) != tc.rate {
				t.Fatalf("kind %q rate %v, want exchange %s", b.Txn.Kind, b.Txn.Rate, tc.rate)
			}
			fx1, fx2 := "fx:"+tc.from, "fx:"+tc.to
			wantLines := []struct{ id, typ, amt, ccy string }{
				{"acc_A", Debit, tc.amount, tc.from}, {fx1, Credit, tc.amount, tc.from},
				{fx2, Debit, tc.toAmount, tc.to}, {"acc_B", Credit, tc.toAmount, tc.to},
			}
			if len(b.Txn.Lines) != 4 {
				t.Fatalf("lines %+v", b.Txn.Lines)
			}
			for i, w := range wantLines {
				l := b.Txn.Lines[i]
				if l.AccountID != w.id || l.Type != w.typ || !l.Amount.Equal(dtDec(w.amt)) || l.Currency.Code != w.ccy {
					t.Errorf("line %d = %s %s %s %s, want %+v", i, l.AccountID, l.Type, l.Amount, l.Currency.Code, w)
				}
			}
			// Per currency, real plus system deltas are zero.
			if len(b.System) != 2 {
				t.Fatalf("system = %+v", b.System)
			}
			sys := map[string]SystemDelta{}
			for _, d := range b.System {
				sys[d.AccountID] = d
			}
			dtEqDec(t, fx1, sys[fx1].Delta, tc.amount)
			dtEqDec(t, fx2, sys[fx2].Delta, "-"+tc.toAmount)
			if sys[fx1].Currency != tc.from || sys[fx2].Currency != tc.to {
				t.Errorf("system currencies %+v", b.System)
			}
			if b.System[0].AccountID > b.System[1].AccountID {
				t.Errorf("system deltas not sorted: %+v", b.System)
			}
			ua, ub := dtUpdate(t, b, "acc_A"), dtUpdate(t, b, "acc_B")
			dtEqDec(t, "from balance", ua.Account.Balance, dtDec("1000").Sub(dtDec(tc.amount)).String())
			dtEqDec(t, "to balance", ub.Account.Balance, tc.toAmount)
			if ua.Line.Seq != 1 || ub.Line.Seq != 2 {
				t.Errorf("seq %d %d, want 1 and 2", ua.Line.Seq, ub.Line.Seq)
			}
			if ua.Line.CounterpartyAccountID != "acc_B" || ub.Line.CounterpartyAccountID != "acc_A" {
				t.Errorf("an exchange names the real account on the far side, got %q %q",
					ua.Line.CounterpartyAccountID, ub.Line.CounterpartyAccountID)
			}
			if ua.Line.Kind != TxnExchange || !ua.Line.Amount.Equal(dtDec(tc.amount)) || !ub.Line.Amount.Equal(dtDec(tc.toAmount)) {
				t.Errorf("lines %+v %+v", ua.Line, ub.Line)
			}
		})
	}
}

func TestExchangeNeedsFunds(t *testing.T) {
	from := dtAcc(t, "acc_A", "EUR", "99.99")
	to := dtAcc(t, "acc_B", "USD", "0")
	_, err := Transfer(from, to, TransferInput{Amount: "100.00", ToAmount: dtPtr("123.32")}, dtActor("u_alice"))
	e := dtLedgerErr(t, err, EInsufficientFunds)
	if e.Shortfall.AccountID != "acc_A" || e.Shortfall.Currency != "EUR" {
		t.Errorf("shortfall %+v", e.Shortfall)
	}
	dtEqDec(t, "available", e.Shortfall.Available, "99.99")
	dtEqDec(t, "requested", e.Shortfall.Requested, "100.00")
}

func TestWithdrawalThreshold(t *testing.T) {
	cases := []struct {
		name      string
		threshold string // "" none
		amount    string
		pending   bool
	}{
		{"no threshold", "", "9000.00", false},
		{"below threshold", "5000.00", "4999.99", false},
		{"at threshold", "5000.00", "5000.00", true},
		{"at threshold other spelling", "5000.00", "5000", true},
		{"above threshold", "5000.00", "5000.01", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*Account)
			if tc.threshold != "" {
				opts = append(opts, withThreshold(tc.threshold))
			}
			acc := dtAcc(t, "acc_A", "RON", "10000.00", opts...)
			b, err := Withdrawal(acc, WithdrawalInput{Amount: tc.amount, Payee: "ACME SRL", Method: "bank_transfer",
				Details: Details{Memo: "rent"}}, dtActor("u_alice"))
			if err != nil {
				t.Fatal(err)
			}
			txn := b.Txn
			if txn.Kind != TxnWithdrawal || txn.Payee != "ACME SRL" || txn.Method != "bank_transfer" {
				t.Errorf("kind %q payee %q method %q", txn.Kind, txn.Payee, txn.Method)
			}
			if len(txn.Lines) != 2 || txn.Lines[0].AccountID != "acc_A" || txn.Lines[0].Type != Debit ||
				txn.Lines[1].AccountID != "external:RON" || txn.Lines[1].Type != Credit {
				t.Errorf("lines %+v", txn.Lines)
			}
			u := dtUpdate(t, b, "acc_A")
			if tc.pending {
				if txn.Status != TxnPending || txn.InitialStatus != TxnPending || !txn.PostedAt.IsZero() || txn.PostedBy != "" {
					t.Errorf("status %q initial %q posted %v %q, want pending and not posted", txn.Status, txn.InitialStatus, txn.PostedAt, txn.PostedBy)
				}
				if u.Line != nil {
					t.Errorf("a pending withdrawal wrote history line %+v", u.Line)
				}
				if u.HoldAdded != txn.ID || u.HoldReleased != "" {
					t.Errorf("hold added %q released %q", u.HoldAdded, u.HoldReleased)
				}
				dtEqDec(t, "balance", u.Account.Balance, "10000.00")
				dtEqDec(t, "pending", u.Account.Pending, tc.amount)
				dtEqDec(t, "available", u.Account.Available(), dtDec("10000").Sub(dtDec(tc.amount)).String())
				if u.Account.Seq != acc.Seq || len(b.System) != 0 {
					t.Errorf("seq %d system %+v, want untouched", u.Account.Seq, b.System)
				}
				return
			}
			if txn.Status != TxnPosted || !txn.PostedAt.Equal(dtNow) {
				t.Errorf("status %q posted at %v", txn.Status, txn.PostedAt)
			}
			if u.Line == nil || u.Line.Seq != acc.Seq+1 || u.HoldAdded != "" {
				t.Fatalf("line %+v hold %q", u.Line, u.HoldAdded)
			}
			want := dtDec("10000").Sub(dtDec(tc.amount)).String()
			dtEqDec(t, "balance", u.Account.Balance, want)
			dtEqDec(t, "balance after", u.Line.BalanceAfter, want)
			dtEqDec(t, "pending", u.Account.Pending, "0")
			if len(b.System) != 1 || b.System[0].AccountID != "external:RON" || !b.System[0].Delta.Equal(dtDec(tc.amount)) {
				t.Errorf("system %+v", b.System)
			}
		})
	}
}

func TestWithdrawalValidationAndFunds(t *testing.T) {
	acc := dtAcc(t, "acc_A", "RON", "100.00", withThreshold("50.00"))
	_, err := Withdrawal(acc, WithdrawalInput{Amount: "10", Method: "cheque", Payee: strings.Repeat("p", 141)}, dtActor("u_alice"))
	dtWantFields(t, err, "method", "payee")
	for _, m := range []string{"", "cash", "card", "bank_transfer", "other"} {
		if _, err := Withdrawal(acc, WithdrawalInput{Amount: "10", Method: m}, dtActor("u_alice")); err != nil {
			t.Errorf("method %q: %v", m, err)
		}
	}
	// A hold needs the funds too.
	_, err = Withdrawal(acc, WithdrawalInput{Amount: "100.01"}, dtActor("u_alice"))
	e := dtLedgerErr(t, err, EInsufficientFunds)
	dtEqDec(t, "available", e.Shortfall.Available, "100.00")
	dtEqDec(t, "requested", e.Shortfall.Requested, "100.01")
	// An existing hold lowers what a new one may take.
	held := dtAcc(t, "acc_A", "RON", "100.00", withThreshold("50.00"), withPending("60.00"))
	_, err = Withdrawal(held, WithdrawalInput{Amount: "50.00"}, dtActor("u_alice"))
	e = dtLedgerErr(t, err, EInsufficientFunds)
	dtEqDec(t, "available", e.Shortfall.Available, "40.00")
	// Below the threshold the same rule applies to a posted withdrawal.
	_, err = Withdrawal(held, WithdrawalInput{Amount: "40.01"}, dtActor("u_alice"))
	dtLedgerErr(t, err, EInsufficientFunds)
	dtEqDec(t, "input pending", held.Pending, "60.00")
}

// dtPendingWithdrawal books a 6000.00 RON withdrawal held for approval on an
// account holding 10000.00 and returns the account as it stands after.
func dtPendingWithdrawal(t *testing.T) (*Transaction, *Account) {
	t.Helper()
	acc := dtAcc(t, "acc_A", "RON", "10000.00", withThreshold("5000.00"), withSeq(4))
	b, err := Withdrawal(acc, WithdrawalInput{Amount: "6000.00", Payee: "ACME"}, dtActor("u_alice"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Txn.Status != TxnPending {
		t.Fatalf("status %q", b.Txn.Status)
	}
	return b.Txn, dtUpdate(t, b, "acc_A").Account
}

func TestApprove(t *testing.T) {
	txn, acc := dtPendingWithdrawal(t)
	accs := dtAccounts(acc)
	snap := dtSnap(accs)
	approver := Actor{Sub: "u_bob", Now: dtNow.Add(time.Hour)}

	_, err := Approve(txn, accs, Actor{Sub: "u_alice", Now: dtNow.Add(time.Hour)})
	dtLedgerErr(t, err, EForbidden)

	b, err := Approve(txn, accs, approver)
	if err != nil {
		t.Fatal(err)
	}
	snap.assertUnchanged(t, accs)
	if txn.Status != TxnPending || txn.ApprovedBy != "" {
		t.Errorf("Approve changed the transaction it was given: %q %q", txn.Status, txn.ApprovedBy)
	}
	at := dtNow.Add(time.Hour)
	got := b.Txn
	if got.ID != txn.ID || got.Status != TxnPosted || got.InitialStatus != TxnPending {
		t.Errorf("id %q status %q initial %q", got.ID, got.Status, got.InitialStatus)
	}
	if got.ApprovedBy != "u_bob" || !got.ApprovedAt.Equal(at) || got.PostedBy != "u_bob" || !got.PostedAt.Equal(at) {
		t.Errorf("approved %q %v posted %q %v, want u_bob at %v", got.ApprovedBy, got.ApprovedAt, got.PostedBy, got.PostedAt, at)
	}
	if got.CreatedBy != "u_alice" || !got.CreatedAt.Equal(dtNow) {
		t.Errorf("created %q %v", got.CreatedBy, got.CreatedAt)
	}
	u := dtUpdate(t, b, "acc_A")
	dtEqDec(t, "balance", u.Account.Balance, "4000.00")
	dtEqDec(t, "pending", u.Account.Pending, "0")
	dtEqDec(t, "available", u.Account.Available(), "4000.00")
	if u.HoldReleased != txn.ID || u.HoldAdded != "" {
		t.Errorf("hold released %q added %q", u.HoldReleased, u.HoldAdded)
	}
	if u.Line == nil || u.Line.Seq != 5 || u.Line.Kind != TxnWithdrawal || u.Line.Type != Debit ||
		!u.Line.BalanceAfter.Equal(dtDec("4000")) || u.Line.PostedBy != "u_bob" || !u.Line.PostedAt.Equal(at) ||
		u.Line.TransactionID != txn.ID || u.Line.CounterpartyAccountID != "external:RON" {
		t.Errorf("history line %+v", u.Line)
	}
	if len(b.System) != 1 || b.System[0].AccountID != "external:RON" || !b.System[0].Delta.Equal(dtDec("6000")) {
		t.Errorf("system %+v", b.System)
	}

	// Only a pending transaction is approved.
	for _, st := range []string{TxnPosted, TxnRejected, TxnReversed} {
		other := *txn
		other.Status = st
		_, err := Approve(&other, accs, approver)
		dtLedgerErr(t, err, EConflict)
	}
	// A frozen account takes no approval either.
	frozen := *acc
	frozen.Status = StatusFrozen
	_, err = Approve(txn, dtAccounts(&frozen), approver)
	dtLedgerErr(t, err, EAccountClosed)
}

func TestApproveAfterTheBalanceFell(t *testing.T) {
	txn, acc := dtPendingWithdrawal(t)
	// The hold kept its money even though the balance fell since: approval
	// still fits.
	acc.Balance = dtDec("6000.00")
	b, err := Approve(txn, dtAccounts(acc), Actor{Sub: "u_bob", Now: dtNow})
	if err != nil {
		t.Fatalf("approval within the held amount: %v", err)
	}
	dtEqDec(t, "balance", dtUpdate(t, b, "acc_A").Account.Balance, "0")
	// If the books were already short (overdraft cut below the hold), the
	// approval is refused with the shortfall.
	acc.Balance = dtDec("5999.99")
	_, err = Approve(txn, dtAccounts(acc), Actor{Sub: "u_bob", Now: dtNow})
	dtLedgerErr(t, err, EInsufficientFunds)
}

func TestReject(t *testing.T) {
	txn, acc := dtPendingWithdrawal(t)
	accs := dtAccounts(acc)
	snap := dtSnap(accs)
	later := Actor{Sub: "u_alice", Now: dtNow.Add(90 * time.Minute)} // the creator may reject

	_, err := Reject(txn, accs, strings.Repeat("r", 141), later)
	dtWantFields(t, err, "reason")

	b, err := Reject(txn, accs, "duplicate invoice", later)
	if err != nil {
		t.Fatal(err)
	}
	snap.assertUnchanged(t, accs)
	got := b.Txn
	if got.Status != TxnRejected || got.RejectedBy != "u_alice" || !got.RejectedAt.Equal(later.Now) || got.Reason != "duplicate invoice" {
		t.Errorf("status %q rejected %q %v reason %q", got.Status, got.RejectedBy, got.RejectedAt, got.Reason)
	}
	if !got.PostedAt.IsZero() || got.PostedBy != "" || got.ApprovedBy != "" {
		t.Errorf("a rejected withdrawal shows posted %v %q approved %q", got.PostedAt, got.PostedBy, got.ApprovedBy)
	}
	if txn.Status != TxnPending {
		t.Errorf("Reject changed its input to %q", txn.Status)
	}
	u := dtUpdate(t, b, "acc_A")
	dtEqDec(t, "pending", u.Account.Pending, "0")
	dtEqDec(t, "balance", u.Account.Balance, "10000.00")
	dtEqDec(t, "available", u.Account.Available(), "10000.00")
	if u.Line != nil || u.Account.Seq != 4 || u.HoldReleased != txn.ID || len(b.System) != 0 {
		t.Errorf("line %+v seq %d released %q system %+v", u.Line, u.Account.Seq, u.HoldReleased, b.System)
	}
	// Rejecting again, or after approval, is a conflict.
	_, err = Reject(got, dtAccounts(u.Account), "again", later)
	dtLedgerErr(t, err, EConflict)
	posted := *txn
	posted.Status = TxnPosted
	_, err = Reject(&posted, accs, "late", later)
	dtLedgerErr(t, err, EConflict)
}

func TestReverse(t *testing.T) {
	from := dtAcc(t, "acc_A", "RON", "1000.00", withSeq(1))
	to := dtAcc(t, "acc_B", "RON", "0.00", withSeq(1))
	b, err := Transfer(from, to, TransferInput{Amount: "150.00", Details: Details{Memo: "oops", Reference: "R-1"}}, dtActor("u_alice"))
	if err != nil {
		t.Fatal(err)
	}
	orig := b.Txn
	after := dtAccounts(dtUpdate(t, b, "acc_A").Account, dtUpdate(t, b, "acc_B").Account)
	snap := dtSnap(after)
	a := Actor{Sub: "u_bob", Now: dtNow.Add(time.Hour)}

	rb, reversed, err := Reverse(orig, after, ReverseInput{Reason: "wrong account"}, a)
	if err != nil {
		t.Fatal(err)
	}
	snap.assertUnchanged(t, after)
	rev := rb.Txn
	if rev.Kind != TxnReversal || rev.Status != TxnPosted || rev.Reverses != orig.ID || rev.ReversesKind != TxnTransfer ||
		rev.Reason != "wrong account" || rev.Memo != "oops" || rev.Reference != "R-1" || rev.ValueDate != "2026-11-20" ||
		rev.CreatedBy != "u_bob" || rev.PostedBy != "u_bob" || rev.ID == orig.ID || !ValidID(rev.ID, TransactionPrefix) {
		t.Errorf("reversal = %+v", rev)
	}
	if len(rev.Lines) != 2 || rev.Lines[0].AccountID != "acc_A" || rev.Lines[0].Type != Credit ||
		rev.Lines[1].AccountID != "acc_B" || rev.Lines[1].Type != Debit || !rev.Lines[0].Amount.Equal(dtDec("150")) {
		t.Errorf("mirrored lines = %+v", rev.Lines)
	}
	if reversed.Status != TxnReversed || reversed.ReversedBy != rev.ID || reversed.ID != orig.ID {
		t.Errorf("original after = %q reversed by %q", reversed.Status, reversed.ReversedBy)
	}
	if orig.Status != TxnPosted || orig.ReversedBy != "" {
		t.Errorf("Reverse changed its input: %q %q", orig.Status, orig.ReversedBy)
	}
	ua, ub := dtUpdate(t, rb, "acc_A"), dtUpdate(t, rb, "acc_B")
	dtEqDec(t, "A balance", ua.Account.Balance, "1000.00")
	dtEqDec(t, "B balance", ub.Account.Balance, "0")
	if ua.Line.Seq != 3 || ub.Line.Seq != 3 || ua.Line.Kind != TxnReversal || ua.Line.Type != Credit || ub.Line.Type != Debit {
		t.Errorf("reversal lines %+v %+v", ua.Line, ub.Line)
	}

	// Twice: already reversed.
	_, _, err = Reverse(reversed, dtAccounts(ua.Account, ub.Account), ReverseInput{}, a)
	e := dtLedgerErr(t, err, EAlreadyReversed)
	if !strings.Contains(e.Message, rev.ID) {
		t.Errorf("message %q does not name the reversal", e.Message)
	}
	// A reversal is not reversed.
	_, _, err = Reverse(rev, dtAccounts(ua.Account, ub.Account), ReverseInput{}, a)
	dtLedgerErr(t, err, EConflict)
	// Neither is a pending or a rejected transaction.
	for _, st := range []string{TxnPending, TxnRejected} {
		o := *orig
		o.Status = st
		_, _, err = Reverse(&o, after, ReverseInput{}, a)
		dtLedgerErr(t, err, EConflict)
	}
	// Value date rules.
	_, _, err = Reverse(orig, after, ReverseInput{ValueDate: "30.11.2026", Reason: strings.Repeat("x", 141)}, a)
	dtWantFields(t, err, "value_date", "reason")
	rb2, _, err := Reverse(orig, after, ReverseInput{ValueDate: "2026-11-30"}, a)
	if err != nil || rb2.Txn.ValueDate != "2026-11-30" {
		t.Fatalf("explicit value date: %v %+v", err, rb2)
	}
}

func TestReverseNeedsFunds(t *testing.T) {
	acc := dtAcc(t, "acc_A", "RON", "0.00")
	b, err := Entry(acc, EntryInput{Type: Credit, Amount: "100.00"}, dtActor("u_alice"))
	if err != nil {
		t.Fatal(err)
	}
	spent := *dtUpdate(t, b, "acc_A").Account
	spent.Balance = dtDec("30.00") // 70.00 went out since
	_, _, err = Reverse(b.Txn, dtAccounts(&spent), ReverseInput{}, dtActor("u_bob"))
	e := dtLedgerErr(t, err, EInsufficientFunds)
	dtEqDec(t, "available", e.Shortfall.Available, "30.00")
	dtEqDec(t, "requested", e.Shortfall.Requested, "100.00")

	// Reversing a debit entry is a credit: always allowed.
	b, err = Entry(dtAcc(t, "acc_A", "RON", "100"), EntryInput{Type: Debit, Amount: "100.00"}, dtActor("u_alice"))
	if err != nil {
		t.Fatal(err)
	}
	rb, _, err := Reverse(b.Txn, dtAccounts(dtUpdate(t, b, "acc_A").Account), ReverseInput{}, dtActor("u_bob"))
	if err != nil {
		t.Fatal(err)
	}
	dtEqDec(t, "balance", dtUpdate(t, rb, "acc_A").Account.Balance, "100")
	if len(rb.System) != 1 || rb.System[0].AccountID != "external:RON" || !rb.System[0].Delta.Equal(dtDec("-100")) {
		t.Errorf("system %+v", rb.System)
	}
}

func TestReverseApprovedWithdrawalAndExchange(t *testing.T) {
	txn, acc := dtPendingWithdrawal(t)
	ab, err := Approve(txn, dtAccounts(acc), Actor{Sub: "u_bob", Now: dtNow.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	rb, reversed, err := Reverse(ab.Txn, dtAccounts(dtUpdate(t, ab, "acc_A").Account), ReverseInput{}, Actor{Sub: "u_carol", Now: dtNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	u := dtUpdate(t, rb, "acc_A")
	dtEqDec(t, "balance", u.Account.Balance, "10000.00")
	if u.Line.Seq != 6 || rb.Txn.ReversesKind != TxnWithdrawal || reversed.ApprovedBy != "u_bob" {
		t.Errorf("seq %d reverses kind %q approved by %q", u.Line.Seq, rb.Txn.ReversesKind, reversed.ApprovedBy)
	}

	from, to := dtAcc(t, "acc_A", "EUR", "100.00"), dtAcc(t, "acc_B", "USD", "0")
	xb, err := Transfer(from, to, TransferInput{Amount: "100.00", ToAmount: dtPtr("123.32")}, dtActor("u_alice"))
	if err != nil {
		t.Fatal(err)
	}
	xr, _, err := Reverse(xb.Txn, dtAccounts(dtUpdate(t, xb, "acc_A").Account, dtUpdate(t, xb, "acc_B").Account), ReverseInput{}, dtActor("u_alice"))
	if err != nil {
		t.Fatal(err)
	}
	if xr.Txn.Rate == nil || money.FormatRate(*xr.Txn.Rate) != "1.2332" || xr.Txn.ReversesKind != TxnExchange {
		t.Errorf("reversal of an exchange: rate %v kind %q", xr.Txn.Rate, xr.Txn.ReversesKind)
	}
	sys := map[string]string{}
	for _, d := range xr.System {
		sys[d.AccountID] = d.Delta.String()
	}
	if !reflect.DeepEqual(sys, map[string]string{"fx:EUR": "-100", "fx:USD": "123.32"}) {
		t.Errorf("system deltas of the reversal %v", sys)
	}
	dtEqDec(t, "EUR back", dtUpdate(t, xr, "acc_A").Account.Balance, "100.00")
	dtEqDec(t, "USD gone", dtUpdate(t, xr, "acc_B").Account.Balance, "0")
}

func TestPostingTimeKeepsHistoryInOrder(t *testing.T) {
	ahead := dtNow.Add(5 * time.Second).Add(123 * time.Millisecond)
	cases := []struct {
		name string
		now  time.Time
		last []time.Time
		want time.Time
	}{
		{"clock ahead of history", dtNow, []time.Time{dtNow.Add(-time.Minute)}, dtNow},
		{"history ahead of clock", dtNow, []time.Time{ahead}, ahead},
		{"latest of several", dtNow, []time.Time{dtNow.Add(time.Second), ahead, time.Time{}}, ahead},
		{"truncated to the millisecond", dtNow.Add(1500 * time.Microsecond), nil, dtNow.Add(time.Millisecond)},
		{"made UTC", dtNow.In(time.FixedZone("EET", 2*3600)), nil, dtNow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			accs := map[string]*Account{}
			var ids []string
			for i, l := range tc.last {
				id := "acc_" + string(rune('A'+i))
				accs[id] = dtAcc(t, id, "RON", "0", withLastPosted(l))
				ids = append(ids, id)
			}
			ids = append(ids, "acc_unknown")
			got := PostingTime(tc.now, accs, ids)
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("PostingTime = %v, want %v UTC", got, tc.want)
			}
		})
	}

	// Booked: the line and the transaction carry the account's later time.
	from := dtAcc(t, "acc_A", "RON", "100", withLastPosted(ahead))
	to := dtAcc(t, "acc_B", "RON", "0")
	b, err := Transfer(from, to, TransferInput{Amount: "1"}, dtActor("u_alice"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range b.Updates {
		if !u.Line.PostedAt.Equal(ahead) || !u.Account.LastPostedAt.Equal(ahead) {
			t.Errorf("%s posted %v last %v, want %v", u.Account.ID, u.Line.PostedAt, u.Account.LastPostedAt, ahead)
		}
		if u.Line.PostedAt.Before(from.LastPostedAt) {
			t.Errorf("history of %s goes back in time", u.Account.ID)
		}
	}
	if !b.Txn.PostedAt.Equal(ahead) || !b.Txn.CreatedAt.Equal(dtNow) {
		t.Errorf("txn posted %v created %v", b.Txn.PostedAt, b.Txn.CreatedAt)
	}
}

func TestBookingLeavesItsInputAlone(t *testing.T) {
	mk := func() map[string]*Account {
		return dtAccounts(
			dtAcc(t, "acc_A", "RON", "1000", withSeq(5)),
			dtAcc(t, "acc_B", "RON", "0", withSeq(2)),
			dtAcc(t, "acc_C", "RON", "10", withSeq(9)),
		)
	}
	ops := []struct {
		name string
		run  func(map[string]*Account) (*Booking, error)
		code string
	}{
		{"transfer", func(m map[string]*Account) (*Booking, error) {
			return Transfer(m["acc_A"], m["acc_B"], TransferInput{Amount: "100"}, dtActor("u_alice"))
		}, ""},
		{"entry", func(m map[string]*Account) (*Booking, error) {
			return Entry(m["acc_A"], EntryInput{Type: Debit, Amount: "100"}, dtActor("u_alice"))
		}, ""},
		{"journal", func(m map[string]*Account) (*Booking, error) {
			return Journal(m, JournalInput{Lines: []JournalLineInput{{"acc_A", Debit, "100"}, {"acc_B", Credit, "60"}, {"acc_C", Credit, "40"}}}, dtActor("u_alice"))
		}, ""},
		{"journal refused on its last line", func(m map[string]*Account) (*Booking, error) {
			return Journal(m, JournalInput{Lines: []JournalLineInput{{"acc_B", Credit, "100"}, {"acc_A", Credit, "50"}, {"acc_C", Debit, "150"}}}, dtActor("u_alice"))
		}, EInsufficientFunds},
		{"transfer refused", func(m map[string]*Account) (*Booking, error) {
			return Transfer(m["acc_C"], m["acc_A"], TransferInput{Amount: "10.01"}, dtActor("u_alice"))
		}, EInsufficientFunds},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			m := mk()
			snap := dtSnap(m)
			b1, err1 := op.run(m)
			snap.assertUnchanged(t, m)
			// A retry rebuilds from the same input and gets the same effect.
			b2, err2 := op.run(m)
			snap.assertUnchanged(t, m)
			if op.code != "" {
				dtLedgerErr(t, err1, op.code)
				dtLedgerErr(t, err2, op.code)
				return
			}
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if len(b1.Updates) != len(b2.Updates) {
				t.Fatalf("retry touched %d accounts, first %d", len(b2.Updates), len(b1.Updates))
			}
			for i := range b1.Updates {
				u1, u2 := b1.Updates[i], b2.Updates[i]
				if u1.Account == m[u1.Account.ID] {
					t.Errorf("update of %s aliases the input account", u1.Account.ID)
				}
				if !u1.Account.Balance.Equal(u2.Account.Balance) || u1.Account.Seq != u2.Account.Seq ||
					u1.Account.Seq != m[u1.Account.ID].Seq+1 {
					t.Errorf("%s: first %s/%d retry %s/%d", u1.Account.ID, u1.Account.Balance, u1.Account.Seq, u2.Account.Balance, u2.Account.Seq)
				}
			}
		})
	}
}
