package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// TestValueDateDefaultsToTheServiceDay: a posting without a value date is
// dated the service clock's day (UTC), and the period it checks is that
// day's month, even when the store's clock has moved into the next month.
func TestValueDateDefaultsToTheServiceDay(t *testing.T) {
	f := newFixture(t)
	acc := f.account("Till", "EUR", "100.00")
	if _, _, err := f.svc.ClosePeriod(f.ctx, f.admin(), "2026-11", nil); err != nil {
		t.Fatal(err)
	}
	// The service says 30 November, 23:59:58; the store is two seconds on,
	// in December.
	f.setClock(time.Date(2026, 11, 30, 23, 59, 58, 0, time.UTC))
	f.storeLag = 2 * time.Second
	_, err := f.svc.PostEntry(f.ctx, f.admin(), acc.ID, ledger.EntryInput{Type: ledger.Credit, Amount: "1.00"}, nil)
	wantCode(t, "an undated posting on 30 November into a closed November", err, ledger.EPeriodClosed)
	f.wantBalance(acc.ID, "100", "0")

	p, err := f.svc.PostEntry(f.ctx, f.admin(), acc.ID, ledger.EntryInput{Type: ledger.Credit, Amount: "1.00", Details: ledger.Details{ValueDate: "2026-12-01"}}, nil)
	if err != nil || p.Transaction.ValueDate != "2026-12-01" {
		t.Fatalf("a posting dated into December: %+v, %v", p, err)
	}

	// A day later by the service's clock: December, open.
	f.setClock(time.Date(2026, 12, 1, 0, 0, 5, 0, time.UTC))
	f.storeLag = 0
	p, err = f.svc.PostTransfer(f.ctx, f.admin(), ledger.TransferInput{FromAccountID: acc.ID, ToAccountID: f.account("Safe", "EUR", "").ID, Amount: "2.00"}, nil)
	if err != nil || p.Transaction.ValueDate != "2026-12-01" {
		t.Fatalf("an undated transfer on 1 December: %+v, %v", p, err)
	}
	rev, err := f.svc.Reverse(f.ctx, f.admin(), p.Transaction.ID, ledger.ReverseInput{}, nil)
	if err != nil || rev.Transaction.ValueDate != "2026-12-01" {
		t.Errorf("an undated reversal: %+v, %v; want it dated 2026-12-01", rev, err)
	}
}

