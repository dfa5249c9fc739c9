package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/lambdaapi"
)

// Placeholders in events/*.json, replaced by real ids as the test goes.
const (
	sampleAccount      = "acc_01JD0000000000000000000001"
	sampleCounterparty = "acc_01JD0000000000000000000002"
	sampleTransaction  = "txn_01JD0000000000000000000001"
)

// Every HTTP function's Lambda handler (the api-proxy adapter included)
// answers its sample event from events/ against DynamoDB Local.
func TestEveryFunctionHandlesItsSampleEvent(t *testing.T) {
	o := newOrg(t)
	alice := o.token("u_alice", "admin")
	ids := map[string]string{}
	invoked := map[string]bool{}
	invoke := func(name string, want int) map[string]any {
		t.Helper()
		rt, ok := api.RouteNamed(name)
		if !ok {
			t.Fatalf("no route %s", name)
		}
		raw, err := os.ReadFile(filepath.Join("..", "..", "events", rt.FunctionDir()+".json"))
		if err != nil {
			t.Fatalf("route %s has no sample event: %v", name, err)
		}
		text := string(raw)
		for placeholder, real := range ids {
			text = strings.ReplaceAll(text, placeholder, real)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal([]byte(text), &ev); err != nil {
			t.Fatalf("events/%s.json: %v", rt.FunctionDir(), err)
		}
		if ev.RouteKey != rt.Pattern() {
			t.Fatalf("events/%s.json is for %q, not %q", rt.FunctionDir(), ev.RouteKey, rt.Pattern())
		}
		if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil {
			a.JWT.Claims["tenant"] = o.tenant // this test's own organisation
		}
		resp, err := lambdaapi.Adapt(stack.Server, name)(context.Background(), ev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s answered %d, want %d: %s", name, resp.StatusCode, want, resp.Body)
		}
		if ct := resp.Headers["Content-Type"]; ct != "application/json" {
			t.Fatalf("%s: Content-Type %q", name, ct)
		}
		invoked[name] = true
		var body map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
			t.Fatalf("%s: body is not JSON: %s", name, resp.Body)
		}
		return body
	}

	invoke("Health", 200)
	ids[sampleAccount] = invoke("CreateAccount", 201)["id"].(string)
	ids[sampleCounterparty] = o.must(201, "POST", "/accounts", alice, map[string]any{"name": "Bank", "currency": "RON", "kind": "bank"})["id"].(string)
	invoke("GetAccount", 200)
	invoke("ListAccounts", 200)
	invoke("UpdateAccount", 200)
	invoke("GetBalance", 200)
	entry := invoke("CreateEntry", 201)["id"].(string)
	invoke("CreateTransfer", 201)
	w := invoke("CreateWithdrawal", 201)
	if w["status"] != "pending" {
		t.Fatalf("sample withdrawal is %v, want pending", w["status"])
	}
	ids[sampleTransaction] = w["id"].(string)
	invoke("ApproveTransaction", 200)
	ids[sampleTransaction] = o.must(201, "POST", "/accounts/"+ids[sampleAccount]+"/withdrawals", alice, map[string]any{"amount": "700.00"})["id"].(string)
	invoke("RejectTransaction", 200)
	invoke("CreateJournalEntry", 201)
	ids[sampleTransaction] = entry
	invoke("ReverseTransaction", 201)
	if got := invoke("GetTransaction", 200); got["status"] != "reversed" {
		t.Fatalf("reversed entry reads %v", got["status"])
	}
	invoke("ListTransactions", 200)
	invoke("GetHistory", 200)
	invoke("ClosePeriod", 200)
	invoke("ListPeriods", 200)
	invoke("ListAudit", 200)
	for _, rt := range api.Routes {
		if !invoked[rt.Name] {
			t.Errorf("route %s has no sample-event check here", rt.Name)
		}
	}
	o.checkChain(ids[sampleAccount])
	o.checkZeroSum()
}
