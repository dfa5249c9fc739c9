package dynamo

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/metrics"
)

// RetryPolicy bounds the retries of a write that lost a race: exponential
// backoff with full jitter, at most Attempts tries within Budget.
type RetryPolicy struct {
	Attempts int
	Budget   time.Duration
	Base     time.Duration
	Cap      time.Duration
}

// DefaultRetry lets 50 writers on one account all finish: each round one of
// them wins, so the backoff must spread the others out (a cap well above
// one commit's time) rather than have all of them collide again. The budget
// stays inside the functions' 25 s timeout and API Gateway's 30 s.
var DefaultRetry = RetryPolicy{Attempts: 100, Budget: 20 * time.Second, Base: 20 * time.Millisecond, Cap: 2 * time.Second}

func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.Base << min(attempt, 16)
	if d > p.Cap || d <= 0 {
		d = p.Cap
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// busy is the answer when the retry budget is spent: 503, never 500.
func busy() error {
	return ledger.Errorf(ledger.EUnavailable, "The ledger is busy; try again shortly.")
}

// errRetry marks an attempt that lost a race and may simply run again.
var errRetry = errors.New("retry")

// retry runs attempt until it succeeds, fails for a reason other than a lost
// race, or the budget is spent.
func (st *Store) retry(ctx context.Context, attempt func() error) error {
	started := time.Now()
	for n := 0; ; n++ {
		err := attempt()
		if !errors.Is(err, errRetry) {
			return err
		}
		if n+1 >= st.Retry.Attempts || time.Since(started) > st.Retry.Budget {
			return busy()
		}
		metrics.Add(ctx, metrics.ConflictRetries, 1)
		if err := sleep(ctx, st.Retry.backoff(n)); err != nil {
			return busy()
		}
	}
}

// transient reports whether a DynamoDB error is worth another try: lost
// races, throttling and server errors (the SDK has already retried the
// latter a few times itself).
func transient(err error) bool {
	var tce *types.TransactionCanceledException
	var tc *types.TransactionConflictException
	var ccf *types.ConditionalCheckFailedException
	var pte *types.ProvisionedThroughputExceededException
	var rle *types.RequestLimitExceeded
	var ise *types.InternalServerError
	if errors.As(err, &tce) || errors.As(err, &tc) || errors.As(err, &ccf) || errors.As(err, &pte) ||
		errors.As(err, &rle) || errors.As(err, &ise) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() == "ThrottlingException" || ae.ErrorFault() == smithy.FaultServer
	}
	return transport(err)
}

