package app_test

import (
	"testing"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// TestTransactionsOfKindsNotViewableAreUnknown: a transaction of a kind the
// caller may not view is 404 on every route that names it, with the answer
// an unknown id gets, whatever its state; a reversal is seen with the
// rights of what it reverses.
func TestTransactionsOfKindsNotViewableAreUnknown(t *testing.T) {
	f := newFixture(t)
	a := f.account("Till", "RON", "500.00", "u_entries", "u_transfers", "u_boss")
	b := f.account("Safe", "RON", "", "u_entries", "u_transfers", "u_boss")
	tr := f.transfer(f.admin(), a.ID, b.ID, "40.00")
	en := f.entry(f.admin(), a.ID, ledger.Credit, "5.00")
	rev, err := f.svc.Reverse(f.ctx, f.admin(), tr.ID, ledger.ReverseInput{Reason: "wrong till"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	unknownID := ledger.NewID(ledger.TransactionPrefix, time.Now())
	entriesOnly := f.caller("u_entries", "entries:view entries:delete transfers:delete withdrawals:approve withdrawals:delete")
	transfers := f.caller("u_transfers", "transfers:view")

	_, unknown := f.svc.GetTransaction(f.ctx, entriesOnly, unknownID)
	wantCode(t, "GetTransaction of an unknown id", unknown, ledger.ENotFound)

	if _, err := f.svc.GetTransaction(f.ctx, entriesOnly, en.ID); err != nil {
		t.Errorf("an entry with entries:view: %v", err)
	}
	for name, id := range map[string]string{"a transfer": tr.ID, "the reversal of a transfer": rev.Transaction.ID} {
		_, err := f.svc.GetTransaction(f.ctx, entriesOnly, id)
		wantUnknown(t, name+" with entries:view only", err, unknown)
		if _, err := f.svc.GetTransaction(f.ctx, transfers, id); err != nil {
			t.Errorf("%s with transfers:view: %v", name, err)
		}
	}
	_, err = f.svc.GetTransaction(f.ctx, transfers, en.ID)
	wantUnknown(t, "an entry with transfers:view only", err, unknown)

	// Acting on it is not found either, before any other rule: reversing
	// a transfer with transfers:delete but without transfers:view, even
	// one already reversed; approving or rejecting it.
	other := f.transfer(f.admin(), a.ID, b.ID, "1.00")
	for _, id := range []string{tr.ID, other.ID} {
		_, err = f.svc.Reverse(f.ctx, entriesOnly, id, ledger.ReverseInput{}, nil)
		wantUnknown(t, "Reverse without the kind's view right", err, unknown)
		_, err = f.svc.Approve(f.ctx, entriesOnly, id, nil)
		wantUnknown(t, "Approve without the kind's view right", err, unknown)
		_, err = f.svc.Reject(f.ctx, entriesOnly, id, "", nil)
		wantUnknown(t, "Reject without the kind's view right", err, unknown)
	}
	_, err = f.svc.Reverse(f.ctx, entriesOnly, unknownID, ledger.ReverseInput{}, nil)
	wantUnknown(t, "Reverse of an unknown id", err, unknown)
	_, err = f.svc.GetTransaction(f.ctx, entriesOnly, "txn_not-an-id")
	wantUnknown(t, "a malformed id", err, unknown)

	// Listing: a kind the caller may not view is 403 when asked for, and
	// left out otherwise.
	_, err = f.svc.ListTransactions(f.ctx, entriesOnly, app.TransactionFilter{AccountID: a.ID, Kind: ledger.TxnTransfer, Limit: 50})
	wantCode(t, "listing transfers with entries:view only", err, ledger.EForbidden)
	page, err := f.svc.ListTransactions(f.ctx, entriesOnly, app.TransactionFilter{AccountID: a.ID, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range page.Items {
		if x.Kind != ledger.TxnEntry && x.Kind != ledger.TxnOpening {
			t.Errorf("entries:view lists a %s (%s)", x.Kind, x.ID)
		}
	}
	if len(page.Items) != 2 {
		t.Errorf("entries:view lists %d transactions of Till; want the opening and the entry", len(page.Items))
	}
	_, err = f.svc.ListTransactions(f.ctx, entriesOnly, app.TransactionFilter{Limit: 50})
	wantCode(t, "listing the whole tenant without accounts:all", err, ledger.EValidation)
	all, err := f.svc.ListTransactions(f.ctx, f.admin(), app.TransactionFilter{Limit: 50})
	if err != nil || len(all.Items) != 5 {
		t.Errorf("the whole tenant with admin: %d transactions, %v; want 5 (opening, transfer, entry, reversal, transfer)", len(all.Items), err)
	}
}

// TestApproveRules: approving needs the withdrawal's view right and
// withdrawals:approve; the creator may not approve (four eyes, 403); only a
// pending withdrawal is approved (409); and what was refused wrote nothing.
func TestApproveRules(t *testing.T) {
	f := newFixture(t)
	acc := f.create(ledger.NewAccountInput{Name: "Cash", Kind: ledger.KindCash, Currency: "EUR", OpeningBalance: strp("1000.00"),
		ApprovalThreshold: strp("100.00"), Members: []string{"u_clerk", "u_boss", "u_blind", "u_noright"}})
	clerk := f.caller("u_clerk", "withdrawals:create withdrawals:view withdrawals:approve")
	w := f.withdrawal(clerk, acc.ID, "300.00")
	if w.Status != ledger.TxnPending {
		t.Fatalf("a withdrawal over the threshold is %s", w.Status)
	}
	f.wantBalance(acc.ID, "1000", "300")
	audits := f.auditLen()

	_, unknown := f.svc.Approve(f.ctx, f.admin(), ledger.NewID(ledger.TransactionPrefix, time.Now()), nil)
	blind := f.caller("u_blind", "withdrawals:approve")
	_, err := f.svc.Approve(f.ctx, blind, w.ID, nil)
	wantUnknown(t, "approve without withdrawals:view", err, unknown)

	noRight := f.caller("u_noright", "withdrawals:view")
	_, err = f.svc.Approve(f.ctx, noRight, w.ID, nil)
	wantCode(t, "approve without withdrawals:approve", err, ledger.EForbidden)

	_, err = f.svc.Approve(f.ctx, clerk, w.ID, nil)
	wantCode(t, "approve by the creator", err, ledger.EForbidden)
	if f.txn(w.ID).Status != ledger.TxnPending || f.auditLen() != audits {
		t.Error("a refused approval changed the withdrawal or the trail")
	}
	f.wantBalance(acc.ID, "1000", "300")

	boss := f.caller("u_boss", "withdrawals:view withdrawals:approve")
	p, err := f.svc.Approve(f.ctx, boss, w.ID, nil)
	if err != nil {
		t.Fatalf("approve by another user: %v", err)
	}
	if got := p.Transaction; got.Status != ledger.TxnPosted || got.ApprovedBy != "u_boss" || got.PostedBy != "u_boss" || got.CreatedBy != "u_clerk" {
		t.Errorf("approved withdrawal %+v", got)
	}
	f.wantBalance(acc.ID, "700", "0")

	_, err = f.svc.Approve(f.ctx, boss, w.ID, nil)
	wantCode(t, "approve twice", err, ledger.EConflict)

	// Only withdrawals wait for approval.
	tr := f.transfer(f.admin(), acc.ID, f.account("Other", "EUR", "", "u_boss").ID, "1.00")
	_, err = f.svc.Approve(f.ctx, f.caller("u_boss", "transfers:view withdrawals:approve"), tr.ID, nil)
	wantCode(t, "approve a transfer", err, ledger.EConflict)
}

// TestRejectNeedsWithdrawalsDelete: rejecting a pending withdrawal needs
// withdrawals:delete (403 without); it releases the hold.
func TestRejectNeedsWithdrawalsDelete(t *testing.T) {
	f := newFixture(t)
	acc := f.create(ledger.NewAccountInput{Name: "Cash", Kind: ledger.KindCash, Currency: "EUR", OpeningBalance: strp("500.00"),
		ApprovalThreshold: strp("100.00"), Members: []string{"u_clerk", "u_boss"}})
	w := f.withdrawal(f.caller("u_clerk", ""), acc.ID, "200.00")
	_, err := f.svc.Reject(f.ctx, f.caller("u_boss", "withdrawals:view withdrawals:approve"), w.ID, "no", nil)
	wantCode(t, "reject without withdrawals:delete", err, ledger.EForbidden)
	f.wantBalance(acc.ID, "500", "200")
	p, err := f.svc.Reject(f.ctx, f.caller("u_boss", "withdrawals:view withdrawals:delete"), w.ID, "no receipt", nil)
	if err != nil {
		t.Fatalf("reject: %v", err)
	}
	if p.Transaction.Status != ledger.TxnRejected || p.Transaction.Reason != "no receipt" || p.Transaction.RejectedBy != "u_boss" {
		t.Errorf("rejected %+v", p.Transaction)
	}
	f.wantBalance(acc.ID, "500", "0")
	// The creator may reject its own withdrawal: four eyes are for money going out.
	w2 := f.withdrawal(f.caller("u_clerk", ""), acc.ID, "150.00")
	if _, err := f.svc.Reject(f.ctx, f.caller("u_clerk", "withdrawals:view withdrawals:delete"), w2.ID, "", nil); err != nil {
		t.Errorf("the creator rejecting its own withdrawal: %v", err)
	}
	// A posted transaction is reversed, not rejected.
	small := f.withdrawal(f.caller("u_clerk", ""), acc.ID, "10.00")
	_, err = f.svc.Reject(f.ctx, f.caller("u_boss", "withdrawals:view withdrawals:delete"), small.ID, "", nil)
	wantCode(t, "reject a posted withdrawal", err, ledger.EConflict)
}

// TestReverseRules: reversing a transfer needs transfers:view (else 404)
// and transfers:delete (else 403); a journal needs entries:delete; a
// reversal cannot be reversed (409); twice is 409 already-reversed; a
// pending withdrawal is rejected, not reversed (409).
func TestReverseRules(t *testing.T) {
	f := newFixture(t)
	a := f.account("From", "RON", "100.00", "u_x")
	b := f.account("To", "RON", "", "u_x")
	tr := f.transfer(f.admin(), a.ID, b.ID, "30.00")
	_, unknown := f.svc.Reverse(f.ctx, f.admin(), ledger.NewID(ledger.TransactionPrefix, time.Now()), ledger.ReverseInput{}, nil)

	_, err := f.svc.Reverse(f.ctx, f.caller("u_x", "transfers:delete"), tr.ID, ledger.ReverseInput{}, nil)
	wantUnknown(t, "reverse a transfer without transfers:view", err, unknown)
	_, err = f.svc.Reverse(f.ctx, f.caller("u_x", "transfers:view entries:delete"), tr.ID, ledger.ReverseInput{}, nil)
	wantCode(t, "reverse a transfer without transfers:delete", err, ledger.EForbidden)
	f.wantBalance(a.ID, "70", "0")

	x := f.caller("u_x", "transfers:view transfers:delete")
	p, err := f.svc.Reverse(f.ctx, x, tr.ID, ledger.ReverseInput{Reason: "typo"}, nil)
	if err != nil {
		t.Fatalf("reverse: %v", err)
	}
	rev := p.Transaction
	if rev.Kind != ledger.TxnReversal || rev.Reverses != tr.ID || rev.Reason != "typo" || rev.CreatedBy != "u_x" {
		t.Errorf("reversal %+v", rev)
	}
	if got := f.txn(tr.ID); got.Status != ledger.TxnReversed || got.ReversedBy != rev.ID {
		t.Errorf("original after reversal: %s reversed by %q", got.Status, got.ReversedBy)
	}
	f.wantBalance(a.ID, "100", "0")
	f.wantBalance(b.ID, "0", "0")

	_, err = f.svc.Reverse(f.ctx, x, tr.ID, ledger.ReverseInput{}, nil)
	wantCode(t, "reverse twice", err, ledger.EAlreadyReversed)
	_, err = f.svc.Reverse(f.ctx, x, rev.ID, ledger.ReverseInput{}, nil)
	wantCode(t, "reverse a reversal", err, ledger.EConflict)
	_, err = f.svc.Reverse(f.ctx, f.admin(), rev.ID, ledger.ReverseInput{}, nil)
	wantCode(t, "reverse a reversal as admin", err, ledger.EConflict)

	// A journal is reversed with entries:delete, seen with entries:view.
	j, err := f.svc.PostJournal(f.ctx, f.admin(), ledger.JournalInput{Lines: []ledger.JournalLineInput{
		{AccountID: a.ID, Type: ledger.Debit, Amount: "10.00"}, {AccountID: b.ID, Type: ledger.Credit, Amount: "10.00"},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Reverse(f.ctx, f.caller("u_x", "entries:view journal:create"), j.Transaction.ID, ledger.ReverseInput{}, nil)
	wantCode(t, "reverse a journal without entries:delete", err, ledger.EForbidden)
	if _, err := f.svc.Reverse(f.ctx, f.caller("u_x", "entries:view entries:delete"), j.Transaction.ID, ledger.ReverseInput{}, nil); err != nil {
		t.Errorf("reverse a journal with entries:view and entries:delete: %v", err)
	}

	// Pending is rejected, not reversed.
	lim := f.create(ledger.NewAccountInput{Name: "Limited", Kind: ledger.KindCash, Currency: "RON", OpeningBalance: strp("100.00"), ApprovalThreshold: strp("50.00")})
	w := f.withdrawal(f.admin(), lim.ID, "60.00")
	_, err = f.svc.Reverse(f.ctx, f.admin(), w.ID, ledger.ReverseInput{}, nil)
	wantCode(t, "reverse a pending withdrawal", err, ledger.EConflict)
	f.wantBalance(lim.ID, "100", "60")
}
