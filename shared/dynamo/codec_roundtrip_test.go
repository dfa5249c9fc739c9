package dynamo

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// differ collects field differences; decimals compare with Equal (value,
// never through float), times to the instant, optional decimals by nil-ness
// first.
type differ struct{ diffs []string }

func (d *differ) str(field, want, got string) {
	if want != got {
		d.diffs = append(d.diffs, fmt.Sprintf("%s: got %q, want %q", field, got, want))
	}
}

func (d *differ) num(field string, want, got decimal.Decimal) {
	if !want.Equal(got) {
		d.diffs = append(d.diffs, fmt.Sprintf("%s: got %s, want %s", field, got, want))
	}
}

func (d *differ) optNum(field string, want, got *decimal.Decimal) {
	switch {
	case want == nil && got == nil:
	case want == nil || got == nil:
		d.diffs = append(d.diffs, fmt.Sprintf("%s: got %v, want %v", field, got, want))
	default:
		d.num(field, *want, *got)
	}
}

func (d *differ) time(field string, want, got time.Time) {
	if !want.Equal(got) || want.IsZero() != got.IsZero() {
		d.diffs = append(d.diffs, fmt.Sprintf("%s: got %s, want %s", field, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano)))
	}
}

func (d *differ) int(field string, want, got int64) {
	if want != got {
		d.diffs = append(d.diffs, fmt.Sprintf("%s: got %d, want %d", field, got, want))
	}
}

func (d *differ) any(field string, want, got any) {
	if w, g := jsonString(want), jsonString(got); w != g {
		d.diffs = append(d.diffs, fmt.Sprintf("%s: got %s, want %s", field, g, w))
	}
}

func (d *differ) report(t *testing.T, what string) {
	t.Helper()
	if len(d.diffs) > 0 {
		t.Errorf("%s does not round-trip:\n  %s", what, strings.Join(d.diffs, "\n  "))
	}
}

func diffAccount(t *testing.T, want, got *ledger.Account) {
	t.Helper()
	var d differ
	d.str("ID", want.ID, got.ID)
	d.str("Name", want.Name, got.Name)
	d.str("Code", want.Code, got.Code)
	d.str("Kind", want.Kind, got.Kind)
	d.any("Currency", want.Currency, got.Currency)
	d.str("Status", want.Status, got.Status)
	d.num("Balance", want.Balance, got.Balance)
	d.num("Pending", want.Pending, got.Pending)
	d.num("OverdraftLimit", want.OverdraftLimit, got.OverdraftLimit)
	d.optNum("ApprovalThreshold", want.ApprovalThreshold, got.ApprovalThreshold)
	d.str("IBAN", want.IBAN, got.IBAN)
	d.any("Members", want.Members, got.Members)
	d.str("Metadata", string(want.Metadata), string(got.Metadata))
	d.any("FundsChecked", want.FundsChecked, got.FundsChecked)
	d.time("CreatedAt", want.CreatedAt, got.CreatedAt)
	d.str("CreatedBy", want.CreatedBy, got.CreatedBy)
	d.time("UpdatedAt", want.UpdatedAt, got.UpdatedAt)
	d.int("Version", want.Version, got.Version)
	d.int("Seq", want.Seq, got.Seq)
	d.time("LastPostedAt", want.LastPostedAt, got.LastPostedAt)
	d.report(t, "account "+want.Name)
}

