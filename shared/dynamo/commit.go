package dynamo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/metrics"
)

// This file is the store's one commit path. Every conditional write (a
// posting, an account's creation or change, a period close, the history
// sequencer's numbering, a hot account's parts) is an op that transact runs:
//
//   - build reads what the write depends on and returns one attempt: the
//     writes, each carrying its role (what a failed condition on it means,
//     by name, never by position), and the key that proves it committed;
//   - transact sends it and judges the answer by the cancellation reasons'
//     names: committed; refused by conditions (the op says what each role
//     means: build again, or a refusal the caller sees); contended (a
//     conflict or throttling: nothing was written, build again); unknown
//     (the answer was lost: it may have committed); or a defect (a write
//     DynamoDB refuses for a reason retrying cannot fix: a 500 the alarms
//     see, never a 503);
//   - an attempt whose outcome is unknown is looked for (its proof key)
//     before every later attempt and before any answer, success or
//     refusal, so a request never books twice and never answers "refused"
//     for what it booked;
//   - the loop ends AnswerReserve before the request's own deadline
//     (ctx.Deadline(), the Lambda timeout) or after RetryBudget, whichever
//     comes first, so every answer, 503 included, is the function's own.

// Roles of writes whose failed condition means something to an op. A
// failed condition on a write without a role means its item moved since it
// was read: the op is built again.
const (
	roleIdempotency  = "idempotency"   // the request's key was used meanwhile
	roleRequestGuard = "request-guard" // another attempt of this request landed
	roleNew          = "new"           // an item with a new id: only this request writes it
	roleName         = "name-guard"    // an account name is taken
	roleCode         = "code-guard"    // an account code is taken
	rolePeriod       = "period"        // the period is already closing
)

// RetryPolicy bounds the retries of a write that lost a race: exponential
// backoff with full jitter, at most Attempts tries within Budget (and
// within the request's deadline).
type RetryPolicy struct {
	Attempts int
	Budget   time.Duration
	Base     time.Duration
	Cap      time.Duration
}

// DefaultRetry lets 50 writers on one account all finish: each round one of
// them wins, so the backoff must spread the others out (a cap well above
// one commit's time) rather than have all of them collide again.
var DefaultRetry = RetryPolicy{Attempts: 100, Budget: ledger.RetryBudget, Base: 20 * time.Millisecond, Cap: 2 * time.Second}

