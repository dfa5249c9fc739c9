package localstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/treasuryledger/treasury/infra/dynamodblocal"
	"github.com/treasuryledger/treasury/infra/localstream"
	"github.com/treasuryledger/treasury/infra/teststack"
	"github.com/treasuryledger/treasury/shared/dynamo"
)

// waitFor bounds every wait for records. Records show up in DynamoDB Local's
// stream within milliseconds; the bound only keeps a broken follower from
// hanging the run.
const waitFor = 30 * time.Second

// db is DynamoDB Local (the shared DYNAMODB_ENDPOINT, or one started for this
// binary). Each test creates its own table, so that its stream holds only
// its own records.
var db *dynamodb.Client

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	client, _, stop, err := teststack.NewTable(ctx)
	cancel()
	if err != nil {
		// Fail, never skip: without DynamoDB Local there is nothing to test.
		fmt.Fprintln(os.Stderr, "infra/localstream: DynamoDB Local is required:", err)
		os.Exit(1)
	}
	db = client
	code := m.Run()
	stop()
	os.Exit(code)
}

func TestDeliversWritesInOrderFilteredAndRemoves(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	table := newTable(t, db)
	all, posts := &sink{}, &sink{}
	follow(t, db, table, nil, all, testLog(t))
	isPostInsert := func(r events.DynamoDBEventRecord) bool {
		return r.EventName == "INSERT" && strings.HasPrefix(r.Change.Keys["sk"].String(), "P#")
	}
	follow(t, db, table, isPostInsert, posts, testLog(t))

	const a, b = "T#x#A#acc_1", "T#x#A#acc_2"
	for i := 1; i <= 5; i++ {
		put(t, db, table, a, fmt.Sprintf("P#%03d", i))
		put(t, db, table, a, fmt.Sprintf("H#%03d", i))
		put(t, db, table, b, fmt.Sprintf("P#%03d", i))
	}
	del(t, db, table, a, "P#001")
	// The last write passes the filter: once the filtered follower has it,
	// it has been offered every record before it (one shard on DynamoDB
	// Local), so what it did not get, it filtered out.
	put(t, db, table, a, "P#999")

	want := map[string][]string{
		a: {"INSERT P#001", "INSERT H#001", "INSERT P#002", "INSERT H#002", "INSERT P#003", "INSERT H#003",
			"INSERT P#004", "INSERT H#004", "INSERT P#005", "INSERT H#005", "REMOVE P#001", "INSERT P#999"},
		b: {"INSERT P#001", "INSERT P#002", "INSERT P#003", "INSERT P#004", "INSERT P#005"},
	}
	got := all.waitFor(t, func(rs []events.DynamoDBEventRecord) bool { return len(rs) >= 17 })
	if g := byKey(got); !reflect.DeepEqual(g, want) {
		t.Errorf("unfiltered follower got, per partition key:\n%v\nwant:\n%v", g, want)
	}
	arn := streamARN(ctx, t, db, table)
	for i, r := range got {
		if r.EventSource != "aws:dynamodb" || r.AWSRegion != "us-east-1" || r.EventSourceArn != arn ||
			r.Change.StreamViewType != "KEYS_ONLY" || r.EventID == "" || r.Change.SizeBytes <= 0 {
			t.Errorf("record %d: source %q region %q arn %q view %q id %q size %d; want aws:dynamodb, us-east-1, %s, KEYS_ONLY, an id, a size",
				i, r.EventSource, r.AWSRegion, r.EventSourceArn, r.Change.StreamViewType, r.EventID, r.Change.SizeBytes, arn)
		}
		if len(r.Change.Keys) != 2 || r.Change.Keys["pk"].DataType() != events.DataTypeString || r.Change.NewImage != nil || r.Change.OldImage != nil {
			t.Errorf("record %d: keys %v, new image %v, old image %v; want pk and sk strings and no images", i, r.Change.Keys, r.Change.NewImage, r.Change.OldImage)
		}
		if r.Change.ApproximateCreationDateTime.IsZero() {
			t.Errorf("record %d has no ApproximateCreationDateTime", i)
		}
		if i > 0 && !seqLess(got[i-1].Change.SequenceNumber, r.Change.SequenceNumber) {
			t.Errorf("sequence numbers out of order: %s then %s", got[i-1].Change.SequenceNumber, r.Change.SequenceNumber)
		}
	}

	posted := posts.waitFor(t, func(rs []events.DynamoDBEventRecord) bool {
		return slices.ContainsFunc(rs, func(r events.DynamoDBEventRecord) bool { return r.Change.Keys["sk"].String() == "P#999" })
	})
	wantPosts := map[string][]string{
		a: {"INSERT P#001", "INSERT P#002", "INSERT P#003", "INSERT P#004", "INSERT P#005", "INSERT P#999"},
		b: want[b],
	}
	if g := byKey(posted); !reflect.DeepEqual(g, wantPosts) {
		t.Errorf("filtered follower got, per partition key:\n%v\nwant:\n%v", g, wantPosts)
	}
	all.noEmptyBatches(t)
	posts.noEmptyBatches(t)
}

