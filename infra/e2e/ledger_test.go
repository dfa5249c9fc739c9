package e2e

import (
	"strings"
	"testing"
)

func TestAccountLifecycleAndRunningBalance(t *testing.T) {
	o := newOrg(t)
	cash := o.account(map[string]any{
		"name": "Petty Cash – Cluj", "currency": "RON", "kind": "cash", "code": "5311.01",
		"opening_balance": "2000", "approval_threshold": "5000.00",
		"iban": "RO49AAAA1B31007593840000", "members": []string{"u_admin", "u_bob"}, "metadata": map[string]any{"branch": "Cluj"},
	})
	id := cash["id"].(string)
	if !strings.HasPrefix(id, "acc_") {
		t.Fatalf("id %q", id)
	}
	for field, want := range map[string]any{
		"balance": "2000.00", "pending": "0.00", "available": "2000.00", "overdraft_limit": "0.00",
		"approval_threshold": "5000.00", "status": "active", "currency": "RON", "kind": "cash", "code": "5311.01",
		"created_by": "u_admin", "version": float64(1),
	} {
		if cash[field] != want {
			t.Errorf("%s = %v, want %v", field, cash[field], want)
		}
	}
	bank := o.account(map[string]any{"name": "Bank RON", "currency": "RON", "kind": "bank"})
	bankID := bank["id"].(string)

	o.must(201, "POST", "/accounts/"+id+"/entries", o.admin, map[string]any{"type": "credit", "amount": "150.5", "memo": "refund"})
	o.must(201, "POST", "/accounts/"+id+"/entries", o.admin, map[string]any{"type": "debit", "amount": "20.25", "category": "bank fees"})
	tr := o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": id, "to_account_id": bankID, "amount": "300.00", "reference": "DEP-1"})
	if tr["kind"] != "transfer" || tr["status"] != "posted" || tr["rate"] != nil || tr["approved_by"] != nil {
		t.Fatalf("transfer answer: %v", tr)
	}
	o.must(201, "POST", "/accounts/"+id+"/withdrawals", o.admin, map[string]any{"amount": "10.00", "payee": "Shop", "method": "cash"})

	lines := o.checkChain(id)
	if len(lines) != 5 || lines[0]["kind"] != "opening" || lines[0]["balance_after"] != "2000.00" {
		t.Fatalf("history: %v", lines)
	}
	if lines[3]["counterparty_account_id"] != bankID || lines[3]["type"] != "debit" {
		t.Fatalf("transfer line: %v", lines[3])
	}
	if b := o.balance(id); b["balance"] != "1820.25" || b["available"] != "1820.25" {
		t.Fatalf("balance: %v", b)
	}
	o.checkChain(bankID)

	// Newest first, and a page of one with a cursor that leads on.
	page := o.must(200, "GET", "/accounts/"+id+"/history?order=desc&limit=1", o.admin, nil)
	items := page["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["seq"] != float64(5) || page["next_cursor"] == nil {
		t.Fatalf("desc page: %v", page)
	}
	// The balance as of a moment before the first posting is zero; as of
	// the end of today it is today's.
	if b := o.must(200, "GET", "/accounts/"+id+"/balance?as_of=2000-01-01", o.admin, nil); b["balance"] != "0.00" || b["pending"] != nil {
		t.Fatalf("as_of 2000: %v", b)
	}

	// Settings change with ETag and If-Match.
	r := o.do("PATCH", "/accounts/"+id, o.admin, map[string]any{"name": "Petty Cash Cluj", "overdraft_limit": "100.00"}, "If-Match", `"1"`)
	if r.Status != 200 || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("patch: %d %s %s", r.Status, r.Header.Get("ETag"), r.Body)
	}
	if got := r.Map(t); got["available"] != "1920.25" || got["version"] != float64(2) {
		t.Fatalf("after patch: %v", got)
	}
	o.must(412, "PATCH", "/accounts/"+id, o.admin, map[string]any{"name": "X"}, "If-Match", `"1"`)
	o.must(409, "POST", "/accounts", o.admin, map[string]any{"name": "petty cash cluj", "currency": "RON", "kind": "cash"})
	o.must(409, "PATCH", "/accounts/"+bankID, o.admin, map[string]any{"status": "closed"})

	// A frozen account takes no postings.
	o.must(200, "PATCH", "/accounts/"+bankID, o.admin, map[string]any{"status": "frozen"})
	p := o.must(409, "POST", "/accounts/"+bankID+"/entries", o.admin, map[string]any{"type": "credit", "amount": "1.00"})
	if p["type"] != "account-closed" {
		t.Fatalf("frozen: %v", p)
	}
	o.checkZeroSum()
}

