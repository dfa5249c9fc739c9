package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

func hotAccount(t *testing.T, st *Store, tenant, name, opening, overdraft string) *ledger.Account {
	t.Helper()
	in := ledger.NewAccountInput{Name: name, Kind: ledger.KindBank, Currency: "EUR", Hot: true}
	if opening != "" {
		in.OpeningBalance = &opening
	}
	if overdraft != "" {
		in.OverdraftLimit = &overdraft
	}
	return createAccount(t, st, tenant, in, time.Now())
}

// hotParts reads a hot account's parts as stored.
func storedParts(t *testing.T, tenant, id string) []part {
	t.Helper()
	var ps []part
	for _, it := range rawPartition(t, accountPK(tenant, id)) {
		r := reader{it: it}
		if sk := r.str(attrSK); strings.HasPrefix(sk, skParts) {
			ps = append(ps, part{sk: sk, balance: r.num("balance"), pending: r.num("pending"), spendable: r.num("spendable")})
		}
	}
	return ps
}

// checkHotBooks numbers the account's waiting lines and holds invariant 2
// and 3 to it: seq 1..n, balance_after running, the last equal to the sum
// of the parts, no part's spendable amount below zero, and their sum the
// account's available.
func checkHotBooks(t *testing.T, st *Store, tenant, id string) []ledger.HistoryLine {
	t.Helper()
	if _, err := st.NumberHistory(testCtx(t), tenant, id); err != nil {
		t.Fatalf("NumberHistory: %v", err)
	}
	if n, err := st.UnnumberedLines(testCtx(t), tenant, id); err != nil || n != 0 {
		t.Fatalf("after numbering, %d lines (%v) still wait", n, err)
	}
	acc, err := st.GetAccount(testCtx(t), tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	lines := allHistory(t, st, tenant, id)
	bal := decimal.Zero
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			t.Errorf("line %d has seq %d", i, l.Seq)
		}
		if l.Type == ledger.Debit {
			bal = bal.Sub(l.Amount)
		} else {
			bal = bal.Add(l.Amount)
		}
		if !l.BalanceAfter.Equal(bal) {
			t.Errorf("seq %d: balance_after %s, want %s", l.Seq, l.BalanceAfter, bal)
		}
		if i > 0 && l.PostedAt.Before(lines[i-1].PostedAt) {
			t.Errorf("seq %d posted at %s, before seq %d", l.Seq, l.PostedAt, l.Seq-1)
		}
	}
	if !acc.Balance.Equal(bal) {
		t.Errorf("balance %s, but the lines add up to %s", acc.Balance, bal)
	}
	spendable := decimal.Zero
	ps := storedParts(t, tenant, id)
	if len(ps) != hotParts {
		t.Errorf("%d parts, want %d", len(ps), hotParts)
	}
	for _, p := range ps {
		if p.spendable.IsNegative() {
			t.Errorf("part %s has spendable %s", p.sk, p.spendable)
		}
		spendable = spendable.Add(p.spendable)
	}
	if !spendable.Equal(acc.Available()) {
		t.Errorf("parts' spendable sum to %s, available is %s", spendable, acc.Available())
	}
	return lines
}

