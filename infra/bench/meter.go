// Package bench measures what one operation costs and how fast the ledger
// goes: every route's DynamoDB units and duration against DynamoDB Local,
// turned into dollars per million requests and per month at scale; postings
// per second through the local gateway; and (in its _test.go) Go benchmarks
// of the CPU a posting costs inside the function. The command
// infra/cmd/bench runs it all and rewrites docs/BENCHMARKS.md.
package bench

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/metrics"
)

// Counters this package adds to a request's log line, next to the store's
// own (DynamoDBCalls, ReadCapacityUnits, ModelWriteUnits, ...). They exist
// only in the bench stack; deployed functions do not log them.
const (
	// RoundTrips counts the moments the request waited on DynamoDB: a call
	// made while another call of the same request is in flight adds none.
	RoundTrips = "BenchRoundTrips"
	// Transactions counts TransactWriteItems calls.
	Transactions = "BenchTransactions"
	// DynamoDBMillis is the wall time with at least one call in flight.
	DynamoDBMillis = "BenchDynamoDBMillis"
	// IndexWriteUnits models what writing gsi1 costs on top of the table
	// writes: DynamoDB bills each index entry put, updated or deleted as a
	// standard write, 1 unit per KB (the transaction and audit records are
	// projected into gsi1 in full). The store's ModelWriteUnits leaves it out.
	IndexWriteUnits = "BenchIndexWriteUnits"
	// NewItemBytes is what the request adds to the table's billed storage:
	// each new item (not an overwrite, not an idempotency record, which
	// expires after 24 h) at its size plus DynamoDB's 100 bytes of per-item
	// overhead, and its gsi1 copy the same way.
	NewItemBytes = "BenchNewItemBytes"
	// NewItemRawBytes is the same without the overhead and the index copy:
	// the logical bytes a posting keeps.
	NewItemRawBytes = "BenchNewItemRawBytes"
)

// Meter wraps the DynamoDB client the store uses and adds the counters above
// to the request in the call's context (found by API Gateway's request id,
// which the api-proxy adapter puts in every request's context).
type Meter struct {
	db dynamo.API

	mu       sync.Mutex
	inflight map[string]*flight
	// gsiKeys remembers the gsi1 key of every item written with one, so that
	// an overwrite can tell whether its index entry moves (2 index writes)
	// or stays (1).
	gsiKeys map[[2]string]string
}

type flight struct {
	n     int
	start time.Time
}

// NewMeter wraps db.
func NewMeter(db dynamo.API) *Meter {
	return &Meter{db: db, inflight: map[string]*flight{}, gsiKeys: map[[2]string]string{}}
}

var _ dynamo.API = (*Meter)(nil)

func requestID(ctx context.Context) string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(ctx); ok {
		return gw.RequestID
	}
	return ""
}

// begin marks a call of the request in ctx as started; the returned func
// marks it done.
func (m *Meter) begin(ctx context.Context, txn bool) func() {
	id := requestID(ctx)
	if id == "" {
		return func() {}
	}
	m.mu.Lock()
	f := m.inflight[id]
	if f == nil {
		f = &flight{}
		m.inflight[id] = f
	}
	if f.n == 0 {
		f.start = time.Now()
		metrics.Add(ctx, RoundTrips, 1)
	}
	f.n++
	m.mu.Unlock()
	if txn {
		metrics.Add(ctx, Transactions, 1)
	}
	return func() {
		m.mu.Lock()
		f.n--
		if f.n == 0 {
			metrics.Add(ctx, DynamoDBMillis, float64(time.Since(f.start).Microseconds())/1000)
			delete(m.inflight, id)
		}
		m.mu.Unlock()
	}
}

// GetItem implements dynamo.API.
func (m *Meter) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	defer m.begin(ctx, false)()
	return m.db.GetItem(ctx, in, o...)
}

// BatchGetItem implements dynamo.API.
func (m *Meter) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	defer m.begin(ctx, false)()
	return m.db.BatchGetItem(ctx, in, o...)
}

// Query implements dynamo.API.
func (m *Meter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	defer m.begin(ctx, false)()
	return m.db.Query(ctx, in, o...)
}

// PutItem implements dynamo.API.
func (m *Meter) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	defer m.begin(ctx, false)()
	out, err := m.db.PutItem(ctx, in, o...)
	if err == nil {
		m.account(ctx, []types.TransactWriteItem{{Put: &types.Put{Item: in.Item, ConditionExpression: in.ConditionExpression}}})
	}
	return out, err
}

// TransactWriteItems implements dynamo.API.
func (m *Meter) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	defer m.begin(ctx, true)()
	out, err := m.db.TransactWriteItems(ctx, in, o...)
	if err == nil {
		m.account(ctx, in.TransactItems)
	}
	return out, err
}

// account adds the index write units and the storage a committed write adds.
func (m *Meter) account(ctx context.Context, items []types.TransactWriteItem) {
	var index, stored, raw float64
	m.mu.Lock()
	for _, ti := range items {
		p := ti.Put
		if p == nil {
			continue // updates of system shards and holds: no index, no new item worth counting
		}
		size := dynamo.ItemSize(p.Item)
		cond := ""
		if p.ConditionExpression != nil {
			cond = *p.ConditionExpression
		}
		overwrite := strings.Contains(cond, "rev =") || strings.Contains(cond, "#status =")
		_, expires := p.Item["expires_at"]
		gsi, hasGSI := gsiKey(p.Item)
		if hasGSI {
			k := [2]string{str(p.Item["pk"]), str(p.Item["sk"])}
			units := float64((size + 1023) / 1024)
			if old, ok := m.gsiKeys[k]; ok && old != gsi {
				units *= 2 // the entry moves: delete the old one, put the new one
			}
			m.gsiKeys[k] = gsi
			index += units
		}
		if overwrite || expires {
			continue
		}
		raw += float64(size)
		stored += float64(size + 100)
		if hasGSI {
			stored += float64(size + 100)
		}
	}
	m.mu.Unlock()
	if index > 0 {
		metrics.Add(ctx, IndexWriteUnits, index)
	}
	if stored > 0 {
		metrics.Add(ctx, NewItemBytes, stored)
		metrics.Add(ctx, NewItemRawBytes, raw)
	}
}

func gsiKey(it map[string]types.AttributeValue) (string, bool) {
	pk, ok := it["gsi1pk"]
	if !ok {
		return "", false
	}
	return str(pk) + "\x00" + str(it["gsi1sk"]), true
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
