package dynamo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// writeKind names what an item of a TransactWriteItems is, from its key.
func writeKind(tenant string, w types.TransactWriteItem) string {
	var k item
	op := ""
	switch {
	case w.Put != nil:
		k, op = w.Put.Item, "put"
	case w.Update != nil:
		k, op = w.Update.Key, "update"
	case w.Delete != nil:
		k, op = w.Delete.Key, "delete"
	case w.ConditionCheck != nil:
		k, op = w.ConditionCheck.Key, "check"
	}
	r := reader{it: k}
	pk, sk := r.str(attrPK), r.str(attrSK)
	rest := strings.TrimPrefix(pk, "T#"+tenant+"#")
	switch {
	case rest == pk:
		return op + " foreign:" + pk
	case strings.HasPrefix(rest, "A#") && sk == skAccount:
		return op + " account"
	case strings.HasPrefix(rest, "A#") && strings.HasPrefix(sk, "H#"):
		return op + " history"
	case strings.HasPrefix(rest, "X#") && sk == skTxn:
		return op + " transaction"
	case rest == "AUDIT":
		return op + " audit"
	case strings.HasPrefix(rest, "I#") && sk == skIdem:
		return op + " idempotency"
	case strings.HasPrefix(rest, "S#"):
		return op + " system"
	}
	return op + " other:" + pk + "/" + sk
}

func writeKinds(tenant string, in []types.TransactWriteItem) map[string]int {
	out := map[string]int{}
	for _, w := range in {
		out[writeKind(tenant, w)]++
	}
	return out
}

func fmtCounts(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func wantCalls(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	if fmtCounts(got) != fmtCounts(want) {
		t.Errorf("%s made calls %s, want exactly %s", what, fmtCounts(got), fmtCounts(want))
	}
}

// TestRoundTrips counts what reaches DynamoDB: a same-currency transfer is
// one BatchGetItem (accounts, period, idempotency record) and one
// TransactWriteItems of 7 items with a key (2 accounts, 2 history lines, the
// transaction, the audit record, the idempotency record), 6 without; an
// entry adds a system shard instead of a second account and line; a balance
// is one GetItem, a page of history one Query.
func TestRoundTrips(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	a := simpleAccount(t, rawStore(), tenant, "Spy From", "EUR", "500.00")
	b := simpleAccount(t, rawStore(), tenant, "Spy To", "EUR", "")

	sp := newSpy()
	st := New(sp, TestTable)

	cases := []struct {
		name      string
		req       app.PostRequest
		keys      int
		wantItems map[string]int
	}{
		{
			name: "transfer with idempotency key",
			req:  transferReq(tenant, "bob", a.ID, b.ID, "10.00", &app.Idempotency{Key: "rt-1", RequestHash: "h1"}, nil),
			keys: 4, // 2 accounts, the period, the idempotency record
			wantItems: map[string]int{
				"put account": 2, "put history": 2, "put transaction": 1, "put audit": 1, "put idempotency": 1,
			},
		},
		{
			name: "transfer without key",
			req:  transferReq(tenant, "bob", a.ID, b.ID, "1.50", nil, nil),
			keys: 3,
			wantItems: map[string]int{
				"put account": 2, "put history": 2, "put transaction": 1, "put audit": 1,
			},
		},
		{
			name: "entry with idempotency key",
			req:  entryReq(tenant, "bob", a.ID, ledger.Debit, "2.00", &app.Idempotency{Key: "rt-2", RequestHash: "h2"}, nil),
			keys: 3,
			wantItems: map[string]int{
				"put account": 1, "put history": 1, "update system": 1, "put transaction": 1, "put audit": 1, "put idempotency": 1,
			},
		},
	}
	for _, c := range cases {
		sp.reset()
		mustPost(t, st, c.req)
		calls := sp.snapshot()
		wantCalls(t, c.name, calls, map[string]int{"BatchGetItem": 1, "TransactWriteItems": 1})
		if len(sp.batchIn) == 1 {
			n := 0
			for _, ka := range sp.batchIn[0].RequestItems {
				n += len(ka.Keys)
				if ka.ConsistentRead == nil || !*ka.ConsistentRead {
					t.Errorf("%s: the posting's read is not strongly consistent", c.name)
				}
			}
			if n != c.keys {
				t.Errorf("%s: BatchGetItem read %d keys, want %d", c.name, n, c.keys)
			}
		}
		if len(sp.writeIn) == 1 {
			items := sp.writeIn[0].TransactItems
			want := 0
			for _, v := range c.wantItems {
				want += v
			}
			if len(items) != want {
				t.Errorf("%s: TransactWriteItems wrote %d items, want %d", c.name, len(items), want)
			}
			wantCalls(t, c.name+" items", writeKinds(tenant, items), c.wantItems)
			t.Logf("%s: 1 BatchGetItem (%d keys) + 1 TransactWriteItems of %d items: %s",
				c.name, c.keys, len(items), fmtCounts(writeKinds(tenant, items)))
		}
	}

	// Every account update is conditional on the revision it read.
	sp.reset()
	mustPost(t, st, transferReq(tenant, "bob", a.ID, b.ID, "0.25", nil, nil))
	for _, w := range sp.writeIn[0].TransactItems {
		if writeKind(tenant, w) == "put account" {
			if w.Put.ConditionExpression == nil || *w.Put.ConditionExpression != "rev = :rev" {
				t.Errorf("account put is not conditional on its revision: %v", w.Put.ConditionExpression)
			}
		}
	}

	sp.reset()
	acc, err := st.GetAccount(ctx, tenant, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, "GetAccount", sp.snapshot(), map[string]int{"GetItem": 1})
	if !acc.Balance.Equal(dec(t, "486.25")) { // 500 - 10 - 1.50 - 2 - 0.25
		t.Errorf("balance %s, want 486.25", acc.Balance)
	}

	sp.reset()
	page, err := st.History(ctx, tenant, a.ID, app.HistoryFilter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, "History page", sp.snapshot(), map[string]int{"Query": 1})
	var seqs []int64
	for _, l := range page.Items {
		seqs = append(seqs, l.Seq)
	}
	if fmt.Sprint(seqs) != "[1 2 3 4 5]" || page.NextCursor != "" {
		t.Errorf("history seqs %v (cursor %q), want [1 2 3 4 5] and the end", seqs, page.NextCursor)
	}
}
