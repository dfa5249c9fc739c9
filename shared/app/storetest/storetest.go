package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// Run runs the contract suite over the store newStore returns; each subtest
// asks for a store of its own and works in a tenant of its own, in parallel.
func Run(t *testing.T, newStore func(t *testing.T) app.Store) {
	tests := []struct {
		name string
		fn   func(*env)
	}{
		{"Ping", testPing},
		{"CreateAndGetAccount", testCreateAndGetAccount},
		{"NamesAndCodesUniquePerTenant", testNamesAndCodes},
		{"CreateAccountReplay", testCreateAccountReplay},
		{"PostingsMoveBalancesAndNumberHistory", testPostings},
		{"RefusedBuildWritesNothing", testRefusedBuild},
		{"BuildGetsCopies", testBuildGetsCopies},
		{"AccountIDsMayRepeat", testAccountIDsMayRepeat},
		{"IdempotentPost", testIdempotentPost},
		{"ApproveAndReject", testApproveAndReject},
		{"ReplacesIsConditional", testReplacesIsConditional},
		{"Reversal", testReversal},
		{"ReversedIsConditional", testReversedIsConditional},
		{"UpdateAccount", testUpdateAccount},
		{"ListAccounts", testListAccounts},
		{"HistoryPaging", testHistoryPaging},
		{"BalanceAt", testBalanceAt},
		{"ListTransactionsPerAccount", testListTransactionsPerAccount},
		{"ListTransactionsOfTheTenantKeepToTheirFilters", testListTransactionsTenantFilters},
		{"ClosePeriod", testClosePeriod},
		{"ListAudit", testListAudit},
		{"TenantIsolation", testTenantIsolation},
		{"HotAccountBalances", testHotAccountBalances},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(newEnv(t, newStore(t)))
		})
	}
}

func testPing(e *env) {
	if err := e.st.Ping(e.ctx); err != nil {
		e.t.Errorf("Ping: %v", err)
	}
}

// testCreateAndGetAccount: an account reads back as created, its opening
// balance is its first history line against external:<ccy>, unknown and
// other tenants' ids are not found, and what a read returns is a copy.
func testCreateAndGetAccount(e *env) {
	t := e.t
	in := ledger.NewAccountInput{
		Name: "Petty Cash – Cluj", Code: "5311.01", Kind: ledger.KindCash, Currency: "RON",
		OpeningBalance: strp("2000.00"), OverdraftLimit: strp("10.00"), ApprovalThreshold: strp("5000.00"),
		IBAN: "RO49AAAA1B31007593840000", Members: []string{"alice", "bob"}, Metadata: json.RawMessage(`{"branch":"Cluj"}`),
	}
	acc := e.mustCreate(in)
	got := e.get(acc.ID)
	switch {
	case got.ID != acc.ID, got.Name != "Petty Cash – Cluj", got.Code != "5311.01", got.Kind != ledger.KindCash,
		got.Currency.Code != "RON", got.Status != ledger.StatusActive, got.IBAN != "RO49AAAA1B31007593840000",
		fmt.Sprint(got.Members) != "[alice bob]", string(got.Metadata) != `{"branch":"Cluj"}`,
		!got.FundsChecked, got.Hot, got.CreatedBy != creator, got.Version != 1, got.Seq != 1:
		t.Errorf("account reads back as %+v; want it as created (%+v)", got, acc)
	}
	if !got.Balance.Equal(dec(t, "2000")) || !got.Pending.IsZero() || !got.OverdraftLimit.Equal(dec(t, "10")) ||
		got.ApprovalThreshold == nil || !got.ApprovalThreshold.Equal(dec(t, "5000")) || !got.Available().Equal(dec(t, "2010")) {
		t.Errorf("amounts read back as balance %s pending %s overdraft %s threshold %v", got.Balance, got.Pending, got.OverdraftLimit, got.ApprovalThreshold)
	}
	if !got.CreatedAt.Equal(acc.CreatedAt) || !got.UpdatedAt.Equal(acc.UpdatedAt) {
		t.Errorf("created_at %v updated_at %v; want %v", got.CreatedAt, got.UpdatedAt, acc.CreatedAt)
	}

	lines := e.checkBooks(acc.ID)
	if len(lines) != 1 || lines[0].Kind != ledger.TxnOpening || lines[0].Type != ledger.Credit || !lines[0].Amount.Equal(dec(t, "2000")) {
		t.Fatalf("history %+v; want one opening credit of 2000", lines)
	}
	open := e.txn(lines[0].TransactionID)
	if open.Kind != ledger.TxnOpening || open.Status != ledger.TxnPosted || len(open.Lines) != 2 ||
		open.Lines[0].AccountID != acc.ID || open.Lines[1].AccountID != "external:RON" || open.Lines[1].Type != ledger.Debit {
		t.Errorf("opening transaction %+v; want a posted opening against external:RON", open)
	}

	noneID := ledger.NewID(ledger.AccountPrefix, time.Now())
	many, err := e.st.GetAccounts(e.ctx, e.tenant, []string{acc.ID, noneID})
	if err != nil || len(many) != 1 || many[acc.ID] == nil {
		t.Errorf("GetAccounts of one known and one unknown id: %v, %v; want the known one only", many, err)
	}
	_, err = e.st.GetAccount(e.ctx, e.tenant, noneID)
	wantCode(t, err, ledger.ENotFound)
	_, err = e.st.GetAccount(e.ctx, e.other().tenant, acc.ID)
	wantCode(t, err, ledger.ENotFound)

	// What a read returns is the caller's own copy.
	got.Members[0], got.Name = "mallory", "Changed"
	got.Balance = dec(t, "1")
	*got.ApprovalThreshold = dec(t, "1")
	many[acc.ID].Members[1] = "eve"
	if again := e.get(acc.ID); again.Name != "Petty Cash – Cluj" || fmt.Sprint(again.Members) != "[alice bob]" ||
		!again.Balance.Equal(dec(t, "2000")) || !again.ApprovalThreshold.Equal(dec(t, "5000")) {
		t.Errorf("changing a read account changed the store: %+v", again)
	}

	recs := e.audit(app.AuditFilter{})
	if len(recs) != 1 || recs[0].Action != ledger.ActionAccountCreated || recs[0].TargetID != acc.ID {
		t.Errorf("audit trail %+v; want one account.created of %s", recs, acc.ID)
	}
}

// testNamesAndCodes: names and codes are unique per tenant whatever their
// case and surrounding space, a refused creation writes nothing, and another
// tenant may use both.
func testNamesAndCodes(e *env) {
	t := e.t
	in := func(name, code string) ledger.NewAccountInput {
		return ledger.NewAccountInput{Name: name, Code: code, Kind: ledger.KindCash, Currency: "EUR"}
	}
	first := e.mustCreate(in("Petty Cash", "PC-1"))
	dupName, _, err := e.create(creator, in("  PETTY cash ", ""), nil)
	wantMessage(t, err, ledger.EConflict, `An account named "PETTY cash" already exists.`)
	dupCode, _, err := e.create(creator, in("Another Till", "pc-1"), nil)
	wantMessage(t, err, ledger.EConflict, `An account with code "pc-1" already exists.`)
	for _, a := range []*ledger.Account{dupName, dupCode} {
		if _, err := e.st.GetAccount(e.ctx, e.tenant, a.ID); ledger.ErrorCode(err) != ledger.ENotFound {
			t.Errorf("a refused creation left account %s (%v)", a.ID, err)
		}
	}
	if got := e.accounts(app.AccountFilter{}); len(got) != 1 || got[0].ID != first.ID {
		t.Errorf("the tenant lists %v after one creation and two refusals", accountIDs(got))
	}
	// The refused creation's name was not taken: it can be created now.
	e.mustCreate(in("another till", "PC-2"))
	if recs := e.audit(app.AuditFilter{}); len(recs) != 2 {
		t.Errorf("the audit trail holds %d records after two creations and two refusals", len(recs))
	}
	// Another tenant may use both.
	o := e.other()
	o.mustCreate(in("Petty Cash", "PC-1"))
}

