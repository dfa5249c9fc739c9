package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
)

// requestLog finds the one log line of a request by its id.
func requestLog(t *testing.T, reqID string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(stack.LogBytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" && m["request_id"] == reqID {
			return m
		}
	}
	t.Fatalf("no log line for request %s", reqID)
	return nil
}

// Each request's log line carries its cost and outcome as CloudWatch EMF,
// and postings stay within their round-trip budget: one read, one write.
func TestRequestLogCarriesCostAsEMF(t *testing.T) {
	o := newOrg(t)
	a := o.account(map[string]any{"name": "A", "currency": "RON", "kind": "cash", "opening_balance": "100.00"})["id"].(string)
	b := o.account(map[string]any{"name": "B", "currency": "RON", "kind": "cash"})["id"].(string)
	r := o.do("POST", "/transfers", o.admin, map[string]any{"from_account_id": a, "to_account_id": b, "amount": "10.00"}, "Idempotency-Key", "cost-1")
	if r.Status != 201 {
		t.Fatalf("transfer: %d %s", r.Status, r.Body)
	}
	line := requestLog(t, r.Header.Get("X-Request-Id"))
	for field, want := range map[string]any{
		"operation": "CreateTransfer", "Operation": "CreateTransfer", "status": float64(201), "outcome": "posted",
		"tenant": o.tenant, "actor": "u_admin", "Posted": float64(1), "Requests": float64(1),
		"DynamoDBCalls": float64(2), "ConflictRetries": float64(0),
	} {
		if line[field] != want {
			t.Errorf("log field %s = %v, want %v", field, line[field], want)
		}
	}
	// 2 accounts, 2 history lines, the transaction, the audit and the
	// idempotency records: 7 items of under 1 KB, 2 WCU each in a transaction.
	if wcu, _ := line["ModelWriteUnits"].(float64); wcu <= 0 || wcu > 14 {
		t.Errorf("a transfer cost %v WCU, budget 14", line["ModelWriteUnits"])
	}
	aws, _ := line["_aws"].(map[string]any)
	if aws == nil || aws["CloudWatchMetrics"] == nil {
		t.Fatalf("no EMF block: %v", line)
	}

	g := o.do("GET", "/accounts/"+a, o.admin, nil)
	if l := requestLog(t, g.Header.Get("X-Request-Id")); l["DynamoDBCalls"] != float64(1) || l["ReadCapacityUnits"].(float64) > 1 {
		t.Errorf("GET /accounts/{id}: %v calls, %v RCU; budget 1 call, 1 RCU", l["DynamoDBCalls"], l["ReadCapacityUnits"])
	}
	p := o.do("POST", "/accounts/"+a+"/withdrawals", o.admin, map[string]any{"amount": "1000.00"})
	if l := requestLog(t, p.Header.Get("X-Request-Id")); l["Refused"] != float64(1) || l["outcome"] != "insufficient-funds" || l["DynamoDBCalls"] != float64(1) {
		t.Errorf("refused withdrawal log: %v", l)
	}
}
