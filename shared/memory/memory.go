// Package memory is an in-memory app.Store: the same observable semantics
// as the DynamoDB store (shared/dynamo), behind one mutex, for use-case and
// handler tests that need no DynamoDB Local. The contract suite
// (shared/app/storetest) holds both stores to one set of rules.
//
// What it keeps as the DynamoDB store does:
//
//   - every read hands out copies, and every write stores copies, so
//     neither a Build nor a caller can change what the store holds except
//     through a write;
//   - a posting is optimistic, like the DynamoDB store's: the state is read
//     under the lock, Build runs outside it, and the commit is applied under
//     the lock only if nothing it depends on moved meanwhile (each account's
//     revision, the transaction it replaces or reverses, the period of its
//     month, the idempotency record); otherwise it reads and builds again,
//     and after maxAttempts answers 503 (unavailable), as the DynamoDB store
//     does when its retry budget ends;
//   - times are kept to the millisecond in UTC, amounts as exact decimals,
//     audit changes as the JSON the DynamoDB store writes (so they read back
//     as the same JSON values), and list keys as the DynamoDB store's sort
//     keys, so lists come in the same order and time filters cut at the same
//     places;
//   - cursors are signed (HMAC-SHA-256, a random key per store) over the
//     tenant and the query, and refused (ledger.EMalformed) for any other.
//
// Where it differs, and why that is not observable through app.Store:
//
//   - a hot account is kept like any other: its history lines are numbered
//     as they are posted (the DynamoDB store numbers them shortly after,
//     through the history sequencer), so its history never lags here;
//   - a page holds up to Limit items after filtering (the DynamoDB store
//     filters each page of Limit keys, so its pages may be shorter), and a
//     page that ends the list has no cursor (the DynamoDB store may issue one
//     more, empty, page); the contract allows both;
//   - a Limit of zero or less means 50 (the API's default).
package memory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// idempotencyTTL is how long a key answers with its first result.
const idempotencyTTL = 24 * time.Hour

// maxAttempts bounds how often one posting or account change is read and
// built again after something it read moved meanwhile.
const maxAttempts = 100

// defaultLimit is the page size when a filter names none.
const defaultLimit = 50

// Store is an in-memory app.Store.
type Store struct {
	mu        sync.Mutex
	now       func() time.Time
	cursorKey []byte
	tenants   map[string]*tenant
}

