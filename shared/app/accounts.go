package app

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// CreateAccount creates an account and books its opening balance. A replay
// rebuilds the first answer from the account's creation record (the audit
// record written with it), not from the request: nothing is validated again,
// so a rule made stricter since cannot turn a replay into a refusal.
func (s *Service) CreateAccount(ctx context.Context, c ledger.Caller, in ledger.NewAccountInput, idem *Idempotency) (*ledger.Account, bool, error) {
	now := s.Now()
	acc, opening, err := newAccount(in, ledger.NewID(ledger.AccountPrefix, now), now, c.Sub)
	if err != nil {
		return nil, false, err
	}
	var booking *ledger.Booking
	if !opening.IsZero() {
		if booking, err = ledger.Opening(acc, opening, ledger.Actor{Sub: c.Sub, Now: now}); err != nil {
			return nil, false, err
		}
		acc = booking.Updates[0].Account
	}
	audit := ledger.NewAuditRecord(c, now, ledger.ActionAccountCreated, "account", acc.ID, []string{acc.ID}, acc.Settings())
	replay, err := s.Store.CreateAccount(ctx, c.Tenant, acc, booking, idem, c.Sub, audit)
	if err != nil {
		return nil, false, err
	}
	if replay == nil {
		return acc, false, nil
	}
	stored, err := s.Store.GetAccount(ctx, c.Tenant, replay.ResourceID)
	if err != nil {
		return nil, false, err
	}
	settings, err := s.Store.AccountCreation(ctx, c.Tenant, c.Sub, idem)
	if err != nil {
		return nil, false, err
	}
	first, err := ledger.AccountAsCreated(stored, settings)
	if err != nil {
		return nil, false, err
	}
	return first, true, nil
}

func newAccount(in ledger.NewAccountInput, id string, now time.Time, sub string) (*ledger.Account, decimal.Decimal, error) {
	return ledger.NewAccount(in, id, now.UTC().Truncate(time.Millisecond), sub)
}

// GetAccount returns an account the caller may see; any other is not found.
func (s *Service) GetAccount(ctx context.Context, c ledger.Caller, id string) (*ledger.Account, error) {
	if !ledger.ValidID(id, ledger.AccountPrefix) {
		return nil, ledger.NotFound("Account")
	}
	a, err := s.Store.GetAccount(ctx, c.Tenant, id)
	if err != nil {
		return nil, err
	}
	if !c.MayActOn(a) {
		return nil, ledger.NotFound("Account")
	}
	return a, nil
}

// ListAccounts lists the accounts the caller may see.
func (s *Service) ListAccounts(ctx context.Context, c ledger.Caller, f AccountFilter) (Page[*ledger.Account], error) {
	f.Member = ""
	if !c.SeesAllAccounts() {
		f.Member = c.Sub
	}
	return s.Store.ListAccounts(ctx, c.Tenant, f)
}

// UpdateAccount applies a merge patch to an account's settings.
func (s *Service) UpdateAccount(ctx context.Context, c ledger.Caller, id string, p ledger.AccountPatch) (*ledger.Account, error) {
	if !ledger.ValidID(id, ledger.AccountPrefix) {
		return nil, ledger.NotFound("Account")
	}
	return s.Store.UpdateAccount(ctx, c.Tenant, id, func(a *ledger.Account) (*ledger.AuditRecord, error) {
		if !c.MayActOn(a) {
			return nil, ledger.NotFound("Account")
		}
		now := s.Now()
		changes, err := a.Apply(p, now)
		if err != nil || len(changes) == 0 {
			return nil, err
		}
		return ledger.NewAuditRecord(c, now, ledger.ActionAccountUpdated, "account", a.ID, []string{a.ID}, changes), nil
	})
}

// Balance is an account's balance now, or at a past moment.
type Balance struct {
	Account *ledger.Account
	Balance decimal.Decimal
	AsOf    time.Time // zero: now, with pending and available
}

// GetBalance answers the balance now or as of a moment.
func (s *Service) GetBalance(ctx context.Context, c ledger.Caller, id string, asOf time.Time) (*Balance, error) {
	if asOf.IsZero() {
		a, err := s.GetAccount(ctx, c, id)
		if err != nil {
			return nil, err
		}
		return &Balance{Account: a, Balance: a.Balance}, nil
	}
	if !ledger.ValidID(id, ledger.AccountPrefix) {
		return nil, ledger.NotFound("Account")
	}
	// The past balance and the access check are read at the same time.
	var past decimal.Decimal
	var pastErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		past, pastErr = s.Store.BalanceAt(ctx, c.Tenant, id, asOf)
	}()
	a, err := s.GetAccount(ctx, c, id)
	<-done
	if err != nil {
		return nil, err
	}
	return &Balance{Account: a, Balance: past, AsOf: asOf}, pastErr
}

// History returns a page of an account's numbered history. The access check
// and the page are read at the same time: one round trip of latency; the
// page is dropped unless the caller may see the account.
func (s *Service) History(ctx context.Context, c ledger.Caller, id string, f HistoryFilter) (Page[ledger.HistoryLine], error) {
	var none Page[ledger.HistoryLine]
	if !ledger.ValidID(id, ledger.AccountPrefix) {
		return none, ledger.NotFound("Account")
	}
	var page Page[ledger.HistoryLine]
	var pageErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		page, pageErr = s.Store.History(ctx, c.Tenant, id, f)
	}()
	_, err := s.GetAccount(ctx, c, id)
	<-done
	if err != nil {
		return none, err
	}
	return page, pageErr
}