// TestClosedPeriodsRefusePostings: every posting dated into a closing or
// closed month is 409 period-closed, approval included (the withdrawal's
// own month); another month goes on; closing twice is 409.
func TestClosedPeriodsRefusePostings(t *testing.T) {
	f := newFixture(t)
	acc := f.create(ledger.NewAccountInput{Name: "Till", Kind: ledger.KindCash, Currency: "EUR", OpeningBalance: strp("1000.00"), ApprovalThreshold: strp("100.00")})
	other := f.account("Other", "EUR", "")
	w := f.withdrawal(f.admin(), acc.ID, "200.00")
	tr := f.transfer(f.admin(), acc.ID, other.ID, "1.00")
	p, replayed, err := f.svc.ClosePeriod(f.ctx, f.admin(), "2026-11", key("close", "h"))
	if err != nil || replayed || p.Month != "2026-11" || p.ClosedBy != "u_admin" {
		t.Fatalf("close: %+v, %v", p, err)
	}
	nov := ledger.Details{ValueDate: "2026-11-15"}
	for name, run := range map[string]func() error{
		"entry": func() error {
			_, err := f.svc.PostEntry(f.ctx, f.admin(), acc.ID, ledger.EntryInput{Type: ledger.Credit, Amount: "1.00", Details: nov}, nil)
			return err
		},
		"transfer": func() error {
			_, err := f.svc.PostTransfer(f.ctx, f.admin(), ledger.TransferInput{FromAccountID: acc.ID, ToAccountID: other.ID, Amount: "1.00", Details: nov}, nil)
			return err
		},
		"withdrawal": func() error {
			_, err := f.svc.PostWithdrawal(f.ctx, f.admin(), acc.ID, ledger.WithdrawalInput{Amount: "1.00", Details: nov}, nil)
			return err
		},
		"journal": func() error {
			_, err := f.svc.PostJournal(f.ctx, f.admin(), ledger.JournalInput{Details: nov, Lines: []ledger.JournalLineInput{
				{AccountID: acc.ID, Type: ledger.Debit, Amount: "1.00"}, {AccountID: other.ID, Type: ledger.Credit, Amount: "1.00"}}}, nil)
			return err
		},
		"approval of a November withdrawal": func() error {
			_, err := f.svc.Approve(f.ctx, f.caller("u_boss", "admin"), w.ID, nil)
			return err
		},
		"reversal dated into November": func() error {
			_, err := f.svc.Reverse(f.ctx, f.admin(), tr.ID, ledger.ReverseInput{ValueDate: "2026-11-30"}, nil)
			return err
		},
	} {
		err := run()
		wantCode(t, name, err, ledger.EPeriodClosed)
	}
	if got := f.txn(w.ID); got.Status != ledger.TxnPending {
		t.Errorf("the withdrawal is %s after an approval into a closed month", got.Status)
	}
	// Rejecting books nothing and is not dated: it goes through.
	if _, err := f.svc.Reject(f.ctx, f.admin(), w.ID, "month closed", nil); err != nil {
		t.Errorf("reject in a closed month: %v", err)
	}
	if _, err := f.svc.PostEntry(f.ctx, f.admin(), acc.ID, ledger.EntryInput{Type: ledger.Credit, Amount: "1.00", Details: ledger.Details{ValueDate: "2026-10-31"}}, nil); err != nil {
		t.Errorf("a posting into an open October: %v", err)
	}

	_, _, err = f.svc.ClosePeriod(f.ctx, f.admin(), "2026-11", nil)
	wantCode(t, "close twice", err, ledger.EConflict)
	again, replayed, err := f.svc.ClosePeriod(f.ctx, f.admin(), "2026-11", key("close", "h"))
	if err != nil || !replayed || !again.ClosingAt.Equal(p.ClosingAt) {
		t.Errorf("the close replayed: %+v, replayed %v, %v", again, replayed, err)
	}
	_, _, err = f.svc.ClosePeriod(f.ctx, f.admin(), "2026-13", nil)
	wantCode(t, "a month that is none", err, ledger.ENotFound)
	ps, err := f.svc.ListPeriods(f.ctx, f.caller("u_anyone", ""))
	if err != nil || len(ps) != 1 || ps[0].Month != "2026-11" {
		t.Errorf("ListPeriods: %+v, %v", ps, err)
	}
}

