package app

import (
	"context"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// GetTransaction returns a transaction the caller may view: of a kind it has
// the view right for, on an account it may act on. Any other is not found.
func (s *Service) GetTransaction(ctx context.Context, c ledger.Caller, id string) (*ledger.Transaction, error) {
	if !ledger.ValidID(id, ledger.TransactionPrefix) {
		return nil, ledger.NotFound("Transaction")
	}
	t, err := s.Store.GetTransaction(ctx, c.Tenant, id)
	if err != nil {
		return nil, err
	}
	if !c.MayView(t.Kind, t.ReversesKind) {
		return nil, ledger.NotFound("Transaction")
	}
	if c.SeesAllAccounts() {
		return t, nil
	}
	// A member of any of its accounts sees it, as it sees it in that
	// account's history.
	accounts, err := s.Store.GetAccounts(ctx, c.Tenant, t.AccountIDs())
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		if a.HasMember(c.Sub) {
			return t, nil
		}
	}
	return nil, ledger.NotFound("Transaction")
}

// ListTransactions lists the transactions the caller may view. Without an
// account it needs accounts:all; asking for a kind it may not view is 403.
func (s *Service) ListTransactions(ctx context.Context, c ledger.Caller, f TransactionFilter) (Page[*ledger.Transaction], error) {
	var none Page[*ledger.Transaction]
	if f.Kind != "" {
		if !ledger.KnownKind(f.Kind) {
			var v ledger.Invalid
			v.Add("kind", "is not a transaction kind")
			return none, v.Err()
		}
		if f.Kind != ledger.TxnReversal {
			if err := c.Require(ledger.ViewScope(f.Kind, "")); err != nil {
				return none, err
			}
		}
	}
	switch f.Status {
	case "", ledger.TxnPending, ledger.TxnPosted, ledger.TxnRejected, ledger.TxnReversed:
	default:
		var v ledger.Invalid
		v.Add("status", "must be one of pending, posted, rejected, reversed")
		return none, v.Err()
	}
	if f.AccountID == "" {
		if !c.SeesAllAccounts() {
			var v ledger.Invalid
			v.Add("account_id", "is required without the accounts:all permission")
			return none, v.Err()
		}
	} else if _, err := s.GetAccount(ctx, c, f.AccountID); err != nil {
		return none, err
	}
	page, err := s.Store.ListTransactions(ctx, c.Tenant, f)
	if err != nil {
		return none, err
	}
	// A page may come back shorter than asked: the contract allows it, and
	// it keeps each page to one query.
	kept := page.Items[:0]
	for _, t := range page.Items {
		if c.MayView(t.Kind, t.ReversesKind) {
			kept = append(kept, t)
		}
	}
	page.Items = kept
	return page, nil
}