func TestHotAccountBalanceIsItsPartsAndHistoryIsNumberedAfter(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Treasury pool", "1000.00", "")
	other := simpleAccount(t, st, tenant, "Dept", "EUR", "")
	for i := 0; i < 5; i++ {
		mustPost(t, st, transferReq(tenant, creator, hot.ID, other.ID, "100.00", nil, nil))
	}
	mustPost(t, st, entryReq(tenant, creator, hot.ID, ledger.Credit, "50.25", nil, nil))

	acc, err := st.GetAccount(testCtx(t), tenant, hot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "550.25"; acc.Balance.StringFixed(2) != want || !acc.Hot {
		t.Fatalf("hot account: balance %s hot %v; want %s at once, before any numbering", acc.Balance, acc.Hot, want)
	}
	if n, _ := st.UnnumberedLines(testCtx(t), tenant, hot.ID); n != 7 {
		t.Errorf("%d lines wait for numbers, want 7 (opening, 5 transfers, 1 entry)", n)
	}
	if got := allHistory(t, st, tenant, hot.ID); len(got) != 0 {
		t.Errorf("history shows %d numbered lines before the sequencer ran", len(got))
	}
	lines := checkHotBooks(t, st, tenant, hot.ID)
	if len(lines) != 7 || lines[0].Kind != ledger.TxnOpening {
		t.Fatalf("history has %d lines, first %q; want 7 starting with the opening", len(lines), lines[0].Kind)
	}
	// The other side keeps its own synchronous numbering.
	checkBooks(t, st, tenant, other.ID)
	// Numbering again finds nothing and changes nothing.
	if n, err := st.NumberHistory(testCtx(t), tenant, hot.ID); n != 0 || err != nil {
		t.Errorf("numbering again numbered %d (%v)", n, err)
	}
}

func TestHotDebitTheWholeBalanceCoversIsNeverRefused(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Pool", "", "")
	// Credits land on parts at random, so the money ends up spread out.
	for i := 0; i < 8; i++ {
		mustPost(t, st, entryReq(tenant, creator, hot.ID, ledger.Credit, "10.00", nil, nil))
	}
	spread := 0
	for _, p := range storedParts(t, tenant, hot.ID) {
		if p.spendable.IsPositive() {
			spread++
		}
	}
	// 75 is more than any one part holds unless every credit chose the
	// same one; it must come from several parts in one transaction.
	mustPost(t, st, entryReq(tenant, creator, hot.ID, ledger.Debit, "75.00", nil, nil))
	_, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Debit, "5.01", nil, nil))
	wantCode(t, err, ledger.EInsufficientFunds)
	var le *ledger.Error
	if !errors.As(err, &le) || le.Shortfall == nil || le.Shortfall.Available.StringFixed(2) != "5.00" {
		t.Errorf("shortfall %+v; want available 5.00 (the sum of the parts)", le)
	}
	mustPost(t, st, entryReq(tenant, creator, hot.ID, ledger.Debit, "5.00", nil, nil))
	lines := checkHotBooks(t, st, tenant, hot.ID)
	if len(lines) != 10 {
		t.Errorf("%d lines, want 10 (money was in %d parts)", len(lines), spread)
	}
}

func TestHotAccountNeverOverdrawsUnderConcurrentDebits(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Pool", "20.00", "10.00")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Debit, "1.00", nil, nil))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case ledger.ErrorCode(err) == ledger.EInsufficientFunds:
				refused++
			default:
				t.Errorf("debit: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 30 || refused != 10 {
		t.Errorf("%d debits booked and %d refused; want 30 (balance 20 + overdraft 10) and 10", ok, refused)
	}
	acc, _ := st.GetAccount(testCtx(t), tenant, hot.ID)
	if acc.Balance.StringFixed(2) != "-10.00" || !acc.Available().IsZero() {
		t.Errorf("balance %s available %s; want -10.00 and 0", acc.Balance, acc.Available())
	}
	checkHotBooks(t, st, tenant, hot.ID)
}

