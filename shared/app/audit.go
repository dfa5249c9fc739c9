package app

import (
	"context"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// ListAudit pages through the tenant's audit trail, newest first. audit:view
// covers the whole tenant (the route checks it), so no membership applies.
func (s *Service) ListAudit(ctx context.Context, c ledger.Caller, f AuditFilter) (Page[*ledger.AuditRecord], error) {
	if f.AccountID != "" && !ledger.ValidID(f.AccountID, ledger.AccountPrefix) {
		var v ledger.Invalid
		v.Add("account_id", "is not an account id")
		return Page[*ledger.AuditRecord]{}, v.Err()
	}
	return s.Store.ListAudit(ctx, c.Tenant, f)
}
