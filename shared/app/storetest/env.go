// Package storetest is the contract of app.Store as a test suite: one set
// of subtests that every implementation must pass (the DynamoDB store in
// shared/dynamo, the in-memory store in shared/memory), written against the
// interface alone, as a repository suite is run over each adapter.
//
// Each subtest works in a tenant of its own (a random id), so the suite can
// share one table with other tests. The suite builds its commits with the
// domain functions (ledger.Entry, ledger.Transfer, ledger.Withdrawal,
// ledger.Approve, ledger.Reject, ledger.Reverse, ledger.Opening) the way the
// use cases do, and stamps them with a clock of its own: one second per
// tick from 2090-06-01T08:00:00Z, so that times, and hence the order of
// history, transaction lists and the audit trail, are known exactly and
// distinct to the millisecond. It never sleeps and assumes nothing about
// timing; hot accounts are checked by their balances only, since a store may
// number their history after the posting.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// base is the suite's first tick; every subtest's clock starts here.
var base = time.Date(2090, 6, 1, 8, 0, 0, 0, time.UTC)

const (
	month     = "2090-06"
	valueDate = "2090-06-01"
	creator   = "alice"
)

type clock struct {
	mu   sync.Mutex
	next time.Time
}

func (c *clock) tick() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(time.Second)
	return t
}

// env is one subtest's store, tenant and clock.
type env struct {
	t      *testing.T
	ctx    context.Context
	st     app.Store
	tenant string
	clock  *clock
}

func newEnv(t *testing.T, st app.Store) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, ctx: ctx, st: st, tenant: newTenant(t), clock: &clock{next: base}}
}

// other is the same store in another tenant, with its own clock.
func (e *env) other() *env {
	return &env{t: e.t, ctx: e.ctx, st: e.st, tenant: newTenant(e.t), clock: &clock{next: base}}
}

func newTenant(t *testing.T) string {
	t.Helper()
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return "st-" + hex.EncodeToString(r[:])
}

func (e *env) caller(sub string) ledger.Caller {
	c := ledger.NewCaller(sub, e.tenant, ledger.ScopeAdmin)
	c.Origin = ledger.Origin{RequestID: "req-" + sub, SourceIP: "203.0.113.7", UserAgent: "storetest/1"}
	return c
}

// ---- accounts ----

// create makes an account as app.Service.CreateAccount does: NewAccount,
// the opening booking when the opening balance is not zero, the
// account.created record of its settings, then Store.CreateAccount.
func (e *env) create(sub string, in ledger.NewAccountInput, idem *app.Idempotency) (*ledger.Account, *app.Replay, error) {
	e.t.Helper()
	now := e.clock.tick()
	acc, opening, err := ledger.NewAccount(in, ledger.NewID(ledger.AccountPrefix, now), now, sub)
	if err != nil {
		e.t.Fatalf("NewAccount %q: %v", in.Name, err)
	}
	var bk *ledger.Booking
	if !opening.IsZero() {
		if bk, err = ledger.Opening(acc, opening, ledger.Actor{Sub: sub, Now: now}); err != nil {
			e.t.Fatalf("Opening %q: %v", in.Name, err)
		}
		acc = bk.Updates[0].Account
	}
	audit := ledger.NewAuditRecord(e.caller(sub), now, ledger.ActionAccountCreated, "account", acc.ID, []string{acc.ID}, acc.Settings())
	replay, err := e.st.CreateAccount(e.ctx, e.tenant, acc, bk, idem, sub, audit)
	return acc, replay, err
}

func (e *env) mustCreate(in ledger.NewAccountInput) *ledger.Account {
	e.t.Helper()
	acc, replay, err := e.create(creator, in, nil)
	if err != nil {
		e.t.Fatalf("CreateAccount %q: %v", in.Name, err)
	}
	if replay != nil {
		e.t.Fatalf("CreateAccount %q without a key answered a replay %+v", in.Name, replay)
	}
	return acc
}

// account is an active cash account with an opening balance ("" for none).
func (e *env) account(name, ccy, opening string) *ledger.Account {
	e.t.Helper()
	in := ledger.NewAccountInput{Name: name, Kind: ledger.KindCash, Currency: ccy}
	if opening != "" {
		in.OpeningBalance = &opening
	}
	return e.mustCreate(in)
}

func (e *env) get(id string) *ledger.Account {
	e.t.Helper()
	a, err := e.st.GetAccount(e.ctx, e.tenant, id)
	if err != nil {
		e.t.Fatalf("GetAccount %s: %v", id, err)
	}
	return a
}

func (e *env) wantBalance(id, balance, pending string) {
	e.t.Helper()
	a := e.get(id)
	if !a.Balance.Equal(dec(e.t, balance)) || !a.Pending.Equal(dec(e.t, pending)) {
		e.t.Errorf("account %s (%s): balance %s pending %s; want %s and %s", a.Name, id, a.Balance, a.Pending, balance, pending)
	}
}

