package templatecheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/sequencer"
)

// otherFunction is a function no route serves: an event source of the
// template feeds it instead.
type otherFunction struct {
	Name      string // logical id without "Function", as for routes
	Dir       string // its folder under functions/, and events/<Dir>.json
	EventType string // the SAM event type that feeds it
	Start     string // what its main.go calls
}

// otherFunctions are the functions besides the route table's. Each one
// needs the same as a route's (template resource, Makefile target, sample
// event, entry in allowedActions) and, for a stream, the checks of
// TestStreamFunctionsAreWired.
var otherFunctions = []otherFunction{
	{Name: "NumberHistory", Dir: "number-history", EventType: "DynamoDB", Start: "sequencer.Start()"},
	{Name: "SweepHistory", Dir: "sweep-history", EventType: "Schedule", Start: "sequencer.StartSweep()"},
}

// functionNames are the names of every function: the routes' and the others'.
func functionNames() []string {
	var names []string
	for _, rt := range api.Routes {
		names = append(names, rt.Name)
	}
	for _, f := range otherFunctions {
		names = append(names, f.Name)
	}
	return names
}

// Every folder under functions/, every function of the template and every
// sample event under events/ belongs to a route or to otherFunctions, and
// each of otherFunctions is built, started and sampled like a route.
func TestOtherFunctionsAreComplete(t *testing.T) {
	tpl := load(t)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}     // folder → function name
	inTemplate := map[string]bool{} // logical id
	for _, rt := range api.Routes {
		dirs[rt.FunctionDir()] = rt.Name
		inTemplate[rt.Name+"Function"] = true
	}
	for _, f := range otherFunctions {
		if other, dup := dirs[f.Dir]; dup {
			t.Errorf("otherFunctions: %s and %s share functions/%s", f.Name, other, f.Dir)
		}
		if _, isRoute := api.RouteNamed(f.Name); isRoute {
			t.Errorf("otherFunctions: %s is a route", f.Name)
		}
		dirs[f.Dir] = f.Name
		id := f.Name + "Function"
		inTemplate[id] = true

		res, ok := tpl.Resources[id]
		if !ok || res.Type != "AWS::Serverless::Function" {
			t.Errorf("template.yaml has no function %s", id)
			continue
		}
		if res.Metadata.BuildMethod != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is not makefile", id)
		}
		if !regexp.MustCompile(`(?m)^build-` + id + `: ; \$\(call build-lambda,` + regexp.QuoteMeta(f.Dir) + `\)$`).Match(makefile) {
			t.Errorf("Makefile has no build-%s target building functions/%s", id, f.Dir)
		}
		var fn struct {
			Description string           `yaml:"Description"`
			Events      map[string]event `yaml:"Events"`
		}
		tpl.props(t, id, &fn)
		if !strings.HasSuffix(fn.Description, "(functions/"+f.Dir+")") {
			t.Errorf("%s: Description %q does not end with (functions/%s)", id, fn.Description, f.Dir)
		}
		if len(fn.Events) != 1 {
			t.Errorf("%s has %d events, want one of type %s", id, len(fn.Events), f.EventType)
		}
		for name, ev := range fn.Events {
			if ev.Type != f.EventType {
				t.Errorf("%s: event %s is of type %s, want %s", id, name, ev.Type, f.EventType)
			}
		}
		main, err := os.ReadFile(filepath.Join(root, "functions", f.Dir, "main.go"))
		if err != nil {
			t.Errorf("%s has no function: %v", f.Name, err)
		} else if !strings.Contains(string(main), f.Start) {
			t.Errorf("functions/%s/main.go does not call %s", f.Dir, f.Start)
		}
		if _, err := os.Stat(filepath.Join(root, "events", f.Dir+".json")); err != nil {
			t.Errorf("function %s has no sample event: %v", id, err)
		}
	}

	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := dirs[e.Name()]; e.IsDir() && !ok {
			t.Errorf("functions/%s is neither a route's function nor in otherFunctions", e.Name())
		}
	}
	for id, res := range tpl.Resources {
		if res.Type == "AWS::Serverless::Function" && !inTemplate[id] {
			t.Errorf("template.yaml's %s is neither a route's function nor in otherFunctions", id)
		}
	}
	samples, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range samples {
		if _, ok := dirs[strings.TrimSuffix(filepath.Base(p), ".json")]; !ok {
			t.Errorf("events/%s is the sample of no function", filepath.Base(p))
		}
	}
}

