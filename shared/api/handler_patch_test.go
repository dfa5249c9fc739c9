package api_test

import (
	"fmt"
	"testing"
)

// TestHandlerMergePatch: PATCH takes application/json and
// application/merge-patch+json; absent fields stay, null clears a nullable
// field, members is replaced whole; bodies are decoded as strictly as any
// other; every answer carries the ETag of the version it shows.
func TestHandlerMergePatch(t *testing.T) {
	h := newHarness(t)
	create := h.do(req{method: "POST", path: "/accounts", as: h.admin(), body: map[string]any{
		"name": "Patched", "currency": "EUR", "kind": "cash", "code": "P-1", "approval_threshold": "100.00",
		"members": []string{"u_admin", "u_bob"}, "metadata": map[string]string{"branch": "Cluj"},
	}}).want(t, 201)
	if et := create.header.Get("ETag"); et != `"1"` {
		t.Errorf("creation ETag %q, want \"1\"", et)
	}
	id, _ := create.json(t)["id"].(string)
	path := "/accounts/" + id

	for i, ct := range []string{"application/merge-patch+json", "application/json", "application/merge-patch+json; charset=utf-8"} {
		name := fmt.Sprintf("Patched %d", i)
		res := h.do(req{method: "PATCH", path: path, body: `{"name":"` + name + `"}`, headers: map[string]string{"Content-Type": ct}, as: h.admin()}).want(t, 200)
		m := res.json(t)
		ver := fmt.Sprint(i + 2)
		if m["name"] != name || fmt.Sprint(m["version"]) != ver || res.header.Get("ETag") != `"`+ver+`"` {
			t.Errorf("PATCH as %s: name %v version %v ETag %q; want %s, %s", ct, m["name"], m["version"], res.header.Get("ETag"), name, ver)
		}
		if m["code"] != "P-1" || m["approval_threshold"] != "100.00" {
			t.Errorf("PATCH of the name changed other fields: %s", res.body)
		}
	}

	res := h.do(req{method: "PATCH", path: path, body: `{"approval_threshold":null,"code":null,"members":["u_carol","u_admin"]}`,
		headers: map[string]string{"Content-Type": "application/merge-patch+json"}, as: h.admin()}).want(t, 200)
	m := res.json(t)
	if m["approval_threshold"] != nil || m["code"] != nil || fmt.Sprint(m["members"]) != "[u_carol u_admin]" || fmt.Sprint(m["metadata"]) != "map[branch:Cluj]" {
		t.Errorf("null clears and members are replaced whole: %s", res.body)
	}
	get := h.do(req{method: "GET", path: path, as: h.admin()}).want(t, 200)
	if get.header.Get("ETag") != `"5"` || string(get.body) != string(res.body) {
		t.Errorf("GET after the patch: ETag %q, body %s; want \"5\" and the PATCH's answer %s", get.header.Get("ETag"), get.body, res.body)
	}

	ver := h.version(id)
	for _, c := range []struct {
		name, body, contentType string
		status                  int
		typ, field              string
	}{
		{"text/plain", `{"name":"X"}`, "text/plain", 415, "unsupported-media-type", ""},
		{"unknown field", `{"name":"X","colour":"red"}`, "", 400, "malformed", "colour"},
		{"a field in another case", `{"NAME":"X"}`, "", 400, "malformed", "NAME"},
		{"a field that cannot change", `{"currency":"USD"}`, "", 400, "malformed", "currency"},
		{"duplicate key", `{"name":"X","name":"Y"}`, "", 400, "malformed", "name"},
		{"trailing data", `{"name":"X"}{}`, "", 400, "malformed", ""},
		{"not an object", `["name"]`, "", 400, "malformed", ""},
		{"null name", `{"name":null}`, "", 422, "validation", "name"},
		{"a number for a name", `{"name":7}`, "", 422, "validation", "name"},
		{"a bad overdraft", `{"overdraft_limit":"-1.00"}`, "", 422, "validation", "overdraft_limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			if c.contentType != "" {
				hdr["Content-Type"] = c.contentType
			}
			h.do(req{method: "PATCH", path: path, body: c.body, headers: hdr, as: h.admin()}).problem(t, c.status, c.typ, c.field)
		})
	}
	if got := h.version(id); got != ver {
		t.Errorf("refused patches moved the version from %d to %d", ver, got)
	}
}

// TestHandlerIfMatch: If-Match with the current ETag applies the patch; any
// other is 412 and changes nothing; W/ and unquoted forms of the version
// are read the same.
func TestHandlerIfMatch(t *testing.T) {
	h := newHarness(t)
	id := h.cash("Locked", "")
	path := "/accounts/" + id
	patch := func(ifMatch, name string) *response {
		return h.do(req{method: "PATCH", path: path, body: `{"name":"` + name + `"}`, headers: map[string]string{"If-Match": ifMatch}, as: h.admin()})
	}
	for _, bad := range []string{`"2"`, `"0"`, `W/"7"`, `"one"`, `""`} {
		patch(bad, "Never").problem(t, 412, "precondition-failed", "")
	}
	if got := h.version(id); got != 1 {
		t.Fatalf("refused patches moved the version to %d", got)
	}
	res := patch(`"1"`, "Locked Once").want(t, 200)
	if res.header.Get("ETag") != `"2"` {
		t.Errorf("ETag %q after a matching If-Match, want \"2\"", res.header.Get("ETag"))
	}
	patch(`"1"`, "Stale").problem(t, 412, "precondition-failed", "")
	patch(`W/"2"`, "Locked Twice").want(t, 200)
	patch(`3`, "Locked Thrice").want(t, 200)
	// Without If-Match the patch applies whatever the version.
	patch("", "Unlocked").want(t, 200)
	if got := h.version(id); got != 5 {
		t.Errorf("version %d, want 5", got)
	}
	// A patch that changes nothing keeps the version and the ETag.
	res = patch(`"5"`, "Unlocked").want(t, 200)
	if res.header.Get("ETag") != `"5"` || h.version(id) != 5 {
		t.Errorf("a patch changing nothing: ETag %q, version %d; want 5", res.header.Get("ETag"), h.version(id))
	}
}
