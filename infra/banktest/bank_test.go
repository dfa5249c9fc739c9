package banktest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testWriter sends the run's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestBankShort runs the bank test at its short size: BANK_SEED picks the
// seed (DefaultSeed otherwise), BANK_OPS the number of operations (1,000).
// It needs DynamoDB Local (Java) and fails, never skips, without it.
func TestBankShort(t *testing.T) {
	seed, err := SeedFromEnv(DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	ops := 1000
	if s := os.Getenv("BANK_OPS"); s != "" {
		if ops, err = strconv.Atoi(s); err != nil || ops <= 0 {
			t.Fatalf("BANK_OPS=%q: want a positive number", s)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg := Config{Seed: seed, Ops: ops, Clients: 16, Progress: testWriter{t}}
	if path := os.Getenv("BANK_SERVER_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg.ServerLog = f
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	t.Log(res.Summary())
	t.Log(res.Details(0))
	if path := os.Getenv("BANK_RECORD"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.WriteRecord(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if len(res.Failed()) > 0 {
		t.Fatalf("%s\n%s", res.Summary(), res.Details(25))
	}
	// The run must have exercised what it claims to.
	switch {
	case res.Restarts != 1:
		t.Errorf("seed %d: %d restarts of DynamoDB Local, want 1", seed, res.Restarts)
	case res.Acknowledged == 0 || res.Refused == 0:
		t.Errorf("seed %d: %d acknowledged and %d refused: the load is not exercising both", seed, res.Acknowledged, res.Refused)
	case res.Faults.Conflicts == 0 || res.Faults.Throttles+res.Faults.InternalErrors+res.Faults.Resets+res.Faults.LostResponses == 0:
		t.Errorf("seed %d: the proxy injected no conflicts or no faults: %+v", seed, res.Faults)
	case res.Retried == 0 || res.Duplicates == 0:
		t.Errorf("seed %d: no client retries (%d) or duplicates (%d)", seed, res.Retried, res.Duplicates)
	}
	acked := map[string]int{}
	for _, op := range res.Record.Ops {
		if (op.Kind == KindSettings || op.Kind == KindClose) && opOutcome(op) == Acknowledged {
			acked[op.Kind+" "+op.Setting]++
		}
	}
	for _, k := range []string{KindSettings + " " + SettingFreeze, KindSettings + " " + SettingOverdraft, KindSettings + " " + SettingRename, KindClose + " "} {
		if acked[k] == 0 {
			t.Errorf("seed %d: no %q operation was acknowledged: %v", seed, k, acked)
		}
	}
}

// The plan is a pure function of the seed: the same seed gives the same
// operations, another seed others.
func TestPlanIsAFunctionOfTheSeed(t *testing.T) {
	accts := Accounts()
	sig := func(seed int64) string {
		var b strings.Builder
		for _, ops := range Plan(seed, 300, 16, accts) {
			for _, op := range ops {
				b.WriteString(op.Key + op.Kind + op.Amount.String() + op.ToAmount.String() + strconv.Itoa(op.From) +
					strconv.Itoa(op.To) + strconv.Itoa(op.Acct) + op.Decision + op.Dup + op.ShortTimeout.String() + ";")
			}
		}
		return b.String()
	}
	if first, second := sig(7), sig(7); first != second {
		t.Fatal("two plans of seed 7 differ")
	}
	if sig(7) == sig(8) {
		t.Fatal("seeds 7 and 8 plan the same operations")
	}
	kinds := map[string]int{}
	for _, ops := range Plan(7, 1000, 16, accts) {
		for _, op := range ops {
			kinds[op.Kind]++
			if op.Kind == KindWithdrawal && op.Over {
				kinds["withdrawal-over"]++
			}
			if op.Kind == KindDecide {
				kinds["decide-"+op.Decision]++
			}
		}
	}
	for _, k := range []string{KindTransfer, KindExchange, KindEntry, KindJournal, KindWithdrawal, "withdrawal-over",
		KindReversal, "decide-approve", "decide-reject", "decide-race", KindSettings, KindClose} {
		if kinds[k] == 0 {
			t.Errorf("1,000 operations of seed 7 hold no %s", k)
		}
	}
}
