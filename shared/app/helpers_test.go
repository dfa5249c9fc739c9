package app_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/memory"
)

// fixture is a service on an in-memory store, both on clocks the test sets.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	store  *memory.Store
	svc    *app.Service
	tenant string

	mu       sync.Mutex
	now      time.Time // the service's clock
	storeLag time.Duration
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), tenant: "t_app", now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	f.store = memory.New(memory.WithClock(f.storeClock))
	f.svc = &app.Service{Store: f.store, Now: f.clock}
	return f
}

// clock is the service's time; each reading moves it on a second, so that
// every record has a time of its own.
func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.now
	f.now = f.now.Add(time.Second)
	return t
}

// storeClock is the store's time (State.Now): the service's plus a lag.
func (f *fixture) storeClock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now.Add(f.storeLag)
}

func (f *fixture) setClock(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

func (f *fixture) caller(sub, scopes string) ledger.Caller {
	return ledger.NewCaller(sub, f.tenant, scopes)
}

// Callers used throughout.
const (
	allScopes = "admin"
	manager   = "accounts:view accounts:manage"
)

func (f *fixture) admin() ledger.Caller { return f.caller("u_admin", allScopes) }

// account creates an account as the admin, with the given members.
func (f *fixture) account(name, ccy, opening string, members ...string) *ledger.Account {
	f.t.Helper()
	in := ledger.NewAccountInput{Name: name, Kind: ledger.KindCash, Currency: ccy, Members: members}
	if opening != "" {
		in.OpeningBalance = &opening
	}
	return f.create(in)
}

func (f *fixture) create(in ledger.NewAccountInput) *ledger.Account {
	f.t.Helper()
	a, replayed, err := f.svc.CreateAccount(f.ctx, f.admin(), in, nil)
	if err != nil || replayed {
		f.t.Fatalf("CreateAccount %q: %v (replayed %v)", in.Name, err, replayed)
	}
	return a
}

func (f *fixture) entry(c ledger.Caller, id, typ, amount string) *ledger.Transaction {
	f.t.Helper()
	p, err := f.svc.PostEntry(f.ctx, c, id, ledger.EntryInput{Type: typ, Amount: amount}, nil)
	if err != nil {
		f.t.Fatalf("PostEntry %s %s on %s: %v", typ, amount, id, err)
	}
	return p.Transaction
}

func (f *fixture) transfer(c ledger.Caller, from, to, amount string) *ledger.Transaction {
	f.t.Helper()
	p, err := f.svc.PostTransfer(f.ctx, c, ledger.TransferInput{FromAccountID: from, ToAccountID: to, Amount: amount}, nil)
	if err != nil {
		f.t.Fatalf("PostTransfer %s from %s to %s: %v", amount, from, to, err)
	}
	return p.Transaction
}

func (f *fixture) withdrawal(c ledger.Caller, id, amount string) *ledger.Transaction {
	f.t.Helper()
	p, err := f.svc.PostWithdrawal(f.ctx, c, id, ledger.WithdrawalInput{Amount: amount, Payee: "Supplier"}, nil)
	if err != nil {
		f.t.Fatalf("PostWithdrawal %s on %s: %v", amount, id, err)
	}
	return p.Transaction
}

func (f *fixture) balance(id string) (decimal.Decimal, decimal.Decimal) {
	f.t.Helper()
	a, err := f.store.GetAccount(f.ctx, f.tenant, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return a.Balance, a.Pending
}

func (f *fixture) wantBalance(id, balance, pending string) {
	f.t.Helper()
	b, p := f.balance(id)
	if !b.Equal(dec(f.t, balance)) || !p.Equal(dec(f.t, pending)) {
		f.t.Errorf("account %s: balance %s pending %s; want %s and %s", id, b, p, balance, pending)
	}
}

func (f *fixture) txn(id string) *ledger.Transaction {
	f.t.Helper()
	t, err := f.store.GetTransaction(f.ctx, f.tenant, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

func (f *fixture) historyLen(id string) int {
	f.t.Helper()
	p, err := f.store.History(f.ctx, f.tenant, id, app.HistoryFilter{Limit: 200})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(p.Items)
}

func (f *fixture) auditLen() int {
	f.t.Helper()
	p, err := f.store.ListAudit(f.ctx, f.tenant, app.AuditFilter{Limit: 200})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(p.Items)
}

func dec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return ledger.ErrorCode(err)
}

func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Errorf("%s: %v (code %q); want code %q", what, err, got, want)
	}
}

// message is the text a user sees for err.
func message(err error) string {
	var le *ledger.Error
	if errors.As(err, &le) {
		return le.Message
	}
	return ""
}

// wantUnknown checks that err is the not-found answer, word for word the
// one an unknown id gets (unknown).
func wantUnknown(t *testing.T, what string, err, unknown error) {
	t.Helper()
	if code(err) != ledger.ENotFound || message(err) != message(unknown) {
		t.Errorf("%s: %v; want the unknown id's answer %v", what, err, unknown)
	}
}

func strp(s string) *string { return &s }
