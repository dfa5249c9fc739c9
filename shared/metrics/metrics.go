// Package metrics counts what one request costs and how it ended, so that
// its one log line can carry them as CloudWatch Embedded Metric Format.
// The storage adapter adds its calls, capacity units and retries; the HTTP
// middleware writes the line. Counts are not money.
package metrics

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// Names of the counters.
const (
	DynamoDBCalls      = "DynamoDBCalls"
	ReadCapacityUnits  = "ReadCapacityUnits"
	WriteCapacityUnits = "WriteCapacityUnits"
	ConflictRetries    = "ConflictRetries"
	ItemsWritten       = "ItemsWritten"
	// ModelWriteUnits is what DynamoDB bills for the transactional writes
	// sent, computed from item sizes (2 units per KB per item), because
	// DynamoDB Local's own figure for transactions is not DynamoDB's.
	ModelWriteUnits  = "ModelWriteUnits"
	LargestItemBytes = "LargestItemBytes"
	Scans            = "Scans"
)

// Counters of one request; safe for concurrent use.
type Counters struct {
	mu      sync.Mutex
	m       map[string]float64
	actions map[string]bool
}

type ctxKey struct{}

// With returns a context carrying fresh counters.
func With(ctx context.Context) (context.Context, *Counters) {
	c := &Counters{m: map[string]float64{}, actions: map[string]bool{}}
	return context.WithValue(ctx, ctxKey{}, c), c
}

// Add adds v to the named counter of the request in ctx, if it has counters.
func Add(ctx context.Context, name string, v float64) {
	if c, ok := ctx.Value(ctxKey{}).(*Counters); ok {
		c.mu.Lock()
		c.m[name] += v
		c.mu.Unlock()
	}
}

// Max raises the named counter to v if v is larger.
func Max(ctx context.Context, name string, v float64) {
	if c, ok := ctx.Value(ctxKey{}).(*Counters); ok {
		c.mu.Lock()
		if v > c.m[name] {
			c.m[name] = v
		}
		c.mu.Unlock()
	}
}

// Get returns a counter's value.
func (c *Counters) Get(name string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

// Names lists the counters that were added to, sorted.
func (c *Counters) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.m))
}

// Use records that the request used an action of a service, named as IAM
// names it ("dynamodb:Query"): the request's log line lists them, so that a
// test can hold what each function really does to what its policy grants.
// They are not metrics.
func Use(ctx context.Context, action string) {
	if c, ok := ctx.Value(ctxKey{}).(*Counters); ok {
		c.mu.Lock()
		c.actions[action] = true
		c.mu.Unlock()
	}
}

// Actions lists the actions the request used, sorted.
func (c *Counters) Actions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.actions))
}
