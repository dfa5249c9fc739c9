// Package e2e tests the API end to end: a real HTTP client, the local
// gateway, the Lambda adapters and handlers, and DynamoDB Local.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/infra/teststack"
)

var stack *teststack.Stack

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := teststack.Start(ctx)
	cancel()
	if err != nil {
		// Fail, never skip: these tests are the point.
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	stack = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// org is one tenant of a test, with tokens for its users.
type org struct {
	t      *testing.T
	tenant string
	admin  string // u_admin, scope admin
}

func newOrg(t *testing.T) *org {
	tenant := "t_" + teststack.RandomID()
	return &org{t: t, tenant: tenant, admin: stack.Token("u_admin", tenant, "admin")}
}

func (o *org) token(sub, scopes string) string { return stack.Token(sub, o.tenant, scopes) }

func (o *org) do(method, path, token string, body any, headers ...string) *teststack.Response {
	o.t.Helper()
	return stack.Do(o.t, method, path, token, body, headers...)
}

// must sends a request and fails the test unless the status is want.
func (o *org) must(want int, method, path, token string, body any, headers ...string) map[string]any {
	o.t.Helper()
	r := o.do(method, path, token, body, headers...)
	if r.Status != want {
		o.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.Map(o.t)
}

func (o *org) account(body map[string]any) map[string]any {
	o.t.Helper()
	return o.must(201, "POST", "/accounts", o.admin, body)
}

func (o *org) balance(id string) map[string]any {
	o.t.Helper()
	return o.must(200, "GET", "/accounts/"+id+"/balance", o.admin, nil)
}

// history reads an account's whole history, following cursors.
func (o *org) history(id string) []map[string]any {
	o.t.Helper()
	var lines []map[string]any
	path := "/accounts/" + id + "/history?limit=200"
	for {
		page := o.must(200, "GET", path, o.admin, nil)
		for _, it := range page["items"].([]any) {
			lines = append(lines, it.(map[string]any))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			return lines
		}
		path = "/accounts/" + id + "/history?limit=200&cursor=" + next
	}
}

func dec(t *testing.T, v any) decimal.Decimal {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("amount %v is not a string", v)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return d
}

// checkChain checks invariant 2 for an account: seq 1..n without gaps, each
// balance_after the previous plus or minus the line, the last the balance.
func (o *org) checkChain(id string) []map[string]any {
	o.t.Helper()
	lines := o.history(id)
	bal := decimal.Zero
	for i, l := range lines {
		if got := int(l["seq"].(float64)); got != i+1 {
			o.t.Fatalf("account %s: line %d has seq %d", id, i+1, got)
		}
		amt := dec(o.t, l["amount"])
		if l["type"] == "debit" {
			amt = amt.Neg()
		}
		bal = bal.Add(amt)
		if after := dec(o.t, l["balance_after"]); !after.Equal(bal) {
			o.t.Fatalf("account %s: seq %d balance_after %s, want %s", id, i+1, after, bal)
		}
	}
	b := o.balance(id)
	if got := dec(o.t, b["balance"]); !got.Equal(bal) {
		o.t.Fatalf("account %s: balance %s, history ends at %s", id, got, bal)
	}
	return lines
}

// checkZeroSum checks invariant 1: per currency, every balance of the
// tenant, system accounts included, sums to zero.
func (o *org) checkZeroSum() {
	o.t.Helper()
	sums := map[string]decimal.Decimal{}
	var system []string
	path := "/accounts?limit=200"
	for {
		page := o.must(200, "GET", path, o.admin, nil)
		for _, it := range page["items"].([]any) {
			a := it.(map[string]any)
			ccy := a["currency"].(string)
			sums[ccy] = sums[ccy].Add(dec(o.t, a["balance"]))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/accounts?limit=200&cursor=" + next
	}
	for ccy := range sums {
		system = append(system, "external:"+ccy, "fx:"+ccy)
	}
	sys, err := stack.Store.SystemBalances(context.Background(), o.tenant, system)
	if err != nil {
		o.t.Fatal(err)
	}
	for id, b := range sys {
		ccy := id[len(id)-3:]
		sums[ccy] = sums[ccy].Add(b)
	}
	for ccy, s := range sums {
		if !s.IsZero() {
			o.t.Fatalf("balances in %s sum to %s, not zero", ccy, s)
		}
	}
}
