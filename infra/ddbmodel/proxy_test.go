package ddbmodel_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/treasuryledger/treasury/infra/ddbmodel"
	"github.com/treasuryledger/treasury/infra/teststack"
	"github.com/treasuryledger/treasury/shared/dynamo"
)

// Every test runs against real DynamoDB Local (the shared DYNAMODB_ENDPOINT,
// or one started for this binary), through the proxy, with one table for the
// package; each test writes its own keys.
var (
	direct   *dynamodb.Client // straight to DynamoDB Local
	table    string
	endpoint string
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	db, tbl, stop, err := teststack.NewTable(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra/ddbmodel: DynamoDB Local is required:", err)
		os.Exit(1)
	}
	direct, table, endpoint = db, tbl, aws.ToString(db.Options().BaseEndpoint)
	code := m.Run()
	stop()
	os.Exit(code)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start runs a proxy with cfg and returns it with a client that goes
// through it, built as the service builds its client, without SDK retries.
func start(t *testing.T, cfg ddbmodel.Config) (*ddbmodel.Proxy, *dynamodb.Client, string) {
	t.Helper()
	p := ddbmodel.New(endpoint, cfg)
	url, err := p.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(p.Close)
	c, err := dynamo.NewClient(context.Background(), dynamo.ClientConfig{Endpoint: url, RetryMaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p, c, url
}

// gate is the injected sleeper. It records every requested latency; the
// next `holds` calls block until the test releases them, which is how a
// test keeps a call in flight for as long as it likes without wall time.
type gate struct {
	mu    sync.Mutex
	holds int
	slept []time.Duration
	held  chan held
}

type held struct {
	d       time.Duration
	release chan struct{}
}

func newGate(p *ddbmodel.Proxy) *gate {
	g := &gate{held: make(chan held, 16)}
	ddbmodel.SetSleep(p, g.sleep)
	return g
}

func (g *gate) sleep(ctx context.Context, d time.Duration) error {
	g.mu.Lock()
	g.slept = append(g.slept, d)
	hold := g.holds > 0
	if hold {
		g.holds--
	}
	g.mu.Unlock()
	if !hold {
		return nil
	}
	h := held{d: d, release: make(chan struct{})}
	g.held <- h
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) holdNext(n int) {
	g.mu.Lock()
	g.holds += n
	g.mu.Unlock()
}

func (g *gate) durations() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.slept)
}

// waitHeld waits for a call to be held in its latency. The timeout only
// keeps a broken proxy from hanging the run; nothing asserts on time.
func (g *gate) waitHeld(t *testing.T) held {
	t.Helper()
	select {
	case h := <-g.held:
		return h
	case <-time.After(30 * time.Second):
		t.Fatal("no call reached its latency")
		return held{}
	}
}

func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func wait(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("call did not return")
		return nil
	}
}

// Items: key pk/sk, one attribute v.

func newKey(t *testing.T) string { return "ddbmodel#" + t.Name() + "#" + teststack.RandomID() }

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "I"}}
}

func item(pk, v string) map[string]types.AttributeValue {
	it := key(pk)
	it["v"] = &types.AttributeValueMemberS{Value: v}
	return it
}

func txPut(pk, v string) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: item(pk, v)}}
}

func txUpdate(pk, v string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: aws.String(table), Key: key(pk),
		UpdateExpression:          aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: v}}}}
}

func txGet(pk string) types.TransactGetItem {
	return types.TransactGetItem{Get: &types.Get{TableName: aws.String(table), Key: key(pk)}}
}

func transact(ctx context.Context, c *dynamodb.Client, items ...types.TransactWriteItem) error {
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

func putItem(ctx context.Context, c *dynamodb.Client, pk, v string) error {
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item(pk, v)})
	return err
}

func getItem(ctx context.Context, c *dynamodb.Client, pk string) (string, bool, error) {
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(pk), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return "", false, err
	}
	v, _ := out.Item["v"].(*types.AttributeValueMemberS)
	if v == nil {
		return "", true, nil
	}
	return v.Value, true, nil
}

// stored reads an item straight from DynamoDB Local.
func stored(t *testing.T, pk string) (string, bool) {
	t.Helper()
	v, ok, err := getItem(testCtx(t), direct, pk)
	if err != nil {
		t.Fatalf("read %s from DynamoDB Local: %v", pk, err)
	}
	return v, ok
}

