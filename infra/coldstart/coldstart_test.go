//go:build linux

// Measure reads /proc, so these tests build on Linux only.

package coldstart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var echo struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// echoBinary builds testdata/echo once per test binary, with the Makefile's
// flags, for this machine.
func echoBinary(t *testing.T) string {
	t.Helper()
	echo.once.Do(func() {
		echo.dir, echo.err = os.MkdirTemp("", "coldstart-test-")
		if echo.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var bins map[string]string
		bins, echo.err = Build(ctx, ".", runtime.GOOS, runtime.GOARCH, echo.dir, "./testdata/echo")
		echo.path = bins["./testdata/echo"]
	})
	if echo.err != nil {
		t.Fatalf("build testdata/echo: %v", echo.err)
	}
	return echo.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if echo.dir != "" {
		os.RemoveAll(echo.dir)
	}
	os.Exit(code)
}

func TestMeasureEcho(t *testing.T) {
	bin := echoBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Measure(ctx, bin, []byte(`{"hello":"world"}`), []string{"AWS_LAMBDA_FUNCTION_NAME=echo-test"})
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	t.Logf("init %v, first response %v, peak RSS %.1f MiB", res.Init, res.FirstResponse, float64(res.PeakRSS)/MiB)
	if res.Init <= 0 || res.Init >= res.FirstResponse {
		t.Errorf("init %v, first response %v: want 0 < init < first response", res.Init, res.FirstResponse)
	}
	if len(res.Body) == 0 {
		t.Fatal("empty response body")
	}
	if res.PeakRSS <= 0 {
		t.Errorf("peak RSS %d, want > 0", res.PeakRSS)
	}
	if res.ErrorType != "" {
		t.Errorf("error type %q on a successful invocation", res.ErrorType)
	}
	var got struct {
		RequestID string          `json:"request_id"`
		Event     json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("body %s: %v", res.Body, err)
	}
	if string(got.Event) != `{"hello":"world"}` {
		t.Errorf("event echoed as %s", got.Event)
	}
	// next, response, next: the runtime asked for more work after
	// answering, which is when Lambda considers the invocation over.
	var kinds []string
	for _, c := range res.Calls {
		kinds = append(kinds, string(c.Kind))
	}
	if strings.Join(kinds, ",") != "next,response,next" {
		t.Errorf("calls %v, want next,response,next", kinds)
	}
	if len(res.Calls) >= 2 && res.Calls[1].RequestID != got.RequestID {
		t.Errorf("answered id %q, the handler saw %q", res.Calls[1].RequestID, got.RequestID)
	}
}

func TestMeasureFunctionError(t *testing.T) {
	bin := echoBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Measure(ctx, bin, []byte(`"fail"`), nil)
	var fe *FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("Measure: %v, want a *FunctionError", err)
	}
	if res.ErrorType != "errorString" || !bytes.Contains(res.Body, []byte("asked to fail")) {
		t.Errorf("error type %q, body %s", res.ErrorType, res.Body)
	}
	if res.Init <= 0 || res.Init >= res.FirstResponse || res.PeakRSS <= 0 {
		t.Errorf("init %v, first answer %v, RSS %d", res.Init, res.FirstResponse, res.PeakRSS)
	}
}

func TestMeasureProcessThatExits(t *testing.T) {
	// Without AWS_LAMBDA_RUNTIME_API aws-lambda-go exits at once; here a
	// shell script stands for a bootstrap that dies during init.
	script := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho init failed >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Measure(context.Background(), script, []byte(`{}`), nil)
	if err == nil || !strings.Contains(err.Error(), "exited before answering") || !strings.Contains(err.Error(), "init failed") {
		t.Errorf("Measure: %v", err)
	}
}