// streamEvent is a SAM event of type DynamoDB.
type streamEvent struct {
	Type       string `yaml:"Type"`
	Properties struct {
		Stream                         string `yaml:"Stream"`
		StartingPosition               string `yaml:"StartingPosition"`
		BatchSize                      int    `yaml:"BatchSize"`
		MaximumBatchingWindowInSeconds int    `yaml:"MaximumBatchingWindowInSeconds"`
		BisectBatchOnFunctionError     bool   `yaml:"BisectBatchOnFunctionError"`
		MaximumRetryAttempts           *int   `yaml:"MaximumRetryAttempts"`
		MaximumRecordAgeInSeconds      *int   `yaml:"MaximumRecordAgeInSeconds"`
		FunctionResponseTypes          []any  `yaml:"FunctionResponseTypes"`
		FilterCriteria                 struct {
			Filters []struct {
				Pattern string `yaml:"Pattern"`
			} `yaml:"Filters"`
		} `yaml:"FilterCriteria"`
		DestinationConfig struct {
			OnFailure struct {
				Destination string `yaml:"Destination"`
			} `yaml:"OnFailure"`
		} `yaml:"DestinationConfig"`
	} `yaml:"Properties"`
}

// Each stream function reads the table's stream with bounded retries, a
// dead-letter queue and alarms, and its filter lets through exactly the
// records its handler wants (sequencer.Wants for NumberHistory), which its
// sample event holds.
func TestStreamFunctionsAreWired(t *testing.T) {
	tpl := load(t)
	res := dig(raw(t), "Resources").(map[string]any)
	streams := 0
	for _, f := range otherFunctions {
		if f.EventType != "DynamoDB" {
			continue
		}
		streams++
		id := f.Name + "Function"
		var fn struct {
			Events map[string]streamEvent `yaml:"Events"`
		}
		tpl.props(t, id, &fn)
		for name, ev := range fn.Events {
			p := ev.Properties
			if p.Stream != "LedgerTable.StreamArn" {
				t.Errorf("%s.%s: Stream is %q, want !GetAtt LedgerTable.StreamArn", id, name, p.Stream)
			}
			if p.StartingPosition != "TRIM_HORIZON" {
				t.Errorf("%s.%s: StartingPosition is %q; TRIM_HORIZON loses no record written before the mapping started", id, name, p.StartingPosition)
			}
			if p.BatchSize < 1 || p.BatchSize > 10000 {
				t.Errorf("%s.%s: BatchSize %d", id, name, p.BatchSize)
			}
			if !p.BisectBatchOnFunctionError {
				t.Errorf("%s.%s: BisectBatchOnFunctionError is not true", id, name)
			}
			// Unset or -1 means forever: one failing batch would hold up its
			// shard until the stream drops the records (24 h).
			if p.MaximumRetryAttempts == nil || *p.MaximumRetryAttempts < 0 {
				t.Errorf("%s.%s: MaximumRetryAttempts is unbounded", id, name)
			}
			if p.MaximumRecordAgeInSeconds == nil || *p.MaximumRecordAgeInSeconds < 0 {
				t.Errorf("%s.%s: MaximumRecordAgeInSeconds is unbounded", id, name)
			}
			if fmt.Sprint(p.FunctionResponseTypes) != "[ReportBatchItemFailures]" {
				t.Errorf("%s.%s: FunctionResponseTypes is %v; the handler reports failed records (ReportBatchItemFailures)", id, name, p.FunctionResponseTypes)
			}

			queue, ok := strings.CutSuffix(p.DestinationConfig.OnFailure.Destination, ".Arn")
			if !ok || dig(res[queue], "Type") != "AWS::SQS::Queue" {
				t.Errorf("%s.%s: DestinationConfig.OnFailure.Destination is %q, want !GetAtt <a queue of the template>.Arn", id, name, p.DestinationConfig.OnFailure.Destination)
			} else {
				if dig(res[queue], "Properties", "SqsManagedSseEnabled") != true && dig(res[queue], "Properties", "KmsMasterKeyId") == nil {
					t.Errorf("%s is not encrypted", queue)
				}
				if got := dig(res[queue], "Properties", "MessageRetentionPeriod"); got != 1209600 {
					t.Errorf("%s: MessageRetentionPeriod is %v, want 1209600 (14 days)", queue, got)
				}
				if !hasAlarm(res, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue+".QueueName") {
					t.Errorf("no alarm to AlarmTopic on %s's ApproximateNumberOfMessagesVisible", queue)
				}
			}
			if !hasAlarm(res, "AWS/Lambda", "IteratorAge", "FunctionName", id) {
				t.Errorf("no alarm to AlarmTopic on %s's IteratorAge", id)
			}

			if len(p.FilterCriteria.Filters) != 1 {
				t.Fatalf("%s.%s has %d filters, want 1", id, name, len(p.FilterCriteria.Filters))
			}
			var pattern map[string]any
			if err := json.Unmarshal([]byte(p.FilterCriteria.Filters[0].Pattern), &pattern); err != nil {
				t.Fatalf("%s.%s: FilterCriteria pattern: %v", id, name, err)
			}
			if f.Name == "NumberHistory" {
				checkSequencerFilter(t, pattern)
			}
			checkStreamSample(t, f, pattern)
		}
	}
	if streams == 0 {
		t.Error("otherFunctions has no DynamoDB stream function")
	}
}

