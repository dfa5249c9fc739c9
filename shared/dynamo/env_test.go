package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// TestDB and TestTable are the package's one table on DynamoDB Local, set by
// TestMain (main_test.go, external package, because teststack imports this
// package). Every test works in a tenant of its own on it.
var (
	TestDB    *dynamodb.Client
	TestTable string
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	if TestDB == nil {
		t.Fatal("TestMain did not set up DynamoDB Local")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newTenant returns a tenant id no other test or run uses.
func newTenant(t *testing.T) string {
	t.Helper()
	var r [5]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return "t-" + hex.EncodeToString(r[:])
}

// rawStore is a store straight on the real client.
func rawStore() *Store { return New(TestDB, TestTable) }

// spy wraps the real client: it counts calls by operation, keeps the inputs
// of the writes, and can run something before a TransactWriteItems goes out.
type spy struct {
	db API

	mu       sync.Mutex
	calls    map[string]int
	batchIn  []*dynamodb.BatchGetItemInput
	writeIn  []*dynamodb.TransactWriteItemsInput
	writeErr []error
	// beforeWrite runs before the n-th (1-based) TransactWriteItems is sent.
	beforeWrite func(ctx context.Context, n int) error
	// afterWrite sees the answer of the n-th TransactWriteItems and may
	// replace its error (a response lost after DynamoDB committed).
	afterWrite func(n int, err error) error
}

func newSpy() *spy { return &spy{db: TestDB, calls: map[string]int{}} }

func (p *spy) count(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[op]++
	return p.calls[op]
}

// snapshot returns the counts so far and starts again from zero.
func (p *spy) reset() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.calls
	p.calls, p.batchIn, p.writeIn, p.writeErr = map[string]int{}, nil, nil, nil
	return c
}

func (p *spy) snapshot() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := map[string]int{}
	for k, v := range p.calls {
		c[k] = v
	}
	return c
}

func (p *spy) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	p.count("GetItem")
	return p.db.GetItem(ctx, in, o...)
}

func (p *spy) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	p.count("BatchGetItem")
	p.mu.Lock()
	p.batchIn = append(p.batchIn, in)
	p.mu.Unlock()
	return p.db.BatchGetItem(ctx, in, o...)
}

func (p *spy) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	p.count("Query")
	return p.db.Query(ctx, in, o...)
}

func (p *spy) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	p.count("PutItem")
	return p.db.PutItem(ctx, in, o...)
}

func (p *spy) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	n := p.count("TransactWriteItems")
	if p.beforeWrite != nil {
		if err := p.beforeWrite(ctx, n); err != nil {
			return nil, fmt.Errorf("competing write before TransactWriteItems #%d: %w", n, err)
		}
	}
	out, err := p.db.TransactWriteItems(ctx, in, o...)
	if p.afterWrite != nil {
		if err = p.afterWrite(n, err); err != nil {
			out = nil
		}
	}
	p.mu.Lock()
	p.writeIn = append(p.writeIn, in)
	p.writeErr = append(p.writeErr, err)
	p.mu.Unlock()
	return out, err
}

// ---- accounts ----

const creator = "alice"

// createAccount creates an account the way the service does: NewAccount,
// its opening booking when the opening balance is not zero, CreateAccount.
func createAccount(t *testing.T, st *Store, tenant string, in ledger.NewAccountInput, now time.Time) *ledger.Account {
	t.Helper()
	acc, err := tryCreateAccount(t, st, tenant, in, now)
	if err != nil {
		t.Fatalf("create account %q: %v", in.Name, err)
	}
	return acc
}

