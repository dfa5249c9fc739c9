package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/treasuryledger/treasury/infra/localauth"
	"github.com/treasuryledger/treasury/infra/teststack"
	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// gatewayUnauthorized is API Gateway's own answer when it refuses a token.
const gatewayUnauthorized = `{"message":"Unauthorized"}`

// Users of an authorization fixture.
const (
	uMember   = "u_member"   // member of accounts A and B; the approver
	uCreator  = "u_creator"  // member of A; created the pending withdrawal
	uOutsider = "u_outsider" // member of nothing
)

// The caller cases of the matrix, in the order they run.
const (
	caseNoToken       = "no-token"
	caseExpired       = "expired"
	caseForeignKey    = "foreign-key"
	caseWrongAudience = "wrong-audience"
	caseAlgNone       = "alg-none"
	caseHS256         = "hs256-public-key"
	caseOtherTenant   = "other-tenant-admin"
	caseMember        = "member-without-permission"
	caseOutsider      = "outsider-with-permission"
	caseAllowed       = "member-with-permission"
)

// fixture is a fresh first tenant: account A (members u_member, u_creator)
// with an opening balance, account B (member u_member), a posted transfer
// A→B, a pending withdrawal on A created by u_creator, and a closed 2019-12.
type fixture struct {
	o                          *org
	a, b, transfer, withdrawal string
	nameA, codeA               string
	// secrets are what a denied answer, or an answer to another tenant,
	// must never show (unless the request itself sent it).
	secrets []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	o := newOrg(t)
	rid := teststack.RandomID()
	f := &fixture{o: o, nameA: "Authz Till " + rid, codeA: "AZT-" + rid}
	nameB, codeB := "Authz Safe "+rid, "AZS-"+rid
	memo, payee := "authz-memo-"+rid, "Authz Payee "+rid
	f.a = o.must(201, "POST", "/accounts", o.admin, map[string]any{"name": f.nameA, "code": f.codeA, "currency": "RON", "kind": "cash",
		"opening_balance": "4321.09", "approval_threshold": "555.55", "members": []string{uMember, uCreator}})["id"].(string)
	f.b = o.must(201, "POST", "/accounts", o.admin, map[string]any{"name": nameB, "code": codeB, "currency": "RON", "kind": "bank",
		"members": []string{uMember}})["id"].(string)
	f.transfer = o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": f.a, "to_account_id": f.b,
		"amount": "111.11", "memo": memo})["id"].(string)
	w := o.must(201, "POST", "/accounts/"+f.a+"/withdrawals", o.token(uCreator, "withdrawals:create"),
		map[string]any{"amount": "777.77", "payee": payee, "method": "cash"})
	if w["status"] != "pending" {
		t.Fatalf("fixture withdrawal is %v, want pending", w["status"])
	}
	f.withdrawal = w["id"].(string)
	o.must(200, "POST", "/periods/2019-12/close", o.admin, nil)
	f.secrets = []string{f.a, f.b, f.transfer, f.withdrawal, f.nameA, nameB, f.codeA, codeB, memo, payee, uCreator, "2019-12",
		// opening, threshold, transfer, withdrawal, A's balance and available, A's opening-line txn below
		"4321.09", "555.55", "111.11", "777.77", "4209.98", "3432.21"}
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	r := stack.Do(t, "GET", "/transactions?account_id="+f.a+"&kind=opening", o.admin, nil)
	r.JSON(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("fixture: %d opening transactions: %s", len(list.Items), r.Body)
	}
	f.secrets = append(f.secrets, list.Items[0].ID)
	return f
}

// leaks lists the fixture's secrets that body shows and the request did not send.
func (f *fixture) leaks(body []byte, sent string) []string {
	var out []string
	for _, s := range f.secrets {
		if strings.Contains(string(body), s) && !strings.Contains(sent, s) {
			out = append(out, s)
		}
	}
	return out
}

// tenantState is what an admin of the first tenant can see of it.
type tenantState struct {
	accounts, transactions, historyA, historyB, audit string
	auditRecords, linesA, linesB                      int
	periods                                           []string
}