// testCreateAccountReplay: the same key and request answer the first
// creation's replay without writing; AccountCreation gives the settings it
// was created with, also after the account changed; another request with
// the key is refused; keys are per caller; a refused creation stored
// nothing, so its key runs again.
func testCreateAccountReplay(e *env) {
	t := e.t
	in := ledger.NewAccountInput{Name: "Replayed Till", Code: "RT-1", Kind: ledger.KindBank, Currency: "EUR",
		OpeningBalance: strp("150.00"), Members: []string{"alice", "bob"}}
	key := &app.Idempotency{Key: "create-1", RequestHash: "hash-1"}
	first, replay, err := e.create(creator, in, key)
	if err != nil || replay != nil {
		t.Fatalf("first creation: replay %+v, %v", replay, err)
	}
	second, replay, err := e.create(creator, in, key)
	if err != nil || replay == nil || replay.ResourceID != first.ID || replay.Step != ledger.StepCreated {
		t.Fatalf("second creation with the key: replay %+v, %v; want a replay of %s", replay, err, first.ID)
	}
	if _, err := e.st.GetAccount(e.ctx, e.tenant, second.ID); ledger.ErrorCode(err) != ledger.ENotFound {
		t.Errorf("the replayed creation wrote account %s", second.ID)
	}
	if n := len(e.accounts(app.AccountFilter{})); n != 1 {
		t.Errorf("the tenant lists %d accounts after a creation and its replay", n)
	}

	// The account moves on; its creation settings do not.
	e.mustPost(e.entryReq("bob", first.ID, ledger.Credit, "50.00", nil))
	e.mustPatch(first.ID, ledger.AccountPatch{Name: strp("Renamed Till")})
	settings, err := e.st.AccountCreation(e.ctx, e.tenant, creator, key)
	if err != nil {
		t.Fatalf("AccountCreation: %v", err)
	}
	for field, want := range map[string]string{
		"name": `"Replayed Till"`, "code": `"RT-1"`, "kind": `"bank"`, "currency": `"EUR"`, "balance": `"150.00"`,
		"overdraft_limit": `"0.00"`, "approval_threshold": `null`, "members": `["alice","bob"]`, "metadata": `{}`, "status": `"active"`,
	} {
		if got := string(settings[field]); got != want {
			t.Errorf("AccountCreation %s = %s, want %s", field, got, want)
		}
	}
	rebuilt, err := ledger.AccountAsCreated(e.get(first.ID), settings)
	if err != nil || rebuilt.Name != "Replayed Till" || !rebuilt.Balance.Equal(dec(t, "150")) || rebuilt.Version != 1 {
		t.Errorf("the first answer rebuilt: %+v, %v", rebuilt, err)
	}

	_, replay, err = e.create(creator, in, &app.Idempotency{Key: key.Key, RequestHash: "hash-other"})
	wantCode(t, err, ledger.EIdempotencyKeyReuse)
	if replay != nil {
		t.Errorf("key reuse answered a replay %+v", replay)
	}
	// Keys belong to their caller.
	in2 := in
	in2.Name, in2.Code = "Bob's Till", ""
	if _, replay, err := e.create("bob", in2, key); err != nil || replay != nil {
		t.Errorf("bob's creation with alice's key: replay %+v, %v; want a new account", replay, err)
	}

	// A creation refused for its name stored nothing: the same request
	// runs again once the name is free.
	taken := e.account("Second Till", "EUR", "")
	retry := &app.Idempotency{Key: "create-2", RequestHash: "hash-2"}
	in3 := ledger.NewAccountInput{Name: "second TILL", Kind: ledger.KindCash, Currency: "EUR"}
	_, _, err = e.create(creator, in3, retry)
	wantCode(t, err, ledger.EConflict)
	e.mustPatch(taken.ID, ledger.AccountPatch{Name: strp("Third Till")})
	created, replay, err := e.create(creator, in3, retry)
	if err != nil || replay != nil {
		t.Fatalf("the refused request again: replay %+v, %v; want it created", replay, err)
	}
	if got := e.get(created.ID); got.Name != "second TILL" {
		t.Errorf("created %q", got.Name)
	}
}

// testPostings: postings move balances, every account's history runs 1..n
// with running balances, and the transaction reads back as posted.
func testPostings(e *env) {
	t := e.t
	a := e.account("Alpha", "RON", "100.00")
	b := e.account("Beta", "RON", "")
	tr := e.mustPost(e.transferReq("bob", a.ID, b.ID, "30.00", nil))
	e.mustPost(e.entryReq("bob", a.ID, ledger.Credit, "10.00", nil))
	e.mustPost(e.entryReq("bob", a.ID, ledger.Debit, "5.50", nil))
	back := e.mustPost(e.transferReq("bob", b.ID, a.ID, "20.00", nil))
	e.wantBalance(a.ID, "94.50", "0")
	e.wantBalance(b.ID, "10.00", "0")

	la := e.checkBooks(a.ID)
	lb := e.checkBooks(b.ID)
	var kinds []string
	for _, l := range la {
		kinds = append(kinds, l.Kind+"/"+l.Type)
	}
	if fmt.Sprint(kinds) != "[opening/credit transfer/debit entry/credit entry/debit transfer/credit]" {
		t.Errorf("Alpha's history %v", kinds)
	}
	if len(lb) != 2 || lb[0].TransactionID != tr.ID || lb[1].TransactionID != back.ID {
		t.Errorf("Beta's history %+v; want the two transfers", lb)
	}
	if len(la) == 5 {
		l := la[1]
		if l.TransactionID != tr.ID || !l.Amount.Equal(dec(t, "30")) || !l.BalanceAfter.Equal(dec(t, "70")) ||
			l.CounterpartyAccountID != b.ID || l.Memo != "transfer 30.00" || l.Reference != "ref-30.00" ||
			l.ValueDate != valueDate || l.PostedBy != "bob" || !l.PostedAt.Equal(tr.PostedAt) || l.Currency.Code != "RON" {
			t.Errorf("the transfer's line on Alpha: %+v", l)
		}
	}

	got := e.txn(tr.ID)
	if got.Kind != ledger.TxnTransfer || got.Status != ledger.TxnPosted || got.PostedBy != "bob" || got.CreatedBy != "bob" ||
		!got.PostedAt.Equal(tr.PostedAt) || got.ValueDate != valueDate || got.Memo != "transfer 30.00" || len(got.Lines) != 2 ||
		got.Lines[0].AccountID != a.ID || got.Lines[0].Type != ledger.Debit || !got.Lines[0].Amount.Equal(dec(t, "30")) ||
		got.Lines[1].AccountID != b.ID || got.Lines[1].Type != ledger.Credit || string(got.Metadata) != "{}" {
		t.Errorf("the transfer reads back as %+v", got)
	}
	if _, err := e.st.GetTransaction(e.ctx, e.tenant, ledger.NewID(ledger.TransactionPrefix, time.Now())); ledger.ErrorCode(err) != ledger.ENotFound {
		t.Errorf("an unknown transaction: %v; want not-found", err)
	}
}

// testRefusedBuild: a Build's refusal reaches the caller as it was given
// (the shortfall included) and nothing is written.
func testRefusedBuild(e *env) {
	t := e.t
	a := e.account("Poor", "EUR", "50.00")
	b := e.account("Rich", "EUR", "")
	audits := len(e.audit(app.AuditFilter{}))

	_, replay, err := e.post(e.transferReq("bob", a.ID, b.ID, "80.00", nil))
	var le *ledger.Error
	if !errors.As(err, &le) || le.Code != ledger.EInsufficientFunds || le.Shortfall == nil ||
		le.Shortfall.AccountID != a.ID || !le.Shortfall.Available.Equal(dec(t, "50")) || !le.Shortfall.Requested.Equal(dec(t, "80")) {
		t.Errorf("an overdraft: %v (%+v); want insufficient-funds with its shortfall", err, le)
	}
	if replay != nil {
		t.Errorf("a refusal answered a replay %+v", replay)
	}
	refuse := errors.New("a refusal of the Build's own")
	_, _, err = e.post(e.postReq("bob", []string{a.ID}, month, nil, nil, func(*app.State, ledger.Actor) (*ledger.Booking, error) {
		return nil, refuse
	}))
	if !errors.Is(err, refuse) {
		t.Errorf("a Build's own error came back as %v", err)
	}

	e.wantBalance(a.ID, "50", "0")
	e.wantBalance(b.ID, "0", "0")
	if n := len(e.checkBooks(a.ID)); n != 1 {
		t.Errorf("Poor has %d lines after two refusals", n)
	}
	if n := len(e.checkBooks(b.ID)); n != 0 {
		t.Errorf("Rich has %d lines after two refusals", n)
	}
	if n := len(e.transactions(app.TransactionFilter{AccountID: a.ID})); n != 1 {
		t.Errorf("Poor lists %d transactions after two refusals", n)
	}
	if n := len(e.audit(app.AuditFilter{})); n != audits {
		t.Errorf("the audit trail grew from %d to %d records on refusals", audits, n)
	}
}

