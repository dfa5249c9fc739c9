// Package sequencer numbers the history lines of hot accounts. A posting to
// a hot account writes its line unnumbered, so that postings need not queue
// behind one counter; the table's stream tells this function which accounts
// have such lines, and it numbers all of them, oldest first.
//
// A stream record is only a nudge: the function reads what is waiting with a
// consistent query, so a record delivered twice, late or out of order
// numbers nothing twice, and a record lost is made good by the next one of
// the same account.
package sequencer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/lambdalog"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// Numberer numbers an account's waiting lines.
type Numberer interface {
	NumberHistory(ctx context.Context, tenant, accountID string) (int, error)
}

// Wants picks the records the function is invoked for: a new unnumbered
// line. template.yaml's FilterCriteria say the same to the event source
// mapping, so that the function runs only for those.
func Wants(r events.DynamoDBEventRecord) bool {
	if r.EventName != "INSERT" {
		return false
	}
	_, _, ok := dynamo.UnnumberedLineAccount(keyOf(r, "pk"), keyOf(r, "sk"))
	return ok
}

// keyOf is a string key attribute of the record, "" if it is not one.
func keyOf(r events.DynamoDBEventRecord, name string) string {
	v, ok := r.Change.Keys[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// Handler is the function's handler.
type Handler struct {
	Store Numberer
	Log   *slog.Logger
}

// concurrency is how many accounts of one batch are numbered at once: a
// batch may name many busy accounts, and one after another they could
// outlast the function's timeout.
const concurrency = 8

// Handle numbers the lines of every account the batch names, once each,
// several at a time; an error names what failed (make run's stream
// follower and make invoke use it).
func (h Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) error {
	_, err := h.handle(ctx, ev)
	return err
}

// HandleBatch is the Lambda handler (FunctionResponseTypes:
// ReportBatchItemFailures): it reports the first record of each account
// it could not number, so the event source mapping delivers again from
// there (and, after its retries, to the dead-letter queue) instead of the
// whole batch; numbering again is harmless.
func (h Handler) HandleBatch(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	failed, _ := h.handle(ctx, ev)
	var resp events.DynamoDBEventResponse
	for _, seq := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: seq})
	}
	return resp, nil
}

// handle numbers the batch's accounts; it returns the sequence number of
// the first record of each account that failed.
func (h Handler) handle(ctx context.Context, ev events.DynamoDBEvent) ([]string, error) {
	seen := map[dynamo.HotAccount]bool{}
	var accounts []dynamo.HotAccount
	var first []string
	for _, r := range ev.Records {
		if !Wants(r) {
			continue
		}
		tenant, id, _ := dynamo.UnnumberedLineAccount(keyOf(r, "pk"), keyOf(r, "sk"))
		if a := (dynamo.HotAccount{Tenant: tenant, ID: id}); !seen[a] {
			seen[a] = true
			accounts = append(accounts, a)
			first = append(first, r.Change.SequenceNumber)
		}
	}
	errs := numberAll(ctx, h.Store, h.Log, accounts)
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, first[i])
		}
	}
	return failed, errors.Join(errs...)
}

// numberAll numbers each account's waiting lines, concurrency at a time.
func numberAll(ctx context.Context, store Numberer, log *slog.Logger, accounts []dynamo.HotAccount) []error {
	errs := make([]error, len(accounts))
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			n, err := store.NumberHistory(ctx, a.Tenant, a.ID)
			if err != nil {
				log.ErrorContext(ctx, "numbering history", slog.String("tenant", a.Tenant), slog.String("account_id", a.ID), slog.String("error", err.Error()))
				errs[i] = fmt.Errorf("account %s: %w", a.ID, err)
				return
			}
			log.DebugContext(ctx, "numbered history", slog.String("tenant", a.Tenant), slog.String("account_id", a.ID), slog.Int("lines", n))
		}()
	}
	wg.Wait()
	return errs
}

// SweepStore is what the backstop sweep needs of the store.
type SweepStore interface {
	Numberer
	WaitingSince(ctx context.Context, t time.Time, limit int) ([]dynamo.HotAccount, error)
}

// sweepPerShard bounds how many waiting lines the sweep reads per shard of
// the index in one run; the next run goes on.
const sweepPerShard = 100

// Sweeper is the backstop of the stream: on a schedule (SweepHistory, every
// minute) it numbers every hot account with a line waiting longer than
// ledger.HistoryQuiet, found by key in the sparse index of waiting lines.
// It catches what the stream left: a batch that went to the dead-letter
// queue, a record lost, a run cut off by its timeout.
type Sweeper struct {
	Store SweepStore
	Log   *slog.Logger
}

// Handle runs one sweep as of the event's time (the schedule's), so a run
// can be replayed for any instant; an error fails the invocation (its
// retries, then the dead-letter queue), and the next run sweeps again.
func (s Sweeper) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	now := ev.Time
	if now.IsZero() {
		now = time.Now()
	}
	accounts, err := s.Store.WaitingSince(ctx, now.Add(-ledger.HistoryQuiet), sweepPerShard)
	if err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "sweeping history", slog.Int("accounts", len(accounts)))
	return errors.Join(numberAll(ctx, s.Store, s.Log, accounts)...)
}

// NewHandler builds the handler from the environment: TABLE_NAME, and
// DYNAMODB_ENDPOINT when running against DynamoDB Local.
func NewHandler(ctx context.Context, log *slog.Logger) (Handler, error) {
	table := os.Getenv("TABLE_NAME")
	if table == "" {
		return Handler{}, errors.New("TABLE_NAME is not set")
	}
	db, err := dynamo.NewClient(ctx, dynamo.ConfigFromEnv())
	if err != nil {
		return Handler{}, err
	}
	return Handler{Store: dynamo.New(db, table), Log: log}, nil
}

// Start runs the function: config and client once, then every batch.
func Start() {
	log := lambdalog.New()
	h, err := NewHandler(context.Background(), log)
	if err != nil {
		log.Error("cannot start", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(h.HandleBatch)
}

// StartSweep runs the backstop sweep function.
func StartSweep() {
	log := lambdalog.New()
	h, err := NewHandler(context.Background(), log)
	if err != nil {
		log.Error("cannot start", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(Sweeper{Store: h.Store.(SweepStore), Log: log}.Handle)
}