func (f *fixture) state(t *testing.T) tenantState {
	t.Helper()
	get := func(path string) ([]byte, int) {
		t.Helper()
		r := stack.Do(t, "GET", path, f.o.admin, nil)
		if r.Status != 200 {
			t.Fatalf("state: GET %s: %d %s", path, r.Status, r.Body)
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		r.JSON(t, &page)
		if page.NextCursor != nil {
			t.Fatalf("state: GET %s has more than one page", path)
		}
		return r.Body, len(page.Items)
	}
	var s tenantState
	b, _ := get("/accounts?limit=200")
	s.accounts = string(b)
	b, _ = get("/transactions?limit=200")
	s.transactions = string(b)
	b, s.linesA = get("/accounts/" + f.a + "/history?limit=200")
	s.historyA = string(b)
	b, s.linesB = get("/accounts/" + f.b + "/history?limit=200")
	s.historyB = string(b)
	b, s.auditRecords = get("/audit?limit=200")
	s.audit = string(b)
	r := stack.Do(t, "GET", "/periods", f.o.admin, nil)
	var periods struct {
		Items []struct {
			Period    string  `json:"period"`
			ClosingAt *string `json:"closing_at"`
			ClosedBy  *string `json:"closed_by"`
		} `json:"items"`
	}
	r.JSON(t, &periods)
	for _, p := range periods.Items {
		// status and closed_at move with the clock; what was recorded does not.
		s.periods = append(s.periods, fmt.Sprintf("%s %v %v", p.Period, deref(p.ClosingAt), deref(p.ClosedBy)))
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func (f *fixture) unchanged(t *testing.T, before tenantState) {
	t.Helper()
	after := f.state(t)
	check := func(what string, a, b any) {
		t.Helper()
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("the first tenant changed: %s\nbefore: %v\nafter:  %v", what, a, b)
		}
	}
	check("number of audit records", before.auditRecords, after.auditRecords)
	check("history length of A", before.linesA, after.linesA)
	check("history length of B", before.linesB, after.linesB)
	check("accounts (balances, versions, settings)", before.accounts, after.accounts)
	check("transactions", before.transactions, after.transactions)
	check("history of A", before.historyA, after.historyA)
	check("history of B", before.historyB, after.historyB)
	check("audit trail", before.audit, after.audit)
	check("periods", before.periods, after.periods)
}

// authzRule is the authorization rule of one route: what to ask, which
// permission it needs, and what each caller case must get.
type authzRule struct {
	// grant is the route's permission (cases 8 and 9); base the other
	// scopes the member holds in cases 7 and 9.
	grant, base string
	req         func(f *fixture, cell string) (path string, body any)
	// expected statuses of cases 6 (another tenant's admin), 7 (member
	// without the permission), 8 (outsider with it) and 9 (allowed).
	other, member, outsider, allowed int
	// outsiderNoLeak: case 8 succeeds but must show none of the fixture.
	outsiderNoLeak bool
	check          func(t *testing.T, f *fixture, body map[string]any)
	variants       []authzCell
}

// authzCell is one cell of the matrix.
type authzCell struct {
	name  string
	token func(f *fixture, other *org, r authzRule) string
	req   func(f *fixture, cell string) (string, any) // nil: the rule's
	want  int
	// otherTenant: the caller is another tenant's; whatever it gets, the
	// first tenant stays unchanged and nothing of it shows.
	otherTenant bool
	noLeak      bool
	check       func(t *testing.T, f *fixture, body map[string]any)
}

func scopes(s ...string) string { return strings.TrimSpace(strings.Join(s, " ")) }

func memberToken(sub string) func(*fixture, *org, authzRule) string {
	return func(f *fixture, _ *org, r authzRule) string { return f.o.token(sub, scopes(r.base, r.grant)) }
}

func fixedReq(path string, body any) func(*fixture, string) (string, any) {
	return func(*fixture, string) (string, any) { return path, body }
}

func hasItem(t *testing.T, body map[string]any, ids ...string) {
	t.Helper()
	seen := map[string]bool{}
	items, _ := body["items"].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			seen[fmt.Sprint(m["id"])] = true
		}
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("list does not hold %s: %v", id, body)
		}
	}
}

func field(t *testing.T, body map[string]any, name string, want any) {
	t.Helper()
	if fmt.Sprint(body[name]) != fmt.Sprint(want) {
		t.Errorf("%s is %v, want %v: %v", name, body[name], want, body)
	}
}

