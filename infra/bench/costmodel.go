package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/treasuryledger/treasury/infra/teststack"
	"github.com/treasuryledger/treasury/shared/api"
)

// Fixture is the tenant the cost model works in: accounts with history,
// withdrawals waiting for approval, transfers to reverse.
type Fixture struct {
	Tenant          string
	Admin, Approver string // tokens: u_admin and u_approver, both admin
	// A holds 1,000,000.00 RON and holds withdrawals of 500.00 or more for
	// approval; B holds 100.00 RON and 60 history lines (a full page of 50).
	A, B     string
	EUR, USD string
	// Ten RON accounts for a journal of ten lines.
	Journal []string
	// One each per sample (and warm-up) of approve, reject and reverse.
	Pending, Pending2, Transfers []string
	// Txn is a posted transfer to read.
	Txn   string
	Today string
}

// Case is one kind of request of one route.
type Case struct {
	Route   string
	Variant string // "" for the route's usual request
	Show    string // the request as the table shows it
	Want    int
	Req     func(f *Fixture, i int) Request
}

// Cases are the requests the cost model sends, every route at least once.
// Each POST carries an Idempotency-Key, as a client that retries safely
// sends it (its record is part of the write).
func Cases() []Case {
	get := func(route, show, path string) Case {
		return Case{Route: route, Show: "GET " + show, Want: 200, Req: func(f *Fixture, i int) Request {
			return Request{Method: "GET", Path: strings.NewReplacer("{A}", f.A, "{B}", f.B, "{T}", f.Txn, "{today}", f.Today).Replace(path), Token: f.Admin}
		}}
	}
	post := func(route, show string, want int, req func(f *Fixture, i int) Request) Case {
		return Case{Route: route, Show: "POST " + show, Want: want, Req: func(f *Fixture, i int) Request {
			r := req(f, i)
			if r.Method == "" {
				r.Method = "POST"
			}
			if r.Token == "" {
				r.Token = f.Admin
			}
			r.IdempotencyKey = fmt.Sprintf("cost-%s-%d-%d", route, i, time.Now().UnixNano())
			return r
		}}
	}
	variant := func(c Case, v string) Case { c.Variant = v; return c }
	journal := func(f *Fixture, n int, i int) Request {
		var lines []map[string]any
		for j, id := range f.Journal[:n] {
			typ := "debit"
			if (j+i)%2 == 1 {
				typ = "credit"
			}
			lines = append(lines, map[string]any{"account_id": id, "type": typ, "amount": "2.00"})
		}
		return Request{Path: "/journal-entries", Body: map[string]any{"lines": lines, "memo": "Cost model"}}
	}
	health := get("Health", "/health", "/health")
	health.Req = func(*Fixture, int) Request { return Request{Method: "GET", Path: "/health"} }
	return []Case{
		health,
		post("CreateAccount", "/accounts (opening balance 10.00)", 201, func(f *Fixture, i int) Request {
			return Request{Path: "/accounts", Body: map[string]any{"name": fmt.Sprintf("New %d", i), "currency": "RON", "kind": "wallet", "opening_balance": "10.00"}}
		}),
		get("ListAccounts", "/accounts?limit=50", "/accounts?limit=50"),
		get("GetAccount", "/accounts/{id}", "/accounts/{A}"),
		{Route: "UpdateAccount", Show: "PATCH /accounts/{id} (rename)", Want: 200, Req: func(f *Fixture, i int) Request {
			return Request{Method: "PATCH", Path: "/accounts/" + f.B, Token: f.Admin, Body: map[string]any{"name": fmt.Sprintf("B %d", i)}}
		}},
		get("GetBalance", "/accounts/{id}/balance", "/accounts/{A}/balance"),
		variant(get("GetBalance", "/accounts/{id}/balance?as_of=today", "/accounts/{B}/balance?as_of={today}"), "as_of"),
		get("GetHistory", "/accounts/{id}/history?limit=50 (a full page)", "/accounts/{B}/history?limit=50"),
		post("CreateEntry", "/accounts/{id}/entries", 201, func(f *Fixture, i int) Request {
			return Request{Path: "/accounts/" + f.A + "/entries", Body: map[string]any{"type": "credit", "amount": "1.00", "memo": "Cost model"}}
		}),
		post("CreateTransfer", "/transfers", 201, func(f *Fixture, i int) Request {
			return Request{Path: "/transfers", Body: map[string]any{"from_account_id": f.A, "to_account_id": f.B, "amount": "1.00", "memo": "Cost model"}}
		}),
		variant(post("CreateTransfer", "/transfers EUR → USD", 201, func(f *Fixture, i int) Request {
			return Request{Path: "/transfers", Body: map[string]any{"from_account_id": f.EUR, "to_account_id": f.USD, "amount": "100.00", "to_amount": "123.32", "memo": "Cost model"}}
		}), "exchange"),
		post("CreateWithdrawal", "/accounts/{id}/withdrawals", 201, func(f *Fixture, i int) Request {
			return Request{Path: "/accounts/" + f.A + "/withdrawals", Body: map[string]any{"amount": "1.00", "payee": "Cost model"}}
		}),
		variant(post("CreateWithdrawal", "/accounts/{id}/withdrawals (held for approval)", 201, func(f *Fixture, i int) Request {
			return Request{Path: "/accounts/" + f.A + "/withdrawals", Body: map[string]any{"amount": "600.00", "payee": "Cost model"}}
		}), "pending"),
		post("ApproveTransaction", "/transactions/{id}/approve", 200, func(f *Fixture, i int) Request {
			return Request{Path: "/transactions/" + f.Pending[i] + "/approve", Token: f.Approver}
		}),
		post("RejectTransaction", "/transactions/{id}/reject", 200, func(f *Fixture, i int) Request {
			return Request{Path: "/transactions/" + f.Pending2[i] + "/reject", Token: f.Approver, Body: map[string]any{"reason": "Cost model"}}
		}),
		post("CreateJournalEntry", "/journal-entries (2 lines)", 201, func(f *Fixture, i int) Request { return journal(f, 2, i) }),
		variant(post("CreateJournalEntry", "/journal-entries (10 lines)", 201, func(f *Fixture, i int) Request { return journal(f, 10, i) }), "10 lines"),
		post("ReverseTransaction", "/transactions/{id}/reverse", 201, func(f *Fixture, i int) Request {
			return Request{Path: "/transactions/" + f.Transfers[i] + "/reverse"}
		}),
		get("GetTransaction", "/transactions/{id}", "/transactions/{T}"),
		get("ListTransactions", "/transactions?limit=50", "/transactions?limit=50"),
		variant(get("ListTransactions", "/transactions?account_id={id}&limit=50", "/transactions?account_id={A}&limit=50"), "account"),
		post("ClosePeriod", "/periods/{period}/close", 200, func(f *Fixture, i int) Request {
			return Request{Path: fmt.Sprintf("/periods/%04d-%02d/close", 2001+i/12, i%12+1)}
		}),
		get("ListPeriods", "/periods", "/periods"),
		get("ListAudit", "/audit?limit=50", "/audit?limit=50"),
	}
}

