package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/money"
)

// Account kinds: the money pools of the contract. All of them hold money, so
// all of them are funds-checked; a later ledger-account kind (income,
// expense, ...) may not be, which is why the check is a property of the
// account (FundsChecked) and not of the code path.
const (
	KindCash   = "cash"
	KindBank   = "bank"
	KindBudget = "budget"
	KindWallet = "wallet"
)

// Account statuses.
const (
	StatusActive = "active"
	StatusFrozen = "frozen"
	StatusClosed = "closed"
)

// Limits of the contract.
const (
	MaxNameLen      = 100
	MaxMemoLen      = 500
	MaxShortTextLen = 140 // reference, payee, reason
	MaxCategoryLen  = 64
	MaxMetadataKeys = 20
	MaxMetadataSize = 2048
	MaxMembers      = 50
	MaxCodeLen      = 64
	MaxIBANLen      = 34
)

// Account is a money pool and, for later, a ledger account.
type Account struct {
	ID                string
	Name              string
	Code              string
	Kind              string
	Currency          money.Currency
	Status            string
	Balance           decimal.Decimal
	Pending           decimal.Decimal
	OverdraftLimit    decimal.Decimal
	ApprovalThreshold *decimal.Decimal // nil: no withdrawal waits for approval
	IBAN              string
	Members           []string
	Metadata          json.RawMessage // a JSON object, compact
	FundsChecked      bool
	CreatedAt         time.Time
	CreatedBy         string
	UpdatedAt         time.Time
	Version           int64 // changes of settings, not postings

	// Hot marks an account that takes so many postings at once that one
	// item could not keep up (a treasury pool funding every department).
	// Its balance is kept in parts and its history lines are numbered
	// shortly after they are posted, by the history sequencer; its balance
	// and funds check never lag. Once hot, an account stays hot.
	Hot bool

	// Seq is the number of the last history line; LastPostedAt its time.
	// A hot account's are kept by the history sequencer instead.
	// Postings stamp max(now, LastPostedAt) so that an account's history in
	// time order is also its history in seq order.
	Seq          int64
	LastPostedAt time.Time
}

// Available is what postings may still take: balance − pending + overdraft.
func (a *Account) Available() decimal.Decimal {
	return a.Balance.Sub(a.Pending).Add(a.OverdraftLimit)
}

// HasMember reports whether sub is listed in members.
func (a *Account) HasMember(sub string) bool {
	for _, m := range a.Members {
		if m == sub {
			return true
		}
	}
	return false
}

// CanPost refuses postings to frozen and closed accounts.
func (a *Account) CanPost() error {
	if a.Status != StatusActive {
		return &Error{Code: EAccountClosed, Message: "Account " + a.ID + " is " + a.Status + " and takes no postings."}
	}
	return nil
}

// NewAccountInput is what a caller may set when creating an account; strings
// are as sent, amounts still text so that their rules depend on the currency.
type NewAccountInput struct {
	Name              string
	Code              string
	Kind              string
	Currency          string
	OpeningBalance    *string
	OverdraftLimit    *string
	ApprovalThreshold *string
	IBAN              string
	Members           []string
	Metadata          json.RawMessage
	Hot               bool
}