// testBuildGetsCopies: a Build that changes the state it is given changes
// nothing the store holds; the state holds what the request named: its
// accounts, the transaction and the accounts of its lines, the period of
// the month asked for (open when nobody closed it), and the time.
func testBuildGetsCopies(e *env) {
	t := e.t
	a := e.account("Copied", "EUR", "100.00")
	b := e.account("Copied Too", "EUR", "")
	tr := e.mustPost(e.transferReq("bob", a.ID, b.ID, "10.00", nil))
	vandal := func(st *app.State) {
		for _, acc := range st.Accounts {
			acc.Balance, acc.Name, acc.Status = dec(t, "1000000"), "Vandalised", ledger.StatusClosed
			if len(acc.Members) > 0 {
				acc.Members[0] = "mallory"
			}
		}
		if st.Transaction != nil {
			st.Transaction.Status = ledger.TxnReversed
			if len(st.Transaction.Lines) > 0 {
				st.Transaction.Lines[0].Amount = dec(t, "999")
			}
		}
		if st.Period != nil {
			st.Period.ClosingAt = time.Now()
		}
	}
	var seen app.State
	_, _, err := e.post(app.PostRequest{
		Tenant: e.tenant, Caller: "bob", TransactionID: tr.ID, MonthOfTransaction: true,
		Build: func(st *app.State) (*app.Commit, error) {
			seen = *st
			seen.Accounts = map[string]*ledger.Account{}
			for id, acc := range st.Accounts {
				cp := *acc
				seen.Accounts[id] = &cp
			}
			if st.Transaction != nil {
				cp := *st.Transaction
				seen.Transaction = &cp
			}
			if st.Period != nil {
				cp := *st.Period
				seen.Period = &cp
			}
			vandal(st)
			return nil, ledger.Errorf(ledger.EConflict, "refused after changing the state")
		},
	})
	wantCode(t, err, ledger.EConflict)
	if len(seen.Accounts) != 2 || seen.Accounts[a.ID] == nil || seen.Accounts[b.ID] == nil ||
		!seen.Accounts[a.ID].Balance.Equal(dec(t, "90")) {
		t.Errorf("Build saw accounts %v; want both accounts of the transaction, Copied at 90", seen.Accounts)
	}
	if seen.Transaction == nil || seen.Transaction.ID != tr.ID || seen.Transaction.Status != ledger.TxnPosted {
		t.Errorf("Build saw transaction %+v; want %s posted", seen.Transaction, tr.ID)
	}
	if seen.Period == nil || seen.Period.Month != month || seen.Period.StatusAt(seen.Now) != ledger.PeriodOpen {
		t.Errorf("Build saw period %+v; want %s open", seen.Period, month)
	}
	if seen.Now.IsZero() {
		t.Error("Build saw no time")
	}
	// No month asked for: no period.
	_, _, err = e.post(e.rejectReq("bob", tr.ID, "", nil, func(st *app.State) {
		if st.Period != nil {
			t.Errorf("a request without a month saw period %+v", st.Period)
		}
		vandal(st)
	}))
	wantCode(t, err, ledger.EConflict) // not pending
	if got := e.get(a.ID); got.Name != "Copied" || got.Status != ledger.StatusActive || !got.Balance.Equal(dec(t, "90")) || got.Members[0] != creator {
		t.Errorf("a Build changed the stored account: %+v", got)
	}
	if got := e.txn(tr.ID); got.Status != ledger.TxnPosted || !got.Lines[0].Amount.Equal(dec(t, "10")) {
		t.Errorf("a Build changed the stored transaction: %+v", got)
	}
	ps, err := e.st.ListPeriods(e.ctx, e.tenant)
	if err != nil || len(ps) != 0 {
		t.Errorf("a Build closed a period: %+v, %v", ps, err)
	}
	// The transaction a posting answers is the caller's own copy too.
	tr.Lines[0].Amount, tr.Status = dec(t, "1"), ledger.TxnReversed
	if got := e.txn(tr.ID); got.Status != ledger.TxnPosted || !got.Lines[0].Amount.Equal(dec(t, "10")) {
		t.Errorf("changing Post's answer changed the store: %+v", got)
	}
}

// testAccountIDsMayRepeat: PostRequest.AccountIDs may name an account
// twice, or an account of the transaction it acts on ("when TransactionID
// is set, the accounts of its lines are loaded as well"): each account is
// loaded once and the posting goes through.
func testAccountIDsMayRepeat(e *env) {
	t := e.t
	a := e.account("Repeated", "EUR", "100.00")
	b := e.account("Repeated Too", "EUR", "")
	tr := e.mustPost(e.transferReq("bob", a.ID, b.ID, "10.00", nil))
	twice := e.entryReq("bob", a.ID, ledger.Credit, "1.00", nil)
	twice.AccountIDs = []string{a.ID, a.ID}
	if _, _, err := e.post(twice); err != nil {
		t.Errorf("a posting naming its account twice: %v", err)
	}
	withTxn := e.reverseReq("bob", tr.ID, nil, nil)
	withTxn.AccountIDs = []string{b.ID}
	if _, _, err := e.post(withTxn); err != nil {
		t.Errorf("a reversal that also names an account of the transaction: %v", err)
	}
	e.wantBalance(a.ID, "101", "0")
	e.wantBalance(b.ID, "0", "0")
	if m, err := e.st.GetAccounts(e.ctx, e.tenant, []string{a.ID, b.ID, a.ID}); err != nil || len(m) != 2 {
		t.Errorf("GetAccounts naming an account twice: %d accounts, %v; want both accounts", len(m), err)
	}
}

// testIdempotentPost: the same key and request replay the first answer
// without running Build; another request with the key is refused; keys are
// per caller and tenant; a refused request stored nothing, so its key runs
// again; a replay names the step its request made, whatever came after.
func testIdempotentPost(e *env) {
	t := e.t
	a := e.account("Idem From", "EUR", "100.00")
	b := e.account("Idem To", "EUR", "")
	key := &app.Idempotency{Key: "pay-0001", RequestHash: "hash-1"}
	first := e.mustPost(e.transferReq("bob", a.ID, b.ID, "10.00", key))

	var calls atomic.Int32
	repeat := e.transferReq("bob", a.ID, b.ID, "10.00", key)
	inner := repeat.Build
	repeat.Build = func(st *app.State) (*app.Commit, error) { calls.Add(1); return inner(st) }
	txn, replay, err := e.post(repeat)
	if err != nil || txn != nil || replay == nil || replay.ResourceID != first.ID || replay.Step != ledger.StepCreated {
		t.Fatalf("the repeat: txn %v replay %+v, %v; want a replay of %s", txn, replay, err, first.ID)
	}
	reuse := e.transferReq("bob", a.ID, b.ID, "99.00", &app.Idempotency{Key: key.Key, RequestHash: "hash-2"})
	inner2 := reuse.Build
	reuse.Build = func(st *app.State) (*app.Commit, error) { calls.Add(1); return inner2(st) }
	txn, replay, err = e.post(reuse)
	wantCode(t, err, ledger.EIdempotencyKeyReuse)
	if txn != nil || replay != nil {
		t.Errorf("key reuse answered txn %v replay %+v", txn, replay)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("a replay and a key reuse ran Build %d times", n)
	}
	e.wantBalance(b.ID, "10", "0")

	// Keys are per caller and per tenant.
	daves := e.mustPost(e.transferReq("dave", a.ID, b.ID, "10.00", key))
	if daves.ID == first.ID {
		t.Error("dave's key replayed bob's posting")
	}
	if _, replay, err := e.post(e.transferReq("bob", a.ID, b.ID, "10.00", key)); err != nil || replay == nil || replay.ResourceID != first.ID {
		t.Errorf("bob's replay after dave's posting: %+v, %v", replay, err)
	}
	o := e.other()
	oa, ob := o.account("Idem From", "EUR", "100.00"), o.account("Idem To", "EUR", "")
	if ot := o.mustPost(o.transferReq("bob", oa.ID, ob.ID, "10.00", key)); ot.ID == first.ID {
		t.Error("another tenant's key replayed this tenant's posting")
	}

	// A refused request stored nothing: the same key runs again.
	again := &app.Idempotency{Key: "pay-0002", RequestHash: "hash-3"}
	_, _, err = e.post(e.transferReq("bob", a.ID, b.ID, "500.00", again))
	wantCode(t, err, ledger.EInsufficientFunds)
	if txn := e.mustPost(e.transferReq("bob", a.ID, b.ID, "5.00", again)); txn == nil {
		t.Error("the key of a refused request did not run again")
	}
	e.wantBalance(a.ID, "75", "0")
	e.wantBalance(b.ID, "25", "0")
	e.checkBooks(a.ID)
	e.checkBooks(b.ID)

	// One key names one request, whatever the operation: a key that
	// created an account, or closed a period, is not free for a posting.
	shared := &app.Idempotency{Key: "shared-key", RequestHash: "hash-create"}
	if _, _, err := e.create(creator, ledger.NewAccountInput{Name: "Shared Key", Kind: ledger.KindCash, Currency: "EUR"}, shared); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.post(e.entryReq(creator, a.ID, ledger.Credit, "1.00", &app.Idempotency{Key: shared.Key, RequestHash: "hash-post"}))
	wantCode(t, err, ledger.EIdempotencyKeyReuse)
	now := e.clock.tick()
	closeKey := &app.Idempotency{Key: "close-key", RequestHash: "hash-close"}
	if _, _, err := e.st.ClosePeriod(e.ctx, e.tenant, ledger.Period{Month: "2090-01", ClosingAt: now, ClosedBy: creator}, closeKey, creator,
		ledger.NewAuditRecord(e.caller(creator), now, ledger.ActionPeriodClosed, "period", "2090-01", nil, nil)); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.post(e.entryReq(creator, a.ID, ledger.Credit, "1.00", &app.Idempotency{Key: closeKey.Key, RequestHash: "hash-post"}))
	wantCode(t, err, ledger.EIdempotencyKeyReuse)
	e.wantBalance(a.ID, "75", "0")

	// A replay names its own step, after the transaction moved on.
	limited := e.mustCreate(ledger.NewAccountInput{Name: "Limited", Kind: ledger.KindCash, Currency: "EUR",
		OpeningBalance: strp("100.00"), ApprovalThreshold: strp("50.00")})
	wKey := &app.Idempotency{Key: "withdraw-1", RequestHash: "hash-w"}
	w := e.mustPost(e.withdrawalReq(creator, limited.ID, "60.00", wKey))
	aKey := &app.Idempotency{Key: "approve-1", RequestHash: "hash-a"}
	if _, _, err := e.post(e.approveReq("bob", w.ID, aKey, nil)); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if _, replay, err := e.post(e.withdrawalReq(creator, limited.ID, "60.00", wKey)); err != nil || replay == nil ||
		replay.ResourceID != w.ID || replay.Step != ledger.StepCreated {
		t.Errorf("the withdrawal's replay after its approval: %+v, %v; want %s at step created", replay, err, w.ID)
	}
	if _, replay, err := e.post(e.approveReq("bob", w.ID, aKey, nil)); err != nil || replay == nil ||
		replay.ResourceID != w.ID || replay.Step != ledger.StepApproved {
		t.Errorf("the approval's replay: %+v, %v; want %s at step approved", replay, err, w.ID)
	}
	e.wantBalance(limited.ID, "40", "0")
}