func TestWithdrawalHoldApproveAndReject(t *testing.T) {
	o := newOrg(t)
	acc := o.account(map[string]any{"name": "Ops", "currency": "EUR", "kind": "wallet", "opening_balance": "2000.00",
		"approval_threshold": "500.00", "members": []string{"u_admin", "u_cashier", "u_controller"}})
	id := acc["id"].(string)
	cashier := o.token("u_cashier", "withdrawals:create withdrawals:view accounts:view")
	controller := o.token("u_controller", "withdrawals:approve withdrawals:delete withdrawals:view accounts:view")

	w := o.must(201, "POST", "/accounts/"+id+"/withdrawals", cashier, map[string]any{"amount": "600.00", "payee": "Supplier", "method": "bank_transfer"})
	if w["status"] != "pending" || w["posted_at"] != nil {
		t.Fatalf("pending withdrawal: %v", w)
	}
	if b := o.balance(id); b["balance"] != "2000.00" || b["pending"] != "600.00" || b["available"] != "1400.00" {
		t.Fatalf("held: %v", b)
	}
	// The hold counts: 1450.00 more cannot be taken.
	if p := o.must(422, "POST", "/accounts/"+id+"/withdrawals", cashier, map[string]any{"amount": "1450.00"}); p["type"] != "insufficient-funds" || p["available"] != "1400.00" || p["requested"] != "1450.00" || p["account_id"] != id {
		t.Fatalf("over the hold: %v", p)
	}
	// Four eyes: the creator may not approve.
	self := o.token("u_cashier", "withdrawals:approve withdrawals:view accounts:view")
	o.must(403, "POST", "/transactions/"+w["id"].(string)+"/approve", self, nil)
	pending := o.must(200, "GET", "/transactions?account_id="+id+"&status=pending", controller, nil)
	if items := pending["items"].([]any); len(items) != 1 {
		t.Fatalf("pending list: %v", pending)
	}
	ok := o.must(200, "POST", "/transactions/"+w["id"].(string)+"/approve", controller, nil)
	if ok["status"] != "posted" || ok["approved_by"] != "u_controller" || ok["posted_by"] != "u_controller" || ok["created_by"] != "u_cashier" {
		t.Fatalf("approved: %v", ok)
	}
	o.must(409, "POST", "/transactions/"+w["id"].(string)+"/approve", controller, nil)
	if b := o.balance(id); b["balance"] != "1400.00" || b["pending"] != "0.00" {
		t.Fatalf("after approval: %v", b)
	}

	w2 := o.must(201, "POST", "/accounts/"+id+"/withdrawals", cashier, map[string]any{"amount": "500.00"})
	rej := o.must(200, "POST", "/transactions/"+w2["id"].(string)+"/reject", controller, map[string]any{"reason": "duplicate invoice"})
	if rej["status"] != "rejected" || rej["reason"] != "duplicate invoice" || rej["rejected_by"] != "u_controller" {
		t.Fatalf("rejected: %v", rej)
	}
	if b := o.balance(id); b["balance"] != "1400.00" || b["pending"] != "0.00" || b["available"] != "1400.00" {
		t.Fatalf("after rejection: %v", b)
	}
	all := o.must(200, "GET", "/transactions?account_id="+id, controller, nil)
	if n := len(all["items"].([]any)); n != 2 { // the opening is an entry: not the controller's to view
		t.Fatalf("controller sees %d transactions: %v", n, all)
	}
	lines := o.checkChain(id)
	if len(lines) != 2 {
		t.Fatalf("history holds %d lines, want opening and the approved withdrawal", len(lines))
	}
	o.checkZeroSum()
}