func wantStored(t *testing.T, pk, want string) {
	t.Helper()
	if v, ok := stored(t, pk); !ok || v != want {
		t.Fatalf("item %s = %q (present %v), want %q", pk, v, ok, want)
	}
}

func wantAbsent(t *testing.T, pk string) {
	t.Helper()
	if v, ok := stored(t, pk); ok {
		t.Fatalf("item %s = %q, want no item", pk, v)
	}
}

func reasonCodes(t *testing.T, err error) []string {
	t.Helper()
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Fatalf("err = %v (%T), want TransactionCanceledException", err, err)
	}
	var codes []string
	for _, r := range tce.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
		if aws.ToString(r.Code) == "TransactionConflict" && aws.ToString(r.Message) == "" {
			t.Errorf("TransactionConflict reason without a message")
		}
	}
	return codes
}

func wantConflictException(t *testing.T, what string, err error) {
	t.Helper()
	var tce *types.TransactionConflictException
	if !errors.As(err, &tce) {
		t.Fatalf("%s: err = %v (%T), want TransactionConflictException", what, err, err)
	}
	if tce.ErrorMessage() == "" {
		t.Fatalf("%s: TransactionConflictException without a message", what)
	}
}

// Two overlapping transactions on one item: the second is cancelled with
// TransactionConflict at that item's position and None elsewhere, and
// commits nothing; the first commits; the cancelled one held nothing.
func TestOverlappingTransactionsConflict(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.AWS())
	g := newGate(p)
	a, b := newKey(t), newKey(t)

	g.holdNext(1)
	first := async(func() error { return transact(ctx, c, txPut(a, "first")) })
	h := g.waitHeld(t) // the first transaction is in flight and holds a

	err := transact(ctx, c, txPut(b, "second"), txUpdate(a, "second"))
	if got, want := reasonCodes(t, err), []string{"None", "TransactionConflict"}; !slices.Equal(got, want) {
		t.Fatalf("cancellation reasons = %v, want %v", got, want)
	}
	err = transact(ctx, c, txUpdate(a, "third"), txPut(b, "third"))
	if got, want := reasonCodes(t, err), []string{"TransactionConflict", "None"}; !slices.Equal(got, want) {
		t.Fatalf("cancellation reasons = %v, want %v", got, want)
	}
	// The cancelled transactions took no hold on b.
	if err := putItem(ctx, c, b, "plain"); err != nil {
		t.Fatalf("PutItem on the cancelled transaction's other item: %v", err)
	}

	close(h.release)
	if err := wait(t, first); err != nil {
		t.Fatalf("first transaction: %v", err)
	}
	wantStored(t, a, "first")
	wantStored(t, b, "plain")

	// Once the first has returned, its items are free again.
	if err := transact(ctx, c, txUpdate(a, "again")); err != nil {
		t.Fatalf("transaction after the first returned: %v", err)
	}
	wantStored(t, a, "again")
	if s := p.Stats(); s.Conflicts != 2 {
		t.Fatalf("Stats().Conflicts = %d, want 2", s.Conflicts)
	}
}

// A TransactGetItems on an item of an in-flight TransactWriteItems, or of an
// in-flight plain write, is cancelled at that position.
func TestTransactGetDuringWriteIsCancelled(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.AWS())
	g := newGate(p)
	a, b, d := newKey(t), newKey(t), newKey(t)

	g.holdNext(1)
	txn := async(func() error { return transact(ctx, c, txPut(a, "txn")) })
	h := g.waitHeld(t)
	_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{txGet(b), txGet(a)}})
	if got, want := reasonCodes(t, err), []string{"None", "TransactionConflict"}; !slices.Equal(got, want) {
		t.Fatalf("TransactGetItems during TransactWriteItems: reasons = %v, want %v", got, want)
	}
	close(h.release)
	if err := wait(t, txn); err != nil {
		t.Fatal(err)
	}

	g.holdNext(1)
	put := async(func() error { return putItem(ctx, c, d, "plain") })
	h = g.waitHeld(t)
	_, err = c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{txGet(d)}})
	if got, want := reasonCodes(t, err), []string{"TransactionConflict"}; !slices.Equal(got, want) {
		t.Fatalf("TransactGetItems during PutItem: reasons = %v, want %v", got, want)
	}
	close(h.release)
	if err := wait(t, put); err != nil {
		t.Fatal(err)
	}

	out, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{txGet(a), txGet(d)}})
	if err != nil {
		t.Fatalf("TransactGetItems once the writes returned: %v", err)
	}
	if len(out.Responses) != 2 || out.Responses[0].Item == nil || out.Responses[1].Item == nil {
		t.Fatalf("TransactGetItems = %+v, want both items", out.Responses)
	}
	if s := p.Stats(); s.Conflicts != 2 {
		t.Fatalf("Stats().Conflicts = %d, want 2", s.Conflicts)
	}
}