// patch changes an account as app.Service.UpdateAccount does.
func (e *env) patch(id string, p ledger.AccountPatch) (*ledger.Account, error) {
	e.t.Helper()
	return e.st.UpdateAccount(e.ctx, e.tenant, id, func(a *ledger.Account) (*ledger.AuditRecord, error) {
		now := e.clock.tick()
		changes, err := a.Apply(p, now)
		if err != nil || len(changes) == 0 {
			return nil, err
		}
		return ledger.NewAuditRecord(e.caller(creator), now, ledger.ActionAccountUpdated, "account", a.ID, []string{a.ID}, changes), nil
	})
}

func (e *env) mustPatch(id string, p ledger.AccountPatch) *ledger.Account {
	e.t.Helper()
	a, err := e.patch(id, p)
	if err != nil {
		e.t.Fatalf("UpdateAccount %s: %v", id, err)
	}
	return a
}

// ---- postings ----

type booker func(st *app.State, a ledger.Actor) (*ledger.Booking, error)

// postReq is a new posting as the use cases build it: the accounts named
// must be there, the period of the month must accept postings, then the
// domain books it and it is audited as posted or pending. calls counts the
// Build's runs when not nil.
func (e *env) postReq(sub string, ids []string, mon string, idem *app.Idempotency, calls *atomic.Int32, book booker) app.PostRequest {
	c := e.caller(sub)
	return app.PostRequest{
		Tenant: e.tenant, Caller: sub, Idem: idem, AccountIDs: ids, Month: mon,
		Build: func(st *app.State) (*app.Commit, error) {
			if calls != nil {
				calls.Add(1)
			}
			for _, id := range ids {
				if st.Accounts[id] == nil {
					return nil, ledger.NotFound("Account " + id)
				}
			}
			if err := st.Period.AcceptsPostings(st.Now); err != nil {
				return nil, err
			}
			now := e.clock.tick()
			bk, err := book(st, ledger.Actor{Sub: sub, Now: now})
			if err != nil {
				return nil, err
			}
			action := ledger.ActionTransactionPosted
			if bk.Txn.Status == ledger.TxnPending {
				action = ledger.ActionTransactionPending
			}
			return &app.Commit{Booking: bk, Step: ledger.StepCreated, Audit: ledger.TransactionAudit(c, now, action, bk.Txn, nil)}, nil
		},
	}
}

func (e *env) entryReq(sub, id, typ, amount string, idem *app.Idempotency) app.PostRequest {
	return e.postReq(sub, []string{id}, month, idem, nil, func(st *app.State, a ledger.Actor) (*ledger.Booking, error) {
		return ledger.Entry(st.Accounts[id], ledger.EntryInput{Type: typ, Amount: amount, Details: ledger.Details{ValueDate: valueDate}}, a)
	})
}

func (e *env) transferReq(sub, from, to, amount string, idem *app.Idempotency) app.PostRequest {
	return e.postReq(sub, []string{from, to}, month, idem, nil, func(st *app.State, a ledger.Actor) (*ledger.Booking, error) {
		return ledger.Transfer(st.Accounts[from], st.Accounts[to], ledger.TransferInput{
			FromAccountID: from, ToAccountID: to, Amount: amount,
			Details: ledger.Details{ValueDate: valueDate, Memo: "transfer " + amount, Reference: "ref-" + amount},
		}, a)
	})
}

func (e *env) withdrawalReq(sub, id, amount string, idem *app.Idempotency) app.PostRequest {
	return e.postReq(sub, []string{id}, month, idem, nil, func(st *app.State, a ledger.Actor) (*ledger.Booking, error) {
		return ledger.Withdrawal(st.Accounts[id], ledger.WithdrawalInput{Amount: amount, Payee: "Supplier", Method: "cash",
			Details: ledger.Details{ValueDate: valueDate}}, a)
	})
}

// approveReq approves a pending withdrawal as app.Service.Approve does:
// the transaction's own month, Replaces pending, step approved.
func (e *env) approveReq(sub, txnID string, idem *app.Idempotency, before func(st *app.State)) app.PostRequest {
	c := e.caller(sub)
	return app.PostRequest{
		Tenant: e.tenant, Caller: sub, Idem: idem, TransactionID: txnID, MonthOfTransaction: true,
		Build: func(st *app.State) (*app.Commit, error) {
			if before != nil {
				before(st)
			}
			if st.Transaction == nil {
				return nil, ledger.NotFound("Transaction")
			}
			if err := st.Period.AcceptsPostings(st.Now); err != nil {
				return nil, err
			}
			now := e.clock.tick()
			bk, err := ledger.Approve(st.Transaction, st.Accounts, ledger.Actor{Sub: sub, Now: now})
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(c, now, ledger.ActionTransactionApproved, bk.Txn,
				[]ledger.Change{{Field: "status", Old: ledger.TxnPending, New: ledger.TxnPosted}})
			return &app.Commit{Booking: bk, Replaces: ledger.TxnPending, Step: ledger.StepApproved, Audit: audit}, nil
		},
	}
}

