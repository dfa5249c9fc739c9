package ledger

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/money"
)

// Transaction kinds.
const (
	TxnOpening    = "opening"
	TxnEntry      = "entry"
	TxnTransfer   = "transfer"
	TxnExchange   = "exchange"
	TxnWithdrawal = "withdrawal"
	TxnJournal    = "journal"
	TxnReversal   = "reversal"
	TxnAdjustment = "adjustment"
)

// Transaction statuses.
const (
	TxnPending  = "pending"
	TxnPosted   = "posted"
	TxnRejected = "rejected"
	TxnReversed = "reversed"
)

// Line types, from the account's point of view: a credit puts money in.
const (
	Credit = "credit"
	Debit  = "debit"
)

// Steps in a transaction's life. An idempotent replay answers the
// transaction as it was right after the step its request made.
const (
	StepCreated  = "created"
	StepApproved = "approved"
	StepRejected = "rejected"
)

// System account kinds: the outside world and the currency-exchange clearing
// account, one of each per currency.
const (
	SystemExternal = "external"
	SystemFX       = "fx"
)

// SystemAccountID names a system account as lines show it: "external:RON".
func SystemAccountID(kind string, c money.Currency) string { return kind + ":" + c.Code }

// IsSystemAccount reports whether id names a system account.
func IsSystemAccount(id string) bool {
	return strings.HasPrefix(id, SystemExternal+":") || strings.HasPrefix(id, SystemFX+":")
}

// Line is one leg of a transaction.
type Line struct {
	AccountID string
	Type      string
	Amount    decimal.Decimal // > 0
	Currency  money.Currency
}

// Signed is the line's effect on its account's balance.
func (l Line) Signed() decimal.Decimal {
	if l.Type == Debit {
		return l.Amount.Neg()
	}
	return l.Amount
}

// Mirror is the line that undoes l.
func (l Line) Mirror() Line {
	m := l
	if l.Type == Debit {
		m.Type = Credit
	} else {
		m.Type = Debit
	}
	return m
}

// Transaction is the unit of posting. Zero times and empty strings are the
// contract's nulls.
type Transaction struct {
	ID            string
	Kind          string
	Status        string
	InitialStatus string // pending or posted, for replays of the creating request
	Lines         []Line
	Memo          string
	Reference     string
	ValueDate     string
	Source        string
	CreatedAt     time.Time
	CreatedBy     string
	PostedAt      time.Time
	PostedBy      string
	ApprovedAt    time.Time
	ApprovedBy    string
	RejectedAt    time.Time
	RejectedBy    string
	Reason        string
	Payee         string
	Method        string
	Category      string
	Reverses      string
	ReversesKind  string // the kind of what a reversal reverses: its view right
	ReversedBy    string
	Rate          *decimal.Decimal
	Metadata      json.RawMessage
}

// AccountIDs lists the non-system accounts of the lines, in line order.
func (t *Transaction) AccountIDs() []string {
	var ids []string
	for _, l := range t.Lines {
		if !IsSystemAccount(l.AccountID) {
			ids = append(ids, l.AccountID)
		}
	}
	return ids
}

// AsOf returns the transaction as it stood right after step, so that a
// replayed request gets the answer it got the first time even if the
// transaction moved on since (approved, reversed).
func (t Transaction) AsOf(step string) Transaction {
	switch step {
	case StepCreated:
		t.Status = t.InitialStatus
		t.ApprovedAt, t.ApprovedBy = time.Time{}, ""
		if t.RejectedBy != "" {
			t.Reason = ""
		}
		t.RejectedAt, t.RejectedBy = time.Time{}, ""
		t.ReversedBy = ""
		if t.InitialStatus == TxnPending {
			t.PostedAt, t.PostedBy = time.Time{}, ""
		}
	case StepApproved:
		t.Status = TxnPosted
		t.ReversedBy = ""
	}
	return t
}

// HistoryLine is one numbered line of an account's history.
type HistoryLine struct {
	AccountID             string
	Seq                   int64
	TransactionID         string
	Kind                  string
	Type                  string
	Amount                decimal.Decimal
	BalanceAfter          decimal.Decimal
	Currency              money.Currency
	CounterpartyAccountID string
	Memo                  string
	Reference             string
	ValueDate             string
	PostedAt              time.Time
	PostedBy              string
}

// counterparty is the other side a history line names: the single other
// account of a two-sided posting, or the real account on the far side of an
// exchange; empty when there are several.
func counterparty(t *Transaction, self string) string {
	var others []string
	for _, l := range t.Lines {
		if l.AccountID != self && !strings.HasPrefix(l.AccountID, SystemFX+":") {
			others = append(others, l.AccountID)
		}
	}
	if len(others) == 1 {
		return others[0]
	}
	return ""
}
