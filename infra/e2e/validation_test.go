package e2e

import (
	"strings"
	"testing"
)

// Every malformed or invalid request is refused with a clear problem and
// leaves the books as they were.
func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	o := newOrg(t)
	id := o.account(map[string]any{"name": "A", "currency": "RON", "kind": "cash", "opening_balance": "100.00"})["id"].(string)
	jpy := o.account(map[string]any{"name": "Yen", "currency": "JPY", "kind": "cash", "opening_balance": "1000"})["id"].(string)
	entries := "/accounts/" + id + "/entries"

	cases := []struct {
		name, path, body string
		status           int
		typ, field       string
	}{
		{"float amount", entries, `{"type":"credit","amount":12.5}`, 422, "validation", "amount"},
		{"too many decimals", entries, `{"type":"credit","amount":"1.005"}`, 422, "validation", "amount"},
		{"decimals for JPY", "/accounts/" + jpy + "/entries", `{"type":"credit","amount":"1.5"}`, 422, "validation", "amount"},
		{"exponent", entries, `{"type":"credit","amount":"1e3"}`, 422, "validation", "amount"},
		{"negative", entries, `{"type":"credit","amount":"-5.00"}`, 422, "validation", "amount"},
		{"zero", entries, `{"type":"credit","amount":"0.00"}`, 422, "validation", "amount"},
		{"leading plus", entries, `{"type":"credit","amount":"+5.00"}`, 422, "validation", "amount"},
		{"thousands separator", entries, `{"type":"credit","amount":"1,000.00"}`, 422, "validation", "amount"},
		{"leading zeros", entries, `{"type":"credit","amount":"0000000000000001.00"}`, 422, "validation", "amount"},
		{"16 integer digits", entries, `{"type":"credit","amount":"1234567890123456"}`, 422, "validation", "amount"},
		{"unknown field", entries, `{"type":"credit","amount":"5.00","colour":"red"}`, 400, "malformed", "colour"},
		{"duplicate key", entries, `{"type":"credit","amount":"5.00","amount":"500.00"}`, 400, "malformed", "amount"},
		{"key differing in case only", entries, `{"type":"credit","amount":"1.00","AMOUNT":"900.00"}`, 400, "malformed", "AMOUNT"},
		{"key matching by Unicode folding", "/accounts", `{"name":"B","currency":"RON","\u212aind":"cash"}`, 400, "malformed", "\u212aind"},
		{"journal line key in another case", "/journal-entries", `{"lines":[{"account_id":"` + id + `","type":"credit","amount":"1.00","Amount":"900.00"},{"account_id":"` + id + `","type":"debit","amount":"1.00"}]}`, 400, "malformed", "lines[0].Amount"},
		{"invalid UTF-8", entries, "{\"type\":\"credit\",\"amount\":\"5.00\",\"memo\":\"\xff\"}", 400, "malformed", ""},
		{"nested duplicate key", entries, `{"type":"credit","amount":"5.00","metadata":{"a":1,"a":2}}`, 400, "malformed", "a"},
		{"malformed JSON", entries, `{"type":"credit","amount":"5.00"`, 400, "malformed", ""},
		{"trailing data", entries, `{"type":"credit","amount":"5.00"} {}`, 400, "malformed", ""},
		{"not an object", entries, `["credit"]`, 400, "malformed", ""},
		{"empty body", entries, ``, 400, "malformed", ""},
		{"bad type", entries, `{"type":"sideways","amount":"5.00"}`, 422, "validation", "type"},
		{"bad value date", entries, `{"type":"credit","amount":"5.00","value_date":"2026-02-30"}`, 422, "validation", "value_date"},
		{"memo too long", entries, `{"type":"credit","amount":"5.00","memo":"` + strings.Repeat("m", 501) + `"}`, 422, "validation", "memo"},
		{"body over 64 KiB", entries, `{"type":"credit","amount":"5.00","memo":"` + strings.Repeat("m", 70000) + `"}`, 413, "payload-too-large", ""},
		{"unknown currency", "/accounts", `{"name":"B","currency":"XYZ","kind":"cash"}`, 422, "validation", "currency"},
		{"lower-case currency", "/accounts", `{"name":"B","currency":"ron","kind":"cash"}`, 422, "validation", "currency"},
		{"missing name", "/accounts", `{"currency":"RON","kind":"cash"}`, 422, "validation", "name"},
		{"bad kind", "/accounts", `{"name":"B","currency":"RON","kind":"vault"}`, 422, "validation", "kind"},
		{"bad iban", "/accounts", `{"name":"B","currency":"RON","kind":"bank","iban":"RO00AAAA1B31007593840000"}`, 422, "validation", "iban"},
		{"too many metadata keys", "/accounts", `{"name":"B","currency":"RON","kind":"cash","metadata":{` + manyKeys(21) + `}}`, 422, "validation", "metadata"},
		{"transfer float", "/transfers", `{"from_account_id":"` + id + `","to_account_id":"` + jpy + `","amount":1,"to_amount":"100"}`, 422, "validation", "amount"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := o.do("POST", c.path, o.admin, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			p := r.Map(t)
			if p["type"] != c.typ || p["status"] != float64(c.status) || p["title"] == "" || p["detail"] == "" {
				t.Fatalf("problem: %v", p)
			}
			if c.field != "" {
				errs, _ := p["errors"].([]any)
				if len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
					t.Fatalf("errors name %v, want field %q", p["errors"], c.field)
				}
			}
		})
	}
	// Nothing was written: each account still holds only its opening line,
	// and the tenant has no other account.
	if lines := o.checkChain(id); len(lines) != 1 {
		t.Fatalf("%d lines on %s after refused requests", len(lines), id)
	}
	if lines := o.checkChain(jpy); len(lines) != 1 {
		t.Fatalf("%d lines on %s after refused requests", len(lines), jpy)
	}
	if n := len(o.must(200, "GET", "/accounts", o.admin, nil)["items"].([]any)); n != 2 {
		t.Fatalf("%d accounts after refused creations", n)
	}
	if n := len(o.must(200, "GET", "/transactions", o.admin, nil)["items"].([]any)); n != 2 {
		t.Fatalf("%d transactions after refused postings, want the 2 openings", n)
	}
	o.checkZeroSum()
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
	}
	return b.String()
}
