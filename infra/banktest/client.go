package banktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client-side retry policy: after a timeout, a connection error or a 5xx
// the same request is sent again with the same Idempotency-Key, at most
// maxAttempts times per delivery and within callBudget.
const (
	maxAttempts    = 10
	callBudget     = 90 * time.Second
	requestTimeout = 30 * time.Second // above the service's 20 s retry budget
	backoffBase    = 20 * time.Millisecond
	backoffCap     = time.Second
)

// Outcome of a request, from every answer its key got.
type Outcome int

const (
	Unknown      Outcome = iota // never a definite answer
	Acknowledged                // a 2xx at least once
	Refused                     // a definite 4xx and no 2xx
)

func (o Outcome) String() string {
	switch o {
	case Acknowledged:
		return "acknowledged"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Answer is one attempt of one delivery of a request.
type Answer struct {
	Delivery int // 0 the first, 1 the duplicate
	Attempt  int
	Sent     time.Time
	Received time.Time
	Status   int    // 0: no answer (timeout, connection error)
	Err      string // why there was no answer
	TxnID    string
	TxnState string // the answer's transaction status
	Problem  string // problem type of an error answer
	Replayed bool
	Body     []byte // kept for 2xx answers (the transaction) and problems
}

// Definite reports whether the answer settles the request: a 2xx, or a 4xx
// other than 408 and 429.
func (a Answer) Definite() bool {
	return a.Status >= 200 && a.Status < 300 || a.Status >= 400 && a.Status < 500 && a.Status != 408 && a.Status != 429
}

func (a Answer) String() string {
	if a.Status == 0 {
		return fmt.Sprintf("d%d/a%d: no answer (%s)", a.Delivery, a.Attempt, a.Err)
	}
	s := fmt.Sprintf("d%d/a%d: %d", a.Delivery, a.Attempt, a.Status)
	if a.TxnID != "" {
		s += " " + a.TxnID + " " + a.TxnState
	}
	if a.Problem != "" {
		s += " " + a.Problem
	}
	if a.Replayed {
		s += " (replayed)"
	}
	return s
}

// Call is one logical request: one Idempotency-Key, every answer it got.
type Call struct {
	Name   string // post, approve, reject, reverse
	Sub    string // the caller
	Key    string
	Method string
	Path   string
	Body   []byte

	mu      sync.Mutex
	Answers []Answer
}

func (c *Call) add(a Answer) {
	c.mu.Lock()
	c.Answers = append(c.Answers, a)
	c.mu.Unlock()
}

// Outcome classifies the call.
func (c *Call) Outcome() Outcome {
	refused := false
	for _, a := range c.Answers {
		switch {
		case a.Status >= 200 && a.Status < 300:
			return Acknowledged
		case a.Definite():
			refused = true
		}
	}
	if refused {
		return Refused
	}
	return Unknown
}

// TxnIDs are the distinct transaction ids the call's 2xx answers name.
func (c *Call) TxnIDs() []string {
	var ids []string
	seen := map[string]bool{}
	for _, a := range c.Answers {
		if a.Status >= 200 && a.Status < 300 && !seen[a.TxnID] {
			seen[a.TxnID] = true
			ids = append(ids, a.TxnID)
		}
	}
	return ids
}

// Acked returns the first 2xx answer.
func (c *Call) Acked() (Answer, bool) {
	for _, a := range c.Answers {
		if a.Status >= 200 && a.Status < 300 {
			return a, true
		}
	}
	return Answer{}, false
}

// Describe lists the call's answers, for reports.
func (c *Call) Describe() string {
	parts := make([]string, len(c.Answers))
	for i, a := range c.Answers {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%s %s key=%s [%s]", c.Method, c.Path, c.Key, strings.Join(parts, "; "))
}

// sender sends calls to the gateway, with the client faults of the workload.
type sender struct {
	base   string
	http   *http.Client
	tokens map[string]string // sub -> bearer token

	retries    atomic.Int64 // attempts after the first of a delivery
	duplicates atomic.Int64 // deliberate second deliveries
	timeouts   atomic.Int64
	connErrors atomic.Int64
	statuses   sync.Map // int -> *atomic.Int64
	problems   sync.Map // "status type" -> *atomic.Int64
}

func (s *sender) countProblem(status int, typ string) {
	v, _ := s.problems.LoadOrStore(fmt.Sprintf("%d/%s", status, typ), new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Problems returns how many error answers had each status and problem type.
func (s *sender) Problems() map[string]int64 {
	out := map[string]int64{}
	s.problems.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func (s *sender) count(status int) {
	v, _ := s.statuses.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// Statuses returns how many answers had each HTTP status.
func (s *sender) Statuses() map[int]int64 {
	out := map[int]int64{}
	s.statuses.Range(func(k, v any) bool {
		out[k.(int)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// run delivers the call as the operation says: once, or twice (at once or
// one after the other), each delivery retrying until it gets a definite
// answer.
func (s *sender) run(ctx context.Context, op *Op, c *Call, callIndex int) {
	seed := op.JitterSeed + uint64(callIndex)*0x9e3779b97f4a7c15
	switch op.Dup {
	case DupConcurrent:
		s.duplicates.Add(1)
		var wg sync.WaitGroup
		for d := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.deliver(ctx, c, d, op.ShortTimeout, op.Abandon && d == 0, rand.New(rand.NewPCG(seed, uint64(d))))
			}()
		}
		wg.Wait()
	case DupSequential:
		s.duplicates.Add(1)
		s.deliver(ctx, c, 0, op.ShortTimeout, op.Abandon, rand.New(rand.NewPCG(seed, 0)))
		s.deliver(ctx, c, 1, 0, false, rand.New(rand.NewPCG(seed, 1)))
	default:
		s.deliver(ctx, c, 0, op.ShortTimeout, op.Abandon, rand.New(rand.NewPCG(seed, 0)))
	}
}

// deliver sends one delivery, retrying with the same key after a timeout,
// a connection error or a 5xx.
func (s *sender) deliver(ctx context.Context, c *Call, delivery int, short time.Duration, abandon bool, r *rand.Rand) {
	deadline := time.Now().Add(callBudget)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			s.retries.Add(1)
		}
		timeout := requestTimeout
		if attempt == 0 && short > 0 {
			timeout = short
		}
		a := s.send(ctx, c, timeout)
		a.Delivery, a.Attempt = delivery, attempt
		c.add(a)
		if a.Definite() || ctx.Err() != nil || time.Now().After(deadline) || abandon {
			return
		}
		d := backoffBase << min(attempt, 10)
		if d > backoffCap {
			d = backoffCap
		}
		d = d/2 + time.Duration(r.Int64N(int64(d/2)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// txnAnswer is what the harness reads of a transaction answer.
type txnAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type problemAnswer struct {
	Type string `json:"type"`
}

// send makes one HTTP attempt.
func (s *sender) send(ctx context.Context, c *Call, timeout time.Duration) Answer {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := Answer{Sent: time.Now()}
	var body io.Reader
	if c.Body != nil {
		body = bytes.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, s.base+c.Path, body)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	if c.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+s.tokens[c.Sub])
	if c.Key != "" {
		req.Header.Set("Idempotency-Key", c.Key)
	}
	res, err := s.http.Do(req)
	if err == nil {
		var raw []byte
		raw, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			a.Received = time.Now()
			a.Status = res.StatusCode
			a.Replayed = res.Header.Get("Idempotent-Replayed") == "true"
			s.count(a.Status)
			switch {
			case a.Status >= 200 && a.Status < 300 && (c.Name == "close" || strings.HasPrefix(c.Name, "settings") || c.Name == "reset"):
				// A period or an account, not a transaction.
				a.Body = raw
			case a.Status >= 200 && a.Status < 300:
				var t txnAnswer
				if jerr := json.Unmarshal(raw, &t); jerr != nil || t.ID == "" {
					a.Problem = "unreadable answer"
				}
				a.TxnID, a.TxnState, a.Body = t.ID, t.Status, raw
			default:
				var p problemAnswer
				_ = json.Unmarshal(raw, &p)
				a.Problem, a.Body = p.Type, raw
				s.countProblem(a.Status, p.Type)
			}
			return a
		}
	}
	a.Received = time.Now()
	if errors.Is(err, context.DeadlineExceeded) {
		s.timeouts.Add(1)
		a.Err = "timeout after " + timeout.String()
	} else {
		s.connErrors.Add(1)
		a.Err = err.Error()
	}
	return a
}
