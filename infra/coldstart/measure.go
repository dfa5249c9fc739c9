package coldstart

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Result is one cold start of a function.
type Result struct {
	// Init is the time from exec to the runtime's first next call: the
	// process start, Go's runtime and package init, and main up to
	// lambda.Start (Lambda's "Init Duration", less the sandbox's own).
	Init time.Duration
	// FirstResponse is the time from exec to the first invocation's
	// answer (a response, or an error when ErrorType is set).
	FirstResponse time.Duration
	// Body is the first invocation's response (or error) payload.
	Body []byte
	// ErrorType is set when the function answered through /error.
	ErrorType string
	// PeakRSS is the process's VmHWM in bytes, read after the invocation
	// ended and before the process was killed.
	PeakRSS int64
	// Calls are all Runtime API calls, in order.
	Calls []Call
	// Output is the end of what the process wrote to stdout and stderr.
	Output []byte
}

// FunctionError is returned when the function answered its first invocation
// through /error; the Result is filled all the same.
type FunctionError struct {
	Type string
	Body []byte
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, bytes.TrimSpace(e.Body))
}

// LambdaEnv returns the environment Lambda gives a provided.al2023 function
// of 128 MB (credentials are dummies), for a runtime API at addr. Measure
// starts the process with only this environment and the caller's additions,
// so nothing of the caller's own environment (AWS profile, proxies) leaks in.
func LambdaEnv(addr, functionName, taskRoot string) []string {
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + addr,
		"AWS_LAMBDA_FUNCTION_NAME=" + functionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + functionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]coldstart",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_LOG_LEVEL=INFO",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=coldstart",
		"AWS_SECRET_ACCESS_KEY=coldstart",
		"AWS_SESSION_TOKEN=coldstart",
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
	}
}

// settle is how long Measure waits, after the first answer, for the runtime
// to call next again: only then is the invocation over on Lambda's side.
const settle = 2 * time.Second

// Measure execs binary (a built bootstrap) against a fresh Runtime API
// stand-in holding event, with LambdaEnv plus env (later entries win),
// times init and the first invocation, reads the peak RSS and kills the
// process. The working directory is the binary's folder, as /var/task is.
func Measure(ctx context.Context, binary string, event []byte, env []string) (Result, error) {
	var res Result
	abs, err := filepath.Abs(binary)
	if err != nil {
		return res, err
	}
	rapi, err := NewRuntimeAPI(event)
	if err != nil {
		return res, err
	}
	defer rapi.Close()
	name := strings.TrimSuffix(filepath.Base(filepath.Dir(abs)), string(filepath.Separator))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_FUNCTION_NAME="); ok {
			name = v
		}
	}
	rapi.FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:" + name

	out := &tailBuffer{max: 64 << 10}
	cmd := exec.Command(abs)
	cmd.Dir = filepath.Dir(abs)
	cmd.Env = append(LambdaEnv(rapi.Addr(), name, cmd.Dir), env...)
	cmd.Stdout, cmd.Stderr = out, out
	// Should the function leave a child holding its output open, Wait
	// still returns soon after the kill.
	cmd.WaitDelay = time.Second

	changed := rapi.Changed()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	kill := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	// Wait for the first answer, then for the next call that ends the
	// invocation (or settle, whichever comes first).
	var answered time.Time
	var settleC <-chan time.Time
	for done := false; !done; {
		select {
		case <-ctx.Done():
			kill()
			res.Calls, res.Output = rapi.Calls(), out.Bytes()
			return res, fmt.Errorf("%s: %w", binary, ctx.Err())
		case <-exited:
			res.Calls, res.Output = rapi.Calls(), out.Bytes()
			if !answered.IsZero() {
				// Answered, then exited (a panic makes aws-lambda-go exit):
				// the timings stand, the peak RSS is lost.
				fillTimes(&res, start)
				return res, fmt.Errorf("%s exited after its first answer (%v), peak RSS unknown\n%s", binary, waitErr, res.Output)
			}
			return res, fmt.Errorf("%s exited before answering: %v\n%s", binary, waitErr, res.Output)
		case <-settleC:
			done = true
		case <-changed:
			changed = rapi.Changed()
			calls := rapi.Calls()
			if answered.IsZero() {
				for _, c := range calls {
					if c.Kind == CallResponse || c.Kind == CallError || c.Kind == CallInitError {
						answered = c.At
						settleC = time.After(settle)
						break
					}
				}
			}
			if !answered.IsZero() && nextAfter(calls, answered) {
				done = true
			}
		}
	}
	rss, rssErr := peakRSS(cmd.Process.Pid)
	kill()
	res.PeakRSS = rss
	res.Calls, res.Output = rapi.Calls(), out.Bytes()
	fillTimes(&res, start)
	for _, c := range res.Calls {
		if c.Kind == CallInitError {
			return res, fmt.Errorf("%s reported an init error %s: %s\n%s", binary, c.ErrorType, c.Body, res.Output)
		}
	}
	if rssErr != nil {
		return res, fmt.Errorf("read peak RSS: %w", rssErr)
	}
	if res.ErrorType != "" {
		return res, &FunctionError{Type: res.ErrorType, Body: res.Body}
	}
	return res, nil
}

// fillTimes sets Init, FirstResponse, Body and ErrorType from the calls.
func fillTimes(res *Result, start time.Time) {
	gotNext, gotAnswer := false, false
	for _, c := range res.Calls {
		switch c.Kind {
		case CallNext:
			if !gotNext {
				res.Init, gotNext = c.At.Sub(start), true
			}
		case CallResponse, CallError:
			if !gotAnswer {
				res.FirstResponse, res.Body, gotAnswer = c.At.Sub(start), c.Body, true
				// A response whose body failed midway carries its error
				// type in a trailer: Lambda takes it as an error too.
				res.ErrorType = c.ErrorType
				if c.Kind == CallError && res.ErrorType == "" {
					res.ErrorType = "Unknown"
				}
			}
		}
	}
}

// nextAfter tells whether a next call arrived after t.
func nextAfter(calls []Call, t time.Time) bool {
	for _, c := range calls {
		if c.Kind == CallNext && c.At.After(t) {
			return true
		}
	}
	return false
}

// peakRSS reads VmHWM (the resident set's high-water mark) of a process.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		v, ok := strings.CutPrefix(s.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmHWM line %q", s.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}
