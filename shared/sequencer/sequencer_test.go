package sequencer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// recorder stands in for the store: which accounts the handler asked to
// number, and which of them fail.
type recorder struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]bool
}

func (r *recorder) NumberHistory(_ context.Context, tenant, id string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, tenant+"/"+id)
	if r.fail[id] {
		return 0, errors.New("throttled")
	}
	return 1, nil
}

func record(name, pk, sk string) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: name, Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{
		"pk": events.NewStringAttribute(pk), "sk": events.NewStringAttribute(sk)}}}
}

func TestHandleNumbersEachAccountOnceAndReportsFailures(t *testing.T) {
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("INSERT", "T#t1#A#acc_1", "P#2026-11-23T10:00:00.000Z#txn_1"),
		record("INSERT", "T#t1#A#acc_1", "P#2026-11-23T10:00:00.001Z#txn_2"),
		record("INSERT", "T#t2#A#acc_2", "P#2026-11-23T10:00:00.002Z#txn_3"),
		record("INSERT", "T#t1#A#acc_3", "H#2026-11-23T10:00:00.000Z#00000001"),
		record("REMOVE", "T#t1#A#acc_4", "P#2026-11-23T10:00:00.000Z#txn_4"),
		{EventName: "INSERT", Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{
			"pk": events.NewNumberAttribute("1"), "sk": events.NewStringAttribute("P#x")}}},
	}}
	if Wants(ev.Records[3]) || Wants(ev.Records[4]) || !Wants(ev.Records[0]) {
		t.Error("Wants should pick only inserts of unnumbered lines")
	}
	rec := &recorder{fail: map[string]bool{}}
	h := Handler{Store: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	sort.Strings(rec.calls)
	if got := rec.calls; len(got) != 2 || got[0] != "t1/acc_1" || got[1] != "t2/acc_2" {
		t.Errorf("numbered %v; want acc_1 once and acc_2", got)
	}
	rec = &recorder{fail: map[string]bool{"acc_2": true}}
	h.Store = rec
	if err := h.Handle(context.Background(), ev); err == nil {
		t.Error("a failed account must fail the batch, so that it is delivered again")
	}
	if len(rec.calls) != 2 {
		t.Errorf("one failing account stopped the others: %v", rec.calls)
	}
}

// TestHandleBatchReportsTheFirstRecordOfEachFailedAccount: the event
// source mapping delivers again from the reported records, not the whole
// batch.
func TestHandleBatchReportsTheFirstRecordOfEachFailedAccount(t *testing.T) {
	withSeq := func(r events.DynamoDBEventRecord, seq string) events.DynamoDBEventRecord {
		r.Change.SequenceNumber = seq
		return r
	}
	ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		withSeq(record("INSERT", "T#t1#A#acc_1", "P#2026-11-23T10:00:00.000Z#txn_1"), "100"),
		withSeq(record("INSERT", "T#t1#A#acc_2", "P#2026-11-23T10:00:00.001Z#txn_2"), "101"),
		withSeq(record("INSERT", "T#t1#A#acc_2", "P#2026-11-23T10:00:00.002Z#txn_3"), "102"),
	}}
	h := Handler{Store: &recorder{fail: map[string]bool{"acc_2": true}}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	resp, err := h.HandleBatch(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "101" {
		t.Errorf("failures %+v; want the first record of acc_2 (101)", resp.BatchItemFailures)
	}
	h.Store = &recorder{}
	if resp, _ := h.HandleBatch(context.Background(), ev); len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures %+v after a batch that went through", resp.BatchItemFailures)
	}
}

// sweepRecorder lists accounts as waiting since a time and numbers them.
type sweepRecorder struct {
	recorder
	since time.Time
}

func (s *sweepRecorder) WaitingSince(_ context.Context, t time.Time, _ int) ([]dynamo.HotAccount, error) {
	s.since = t
	return []dynamo.HotAccount{{Tenant: "t1", ID: "acc_1"}, {Tenant: "t2", ID: "acc_2"}}, nil
}

// TestSweepTakesNowFromItsEvent: the sweep numbers what waited a minute
// before the schedule's time, so a run can be replayed for any instant.
func TestSweepTakesNowFromItsEvent(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rec := &sweepRecorder{recorder: recorder{fail: map[string]bool{}}}
	s := Sweeper{Store: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := s.Handle(context.Background(), events.EventBridgeEvent{Time: at}); err != nil {
		t.Fatal(err)
	}
	if !rec.since.Equal(at.Add(-ledger.HistoryQuiet)) {
		t.Errorf("swept lines waiting since %v, want %v", rec.since, at.Add(-ledger.HistoryQuiet))
	}
	sort.Strings(rec.calls)
	if len(rec.calls) != 2 || rec.calls[0] != "t1/acc_1" || rec.calls[1] != "t2/acc_2" {
		t.Errorf("numbered %v", rec.calls)
	}
	rec.fail["acc_2"] = true
	if err := s.Handle(context.Background(), events.EventBridgeEvent{Time: at}); err == nil {
		t.Error("a sweep that failed an account succeeded: its retries and dead-letter queue never see it")
	}
}