func diffTxn(t *testing.T, want, got *ledger.Transaction) {
	t.Helper()
	var d differ
	for _, f := range []struct{ name, want, got string }{
		{"ID", want.ID, got.ID}, {"Kind", want.Kind, got.Kind}, {"Status", want.Status, got.Status},
		{"InitialStatus", want.InitialStatus, got.InitialStatus}, {"Memo", want.Memo, got.Memo},
		{"Reference", want.Reference, got.Reference}, {"ValueDate", want.ValueDate, got.ValueDate},
		{"Source", want.Source, got.Source}, {"CreatedBy", want.CreatedBy, got.CreatedBy},
		{"PostedBy", want.PostedBy, got.PostedBy}, {"ApprovedBy", want.ApprovedBy, got.ApprovedBy},
		{"RejectedBy", want.RejectedBy, got.RejectedBy}, {"Reason", want.Reason, got.Reason},
		{"Payee", want.Payee, got.Payee}, {"Method", want.Method, got.Method}, {"Category", want.Category, got.Category},
		{"Reverses", want.Reverses, got.Reverses}, {"ReversesKind", want.ReversesKind, got.ReversesKind},
		{"ReversedBy", want.ReversedBy, got.ReversedBy}, {"Metadata", string(want.Metadata), string(got.Metadata)},
	} {
		d.str(f.name, f.want, f.got)
	}
	d.time("CreatedAt", want.CreatedAt, got.CreatedAt)
	d.time("PostedAt", want.PostedAt, got.PostedAt)
	d.time("ApprovedAt", want.ApprovedAt, got.ApprovedAt)
	d.time("RejectedAt", want.RejectedAt, got.RejectedAt)
	d.optNum("Rate", want.Rate, got.Rate)
	if len(want.Lines) != len(got.Lines) {
		d.diffs = append(d.diffs, fmt.Sprintf("Lines: got %d, want %d", len(got.Lines), len(want.Lines)))
	} else {
		for i := range want.Lines {
			w, g := want.Lines[i], got.Lines[i]
			p := fmt.Sprintf("Lines[%d].", i)
			d.str(p+"AccountID", w.AccountID, g.AccountID)
			d.str(p+"Type", w.Type, g.Type)
			d.num(p+"Amount", w.Amount, g.Amount)
			d.any(p+"Currency", w.Currency, g.Currency)
		}
	}
	d.report(t, "transaction "+want.ID)
}

func diffLine(t *testing.T, want, got ledger.HistoryLine) {
	t.Helper()
	var d differ
	d.str("AccountID", want.AccountID, got.AccountID)
	d.int("Seq", want.Seq, got.Seq)
	d.str("TransactionID", want.TransactionID, got.TransactionID)
	d.str("Kind", want.Kind, got.Kind)
	d.str("Type", want.Type, got.Type)
	d.num("Amount", want.Amount, got.Amount)
	d.num("BalanceAfter", want.BalanceAfter, got.BalanceAfter)
	d.any("Currency", want.Currency, got.Currency)
	d.str("CounterpartyAccountID", want.CounterpartyAccountID, got.CounterpartyAccountID)
	d.str("Memo", want.Memo, got.Memo)
	d.str("Reference", want.Reference, got.Reference)
	d.str("ValueDate", want.ValueDate, got.ValueDate)
	d.time("PostedAt", want.PostedAt, got.PostedAt)
	d.str("PostedBy", want.PostedBy, got.PostedBy)
	d.report(t, fmt.Sprintf("history line %s#%d", want.AccountID, want.Seq))
}