// MissingRoutes lists the routes of api.Routes that no case requests.
func MissingRoutes(cases []Case) []string {
	have := map[string]bool{}
	for _, c := range cases {
		have[c.Route] = true
	}
	var missing []string
	for _, rt := range api.Routes {
		if !have[rt.Name] {
			missing = append(missing, rt.Name)
		}
	}
	return missing
}

// Sample is what one request cost, from its log line.
type Sample struct {
	Status                                  int
	Calls, RoundTrips, Transactions         float64
	RCU, WCU, WCULocal, IndexWCU            float64
	Items, Largest, NewBytes, NewRawBytes   float64
	DurationMs, DynamoMs, LogBytes, Retries float64
	Metrics                                 []string // EMF metric names on the line
}

// OwnMs is the function's time outside DynamoDB calls.
func (s Sample) OwnMs() float64 { return max(0, s.DurationMs-s.DynamoMs) }

// AWSMs models the duration on AWS: each round trip at AWS's latency, and
// the function's own time stretched to its CPU share at its memory size.
func (s Sample) AWSMs(l LatencyModel, p Prices) float64 {
	reads := s.RoundTrips - s.Transactions
	return reads*l.CallMillis + s.Transactions*l.TransactionMillis + s.OwnMs()/p.CPUShare()
}

// RouteCost is one case's samples.
type RouteCost struct {
	Case    Case
	Samples []Sample
}

// Spread of a sample field.
func (r RouteCost) Spread(f func(Sample) float64) Spread {
	v := make([]float64, len(r.Samples))
	for i, s := range r.Samples {
		v[i] = f(s)
	}
	return SpreadOf(v)
}

// Med is the median of a sample field.
func (r RouteCost) Med(f func(Sample) float64) float64 { return r.Spread(f).Median }