// testApproveAndReject: a withdrawal at the threshold waits with its amount
// held; approving posts it (Replaces pending), rejecting releases it, and
// either on a transaction no longer pending is refused by the domain.
func testApproveAndReject(e *env) {
	t := e.t
	acc := e.mustCreate(ledger.NewAccountInput{Name: "Four Eyes", Kind: ledger.KindCash, Currency: "EUR",
		OpeningBalance: strp("200.00"), ApprovalThreshold: strp("50.00")})
	w := e.mustPost(e.withdrawalReq(creator, acc.ID, "80.00", nil))
	if w.Status != ledger.TxnPending || !w.PostedAt.IsZero() {
		t.Errorf("a withdrawal at the threshold answered %s posted at %v; want pending", w.Status, w.PostedAt)
	}
	e.wantBalance(acc.ID, "200", "80")
	if a := e.get(acc.ID); !a.Available().Equal(dec(t, "120")) {
		t.Errorf("available %s while 80 is held, want 120", a.Available())
	}
	if n := len(e.checkBooks(acc.ID)); n != 1 {
		t.Errorf("a pending withdrawal added a history line (%d lines)", n)
	}
	if got := e.txn(w.ID); got.Status != ledger.TxnPending || got.InitialStatus != ledger.TxnPending {
		t.Errorf("the withdrawal reads back %s/%s, want pending", got.Status, got.InitialStatus)
	}

	var seen *app.State
	approved, _, err := e.post(e.approveReq("bob", w.ID, nil, func(st *app.State) { cp := *st; seen = &cp }))
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if seen == nil || seen.Transaction == nil || seen.Accounts[acc.ID] == nil || seen.Period == nil || seen.Period.Month != month {
		t.Errorf("approve's Build saw %+v; want the transaction, its account and the period of its value date", seen)
	}
	got := e.txn(w.ID)
	if approved.Status != ledger.TxnPosted || got.Status != ledger.TxnPosted || got.ApprovedBy != "bob" || got.PostedBy != "bob" ||
		got.ApprovedAt.IsZero() || got.CreatedBy != creator || got.InitialStatus != ledger.TxnPending {
		t.Errorf("approved withdrawal reads back %+v", got)
	}
	e.wantBalance(acc.ID, "120", "0")
	lines := e.checkBooks(acc.ID)
	if len(lines) != 2 || lines[1].TransactionID != w.ID || lines[1].Kind != ledger.TxnWithdrawal || !lines[1].BalanceAfter.Equal(dec(t, "120")) {
		t.Errorf("history after the approval %+v", lines)
	}
	_, _, err = e.post(e.approveReq("bob", w.ID, nil, nil))
	wantCode(t, err, ledger.EConflict)

	w2 := e.mustPost(e.withdrawalReq(creator, acc.ID, "100.00", nil))
	e.wantBalance(acc.ID, "120", "100")
	if _, _, err := e.post(e.rejectReq("bob", w2.ID, "not needed", nil, nil)); err != nil {
		t.Fatalf("reject: %v", err)
	}
	got = e.txn(w2.ID)
	if got.Status != ledger.TxnRejected || got.RejectedBy != "bob" || got.Reason != "not needed" || got.RejectedAt.IsZero() {
		t.Errorf("rejected withdrawal reads back %+v", got)
	}
	e.wantBalance(acc.ID, "120", "0")
	if n := len(e.checkBooks(acc.ID)); n != 2 {
		t.Errorf("a rejection added a history line (%d lines)", n)
	}
	_, _, err = e.post(e.rejectReq("bob", w2.ID, "again", nil, nil))
	wantCode(t, err, ledger.EConflict)
	_, _, err = e.post(e.approveReq("bob", ledger.NewID(ledger.TransactionPrefix, time.Now()), nil, nil))
	wantCode(t, err, ledger.ENotFound)
}

// testReplacesIsConditional: a commit that replaces a transaction lands only
// if the stored one still has the status Replaces names. Here a competing
// write rejects the withdrawal (without touching its account) while the
// approval is being built: the approval must not overwrite it; built again
// on what is stored, it is refused as not pending.
func testReplacesIsConditional(e *env) {
	t := e.t
	acc := e.mustCreate(ledger.NewAccountInput{Name: "Raced", Kind: ledger.KindCash, Currency: "EUR",
		OpeningBalance: strp("200.00"), ApprovalThreshold: strp("50.00")})
	w := e.mustPost(e.withdrawalReq(creator, acc.ID, "80.00", nil))
	var builds atomic.Int32
	_, _, err := e.post(e.approveReq("bob", w.ID, nil, func(*app.State) {
		if builds.Add(1) == 1 {
			if _, _, err := e.post(e.forceStatusReq(w.ID, ledger.TxnPending, ledger.TxnRejected)); err != nil {
				t.Fatalf("the competing write: %v", err)
			}
		}
	}))
	wantCode(t, err, ledger.EConflict)
	if got := e.txn(w.ID); got.Status != ledger.TxnRejected || got.RejectedBy != "carol" || got.ApprovedBy != "" {
		t.Errorf("the withdrawal is %s (approved by %q); the approval overwrote the competing rejection", got.Status, got.ApprovedBy)
	}
	e.wantBalance(acc.ID, "200", "80")
	if n := len(e.checkBooks(acc.ID)); n != 1 {
		t.Errorf("the refused approval left %d history lines", n)
	}
	if recs := e.audit(app.AuditFilter{Action: ledger.ActionTransactionApproved}); len(recs) != 0 {
		t.Errorf("the refused approval left %d audit records", len(recs))
	}
	if n := builds.Load(); n < 2 {
		t.Logf("the store refused without building again (%d builds)", n)
	}
}

// testReversal: a reversal books the mirrored lines and marks the original
// reversed; twice is already-reversed; a reversal cannot be reversed.
func testReversal(e *env) {
	t := e.t
	a := e.account("Rev From", "RON", "100.00")
	b := e.account("Rev To", "RON", "")
	tr := e.mustPost(e.transferReq("bob", a.ID, b.ID, "40.00", nil))
	rev := e.mustPost(e.reverseReq("bob", tr.ID, nil, nil))
	if rev.Kind != ledger.TxnReversal || rev.Reverses != tr.ID || rev.ReversesKind != ledger.TxnTransfer || len(rev.Lines) != 2 ||
		rev.Lines[0].AccountID != a.ID || rev.Lines[0].Type != ledger.Credit || rev.Lines[1].Type != ledger.Debit {
		t.Errorf("the reversal %+v; want the transfer's lines mirrored", rev)
	}
	if got := e.txn(rev.ID); got.Reverses != tr.ID || got.ReversesKind != ledger.TxnTransfer || got.Reason != "mistake" {
		t.Errorf("the reversal reads back %+v", got)
	}
	if got := e.txn(tr.ID); got.Status != ledger.TxnReversed || got.ReversedBy != rev.ID {
		t.Errorf("the original reads back %s reversed by %q; want reversed by %s", got.Status, got.ReversedBy, rev.ID)
	}
	e.wantBalance(a.ID, "100", "0")
	e.wantBalance(b.ID, "0", "0")
	if n := len(e.checkBooks(a.ID)); n != 3 {
		t.Errorf("Rev From has %d lines, want 3", n)
	}
	if n := len(e.checkBooks(b.ID)); n != 2 {
		t.Errorf("Rev To has %d lines, want 2", n)
	}
	_, _, err := e.post(e.reverseReq("bob", tr.ID, nil, nil))
	wantCode(t, err, ledger.EAlreadyReversed)
	_, _, err = e.post(e.reverseReq("bob", rev.ID, nil, nil))
	wantCode(t, err, ledger.EConflict)
	e.wantBalance(a.ID, "100", "0")
}