var _ app.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read the time from now (the State.Now of
// postings, idempotency expiry) instead of the wall clock.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an empty store.
func New(opts ...Option) *Store {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	s := &Store{now: time.Now, cursorKey: k, tenants: map[string]*tenant{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

type tenant struct {
	accounts map[string]*accountRec
	names    map[string]string // ledger.NameKey(name) -> account id
	codes    map[string]string // ledger.NameKey(code) -> account id
	history  map[string][]ledger.HistoryLine
	holds    map[string][]hold
	txns     map[string]*ledger.Transaction
	system   map[string]decimal.Decimal
	periods  map[string]ledger.Period
	audit    []auditRec
	auditIdx map[string]int // audit id -> index in audit
	idem     map[idemKey]idemRec
}

type accountRec struct {
	acc *ledger.Account
	rev int64
}

// hold is a pending withdrawal's mark on its account: it lists the
// withdrawal among the account's transactions while it waits, and after it
// was rejected; once approved, its history line lists it instead.
type hold struct {
	key     string
	txn     string
	outcome string // "", approved, rejected
}

type auditRec struct {
	key     string
	rec     ledger.AuditRecord // Changes nil: they are kept as JSON
	changes []byte
}

type idemKey struct{ caller, key string }

type idemRec struct {
	hash     string
	resource string
	step     string
	auditID  string // a created account's creation record
	expires  time.Time
}

func (r idemRec) live(now time.Time) bool { return r.expires.Unix() >= now.Unix() }

func (s *Store) tenant(id string) *tenant {
	t := s.tenants[id]
	if t == nil {
		t = &tenant{
			accounts: map[string]*accountRec{}, names: map[string]string{}, codes: map[string]string{},
			history: map[string][]ledger.HistoryLine{}, holds: map[string][]hold{},
			txns: map[string]*ledger.Transaction{}, system: map[string]decimal.Decimal{},
			periods: map[string]ledger.Period{}, auditIdx: map[string]int{}, idem: map[idemKey]idemRec{},
		}
		s.tenants[id] = t
	}
	return t
}

// ---- errors, as the DynamoDB store words them ----

func busy() error {
	return ledger.Errorf(ledger.EUnavailable, "The ledger is busy; try again shortly.")
}

func badCursor() error {
	return &ledger.Error{Code: ledger.EMalformed, Message: "The cursor was not issued for this query.",
		Fields: []ledger.FieldError{{Field: "cursor", Message: "is not a cursor of this list"}}}
}

func checkReplay(r idemRec, idem *app.Idempotency) (*app.Replay, error) {
	if r.hash != idem.RequestHash {
		return nil, ledger.Errorf(ledger.EIdempotencyKeyReuse, "This Idempotency-Key was used for another request.")
	}
	return &app.Replay{ResourceID: r.resource, Step: r.step}, nil
}

// ---- copies ----

func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

func cloneRaw(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("{}")
	}
	return append(json.RawMessage(nil), m...)
}

func cloneAccount(a *ledger.Account) *ledger.Account {
	c := *a
	c.Members = append(make([]string, 0, len(a.Members)), a.Members...)
	c.Metadata = cloneRaw(a.Metadata)
	if a.ApprovalThreshold != nil {
		t := *a.ApprovalThreshold
		c.ApprovalThreshold = &t
	}
	c.CreatedAt, c.UpdatedAt, c.LastPostedAt = norm(a.CreatedAt), norm(a.UpdatedAt), norm(a.LastPostedAt)
	return &c
}

func cloneTxn(t *ledger.Transaction) *ledger.Transaction {
	c := *t
	c.Lines = append([]ledger.Line(nil), t.Lines...)
	c.Metadata = cloneRaw(t.Metadata)
	if t.Rate != nil {
		r := *t.Rate
		c.Rate = &r
	}
	c.CreatedAt, c.PostedAt = norm(t.CreatedAt), norm(t.PostedAt)
	c.ApprovedAt, c.RejectedAt = norm(t.ApprovedAt), norm(t.RejectedAt)
	return &c
}

type changeJSON struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

func newAuditRec(a *ledger.AuditRecord) (auditRec, error) {
	r := auditRec{rec: *a}
	r.rec.At = norm(a.At)
	r.rec.AccountIDs = append(make([]string, 0, len(a.AccountIDs)), a.AccountIDs...)
	r.rec.Changes = nil
	if len(a.Changes) > 0 {
		cs := make([]changeJSON, len(a.Changes))
		for i, c := range a.Changes {
			cs[i] = changeJSON{Field: c.Field, Old: c.Old, New: c.New}
		}
		raw, err := json.Marshal(cs)
		if err != nil {
			return r, fmt.Errorf("memory: the audit record's changes: %w", err)
		}
		r.changes = raw
	}
	r.key = stamp(r.rec.At) + "#" + a.ID
	return r, nil
}

func (r auditRec) record() (*ledger.AuditRecord, error) {
	a := r.rec
	a.AccountIDs = append(make([]string, 0, len(r.rec.AccountIDs)), r.rec.AccountIDs...)
	if len(r.changes) > 0 {
		var cs []changeJSON
		if err := json.Unmarshal(r.changes, &cs); err != nil {
			return nil, fmt.Errorf("memory: the audit record's changes: %w", err)
		}
		for _, c := range cs {
			a.Changes = append(a.Changes, ledger.Change{Field: c.Field, Old: c.Old, New: c.New})
		}
	}
	return &a, nil
}

// ---- keys: the DynamoDB store's sort keys, so that order and ranges match ----

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func lineKey(l ledger.HistoryLine) string {
	return "H#" + stamp(l.PostedAt) + "#" + fmt.Sprintf("%012d", l.Seq)
}

func holdKey(createdAt time.Time, txnID string) string { return "H#" + stamp(createdAt) + "#~" + txnID }

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

func txnIndexKey(t *ledger.Transaction) string {
	when := t.PostedAt
	if when.IsZero() {
		when = t.CreatedAt
	}
	return stamp(when) + "#" + t.ID
}

// ---- cursors ----

// maxCursorLen bounds a cursor before anything is decoded.
const maxCursorLen = 1024

var b64 = base64.RawURLEncoding.Strict()

func (s *Store) sign(scope, pos string) []byte {
	mac := hmac.New(sha256.New, s.cursorKey)
	mac.Write([]byte(scope))
	mac.Write([]byte{0})
	mac.Write([]byte(pos))
	return mac.Sum(nil)[:18]
}

// encodeCursor is the cursor that continues scope after the key pos.
func (s *Store) encodeCursor(scope, pos string) string {
	return b64.EncodeToString([]byte(pos)) + "." + b64.EncodeToString(s.sign(scope, pos))
}

// decodeCursor returns the key a cursor of scope continues after: "" for
// no cursor. Any other string than one encodeCursor issued for scope is
// malformed, including another spelling of the same bytes.
func (s *Store) decodeCursor(scope, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	if len(token) > maxCursorLen {
		return "", badCursor()
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", badCursor()
	}
	pos, err1 := b64.DecodeString(p)
	mac, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil || len(pos) == 0 || !hmac.Equal(mac, s.sign(scope, string(pos))) {
		return "", badCursor()
	}
	if s.encodeCursor(scope, string(pos)) != token {
		return "", badCursor()
	}
	return string(pos), nil
}

// scope names one query of one tenant: a cursor is good only for it.
func scope(parts ...any) string {
	var b strings.Builder
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b.WriteString(strconv.Quote(v))
		case time.Time:
			if v.IsZero() {
				b.WriteString("-")
			} else {
				b.WriteString(strconv.FormatInt(v.UnixNano(), 10))
			}
		case bool:
			b.WriteString(strconv.FormatBool(v))
		default:
			panic(fmt.Sprintf("memory: scope of %T", p))
		}
		b.WriteByte('|')
	}
	return b.String()
}

type keyed[T any] struct {
	key  string
	item T
}

// pageOf cuts a page from items sorted by key ascending: after the cursor's
// key (before it, descending), at most limit items, with a cursor when more
// follow.
func pageOf[T any](s *Store, sc string, items []keyed[T], desc bool, after string, limit int) app.Page[T] {
	if limit <= 0 {
		limit = defaultLimit
	}
	var page app.Page[T]
	n := len(items)
	var last string
	for i := 0; i < n; i++ {
		it := items[i]
		if desc {
			it = items[n-1-i]
		}
		if after != "" && ((!desc && it.key <= after) || (desc && it.key >= after)) {
			continue
		}
		if len(page.Items) == limit {
			page.NextCursor = s.encodeCursor(sc, last)
			return page
		}
		page.Items = append(page.Items, it.item)
		last = it.key
	}
	return page
}

func sortKeyed[T any](items []keyed[T]) {
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
}

// ---- reads ----

// Ping always reaches the store.
func (s *Store) Ping(context.Context) error { return nil }

// GetAccount reads one account.
func (s *Store) GetAccount(_ context.Context, tenant, id string) (*ledger.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.tenant(tenant).accounts[id]
	if rec == nil {
		return nil, ledger.NotFound("Account")
	}
	return cloneAccount(rec.acc), nil
}

// GetAccounts reads accounts by id; unknown ones are absent from the map.
func (s *Store) GetAccounts(_ context.Context, tenant string, ids []string) (map[string]*ledger.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenant(tenant)
	out := map[string]*ledger.Account{}
	for _, id := range ids {
		if rec := tn.accounts[id]; rec != nil {
			out[id] = cloneAccount(rec.acc)
		}
	}
	return out, nil
}

// ListAccounts lists the tenant's accounts by id; with a member, those whose
// own members list names it.
func (s *Store) ListAccounts(_ context.Context, tenant string, f app.AccountFilter) (app.Page[*ledger.Account], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := scope("accounts", tenant, f.Member, f.Status, f.Kind, f.Currency)
	after, err := s.decodeCursor(sc, f.Cursor)
	if err != nil {
		return app.Page[*ledger.Account]{}, err
	}
	var items []keyed[*ledger.Account]
	for id, rec := range s.tenant(tenant).accounts {
		a := rec.acc
		switch {
		case f.Member != "" && !a.HasMember(f.Member),
			f.Status != "" && a.Status != f.Status,
			f.Kind != "" && a.Kind != f.Kind,
			f.Currency != "" && a.Currency.Code != f.Currency:
			continue
		}
		items = append(items, keyed[*ledger.Account]{key: id, item: cloneAccount(a)})
	}
	sortKeyed(items)
	return pageOf(s, sc, items, false, after, f.Limit), nil
}

// History pages through an account's numbered lines.
func (s *Store) History(_ context.Context, tenant, accountID string, f app.HistoryFilter) (app.Page[ledger.HistoryLine], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := scope("history", tenant, accountID, f.From, f.To, f.Descending)
	after, err := s.decodeCursor(sc, f.Cursor)
	if err != nil {
		return app.Page[ledger.HistoryLine]{}, err
	}
	lo, hi := historyRange(f.From, f.To)
	var items []keyed[ledger.HistoryLine]
	for _, l := range s.tenant(tenant).history[accountID] {
		if k := lineKey(l); k >= lo && k <= hi {
			items = append(items, keyed[ledger.HistoryLine]{key: k, item: l})
		}
	}
	sortKeyed(items)
	return pageOf(s, sc, items, f.Descending, after, f.Limit), nil
}

// BalanceAt is balance_after of the last line posted at or before t (zero
// before the first).
func (s *Store) BalanceAt(_ context.Context, tenant, accountID string, t time.Time) (decimal.Decimal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, hi := historyRange(time.Time{}, t)
	best, bal := "", decimal.Zero
	for _, l := range s.tenant(tenant).history[accountID] {
		if k := lineKey(l); k <= hi && k > best {
			best, bal = k, l.BalanceAfter
		}
	}
	return bal, nil
}

// GetTransaction reads one transaction.
func (s *Store) GetTransaction(_ context.Context, tenant, id string) (*ledger.Transaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenant).txns[id]
	if t == nil {
		return nil, ledger.NotFound("Transaction")
	}
	return cloneTxn(t), nil
}