// TestInsufficientFundsCarriesTheShortfall: a posting that would take
// available below zero is refused with the account, what is available and
// what was asked for; nothing is booked. Holds count against available.
func TestInsufficientFundsCarriesTheShortfall(t *testing.T) {
	f := newFixture(t)
	acc := f.create(ledger.NewAccountInput{Name: "Till", Kind: ledger.KindCash, Currency: "EUR", OpeningBalance: strp("50.00"),
		OverdraftLimit: strp("10.00"), ApprovalThreshold: strp("20.00")})
	other := f.account("Other", "EUR", "")
	f.withdrawal(f.admin(), acc.ID, "25.00") // held: available 50 - 25 + 10 = 35
	shortfall := func(err error) *ledger.Shortfall {
		var le *ledger.Error
		if errors.As(err, &le) && le.Code == ledger.EInsufficientFunds {
			return le.Shortfall
		}
		return nil
	}
	for name, run := range map[string]func() error{
		"transfer": func() error {
			_, err := f.svc.PostTransfer(f.ctx, f.admin(), ledger.TransferInput{FromAccountID: acc.ID, ToAccountID: other.ID, Amount: "35.01"}, nil)
			return err
		},
		"entry": func() error {
			_, err := f.svc.PostEntry(f.ctx, f.admin(), acc.ID, ledger.EntryInput{Type: ledger.Debit, Amount: "35.01"}, nil)
			return err
		},
		"withdrawal held": func() error {
			_, err := f.svc.PostWithdrawal(f.ctx, f.admin(), acc.ID, ledger.WithdrawalInput{Amount: "35.01"}, nil)
			return err
		},
	} {
		err := run()
		sf := shortfall(err)
		if sf == nil || sf.AccountID != acc.ID || !sf.Available.Equal(dec(t, "35")) || !sf.Requested.Equal(dec(t, "35.01")) || sf.Currency != "EUR" {
			t.Errorf("%s: %v (shortfall %+v); want insufficient-funds on %s, available 35, requested 35.01", name, err, sf, acc.ID)
		}
	}
	f.wantBalance(acc.ID, "50", "25")
	if n := f.historyLen(acc.ID); n != 1 {
		t.Errorf("refusals left %d history lines", n)
	}
	// Exactly what is available goes through, into the overdraft.
	tr := f.transfer(f.admin(), acc.ID, other.ID, "35.00")
	f.wantBalance(acc.ID, "15", "25")
	// A reversal needs the funds it takes back: here the money moved on.
	f.entry(f.admin(), other.ID, ledger.Debit, "35.00")
	_, err := f.svc.Reverse(f.ctx, f.admin(), tr.ID, ledger.ReverseInput{}, nil)
	if sf := shortfall(err); sf == nil || sf.AccountID != other.ID || !sf.Available.IsZero() || !sf.Requested.Equal(dec(t, "35")) {
		t.Errorf("reversing a transfer whose money moved on: %v (shortfall %+v)", err, sf)
	}
}

