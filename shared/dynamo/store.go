package dynamo

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// API is the part of the DynamoDB client the store uses; declared here so a
// test can count or disturb calls without a fake of DynamoDB.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store implements app.Store on one DynamoDB table.
type Store struct {
	db    API
	table *string
	// Retry is the budget for conflicts: how long and how often a posting
	// is tried again before the caller gets 503.
	Retry RetryPolicy
	// hot remembers the accounts ("tenant/id") seen hot, to read their
	// parts alongside them (prefetchParts).
	hot sync.Map
	// cursorKey signs list cursors (CURSOR_KEY).
	cursorKey []byte
}

var _ app.Store = (*Store)(nil)

// New returns a store on the table.
func New(db API, table string) *Store {
	return &Store{db: db, table: aws.String(table), Retry: DefaultRetry, cursorKey: processCursorKey()}
}

// Ping reads one item: the service can reach its table.
func (st *Store) Ping(ctx context.Context) error {
	_, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: key("HEALTH", "HEALTH")})
	return err
}

func (st *Store) get(ctx context.Context, k item) (item, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, readErr(err)
	}
	return out.Item, nil
}

// query runs one Query; a read the store cannot get past throttling or a
// server fault (after the SDK's own retries) is 503, not 500.
func (st *Store) query(ctx context.Context, in *dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
	if err := checkStart(in); err != nil {
		return nil, err
	}
	out, err := st.db.Query(ctx, in)
	var ve interface{ ErrorCode() string }
	if err != nil && in.ExclusiveStartKey != nil && errors.As(err, &ve) && ve.ErrorCode() == "ValidationException" {
		return nil, badCursor() // a start key DynamoDB refuses came from the cursor
	}
	if err != nil {
		return nil, readErr(err)
	}
	return out, nil
}

// checkStart holds a cursor's key to the query it continues: the same
// partition, and a sort key inside the query's range.
func checkStart(in *dynamodb.QueryInput) error {
	start := in.ExclusiveStartKey
	if start == nil {
		return nil
	}
	pkAttr, skAttr := attrPK, attrSK
	if in.IndexName != nil {
		pkAttr, skAttr = attrGSI1PK, attrGSI1SK
		if str(start[attrPK]) == "" || str(start[attrSK]) == "" {
			return badCursor()
		}
	}
	sk := str(start[skAttr])
	if str(start[pkAttr]) != str(in.ExpressionAttributeValues[":pk"]) || sk == "" {
		return badCursor()
	}
	if lo := str(in.ExpressionAttributeValues[":lo"]); lo != "" && sk < lo {
		return badCursor()
	}
	if hi := str(in.ExpressionAttributeValues[":hi"]); hi != "" && sk > hi {
		return badCursor()
	}
	return nil
}

func str(v types.AttributeValue) string {
	if sv, ok := v.(*types.AttributeValueMemberS); ok {
		return sv.Value
	}
	return ""
}

func badCursor() error {
	return &ledger.Error{Code: ledger.EMalformed, Message: "The cursor was not issued for this query.",
		Fields: []ledger.FieldError{{Field: "cursor", Message: "is not a cursor of this list"}}}
}

func readErr(err error) error {
	if transient(err) {
		return busy()
	}
	return err
}