// By the documented rules nothing conflicts with an in-flight
// TransactGetItems: a plain write and a write transaction on its item pass.
func TestTransactGetHoldsNothing(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.AWS())
	g := newGate(p)
	a := newKey(t)
	if err := putItem(ctx, direct, a, "old"); err != nil {
		t.Fatal(err)
	}
	g.holdNext(1)
	get := async(func() error {
		_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{txGet(a)}})
		return err
	})
	h := g.waitHeld(t)
	if err := putItem(ctx, c, a, "put"); err != nil {
		t.Fatalf("PutItem during TransactGetItems: %v", err)
	}
	if err := transact(ctx, c, txUpdate(a, "txn")); err != nil {
		t.Fatalf("TransactWriteItems during TransactGetItems: %v", err)
	}
	close(h.release)
	if err := wait(t, get); err != nil {
		t.Fatalf("TransactGetItems: %v", err)
	}
	if s := p.Stats(); s.Conflicts != 0 {
		t.Fatalf("Stats().Conflicts = %d, want 0", s.Conflicts)
	}
}

// PutItem, UpdateItem and DeleteItem on an item of an in-flight transaction
// fail with TransactionConflictException and change nothing.
func TestPlainWritesDuringTransaction(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.AWS())
	g := newGate(p)
	a := newKey(t)
	if err := putItem(ctx, direct, a, "old"); err != nil {
		t.Fatal(err)
	}

	g.holdNext(1)
	txn := async(func() error { return transact(ctx, c, txUpdate(a, "txn")) })
	h := g.waitHeld(t)

	wantConflictException(t, "PutItem", putItem(ctx, c, a, "put"))
	_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key(a),
		UpdateExpression:          aws.String("SET v = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "update"}}})
	wantConflictException(t, "UpdateItem", err)
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(a)})
	wantConflictException(t, "DeleteItem", err)
	wantStored(t, a, "old")

	close(h.release)
	if err := wait(t, txn); err != nil {
		t.Fatal(err)
	}
	wantStored(t, a, "txn")
	if err := putItem(ctx, c, a, "after"); err != nil {
		t.Fatalf("PutItem once the transaction returned: %v", err)
	}
	wantStored(t, a, "after")
	if s := p.Stats(); s.Conflicts != 3 {
		t.Fatalf("Stats().Conflicts = %d, want 3", s.Conflicts)
	}
}

// GetItem, Query and BatchGetItem during a transaction pass and read the
// last committed state; afterwards they read the transaction's.
func TestReadsDuringTransactionSeeCommittedState(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.AWS())
	g := newGate(p)
	a := newKey(t)
	if err := putItem(ctx, direct, a, "old"); err != nil {
		t.Fatal(err)
	}
	reads := func() []string {
		t.Helper()
		v, _, err := getItem(ctx, c, a)
		if err != nil {
			t.Fatalf("GetItem: %v", err)
		}
		q, err := c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: a}}})
		if err != nil || len(q.Items) != 1 {
			t.Fatalf("Query: %v, %d items", err, len(q.Items))
		}
		bg, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			table: {Keys: []map[string]types.AttributeValue{key(a)}, ConsistentRead: aws.Bool(true)}}})
		if err != nil || len(bg.Responses[table]) != 1 {
			t.Fatalf("BatchGetItem: %v", err)
		}
		str := func(it map[string]types.AttributeValue) string { return it["v"].(*types.AttributeValueMemberS).Value }
		return []string{v, str(q.Items[0]), str(bg.Responses[table][0])}
	}

	g.holdNext(1)
	txn := async(func() error { return transact(ctx, c, txUpdate(a, "new")) })
	h := g.waitHeld(t)
	if got := reads(); !slices.Equal(got, []string{"old", "old", "old"}) {
		t.Fatalf("reads during the transaction = %v, want the committed state", got)
	}
	close(h.release)
	if err := wait(t, txn); err != nil {
		t.Fatal(err)
	}
	if got := reads(); !slices.Equal(got, []string{"new", "new", "new"}) {
		t.Fatalf("reads after the transaction = %v, want its state", got)
	}
	if s := p.Stats(); s.Conflicts != 0 {
		t.Fatalf("Stats().Conflicts = %d, want 0", s.Conflicts)
	}
}