// rejectReq rejects a pending withdrawal: no month is read.
func (e *env) rejectReq(sub, txnID, reason string, idem *app.Idempotency, seen func(st *app.State)) app.PostRequest {
	c := e.caller(sub)
	return app.PostRequest{
		Tenant: e.tenant, Caller: sub, Idem: idem, TransactionID: txnID,
		Build: func(st *app.State) (*app.Commit, error) {
			if seen != nil {
				seen(st)
			}
			if st.Transaction == nil {
				return nil, ledger.NotFound("Transaction")
			}
			now := e.clock.tick()
			bk, err := ledger.Reject(st.Transaction, st.Accounts, reason, ledger.Actor{Sub: sub, Now: now})
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(c, now, ledger.ActionTransactionRejected, bk.Txn,
				[]ledger.Change{{Field: "status", Old: ledger.TxnPending, New: ledger.TxnRejected}})
			return &app.Commit{Booking: bk, Replaces: ledger.TxnPending, Step: ledger.StepRejected, Audit: audit}, nil
		},
	}
}

// reverseReq reverses a posted transaction as app.Service.Reverse does.
func (e *env) reverseReq(sub, txnID string, idem *app.Idempotency, before func(st *app.State)) app.PostRequest {
	c := e.caller(sub)
	return app.PostRequest{
		Tenant: e.tenant, Caller: sub, Idem: idem, TransactionID: txnID, Month: month,
		Build: func(st *app.State) (*app.Commit, error) {
			if before != nil {
				before(st)
			}
			if st.Transaction == nil {
				return nil, ledger.NotFound("Transaction")
			}
			if err := st.Period.AcceptsPostings(st.Now); err != nil {
				return nil, err
			}
			now := e.clock.tick()
			bk, orig, err := ledger.Reverse(st.Transaction, st.Accounts, ledger.ReverseInput{Reason: "mistake", ValueDate: valueDate}, ledger.Actor{Sub: sub, Now: now})
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(c, now, ledger.ActionTransactionReversed, orig,
				[]ledger.Change{{Field: "status", Old: ledger.TxnPosted, New: ledger.TxnReversed}, {Field: "reversed_by", Old: nil, New: bk.Txn.ID}})
			return &app.Commit{Booking: bk, Reversed: orig, Step: ledger.StepCreated, Audit: audit}, nil
		},
	}
}

// forceStatusReq is a competing write that only moves a transaction from
// one status to another (no account, no hold): it isolates the condition
// on the transaction's status from those on its accounts.
func (e *env) forceStatusReq(txnID, from, to string) app.PostRequest {
	c := e.caller("carol")
	return app.PostRequest{
		Tenant: e.tenant, Caller: "carol", TransactionID: txnID,
		Build: func(st *app.State) (*app.Commit, error) {
			t := *st.Transaction
			t.Status = to
			now := e.clock.tick()
			if to == ledger.TxnRejected {
				t.RejectedBy, t.RejectedAt, t.Reason = "carol", now, "competing"
			}
			if to == ledger.TxnReversed {
				t.ReversedBy = ledger.NewID(ledger.TransactionPrefix, now)
			}
			bk := ledger.NewBooking(&t, st.Accounts)
			audit := ledger.TransactionAudit(c, now, "transaction.updated", &t, []ledger.Change{{Field: "status", Old: from, New: to}})
			return &app.Commit{Booking: bk, Replaces: from, Step: ledger.StepCreated, Audit: audit}, nil
		},
	}
}

func (e *env) post(req app.PostRequest) (*ledger.Transaction, *app.Replay, error) {
	return e.st.Post(e.ctx, req)
}

func (e *env) mustPost(req app.PostRequest) *ledger.Transaction {
	e.t.Helper()
	txn, replay, err := e.st.Post(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Post: %v", err)
	}
	if replay != nil || txn == nil {
		e.t.Fatalf("Post answered transaction %v, replay %+v; want a new transaction", txn, replay)
	}
	return txn
}

func (e *env) txn(id string) *ledger.Transaction {
	e.t.Helper()
	t, err := e.st.GetTransaction(e.ctx, e.tenant, id)
	if err != nil {
		e.t.Fatalf("GetTransaction %s: %v", id, err)
	}
	return t
}

// ---- reading back ----