// NewAccount validates the input and returns the account as created, and its
// opening balance (zero when none). It is a pure function of its arguments,
// so an idempotent replay can rebuild the first answer from the stored input.
func NewAccount(in NewAccountInput, id string, now time.Time, creator string) (*Account, decimal.Decimal, error) {
	var v Invalid
	a := &Account{
		ID: id, Kind: in.Kind, Status: StatusActive, FundsChecked: true, Hot: in.Hot,
		CreatedAt: now, CreatedBy: creator, UpdatedAt: now, Version: 1,
	}
	a.Name = checkName(&v, "name", in.Name, true)
	a.Code = checkText(&v, "code", in.Code, MaxCodeLen)
	switch in.Kind {
	case KindCash, KindBank, KindBudget, KindWallet:
	case "":
		v.Add("kind", "is required")
	default:
		v.Add("kind", "must be one of cash, bank, budget, wallet")
	}
	cur, ok := checkCurrency(&v, "currency", in.Currency)
	a.Currency = cur
	opening := decimal.Zero
	if ok {
		if in.OpeningBalance != nil {
			opening, _ = checkAmount(&v, "opening_balance", *in.OpeningBalance, cur, amountAny)
		}
		if in.OverdraftLimit != nil {
			a.OverdraftLimit, _ = checkAmount(&v, "overdraft_limit", *in.OverdraftLimit, cur, amountNonNegative)
		}
		if in.ApprovalThreshold != nil {
			if t, ok := checkAmount(&v, "approval_threshold", *in.ApprovalThreshold, cur, amountPositive); ok {
				a.ApprovalThreshold = &t
			}
		}
		if opening.Add(a.OverdraftLimit).IsNegative() {
			v.Add("opening_balance", "is below the overdraft limit")
		}
	}
	a.Balance = decimal.Zero
	a.Pending = decimal.Zero
	a.IBAN = checkIBAN(&v, in.IBAN)
	if in.Members == nil {
		a.Members = []string{creator}
	} else {
		a.Members = checkMembers(&v, in.Members)
	}
	a.Metadata = checkMetadata(&v, "metadata", in.Metadata)
	if err := v.Err(); err != nil {
		return nil, decimal.Zero, err
	}
	return a, opening, nil
}

// AccountPatch is a JSON Merge Patch of an account's settings: a nil field is
// left alone; Set* flags distinguish "set to null" for nullable fields.
type AccountPatch struct {
	Name                *string
	Code                *string
	OverdraftLimit      *string
	ApprovalThreshold   *string
	ClearApprovalThresh bool
	IBAN                *string
	Members             []string
	MembersSet          bool
	Metadata            json.RawMessage
	MetadataSet         bool
	Status              *string
	Hot                 *bool
	ExpectedVersion     *int64 // from If-Match
}

// Change is one field that a patch changed, for the audit trail.
type Change struct {
	Field string
	Old   any
	New   any
}