// Calls on items other than those of the in-flight transaction pass.
func TestDisjointItemsDoNotConflict(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.AWS())
	g := newGate(p)
	a, b, d, e := newKey(t), newKey(t), newKey(t), newKey(t)

	g.holdNext(1)
	txn := async(func() error { return transact(ctx, c, txPut(a, "a")) })
	h := g.waitHeld(t)
	if err := transact(ctx, c, txPut(b, "b"), txPut(d, "d")); err != nil {
		t.Fatalf("transaction on other items: %v", err)
	}
	if err := putItem(ctx, c, e, "e"); err != nil {
		t.Fatalf("PutItem on another item: %v", err)
	}
	if _, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{txGet(b), txGet(e)}}); err != nil {
		t.Fatalf("TransactGetItems on other items: %v", err)
	}
	close(h.release)
	if err := wait(t, txn); err != nil {
		t.Fatal(err)
	}
	for pk, v := range map[string]string{a: "a", b: "b", d: "d", e: "e"} {
		wantStored(t, pk, v)
	}
	if s := p.Stats(); s.Conflicts != 0 {
		t.Fatalf("Stats().Conflicts = %d, want 0", s.Conflicts)
	}
}

// Many transactions on one item at once: exactly one is admitted, every
// other is cancelled, whatever the interleaving.
func TestConcurrentTransactionsOneWinner(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.AWS())
	g := newGate(p)
	a := newKey(t)
	const n = 8
	g.holdNext(1) // whichever is admitted stays in flight
	startLine := make(chan struct{})
	results := make(chan error, n)
	for i := range n {
		go func() {
			<-startLine
			results <- transact(ctx, c, txPut(a, strconv.Itoa(i)))
		}()
	}
	close(startLine)
	h := g.waitHeld(t)
	for range n - 1 {
		err := <-results
		if got := reasonCodes(t, err); !slices.Equal(got, []string{"TransactionConflict"}) {
			t.Fatalf("reasons = %v", got)
		}
	}
	close(h.release)
	if err := <-results; err != nil {
		t.Fatalf("admitted transaction: %v", err)
	}
	if _, ok := stored(t, a); !ok {
		t.Fatal("the admitted transaction did not commit")
	}
	if s := p.Stats(); s.Conflicts != n-1 {
		t.Fatalf("Stats().Conflicts = %d, want %d", s.Conflicts, n-1)
	}
}

// With latency on, a call waits the latency drawn for it, from its own
// distribution, before it is forwarded: it cannot complete earlier.
func TestLatencyDelaysTheCall(t *testing.T) {
	ctx := testCtx(t)
	cfg := ddbmodel.AWS()
	cfg.Conflicts = false
	cfg.Seed = 42
	p, c, _ := start(t, cfg)
	g := newGate(p)
	twin := ddbmodel.New(endpoint, cfg) // same seed: the same draws, never started
	wantTxn, wantGet := ddbmodel.DrawLatency(twin, true), ddbmodel.DrawLatency(twin, false)
	a := newKey(t)

	g.holdNext(1)
	txn := async(func() error { return transact(ctx, c, txPut(a, "v")) })
	h := g.waitHeld(t)
	if h.d != wantTxn || h.d <= 0 {
		t.Fatalf("transaction waits %v, want the drawn %v", h.d, wantTxn)
	}
	select {
	case err := <-txn:
		t.Fatalf("transaction returned (%v) before its latency was over", err)
	default:
	}
	wantAbsent(t, a) // not forwarded yet
	close(h.release)
	if err := wait(t, txn); err != nil {
		t.Fatal(err)
	}
	wantStored(t, a, "v")

	if _, _, err := getItem(ctx, c, a); err != nil {
		t.Fatal(err)
	}
	if got := g.durations(); !slices.Equal(got, []time.Duration{wantTxn, wantGet}) {
		t.Fatalf("latencies = %v, want %v", got, []time.Duration{wantTxn, wantGet})
	}
	// Control-plane calls take no modelled latency.
	if _, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
		t.Fatal(err)
	}
	if got := len(g.durations()); got != 2 {
		t.Fatalf("%d latencies after DescribeTable, want 2", got)
	}
}