// transport reports a failure to reach DynamoDB or to read its answer (a
// reset connection, a cut-off or unreadable response): worth another try,
// and, for a write, an outcome the store must find out.
func transport(err error) bool {
	var send *smithyhttp.RequestSendError
	var deser *smithy.DeserializationError
	var netErr net.Error
	var respErr *smithyhttp.ResponseError
	return errors.As(err, &send) || errors.As(err, &deser) || errors.As(err, &netErr) ||
		(errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// cancelReason is the code DynamoDB gives for the item at index i of a
// cancelled transaction (reasons come in item order).
func cancelReason(err error, i int) string {
	var tce *types.TransactionCanceledException
	if i < 0 || !errors.As(err, &tce) || i >= len(tce.CancellationReasons) {
		return ""
	}
	return aws.ToString(tce.CancellationReasons[i].Code)
}

// writes collects the items of one TransactWriteItems, remembering where
// the ones whose failure means something particular stand.
type writes struct {
	table *string
	items []types.TransactWriteItem
}

func (w *writes) put(it item, cond string, values item) int {
	p := &types.Put{TableName: w.table, Item: it}
	if cond != "" {
		p.ConditionExpression = aws.String(cond)
		if len(values) > 0 {
			p.ExpressionAttributeValues = values
		}
	}
	w.items = append(w.items, types.TransactWriteItem{Put: p})
	return len(w.items) - 1
}

func (w *writes) update(k item, expr string, values item, names map[string]string) *types.Update {
	u := &types.Update{
		TableName: w.table, Key: k, UpdateExpression: aws.String(expr),
		ExpressionAttributeValues: values, ExpressionAttributeNames: names,
	}
	w.items = append(w.items, types.TransactWriteItem{Update: u})
	return u
}

func (w *writes) delete(k item, cond string, values item) {
	w.items = append(w.items, types.TransactWriteItem{Delete: &types.Delete{
		TableName: w.table, Key: k, ConditionExpression: aws.String(cond), ExpressionAttributeValues: values,
	}})
}

const notExists = "attribute_not_exists(pk)"

// maxTransactItems is DynamoDB's limit on the items of one transaction.
const maxTransactItems = 100

// idempotencyTTL is how long a key answers with its first result.
const idempotencyTTL = 24 * time.Hour

func (w *writes) idempotency(tenant, sub string, idem *app.Idempotency, resource, step string, input []byte, now time.Time) int {
	if idem == nil {
		return -1
	}
	it := key(idemPK(tenant, sub, idem.Key), skIdem)
	it["request_hash"] = s(idem.RequestHash)
	it["resource"] = s(resource)
	it["step"] = s(step)
	if len(input) > 0 {
		it["input"] = s(string(input))
	}
	it[attrTTL] = ni(now.Add(idempotencyTTL).Unix())
	// DynamoDB's TTL deletes expired records only eventually: an expired
	// one counts as absent and may be overwritten.
	return w.put(it, notExists+" OR "+attrTTL+" < :now", item{":now": ni(now.Unix())})
}

// liveIdempotency reports whether an idempotency record still answers.
func liveIdempotency(it item, now time.Time) bool {
	return (&reader{it: it}).int(attrTTL) >= now.Unix()
}

// booking adds the writes of a booking: every account conditional on the
// revision it was read at, its history line and holds, and the system
// account shards. Hot accounts move their parts instead (hotUpdate), as
// read in parts, from their state before the booking.
func (w *writes) booking(tenant string, bk *ledger.Booking, revs map[string]int64, isNew map[string]bool, before map[string]*ledger.Account, parts map[string][]part) error {
	for _, u := range bk.Updates {
		a := u.Account
		if a.Hot {
			if err := w.hotUpdate(tenant, u, before[a.ID], parts[a.ID], isNew[a.ID]); err != nil {
				return err
			}
		} else if isNew[a.ID] {
			w.put(accountItem(tenant, a, 1), notExists, nil)
		} else {
			rev := revs[a.ID]
			w.put(accountItem(tenant, a, rev+1), "rev = :rev", item{":rev": ni(rev)})
		}
		if u.Line != nil && !a.Hot {
			w.put(historyItem(tenant, u.Line), "", nil)
		}
		if u.HoldAdded != "" {
			it := key(accountPK(tenant, a.ID), holdSK(bk.Txn.CreatedAt, bk.Txn.ID))
			it["txn"] = s(bk.Txn.ID)
			w.put(it, "", nil)
		}
		if u.HoldReleased != "" {
			outcome := ledger.StepRejected
			if bk.Txn.Status == ledger.TxnPosted {
				outcome = ledger.StepApproved
			}
			w.update(key(accountPK(tenant, a.ID), holdSK(bk.Txn.CreatedAt, bk.Txn.ID)),
				"SET outcome = :o", item{":o": s(outcome)}, nil)
		}
	}
	for _, d := range bk.System {
		w.update(key(systemPK(tenant, d.AccountID), systemSK(rand.IntN(systemShards))),
			"ADD balance :d SET currency = :c", item{":d": n(d.Delta), ":c": s(d.Currency)}, nil)
	}
	return nil
}

// commit sends the writes, within what is left of the posting deadline.
//
// The SDK does not retry it: a retry after a lost answer would meet its own
// committed writes as a condition failure, which reads like a lost race and
// would be built again. The store's own loop retries, and it knows which
// attempts may have committed.
func (st *Store) commit(ctx context.Context, w *writes, readAt time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, readAt.Add(ledger.PostingDeadline))
	defer cancel()
	_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: w.items},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	return err
}