// Apply checks the patch against the account's rules and applies it; it
// returns what changed. No change at all leaves the version alone.
func (a *Account) Apply(p AccountPatch, now time.Time) ([]Change, error) {
	// Work on a copy: a refused patch leaves the account as it was.
	orig, cp := a, *a
	a = &cp
	if p.ExpectedVersion != nil && *p.ExpectedVersion != a.Version {
		return nil, Errorf(EPrecondition, "The account is at version %d, not %d.", a.Version, *p.ExpectedVersion)
	}
	if a.Status == StatusClosed {
		return nil, Errorf(EConflict, "The account is closed; closed is final.")
	}
	var v Invalid
	var changes []Change
	change := func(field string, old, new any) { changes = append(changes, Change{field, old, new}) }
	if p.Name != nil {
		if n := checkName(&v, "name", *p.Name, true); n != a.Name && n != "" {
			change("name", a.Name, n)
			a.Name = n
		}
	}
	if p.Code != nil {
		if c := checkText(&v, "code", *p.Code, MaxCodeLen); c != a.Code {
			change("code", a.Code, c)
			a.Code = c
		}
	}
	if p.OverdraftLimit != nil {
		if o, ok := checkAmount(&v, "overdraft_limit", *p.OverdraftLimit, a.Currency, amountNonNegative); ok && !o.Equal(a.OverdraftLimit) {
			change("overdraft_limit", money.Format(a.OverdraftLimit, a.Currency), money.Format(o, a.Currency))
			a.OverdraftLimit = o
		}
	}
	if p.ClearApprovalThresh && a.ApprovalThreshold != nil {
		change("approval_threshold", money.Format(*a.ApprovalThreshold, a.Currency), nil)
		a.ApprovalThreshold = nil
	} else if p.ApprovalThreshold != nil {
		if t, ok := checkAmount(&v, "approval_threshold", *p.ApprovalThreshold, a.Currency, amountPositive); ok &&
			(a.ApprovalThreshold == nil || !t.Equal(*a.ApprovalThreshold)) {
			var old any
			if a.ApprovalThreshold != nil {
				old = money.Format(*a.ApprovalThreshold, a.Currency)
			}
			change("approval_threshold", old, money.Format(t, a.Currency))
			a.ApprovalThreshold = &t
		}
	}
	if p.IBAN != nil {
		if i := checkIBAN(&v, *p.IBAN); i != a.IBAN {
			change("iban", a.IBAN, i)
			a.IBAN = i
		}
	}
	if p.MembersSet {
		m := checkMembers(&v, p.Members)
		if !equalStrings(m, a.Members) {
			change("members", a.Members, m)
			a.Members = m
		}
	}
	if p.MetadataSet {
		m := checkMetadata(&v, "metadata", p.Metadata)
		if string(m) != string(a.Metadata) {
			change("metadata", json.RawMessage(a.Metadata), json.RawMessage(m))
			a.Metadata = m
		}
	}
	if p.Status != nil && *p.Status != a.Status {
		switch *p.Status {
		case StatusActive, StatusFrozen:
		case StatusClosed:
			if !a.Balance.IsZero() || !a.Pending.IsZero() {
				return nil, Errorf(EConflict, "Only an account with zero balance and nothing pending can be closed.")
			}
		default:
			v.Add("status", "must be one of active, frozen, closed")
		}
		change("status", a.Status, *p.Status)
		a.Status = *p.Status
	}
	if p.Hot != nil && *p.Hot != a.Hot {
		if !*p.Hot {
			// Going back would need the history caught up and the parts
			// folded in one write; nobody has asked for it yet.
			return nil, Errorf(EConflict, "A hot account stays hot.")
		}
		change("hot", false, true)
		a.Hot = true
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if a.FundsChecked && a.Available().IsNegative() {
		return nil, Errorf(EConflict, "The change would leave available funds below zero.")
	}
	if len(changes) > 0 {
		a.Version++
		a.UpdatedAt = now
	}
	*orig = cp
	return changes, nil
}

// Settings lists the account's settings as changes from nothing, for the
// audit record of its creation.
func (a *Account) Settings() []Change {
	var threshold any
	if a.ApprovalThreshold != nil {
		threshold = money.Format(*a.ApprovalThreshold, a.Currency)
	}
	var code, iban any
	if a.Code != "" {
		code = a.Code
	}
	if a.IBAN != "" {
		iban = a.IBAN
	}
	out := []Change{
		{"name", nil, a.Name}, {"code", nil, code}, {"kind", nil, a.Kind}, {"currency", nil, a.Currency.Code},
		{"balance", nil, money.Format(a.Balance, a.Currency)},
		{"overdraft_limit", nil, money.Format(a.OverdraftLimit, a.Currency)},
		{"approval_threshold", nil, threshold}, {"iban", nil, iban}, {"members", nil, a.Members},
		{"metadata", nil, a.Metadata}, {"status", nil, a.Status},
	}
	if a.Hot {
		out = append(out, Change{"hot", nil, true})
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// NameKey is the form under which names and codes are unique per tenant.
func NameKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkName(v *Invalid, field, s string, required bool) string {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			v.Add(field, "is required")
		}
		return ""
	}
	return checkText(v, field, s, MaxNameLen)
}

// checkText enforces a length in characters and refuses control characters,
// which have no place in a ledger's labels and break exports.
func checkText(v *Invalid, field, s string, max int) string {
	if !utf8.ValidString(s) {
		v.Add(field, "is not valid UTF-8")
		return ""
	}
	if n := utf8.RuneCountInString(s); n > max {
		v.Add(field, "is longer than %d characters", max)
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			v.Add(field, "contains control characters or line breaks")
			return ""
		}
	}
	return s
}

func checkCurrency(v *Invalid, field, code string) (money.Currency, bool) {
	if code == "" {
		v.Add(field, "is required")
		return money.Currency{}, false
	}
	c, ok := money.LookupCurrency(code)
	if !ok {
		v.Add(field, "is not an ISO 4217 currency code")
	}
	return c, ok
}

type amountRule int

const (
	amountAny amountRule = iota
	amountNonNegative
	amountPositive
)

func checkAmount(v *Invalid, field, s string, c money.Currency, rule amountRule) (decimal.Decimal, bool) {
	d, err := money.ParseAmount(s, c)
	if err != nil {
		// The money package words its reasons for an "amount"; here the
		// field name already says which one.
		v.Add(field, "%s", strings.TrimPrefix(err.Error(), "amount "))
		return decimal.Zero, false
	}
	switch {
	case rule == amountPositive && !d.IsPositive():
		v.Add(field, "must be greater than zero")
		return decimal.Zero, false
	case rule == amountNonNegative && d.IsNegative():
		v.Add(field, "must not be negative")
		return decimal.Zero, false
	}
	return d, true
}