// With latency off nothing waits.
func TestLatencyOff(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.Config{Conflicts: true})
	g := newGate(p)
	a := newKey(t)
	if err := transact(ctx, c, txPut(a, "v")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := getItem(ctx, c, a); err != nil {
		t.Fatal(err)
	}
	if got := g.durations(); len(got) != 0 {
		t.Fatalf("latencies = %v with latency off", got)
	}
}

// The drawn latencies have the configured median and 99th percentile.
func TestLatencyDistribution(t *testing.T) {
	cfg := ddbmodel.AWS()
	cfg.Seed = 1
	p := ddbmodel.New(endpoint, cfg)
	for _, tc := range []struct {
		txn      bool
		p50, p99 time.Duration
	}{{false, cfg.GetP50, cfg.GetP99}, {true, cfg.TxnP50, cfg.TxnP99}} {
		const n = 20001
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = ddbmodel.DrawLatency(p, tc.txn)
			if ds[i] <= 0 || ds[i] > 5*tc.p99 {
				t.Fatalf("draw %v outside (0, 5×p99]", ds[i])
			}
		}
		slices.Sort(ds)
		near := func(got, want time.Duration, tol float64) bool {
			return float64(got) >= float64(want)*(1-tol) && float64(got) <= float64(want)*(1+tol)
		}
		if med := ds[n/2]; !near(med, tc.p50, 0.03) {
			t.Errorf("txn=%v: median %v, want %v ±3%%", tc.txn, med, tc.p50)
		}
		if q := ds[n*99/100]; !near(q, tc.p99, 0.08) {
			t.Errorf("txn=%v: p99 %v, want %v ±8%%", tc.txn, q, tc.p99)
		}
	}
}

// Each fault surfaces as the SDK's typed error (or a transport error), and
// only a lost response has executed the call.
func TestFaults(t *testing.T) {
	typed := func(target any) func(t *testing.T, err error) {
		return func(t *testing.T, err error) {
			t.Helper()
			if !errors.As(err, target) {
				t.Fatalf("err = %v (%T), want %T", err, err, target)
			}
			var api smithy.APIError
			if errors.As(err, &api) && api.ErrorMessage() == "" {
				t.Fatalf("%T without a message", target)
			}
		}
	}
	transport := func(t *testing.T, err error) {
		t.Helper()
		var send *smithyhttp.RequestSendError
		var api smithy.APIError
		if !errors.As(err, &send) || errors.As(err, &api) || !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("err = %v (%T), want a connection reset with no answer", err, err)
		}
	}
	for _, tc := range []struct {
		name      string
		cfg       ddbmodel.Config
		check     func(*testing.T, error)
		status    int
		committed bool
		stat      func(ddbmodel.Stats) int64
	}{
		{"throttle", ddbmodel.Config{ThrottleRate: 1}, typed(new(*types.ThrottlingException)), 400, false,
			func(s ddbmodel.Stats) int64 { return s.Throttles }},
		{"provisioned", ddbmodel.Config{ProvisionedRate: 1}, typed(new(*types.ProvisionedThroughputExceededException)), 400, false,
			func(s ddbmodel.Stats) int64 { return s.ProvisionedThrottles }},
		{"internal", ddbmodel.Config{InternalErrorRate: 1}, typed(new(*types.InternalServerError)), 500, false,
			func(s ddbmodel.Stats) int64 { return s.InternalErrors }},
		{"reset", ddbmodel.Config{ResetRate: 1}, transport, 0, false,
			func(s ddbmodel.Stats) int64 { return s.Resets }},
		{"lost", ddbmodel.Config{LostResponseRate: 1}, transport, 0, true,
			func(s ddbmodel.Stats) int64 { return s.LostResponses }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			p, c, _ := start(t, tc.cfg)
			a, b := newKey(t), newKey(t)
			errs := []error{putItem(ctx, c, a, "put"), transact(ctx, c, txPut(b, "txn"))}
			for _, err := range errs {
				tc.check(t, err)
				var re *awshttp.ResponseError
				if tc.status != 0 && (!errors.As(err, &re) || re.HTTPStatusCode() != tc.status) {
					t.Fatalf("err = %v, want HTTP %d", err, tc.status)
				}
			}
			if tc.committed {
				wantStored(t, a, "put")
				wantStored(t, b, "txn")
			} else {
				wantAbsent(t, a)
				wantAbsent(t, b)
			}
			s := p.Stats()
			if tc.stat(s) != 2 {
				t.Fatalf("Stats() = %+v, want 2 %s", s, tc.name)
			}
			if want := map[bool]int64{true: 2, false: 0}[tc.committed]; s.Forwarded != want {
				t.Fatalf("Stats().Forwarded = %d, want %d", s.Forwarded, want)
			}
			// Control-plane calls get no faults.
			if _, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
				t.Fatalf("DescribeTable through a faulty proxy: %v", err)
			}
		})
	}
}