// pages reads a whole list through its cursors, checking that no page
// holds more than the limit and that the list ends.
func pages[T any](e *env, limit int, read func(cursor string) (app.Page[T], error)) []T {
	e.t.Helper()
	var out []T
	cursor := ""
	for i := 0; ; i++ {
		page, err := read(cursor)
		if err != nil {
			e.t.Fatalf("page %d: %v", i, err)
		}
		if len(page.Items) > limit {
			e.t.Errorf("page %d holds %d items, more than the limit %d", i, len(page.Items), limit)
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		if i > 1000 {
			e.t.Fatal("the list never ends")
		}
		cursor = page.NextCursor
	}
}

func (e *env) history(id string, f app.HistoryFilter) []ledger.HistoryLine {
	e.t.Helper()
	if f.Limit == 0 {
		f.Limit = 100
	}
	return pages(e, f.Limit, func(c string) (app.Page[ledger.HistoryLine], error) {
		f.Cursor = c
		return e.st.History(e.ctx, e.tenant, id, f)
	})
}

func (e *env) accounts(f app.AccountFilter) []*ledger.Account {
	e.t.Helper()
	if f.Limit == 0 {
		f.Limit = 100
	}
	return pages(e, f.Limit, func(c string) (app.Page[*ledger.Account], error) {
		f.Cursor = c
		return e.st.ListAccounts(e.ctx, e.tenant, f)
	})
}

func (e *env) transactions(f app.TransactionFilter) []*ledger.Transaction {
	e.t.Helper()
	if f.Limit == 0 {
		f.Limit = 100
	}
	return pages(e, f.Limit, func(c string) (app.Page[*ledger.Transaction], error) {
		f.Cursor = c
		return e.st.ListTransactions(e.ctx, e.tenant, f)
	})
}

func (e *env) audit(f app.AuditFilter) []*ledger.AuditRecord {
	e.t.Helper()
	if f.Limit == 0 {
		f.Limit = 100
	}
	return pages(e, f.Limit, func(c string) (app.Page[*ledger.AuditRecord], error) {
		f.Cursor = c
		return e.st.ListAudit(e.ctx, e.tenant, f)
	})
}

// checkBooks holds invariant 2 for an account: seq 1..n without gaps, each
// balance_after the previous plus or minus its amount, the last equal to
// the balance. It returns the lines.
func (e *env) checkBooks(id string) []ledger.HistoryLine {
	e.t.Helper()
	acc := e.get(id)
	lines := e.history(id, app.HistoryFilter{})
	bal := decimal.Zero
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			e.t.Errorf("%s: line %d has seq %d, want %d", acc.Name, i, l.Seq, i+1)
		}
		if l.Type == ledger.Debit {
			bal = bal.Sub(l.Amount)
		} else {
			bal = bal.Add(l.Amount)
		}
		if !l.BalanceAfter.Equal(bal) {
			e.t.Errorf("%s: seq %d balance_after %s, want %s", acc.Name, l.Seq, l.BalanceAfter, bal)
		}
	}
	if !acc.Balance.Equal(bal) {
		e.t.Errorf("%s: balance %s, but its lines add up to %s", acc.Name, acc.Balance, bal)
	}
	if acc.Seq != int64(len(lines)) {
		e.t.Errorf("%s: seq %d, but it has %d lines", acc.Name, acc.Seq, len(lines))
	}
	return lines
}

// ---- small things ----

func dec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func strp(s string) *string { return &s }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("got no error, want code %s", code)
		return
	}
	if got := ledger.ErrorCode(err); got != code {
		t.Errorf("got error %v (code %s), want code %s", err, got, code)
	}
}

func wantMessage(t *testing.T, err error, code, msg string) {
	t.Helper()
	var le *ledger.Error
	if !errors.As(err, &le) || le.Code != code || le.Message != msg {
		t.Errorf("got error %v; want %s: %s", err, code, msg)
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func accountIDs(as []*ledger.Account) []string {
	return ids(as, func(a *ledger.Account) string { return a.ID })
}

func txnIDs(ts []*ledger.Transaction) []string {
	return ids(ts, func(t *ledger.Transaction) string { return t.ID })
}

func seqs(ls []ledger.HistoryLine) string {
	return fmt.Sprint(ids(ls, func(l ledger.HistoryLine) string { return fmt.Sprint(l.Seq) }))
}

// sameSet reports whether got holds exactly want, each once, in any order.
func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	n := map[string]int{}
	for _, g := range got {
		n[g]++
	}
	for _, w := range want {
		if n[w] == 0 {
			return false
		}
		n[w]--
	}
	return true
}

// edit changes one character in the middle of a cursor to another of the
// base64url alphabet: a cursor edited by hand.
func edit(c string) string {
	i := len(c) / 2
	b := []byte(c)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
