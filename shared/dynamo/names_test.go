package dynamo

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// patchAccount applies a patch the way the service does.
func patchAccount(t *testing.T, st *Store, tenant, id string, p ledger.AccountPatch) (*ledger.Account, error) {
	t.Helper()
	caller := ledger.NewCaller(creator, tenant, ledger.ScopeAdmin)
	return st.UpdateAccount(testCtx(t), tenant, id, func(a *ledger.Account) (*ledger.AuditRecord, error) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		changes, err := a.Apply(p, now)
		if err != nil || len(changes) == 0 {
			return nil, err
		}
		return ledger.NewAuditRecord(caller, now, ledger.ActionAccountUpdated, "account", a.ID, []string{a.ID}, changes), nil
	})
}

// guardOwner is the account a name or code guard item holds, "" if none.
func guardOwner(t *testing.T, pk string) string {
	t.Helper()
	it := rawGet(t, pk, skGuard)
	if it == nil {
		return ""
	}
	v, ok := it["account_id"].(*types.AttributeValueMemberS)
	if !ok {
		t.Fatalf("guard %s holds %v", pk, it)
	}
	return v.Value
}

func account(t *testing.T, st *Store, tenant, id string) *ledger.Account {
	t.Helper()
	a, err := st.GetAccount(testCtx(t), tenant, id)
	if err != nil {
		t.Fatalf("GetAccount %s: %v", id, err)
	}
	return a
}

// TestAccountNamesAndCodesAreUniquePerTenant: names and codes are unique per
// tenant regardless of case and surrounding space, free across tenants; a
// rename releases the old name and code, and a rename that only changes
// case keeps the guard (no "item twice in one transaction").
func TestAccountNamesAndCodesAreUniquePerTenant(t *testing.T) {
	ctx := testCtx(t)
	st := rawStore()
	tenant, other := newTenant(t), newTenant(t)
	in := func(name, code string) ledger.NewAccountInput {
		return ledger.NewAccountInput{Name: name, Code: code, Kind: ledger.KindCash, Currency: "EUR"}
	}

	first := createAccount(t, st, tenant, in("Petty Cash", "PC-1"), time.Now())
	for _, c := range []struct{ what, name, code string }{
		{"same name in other case and spacing", "  PETTY cash ", ""},
		{"same code in other case", "Another Till", "pc-1"},
	} {
		acc, err := tryCreateAccount(t, st, tenant, in(c.name, c.code), time.Now())
		wantCode(t, err, ledger.EConflict)
		if acc != nil {
			t.Errorf("%s: created %s", c.what, acc.ID)
		}
	}
	// A refused creation wrote nothing: no guard for "another till", and
	// the tenant lists one account.
	if owner := guardOwner(t, namePK(tenant, "Another Till")); owner != "" {
		t.Errorf("a refused creation left the name guard of %s", owner)
	}
	if items := rawPartition(t, tenantAccountsPK(tenant)); len(items) != 1 {
		t.Errorf("the tenant lists %d accounts after one creation and two refusals", len(items))
	}
	// Another tenant may use both.
	createAccount(t, st, other, in("Petty Cash", "PC-1"), time.Now())

	// Renaming releases the old name: another account can then take it.
	if _, err := patchAccount(t, st, tenant, first.ID, ledger.AccountPatch{Name: strp("Main Cash")}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if owner := guardOwner(t, namePK(tenant, "Petty Cash")); owner != "" {
		t.Errorf("the old name is still held by %s", owner)
	}
	second := createAccount(t, st, tenant, in("petty CASH", ""), time.Now())
	if owner := guardOwner(t, namePK(tenant, "Petty Cash")); owner != second.ID {
		t.Errorf("the name guard is held by %q, want %s", owner, second.ID)
	}

	// A rename to another case of its own name works and keeps the guard.
	got, err := patchAccount(t, st, tenant, first.ID, ledger.AccountPatch{Name: strp("MAIN CASH"), Code: strp("pc-1")})
	if err != nil {
		t.Fatalf("rename to another case: %v", err)
	}
	stored := account(t, st, tenant, first.ID)
	if got.Name != "MAIN CASH" || stored.Name != "MAIN CASH" || stored.Code != "pc-1" || stored.Version != 3 {
		t.Errorf("after the case rename: answered %q, stored %q code %q version %d; want MAIN CASH, pc-1, version 3",
			got.Name, stored.Name, stored.Code, stored.Version)
	}
	if owner := guardOwner(t, namePK(tenant, "main cash")); owner != first.ID {
		t.Errorf("the name guard of main cash is held by %q, want %s", owner, first.ID)
	}
	if owner := guardOwner(t, codePK(tenant, "PC-1")); owner != first.ID {
		t.Errorf("the code guard of pc-1 is held by %q, want %s", owner, first.ID)
	}
	_, err = tryCreateAccount(t, st, tenant, in("Main Cash", ""), time.Now())
	wantCode(t, err, ledger.EConflict)

	// A rename onto a taken name is refused and changes nothing.
	_, err = patchAccount(t, st, tenant, second.ID, ledger.AccountPatch{Name: strp("main CASH")})
	wantCode(t, err, ledger.EConflict)
	if a := account(t, st, tenant, second.ID); a.Name != "petty CASH" || a.Version != 1 {
		t.Errorf("a refused rename left name %q version %d", a.Name, a.Version)
	}
	if owner := guardOwner(t, namePK(tenant, "petty cash")); owner != second.ID {
		t.Errorf("a refused rename moved the guard of petty cash to %q", owner)
	}

	// A new code releases the old one.
	if _, err := patchAccount(t, st, tenant, first.ID, ledger.AccountPatch{Code: strp("PC-2")}); err != nil {
		t.Fatalf("new code: %v", err)
	}
	third := createAccount(t, st, tenant, in("Third Till", "PC-1"), time.Now())
	if owner := guardOwner(t, codePK(tenant, "pc-1")); owner != third.ID {
		t.Errorf("the code guard of PC-1 is held by %q, want %s", owner, third.ID)
	}
	if _, err := st.GetAccount(ctx, tenant, third.ID); err != nil {
		t.Error(err)
	}
}
