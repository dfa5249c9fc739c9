package ledger

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/money"
)

// Shared fixtures of the domain tests. Names carry a "dt" prefix so that they
// do not clash with helpers other test files of the package may declare.

// dtNow is the clock of the domain tests: a Friday morning in November.
var dtNow = time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)

func dtCur(t testing.TB, code string) money.Currency {
	t.Helper()
	c, ok := money.LookupCurrency(code)
	if !ok {
		t.Fatalf("currency %s not in the ISO table", code)
	}
	return c
}

func dtDec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func dtPtr[T any](v T) *T { return &v }

// dtAcc builds an active, funds-checked account with a balance; opts tweak it.
func dtAcc(t testing.TB, id, ccy, balance string, opts ...func(*Account)) *Account {
	t.Helper()
	a := &Account{
		ID: id, Name: "Account " + id, Kind: KindCash, Currency: dtCur(t, ccy), Status: StatusActive,
		Balance: dtDec(balance), Pending: decimal.Zero, OverdraftLimit: decimal.Zero,
		Members: []string{"u_alice", "u_bob"}, Metadata: json.RawMessage("{}"), FundsChecked: true,
		CreatedAt: dtNow.Add(-24 * time.Hour), CreatedBy: "u_alice", UpdatedAt: dtNow.Add(-24 * time.Hour),
		Version: 1, Seq: 3, LastPostedAt: dtNow.Add(-time.Hour),
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

func withOverdraft(s string) func(*Account) { return func(a *Account) { a.OverdraftLimit = dtDec(s) } }
func withPending(s string) func(*Account)   { return func(a *Account) { a.Pending = dtDec(s) } }
func withThreshold(s string) func(*Account) {
	return func(a *Account) { d := dtDec(s); a.ApprovalThreshold = &d }
}
func withStatus(s string) func(*Account) { return func(a *Account) { a.Status = s } }
func withSeq(n int64) func(*Account)     { return func(a *Account) { a.Seq = n } }
func withLastPosted(at time.Time) func(*Account) {
	return func(a *Account) { a.LastPostedAt = at }
}
func notFundsChecked(a *Account) { a.FundsChecked = false }

func dtAccounts(accs ...*Account) map[string]*Account {
	m := make(map[string]*Account, len(accs))
	for _, a := range accs {
		m[a.ID] = a
	}
	return m
}

// dtActor is u_alice acting at dtNow unless told otherwise.
func dtActor(sub string) Actor { return Actor{Sub: sub, Now: dtNow} }

// dtLedgerErr asserts that err is a *Error with the code and returns it.
func dtLedgerErr(t testing.TB, err error, code string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *ledger.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("got code %q (%v), want %q", e.Code, err, code)
	}
	if ErrorCode(err) != code {
		t.Fatalf("ErrorCode = %q, want %q", ErrorCode(err), code)
	}
	return e
}

// dtFields returns the sorted distinct field names of a validation error.
func dtFields(t testing.TB, err error) []string {
	t.Helper()
	e := dtLedgerErr(t, err, EValidation)
	seen := map[string]bool{}
	var out []string
	for _, f := range e.Fields {
		if f.Message == "" {
			t.Errorf("field %s has an empty message", f.Field)
		}
		if !seen[f.Field] {
			seen[f.Field] = true
			out = append(out, f.Field)
		}
	}
	sort.Strings(out)
	return out
}

func dtWantFields(t testing.TB, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	got := dtFields(t, err)
	w := append([]string(nil), want...)
	sort.Strings(w)
	if strings.Join(got, ",") != strings.Join(w, ",") {
		t.Fatalf("invalid fields = %v, want %v (error %v)", got, w, err)
	}
}

func dtEqDec(t testing.TB, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(dtDec(want)) {
		t.Errorf("%s = %s, want %s", what, got.String(), want)
	}
}

// dtUpdate returns the booking's update of an account, failing if absent.
func dtUpdate(t testing.TB, b *Booking, id string) *AccountUpdate {
	t.Helper()
	for _, u := range b.Updates {
		if u.Account.ID == id {
			return u
		}
	}
	t.Fatalf("booking has no update of %s", id)
	return nil
}

// dtSnapshot keeps the values of accounts so that a test can tell whether a
// booking changed what it was given.
type dtSnapshot map[string]Account

func dtSnap(accs map[string]*Account) dtSnapshot {
	s := dtSnapshot{}
	for id, a := range accs {
		s[id] = *a
	}
	return s
}

func (s dtSnapshot) assertUnchanged(t testing.TB, accs map[string]*Account) {
	t.Helper()
	if len(accs) != len(s) {
		t.Fatalf("accounts map has %d entries, had %d", len(accs), len(s))
	}
	for id, was := range s {
		a := accs[id]
		if a == nil {
			t.Fatalf("account %s vanished from the map", id)
		}
		if !a.Balance.Equal(was.Balance) || !a.Pending.Equal(was.Pending) || a.Seq != was.Seq ||
			!a.LastPostedAt.Equal(was.LastPostedAt) || a.Status != was.Status || a.Version != was.Version ||
			!a.OverdraftLimit.Equal(was.OverdraftLimit) {
			t.Errorf("input account %s was changed: balance %s→%s pending %s→%s seq %d→%d last %v→%v",
				id, was.Balance, a.Balance, was.Pending, a.Pending, was.Seq, a.Seq, was.LastPostedAt, a.LastPostedAt)
		}
	}
}
