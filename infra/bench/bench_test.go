package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/lambdaapi"
	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/money"
)

// The CPU one request costs inside the function, apart from DynamoDB:
//
//   - BenchmarkHandler runs a route's Lambda handler as the function does
//     (lambdaapi.Adapt: the api-proxy adapter, the middleware, the caller
//     from the JWT claims, strict JSON decoding, the permission and
//     membership checks, the domain rule, the store's reads and item
//     building, the answer's JSON and the request's EMF log line, written
//     to io.Discard) on a payload-2.0 event, with memDB in place of
//     DynamoDB at the store's dynamo.API interface. Left out: the SDK's
//     request serialisation, signing and HTTP, and the Lambda runtime's own
//     event and response JSON.
//   - BenchmarkDomain runs the domain builders alone.
//
// Run: go test -run '^$' -bench . -benchmem ./infra/bench/

// rig is a server on memDB with accounts to post between.
type rig struct {
	db       *memDB
	handlers map[string]lambdaapi.Handler
	accounts []string
}

func newRig(tb testing.TB, accounts int) *rig { return newRigWith(tb, accounts, io.Discard, false) }

// newRigWith logs to w and, with meter, puts a Meter between the store and
// memDB.
func newRigWith(tb testing.TB, accounts int, w io.Writer, meter bool) *rig {
	tb.Helper()
	db := newMemDB()
	var dbAPI dynamo.API = db
	if meter {
		dbAPI = NewMeter(db)
	}
	srv := api.NewServer(app.New(dynamo.New(dbAPI, "bench")), slog.New(slog.NewJSONHandler(w, nil)))
	r := &rig{db: db, handlers: map[string]lambdaapi.Handler{}}
	for _, rt := range api.Routes {
		r.handlers[rt.Name] = lambdaapi.Adapt(srv, rt.Name)
	}
	for i := 0; i < accounts; i++ {
		res := r.invoke(tb, "CreateAccount", "POST", "/accounts", nil, fmt.Sprintf(
			`{"name":"Pool %d","currency":"RON","kind":"cash","opening_balance":"1000000.00"}`, i), "open-"+strconv.Itoa(i))
		if res.StatusCode != 201 {
			tb.Fatalf("create account: %d %s", res.StatusCode, res.Body)
		}
		var a struct{ ID string }
		if err := json.Unmarshal([]byte(res.Body), &a); err != nil {
			tb.Fatal(err)
		}
		r.accounts = append(r.accounts, a.ID)
	}
	db.frozen = true
	return r
}

var claims = map[string]string{"sub": "u_bench", "tenant": "t_bench", "scope": "admin",
	"iss": "https://issuer.example", "aud": "treasury-api", "exp": "1795432500", "iat": "1795428900"}

// event builds the payload-2.0 event API Gateway sends for a request.
func event(route, method, path string, params map[string]string, body, idemKey string) events.APIGatewayV2HTTPRequest {
	rt, _ := api.RouteNamed(route)
	raw, query, _ := strings.Cut(path, "?")
	h := map[string]string{"accept": "application/json", "user-agent": "bench/1.0", "host": "abc123.execute-api.us-east-1.amazonaws.com"}
	if body != "" {
		h["content-type"] = "application/json"
	}
	if idemKey != "" {
		h["idempotency-key"] = idemKey
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: rt.Pattern(), RawPath: raw, RawQueryString: query, Headers: h, PathParameters: params, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rt.Pattern(), AccountID: "123456789012", Stage: "$default", RequestID: "bench-request", APIID: "abc123",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: raw, Protocol: "HTTP/1.1", SourceIP: "203.0.113.10", UserAgent: "bench/1.0"},
		},
	}
	if !rt.Public {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}}
	}
	return ev
}

