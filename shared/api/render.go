package api

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/money"
)

// Answers are built from these structs: every contract field is always
// present, null where it does not apply.

type accountJSON struct {
	ID                string          `json:"id"`
	Name              string          `json:"name"`
	Code              *string         `json:"code"`
	Kind              string          `json:"kind"`
	Currency          string          `json:"currency"`
	Status            string          `json:"status"`
	Balance           string          `json:"balance"`
	Pending           string          `json:"pending"`
	Available         string          `json:"available"`
	OverdraftLimit    string          `json:"overdraft_limit"`
	ApprovalThreshold *string         `json:"approval_threshold"`
	IBAN              *string         `json:"iban"`
	Members           []string        `json:"members"`
	Metadata          json.RawMessage `json:"metadata"`
	Hot               bool            `json:"hot"`
	CreatedAt         string          `json:"created_at"`
	CreatedBy         string          `json:"created_by"`
	UpdatedAt         string          `json:"updated_at"`
	Version           int64           `json:"version"`
}

func renderAccount(a *ledger.Account) accountJSON {
	c := a.Currency
	out := accountJSON{
		ID: a.ID, Name: a.Name, Code: null(a.Code), Kind: a.Kind, Currency: c.Code, Status: a.Status,
		Balance: money.Format(a.Balance, c), Pending: money.Format(a.Pending, c),
		Available: money.Format(a.Available(), c), OverdraftLimit: money.Format(a.OverdraftLimit, c),
		IBAN: null(a.IBAN), Members: a.Members, Metadata: a.Metadata, Hot: a.Hot,
		CreatedAt: ts(a.CreatedAt), CreatedBy: a.CreatedBy, UpdatedAt: ts(a.UpdatedAt), Version: a.Version,
	}
	if a.ApprovalThreshold != nil {
		t := money.Format(*a.ApprovalThreshold, c)
		out.ApprovalThreshold = &t
	}
	if out.Members == nil {
		out.Members = []string{}
	}
	return out
}

// etag is the account's settings version, quoted as HTTP wants.
func etag(a *ledger.Account) string { return `"` + strconv.FormatInt(a.Version, 10) + `"` }

type lineJSON struct {
	AccountID string `json:"account_id"`
	Type      string `json:"type"`
	Amount    string `json:"amount"`
	Currency  string `json:"currency"`
}

type txnJSON struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Status     string          `json:"status"`
	Lines      []lineJSON      `json:"lines"`
	Memo       *string         `json:"memo"`
	Reference  *string         `json:"reference"`
	ValueDate  string          `json:"value_date"`
	Source     string          `json:"source"`
	CreatedAt  string          `json:"created_at"`
	CreatedBy  string          `json:"created_by"`
	PostedAt   *string         `json:"posted_at"`
	PostedBy   *string         `json:"posted_by"`
	ApprovedBy *string         `json:"approved_by"`
	ApprovedAt *string         `json:"approved_at"`
	RejectedBy *string         `json:"rejected_by"`
	RejectedAt *string         `json:"rejected_at"`
	Reason     *string         `json:"reason"`
	Payee      *string         `json:"payee"`
	Method     *string         `json:"method"`
	Category   *string         `json:"category"`
	Reverses   *string         `json:"reverses"`
	ReversedBy *string         `json:"reversed_by"`
	Rate       *string         `json:"rate"`
	Metadata   json.RawMessage `json:"metadata"`
}

func renderTxn(t *ledger.Transaction) txnJSON {
	out := txnJSON{
		ID: t.ID, Kind: t.Kind, Status: t.Status, Memo: null(t.Memo), Reference: null(t.Reference),
		ValueDate: t.ValueDate, Source: t.Source, CreatedAt: ts(t.CreatedAt), CreatedBy: t.CreatedBy,
		PostedAt: nullTime(t.PostedAt), PostedBy: null(t.PostedBy),
		ApprovedBy: null(t.ApprovedBy), ApprovedAt: nullTime(t.ApprovedAt),
		RejectedBy: null(t.RejectedBy), RejectedAt: nullTime(t.RejectedAt), Reason: null(t.Reason),
		Payee: null(t.Payee), Method: null(t.Method), Category: null(t.Category),
		Reverses: null(t.Reverses), ReversedBy: null(t.ReversedBy), Metadata: t.Metadata,
		Lines: make([]lineJSON, len(t.Lines)),
	}
	for i, l := range t.Lines {
		out.Lines[i] = lineJSON{AccountID: l.AccountID, Type: l.Type, Amount: money.Format(l.Amount, l.Currency), Currency: l.Currency.Code}
	}
	if t.Rate != nil {
		r := money.FormatRate(*t.Rate)
		out.Rate = &r
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage("{}")
	}
	return out
}

type historyJSON struct {
	Seq                   int64   `json:"seq"`
	TransactionID         string  `json:"transaction_id"`
	Kind                  string  `json:"kind"`
	Type                  string  `json:"type"`
	Amount                string  `json:"amount"`
	BalanceAfter          string  `json:"balance_after"`
	CounterpartyAccountID *string `json:"counterparty_account_id"`
	Memo                  *string `json:"memo"`
	Reference             *string `json:"reference"`
	ValueDate             string  `json:"value_date"`
	PostedAt              string  `json:"posted_at"`
	PostedBy              string  `json:"posted_by"`
}

func renderHistory(h ledger.HistoryLine) historyJSON {
	return historyJSON{
		Seq: h.Seq, TransactionID: h.TransactionID, Kind: h.Kind, Type: h.Type,
		Amount: money.Format(h.Amount, h.Currency), BalanceAfter: money.Format(h.BalanceAfter, h.Currency),
		CounterpartyAccountID: null(h.CounterpartyAccountID), Memo: null(h.Memo), Reference: null(h.Reference),
		ValueDate: h.ValueDate, PostedAt: ts(h.PostedAt), PostedBy: h.PostedBy,
	}
}

type periodJSON struct {
	Period    string  `json:"period"`
	Status    string  `json:"status"`
	ClosingAt *string `json:"closing_at"`
	ClosedAt  *string `json:"closed_at"`
	ClosedBy  *string `json:"closed_by"`
}

func renderPeriod(p ledger.Period, now time.Time) periodJSON {
	out := periodJSON{Period: p.Month, Status: p.StatusAt(now), ClosingAt: nullTime(p.ClosingAt), ClosedBy: null(p.ClosedBy)}
	if out.Status == ledger.PeriodClosed {
		out.ClosedAt = nullTime(p.ClosedAt())
	}
	return out
}

type listJSON[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func renderList[S, T any](items []S, next string, f func(S) T) listJSON[T] {
	out := listJSON[T]{Items: make([]T, 0, len(items)), NextCursor: null(next)}
	for _, it := range items {
		out.Items = append(out.Items, f(it))
	}
	return out
}

// ts is the contract's time format: RFC 3339 UTC with milliseconds.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func null(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return null(ts(t))
}
