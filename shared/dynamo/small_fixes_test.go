package dynamo

import (
	"testing"
	"time"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// TestAMissingNumberIsAnError: a required number read as 0 when the
// attribute was missing (a balance, a revision), silently.
func TestAMissingNumberIsAnError(t *testing.T) {
	a := &ledger.Account{ID: "acc_1", Name: "x", Kind: ledger.KindCash, Status: ledger.StatusActive}
	it := accountItem("t", a, 1, 0)
	delete(it, "balance")
	if _, _, err := decodeAccount(it); err == nil {
		t.Error("an account without its balance decoded without an error")
	}
	it = accountItem("t", a, 1, 0)
	delete(it, "rev")
	if _, _, err := decodeAccount(it); err == nil {
		t.Error("an account without its revision decoded without an error")
	}
}

// TestRemovedMembersLeaveTheIndex: a member's index item stayed after the
// member was removed, so their account list read it (and could answer
// empty pages with a cursor) for ever.
func TestRemovedMembersLeaveTheIndex(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	a := createAccount(t, st, tenant, ledger.NewAccountInput{Name: "Shared", Currency: "EUR", Kind: ledger.KindCash,
		Members: []string{creator, "bob", "carol"}}, time.Now())
	if rawGet(t, memberPK(tenant, "bob"), indexSK(a.ID)) == nil {
		t.Fatal("bob's index item was never written")
	}
	if _, err := patchAccount(t, st, tenant, a.ID, ledger.AccountPatch{Members: []string{creator, "carol"}, MembersSet: true}); err != nil {
		t.Fatal(err)
	}
	if rawGet(t, memberPK(tenant, "bob"), indexSK(a.ID)) != nil {
		t.Error("bob's index item stayed after bob was removed")
	}
	if rawGet(t, memberPK(tenant, "carol"), indexSK(a.ID)) == nil {
		t.Error("carol's index item went with bob's")
	}
}
