package bench

import (
	"github.com/treasuryledger/treasury/shared/dynamo"
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// These tests need no DynamoDB and run in every make test.

func TestEveryRouteHasACostCase(t *testing.T) {
	if missing := MissingRoutes(Cases()); len(missing) > 0 {
		t.Errorf("routes without a request in the cost model: %v (add them to Cases)", missing)
	}
	if missing := MissingRoutes(nil); len(missing) == 0 {
		t.Error("MissingRoutes(nil) found nothing missing")
	}
	for _, m := range Mix {
		found := false
		for _, c := range Cases() {
			found = found || (c.Route == m.Route && c.Variant == m.Variant)
		}
		if !found {
			t.Errorf("the cost at scale needs a case for %s %q", m.Route, m.Variant)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# T\n\n<!-- bench-cost:begin -->\nold\n<!-- bench-cost:end -->\n\nkept\n"
	got, err := ReplaceSection(doc, SectionCost, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# T\n\n<!-- bench-cost:begin -->\nnew table\n<!-- bench-cost:end -->\n\nkept\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := ReplaceSection(doc, SectionCPU, "x"); err == nil {
		t.Error("missing markers: no error")
	}
	if _, err := ReplaceSection(doc+doc, SectionCost, "x"); err == nil {
		t.Error("doubled markers: no error")
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkHandler/CreateTransfer-2   	    4333	     74372 ns/op	   45237 B/op	     664 allocs/op
BenchmarkHandler/CreateTransfer-2   	    4000	     70000 ns/op	   45230 B/op	     664 allocs/op
BenchmarkDomain/Journal10Lines-2    	   16290	     21948 ns/op	   21098 B/op	     317 allocs/op
BenchmarkGatewayTransfers/clients=16 	     480	  20833333 ns/op	     48.00 postings/s
PASS
`
	got := ParseGoBench(out)
	if len(got) != 3 || got[0].Name != "Handler/CreateTransfer" || got[1].Name != "Domain/Journal10Lines" || got[2].Name != "GatewayTransfers/clients=16" {
		t.Fatalf("parsed %+v", got)
	}
	if s := got[0].Spread("ns/op"); s.N != 2 || s.Median != 72186 || s.Min != 70000 {
		t.Errorf("ns/op spread %+v", s)
	}
	if s := got[2].Spread("postings/s"); s.Median != 48 {
		t.Errorf("custom unit %+v", s)
	}
}

func TestPrices(t *testing.T) {
	p := ListPrices
	for ms, want := range map[float64]float64{0.2: 1, 36: 36, 36.01: 37} {
		if got := p.BilledMillis(ms); got != want {
			t.Errorf("BilledMillis(%v) = %v, want %v", ms, got, want)
		}
	}
	// 37 ms at 128 MB: 0.004625 GB-s.
	want := 0.20/1e6 + 37.0/1000*0.125*0.0000133334
	if got := p.LambdaCost(36.6); math.Abs(got-want) > 1e-15 {
		t.Errorf("LambdaCost(36.6) = %g, want %g", got, want)
	}
	s := Sample{RoundTrips: 2, Transactions: 1, DurationMs: 20, DynamoMs: 19.5}
	if got, want := s.AWSMs(AWSLatency, p), 8+25+0.5*1769/128; math.Abs(got-want) > 1e-9 {
		t.Errorf("AWSMs = %v, want %v", got, want)
	}
}

func TestItemSize(t *testing.T) {
	it := map[string]types.AttributeValue{
		"pk":  &types.AttributeValueMemberS{Value: "T#t#A#1"},                                                         // 2 + 7
		"bal": &types.AttributeValueMemberN{Value: "-1234.50"},                                                        // 3 + (6+1)/2+1 = 3 + 4
		"ok":  &types.AttributeValueMemberBOOL{Value: true},                                                           // 2 + 1
		"l":   &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}}, // 1 + 3 + 1 + 2
	}
	if got, want := dynamo.ItemSize(it), 9+7+3+7; got != want {
		t.Errorf("ItemSize = %d, want %d", got, want)
	}
}

// The Meter's counters reach the request's log line: a transfer on memDB
// is two round trips, one of them a transaction, and two of its items (the
// transaction and the audit record) go into gsi1. (The store's own
// counters, DynamoDBCalls and the like, come from SDK middleware, which
// memDB bypasses.)
func TestMeterCountsATransfer(t *testing.T) {
	var logs lineLog
	r := newRigWith(t, 2, &logs, true)
	logs.reset()
	route, method, path, params, body, key := handlerCases[3].request(r, 0)
	if route != "CreateTransfer" {
		t.Fatalf("handlerCases[3] is %s", route)
	}
	if res := r.invoke(t, route, method, path, params, body, key); res.StatusCode != 201 {
		t.Fatalf("%d %s", res.StatusCode, res.Body)
	}
	lines := logs.requests()
	l, ok := lines["bench-request"]
	if !ok || len(lines) != 1 {
		t.Fatalf("log lines %v", lines)
	}
	s := SampleOf(l)
	if s.Status != 201 || s.RoundTrips != 2 || s.Transactions != 1 || s.IndexWCU != 2 {
		t.Errorf("sample %+v", s)
	}
	if s.NewBytes <= s.NewRawBytes || s.NewRawBytes < 1000 {
		t.Errorf("new item bytes %v, raw %v", s.NewBytes, s.NewRawBytes)
	}
	for _, m := range s.Metrics {
		if strings.HasPrefix(m, "Bench") {
			t.Errorf("bench counter %s counted as a CloudWatch metric", m)
		}
	}
	if n := CustomMetrics([]RouteCost{{Case: Case{Route: "CreateTransfer"}, Samples: []Sample{s}}}); n < len(s.Metrics)+2 {
		t.Errorf("CustomMetrics counts %d: fewer than one per name plus the operation's Requests and ServerErrors", n)
	}
}
