package e2e

import (
	"sync"
	"testing"

	"github.com/treasuryledger/treasury/infra/teststack"
)

// Fifty debits of 30.00 race against 1000.00: exactly 33 may pass, whatever
// the interleaving, and the history must stay gapless and exact.
func TestConcurrentDebitsNeverOverdraw(t *testing.T) {
	o := newOrg(t)
	src := o.account(map[string]any{"name": "Treasury", "currency": "RON", "kind": "bank", "opening_balance": "1000.00"})["id"].(string)
	dst := o.account(map[string]any{"name": "Dept", "currency": "RON", "kind": "budget"})["id"].(string)

	const n = 50
	statuses := make([]int, n)
	types := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var resp *teststack.Response
			if i%2 == 0 {
				resp = o.do("POST", "/accounts/"+src+"/withdrawals", o.admin, map[string]any{"amount": "30.00", "payee": "cash desk"})
			} else {
				resp = o.do("POST", "/transfers", o.admin, map[string]any{"from_account_id": src, "to_account_id": dst, "amount": "30.00"})
			}
			statuses[i] = resp.Status
			if resp.Status != 201 {
				types[i], _ = resp.Map(t)["type"].(string)
			}
		}(i)
	}
	wg.Wait()

	ok, refused := 0, 0
	for i, st := range statuses {
		switch {
		case st == 201:
			ok++
		case st == 422 && types[i] == "insufficient-funds":
			refused++
		default:
			t.Errorf("request %d: status %d (%s)", i, st, types[i])
		}
	}
	if ok != 33 || refused != 17 {
		t.Fatalf("%d posted and %d refused, want 33 and 17", ok, refused)
	}
	if b := o.balance(src); b["balance"] != "10.00" || b["available"] != "10.00" {
		t.Fatalf("final balance: %v", b)
	}
	if lines := o.checkChain(src); len(lines) != 34 {
		t.Fatalf("%d history lines, want 34", len(lines))
	}
	o.checkChain(dst)
	o.checkZeroSum()
}