func TestFailedBatchIsRetried(t *testing.T) {
	t.Parallel()
	table := newTable(t, db)
	for i := 1; i <= 5; i++ {
		put(t, db, table, "T#x#A#acc_1", fmt.Sprintf("P#%03d", i))
	}
	var logs lockedBuffer
	s := &sink{failFirst: 1}
	follow(t, db, table, nil, s, slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), nil)))

	s.waitFor(t, func(rs []events.DynamoDBEventRecord) bool { return len(rs) >= 5 })
	put(t, db, table, "T#x#A#acc_1", "P#006")
	got := s.waitFor(t, func(rs []events.DynamoDBEventRecord) bool { return len(rs) >= 6 })

	if g, want := sks(got), []string{"P#001", "P#002", "P#003", "P#004", "P#005", "P#006"}; !slices.Equal(g, want) {
		t.Errorf("handled %v, want %v: nothing lost, nothing twice, in order", g, want)
	}
	calls := s.allCalls()
	if len(calls) < 2 {
		t.Fatalf("handler called %d times, want the failed call and its retry", len(calls))
	}
	if first, retry := seqs(calls[0]), seqs(calls[1]); !slices.Equal(first, retry) {
		t.Errorf("the retry got records %v, want the failed batch %v again", retry, first)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "injected failure") {
		t.Errorf("the failure was not logged at warn; log:\n%s", logs.String())
	}
	s.noEmptyBatches(t)
}

func TestReadsFromTrimHorizon(t *testing.T) {
	t.Parallel()
	table := newTable(t, db)
	for _, sk := range []string{"P#001", "H#001", "P#002"} {
		put(t, db, table, "T#x#A#acc_1", sk)
	}
	s := &sink{}
	follow(t, db, table, nil, s, testLog(t))
	s.waitFor(t, func(rs []events.DynamoDBEventRecord) bool { return len(rs) >= 3 })
	put(t, db, table, "T#x#A#acc_1", "P#003")
	got := s.waitFor(t, func(rs []events.DynamoDBEventRecord) bool { return len(rs) >= 4 })
	if g, want := sks(got), []string{"P#001", "H#001", "P#002", "P#003"}; !slices.Equal(g, want) {
		t.Errorf("handled %v, want %v", g, want)
	}
}