// Post loads what the request names, lets it build a commit, and writes the
// commit in one transaction; a lost race loads and builds again.
//
// A commit whose answer was lost (timeout, reset, server fault) may have
// happened. Its transaction carries a token of the attempt; before every
// later attempt builds again, the store looks for that token, and answers
// the committed transaction if it finds it. A late arrival of the lost
// commit cannot land after a later attempt read the accounts either way:
// both are conditional on the same account revisions.
func (st *Store) Post(ctx context.Context, req app.PostRequest) (*ledger.Transaction, *app.Replay, error) {
	var txn *ledger.Transaction
	var replay *app.Replay
	var unknown []attemptRef
	postToken := newToken()
	err := st.retry(ctx, func() error {
		for _, a := range unknown {
			t, err := st.committed(ctx, req.Tenant, a)
			if err != nil {
				return st.wrap(err)
			}
			if t != nil {
				txn = t
				return nil
			}
		}
		var ref *attemptRef
		var err error
		txn, replay, ref, err = st.tryPost(ctx, req, postToken)
		if ref != nil {
			unknown = append(unknown, *ref)
		}
		return err
	})
	return txn, replay, err
}

// attemptRef names a commit whose outcome the store did not learn.
type attemptRef struct{ txnID, token string }

// committed returns the transaction if the attempt committed, else nil.
func (st *Store) committed(ctx context.Context, tenant string, a attemptRef) (*ledger.Transaction, error) {
	it, err := st.get(ctx, key(txnPK(tenant, a.txnID), skTxn))
	if err != nil || it == nil || (&reader{it: it}).str("attempt") != a.token {
		return nil, err
	}
	return decodeTxn(it)
}

// ambiguous reports whether a failed call may nevertheless have committed:
// anything but a definite refusal (a cancellation with reasons, throttling,
// a validation error).
func ambiguous(err error) bool {
	var tce *types.TransactionCanceledException
	var pte *types.ProvisionedThroughputExceededException
	var rle *types.RequestLimitExceeded
	var ae smithy.APIError
	switch {
	case errors.As(err, &tce), errors.As(err, &pte), errors.As(err, &rle):
		return false
	case errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultClient:
		return false
	}
	return true
}

func newToken() string {
	return strconv.FormatUint(rand.Uint64(), 36) + strconv.FormatUint(rand.Uint64(), 36)
}

