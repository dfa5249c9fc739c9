package ledger

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/money"
)

// Withdrawal methods.
var withdrawalMethods = map[string]bool{"cash": true, "card": true, "bank_transfer": true, "other": true}

// Limits on journal entries.
const (
	MinJournalLines = 2
	MaxJournalLines = 40
)

// Details are the descriptive fields every posting takes.
type Details struct {
	Memo      string
	Reference string
	ValueDate string
	Category  string
	Metadata  json.RawMessage
}

// Actor is who asks for a posting, and when.
type Actor struct {
	Sub    string
	Now    time.Time
	Source string // api, recurring, import, reconciliation
}

func (d Details) check(v *Invalid, now time.Time) Details {
	d.Memo = checkText(v, "memo", d.Memo, MaxMemoLen)
	d.Reference = checkText(v, "reference", d.Reference, MaxShortTextLen)
	d.Category = checkText(v, "category", d.Category, MaxCategoryLen)
	d.ValueDate = checkValueDate(v, "value_date", d.ValueDate, now)
	d.Metadata = checkMetadata(v, "metadata", d.Metadata)
	return d
}

// checkValueDate accepts YYYY-MM-DD and defaults to today (UTC).
func checkValueDate(v *Invalid, field, s string, now time.Time) string {
	if s == "" {
		return now.UTC().Format(time.DateOnly)
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || d.Format(time.DateOnly) != s {
		v.Add(field, "must be a date YYYY-MM-DD")
		return ""
	}
	return s
}

func (a Actor) newTxn(kind string, d Details) *Transaction {
	src := a.Source
	if src == "" {
		src = "api"
	}
	return &Transaction{
		ID: NewID(TransactionPrefix, a.Now), Kind: kind, Status: TxnPosted, InitialStatus: TxnPosted,
		Memo: d.Memo, Reference: d.Reference, ValueDate: d.ValueDate, Category: d.Category,
		Metadata: d.Metadata, Source: src, CreatedAt: a.Now.UTC().Truncate(time.Millisecond), CreatedBy: a.Sub,
	}
}

// post books t at once against the accounts.
func post(t *Transaction, accounts map[string]*Account, a Actor) (*Booking, error) {
	b := NewBooking(t, accounts)
	at := PostingTime(a.Now, accounts, t.AccountIDs())
	t.PostedAt, t.PostedBy = at, a.Sub
	if err := b.Post(at, a.Sub); err != nil {
		return nil, err
	}
	return b, nil
}

// Opening books a non-zero opening balance as the account's first line.
func Opening(acc *Account, amount decimal.Decimal, a Actor) (*Booking, error) {
	t := a.newTxn(TxnOpening, Details{ValueDate: a.Now.UTC().Format(time.DateOnly), Memo: "Opening balance", Metadata: json.RawMessage("{}")})
	typ, ext := Credit, Debit
	if amount.IsNegative() {
		typ, ext = Debit, Credit
	}
	amt := amount.Abs()
	t.Lines = []Line{
		{AccountID: acc.ID, Type: typ, Amount: amt, Currency: acc.Currency},
		{AccountID: SystemAccountID(SystemExternal, acc.Currency), Type: ext, Amount: amt, Currency: acc.Currency},
	}
	// The opening line may take the account down to its overdraft limit
	// (checked by NewAccount), so it is booked without the funds check.
	b := NewBooking(t, map[string]*Account{acc.ID: acc})
	b.noFundsCheck = true
	at := PostingTime(a.Now, b.accounts, []string{acc.ID})
	t.PostedAt, t.PostedBy = at, a.Sub
	if err := b.Post(at, a.Sub); err != nil {
		return nil, err
	}
	return b, nil
}

// EntryInput is money in from outside or out to outside.
type EntryInput struct {
	Type   string
	Amount string
	Details
}

// Entry books an entry against the external account of the currency.
func Entry(acc *Account, in EntryInput, a Actor) (*Booking, error) {
	var v Invalid
	d := in.Details.check(&v, a.Now)
	amt, _ := checkPostingAmount(&v, "amount", in.Amount, acc.Currency)
	var ext string
	switch in.Type {
	case Credit:
		ext = Debit
	case Debit:
		ext = Credit
	case "":
		v.Add("type", "is required")
	default:
		v.Add("type", "must be credit or debit")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	t := a.newTxn(TxnEntry, d)
	t.Lines = []Line{
		{AccountID: acc.ID, Type: in.Type, Amount: amt, Currency: acc.Currency},
		{AccountID: SystemAccountID(SystemExternal, acc.Currency), Type: ext, Amount: amt, Currency: acc.Currency},
	}
	return post(t, map[string]*Account{acc.ID: acc}, a)
}

// TransferInput moves money between two accounts, exchanging it when their
// currencies differ.
type TransferInput struct {
	FromAccountID string
	ToAccountID   string
	Amount        string
	ToAmount      *string
	Details
}

// Transfer books a transfer, or an exchange through the fx accounts.
func Transfer(from, to *Account, in TransferInput, a Actor) (*Booking, error) {
	var v Invalid
	d := in.Details.check(&v, a.Now)
	if from.ID == to.ID {
		v.Add("to_account_id", "must differ from from_account_id")
	}
	amt, ok := checkPostingAmount(&v, "amount", in.Amount, from.Currency)
	toAmt := amt
	exchange := from.Currency != to.Currency
	switch {
	case exchange && in.ToAmount == nil:
		v.Add("to_amount", "is required when the accounts' currencies differ")
	case in.ToAmount != nil:
		var okTo bool
		toAmt, okTo = checkPostingAmount(&v, "to_amount", *in.ToAmount, to.Currency)
		if !exchange && okTo && ok && !toAmt.Equal(amt) {
			v.Add("to_amount", "must equal amount between accounts of one currency")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	accounts := map[string]*Account{from.ID: from, to.ID: to}
	if !exchange {
		t := a.newTxn(TxnTransfer, d)
		t.Lines = []Line{
			{AccountID: from.ID, Type: Debit, Amount: amt, Currency: from.Currency},
			{AccountID: to.ID, Type: Credit, Amount: amt, Currency: to.Currency},
		}
		return post(t, accounts, a)
	}
	t := a.newTxn(TxnExchange, d)
	rate := money.RateOf(amt, toAmt)
	t.Rate = &rate
	t.Lines = []Line{
		{AccountID: from.ID, Type: Debit, Amount: amt, Currency: from.Currency},
		{AccountID: SystemAccountID(SystemFX, from.Currency), Type: Credit, Amount: amt, Currency: from.Currency},
		{AccountID: SystemAccountID(SystemFX, to.Currency), Type: Debit, Amount: toAmt, Currency: to.Currency},
		{AccountID: to.ID, Type: Credit, Amount: toAmt, Currency: to.Currency},
	}
	return post(t, accounts, a)
}

// WithdrawalInput takes money out to a payee.
type WithdrawalInput struct {
	Amount string
	Payee  string
	Method string
	Details
}

// Withdrawal books a withdrawal at once below the account's approval
// threshold, and holds it pending approval at or above it.
func Withdrawal(acc *Account, in WithdrawalInput, a Actor) (*Booking, error) {
	var v Invalid
	d := in.Details.check(&v, a.Now)
	amt, _ := checkPostingAmount(&v, "amount", in.Amount, acc.Currency)
	payee := checkText(&v, "payee", in.Payee, MaxShortTextLen)
	if in.Method != "" && !withdrawalMethods[in.Method] {
		v.Add("method", "must be one of cash, card, bank_transfer, other")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	t := a.newTxn(TxnWithdrawal, d)
	t.Payee, t.Method = payee, in.Method
	t.Lines = []Line{
		{AccountID: acc.ID, Type: Debit, Amount: amt, Currency: acc.Currency},
		{AccountID: SystemAccountID(SystemExternal, acc.Currency), Type: Credit, Amount: amt, Currency: acc.Currency},
	}
	if acc.ApprovalThreshold == nil || amt.LessThan(*acc.ApprovalThreshold) {
		return post(t, map[string]*Account{acc.ID: acc}, a)
	}
	t.Status, t.InitialStatus = TxnPending, TxnPending
	b := NewBooking(t, map[string]*Account{acc.ID: acc})
	if err := b.Hold(acc.ID, amt); err != nil {
		return nil, err
	}
	return b, nil
}

// Approve posts a pending withdrawal; the approver may not be its creator.
func Approve(t *Transaction, accounts map[string]*Account, a Actor) (*Booking, error) {
	if t.Status != TxnPending {
		return nil, Errorf(EConflict, "Transaction %s is %s, not pending.", t.ID, t.Status)
	}
	if t.CreatedBy == a.Sub {
		return nil, Errorf(EForbidden, "A withdrawal must be approved by someone other than its creator.")
	}
	cp := *t
	b := NewBooking(&cp, accounts)
	acc := t.Lines[0]
	if err := b.Release(acc.AccountID, acc.Amount); err != nil {
		return nil, err
	}
	at := PostingTime(a.Now, accounts, []string{acc.AccountID})
	if err := b.Post(at, a.Sub); err != nil {
		return nil, err
	}
	cp.Status = TxnPosted
	cp.PostedAt, cp.PostedBy = at, a.Sub
	cp.ApprovedAt, cp.ApprovedBy = at, a.Sub
	return b, nil
}

// Reject releases a pending withdrawal's hold.
func Reject(t *Transaction, accounts map[string]*Account, reason string, a Actor) (*Booking, error) {
	var v Invalid
	reason = checkText(&v, "reason", reason, MaxShortTextLen)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if t.Status != TxnPending {
		return nil, Errorf(EConflict, "Transaction %s is %s, not pending.", t.ID, t.Status)
	}
	cp := *t
	b := NewBooking(&cp, accounts)
	acc := t.Lines[0]
	if err := b.Release(acc.AccountID, acc.Amount); err != nil {
		return nil, err
	}
	cp.Status = TxnRejected
	cp.RejectedAt, cp.RejectedBy, cp.Reason = a.Now.UTC().Truncate(time.Millisecond), a.Sub, reason
	return b, nil
}

// ReverseInput says why and on which date a transaction is reversed.
type ReverseInput struct {
	Reason    string
	ValueDate string
}

// Reverse books a reversal with mirrored lines; it returns the booking of
// the reversal and the original as it becomes (reversed).
func Reverse(orig *Transaction, accounts map[string]*Account, in ReverseInput, a Actor) (*Booking, *Transaction, error) {
	var v Invalid
	reason := checkText(&v, "reason", in.Reason, MaxShortTextLen)
	vd := checkValueDate(&v, "value_date", in.ValueDate, a.Now)
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	switch {
	case orig.Kind == TxnReversal:
		return nil, nil, Errorf(EConflict, "A reversal cannot itself be reversed.")
	case orig.Status == TxnReversed:
		return nil, nil, Errorf(EAlreadyReversed, "Transaction %s is already reversed by %s.", orig.ID, orig.ReversedBy)
	case orig.Status != TxnPosted:
		return nil, nil, Errorf(EConflict, "Transaction %s is %s; only a posted transaction can be reversed.", orig.ID, orig.Status)
	}
	t := a.newTxn(TxnReversal, Details{Memo: orig.Memo, Reference: orig.Reference, ValueDate: vd, Metadata: json.RawMessage("{}")})
	t.Reason, t.Reverses, t.ReversesKind, t.Rate = reason, orig.ID, orig.Kind, orig.Rate
	for _, l := range orig.Lines {
		t.Lines = append(t.Lines, l.Mirror())
	}
	b, err := post(t, accounts, a)
	if err != nil {
		return nil, nil, err
	}
	o := *orig
	o.Status, o.ReversedBy = TxnReversed, t.ID
	return b, &o, nil
}

// JournalLineInput is one line of a journal voucher.
type JournalLineInput struct {
	AccountID string
	Type      string
	Amount    string
}

// JournalInput is a balanced voucher over several accounts.
type JournalInput struct {
	Lines []JournalLineInput
	Details
}

// Journal books a voucher whose credits equal its debits per currency.
func Journal(accounts map[string]*Account, in JournalInput, a Actor) (*Booking, error) {
	var v Invalid
	d := in.Details.check(&v, a.Now)
	if n := len(in.Lines); n < MinJournalLines || n > MaxJournalLines {
		v.Add("lines", "must hold %d to %d lines", MinJournalLines, MaxJournalLines)
		return nil, v.Err()
	}
	sums := map[string]decimal.Decimal{}
	seen := map[string]bool{}
	var lines []Line
	for i, l := range in.Lines {
		field := "lines[" + strconv.Itoa(i) + "]"
		acc := accounts[l.AccountID]
		if acc == nil {
			return nil, NotFound("Account " + l.AccountID)
		}
		if seen[l.AccountID] {
			v.Add(field+".account_id", "names an account that another line already names")
			continue
		}
		seen[l.AccountID] = true
		if l.Type != Credit && l.Type != Debit {
			v.Add(field+".type", "must be credit or debit")
			continue
		}
		amt, ok := checkPostingAmount(&v, field+".amount", l.Amount, acc.Currency)
		if !ok {
			continue
		}
		line := Line{AccountID: acc.ID, Type: l.Type, Amount: amt, Currency: acc.Currency}
		sums[acc.Currency.Code] = sums[acc.Currency.Code].Add(line.Signed())
		lines = append(lines, line)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	for ccy, s := range sums {
		if !s.IsZero() {
			v.Add("lines", "credits and debits in %s differ by %s", ccy, s.Abs().String())
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	t := a.newTxn(TxnJournal, d)
	t.Lines = lines
	return post(t, accounts, a)
}

func checkPostingAmount(v *Invalid, field, s string, c money.Currency) (decimal.Decimal, bool) {
	if s == "" {
		v.Add(field, "is required")
		return decimal.Zero, false
	}
	return checkAmount(v, field, s, c, amountPositive)
}
