package ledger

import (
	"time"
)

// Period statuses.
const (
	PeriodOpen    = "open"
	PeriodClosing = "closing"
	PeriodClosed  = "closed"
)

// Period is an accounting month. A month nobody closed has no record and is open.
type Period struct {
	Month     string // YYYY-MM
	ClosingAt time.Time
	ClosedBy  string
}

// PeriodOf returns the month of a YYYY-MM-DD date.
func PeriodOf(valueDate string) string {
	if len(valueDate) < 7 {
		return ""
	}
	return valueDate[:7]
}

// ValidMonth reports whether s is YYYY-MM.
func ValidMonth(s string) bool {
	t, err := time.Parse("2006-01", s)
	return err == nil && t.Format("2006-01") == s
}

// StatusAt is open, closing or closed at the moment now.
func (p *Period) StatusAt(now time.Time) string {
	switch {
	case p == nil || p.ClosingAt.IsZero():
		return PeriodOpen
	case now.Before(p.ClosingAt.Add(PostingDeadline)):
		return PeriodClosing
	default:
		return PeriodClosed
	}
}

// ClosedAt is when the period counts as closed, zero while open.
func (p *Period) ClosedAt() time.Time {
	if p == nil || p.ClosingAt.IsZero() {
		return time.Time{}
	}
	return p.ClosingAt.Add(PostingDeadline)
}

// AcceptsPostings refuses a value date in a closing or closed period.
func (p *Period) AcceptsPostings(now time.Time) error {
	if st := p.StatusAt(now); st != PeriodOpen {
		return Errorf(EPeriodClosed, "The period %s is %s; choose a value date in an open period.", p.Month, st)
	}
	return nil
}
