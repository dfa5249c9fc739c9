package dynamo

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// TestCreateTableTwiceAndPing: CreateTable on the existing table succeeds
// and keeps its data; Ping reaches the table, and fails on a missing one.
func TestCreateTableTwiceAndPing(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	acc := simpleAccount(t, rawStore(), tenant, "Survivor", "EUR", "12.34")
	if err := CreateTable(ctx, TestDB, TestTable); err != nil {
		t.Fatalf("CreateTable on the existing table: %v", err)
	}
	if err := CreateTable(ctx, TestDB, TestTable); err != nil {
		t.Fatalf("CreateTable a third time: %v", err)
	}
	got, err := rawStore().GetAccount(ctx, tenant, acc.ID)
	if err != nil || !got.Balance.Equal(dec(t, "12.34")) {
		t.Fatalf("after CreateTable again the account reads %v, %v", got, err)
	}
	if err := rawStore().Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := New(TestDB, "treasury-no-such-table-"+tenant).Ping(ctx); err == nil {
		t.Error("Ping of a table that does not exist succeeded")
	}
}

func closePeriod(t *testing.T, st *Store, tenant, month string, at time.Time, by string, idem *app.Idempotency) (*ledger.Period, *app.Replay, error) {
	t.Helper()
	caller := ledger.NewCaller(by, tenant, ledger.ScopeAdmin)
	audit := ledger.NewAuditRecord(caller, at, ledger.ActionPeriodClosed, "period", month, nil,
		[]ledger.Change{{Field: "status", Old: ledger.PeriodOpen, New: ledger.PeriodClosing}})
	return st.ClosePeriod(testCtx(t), tenant, ledger.Period{Month: month, ClosingAt: at.UTC().Truncate(time.Millisecond), ClosedBy: by}, idem, by, audit)
}

// TestPeriods: a second close of a month is a conflict that changes nothing;
// ListPeriods lists the tenant's months oldest first, with what was stored;
// a posting reads the period of its value date and is refused in a closed one.
func TestPeriods(t *testing.T) {
	ctx := testCtx(t)
	st := rawStore()
	tenant := newTenant(t)
	t0 := time.Date(2026, 4, 1, 8, 0, 0, 250_000_000, time.UTC)

	for i, m := range []string{"2026-03", "2025-12", "2026-01"} {
		p, replay, err := closePeriod(t, st, tenant, m, t0.Add(time.Duration(i)*time.Millisecond), "carol", nil)
		if err != nil || replay != nil || p == nil || p.Month != m {
			t.Fatalf("close %s: %v, %+v, %v", m, p, replay, err)
		}
	}
	_, _, err := closePeriod(t, st, tenant, "2026-03", t0.Add(time.Hour), "dave", nil)
	wantCode(t, err, ledger.EConflict)

	periods, err := st.ListPeriods(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range periods {
		got = append(got, fmt.Sprintf("%s@%s by %s", p.Month, p.ClosingAt.Format(time.RFC3339Nano), p.ClosedBy))
	}
	want := []string{
		"2025-12@2026-04-01T08:00:00.251Z by carol",
		"2026-01@2026-04-01T08:00:00.252Z by carol",
		"2026-03@2026-04-01T08:00:00.25Z by carol", // the second close changed nothing
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListPeriods = %v\nwant %v", got, want)
	}
	if others, err := st.ListPeriods(ctx, newTenant(t)); err != nil || len(others) != 0 {
		t.Errorf("another tenant lists %v, %v", others, err)
	}

	// An idempotent close replays; its key with another request is refused.
	idem := &app.Idempotency{Key: "close-04", RequestHash: "h-04"}
	p1, replay, err := closePeriod(t, st, tenant, "2026-04", t0, "carol", idem)
	if err != nil || replay != nil {
		t.Fatalf("close 2026-04: %v, %+v", err, replay)
	}
	p2, replay, err := closePeriod(t, st, tenant, "2026-04", t0.Add(time.Minute), "carol", idem)
	if err != nil || replay == nil || replay.ResourceID != "2026-04" || p2 == nil || !p2.ClosingAt.Equal(p1.ClosingAt) {
		t.Errorf("repeat close: %+v, replay %+v, %v; want a replay of %+v", p2, replay, err, p1)
	}
	_, _, err = closePeriod(t, st, tenant, "2026-05", t0, "carol", &app.Idempotency{Key: "close-04", RequestHash: "other"})
	wantCode(t, err, ledger.EIdempotencyKeyReuse)

	// The posting's one read includes the period: a value date in a closed
	// month is refused.
	acc := simpleAccount(t, st, tenant, "Period Till", "EUR", "")
	req := postReq(tenant, "bob", []string{acc.ID}, "2026-01-31", nil, nil, func(s *app.State, a ledger.Actor) (*ledger.Booking, error) {
		return ledger.Entry(s.Accounts[acc.ID], ledger.EntryInput{Type: ledger.Credit, Amount: "1.00",
			Details: ledger.Details{ValueDate: "2026-01-31"}}, a)
	})
	_, _, err = st.Post(ctx, req)
	wantCode(t, err, ledger.EPeriodClosed)
	if a := account(t, st, tenant, acc.ID); a.Seq != 0 || !a.Balance.IsZero() {
		t.Errorf("a refused posting moved the account: seq %d balance %s", a.Seq, a.Balance)
	}
}

// TestCreateTableTurnsOnTheStream: a table kept from before the stream (a
// local stack's old data) gets it, so that hot accounts' history is
// numbered there too.
func TestCreateTableTurnsOnTheStream(t *testing.T) {
	ctx := testCtx(t)
	name := "treasury-nostream-" + newTenant(t)
	d := Definition()
	if _, err := TestDB.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name), AttributeDefinitions: d.AttributeDefinitions, KeySchema: d.KeySchema,
		GlobalSecondaryIndexes: d.GlobalSecondaryIndexes, BillingMode: types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	defer TestDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	if err := CreateTable(ctx, TestDB, name); err != nil {
		t.Fatalf("CreateTable on a table without a stream: %v", err)
	}
	out, err := TestDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if spec := out.Table.StreamSpecification; spec == nil || !aws.ToBool(spec.StreamEnabled) || spec.StreamViewType != types.StreamViewTypeKeysOnly || out.Table.LatestStreamArn == nil {
		t.Errorf("stream after CreateTable: %+v, arn %v; want KEYS_ONLY on", spec, aws.ToString(out.Table.LatestStreamArn))
	}
}