// TestBooksBalance: after a mix of postings, every history runs 1..n with
// its running balance, and per currency the balances, system accounts
// included, sum to zero; an exchange passes through the fx accounts.
func TestBooksBalance(t *testing.T) {
	f := newFixture(t)
	eur := f.account("EUR Till", "EUR", "1000.00")
	usd := f.account("USD Till", "USD", "")
	eur2 := f.account("EUR Safe", "EUR", "")
	x, err := f.svc.PostTransfer(f.ctx, f.admin(), ledger.TransferInput{FromAccountID: eur.ID, ToAccountID: usd.ID, Amount: "100.00", ToAmount: strp("123.32")}, nil)
	if err != nil || x.Transaction.Kind != ledger.TxnExchange || x.Transaction.Rate == nil || x.Transaction.Rate.String() != "1.2332" {
		t.Fatalf("exchange: %+v, %v", x, err)
	}
	f.transfer(f.admin(), eur.ID, eur2.ID, "250.00")
	f.entry(f.admin(), eur2.ID, ledger.Debit, "12.34")
	if _, err := f.svc.PostWithdrawal(f.ctx, f.admin(), usd.ID, ledger.WithdrawalInput{Amount: "23.32"}, nil); err != nil {
		t.Fatal(err)
	}
	tr := f.transfer(f.admin(), eur2.ID, eur.ID, "7.00")
	if _, err := f.svc.Reverse(f.ctx, f.admin(), tr.ID, ledger.ReverseInput{}, nil); err != nil {
		t.Fatal(err)
	}
	sums := map[string]decimal.Decimal{}
	for _, id := range []string{eur.ID, usd.ID, eur2.ID} {
		acc, err := f.store.GetAccount(f.ctx, f.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		page, err := f.svc.History(f.ctx, f.admin(), id, app.HistoryFilter{Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		bal := decimal.Zero
		for i, l := range page.Items {
			if l.Type == ledger.Debit {
				bal = bal.Sub(l.Amount)
			} else {
				bal = bal.Add(l.Amount)
			}
			if l.Seq != int64(i+1) || !l.BalanceAfter.Equal(bal) {
				t.Errorf("%s line %d: seq %d balance_after %s, want %d and %s", acc.Name, i, l.Seq, l.BalanceAfter, i+1, bal)
			}
		}
		if !bal.Equal(acc.Balance) {
			t.Errorf("%s: balance %s, lines add up to %s", acc.Name, acc.Balance, bal)
		}
		sums[acc.Currency.Code] = sums[acc.Currency.Code].Add(acc.Balance)
	}
	sys, err := f.store.SystemBalances(f.ctx, f.tenant, []string{"external:EUR", "fx:EUR", "external:USD", "fx:USD"})
	if err != nil {
		t.Fatal(err)
	}
	sums["EUR"] = sums["EUR"].Add(sys["external:EUR"]).Add(sys["fx:EUR"])
	sums["USD"] = sums["USD"].Add(sys["external:USD"]).Add(sys["fx:USD"])
	for ccy, s := range sums {
		if !s.IsZero() {
			t.Errorf("%s balances sum to %s, not zero (system accounts %v)", ccy, s, sys)
		}
	}
	if !sys["fx:EUR"].Equal(dec(t, "100")) || !sys["fx:USD"].Equal(dec(t, "-123.32")) {
		t.Errorf("fx accounts %s EUR, %s USD; want 100 and -123.32", sys["fx:EUR"], sys["fx:USD"])
	}
}

// TestListTransactionsAndAudit: an account's transactions newest first,
// pending ones listed by status; the audit trail records who did what, with
// the caller's origin, newest first.
func TestListTransactionsAndAudit(t *testing.T) {
	f := newFixture(t)
	acc := f.create(ledger.NewAccountInput{Name: "Till", Kind: ledger.KindCash, Currency: "EUR", OpeningBalance: strp("500.00"), ApprovalThreshold: strp("100.00")})
	c := f.caller("u_clerk", "admin")
	c.Origin = ledger.Origin{RequestID: "req-9", SourceIP: "198.51.100.4", UserAgent: "curl/8"}
	w := f.withdrawal(c, acc.ID, "150.00")
	en := f.entry(c, acc.ID, ledger.Credit, "1.00")
	page, err := f.svc.ListTransactions(f.ctx, c, app.TransactionFilter{AccountID: acc.ID, Limit: 50})
	if err != nil || len(page.Items) != 3 || page.Items[0].ID != en.ID || page.Items[1].ID != w.ID {
		t.Fatalf("the account's transactions: %v, %v; want the entry, the withdrawal, the opening", page.Items, err)
	}
	page, err = f.svc.ListTransactions(f.ctx, c, app.TransactionFilter{AccountID: acc.ID, Status: ledger.TxnPending, Limit: 50})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != w.ID {
		t.Errorf("pending: %v, %v", page.Items, err)
	}
	_, err = f.svc.ListTransactions(f.ctx, c, app.TransactionFilter{AccountID: acc.ID, Status: "bogus", Limit: 50})
	wantCode(t, "an unknown status", err, ledger.EValidation)

	trail, err := f.svc.ListAudit(f.ctx, c, app.AuditFilter{Limit: 50})
	if err != nil || len(trail.Items) != 3 {
		t.Fatalf("the trail: %v, %v", trail.Items, err)
	}
	got := trail.Items[0]
	if got.Action != ledger.ActionTransactionPosted || got.TargetID != en.ID || got.Actor != "u_clerk" || got.Origin != c.Origin {
		t.Errorf("the newest record %+v; want the entry posted by u_clerk from %+v", got, c.Origin)
	}
	if trail.Items[1].Action != ledger.ActionTransactionPending || trail.Items[2].Action != ledger.ActionAccountCreated {
		t.Errorf("the trail holds %s, %s, %s", got.Action, trail.Items[1].Action, trail.Items[2].Action)
	}
	mine, err := f.svc.ListAudit(f.ctx, c, app.AuditFilter{Actor: "u_admin", Limit: 50})
	if err != nil || len(mine.Items) != 1 || mine.Items[0].Action != ledger.ActionAccountCreated {
		t.Errorf("the admin's records: %v, %v", mine.Items, err)
	}
	_, err = f.svc.ListAudit(f.ctx, c, app.AuditFilter{AccountID: "not-an-id", Limit: 50})
	wantCode(t, "an audit filter on a malformed account id", err, ledger.EValidation)
}
