package api_test

import (
	"strings"
	"testing"
)

// TestHandlerIdempotentPosting: the same key and body replay the first
// answer (same status, same body) with Idempotent-Replayed: true and book
// nothing; a body that differs only in white space is the same request;
// another body, or the same body on another path, is 422
// idempotency-key-reuse; keys are per caller.
func TestHandlerIdempotentPosting(t *testing.T) {
	h := newHarness(t)
	acc := h.cash("Till", "100.00")
	other := h.cash("Other Till", "")
	entries := "/accounts/" + acc + "/entries"
	key := map[string]string{"Idempotency-Key": "entry-0001"}
	body := `{"type":"credit","amount":"5.00","memo":"float"}`

	first := h.do(req{method: "POST", path: entries, body: body, headers: key, as: h.admin()}).want(t, 201)
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("the first answer is marked replayed")
	}
	for _, again := range []string{body, "{\n  \"type\": \"credit\",\n  \"amount\": \"5.00\",\n  \"memo\": \"float\"\n}"} {
		res := h.do(req{method: "POST", path: entries, body: again, headers: key, as: h.admin()}).want(t, 201)
		if res.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("the repeat is not marked Idempotent-Replayed: true (headers %v)", res.header)
		}
		if string(res.body) != string(first.body) {
			t.Errorf("the replay answered\n%s\nthe first answer was\n%s", res.body, first.body)
		}
	}
	if got := h.balance(acc); got != "105.00" {
		t.Errorf("balance %s after a posting and two replays, want 105.00", got)
	}

	for name, q := range map[string]req{
		"another body": {method: "POST", path: entries, body: `{"type":"credit","amount":"500.00","memo":"float"}`, headers: key, as: h.admin()},
		"another path": {method: "POST", path: "/accounts/" + other + "/entries", body: body, headers: key, as: h.admin()},
	} {
		t.Run(name, func(t *testing.T) {
			h.do(q).problem(t, 422, "idempotency-key-reuse", "")
		})
	}
	if got := h.balance(acc); got != "105.00" {
		t.Errorf("balance %s after key reuse, want 105.00", got)
	}
	// Keys are per caller: bob's "entry-0001" is his own.
	bob := h.as("u_admin2", "admin")
	res := h.do(req{method: "POST", path: entries, body: body, headers: key, as: bob}).want(t, 201)
	if res.header.Get("Idempotent-Replayed") != "" || string(res.body) == string(first.body) {
		t.Errorf("another caller's same key replayed the first posting")
	}
	if got := h.balance(acc); got != "110.00" {
		t.Errorf("balance %s, want 110.00", got)
	}
}

// TestHandlerRefusedRequestStoresNothing: a refused request stored nothing
// under its key: the same key and body run again, and succeed once the rule
// is met.
func TestHandlerRefusedRequestStoresNothing(t *testing.T) {
	h := newHarness(t)
	acc := h.cash("Till", "10.00")
	withdraw := "/accounts/" + acc + "/withdrawals"
	key := map[string]string{"Idempotency-Key": "w-42"}
	body := `{"amount":"50.00","payee":"Supplier"}`
	h.do(req{method: "POST", path: withdraw, body: body, headers: key, as: h.admin()}).problem(t, 422, "insufficient-funds", "")
	// A 4xx is not replayed either: still refused, not marked.
	res := h.do(req{method: "POST", path: withdraw, body: body, headers: key, as: h.admin()})
	res.problem(t, 422, "insufficient-funds", "")
	if res.header.Get("Idempotent-Replayed") != "" {
		t.Error("a refusal is marked replayed")
	}
	h.do(req{method: "POST", path: "/accounts/" + acc + "/entries", body: `{"type":"credit","amount":"40.00"}`, as: h.admin()}).want(t, 201)
	res = h.do(req{method: "POST", path: withdraw, body: body, headers: key, as: h.admin()}).want(t, 201)
	if res.header.Get("Idempotent-Replayed") != "" {
		t.Error("the first success is marked replayed")
	}
	if got := h.balance(acc); got != "0.00" {
		t.Errorf("balance %s, want 0.00", got)
	}
	h.do(req{method: "POST", path: withdraw, body: body, headers: key, as: h.admin()}).want(t, 201)
	if got := h.balance(acc); got != "0.00" {
		t.Errorf("balance %s after the replay, want 0.00", got)
	}
}

