package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"github.com/treasuryledger/treasury/infra/localgateway"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/lambdaapi"
	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/memory"
)

// The handler tests serve api.NewServer(app.New(memory.New()), logger) on
// httptest. Each request goes through what Lambda runs: the route's
// api-proxy adapter (lambdaapi.Adapt) on the payload-2.0 event API Gateway
// would send, built the way the local gateway builds it, with the verified
// JWT claims in the request context. The caller is given by test headers,
// which stand in for a token the gateway has verified; without them the
// event carries no claims at all.
const (
	hdrSub    = "X-Test-Sub"
	hdrTenant = "X-Test-Tenant"
	hdrScope  = "X-Test-Scope"
)

type harness struct {
	t      *testing.T
	store  *memory.Store
	url    string
	tenant string

	mu     sync.Mutex
	reqIDs []string // the request ids the "gateway" gave, in order
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, store: memory.New(), tenant: "t_api"}
	srv := api.NewServer(app.New(h.store), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	mux := http.NewServeMux()
	for _, rt := range api.Routes {
		invoke := lambdaapi.Adapt(srv, rt.Name)
		mux.Handle(rt.Pattern(), h.route(rt, invoke))
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	h.url = hs.URL
	return h
}

func (h *harness) route(rt api.Route, invoke lambdaapi.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var b [8]byte
		_, _ = rand.Read(b[:])
		reqID := "req-" + hex.EncodeToString(b[:])
		h.mu.Lock()
		h.reqIDs = append(h.reqIDs, reqID)
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(r.Context(), ledger.FunctionTimeout)
		defer cancel()
		resp, err := invoke(ctx, event(r, rt, body, reqID))
		if err != nil {
			http.Error(w, "function failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		for k, vs := range resp.MultiValueHeaders {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		out := []byte(resp.Body)
		if resp.IsBase64Encoded {
			out, _ = base64.StdEncoding.DecodeString(resp.Body)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	})
}

// event is the payload-2.0 event for r, built by infra/localgateway itself;
// the claims come from the test headers, which are not passed on.
func event(r *http.Request, rt api.Route, body []byte, reqID string) events.APIGatewayV2HTTPRequest {
	var claims map[string]string
	for _, h := range []string{hdrSub, hdrTenant, hdrScope} {
		if v := r.Header.Get(h); v != "" {
			if claims == nil {
				claims = map[string]string{}
			}
			claims[strings.ToLower(strings.TrimPrefix(h, "X-Test-"))] = v
		}
		r.Header.Del(h)
	}
	return localgateway.Event(r, rt, body, reqID, claims)
}

func (h *harness) lastRequestID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reqIDs) == 0 {
		return ""
	}
	return h.reqIDs[len(h.reqIDs)-1]
}

// who is a caller: the claims a verified token would carry. A zero who
// sends no claims.
type who struct{ sub, tenant, scope string }

func (h *harness) as(sub, scope string) who { return who{sub: sub, tenant: h.tenant, scope: scope} }

func (h *harness) admin() who { return h.as("u_admin", "admin") }

var nobody = who{}

type response struct {
	status int
	header http.Header
	body   []byte
	reqID  string // the id the gateway gave the request
}

func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object (%v): %s", r.status, err, r.body)
	}
	return m
}

// req is one request: body is sent as is (string or []byte) or as JSON;
// Content-Type is application/json when there is a body, unless headers
// say otherwise ("" in headers removes it).
type req struct {
	method, path string
	body         any
	headers      map[string]string
	as           who
}

func (h *harness) do(q req) *response {
	h.t.Helper()
	var raw []byte
	switch b := q.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			h.t.Fatal(err)
		}
	}
	hr, err := http.NewRequest(q.method, h.url+q.path, bytes.NewReader(raw))
	if err != nil {
		h.t.Fatal(err)
	}
	if q.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range q.headers {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	if q.as != nobody {
		hr.Header.Set(hdrSub, q.as.sub)
		hr.Header.Set(hdrTenant, q.as.tenant)
		hr.Header.Set(hdrScope, q.as.scope)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		h.t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: body, reqID: h.lastRequestID()}
}

// want checks the status; on a mismatch it shows the body.
func (r *response) want(t *testing.T, status int) *response {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// problem checks an error answer: the status, problem+json with type,
// title, status, detail and errors, the type wanted, the request id, and
// (when field is not empty) the first field named.
func (r *response) problem(t *testing.T, status int, typ, field string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (%s): %s", r.status, status, typ, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json: %s", ct, r.body)
	}
	if id := r.header.Get("X-Request-Id"); id == "" || id != r.reqID {
		t.Errorf("X-Request-Id %q, want the gateway's request id %q", id, r.reqID)
	}
	m := r.json(t)
	for _, k := range []string{"type", "title", "status", "detail", "errors"} {
		if _, ok := m[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, r.body)
		}
	}
	if m["type"] != typ {
		t.Errorf("type %v, want %s: %s", m["type"], typ, r.body)
	}
	if s, _ := m["status"].(float64); int(s) != r.status {
		t.Errorf("problem status %v, HTTP status %d", m["status"], r.status)
	}
	if d, _ := m["detail"].(string); d == "" {
		t.Errorf("problem without a detail: %s", r.body)
	}
	if t2, _ := m["title"].(string); t2 == "" {
		t.Errorf("problem without a title: %s", r.body)
	}
	if field != "" {
		errs, _ := m["errors"].([]any)
		first := ""
		if len(errs) > 0 {
			e, _ := errs[0].(map[string]any)
			first, _ = e["field"].(string)
		}
		if first != field {
			t.Errorf("problem names field %q, want %q: %s", first, field, r.body)
		}
	}
	return m
}

// ---- the ledger as the tests set it up ----

// account creates an account through the API and returns its id.
func (h *harness) account(body map[string]any) string {
	h.t.Helper()
	res := h.do(req{method: "POST", path: "/accounts", body: body, as: h.admin()}).want(h.t, http.StatusCreated)
	id, _ := res.json(h.t)["id"].(string)
	if id == "" {
		h.t.Fatalf("no account id in %s", res.body)
	}
	return id
}

func (h *harness) cash(name, opening string) string {
	h.t.Helper()
	body := map[string]any{"name": name, "currency": "EUR", "kind": "cash"}
	if opening != "" {
		body["opening_balance"] = opening
	}
	return h.account(body)
}

// balance reads an account's balance straight from the store.
func (h *harness) balance(id string) string {
	h.t.Helper()
	a, err := h.store.GetAccount(context.Background(), h.tenant, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a.Balance.StringFixed(2)
}

func (h *harness) version(id string) int64 {
	h.t.Helper()
	a, err := h.store.GetAccount(context.Background(), h.tenant, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return a.Version
}

func (h *harness) auditLen() int {
	h.t.Helper()
	p, err := h.store.ListAudit(context.Background(), h.tenant, app.AuditFilter{Limit: 200})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(p.Items)
}

func (h *harness) historyLen(id string) int {
	h.t.Helper()
	p, err := h.store.History(context.Background(), h.tenant, id, app.HistoryFilter{Limit: 200})
	if err != nil {
		h.t.Fatal(err)
	}
	return len(p.Items)
}