// The proxy's own answers carry a correct X-Amz-Crc32 (checked on the raw
// answer), a request id and DynamoDB's content type, and a client with the
// SDK's default checksum validation on (as against AWS) gets the typed errors.
func TestOwnAnswersCarryChecksum(t *testing.T) {
	ctx := testCtx(t)
	for _, tc := range []struct {
		cfg    ddbmodel.Config
		target any
	}{
		{ddbmodel.Config{ThrottleRate: 1}, new(*types.ThrottlingException)},
		{ddbmodel.Config{InternalErrorRate: 1}, new(*types.InternalServerError)},
	} {
		_, _, url := start(t, tc.cfg)
		strict := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
			func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) })
		_, _, err := getItem(ctx, strict, newKey(t))
		if !errors.As(err, tc.target) {
			t.Fatalf("checksum-validating client: err = %v (%T), want %T", err, err, tc.target)
		}

		res, body := rawCall(t, url, "GetItem", `{"TableName":"`+table+`","Key":{"pk":{"S":"x"},"sk":{"S":"I"}}}`)
		if got, want := res.Header.Get("X-Amz-Crc32"), strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10); got != want {
			t.Fatalf("X-Amz-Crc32 = %q, want %q", got, want)
		}
		if id := res.Header.Get("x-amzn-RequestId"); len(id) != 52 {
			t.Fatalf("x-amzn-RequestId = %q", id)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
			t.Fatalf("Content-Type = %q", ct)
		}
	}
}

// rawCall sends one DynamoDB JSON call without the SDK. DynamoDB Local does
// not check signatures; the access key and region pick its database, the
// same as the SDK clients' ("local", us-east-1).
func rawCall(t *testing.T, url, op, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("X-Amz-Date", "20260101T000000Z")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "+
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, raw
}

// Where no behaviour applies, answers are DynamoDB Local's, unchanged:
// successes byte for byte, and its own errors with their types and reasons.
func TestPassesAnswersThrough(t *testing.T) {
	ctx := testCtx(t)
	p, c, url := start(t, ddbmodel.AWS())
	newGate(p) // no wall-clock latency
	a := newKey(t)
	if err := putItem(ctx, direct, a, "v"); err != nil {
		t.Fatal(err)
	}
	get := `{"TableName":"` + table + `","Key":{"pk":{"S":"` + a + `"},"sk":{"S":"I"}},"ConsistentRead":true}`
	viaProxy, b1 := rawCall(t, url, "GetItem", get)
	_, b2 := rawCall(t, endpoint, "GetItem", get)
	if viaProxy.StatusCode != 200 || string(b1) != string(b2) {
		t.Fatalf("GetItem through the proxy = %d %s, straight = %s", viaProxy.StatusCode, b1, b2)
	}

	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item(a, "w"),
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("conditional PutItem: err = %v (%T), want ConditionalCheckFailedException", err, err)
	}
	err = transact(ctx, c, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(table),
		Key: key(a), ConditionExpression: aws.String("attribute_not_exists(pk)")}}, txPut(newKey(t), "x"))
	if got := reasonCodes(t, err); !slices.Equal(got, []string{"ConditionalCheckFailed", "None"}) {
		t.Fatalf("reasons = %v, want DynamoDB Local's [ConditionalCheckFailed None]", got)
	}
	if s := p.Stats(); s.Conflicts != 0 || s.Forwarded != 3 {
		t.Fatalf("Stats() = %+v, want 3 forwarded (the GetItem, PutItem and transaction) and no conflict", s)
	}
}