// authzRules holds every route of api.Routes; a route without a rule fails
// the matrix.
var authzRules = map[string]authzRule{
	"Health": {req: fixedReq("/health", nil), other: 200, member: 200, outsider: 200, allowed: 200},

	"CreateAccount": {
		grant: ledger.ScopeAccountsManage, base: ledger.ScopeAccountsView,
		req: func(f *fixture, cell string) (string, any) {
			if cell == caseOtherTenant {
				// Names and codes are unique per tenant: the first
				// tenant's must not collide (nor tell it exists).
				return "/accounts", map[string]any{"name": f.nameA, "code": f.codeA, "currency": "RON", "kind": "cash"}
			}
			return "/accounts", map[string]any{"name": "Authz New " + teststack.RandomID(), "currency": "RON", "kind": "cash"}
		},
		other: 201, member: 403, outsider: 201, outsiderNoLeak: true, allowed: 201,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "created_by", uMember) },
	},
	"ListAccounts": {
		grant: ledger.ScopeAccountsView, base: ledger.ScopeEntriesView, req: fixedReq("/accounts?limit=200", nil),
		other: 200, member: 403, outsider: 200, outsiderNoLeak: true, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) { hasItem(t, b, f.a, f.b) },
	},
	"GetAccount": {
		grant: ledger.ScopeAccountsView, base: ledger.ScopeEntriesView,
		req:   func(f *fixture, _ string) (string, any) { return "/accounts/" + f.a, nil },
		other: 404, member: 403, outsider: 404, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "id", f.a) },
	},
	"UpdateAccount": {
		grant: ledger.ScopeAccountsManage, base: ledger.ScopeAccountsView,
		req: func(f *fixture, _ string) (string, any) {
			return "/accounts/" + f.a, map[string]any{"name": "Authz Renamed " + teststack.RandomID()}
		},
		other: 404, member: 403, outsider: 404, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "version", 2) },
	},
	"GetBalance": {
		grant: ledger.ScopeAccountsView, base: ledger.ScopeEntriesView,
		req:   func(f *fixture, _ string) (string, any) { return "/accounts/" + f.a + "/balance", nil },
		other: 404, member: 403, outsider: 404, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "balance", "4209.98") },
	},
	"GetHistory": {
		grant: ledger.ScopeAccountsView, base: ledger.ScopeEntriesView,
		req:   func(f *fixture, _ string) (string, any) { return "/accounts/" + f.a + "/history", nil },
		other: 404, member: 403, outsider: 404, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) {
			if items, _ := b["items"].([]any); len(items) != 2 {
				t.Errorf("history of A: %v", b)
			}
		},
	},
	"CreateEntry": {
		grant: ledger.ScopeEntriesCreate, base: scopes(ledger.ScopeAccountsView, ledger.ScopeEntriesView),
		req: func(f *fixture, _ string) (string, any) {
			return "/accounts/" + f.a + "/entries", map[string]any{"type": "credit", "amount": "1.00"}
		},
		other: 404, member: 403, outsider: 404, allowed: 201,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "kind", "entry") },
	},
	"CreateTransfer": {
		grant: ledger.ScopeTransfersCreate, base: scopes(ledger.ScopeAccountsView, ledger.ScopeTransfersView),
		req: func(f *fixture, _ string) (string, any) {
			return "/transfers", map[string]any{"from_account_id": f.a, "to_account_id": f.b, "amount": "2.00"}
		},
		other: 404, member: 403, outsider: 404, allowed: 201,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "kind", "transfer") },
	},
	"CreateWithdrawal": {
		grant: ledger.ScopeWithdrawalsCreate, base: scopes(ledger.ScopeAccountsView, ledger.ScopeWithdrawalsView),
		req: func(f *fixture, _ string) (string, any) {
			return "/accounts/" + f.a + "/withdrawals", map[string]any{"amount": "3.00", "payee": "Shop", "method": "cash"}
		},
		other: 404, member: 403, outsider: 404, allowed: 201,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "status", "posted") },
	},
	"ApproveTransaction": {
		grant: ledger.ScopeWithdrawalsApprove, base: scopes(ledger.ScopeAccountsView, ledger.ScopeWithdrawalsView),
		req:   func(f *fixture, _ string) (string, any) { return "/transactions/" + f.withdrawal + "/approve", nil },
		other: 404, member: 403, outsider: 404, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) {
			field(t, b, "status", "posted")
			field(t, b, "approved_by", uMember)
		},
		variants: []authzCell{
			// Four eyes: the creator, a member holding the permission, is refused.
			{name: "creator-with-permission", token: memberToken(uCreator), want: 403},
			// withdrawals:approve is no right on a transfer: a member
			// who may not view transfers must not learn that this one
			// exists (404, as for an unknown id), nor its kind (409).
			{name: "approve-right-on-a-transfer", want: 404,
				token: func(f *fixture, _ *org, _ authzRule) string {
					return f.o.token(uMember, scopes(ledger.ScopeAccountsView, ledger.ScopeWithdrawalsView, ledger.ScopeWithdrawalsApprove))
				},
				req: func(f *fixture, _ string) (string, any) { return "/transactions/" + f.transfer + "/approve", nil }},
		},
	},
	"RejectTransaction": {
		grant: ledger.ScopeWithdrawalsDelete, base: scopes(ledger.ScopeAccountsView, ledger.ScopeWithdrawalsView),
		req: func(f *fixture, _ string) (string, any) {
			return "/transactions/" + f.withdrawal + "/reject", map[string]any{"reason": "authz check"}
		},
		other: 404, member: 403, outsider: 404, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "status", "rejected") },
	},
	"CreateJournalEntry": {
		grant: ledger.ScopeJournalCreate, base: scopes(ledger.ScopeAccountsView, ledger.ScopeEntriesView),
		req: func(f *fixture, _ string) (string, any) {
			return "/journal-entries", map[string]any{"memo": "authz", "lines": []map[string]any{
				{"account_id": f.a, "type": "debit", "amount": "4.00"}, {"account_id": f.b, "type": "credit", "amount": "4.00"}}}
		},
		other: 404, member: 403, outsider: 404, allowed: 201,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "kind", "journal") },
	},
	// The route has no static scope: visibleTransaction lets a caller
	// holding the kind's view right (or the delete right itself) see it,
	// then Require(delete) answers 403. Without either it is 404.
	"ReverseTransaction": {
		grant: ledger.ScopeTransfersDelete, base: scopes(ledger.ScopeAccountsView, ledger.ScopeTransfersView),
		req: func(f *fixture, _ string) (string, any) {
			return "/transactions/" + f.transfer + "/reverse", map[string]any{"reason": "authz check"}
		},
		other: 404, member: 403, outsider: 404, allowed: 201,
		check: func(t *testing.T, f *fixture, b map[string]any) {
			field(t, b, "kind", "reversal")
			field(t, b, "reverses", f.transfer)
		},
		variants: []authzCell{{name: "member-without-view-or-delete", want: 404,
			token: func(f *fixture, _ *org, _ authzRule) string {
				return f.o.token(uMember, scopes(ledger.ScopeAccountsView, ledger.ScopeEntriesView, ledger.ScopeEntriesDelete))
			}}},
	},
	"GetTransaction": {
		grant: ledger.ScopeTransfersView, base: scopes(ledger.ScopeAccountsView, ledger.ScopeEntriesView),
		req:   func(f *fixture, _ string) (string, any) { return "/transactions/" + f.transfer, nil },
		other: 404, member: 404, outsider: 404, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "id", f.transfer) },
	},
	"ListTransactions": {
		grant: ledger.ScopeTransfersView, base: scopes(ledger.ScopeAccountsView, ledger.ScopeEntriesView),
		req: func(f *fixture, cell string) (string, any) {
			if cell == caseOtherTenant {
				return "/transactions?limit=200", nil // as accounts:all: the whole (other) tenant
			}
			return "/transactions?account_id=" + f.a + "&kind=transfer", nil
		},
		other: 200, member: 403, outsider: 404, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) { hasItem(t, b, f.transfer) },
		variants: []authzCell{{name: "other-tenant-admin-by-account", otherTenant: true, want: 404,
			token: otherAdmin,
			req: func(f *fixture, _ string) (string, any) {
				return "/transactions?account_id=" + f.a, nil
			}}},
	},
	"ClosePeriod": {
		grant: ledger.ScopePeriodsClose, base: ledger.ScopeAccountsView, req: fixedReq("/periods/2020-01/close", nil),
		other: 200, member: 403, outsider: 200, outsiderNoLeak: true, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) { field(t, b, "period", "2020-01") },
	},
	"ListPeriods": {
		base: ledger.ScopeAccountsView, req: fixedReq("/periods", nil),
		other: 200, member: 200, outsider: 200, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) {
			if items, _ := b["items"].([]any); len(items) != 1 || items[0].(map[string]any)["period"] != "2019-12" {
				t.Errorf("periods: %v", b)
			}
		},
	},
	"ListAudit": {
		grant: ledger.ScopeAuditView, base: ledger.ScopeAccountsView, req: fixedReq("/audit?limit=200", nil),
		other: 200, member: 403, outsider: 200, allowed: 200,
		check: func(t *testing.T, f *fixture, b map[string]any) {
			if raw, _ := json.Marshal(b); !strings.Contains(string(raw), f.withdrawal) {
				t.Errorf("the audit trail does not name the fixture's withdrawal: %s", raw)
			}
		},
		variants: []authzCell{{name: "other-tenant-admin-by-account", otherTenant: true, noLeak: true, want: 200,
			token: otherAdmin,
			req: func(f *fixture, _ string) (string, any) {
				return "/audit?account_id=" + f.a, nil
			}}},
	},
}