// batchGet reads up to 100 keys consistently, in one round trip unless
// DynamoDB leaves keys unprocessed.
func (st *Store) batchGet(ctx context.Context, keys []item) ([]item, error) {
	// DynamoDB refuses a request that names one item twice (a posting may
	// name an account its transaction also names).
	seen := make(map[string]bool, len(keys))
	unique := keys[:0:0]
	for _, k := range keys {
		id := str(k[attrPK]) + "\x00" + str(k[attrSK])
		if !seen[id] {
			seen[id] = true
			unique = append(unique, k)
		}
	}
	keys = unique
	var out []item
	for start := 0; start < len(keys); start += 100 {
		end := min(start+100, len(keys))
		req := map[string]types.KeysAndAttributes{*st.table: {Keys: keys[start:end], ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0; attempt++ {
			res, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, readErr(err)
			}
			out = append(out, res.Responses[*st.table]...)
			req = res.UnprocessedKeys
			if len(req) > 0 {
				if err := sleep(ctx, st.Retry.backoff(attempt)); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// GetAccount reads one account.
func (st *Store) GetAccount(ctx context.Context, tenant, id string) (*ledger.Account, error) {
	it, err := st.get(ctx, key(accountPK(tenant, id), skAccount))
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, ledger.NotFound("Account")
	}
	a, _, err := decodeAccount(it)
	if err != nil {
		return nil, err
	}
	_, err = st.withParts(ctx, tenant, map[string]*ledger.Account{a.ID: a}, nil)
	return a, err
}

// GetAccounts reads accounts by id; unknown ones are absent from the map.
func (st *Store) GetAccounts(ctx context.Context, tenant string, ids []string) (map[string]*ledger.Account, error) {
	accounts, _, err := st.getAccounts(ctx, tenant, ids)
	return accounts, err
}

func (st *Store) getAccounts(ctx context.Context, tenant string, ids []string) (map[string]*ledger.Account, map[string]int64, error) {
	keys := make([]item, 0, len(ids))
	for _, id := range ids {
		keys = append(keys, key(accountPK(tenant, id), skAccount))
	}
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	accounts := map[string]*ledger.Account{}
	revs := map[string]int64{}
	for _, it := range items {
		a, rev, err := decodeAccount(it)
		if err != nil {
			return nil, nil, err
		}
		accounts[a.ID], revs[a.ID] = a, rev
	}
	if _, err := st.withParts(ctx, tenant, accounts, nil); err != nil {
		return nil, nil, err
	}
	return accounts, revs, nil
}

// ListAccounts pages through the tenant's account index, or the caller's
// member index, and reads the accounts themselves consistently. The member
// index may name an account the caller was since removed from; the
// account's own members list decides.
func (st *Store) ListAccounts(ctx context.Context, tenant string, f app.AccountFilter) (app.Page[*ledger.Account], error) {
	var page app.Page[*ledger.Account]
	pk := tenantAccountsPK(tenant)
	if f.Member != "" {
		pk = memberPK(tenant, f.Member)
	}
	scope := fmt.Sprintf("accounts|%s|%s|%s|%s|%s", tenant, f.Member, f.Status, f.Kind, f.Currency)
	start, err := st.decodeCursor(f.Cursor, scope, tenant)
	if err != nil {
		return page, err
	}
	in := &dynamodb.QueryInput{
		TableName:              st.table,
		KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: item{
			":pk": s(pk),
		},
		Limit:             aws.Int32(int32(f.Limit)),
		ExclusiveStartKey: start,
		// The index items are written with the account: read them
		// consistently, so a new account is listed at once.
		ConsistentRead: aws.Bool(true),
	}
	out, err := st.query(ctx, in)
	if err != nil {
		return page, err
	}
	ids := make([]string, 0, len(out.Items))
	for _, it := range out.Items {
		ids = append(ids, (&reader{it: it}).str("account_id"))
	}
	accounts, err := st.GetAccounts(ctx, tenant, ids)
	if err != nil {
		return page, err
	}
	for _, id := range ids {
		a := accounts[id]
		switch {
		case a == nil,
			f.Member != "" && !a.HasMember(f.Member),
			f.Status != "" && a.Status != f.Status,
			f.Kind != "" && a.Kind != f.Kind,
			f.Currency != "" && a.Currency.Code != f.Currency:
			continue
		}
		page.Items = append(page.Items, a)
	}
	page.NextCursor = st.encodeCursor(out.LastEvaluatedKey, scope)
	return page, nil
}

// historyRange is the key range of an account's lines between two moments.
func historyRange(from, to time.Time) (string, string) {
	lo, hi := "H#", "H#~"
	if !from.IsZero() {
		lo = "H#" + stamp(from)
	}
	if !to.IsZero() {
		hi = "H#" + stamp(to) + "#~~"
	}
	return lo, hi
}

// History reads a page of an account's lines in one Query.
func (st *Store) History(ctx context.Context, tenant, accountID string, f app.HistoryFilter) (app.Page[ledger.HistoryLine], error) {
	var page app.Page[ledger.HistoryLine]
	scope := fmt.Sprintf("history|%s|%s|%s|%s|%v", tenant, accountID, f.From, f.To, f.Descending)
	start, err := st.decodeCursor(f.Cursor, scope, tenant)
	if err != nil {
		return page, err
	}
	lo, hi := historyRange(f.From, f.To)
	out, err := st.query(ctx, &dynamodb.QueryInput{
		TableName:              st.table,
		KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		// Holds of pending withdrawals share the range; they are not lines.
		FilterExpression: aws.String("attribute_exists(seq)"),
		ExpressionAttributeValues: item{
			":pk": s(accountPK(tenant, accountID)), ":lo": s(lo), ":hi": s(hi),
		},
		ScanIndexForward:  aws.Bool(!f.Descending),
		Limit:             aws.Int32(int32(f.Limit)),
		ExclusiveStartKey: start,
		ConsistentRead:    aws.Bool(true),
	})
	if err != nil {
		return page, err
	}
	for _, it := range out.Items {
		h, err := decodeHistory(accountID, it)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, h)
	}
	page.NextCursor = st.encodeCursor(out.LastEvaluatedKey, scope)
	return page, nil
}

// BalanceAt is balance_after of the last line posted at or before t (zero
// before the first), read newest first from t.
func (st *Store) BalanceAt(ctx context.Context, tenant, accountID string, t time.Time) (decimal.Decimal, error) {
	_, hi := historyRange(time.Time{}, t)
	var start item
	for {
		out, err := st.query(ctx, &dynamodb.QueryInput{
			TableName:                 st.table,
			KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
			FilterExpression:          aws.String("attribute_exists(seq)"),
			ExpressionAttributeValues: item{":pk": s(accountPK(tenant, accountID)), ":lo": s("H#"), ":hi": s(hi)},
			ScanIndexForward:          aws.Bool(false),
			Limit:                     aws.Int32(10),
			ExclusiveStartKey:         start,
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			return decimal.Zero, err
		}
		if len(out.Items) > 0 {
			h, err := decodeHistory(accountID, out.Items[0])
			return h.BalanceAfter, err
		}
		if out.LastEvaluatedKey == nil {
			return decimal.Zero, nil
		}
		start = out.LastEvaluatedKey
	}
}

// GetTransaction reads one transaction.
func (st *Store) GetTransaction(ctx context.Context, tenant, id string) (*ledger.Transaction, error) {
	it, err := st.get(ctx, key(txnPK(tenant, id), skTxn))
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, ledger.NotFound("Transaction")
	}
	return decodeTxn(it)
}

// ListTransactions lists newest first: an account's from its own key range
// (history lines and holds, consistent), the whole tenant's from gsi1.
func (st *Store) ListTransactions(ctx context.Context, tenant string, f app.TransactionFilter) (app.Page[*ledger.Transaction], error) {
	var page app.Page[*ledger.Transaction]
	scope := fmt.Sprintf("transactions|%s|%s|%s|%s|%s|%s", tenant, f.AccountID, f.Kind, f.Status, f.From, f.To)
	start, err := st.decodeCursor(f.Cursor, scope, tenant)
	if err != nil {
		return page, err
	}
	lo, hi := historyRange(f.From, f.To)
	var in *dynamodb.QueryInput
	if f.AccountID != "" {
		in = &dynamodb.QueryInput{
			KeyConditionExpression: aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
			// An approved withdrawal's hold is also its history line: list it once.
			FilterExpression:          aws.String("attribute_not_exists(outcome) OR outcome <> :approved"),
			ExpressionAttributeValues: item{":pk": s(accountPK(tenant, f.AccountID)), ":lo": s(lo), ":hi": s(hi), ":approved": s(ledger.StepApproved)},
			ConsistentRead:            aws.Bool(true),
		}
	} else {
		// gsi1sk is the bare stamp#id; "0" sorts before every stamp.
		if f.From.IsZero() {
			lo = "0"
		} else {
			lo = lo[2:]
		}
		hi = hi[2:] + "~"
		in = &dynamodb.QueryInput{
			IndexName:                 aws.String(gsi1),
			KeyConditionExpression:    aws.String("gsi1pk = :pk AND gsi1sk BETWEEN :lo AND :hi"),
			ExpressionAttributeValues: item{":pk": s(txnIndexPK(tenant)), ":lo": s(lo), ":hi": s(hi)},
		}
		addFilter(in, "kind", f.Kind)
		addFilter(in, "status", f.Status)
	}
	in.TableName, in.ScanIndexForward, in.Limit, in.ExclusiveStartKey = st.table, aws.Bool(false), aws.Int32(int32(f.Limit)), start
	out, err := st.query(ctx, in)
	if err != nil {
		return page, err
	}
	page.NextCursor = st.encodeCursor(out.LastEvaluatedKey, scope)
	if f.AccountID == "" {
		for _, it := range out.Items {
			t, err := decodeTxn(it)
			if err != nil {
				return page, err
			}
			page.Items = append(page.Items, t)
		}
		return page, nil
	}
	// The account's range names transactions; read them in one batch.
	var ids []string
	seen := map[string]bool{}
	for _, it := range out.Items {
		r := reader{it: it}
		id := r.str("txn")
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = key(txnPK(tenant, id), skTxn)
	}
	items, err := st.batchGet(ctx, keys)
	if err != nil {
		return page, err
	}
	byID := map[string]*ledger.Transaction{}
	for _, it := range items {
		t, err := decodeTxn(it)
		if err != nil {
			return page, err
		}
		byID[t.ID] = t
	}
	for _, id := range ids {
		t := byID[id]
		if t == nil || (f.Kind != "" && t.Kind != f.Kind) || (f.Status != "" && t.Status != f.Status) {
			continue
		}
		page.Items = append(page.Items, t)
	}
	return page, nil
}

func addFilter(in *dynamodb.QueryInput, attr, value string) {
	if value == "" {
		return
	}
	cond := "#" + attr + " = :" + attr
	if in.FilterExpression != nil {
		cond = *in.FilterExpression + " AND " + cond
	}
	in.FilterExpression = aws.String(cond)
	if in.ExpressionAttributeNames == nil {
		in.ExpressionAttributeNames = map[string]string{}
	}
	in.ExpressionAttributeNames["#"+attr] = attr
	in.ExpressionAttributeValues[":"+attr] = s(value)
}

// ClosePeriod records that a month is closing, with its audit record and
// idempotency record in one transaction; a second close is a conflict.
func (st *Store) ClosePeriod(ctx context.Context, tenant string, p ledger.Period, idem *app.Idempotency, caller string, audit *ledger.AuditRecord) (*ledger.Period, *app.Replay, error) {
	w := &writes{table: st.table}
	w.putAs(rolePeriod, periodItem(tenant, p), notExists, nil)
	auditIt := auditItem(tenant, audit)
	w.put(auditIt, "", nil)
	now := time.Now()
	w.idempotency(tenant, caller, idem, p.Month, ledger.StepCreated, "", now, now)
	var out *ledger.Period
	var replay *app.Replay
	err := st.transact(ctx, op{
		name: "close period",
		build: func(context.Context) (*attempt, error) {
			return &attempt{w: w, proof: proofOf(auditIt), done: func() { out = &p }}, nil
		},
		refused: func(ctx context.Context, roles map[string]bool) error {
			switch {
			case roles[roleIdempotency]:
				var err error
				if replay, err = st.replayOf(ctx, tenant, caller, idem); err != nil {
					return err
				}
				stored, err := st.get(ctx, key(periodPK(tenant), p.Month))
				if err != nil || stored == nil {
					return errRetry
				}
				sp, err := decodePeriod(stored)
				out = &sp
				return err
			case roles[rolePeriod]:
				// Our own earlier attempt, whose answer was lost, may be the
				// one that closed it: the loop looks for its audit record
				// before it gives this answer.
				return ledger.Errorf(ledger.EConflict, "The period %s is already closing or closed.", p.Month)
			}
			return errRetry
		},
	})
	return out, replay, err
}

// ListPeriods lists the months that are closing or closed, oldest first.
func (st *Store) ListPeriods(ctx context.Context, tenant string) ([]ledger.Period, error) {
	var periods []ledger.Period
	var start item
	for {
		out, err := st.query(ctx, &dynamodb.QueryInput{
			TableName:                 st.table,
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: item{":pk": s(periodPK(tenant))},
			ExclusiveStartKey:         start,
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			return nil, err
		}
		for _, it := range out.Items {
			p, err := decodePeriod(it)
			if err != nil {
				return nil, err
			}
			periods = append(periods, p)
		}
		if out.LastEvaluatedKey == nil {
			sort.Slice(periods, func(i, j int) bool { return periods[i].Month < periods[j].Month })
			return periods, nil
		}
		start = out.LastEvaluatedKey
	}
}

// A cursor is the last key a page read, signed with the store's cursor key
// over the key and the tenant and query it was issued for: one from
// another query or tenant, or with any byte of its key edited, is a clear
// 400. The partition always comes from the caller's token as well, so even
// a leaked key could at most skip within the caller's own data.
type cursor struct {
	Key map[string]string `json:"k"`
	Sig string            `json:"s"`
}

// maxCursorLen bounds a cursor before anything is decoded: a history
// key is under 100 bytes, DynamoDB's sort key limit is 1,024.
const maxCursorLen = 1024

// cursorKeyEnv names the variable that holds the key cursors are signed
// with: the same for every function (template.yaml, a generated secret),
// so a cursor one function issued is good at any other.
const cursorKeyEnv = "CURSOR_KEY"

var processCursorKey = sync.OnceValue(func() []byte {
	if k := os.Getenv(cursorKeyEnv); k != "" {
		return []byte(k)
	}
	// No key given (tests, a single local process): one for this process.
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
})

func (st *Store) signCursor(k map[string]string, scope string) string {
	mac := hmac.New(sha256.New, st.cursorKey)
	mac.Write([]byte(scope))
	names := make([]string, 0, len(k))
	for n := range k {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mac.Write([]byte{0})
		mac.Write([]byte(n))
		mac.Write([]byte{0})
		mac.Write([]byte(k[n]))
	}
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

func (st *Store) encodeCursor(last item, scope string) string {
	if len(last) == 0 {
		return ""
	}
	c := cursor{Key: map[string]string{}}
	for k, v := range last {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			c.Key[k] = sv.Value
		}
	}
	c.Sig = st.signCursor(c.Key, scope)
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func (st *Store) decodeCursor(token, scope, tenant string) (item, error) {
	if token == "" {
		return nil, nil
	}
	bad := badCursor()
	if len(token) > maxCursorLen {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || len(c.Key) == 0 ||
		!hmac.Equal([]byte(c.Sig), []byte(st.signCursor(c.Key, scope))) {
		return nil, bad
	}
	it := item{}
	for k, v := range c.Key {
		switch k {
		case attrPK, attrGSI1PK:
			if !strings.HasPrefix(v, "T#"+tenant+"#") {
				return nil, bad
			}
		case attrSK, attrGSI1SK:
		default:
			return nil, bad
		}
		it[k] = s(v)
	}
	return it, nil
}

// ListAudit reads the trail newest first: the tenant's audit partition
// (consistent), or the actor's in gsi1 when filtering by actor. Action and
// account filters narrow a page, which may then hold fewer than the limit.
func (st *Store) ListAudit(ctx context.Context, tenant string, f app.AuditFilter) (app.Page[*ledger.AuditRecord], error) {
	var page app.Page[*ledger.AuditRecord]
	scope := fmt.Sprintf("audit|%s|%s|%s|%s|%s|%s", tenant, f.AccountID, f.Actor, f.Action, f.From, f.To)
	start, err := st.decodeCursor(f.Cursor, scope, tenant)
	if err != nil {
		return page, err
	}
	lo, hi := "0", "~"
	if !f.From.IsZero() {
		lo = stamp(f.From)
	}
	if !f.To.IsZero() {
		hi = stamp(f.To) + "#~"
	}
	in := &dynamodb.QueryInput{
		TableName:                 st.table,
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :lo AND :hi"),
		ExpressionAttributeValues: item{":pk": s(auditPK(tenant)), ":lo": s(lo), ":hi": s(hi)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(f.Limit)),
		ExclusiveStartKey:         start,
		ConsistentRead:            aws.Bool(true),
	}
	if f.Actor != "" {
		in.IndexName, in.ConsistentRead = aws.String(gsi1), nil
		in.KeyConditionExpression = aws.String("gsi1pk = :pk AND gsi1sk BETWEEN :lo AND :hi")
		in.ExpressionAttributeValues[":pk"] = s(auditActorPK(tenant, f.Actor))
	}
	addFilter(in, "action", f.Action)
	if f.AccountID != "" {
		cond := "contains(account_ids, :acc)"
		if in.FilterExpression != nil {
			cond = *in.FilterExpression + " AND " + cond
		}
		in.FilterExpression = aws.String(cond)
		in.ExpressionAttributeValues[":acc"] = s(f.AccountID)
	}
	out, err := st.query(ctx, in)
	if err != nil {
		return page, err
	}
	for _, it := range out.Items {
		a, err := decodeAudit(it)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, a)
	}
	page.NextCursor = st.encodeCursor(out.LastEvaluatedKey, scope)
	return page, nil
}