func TestHotAccountSettingsReachItsParts(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Pool", "100.00", "50.00")
	// A lower overdraft limit takes from the parts; below what is used, 409.
	mustPost(t, st, entryReq(tenant, creator, hot.ID, ledger.Debit, "120.00", nil, nil))
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{OverdraftLimit: strp("10.00")}); ledger.ErrorCode(err) != ledger.EConflict {
		t.Errorf("lowering the limit below what is overdrawn: %v, want conflict", err)
	}
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{OverdraftLimit: strp("25.00")}); err != nil {
		t.Fatalf("lower the limit: %v", err)
	}
	_, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Debit, "5.01", nil, nil))
	wantCode(t, err, ledger.EInsufficientFunds)
	// Frozen: no postings, whatever part they pick.
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Status: strp(ledger.StatusFrozen)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		_, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Credit, "1.00", nil, nil))
		wantCode(t, err, ledger.EAccountClosed)
	}
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Status: strp(ledger.StatusActive)}); err != nil {
		t.Fatal(err)
	}
	mustPost(t, st, entryReq(tenant, creator, hot.ID, ledger.Credit, "20.00", nil, nil))
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Status: strp(ledger.StatusClosed)}); err != nil {
		t.Fatalf("close at zero: %v", err)
	}
	for _, p := range storedParts(t, tenant, hot.ID) {
		if st := rawGet(t, accountPK(tenant, hot.ID), p.sk); (&reader{it: st}).str("status") != ledger.StatusClosed {
			t.Errorf("part %s is %q after closing", p.sk, (&reader{it: st}).str("status"))
		}
	}
	if _, err := patchAccount(t, st, tenant, hot.ID, ledger.AccountPatch{Hot: new(false)}); ledger.ErrorCode(err) != ledger.EConflict {
		t.Errorf("a closed account changed: %v", err)
	}
	checkHotBooks(t, st, tenant, hot.ID)
}

func TestAccountBecomesHotAndItsHistoryRunsOn(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	acc := simpleAccount(t, st, tenant, "Pool", "EUR", "100.00")
	other := simpleAccount(t, st, tenant, "Dept", "EUR", "")
	mustPost(t, st, transferReq(tenant, creator, acc.ID, other.ID, "30.00", nil, nil))
	if _, err := patchAccount(t, st, tenant, acc.ID, ledger.AccountPatch{Hot: new(true)}); err != nil {
		t.Fatalf("mark hot: %v", err)
	}
	mustPost(t, st, transferReq(tenant, creator, acc.ID, other.ID, "30.00", nil, nil))
	mustPost(t, st, transferReq(tenant, creator, other.ID, acc.ID, "5.00", nil, nil))
	lines := checkHotBooks(t, st, tenant, acc.ID)
	if len(lines) != 4 || lines[3].BalanceAfter.StringFixed(2) != "45.00" {
		t.Fatalf("history %d lines, last %v; want 4 ending at 45.00", len(lines), lines[len(lines)-1])
	}
	if _, err := patchAccount(t, st, tenant, acc.ID, ledger.AccountPatch{Hot: new(false)}); ledger.ErrorCode(err) != ledger.EConflict {
		t.Errorf("back to not hot: %v, want conflict", err)
	}
	checkBooks(t, st, tenant, other.ID)
}

func TestHotPendingWithdrawalHoldsAndApproves(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	in := ledger.NewAccountInput{Name: "Pool", Kind: ledger.KindBank, Currency: "EUR", Hot: true,
		OpeningBalance: strp("100.00"), ApprovalThreshold: strp("50.00")}
	hot := createAccount(t, st, tenant, in, time.Now())
	w := mustPost(t, st, postReq(tenant, creator, []string{hot.ID}, "", nil, nil, func(s *app.State, a ledger.Actor) (*ledger.Booking, error) {
		return ledger.Withdrawal(s.Accounts[hot.ID], ledger.WithdrawalInput{Amount: "80.00", Payee: "x", Method: "cash"}, a)
	}))
	if w.Status != ledger.TxnPending {
		t.Fatalf("withdrawal is %s, want pending", w.Status)
	}
	acc, _ := st.GetAccount(testCtx(t), tenant, hot.ID)
	if acc.Pending.StringFixed(2) != "80.00" || acc.Available().StringFixed(2) != "20.00" {
		t.Fatalf("pending %s available %s; want 80.00 and 20.00", acc.Pending, acc.Available())
	}
	_, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Debit, "20.01", nil, nil))
	wantCode(t, err, ledger.EInsufficientFunds)
	approve := app.PostRequest{Tenant: tenant, Caller: "bob", TransactionID: w.ID,
		Build: func(s *app.State) (*app.Commit, error) {
			bk, err := ledger.Approve(s.Transaction, s.Accounts, ledger.Actor{Sub: "bob", Now: s.Now})
			if err != nil {
				return nil, err
			}
			audit := ledger.TransactionAudit(ledger.Caller{Tenant: tenant, Sub: "bob"}, s.Now, ledger.ActionTransactionApproved, bk.Txn, nil)
			return &app.Commit{Booking: bk, Replaces: ledger.TxnPending, Step: ledger.StepApproved, Audit: audit}, nil
		}}
	mustPost(t, st, approve)
	acc, _ = st.GetAccount(testCtx(t), tenant, hot.ID)
	if acc.Balance.StringFixed(2) != "20.00" || !acc.Pending.IsZero() {
		t.Errorf("after approval balance %s pending %s; want 20.00 and 0", acc.Balance, acc.Pending)
	}
	checkHotBooks(t, st, tenant, hot.ID)
}