// testReversedIsConditional: the original is marked reversed only if it is
// still posted. A competing write marks it reversed while the reversal is
// being built: the reversal must not land; built again, already-reversed.
func testReversedIsConditional(e *env) {
	t := e.t
	a := e.account("Twice From", "RON", "100.00")
	b := e.account("Twice To", "RON", "")
	tr := e.mustPost(e.transferReq("bob", a.ID, b.ID, "40.00", nil))
	var builds atomic.Int32
	_, _, err := e.post(e.reverseReq("bob", tr.ID, nil, func(*app.State) {
		if builds.Add(1) == 1 {
			if _, _, err := e.post(e.forceStatusReq(tr.ID, ledger.TxnPosted, ledger.TxnReversed)); err != nil {
				t.Fatalf("the competing write: %v", err)
			}
		}
	}))
	wantCode(t, err, ledger.EAlreadyReversed)
	e.wantBalance(a.ID, "60", "0")
	e.wantBalance(b.ID, "40", "0")
	if n := len(e.checkBooks(a.ID)); n != 2 {
		t.Errorf("the refused reversal left %d lines on Twice From", n)
	}
	if n := len(e.transactions(app.TransactionFilter{AccountID: a.ID, Kind: ledger.TxnReversal})); n != 0 {
		t.Errorf("the refused reversal is listed %d times", n)
	}
}

// testUpdateAccount: fn works on a copy; without an audit record nothing is
// written; with one the change lands with its record, a rename releases the
// old name (and a new code the old code), and a taken name is refused.
func testUpdateAccount(e *env) {
	t := e.t
	acc := e.mustCreate(ledger.NewAccountInput{Name: "Old Name", Code: "OLD-1", Kind: ledger.KindCash, Currency: "EUR", OpeningBalance: strp("10.00")})
	audits := len(e.audit(app.AuditFilter{}))

	var saw ledger.Account
	_, err := e.st.UpdateAccount(e.ctx, e.tenant, acc.ID, func(a *ledger.Account) (*ledger.AuditRecord, error) {
		saw = *a
		a.Name, a.Balance, a.Status = "Changed Silently", dec(t, "999"), ledger.StatusClosed
		a.Members[0] = "mallory"
		return nil, nil
	})
	if err != nil {
		t.Fatalf("an update that changes nothing: %v", err)
	}
	if saw.ID != acc.ID || saw.Name != "Old Name" || saw.Version != 1 || !saw.Balance.Equal(dec(t, "10")) {
		t.Errorf("fn saw %+v; want the stored account", saw)
	}
	refusal := ledger.Errorf(ledger.EForbidden, "not allowed")
	_, err = e.st.UpdateAccount(e.ctx, e.tenant, acc.ID, func(a *ledger.Account) (*ledger.AuditRecord, error) {
		a.Name = "Changed Then Refused"
		return nil, refusal
	})
	if !errors.Is(err, refusal) {
		t.Errorf("fn's refusal came back as %v", err)
	}
	if got := e.get(acc.ID); got.Name != "Old Name" || got.Version != 1 || got.Status != ledger.StatusActive ||
		!got.Balance.Equal(dec(t, "10")) || got.Members[0] != creator {
		t.Errorf("an update without an audit record wrote %+v", got)
	}
	if n := len(e.audit(app.AuditFilter{})); n != audits {
		t.Errorf("updates that wrote nothing added %d audit records", n-audits)
	}

	renamed := e.mustPatch(acc.ID, ledger.AccountPatch{Name: strp("New Name"), Code: strp("NEW-1")})
	if renamed.Name != "New Name" || renamed.Version != 2 {
		t.Errorf("rename answered %q version %d", renamed.Name, renamed.Version)
	}
	if got := e.get(acc.ID); got.Name != "New Name" || got.Code != "NEW-1" || got.Version != 2 || !got.Balance.Equal(dec(t, "10")) {
		t.Errorf("after the rename the account reads %+v", got)
	}
	recs := e.audit(app.AuditFilter{Action: ledger.ActionAccountUpdated})
	if len(recs) != 1 || recs[0].TargetID != acc.ID || len(recs[0].Changes) != 2 || recs[0].Changes[0].Field != "name" ||
		fmt.Sprint(recs[0].Changes[0].Old) != "Old Name" || fmt.Sprint(recs[0].Changes[0].New) != "New Name" {
		t.Errorf("the rename's audit records %+v", recs)
	}
	// The old name and code are free, the new ones taken.
	freed := e.mustCreate(ledger.NewAccountInput{Name: "old name", Code: "old-1", Kind: ledger.KindCash, Currency: "EUR"})
	_, _, err = e.create(creator, ledger.NewAccountInput{Name: "NEW NAME", Kind: ledger.KindCash, Currency: "EUR"}, nil)
	wantCode(t, err, ledger.EConflict)
	_, _, err = e.create(creator, ledger.NewAccountInput{Name: "Another", Code: "new-1", Kind: ledger.KindCash, Currency: "EUR"}, nil)
	wantCode(t, err, ledger.EConflict)

	// A rename onto a taken name, or a code onto a taken code, is refused
	// and changes nothing.
	_, err = e.patch(freed.ID, ledger.AccountPatch{Name: strp("new NAME")})
	wantMessage(t, err, ledger.EConflict, `An account named "new NAME" already exists.`)
	_, err = e.patch(freed.ID, ledger.AccountPatch{Code: strp("New-1")})
	wantMessage(t, err, ledger.EConflict, `An account with code "New-1" already exists.`)
	if got := e.get(freed.ID); got.Name != "old name" || got.Code != "old-1" || got.Version != 1 {
		t.Errorf("refused renames left %+v", got)
	}
	// A rename that only changes case keeps its name; clearing a code frees it.
	e.mustPatch(acc.ID, ledger.AccountPatch{Name: strp("NEW name"), Code: strp("")})
	if got := e.get(acc.ID); got.Name != "NEW name" || got.Code != "" || got.Version != 3 {
		t.Errorf("after a case rename: %+v", got)
	}
	_, _, err = e.create(creator, ledger.NewAccountInput{Name: "new name", Kind: ledger.KindCash, Currency: "EUR"}, nil)
	wantCode(t, err, ledger.EConflict)
	e.mustCreate(ledger.NewAccountInput{Name: "Code Taker", Code: "NEW-1", Kind: ledger.KindCash, Currency: "EUR"})

	called := false
	_, err = e.st.UpdateAccount(e.ctx, e.tenant, ledger.NewID(ledger.AccountPrefix, time.Now()), func(*ledger.Account) (*ledger.AuditRecord, error) {
		called = true
		return nil, nil
	})
	wantCode(t, err, ledger.ENotFound)
	o := e.other()
	_, err = o.st.UpdateAccount(o.ctx, o.tenant, acc.ID, func(*ledger.Account) (*ledger.AuditRecord, error) {
		called = true
		return nil, nil
	})
	wantCode(t, err, ledger.ENotFound)
	if called {
		t.Error("fn ran for an account that is not there")
	}
}

