package dynamo

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// cursorJSON is a cursor as the store writes it: base64url of
// {"k":{key attributes},"s":"scope hash"}.
type cursorJSON struct {
	K map[string]string `json:"k"`
	S string            `json:"s"`
}

func openCursor(t *testing.T, c string) cursorJSON {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("cursor %q is not base64url: %v", c, err)
	}
	var cj cursorJSON
	if err := json.Unmarshal(raw, &cj); err != nil {
		t.Fatalf("cursor %s is not the JSON expected: %v", raw, err)
	}
	return cj
}

func sealCursor(t *testing.T, cj cursorJSON) string {
	t.Helper()
	raw, err := json.Marshal(cj)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func seqs(lines []ledger.HistoryLine) []int64 {
	out := make([]int64, len(lines))
	for i, l := range lines {
		out[i] = l.Seq
	}
	return out
}

// TestHistoryCursors: paging 3 at a time over 7 lines returns every line
// once, in order, both ways; a cursor is bound to its tenant, account and
// query, and one tampered with or naming another tenant's key is malformed.
func TestHistoryCursors(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	st := rawStore()
	x := simpleAccount(t, st, tenant, "Paged", "EUR", "")
	y := simpleAccount(t, st, tenant, "Other Account", "EUR", "5.00")
	var txnIDs []string
	for i := 1; i <= 7; i++ {
		txn := mustPost(t, st, entryReq(tenant, "bob", x.ID, ledger.Credit, fmt.Sprintf("%d.00", i), nil, nil))
		txnIDs = append(txnIDs, txn.ID)
	}

	for _, desc := range []bool{false, true} {
		var got []ledger.HistoryLine
		var pageSizes []int
		f := app.HistoryFilter{Limit: 3, Descending: desc}
		for i := 0; i < 10; i++ {
			page, err := st.History(ctx, tenant, x.ID, f)
			if err != nil {
				t.Fatalf("History page %d (desc %v): %v", i, desc, err)
			}
			got = append(got, page.Items...)
			pageSizes = append(pageSizes, len(page.Items))
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
		want := "[1 2 3 4 5 6 7]"
		if desc {
			want = "[7 6 5 4 3 2 1]"
		}
		if fmt.Sprint(seqs(got)) != want || fmt.Sprint(pageSizes) != "[3 3 1]" {
			t.Errorf("desc=%v: pages of %v with seqs %v; want pages [3 3 1] with %s", desc, pageSizes, seqs(got), want)
		}
		for _, l := range got {
			if l.TransactionID != txnIDs[l.Seq-1] || !l.Amount.Equal(dec(t, fmt.Sprintf("%d", l.Seq))) {
				t.Errorf("seq %d is %s of %s, want %s of %d", l.Seq, l.TransactionID, l.Amount, txnIDs[l.Seq-1], l.Seq)
			}
		}
	}

	first, err := st.History(ctx, tenant, x.ID, app.HistoryFilter{Limit: 3})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	cur := first.NextCursor
	cj := openCursor(t, cur)
	if cj.K[attrPK] != accountPK(tenant, x.ID) || cj.S == "" {
		t.Fatalf("cursor %+v does not hold the account's key and a scope", cj)
	}

	other := newTenant(t)
	foreignPK := cj
	foreignPK.K = map[string]string{attrPK: accountPK(other, x.ID), attrSK: cj.K[attrSK]}
	otherScope := cj
	otherScope.S = "AAAAAAAAAAAAAAAA"
	extraAttr := cj
	extraAttr.K = map[string]string{attrPK: cj.K[attrPK], attrSK: cj.K[attrSK], "balance": "1"}
	noKey := cj
	noKey.K = map[string]string{}
	// One bit flipped in the payload, inside the scope hash (so the JSON
	// stays valid and only the binding is broken).
	payload, _ := base64.RawURLEncoding.DecodeString(cur)
	at := strings.Index(string(payload), `"s":"`) + len(`"s":"`)
	payload[at] ^= 0x01
	flipped := base64.RawURLEncoding.EncodeToString(payload)
	txPage, err := st.ListTransactions(ctx, tenant, app.TransactionFilter{AccountID: x.ID, Limit: 2})
	if err != nil || txPage.NextCursor == "" {
		t.Fatalf("ListTransactions: %v, cursor %q", err, txPage.NextCursor)
	}

	for _, c := range []struct {
		name, tenant, account, cursor string
		f                             app.HistoryFilter
	}{
		{"another account", tenant, y.ID, cur, app.HistoryFilter{}},
		{"another tenant", other, x.ID, cur, app.HistoryFilter{}},
		{"another order", tenant, x.ID, cur, app.HistoryFilter{Descending: true}},
		{"a cursor of another list", tenant, x.ID, txPage.NextCursor, app.HistoryFilter{}},
		{"pk of another tenant, scope kept", tenant, x.ID, sealCursor(t, foreignPK), app.HistoryFilter{}},
		{"tampered scope", tenant, x.ID, sealCursor(t, otherScope), app.HistoryFilter{}},
		{"an attribute that is no key", tenant, x.ID, sealCursor(t, extraAttr), app.HistoryFilter{}},
		{"no key", tenant, x.ID, sealCursor(t, noKey), app.HistoryFilter{}},
		{"a flipped bit", tenant, x.ID, flipped, app.HistoryFilter{}},
		{"truncated", tenant, x.ID, cur[:len(cur)-6], app.HistoryFilter{}},
		{"not base64", tenant, x.ID, "!!" + cur, app.HistoryFilter{}},
		{"not JSON", tenant, x.ID, base64.RawURLEncoding.EncodeToString([]byte("hello")), app.HistoryFilter{}},
	} {
		f := c.f
		f.Limit, f.Cursor = 3, c.cursor
		page, err := st.History(ctx, c.tenant, c.account, f)
		if ledger.ErrorCode(err) != ledger.EMalformed {
			t.Errorf("%s: History answered %d items, error %v; want code malformed", c.name, len(page.Items), err)
		}
	}

}

// TestHistoryCursorWithForgedKeyIsMalformed: the scope hash is a plain hash
// of the query (no secret), so a client can keep it and change the key. A
// cursor whose key is not one this query could have issued (another account
// of the same tenant, a sort key outside the account's range, a key without
// its sort key) is "not issued for them": the contract (API.md, pagination)
// answers 400, code malformed. The store hands such a key to DynamoDB as
// ExclusiveStartKey, whose ValidationException comes back as an internal
// error (500).
func TestHistoryCursorWithForgedKeyIsMalformed(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	st := rawStore()
	x := simpleAccount(t, st, tenant, "Forged", "EUR", "")
	y := simpleAccount(t, st, tenant, "Forged Other", "EUR", "")
	for i := 1; i <= 4; i++ {
		mustPost(t, st, entryReq(tenant, "bob", x.ID, ledger.Credit, "1.00", nil, nil))
		mustPost(t, st, entryReq(tenant, "bob", y.ID, ledger.Credit, "1.00", nil, nil))
	}
	first, err := st.History(ctx, tenant, x.ID, app.HistoryFilter{Limit: 2})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	cj := openCursor(t, first.NextCursor)
	forge := func(k map[string]string) string {
		f := cj
		f.K = k
		return sealCursor(t, f)
	}
	for _, c := range []struct{ name, cursor string }{
		{"pk of another account of the same tenant", forge(map[string]string{attrPK: accountPK(tenant, y.ID), attrSK: cj.K[attrSK]})},
		{"sk outside the account's history", forge(map[string]string{attrPK: cj.K[attrPK], attrSK: "Z"})},
		{"pk without sk", forge(map[string]string{attrPK: cj.K[attrPK]})},
	} {
		page, err := st.History(ctx, tenant, x.ID, app.HistoryFilter{Limit: 2, Cursor: c.cursor})
		if ledger.ErrorCode(err) != ledger.EMalformed {
			t.Errorf("%s: History answered %d items, error %v (code %s); want code malformed",
				c.name, len(page.Items), err, ledger.ErrorCode(err))
		}
	}
}

// TestCursorSignedOverItsKey: the check value covered tenant and query but
// not the key, so a key edited inside one's own partition was accepted,
// even one longer than DynamoDB's key limit (a 500 on AWS). The whole
// cursor is signed, and its length bounded.
func TestCursorSignedOverItsKey(t *testing.T) {
	ctx := testCtx(t)
	tenant := newTenant(t)
	st := rawStore()
	x := simpleAccount(t, st, tenant, "Signed", "EUR", "")
	for range 4 {
		mustPost(t, st, entryReq(tenant, "bob", x.ID, ledger.Credit, "1.00", nil, nil))
	}
	first, err := st.History(ctx, tenant, x.ID, app.HistoryFilter{Limit: 2})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	cj := openCursor(t, first.NextCursor)
	edited := cj
	edited.K = map[string]string{attrPK: cj.K[attrPK], attrSK: cj.K[attrSK][:len(cj.K[attrSK])-1] + "0"}
	long := cj
	long.K = map[string]string{attrPK: cj.K[attrPK], attrSK: cj.K[attrSK] + strings.Repeat("9", 1100)}
	for name, c := range map[string]string{
		"sort key edited within the account's range": sealCursor(t, edited),
		"sort key 1,100 characters longer":           sealCursor(t, long),
		"signature of another store's key":           encodeCursorWith([]byte("other"), cj.K, fmt.Sprintf("history|%s|%s|%s|%s|%v", tenant, x.ID, time.Time{}, time.Time{}, false)),
	} {
		if _, err := st.History(ctx, tenant, x.ID, app.HistoryFilter{Limit: 2, Cursor: c}); ledger.ErrorCode(err) != ledger.EMalformed {
			t.Errorf("%s: %v; want 400 malformed", name, err)
		}
	}
	// The cursor as issued still works, also on another store of the same key.
	if page, err := New(TestDB, TestTable).History(ctx, tenant, x.ID, app.HistoryFilter{Limit: 2, Cursor: first.NextCursor}); err != nil || len(page.Items) != 2 {
		t.Errorf("second page: %d items, %v", len(page.Items), err)
	}
}

// encodeCursorWith signs a cursor with another key, as another deployment would.
func encodeCursorWith(k []byte, key map[string]string, scope string) string {
	other := New(TestDB, TestTable)
	other.cursorKey = k
	last := item{}
	for n, v := range key {
		last[n] = s(v)
	}
	return other.encodeCursor(last, scope)
}

// FuzzDecodeCursor: whatever a client sends as a cursor, the store answers
// 400 malformed or continues a query it issued: a cursor it accepts is one
// it signed for this scope, with keys only in the caller's partitions.
func FuzzDecodeCursor(f *testing.F) {
	st := New(nil, "fuzz")
	scope, tenant := "history|t1|acc_1", "t1"
	good := st.encodeCursor(item{attrPK: s("T#t1#A#acc_1"), attrSK: s("H#2026-11-30T10:00:00.000Z#000000000003")}, scope)
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add("")
	f.Add("e30")
	f.Add(strings.Repeat("A", 2000))
	f.Fuzz(func(t *testing.T, c string) {
		it, err := st.decodeCursor(c, scope, tenant)
		if err != nil {
			if ledger.ErrorCode(err) != ledger.EMalformed {
				t.Fatalf("decodeCursor(%q) = %v, want malformed", c, err)
			}
			return
		}
		if c == "" {
			return
		}
		for k, v := range it {
			if (k == attrPK || k == attrGSI1PK) && !strings.HasPrefix(str(v), "T#t1#") {
				t.Fatalf("accepted a key of another partition: %q", str(v))
			}
		}
		if _, err := st.decodeCursor(c, scope+"x", tenant); err == nil {
			t.Fatalf("cursor %q accepted for another query", c)
		}
	})
}