func (st *Store) tryPost(ctx context.Context, req app.PostRequest, postToken string) (*ledger.Transaction, *app.Replay, *attemptRef, error) {
	state := &app.State{}
	ids := append([]string(nil), req.AccountIDs...)
	month := req.Month
	if req.TransactionID != "" {
		it, err := st.get(ctx, key(txnPK(req.Tenant, req.TransactionID), skTxn))
		if err != nil {
			return nil, nil, nil, st.wrap(err)
		}
		if it == nil {
			return nil, nil, nil, ledger.NotFound("Transaction")
		}
		if state.Transaction, err = decodeTxn(it); err != nil {
			return nil, nil, nil, err
		}
		ids = append(ids, state.Transaction.AccountIDs()...)
		if req.MonthOfTransaction {
			month = ledger.PeriodOf(state.Transaction.ValueDate)
		}
	}
	// One round trip reads the accounts, the period and the idempotency record.
	var keys []item
	for _, id := range ids {
		keys = append(keys, key(accountPK(req.Tenant, id), skAccount))
	}
	if month != "" {
		keys = append(keys, key(periodPK(req.Tenant), month))
	}
	var idemKey item
	if req.Idem != nil {
		idemKey = key(idemPK(req.Tenant, req.Caller, req.Idem.Key), skIdem)
		keys = append(keys, idemKey)
	}
	pre := st.prefetchParts(ctx, req.Tenant, ids)
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return nil, nil, nil, st.wrap(err)
	}
	readAt := time.Now()
	state.Now = readAt
	state.Accounts = map[string]*ledger.Account{}
	revs := map[string]int64{}
	for _, it := range items {
		r := reader{it: it}
		switch {
		case r.str(attrSK) == skIdem:
			if liveIdempotency(it, readAt) {
				replay, err := checkReplay(it, req.Idem)
				return nil, replay, nil, err
			}
		case r.str(attrPK) == periodPK(req.Tenant):
			p, err := decodePeriod(it)
			if err != nil {
				return nil, nil, nil, err
			}
			state.Period = &p
		default:
			a, rev, err := decodeAccount(it)
			if err != nil {
				return nil, nil, nil, err
			}
			state.Accounts[a.ID], revs[a.ID] = a, rev
		}
	}
	if month != "" && state.Period == nil {
		state.Period = &ledger.Period{Month: month}
	}
	parts, err := st.withParts(ctx, req.Tenant, state.Accounts, pre)
	if err != nil {
		return nil, nil, nil, st.wrap(err)
	}
	c, err := req.Build(state)
	if err != nil {
		return nil, nil, nil, err
	}
	w := &writes{table: st.table}
	if err := w.booking(req.Tenant, c.Booking, revs, nil, state.Accounts, parts); err != nil {
		return nil, nil, nil, err
	}
	t := c.Booking.Txn
	token := newToken()
	txnIt := txnItem(req.Tenant, t)
	txnIt["attempt"] = s(token)
	if c.Replaces == "" {
		w.put(txnIt, notExists, nil)
	} else {
		w.put(txnIt, "#status = :s", item{":s": s(c.Replaces)})
		w.items[len(w.items)-1].Put.ExpressionAttributeNames = map[string]string{"#status": "status"}
	}
	if c.Reversed != nil {
		w.put(txnItem(req.Tenant, c.Reversed), "#status = :s", item{":s": s(ledger.TxnPosted)})
		w.items[len(w.items)-1].Put.ExpressionAttributeNames = map[string]string{"#status": "status"}
	}
	if c.Audit != nil {
		w.put(auditItem(req.Tenant, c.Audit), "", nil)
	}
	idemAt := w.idempotency(req.Tenant, req.Caller, req.Idem, t.ID, c.Step, nil, readAt)
	guardAt := -1
	if req.Idem == nil && len(parts) > 0 {
		// An attempt whose answer was lost may still land after a later
		// attempt committed. An ordinary account's revision stops it; a hot
		// account's parts carry none, and without a key there is no
		// idempotency record: this item, the same for every attempt of
		// this request, lets only one of them land.
		it := key(postGuardPK(req.Tenant, postToken), skGuard)
		it[attrTTL] = ni(readAt.Add(idempotencyTTL).Unix())
		guardAt = w.put(it, notExists, nil)
	}
	if len(w.items) > maxTransactItems {
		// Only debits that must take from many parts of several hot
		// accounts at once get here; a smaller posting goes through.
		return nil, nil, nil, ledger.Errorf(ledger.EConflict,
			"This posting would take from too many balance parts of hot accounts at once; post it in smaller pieces.")
	}
	if err := st.commit(ctx, w, readAt); err != nil {
		if cancelReason(err, idemAt) == "ConditionalCheckFailed" {
			// The same key won a race with us: the next attempt replays it.
			return nil, nil, nil, errRetry
		}
		if cancelReason(err, guardAt) == "ConditionalCheckFailed" {
			// An earlier attempt of this request landed after all: the
			// next round finds it by its token and answers it.
			return nil, nil, nil, errRetry
		}
		if ambiguous(err) {
			return nil, nil, &attemptRef{txnID: t.ID, token: token}, errRetry
		}
		return nil, nil, nil, st.wrap(err)
	}
	return t, nil, nil, nil
}

