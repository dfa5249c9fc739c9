package dynamo

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

func wantNoTransaction(t *testing.T, st *Store, tenant, id string) {
	t.Helper()
	_, err := st.GetTransaction(testCtx(t), tenant, id)
	if ledger.ErrorCode(err) != ledger.ENotFound {
		t.Errorf("transaction %s of a lost attempt: GetTransaction answered %v, want not-found", id, err)
	}
	if it := rawGet(t, txnPK(tenant, id), skTxn); it != nil {
		t.Errorf("transaction %s of a lost attempt is in the table: %v", id, it)
	}
}

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: history names transactions %v, want %v", what, got, want)
	}
}

// TestPostRetriesALostRace: between the load and the commit of a posting,
// another writer posts to the same accounts. The commit's revision check
// fails, the store loads and builds again, and both postings end up in the
// books, each account numbered 1..n without gaps.
func TestPostRetriesALostRace(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	a := simpleAccount(t, rawStore(), tenant, "Race From", "EUR", "1000.00")
	b := simpleAccount(t, rawStore(), tenant, "Race To", "EUR", "")

	var competing *ledger.Transaction
	sp := newSpy()
	sp.beforeWrite = func(ctx context.Context, n int) error {
		if n != 1 {
			return nil
		}
		txn, _, err := rawStore().Post(ctx, transferReq(tenant, "carol", a.ID, b.ID, "50.00", nil, nil))
		competing = txn
		return err
	}
	st := New(sp, TestTable)
	rec := &builds{}
	txn := mustPost(t, st, transferReq(tenant, "bob", a.ID, b.ID, "100.00", nil, rec))

	if got := rec.n.Load(); got != 2 {
		t.Fatalf("Build ran %d times, want 2 (one lost race, one retry)", got)
	}
	if competing == nil {
		t.Fatal("the competing posting did not happen")
	}
	wantCalls(t, "Post with one lost race", sp.snapshot(), map[string]int{"BatchGetItem": 2, "TransactWriteItems": 2})
	var tce *types.TransactionCanceledException
	if len(sp.writeErr) != 2 || !errors.As(sp.writeErr[0], &tce) || sp.writeErr[1] != nil {
		t.Fatalf("commits answered %v; want the first cancelled, the second committed", sp.writeErr)
	}
	if s0, s1 := rec.states[0].Accounts[a.ID], rec.states[1].Accounts[a.ID]; s0.Seq != 1 || s1.Seq != 2 ||
		!s1.Balance.Equal(dec(t, "950")) {
		t.Errorf("attempts saw %s at seq %d then seq %d balance %s; want 1, then 2 with 950", a.ID, s0.Seq, s1.Seq, s1.Balance)
	}
	if txn.ID != rec.txnIDs[1] || rec.txnIDs[0] == rec.txnIDs[1] {
		t.Errorf("Post answered %s; attempts built %v", txn.ID, rec.txnIDs)
	}
	wantNoTransaction(t, st, tenant, rec.txnIDs[0])

	aIDs := checkBooks(t, st, tenant, a.ID)
	bIDs := checkBooks(t, st, tenant, b.ID)
	openingID := ""
	if len(aIDs) > 0 {
		openingID = aIDs[0]
	}
	wantIDs(t, "from", aIDs, []string{openingID, competing.ID, txn.ID})
	wantIDs(t, "to", bIDs, []string{competing.ID, txn.ID})
	for id, want := range map[string]string{a.ID: "850", b.ID: "150"} {
		acc, err := st.GetAccount(ctx, tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if !acc.Balance.Equal(dec(t, want)) {
			t.Errorf("%s balance %s, want %s", id, acc.Balance, want)
		}
	}
	for _, id := range []string{competing.ID, txn.ID} {
		if _, err := st.GetTransaction(ctx, tenant, id); err != nil {
			t.Errorf("transaction %s: %v", id, err)
		}
	}
}

// TestPostRetryBudget: when every commit loses a race, a posting gives up
// after Retry.Attempts with code unavailable (503), and leaves nothing of
// itself in the table: no transaction, line, audit or idempotency record.
func TestPostRetryBudget(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	a := simpleAccount(t, rawStore(), tenant, "Busy From", "EUR", "100.00")
	b := simpleAccount(t, rawStore(), tenant, "Busy To", "EUR", "")

	var competing []string
	sp := newSpy()
	sp.beforeWrite = func(ctx context.Context, n int) error {
		txn, _, err := rawStore().Post(ctx, entryReq(tenant, "carol", a.ID, ledger.Credit, "1.00", nil, nil))
		if err == nil {
			competing = append(competing, txn.ID)
		}
		return err
	}
	st := New(sp, TestTable)
	st.Retry = RetryPolicy{Attempts: 2, Budget: 10 * time.Second, Base: time.Millisecond, Cap: 2 * time.Millisecond}
	rec := &builds{}
	idem := &app.Idempotency{Key: "busy-1", RequestHash: "hash-busy"}
	txn, replay, err := st.Post(ctx, transferReq(tenant, "bob", a.ID, b.ID, "30.00", idem, rec))
	if txn != nil || replay != nil {
		t.Errorf("a posting out of retries answered txn %v, replay %+v", txn, replay)
	}
	wantCode(t, err, ledger.EUnavailable)
	if got := rec.n.Load(); got != 2 {
		t.Errorf("Build ran %d times, want 2 (Attempts: 2)", got)
	}
	wantCalls(t, "Post out of retries", sp.snapshot(), map[string]int{"BatchGetItem": 2, "TransactWriteItems": 2})
	if len(competing) != 2 {
		t.Fatalf("%d competing postings, want 2", len(competing))
	}

	// Nothing of the failed posting: its transactions, lines, audit records
	// and idempotency record are all absent; the competing ones are there.
	for _, id := range rec.txnIDs {
		wantNoTransaction(t, st, tenant, id)
	}
	for _, au := range rec.audits {
		if it := rawGet(t, auditPK(tenant), stamp(au.At)+"#"+au.ID); it != nil {
			t.Errorf("audit record %s of the failed posting is in the table", au.ID)
		}
	}
	if it := rawGet(t, idemPK(tenant, "bob", idem.Key), skIdem); it != nil {
		t.Errorf("the failed posting left its idempotency record: %v", it)
	}
	aIDs := checkBooks(t, st, tenant, a.ID)
	bIDs := checkBooks(t, st, tenant, b.ID)
	if len(aIDs) == 3 {
		wantIDs(t, "from", aIDs, []string{aIDs[0], competing[0], competing[1]})
	} else {
		t.Errorf("from has %d lines, want 3 (opening and the two competing entries)", len(aIDs))
	}
	if len(bIDs) != 0 {
		t.Errorf("to has lines %v, want none", bIDs)
	}
	for id, want := range map[string]string{a.ID: "102", b.ID: "0"} {
		acc, err := st.GetAccount(ctx, tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if !acc.Balance.Equal(dec(t, want)) {
			t.Errorf("%s balance %s, want %s", id, acc.Balance, want)
		}
	}

	// The key is not spent: once the races stop, the same request posts.
	sp.beforeWrite = nil
	txn, replay, err = st.Post(ctx, transferReq(tenant, "bob", a.ID, b.ID, "30.00", idem, nil))
	if err != nil || replay != nil || txn == nil {
		t.Fatalf("the same request after the failure: txn %v, replay %+v, err %v; want a new posting", txn, replay, err)
	}
}

// lostResponse commits the first TransactWriteItems and then answers as if
// its response never came back in time: the outcome is ambiguous (DESIGN.md,
// "Ambiguous outcomes"), the posting is in fact booked.
func lostResponse(n int, err error) error {
	if n == 1 && err == nil {
		return fmt.Errorf("operation error DynamoDB: TransactWriteItems, response lost after commit: %w", context.DeadlineExceeded)
	}
	return err
}

// TestAmbiguousCommitWithKeyBooksOnce: the commit went through but its
// answer was lost; the retry finds the committed transaction (by its attempt
// token, or by the idempotency record written with it) and answers it as
// the first answer, booking nothing a second time.
func TestAmbiguousCommitWithKeyBooksOnce(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	a := simpleAccount(t, rawStore(), tenant, "Lost From", "EUR", "100.00")
	b := simpleAccount(t, rawStore(), tenant, "Lost To", "EUR", "")
	sp := newSpy()
	sp.afterWrite = lostResponse
	st := New(sp, TestTable)
	rec := &builds{}
	txn, replay, err := st.Post(ctx, transferReq(tenant, "bob", a.ID, b.ID, "30.00", &app.Idempotency{Key: "lost-1", RequestHash: "h"}, rec))
	if err != nil {
		t.Fatalf("Post after a lost response: %v", err)
	}
	if len(rec.txnIDs) == 0 {
		t.Fatal("nothing was built")
	}
	answered := ""
	switch {
	case txn != nil && replay == nil:
		answered = txn.ID
	case txn == nil && replay != nil:
		answered = replay.ResourceID
	}
	if answered != rec.txnIDs[0] {
		t.Errorf("answered txn %v, replay %+v; want the committed %s", txn, replay, rec.txnIDs[0])
	}
	if ids := checkBooks(t, st, tenant, b.ID); fmt.Sprint(ids) != fmt.Sprint(rec.txnIDs[:1]) {
		t.Errorf("to account's lines name %v, want the one posting %s once", ids, rec.txnIDs[0])
	}
	if acc := account(t, st, tenant, a.ID); !acc.Balance.Equal(dec(t, "70")) {
		t.Errorf("from balance %s, want 70", acc.Balance)
	}
}

// TestAmbiguousCommitWithoutKeyBooksOnce: the same lost answer for a posting
// sent without an Idempotency-Key (the contract makes the key optional).
// DESIGN.md: a retry after an ambiguous outcome "must find out ... and
// answer the first result; it never books the posting a second time", and
// invariant 4: every 2xx posting is there exactly once. The store's own
// retry (post.go, wrap: DeadlineExceeded and server faults become errRetry)
// loads the accounts again, sees them moved by its own first commit, builds
// a second transaction and commits it: the transfer is booked twice and the
// caller gets a success for the second one.
func TestAmbiguousCommitWithoutKeyBooksOnce(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	a := simpleAccount(t, rawStore(), tenant, "Lost From", "EUR", "100.00")
	b := simpleAccount(t, rawStore(), tenant, "Lost To", "EUR", "")
	sp := newSpy()
	sp.afterWrite = lostResponse
	st := New(sp, TestTable)
	rec := &builds{}
	txn, _, err := st.Post(ctx, transferReq(tenant, "bob", a.ID, b.ID, "30.00", nil, rec))
	if err != nil {
		// An error (the outcome is unknown) would be honest; a success
		// must mean booked once.
		t.Logf("Post after a lost response answered %v", err)
	}
	ids := checkBooks(t, st, tenant, b.ID)
	if len(ids) != 1 {
		t.Errorf("one transfer of 30.00 is booked %d times: to account's lines name %v (Build ran %d times; Post answered %v)",
			len(ids), ids, rec.n.Load(), txnID(txn))
	}
	if acc := account(t, st, tenant, a.ID); !acc.Balance.Equal(dec(t, "70")) {
		t.Errorf("from balance %s, want 70 (100 less one transfer of 30)", acc.Balance)
	}
}

func txnID(t *ledger.Transaction) string {
	if t == nil {
		return "<none>"
	}
	return t.ID
}
