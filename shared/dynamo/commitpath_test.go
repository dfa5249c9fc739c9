package dynamo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// Tests of the one commit path (commit.go), each written against a defect
// of the three loops it replaced.

// TestAWriteDynamoDBRefusesIsADefectNot503: a cancellation whose reason is
// ValidationError cannot be fixed by retrying. It was retried for 20 s and
// answered 503, out of sight of the 5xx alarm; it is answered at once, as an
// internal error (500), after one attempt.
func TestAWriteDynamoDBRefusesIsADefectNot503(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	acc := simpleAccount(t, rawStore(), tenant, "Till", "EUR", "")
	// Every shard of external:EUR holds its balance as a string: the ADD
	// of an entry's system line is refused as a ValidationError.
	for i := range systemShards {
		it := key(systemPK(tenant, ledger.SystemAccountID(ledger.SystemExternal, acc.Currency)), systemSK(i))
		it["balance"] = s("corrupt")
		if _, err := TestDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &TestTable, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	sp := newSpy()
	st := New(sp, TestTable)
	st.Retry.Budget = 3 * time.Second
	_, _, err := st.Post(ctx, entryReq(tenant, creator, acc.ID, ledger.Credit, "5.00", nil, nil))
	if err == nil || ledger.ErrorCode(err) != ledger.EInternal {
		t.Fatalf("Post against a corrupt item: %v; want an internal error (500), not %q", err, ledger.ErrorCode(err))
	}
	if !strings.Contains(err.Error(), "ValidationE") {
		t.Errorf("the error %v does not carry DynamoDB's reason for the logs", err)
	}
	if n := sp.snapshot()["TransactWriteItems"]; n != 1 {
		t.Errorf("%d TransactWriteItems, want 1: a defect is not retried", n)
	}
}

// stall holds every TransactWriteItems until its context ends, as a write
// whose answer never comes back.
type stall struct{ API }

func (s stall) TransactWriteItems(ctx context.Context, _ *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestPostAnswersBeforeItsDeadline: the retry loop checked its 20 s budget
// only between attempts and gave each commit 15 s, so a request on a
// Lambda with 25 s could still be waiting when the function was killed
// (the client then got the gateway's 5xx). The loop ends AnswerReserve
// before the request's deadline and answers 503 itself.
func TestPostAnswersBeforeItsDeadline(t *testing.T) {
	tenant := newTenant(t)
	acc := simpleAccount(t, rawStore(), tenant, "Till", "EUR", "10.00")
	st := New(stall{TestDB}, TestTable)
	ctx, cancel := context.WithTimeout(context.Background(), ledger.AnswerReserve+1500*time.Millisecond)
	defer cancel()
	_, _, err := st.Post(ctx, entryReq(tenant, creator, acc.ID, ledger.Debit, "1.00", nil, nil))
	if ctx.Err() != nil {
		t.Fatalf("Post answered after its deadline (%v): the function would have been killed", err)
	}
	if ledger.ErrorCode(err) != ledger.EUnavailable {
		t.Errorf("Post with every commit unanswered: %v; want 503 unavailable", err)
	}
}

// landsBeforeRead holds the first TransactWriteItems (its answer is lost)
// and sends it just before the first BatchGetItem that reads an account
// after that: the lost attempt lands after the retry looked for it and
// before the retry read the accounts.
type landsBeforeRead struct {
	API
	mu     sync.Mutex
	held   *dynamodb.TransactWriteItemsInput
	writes int
	landed bool
}

func (l *landsBeforeRead) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	l.mu.Lock()
	l.writes++
	first := l.writes == 1
	if first {
		l.held = in
	}
	l.mu.Unlock()
	if first {
		return nil, errors.New("operation error DynamoDB: TransactWriteItems: connection reset")
	}
	return l.API.TransactWriteItems(ctx, in, o...)
}

func (l *landsBeforeRead) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	l.mu.Lock()
	send := l.held != nil && !l.landed && readsAccount(in)
	if send {
		l.landed = true
	}
	l.mu.Unlock()
	if send {
		if _, err := l.API.TransactWriteItems(ctx, l.held); err != nil {
			return nil, err
		}
	}
	return l.API.BatchGetItem(ctx, in, o...)
}