// ListTransactions lists newest first: an account's (its history lines,
// and the holds of withdrawals that wait or were rejected), or the whole
// tenant's by the time each was posted (created, while it was not).
func (s *Store) ListTransactions(_ context.Context, tenant string, f app.TransactionFilter) (app.Page[*ledger.Transaction], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := scope("transactions", tenant, f.AccountID, f.Kind, f.Status, f.From, f.To)
	after, err := s.decodeCursor(sc, f.Cursor)
	if err != nil {
		return app.Page[*ledger.Transaction]{}, err
	}
	tn := s.tenant(tenant)
	keep := func(t *ledger.Transaction) bool {
		return t != nil && (f.Kind == "" || t.Kind == f.Kind) && (f.Status == "" || t.Status == f.Status)
	}
	var items []keyed[*ledger.Transaction]
	if f.AccountID != "" {
		lo, hi := historyRange(f.From, f.To)
		add := func(k, id string) {
			if t := tn.txns[id]; k >= lo && k <= hi && keep(t) {
				items = append(items, keyed[*ledger.Transaction]{key: k, item: cloneTxn(t)})
			}
		}
		for _, l := range tn.history[f.AccountID] {
			add(lineKey(l), l.TransactionID)
		}
		for _, h := range tn.holds[f.AccountID] {
			if h.outcome != ledger.StepApproved {
				add(h.key, h.txn)
			}
		}
	} else {
		lo, hi := "0", "~"
		if !f.From.IsZero() {
			lo = stamp(f.From)
		}
		if !f.To.IsZero() {
			hi = stamp(f.To) + "#~"
		}
		for _, t := range tn.txns {
			if k := txnIndexKey(t); k >= lo && k <= hi && keep(t) {
				items = append(items, keyed[*ledger.Transaction]{key: k, item: cloneTxn(t)})
			}
		}
	}
	sortKeyed(items)
	return pageOf(s, sc, items, true, after, f.Limit), nil
}

