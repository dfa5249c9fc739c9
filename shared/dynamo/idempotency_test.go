package dynamo

import (
	"testing"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// TestIdempotentPost: one key and request hash give one transaction; the
// second call replays it without writing; the key with another hash is
// refused; keys belong to the caller (sub), so another caller's same key is
// a new posting.
func TestIdempotentPost(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	a := simpleAccount(t, rawStore(), tenant, "Idem From", "EUR", "100.00")
	b := simpleAccount(t, rawStore(), tenant, "Idem To", "EUR", "")
	sp := newSpy()
	st := New(sp, TestTable)

	key1 := &app.Idempotency{Key: "pay-2026-0001", RequestHash: "sha-of-request-1"}
	first := mustPost(t, st, transferReq(tenant, "bob", a.ID, b.ID, "10.00", key1, nil))

	// Same key, same hash: a replay of the first, and no write at all.
	sp.reset()
	rec := &builds{}
	txn, replay, err := st.Post(ctx, transferReq(tenant, "bob", a.ID, b.ID, "10.00", key1, rec))
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if txn != nil || replay == nil {
		t.Fatalf("second call answered txn %v, replay %+v; want a replay", txn, replay)
	}
	if replay.ResourceID != first.ID || replay.Step != ledger.StepCreated {
		t.Errorf("replay %+v, want resource %s step %s", replay, first.ID, ledger.StepCreated)
	}
	if n := rec.n.Load(); n != 0 {
		t.Errorf("a replay built a new posting %d times", n)
	}
	calls := sp.snapshot()
	if calls["TransactWriteItems"]+calls["PutItem"] != 0 {
		t.Errorf("a replay wrote: %s", fmtCounts(calls))
	}

	// Same key, another request: refused, nothing written.
	sp.reset()
	txn, replay, err = st.Post(ctx, transferReq(tenant, "bob", a.ID, b.ID, "99.00", &app.Idempotency{Key: key1.Key, RequestHash: "sha-of-request-2"}, nil))
	wantCode(t, err, ledger.EIdempotencyKeyReuse)
	if txn != nil || replay != nil {
		t.Errorf("key reuse answered txn %v, replay %+v", txn, replay)
	}
	if calls := sp.snapshot(); calls["TransactWriteItems"]+calls["PutItem"] != 0 {
		t.Errorf("key reuse wrote: %s", fmtCounts(calls))
	}

	aIDs := checkBooks(t, st, tenant, a.ID)
	bIDs := checkBooks(t, st, tenant, b.ID)
	if len(aIDs) != 2 || aIDs[1] != first.ID || len(bIDs) != 1 || bIDs[0] != first.ID {
		t.Errorf("books after one posting and two repeats: from %v, to %v; want %s once each", aIDs, bIDs, first.ID)
	}

	// Keys are per caller: dave's "pay-2026-0001" is not bob's.
	daves := mustPost(t, st, transferReq(tenant, "dave", a.ID, b.ID, "10.00", key1, nil))
	if daves.ID == first.ID {
		t.Fatal("another caller's same key replayed bob's transaction")
	}
	_, replay, err = st.Post(ctx, transferReq(tenant, "dave", a.ID, b.ID, "10.00", key1, nil))
	if err != nil || replay == nil || replay.ResourceID != daves.ID {
		t.Errorf("dave's replay: %+v, %v; want his own %s", replay, err, daves.ID)
	}
	_, replay, err = st.Post(ctx, transferReq(tenant, "bob", a.ID, b.ID, "10.00", key1, nil))
	if err != nil || replay == nil || replay.ResourceID != first.ID {
		t.Errorf("bob's replay after dave's posting: %+v, %v; want %s", replay, err, first.ID)
	}

	// Keys are per tenant too: the same caller and key in another tenant.
	other := newTenant(t)
	oa := simpleAccount(t, rawStore(), other, "Idem From", "EUR", "100.00")
	ob := simpleAccount(t, rawStore(), other, "Idem To", "EUR", "")
	if ot := mustPost(t, st, transferReq(other, "bob", oa.ID, ob.ID, "10.00", key1, nil)); ot.ID == first.ID {
		t.Error("another tenant's same key replayed this tenant's transaction")
	}

	acc, err := st.GetAccount(ctx, tenant, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Balance.Equal(dec(t, "20")) {
		t.Errorf("to balance %s, want 20 (bob's and dave's postings, once each)", acc.Balance)
	}
}