// wrap turns lost races and transient faults into errRetry.
func (st *Store) wrap(err error) error {
	if transient(err) || errors.Is(err, context.DeadlineExceeded) || ledger.ErrorCode(err) == ledger.EUnavailable {
		return errRetry
	}
	return err
}

// checkReplay answers a request whose key was used before: the same request
// replays, another one is refused.
func checkReplay(it item, idem *app.Idempotency) (*app.Replay, error) {
	r := reader{it: it}
	if r.str("request_hash") != idem.RequestHash {
		return nil, ledger.Errorf(ledger.EIdempotencyKeyReuse, "This Idempotency-Key was used for another request.")
	}
	return &app.Replay{ResourceID: r.str("resource"), Step: r.str("step")}, nil
}

// ReplayAccountInput returns the input stored with an account creation's key.
func (st *Store) ReplayAccountInput(ctx context.Context, tenant, caller string, idem *app.Idempotency) ([]byte, error) {
	it, err := st.get(ctx, key(idemPK(tenant, caller, idem.Key), skIdem))
	if err != nil {
		return nil, err
	}
	return []byte((&reader{it: it}).str("input")), nil
}

// CreateAccount writes a new account with everything that must exist with it.
func (st *Store) CreateAccount(ctx context.Context, tenant string, a *ledger.Account, opening *ledger.Booking, idem *app.Idempotency, caller string, input []byte, audit *ledger.AuditRecord) (*app.Replay, error) {
	now := time.Now()
	w := &writes{table: st.table}
	switch {
	case opening != nil:
		if err := w.booking(tenant, opening, nil, map[string]bool{a.ID: true}, nil, nil); err != nil {
			return nil, err
		}
		w.put(txnItem(tenant, opening.Txn), notExists, nil)
	case a.Hot:
		if err := w.hotUpdate(tenant, &ledger.AccountUpdate{Account: a}, nil, nil, true); err != nil {
			return nil, err
		}
	default:
		w.put(accountItem(tenant, a, 1), notExists, nil)
	}
	nameAt := w.put(guardItem(namePK(tenant, a.Name), a.ID), notExists, nil)
	codeAt := -1
	if a.Code != "" {
		codeAt = w.put(guardItem(codePK(tenant, a.Code), a.ID), notExists, nil)
	}
	w.put(indexItem(tenantAccountsPK(tenant), a), "", nil)
	for _, m := range a.Members {
		w.put(indexItem(memberPK(tenant, m), a), "", nil)
	}
	w.put(auditItem(tenant, audit), "", nil)
	idemAt := w.idempotency(tenant, caller, idem, a.ID, ledger.StepCreated, input, now)
	var replay *app.Replay
	err := st.retry(ctx, func() error {
		err := st.commit(ctx, w, time.Now())
		switch {
		case err == nil:
			return nil
		case cancelReason(err, idemAt) == "ConditionalCheckFailed":
			it, gerr := st.get(ctx, key(idemPK(tenant, caller, idem.Key), skIdem))
			if gerr != nil {
				return st.wrap(gerr)
			}
			if it == nil || !liveIdempotency(it, time.Now()) {
				return errRetry // gone or expired meanwhile: write again
			}
			replay, err = checkReplay(it, idem)
			return err
		case cancelReason(err, 0) == "ConditionalCheckFailed":
			// The account's id is new: only our own earlier attempt, whose
			// answer was lost, can have written it.
			return nil
		case cancelReason(err, nameAt) == "ConditionalCheckFailed":
			return ledger.Errorf(ledger.EConflict, "An account named %q already exists.", a.Name)
		case cancelReason(err, codeAt) == "ConditionalCheckFailed":
			return ledger.Errorf(ledger.EConflict, "An account with code %q already exists.", a.Code)
		}
		return st.wrap(err)
	})
	return replay, err
}

// guardItem holds a name or code for one account: uniqueness per tenant is
// kept by conditional writes in the same transaction, never by an index.
func guardItem(pk, accountID string) item {
	it := key(pk, skGuard)
	it["account_id"] = s(accountID)
	return it
}

