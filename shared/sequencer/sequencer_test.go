package sequencer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
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
