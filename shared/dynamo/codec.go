package dynamo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/money"
)

// Keys. Every partition key starts with the tenant, which comes from the
// verified token and never from the request, so no request can name a key
// of another tenant.
func accountPK(t, id string) string      { return "T#" + t + "#A#" + id }
func txnPK(t, id string) string          { return "T#" + t + "#X#" + id }
func txnIndexPK(t string) string         { return "T#" + t + "#X" }
func memberPK(t, sub string) string      { return "T#" + t + "#M#" + sub }
func tenantAccountsPK(t string) string   { return "T#" + t + "#ACCOUNTS" }
func namePK(t, name string) string       { return "T#" + t + "#NAME#" + ledger.NameKey(name) }
func codePK(t, code string) string       { return "T#" + t + "#CODE#" + ledger.NameKey(code) }
func systemPK(t, id string) string       { return "T#" + t + "#S#" + id }
func periodPK(t string) string           { return "T#" + t + "#P" }
func postGuardPK(t, token string) string { return "T#" + t + "#G#" + token }
func auditPK(t string) string            { return "T#" + t + "#AUDIT" }
func auditActorPK(t, sub string) string  { return "T#" + t + "#AUDIT#" + sub }
func indexSK(accountID string) string    { return "A#" + accountID }
func historySK(at time.Time, seq int64) string {
	return "H#" + stamp(at) + "#" + fmt.Sprintf("%012d", seq)
}

// A hold sorts among the history lines at its creation time, after any line
// of the same millisecond ('~' > digits), so one Query of an account's H#
// range finds every transaction that touched it, pending ones included.
func holdSK(at time.Time, txnID string) string { return "H#" + stamp(at) + "#~" + txnID }

// idemPK hashes the caller and key: keys are per tenant and caller, and any
// printable text may be a key.
func idemPK(t, sub, key string) string {
	h := sha256.Sum256([]byte(sub + "\x00" + key))
	return "T#" + t + "#I#" + hex.EncodeToString(h[:])
}

const (
	skAccount = "A"
	skTxn     = "X"
	skGuard   = "U"
	skIdem    = "I"
)

// Shards per system account: each posting adds to one picked at random, so
// a tenant's postings do not all contend on one item.
const systemShards = 16

func systemSK(shard int) string { return fmt.Sprintf("S#%02d", shard) }

// stamp is a fixed-width UTC time, so that key order is time order.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type item = map[string]types.AttributeValue

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// n stores money as a DynamoDB number: exact to 38 digits, and ADD works on it.
func n(d decimal.Decimal) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: d.String()}
}
func ni(i int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(i, 10)}
}
func b(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }
func key(pk, sk string) item        { return item{attrPK: s(pk), attrSK: s(sk)} }

// setS sets a string attribute, leaving empty strings out (the contract's null).
func setS(it item, name, v string) {
	if v != "" {
		it[name] = s(v)
	}
}

func setTime(it item, name string, t time.Time) {
	if !t.IsZero() {
		it[name] = s(stamp(t))
	}
}

// reader reads attributes and remembers the first malformed one, so that a
// decoder reads straight through and checks once.
type reader struct {
	it  item
	err error
}

func (r *reader) fail(name string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
}

func (r *reader) str(name string) string {
	if v, ok := r.it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// num reads a number that the item must have: a missing one is an error,
// never a silent zero.
func (r *reader) num(name string) decimal.Decimal {
	v, ok := r.it[name].(*types.AttributeValueMemberN)
	if !ok {
		r.fail(name, errMissing)
		return decimal.Zero
	}
	d, err := decimal.NewFromString(v.Value)
	if err != nil {
		r.fail(name, err)
	}
	return d
}

func (r *reader) optNum(name string) *decimal.Decimal {
	if _, ok := r.it[name]; !ok {
		return nil
	}
	d := r.num(name)
	return &d
}

// errMissing is a required attribute the item lacks.
var errMissing = errors.New("missing")

// int reads an integer that the item must have.
func (r *reader) int(name string) int64 {
	if _, ok := r.it[name].(*types.AttributeValueMemberN); !ok {
		r.fail(name, errMissing)
		return 0
	}
	return r.optInt(name)
}

// optInt reads an integer that items written before it existed lack (0).
func (r *reader) optInt(name string) int64 {
	v, ok := r.it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	i, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		r.fail(name, err)
	}
	return i
}