func tryCreateAccount(t *testing.T, st *Store, tenant string, in ledger.NewAccountInput, now time.Time) (*ledger.Account, error) {
	t.Helper()
	now = now.UTC().Truncate(time.Millisecond)
	acc, opening, err := ledger.NewAccount(in, ledger.NewID(ledger.AccountPrefix, now), now, creator)
	if err != nil {
		t.Fatalf("NewAccount %q: %v", in.Name, err)
	}
	var bk *ledger.Booking
	if !opening.IsZero() {
		if bk, err = ledger.Opening(acc, opening, ledger.Actor{Sub: creator, Now: now}); err != nil {
			t.Fatalf("Opening %q: %v", in.Name, err)
		}
		acc = bk.Updates[0].Account
	}
	caller := ledger.NewCaller(creator, tenant, ledger.ScopeAdmin)
	audit := ledger.NewAuditRecord(caller, now, ledger.ActionAccountCreated, "account", acc.ID, []string{acc.ID}, acc.Settings())
	replay, err := st.CreateAccount(testCtx(t), tenant, acc, bk, nil, creator, audit)
	if err != nil {
		return nil, err
	}
	if replay != nil {
		t.Fatalf("create account %q without a key answered a replay %+v", in.Name, replay)
	}
	return acc, nil
}

// simpleAccount is an active funds-checked account with an opening balance
// ("" for none).
func simpleAccount(t *testing.T, st *Store, tenant, name, ccy, opening string) *ledger.Account {
	t.Helper()
	in := ledger.NewAccountInput{Name: name, Kind: ledger.KindCash, Currency: ccy}
	if opening != "" {
		in.OpeningBalance = &opening
	}
	return createAccount(t, st, tenant, in, time.Now())
}

func strp(v string) *string { return &v }

// ---- postings ----

// builds records what a PostRequest's Build did, attempt by attempt.
type builds struct {
	mu       sync.Mutex
	n        atomic.Int32
	txnIDs   []string
	audits   []*ledger.AuditRecord
	states   []app.State
	bookings []*ledger.Booking
}

func (b *builds) record(st *app.State, bk *ledger.Booking, audit *ledger.AuditRecord) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cp := *st
	cp.Accounts = map[string]*ledger.Account{}
	for id, a := range st.Accounts {
		ac := *a
		cp.Accounts[id] = &ac
	}
	b.states = append(b.states, cp)
	b.bookings = append(b.bookings, bk)
	b.txnIDs = append(b.txnIDs, bk.Txn.ID)
	b.audits = append(b.audits, audit)
}

func (b *builds) last() *ledger.Booking {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bookings[len(b.bookings)-1]
}

// postReq is a posting as the service builds it: the accounts named, the
// period of the value date, a domain booking, the audit record, the period
// check.
func postReq(tenant, sub string, ids []string, valueDate string, idem *app.Idempotency, rec *builds,
	book func(st *app.State, a ledger.Actor) (*ledger.Booking, error)) app.PostRequest {
	if valueDate == "" {
		valueDate = time.Now().UTC().Format(time.DateOnly)
	}
	caller := ledger.NewCaller(sub, tenant, ledger.ScopeAdmin)
	return app.PostRequest{
		Tenant: tenant, Caller: sub, Idem: idem, AccountIDs: ids, Month: ledger.PeriodOf(valueDate),
		Build: func(st *app.State) (*app.Commit, error) {
			if rec != nil {
				rec.n.Add(1)
			}
			for _, id := range ids {
				if st.Accounts[id] == nil {
					return nil, ledger.NotFound("Account " + id)
				}
			}
			if err := st.Period.AcceptsPostings(st.Now); err != nil {
				return nil, err
			}
			bk, err := book(st, ledger.Actor{Sub: sub, Now: st.Now})
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(caller, st.Now, ledger.ActionTransactionPosted, bk.Txn, nil)
			if rec != nil {
				rec.record(st, bk, audit)
			}
			return &app.Commit{Booking: bk, Step: ledger.StepCreated, Audit: audit}, nil
		},
	}
}

func transferReq(tenant, sub, from, to, amount string, idem *app.Idempotency, rec *builds) app.PostRequest {
	return postReq(tenant, sub, []string{from, to}, "", idem, rec, func(st *app.State, a ledger.Actor) (*ledger.Booking, error) {
		return ledger.Transfer(st.Accounts[from], st.Accounts[to],
			ledger.TransferInput{FromAccountID: from, ToAccountID: to, Amount: amount}, a)
	})
}

func entryReq(tenant, sub, acc, typ, amount string, idem *app.Idempotency, rec *builds) app.PostRequest {
	return postReq(tenant, sub, []string{acc}, "", idem, rec, func(st *app.State, a ledger.Actor) (*ledger.Booking, error) {
		return ledger.Entry(st.Accounts[acc], ledger.EntryInput{Type: typ, Amount: amount}, a)
	})
}