// testListAccounts: filters, the member filter decided by each account's own
// members, paging that returns every item once and ends, and cursors bound
// to their tenant and query.
func testListAccounts(e *env) {
	t := e.t
	mk := func(name, kind, ccy string, members ...string) *ledger.Account {
		return e.mustCreate(ledger.NewAccountInput{Name: name, Kind: kind, Currency: ccy, Members: members})
	}
	a1 := mk("One", ledger.KindCash, "RON", "alice", "bob")
	a2 := mk("Two", ledger.KindCash, "EUR", "alice")
	a3 := mk("Three", ledger.KindBank, "RON", "carol")
	a4 := mk("Four", ledger.KindWallet, "USD", "alice", "bob")
	a5 := mk("Five", ledger.KindBudget, "RON", "bob")
	a6 := mk("Six", ledger.KindCash, "RON", "alice")
	a7 := mk("Seven", ledger.KindCash, "RON", "alice", "carol")
	e.mustPatch(a6.ID, ledger.AccountPatch{Status: strp(ledger.StatusFrozen)})
	all := []string{a1.ID, a2.ID, a3.ID, a4.ID, a5.ID, a6.ID, a7.ID}

	for _, limit := range []int{1, 2, 3, 7, 50} {
		if got := accountIDs(e.accounts(app.AccountFilter{Limit: limit})); !sameSet(got, all) {
			t.Errorf("pages of %d list %v; want every account once", limit, got)
		}
	}
	for _, c := range []struct {
		f    app.AccountFilter
		want []string
	}{
		{app.AccountFilter{Member: "bob", Limit: 1}, []string{a1.ID, a4.ID, a5.ID}},
		{app.AccountFilter{Member: "carol", Limit: 2}, []string{a3.ID, a7.ID}},
		{app.AccountFilter{Member: "nobody"}, nil},
		{app.AccountFilter{Status: ledger.StatusFrozen}, []string{a6.ID}},
		{app.AccountFilter{Status: ledger.StatusActive, Limit: 2}, []string{a1.ID, a2.ID, a3.ID, a4.ID, a5.ID, a7.ID}},
		{app.AccountFilter{Kind: ledger.KindBank}, []string{a3.ID}},
		{app.AccountFilter{Currency: "USD"}, []string{a4.ID}},
		{app.AccountFilter{Member: "alice", Currency: "RON", Limit: 1}, []string{a1.ID, a6.ID, a7.ID}},
	} {
		if got := accountIDs(e.accounts(c.f)); !sameSet(got, c.want) {
			t.Errorf("ListAccounts %+v = %v, want %v", c.f, got, c.want)
		}
	}

	// Each account's own members decide.
	e.mustPatch(a1.ID, ledger.AccountPatch{MembersSet: true, Members: []string{"alice"}})
	e.mustPatch(a2.ID, ledger.AccountPatch{MembersSet: true, Members: []string{"alice", "dave"}})
	if got := accountIDs(e.accounts(app.AccountFilter{Member: "bob"})); !sameSet(got, []string{a4.ID, a5.ID}) {
		t.Errorf("bob's accounts after his removal from One: %v", got)
	}
	if got := accountIDs(e.accounts(app.AccountFilter{Member: "dave"})); !sameSet(got, []string{a2.ID}) {
		t.Errorf("dave's accounts after he was added to Two: %v", got)
	}

	// Cursors are bound to their tenant and query.
	f := app.AccountFilter{Member: "alice", Limit: 1}
	first, err := e.st.ListAccounts(e.ctx, e.tenant, f)
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	cur := first.NextCursor
	o := e.other()
	for _, c := range []struct {
		name   string
		tenant string
		f      app.AccountFilter
	}{
		{"another member", e.tenant, app.AccountFilter{Member: "bob", Limit: 1, Cursor: cur}},
		{"no member", e.tenant, app.AccountFilter{Limit: 1, Cursor: cur}},
		{"another status", e.tenant, app.AccountFilter{Member: "alice", Status: ledger.StatusActive, Limit: 1, Cursor: cur}},
		{"another tenant", o.tenant, app.AccountFilter{Member: "alice", Limit: 1, Cursor: cur}},
		{"edited", e.tenant, app.AccountFilter{Member: "alice", Limit: 1, Cursor: edit(cur)}},
		{"truncated", e.tenant, app.AccountFilter{Member: "alice", Limit: 1, Cursor: cur[:len(cur)-3]}},
		{"made up", e.tenant, app.AccountFilter{Member: "alice", Limit: 1, Cursor: "bm90IGEgY3Vyc29y"}},
	} {
		page, err := e.st.ListAccounts(e.ctx, c.tenant, c.f)
		if ledger.ErrorCode(err) != ledger.EMalformed {
			t.Errorf("a cursor used for %s: %d items, %v; want malformed", c.name, len(page.Items), err)
		}
	}
	if page, err := e.st.ListAccounts(e.ctx, e.tenant, app.AccountFilter{Member: "alice", Limit: 1, Cursor: cur}); err != nil ||
		(len(page.Items) == 1 && page.Items[0].ID == first.Items[0].ID) {
		t.Errorf("the cursor for its own query: %v, %v", accountIDs(page.Items), err)
	}
}

// history7 posts credits of 1..7 on a new account, one per tick.
func history7(e *env) (*ledger.Account, []*ledger.Transaction) {
	acc := e.account("Paged", "EUR", "")
	var txns []*ledger.Transaction
	for i := 1; i <= 7; i++ {
		txns = append(txns, e.mustPost(e.entryReq("bob", acc.ID, ledger.Credit, fmt.Sprintf("%d.00", i), nil)))
	}
	return acc, txns
}

// testHistoryPaging: pages of 3 return every line once, in order, both ways;
// from and to cut on posted_at, both ends included; cursors are bound to
// their account, order, range and tenant.
func testHistoryPaging(e *env) {
	t := e.t
	acc, txns := history7(e)
	other := e.account("Other Paged", "EUR", "5.00")
	asc := e.history(acc.ID, app.HistoryFilter{Limit: 3})
	if seqs(asc) != "[1 2 3 4 5 6 7]" {
		t.Errorf("ascending pages of 3: seqs %s", seqs(asc))
	}
	for i, l := range asc {
		if i < len(txns) && (l.TransactionID != txns[i].ID || !l.Amount.Equal(dec(t, fmt.Sprint(i+1))) || !l.PostedAt.Equal(txns[i].PostedAt)) {
			t.Errorf("line %d is %+v; want %s of %d.00", i+1, l, txns[i].ID, i+1)
		}
	}
	if desc := e.history(acc.ID, app.HistoryFilter{Limit: 3, Descending: true}); seqs(desc) != "[7 6 5 4 3 2 1]" {
		t.Errorf("descending pages of 3: seqs %s", seqs(desc))
	}
	e.checkBooks(acc.ID)
	from, to := txns[2].PostedAt, txns[4].PostedAt
	if got := e.history(acc.ID, app.HistoryFilter{From: from, To: to, Limit: 2}); seqs(got) != "[3 4 5]" {
		t.Errorf("from %v to %v: seqs %s, want [3 4 5]", from, to, seqs(got))
	}
	if got := e.history(acc.ID, app.HistoryFilter{From: from.Add(time.Millisecond), Descending: true, Limit: 2}); seqs(got) != "[7 6 5 4]" {
		t.Errorf("from just after line 3, descending: seqs %s, want [7 6 5 4]", seqs(got))
	}
	if got := e.history(acc.ID, app.HistoryFilter{To: from.Add(-time.Millisecond)}); seqs(got) != "[1 2]" {
		t.Errorf("to just before line 3: seqs %s, want [1 2]", seqs(got))
	}
	if got := e.history(ledger.NewID(ledger.AccountPrefix, time.Now()), app.HistoryFilter{}); len(got) != 0 {
		t.Errorf("an unknown account has %d lines", len(got))
	}

	first, err := e.st.History(e.ctx, e.tenant, acc.ID, app.HistoryFilter{Limit: 3})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	cur := first.NextCursor
	o := e.other()
	for _, c := range []struct {
		name, tenant, account string
		f                     app.HistoryFilter
	}{
		{"another account", e.tenant, other.ID, app.HistoryFilter{}},
		{"another tenant", o.tenant, acc.ID, app.HistoryFilter{}},
		{"another order", e.tenant, acc.ID, app.HistoryFilter{Descending: true}},
		{"another range", e.tenant, acc.ID, app.HistoryFilter{From: from}},
		{"edited", e.tenant, acc.ID, app.HistoryFilter{Cursor: edit(cur)}},
	} {
		f := c.f
		f.Limit = 3
		if f.Cursor == "" {
			f.Cursor = cur
		}
		page, err := e.st.History(e.ctx, c.tenant, c.account, f)
		if ledger.ErrorCode(err) != ledger.EMalformed {
			t.Errorf("a history cursor used for %s: %d items, %v; want malformed", c.name, len(page.Items), err)
		}
	}
	txPage, err := e.st.ListTransactions(e.ctx, e.tenant, app.TransactionFilter{AccountID: acc.ID, Limit: 2})
	if err != nil || txPage.NextCursor == "" {
		t.Fatalf("ListTransactions: %v, cursor %q", err, txPage.NextCursor)
	}
	if _, err := e.st.History(e.ctx, e.tenant, acc.ID, app.HistoryFilter{Limit: 3, Cursor: txPage.NextCursor}); ledger.ErrorCode(err) != ledger.EMalformed {
		t.Errorf("a transaction list's cursor on the history: %v; want malformed", err)
	}
}

// testBalanceAt: balance_after of the last line at or before the moment,
// zero before the first.
func testBalanceAt(e *env) {
	t := e.t
	acc, txns := history7(e)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{txns[0].PostedAt.Add(-time.Second), "0"},
		{txns[0].PostedAt, "1"},
		{txns[1].PostedAt, "3"},
		{txns[1].PostedAt.Add(500 * time.Millisecond), "3"},
		{txns[6].PostedAt.Add(-time.Millisecond), "21"},
		{txns[6].PostedAt, "28"},
		{txns[6].PostedAt.Add(24 * time.Hour), "28"},
	} {
		got, err := e.st.BalanceAt(e.ctx, e.tenant, acc.ID, c.at)
		if err != nil || !got.Equal(dec(t, c.want)) {
			t.Errorf("BalanceAt %v = %s, %v; want %s", c.at, got, err, c.want)
		}
	}
	if got, err := e.st.BalanceAt(e.ctx, e.other().tenant, acc.ID, txns[6].PostedAt); err != nil || !got.IsZero() {
		t.Errorf("BalanceAt in another tenant = %s, %v; want 0", got, err)
	}
}

