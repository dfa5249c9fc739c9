// Package localstream stands in, on the local stack, for the Lambda event
// source mapping that feeds a DynamoDB stream to a function on AWS.
//
// DynamoDB Local serves the DynamoDB Streams API (at its one endpoint) but has
// no Lambda and so no event source mappings: nothing would ever call a
// stream-triggered function. Follow plays that part. It reads the table's
// stream from TRIM_HORIZON, every shard, parents before children, and hands
// batches of up to 100 records, as events.DynamoDBEvent, to the very handler
// the function runs on AWS. A failed batch is retried, unchanged, until the
// handler accepts it; records of a shard stay in order. Delivery is
// at least once, as on AWS: after an error or a DynamoDB Local restart a
// shard resumes after the last record delivered, and a record may come twice.
//
// What it does not model: the parallelization factor (one goroutine reads
// every shard in turn and calls the handler with one batch at a time), the
// batching window (a batch is what one GetRecords call returned), bisecting a
// failed batch, maximum retry attempts and record age, on-failure
// destinations, partial batch responses, and the invocation's time limit.
package localstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
)

// Handler is a stream-triggered Lambda function's handler.
type Handler func(ctx context.Context, ev events.DynamoDBEvent) error

// Filter picks the records the handler sees, as the event source
// mapping's FilterCriteria do on AWS. A nil Filter passes every record.
type Filter func(events.DynamoDBEventRecord) bool

const (
	// batchSize is the event source mapping's default batch size for
	// DynamoDB streams, and the most one GetRecords call is asked for.
	batchSize = 100
	// pollEvery is the pause after a round of polls that found nothing.
	pollEvery = 100 * time.Millisecond
	// refreshEvery is how often the table and its stream are described again
	// even when nothing asks for it, so that a recreated table (a new stream)
	// or a new shard is noticed.
	refreshEvery = 5 * time.Second
	// minBackoff and maxBackoff bound the pause after a failed call, to the
	// streams API or to the handler.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
	// region is what AWS would put in each record's awsRegion; DynamoDB Local
	// says "ddblocal".
	region = "us-east-1"
)

// NewClient builds a DynamoDB Streams client for DynamoDB Local's endpoint,
// with fixed credentials so that a developer's AWS profile stays out of
// local runs. Unlike the DynamoDB client, the Streams client checks no CRC32
// on responses, so there is no checksum validation to turn off.
//
// The SDK does not retry: Follow retries every failed call itself, after
// describing the stream again, and SDK retries would only keep it waiting
// on a dead iterator for longer.
func NewClient(endpoint string) *dynamodbstreams.Client {
	cfg := aws.Config{
		Region:           region,
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("local", "local", "")),
		RetryMaxAttempts: 1,
	}
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

// errNoStream stops Follow: the table exists but was created without a
// stream, which waiting will not fix.
var errNoStream = errors.New("table has no stream (create it with a StreamSpecification)")

// Follow delivers the table's stream records to h until ctx ends, and then
// returns nil. Errors from DynamoDB or DynamoDB Streams (DynamoDB Local
// restarting, an expired iterator, the table not there yet) are logged and
// waited out; Follow returns an error only if the table has no stream.
func Follow(ctx context.Context, streams *dynamodbstreams.Client, db *dynamodb.Client, table string, filter Filter, h Handler, log *slog.Logger) error {
	f := &follower{streams: streams, db: db, table: table, filter: filter, h: h, log: log.With("table", table)}
	for {
		err := f.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errNoStream) {
			return fmt.Errorf("localstream: %s: %w", table, err)
		}
		f.failures++
		// The first failure of a run is news; while DynamoDB Local stays
		// down the same error every two seconds is not. An expired iterator
		// is routine (a handler held a batch past 15 minutes).
		level := slog.LevelWarn
		var expired *types.ExpiredIteratorException
		if f.failures > 1 || errors.As(err, &expired) {
			level = slog.LevelDebug
		}
		f.log.Log(ctx, level, "localstream: reading the stream failed; will describe it again and resume", "err", err, "failures", f.failures)
		// Iterators may be stale now (DynamoDB Local restarted, the table
		// was recreated); each shard resumes after its last record.
		for _, s := range f.shards {
			s.iterator = nil
		}
		f.stale = true
		if !sleep(ctx, backoff(f.failures)) {
			return nil
		}
	}
}

// follower is one Follow's state. Only its goroutine touches it.
type follower struct {
	streams *dynamodbstreams.Client
	db      *dynamodb.Client
	table   string
	filter  Filter
	h       Handler
	log     *slog.Logger

	arn       string            // the stream being read
	shards    map[string]*shard // by shard id
	order     []string          // shard ids as DescribeStream lists them
	described time.Time         // when the stream was last described
	stale     bool              // describe again before the next poll
	failures  int               // failed runs since the last successful GetRecords
}

// shard is where the follower stands in one shard.
type shard struct {
	id, parent string
	iterator   *string // nil: get one before the next GetRecords
	last       string  // sequence number of the last record delivered or filtered out
	ended      bool    // closed, and read to its end
}

// run describes the stream and polls its shards until an error or ctx ends.
func (f *follower) run(ctx context.Context) error {
	for {
		if f.stale || f.arn == "" || time.Since(f.described) >= refreshEvery || len(f.ready()) == 0 {
			if err := f.describe(ctx); err != nil {
				return err
			}
		}
		busy := false
		for _, s := range f.ready() {
			n, err := f.poll(ctx, s)
			if err != nil {
				return err
			}
			busy = busy || n > 0
		}
		if !busy && !sleep(ctx, pollEvery) {
			return ctx.Err()
		}
	}
}

