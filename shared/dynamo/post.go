package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

const notExists = "attribute_not_exists(pk)"

// maxTransactItems is DynamoDB's limit on the items of one transaction.
const maxTransactItems = 100

// idempotencyTTL is how long a key answers with its first result.
const idempotencyTTL = 24 * time.Hour

// idempotency writes a key's record of the answer; started is when the
// request began (a refusal recorded before it no longer answers).
func (w *writes) idempotency(tenant, sub string, idem *app.Idempotency, resource, step, auditSK string, now, started time.Time) {
	if idem == nil {
		return
	}
	it := key(idemPK(tenant, sub, idem.Key), skIdem)
	it["request_hash"] = s(idem.RequestHash)
	it["resource"] = s(resource)
	it["step"] = s(step)
	if auditSK != "" {
		it["audit"] = s(auditSK) // what rebuilds a created account's answer
	}
	it[attrTTL] = ni(now.Add(idempotencyTTL).Unix())
	w.putAs(roleIdempotency, it, idempotencyFree, item{":now": ni(now.Unix()), ":started": ni(started.UnixMilli())})
}

// idempotencyFree is the condition of writing a key's record: none yet, or
// one that no longer answers. DynamoDB's TTL deletes expired records only
// eventually, so an expired one counts as absent; a refusal recorded
// before this request started (refusalRecord) stored no answer either.
const idempotencyFree = notExists + " OR " + attrTTL + " < :now OR " + attrRefusedAt + " < :started"

// attrRefusedAt marks a key's record as a refusal: the milliseconds at
// which a request of that key was refused.
const attrRefusedAt = "refused_at_ms"

// refusalRecord records that a request of a key was refused, in place of
// an answer: the contract stores nothing for a refusal, and the same key
// runs again, so a request that starts after it ignores it. It exists for
// the requests of the key still under way: an earlier attempt of one whose
// client gave up (its commit on its way) would otherwise land after the
// refusal was answered. Every attempt writes the key's record on the
// condition idempotencyFree, so none of them lands after this one; a
// request that started before it and reads it answers the same refusal.
func (w *writes) refusalRecord(tenant, sub string, idem *app.Idempotency, refusal *ledger.Error, started, now time.Time) {
	it := key(idemPK(tenant, sub, idem.Key), skIdem)
	it["request_hash"] = s(idem.RequestHash)
	it[attrRefusedAt] = ni(now.UnixMilli())
	raw, _ := json.Marshal(refusal)
	it["refusal"] = s(string(raw))
	it[attrTTL] = ni(now.Add(idempotencyTTL).Unix())
	w.putAs(roleIdempotency, it, idempotencyFree, item{":now": ni(now.Unix()), ":started": ni(started.UnixMilli())})
}

// recorded is a refusal read back from a key's refusal record: the answer
// as it stands, not to be recorded again.
type recorded struct{ error }

// storedRefusal is the refusal a key's refusal record holds.
func storedRefusal(it item, idem *app.Idempotency) error {
	r := reader{it: it}
	if r.str("request_hash") != idem.RequestHash {
		return ledger.Errorf(ledger.EIdempotencyKeyReuse, "This Idempotency-Key was used for another request.")
	}
	var e ledger.Error
	if err := json.Unmarshal([]byte(r.str("refusal")), &e); err != nil || e.Code == "" {
		return fmt.Errorf("dynamo: a refusal record that does not read: %v", err)
	}
	return recorded{&e}
}

// recordable reports whether a posting's refusal is recorded under its key
// (refusalRecord): a business or validation refusal, not a fault.
func recordable(err error) (*ledger.Error, bool) {
	var le *ledger.Error
	if !errors.As(err, &le) {
		return nil, false
	}
	switch le.Code {
	case ledger.EUnavailable, ledger.EInternal, ledger.EIdempotencyKeyReuse:
		return nil, false
	}
	return le, true
}

// liveIdempotency reports whether an idempotency record still answers.
func liveIdempotency(it item, now time.Time) bool {
	return (&reader{it: it}).int(attrTTL) >= now.Unix()
}

