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

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/lambdalog"
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
// several at a time. An error fails the batch, which the event source
// mapping delivers again (and, after its retries, to the dead-letter
// queue); numbering again is harmless.
func (h Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) error {
	type account struct{ tenant, id string }
	seen := map[account]bool{}
	var accounts []account
	for _, r := range ev.Records {
		if !Wants(r) {
			continue
		}
		tenant, id, _ := dynamo.UnnumberedLineAccount(keyOf(r, "pk"), keyOf(r, "sk"))
		if seen[account{tenant, id}] {
			continue
		}
		seen[account{tenant, id}] = true
		accounts = append(accounts, account{tenant, id})
	}
	errs := make([]error, len(accounts))
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			n, err := h.Store.NumberHistory(ctx, a.tenant, a.id)
			if err != nil {
				h.Log.ErrorContext(ctx, "numbering history", slog.String("tenant", a.tenant), slog.String("account_id", a.id), slog.String("error", err.Error()))
				errs[i] = fmt.Errorf("account %s: %w", a.id, err)
				return
			}
			h.Log.DebugContext(ctx, "numbered history", slog.String("tenant", a.tenant), slog.String("account_id", a.id), slog.Int("lines", n))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
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
	lambda.Start(h.Handle)
}
