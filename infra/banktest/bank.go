// Package banktest is Jepsen's bank test for the ledger: seeded concurrent
// clients move money through the real HTTP stack (local gateway, Lambda
// adapters, handlers, store) while a DynamoDB model in front of DynamoDB
// Local adds conflicts, latency and faults, the clients time out, retry
// and deliver requests twice, and DynamoDB Local is restarted once under
// load. Afterwards the books are read back and the invariants of DESIGN.md
// are checked against every answer the clients saw.
//
// The operation sequence of each client is a pure function of the seed, so
// a failure reproduces from its seed as far as scheduling allows (which
// earlier posting a reversal or a decision acts on depends on what was
// acknowledged, and the proxy's faults follow the order of calls).
package banktest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/treasuryledger/treasury/infra/ddbmodel"
	"github.com/treasuryledger/treasury/infra/dynamodblocal"
	"github.com/treasuryledger/treasury/infra/localauth"
	"github.com/treasuryledger/treasury/infra/localgateway"
	"github.com/treasuryledger/treasury/infra/localstream"
	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/dynamo"
	"github.com/treasuryledger/treasury/shared/sequencer"
)

// DefaultSeed is the seed when none is given.
const DefaultSeed = 20261122

// DefaultModel is the DynamoDB model of the run: AWS's conflict rules,
// latency scaled down (a transaction p50 5 ms instead of 25 ms) so that a
// run stays short, and faults at a few percent each.
const DefaultModel = "conflicts,latency,get_p50=2ms,get_p99=6ms,txn_p50=5ms,txn_p99=20ms," +
	"throttle=0.02,provisioned=0.01,internal=0.01,reset=0.01,lost=0.01"

// Config says how big a run is.
type Config struct {
	Seed    int64
	Ops     int    // operations in the whole run
	Clients int    // concurrent HTTP clients
	Model   string // ddbmodel.Parse form; "" = DefaultModel (the seed is the run's)
	// Progress gets a few lines about the run's phases; nil = none.
	Progress io.Writer
	// ServerLog gets the service's warnings and errors; nil = none.
	ServerLog io.Writer
}

// SeedFromEnv returns BANK_SEED, or def when it is not set.
func SeedFromEnv(def int64) (int64, error) {
	s := os.Getenv("BANK_SEED")
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("BANK_SEED=%q: %w", s, err)
	}
	return v, nil
}

// Result is what a run saw and what the checkers found.
type Result struct {
	Seed                                      int64
	Ops, Clients                              int
	Acknowledged, Refused, Unknown, Skipped   int
	Retried, Duplicates, Timeouts, ConnErrors int64
	Statuses                                  map[int]int64
	Problems                                  map[string]int64 // "status/type" of error answers
	Faults                                    ddbmodel.Stats
	Restarts                                  int
	RestartAt                                 int // operations done when DynamoDB Local went down
	RestartTook                               time.Duration
	LoadTook, Elapsed                         time.Duration
	HistoryCatchUp                            time.Duration // hot accounts' history numbered, after the load
	Violations                                map[int][]string
	Books                                     *Books
	Record                                    *Record
}

// Failed lists the invariants that do not hold.
func (r *Result) Failed() []int {
	var out []int
	for i := 0; i <= 5; i++ {
		if len(r.Violations[i]) > 0 {
			out = append(out, i)
		}
	}
	return out
}