func (r *reader) bool(name string) bool {
	v, ok := r.it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

func (r *reader) time(name string) time.Time {
	v := r.str(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		r.fail(name, err)
	}
	return t.UTC()
}

func (r *reader) currency(name string) money.Currency {
	c, ok := money.LookupCurrency(r.str(name))
	if !ok {
		r.fail(name, fmt.Errorf("unknown currency %q", r.str(name)))
	}
	return c
}

func (r *reader) strings(name string) []string {
	l, ok := r.it[name].(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for _, v := range l.Value {
		if sv, ok := v.(*types.AttributeValueMemberS); ok {
			out = append(out, sv.Value)
		}
	}
	return out
}

func list(vs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = s(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// accountItem is the account with its revision: every write to an account
// is conditional on the revision it read, so no update is ever lost.
func accountItem(tenant string, a *ledger.Account, rev, epoch int64) item {
	it := key(accountPK(tenant, a.ID), skAccount)
	it["id"] = s(a.ID)
	it["name"] = s(a.Name)
	setS(it, "code", a.Code)
	it["kind"] = s(a.Kind)
	it["currency"] = s(a.Currency.Code)
	it["status"] = s(a.Status)
	it["balance"] = n(a.Balance)
	it["pending"] = n(a.Pending)
	it["overdraft_limit"] = n(a.OverdraftLimit)
	if a.ApprovalThreshold != nil {
		it["approval_threshold"] = n(*a.ApprovalThreshold)
	}
	setS(it, "iban", a.IBAN)
	it["members"] = list(a.Members)
	setS(it, "metadata", string(a.Metadata))
	it["funds_checked"] = b(a.FundsChecked)
	if a.Hot {
		it["hot"] = b(true)
	}
	setTime(it, "created_at", a.CreatedAt)
	it["created_by"] = s(a.CreatedBy)
	setTime(it, "updated_at", a.UpdatedAt)
	it["version"] = ni(a.Version)
	it["seq"] = ni(a.Seq)
	setTime(it, "last_posted_at", a.LastPostedAt)
	it["rev"] = ni(rev)
	if epoch > 0 {
		it[attrStatusEpoch] = ni(epoch)
	}
	return it
}

// attrStatusEpoch counts a hot account's changes of status; its parts carry
// the epoch of the status they were last set to (see setPartsStatus).
const attrStatusEpoch = "status_epoch"

func decodeAccount(it item) (*ledger.Account, int64, error) {
	r := reader{it: it}
	a := &ledger.Account{
		ID: r.str("id"), Name: r.str("name"), Code: r.str("code"), Kind: r.str("kind"),
		Currency: r.currency("currency"), Status: r.str("status"),
		Balance: r.num("balance"), Pending: r.num("pending"), OverdraftLimit: r.num("overdraft_limit"),
		ApprovalThreshold: r.optNum("approval_threshold"), IBAN: r.str("iban"),
		Members: r.strings("members"), Metadata: json.RawMessage(r.str("metadata")),
		FundsChecked: r.bool("funds_checked"), Hot: r.bool("hot"),
		CreatedAt: r.time("created_at"), CreatedBy: r.str("created_by"), UpdatedAt: r.time("updated_at"),
		Version: r.int("version"), Seq: r.int("seq"), LastPostedAt: r.time("last_posted_at"),
	}
	if len(a.Metadata) == 0 {
		a.Metadata = json.RawMessage("{}")
	}
	return a, r.int("rev"), r.err
}

func txnItem(tenant string, t *ledger.Transaction) item {
	it := key(txnPK(tenant, t.ID), skTxn)
	it[attrGSI1PK] = s(txnIndexPK(tenant))
	when := t.PostedAt
	if when.IsZero() {
		when = t.CreatedAt
	}
	it[attrGSI1SK] = s(stamp(when) + "#" + t.ID)
	it["id"] = s(t.ID)
	it["kind"] = s(t.Kind)
	it["status"] = s(t.Status)
	it["initial_status"] = s(t.InitialStatus)
	lines := make([]types.AttributeValue, len(t.Lines))
	for i, l := range t.Lines {
		lines[i] = &types.AttributeValueMemberM{Value: item{
			"a": s(l.AccountID), "t": s(l.Type), "m": n(l.Amount), "c": s(l.Currency.Code),
		}}
	}
	it["lines"] = &types.AttributeValueMemberL{Value: lines}
	it["account_ids"] = list(t.AccountIDs())
	for name, v := range map[string]string{
		"memo": t.Memo, "reference": t.Reference, "value_date": t.ValueDate, "source": t.Source,
		"created_by": t.CreatedBy, "posted_by": t.PostedBy, "approved_by": t.ApprovedBy,
		"rejected_by": t.RejectedBy, "reason": t.Reason, "payee": t.Payee, "method": t.Method,
		"category": t.Category, "reverses": t.Reverses, "reverses_kind": t.ReversesKind,
		"reversed_by": t.ReversedBy, "metadata": string(t.Metadata),
	} {
		setS(it, name, v)
	}
	setTime(it, "created_at", t.CreatedAt)
	setTime(it, "posted_at", t.PostedAt)
	setTime(it, "approved_at", t.ApprovedAt)
	setTime(it, "rejected_at", t.RejectedAt)
	if t.Rate != nil {
		it["rate"] = n(*t.Rate)
	}
	return it
}

func decodeTxn(it item) (*ledger.Transaction, error) {
	r := reader{it: it}
	t := &ledger.Transaction{
		ID: r.str("id"), Kind: r.str("kind"), Status: r.str("status"), InitialStatus: r.str("initial_status"),
		Memo: r.str("memo"), Reference: r.str("reference"), ValueDate: r.str("value_date"), Source: r.str("source"),
		CreatedAt: r.time("created_at"), CreatedBy: r.str("created_by"),
		PostedAt: r.time("posted_at"), PostedBy: r.str("posted_by"),
		ApprovedAt: r.time("approved_at"), ApprovedBy: r.str("approved_by"),
		RejectedAt: r.time("rejected_at"), RejectedBy: r.str("rejected_by"), Reason: r.str("reason"),
		Payee: r.str("payee"), Method: r.str("method"), Category: r.str("category"),
		Reverses: r.str("reverses"), ReversesKind: r.str("reverses_kind"), ReversedBy: r.str("reversed_by"),
		Rate: r.optNum("rate"), Metadata: json.RawMessage(r.str("metadata")),
	}
	if len(t.Metadata) == 0 {
		t.Metadata = json.RawMessage("{}")
	}
	if l, ok := it["lines"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			m, ok := v.(*types.AttributeValueMemberM)
			if !ok {
				continue
			}
			lr := reader{it: m.Value}
			t.Lines = append(t.Lines, ledger.Line{
				AccountID: lr.str("a"), Type: lr.str("t"), Amount: lr.num("m"), Currency: lr.currency("c"),
			})
			if lr.err != nil && r.err == nil {
				r.err = lr.err
			}
		}
	}
	return t, r.err
}

func historyItem(tenant string, h *ledger.HistoryLine) item {
	it := key(accountPK(tenant, h.AccountID), historySK(h.PostedAt, h.Seq))
	it["seq"] = ni(h.Seq)
	it["txn"] = s(h.TransactionID)
	it["kind"] = s(h.Kind)
	it["type"] = s(h.Type)
	it["amount"] = n(h.Amount)
	it["balance_after"] = n(h.BalanceAfter)
	it["currency"] = s(h.Currency.Code)
	setS(it, "counterparty", h.CounterpartyAccountID)
	setS(it, "memo", h.Memo)
	setS(it, "reference", h.Reference)
	setS(it, "value_date", h.ValueDate)
	setTime(it, "posted_at", h.PostedAt)
	it["posted_by"] = s(h.PostedBy)
	return it
}

// decodeHistory reads a history line; a hot account's line still waiting
// for its number (sk P#…) has neither seq nor balance_after yet.
func decodeHistory(accountID string, it item) (ledger.HistoryLine, error) {
	r := reader{it: it}
	h := ledger.HistoryLine{
		AccountID: accountID, TransactionID: r.str("txn"), Kind: r.str("kind"),
		Type: r.str("type"), Amount: r.num("amount"),
		Currency: r.currency("currency"), CounterpartyAccountID: r.str("counterparty"),
		Memo: r.str("memo"), Reference: r.str("reference"), ValueDate: r.str("value_date"),
		PostedAt: r.time("posted_at"), PostedBy: r.str("posted_by"),
	}
	if !strings.HasPrefix(r.str(attrSK), skUnnumbered) {
		h.Seq, h.BalanceAfter = r.int("seq"), r.num("balance_after")
	}
	return h, r.err
}

func periodItem(tenant string, p ledger.Period) item {
	it := key(periodPK(tenant), p.Month)
	it["month"] = s(p.Month)
	setTime(it, "closing_at", p.ClosingAt)
	it["closed_by"] = s(p.ClosedBy)
	return it
}

func decodePeriod(it item) (ledger.Period, error) {
	r := reader{it: it}
	p := ledger.Period{Month: r.str("month"), ClosingAt: r.time("closing_at"), ClosedBy: r.str("closed_by")}
	return p, r.err
}

// auditItem is one record of the trail: newest-first under the tenant's
// audit partition, and under the actor's in gsi1 for the actor filter.
func auditItem(tenant string, a *ledger.AuditRecord) item {
	sk := stamp(a.At) + "#" + a.ID
	it := key(auditPK(tenant), sk)
	it[attrGSI1PK] = s(auditActorPK(tenant, a.Actor))
	it[attrGSI1SK] = s(sk)
	it["id"] = s(a.ID)
	setTime(it, "at", a.At)
	it["actor"] = s(a.Actor)
	it["action"] = s(a.Action)
	it["target_type"] = s(a.TargetType)
	it["target_id"] = s(a.TargetID)
	it["account_ids"] = list(a.AccountIDs)
	setS(it, "request_id", a.Origin.RequestID)
	setS(it, "source_ip", a.Origin.SourceIP)
	setS(it, "user_agent", a.Origin.UserAgent)
	if len(a.Changes) > 0 {
		raw, err := json.Marshal(changesJSON(a.Changes))
		if err == nil {
			it["changes"] = s(string(raw))
		}
	}
	return it
}

type changeJSON struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

func changesJSON(cs []ledger.Change) []changeJSON {
	out := make([]changeJSON, len(cs))
	for i, c := range cs {
		out[i] = changeJSON{Field: c.Field, Old: c.Old, New: c.New}
	}
	return out
}

func decodeAudit(it item) (*ledger.AuditRecord, error) {
	r := reader{it: it}
	a := &ledger.AuditRecord{
		ID: r.str("id"), At: r.time("at"), Actor: r.str("actor"), Action: r.str("action"),
		TargetType: r.str("target_type"), TargetID: r.str("target_id"), AccountIDs: r.strings("account_ids"),
		Origin: ledger.Origin{RequestID: r.str("request_id"), SourceIP: r.str("source_ip"), UserAgent: r.str("user_agent")},
	}
	if raw := r.str("changes"); raw != "" {
		var cs []changeJSON
		if err := json.Unmarshal([]byte(raw), &cs); err != nil {
			return nil, fmt.Errorf("attribute changes: %w", err)
		}
		for _, c := range cs {
			a.Changes = append(a.Changes, ledger.Change{Field: c.Field, Old: c.Old, New: c.New})
		}
	}
	return a, r.err
}
