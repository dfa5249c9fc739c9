package e2e

import (
	"testing"
)

// Every step of a scripted day leaves its record: who, when, from where,
// what, newest first, with the old and new values of a rename.
func TestAuditTrailOfAScriptedDay(t *testing.T) {
	o := newOrg(t)
	cashier := o.token("u_cashier", "accounts:manage accounts:view transfers:view transfers:create transfers:delete withdrawals:create")
	controller := o.token("u_controller", "withdrawals:view withdrawals:approve accounts:all")
	auditor := o.token("u_auditor", "audit:view")

	a := o.must(201, "POST", "/accounts", cashier, map[string]any{"name": "Till", "currency": "RON", "kind": "cash",
		"opening_balance": "1000.00", "approval_threshold": "500.00"})["id"].(string)
	b := o.must(201, "POST", "/accounts", cashier, map[string]any{"name": "Safe", "currency": "RON", "kind": "cash"})["id"].(string)
	tr := o.must(201, "POST", "/transfers", cashier, map[string]any{"from_account_id": a, "to_account_id": b, "amount": "100.00"})["id"].(string)
	w := o.must(201, "POST", "/accounts/"+a+"/withdrawals", cashier, map[string]any{"amount": "600.00"})["id"].(string)
	o.must(200, "POST", "/transactions/"+w+"/approve", controller, nil)
	rev := o.must(201, "POST", "/transactions/"+tr+"/reverse", cashier, map[string]any{"reason": "wrong till"})["id"].(string)
	rename := o.do("PATCH", "/accounts/"+a, cashier, map[string]any{"name": "Till 1"}, "User-Agent", "treasury-test/1.0")
	if rename.Status != 200 {
		t.Fatalf("rename: %d %s", rename.Status, rename.Body)
	}

	o.must(403, "GET", "/audit", cashier, nil)
	page := o.must(200, "GET", "/audit?limit=200", auditor, nil)
	items := page["items"].([]any)
	type step struct{ action, target, actor string }
	want := []step{
		{"account.updated", a, "u_cashier"},
		{"transaction.reversed", tr, "u_cashier"},
		{"transaction.approved", w, "u_controller"},
		{"transaction.pending", w, "u_cashier"},
		{"transaction.posted", tr, "u_cashier"},
		{"account.created", b, "u_cashier"},
		{"account.created", a, "u_cashier"},
	}
	if len(items) != len(want) {
		t.Fatalf("%d records, want %d: %v", len(items), len(want), items)
	}
	prev := ""
	for i, it := range items {
		rec := it.(map[string]any)
		target := rec["target"].(map[string]any)
		if rec["action"] != want[i].action || target["id"] != want[i].target || rec["actor"] != want[i].actor {
			t.Errorf("record %d: %v %v by %v, want %v", i, rec["action"], target["id"], rec["actor"], want[i])
		}
		at := rec["at"].(string)
		if prev != "" && at > prev {
			t.Errorf("record %d at %s is newer than the one before (%s)", i, at, prev)
		}
		prev = at
		if rec["request_id"] == nil || rec["request_id"] == "" || rec["source_ip"] == nil {
			t.Errorf("record %d has no request id or source ip: %v", i, rec)
		}
	}
	renamed := items[0].(map[string]any)
	if renamed["request_id"] != rename.Header.Get("X-Request-Id") || renamed["user_agent"] != "treasury-test/1.0" {
		t.Errorf("rename record: request_id %v (answer said %s), user_agent %v", renamed["request_id"], rename.Header.Get("X-Request-Id"), renamed["user_agent"])
	}
	changes := renamed["changes"].([]any)
	if len(changes) != 1 || changes[0].(map[string]any)["field"] != "name" || changes[0].(map[string]any)["old"] != "Till" || changes[0].(map[string]any)["new"] != "Till 1" {
		t.Errorf("rename changes: %v", changes)
	}
	reversed := items[1].(map[string]any)["changes"].([]any)
	if len(reversed) != 2 || reversed[1].(map[string]any)["new"] != rev {
		t.Errorf("reversal changes: %v", reversed)
	}

	// Filters: by actor, by action, by account; each answers from a key range.
	if n := len(o.must(200, "GET", "/audit?actor=u_controller", auditor, nil)["items"].([]any)); n != 1 {
		t.Errorf("actor filter: %d records", n)
	}
	if n := len(o.must(200, "GET", "/audit?action=account.created", auditor, nil)["items"].([]any)); n != 2 {
		t.Errorf("action filter: %d records", n)
	}
	if n := len(o.must(200, "GET", "/audit?account_id="+b, auditor, nil)["items"].([]any)); n != 3 {
		t.Errorf("account filter on %s: %d records, want created, transfer, reversal", b, n)
	}
	// Paging one at a time visits every record once.
	seen, path := 0, "/audit?limit=1"
	for guard := 0; guard < 20; guard++ {
		p := o.must(200, "GET", path, auditor, nil)
		seen += len(p["items"].([]any))
		next, _ := p["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/audit?limit=1&cursor=" + next
	}
	if seen != len(want) {
		t.Errorf("paging saw %d records, want %d", seen, len(want))
	}
	// No route edits or deletes a record.
	for _, m := range []string{"PUT", "PATCH", "DELETE", "POST"} {
		if r := o.do(m, "/audit", o.admin, map[string]any{}); r.Status != 404 && r.Status != 405 {
			t.Errorf("%s /audit answered %d", m, r.Status)
		}
	}
	// A refused request leaves no record.
	o.must(422, "POST", "/accounts/"+a+"/withdrawals", cashier, map[string]any{"amount": "100000.00"})
	if n := len(o.must(200, "GET", "/audit?limit=200", auditor, nil)["items"].([]any)); n != len(want) {
		t.Errorf("%d records after a refused posting, want %d", n, len(want))
	}
}
