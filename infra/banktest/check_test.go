package banktest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// answer builds a recorded HTTP answer naming a transaction.
func answer(t *testing.T, status int, txn *Txn, sent time.Time) Answer {
	t.Helper()
	a := Answer{Status: status, Sent: sent, Received: sent.Add(5 * time.Millisecond)}
	if status >= 200 && status < 300 {
		raw, err := json.Marshal(map[string]any{"id": txn.ID, "status": txn.Status, "lines": txn.Lines})
		if err != nil {
			t.Fatal(err)
		}
		a.TxnID, a.TxnState, a.Body = txn.ID, txn.Status, raw
	} else {
		a.Problem = "insufficient-funds"
	}
	return a
}

func audit(id, action, target string) AuditRecord {
	var a AuditRecord
	a.ID, a.Action, a.Actor = id, action, "u_c00"
	a.Target.Type, a.Target.ID = "transaction", target
	return a
}

// fixture is a small healthy ledger and the record of the operations that
// made it: account A opened with 100.00, a transfer of 30.00 from A to B
// (acknowledged), an entry refused, a withdrawal of 50.00 from A held
// pending (acknowledged, with a duplicate delivery that replayed it).
func fixture(t *testing.T) (*Books, *Record) {
	t.Helper()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	accA := &AccountSpec{Name: "A", Kind: "bank", Currency: "RON", Opening: d("100.00"), Threshold: d("40.00"), ID: "acc_A"}
	accB := &AccountSpec{Name: "B", Kind: "cash", Currency: "RON", ID: "acc_B"}
	opening := &Txn{ID: "txn_0", Kind: "opening", Status: "posted", Memo: "Opening balance",
		Lines: []Line{{"acc_A", "credit", d("100.00"), "RON"}, {"external:RON", "debit", d("100.00"), "RON"}}}
	transfer := &Txn{ID: "txn_1", Kind: "transfer", Status: "posted", Reference: "bank-1-c00-00000",
		Lines: []Line{{"acc_A", "debit", d("30.00"), "RON"}, {"acc_B", "credit", d("30.00"), "RON"}}}
	withdrawal := &Txn{ID: "txn_2", Kind: "withdrawal", Status: "pending", Reference: "bank-1-c00-00002",
		Lines: []Line{{"acc_A", "debit", d("50.00"), "RON"}, {"external:RON", "credit", d("50.00"), "RON"}}}
	b := &Books{
		Accounts: []Account{
			{ID: "acc_A", Name: "A", Currency: "RON", Status: "active", Balance: d("70.00"), Pending: d("50.00"), Available: d("20.00")},
			{ID: "acc_B", Name: "B", Currency: "RON", Status: "active", Balance: d("30.00"), Available: d("30.00")},
		},
		History: map[string][]HistoryLine{
			"acc_A": {
				{Seq: 1, TxnID: "txn_0", Kind: "opening", Type: "credit", Amount: d("100.00"), BalanceAfter: d("100.00")},
				{Seq: 2, TxnID: "txn_1", Kind: "transfer", Type: "debit", Amount: d("30.00"), BalanceAfter: d("70.00")},
			},
			"acc_B": {
				{Seq: 1, TxnID: "txn_1", Kind: "transfer", Type: "credit", Amount: d("30.00"), BalanceAfter: d("30.00")},
			},
		},
		Txns:  map[string]*Txn{"txn_0": opening, "txn_1": transfer, "txn_2": withdrawal},
		Audit: []AuditRecord{audit("aud_1", "transaction.posted", "txn_1"), audit("aud_2", "transaction.pending", "txn_2")},
		// external:RON took the opening's debit; the pending withdrawal is
		// not booked yet.
		System: map[string]decimal.Decimal{"external:RON": d("-100.00"), "fx:RON": decimal.Zero},
	}

	opT := &Op{Index: 0, Client: 0, Seq: 0, Kind: KindTransfer, Key: "bank-1-c00-00000", Ref: "bank-1-c00-00000",
		Expected: transfer.Lines,
		Calls:    []*Call{{Name: "post", Sub: "u_c00", Key: "bank-1-c00-00000", Method: "POST", Path: "/transfers", Answers: []Answer{answer(t, 201, transfer, t0)}}}}
	opE := &Op{Index: 1, Client: 0, Seq: 1, Kind: KindEntry, Key: "bank-1-c00-00001", Ref: "bank-1-c00-00001", EntryType: "debit",
		Expected: []Line{{"acc_B", "debit", d("500.00"), "RON"}, {"external:RON", "credit", d("500.00"), "RON"}},
		Calls:    []*Call{{Name: "post", Sub: "u_c00", Key: "bank-1-c00-00001", Method: "POST", Path: "/accounts/acc_B/entries", Answers: []Answer{answer(t, 422, nil, t0)}}}}
	first := answer(t, 201, withdrawal, t0.Add(time.Second))
	replay := answer(t, 201, withdrawal, t0.Add(2*time.Second))
	replay.Replayed, replay.Delivery = true, 1
	opW := &Op{Index: 2, Client: 0, Seq: 2, Kind: KindWithdrawal, Key: "bank-1-c00-00002", Ref: "bank-1-c00-00002", Over: true, Dup: DupSequential,
		Expected: withdrawal.Lines,
		Calls:    []*Call{{Name: "post", Sub: "u_c00", Key: "bank-1-c00-00002", Method: "POST", Path: "/accounts/acc_A/withdrawals", Answers: []Answer{first, replay}}}}
	return b, &Record{Accounts: []*AccountSpec{accA, accB}, Ops: []*Op{opT, opE, opW}}
}