// Summary is the run's one-line summary.
func (r *Result) Summary() string {
	f := r.Faults
	s := fmt.Sprintf("bank: seed=%d ops=%d acknowledged=%d refused=%d unknown=%d skipped=%d retried=%d duplicates=%d "+
		"faults={throttles=%d provisioned=%d internal=%d resets=%d lost=%d conflicts=%d forwarded=%d} restarts=%d hot_history_caught_up=%.1fs ",
		r.Seed, r.Ops, r.Acknowledged, r.Refused, r.Unknown, r.Skipped, r.Retried, r.Duplicates,
		f.Throttles, f.ProvisionedThrottles, f.InternalErrors, f.Resets, f.LostResponses, f.Conflicts, f.Forwarded, r.Restarts,
		r.HistoryCatchUp.Seconds())
	failed := r.Failed()
	if len(failed) == 0 {
		return s + "invariants=5/5 ok"
	}
	parts := make([]string, len(failed))
	for i, n := range failed {
		parts[i] = fmt.Sprintf("%d %s (%d)", n, invariantNames[n], len(r.Violations[n]))
	}
	broken := len(failed)
	if failed[0] == 0 {
		broken-- // the answers, not an invariant of the books
	}
	return s + fmt.Sprintf("invariants=%d/5 FAILED: %s", 5-broken, strings.Join(parts, ", "))
}

// Details is a second line about the client side, and the violations, at
// most max per invariant.
func (r *Result) Details(max int) string {
	var b strings.Builder
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	hs := make([]string, len(codes))
	for i, c := range codes {
		hs[i] = fmt.Sprintf("%d:%d", c, r.Statuses[c])
	}
	ps := make([]string, 0, len(r.Problems))
	for _, k := range sortedKeys(r.Problems) {
		ps = append(ps, fmt.Sprintf("%s:%d", k, r.Problems[k]))
	}
	fmt.Fprintf(&b, "bank: http={%s} problems={%s} timeouts=%d conn_errors=%d restart_at_op=%d restart_took=%s load=%s total=%s",
		strings.Join(hs, " "), strings.Join(ps, " "), r.Timeouts, r.ConnErrors, r.RestartAt, r.RestartTook.Round(time.Millisecond),
		r.LoadTook.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond))
	if bk := r.Books; bk != nil {
		lines := 0
		for _, h := range bk.History {
			lines += len(h)
		}
		inBooks := 0
		for _, op := range r.Record.Ops {
			if !op.Skipped && opOutcome(op) == Unknown && op.Kind != KindDecide && r.unknownBooked(op) {
				inBooks++
			}
		}
		fmt.Fprintf(&b, "\nbank: books: accounts=%d transactions=%d (listed %d) history_lines=%d audit_records=%d unknown_outcomes_booked=%d",
			len(bk.Accounts), len(bk.Txns), bk.Listed, lines, len(bk.Audit), inBooks)
	}
	for _, n := range r.Failed() {
		vs := r.Violations[n]
		fmt.Fprintf(&b, "\ninvariant %d (%s) broken, %d findings (seed=%d; reproduce with BANK_SEED=%d):", n, invariantNames[n], len(vs), r.Seed, r.Seed)
		for i, v := range vs {
			if i == max {
				fmt.Fprintf(&b, "\n  ... %d more", len(vs)-max)
				break
			}
			b.WriteString("\n  - " + v)
		}
	}
	return b.String()
}

// users of the run.
const (
	adminSub       = "u_admin"
	clientScopes   = "accounts:view accounts:all accounts:manage periods:close entries:view entries:create entries:delete transfers:view transfers:create transfers:delete withdrawals:view withdrawals:create withdrawals:delete journal:create"
	approverScopes = "accounts:view accounts:all withdrawals:view withdrawals:approve withdrawals:delete"
)

func clientSub(c int) string   { return fmt.Sprintf("u_c%02d", c) }
func approverSub(c int) string { return fmt.Sprintf("u_a%02d", c) }

// harness is one run's stack and state.
type harness struct {
	cfg      Config
	progress io.Writer
	dataDir  string
	port     int

	dbMu sync.Mutex
	db   *dynamodblocal.Server

	proxy  *ddbmodel.Proxy
	gw     http.Handler
	sender *sender

	done atomic.Int64 // operations finished
}

func (h *harness) logf(format string, args ...any) {
	if h.progress != nil {
		fmt.Fprintf(h.progress, format+"\n", args...)
	}
}

