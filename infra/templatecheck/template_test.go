// Package templatecheck holds template.yaml to the code: its routes to the
// route table, its functions to functions/ and the Makefile, its table to
// the table definition the local stack uses, and its policies to least
// privilege.
package templatecheck

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"gopkg.in/yaml.v3"

	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/dynamo"
)

const root = "../.."

// template is the part of template.yaml these checks read. Intrinsic
// functions (!Ref, !GetAtt, !Sub) decode as their plain argument.
type template struct {
	Resources map[string]resource `yaml:"Resources"`
}

type resource struct {
	Type     string `yaml:"Type"`
	Metadata struct {
		BuildMethod string `yaml:"BuildMethod"`
	} `yaml:"Metadata"`
	Properties yaml.Node `yaml:"Properties"`
}

type function struct {
	Events   map[string]event `yaml:"Events"`
	Policies []struct {
		Version   string `yaml:"Version"`
		Statement []struct {
			Effect   string   `yaml:"Effect"`
			Action   []string `yaml:"Action"`
			Resource []string `yaml:"Resource"`
		} `yaml:"Statement"`
	} `yaml:"Policies"`
}

type event struct {
	Type       string `yaml:"Type"`
	Properties struct {
		Method string `yaml:"Method"`
		Path   string `yaml:"Path"`
		Auth   struct {
			Authorizer string `yaml:"Authorizer"`
		} `yaml:"Auth"`
	} `yaml:"Properties"`
}

type keyElement struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

type table struct {
	AttributeDefinitions []struct {
		AttributeName string `yaml:"AttributeName"`
		AttributeType string `yaml:"AttributeType"`
	} `yaml:"AttributeDefinitions"`
	KeySchema              []keyElement `yaml:"KeySchema"`
	GlobalSecondaryIndexes []struct {
		IndexName  string       `yaml:"IndexName"`
		KeySchema  []keyElement `yaml:"KeySchema"`
		Projection struct {
			ProjectionType string `yaml:"ProjectionType"`
		} `yaml:"Projection"`
	} `yaml:"GlobalSecondaryIndexes"`
	TimeToLiveSpecification struct {
		AttributeName string `yaml:"AttributeName"`
		Enabled       bool   `yaml:"Enabled"`
	} `yaml:"TimeToLiveSpecification"`
	StreamSpecification struct {
		StreamViewType string `yaml:"StreamViewType"`
	} `yaml:"StreamSpecification"`
}

// props decodes a resource's properties.
func (tpl template) props(t *testing.T, id string, v any) {
	t.Helper()
	res, ok := tpl.Resources[id]
	if !ok {
		t.Fatalf("template.yaml has no resource %s", id)
	}
	if err := res.Properties.Decode(v); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
}

func load(t *testing.T) template {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl template
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return tpl
}

func TestTemplateRoutesEqualRouteTable(t *testing.T) {
	tpl := load(t)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	inTemplate := map[string]string{}
	for id, res := range tpl.Resources {
		if res.Type != "AWS::Serverless::Function" {
			continue
		}
		var fn function
		if err := res.Properties.Decode(&fn); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		for _, ev := range fn.Events {
			if ev.Type == "HttpApi" {
				key := ev.Properties.Method + " " + ev.Properties.Path
				if other, dup := inTemplate[key]; dup {
					t.Errorf("%s and %s both serve %s", id, other, key)
				}
				inTemplate[key] = id
			}
		}
	}
	for _, rt := range api.Routes {
		id := rt.Name + "Function"
		if got, ok := inTemplate[rt.Pattern()]; !ok {
			t.Errorf("route %s (%s) is not in template.yaml", rt.Name, rt.Pattern())
		} else if got != id {
			t.Errorf("route %s is served by %s, want %s", rt.Pattern(), got, id)
		}
		delete(inTemplate, rt.Pattern())
		if tpl.Resources[id].Metadata.BuildMethod != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is not makefile", id)
		}
		if !regexp.MustCompile(`(?m)^build-` + id + `:`).Match(makefile) {
			t.Errorf("Makefile has no build-%s target", id)
		}
		if ev, err := os.ReadFile(filepath.Join(root, "events", rt.FunctionDir()+".json")); err != nil {
			t.Errorf("function %s has no sample event: %v", id, err)
		} else if !strings.Contains(string(ev), `"routeKey": "`+rt.Pattern()+`"`) {
			t.Errorf("events/%s.json is not an event of %s", rt.FunctionDir(), rt.Pattern())
		}
		main, err := os.ReadFile(filepath.Join(root, "functions", rt.FunctionDir(), "main.go"))
		if err != nil {
			t.Errorf("route %s has no function: %v", rt.Name, err)
		} else if !strings.Contains(string(main), `lambdaapi.Start("`+rt.Name+`")`) {
			t.Errorf("functions/%s/main.go does not start route %s", rt.FunctionDir(), rt.Name)
		}
	}
	for key, id := range inTemplate {
		t.Errorf("template.yaml routes %s to %s, which is not in the route table", key, id)
	}
}

