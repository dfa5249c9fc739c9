package memory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/app/storetest"
	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/memory"
)

// TestStoreContract runs the store contract over the in-memory store, as
// shared/dynamo's TestStoreContract runs it over the DynamoDB store.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) app.Store { return memory.New() })
}

// ---- what only the in-memory store promises ----

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newAccount(t *testing.T, st *memory.Store, tenant, name, opening string, hot bool, now time.Time) *ledger.Account {
	t.Helper()
	in := ledger.NewAccountInput{Name: name, Kind: ledger.KindCash, Currency: "EUR", Hot: hot}
	if opening != "" {
		in.OpeningBalance = &opening
	}
	acc, amount, err := ledger.NewAccount(in, ledger.NewID(ledger.AccountPrefix, now), now, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var bk *ledger.Booking
	if !amount.IsZero() {
		if bk, err = ledger.Opening(acc, amount, ledger.Actor{Sub: "alice", Now: now}); err != nil {
			t.Fatal(err)
		}
		acc = bk.Updates[0].Account
	}
	audit := ledger.NewAuditRecord(ledger.NewCaller("alice", tenant, "admin"), now, ledger.ActionAccountCreated, "account", acc.ID, []string{acc.ID}, acc.Settings())
	if _, err := st.CreateAccount(context.Background(), tenant, acc, bk, nil, "alice", audit); err != nil {
		t.Fatal(err)
	}
	return acc
}

func debit(tenant, id, amount string, idem *app.Idempotency) app.PostRequest {
	return app.PostRequest{
		Tenant: tenant, Caller: "bob", Idem: idem, AccountIDs: []string{id}, Month: "2026-11",
		Build: func(st *app.State) (*app.Commit, error) {
			if err := st.Period.AcceptsPostings(st.Now); err != nil {
				return nil, err
			}
			bk, err := ledger.Entry(st.Accounts[id], ledger.EntryInput{Type: ledger.Debit, Amount: amount, Details: ledger.Details{ValueDate: "2026-11-20"}},
				ledger.Actor{Sub: "bob", Now: st.Now})
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(ledger.NewCaller("bob", tenant, "admin"), st.Now, ledger.ActionTransactionPosted, bk.Txn, nil)
			return &app.Commit{Booking: bk, Step: ledger.StepCreated, Audit: audit}, nil
		},
	}
}

// TestIdempotencyKeysExpire: a key answers with its first result for 24
// hours, by the store's clock, and is free afterwards.
func TestIdempotencyKeysExpire(t *testing.T) {
	clock := &testClock{now: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}
	st := memory.New(memory.WithClock(clock.Now))
	acc := newAccount(t, st, "t1", "Till", "100.00", false, clock.Now())
	key := &app.Idempotency{Key: "k", RequestHash: "h"}
	first, _, err := st.Post(context.Background(), debit("t1", acc.ID, "1.00", key))
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(24 * time.Hour)
	if _, replay, err := st.Post(context.Background(), debit("t1", acc.ID, "1.00", key)); err != nil || replay == nil || replay.ResourceID != first.ID {
		t.Errorf("24 hours on: replay %+v, %v; want the first posting", replay, err)
	}
	clock.Add(time.Second)
	if txn, replay, err := st.Post(context.Background(), debit("t1", acc.ID, "1.00", key)); err != nil || replay != nil || txn == nil {
		t.Errorf("24 hours and a second on: txn %v replay %+v, %v; want a new posting", txn, replay, err)
	}
	if a, _ := st.GetAccount(context.Background(), "t1", acc.ID); !a.Balance.Equal(decimal.RequireFromString("98")) {
		t.Errorf("balance %s, want 98", a.Balance)
	}
}

// TestConcurrentDebits: 50 debits of 30.00 at once against 1000.00: the
// optimistic commit lets exactly 33 through and refuses 17 for funds; the
// history runs 1..34 with no gap and ends at 10.00.
func TestConcurrentDebits(t *testing.T) {
	st := memory.New()
	acc := newAccount(t, st, "t1", "Till", "1000.00", false, time.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := st.Post(context.Background(), debit("t1", acc.ID, "30.00", nil))
			mu.Lock()
			codes[ledger.ErrorCode(err)]++
			if err == nil {
				codes["posted"]++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes["posted"] != 33 || codes[ledger.EInsufficientFunds] != 17 {
		t.Errorf("outcomes %v; want 33 posted and 17 insufficient-funds", codes)
	}
	page, err := st.History(context.Background(), "t1", acc.ID, app.HistoryFilter{Limit: 100})
	if err != nil || len(page.Items) != 34 {
		t.Fatalf("history: %d lines, %v", len(page.Items), err)
	}
	for i, l := range page.Items {
		want := decimal.RequireFromString("1000").Sub(decimal.NewFromInt(int64(30 * i)))
		if l.Seq != int64(i+1) || !l.BalanceAfter.Equal(want) {
			t.Errorf("line %d: seq %d balance_after %s, want %d and %s", i, l.Seq, l.BalanceAfter, i+1, want)
		}
	}
	sys, _ := st.SystemBalances(context.Background(), "t1", []string{"external:EUR"})
	if a, _ := st.GetAccount(context.Background(), "t1", acc.ID); !a.Balance.Equal(decimal.RequireFromString("10")) || !a.Balance.Add(sys["external:EUR"]).IsZero() {
		t.Errorf("balance %s, external %s; want 10 and a zero sum", a.Balance, sys["external:EUR"])
	}
}

// TestHotHistoryNumberedAtOnce: the in-memory store numbers a hot account's
// lines as they are posted (the DynamoDB store's sequencer does it shortly
// after): its history is complete at once.
func TestHotHistoryNumberedAtOnce(t *testing.T) {
	st := memory.New()
	acc := newAccount(t, st, "t1", "Hot", "100.00", true, time.Now())
	for range 3 {
		if _, _, err := st.Post(context.Background(), debit("t1", acc.ID, "10.00", nil)); err != nil {
			t.Fatal(err)
		}
	}
	page, err := st.History(context.Background(), "t1", acc.ID, app.HistoryFilter{Limit: 100})
	if err != nil || len(page.Items) != 4 {
		t.Fatalf("hot history: %d lines, %v", len(page.Items), err)
	}
	for i, l := range page.Items {
		want := decimal.RequireFromString("100").Sub(decimal.NewFromInt(int64(10 * i)))
		if l.Seq != int64(i+1) || !l.BalanceAfter.Equal(want) {
			t.Errorf("hot line %d: seq %d balance_after %s, want %d and %s", i, l.Seq, l.BalanceAfter, i+1, want)
		}
	}
	if a, _ := st.GetAccount(context.Background(), "t1", acc.ID); a.Seq != 4 || !a.Balance.Equal(decimal.RequireFromString("70")) {
		t.Errorf("hot account: seq %d balance %s, want 4 and 70", a.Seq, a.Balance)
	}
}