func TestSequencersRacingNumberEachLineOnce(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	hot := hotAccount(t, st, tenant, "Pool", "1.00", "")
	for i := 0; i < numberBatch+5; i++ {
		mustPost(t, st, entryReq(tenant, creator, hot.ID, ledger.Credit, "1.00", nil, nil))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := st.NumberHistory(testCtx(t), tenant, hot.ID)
			if err != nil {
				t.Errorf("NumberHistory: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != numberBatch+6 {
		t.Errorf("the sequencers numbered %d lines between them, want %d", total, numberBatch+6)
	}
	if lines := checkHotBooks(t, st, tenant, hot.ID); len(lines) != numberBatch+6 {
		t.Errorf("%d lines, want %d", len(lines), numberBatch+6)
	}
}

func TestUnnumberedLineAccount(t *testing.T) {
	for _, c := range []struct{ pk, sk, tenant, id string }{
		{"T#t1#A#acc_1", "P#2026-11-23T10:00:00.000Z#txn_1", "t1", "acc_1"},
		{"T#org#x#A#acc_2", "P#x", "org#x", "acc_2"},
		{"T#t1#A#acc_1", "H#2026", "", ""},
		{"T#t1#X#txn_1", "P#x", "", ""},
	} {
		tenant, id, ok := UnnumberedLineAccount(c.pk, c.sk)
		if tenant != c.tenant || id != c.id || ok != (c.id != "") {
			t.Errorf("%s %s: %q %q %v", c.pk, c.sk, tenant, id, ok)
		}
	}
}

func TestAllocateKeepsPartsLevelAndExact(t *testing.T) {
	d := decimal.RequireFromString
	acc := &ledger.Account{Balance: d("1000000.00"), Pending: d("0"), OverdraftLimit: d("0.05")}
	ps := newParts(acc)
	sum := decimal.Zero
	for _, p := range ps {
		sum = sum.Add(p.spendable)
		if p.spendable.LessThan(d("1000000.00").Div(decimal.NewFromInt(hotParts)).Truncate(2)) {
			t.Errorf("part %s starts with %s; want an even share", p.sk, p.spendable)
		}
	}
	if !sum.Equal(d("1000000.05")) || !ps[0].balance.Equal(d("1000000.00")) {
		t.Fatalf("parts hold %s spendable, first balance %s", sum, ps[0].balance)
	}
	apply := func(pieces []piece) {
		for _, pc := range pieces {
			for i := range ps {
				if ps[i].sk == pc.sk {
					ps[i].spendable = ps[i].spendable.Sub(pc.take)
					if ps[i].spendable.IsNegative() {
						t.Fatalf("part %s went to %s", pc.sk, ps[i].spendable)
					}
				}
			}
		}
	}
	takes := func(pieces []piece) decimal.Decimal {
		out := decimal.Zero
		for _, pc := range pieces {
			out = out.Add(pc.take)
		}
		return out
	}
	// Many small debits: one part each, spread over the parts.
	used := map[string]bool{}
	for i := 0; i < 200; i++ {
		pieces, ok := allocate(ps, d("-100.00"), decimal.Zero, 2)
		if !ok || len(pieces) != 1 || !takes(pieces).Equal(d("100.00")) {
			t.Fatalf("small debit: %v %+v", ok, pieces)
		}
		used[pieces[0].sk] = true
		apply(pieces)
	}
	if len(used) < hotParts/2 {
		t.Errorf("200 debits used only %d parts", len(used))
	}
	// A credit bigger than an even share goes to several of the poorest.
	pieces, ok := allocate(ps, d("300000.00"), decimal.Zero, 2)
	if !ok || len(pieces) < 4 || !takes(pieces).Equal(d("-300000.00")) || !pieces[0].dBal.Equal(d("300000.00")) {
		t.Fatalf("big credit: %v, %d pieces, takes %s", ok, len(pieces), takes(pieces))
	}
	apply(pieces)
	// A debit bigger than any part: several parts, exactly the amount.
	all := decimal.Zero
	for _, p := range ps {
		all = all.Add(p.spendable)
	}
	pieces, ok = allocate(ps, all.Neg(), decimal.Zero, 2)
	if !ok || len(pieces) != hotParts || !takes(pieces).Equal(all) {
		t.Fatalf("debit of everything: %v, %d pieces, takes %s of %s", ok, len(pieces), takes(pieces), all)
	}
	apply(pieces)
	if _, ok := allocate(ps, d("-0.01"), decimal.Zero, 2); ok {
		t.Error("a debit of an empty account was allocated")
	}
}

func TestHotPostingsWithinTheTransactionLimit(t *testing.T) {
	st, tenant := rawStore(), newTenant(t)
	// The largest creation: every optional item and 50 members.
	members := make([]string, ledger.MaxMembers)
	for i := range members {
		members[i] = "u_" + strings.Repeat("m", 3) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	in := ledger.NewAccountInput{Name: "Big", Code: "5121.99", Kind: ledger.KindBank, Currency: "EUR", Hot: true,
		OpeningBalance: strp("3200.00"), Members: members}
	createAccount(t, st, tenant, in, time.Now())
	var hots []string
	for i := 0; i < 3; i++ {
		hots = append(hots, hotAccount(t, st, tenant, "Pool "+string(rune('A'+i)), "3200.00", "").ID)
	}
	sink := simpleAccount(t, st, tenant, "Sink", "EUR", "")
	journal := func(ids ...string) app.PostRequest {
		all := append(append([]string(nil), ids...), sink.ID)
		return postReq(tenant, creator, all, "", nil, nil, func(s *app.State, a ledger.Actor) (*ledger.Booking, error) {
			var lines []ledger.JournalLineInput
			for _, id := range ids {
				lines = append(lines, ledger.JournalLineInput{AccountID: id, Type: ledger.Debit, Amount: "3200.00"})
			}
			total := decimal.NewFromInt(int64(3200 * len(ids)))
			lines = append(lines, ledger.JournalLineInput{AccountID: sink.ID, Type: ledger.Credit, Amount: total.StringFixed(2)})
			return ledger.Journal(s.Accounts, ledger.JournalInput{Lines: lines}, a)
		})
	}
	// Each debit empties every part of its account: three of them are
	// more items than one transaction takes, and say so.
	_, _, err := st.Post(testCtx(t), journal(hots...))
	wantCode(t, err, ledger.EConflict)
	mustPost(t, st, journal(hots[0], hots[1]))
	mustPost(t, st, journal(hots[2]))
	for _, id := range hots {
		if lines := checkHotBooks(t, st, tenant, id); len(lines) != 2 {
			t.Errorf("%s: %d lines, want the opening and the journal", id, len(lines))
		}
	}
}

// lateLander loses the answer of the first TransactWriteItems without
// sending it, and sends it only after the next one has committed: the
// ambiguous attempt lands late, as a delayed request can on AWS.
type lateLander struct {
	API
	mu     sync.Mutex
	n      int
	held   *dynamodb.TransactWriteItemsInput
	landed error
}

func (l *lateLander) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	l.mu.Lock()
	l.n++
	n := l.n
	if n == 1 {
		l.held = in
	}
	l.mu.Unlock()
	if n == 1 {
		return nil, fmt.Errorf("operation error DynamoDB: TransactWriteItems, response lost: %w", context.DeadlineExceeded)
	}
	out, err := l.API.TransactWriteItems(ctx, in, o...)
	if n == 2 && err == nil {
		_, l.landed = l.API.TransactWriteItems(ctx, l.held, o...)
	}
	return out, err
}

// TestLateLandingAttemptOnHotAccountsBooksOnce: a posting without a key that
// touches only a hot account (and the system accounts) has no revision and
// no idempotency record to stop an attempt that lands after its retry
// committed; the request's guard item does.
func TestLateLandingAttemptOnHotAccountsBooksOnce(t *testing.T) {
	tenant := newTenant(t)
	hot := hotAccount(t, rawStore(), tenant, "Pool", "100.00", "")
	ll := &lateLander{API: TestDB}
	st := New(ll, TestTable)
	// A credit: no funds condition either, and one part of 32 at random.
	txn, _, err := st.Post(testCtx(t), entryReq(tenant, creator, hot.ID, ledger.Credit, "1.00", nil, nil))
	if err != nil {
		t.Fatalf("Post after a lost answer: %v", err)
	}
	if ll.landed == nil {
		t.Errorf("the first attempt landed late as well (answered %s): booked twice", txnID(txn))
	}
	acc, _ := rawStore().GetAccount(testCtx(t), tenant, hot.ID)
	if acc.Balance.StringFixed(2) != "101.00" {
		t.Errorf("balance %s, want 101.00: one credit of 1", acc.Balance)
	}
	if lines := checkHotBooks(t, rawStore(), tenant, hot.ID); len(lines) != 2 {
		t.Errorf("%d lines, want the opening and one credit", len(lines))
	}
}

// TestSequencerWaitsForTheCreditThatCoveredADebit: a waiting debit that no
// visible credit covers is left for a later read while a credit could still
// be landing, and numbered as it stands once none can.
func TestSequencerWaitsForTheCreditThatCoveredADebit(t *testing.T) {
	tenant := newTenant(t)
	hot := hotAccount(t, rawStore(), tenant, "Pool", "100.00", "")
	if _, err := rawStore().NumberHistory(testCtx(t), tenant, hot.ID); err != nil {
		t.Fatal(err)
	}
	put := func(txn string, at time.Time) {
		l := &ledger.HistoryLine{AccountID: hot.ID, TransactionID: txn, Kind: ledger.TxnEntry, Type: ledger.Debit,
			Amount: decimal.RequireFromString("150.00"), Currency: hot.Currency, PostedAt: at.UTC().Truncate(time.Millisecond), PostedBy: creator}
		it := historyItem(tenant, l)
		it[attrSK] = s(unnumberedSK(l))
		delete(it, "seq")
		delete(it, "balance_after")
		if _, err := TestDB.PutItem(testCtx(t), &dynamodb.PutItemInput{TableName: &TestTable, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	// Stamped just now: its credit may still land.
	put("txn_fresh", time.Now())
	st := rawStore()
	st.Retry = RetryPolicy{Attempts: 3, Budget: 200 * time.Millisecond, Base: 10 * time.Millisecond, Cap: 50 * time.Millisecond}
	if _, err := st.NumberHistory(testCtx(t), tenant, hot.ID); ledger.ErrorCode(err) != ledger.EUnavailable {
		t.Errorf("numbering an uncovered fresh debit: %v, want it left for later (busy)", err)
	}
	if n, _ := st.UnnumberedLines(testCtx(t), tenant, hot.ID); n != 1 {
		t.Errorf("%d lines wait, want the fresh debit", n)
	}
	// Stamped past any posting's deadline: no credit can still land.
	put("txn_old", time.Now().Add(-time.Minute))
	if _, err := st.NumberHistory(testCtx(t), tenant, hot.ID); ledger.ErrorCode(err) != ledger.EUnavailable {
		t.Errorf("with the fresh one still uncovered: %v, want busy", err)
	}
	lines := allHistory(t, rawStore(), tenant, hot.ID)
	if len(lines) != 2 || lines[1].TransactionID != "txn_old" {
		t.Fatalf("history %+v; want the opening, then the old debit numbered as it stands", lines)
	}
}