// indexItem lists an account under a tenant or member partition.
func indexItem(pk string, a *ledger.Account) item {
	it := key(pk, indexSK(a.ID))
	it["account_id"] = s(a.ID)
	return it
}

// UpdateAccount reads the account, applies fn, and writes it back on the
// revision it read, with its guards and member index kept in step.
func (st *Store) UpdateAccount(ctx context.Context, tenant, id string, fn func(*ledger.Account) (*ledger.AuditRecord, error)) (*ledger.Account, error) {
	var out *ledger.Account
	err := st.retry(ctx, func() error {
		it, err := st.get(ctx, key(accountPK(tenant, id), skAccount))
		if err != nil {
			return st.wrap(err)
		}
		if it == nil {
			return ledger.NotFound("Account")
		}
		a, rev, err := decodeAccount(it)
		if err != nil {
			return err
		}
		parts, err := st.withParts(ctx, tenant, map[string]*ledger.Account{a.ID: a}, nil)
		if err != nil {
			return st.wrap(err)
		}
		before := *a
		audit, err := fn(a)
		if err != nil {
			return err
		}
		out = a
		if audit == nil {
			return nil
		}
		if a.Hot && before.Hot && a.Status != before.Status && a.Status != ledger.StatusClosed {
			if err := st.setPartsStatus(ctx, tenant, id, parts[id], a.Status); err != nil {
				return err
			}
		}
		w := &writes{table: st.table}
		w.put(accountItem(tenant, a, rev+1), "rev = :rev", item{":rev": ni(rev)})
		if a.Hot {
			if err := w.hotSettings(tenant, &before, a, parts[a.ID]); err != nil {
				return err
			}
		}
		w.put(auditItem(tenant, audit), "", nil)
		nameAt := w.moveGuard(tenant, namePK, before.Name, a.Name, id)
		codeAt := w.moveGuard(tenant, codePK, before.Code, a.Code, id)
		for _, m := range a.Members {
			if !before.HasMember(m) {
				w.put(indexItem(memberPK(tenant, m), a), "", nil)
			}
		}
		// Index items of removed members stay: listing checks the
		// account's own members, and a removal must not cost 50 writes.
		err = st.commit(ctx, w, time.Now())
		switch {
		case err == nil:
			return nil
		case cancelReason(err, nameAt) == "ConditionalCheckFailed":
			return ledger.Errorf(ledger.EConflict, "An account named %q already exists.", a.Name)
		case cancelReason(err, codeAt) == "ConditionalCheckFailed":
			return ledger.Errorf(ledger.EConflict, "An account with code %q already exists.", a.Code)
		}
		return st.wrap(err)
	})
	return out, err
}

// moveGuard releases the old name (or code) and claims the new one; it
// returns the index of the claim, -1 when nothing is claimed.
func (w *writes) moveGuard(tenant string, pk func(string, string) string, old, new, id string) int {
	if ledger.NameKey(old) == ledger.NameKey(new) {
		return -1
	}
	if old != "" {
		w.delete(key(pk(tenant, old), skGuard), "account_id = :id", item{":id": s(id)})
	}
	if new == "" {
		return -1
	}
	return w.put(guardItem(pk(tenant, new), id), notExists, nil)
}

// SystemBalances sums the shards of every system account the tenant has in
// the currencies given: for checks of the zero-sum invariant.
func (st *Store) SystemBalances(ctx context.Context, tenant string, ids []string) (map[string]decimal.Decimal, error) {
	out := map[string]decimal.Decimal{}
	for _, id := range ids {
		res, err := st.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 st.table,
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: item{":pk": s(systemPK(tenant, id))},
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			return nil, err
		}
		sum := decimal.Zero
		for _, it := range res.Items {
			r := reader{it: it}
			sum = sum.Add(r.num("balance"))
			if r.err != nil {
				return nil, r.err
			}
		}
		out[id] = sum
	}
	return out, nil
}