// ListPeriods lists the months that are closing or closed, oldest first.
func (s *Store) ListPeriods(_ context.Context, tenant string) ([]ledger.Period, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ledger.Period
	for _, p := range s.tenant(tenant).periods {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Month < out[j].Month })
	return out, nil
}

// ListAudit reads the trail newest first.
func (s *Store) ListAudit(_ context.Context, tenant string, f app.AuditFilter) (app.Page[*ledger.AuditRecord], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var none app.Page[*ledger.AuditRecord]
	sc := scope("audit", tenant, f.AccountID, f.Actor, f.Action, f.From, f.To)
	after, err := s.decodeCursor(sc, f.Cursor)
	if err != nil {
		return none, err
	}
	lo, hi := "0", "~"
	if !f.From.IsZero() {
		lo = stamp(f.From)
	}
	if !f.To.IsZero() {
		hi = stamp(f.To) + "#~"
	}
	var items []keyed[*ledger.AuditRecord]
	for _, r := range s.tenant(tenant).audit {
		switch {
		case r.key < lo || r.key > hi,
			f.Actor != "" && r.rec.Actor != f.Actor,
			f.Action != "" && r.rec.Action != f.Action,
			f.AccountID != "" && !contains(r.rec.AccountIDs, f.AccountID):
			continue
		}
		a, err := r.record()
		if err != nil {
			return none, err
		}
		items = append(items, keyed[*ledger.AuditRecord]{key: r.key, item: a})
	}
	sortKeyed(items)
	return pageOf(s, sc, items, true, after, f.Limit), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// SystemBalances is the balance of each named system account of the tenant
// ("external:RON"): for checks of the zero-sum invariant, as the DynamoDB
// store's method of the same name.
func (s *Store) SystemBalances(_ context.Context, tenant string, ids []string) (map[string]decimal.Decimal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]decimal.Decimal{}
	for _, id := range ids {
		out[id] = s.tenant(tenant).system[id]
	}
	return out, nil
}