// Name is the route with its variant.
func (r RouteCost) Name() string {
	if r.Case.Variant == "" {
		return r.Case.Route
	}
	return r.Case.Route + " (" + r.Case.Variant + ")"
}

// PerRequest is what one request of this case costs on AWS.
type PerRequest struct {
	Writes, Reads, LambdaLocal, LambdaAWS, HTTPAPI, Logs float64
}

// Total with the AWS latency model.
func (c PerRequest) Total() float64 { return c.Writes + c.Reads + c.LambdaAWS + c.HTTPAPI + c.Logs }

// AccessLogBytes is the size of one line of the HTTP API's access log (the
// template's format with typical values) plus CloudWatch's 26 bytes per event.
const AccessLogBytes = 300 + 26

// Cost prices the median request of the case.
func (r RouteCost) Cost(p Prices, l LatencyModel) PerRequest {
	logBytes := r.Med(func(s Sample) float64 { return s.LogBytes }) + 26 + AccessLogBytes
	return PerRequest{
		Writes:      (r.Med(func(s Sample) float64 { return s.WCU }) + r.Med(func(s Sample) float64 { return s.IndexWCU })) * p.WriteUnit,
		Reads:       r.Med(func(s Sample) float64 { return s.RCU }) * p.ReadUnit,
		LambdaLocal: p.LambdaCost(r.Med(func(s Sample) float64 { return s.DurationMs })),
		LambdaAWS:   p.LambdaCost(r.Med(func(s Sample) float64 { return s.AWSMs(l, p) })),
		HTTPAPI:     p.HTTPAPIRequest,
		Logs:        logBytes / 1e9 * p.LogIngestGB,
	}
}

// CostModelOptions say how many requests each case sends.
type CostModelOptions struct {
	Samples int // counted requests per case
	Warmup  int // uncounted requests first
	Log     func(format string, args ...any)
}

// RunCostModel sends every case's requests, one at a time, and reads what
// each cost from its log line. It fails if a route of api.Routes has no
// case, or a request does not get its status.
func RunCostModel(ctx context.Context, st *Stack, cases []Case, o CostModelOptions) ([]RouteCost, error) {
	if missing := MissingRoutes(cases); len(missing) > 0 {
		return nil, fmt.Errorf("routes without a request in the cost model: %s (add them to bench.Cases)", strings.Join(missing, ", "))
	}
	n := o.Samples + o.Warmup
	f, err := NewFixture(ctx, st, n)
	if err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	st.ResetLogs()
	ids := make([][]string, len(cases))
	for ci, c := range cases {
		for i := 0; i < n; i++ {
			r := c.Req(f, i)
			res, err := st.Do(ctx, r)
			if err != nil {
				return nil, err
			}
			if res.Status != c.Want {
				return nil, fmt.Errorf("%s: %s %s: status %d, want %d: %s", c.Route, r.Method, r.Path, res.Status, c.Want, res.Body)
			}
			if i >= o.Warmup {
				ids[ci] = append(ids[ci], res.RequestID)
			}
		}
		if o.Log != nil {
			o.Log("cost model: %s %s: %d requests", c.Route, c.Variant, n)
		}
	}
	lines := st.RequestLines()
	out := make([]RouteCost, len(cases))
	for ci, c := range cases {
		out[ci].Case = c
		for _, id := range ids[ci] {
			l, ok := lines[id]
			if !ok {
				return nil, fmt.Errorf("%s: no log line for request %s", c.Route, id)
			}
			out[ci].Samples = append(out[ci].Samples, SampleOf(l))
		}
	}
	return out, nil
}

// SampleOf reads a request's log line.
func SampleOf(l RequestLine) Sample {
	s := Sample{
		Status: int(l.Num("status")), Calls: l.Num("DynamoDBCalls"), RoundTrips: l.Num(RoundTrips), Transactions: l.Num(Transactions),
		RCU: l.Num("ReadCapacityUnits"), WCU: l.Num("ModelWriteUnits"), WCULocal: l.Num("WriteCapacityUnits"), IndexWCU: l.Num(IndexWriteUnits),
		Items: l.Num("ItemsWritten"), Largest: l.Num("LargestItemBytes"), NewBytes: l.Num(NewItemBytes), NewRawBytes: l.Num(NewItemRawBytes),
		DurationMs: l.Num("duration_ms"), DynamoMs: l.Num(DynamoDBMillis), LogBytes: float64(l.Bytes), Retries: l.Num("ConflictRetries"),
	}
	if aws, ok := l.Fields["_aws"].(map[string]any); ok {
		if cms, ok := aws["CloudWatchMetrics"].([]any); ok && len(cms) > 0 {
			if cm, ok := cms[0].(map[string]any); ok {
				defs, _ := cm["Metrics"].([]any)
				for _, d := range defs {
					if dm, ok := d.(map[string]any); ok {
						if name, _ := dm["Name"].(string); name != "" && !strings.HasPrefix(name, "Bench") {
							s.Metrics = append(s.Metrics, name)
						}
					}
				}
			}
		}
	}
	sort.Strings(s.Metrics)
	return s
}

