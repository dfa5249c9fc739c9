package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestHandlerRefusesBadBodies: every kind of body the contract refuses is
// refused with its status and problem type, names the field where there is
// one, and writes nothing.
func TestHandlerRefusesBadBodies(t *testing.T) {
	h := newHarness(t)
	acc := h.cash("Till", "100.00")
	entries := "/accounts/" + acc + "/entries"
	audits := h.auditLen()
	big := `{"type":"credit","amount":"1.00","memo":"` + strings.Repeat("x", 64<<10) + `"}`
	for _, c := range []struct {
		name, path, body, contentType string
		status                        int
		typ, field                    string
	}{
		{"unknown field", entries, `{"type":"credit","amount":"1.00","colour":"red"}`, "", 400, "malformed", "colour"},
		{"a field in another case", entries, `{"type":"credit","amount":"1.00","AMOUNT":"900.00"}`, "", 400, "malformed", "AMOUNT"},
		{"only in another case", entries, `{"type":"credit","Amount":"900.00"}`, "", 400, "malformed", "Amount"},
		{"a Unicode folding of a field", "/accounts", "{\"name\":\"Folded\",\"currency\":\"EUR\",\"\u212aind\":\"cash\"}", "", 400, "malformed", "\u212aind"},
		{"a Unicode folding, escaped", "/accounts", `{"name":"Folded","currency":"EUR","\u212aind":"cash"}`, "", 400, "malformed", "\u212aind"},
		{"duplicate key", entries, `{"type":"credit","amount":"1.00","amount":"900.00"}`, "", 400, "malformed", "amount"},
		{"duplicate key, escaped", entries, `{"type":"credit","amount":"1.00","\u0061mount":"900.00"}`, "", 400, "malformed", "amount"},
		{"duplicate key in metadata", entries, `{"type":"credit","amount":"1.00","metadata":{"a":1,"a":2}}`, "", 400, "malformed", "a"},
		{"invalid UTF-8", entries, "{\"type\":\"credit\",\"amount\":\"1.00\",\"memo\":\"\xff\xfe\"}", "", 400, "malformed", ""},
		{"trailing data", entries, `{"type":"credit","amount":"1.00"} {}`, "", 400, "malformed", ""},
		{"trailing garbage", entries, `{"type":"credit","amount":"1.00"}x`, "", 400, "malformed", ""},
		{"not JSON", entries, `type=credit&amount=1.00`, "", 400, "malformed", ""},
		{"no body", entries, ``, "", 400, "malformed", ""},
		{"an array", entries, `[{"type":"credit","amount":"1.00"}]`, "", 400, "malformed", ""},
		{"over 64 KiB", entries, big, "", 413, "payload-too-large", ""},
		{"text/plain", entries, `{"type":"credit","amount":"1.00"}`, "text/plain", 415, "unsupported-media-type", ""},
		{"application/xml", entries, `{"type":"credit","amount":"1.00"}`, "application/xml", 415, "unsupported-media-type", ""},
		{"a number for an amount", entries, `{"type":"credit","amount":1.00}`, "", 422, "validation", "amount"},
		{"a bad amount", entries, `{"type":"credit","amount":"1.001"}`, "", 422, "validation", "amount"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			if c.contentType != "" {
				hdr["Content-Type"] = c.contentType
			}
			res := h.do(req{method: "POST", path: c.path, body: c.body, headers: hdr, as: h.admin()})
			res.problem(t, c.status, c.typ, c.field)
		})
	}
	if got := h.balance(acc); got != "100.00" {
		t.Errorf("balance %s after refused bodies, want 100.00", got)
	}
	if n := h.auditLen(); n != audits {
		t.Errorf("refused bodies wrote %d audit records", n-audits)
	}

	// What the contract allows is taken: a charset parameter, no
	// Content-Type at all, exactly 64 KiB, and a key equal to a field only
	// in metadata (free-form JSON).
	ok := `{"type":"credit","amount":"1.00","metadata":{"AMOUNT":"900.00"}}`
	h.do(req{method: "POST", path: entries, body: ok, headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, as: h.admin()}).want(t, 201)
	h.do(req{method: "POST", path: entries, body: ok, headers: map[string]string{"Content-Type": ""}, as: h.admin()}).want(t, 201)
	exact := `{"type":"credit","amount":"1.00","memo":"` + strings.Repeat("y", 500) + `"}`
	exact += strings.Repeat(" ", 64<<10-len(exact))
	h.do(req{method: "POST", path: entries, body: exact, as: h.admin()}).want(t, 201)
	if got := h.balance(acc); got != "103.00" {
		t.Errorf("balance %s, want 103.00", got)
	}
}