func readsAccount(in *dynamodb.BatchGetItemInput) bool {
	for _, ka := range in.RequestItems {
		for _, k := range ka.Keys {
			if str(k[attrSK]) == skAccount {
				return true
			}
		}
	}
	return false
}

// TestLostAttemptLandingLateIsNotAnsweredAsRefused: a debit of 60 from 100
// whose first answer was lost and which lands just before the retry reads
// the account: the retry sees 40 and would refuse 60 for insufficient
// funds, while the debit is in the books. The answer is the booked debit.
func TestLostAttemptLandingLateIsNotAnsweredAsRefused(t *testing.T) {
	tenant := newTenant(t)
	acc := simpleAccount(t, rawStore(), tenant, "Till", "EUR", "100.00")
	l := &landsBeforeRead{API: TestDB}
	st := New(l, TestTable)
	txn, _, err := st.Post(testCtx(t), entryReq(tenant, creator, acc.ID, ledger.Debit, "60.00", nil, nil))
	if !l.landed {
		t.Fatal("the lost attempt never landed: the test did not run its case")
	}
	if err != nil {
		t.Fatalf("Post answered %v, but the debit is booked", err)
	}
	ids := checkBooks(t, rawStore(), tenant, acc.ID)
	if len(ids) != 2 || ids[1] != txn.ID {
		t.Errorf("lines name %v, want the opening and the answered debit %s", ids, txn.ID)
	}
	if got := account(t, rawStore(), tenant, acc.ID); got.Balance.StringFixed(2) != "40.00" {
		t.Errorf("balance %s, want 40.00", got.Balance)
	}
}

// withdrawalCaller may do everything to withdrawals but approve its own.
func withdrawalCaller(tenant, sub string) ledger.Caller {
	return ledger.NewCaller(sub, tenant, "accounts:view accounts:all withdrawals:view withdrawals:create withdrawals:approve withdrawals:delete")
}

// TestApproveWhoseAnswerWasLostThenReversedIsRecognised: an approval that
// committed but whose answer was lost, and that someone reversed before
// the retry looked: the retry found the transaction rewritten without its
// attempt token, built again and answered 409 "not pending" for an
// approval that happened. It is answered as approved.
func TestApproveWhoseAnswerWasLostThenReversedIsRecognised(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	acc := createAccount(t, rawStore(), tenant, ledger.NewAccountInput{Name: "Vault", Currency: "EUR", Kind: ledger.KindCash,
		OpeningBalance: strp("100.00"), ApprovalThreshold: strp("50.00"), Members: []string{creator, "bob"}}, time.Now())
	alice := app.New(rawStore())
	w, err := alice.PostWithdrawal(ctx, withdrawalCaller(tenant, creator), acc.ID, ledger.WithdrawalInput{Amount: "70.00", Method: "cash"}, nil)
	if err != nil || w.Transaction.Status != ledger.TxnPending {
		t.Fatalf("withdrawal: %v %+v", err, w)
	}
	sp := newSpy()
	sp.afterWrite = func(n int, err error) error {
		if n == 1 && err == nil {
			// Committed; before its answer, a colleague reverses it.
			if _, rerr := alice.Reverse(ctx, withdrawalCaller(tenant, creator), w.Transaction.ID, ledger.ReverseInput{Reason: "wrong"}, nil); rerr != nil {
				t.Errorf("reverse: %v", rerr)
			}
			return errors.New("operation error DynamoDB: TransactWriteItems: connection reset")
		}
		return err
	}
	bob := app.New(New(sp, TestTable))
	got, err := bob.Approve(ctx, withdrawalCaller(tenant, "bob"), w.Transaction.ID, nil)
	if err != nil {
		t.Fatalf("Approve whose commit landed answered %v", err)
	}
	if got.Transaction.ApprovedBy != "bob" {
		t.Errorf("answered %+v, want the approval by bob", got.Transaction)
	}
}