func otherAdmin(_ *fixture, other *org, _ authzRule) string { return other.admin }

// adminClaims are the claims of a first-tenant admin token expiring at exp.
func adminClaims(tenant string, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": localauth.Issuer, "aud": localauth.Audience, "sub": "u_admin", "tenant": tenant,
		"scope": "admin", "iat": time.Now().Unix(), "exp": exp.Unix()}
}

func signWith(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		panic(err)
	}
	return tok
}

// publicKeyPEM is the stack's public key as a PEM file: what an attacker
// has, and what an HS256 "confusion" token is signed with.
func publicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(&stack.Key.PublicKey)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// badTokenCases are cases 1 to 5: each would be an admin of the first
// tenant if the gateway believed it.
func badTokenCases(foreign *rsa.PrivateKey) []authzCell {
	sign := func(key *rsa.PrivateKey, tok localauth.Token) func(*fixture, *org, authzRule) string {
		return func(f *fixture, _ *org, _ authzRule) string {
			tok.Tenant = f.o.tenant
			s, err := localauth.Sign(key, tok, time.Now())
			if err != nil {
				panic(err)
			}
			return s
		}
	}
	admin := localauth.Token{Sub: "u_admin", Scope: "admin", TTL: time.Hour}
	expired, wrongAud := admin, admin
	expired.TTL = -time.Hour
	wrongAud.Audience = "some-other-api"
	return []authzCell{
		{name: caseNoToken, token: func(*fixture, *org, authzRule) string { return "" }},
		{name: caseExpired, token: sign(stack.Key, expired)},
		{name: caseForeignKey, token: sign(foreign, admin)},
		{name: caseWrongAudience, token: sign(stack.Key, wrongAud)},
		{name: caseAlgNone, token: func(f *fixture, _ *org, _ authzRule) string {
			return signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, adminClaims(f.o.tenant, time.Now().Add(time.Hour)))
		}},
		{name: caseHS256, token: func(f *fixture, _ *org, _ authzRule) string {
			return signWith(jwt.SigningMethodHS256, publicKeyPEM(), adminClaims(f.o.tenant, time.Now().Add(time.Hour)))
		}},
	}
}