func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.Base << min(attempt, 16)
	if d > p.Cap || d <= 0 {
		d = p.Cap
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
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

// errRetry marks an attempt that lost a race, or met a passing fault, and
// may simply be built again.
var errRetry = errors.New("retry")

// writes collects the items of one TransactWriteItems with their roles.
type writes struct {
	table *string
	items []types.TransactWriteItem
	roles []string
}

func (w *writes) add(role string, ti types.TransactWriteItem) {
	w.items = append(w.items, ti)
	w.roles = append(w.roles, role)
}

func (w *writes) put(it item, cond string, values item) { w.putAs("", it, cond, values) }

func (w *writes) putAs(role string, it item, cond string, values item) *types.Put {
	p := &types.Put{TableName: w.table, Item: it}
	if cond != "" {
		p.ConditionExpression = aws.String(cond)
		if len(values) > 0 {
			p.ExpressionAttributeValues = values
		}
	}
	w.add(role, types.TransactWriteItem{Put: p})
	return p
}

func (w *writes) update(k item, expr string, values item, names map[string]string) *types.Update {
	u := &types.Update{
		TableName: w.table, Key: k, UpdateExpression: aws.String(expr),
		ExpressionAttributeValues: values, ExpressionAttributeNames: names,
	}
	w.add("", types.TransactWriteItem{Update: u})
	return u
}

func (w *writes) delete(k item, cond string, values item) {
	d := &types.Delete{TableName: w.table, Key: k}
	if cond != "" {
		d.ConditionExpression, d.ExpressionAttributeValues = aws.String(cond), values
	}
	w.add("", types.TransactWriteItem{Delete: d})
}

// An attempt is what one round of an op writes.
type attempt struct {
	w *writes
	// deadline is when the call is given up: a posting's read plus
	// PostingDeadline (the period close waits that long), at most the
	// loop's end.
	deadline time.Time
	// proof is the key of an item this attempt writes and no attempt of
	// another request does (its audit record, an item with a new id). nil:
	// an unknown outcome is settled by building again (the op's conditions
	// make a repeat harmless).
	proof item
	// done records the result; transact calls it once the attempt is known
	// to have committed.
	done func()
}

// op is one conditional write as transact runs it.
type op struct {
	name string // for logs and defects
	// build reads and returns the next attempt; (nil, nil) when there is
	// nothing (more) to write: the answer is ready. errRetry builds again.
	build func(ctx context.Context) (*attempt, error)
	// refused says what failed conditions mean (the roles of the writes
	// whose conditions failed): errRetry builds again, nil means done (an
	// earlier attempt of ours is found), any other error is the answer.
	// nil refused: always build again.
	refused func(ctx context.Context, roles map[string]bool) error
}

// verdict is what an answer of TransactWriteItems means for the loop.
type verdict int

const (
	committed verdict = iota
	conditionsFailed
	contended // nothing was written; try again
	unknown   // the write may have committed
	defect    // retrying cannot fix it
)

// judge reads an answer of TransactWriteItems, by the names of the
// cancellation reasons (they come in item order; the roles say what each
// item is).
func (w *writes) judge(err error) (verdict, map[string]bool) {
	if err == nil {
		return committed, nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		roles := map[string]bool{}
		failed, busy := false, false
		for i, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "", "None":
			case "ConditionalCheckFailed":
				failed = true
				if i < len(w.roles) {
					roles[w.roles[i]] = true
				}
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
				busy = true
			default: // ValidationError, ItemCollectionSizeLimitExceeded, and codes not known yet
				return defect, nil
			}
		}
		switch {
		case failed:
			return conditionsFailed, roles
		case busy:
			return contended, nil
		}
		return defect, nil
	}
	var pte *types.ProvisionedThroughputExceededException
	var rle *types.RequestLimitExceeded
	var tip *types.TransactionInProgressException
	var ae smithy.APIError
	switch {
	case errors.As(err, &pte), errors.As(err, &rle), errors.As(err, &tip):
		return contended, nil
	case errors.As(err, &ae) && ae.ErrorCode() == "ThrottlingException":
		return contended, nil
	case errors.As(err, &ae) && ae.ErrorFault() != smithy.FaultServer && ae.ErrorCode() != "InternalServerError" && !transport(err):
		// DynamoDB answered, and not with a fault of its own: the request
		// itself is wrong (ValidationException, a missing table, access
		// denied). DynamoDB Local's 400s carry no fault, only the code.
		return defect, nil
	}
	return unknown, nil
}

// transient reports whether a failed read is worth another try: throttling,
// server errors (the SDK has already retried those a few times itself) and
// transport failures.
func transient(err error) bool {
	var tc *types.TransactionConflictException
	var pte *types.ProvisionedThroughputExceededException
	var rle *types.RequestLimitExceeded
	var ise *types.InternalServerError
	if errors.As(err, &tc) || errors.As(err, &pte) || errors.As(err, &rle) || errors.As(err, &ise) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() == "ThrottlingException" || ae.ErrorFault() == smithy.FaultServer
	}
	return transport(err)
}