// TestSurvivesRestart stops DynamoDB Local (one of the test's own, keeping
// its data on disk, as `make run` does) under a running follower and starts
// it again on the same port: records written before and after all arrive,
// in order, perhaps some twice.
func TestSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	srv, err := dynamodblocal.Start(ctx, dynamodblocal.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("start DynamoDB Local: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	own, err := dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: srv.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	table := newTable(t, own)
	var logs lockedBuffer
	s := &sink{}
	follow(t, own, table, nil, s, slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug})))
	put(t, own, table, "T#x#A#acc_1", "P#001")
	put(t, own, table, "T#x#A#acc_1", "P#002")
	s.waitFor(t, func(rs []events.DynamoDBEventRecord) bool { return len(rs) >= 2 })

	port, err := strconv.Atoi(srv.Endpoint()[strings.LastIndex(srv.Endpoint(), ":")+1:])
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("stop DynamoDB Local: %v", err)
	}
	// Restart only once the follower has met the dead server, so that the
	// test covers the way back rather than a restart between two polls.
	logs.waitFor(t, "reading the stream failed")
	srv, err = dynamodblocal.Start(ctx, dynamodblocal.Options{DataDir: dir, Port: port})
	if err != nil {
		t.Fatalf("restart DynamoDB Local on port %d: %v", port, err)
	}
	put(t, own, table, "T#x#A#acc_1", "P#003")
	put(t, own, table, "T#x#A#acc_1", "P#004")

	want := []string{"P#001", "P#002", "P#003", "P#004"}
	got := s.waitFor(t, func(rs []events.DynamoDBEventRecord) bool {
		return len(slices.Compact(slices.Sorted(slices.Values(sks(rs))))) >= 4
	})
	// Redelivery is allowed; loss and disorder are not: dropping repeats
	// must leave the writes in order.
	var firsts []string
	last := ""
	for _, r := range got {
		if seqLess(last, r.Change.SequenceNumber) {
			firsts, last = append(firsts, r.Change.Keys["sk"].String()), r.Change.SequenceNumber
		}
	}
	if !slices.Equal(firsts, want) {
		t.Errorf("handled %v (%v without repeats), want %v", sks(got), firsts, want)
	}
	if !strings.Contains(logs.String(), "reading the stream again") {
		t.Errorf("the follower did not log its recovery; log:\n%s", logs.String())
	}
}

// TestConvertsImages checks every attribute type in the images of a table
// whose stream carries them (the ledger's table streams keys only).
func TestConvertsImages(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	table := "localstream-images-" + teststack.RandomID()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		BillingMode:         types.BillingModePayPerRequest,
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, waitFor); err != nil {
		t.Fatalf("wait for table: %v", err)
	}
	t.Cleanup(func() { dropTable(db, table) })

	item := map[string]types.AttributeValue{
		"pk":   &types.AttributeValueMemberS{Value: "T#x#A#acc_1"},
		"sk":   &types.AttributeValueMemberS{Value: "P#001"},
		"n":    &types.AttributeValueMemberN{Value: "12.5"},
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2}},
		"ok":   &types.AttributeValueMemberBOOL{Value: true},
		"none": &types.AttributeValueMemberNULL{Value: true},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "1"}}},
		"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberBOOL{Value: false}}},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"a"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"7"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{9}}},
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("put: %v", err)
	}
	item["n"] = &types.AttributeValueMemberN{Value: "13"}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("put again: %v", err)
	}
	s := &sink{}
	follow(t, db, table, nil, s, testLog(t))
	got := s.waitFor(t, func(rs []events.DynamoDBEventRecord) bool { return len(rs) >= 2 })

	want := map[string]events.DynamoDBAttributeValue{
		"pk":   events.NewStringAttribute("T#x#A#acc_1"),
		"sk":   events.NewStringAttribute("P#001"),
		"n":    events.NewNumberAttribute("12.5"),
		"b":    events.NewBinaryAttribute([]byte{0, 1, 2}),
		"ok":   events.NewBooleanAttribute(true),
		"none": events.NewNullAttribute(),
		"l":    events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("x"), events.NewNumberAttribute("1")}),
		"m":    events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"k": events.NewBooleanAttribute(false)}),
		"ss":   events.NewStringSetAttribute([]string{"a"}),
		"ns":   events.NewNumberSetAttribute([]string{"7"}),
		"bs":   events.NewBinarySetAttribute([][]byte{{9}}),
	}
	if r := got[0]; r.EventName != "INSERT" || !reflect.DeepEqual(r.Change.NewImage, want) || r.Change.OldImage != nil {
		t.Errorf("first record: %s, new image %v, old image %v; want INSERT, %v, none", r.EventName, r.Change.NewImage, r.Change.OldImage, want)
	}
	modified := maps.Clone(want)
	modified["n"] = events.NewNumberAttribute("13")
	if r := got[1]; r.EventName != "MODIFY" || !reflect.DeepEqual(r.Change.OldImage, want) || !reflect.DeepEqual(r.Change.NewImage, modified) {
		t.Errorf("second record: %s, old image %v, new image %v; want MODIFY, %v, %v", r.EventName, r.Change.OldImage, r.Change.NewImage, want, modified)
	}
	if r := got[1]; r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" || len(r.Change.Keys) != 2 {
		t.Errorf("second record: view %q, keys %v; want NEW_AND_OLD_IMAGES, pk and sk", r.Change.StreamViewType, r.Change.Keys)
	}
}