// TestCodecRoundTripsThroughTheTable writes accounts, an exchange with every
// optional transaction field and its history lines with the store's own
// functions, reads them back through the store, and compares every field
// exactly; then it reads the raw items to see that money is stored as
// DynamoDB numbers.
func TestCodecRoundTripsThroughTheTable(t *testing.T) {
	ctx := testCtx(t)
	st := rawStore()
	tenant := newTenant(t)
	// A creation time with milliseconds: LastPostedAt and CreatedAt must
	// keep them.
	created := time.Date(2026, 1, 15, 9, 30, 45, 123_000_000, time.UTC)

	big := createAccount(t, st, tenant, ledger.NewAccountInput{
		Name: "Big Vault", Code: "BV-01", Kind: ledger.KindBank, Currency: "EUR",
		OpeningBalance: strp("123456789012345.67"), ApprovalThreshold: strp("1000.50"),
		IBAN: "DE89 3704 0044 0532 0130 00", Members: []string{"alice", "bob", "carol"},
		Metadata: json.RawMessage(`{"n": 7, "cost_center": "X-1", "nested": {"a": [1, 2.50]}}`),
	}, created)
	if big.Balance.String() != "123456789012345.67" || big.ApprovalThreshold == nil || big.LastPostedAt.Nanosecond() != 123_000_000 {
		t.Fatalf("test setup: account %+v is not the one meant", big)
	}
	neg := createAccount(t, st, tenant, ledger.NewAccountInput{
		Name: "Overdrawn Till", Kind: ledger.KindCash, Currency: "RON",
		OpeningBalance: strp("-50.25"), OverdraftLimit: strp("100.00"),
	}, created.Add(7*time.Millisecond))
	if neg.ApprovalThreshold != nil || !neg.Balance.Equal(dec(t, "-50.25")) {
		t.Fatalf("test setup: account %+v is not the one meant", neg)
	}
	usd := simpleAccount(t, st, tenant, "Dollar Wallet", "USD", "")

	for _, want := range []*ledger.Account{big, neg, usd} {
		got, err := st.GetAccount(ctx, tenant, want.ID)
		if err != nil {
			t.Fatalf("GetAccount %s: %v", want.ID, err)
		}
		diffAccount(t, want, got)
	}
	if got, _ := st.GetAccount(ctx, tenant, big.ID); got != nil {
		if got.Balance.String() != "123456789012345.67" {
			t.Errorf("big balance reads back as %s", got.Balance.String())
		}
		if got.LastPostedAt.UnixMilli() != created.UnixMilli() {
			t.Errorf("LastPostedAt %s lost its milliseconds (want %s)", got.LastPostedAt, created)
		}
	}
	if got, _ := st.GetAccount(ctx, tenant, neg.ID); got != nil && got.ApprovalThreshold != nil {
		t.Errorf("no approval threshold was set, read back %s", got.ApprovalThreshold)
	}

	// An exchange of 3.00 EUR into 10.00 USD: rate 3.3333333333 (10
	// decimals). Build sets every optional field of the transaction.
	approvedAt := time.Date(2026, 2, 1, 10, 0, 0, 1_000_000, time.UTC)
	rejectedAt := time.Date(2026, 2, 2, 11, 0, 0, 999_000_000, time.UTC)
	rec := &builds{}
	req := postReq(tenant, "bob", []string{big.ID, usd.ID}, "", nil, rec, func(stt *app.State, a ledger.Actor) (*ledger.Booking, error) {
		bk, err := ledger.Transfer(stt.Accounts[big.ID], stt.Accounts[usd.ID], ledger.TransferInput{
			FromAccountID: big.ID, ToAccountID: usd.ID, Amount: "3.00", ToAmount: strp("10.00"),
			Details: ledger.Details{
				Memo: "FX for supplies — ünïcode", Reference: "INV-42/2026", Category: "fx",
				Metadata: json.RawMessage(`{"desk":"treasury","ticket":17}`),
			},
		}, a)
		if err != nil {
			return nil, err
		}
		x := bk.Txn
		x.Source = "import"
		x.Payee, x.Method = "ACME SRL", "bank_transfer"
		x.ApprovedAt, x.ApprovedBy = approvedAt, "carol"
		x.RejectedAt, x.RejectedBy, x.Reason = rejectedAt, "dave", "wrong desk"
		x.Reverses, x.ReversesKind, x.ReversedBy = "txn_01HZZZZZZZZZZZZZZZZZZZZZZZ", ledger.TxnTransfer, "txn_01J00000000000000000000000"
		return bk, nil
	})
	txn := mustPost(t, st, req)
	bk := rec.last()
	if txn.Rate == nil || txn.Rate.String() != "3.3333333333" {
		t.Fatalf("test setup: rate %v, want 3.3333333333", txn.Rate)
	}
	got, err := st.GetTransaction(ctx, tenant, txn.ID)
	if err != nil {
		t.Fatalf("GetTransaction: %v", err)
	}
	diffTxn(t, txn, got)
	if got.Rate == nil || got.Rate.String() != "3.3333333333" {
		t.Errorf("rate reads back as %v, want exactly 3.3333333333", got.Rate)
	}
	if len(got.Lines) != 4 {
		t.Fatalf("exchange has %d lines, want 4", len(got.Lines))
	}

	// History lines: the exchange's line on each real account.
	var fromLine, toLine *ledger.HistoryLine
	for _, u := range bk.Updates {
		switch u.Account.ID {
		case big.ID:
			fromLine = u.Line
		case usd.ID:
			toLine = u.Line
		}
	}
	if fromLine == nil || toLine == nil {
		t.Fatal("test setup: booking lacks a history line")
	}
	bigLines := allHistory(t, st, tenant, big.ID)
	if len(bigLines) != 2 {
		t.Fatalf("big has %d history lines, want 2 (opening, exchange)", len(bigLines))
	}
	diffLine(t, *fromLine, bigLines[1])
	if bigLines[1].BalanceAfter.String() != "123456789012342.67" || bigLines[1].CounterpartyAccountID != usd.ID {
		t.Errorf("exchange line %+v: want balance_after 123456789012342.67 and counterparty %s", bigLines[1], usd.ID)
	}
	opening := bigLines[0]
	if opening.Seq != 1 || opening.Kind != ledger.TxnOpening || opening.Type != ledger.Credit ||
		opening.Amount.String() != "123456789012345.67" || !opening.PostedAt.Equal(created) {
		t.Errorf("opening line %+v is not the opening of 123456789012345.67 at %s", opening, created)
	}
	usdLines := allHistory(t, st, tenant, usd.ID)
	if len(usdLines) != 1 {
		t.Fatalf("usd has %d history lines, want 1", len(usdLines))
	}
	diffLine(t, *toLine, usdLines[0])
	negLines := allHistory(t, st, tenant, neg.ID)
	if len(negLines) != 1 || negLines[0].Type != ledger.Debit || !negLines[0].Amount.Equal(dec(t, "50.25")) ||
		!negLines[0].BalanceAfter.Equal(dec(t, "-50.25")) {
		t.Errorf("negative opening reads back as %+v", negLines)
	}

	// The accounts after the exchange round-trip too (seq, last_posted_at).
	for _, u := range bk.Updates {
		gotAcc, err := st.GetAccount(ctx, tenant, u.Account.ID)
		if err != nil {
			t.Fatal(err)
		}
		diffAccount(t, u.Account, gotAcc)
	}

	// Raw items: money is a DynamoDB number, with the exact digits.
	accIt := rawGet(t, accountPK(tenant, big.ID), skAccount)
	wantN(t, accIt, "balance", "123456789012342.67")
	wantN(t, accIt, "pending", "0")
	wantN(t, accIt, "overdraft_limit", "0")
	wantN(t, accIt, "approval_threshold", "1000.5")
	negIt := rawGet(t, accountPK(tenant, neg.ID), skAccount)
	wantN(t, negIt, "balance", "-50.25")
	wantN(t, negIt, "overdraft_limit", "100")
	if _, ok := negIt["approval_threshold"]; ok {
		t.Errorf("an account without approval threshold stores %v", negIt["approval_threshold"])
	}
	txIt := rawGet(t, txnPK(tenant, txn.ID), skTxn)
	wantN(t, txIt, "rate", "3.3333333333")
	lines, ok := txIt["lines"].(*types.AttributeValueMemberL)
	if !ok || len(lines.Value) != 4 {
		t.Fatalf("lines are stored as %T %v", txIt["lines"], txIt["lines"])
	}
	for i, want := range []string{"3", "3", "10", "10"} {
		m, ok := lines.Value[i].(*types.AttributeValueMemberM)
		if !ok {
			t.Fatalf("line %d is stored as %T", i, lines.Value[i])
		}
		wantN(t, m.Value, "m", want)
	}
	hIt := rawGet(t, accountPK(tenant, big.ID), historySK(fromLine.PostedAt, fromLine.Seq))
	wantN(t, hIt, "amount", "3")
	wantN(t, hIt, "balance_after", "123456789012342.67")
	wantN(t, hIt, "seq", "2")
	for _, sys := range []string{"external:EUR", "fx:EUR", "fx:USD", "external:RON"} {
		shards := rawPartition(t, systemPK(tenant, sys))
		if len(shards) == 0 {
			t.Errorf("system account %s has no shard", sys)
		}
		for _, sh := range shards {
			if _, ok := sh["balance"].(*types.AttributeValueMemberN); !ok {
				t.Errorf("shard %v of %s stores its balance as %T", sh[attrSK], sys, sh["balance"])
			}
		}
	}

	// Invariant 1 on what was written: per currency, everything sums to zero.
	sys, err := st.SystemBalances(ctx, tenant, []string{"external:EUR", "fx:EUR", "external:USD", "fx:USD", "external:RON"})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"external:EUR": "-123456789012345.67", "fx:EUR": "3", "external:USD": "0", "fx:USD": "-10", "external:RON": "50.25",
	} {
		if !sys[id].Equal(dec(t, want)) {
			t.Errorf("system account %s = %s, want %s", id, sys[id], want)
		}
	}
	for ccy, sum := range map[string]decimal.Decimal{
		"EUR": dec(t, "123456789012342.67").Add(sys["external:EUR"]).Add(sys["fx:EUR"]),
		"USD": dec(t, "10").Add(sys["external:USD"]).Add(sys["fx:USD"]),
		"RON": dec(t, "-50.25").Add(sys["external:RON"]),
	} {
		if !sum.IsZero() {
			t.Errorf("%s does not sum to zero: %s", ccy, sum)
		}
	}
}