// hasAlarm reports whether an alarm of the template watches this metric of
// this resource (the dimension's value as !Ref or !GetAtt reads) and
// notifies AlarmTopic.
func hasAlarm(res map[string]any, namespace, metric, dimension, value string) bool {
	for _, r := range res {
		if dig(r, "Type") != "AWS::CloudWatch::Alarm" ||
			dig(r, "Properties", "Namespace") != namespace || dig(r, "Properties", "MetricName") != metric {
			continue
		}
		dims, _ := dig(r, "Properties", "Dimensions").([]any)
		actions, _ := dig(r, "Properties", "AlarmActions").([]any)
		if len(dims) == 1 && dig(dims[0], "Name") == dimension && dig(dims[0], "Value") == value &&
			len(actions) == 1 && actions[0] == "AlarmTopic" {
			return true
		}
	}
	return false
}

// checkSequencerFilter holds the filter to sequencer.Wants: every record
// it wants passes (else a line would wait for the account's next posting),
// and the stream's other records do not (else every write of the ledger
// would invoke the function). The filter may be coarser than Wants only
// where no item of the table could tell them apart.
func checkSequencerFilter(t *testing.T, pattern map[string]any) {
	const (
		acct = "T#t_demo#A#acc_01JD0000000000000000000001"
		line = "P#2026-11-23T10:00:00.000Z#txn_01JD0000000000000000000001"
	)
	for _, c := range []struct {
		name      string
		eventName string
		pk, sk    string
		pass      bool // through the filter
		wants     bool // sequencer.Wants
	}{
		{"a new unnumbered line", "INSERT", acct, line, true, true},
		{"a line rewritten", "MODIFY", acct, line, false, false},
		{"a line numbered (deleted)", "REMOVE", acct, line, false, false},
		{"a numbered line", "INSERT", acct, "H#2026-11-23T10:00:00.000Z#000000000001", false, false},
		{"the sequencer's state", "INSERT", acct, "Q", false, false},
		{"the sequencer's state moved on", "MODIFY", acct, "Q", false, false},
		{"a balance part", "MODIFY", acct, "B#07", false, false},
		{"an account", "INSERT", acct, "A", false, false},
		{"a closed period", "INSERT", "T#t_demo#P", "2026-11", false, false},
		{"P without #", "INSERT", acct, "PENDING#2026-11-23T10:00:00.000Z", false, false},
		{"a lower-case prefix", "INSERT", acct, "p#2026-11-23T10:00:00.000Z#txn_1", false, false},
		{"the prefix elsewhere in the key", "INSERT", acct, "H#P#1", false, false},
		// Coarser than Wants, harmlessly: no item outside an account has
		// a P# sort key; the handler would skip one.
		{"P# outside an account", "INSERT", "T#t_demo#X#txn_01JD0000000000000000000001", line, true, false},
	} {
		r := events.DynamoDBEventRecord{
			EventName:   c.eventName,
			EventSource: "aws:dynamodb",
			AWSRegion:   "eu-central-1",
			Change: events.DynamoDBStreamRecord{
				Keys: map[string]events.DynamoDBAttributeValue{
					"pk": events.NewStringAttribute(c.pk),
					"sk": events.NewStringAttribute(c.sk),
				},
				StreamViewType: "KEYS_ONLY",
			},
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		pass, wants := matches(t, pattern, doc), sequencer.Wants(r)
		if pass != c.pass {
			t.Errorf("%s (%s %s): filter passes it: %v, want %v", c.name, c.eventName, c.sk, pass, c.pass)
		}
		if wants != c.wants {
			t.Errorf("%s (%s %s): sequencer.Wants: %v, want %v (the cases here are out of date)", c.name, c.eventName, c.sk, wants, c.wants)
		}
		if wants && !pass {
			t.Errorf("%s: the filter drops a record sequencer.Wants", c.name)
		}
	}
}

// checkStreamSample reads events/<dir>.json: a stream event whose every
// record passes the filter and is one the handler wants.
func checkStreamSample(t *testing.T, f otherFunction, pattern map[string]any) {
	raw, err := os.ReadFile(filepath.Join(root, "events", f.Dir+".json"))
	if err != nil {
		t.Errorf("function %s has no sample event: %v", f.Name, err)
		return
	}
	var doc struct {
		Records []any `json:"Records"`
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("events/%s.json: %v", f.Dir, err)
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("events/%s.json is not a DynamoDB stream event: %v", f.Dir, err)
	}
	if len(ev.Records) == 0 {
		t.Errorf("events/%s.json has no records", f.Dir)
	}
	for i, r := range ev.Records {
		if r.EventSource != "aws:dynamodb" || r.Change.StreamViewType != "KEYS_ONLY" {
			t.Errorf("events/%s.json record %d: eventSource %q, StreamViewType %q; want aws:dynamodb, KEYS_ONLY", f.Dir, i, r.EventSource, r.Change.StreamViewType)
		}
		if !matches(t, pattern, doc.Records[i]) {
			t.Errorf("events/%s.json record %d does not pass the function's filter", f.Dir, i)
		}
		if f.Name == "NumberHistory" && !sequencer.Wants(r) {
			t.Errorf("events/%s.json record %d is not one sequencer.Wants", f.Dir, i)
		}
	}
}

// matches reports whether a JSON document passes an event filter pattern,
// as Lambda's event filtering (EventBridge pattern syntax) reads it, for
// the part of the syntax the template uses: nested fields, lists of exact
// values, and prefix. Anything else fails the test, to be added here.
func matches(t *testing.T, pattern, doc any) bool {
	t.Helper()
	switch p := pattern.(type) {
	case map[string]any:
		d, ok := doc.(map[string]any)
		if !ok {
			return false
		}
		for k, sub := range p {
			v, ok := d[k]
			if !ok {
				return false
			}
			if !matches(t, sub, v) {
				return false
			}
		}
		return true
	case []any:
		for _, alt := range p {
			if matchesValue(t, alt, doc) {
				return true
			}
		}
		return false
	}
	t.Fatalf("filter pattern has %v where an object or a list belongs", pattern)
	return false
}

func matchesValue(t *testing.T, alt, v any) bool {
	t.Helper()
	if vs, ok := v.([]any); ok {
		for _, e := range vs {
			if matchesValue(t, alt, e) {
				return true
			}
		}
		return false
	}
	switch a := alt.(type) {
	case map[string]any:
		prefix, ok := a["prefix"].(string)
		if len(a) != 1 || !ok {
			keys := make([]string, 0, len(a))
			for k := range a {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Fatalf("filter pattern uses %v, which matches() does not know", keys)
		}
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, prefix)
	case []any:
		t.Fatalf("filter pattern has a list in a list")
	}
	switch v.(type) {
	case map[string]any:
		return false
	}
	return alt == v
}
