package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/treasuryledger/treasury/infra/teststack"
	"github.com/treasuryledger/treasury/shared/dynamo"
)

// Stack is the local stack of infra/teststack (DynamoDB Local, a fresh
// table, the real handlers behind the local gateway over HTTP) with the
// store's DynamoDB client wrapped in a Meter, so that every request's log
// line also carries its round trips, its time in DynamoDB and its modelled
// index writes.
type Stack struct {
	*teststack.Stack
	Meter *Meter
	logs  *lineLog
	http  *http.Client
}

// Start brings up a stack: DynamoDB Local from DYNAMODB_ENDPOINT, or one
// started for the process (teststack.NewTable decides).
func Start(ctx context.Context) (*Stack, error) { return StartModel(ctx, "") }

// StartModel is Start with the DynamoDB model (infra/ddbmodel, e.g. "aws")
// between the service and DynamoDB Local; "" is none.
func StartModel(ctx context.Context, model string) (*Stack, error) {
	s := &Stack{logs: &lineLog{}}
	ts, err := teststack.StartWith(ctx, teststack.Options{
		Model: model, Log: s.logs, DropTable: true,
		Wrap: func(db dynamo.API) dynamo.API { s.Meter = NewMeter(db); return s.Meter },
	})
	if err != nil {
		return nil, err
	}
	s.Stack = ts
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	s.http = &http.Client{Transport: tr, Timeout: time.Minute}
	return s, nil
}

// Close stops what Start started and drops the table.
func (s *Stack) Close() {
	s.http.CloseIdleConnections()
	s.Stack.Close()
}

// Request is one HTTP request to the stack.
type Request struct {
	Method, Path, Token string
	Body                any    // nil, or sent as JSON
	IdempotencyKey      string // sent when not empty
}

// Response is an answer, read whole, with the client's wall time.
type Response struct {
	Status    int
	Body      []byte
	RequestID string
	Latency   time.Duration
}

// Do sends a request.
func (s *Stack) Do(ctx context.Context, r Request) (*Response, error) {
	var rd io.Reader
	if r.Body != nil {
		raw, err := json.Marshal(r.Body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, s.URL+r.Path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if r.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", r.IdempotencyKey)
	}
	start := time.Now()
	res, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: res.StatusCode, Body: body, RequestID: res.Header.Get("X-Request-Id"), Latency: time.Since(start)}, nil
}

// Must sends a request and fails unless the answer has the status.
func (s *Stack) Must(ctx context.Context, want int, r Request) (map[string]any, error) {
	res, err := s.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	if res.Status != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %s", r.Method, r.Path, res.Status, want, res.Body)
	}
	var m map[string]any
	if len(res.Body) > 0 {
		if err := json.Unmarshal(res.Body, &m); err != nil {
			return nil, fmt.Errorf("%s %s: answer is not a JSON object: %s", r.Method, r.Path, res.Body)
		}
	}
	return m, nil
}

// RequestLine is the function's one log line of a request: its fields, and
// its size in bytes as CloudWatch would ingest it.
type RequestLine struct {
	Fields map[string]any
	Bytes  int
}

// Num reads a numeric field (0 when absent).
func (l RequestLine) Num(name string) float64 {
	v, _ := l.Fields[name].(float64)
	return v
}

// RequestLines returns the "request" log lines written so far, by request id.
func (s *Stack) RequestLines() map[string]RequestLine { return s.logs.requests() }

// ResetLogs forgets the log lines written so far.
func (s *Stack) ResetLogs() { s.logs.reset() }

// lineLog keeps the log output in memory.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lineLog) reset() {
	l.mu.Lock()
	l.buf.Reset()
	l.mu.Unlock()
}

func (l *lineLog) requests() map[string]RequestLine {
	l.mu.Lock()
	raw := append([]byte(nil), l.buf.Bytes()...)
	l.mu.Unlock()
	out := map[string]RequestLine{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"msg":"request"`)) {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		id, _ := m["request_id"].(string)
		out[id] = RequestLine{Fields: m, Bytes: len(line) + 1 - benchFieldBytes(m)}
	}
	return out
}

// benchFieldBytes is roughly what this package's own counters add to a
// line (the value and the EMF metric definition), so that the line's size
// is that of a deployed function's line.
func benchFieldBytes(m map[string]any) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, "Bench") {
			// "Name":12.345, and {"Name":"Name","Unit":"Count"},
			n += len(k)*2 + 40
		}
	}
	return n
}