// transport reports a failure to reach DynamoDB or to read its answer (a
// reset connection, a cut-off or unreadable response).
func transport(err error) bool {
	var send *smithyhttp.RequestSendError
	var deser *smithy.DeserializationError
	var netErr net.Error
	var respErr *smithyhttp.ResponseError
	return errors.As(err, &send) || errors.As(err, &deser) || errors.As(err, &netErr) ||
		(errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// wrap turns a failed read inside an op into errRetry when another try may
// get past it.
func (st *Store) wrap(err error) error {
	if transient(err) || errors.Is(err, context.DeadlineExceeded) || ledger.ErrorCode(err) == ledger.EUnavailable {
		return errRetry
	}
	return err
}

// loopEnd is when the commit loop stops trying: RetryBudget (st.Retry) from
// now, and AnswerReserve before the request's deadline.
func (st *Store) loopEnd(ctx context.Context) time.Time {
	end := time.Now().Add(st.Retry.Budget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-ledger.AnswerReserve).Before(end) {
		end = dl.Add(-ledger.AnswerReserve)
	}
	return end
}

// transact runs an op to its answer; see the top of this file.
func (st *Store) transact(ctx context.Context, o op) error {
	end := st.loopEnd(ctx)
	lctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var lost []*attempt // attempts whose outcome is unknown
	var lastLost time.Time
	for n := 0; ; n++ {
		if n > 0 && len(lost) > 0 {
			if found, err := st.landed(lctx, lost); err == nil && found {
				return nil
			}
		}
		a, err := o.build(lctx)
		if err == nil && a == nil {
			return nil
		}
		if err == nil && len(a.w.items) > maxTransactItems {
			return st.settle(ctx, lost, lastLost, fmt.Errorf("dynamo: %s: a transaction of %d items (DynamoDB takes %d)", o.name, len(a.w.items), maxTransactItems))
		}
		if err == nil {
			callErr := st.send(lctx, a, end)
			v, roles := a.w.judge(callErr)
			switch v {
			case committed:
				a.done()
				return nil
			case unknown:
				if a.proof != nil {
					lost, lastLost = append(lost, a), time.Now()
				}
				err = errRetry
			case contended:
				err = errRetry
			case conditionsFailed:
				err = errRetry
				if o.refused != nil {
					err = o.refused(lctx, roles)
				}
				if err == nil {
					return nil
				}
			case defect:
				return st.settle(ctx, lost, lastLost, fmt.Errorf("dynamo: %s: DynamoDB refused the write: %w", o.name, callErr))
			}
		}
		if !errors.Is(err, errRetry) {
			return st.settle(ctx, lost, lastLost, err)
		}
		wait := st.Retry.backoff(n)
		if n+1 >= st.Retry.Attempts || time.Now().Add(wait).After(end) {
			return st.settle(ctx, lost, lastLost, busy())
		}
		metrics.Add(ctx, metrics.ConflictRetries, 1)
		if sleep(lctx, wait) != nil {
			return st.settle(ctx, lost, lastLost, busy())
		}
	}
}

// send makes one TransactWriteItems call, given up at the attempt's
// deadline. The SDK does not retry it: a retry after a lost answer would
// meet its own committed writes as a condition failure, which reads like a
// lost race; the loop retries, and knows which attempts may have committed.
func (st *Store) send(ctx context.Context, a *attempt, end time.Time) error {
	dl := end
	if !a.deadline.IsZero() && a.deadline.Before(dl) {
		dl = a.deadline
	}
	ctx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	_, err := st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: a.w.items},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	return err
}

// landed looks, in one round trip, for the proof of each attempt whose
// outcome is unknown, and records the one that committed.
func (st *Store) landed(ctx context.Context, lost []*attempt) (bool, error) {
	keys := make([]item, 0, len(lost))
	seen := map[string]bool{}
	for _, a := range lost {
		k := str(a.proof[attrPK]) + "\x00" + str(a.proof[attrSK])
		if !seen[k] {
			seen[k] = true
			keys = append(keys, a.proof)
		}
	}
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return false, err
	}
	for _, it := range items {
		for _, a := range lost {
			if str(it[attrPK]) == str(a.proof[attrPK]) && str(it[attrSK]) == str(a.proof[attrSK]) {
				a.done()
				return true, nil
			}
		}
	}
	return false, nil
}

// settle gives the answer once no attempt whose outcome is unknown can
// still change it: it waits until LandingGrace has passed since the last
// one (within the reserve) and looks for them once more. One that landed
// makes the answer a success; one that cannot be looked for leaves the
// outcome unknown, which is 503 (the client's retry with its key finds it).
func (st *Store) settle(ctx context.Context, lost []*attempt, lastLost time.Time, answer error) error {
	if len(lost) == 0 {
		return answer
	}
	wait := time.Until(lastLost.Add(ledger.LandingGrace))
	rctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-ledger.AnswerReserve/2)
		var cancel context.CancelFunc
		rctx, cancel = context.WithDeadline(ctx, dl.Add(-ledger.AnswerReserve/4))
		defer cancel()
	}
	_ = sleep(ctx, wait)
	found, err := st.landed(rctx, lost)
	switch {
	case found:
		return nil
	case err != nil:
		return busy()
	}
	return answer
}
