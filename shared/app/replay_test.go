package app_test

import (
	"testing"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

func key(k, hash string) *app.Idempotency { return &app.Idempotency{Key: k, RequestHash: hash} }

// TestReplayAnswersTheFirstAnswer: the same key and request answer the
// transaction as the first request left it, even after it was approved or
// reversed, and book nothing; another request with the key is refused.
func TestReplayAnswersTheFirstAnswer(t *testing.T) {
	f := newFixture(t)
	acc := f.create(ledger.NewAccountInput{Name: "Cash", Kind: ledger.KindCash, Currency: "EUR", OpeningBalance: strp("1000.00"),
		ApprovalThreshold: strp("100.00"), Members: []string{"u_clerk", "u_boss"}})
	dest := f.account("Bank", "EUR", "", "u_clerk", "u_boss")
	clerk := f.caller("u_clerk", "withdrawals:view transfers:view")
	boss := f.caller("u_boss", "withdrawals:view withdrawals:approve transfers:view transfers:delete")

	wKey := key("w-1", "hash-w")
	in := ledger.WithdrawalInput{Amount: "300.00", Payee: "Landlord"}
	first, err := f.svc.PostWithdrawal(f.ctx, clerk, acc.ID, in, wKey)
	if err != nil || first.Replayed || first.Transaction.Status != ledger.TxnPending {
		t.Fatalf("withdrawal: %+v, %v", first, err)
	}
	aKey := key("a-1", "hash-a")
	approved, err := f.svc.Approve(f.ctx, boss, first.Transaction.ID, aKey)
	if err != nil || approved.Replayed {
		t.Fatalf("approve: %+v, %v", approved, err)
	}
	f.wantBalance(acc.ID, "700", "0")

	again, err := f.svc.PostWithdrawal(f.ctx, clerk, acc.ID, in, wKey)
	if err != nil || !again.Replayed {
		t.Fatalf("replay of the withdrawal: %+v, %v", again, err)
	}
	if got := again.Transaction; got.ID != first.Transaction.ID || got.Status != ledger.TxnPending || got.ApprovedBy != "" ||
		!got.ApprovedAt.IsZero() || !got.PostedAt.IsZero() || got.PostedBy != "" {
		t.Errorf("the replay shows %+v; want the withdrawal as it was answered: pending, not approved", got)
	}
	replayedApproval, err := f.svc.Approve(f.ctx, boss, first.Transaction.ID, aKey)
	if err != nil || !replayedApproval.Replayed || replayedApproval.Transaction.Status != ledger.TxnPosted || replayedApproval.Transaction.ApprovedBy != "u_boss" {
		t.Errorf("replay of the approval: %+v, %v; want it posted, approved by u_boss", replayedApproval, err)
	}
	f.wantBalance(acc.ID, "700", "0")

	// A transfer replayed after its reversal shows it posted.
	tKey := key("t-1", "hash-t")
	tin := ledger.TransferInput{FromAccountID: acc.ID, ToAccountID: dest.ID, Amount: "50.00"}
	tr, err := f.svc.PostTransfer(f.ctx, clerk, tin, tKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reverse(f.ctx, boss, tr.Transaction.ID, ledger.ReverseInput{}, nil); err != nil {
		t.Fatal(err)
	}
	again, err = f.svc.PostTransfer(f.ctx, clerk, tin, tKey)
	if err != nil || !again.Replayed || again.Transaction.Status != ledger.TxnPosted || again.Transaction.ReversedBy != "" {
		t.Errorf("replay of a reversed transfer: %+v, %v; want it posted, as first answered", again, err)
	}
	f.wantBalance(acc.ID, "700", "0")
	f.wantBalance(dest.ID, "0", "0")

	// Another request with the key.
	_, err = f.svc.PostTransfer(f.ctx, clerk, tin, key("t-1", "hash-other"))
	wantCode(t, "the key with another request", err, ledger.EIdempotencyKeyReuse)
	f.wantBalance(dest.ID, "0", "0")
}

// TestReplayAfterRemovalIsUnknown: a replay shows no more than the request
// would now: a caller removed from the account's members gets 404.
func TestReplayAfterRemovalIsUnknown(t *testing.T) {
	f := newFixture(t)
	acc := f.account("Cash", "EUR", "100.00", "u_clerk")
	clerk := f.caller("u_clerk", "entries:view")
	k := key("e-1", "hash-e")
	in := ledger.EntryInput{Type: ledger.Credit, Amount: "5.00"}
	if _, err := f.svc.PostEntry(f.ctx, clerk, acc.ID, in, k); err != nil {
		t.Fatal(err)
	}
	if p, err := f.svc.PostEntry(f.ctx, clerk, acc.ID, in, k); err != nil || !p.Replayed {
		t.Fatalf("replay while a member: %+v, %v", p, err)
	}
	if _, err := f.svc.UpdateAccount(f.ctx, f.admin(), acc.ID, ledger.AccountPatch{MembersSet: true, Members: []string{"u_other"}}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.PostEntry(f.ctx, clerk, acc.ID, in, k)
	wantCode(t, "replay after removal", err, ledger.ENotFound)
	f.wantBalance(acc.ID, "105", "0")
}

// TestRefusedRequestStoresNothing: a request refused by a rule stored
// nothing, so its key runs it again once the rule is met.
func TestRefusedRequestStoresNothing(t *testing.T) {
	f := newFixture(t)
	a := f.account("Low", "EUR", "10.00")
	b := f.account("High", "EUR", "100.00")
	k := key("move-1", "hash-m")
	in := ledger.TransferInput{FromAccountID: a.ID, ToAccountID: b.ID, Amount: "50.00"}
	_, err := f.svc.PostTransfer(f.ctx, f.admin(), in, k)
	wantCode(t, "a transfer without the funds", err, ledger.EInsufficientFunds)
	f.entry(f.admin(), a.ID, ledger.Credit, "40.00")
	p, err := f.svc.PostTransfer(f.ctx, f.admin(), in, k)
	if err != nil || p.Replayed {
		t.Fatalf("the same key once the funds are there: %+v, %v; want it booked", p, err)
	}
	f.wantBalance(a.ID, "0", "0")
	f.wantBalance(b.ID, "150", "0")
}

// TestCreateAccountReplay: a replayed creation answers the account as it
// was created, with Replayed set, whatever happened to it since.
func TestCreateAccountReplay(t *testing.T) {
	f := newFixture(t)
	in := ledger.NewAccountInput{Name: "Petty Cash", Kind: ledger.KindCash, Currency: "RON", OpeningBalance: strp("2000.00"), Code: "5311"}
	k := key("acc-1", "hash-acc")
	first, replayed, err := f.svc.CreateAccount(f.ctx, f.admin(), in, k)
	if err != nil || replayed {
		t.Fatalf("create: %v, replayed %v", err, replayed)
	}
	f.entry(f.admin(), first.ID, ledger.Debit, "500.00")
	if _, err := f.svc.UpdateAccount(f.ctx, f.admin(), first.ID, ledger.AccountPatch{Name: strp("Main Cash")}); err != nil {
		t.Fatal(err)
	}
	again, replayed, err := f.svc.CreateAccount(f.ctx, f.admin(), in, k)
	if err != nil || !replayed {
		t.Fatalf("replay: %v, replayed %v", err, replayed)
	}
	if again.ID != first.ID || again.Name != "Petty Cash" || again.Code != "5311" || !again.Balance.Equal(dec(t, "2000")) ||
		again.Version != 1 || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("replayed creation %+v; want the first answer %+v", again, first)
	}
	_, _, err = f.svc.CreateAccount(f.ctx, f.admin(), in, key("acc-1", "hash-other"))
	wantCode(t, "the key with another request", err, ledger.EIdempotencyKeyReuse)
	_, _, err = f.svc.CreateAccount(f.ctx, f.admin(), ledger.NewAccountInput{Name: "main CASH", Kind: ledger.KindCash, Currency: "RON"}, nil)
	wantCode(t, "a name taken in another case", err, ledger.EConflict)
}
