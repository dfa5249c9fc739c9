package ddbmodel

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody bounds a request or answer read into memory (DynamoDB's largest
// request, a 100-item transaction of 400 KB items, is under 40 MB).
const maxBody = 64 << 20

// targetPrefix is the X-Amz-Target prefix of DynamoDB's JSON 1.0 protocol.
const targetPrefix = "DynamoDB_20120810."

// dataOps are the calls that get latency and faults. Control-plane calls
// (CreateTable, DescribeTable, UpdateTimeToLive, ...) pass unchanged, so a
// fault rate never breaks a test's set-up.
var dataOps = map[string]bool{
	"GetItem": true, "PutItem": true, "UpdateItem": true, "DeleteItem": true,
	"Query": true, "Scan": true, "BatchGetItem": true, "BatchWriteItem": true,
	"TransactWriteItems": true, "TransactGetItems": true,
	"ExecuteStatement": true, "BatchExecuteStatement": true, "ExecuteTransaction": true,
}

// txnOps take the transaction latency figures.
var txnOps = map[string]bool{"TransactWriteItems": true, "TransactGetItems": true, "ExecuteTransaction": true}

// Stats counts what the proxy did since it started.
type Stats struct {
	Forwarded            int64 // client calls forwarded to DynamoDB Local (lost responses included)
	Conflicts            int64 // calls refused by the conflict rules (TransactionCanceledException or TransactionConflictException)
	Throttles            int64 // ThrottlingException injected
	ProvisionedThrottles int64 // ProvisionedThroughputExceededException injected
	InternalErrors       int64 // InternalServerError injected
	Resets               int64 // connections reset before forwarding
	LostResponses        int64 // answers dropped after DynamoDB Local executed the call
}

// Proxy is the DynamoDB model: an HTTP server that forwards DynamoDB JSON
// calls to DynamoDB Local and applies the configured behaviours.
type Proxy struct {
	cfg       Config
	target    *url.URL
	targetErr error
	client    *http.Client

	// sleep waits a modelled latency; tests replace it to observe the
	// drawn durations without waiting on the wall clock.
	sleep func(context.Context, time.Duration) error

	rngMu      sync.Mutex
	faultRNG   *rand.Rand
	latencyRNG *rand.Rand

	locks   lockTable
	schemas schemaCache

	forwarded, conflicts, throttles, provisioned, internal, resets, lost atomic.Int64

	mu      sync.Mutex
	srv     *http.Server
	closed  bool
	active  sync.WaitGroup
	ctx     context.Context // cancelled by Close; bounds calls to DynamoDB Local
	cancel  context.CancelFunc
	started bool
}

// New returns a proxy in front of DynamoDB Local at target (its base URL,
// e.g. http://127.0.0.1:8000). Call Start to serve.
func New(target string, cfg Config) *Proxy {
	u, err := url.Parse(strings.TrimRight(target, "/"))
	if err == nil && (u.Scheme == "" || u.Host == "") {
		err = fmt.Errorf("want an absolute URL such as http://127.0.0.1:8000")
	}
	if err != nil {
		err = fmt.Errorf("ddbmodel: target %q: %w", target, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	seed := uint64(cfg.Seed)
	return &Proxy{
		cfg: cfg, target: u, targetErr: err,
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // never an HTTP proxy from the environment
			DisableCompression:  true,
			MaxIdleConns:        128,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
		}},
		sleep: sleepCtx,
		// Two streams, so that switching latency on or off does not change
		// the fault sequence of a seed.
		faultRNG:   rand.New(rand.NewPCG(seed, 0x6661756c7473)),   // "faults"
		latencyRNG: rand.New(rand.NewPCG(seed, 0x6c6174656e6379)), // "latency"
		locks:      lockTable{items: map[string]*hold{}},
		schemas:    schemaCache{m: map[string][]string{}},
		ctx:        ctx, cancel: cancel,
	}
}

// Start listens on a free loopback port and serves; it returns the base URL
// to give the DynamoDB client as its endpoint.
func (p *Proxy) Start() (string, error) {
	if p.targetErr != nil {
		return "", p.targetErr
	}
	if err := p.cfg.Validate(); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed {
		return "", errors.New("ddbmodel: proxy already started or closed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("ddbmodel: listen: %w", err)
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	p.started = true
	go func() { _ = p.srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops serving, drops open connections and waits for calls in
// progress to end. Calls already forwarded to DynamoDB Local are cut off.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	srv := p.srv
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	p.cancel()
	p.active.Wait()
	p.client.CloseIdleConnections()
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		Forwarded: p.forwarded.Load(), Conflicts: p.conflicts.Load(),
		Throttles: p.throttles.Load(), ProvisionedThrottles: p.provisioned.Load(),
		InternalErrors: p.internal.Load(), Resets: p.resets.Load(), LostResponses: p.lost.Load(),
	}
}

type fault int

const (
	noFault fault = iota
	faultThrottle
	faultProvisioned
	faultInternal
	faultReset
	faultLost
)

// drawFault decides one call's fault: one uniform draw per data call, cut
// into the configured rates.
func (p *Proxy) drawFault() fault {
	c := p.cfg
	if !c.faulty() {
		return noFault
	}
	p.rngMu.Lock()
	u := p.faultRNG.Float64()
	p.rngMu.Unlock()
	for _, f := range []struct {
		rate float64
		f    fault
	}{
		{c.ThrottleRate, faultThrottle}, {c.ProvisionedRate, faultProvisioned},
		{c.InternalErrorRate, faultInternal}, {c.ResetRate, faultReset}, {c.LostResponseRate, faultLost},
	} {
		if u < f.rate {
			return f.f
		}
		u -= f.rate
	}
	return noFault
}

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// drawLatency draws one call's latency from a log-normal distribution with
// the configured median (p50) and 99th percentile (p99), capped at 5 × p99.
func (p *Proxy) drawLatency(txn bool) time.Duration {
	p50, p99 := p.cfg.GetP50, p.cfg.GetP99
	if txn {
		p50, p99 = p.cfg.TxnP50, p.cfg.TxnP99
	}
	p.rngMu.Lock()
	z := p.latencyRNG.NormFloat64()
	p.rngMu.Unlock()
	sigma := math.Log(float64(p99)/float64(p50)) / z99
	d := float64(p50) * math.Exp(sigma*z)
	if limit := 5 * float64(p99); d > limit {
		d = limit
	}
	return time.Duration(d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ServeHTTP handles one DynamoDB call.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	p.active.Add(1)
	p.mu.Unlock()
	defer p.active.Done()

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		panic(http.ErrAbortHandler)
	}
	op, isDynamo := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !isDynamo || !dataOps[op] {
		p.forwardAndRelay(w, r, body)
		return
	}

	f := p.drawFault()
	switch f {
	case faultThrottle:
		p.throttles.Add(1)
		answerJSON(w, http.StatusBadRequest, apiError{Type: errorType("ThrottlingException"),
			Message: "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"})
		return
	case faultProvisioned:
		p.provisioned.Add(1)
		answerJSON(w, http.StatusBadRequest, apiError{Type: errorType("ProvisionedThroughputExceededException"),
			Message: "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."})
		return
	case faultInternal:
		p.internal.Add(1)
		answerJSON(w, http.StatusInternalServerError, apiError{Type: errorType("InternalServerError"),
			Message: "Internal server error"})
		return
	case faultReset:
		p.resets.Add(1)
		drop(w)
		return
	}

	release := func() {}
	if p.cfg.Conflicts {
		rel, refusal := p.admit(r.Context(), r.Header, op, body)
		if refusal != nil {
			p.conflicts.Add(1)
			answerJSON(w, http.StatusBadRequest, refusal)
			return
		}
		release = rel
	}
	if p.cfg.Latency {
		if err := p.sleep(r.Context(), p.drawLatency(txnOps[op])); err != nil {
			release() // the client is gone: the call is never forwarded
			return
		}
	}
	res, err := p.forward(r, body)
	release()
	if err != nil {
		http.Error(w, "ddbmodel: "+err.Error(), http.StatusBadGateway)
		return
	}
	if f == faultLost {
		p.lost.Add(1)
		drop(w)
		return
	}
	relay(w, res)
}

// drop resets the client's connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, not FIN: "connection reset by peer"
	}
	_ = conn.Close()
}

type upstream struct {
	status int
	header http.Header
	body   []byte
}

// hopHeaders are per-connection headers a proxy does not pass on.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}

// forward sends the call, headers and body unchanged, to DynamoDB Local and
// reads the whole answer.
func (p *Proxy) forward(r *http.Request, body []byte) (*upstream, error) {
	u := *p.target
	u.Path = strings.TrimRight(u.Path, "/") + r.URL.Path
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(p.ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read DynamoDB Local's answer: %w", err)
	}
	p.forwarded.Add(1)
	return &upstream{status: res.StatusCode, header: res.Header, body: raw}, nil
}

func (p *Proxy) forwardAndRelay(w http.ResponseWriter, r *http.Request, body []byte) {
	res, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "ddbmodel: "+err.Error(), http.StatusBadGateway)
		return
	}
	relay(w, res)
}

