package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/treasuryledger/treasury/infra/teststack"
	"github.com/treasuryledger/treasury/shared/api"
)

// waitNumbered waits until the history sequencer, fed by the table's
// stream, has numbered every line of the hot account.
func (o *org) waitNumbered(id string) {
	o.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := stack.Store.UnnumberedLines(context.Background(), o.tenant, id)
		if err != nil {
			o.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("account %s: %d history lines still unnumbered after 30 s", id, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A hot account answers like any other, except that its history is
// numbered shortly after a posting instead of with it; its balance never
// lags. Every route is used on one, and every request this package made
// used only the DynamoDB actions its function's policy grants.
func TestHotAccountEndToEndAndPoliciesCoverWhatFunctionsDo(t *testing.T) {
	o := newOrg(t)
	approver := o.token("u_approver", "admin")
	hotBody := map[string]any{"name": "Treasury Pool", "currency": "RON", "kind": "bank", "hot": true,
		"opening_balance": "1000.00", "overdraft_limit": "100.00", "approval_threshold": "500.00"}
	hot := o.must(201, "POST", "/accounts", o.admin, hotBody, "Idempotency-Key", "hot-pool")
	if again := o.do("POST", "/accounts", o.admin, hotBody, "Idempotency-Key", "hot-pool"); again.Status != 201 ||
		again.Header.Get("Idempotent-Replayed") != "true" || again.Map(t)["balance"] != "1000.00" {
		t.Fatalf("replaying the hot account's creation: %d %s", again.Status, again.Body)
	}
	if hot["hot"] != true || hot["balance"] != "1000.00" || hot["available"] != "1100.00" {
		t.Fatalf("hot account as created: %v", hot)
	}
	h := hot["id"].(string)
	d := o.account(map[string]any{"name": "Department", "currency": "RON", "kind": "budget", "opening_balance": "50.00"})["id"].(string)
	later := o.account(map[string]any{"name": "Becomes hot", "currency": "RON", "kind": "cash", "opening_balance": "10.00"})["id"].(string)

	o.must(201, "POST", "/accounts/"+h+"/entries", o.admin, map[string]any{"type": "credit", "amount": "200.00"})
	tr := o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": h, "to_account_id": d, "amount": "300.00"})["id"].(string)
	o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": d, "to_account_id": h, "amount": "25.00"})
	w1 := o.must(201, "POST", "/accounts/"+h+"/withdrawals", o.admin, map[string]any{"amount": "600.00", "payee": "Supplier"})
	if w1["status"] != "pending" {
		t.Fatalf("withdrawal at the threshold: %v", w1["status"])
	}
	if b := o.balance(h); b["balance"] != "925.00" || b["pending"] != "600.00" || b["available"] != "425.00" {
		t.Fatalf("hot balance with a hold: %v", b)
	}
	// More than is available once the hold counts: refused with what is.
	r := o.do("POST", "/accounts/"+h+"/entries", o.admin, map[string]any{"type": "debit", "amount": "425.01"})
	if p := r.Map(t); r.Status != 422 || p["type"] != "insufficient-funds" || p["available"] != "425.00" {
		t.Fatalf("overdrawing the hot account: %d %v", r.Status, p)
	}
	o.must(200, "POST", "/transactions/"+w1["id"].(string)+"/approve", approver, nil)
	o.must(201, "POST", "/accounts/"+h+"/entries", o.admin, map[string]any{"type": "credit", "amount": "300.00"})
	w2 := o.must(201, "POST", "/accounts/"+h+"/withdrawals", o.admin, map[string]any{"amount": "500.00"})["id"].(string)
	o.must(200, "POST", "/transactions/"+w2+"/reject", approver, map[string]any{"reason": "duplicate"})
	o.must(201, "POST", "/journal-entries", o.admin, map[string]any{"lines": []map[string]any{
		{"account_id": h, "type": "debit", "amount": "10.00"}, {"account_id": d, "type": "credit", "amount": "10.00"}}})
	o.must(201, "POST", "/transactions/"+tr+"/reverse", o.admin, map[string]any{"reason": "wrong budget"})
	// Settings reach the parts: a frozen hot account takes nothing.
	o.must(200, "PATCH", "/accounts/"+h, o.admin, map[string]any{"status": "frozen", "overdraft_limit": "50.00"})
	if r := o.do("POST", "/accounts/"+h+"/entries", o.admin, map[string]any{"type": "credit", "amount": "1.00"}); r.Status != 409 {
		t.Fatalf("posting to a frozen hot account: %d %s", r.Status, r.Body)
	}
	o.must(200, "PATCH", "/accounts/"+h, o.admin, map[string]any{"status": "active"})
	if r := o.do("PATCH", "/accounts/"+h, o.admin, map[string]any{"hot": false}); r.Status != 409 {
		t.Fatalf("unmarking hot: %d %s", r.Status, r.Body)
	}
	o.must(200, "PATCH", "/accounts/"+later, o.admin, map[string]any{"hot": true})
	o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": later, "to_account_id": d, "amount": "4.00"})

	o.waitNumbered(h)
	o.waitNumbered(later)
	lines := o.checkChain(h)
	if len(lines) != 8 || lines[len(lines)-1]["balance_after"] != "915.00" {
		t.Errorf("hot history: %d lines ending %v; want 8 ending at 915.00", len(lines), lines[len(lines)-1]["balance_after"])
	}
	if l := o.checkChain(later); len(l) != 2 {
		t.Errorf("account made hot: %d lines, want the opening and the transfer", len(l))
	}
	o.checkChain(d)
	o.checkZeroSum()
	o.must(200, "GET", "/accounts/"+h+"/balance?as_of="+time.Now().UTC().Add(time.Second).Format(time.RFC3339), o.admin, nil)
	o.must(200, "GET", "/accounts?limit=10", o.admin, nil)
	o.must(200, "GET", "/accounts/"+h, o.admin, nil)
	o.must(200, "GET", "/transactions/"+tr, o.admin, nil)
	o.must(200, "GET", "/transactions?account_id="+h, o.admin, nil)
	o.must(200, "GET", "/transactions?limit=5", o.admin, nil)
	o.must(200, "POST", "/periods/2019-02/close", o.admin, nil)
	o.must(200, "GET", "/periods", o.admin, nil)
	o.must(200, "GET", "/audit?account_id="+h, o.admin, nil)
	o.must(200, "GET", "/health", "", nil)

	checkActionsAgainstPolicies(t)
}

// checkActionsAgainstPolicies reads every request line the stack logged so
// far (this test's and those of the tests before it) and holds the DynamoDB
// actions each used to what template.yaml grants its function.
func checkActionsAgainstPolicies(t *testing.T) {
	t.Helper()
	granted := grantedActions(t)
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(stack.LogBytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg       string   `json:"msg"`
			Operation string   `json:"operation"`
			Actions   []string `json:"dynamodb_actions"`
			Path      string   `json:"path"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "request" {
			continue
		}
		seen[line.Operation] = true
		for _, a := range line.Actions {
			if !granted[line.Operation][a] {
				t.Errorf("%s (%s) used %s, which template.yaml does not grant %sFunction", line.Operation, line.Path, a, line.Operation)
			}
		}
	}
	for _, rt := range api.Routes {
		if !seen[rt.Name] {
			t.Errorf("no request of %s was logged: the check did not cover it", rt.Name)
		}
	}
}

// grantedActions reads each route function's dynamodb actions from
// template.yaml.
func grantedActions(t *testing.T) map[string]map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Properties struct {
				Policies []struct {
					Statement []struct {
						Action []string `yaml:"Action"`
					} `yaml:"Statement"`
				} `yaml:"Policies"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, rt := range api.Routes {
		out[rt.Name] = map[string]bool{}
		for _, p := range tpl.Resources[rt.Name+"Function"].Properties.Policies {
			for _, st := range p.Statement {
				for _, a := range st.Action {
					if strings.HasPrefix(a, "dynamodb:") {
						out[rt.Name][a] = true
					}
				}
			}
		}
	}
	return out
}

// Freezing is what a finance team does when something is wrong, so it must
// work while the account is busiest. Under the DynamoDB model (conflicts as
// on AWS), with 16 clients posting out of a hot account, freezing and
// unfreezing answer 200, and once the freeze has answered no posting is
// booked until the account is active again.
func TestFreezingABusyHotAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := teststack.StartWith(ctx, teststack.Options{Model: "aws"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok := st.Token("u_admin", "t_"+teststack.RandomID(), "admin")
	mk := func(body map[string]any) string {
		r := st.Do(t, "POST", "/accounts", tok, body)
		if r.Status != 201 {
			t.Fatalf("create account: %d %s", r.Status, r.Body)
		}
		return r.Map(t)["id"].(string)
	}
	h := mk(map[string]any{"name": "Pool", "currency": "RON", "kind": "bank", "opening_balance": "100000.00", "hot": true})
	var others []string
	for i := 0; i < 16; i++ {
		others = append(others, mk(map[string]any{"name": fmt.Sprint("Dept ", i), "currency": "RON", "kind": "budget"}))
	}
	var frozenAt atomic.Int64 // unix nanos when the freeze answered; 0 before
	var stop atomic.Bool
	var lateBooked atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				sent := time.Now().UnixNano()
				r := st.Do(t, "POST", "/transfers", tok, map[string]any{"from_account_id": h, "to_account_id": others[c], "amount": "1.00"})
				if f := frozenAt.Load(); r.Status == 201 && f != 0 && sent > f {
					lateBooked.Add(1)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	r := st.Do(t, "PATCH", "/accounts/"+h, tok, map[string]any{"status": "frozen"})
	frozenAt.Store(time.Now().UnixNano())
	if r.Status != 200 {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("freezing the busy hot account: %d %s", r.Status, r.Body)
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if n := lateBooked.Load(); n > 0 {
		t.Errorf("%d transfers sent after the freeze answered were booked", n)
	}
	stop.Store(false)
	frozenAt.Store(0)
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				st.Do(t, "POST", "/transfers", tok, map[string]any{"from_account_id": others[c], "to_account_id": h, "amount": "0.50"})
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	r = st.Do(t, "PATCH", "/accounts/"+h, tok, map[string]any{"status": "active"})
	stop.Store(true)
	wg.Wait()
	if r.Status != 200 {
		t.Fatalf("unfreezing: %d %s", r.Status, r.Body)
	}
	if r := st.Do(t, "POST", "/transfers", tok, map[string]any{"from_account_id": h, "to_account_id": others[0], "amount": "1.00"}); r.Status != 201 {
		t.Errorf("a transfer after unfreezing: %d %s", r.Status, r.Body)
	}
}
