package ledger

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestNumberLinesContinuesTheRunningBalance(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	state := HistoryState{Seq: 4, Balance: decimal.RequireFromString("100.00"), LastPostedAt: t0}
	lines := []HistoryLine{
		{TransactionID: "txn_a", Type: Debit, Amount: decimal.RequireFromString("30.50"), PostedAt: t0.Add(time.Second)},
		// Committed late with an earlier stamp: it keeps its place in seq
		// order and takes the previous line's time.
		{TransactionID: "txn_b", Type: Credit, Amount: decimal.RequireFromString("0.50"), PostedAt: t0.Add(-time.Second)},
		{TransactionID: "txn_c", Type: Debit, Amount: decimal.RequireFromString("70.00"), PostedAt: t0.Add(2 * time.Second)},
	}
	got, next, _ := NumberLines(state, lines, nil)
	want := []struct {
		seq int64
		bal string
		at  time.Time
	}{{5, "69.5", t0.Add(time.Second)}, {6, "70", t0.Add(time.Second)}, {7, "0", t0.Add(2 * time.Second)}}
	for i, w := range want {
		if got[i].Seq != w.seq || !got[i].BalanceAfter.Equal(decimal.RequireFromString(w.bal)) || !got[i].PostedAt.Equal(w.at) {
			t.Errorf("line %d: seq %d balance_after %s at %s; want %d %s %s", i, got[i].Seq, got[i].BalanceAfter, got[i].PostedAt, w.seq, w.bal, w.at)
		}
	}
	if next.Seq != 7 || !next.Balance.IsZero() || !next.LastPostedAt.Equal(t0.Add(2*time.Second)) {
		t.Errorf("state after: %+v", next)
	}
	if lines[1].Seq != 0 || !lines[1].PostedAt.Equal(t0.Add(-time.Second)) {
		t.Errorf("NumberLines changed its input: %+v", lines[1])
	}
}

func TestHotAccountPostsUnnumberedLines(t *testing.T) {
	acc := &Account{ID: "acc_H", Currency: dtCur(t, "RON"), Status: StatusActive, FundsChecked: true, Hot: true,
		Balance: decimal.RequireFromString("10.00"), Seq: 3}
	bk, err := Entry(acc, EntryInput{Type: Debit, Amount: "4.00"}, Actor{Sub: "u_a", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	u := bk.Updates[0]
	if u.Line == nil || u.Line.Seq != 0 || !u.Line.BalanceAfter.IsZero() || u.Account.Seq != 3 {
		t.Errorf("hot account's line %+v, account seq %d; want an unnumbered line and seq untouched", u.Line, u.Account.Seq)
	}
	if !u.Account.Balance.Equal(decimal.RequireFromString("6.00")) {
		t.Errorf("balance %s, want 6.00: the balance never lags", u.Account.Balance)
	}
	if _, err := Entry(acc, EntryInput{Type: Debit, Amount: "10.01"}, Actor{Sub: "u_a", Now: time.Now()}); ErrorCode(err) != EInsufficientFunds {
		t.Errorf("overdrawing a hot account: %v, want insufficient funds", err)
	}
}

func TestHotIsSetOnceAndStays(t *testing.T) {
	acc := &Account{ID: "acc_H", Currency: dtCur(t, "RON"), Status: StatusActive, FundsChecked: true, Version: 1}
	changes, err := acc.Apply(AccountPatch{Hot: new(true)}, time.Now())
	if err != nil || len(changes) != 1 || changes[0].Field != "hot" || !acc.Hot || acc.Version != 2 {
		t.Fatalf("mark hot: %v %+v hot=%v version=%d", err, changes, acc.Hot, acc.Version)
	}
	if _, err := acc.Apply(AccountPatch{Hot: new(false)}, time.Now()); ErrorCode(err) != EConflict || !acc.Hot {
		t.Errorf("unmark hot: %v, hot=%v; want conflict and still hot", err, acc.Hot)
	}
}

func TestNumberLinesShowsADebitAfterTheCreditThatCoveredIt(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := decimal.RequireFromString
	// Stamped before the credit, committed after it: the debit was only
	// covered because the credit had landed.
	lines := []HistoryLine{
		{TransactionID: "txn_debit", Type: Debit, Amount: d("50.00"), PostedAt: t0},
		{TransactionID: "txn_credit", Type: Credit, Amount: d("100.00"), PostedAt: t0.Add(time.Millisecond)},
		{TransactionID: "txn_small", Type: Debit, Amount: d("30.00"), PostedAt: t0.Add(2 * time.Millisecond)},
	}
	got, next, uncovered := NumberLines(HistoryState{Seq: 1, Balance: d("10.00")}, lines, new(d("0")))
	var order []string
	for _, l := range got {
		order = append(order, l.TransactionID+"="+l.BalanceAfter.StringFixed(2))
		if l.BalanceAfter.IsNegative() {
			t.Errorf("%s shows balance_after %s", l.TransactionID, l.BalanceAfter)
		}
	}
	if want := "txn_credit=110.00 txn_debit=60.00 txn_small=30.00"; strings.Join(order, " ") != want {
		t.Errorf("order %v, want %s", order, want)
	}
	if got[1].PostedAt.Before(got[0].PostedAt) || got[1].Seq != 3 || next.Seq != 4 || !next.Balance.Equal(d("30")) || len(uncovered) != 0 {
		t.Errorf("lines %+v, state %+v", got, next)
	}
	// With an overdraft the debit may go first, as stamped.
	got, _, _ = NumberLines(HistoryState{Balance: d("10.00")}, lines, new(d("-100")))
	if got[0].TransactionID != "txn_debit" || got[0].BalanceAfter.StringFixed(2) != "-40.00" {
		t.Errorf("within the overdraft: first %s at %s", got[0].TransactionID, got[0].BalanceAfter)
	}
	// A debit nothing in sight covers is handed back unnumbered: the
	// credit that covered it was not read yet.
	got, next, uncovered = NumberLines(HistoryState{Seq: 1, Balance: d("10.00")}, lines[:1], new(d("0")))
	if len(got) != 0 || len(uncovered) != 1 || next.Seq != 1 {
		t.Errorf("uncovered debit: numbered %+v, handed back %+v", got, uncovered)
	}
}