// TestConcurrentClosesOfAPeriodOneWins: eight closes of one month by one
// user at the same instant: one closes it, the others are 409. The loop
// took a close whose period item carried the same closing time as its own
// for its own lost attempt, and answered 200 several times.
func TestConcurrentClosesOfAPeriodOneWins(t *testing.T) {
	tenant := newTenant(t)
	at := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	svc := &app.Service{Store: rawStore(), Now: func() time.Time { return at }}
	c := ledger.NewCaller(creator, tenant, "periods:close")
	var wg sync.WaitGroup
	var mu sync.Mutex
	closed, conflicts := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := svc.ClosePeriod(testCtx(t), c, "2026-02", nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				closed++
			case ledger.ErrorCode(err) == ledger.EConflict:
				conflicts++
			default:
				t.Errorf("close: %v", err)
			}
		}()
	}
	wg.Wait()
	if closed != 1 || conflicts != 7 {
		t.Errorf("%d closes answered 200 and %d 409; want 1 and 7", closed, conflicts)
	}
}

// TestValueDateAndPeriodComeFromOneInstant: the period a posting checked
// was the month of the service's clock, while its value date defaulted from
// the moment the store read the accounts: across a month end (or with the
// service's clock anywhere else) a posting was booked with a value date in a
// closed period. Both come from the request's one instant now.
func TestValueDateAndPeriodComeFromOneInstant(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	acc := simpleAccount(t, rawStore(), tenant, "Till", "EUR", "")
	today := time.Date(2025, 6, 30, 23, 59, 59, 0, time.UTC)
	svc := &app.Service{Store: rawStore(), Now: func() time.Time { return today }}
	c := ledger.NewCaller(creator, tenant, "accounts:view accounts:all entries:create periods:close")
	// The store's own clock is in another month than the service's.
	real := time.Now().UTC().Format("2006-01")
	if _, _, err := svc.ClosePeriod(ctx, c, real, nil); err != nil {
		t.Fatal(err)
	}
	p, err := svc.PostEntry(ctx, c, acc.ID, ledger.EntryInput{Type: ledger.Credit, Amount: "1.00"}, nil)
	switch {
	case err != nil && ledger.ErrorCode(err) != ledger.EPeriodClosed:
		t.Fatal(err)
	case err == nil && p.Transaction.ValueDate != "2025-06-30":
		t.Errorf("value date %s in a period that was not checked; want 2025-06-30, the service's today", p.Transaction.ValueDate)
	}
}

// TestCancellationReasonsAreReadByName: a write's role, not its position,
// says what its failed condition means.
func TestCancellationReasonsAreReadByName(t *testing.T) {
	w := &writes{}
	w.put(item{}, "", nil)
	w.putAs(roleName, item{}, notExists, nil)
	w.putAs(roleIdempotency, item{}, notExists, nil)
	reasons := func(codes ...string) error {
		var rs []types.CancellationReason
		for _, c := range codes {
			rs = append(rs, types.CancellationReason{Code: aws.String(c)})
		}
		return &types.TransactionCanceledException{CancellationReasons: rs}
	}
	cases := []struct {
		err   error
		want  verdict
		roles string
	}{
		{nil, committed, ""},
		{reasons("None", "ConditionalCheckFailed", "None"), conditionsFailed, roleName},
		{reasons("None", "None", "ConditionalCheckFailed"), conditionsFailed, roleIdempotency},
		{reasons("TransactionConflict", "None", "None"), contended, ""},
		{reasons("None", "ValidationError", "None"), defect, ""},
		{reasons("ItemCollectionSizeLimitExceeded", "None", "None"), defect, ""},
		{&types.ProvisionedThroughputExceededException{}, contended, ""},
		{&types.InternalServerError{}, unknown, ""},
		{context.DeadlineExceeded, unknown, ""},
		{&smithy.GenericAPIError{Code: "ValidationException"}, defect, ""},
		{&smithy.GenericAPIError{Code: "ThrottlingException"}, contended, ""},
	}
	for _, c := range cases {
		v, roles := w.judge(c.err)
		var names []string
		for r := range roles {
			names = append(names, r)
		}
		if v != c.want || strings.Join(names, ",") != c.roles {
			t.Errorf("judge(%v) = %v %v; want %v %q", c.err, v, names, c.want, c.roles)
		}
	}
}