// outcome names what one call met.
func outcome(err error) string {
	var (
		thr  *types.ThrottlingException
		prov *types.ProvisionedThroughputExceededException
		ise  *types.InternalServerError
		send *smithyhttp.RequestSendError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &thr):
		return "throttle"
	case errors.As(err, &prov):
		return "provisioned"
	case errors.As(err, &ise):
		return "internal"
	case errors.As(err, &send):
		return "transport"
	}
	return "other: " + err.Error()
}

// The same seed gives the same fault sequence for the same calls; another
// seed, another sequence.
func TestSameSeedSameFaults(t *testing.T) {
	ctx := testCtx(t)
	cfg := ddbmodel.Config{Seed: 7, ThrottleRate: 0.2, ProvisionedRate: 0.1, InternalErrorRate: 0.1,
		ResetRate: 0.1, LostResponseRate: 0.1}
	run := func(cfg ddbmodel.Config) ([]string, ddbmodel.Stats) {
		p, c, _ := start(t, cfg)
		var seq []string
		for i := range 30 {
			_, _, err := getItem(ctx, c, "ddbmodel#seed#"+strconv.Itoa(i))
			seq = append(seq, outcome(err))
		}
		return seq, p.Stats()
	}
	seq1, s1 := run(cfg)
	seq2, s2 := run(cfg)
	if !slices.Equal(seq1, seq2) || s1 != s2 {
		t.Fatalf("same seed, different faults:\n%v %+v\n%v %+v", seq1, s1, seq2, s2)
	}
	other := cfg
	other.Seed = 8
	if seq3, _ := run(other); slices.Equal(seq1, seq3) {
		t.Fatalf("seeds 7 and 8 gave the same sequence %v", seq1)
	}
	count := map[string]int64{}
	for _, o := range seq1 {
		count[o]++
	}
	if count["ok"] == 0 || count["throttle"] != s1.Throttles || count["provisioned"] != s1.ProvisionedThrottles ||
		count["internal"] != s1.InternalErrors || count["transport"] != s1.Resets+s1.LostResponses {
		t.Fatalf("outcomes %v do not match Stats() %+v", count, s1)
	}
	if len(count) < 4 {
		t.Fatalf("seed 7 gave only %v over 30 calls", count)
	}
}

// With no fault rate set, nothing is injected: every call of a mixed
// workload succeeds and is forwarded.
func TestFaultsOffInjectNothing(t *testing.T) {
	ctx := testCtx(t)
	p, c, _ := start(t, ddbmodel.AWS())
	g := newGate(p)
	calls := int64(0)
	check := func(what string, err error) {
		t.Helper()
		calls++
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for i := range 10 {
		a, b := newKey(t), newKey(t)
		check("PutItem", putItem(ctx, c, a, strconv.Itoa(i)))
		_, _, err := getItem(ctx, c, a)
		check("GetItem", err)
		check("TransactWriteItems", transact(ctx, c, txUpdate(a, "t"), txPut(b, "t")))
		_, err = c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{txGet(a), txGet(b)}})
		check("TransactGetItems", err)
		_, err = c.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: a}}})
		check("Query", err)
		_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(b)})
		check("DeleteItem", err)
	}
	want := ddbmodel.Stats{Forwarded: calls}
	if s := p.Stats(); s != want {
		t.Fatalf("Stats() = %+v, want %+v", s, want)
	}
	if n := int64(len(g.durations())); n != calls {
		t.Fatalf("%d latencies for %d calls", n, calls)
	}
}
