package dynamo

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// partStatuses counts a hot account's parts by their stored status.
func partStatuses(t *testing.T, tenant, id string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, it := range rawPartition(t, accountPK(tenant, id)) {
		if sk := str(it[attrSK]); len(sk) > 2 && sk[:2] == skParts {
			out[str(it["status"])]++
		}
	}
	return out
}

// setPartStatusRaw gives the first n parts a status behind the store's
// back, as a change of status that stopped part-way would leave them.
func setPartStatusRaw(t *testing.T, tenant, id, status string, n int) {
	t.Helper()
	for i := range n {
		_, err := TestDB.UpdateItem(testCtx(t), &dynamodb.UpdateItemInput{
			TableName: &TestTable, Key: key(accountPK(tenant, id), partSK(i)),
			UpdateExpression:          strp("SET #s = :s"),
			ExpressionAttributeNames:  map[string]string{"#s": "status"},
			ExpressionAttributeValues: item{":s": s(status)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// quickStore gives up within a few seconds, so a wedged account shows as a
// 503 in seconds rather than after the full budget.
func quickStore() *Store {
	st := rawStore()
	st.Retry.Budget = 3 * time.Second
	return st
}

// TestRefusedFreezeOfAHotAccountLeavesItWorking: a freeze refused for a
// name already taken (409) had already frozen the 32 parts while the
// account stayed active: every posting answered 503 after 20 s, and
// PATCH {"status":"active"} changed nothing. Nothing of a refused change
// reaches the parts.
func TestRefusedFreezeOfAHotAccountLeavesItWorking(t *testing.T) {
	st, tenant := quickStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Pool", "100.00", "")
	simpleAccount(t, st, tenant, "Taken", "EUR", "")
	_, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Status: strp(ledger.StatusFrozen), Name: strp("Taken")})
	wantCode(t, err, ledger.EConflict)
	if got := partStatuses(t, tenant, hot.ID); got[ledger.StatusActive] != hotParts {
		t.Errorf("parts after a refused freeze: %v; want all %d active", got, hotParts)
	}
	for range 3 {
		if _, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Debit, "10.00", nil, nil)); err != nil {
			t.Fatalf("debit after a refused freeze: %v", err)
		}
	}
	if a := account(t, st, tenant, hot.ID); a.Balance.StringFixed(2) != "70.00" || a.Status != ledger.StatusActive {
		t.Errorf("account %s %s; want active with 70.00", a.Status, a.Balance)
	}
	checkHotBooks(t, st, tenant, hot.ID)
}

// TestHotAccountWithPartsLeftBehindWorksAndIsMended: a change of status
// that stopped part-way (a crash between the account item and its parts)
// leaves nothing postings can see: an active account whose parts are
// partly frozen takes postings, a frozen one whose parts are partly active
// refuses them, and any later PATCH, even one that changes nothing, sets
// every part to the account's status.
func TestHotAccountWithPartsLeftBehindWorksAndIsMended(t *testing.T) {
	st, tenant := quickStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Pool", "64.00", "")
	// Unfreezing stopped after the account item: half the parts frozen.
	setPartStatusRaw(t, tenant, hot.ID, ledger.StatusFrozen, hotParts/2)
	for range 8 {
		if _, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Debit, "7.00", nil, nil)); err != nil {
			t.Fatalf("debit on an active account with parts left frozen: %v", err)
		}
	}
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Status: strp(ledger.StatusActive)}); err != nil {
		t.Fatalf("PATCH active on an active account: %v", err)
	}
	if got := partStatuses(t, tenant, hot.ID); got[ledger.StatusActive] != hotParts {
		t.Errorf("parts after PATCH active: %v; want all active", got)
	}
	// Freezing stopped after the account item: half the parts active.
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Status: strp(ledger.StatusFrozen)}); err != nil {
		t.Fatal(err)
	}
	setPartStatusRaw(t, tenant, hot.ID, ledger.StatusActive, hotParts/2)
	_, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Credit, "1.00", nil, nil))
	wantCode(t, err, ledger.EAccountClosed)
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Status: strp(ledger.StatusFrozen)}); err != nil {
		t.Fatalf("PATCH frozen on a frozen account: %v", err)
	}
	if got := partStatuses(t, tenant, hot.ID); got[ledger.StatusFrozen] != hotParts {
		t.Errorf("parts after PATCH frozen: %v; want all frozen", got)
	}
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Status: strp(ledger.StatusActive)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Debit, "8.00", nil, nil)); err != nil {
		t.Fatalf("debit after unfreezing: %v", err)
	}
	if a := account(t, st, tenant, hot.ID); a.Balance.StringFixed(2) != "0.00" {
		t.Errorf("balance %s, want 0.00 (64 less 8 debits of 7 and one of 8)", a.Balance)
	}
	checkHotBooks(t, st, tenant, hot.ID)
}

// TestSweepFindsLinesLeftWaitingByKey: lines whose stream record never
// reached the sequencer are found by key in the sparse index of waiting
// lines once they waited long enough, and leave it when numbered.
func TestSweepFindsLinesLeftWaitingByKey(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Pool", "", "")
	for range 3 {
		mustPost(t, st, entryReq(tenant, creator, hot.ID, ledger.Credit, "2.00", nil, nil))
	}
	has := func(list []HotAccount) bool {
		for _, a := range list {
			if a == (HotAccount{tenant, hot.ID}) {
				return true
			}
		}
		return false
	}
	fresh, err := st.WaitingSince(testCtx(t), time.Now().Add(-ledger.HistoryQuiet), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if has(fresh) {
		t.Error("lines just posted are listed as left waiting")
	}
	later := time.Now().Add(ledger.HistoryQuiet + time.Second)
	stale, err := st.WaitingSince(testCtx(t), later, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !has(stale) {
		t.Fatalf("the account with 3 waiting lines is not among %v", stale)
	}
	if n, err := st.NumberHistory(testCtx(t), tenant, hot.ID); err != nil || n != 3 {
		t.Fatalf("NumberHistory: %d, %v; want 3", n, err)
	}
	if after, _ := st.WaitingSince(testCtx(t), later, 1000); has(after) {
		t.Error("numbered lines are still listed as waiting")
	}
	checkHotBooks(t, st, tenant, hot.ID)
}

// TestSequencerCatchesUpInBoundedSteps: a backlog larger than one page is
// numbered completely, a page per transaction, every line once.
func TestSequencerCatchesUpInBoundedSteps(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Pool", "500.00", "")
	for i := range 3*numberBatch + 7 {
		typ := ledger.Credit
		if i%3 == 2 {
			typ = ledger.Debit
		}
		mustPost(t, st, entryReq(tenant, creator, hot.ID, typ, "1.00", nil, nil))
	}
	sp := newSpy()
	n, err := New(sp, TestTable).NumberHistory(testCtx(t), tenant, hot.ID)
	if err != nil || n != 3*numberBatch+8 {
		t.Fatalf("NumberHistory: %d, %v; want %d (the opening too)", n, err, 3*numberBatch+8)
	}
	if w := sp.snapshot()["TransactWriteItems"]; w != 4 {
		t.Errorf("%d transactions, want 4 of at most %d lines", w, numberBatch)
	}
	if lines := checkHotBooks(t, st, tenant, hot.ID); len(lines) != 3*numberBatch+8 {
		t.Errorf("%d lines numbered", len(lines))
	}
}