// matrixCells generates the cells of one route.
func matrixCells(rt api.Route, r authzRule, foreign *rsa.PrivateKey) []authzCell {
	cells := badTokenCases(foreign)
	for i := range cells {
		cells[i].want = 401
	}
	// Case 6 on a route that names none of the first tenant's objects
	// succeeds in the other tenant and must show nothing of the first.
	otherNoObject := r.other >= 200 && r.other < 300
	cells = append(cells,
		authzCell{name: caseOtherTenant, token: otherAdmin, want: r.other, otherTenant: true, noLeak: otherNoObject},
		authzCell{name: caseMember, token: func(f *fixture, _ *org, r authzRule) string { return f.o.token(uMember, r.base) }, want: r.member},
		authzCell{name: caseOutsider, token: memberToken(uOutsider), want: r.outsider, noLeak: r.outsiderNoLeak},
	)
	cells = append(cells, r.variants...)
	// Success last, as it may change what the cells before it need.
	cells = append(cells, authzCell{name: caseAllowed, token: memberToken(uMember), want: r.allowed, check: r.check})
	for i := range cells {
		if rt.Public {
			cells[i].want = 200
			cells[i].check = func(t *testing.T, _ *fixture, b map[string]any) { field(t, b, "status", "ok") }
		}
		if cells[i].req == nil {
			cells[i].req = r.req
		}
	}
	return cells
}

var idPattern = regexp.MustCompile(`(acc|txn)_[0-9A-HJKMNP-TV-Z]{26}`)

// normalized is a body with every id replaced, to compare two answers that
// differ only in the id they name.
func normalized(b []byte) string { return idPattern.ReplaceAllString(string(b), "<id>") }

func TestAuthzMatrix(t *testing.T) {
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, rt := range api.Routes {
		names[rt.Name] = true
		if _, ok := authzRules[rt.Name]; !ok {
			t.Errorf("route %s (%s) has no authorization rule in authzRules: add one", rt.Name, rt.Pattern())
		}
	}
	for name := range authzRules {
		if !names[name] {
			t.Errorf("authzRules has a rule for %s, which is not a route", name)
		}
	}
	n := 0
	for _, rt := range api.Routes {
		rule, ok := authzRules[rt.Name]
		if !ok {
			continue
		}
		t.Run(rt.Name, func(t *testing.T) {
			f := newFixture(t)
			before := f.state(t)
			other := newOrg(t)
			for _, c := range matrixCells(rt, rule, foreign) {
				n++
				var status int
				t.Run(c.name, func(t *testing.T) { status = runAuthzCell(t, rt, rule, c, f, other, before) })
				if status >= 200 && status < 300 && rt.Method != "GET" && !c.otherTenant {
					// A success changed the first tenant: the next cell
					// gets a fresh one.
					f = newFixture(t)
					before = f.state(t)
				}
			}
		})
	}
	t.Logf("authorization matrix: %d cells", n)
}