// testListTransactionsPerAccount: an account's transactions newest first,
// each once: its postings, withdrawals waiting or rejected (at their
// creation), approved ones (at their approval); filters by kind and status.
func testListTransactionsPerAccount(e *env) {
	t := e.t
	a := e.mustCreate(ledger.NewAccountInput{Name: "Listed", Kind: ledger.KindCash, Currency: "EUR",
		OpeningBalance: strp("500.00"), ApprovalThreshold: strp("100.00")})
	b := e.account("Listed Too", "EUR", "")
	opening := e.checkBooks(a.ID)[0].TransactionID
	tr := e.mustPost(e.transferReq("bob", a.ID, b.ID, "10.00", nil))
	en := e.mustPost(e.entryReq("bob", a.ID, ledger.Credit, "5.00", nil))
	w1 := e.mustPost(e.withdrawalReq(creator, a.ID, "100.00", nil))
	w2 := e.mustPost(e.withdrawalReq(creator, a.ID, "150.00", nil))
	if _, _, err := e.post(e.rejectReq("bob", w2.ID, "no", nil, nil)); err != nil {
		t.Fatal(err)
	}
	w3 := e.mustPost(e.withdrawalReq(creator, a.ID, "120.00", nil))
	if _, _, err := e.post(e.approveReq("bob", w3.ID, nil, nil)); err != nil {
		t.Fatal(err)
	}
	want := []string{w3.ID, w2.ID, w1.ID, en.ID, tr.ID, opening}
	for _, limit := range []int{1, 2, 4, 100} {
		if got := txnIDs(e.transactions(app.TransactionFilter{AccountID: a.ID, Limit: limit})); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pages of %d: %v; want newest first %v", limit, got, want)
		}
	}
	if got := txnIDs(e.transactions(app.TransactionFilter{AccountID: b.ID})); fmt.Sprint(got) != fmt.Sprint([]string{tr.ID}) {
		t.Errorf("Listed Too's transactions %v; want the transfer", got)
	}
	for _, c := range []struct {
		f    app.TransactionFilter
		want []string
	}{
		{app.TransactionFilter{AccountID: a.ID, Status: ledger.TxnPending}, []string{w1.ID}},
		{app.TransactionFilter{AccountID: a.ID, Status: ledger.TxnRejected}, []string{w2.ID}},
		{app.TransactionFilter{AccountID: a.ID, Kind: ledger.TxnWithdrawal, Limit: 1}, []string{w3.ID, w2.ID, w1.ID}},
		{app.TransactionFilter{AccountID: a.ID, Kind: ledger.TxnWithdrawal, Status: ledger.TxnPosted}, []string{w3.ID}},
		{app.TransactionFilter{AccountID: a.ID, Kind: ledger.TxnEntry}, []string{en.ID}},
		{app.TransactionFilter{AccountID: a.ID, From: tr.PostedAt, To: en.PostedAt}, []string{en.ID, tr.ID}},
	} {
		if got := txnIDs(e.transactions(c.f)); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ListTransactions %+v = %v, want %v", c.f, got, c.want)
		}
	}
	got := e.transactions(app.TransactionFilter{AccountID: a.ID})
	if len(got) == len(want) && (got[1].Status != ledger.TxnRejected || got[2].Status != ledger.TxnPending || got[0].Status != ledger.TxnPosted) {
		t.Errorf("listed statuses %s %s %s; want each transaction as it stands", got[0].Status, got[1].Status, got[2].Status)
	}
	first, err := e.st.ListTransactions(e.ctx, e.tenant, app.TransactionFilter{AccountID: a.ID, Limit: 2})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	for name, f := range map[string]app.TransactionFilter{
		"another account": {AccountID: b.ID, Limit: 2, Cursor: first.NextCursor},
		"another kind":    {AccountID: a.ID, Kind: ledger.TxnEntry, Limit: 2, Cursor: first.NextCursor},
		"edited":          {AccountID: a.ID, Limit: 2, Cursor: edit(first.NextCursor)},
	} {
		if _, err := e.st.ListTransactions(e.ctx, e.tenant, f); ledger.ErrorCode(err) != ledger.EMalformed {
			t.Errorf("a transaction cursor used for %s: %v; want malformed", name, err)
		}
	}
}

// testListTransactionsTenantFilters: the whole tenant's list (which a store
// may serve from an eventually consistent index, so it may lag behind the
// newest postings) never lists a transaction outside its filters: posted
// (or, while not posted, created) within from and to, of the kind and
// status asked for, newest first.
func testListTransactionsTenantFilters(e *env) {
	t := e.t
	a := e.mustCreate(ledger.NewAccountInput{Name: "Tenant Wide", Kind: ledger.KindCash, Currency: "EUR",
		OpeningBalance: strp("500.00"), ApprovalThreshold: strp("100.00")})
	b := e.account("Tenant Wide Too", "EUR", "")
	var txns []*ledger.Transaction
	for _, amt := range []string{"1.00", "2.00", "3.00", "4.00", "5.00"} {
		txns = append(txns, e.mustPost(e.transferReq("bob", a.ID, b.ID, amt, nil)))
	}
	txns = append(txns, e.mustPost(e.withdrawalReq(creator, a.ID, "150.00", nil)))
	at := func(x *ledger.Transaction) time.Time {
		if x.PostedAt.IsZero() {
			return x.CreatedAt
		}
		return x.PostedAt
	}
	from, to := at(txns[2]), at(txns[3])
	for _, f := range []app.TransactionFilter{
		{From: from},
		{To: to},
		{From: from, To: to},
		{From: from, Limit: 1},
		{Kind: ledger.TxnWithdrawal},
		{Status: ledger.TxnPending},
		{Kind: ledger.TxnTransfer, From: from},
	} {
		got := e.transactions(f)
		for i, x := range got {
			switch {
			case !f.From.IsZero() && at(x).Before(f.From),
				!f.To.IsZero() && at(x).After(f.To),
				f.Kind != "" && x.Kind != f.Kind,
				f.Status != "" && x.Status != f.Status:
				t.Errorf("ListTransactions %+v lists %s (%s, %s, at %v), outside its filters", f, x.ID, x.Kind, x.Status, at(x))
			}
			if i > 0 && at(x).After(at(got[i-1])) {
				t.Errorf("ListTransactions %+v: %s (at %v) after %s (at %v): not newest first", f, x.ID, at(x), got[i-1].ID, at(got[i-1]))
			}
		}
	}
}

// testClosePeriod: a closed month turns postings into it away (the Build's
// period check sees it closing), a second close is a conflict, a replay
// answers the stored period, and ListPeriods lists oldest first.
func testClosePeriod(e *env) {
	t := e.t
	acc := e.account("Period", "EUR", "100.00")
	closeReq := func(mon string, idem *app.Idempotency) (*ledger.Period, *app.Replay, error) {
		now := e.clock.tick()
		audit := ledger.NewAuditRecord(e.caller(creator), now, ledger.ActionPeriodClosed, "period", mon, nil,
			[]ledger.Change{{Field: "status", Old: ledger.PeriodOpen, New: ledger.PeriodClosing}})
		return e.st.ClosePeriod(e.ctx, e.tenant, ledger.Period{Month: mon, ClosingAt: now, ClosedBy: creator}, idem, creator, audit)
	}
	key := &app.Idempotency{Key: "close-1", RequestHash: "hash-c"}
	p, replay, err := closeReq(month, key)
	if err != nil || replay != nil || p == nil || p.Month != month || p.ClosedBy != creator || p.ClosingAt.IsZero() {
		t.Fatalf("close: %+v, replay %+v, %v", p, replay, err)
	}
	closingAt := p.ClosingAt

	var seen *ledger.Period
	var seenAt time.Time
	req := e.entryReq("bob", acc.ID, ledger.Credit, "1.00", nil)
	inner := req.Build
	req.Build = func(st *app.State) (*app.Commit, error) {
		if st.Period != nil {
			cp := *st.Period
			seen, seenAt = &cp, st.Now
		}
		return inner(st)
	}
	_, _, err = e.post(req)
	wantCode(t, err, ledger.EPeriodClosed)
	if seen == nil || seen.Month != month || !seen.ClosingAt.Equal(closingAt) || seen.StatusAt(seenAt) != ledger.PeriodClosing {
		t.Errorf("the Build saw period %+v at %v; want %s closing since %v", seen, seenAt, month, closingAt)
	}
	e.wantBalance(acc.ID, "100", "0")

	// Another month takes postings.
	next := e.postReq("bob", []string{acc.ID}, "2090-07", nil, nil, func(st *app.State, a ledger.Actor) (*ledger.Booking, error) {
		return ledger.Entry(st.Accounts[acc.ID], ledger.EntryInput{Type: ledger.Credit, Amount: "2.00", Details: ledger.Details{ValueDate: "2090-07-01"}}, a)
	})
	e.mustPost(next)
	e.wantBalance(acc.ID, "102", "0")

	_, _, err = closeReq(month, nil)
	wantMessage(t, err, ledger.EConflict, "The period 2090-06 is already closing or closed.")
	p, replay, err = closeReq(month, key)
	if err != nil || replay == nil || replay.ResourceID != month || p == nil || !p.ClosingAt.Equal(closingAt) {
		t.Errorf("the close's replay: %+v, replay %+v, %v; want the stored period closing since %v", p, replay, err, closingAt)
	}
	_, _, err = closeReq(month, &app.Idempotency{Key: key.Key, RequestHash: "hash-other"})
	wantCode(t, err, ledger.EIdempotencyKeyReuse)

	if _, _, err := closeReq("2090-04", nil); err != nil {
		t.Fatal(err)
	}
	ps, err := e.st.ListPeriods(e.ctx, e.tenant)
	if err != nil || len(ps) != 2 || ps[0].Month != "2090-04" || ps[1].Month != month || !ps[1].ClosingAt.Equal(closingAt) || ps[1].ClosedBy != creator {
		t.Errorf("ListPeriods = %+v, %v; want 2090-04 then 2090-06", ps, err)
	}
	if recs := e.audit(app.AuditFilter{Action: ledger.ActionPeriodClosed}); len(recs) != 2 {
		t.Errorf("%d period.closed records after two closes, a refusal and a replay", len(recs))
	}

	// Periods are per tenant.
	o := e.other()
	if ps, err := o.st.ListPeriods(o.ctx, o.tenant); err != nil || len(ps) != 0 {
		t.Errorf("another tenant's periods: %+v, %v", ps, err)
	}
	oa := o.account("Period", "EUR", "")
	o.mustPost(o.entryReq("bob", oa.ID, ledger.Credit, "1.00", nil))
}

