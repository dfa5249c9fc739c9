package dynamo

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// BenchmarkSequencerCatchUp numbers a backlog of n waiting lines of one hot
// account (as a stream that stopped for a while would leave it) and
// reports lines per second, DynamoDB calls per line and the heap's peak
// while it runs. Linear catch-up shows as lines/s that do not fall with n,
// bounded memory as a peak that does not grow with it. The backlog is
// written straight into the table first (BatchWriteItem), outside the
// timing. Run with DynamoDB Local:
//
//	go run ./infra/cmd/withdynamodb -- go test -run '^$' -bench SequencerCatchUp -benchtime 1x ./shared/dynamo/
func BenchmarkSequencerCatchUp(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				tenant, id := writeBacklog(b, n)
				sp := &countingAPI{API: TestDB}
				st := New(sp, TestTable)
				var peak atomic.Uint64
				stop := sampleHeap(&peak)
				b.StartTimer()
				t0 := time.Now()
				got, err := st.NumberHistory(context.Background(), tenant, id)
				took := time.Since(t0)
				b.StopTimer()
				stop()
				if err != nil || got != n {
					b.Fatalf("numbered %d of %d: %v", got, n, err)
				}
				b.ReportMetric(float64(n)/took.Seconds(), "lines/s")
				b.ReportMetric(float64(sp.calls.Load())/float64(n), "calls/line")
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			}
		})
	}
}

// countingAPI counts the calls the store makes.
type countingAPI struct {
	API
	calls atomic.Int64
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.calls.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

func (c *countingAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.calls.Add(1)
	return c.API.BatchGetItem(ctx, in, o...)
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.calls.Add(1)
	return c.API.Query(ctx, in, o...)
}

func (c *countingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls.Add(1)
	return c.API.TransactWriteItems(ctx, in, o...)
}

// sampleHeap records the largest HeapInuse seen until stop is called.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	runtime.GC()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// writeBacklog makes a hot account with n credits of 1.00 waiting for
// their numbers, a millisecond apart.
func writeBacklog(b *testing.B, n int) (tenant, id string) {
	b.Helper()
	ctx := context.Background()
	st := rawStore()
	tenant = fmt.Sprintf("t-bench-%d", time.Now().UnixNano())
	in := ledger.NewAccountInput{Name: "Backlog", Kind: ledger.KindBank, Currency: "EUR", Hot: true}
	acc, _, err := ledger.NewAccount(in, ledger.NewID(ledger.AccountPrefix, time.Now()), time.Now().UTC().Truncate(time.Millisecond), creator)
	if err != nil {
		b.Fatal(err)
	}
	audit := ledger.NewAuditRecord(ledger.NewCaller(creator, tenant, ledger.ScopeAdmin), time.Now(), ledger.ActionAccountCreated, "account", acc.ID, []string{acc.ID}, nil)
	if _, err := st.CreateAccount(ctx, tenant, acc, nil, nil, creator, audit); err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	one := decimal.RequireFromString("1.00")
	var batch []types.WriteRequest
	flush := func() {
		req := map[string][]types.WriteRequest{TestTable: batch}
		for len(req) > 0 {
			out, err := TestDB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
			if err != nil {
				b.Fatal(err)
			}
			req = out.UnprocessedItems
		}
		batch = batch[:0]
	}
	for i := range n {
		l := &ledger.HistoryLine{AccountID: acc.ID, TransactionID: fmt.Sprintf("txn_%08d", i), Kind: ledger.TxnEntry, Type: ledger.Credit,
			Amount: one, Currency: acc.Currency, PostedAt: start.Add(time.Duration(i) * time.Millisecond), PostedBy: creator}
		it := historyItem(tenant, l)
		it[attrSK] = s(unnumberedSK(l))
		delete(it, "seq")
		delete(it, "balance_after")
		markUnnumbered(it, l.PostedAt)
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		if len(batch) == 25 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return tenant, acc.ID
}