// runAuthzCell runs one cell and answers the status it got.
func runAuthzCell(t *testing.T, rt api.Route, r authzRule, c authzCell, f *fixture, other *org, before tenantState) int {
	path, body := c.req(f, c.name)
	// The request must reach the route under test.
	mux := http.NewServeMux()
	mux.HandleFunc(rt.Pattern(), func(http.ResponseWriter, *http.Request) {})
	if _, pat := mux.Handler(httptest.NewRequest(rt.Method, path, nil)); pat != rt.Pattern() {
		t.Fatalf("the request %s %s does not match route %s", rt.Method, path, rt.Pattern())
	}
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	token := c.token(f, other, r)
	send := func(path string, raw []byte) *teststack.Response {
		if raw == nil {
			return stack.Do(t, rt.Method, path, token, nil)
		}
		return stack.Do(t, rt.Method, path, token, raw)
	}
	res := send(path, raw)
	sent := path + " " + string(raw)
	if res.Status != c.want {
		t.Errorf("%s %s: status %d, want %d: %s", rt.Method, path, res.Status, c.want, res.Body)
	}
	ok := res.Status >= 200 && res.Status < 300
	if ok {
		if c.noLeak {
			if l := f.leaks(res.Body, sent); len(l) > 0 {
				t.Errorf("the answer shows the first tenant's %v: %s", l, res.Body)
			}
		}
		if c.otherTenant {
			f.unchanged(t, before)
		}
		if c.check != nil && res.Status == c.want {
			var m map[string]any
			res.JSON(t, &m)
			c.check(t, f, m)
		}
		return res.Status
	}
	// Denied: nothing shown, nothing written.
	if l := f.leaks(res.Body, sent); len(l) > 0 {
		t.Errorf("the refusal shows %v: %s", l, res.Body)
	}
	switch res.Status {
	case 401:
		if c.want == 401 && string(res.Body) != gatewayUnauthorized {
			t.Errorf("401 is not the gateway's own answer: %s", res.Body)
		}
	case 403, 404:
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type %q, want application/problem+json", ct)
		}
		var p map[string]any
		res.JSON(t, &p)
		want := map[int]string{403: "forbidden", 404: "not-found"}[res.Status]
		if p["type"] != want || p["status"] != float64(res.Status) {
			t.Errorf("problem type %v status %v, want %s: %s", p["type"], p["status"], want, res.Body)
		}
	}
	if res.Status == 404 {
		// A hidden object reads exactly like an unknown one.
		upath, uraw := path, string(raw)
		for _, id := range []string{f.a, f.b, f.transfer, f.withdrawal} {
			unknown := ledger.NewID(id[:4], time.Now())
			upath, uraw = strings.ReplaceAll(upath, id, unknown), strings.ReplaceAll(uraw, id, unknown)
		}
		var ub []byte
		if raw != nil {
			ub = []byte(uraw)
		}
		if upath == path && uraw == string(raw) {
			t.Errorf("404 for a request that names no fixture object: %s %s", path, raw)
		} else if u := send(upath, ub); u.Status != 404 || normalized(u.Body) != normalized(res.Body) {
			t.Errorf("a hidden object reads differently from an unknown one:\nhidden:  %d %s\nunknown: %d %s", res.Status, res.Body, u.Status, u.Body)
		}
	}
	f.unchanged(t, before)
	return res.Status
}

