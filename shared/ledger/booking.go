package ledger

import (
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// AccountUpdate is what one posting does to one account.
type AccountUpdate struct {
	Account *Account     // the account after the posting
	Line    *HistoryLine // the history line it adds, if the balance moved
	// HoldAdded / HoldReleased name a pending withdrawal whose hold the
	// posting places or lifts.
	HoldAdded    string
	HoldReleased string
}

// SystemDelta moves a system account's balance; system accounts have no
// history and no funds check.
type SystemDelta struct {
	AccountID string // "external:RON"
	Currency  string
	Delta     decimal.Decimal
}

// Booking is the whole effect of one step of one transaction: what the store
// writes in a single atomic unit.
type Booking struct {
	Txn      *Transaction
	Updates  []*AccountUpdate // one per account, sorted by account id
	System   []SystemDelta
	byID     map[string]*AccountUpdate
	accounts map[string]*Account
	// noFundsCheck is set for opening balances only, which NewAccount has
	// already held to the overdraft limit.
	noFundsCheck bool
}

// NewBooking starts a booking of t against copies of the loaded accounts
// (the caller's map is not changed, so a retry can build again from scratch).
func NewBooking(t *Transaction, accounts map[string]*Account) *Booking {
	return &Booking{Txn: t, byID: map[string]*AccountUpdate{}, accounts: accounts}
}

// PostingTime is the time a posting touching these accounts is stamped with:
// now, or the latest line of any of them if the clock lags (another Lambda's
// clock), so that every account's history stays in time order.
func PostingTime(now time.Time, accounts map[string]*Account, ids []string) time.Time {
	at := now.UTC().Truncate(time.Millisecond)
	for _, id := range ids {
		if a := accounts[id]; a != nil && a.LastPostedAt.After(at) {
			at = a.LastPostedAt
		}
	}
	return at
}

func (b *Booking) update(id string) (*AccountUpdate, error) {
	if u := b.byID[id]; u != nil {
		return u, nil
	}
	orig := b.accounts[id]
	if orig == nil {
		return nil, NotFound("Account " + id)
	}
	cp := *orig
	u := &AccountUpdate{Account: &cp}
	b.byID[id] = u
	b.Updates = append(b.Updates, u)
	sort.Slice(b.Updates, func(i, j int) bool { return b.Updates[i].Account.ID < b.Updates[j].Account.ID })
	return u, nil
}

// Post applies every line of the transaction: balances move, each real
// account gets its next numbered history line, and funds are checked.
func (b *Booking) Post(at time.Time, by string) error {
	t := b.Txn
	system := map[string]*SystemDelta{}
	for _, l := range t.Lines {
		if IsSystemAccount(l.AccountID) {
			d := system[l.AccountID]
			if d == nil {
				d = &SystemDelta{AccountID: l.AccountID, Currency: l.Currency.Code}
				system[l.AccountID] = d
			}
			d.Delta = d.Delta.Add(l.Signed())
			continue
		}
		u, err := b.update(l.AccountID)
		if err != nil {
			return err
		}
		a := u.Account
		if err := a.CanPost(); err != nil {
			return err
		}
		if a.Currency != l.Currency {
			return Errorf(EValidation, "Account %s holds %s, not %s.", a.ID, a.Currency.Code, l.Currency.Code)
		}
		if err := b.checkFunds(a, l.Signed().Neg()); err != nil {
			return err
		}
		a.Balance = a.Balance.Add(l.Signed())
		u.Line = &HistoryLine{
			AccountID: a.ID, TransactionID: t.ID, Kind: t.Kind, Type: l.Type,
			Amount: l.Amount, Currency: a.Currency,
			CounterpartyAccountID: counterparty(t, a.ID),
			Memo:                  t.Memo, Reference: t.Reference, ValueDate: t.ValueDate,
			PostedAt: at, PostedBy: by,
		}
		if !a.Hot {
			// A hot account's line is numbered later (NumberLines), so that
			// its postings need not queue behind one counter.
			a.Seq++
			a.LastPostedAt = at
			u.Line.Seq, u.Line.BalanceAfter = a.Seq, a.Balance
		}
	}
	ids := make([]string, 0, len(system))
	for id := range system {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		b.System = append(b.System, *system[id])
	}
	return nil
}

// Hold reserves amount on the account for the pending transaction: pending
// rises, available falls, and available may not go below zero.
func (b *Booking) Hold(accountID string, amount decimal.Decimal) error {
	u, err := b.update(accountID)
	if err != nil {
		return err
	}
	if err := u.Account.CanPost(); err != nil {
		return err
	}
	if err := b.checkFunds(u.Account, amount); err != nil {
		return err
	}
	u.Account.Pending = u.Account.Pending.Add(amount)
	u.HoldAdded = b.Txn.ID
	return nil
}

// Release lifts the hold of the pending transaction.
func (b *Booking) Release(accountID string, amount decimal.Decimal) error {
	u, err := b.update(accountID)
	if err != nil {
		return err
	}
	u.Account.Pending = u.Account.Pending.Sub(amount)
	u.HoldReleased = b.Txn.ID
	return nil
}

// checkFunds refuses to take more than is available from a funds-checked
// account. Credits (take <= 0) always pass, so an overdrawn account can
// still be paid into.
func (b *Booking) checkFunds(a *Account, take decimal.Decimal) error {
	if b.noFundsCheck || !a.FundsChecked || !take.IsPositive() {
		return nil
	}
	if avail := a.Available(); avail.LessThan(take) {
		return &Error{
			Code:      EInsufficientFunds,
			Message:   "Account " + a.ID + " does not have the funds for this posting.",
			Shortfall: &Shortfall{AccountID: a.ID, Available: avail, Requested: take, Currency: a.Currency.Code},
		}
	}
	return nil
}
