package e2e

import (
	"fmt"
	"testing"

	"github.com/treasuryledger/treasury/shared/api"
)

// budget is what one request of a route may cost in DynamoDB: calls (round
// trips, counted even when two run at once), read units, items written in
// its transaction. Zero means "not limited here".
type budget struct {
	calls int
	rcu   float64
	items int
	// smallItems: every item written is at most 1 KB, so that a
	// transactional write costs 2 WCU per item.
	smallItems bool
}

// Postings touching N accounts (system accounts included) may write 2N+3
// items: a balance and a history line per account (system accounts have no
// history), the transaction, the idempotency and the audit records. Acting
// on an existing transaction (approve, reject, reverse) first reads it to
// learn its accounts: one more call. A reversal also marks the original
// reversed: one more item.
func postingBudget(n, calls, extraItems int) budget {
	return budget{calls: calls, items: 2*n + 3 + extraItems, smallItems: true}
}

// The cost of every route, measured from its request log line (the EMF
// counters) against DynamoDB Local, held to its budget. A route without a
// budget fails the test.
func TestEveryRouteStaysWithinItsBudget(t *testing.T) {
	o := newOrg(t)
	mk := func(body map[string]any) string { return o.account(body)["id"].(string) }
	a := mk(map[string]any{"name": "A", "currency": "RON", "kind": "cash", "opening_balance": "2000.00", "approval_threshold": "500.00"})
	b := mk(map[string]any{"name": "B", "currency": "RON", "kind": "cash", "opening_balance": "100.00"})
	for i := 0; i < 60; i++ { // a full history page of 50
		o.must(201, "POST", "/accounts/"+b+"/entries", o.admin, map[string]any{"type": "credit", "amount": "1.00"})
	}
	pending := o.must(201, "POST", "/accounts/"+a+"/withdrawals", o.admin, map[string]any{"amount": "600.00"})["id"].(string)
	pending2 := o.must(201, "POST", "/accounts/"+a+"/withdrawals", o.admin, map[string]any{"amount": "501.00"})["id"].(string)
	transfer := o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": a, "to_account_id": b, "amount": "5.00"})["id"].(string)
	approver := o.token("u_approver", "admin")

	type call struct {
		method, path, token string
		body                any
		want                int
		budget              budget
	}
	key := 0
	cases := map[string][]call{
		"Health":        {{"GET", "/health", "", nil, 200, budget{calls: 1, rcu: 1}}},
		"CreateAccount": {{"POST", "/accounts", o.admin, map[string]any{"name": "New", "currency": "RON", "kind": "wallet", "opening_balance": "10.00"}, 201, budget{calls: 1, smallItems: true}}},
		"ListAccounts":  {{"GET", "/accounts?limit=50", o.admin, nil, 200, budget{calls: 2}}},
		"GetAccount":    {{"GET", "/accounts/" + a, o.admin, nil, 200, budget{calls: 1, rcu: 1}}},
		"UpdateAccount": {{"PATCH", "/accounts/" + b, o.admin, map[string]any{"name": "B2"}, 200, budget{calls: 2, smallItems: true}}},
		"GetBalance": {
			{"GET", "/accounts/" + a + "/balance", o.admin, nil, 200, budget{calls: 1, rcu: 1}},
			// As of a past moment: the access check and the line at once.
			{"GET", "/accounts/" + b + "/balance?as_of=2000-01-01", o.admin, nil, 200, budget{calls: 2}},
		},
		// The page and the access check are read at once (2 calls, one
		// round trip of latency); the page of 50 lines is one Query.
		"GetHistory":         {{"GET", "/accounts/" + b + "/history?limit=50", o.admin, nil, 200, budget{calls: 2}}},
		"CreateEntry":        {{"POST", "/accounts/" + a + "/entries", o.admin, map[string]any{"type": "credit", "amount": "1.00"}, 201, postingBudget(2, 2, 0)}},
		"CreateTransfer":     {{"POST", "/transfers", o.admin, map[string]any{"from_account_id": a, "to_account_id": b, "amount": "1.00"}, 201, postingBudget(2, 2, 0)}},
		"CreateWithdrawal":   {{"POST", "/accounts/" + a + "/withdrawals", o.admin, map[string]any{"amount": "1.00"}, 201, postingBudget(2, 2, 0)}},
		"ApproveTransaction": {{"POST", "/transactions/" + pending + "/approve", approver, nil, 200, postingBudget(2, 3, 0)}},
		"RejectTransaction":  {{"POST", "/transactions/" + pending2 + "/reject", approver, nil, 200, postingBudget(1, 3, 0)}},
		"CreateJournalEntry": {{"POST", "/journal-entries", o.admin, map[string]any{"lines": []map[string]any{
			{"account_id": a, "type": "debit", "amount": "2.00"}, {"account_id": b, "type": "credit", "amount": "2.00"}}}, 201, postingBudget(2, 2, 0)}},
		"ReverseTransaction": {{"POST", "/transactions/" + transfer + "/reverse", o.admin, nil, 201, postingBudget(2, 3, 1)}},
		"GetTransaction":     {{"GET", "/transactions/" + transfer, o.admin, nil, 200, budget{calls: 1, rcu: 1}}},
		"ListTransactions": {
			{"GET", "/transactions?limit=50", o.admin, nil, 200, budget{calls: 1}},
			// For one account: the access check, the account's range, the
			// transactions it names.
			{"GET", "/transactions?account_id=" + a + "&limit=50", o.admin, nil, 200, budget{calls: 3}},
		},
		"ClosePeriod": {{"POST", "/periods/2019-01/close", o.admin, nil, 200, budget{calls: 1, smallItems: true}}},
		"ListPeriods": {{"GET", "/periods", o.admin, nil, 200, budget{calls: 1}}},
		"ListAudit":   {{"GET", "/audit?limit=50", o.admin, nil, 200, budget{calls: 1}}},
	}
	for _, rt := range api.Routes {
		calls, ok := cases[rt.Name]
		if !ok {
			t.Errorf("route %s has no budget: add one here", rt.Name)
			continue
		}
		for i, c := range calls {
			t.Run(fmt.Sprintf("%s/%d", rt.Name, i), func(t *testing.T) {
				var headers []string
				if c.method == "POST" {
					key++
					headers = []string{"Idempotency-Key", fmt.Sprintf("budget-%d", key)}
				}
				r := o.do(c.method, c.path, c.token, c.body, headers...)
				if r.Status != c.want {
					t.Fatalf("%s %s: %d %s", c.method, c.path, r.Status, r.Body)
				}
				l := requestLog(t, r.Header.Get("X-Request-Id"))
				num := func(k string) float64 { v, _ := l[k].(float64); return v }
				calls, rcu, items, wcu := num("DynamoDBCalls"), num("ReadCapacityUnits"), num("ItemsWritten"), num("ModelWriteUnits")
				t.Logf("%s %s: %v calls, %v RCU, %v WCU, %v items, largest %v bytes", c.method, c.path, calls, rcu, wcu, items, num("LargestItemBytes"))
				if num("Scans") != 0 {
					t.Errorf("the route scanned the table")
				}
				if c.budget.calls > 0 && calls > float64(c.budget.calls) {
					t.Errorf("%v DynamoDB calls, budget %d", calls, c.budget.calls)
				}
				if c.budget.rcu > 0 && rcu > c.budget.rcu {
					t.Errorf("%v RCU, budget %v", rcu, c.budget.rcu)
				}
				if c.budget.items > 0 && items > float64(c.budget.items) {
					t.Errorf("%v items written, budget %d", items, c.budget.items)
				}
				if c.budget.smallItems && (wcu != 2*items || num("LargestItemBytes") > 1024) {
					t.Errorf("%v WCU for %v items, largest %v bytes: some item is over 1 KB", wcu, items, num("LargestItemBytes"))
				}
			})
		}
	}
}
