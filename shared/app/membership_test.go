package app_test

import (
	"testing"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// TestNonMembersSeeUnknownAccounts: an account the caller is not a member
// of, without accounts:all, is 404 in the path and in the body, with the
// answer an unknown id gets; accounts:all (or admin) reaches every account.
func TestNonMembersSeeUnknownAccounts(t *testing.T) {
	f := newFixture(t)
	mine := f.account("Mine", "EUR", "100.00", "u_me")
	theirs := f.account("Theirs", "EUR", "100.00", "u_them")
	unknownID := ledger.NewID(ledger.AccountPrefix, time.Now())
	me := f.caller("u_me", "accounts:view entries:view transfers:view transfers:create entries:create withdrawals:create")

	_, unknown := f.svc.GetAccount(f.ctx, me, unknownID)
	wantCode(t, "an unknown account", unknown, ledger.ENotFound)
	_, err := f.svc.GetAccount(f.ctx, me, theirs.ID)
	wantUnknown(t, "GetAccount of a non-member", err, unknown)
	_, err = f.svc.GetBalance(f.ctx, me, theirs.ID, time.Time{})
	wantUnknown(t, "GetBalance of a non-member", err, unknown)
	_, err = f.svc.GetBalance(f.ctx, me, theirs.ID, time.Now())
	wantUnknown(t, "GetBalance as_of of a non-member", err, unknown)
	_, err = f.svc.History(f.ctx, me, theirs.ID, app.HistoryFilter{Limit: 50})
	wantUnknown(t, "History of a non-member", err, unknown)
	_, err = f.svc.ListTransactions(f.ctx, me, app.TransactionFilter{AccountID: theirs.ID, Limit: 50})
	wantUnknown(t, "ListTransactions of a non-member", err, unknown)
	_, err = f.svc.UpdateAccount(f.ctx, me, theirs.ID, ledger.AccountPatch{Name: strp("Stolen")})
	wantUnknown(t, "UpdateAccount of a non-member", err, unknown)

	// Named in a body: the same answer as an unknown id, naming the id.
	bodyUnknown := "Account " + unknownID + " not found."
	_, err = f.svc.PostTransfer(f.ctx, me, ledger.TransferInput{FromAccountID: mine.ID, ToAccountID: unknownID, Amount: "1.00"}, nil)
	if code(err) != ledger.ENotFound || message(err) != bodyUnknown {
		t.Errorf("a transfer to an unknown account: %v", err)
	}
	for name, run := range map[string]func() error{
		"a transfer to it": func() error {
			_, err := f.svc.PostTransfer(f.ctx, me, ledger.TransferInput{FromAccountID: mine.ID, ToAccountID: theirs.ID, Amount: "1.00"}, nil)
			return err
		},
		"a transfer from it": func() error {
			_, err := f.svc.PostTransfer(f.ctx, me, ledger.TransferInput{FromAccountID: theirs.ID, ToAccountID: mine.ID, Amount: "1.00"}, nil)
			return err
		},
		"an entry on it": func() error {
			_, err := f.svc.PostEntry(f.ctx, me, theirs.ID, ledger.EntryInput{Type: ledger.Credit, Amount: "1.00"}, nil)
			return err
		},
		"a withdrawal from it": func() error {
			_, err := f.svc.PostWithdrawal(f.ctx, me, theirs.ID, ledger.WithdrawalInput{Amount: "1.00"}, nil)
			return err
		},
		"a journal line on it": func() error {
			_, err := f.svc.PostJournal(f.ctx, me, ledger.JournalInput{Lines: []ledger.JournalLineInput{
				{AccountID: mine.ID, Type: ledger.Debit, Amount: "1.00"}, {AccountID: theirs.ID, Type: ledger.Credit, Amount: "1.00"}}}, nil)
			return err
		},
	} {
		err := run()
		if code(err) != ledger.ENotFound || message(err) != "Account "+theirs.ID+" not found." {
			t.Errorf("%s: %v; want %q", name, err, "Account "+theirs.ID+" not found.")
		}
	}
	f.wantBalance(mine.ID, "100", "0")
	f.wantBalance(theirs.ID, "100", "0")

	// A transaction touching only their account is unknown to me; one
	// touching both is visible to a member of either, but acting on it
	// needs membership of all its accounts.
	only := f.entry(f.admin(), theirs.ID, ledger.Credit, "1.00")
	_, unknownTxn := f.svc.GetTransaction(f.ctx, me, ledger.NewID(ledger.TransactionPrefix, time.Now()))
	_, err = f.svc.GetTransaction(f.ctx, me, only.ID)
	wantUnknown(t, "a transaction of a non-member's account", err, unknownTxn)
	both := f.transfer(f.admin(), theirs.ID, mine.ID, "10.00")
	if _, err := f.svc.GetTransaction(f.ctx, me, both.ID); err != nil {
		t.Errorf("a transfer into my account: %v", err)
	}
	_, err = f.svc.Reverse(f.ctx, f.caller("u_me", "transfers:view transfers:delete"), both.ID, ledger.ReverseInput{}, nil)
	wantUnknown(t, "reversing a transfer from an account I am not a member of", err, unknownTxn)

	// Lists show my accounts only; accounts:all shows every one.
	page, err := f.svc.ListAccounts(f.ctx, me, app.AccountFilter{Limit: 50})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != mine.ID {
		t.Errorf("my accounts: %v, %v", page.Items, err)
	}
	all := f.caller("u_auditor", "accounts:view accounts:all entries:view transfers:view")
	page, err = f.svc.ListAccounts(f.ctx, all, app.AccountFilter{Limit: 50})
	if err != nil || len(page.Items) != 2 {
		t.Errorf("accounts:all lists %d accounts, %v", len(page.Items), err)
	}
	for _, id := range []string{mine.ID, theirs.ID} {
		if _, err := f.svc.GetAccount(f.ctx, all, id); err != nil {
			t.Errorf("accounts:all reads %s: %v", id, err)
		}
	}
	if _, err := f.svc.GetTransaction(f.ctx, all, only.ID); err != nil {
		t.Errorf("accounts:all reads a transaction: %v", err)
	}

	// Removing a member takes the account away from it at once.
	if _, err := f.svc.UpdateAccount(f.ctx, f.admin(), mine.ID, ledger.AccountPatch{MembersSet: true, Members: []string{"u_other"}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GetAccount(f.ctx, me, mine.ID)
	wantUnknown(t, "an account I was removed from", err, unknown)
	if page, err := f.svc.ListAccounts(f.ctx, me, app.AccountFilter{Limit: 50}); err != nil || len(page.Items) != 0 {
		t.Errorf("after my removal I list %d accounts, %v", len(page.Items), err)
	}
}