// sink is a handler that records what it is given. It fails its first
// failFirst calls.
type sink struct {
	mu        sync.Mutex
	failFirst int
	calls     [][]events.DynamoDBEventRecord // every call's records
	handled   []events.DynamoDBEventRecord   // records of the calls that succeeded
}

func (s *sink) handle(_ context.Context, ev events.DynamoDBEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, ev.Records)
	if len(s.calls) <= s.failFirst {
		return errors.New("injected failure")
	}
	s.handled = append(s.handled, ev.Records...)
	return nil
}

func (s *sink) allCalls() [][]events.DynamoDBEventRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// waitFor polls until the records handled satisfy done, and returns them.
func (s *sink) waitFor(t *testing.T, done func([]events.DynamoDBEventRecord) bool) []events.DynamoDBEventRecord {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s.mu.Lock()
		got := slices.Clone(s.handled)
		s.mu.Unlock()
		if done(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting after %s; handled so far: %v", waitFor, sks(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *sink) noEmptyBatches(t *testing.T) {
	t.Helper()
	for i, c := range s.allCalls() {
		if len(c) == 0 {
			t.Errorf("call %d had no records", i)
		}
	}
}

// follow runs Follow for the rest of the test; at the end it cancels it and
// checks that it returns nil.
func follow(t *testing.T, client *dynamodb.Client, table string, filter localstream.Filter, s *sink, log *slog.Logger) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	streams := localstream.NewClient(aws.ToString(client.Options().BaseEndpoint))
	done := make(chan error, 1)
	go func() { done <- localstream.Follow(ctx, streams, client, table, filter, s.handle, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Follow returned %v after its context ended, want nil", err)
			}
		case <-time.After(waitFor):
			t.Errorf("Follow did not return within %s of its context ending", waitFor)
		}
	})
}

func newTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	table := "localstream-" + teststack.RandomID()
	if err := dynamo.CreateTable(testCtx(t), client, table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() { dropTable(client, table) })
	return table
}

func dropTable(client *dynamodb.Client, table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
}

func streamARN(ctx context.Context, t *testing.T, client *dynamodb.Client, table string) string {
	t.Helper()
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("describe table: %v", err)
	}
	return aws.ToString(out.Table.LatestStreamArn)
}

func put(t *testing.T, client *dynamodb.Client, table, pk, sk string) {
	t.Helper()
	_, err := client.PutItem(testCtx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk},
		"amount": &types.AttributeValueMemberN{Value: "10.00"},
	}})
	if err != nil {
		t.Fatalf("put %s %s: %v", pk, sk, err)
	}
}

func del(t *testing.T, client *dynamodb.Client, table, pk, sk string) {
	t.Helper()
	_, err := client.DeleteItem(testCtx(t), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk},
	}})
	if err != nil {
		t.Fatalf("delete %s %s: %v", pk, sk, err)
	}
}

// byKey lists "EVENT sk" per partition key, in the order handled.
func byKey(rs []events.DynamoDBEventRecord) map[string][]string {
	m := map[string][]string{}
	for _, r := range rs {
		pk := r.Change.Keys["pk"].String()
		m[pk] = append(m[pk], r.EventName+" "+r.Change.Keys["sk"].String())
	}
	return m
}

func sks(rs []events.DynamoDBEventRecord) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Change.Keys["sk"].String())
	}
	return s
}

func seqs(rs []events.DynamoDBEventRecord) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Change.SequenceNumber)
	}
	return s
}

// seqLess compares sequence numbers: decimal strings, of any length on AWS.
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until the log holds text.
func (b *lockedBuffer) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !strings.Contains(b.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting after %s for %q in the log:\n%s", waitFor, text, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