// describe learns the table's current stream and its shards. A new stream
// (the table was recreated, or DynamoDB Local restarted in memory) is read
// from its start.
func (f *follower) describe(ctx context.Context) error {
	t, err := f.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(f.table)})
	if err != nil {
		return fmt.Errorf("describe table: %w", err)
	}
	arn := aws.ToString(t.Table.LatestStreamArn)
	if arn == "" {
		return errNoStream
	}
	if arn != f.arn {
		if f.arn != "" {
			f.log.InfoContext(ctx, "localstream: the table has a new stream; reading it from its start", "old", f.arn, "new", arn)
		}
		f.arn, f.shards = arn, map[string]*shard{}
	}
	var listed []types.Shard
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)}
	for {
		out, err := f.streams.DescribeStream(ctx, in)
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", arn, err)
		}
		listed = append(listed, out.StreamDescription.Shards...)
		if out.StreamDescription.LastEvaluatedShardId == nil {
			break
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
	order := make([]string, 0, len(listed))
	for _, l := range listed {
		id := aws.ToString(l.ShardId)
		if f.shards[id] == nil {
			f.shards[id] = &shard{id: id, parent: aws.ToString(l.ParentShardId)}
		}
		order = append(order, id)
	}
	// Shards the stream no longer lists were trimmed: forget them.
	for id := range f.shards {
		if !slices.Contains(order, id) {
			delete(f.shards, id)
		}
	}
	f.order, f.described, f.stale = order, time.Now(), false
	return nil
}

// ready returns the shards to poll: not read to their end, and whose parent
// is read to its end or gone, so that an item's changes arrive in order
// across a shard split.
func (f *follower) ready() []*shard {
	var r []*shard
	for _, id := range f.order {
		s := f.shards[id]
		if p := f.shards[s.parent]; !s.ended && (p == nil || p.ended) {
			r = append(r, s)
		}
	}
	return r
}

// poll reads one batch from s and delivers it. It returns how many records
// the stream gave, filtered out or not.
func (f *follower) poll(ctx context.Context, s *shard) (int, error) {
	if s.iterator == nil {
		it, err := f.iterator(ctx, s)
		if err != nil {
			return 0, err
		}
		s.iterator = it
	}
	out, err := f.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iterator, Limit: aws.Int32(batchSize)})
	if err != nil {
		return 0, fmt.Errorf("get records from shard %s: %w", s.id, err)
	}
	if f.failures > 0 {
		f.log.InfoContext(ctx, "localstream: reading the stream again", "failures", f.failures)
		f.failures = 0
	}
	if len(out.Records) > 0 {
		batch := make([]events.DynamoDBEventRecord, 0, len(out.Records))
		for _, r := range out.Records {
			ev, err := convertRecord(r, f.arn)
			if err != nil {
				return 0, fmt.Errorf("shard %s: %w", s.id, err)
			}
			if f.filter == nil || f.filter(ev) {
				batch = append(batch, ev)
			}
		}
		if len(batch) > 0 {
			if err := f.deliver(ctx, s, batch); err != nil {
				return 0, err
			}
		}
		s.last = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber)
	}
	s.iterator = out.NextShardIterator
	if s.iterator == nil {
		// The shard is closed and read: its children, if any, can start.
		s.ended, f.stale = true, true
	}
	return len(out.Records), nil
}

// iterator positions a shard after its last record, or at its start when it
// has none or DynamoDB refuses the sequence number (trimmed, or unknown to a
// DynamoDB Local that lost its data): reading again is allowed, skipping is
// not.
func (f *follower) iterator(ctx context.Context, s *shard) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(f.arn), ShardId: aws.String(s.id)}
	if s.last != "" {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(s.last)
		out, err := f.streams.GetShardIterator(ctx, in)
		if err == nil {
			return out.ShardIterator, nil
		}
		if !refused(err) {
			return nil, fmt.Errorf("resume shard %s after %s: %w", s.id, s.last, err)
		}
		f.log.WarnContext(ctx, "localstream: cannot resume the shard after its last record; reading it again from its start",
			"shard", s.id, "after", s.last, "err", err)
	}
	in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeTrimHorizon, nil
	out, err := f.streams.GetShardIterator(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("start shard %s: %w", s.id, err)
	}
	return out.ShardIterator, nil
}

// refused reports whether DynamoDB answered that the sequence number cannot
// be resumed from, as opposed to not answering.
func refused(err error) bool {
	var trimmed *types.TrimmedDataAccessException
	var api smithy.APIError
	return errors.As(err, &trimmed) || errors.As(err, &api) && api.ErrorCode() == "ValidationException"
}

// deliver calls the handler with the batch until it succeeds or ctx ends,
// as the event source mapping retries a failed batch without moving on.
func (f *follower) deliver(ctx context.Context, s *shard, batch []events.DynamoDBEventRecord) error {
	for attempt := 1; ; attempt++ {
		// A copy each time, so that a handler that reorders its records
		// cannot change what the next attempt gets.
		err := f.invoke(ctx, events.DynamoDBEvent{Records: slices.Clone(batch)})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.log.WarnContext(ctx, "localstream: handler failed; retrying the same batch", "shard", s.id,
			"records", len(batch), "first_sequence", batch[0].Change.SequenceNumber, "attempt", attempt, "err", err)
		if !sleep(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}

// invoke calls the handler. A panic fails the invocation, as it does on
// Lambda, instead of taking the local stack down with it.
func (f *follower) invoke(ctx context.Context, ev events.DynamoDBEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return f.h(ctx, ev)
}

// backoff is the pause before the attempt after the nth failure in a row.
func backoff(n int) time.Duration {
	d := minBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// sleep waits d, or less if ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
