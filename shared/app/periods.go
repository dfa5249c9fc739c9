package app

import (
	"context"
	"time"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// ClosePeriod starts closing a month: postings into it are refused at once,
// and it is closed once every posting that started before has finished.
func (s *Service) ClosePeriod(ctx context.Context, c ledger.Caller, month string, idem *Idempotency) (*ledger.Period, bool, error) {
	if !ledger.ValidMonth(month) {
		return nil, false, ledger.NotFound("Period")
	}
	now := s.Now()
	audit := ledger.NewAuditRecord(c, now, ledger.ActionPeriodClosed, "period", month, nil,
		[]ledger.Change{{Field: "status", Old: ledger.PeriodOpen, New: ledger.PeriodClosing}})
	p, replay, err := s.Store.ClosePeriod(ctx, c.Tenant, ledger.Period{
		Month: month, ClosingAt: now.UTC().Truncate(time.Millisecond), ClosedBy: c.Sub,
	}, idem, c.Sub, audit)
	return p, replay != nil, err
}

// ListPeriods lists the months that were closed or are closing.
func (s *Service) ListPeriods(ctx context.Context, c ledger.Caller) ([]ledger.Period, error) {
	return s.Store.ListPeriods(ctx, c.Tenant)
}