// Run runs the bank test. An error means the run could not be made (DynamoDB
// Local did not start, the set-up failed); invariant violations are in the
// Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	started := time.Now()
	if cfg.Ops <= 0 {
		cfg.Ops = 1000
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	model := cfg.Model
	if model == "" {
		model = DefaultModel
	}
	mcfg, err := ddbmodel.Parse(model)
	if err != nil {
		return nil, err
	}
	mcfg.Seed = cfg.Seed
	h := &harness{cfg: cfg, progress: cfg.Progress}
	h.logf("bank: seed=%d ops=%d clients=%d model=%s (BANK_SEED=%d reproduces it)", cfg.Seed, cfg.Ops, cfg.Clients, mcfg, cfg.Seed)

	// DynamoDB Local of our own, with its data on disk so that it survives
	// the restart.
	if h.dataDir, err = os.MkdirTemp("", "banktest-*"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(h.dataDir)
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	db, err := dynamodblocal.Start(startCtx, dynamodblocal.Options{DataDir: h.dataDir})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("bank: DynamoDB Local is needed and could not start: %w", err)
	}
	h.db = db
	defer func() {
		h.dbMu.Lock()
		defer h.dbMu.Unlock()
		if h.db != nil {
			_ = h.db.Stop()
		}
	}()
	u, err := url.Parse(db.Endpoint())
	if err != nil {
		return nil, err
	}
	if h.port, err = strconv.Atoi(u.Port()); err != nil {
		return nil, err
	}
	direct, err := dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: db.Endpoint()})
	if err != nil {
		return nil, err
	}
	table := fmt.Sprintf("bank-%d", cfg.Seed)
	if err := dynamo.CreateTable(ctx, direct, table); err != nil {
		return nil, fmt.Errorf("bank: creating the table: %w", err)
	}

	// The model of DynamoDB in front of it, the service behind the gateway.
	h.proxy = ddbmodel.New(db.Endpoint(), mcfg)
	proxyURL, err := h.proxy.Start()
	if err != nil {
		return nil, err
	}
	defer h.proxy.Close()
	svcDB, err := dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: proxyURL})
	if err != nil {
		return nil, err
	}
	logw := cfg.ServerLog
	if logw == nil {
		logw = io.Discard
	}
	log := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := api.NewServer(app.New(dynamo.New(svcDB, table)), log)
	// Hot accounts' history sequencer, fed by the table's stream (read
	// straight from DynamoDB Local, across its restart), writing through
	// the model like the service.
	stopSequencer := localstream.Run(db.Endpoint(), direct, table, sequencer.Wants,
		sequencer.Handler{Store: dynamo.New(svcDB, table), Log: log}.Handle, log)
	defer stopSequencer()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	h.gw = localgateway.New(srv, localauth.Verifier{Key: &key.PublicKey}, log)
	tenant := fmt.Sprintf("t_bank_%d", cfg.Seed)
	tokens := map[string]string{}
	sign := func(sub, scopes string) error {
		tok, err := localauth.Sign(key, localauth.Token{Sub: sub, Tenant: tenant, Scope: scopes, TTL: 6 * time.Hour}, time.Now())
		tokens[sub] = tok
		return err
	}
	if err := sign(adminSub, "admin"); err != nil {
		return nil, err
	}
	for c := range cfg.Clients {
		if err := sign(clientSub(c), clientScopes); err != nil {
			return nil, err
		}
		if err := sign(approverSub(c), approverScopes); err != nil {
			return nil, err
		}
	}
	load := httptest.NewServer(h.gw)
	transport := &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	h.sender = &sender{base: load.URL, http: &http.Client{Transport: transport}, tokens: tokens}

	rec := &Record{Accounts: Accounts()}
	if err := h.setup(ctx, rec.Accounts); err != nil {
		load.Close()
		return nil, err
	}
	h.logf("bank: %d accounts set up through the gateway", len(rec.Accounts))

	// The load, with one restart of DynamoDB Local in the middle of it.
	plan := Plan(cfg.Seed, cfg.Ops, cfg.Clients, rec.Accounts)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	rr := mrand.New(mrand.NewPCG(uint64(cfg.Seed), 0x7265737461727421))
	restartAt := cfg.Ops * (30 + rr.IntN(31)) / 100
	res := &Result{Seed: cfg.Seed, Ops: cfg.Ops, Clients: cfg.Clients}
	restartErr := make(chan error, 1)
	loadDone := make(chan struct{})
	go func() {
		for h.done.Load() < int64(restartAt) {
			select {
			case <-loadDone:
				restartErr <- errors.New("bank: the load ended before DynamoDB Local was restarted")
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		res.RestartAt = int(h.done.Load())
		t0 := time.Now()
		err := h.restart(ctx)
		res.RestartTook = time.Since(t0)
		if err != nil {
			stopLoad()
		} else {
			res.Restarts++
			h.logf("bank: DynamoDB Local restarted after %d operations (down %s)", res.RestartAt, res.RestartTook.Round(time.Millisecond))
		}
		restartErr <- err
	}()
	loadStart := time.Now()
	var wg sync.WaitGroup
	for c := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.client(loadCtx, c, plan[c], rec.Accounts)
		}()
	}
	wg.Wait()
	close(loadDone)
	res.LoadTook = time.Since(loadStart)
	if err := <-restartErr; err != nil {
		load.Close()
		return nil, err
	}
	// Let in-flight work finish: Close waits for every handler still running
	// (those whose client gave up included), then the proxy goes quiet.
	load.Close()
	h.quiesce()
	h.logf("bank: load done in %s", res.LoadTook.Round(time.Millisecond))
	for _, ops := range plan {
		rec.Ops = append(rec.Ops, ops...)
	}
	sort.Slice(rec.Ops, func(i, j int) bool { return rec.Ops[i].Index < rec.Ops[j].Index })

	// A hot account's history is numbered shortly after its postings;
	// invariant 2 holds once it has caught up.
	lagStart := time.Now()
	if late := catchUp(ctx, dynamo.New(direct, table), tenant, rec.Accounts, time.Minute); len(late) > 0 {
		res.Violations = map[int][]string{2: late}
	}
	res.HistoryCatchUp = time.Since(lagStart)
	h.logf("bank: hot accounts' history numbered %s after the load", res.HistoryCatchUp.Round(time.Millisecond))

	// Read everything back with an admin token.
	readSrv := httptest.NewServer(h.gw)
	defer readSrv.Close()
	rd := &reader{base: readSrv.URL, token: tokens[adminSub], http: &http.Client{Transport: transport}}
	// Settings changes whose undoing went unanswered may have left an
	// account frozen, renamed or with a lower limit: set every account as
	// it started, so the books are read against the limits the run used.
	if err := h.resetSettings(ctx, &sender{base: readSrv.URL, http: rd.http, tokens: tokens}, rec.Accounts); err != nil {
		return nil, err
	}
	var named []string
	for _, op := range rec.Ops {
		for _, c := range op.Calls {
			named = append(named, c.TxnIDs()...)
		}
		if op.TargetTxn != "" {
			named = append(named, op.TargetTxn)
		}
	}
	books, err := rd.read(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("bank: reading the books: %w", err)
	}
	var system []string
	for _, ccy := range []string{"RON", "EUR"} {
		system = append(system, "external:"+ccy, "fx:"+ccy)
	}
	if books.System, err = dynamo.New(direct, table).SystemBalances(ctx, tenant, system); err != nil {
		return nil, fmt.Errorf("bank: reading the system accounts: %w", err)
	}

	res.Books, res.Record = books, rec
	for n, v := range Check(books, rec) {
		if res.Violations == nil {
			res.Violations = map[int][]string{}
		}
		res.Violations[n] = append(res.Violations[n], v...)
	}
	for _, op := range rec.Ops {
		switch opOutcome(op) {
		case Acknowledged:
			res.Acknowledged++
		case Refused:
			res.Refused++
		case Unknown:
			if op.Skipped {
				res.Skipped++
			} else {
				res.Unknown++
			}
		}
	}
	res.Retried, res.Duplicates = h.sender.retries.Load(), h.sender.duplicates.Load()
	res.Timeouts, res.ConnErrors = h.sender.timeouts.Load(), h.sender.connErrors.Load()
	res.Statuses = h.sender.Statuses()
	if n := res.Statuses[500]; n > 0 {
		if res.Violations == nil {
			res.Violations = map[int][]string{}
		}
		res.Violations[0] = append(res.Violations[0], fmt.Sprintf(
			"the service answered 500 %d times; the contract says never (503 with Retry-After when the store stays busy)", n))
	}
	res.Problems = h.sender.Problems()
	res.Faults = h.proxy.Stats()
	res.Elapsed = time.Since(started)
	return res, nil
}