// testListAudit: the trail newest first, with what each record says, its
// filters, paging, and nothing of another tenant's.
func testListAudit(e *env) {
	t := e.t
	acc := e.account("Audited", "EUR", "")
	en := e.mustPost(e.entryReq("bob", acc.ID, ledger.Credit, "3.00", nil))
	e.mustPatch(acc.ID, ledger.AccountPatch{Name: strp("Audited Too")})
	now := e.clock.tick()
	closeAudit := ledger.NewAuditRecord(e.caller(creator), now, ledger.ActionPeriodClosed, "period", month, nil,
		[]ledger.Change{{Field: "status", Old: ledger.PeriodOpen, New: ledger.PeriodClosing}})
	if _, _, err := e.st.ClosePeriod(e.ctx, e.tenant, ledger.Period{Month: month, ClosingAt: now, ClosedBy: creator}, nil, creator, closeAudit); err != nil {
		t.Fatal(err)
	}
	action := func(rs []*ledger.AuditRecord) []string {
		return ids(rs, func(r *ledger.AuditRecord) string { return r.Action })
	}
	want := "[period.closed account.updated transaction.posted account.created]"
	recs := e.audit(app.AuditFilter{})
	if fmt.Sprint(action(recs)) != want {
		t.Fatalf("the trail %v; want newest first %s", action(recs), want)
	}
	for _, limit := range []int{1, 3} {
		if got := action(e.audit(app.AuditFilter{Limit: limit})); fmt.Sprint(got) != want {
			t.Errorf("pages of %d: %v", limit, got)
		}
	}
	upd, posted, period := recs[1], recs[2], recs[0]
	if upd.Actor != creator || upd.TargetType != "account" || upd.TargetID != acc.ID || fmt.Sprint(upd.AccountIDs) != fmt.Sprint([]string{acc.ID}) ||
		upd.Origin != (ledger.Origin{RequestID: "req-alice", SourceIP: "203.0.113.7", UserAgent: "storetest/1"}) ||
		len(upd.Changes) != 1 || upd.Changes[0].Field != "name" || upd.Changes[0].Old != "Audited" || upd.Changes[0].New != "Audited Too" || upd.ID == "" || upd.At.IsZero() {
		t.Errorf("account.updated reads back %+v", upd)
	}
	if posted.Actor != "bob" || posted.TargetType != "transaction" || posted.TargetID != en.ID || len(posted.Changes) != 0 {
		t.Errorf("transaction.posted reads back %+v", posted)
	}
	if period.TargetType != "period" || period.TargetID != month || len(period.AccountIDs) != 0 || !period.At.Equal(now) {
		t.Errorf("period.closed reads back %+v", period)
	}
	for _, c := range []struct {
		f    app.AuditFilter
		want string
	}{
		{app.AuditFilter{Action: ledger.ActionTransactionPosted}, "[transaction.posted]"},
		{app.AuditFilter{AccountID: acc.ID, Limit: 1}, "[account.updated transaction.posted account.created]"},
		{app.AuditFilter{From: posted.At, To: upd.At}, "[account.updated transaction.posted]"},
		{app.AuditFilter{From: posted.At.Add(time.Millisecond)}, "[period.closed account.updated]"},
		{app.AuditFilter{Action: ledger.ActionTransactionRejected}, "[]"},
	} {
		if got := action(e.audit(c.f)); fmt.Sprint(got) != c.want {
			t.Errorf("ListAudit %+v = %v, want %s", c.f, got, c.want)
		}
	}
	o := e.other()
	if got := o.audit(app.AuditFilter{}); len(got) != 0 {
		t.Errorf("another tenant reads %d of this tenant's audit records", len(got))
	}
	first, err := e.st.ListAudit(e.ctx, e.tenant, app.AuditFilter{Limit: 1})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	if _, err := o.st.ListAudit(o.ctx, o.tenant, app.AuditFilter{Limit: 1, Cursor: first.NextCursor}); ledger.ErrorCode(err) != ledger.EMalformed {
		t.Errorf("an audit cursor in another tenant: %v; want malformed", err)
	}
	if _, err := e.st.ListAudit(e.ctx, e.tenant, app.AuditFilter{Limit: 1, Action: ledger.ActionAccountCreated, Cursor: first.NextCursor}); ledger.ErrorCode(err) != ledger.EMalformed {
		t.Errorf("an audit cursor with another filter: %v; want malformed", err)
	}
}

// testTenantIsolation: another tenant reads and writes nothing of this
// tenant's, whatever ids it names.
func testTenantIsolation(e *env) {
	t := e.t
	a := e.account("Mine", "EUR", "100.00")
	b := e.account("Mine Too", "EUR", "")
	tr := e.mustPost(e.transferReq("bob", a.ID, b.ID, "10.00", nil))
	o := e.other()
	if _, err := o.st.GetAccount(o.ctx, o.tenant, a.ID); ledger.ErrorCode(err) != ledger.ENotFound {
		t.Errorf("GetAccount from another tenant: %v", err)
	}
	if m, err := o.st.GetAccounts(o.ctx, o.tenant, []string{a.ID, b.ID}); err != nil || len(m) != 0 {
		t.Errorf("GetAccounts from another tenant: %v, %v", m, err)
	}
	if _, err := o.st.GetTransaction(o.ctx, o.tenant, tr.ID); ledger.ErrorCode(err) != ledger.ENotFound {
		t.Errorf("GetTransaction from another tenant: %v", err)
	}
	if got := o.history(a.ID, app.HistoryFilter{}); len(got) != 0 {
		t.Errorf("another tenant reads %d history lines", len(got))
	}
	if got := o.accounts(app.AccountFilter{}); len(got) != 0 {
		t.Errorf("another tenant lists %d accounts", len(got))
	}
	if got := o.transactions(app.TransactionFilter{AccountID: a.ID}); len(got) != 0 {
		t.Errorf("another tenant lists %d transactions", len(got))
	}
	saw := -1
	_, _, err := o.post(app.PostRequest{Tenant: o.tenant, Caller: "bob", AccountIDs: []string{a.ID, b.ID}, Month: month,
		Build: func(st *app.State) (*app.Commit, error) {
			saw = len(st.Accounts)
			return nil, ledger.NotFound("Account")
		}})
	wantCode(t, err, ledger.ENotFound)
	if saw != 0 {
		t.Errorf("another tenant's posting saw %d of this tenant's accounts", saw)
	}
	_, _, err = o.post(o.reverseReq("bob", tr.ID, nil, nil))
	wantCode(t, err, ledger.ENotFound)
	e.wantBalance(a.ID, "90", "0")
	e.wantBalance(b.ID, "10", "0")
	if got := e.txn(tr.ID); got.Status != ledger.TxnPosted {
		t.Errorf("the transfer is %s after another tenant's attempts", got.Status)
	}
}

// testHotAccountBalances: a hot account's balance and funds check never lag
// (its history may be numbered after the posting, so only balances are
// checked here).
func testHotAccountBalances(e *env) {
	t := e.t
	hot := e.mustCreate(ledger.NewAccountInput{Name: "Hot Pool", Kind: ledger.KindBudget, Currency: "EUR", OpeningBalance: strp("100.00"), Hot: true})
	plain := e.account("Cold Pool", "EUR", "")
	if got := e.get(hot.ID); !got.Hot || !got.Balance.Equal(dec(t, "100")) {
		t.Errorf("hot account reads back hot=%v balance %s", got.Hot, got.Balance)
	}
	e.mustPost(e.entryReq("bob", hot.ID, ledger.Credit, "50.00", nil))
	e.mustPost(e.transferReq("bob", hot.ID, plain.ID, "30.00", nil))
	_, _, err := e.post(e.transferReq("bob", hot.ID, plain.ID, "120.01", nil))
	wantCode(t, err, ledger.EInsufficientFunds)
	e.wantBalance(hot.ID, "120", "0")
	e.wantBalance(plain.ID, "30", "0")
	if got := e.get(hot.ID); !got.Available().Equal(dec(t, "120")) {
		t.Errorf("hot available %s, want 120", got.Available())
	}
}