func TestCheckersPassOnAHealthyLedger(t *testing.T) {
	b, rec := fixture(t)
	for n, vs := range Check(b, rec) {
		if len(vs) > 0 {
			t.Errorf("invariant %d on a healthy ledger: %s", n, strings.Join(vs, "; "))
		}
	}
}

// broken runs one checker on a ledger broken by breakIt and wants a
// finding that mentions want.
func broken(t *testing.T, name string, check func(*Books, *Record) []string, want string, breakIt func(*Books, *Record)) {
	t.Run(name, func(t *testing.T) {
		b, rec := fixture(t)
		if vs := check(b, rec); len(vs) > 0 {
			t.Fatalf("fails before the ledger is broken: %v", vs)
		}
		breakIt(b, rec)
		vs := check(b, rec)
		if len(vs) == 0 {
			t.Fatal("the checker found nothing wrong with a broken ledger")
		}
		if !strings.Contains(strings.Join(vs, "\n"), want) {
			t.Fatalf("findings do not mention %q:\n%s", want, strings.Join(vs, "\n"))
		}
	})
}

func TestZeroSumCheckerFails(t *testing.T) {
	check := func(b *Books, _ *Record) []string { return CheckZeroSum(b) }
	broken(t, "a shard lost an update", check, "sum to", func(b *Books, _ *Record) {
		b.System["external:RON"] = d("-70.00")
	})
	broken(t, "money appeared on an account", check, "RON sum to 5.00", func(b *Books, _ *Record) {
		b.Accounts[1].Balance = d("35.00")
	})
}

func TestChainCheckerFails(t *testing.T) {
	check := func(b *Books, _ *Record) []string { return CheckChains(b) }
	broken(t, "a gap in seq", check, "has seq 3", func(b *Books, _ *Record) {
		b.History["acc_A"][1].Seq = 3
	})
	broken(t, "a wrong balance_after", check, "balance_after 80.00, want 70", func(b *Books, _ *Record) {
		b.History["acc_A"][1].BalanceAfter = d("80.00")
	})
	broken(t, "a balance the history does not end at", check, "history (1 lines) ends at 30", func(b *Books, _ *Record) {
		b.Accounts[1].Balance = d("60.00")
	})
}

func TestFundsCheckerFails(t *testing.T) {
	check := func(b *Books, _ *Record) []string { return CheckFunds(b) }
	broken(t, "an overdraft beyond the limit", check, "below -overdraft_limit", func(b *Books, _ *Record) {
		b.History["acc_B"] = append(b.History["acc_B"], HistoryLine{Seq: 2, TxnID: "txn_9", Type: "debit", Amount: d("40.00"), BalanceAfter: d("-10.00")})
	})
	broken(t, "available below zero", check, "available -30.00 is below zero", func(b *Books, _ *Record) {
		b.Accounts[0].Pending, b.Accounts[0].Available = d("100.00"), d("-30.00")
		b.Txns["txn_2"].Lines[0].Amount = d("100.00")
	})
	broken(t, "a hold that does not match the pending withdrawals", check, "pending withdrawals hold 50.00", func(b *Books, _ *Record) {
		b.Accounts[0].Pending, b.Accounts[0].Available = d("0.00"), d("70.00")
	})
}

func TestExactlyOnceCheckerFails(t *testing.T) {
	check := CheckExactlyOnce
	broken(t, "an acknowledged posting is missing", check, "not in the books", func(b *Books, _ *Record) {
		delete(b.Txns, "txn_1")
	})
	broken(t, "a refused posting left a transaction", check, "was refused, yet the books hold", func(b *Books, _ *Record) {
		b.Txns["txn_3"] = &Txn{ID: "txn_3", Kind: "entry", Status: "posted", Reference: "bank-1-c00-00001",
			Lines: []Line{{"acc_B", "debit", d("500.00"), "RON"}, {"external:RON", "credit", d("500.00"), "RON"}}}
	})
	broken(t, "a transaction no client asked for", check, "no operation asked for it", func(b *Books, _ *Record) {
		b.Txns["txn_4"] = &Txn{ID: "txn_4", Kind: "transfer", Status: "pending", Reference: "someone-else"}
	})
	broken(t, "a posting booked twice in a history", check, "history 2 times", func(b *Books, _ *Record) {
		b.History["acc_B"] = append(b.History["acc_B"], HistoryLine{Seq: 2, TxnID: "txn_1", Type: "credit", Amount: d("30.00"), BalanceAfter: d("60.00")})
	})
	broken(t, "a posting with other lines than asked", check, "it asked for", func(b *Books, _ *Record) {
		b.Txns["txn_1"].Lines[1].Amount = d("3.00")
	})
	broken(t, "a change audited twice", check, "2 transaction.posted audit records", func(b *Books, _ *Record) {
		b.Audit = append(b.Audit, audit("aud_3", "transaction.posted", "txn_1"))
	})
}

func TestIdempotencyCheckerFails(t *testing.T) {
	check := CheckIdempotency
	broken(t, "one key booked twice", check, "the books hold 2 transactions", func(b *Books, _ *Record) {
		b.Txns["txn_5"] = &Txn{ID: "txn_5", Kind: "transfer", Status: "posted", Reference: "bank-1-c00-00000"}
	})
	broken(t, "one key answered with two transactions", check, "answered with 2 transactions", func(b *Books, rec *Record) {
		other := &Txn{ID: "txn_6", Status: "posted"}
		c := rec.Ops[0].Calls[0]
		c.Answers = append(c.Answers, answer(t, 201, other, c.Answers[0].Received.Add(time.Second)))
	})
	broken(t, "a duplicate after the 2xx was run again", check, "after its 2xx", func(b *Books, rec *Record) {
		c := rec.Ops[2].Calls[0]
		c.Answers[1] = answer(t, 422, nil, c.Answers[0].Received.Add(time.Second))
	})
}