// holdFirst keeps the first TransactWriteItems (its answer "lost") and
// sends it when release is called: a request whose client gave up while
// its commit was still on its way.
type holdFirst struct {
	API
	mu   sync.Mutex
	held *dynamodb.TransactWriteItemsInput
}

func (h *holdFirst) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	h.mu.Lock()
	first := h.held == nil
	if first {
		h.held = in
	}
	h.mu.Unlock()
	if first {
		<-ctx.Done() // never answered: the request gives up
		return nil, ctx.Err()
	}
	return h.API.TransactWriteItems(ctx, in, o...)
}

func (h *holdFirst) release(ctx context.Context) error {
	_, err := h.API.TransactWriteItems(ctx, h.held)
	return err
}

// TestRetryWithTheSameKeyNeverAnswersRefusedForWhatLands: found by the soak.
// A client's first attempt timed out while its commit was still on its way;
// its retry with the same key read the books without it and was refused
// (here: the period started closing meanwhile); then the first commit
// landed: a 4xx answer for a posting that is in the books. A refusal
// under a key is recorded, so that no earlier request of that key can land
// after it; a later request of the key runs again.
func TestRetryWithTheSameKeyNeverAnswersRefusedForWhatLands(t *testing.T) {
	tenant := newTenant(t)
	acc := simpleAccount(t, rawStore(), tenant, "Till", "EUR", "")
	idem := &app.Idempotency{Key: "k-late", RequestHash: "h"}
	h := &holdFirst{API: TestDB}
	first, cancel := context.WithTimeout(context.Background(), ledger.AnswerReserve+500*time.Millisecond)
	defer cancel()
	if _, _, err := New(h, TestTable).Post(first, entryReq(tenant, creator, acc.ID, ledger.Credit, "5.00", idem, nil)); ledger.ErrorCode(err) != ledger.EUnavailable {
		t.Fatalf("first request: %v, want 503 (its commit unanswered)", err)
	}
	month := time.Now().UTC().Format("2006-01")
	caller := ledger.NewCaller(creator, tenant, ledger.ScopeAdmin)
	close := ledger.NewAuditRecord(caller, time.Now(), ledger.ActionPeriodClosed, "period", month, nil, nil)
	if _, _, err := rawStore().ClosePeriod(testCtx(t), tenant, ledger.Period{Month: month, ClosingAt: time.Now().UTC().Truncate(time.Millisecond), ClosedBy: creator}, nil, creator, close); err != nil {
		t.Fatal(err)
	}
	_, _, err := rawStore().Post(testCtx(t), entryReq(tenant, creator, acc.ID, ledger.Credit, "5.00", idem, nil))
	wantCode(t, err, ledger.EPeriodClosed)
	// The first request's commit lands now.
	_ = h.release(testCtx(t))
	if ids := checkBooks(t, rawStore(), tenant, acc.ID); len(ids) != 0 {
		t.Errorf("the key was answered 409 period-closed, yet the books hold %v", ids)
	}
	// A later request of the key runs again (a refusal stores no answer).
	_, _, err = rawStore().Post(testCtx(t), entryReq(tenant, creator, acc.ID, ledger.Credit, "5.00", idem, nil))
	wantCode(t, err, ledger.EPeriodClosed)
}