// TestHandlerIdempotentCreation: an account creation replays its first
// answer byte for byte, even after the account changed.
func TestHandlerIdempotentCreation(t *testing.T) {
	h := newHarness(t)
	key := map[string]string{"Idempotency-Key": "acc-1"}
	body := `{"name":"Petty Cash – Cluj","currency":"RON","kind":"cash","code":"5311.01","opening_balance":"2000.00",` +
		`"approval_threshold":"5000.00","iban":"RO49AAAA1B31007593840000","members":["u_admin","u_bob"],"metadata":{"branch":"Cluj"}}`
	first := h.do(req{method: "POST", path: "/accounts", body: body, headers: key, as: h.admin()}).want(t, 201)
	id, _ := first.json(t)["id"].(string)
	h.do(req{method: "POST", path: "/accounts/" + id + "/entries", body: `{"type":"debit","amount":"500.00"}`, as: h.admin()}).want(t, 201)
	h.do(req{method: "PATCH", path: "/accounts/" + id, body: `{"name":"Main Cash"}`, as: h.admin()}).want(t, 200)
	again := h.do(req{method: "POST", path: "/accounts", body: body, headers: key, as: h.admin()}).want(t, 201)
	if again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("ETag") != `"1"` {
		t.Errorf("the replay: Idempotent-Replayed %q ETag %q", again.header.Get("Idempotent-Replayed"), again.header.Get("ETag"))
	}
	if string(again.body) != string(first.body) {
		t.Errorf("the replay answered\n%s\nthe first answer was\n%s", again.body, first.body)
	}
	h.do(req{method: "POST", path: "/accounts", body: strings.Replace(body, "2000.00", "3000.00", 1), headers: key, as: h.admin()}).
		problem(t, 422, "idempotency-key-reuse", "")
	h.do(req{method: "POST", path: "/accounts", body: `{"name":"main CASH","currency":"RON","kind":"cash"}`, as: h.admin()}).
		problem(t, 409, "conflict", "")
}

// TestHandlerIdempotencyKeyRules: a key is 1 to 255 printable ASCII
// characters and may not start with recurring: (422); refused, it books
// nothing.
func TestHandlerIdempotencyKeyRules(t *testing.T) {
	h := newHarness(t)
	acc := h.cash("Till", "10.00")
	entries := "/accounts/" + acc + "/entries"
	body := `{"type":"credit","amount":"1.00"}`
	for name, k := range map[string]string{
		"256 characters": strings.Repeat("k", 256),
		"not ASCII":      "clé",
		"reserved":       "recurring:rec_1:2026-01-31",
	} {
		t.Run(name, func(t *testing.T) {
			h.do(req{method: "POST", path: entries, body: body, headers: map[string]string{"Idempotency-Key": k}, as: h.admin()}).
				problem(t, 422, "validation", "Idempotency-Key")
		})
	}
	h.do(req{method: "POST", path: entries, body: body, headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 255)}, as: h.admin()}).want(t, 201)
	h.do(req{method: "POST", path: entries, body: body, headers: map[string]string{"Idempotency-Key": "a,b"}, as: h.admin()}).want(t, 201)
	res := h.do(req{method: "POST", path: entries, body: body, headers: map[string]string{"Idempotency-Key": "a,b"}, as: h.admin()}).want(t, 201)
	if res.header.Get("Idempotent-Replayed") != "true" {
		t.Error("a key with a comma did not replay")
	}
	if got := h.balance(acc); got != "12.00" {
		t.Errorf("balance %s, want 12.00", got)
	}
}