// TestTokenHardening checks what the local gateway (standing in for the
// HTTP API JWT authorizer) and the function accept as a caller.
func TestTokenHardening(t *testing.T) {
	o := newOrg(t)
	id := o.account(map[string]any{"name": "Hardening", "currency": "RON", "kind": "cash"})["id"].(string)
	now := time.Now()
	valid := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := adminClaims(o.tenant, now.Add(time.Hour))
		if mod != nil {
			mod(c)
		}
		return c
	}
	rs256 := func(mod func(jwt.MapClaims)) string { return signWith(jwt.SigningMethodRS256, stack.Key, valid(mod)) }
	b64 := func(v any) string {
		raw, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	// unsigned builds header.payload. by hand, for alg spellings the
	// library will not produce.
	unsigned := func(alg string) string {
		return b64(map[string]string{"alg": alg, "typ": "JWT"}) + "." + b64(valid(nil)) + "."
	}
	der, err := x509.MarshalPKIXPublicKey(&stack.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// A valid token of this tenant with its payload swapped for another
	// tenant's, the signature kept.
	tampered := func() string {
		parts := strings.Split(rs256(nil), ".")
		return parts[0] + "." + b64(valid(func(c jwt.MapClaims) { c["tenant"] = "t_victim" })) + "." + parts[2]
	}()
	const (
		accepted  = iota
		gateway   // 401, API Gateway's own body
		function  // 401 problem+json from the function
		forbidden // 403 problem+json: the caller lacks the scope
	)
	cases := []struct {
		name   string
		header string // Authorization
		want   int
	}{
		{"valid", "Bearer " + rs256(nil), accepted},
		{"alg-none", "Bearer " + signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid(nil)), gateway},
		{"alg-None", "Bearer " + unsigned("None"), gateway},
		{"alg-NONE", "Bearer " + unsigned("NONE"), gateway},
		{"hs256-public-key-pem", "Bearer " + signWith(jwt.SigningMethodHS256, publicKeyPEM(), valid(nil)), gateway},
		{"hs256-public-key-der", "Bearer " + signWith(jwt.SigningMethodHS256, der, valid(nil)), gateway},
		{"rs512-right-key", "Bearer " + signWith(jwt.SigningMethodRS512, stack.Key, valid(nil)), gateway},
		{"foreign-key", "Bearer " + signWith(jwt.SigningMethodRS256, foreign, valid(nil)), gateway},
		{"tampered-payload", "Bearer " + tampered, gateway},
		{"missing-exp", "Bearer " + rs256(func(c jwt.MapClaims) { delete(c, "exp") }), gateway},
		{"expired-within-leeway", "Bearer " + rs256(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }), accepted},
		{"expired-beyond-leeway", "Bearer " + rs256(func(c jwt.MapClaims) { c["exp"] = now.Add(-60 * time.Second).Unix() }), gateway},
		{"expired-an-hour-ago", "Bearer " + rs256(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), gateway},
		{"not-yet-valid", "Bearer " + rs256(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), gateway},
		{"wrong-issuer", "Bearer " + rs256(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/issuer" }), gateway},
		{"wrong-audience", "Bearer " + rs256(func(c jwt.MapClaims) { c["aud"] = "some-other-api" }), gateway},
		{"no-bearer-scheme", rs256(nil), gateway},
		{"missing-tenant", "Bearer " + rs256(func(c jwt.MapClaims) { delete(c, "tenant") }), function},
		{"empty-tenant", "Bearer " + rs256(func(c jwt.MapClaims) { c["tenant"] = "" }), function},
		{"missing-sub", "Bearer " + rs256(func(c jwt.MapClaims) { delete(c, "sub") }), function},
		{"empty-sub", "Bearer " + rs256(func(c jwt.MapClaims) { c["sub"] = "" }), function},
		{"sub-only-spaces", "Bearer " + rs256(func(c jwt.MapClaims) { c["sub"] = "   " }), function},
		{"sub-with-newline", "Bearer " + rs256(func(c jwt.MapClaims) { c["sub"] = "u_alice\nadmin" }), function},
		{"sub-129-characters", "Bearer " + rs256(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("u", 129) }), function},
		{"sub-128-two-byte-characters", "Bearer " + rs256(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("é", 128) }), accepted},
		{"issued-in-the-future", "Bearer " + rs256(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), gateway},
		{"scope-as-json-array", "Bearer " + rs256(func(c jwt.MapClaims) { c["scope"] = []any{"accounts:view", "accounts:all"} }), accepted},
		{"scope-array-first-position", "Bearer " + rs256(func(c jwt.MapClaims) { c["scope"] = []any{"accounts:all", "entries:view", "accounts:view"} }), accepted},
		{"scope-tab-separated", "Bearer " + rs256(func(c jwt.MapClaims) { c["scope"] = "accounts:view\taccounts:all" }), forbidden},
	}
	for _, bad := range []struct{ name, tenant string }{
		{"slash", "acme/finance"}, {"space", "acme finance"}, {"dot-dot-slash", "../acme"}, {"colon", "acme:1"},
		{"hash", "acme#1"}, {"star", "acme*"}, {"percent", "acme%2F"}, {"non-ascii", "acmé"}, {"nul", "acme\x00"},
		{"newline", "acme\n"}, {"pipe", "acme|x"}, {"quote", `acme"x`},
	} {
		cases = append(cases, struct {
			name   string
			header string
			want   int
		}{"tenant-with-" + bad.name, "Bearer " + rs256(func(c jwt.MapClaims) { c["tenant"] = bad.tenant }), function})
	}
	// Every character the pattern allows is accepted.
	okTenant := "T_ok.x-9" + teststack.RandomID()
	cases = append(cases, struct {
		name   string
		header string
		want   int
	}{"tenant-allowed-characters", "Bearer " + rs256(func(c jwt.MapClaims) { c["tenant"] = okTenant }), accepted})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := stack.Do(t, "GET", "/accounts/"+id, "", nil, "Authorization", c.header)
			switch c.want {
			case accepted:
				if c.name == "tenant-allowed-characters" {
					// Another tenant: the account is not found, but the caller is.
					if r.Status != 404 {
						t.Fatalf("status %d, want 404 (caller accepted): %s", r.Status, r.Body)
					}
					return
				}
				if r.Status != 200 {
					t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
				}
			case gateway:
				if r.Status != 401 || string(r.Body) != gatewayUnauthorized {
					t.Fatalf("status %d %s, want the gateway's 401 %s", r.Status, r.Body, gatewayUnauthorized)
				}
			case forbidden:
				if r.Status != 403 || r.Header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("status %d %s, want 403 problem+json", r.Status, r.Body)
				}
			case function:
				if r.Status != 401 || r.Header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("status %d (%s) %s, want 401 problem+json from the function", r.Status, r.Header.Get("Content-Type"), r.Body)
				}
				p := r.Map(t)
				if p["type"] != "unauthenticated" || p["status"] != float64(401) {
					t.Fatalf("problem: %s", r.Body)
				}
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Errorf("no X-Request-Id")
			}
		})
	}
	// The public route needs no token and ignores a bad one.
	for _, h := range []string{"", "Bearer " + unsigned("none"), "Bearer garbage"} {
		r := stack.Do(t, "GET", "/health", "", nil, "Authorization", h)
		if r.Status != 200 || string(r.Body) != `{"status":"ok"}` {
			t.Errorf("health with Authorization %q: %d %s", h, r.Status, r.Body)
		}
	}
}