func (r *rig) invoke(tb testing.TB, route, method, path string, params map[string]string, body, idemKey string) events.APIGatewayV2HTTPResponse {
	res, err := r.handlers[route](context.Background(), event(route, method, path, params, body, idemKey))
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// handlerCase is one request sent again and again; i numbers the request.
type handlerCase struct {
	name     string
	accounts int
	want     int
	request  func(r *rig, i int) (route, method, path string, params map[string]string, body, key string)
}

// journalBody is a voucher over n accounts, 2.00 each way; odd i mirrors
// even i, so that balances come back.
func journalBody(accounts []string, n, i int) string {
	var b strings.Builder
	b.WriteString(`{"memo":"Bench","lines":[`)
	for j, id := range accounts[:n] {
		typ := "debit"
		if (j+i)%2 == 1 {
			typ = "credit"
		}
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"account_id":%q,"type":%q,"amount":"2.00"}`, id, typ)
	}
	b.WriteString("]}")
	return b.String()
}

var handlerCases = []handlerCase{
	{"Health", 0, 200, func(*rig, int) (string, string, string, map[string]string, string, string) {
		return "Health", "GET", "/health", nil, "", ""
	}},
	{"GetBalance", 1, 200, func(r *rig, i int) (string, string, string, map[string]string, string, string) {
		id := r.accounts[0]
		return "GetBalance", "GET", "/accounts/" + id + "/balance", map[string]string{"id": id}, "", ""
	}},
	{"CreateEntry", 1, 201, func(r *rig, i int) (string, string, string, map[string]string, string, string) {
		typ := [2]string{"credit", "debit"}[i%2]
		id := r.accounts[0]
		return "CreateEntry", "POST", "/accounts/" + id + "/entries", map[string]string{"id": id},
			`{"type":"` + typ + `","amount":"1.00","memo":"Bench"}`, "entry-" + strconv.Itoa(i)
	}},
	{"CreateTransfer", 2, 201, func(r *rig, i int) (string, string, string, map[string]string, string, string) {
		from, to := r.accounts[i%2], r.accounts[1-i%2]
		return "CreateTransfer", "POST", "/transfers", nil,
			`{"from_account_id":"` + from + `","to_account_id":"` + to + `","amount":"150.00","memo":"Monthly float"}`, "transfer-" + strconv.Itoa(i)
	}},
	{"CreateJournalEntry10Lines", 10, 201, func(r *rig, i int) (string, string, string, map[string]string, string, string) {
		return "CreateJournalEntry", "POST", "/journal-entries", nil, journalBody(r.accounts, 10, i), "journal-" + strconv.Itoa(i)
	}},
}

func BenchmarkHandler(b *testing.B) {
	for _, c := range handlerCases {
		b.Run(c.name, func(b *testing.B) {
			r := newRig(b, c.accounts)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				route, method, path, params, body, key := c.request(r, i)
				if res := r.invoke(b, route, method, path, params, body, key); res.StatusCode != c.want {
					b.Fatalf("%s: %d %s", c.name, res.StatusCode, res.Body)
				}
				i++
			}
		})
	}
}

// Every handler case answers as the benchmark expects, a few times over.
func TestHandlerCasesAnswer(t *testing.T) {
	for _, c := range handlerCases {
		r := newRig(t, c.accounts)
		for i := 0; i < 4; i++ {
			route, method, path, params, body, key := c.request(r, i)
			if res := r.invoke(t, route, method, path, params, body, key); res.StatusCode != c.want {
				t.Fatalf("%s #%d: %d %s", c.name, i, res.StatusCode, res.Body)
			}
		}
	}
}

// Domain fixtures: funds-checked RON accounts the caller is a member of.
func benchAccount(id string) *ledger.Account {
	ron, _ := money.LookupCurrency("RON")
	now := time.Now().Add(-time.Hour)
	return &ledger.Account{ID: id, Name: "Account " + id, Kind: ledger.KindCash, Currency: ron, Status: ledger.StatusActive,
		Balance: decimal.RequireFromString("1000000.00"), Members: []string{"u_bench"}, Metadata: json.RawMessage("{}"),
		FundsChecked: true, CreatedAt: now, CreatedBy: "u_bench", UpdatedAt: now, Version: 1, Seq: 10, LastPostedAt: now}
}

func accountIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = ledger.NewID(ledger.AccountPrefix, time.Now())
	}
	return ids
}

type domainCase struct {
	name string
	run  func(actor ledger.Actor) (*ledger.Booking, error)
}

func domainCases() []domainCase {
	ids := accountIDs(10)
	accs := map[string]*ledger.Account{}
	for _, id := range ids {
		accs[id] = benchAccount(id)
	}
	var lines []ledger.JournalLineInput
	for j, id := range ids {
		lines = append(lines, ledger.JournalLineInput{AccountID: id, Type: [2]string{ledger.Debit, ledger.Credit}[j%2], Amount: "2.00"})
	}
	details := ledger.Details{Memo: "Monthly float"}
	return []domainCase{
		{"Entry", func(a ledger.Actor) (*ledger.Booking, error) {
			return ledger.Entry(accs[ids[0]], ledger.EntryInput{Type: ledger.Credit, Amount: "1.00", Details: details}, a)
		}},
		{"Transfer", func(a ledger.Actor) (*ledger.Booking, error) {
			return ledger.Transfer(accs[ids[0]], accs[ids[1]], ledger.TransferInput{FromAccountID: ids[0], ToAccountID: ids[1], Amount: "150.00", Details: details}, a)
		}},
		{"Journal10Lines", func(a ledger.Actor) (*ledger.Booking, error) {
			return ledger.Journal(accs, ledger.JournalInput{Lines: lines, Details: details}, a)
		}},
	}
}

func BenchmarkDomain(b *testing.B) {
	for _, c := range domainCases() {
		b.Run(c.name, func(b *testing.B) {
			actor := ledger.Actor{Sub: "u_bench", Now: time.Now()}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.run(actor); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestDomainCasesBook(t *testing.T) {
	for _, c := range domainCases() {
		bk, err := c.run(ledger.Actor{Sub: "u_bench", Now: time.Now()})
		if err != nil || bk == nil || len(bk.Updates) == 0 {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}