func TestExchangeThroughFX(t *testing.T) {
	o := newOrg(t)
	eur := o.account(map[string]any{"name": "EUR", "currency": "EUR", "kind": "bank", "opening_balance": "500.00"})["id"].(string)
	usd := o.account(map[string]any{"name": "USD", "currency": "USD", "kind": "bank"})["id"].(string)
	x := o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": eur, "to_account_id": usd, "amount": "100.00", "to_amount": "123.32"})
	if x["kind"] != "exchange" || x["rate"] != "1.2332" {
		t.Fatalf("exchange: %v", x)
	}
	var legs []string
	for _, l := range x["lines"].([]any) {
		m := l.(map[string]any)
		legs = append(legs, m["account_id"].(string)+" "+m["type"].(string)+" "+m["amount"].(string)+" "+m["currency"].(string))
	}
	want := []string{eur + " debit 100.00 EUR", "fx:EUR credit 100.00 EUR", "fx:USD debit 123.32 USD", usd + " credit 123.32 USD"}
	if strings.Join(legs, "|") != strings.Join(want, "|") {
		t.Fatalf("legs %v, want %v", legs, want)
	}
	if b := o.balance(usd); b["balance"] != "123.32" {
		t.Fatalf("usd: %v", b)
	}
	o.must(422, "POST", "/transfers", o.admin, map[string]any{"from_account_id": eur, "to_account_id": usd, "amount": "100.00"})
	o.must(422, "POST", "/transfers", o.admin, map[string]any{"from_account_id": eur, "to_account_id": eur, "amount": "1.00"})
	o.checkZeroSum()
}

func TestReversalAndJournal(t *testing.T) {
	o := newOrg(t)
	a := o.account(map[string]any{"name": "A", "currency": "RON", "kind": "budget", "opening_balance": "100.00"})["id"].(string)
	b := o.account(map[string]any{"name": "B", "currency": "RON", "kind": "budget", "opening_balance": "100.00"})["id"].(string)
	c := o.account(map[string]any{"name": "C", "currency": "RON", "kind": "budget"})["id"].(string)
	tr := o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": a, "to_account_id": b, "amount": "40.00"})
	rev := o.must(201, "POST", "/transactions/"+tr["id"].(string)+"/reverse", o.admin, map[string]any{"reason": "wrong account"})
	if rev["kind"] != "reversal" || rev["reverses"] != tr["id"] || rev["reason"] != "wrong account" {
		t.Fatalf("reversal: %v", rev)
	}
	l0 := rev["lines"].([]any)[0].(map[string]any)
	if l0["account_id"] != a || l0["type"] != "credit" || l0["amount"] != "40.00" {
		t.Fatalf("mirrored line: %v", l0)
	}
	orig := o.must(200, "GET", "/transactions/"+tr["id"].(string), o.admin, nil)
	if orig["status"] != "reversed" || orig["reversed_by"] != rev["id"] {
		t.Fatalf("original: %v", orig)
	}
	if p := o.must(409, "POST", "/transactions/"+tr["id"].(string)+"/reverse", o.admin, map[string]any{}); p["type"] != "already-reversed" {
		t.Fatalf("second reversal: %v", p)
	}
	o.must(409, "POST", "/transactions/"+rev["id"].(string)+"/reverse", o.admin, nil)
	if bal := o.balance(a); bal["balance"] != "100.00" {
		t.Fatalf("a after reversal: %v", bal)
	}

	j := o.must(201, "POST", "/journal-entries", o.admin, map[string]any{"memo": "reallocation", "lines": []map[string]any{
		{"account_id": a, "type": "debit", "amount": "30.00"},
		{"account_id": b, "type": "debit", "amount": "20.00"},
		{"account_id": c, "type": "credit", "amount": "50.00"},
	}})
	if j["kind"] != "journal" || len(j["lines"].([]any)) != 3 {
		t.Fatalf("journal: %v", j)
	}
	p := o.must(422, "POST", "/journal-entries", o.admin, map[string]any{"lines": []map[string]any{
		{"account_id": a, "type": "debit", "amount": "30.00"},
		{"account_id": c, "type": "credit", "amount": "29.99"},
	}})
	if p["type"] != "validation" {
		t.Fatalf("unbalanced: %v", p)
	}
	o.must(422, "POST", "/journal-entries", o.admin, map[string]any{"lines": []map[string]any{{"account_id": a, "type": "debit", "amount": "1.00"}}})
	for _, id := range []string{a, b, c} {
		o.checkChain(id)
	}
	o.checkZeroSum()
}