func TestPublicRoutesAloneSkipTheAuthorizer(t *testing.T) {
	tpl := load(t)
	for _, rt := range api.Routes {
		var fn function
		tpl.props(t, rt.Name+"Function", &fn)
		for _, ev := range fn.Events {
			if none := ev.Properties.Auth.Authorizer == "NONE"; none != rt.Public {
				t.Errorf("%s: authorizer NONE is %v, public is %v", rt.Name, none, rt.Public)
			}
		}
	}
}

func TestTableEqualsDefinition(t *testing.T) {
	var tbl table
	load(t).props(t, "LedgerTable", &tbl)
	def := dynamo.Definition()
	var want, got []string
	for _, a := range def.AttributeDefinitions {
		want = append(want, "attr "+aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
	}
	for _, k := range def.KeySchema {
		want = append(want, "key "+aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	for _, g := range def.GlobalSecondaryIndexes {
		for _, k := range g.KeySchema {
			want = append(want, "gsi "+aws.ToString(g.IndexName)+" "+aws.ToString(k.AttributeName)+" "+string(k.KeyType))
		}
		want = append(want, "gsi "+aws.ToString(g.IndexName)+" projection "+string(g.Projection.ProjectionType))
	}
	want = append(want, "ttl "+def.TTLAttribute)
	if def.StreamViewType != "" {
		want = append(want, "stream "+string(def.StreamViewType))
	}
	for _, a := range tbl.AttributeDefinitions {
		got = append(got, "attr "+a.AttributeName+" "+a.AttributeType)
	}
	for _, k := range tbl.KeySchema {
		got = append(got, "key "+k.AttributeName+" "+k.KeyType)
	}
	for _, g := range tbl.GlobalSecondaryIndexes {
		for _, k := range g.KeySchema {
			got = append(got, "gsi "+g.IndexName+" "+k.AttributeName+" "+k.KeyType)
		}
		got = append(got, "gsi "+g.IndexName+" projection "+g.Projection.ProjectionType)
	}
	if tbl.TimeToLiveSpecification.Enabled {
		got = append(got, "ttl "+tbl.TimeToLiveSpecification.AttributeName)
	}
	if tbl.StreamSpecification.StreamViewType != "" {
		got = append(got, "stream "+tbl.StreamSpecification.StreamViewType)
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("template.yaml's table differs from dynamo.Definition():\ntemplate:\n%s\ncode:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Each function may use only these DynamoDB actions on only the table (and
// its index where it queries it). Transactions are authorised per item
// action (Put, Update, Delete), so there is no TransactWriteItems action.
// Every function is here, the routes' and otherFunctions.
var allowedActions = map[string][]string{
	"Health":             {"GetItem"},
	"CreateAccount":      {"GetItem", "PutItem", "UpdateItem", "Query"},
	"ListAccounts":       {"Query", "BatchGetItem"},
	"GetAccount":         {"GetItem", "Query"},
	"UpdateAccount":      {"GetItem", "PutItem", "DeleteItem", "UpdateItem", "Query"},
	"GetBalance":         {"GetItem", "Query"},
	"GetHistory":         {"GetItem", "Query"},
	"CreateEntry":        {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"},
	"CreateTransfer":     {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"},
	"CreateWithdrawal":   {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"},
	"ApproveTransaction": {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"},
	"RejectTransaction":  {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"},
	"CreateJournalEntry": {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"},
	"ReverseTransaction": {"GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"},
	"GetTransaction":     {"GetItem", "BatchGetItem", "Query"},
	"ListTransactions":   {"GetItem", "Query", "BatchGetItem"},
	"ClosePeriod":        {"PutItem"},
	"ListPeriods":        {"Query"},
	"ListAudit":          {"Query"},
	// The history sequencer (shared/dynamo/hot.go numberBatch): a
	// consistent Query of the waiting lines, GetItem of its state, and a
	// transaction of Puts (numbered lines, state) and Deletes (the
	// unnumbered lines).
	"NumberHistory": {"Query", "GetItem", "BatchGetItem", "PutItem", "DeleteItem"},
	// The sweep: a Query of gsi1's waiting lines, then the sequencer's work.
	"SweepHistory": {"Query", "GetItem", "BatchGetItem", "PutItem", "DeleteItem"},
}

// otherGrants are the actions a function may have on resources other than
// the table and its index, by resource as the template names it (!GetAtt
// X.Y reads X.Y).
var otherGrants = map[string]map[string][]string{
	"NumberHistory": {
		// What the event source mapping reads the stream with, through the
		// function's role. SAM also attaches AWSLambdaDynamoDBExecutionRole,
		// which grants these on any stream.
		"LedgerTable.StreamArn": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
		// Where the event source mapping records a batch it gave up on.
		"NumberHistoryDeadLetterQueue.Arn": {"sqs:SendMessage"},
	},
}

func TestPoliciesAreLeastPrivilege(t *testing.T) {
	tpl := load(t)
	names := functionNames()
	known := map[string]bool{}
	for _, name := range names {
		known[name] = true
	}
	for name := range allowedActions {
		if !known[name] {
			t.Errorf("allowedActions names %s, which is neither a route nor in otherFunctions", name)
		}
	}
	for name := range otherGrants {
		if !known[name] {
			t.Errorf("otherGrants names %s, which is neither a route nor in otherFunctions", name)
		}
	}
	for _, name := range names {
		allowed, ok := allowedActions[name]
		if !ok {
			t.Errorf("function %s has no entry in allowedActions: say which DynamoDB actions it uses", name)
			continue
		}
		var fn function
		tpl.props(t, name+"Function", &fn)
		var granted, grantedOther []string
		for i, p := range fn.Policies {
			if len(p.Statement) == 0 {
				t.Errorf("%s: policy %d is not an inline policy document (a managed policy or a SAM policy template?)", name, i)
			}
			for _, st := range p.Statement {
				if st.Effect != "Allow" {
					t.Errorf("%s: a statement's Effect is %q", name, st.Effect)
				}
				for _, a := range st.Action {
					if strings.Contains(a, "*") {
						t.Errorf("%s grants %q", name, a)
					}
					for _, r := range st.Resource {
						switch {
						case r == "LedgerTable.Arn" || r == "${LedgerTable.Arn}/index/gsi1":
							if !strings.HasPrefix(a, "dynamodb:") {
								t.Errorf("%s grants %q on the table", name, a)
							}
							granted = append(granted, strings.TrimPrefix(a, "dynamodb:"))
						case otherGrants[name][r] != nil:
							grantedOther = append(grantedOther, a+" on "+r)
						default:
							t.Errorf("%s grants access to %q, not only the table", name, r)
						}
					}
				}
			}
		}
		sort.Strings(granted)
		granted = slices.Compact(granted)
		want := append([]string(nil), allowed...)
		sort.Strings(want)
		if strings.Join(granted, ",") != strings.Join(want, ",") {
			t.Errorf("%s grants %v, uses %v", name, granted, want)
		}
		var wantOther []string
		for r, actions := range otherGrants[name] {
			for _, a := range actions {
				wantOther = append(wantOther, a+" on "+r)
			}
		}
		sort.Strings(grantedOther)
		grantedOther = slices.Compact(grantedOther)
		sort.Strings(wantOther)
		if strings.Join(grantedOther, "\n") != strings.Join(wantOther, "\n") {
			t.Errorf("%s grants, beside the table:\n%s\nwant:\n%s", name, strings.Join(grantedOther, "\n"), strings.Join(wantOther, "\n"))
		}
	}
}