// WriteRecord writes what every operation did, one JSON object a line:
// its key, kind, outcome, target and every answer seen.
func (r *Result) WriteRecord(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, op := range r.Record.Ops {
		type answer struct {
			Key      string `json:"key"`
			Delivery int    `json:"delivery"`
			Attempt  int    `json:"attempt"`
			Status   int    `json:"status"`
			Err      string `json:"error,omitempty"`
			TxnID    string `json:"transaction_id,omitempty"`
			TxnState string `json:"transaction_status,omitempty"`
			Problem  string `json:"problem,omitempty"`
			Replayed bool   `json:"replayed,omitempty"`
			SentMS   int64  `json:"sent_ms"`
			TookMS   int64  `json:"took_ms"`
		}
		line := struct {
			Index   int      `json:"index"`
			Client  int      `json:"client"`
			Seq     int      `json:"seq"`
			Kind    string   `json:"kind"`
			Detail  string   `json:"detail,omitempty"`
			Key     string   `json:"key"`
			Outcome string   `json:"outcome"`
			Target  string   `json:"target,omitempty"`
			Lines   []string `json:"lines,omitempty"`
			Answers []answer `json:"answers"`
		}{Index: op.Index, Client: op.Client, Seq: op.Seq, Kind: op.Kind, Key: op.Key, Target: op.TargetTxn, Answers: []answer{}}
		switch {
		case op.Skipped:
			line.Outcome = "skipped"
		default:
			line.Outcome = opOutcome(op).String()
		}
		line.Detail = op.Decision + op.Dup
		for _, l := range op.Expected {
			line.Lines = append(line.Lines, l.String())
		}
		for _, c := range op.Calls {
			for _, a := range c.Answers {
				line.Answers = append(line.Answers, answer{Key: c.Key, Delivery: a.Delivery, Attempt: a.Attempt, Status: a.Status,
					Err: a.Err, TxnID: a.TxnID, TxnState: a.TxnState, Problem: a.Problem, Replayed: a.Replayed,
					SentMS: a.Sent.UnixMilli(), TookMS: a.Received.Sub(a.Sent).Milliseconds()})
			}
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

// unknownBooked reports whether an operation with an unknown outcome is in
// the books.
func (r *Result) unknownBooked(op *Op) bool {
	for _, t := range r.Books.Txns {
		if (op.Kind == KindReversal && t.Kind == "reversal" && t.Reason == op.Ref) ||
			(op.Kind != KindReversal && t.Kind != "reversal" && t.Reference == op.Ref) {
			return true
		}
	}
	return false
}

// opOutcome is an operation's outcome: acknowledged if any of its requests
// was, refused if all were refused, else unknown.
func opOutcome(op *Op) Outcome {
	if op.Skipped || len(op.Calls) == 0 {
		return Unknown
	}
	refused := 0
	for _, c := range op.Calls {
		switch c.Outcome() {
		case Acknowledged:
			return Acknowledged
		case Refused:
			refused++
		}
	}
	if refused == len(op.Calls) {
		return Refused
	}
	return Unknown
}

// setup creates the accounts through the gateway, retrying with the same
// key as any client would.
func (h *harness) setup(ctx context.Context, accts []*AccountSpec) error {
	for i, a := range accts {
		body := map[string]any{"name": a.Name, "currency": a.Currency, "kind": a.Kind,
			"opening_balance": a.Opening.StringFixed(2), "overdraft_limit": a.Overdraft.StringFixed(2)}
		if !a.Threshold.IsZero() {
			body["approval_threshold"] = a.Threshold.StringFixed(2)
		}
		if a.Hot {
			body["hot"] = true
		}
		raw, _ := json.Marshal(body)
		c := &Call{Name: "account", Sub: adminSub, Key: fmt.Sprintf("bank-%d-setup-%02d", h.cfg.Seed, i), Method: "POST", Path: "/accounts", Body: raw}
		h.sender.deliver(ctx, c, 0, 0, false, mrand.New(mrand.NewPCG(uint64(i), 1)))
		a2, ok := c.Acked()
		if !ok {
			return fmt.Errorf("bank: creating account %q: %s", a.Name, c.Describe())
		}
		if a2.Status != 201 {
			return fmt.Errorf("bank: creating account %q: status %d", a.Name, a2.Status)
		}
		// A 201 for an account names the account, not a transaction.
		a.ID = a2.TxnID
		var created struct {
			Hot bool `json:"hot"`
		}
		if err := json.Unmarshal(a2.Body, &created); err != nil || created.Hot != a.Hot {
			return fmt.Errorf("bank: account %q answered hot=%v (%v); the run needs it %v", a.Name, created.Hot, err, a.Hot)
		}
	}
	return nil
}

// resetSettings sets every account's status, name and overdraft limit to
// what the run created it with, as the admin, retried until answered.
func (h *harness) resetSettings(ctx context.Context, s *sender, accts []*AccountSpec) error {
	for i, a := range accts {
		raw, _ := json.Marshal(map[string]any{"status": "active", "name": a.Name, "overdraft_limit": a.Overdraft.StringFixed(2)})
		c := &Call{Name: "reset", Sub: adminSub, Method: "PATCH", Path: "/accounts/" + a.ID, Body: raw}
		s.deliver(ctx, c, 0, 0, false, mrand.New(mrand.NewPCG(uint64(i), 2)))
		if _, ok := c.Acked(); !ok {
			return fmt.Errorf("bank: setting %q back as it started: %s", a.Name, c.Describe())
		}
	}
	return nil
}

// clientState is what a client remembers of its own acknowledged postings,
// to pick what a reversal or a decision acts on.
type clientState struct {
	postings []*Op // acknowledged operations with a transaction of their own
	pending  []*Op // acknowledged withdrawals answered pending, not decided yet
}

// client runs one client's operations in order.
func (h *harness) client(ctx context.Context, c int, ops []*Op, accts []*AccountSpec) {
	st := &clientState{}
	for _, op := range ops {
		if ctx.Err() != nil {
			op.Skipped = true
			continue
		}
		h.prepare(op, st, c, accts)
		if !op.Skipped && op.Kind == KindSettings {
			// The change, then its undoing: one after the other.
			for i, call := range op.Calls {
				h.sender.run(ctx, op, call, i)
			}
		} else if !op.Skipped {
			var wg sync.WaitGroup
			for i, call := range op.Calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h.sender.run(ctx, op, call, i)
				}()
			}
			wg.Wait()
			h.remember(op, st)
		}
		h.done.Add(1)
	}
}

// prepare resolves an operation into its requests.
func (h *harness) prepare(op *Op, st *clientState, c int, accts []*AccountSpec) {
	id := func(i int) string { return accts[i].ID }
	ccy := func(i int) string { return accts[i].Currency }
	memo := "bank " + op.Key
	money := func(d interface{ StringFixed(int32) string }) string { return d.StringFixed(2) }
	post := func(path string, body map[string]any) {
		raw, _ := json.Marshal(body)
		key := op.Key
		if op.Keyless {
			key = ""
		}
		op.Calls = []*Call{{Name: "post", Sub: clientSub(c), Key: key, Method: "POST", Path: path, Body: raw}}
	}
	switch op.Kind {
	case KindTransfer:
		post("/transfers", map[string]any{"from_account_id": id(op.From), "to_account_id": id(op.To),
			"amount": money(op.Amount), "memo": memo, "reference": op.Ref})
		op.Expected = []Line{{id(op.From), "debit", op.Amount, ccy(op.From)}, {id(op.To), "credit", op.Amount, ccy(op.To)}}
	case KindExchange:
		post("/transfers", map[string]any{"from_account_id": id(op.From), "to_account_id": id(op.To),
			"amount": money(op.Amount), "to_amount": money(op.ToAmount), "memo": memo, "reference": op.Ref})
		op.Expected = []Line{
			{id(op.From), "debit", op.Amount, ccy(op.From)}, {"fx:" + ccy(op.From), "credit", op.Amount, ccy(op.From)},
			{"fx:" + ccy(op.To), "debit", op.ToAmount, ccy(op.To)}, {id(op.To), "credit", op.ToAmount, ccy(op.To)},
		}
	case KindEntry:
		post("/accounts/"+id(op.Acct)+"/entries", map[string]any{"type": op.EntryType, "amount": money(op.Amount),
			"memo": memo, "reference": op.Ref})
		ext := "debit"
		if op.EntryType == "debit" {
			ext = "credit"
		}
		op.Expected = []Line{{id(op.Acct), op.EntryType, op.Amount, ccy(op.Acct)}, {"external:" + ccy(op.Acct), ext, op.Amount, ccy(op.Acct)}}
	case KindJournal:
		var lines []map[string]any
		for _, l := range op.Journal {
			lines = append(lines, map[string]any{"account_id": id(l.Acct), "type": l.Type, "amount": money(l.Amount)})
			op.Expected = append(op.Expected, Line{id(l.Acct), l.Type, l.Amount, ccy(l.Acct)})
		}
		post("/journal-entries", map[string]any{"memo": memo, "reference": op.Ref, "lines": lines})
	case KindWithdrawal:
		post("/accounts/"+id(op.Acct)+"/withdrawals", map[string]any{"amount": money(op.Amount), "payee": "Payee " + op.Key,
			"method": "bank_transfer", "memo": memo, "reference": op.Ref})
		op.Expected = []Line{{id(op.Acct), "debit", op.Amount, ccy(op.Acct)}, {"external:" + ccy(op.Acct), "credit", op.Amount, ccy(op.Acct)}}
	case KindReversal:
		n := len(st.postings)
		if n == 0 {
			op.Skipped = true
			return
		}
		op.Target = st.postings[n-1-op.Pick%min(n, 8)]
		op.TargetTxn = targetTxn(op.Target)
		raw, _ := json.Marshal(map[string]any{"reason": op.Ref})
		op.Calls = []*Call{{Name: "reverse", Sub: clientSub(c), Key: op.Key, Method: "POST",
			Path: "/transactions/" + op.TargetTxn + "/reverse", Body: raw}}
		op.Expected = mirror(op.Target.Expected)
	case KindSettings:
		a := accts[op.Acct]
		var change, undo map[string]any
		switch op.Setting {
		case SettingFreeze:
			change, undo = map[string]any{"status": "frozen"}, map[string]any{"status": "active"}
		case SettingOverdraft:
			change, undo = map[string]any{"overdraft_limit": "0.00"}, map[string]any{"overdraft_limit": money(a.Overdraft)}
		case SettingRename:
			change, undo = map[string]any{"name": a.Name + " ~" + op.Key}, map[string]any{"name": a.Name}
		}
		for i, body := range []map[string]any{change, undo} {
			raw, _ := json.Marshal(body)
			op.Calls = append(op.Calls, &Call{Name: fmt.Sprintf("settings-%d", i+1), Sub: clientSub(c), Method: "PATCH",
				Path: "/accounts/" + id(op.Acct), Body: raw})
		}
	case KindClose:
		op.Calls = []*Call{{Name: "close", Sub: clientSub(c), Key: op.Key, Method: "POST", Path: "/periods/" + op.Month + "/close"}}
	case KindDecide:
		if len(st.pending) == 0 {
			op.Skipped = true
			return
		}
		op.Target, st.pending = st.pending[0], st.pending[1:]
		op.TargetTxn = targetTxn(op.Target)
		approve := &Call{Name: DecideApprove, Sub: approverSub(c), Key: op.Key + "-approve", Method: "POST",
			Path: "/transactions/" + op.TargetTxn + "/approve"}
		raw, _ := json.Marshal(map[string]any{"reason": op.Ref})
		reject := &Call{Name: DecideReject, Sub: approverSub(c), Key: op.Key + "-reject", Method: "POST",
			Path: "/transactions/" + op.TargetTxn + "/reject", Body: raw}
		switch op.Decision {
		case DecideApprove:
			op.Calls = []*Call{approve}
		case DecideReject:
			op.Calls = []*Call{reject}
		default:
			op.Calls = []*Call{approve, reject}
		}
	}
}

func targetTxn(op *Op) string {
	a, _ := op.Calls[0].Acked()
	return a.TxnID
}

// remember notes what an operation left for later reversals and decisions.
func (h *harness) remember(op *Op, st *clientState) {
	if !isPosting(op.Kind) && op.Kind != KindReversal {
		return
	}
	a, ok := op.Calls[0].Acked()
	if !ok || a.TxnID == "" {
		return
	}
	st.postings = append(st.postings, op)
	if op.Kind == KindWithdrawal && a.TxnState == "pending" {
		st.pending = append(st.pending, op)
	}
}

// restart stops DynamoDB Local and starts it again on the same port with
// the same data directory, so the proxy's target stays the same.
func (h *harness) restart(ctx context.Context) error {
	h.dbMu.Lock()
	old := h.db
	h.db = nil
	h.dbMu.Unlock()
	if err := old.Stop(); err != nil {
		return fmt.Errorf("bank: stopping DynamoDB Local: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		srv, err := dynamodblocal.Start(startCtx, dynamodblocal.Options{DataDir: h.dataDir, Port: h.port})
		cancel()
		if err == nil {
			h.dbMu.Lock()
			h.db = srv
			h.dbMu.Unlock()
			return nil
		}
		lastErr = err
	}
	return fmt.Errorf("bank: DynamoDB Local did not start again on port %d: %w", h.port, lastErr)
}

// quiesce waits until the proxy has seen no call for a while: calls that
// the service gave up on may still be on their way to DynamoDB Local.
func (h *harness) quiesce() {
	last := h.proxy.Stats()
	quiet := 0
	for deadline := time.Now().Add(10 * time.Second); quiet < 3 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		s := h.proxy.Stats()
		if s == last {
			quiet++
		} else {
			quiet, last = 0, s
		}
	}
}

// catchUp waits until no hot account has a line waiting for its number,
// and names those that still have after wait.
func catchUp(ctx context.Context, st *dynamo.Store, tenant string, accts []*AccountSpec, wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		var late []string
		for _, a := range accts {
			if !a.Hot {
				continue
			}
			n, err := st.UnnumberedLines(ctx, tenant, a.ID)
			if err != nil {
				late = append(late, fmt.Sprintf("%s: cannot count its unnumbered history lines: %v", a.Name, err))
			} else if n > 0 {
				late = append(late, fmt.Sprintf("%s: %d history lines still unnumbered %s after the load", a.Name, n, wait))
			}
		}
		if len(late) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return late
		}
		time.Sleep(100 * time.Millisecond)
	}
}