func TestIdempotentReplay(t *testing.T) {
	o := newOrg(t)
	a := o.account(map[string]any{"name": "A", "currency": "RON", "kind": "cash", "opening_balance": "100.00"})["id"].(string)
	body := map[string]any{"type": "credit", "amount": "5"}
	first := o.do("POST", "/accounts/"+a+"/entries", o.admin, body, "Idempotency-Key", "k-1, with comma")
	again := o.do("POST", "/accounts/"+a+"/entries", o.admin, body, "Idempotency-Key", "k-1, with comma")
	if first.Status != 201 || again.Status != 201 || string(first.Body) != string(again.Body) {
		t.Fatalf("replay differs:\n%d %s\n%d %s", first.Status, first.Body, again.Status, again.Body)
	}
	if first.Header.Get("Idempotent-Replayed") != "" || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("Idempotent-Replayed headers: %q, %q", first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
	}
	if p := o.must(422, "POST", "/accounts/"+a+"/entries", o.admin, map[string]any{"type": "credit", "amount": "6"}, "Idempotency-Key", "k-1, with comma"); p["type"] != "idempotency-key-reuse" {
		t.Fatalf("reuse: %v", p)
	}
	// Keys are per caller: another user's same key is another request.
	other := o.token("u_other", "admin")
	o.must(201, "POST", "/accounts/"+a+"/entries", other, body, "Idempotency-Key", "k-1, with comma")
	// A refused request stores nothing: the same key runs again.
	o.must(422, "POST", "/accounts/"+a+"/entries", o.admin, map[string]any{"type": "debit", "amount": "1000.00"}, "Idempotency-Key", "k-2")
	o.must(201, "POST", "/accounts/"+a+"/entries", o.admin, map[string]any{"type": "credit", "amount": "1000.00"}, "Idempotency-Key", "k-2")
	_ = o.must(422, "POST", "/accounts/"+a+"/entries", o.admin, body, "Idempotency-Key", "recurring:x:2026-01-01")

	// A replay answers as the first time, even after the transaction moved on.
	tr := o.do("POST", "/accounts/"+a+"/entries", o.admin, map[string]any{"type": "credit", "amount": "1.00"}, "Idempotency-Key", "k-4")
	id := tr.Map(t)["id"].(string)
	o.must(201, "POST", "/transactions/"+id+"/reverse", o.admin, nil)
	if r := o.do("POST", "/accounts/"+a+"/entries", o.admin, map[string]any{"type": "credit", "amount": "1.00"}, "Idempotency-Key", "k-4"); string(r.Body) != string(tr.Body) {
		t.Fatalf("replay after reversal:\n%s\nfirst:\n%s", r.Body, tr.Body)
	}
	// Account creation replays too.
	acc1 := o.do("POST", "/accounts", o.admin, map[string]any{"name": "Idem", "currency": "EUR", "kind": "cash", "opening_balance": "7"}, "Idempotency-Key", "acc-1")
	acc2 := o.do("POST", "/accounts", o.admin, map[string]any{"name": "Idem", "currency": "EUR", "kind": "cash", "opening_balance": "7"}, "Idempotency-Key", "acc-1")
	if acc1.Status != 201 || acc2.Status != 201 || string(acc1.Body) != string(acc2.Body) || acc2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("account replay:\n%d %s\n%d %s", acc1.Status, acc1.Body, acc2.Status, acc2.Body)
	}
	// Rebuilt from the creation record, not from the request: the same
	// bytes after the account changed, every setting included.
	full := map[string]any{"name": "Idem Full", "currency": "RON", "kind": "bank", "code": "5121.07", "opening_balance": "10",
		"overdraft_limit": "5", "approval_threshold": "100", "iban": "RO49AAAA1B31007593840000", "members": []string{"u_admin", "u_zed"},
		"metadata": map[string]any{"zone": "b", "area": 1}, "hot": true}
	f1 := o.do("POST", "/accounts", o.admin, full, "Idempotency-Key", "acc-full")
	o.must(200, "PATCH", "/accounts/"+f1.Map(t)["id"].(string), o.admin, map[string]any{"name": "Idem Renamed", "members": []string{"u_admin"}})
	f2 := o.do("POST", "/accounts", o.admin, full, "Idempotency-Key", "acc-full")
	if f1.Status != 201 || f2.Status != 201 || string(f1.Body) != string(f2.Body) {
		t.Fatalf("replay of a changed account:\n%d %s\n%d %s", f1.Status, f1.Body, f2.Status, f2.Body)
	}
	lines := o.checkChain(a)
	if len(lines) != 6 { // opening, +5, +5 (other user), +1000, +1, reversal -1
		t.Fatalf("%d lines, want 6: %v", len(lines), lines)
	}
	o.checkZeroSum()
}