func checkIBAN(v *Invalid, s string) string {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if s == "" {
		return ""
	}
	if len(s) < 15 || len(s) > MaxIBANLen || !ibanShapeOK(s) || !ibanChecksumOK(s) {
		v.Add("iban", "is not a valid IBAN")
		return ""
	}
	return s
}

// ibanShapeOK: a country code of two letters, then two check digits.
func ibanShapeOK(s string) bool {
	return s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
		s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9'
}

// ibanChecksumOK is the ISO 13616 mod-97 check.
func ibanChecksumOK(s string) bool {
	r := s[4:] + s[:4]
	rem := 0
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

func checkMembers(v *Invalid, members []string) []string {
	seen := make(map[string]bool, len(members))
	out := make([]string, 0, len(members))
	for _, m := range members {
		m = strings.TrimSpace(m)
		if !ValidUserID(m) {
			v.Add("members", "holds a user id that is empty, longer than 128 characters or has control characters")
			return nil
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	if len(out) > MaxMembers {
		v.Add("members", "has more than %d members", MaxMembers)
		return nil
	}
	return out
}

// checkMetadata accepts a JSON object of at most 20 keys and 2 KB, and keeps
// it compact so that equal objects compare equal.
func checkMetadata(v *Invalid, field string, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		v.Add(field, "must be a JSON object")
		return nil
	}
	if len(obj) > MaxMetadataKeys {
		v.Add(field, "has more than %d keys", MaxMetadataKeys)
		return nil
	}
	// Sorted keys and no HTML escaping: a canonical form whose size is the
	// size of the JSON the client sent, less its white space.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		v.Add(field, "must be a JSON object")
		return nil
	}
	compact := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(compact) > MaxMetadataSize {
		v.Add(field, "is larger than 2 KB as JSON")
		return nil
	}
	return compact
}

// AccountAsCreated rebuilds an account as its creation answered it: the
// stored account's fixed fields (id, kind, currency, creation stamp) and
// the settings of its account.created record (Settings, as JSON values),
// with version 1 and nothing pending. Nothing is validated again.
func AccountAsCreated(stored *Account, settings map[string]json.RawMessage) (*Account, error) {
	a := &Account{
		ID: stored.ID, Kind: stored.Kind, Currency: stored.Currency, FundsChecked: stored.FundsChecked,
		CreatedAt: stored.CreatedAt, CreatedBy: stored.CreatedBy, UpdatedAt: stored.CreatedAt, Version: 1,
		Metadata: json.RawMessage("{}"),
	}
	str := func(name string) (string, error) {
		raw, ok := settings[name]
		if !ok || string(raw) == "null" {
			return "", nil
		}
		var v string
		err := json.Unmarshal(raw, &v)
		return v, err
	}
	amount := func(name string) (*decimal.Decimal, error) {
		v, err := str(name)
		if err != nil || v == "" {
			return nil, err
		}
		d, err := decimal.NewFromString(v)
		return &d, err
	}
	var err error
	var errs []error
	keep := func(e error) {
		if e != nil {
			errs = append(errs, e)
		}
	}
	a.Name, err = str("name")
	keep(err)
	a.Code, err = str("code")
	keep(err)
	a.IBAN, err = str("iban")
	keep(err)
	a.Status, err = str("status")
	keep(err)
	bal, err := amount("balance")
	keep(err)
	if bal != nil {
		a.Balance = *bal
	}
	od, err := amount("overdraft_limit")
	keep(err)
	if od != nil {
		a.OverdraftLimit = *od
	}
	a.ApprovalThreshold, err = amount("approval_threshold")
	keep(err)
	if raw, ok := settings["members"]; ok {
		keep(json.Unmarshal(raw, &a.Members))
	}
	if raw, ok := settings["metadata"]; ok && string(raw) != "null" {
		a.Metadata = append(json.RawMessage(nil), raw...)
	}
	if raw, ok := settings["hot"]; ok {
		keep(json.Unmarshal(raw, &a.Hot))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("account %s: its creation record does not read: %w", stored.ID, err)
	}
	return a, nil
}