// TestHandlerAuth: no claims, or claims without a usable sub or tenant, is
// 401 from the function; a caller without the route's permission is 403;
// /health needs no token. Every answer carries the gateway's request id.
func TestHandlerAuth(t *testing.T) {
	h := newHarness(t)
	acc := h.cash("Till", "100.00")
	entries := "/accounts/" + acc + "/entries"
	body := `{"type":"credit","amount":"1.00"}`
	for name, as := range map[string]who{
		"no claims":            nobody,
		"no tenant":            {sub: "u_a", scope: "admin"},
		"no sub":               {tenant: h.tenant, scope: "admin"},
		"a tenant with a path": {sub: "u_a", tenant: "t/../x", scope: "admin"},
		"a sub of spaces":      {sub: "   ", tenant: h.tenant, scope: "admin"},
	} {
		t.Run(name, func(t *testing.T) {
			h.do(req{method: "POST", path: entries, body: body, as: as}).problem(t, 401, "unauthenticated", "")
			h.do(req{method: "GET", path: "/accounts", as: as}).problem(t, 401, "unauthenticated", "")
		})
	}
	h.do(req{method: "POST", path: entries, body: body, as: h.as("u_admin", "entries:view transfers:create")}).problem(t, 403, "forbidden", "")
	h.do(req{method: "POST", path: entries, body: body, as: h.as("u_admin", "[entries:view]")}).problem(t, 403, "forbidden", "")
	h.do(req{method: "POST", path: "/accounts", body: `{"name":"X","currency":"EUR","kind":"cash"}`, as: h.as("u_admin", "accounts:view")}).problem(t, 403, "forbidden", "")
	if got := h.balance(acc); got != "100.00" {
		t.Errorf("balance %s after refusals", got)
	}
	// The scope claim as a JSON array, as API Gateway flattens it.
	h.do(req{method: "POST", path: entries, body: body, as: h.as("u_admin", "[entries:create accounts:all]")}).want(t, 201)

	res := h.do(req{method: "GET", path: "/health"}).want(t, 200)
	if m := res.json(t); m["status"] != "ok" || res.header.Get("X-Request-Id") != res.reqID {
		t.Errorf("health: %s, X-Request-Id %q (want %q)", res.body, res.header.Get("X-Request-Id"), res.reqID)
	}

	// Not found reads alike for an unknown id and for another tenant's.
	other := who{sub: "u_admin", tenant: "t_other", scope: "admin"}
	a := h.do(req{method: "GET", path: "/accounts/" + acc, as: other}).problem(t, 404, "not-found", "")
	b := h.do(req{method: "GET", path: "/accounts/acc_" + strings.Repeat("0", 26), as: h.admin()}).problem(t, 404, "not-found", "")
	if a["detail"] != b["detail"] || a["title"] != b["title"] {
		t.Errorf("another tenant's account answers %v, an unknown one %v", a, b)
	}
	nonMember := h.as("u_stranger", "accounts:view entries:create")
	c := h.do(req{method: "GET", path: "/accounts/" + acc, as: nonMember}).problem(t, 404, "not-found", "")
	if c["detail"] != b["detail"] {
		t.Errorf("a non-member's answer %v differs from an unknown id's %v", c, b)
	}
	h.do(req{method: "POST", path: entries, body: body, as: nonMember}).problem(t, 404, "not-found", "")
}

// TestHandlerInsufficientFunds: the problem carries account_id, available
// and requested in the currency's minor units.
func TestHandlerInsufficientFunds(t *testing.T) {
	h := newHarness(t)
	acc := h.cash("Till", "10.00")
	m := h.do(req{method: "POST", path: "/accounts/" + acc + "/withdrawals", body: `{"amount":"25","payee":"Bob"}`, as: h.admin()}).
		problem(t, http.StatusUnprocessableEntity, "insufficient-funds", "")
	if m["account_id"] != acc || m["available"] != "10.00" || m["requested"] != "25.00" {
		t.Errorf("insufficient-funds carries %v, %v, %v; want %s, 10.00, 25.00", m["account_id"], m["available"], m["requested"], acc)
	}
}
