package app

import (
	"context"
	"strconv"
	"time"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// Posted is a posting's answer: the transaction as of the step the request
// made, and whether it is a replay of an earlier request.
type Posted struct {
	Transaction *ledger.Transaction
	Replayed    bool
}

// post runs a posting through the store and renders a replay when the
// idempotency key was seen before.
func (s *Service) post(ctx context.Context, c ledger.Caller, req PostRequest) (*Posted, error) {
	req.Tenant, req.Caller = c.Tenant, c.Sub
	t, replay, err := s.Store.Post(ctx, req)
	if err != nil {
		return nil, err
	}
	if replay == nil {
		return &Posted{Transaction: t}, nil
	}
	stored, err := s.Store.GetTransaction(ctx, c.Tenant, replay.ResourceID)
	if err != nil {
		return nil, err
	}
	// The caller may have been removed from its accounts since: a replay
	// shows no more than the request would now.
	accounts, err := s.Store.GetAccounts(ctx, c.Tenant, stored.AccountIDs())
	if err != nil {
		return nil, err
	}
	if err := accountsFor(&State{Accounts: accounts}, c, stored.AccountIDs()...); err != nil {
		return nil, ledger.NotFound("Transaction")
	}
	then := stored.AsOf(replay.Step)
	return &Posted{Transaction: &then, Replayed: true}, nil
}

// accountsFor loads the named accounts from the state, as the caller may see
// them: any the caller may not act on is "not found", like an unknown one.
func accountsFor(st *State, c ledger.Caller, ids ...string) error {
	for _, id := range ids {
		a := st.Accounts[id]
		if a == nil || !c.MayActOn(a) {
			return ledger.NotFound("Account " + id)
		}
	}
	return nil
}

func periodOpen(st *State) error { return st.Period.AcceptsPostings(st.Now) }

// created is the commit of a new transaction, audited as posted or pending.
func created(c ledger.Caller, st *State, b *ledger.Booking) *Commit {
	action := ledger.ActionTransactionPosted
	if b.Txn.Status == ledger.TxnPending {
		action = ledger.ActionTransactionPending
	}
	return &Commit{Booking: b, Step: ledger.StepCreated, Audit: ledger.TransactionAudit(c, st.Now, action, b.Txn, nil)}
}

func actor(c ledger.Caller, st *State) ledger.Actor { return ledger.Actor{Sub: c.Sub, Now: st.Now} }

func checkAccountID(field, id string) error {
	if id == "" {
		var v ledger.Invalid
		v.Add(field, "is required")
		return v.Err()
	}
	if !ledger.ValidID(id, ledger.AccountPrefix) {
		return ledger.NotFound("Account " + id)
	}
	return nil
}

// valueDate fixes a posting's value date once per request: no value date
// means today, taken once, so that the period the posting checks (its
// month) and the date it books are the same however long its retries take,
// across midnight too.
func (s *Service) valueDate(vd string) string {
	if vd == "" {
		return s.Now().UTC().Format(time.DateOnly)
	}
	return vd
}

// PostEntry books money in from, or out to, the outside world.
func (s *Service) PostEntry(ctx context.Context, c ledger.Caller, accountID string, in ledger.EntryInput, idem *Idempotency) (*Posted, error) {
	if err := checkAccountID("account_id", accountID); err != nil {
		return nil, err
	}
	in.ValueDate = s.valueDate(in.ValueDate)
	return s.create(ctx, c, idem, []string{accountID}, in.ValueDate, func(st *State) (*ledger.Booking, error) {
		return ledger.Entry(st.Accounts[accountID], in, actor(c, st))
	})
}

// create posts a new transaction on accounts the caller may act on, into an
// open period, audited as posted or pending.
func (s *Service) create(ctx context.Context, c ledger.Caller, idem *Idempotency, accountIDs []string, valueDate string, book func(*State) (*ledger.Booking, error)) (*Posted, error) {
	return s.post(ctx, c, PostRequest{
		Idem: idem, AccountIDs: accountIDs, Month: ledger.PeriodOf(valueDate),
		Build: func(st *State) (*Commit, error) {
			if err := accountsFor(st, c, accountIDs...); err != nil {
				return nil, err
			}
			b, err := book(st)
			if err != nil {
				return nil, err
			}
			return created(c, st, b), periodOpen(st)
		},
	})
}

// PostTransfer books a transfer, or an exchange between currencies.
func (s *Service) PostTransfer(ctx context.Context, c ledger.Caller, in ledger.TransferInput, idem *Idempotency) (*Posted, error) {
	if err := checkAccountID("from_account_id", in.FromAccountID); err != nil {
		return nil, err
	}
	if err := checkAccountID("to_account_id", in.ToAccountID); err != nil {
		return nil, err
	}
	if in.FromAccountID == in.ToAccountID {
		var v ledger.Invalid
		v.Add("to_account_id", "must differ from from_account_id")
		return nil, v.Err()
	}
	in.ValueDate = s.valueDate(in.ValueDate)
	return s.create(ctx, c, idem, []string{in.FromAccountID, in.ToAccountID}, in.ValueDate, func(st *State) (*ledger.Booking, error) {
		return ledger.Transfer(st.Accounts[in.FromAccountID], st.Accounts[in.ToAccountID], in, actor(c, st))
	})
}

// PostWithdrawal books a withdrawal, or holds it for approval.
func (s *Service) PostWithdrawal(ctx context.Context, c ledger.Caller, accountID string, in ledger.WithdrawalInput, idem *Idempotency) (*Posted, error) {
	if err := checkAccountID("account_id", accountID); err != nil {
		return nil, err
	}
	in.ValueDate = s.valueDate(in.ValueDate)
	return s.create(ctx, c, idem, []string{accountID}, in.ValueDate, func(st *State) (*ledger.Booking, error) {
		return ledger.Withdrawal(st.Accounts[accountID], in, actor(c, st))
	})
}

// PostJournal books a balanced voucher.
func (s *Service) PostJournal(ctx context.Context, c ledger.Caller, in ledger.JournalInput, idem *Idempotency) (*Posted, error) {
	var ids []string
	seen := map[string]bool{}
	for i, l := range in.Lines {
		if err := checkAccountID("lines["+strconv.Itoa(i)+"].account_id", l.AccountID); err != nil {
			return nil, err
		}
		if !seen[l.AccountID] {
			seen[l.AccountID] = true
			ids = append(ids, l.AccountID)
		}
	}
	if len(in.Lines) > ledger.MaxJournalLines {
		var v ledger.Invalid
		v.Add("lines", "must hold %d to %d lines", ledger.MinJournalLines, ledger.MaxJournalLines)
		return nil, v.Err()
	}
	in.ValueDate = s.valueDate(in.ValueDate)
	return s.create(ctx, c, idem, ids, in.ValueDate, func(st *State) (*ledger.Booking, error) {
		return ledger.Journal(st.Accounts, in, actor(c, st))
	})
}

// visibleTransaction refuses, as "not found", a transaction the caller may
// not view (its kind's view right), or whose accounts the caller may not
// act on: acting on a transaction needs both, and what the caller may not
// see answers as an unknown id would, whatever its state.
func visibleTransaction(st *State, c ledger.Caller) (*ledger.Transaction, error) {
	t := st.Transaction
	if t == nil || !c.MayView(t.Kind, t.ReversesKind) {
		return nil, ledger.NotFound("Transaction")
	}
	for _, id := range t.AccountIDs() {
		if a := st.Accounts[id]; a == nil || !c.MayActOn(a) {
			return nil, ledger.NotFound("Transaction")
		}
	}
	return t, nil
}

// Approve posts a pending withdrawal (four eyes: not by its creator).
func (s *Service) Approve(ctx context.Context, c ledger.Caller, id string, idem *Idempotency) (*Posted, error) {
	if !ledger.ValidID(id, ledger.TransactionPrefix) {
		return nil, ledger.NotFound("Transaction")
	}
	return s.post(ctx, c, PostRequest{
		Idem: idem, TransactionID: id, MonthOfTransaction: true,
		Build: func(st *State) (*Commit, error) {
			t, err := visibleTransaction(st, c)
			if err != nil {
				return nil, err
			}
			if t.Kind != ledger.TxnWithdrawal {
				return nil, ledger.Errorf(ledger.EConflict, "Only withdrawals wait for approval.")
			}
			if err := c.Require(ledger.ScopeWithdrawalsApprove); err != nil {
				return nil, err
			}
			b, err := ledger.Approve(t, st.Accounts, actor(c, st))
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(c, st.Now, ledger.ActionTransactionApproved, b.Txn,
				[]ledger.Change{{Field: "status", Old: ledger.TxnPending, New: ledger.TxnPosted}})
			return &Commit{Booking: b, Replaces: ledger.TxnPending, Step: ledger.StepApproved, Audit: audit}, periodOpen(st)
		},
	})
}

// Reject releases a pending withdrawal's hold.
func (s *Service) Reject(ctx context.Context, c ledger.Caller, id, reason string, idem *Idempotency) (*Posted, error) {
	if !ledger.ValidID(id, ledger.TransactionPrefix) {
		return nil, ledger.NotFound("Transaction")
	}
	return s.post(ctx, c, PostRequest{
		Idem: idem, TransactionID: id,
		Build: func(st *State) (*Commit, error) {
			t, err := visibleTransaction(st, c)
			if err != nil {
				return nil, err
			}
			if err := c.Require(ledger.RemoveScope(t.Kind)); err != nil {
				return nil, err
			}
			b, err := ledger.Reject(t, st.Accounts, reason, actor(c, st))
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(c, st.Now, ledger.ActionTransactionRejected, b.Txn, []ledger.Change{
				{Field: "status", Old: ledger.TxnPending, New: ledger.TxnRejected}, {Field: "reason", Old: nil, New: b.Txn.Reason}})
			return &Commit{Booking: b, Replaces: ledger.TxnPending, Step: ledger.StepRejected, Audit: audit}, nil
		},
	})
}

// Reverse books a reversal of a posted transaction.
func (s *Service) Reverse(ctx context.Context, c ledger.Caller, id string, in ledger.ReverseInput, idem *Idempotency) (*Posted, error) {
	if !ledger.ValidID(id, ledger.TransactionPrefix) {
		return nil, ledger.NotFound("Transaction")
	}
	in.ValueDate = s.valueDate(in.ValueDate)
	return s.post(ctx, c, PostRequest{
		Idem: idem, TransactionID: id, Month: ledger.PeriodOf(in.ValueDate),
		Build: func(st *State) (*Commit, error) {
			t, err := visibleTransaction(st, c)
			if err != nil {
				return nil, err
			}
			if t.Kind == ledger.TxnReversal {
				return nil, ledger.Errorf(ledger.EConflict, "A reversal cannot itself be reversed.")
			}
			if err := c.Require(ledger.RemoveScope(t.Kind)); err != nil {
				return nil, err
			}
			b, orig, err := ledger.Reverse(t, st.Accounts, in, actor(c, st))
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(c, st.Now, ledger.ActionTransactionReversed, orig, []ledger.Change{
				{Field: "status", Old: ledger.TxnPosted, New: ledger.TxnReversed}, {Field: "reversed_by", Old: nil, New: b.Txn.ID}})
			return &Commit{Booking: b, Reversed: orig, Step: ledger.StepCreated, Audit: audit}, periodOpen(st)
		},
	})
}