func mustPost(t *testing.T, st *Store, req app.PostRequest) *ledger.Transaction {
	t.Helper()
	txn, replay, err := st.Post(testCtx(t), req)
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if replay != nil || txn == nil {
		t.Fatalf("Post answered txn %v, replay %+v; want a new transaction", txn, replay)
	}
	return txn
}

// ---- reading back ----

// allHistory reads an account's whole history, page by page.
func allHistory(t *testing.T, st *Store, tenant, accountID string) []ledger.HistoryLine {
	t.Helper()
	var out []ledger.HistoryLine
	f := app.HistoryFilter{Limit: 100}
	for i := 0; ; i++ {
		page, err := st.History(testCtx(t), tenant, accountID, f)
		if err != nil {
			t.Fatalf("History %s: %v", accountID, err)
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		if i > 100 {
			t.Fatal("History never ends")
		}
		f.Cursor = page.NextCursor
	}
}

// checkBooks holds invariant 2 for an account: seq 1..n without gaps, each
// balance_after the previous plus or minus its amount, the last the balance.
// It returns the transaction ids of the lines, in order.
func checkBooks(t *testing.T, st *Store, tenant, accountID string) []string {
	t.Helper()
	acc, err := st.GetAccount(testCtx(t), tenant, accountID)
	if err != nil {
		t.Fatalf("GetAccount %s: %v", accountID, err)
	}
	lines := allHistory(t, st, tenant, accountID)
	bal := decimal.Zero
	var ids []string
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			t.Errorf("%s: line %d has seq %d, want %d", accountID, i, l.Seq, i+1)
		}
		signed := l.Amount
		if l.Type == ledger.Debit {
			signed = signed.Neg()
		}
		bal = bal.Add(signed)
		if !l.BalanceAfter.Equal(bal) {
			t.Errorf("%s: seq %d balance_after %s, want %s", accountID, l.Seq, l.BalanceAfter, bal)
		}
		ids = append(ids, l.TransactionID)
	}
	if !acc.Balance.Equal(bal) {
		t.Errorf("%s: balance %s, but its lines add up to %s", accountID, acc.Balance, bal)
	}
	if acc.Seq != int64(len(lines)) {
		t.Errorf("%s: seq %d, but it has %d lines", accountID, acc.Seq, len(lines))
	}
	return ids
}

// rawGet reads one item as DynamoDB holds it.
func rawGet(t *testing.T, pk, sk string) item {
	t.Helper()
	out, err := TestDB.GetItem(testCtx(t), &dynamodb.GetItemInput{
		TableName: aws.String(TestTable), Key: key(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem %s/%s: %v", pk, sk, err)
	}
	return out.Item
}

// rawPartition reads every item of a partition.
func rawPartition(t *testing.T, pk string) []item {
	t.Helper()
	var items []item
	var start item
	for {
		out, err := TestDB.Query(testCtx(t), &dynamodb.QueryInput{
			TableName: aws.String(TestTable), KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: item{":pk": s(pk)}, ConsistentRead: aws.Bool(true), ExclusiveStartKey: start,
		})
		if err != nil {
			t.Fatalf("Query %s: %v", pk, err)
		}
		items = append(items, out.Items...)
		if out.LastEvaluatedKey == nil {
			return items
		}
		start = out.LastEvaluatedKey
	}
}

// wantN checks that an attribute is a DynamoDB number with exactly this text.
func wantN(t *testing.T, it item, name, want string) {
	t.Helper()
	v, ok := it[name]
	if !ok {
		t.Errorf("attribute %s is missing; want N %s", name, want)
		return
	}
	nv, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		t.Errorf("attribute %s is stored as %T, want a number (N)", name, v)
		return
	}
	if nv.Value != want {
		t.Errorf("attribute %s = N %q, want N %q", name, nv.Value, want)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want ledger code %s", code)
	}
	if got := ledger.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %s), want code %s", err, got, code)
	}
}

func dec(t *testing.T, v string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func jsonString(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