// read is what a write was decided on, beyond the domain's view of it:
// each account's revision, and each hot account's status epoch and parts.
type read struct {
	revs   map[string]int64
	epochs map[string]int64
	parts  map[string][]part
}

// booking adds the writes of a booking: every account conditional on the
// revision it was read at, its history line and holds, and the system
// account shards. Hot accounts move their parts instead (hotUpdate), as
// read in parts, from their state before the booking. New accounts (in
// isNew) are written with a new id.
func (w *writes) booking(tenant string, bk *ledger.Booking, rd read, isNew map[string]bool, before map[string]*ledger.Account) error {
	for _, u := range bk.Updates {
		a := u.Account
		if a.Hot {
			if err := w.hotUpdate(tenant, u, before[a.ID], rd.parts[a.ID], rd.epochs[a.ID], isNew[a.ID]); err != nil {
				return err
			}
		} else if isNew[a.ID] {
			w.putAs(roleNew, accountItem(tenant, a, 1, 0), notExists, nil)
		} else {
			rev := rd.revs[a.ID]
			w.put(accountItem(tenant, a, rev+1, rd.epochs[a.ID]), "rev = :rev", item{":rev": ni(rev)})
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

// Post loads what the request names, lets it build a commit, and writes the
// commit in one transaction (transact: a lost race loads and builds again,
// an attempt whose answer was lost is found by its audit record).
//
// A late arrival of a lost attempt cannot land after a later attempt
// committed: both are conditional on the same account revisions, or, where
// hot accounts' parts carry none, on the idempotency record or the request
// guard that every attempt of the request writes.
func (st *Store) Post(ctx context.Context, req app.PostRequest) (*ledger.Transaction, *app.Replay, error) {
	var txn *ledger.Transaction
	var replay *app.Replay
	var refused error
	requestToken, started := newToken(), time.Now()
	err := st.transact(ctx, op{
		name: "post",
		build: func(ctx context.Context) (*attempt, error) {
			a, r, err := st.buildPost(ctx, req, requestToken, started, &txn)
			replay = r
			var rec recorded
			if errors.As(err, &rec) {
				return nil, rec.error
			}
			if le, ok := recordable(err); ok && req.Idem != nil {
				w := &writes{table: st.table}
				w.refusalRecord(req.Tenant, req.Caller, req.Idem, le, started, time.Now())
				return &attempt{w: w, done: func() { refused = err }}, nil
			}
			return a, err
		},
	})
	switch {
	case err != nil:
		return nil, nil, err
	case refused != nil:
		return nil, nil, refused
	}
	return txn, replay, nil
}

// proofOf is the key of an item: an attempt's audit record, which only it
// writes, proves that it committed.
func proofOf(it item) item { return key(str(it[attrPK]), str(it[attrSK])) }

func newToken() string {
	return strconv.FormatUint(rand.Uint64(), 36) + strconv.FormatUint(rand.Uint64(), 36)
}

// buildPost reads and decides one attempt of a posting; the attempt sets
// *out once it committed. A replay of an earlier request is answered with
// no attempt.
func (st *Store) buildPost(ctx context.Context, req app.PostRequest, requestToken string, started time.Time, out **ledger.Transaction) (*attempt, *app.Replay, error) {
	state := &app.State{}
	ids := append([]string(nil), req.AccountIDs...)
	month := req.Month
	if req.TransactionID != "" {
		it, err := st.get(ctx, key(txnPK(req.Tenant, req.TransactionID), skTxn))
		if err != nil {
			return nil, nil, st.wrap(err)
		}
		if it == nil {
			return nil, nil, ledger.NotFound("Transaction")
		}
		if state.Transaction, err = decodeTxn(it); err != nil {
			return nil, nil, err
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
	if req.Idem != nil {
		keys = append(keys, key(idemPK(req.Tenant, req.Caller, req.Idem.Key), skIdem))
	}
	pre := st.prefetchParts(ctx, req.Tenant, ids)
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return nil, nil, st.wrap(err)
	}
	readAt := time.Now()
	state.Now = readAt
	state.Accounts = map[string]*ledger.Account{}
	rd := read{revs: map[string]int64{}, epochs: map[string]int64{}}
	for _, it := range items {
		r := reader{it: it}
		switch {
		case r.str(attrSK) == skIdem:
			switch {
			case !liveIdempotency(it, readAt):
			case r.optInt(attrRefusedAt) == 0:
				replay, err := checkReplay(it, req.Idem)
				return nil, replay, err
			case r.optInt(attrRefusedAt) >= started.UnixMilli():
				// Refused while this request was under way.
				return nil, nil, storedRefusal(it, req.Idem)
			}
		case r.str(attrPK) == periodPK(req.Tenant):
			p, err := decodePeriod(it)
			if err != nil {
				return nil, nil, err
			}
			state.Period = &p
		default:
			a, rev, err := decodeAccount(it)
			if err != nil {
				return nil, nil, err
			}
			state.Accounts[a.ID], rd.revs[a.ID], rd.epochs[a.ID] = a, rev, r.optInt(attrStatusEpoch)
		}
	}
	if month != "" && state.Period == nil {
		state.Period = &ledger.Period{Month: month}
	}
	if rd.parts, err = st.withParts(ctx, req.Tenant, state.Accounts, pre); err != nil {
		return nil, nil, st.wrap(err)
	}
	c, err := req.Build(state)
	if err != nil {
		return nil, nil, err
	}
	if c.Audit == nil {
		return nil, nil, fmt.Errorf("dynamo: a posting without its audit record")
	}
	w := &writes{table: st.table}
	if err := w.booking(req.Tenant, c.Booking, rd, nil, state.Accounts); err != nil {
		return nil, nil, err
	}
	t := c.Booking.Txn
	if c.Replaces == "" {
		w.put(txnItem(req.Tenant, t), notExists, nil)
	} else {
		w.putAs("", txnItem(req.Tenant, t), "#status = :s", item{":s": s(c.Replaces)}).ExpressionAttributeNames = map[string]string{"#status": "status"}
	}
	if c.Reversed != nil {
		w.putAs("", txnItem(req.Tenant, c.Reversed), "#status = :s", item{":s": s(ledger.TxnPosted)}).ExpressionAttributeNames = map[string]string{"#status": "status"}
	}
	audit := auditItem(req.Tenant, c.Audit)
	w.put(audit, "", nil)
	w.idempotency(req.Tenant, req.Caller, req.Idem, t.ID, c.Step, "", readAt, started)
	if req.Idem == nil && len(rd.parts) > 0 {
		// An attempt whose answer was lost may still land after a later
		// attempt committed. An ordinary account's revision stops it; a hot
		// account's parts carry none, and without a key there is no
		// idempotency record: this item, the same for every attempt of
		// this request, lets only one of them land.
		it := key(postGuardPK(req.Tenant, requestToken), skGuard)
		it[attrTTL] = ni(readAt.Add(idempotencyTTL).Unix())
		w.putAs(roleRequestGuard, it, notExists, nil)
	}
	if len(w.items) > maxTransactItems {
		// Only debits that must take from many parts of several hot
		// accounts at once get here; a smaller posting goes through.
		return nil, nil, ledger.Errorf(ledger.EConflict,
			"This posting would take from too many balance parts of hot accounts at once; post it in smaller pieces.")
	}
	return &attempt{w: w, deadline: readAt.Add(ledger.PostingDeadline), proof: proofOf(audit), done: func() { *out = t }}, nil, nil
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

// replayOf reads the idempotency record another request of this key wrote
// first: its replay, or errRetry when it is gone or expired meanwhile (the
// write may go ahead).
func (st *Store) replayOf(ctx context.Context, tenant, caller string, idem *app.Idempotency) (*app.Replay, error) {
	it, err := st.get(ctx, key(idemPK(tenant, caller, idem.Key), skIdem))
	if err != nil {
		return nil, st.wrap(err)
	}
	if it == nil || !liveIdempotency(it, time.Now()) {
		return nil, errRetry
	}
	if (&reader{it: it}).optInt(attrRefusedAt) > 0 {
		var rec recorded
		err := storedRefusal(it, idem)
		if errors.As(err, &rec) {
			return nil, rec.error
		}
		return nil, err
	}
	return checkReplay(it, idem)
}

// AccountCreation returns the settings a replayed creation created the
// account with: the new values of the account.created audit record that
// the key's record names.
func (st *Store) AccountCreation(ctx context.Context, tenant, caller string, idem *app.Idempotency) (map[string]json.RawMessage, error) {
	rec, err := st.get(ctx, key(idemPK(tenant, caller, idem.Key), skIdem))
	if err != nil {
		return nil, err
	}
	sk := (&reader{it: rec}).str("audit")
	if rec == nil || sk == "" {
		return nil, fmt.Errorf("dynamo: the idempotency record of a created account names no creation record")
	}
	it, err := st.get(ctx, key(auditPK(tenant), sk))
	if err != nil || it == nil {
		return nil, fmt.Errorf("dynamo: the creation record %s: %v", sk, err)
	}
	var cs []struct {
		Field string          `json:"field"`
		New   json.RawMessage `json:"new"`
	}
	if err := json.Unmarshal([]byte((&reader{it: it}).str("changes")), &cs); err != nil {
		return nil, fmt.Errorf("dynamo: the creation record %s: %w", sk, err)
	}
	out := make(map[string]json.RawMessage, len(cs))
	for _, c := range cs {
		out[c.Field] = c.New
	}
	return out, nil
}

// CreateAccount writes a new account with everything that must exist with it.
func (st *Store) CreateAccount(ctx context.Context, tenant string, a *ledger.Account, opening *ledger.Booking, idem *app.Idempotency, caller string, audit *ledger.AuditRecord) (*app.Replay, error) {
	now := time.Now()
	w := &writes{table: st.table}
	switch {
	case opening != nil:
		if err := w.booking(tenant, opening, read{}, map[string]bool{a.ID: true}, nil); err != nil {
			return nil, err
		}
		w.put(txnItem(tenant, opening.Txn), notExists, nil)
	case a.Hot:
		if err := w.hotUpdate(tenant, &ledger.AccountUpdate{Account: a}, nil, nil, 0, true); err != nil {
			return nil, err
		}
	default:
		w.putAs(roleNew, accountItem(tenant, a, 1, 0), notExists, nil)
	}
	w.putAs(roleName, guardItem(namePK(tenant, a.Name), a.ID), notExists, nil)
	if a.Code != "" {
		w.putAs(roleCode, guardItem(codePK(tenant, a.Code), a.ID), notExists, nil)
	}
	w.put(indexItem(tenantAccountsPK(tenant), a), "", nil)
	for _, m := range a.Members {
		w.put(indexItem(memberPK(tenant, m), a), "", nil)
	}
	auditIt := auditItem(tenant, audit)
	w.put(auditIt, "", nil)
	w.idempotency(tenant, caller, idem, a.ID, ledger.StepCreated, str(auditIt[attrSK]), now, now)
	var replay *app.Replay
	err := st.transact(ctx, op{
		name: "create account",
		build: func(context.Context) (*attempt, error) {
			return &attempt{w: w, proof: proofOf(auditIt), done: func() {}}, nil
		},
		refused: func(ctx context.Context, roles map[string]bool) error {
			switch {
			case roles[roleIdempotency]:
				var err error
				replay, err = st.replayOf(ctx, tenant, caller, idem)
				return err
			case roles[roleNew]:
				// The account's id is new: only our own earlier attempt, whose
				// answer was lost, can have written it.
				return nil
			case roles[roleName]:
				return ledger.Errorf(ledger.EConflict, "An account named %q already exists.", a.Name)
			case roles[roleCode]:
				return ledger.Errorf(ledger.EConflict, "An account with code %q already exists.", a.Code)
			}
			return errRetry
		},
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
// revision it read, with its guards and member index kept in step. A hot
// account's new status then reaches its parts (setPartsStatus); parts left
// behind by a change that stopped part-way are set again by any later
// update, even one that changes nothing.
func (st *Store) UpdateAccount(ctx context.Context, tenant, id string, fn func(*ledger.Account) (*ledger.AuditRecord, error)) (*ledger.Account, error) {
	var out *ledger.Account
	var epoch int64
	var parts []part
	var nameTaken, codeTaken string
	var removed []string
	err := st.transact(ctx, op{
		name: "update account",
		build: func(ctx context.Context) (*attempt, error) {
			it, err := st.get(ctx, key(accountPK(tenant, id), skAccount))
			if err != nil {
				return nil, st.wrap(err)
			}
			if it == nil {
				return nil, ledger.NotFound("Account")
			}
			a, rev, err := decodeAccount(it)
			if err != nil {
				return nil, err
			}
			r := reader{it: it}
			epoch = r.optInt(attrStatusEpoch)
			ps, err := st.withParts(ctx, tenant, map[string]*ledger.Account{a.ID: a}, nil)
			if err != nil {
				return nil, st.wrap(err)
			}
			parts = ps[id]
			before := *a
			audit, err := fn(a)
			if err != nil {
				return nil, err
			}
			out = a
			if audit == nil {
				return nil, nil
			}
			w := &writes{table: st.table}
			newEpoch := epoch
			if a.Hot && a.Status != before.Status {
				newEpoch++
			}
			w.put(accountItem(tenant, a, rev+1, newEpoch), "rev = :rev", item{":rev": ni(rev)})
			if a.Hot {
				if err := w.hotSettings(tenant, &before, a, parts, newEpoch); err != nil {
					return nil, err
				}
			}
			auditIt := auditItem(tenant, audit)
			w.put(auditIt, "", nil)
			w.moveGuard(tenant, roleName, namePK, before.Name, a.Name, id)
			w.moveGuard(tenant, roleCode, codePK, before.Code, a.Code, id)
			nameTaken, codeTaken = a.Name, a.Code
			for _, m := range a.Members {
				if !before.HasMember(m) {
					w.put(indexItem(memberPK(tenant, m), a), "", nil)
				}
			}
			removed = removed[:0]
			for _, m := range before.Members {
				if !a.HasMember(m) {
					removed = append(removed, m)
				}
			}
			return &attempt{w: w, proof: proofOf(auditIt), done: func() { epoch = newEpoch }}, nil
		},
		refused: func(ctx context.Context, roles map[string]bool) error {
			switch {
			case roles[roleName]:
				return ledger.Errorf(ledger.EConflict, "An account named %q already exists.", nameTaken)
			case roles[roleCode]:
				return ledger.Errorf(ledger.EConflict, "An account with code %q already exists.", codeTaken)
			}
			return errRetry
		},
	})
	if err != nil {
		return nil, err
	}
	if out.Hot && out.Status != ledger.StatusClosed {
		if err := st.setPartsStatus(ctx, tenant, id, parts, out.Status, epoch); err != nil {
			return nil, err
		}
	}
	st.dropFromIndex(ctx, tenant, id, removed)
	return out, nil
}

// dropFromIndex deletes the member index items of members an update
// removed, after the update: up to 50 deletes would not fit in its
// transaction beside 50 additions. Listing checks the account's own members,
// so an item left by a failure here shows nothing; it only costs a read.
func (st *Store) dropFromIndex(ctx context.Context, tenant, id string, members []string) {
	for len(members) > 0 {
		chunk := members[:min(len(members), maxTransactItems)]
		members = members[len(chunk):]
		w := &writes{table: st.table}
		for _, m := range chunk {
			w.delete(key(memberPK(tenant, m), indexSK(id)), "", nil)
		}
		_ = st.transact(ctx, op{name: "drop member index", build: func(context.Context) (*attempt, error) {
			if w == nil {
				return nil, nil
			}
			a := &attempt{w: w, done: func() {}}
			return a, nil
		}})
	}
}

// moveGuard releases the old name (or code) and claims the new one under
// its role.
func (w *writes) moveGuard(tenant, role string, pk func(string, string) string, old, new, id string) {
	if ledger.NameKey(old) == ledger.NameKey(new) {
		return
	}
	if old != "" {
		w.delete(key(pk(tenant, old), skGuard), "account_id = :id", item{":id": s(id)})
	}
	if new != "" {
		w.putAs(role, guardItem(pk(tenant, new), id), notExists, nil)
	}
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
