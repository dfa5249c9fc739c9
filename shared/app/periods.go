package app

import (
	"context"
	"time"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// ClosePeriod starts closing a month: postings into it are refused at once,
// and it is closed once every posting that started before has finished.
func (s *Service) ClosePeriod(ctx context.Context, c ledger.Caller, month string) (*ledger.Period, error) {
	if !ledger.ValidMonth(month) {
		return nil, ledger.NotFound("Period")
	}
	return s.Store.ClosePeriod(ctx, c.Tenant, ledger.Period{
		Month: month, ClosingAt: s.Now().UTC().Truncate(time.Millisecond), ClosedBy: c.Sub,
	})
}

// ListPeriods lists the months that were closed or are closing.
func (s *Service) ListPeriods(ctx context.Context, c ledger.Caller) ([]ledger.Period, error) {
	return s.Store.ListPeriods(ctx, c.Tenant)
}