// CustomMetrics estimates how many CloudWatch metrics the functions' EMF
// lines keep alive in a month, following shared/api's EMF directives: every
// metric name once without dimension (plus Refused and ServerErrors, which
// every service sees sooner or later), and Requests and ServerErrors once
// per operation.
func CustomMetrics(rows []RouteCost) int {
	ops := map[string]bool{}
	all := map[string]bool{"Refused": true, "ServerErrors": true}
	for _, r := range rows {
		ops[r.Case.Route] = true
		for _, s := range r.Samples {
			for _, name := range s.Metrics {
				all[name] = true
			}
		}
	}
	return len(all) + 2*len(ops)
}

// NewFixture creates the cost model's tenant; n is how many requests each
// case sends (approve, reject and reverse need an object each).
func NewFixture(ctx context.Context, st *Stack, n int) (*Fixture, error) {
	tenant := "t_cost_" + teststack.RandomID()
	f := &Fixture{Tenant: tenant, Admin: st.Token("u_admin", tenant, "admin"), Approver: st.Token("u_approver", tenant, "admin"),
		Today: time.Now().UTC().Format(time.DateOnly)}
	var firstErr error
	must := func(want int, r Request) map[string]any {
		if firstErr != nil {
			return nil
		}
		if r.Token == "" {
			r.Token = f.Admin
		}
		m, err := st.Must(ctx, want, r)
		if err != nil {
			firstErr = err
		}
		return m
	}
	account := func(body map[string]any) string {
		m := must(201, Request{Method: "POST", Path: "/accounts", Body: body})
		id, _ := m["id"].(string)
		return id
	}
	f.A = account(map[string]any{"name": "A", "currency": "RON", "kind": "cash", "opening_balance": "1000000.00", "approval_threshold": "500.00"})
	f.B = account(map[string]any{"name": "B", "currency": "RON", "kind": "cash", "opening_balance": "100.00"})
	f.EUR = account(map[string]any{"name": "Euro", "currency": "EUR", "kind": "bank", "opening_balance": "100000.00"})
	f.USD = account(map[string]any{"name": "Dollar", "currency": "USD", "kind": "bank", "opening_balance": "100.00"})
	for i := 0; i < 10; i++ {
		f.Journal = append(f.Journal, account(map[string]any{"name": fmt.Sprintf("J%d", i), "currency": "RON", "kind": "budget", "opening_balance": "10000.00"}))
	}
	for i := 0; i < 59; i++ { // with the opening line: 60, a full page of 50 and more
		must(201, Request{Method: "POST", Path: "/accounts/" + f.B + "/entries", Body: map[string]any{"type": "credit", "amount": "1.00", "memo": "History"}})
	}
	for i := 0; i < n; i++ {
		p := must(201, Request{Method: "POST", Path: "/accounts/" + f.A + "/withdrawals", Body: map[string]any{"amount": "600.00", "payee": "To approve"}})
		p2 := must(201, Request{Method: "POST", Path: "/accounts/" + f.A + "/withdrawals", Body: map[string]any{"amount": "501.00", "payee": "To reject"}})
		t := must(201, Request{Method: "POST", Path: "/transfers", Body: map[string]any{"from_account_id": f.A, "to_account_id": f.B, "amount": "5.00", "memo": "To reverse"}})
		if firstErr != nil {
			break
		}
		f.Pending = append(f.Pending, p["id"].(string))
		f.Pending2 = append(f.Pending2, p2["id"].(string))
		f.Transfers = append(f.Transfers, t["id"].(string))
	}
	if t := must(201, Request{Method: "POST", Path: "/transfers", Body: map[string]any{"from_account_id": f.A, "to_account_id": f.B, "amount": "7.00", "memo": "To read"}}); t != nil {
		f.Txn, _ = t["id"].(string)
	}
	return f, firstErr
}