// TestActingNeedsTheViewRight: approve, reject and reverse worked without
// the kind's view right and answered the whole transaction; and approving
// a posted withdrawal one may not see answered 409 "is posted" where an
// unknown id is 404. What a caller may not see is 404 on every route.
func TestActingNeedsTheViewRight(t *testing.T) {
	o := newOrg(t)
	members := []string{"u_alice", "u_bob", "u_carol"}
	a := o.account(map[string]any{"name": "Act A", "currency": "RON", "kind": "cash", "opening_balance": "1000.00",
		"approval_threshold": "500.00", "members": members})["id"].(string)
	b := o.account(map[string]any{"name": "Act B", "currency": "RON", "kind": "cash", "members": members})["id"].(string)
	alice := o.token("u_alice", "accounts:view withdrawals:create withdrawals:view")
	pending := o.must(201, "POST", "/accounts/"+a+"/withdrawals", alice, map[string]any{"amount": "600.00", "method": "cash"})["id"].(string)
	posted := o.must(201, "POST", "/accounts/"+a+"/withdrawals", alice, map[string]any{"amount": "10.00", "method": "cash"})["id"].(string)
	transfer := o.must(201, "POST", "/transfers", o.admin, map[string]any{"from_account_id": a, "to_account_id": b, "amount": "5.00"})["id"].(string)
	unknown := "txn_01M00000000000000000000000"

	approver := o.token("u_bob", "accounts:view withdrawals:approve")
	rejecter := o.token("u_bob", "accounts:view withdrawals:delete")
	reverser := o.token("u_carol", "accounts:view transfers:delete")
	cases := []struct {
		name, token, path string
		body              any
	}{
		{"approve without withdrawals:view", approver, "/transactions/" + pending + "/approve", nil},
		{"approve a posted one without withdrawals:view", approver, "/transactions/" + posted + "/approve", nil},
		{"approve an unknown id", approver, "/transactions/" + unknown + "/approve", nil},
		{"reject without withdrawals:view", rejecter, "/transactions/" + pending + "/reject", map[string]any{"reason": "no"}},
		{"reverse a transfer without transfers:view", reverser, "/transactions/" + transfer + "/reverse", map[string]any{}},
	}
	var bodies []string
	for _, c := range cases {
		r := o.do("POST", c.path, c.token, c.body)
		if r.Status != 404 {
			t.Errorf("%s: status %d, want 404: %s", c.name, r.Status, r.Body)
			continue
		}
		p := r.Map(t)
		bodies = append(bodies, fmt.Sprint(p["type"], p["title"], p["detail"]))
	}
	for i := 1; i < len(bodies); i++ {
		if bodies[i] != bodies[0] {
			t.Errorf("404 bodies differ, so they tell what exists: %q vs %q", bodies[i], bodies[0])
		}
	}
	// Nothing moved: the withdrawal still waits, the transfer stands.
	if got := o.must(200, "GET", "/transactions/"+pending, o.admin, nil)["status"]; got != "pending" {
		t.Errorf("withdrawal %v, want pending", got)
	}
	if got := o.must(200, "GET", "/transactions/"+transfer, o.admin, nil)["status"]; got != "posted" {
		t.Errorf("transfer %v, want posted", got)
	}
	// With the view right as well, acting works.
	bob := o.token("u_bob", "accounts:view withdrawals:view withdrawals:approve")
	if got := o.must(200, "POST", "/transactions/"+pending+"/approve", bob, nil)["status"]; got != "posted" {
		t.Errorf("approved withdrawal %v, want posted", got)
	}
	o.checkZeroSum()
}