func TestTenantIsolation(t *testing.T) {
	mine, theirs := newOrg(t), newOrg(t)
	acc := theirs.account(map[string]any{"name": "Theirs", "currency": "RON", "kind": "cash", "opening_balance": "50.00"})
	id := acc["id"].(string)
	tr := theirs.must(201, "POST", "/accounts/"+id+"/withdrawals", theirs.admin, map[string]any{"amount": "1.00"})
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/accounts/" + id, nil}, {"GET", "/accounts/" + id + "/balance", nil}, {"GET", "/accounts/" + id + "/history", nil},
		{"PATCH", "/accounts/" + id, map[string]any{"name": "Mine now"}},
		{"POST", "/accounts/" + id + "/entries", map[string]any{"type": "debit", "amount": "1.00"}},
		{"POST", "/accounts/" + id + "/withdrawals", map[string]any{"amount": "1.00"}},
		{"GET", "/transactions/" + tr["id"].(string), nil},
		{"POST", "/transactions/" + tr["id"].(string) + "/reverse", map[string]any{}},
		{"GET", "/transactions?account_id=" + id, nil},
	} {
		r := mine.do(c.method, c.path, mine.admin, c.body)
		if r.Status != 404 {
			t.Errorf("%s %s from another tenant: %d %s", c.method, c.path, r.Status, r.Body)
		}
	}
	own := mine.account(map[string]any{"name": "Mine", "currency": "RON", "kind": "cash"})["id"].(string)
	r := mine.do("POST", "/transfers", mine.admin, map[string]any{"from_account_id": id, "to_account_id": own, "amount": "1.00"})
	if r.Status != 404 {
		t.Errorf("transfer from another tenant's account: %d %s", r.Status, r.Body)
	}
	if b := theirs.balance(id); b["balance"] != "49.00" {
		t.Fatalf("their balance changed: %v", b)
	}
	if n := len(mine.must(200, "GET", "/accounts", mine.admin, nil)["items"].([]any)); n != 1 {
		t.Fatalf("listing shows %d accounts, want only mine", n)
	}
}

func TestMembershipAndScopes(t *testing.T) {
	o := newOrg(t)
	id := o.account(map[string]any{"name": "Dept", "currency": "RON", "kind": "budget", "opening_balance": "10.00", "members": []string{"u_head"}})["id"].(string)
	head := o.token("u_head", "accounts:view entries:view")
	stranger := o.token("u_stranger", "accounts:view entries:view entries:create")
	viewer := o.token("u_head", "entries:view")
	o.must(200, "GET", "/accounts/"+id, head, nil)
	if n := len(o.must(200, "GET", "/accounts", head, nil)["items"].([]any)); n != 1 {
		t.Fatalf("member lists %d accounts", n)
	}
	nf := o.must(404, "GET", "/accounts/"+id, stranger, nil)
	unknown := o.must(404, "GET", "/accounts/acc_01JZZZZZZZZZZZZZZZZZZZZZZZ", stranger, nil)
	if nf["detail"] != unknown["detail"] {
		t.Fatalf("a hidden account reads differently from an unknown one: %v vs %v", nf, unknown)
	}
	o.must(404, "POST", "/accounts/"+id+"/entries", stranger, map[string]any{"type": "credit", "amount": "1.00"})
	o.must(403, "GET", "/accounts/"+id, viewer, nil)
	o.must(403, "POST", "/accounts/"+id+"/entries", head, map[string]any{"type": "credit", "amount": "1.00"})
	if n := len(o.must(200, "GET", "/accounts", stranger, nil)["items"].([]any)); n != 0 {
		t.Fatalf("stranger lists %d accounts", n)
	}
	o.must(422, "GET", "/transactions", head, nil) // account_id needed without accounts:all
	o.must(403, "GET", "/transactions?account_id="+id+"&kind=transfer", head, nil)
	o.must(401, "GET", "/accounts", "", nil)
	o.must(401, "GET", "/accounts", "not-a-token", nil)
	o.must(401, "GET", "/accounts", stack.Token("", o.tenant, "admin"), nil)
	if r := o.do("GET", "/health", "", nil); r.Status != 200 || string(r.Body) != `{"status":"ok"}` || r.Header.Get("X-Request-Id") == "" {
		t.Fatalf("health: %d %s", r.Status, r.Body)
	}
}