// relay writes DynamoDB Local's answer unchanged.
func relay(w http.ResponseWriter, res *upstream) {
	h := w.Header()
	for k, vs := range res.header {
		h[k] = append([]string(nil), vs...)
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	h.Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

// Error answers, in DynamoDB's JSON 1.0 shapes.

func errorType(name string) string { return "com.amazonaws.dynamodb.v20120810#" + name }

type apiError struct {
	Type    string `json:"__type"`
	Message string `json:"message,omitempty"`
}

type canceledError struct {
	Type                string   `json:"__type"`
	Message             string   `json:"Message"`
	CancellationReasons []reason `json:"CancellationReasons"`
}

type reason struct {
	Code    string `json:"Code"`
	Message string `json:"Message,omitempty"`
}

const conflictMessage = "Transaction is ongoing for the item"

// canceled builds TransactionCanceledException with TransactionConflict at
// the conflicting positions and None elsewhere.
func canceled(conflict []bool) canceledError {
	rs := make([]reason, len(conflict))
	codes := make([]string, len(conflict))
	for i, c := range conflict {
		rs[i] = reason{Code: "None"}
		if c {
			rs[i] = reason{Code: "TransactionConflict", Message: conflictMessage}
		}
		codes[i] = rs[i].Code
	}
	return canceledError{
		Type:                errorType("TransactionCanceledException"),
		Message:             "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]",
		CancellationReasons: rs,
	}
}

// answerJSON writes an answer of the proxy's own, with the headers DynamoDB
// sets: the request id and the CRC32 of the body, which the SDK checks.
func answerJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the fixed shapes above are written
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("x-amzn-RequestId", requestID())
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// requestID is 52 characters of [A-Z2-7], shaped like DynamoDB's. It comes
// from crypto/rand, so it never moves the seeded sequences.
func requestID() string {
	var b [32]byte
	_, _ = crand.Read(b[:])
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}
