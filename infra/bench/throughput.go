package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/treasuryledger/treasury/infra/teststack"
)

// LoadOptions shape the throughput runs.
type LoadOptions struct {
	Accounts int           // transfers go between random pairs of this many accounts
	Clients  []int         // concurrent HTTP clients, one level each
	Runs     int           // runs per level
	Duration time.Duration // of one run
	// Hot sends every transfer out of one account (the first), as a
	// treasury pool funding every department would.
	Hot bool
	// MarkHot marks that one account hot (ledger.Account.Hot): its balance
	// in parts, its history numbered by the sequencer.
	MarkHot bool
	Log     func(format string, args ...any)
}

// LoadRun is one run at one level.
type LoadRun struct {
	Clients, Run int
	Elapsed      time.Duration
	Posted       int
	Statuses     map[int]int // every answer's status
	Errors       int         // transport errors
	Latencies    []float64   // ms, at the client, of the postings
	FuncMs       []float64   // the function's duration_ms of the postings
	Retries      float64     // conflict retries inside the service
	// CPU time over the run: the whole machine's busy time and this
	// process's (load generator, local gateway, handlers, SDK); zero when
	// unknown. DynamoDB Local's JVM is most of the rest.
	MachineCPU, SelfCPU time.Duration
	// For a marked hot account: its lines still unnumbered when the load
	// stopped, and how long the sequencer then took to number them all.
	Backlog int
	CatchUp time.Duration
}

// Rate is postings per second.
func (r LoadRun) Rate() float64 { return float64(r.Posted) / r.Elapsed.Seconds() }

// LoadLevel is every run at one level.
type LoadLevel struct {
	Clients int
	Runs    []LoadRun
}

// Rate spreads postings/s over the runs.
func (l LoadLevel) Rate() Spread {
	var v []float64
	for _, r := range l.Runs {
		v = append(v, r.Rate())
	}
	return SpreadOf(v)
}

func (l LoadLevel) pooled(f func(LoadRun) []float64) []float64 {
	var v []float64
	for _, r := range l.Runs {
		v = append(v, f(r)...)
	}
	return v
}

// Latency is the client's latency quantile q over every run's postings, ms.
func (l LoadLevel) Latency(q float64) float64 {
	return Quantile(l.pooled(func(r LoadRun) []float64 { return r.Latencies }), q)
}

// FuncLatency is the function's duration quantile q, ms.
func (l LoadLevel) FuncLatency(q float64) float64 {
	return Quantile(l.pooled(func(r LoadRun) []float64 { return r.FuncMs }), q)
}

// CPU is the cores busy on average over the runs: the machine's, and this
// process's (0, 0 when unknown).
func (l LoadLevel) CPU() (machine, self float64) {
	var wall time.Duration
	for _, r := range l.Runs {
		if r.MachineCPU == 0 {
			return 0, 0
		}
		machine += r.MachineCPU.Seconds()
		self += r.SelfCPU.Seconds()
		wall += r.Elapsed
	}
	if wall == 0 {
		return 0, 0
	}
	return machine / wall.Seconds(), self / wall.Seconds()
}

// Totals over the runs: postings, conflict retries, answers other than 201,
// transport errors.
func (l LoadLevel) Totals() (posted int, retries float64, other map[int]int, errors int) {
	other = map[int]int{}
	for _, r := range l.Runs {
		posted += r.Posted
		retries += r.Retries
		errors += r.Errors
		for st, n := range r.Statuses {
			if st != 201 {
				other[st] += n
			}
		}
	}
	return
}

// RunLoad opens the accounts, then runs transfers between random pairs of
// them at each level, the levels taking turns run by run so that a slow
// moment of a shared machine does not fall on one level only.
func RunLoad(ctx context.Context, st *Stack, o LoadOptions) ([]LoadLevel, error) {
	tenant := "t_load_" + teststack.RandomID()
	tok := st.Token("u_load", tenant, "admin")
	accounts, err := openAccounts(ctx, st, tok, o.Accounts, o.MarkHot)
	if err != nil {
		return nil, err
	}
	levels := make([]LoadLevel, len(o.Clients))
	for i, c := range o.Clients {
		levels[i].Clients = c
	}
	// One uncounted round warms connections and DynamoDB Local's JVM, whose
	// JIT otherwise makes every run a little faster than the last.
	if _, err := loadRun(ctx, st, tok, accounts, 4, -1, o.Duration, o.Hot); err != nil {
		return nil, err
	}
	for run := 0; run < o.Runs; run++ {
		for i, c := range o.Clients {
			r, err := loadRun(ctx, st, tok, accounts, c, run, o.Duration, o.Hot)
			if err != nil {
				return nil, err
			}
			if o.MarkHot {
				if r.Backlog, r.CatchUp, err = catchUp(ctx, st, tenant, accounts[0]); err != nil {
					return nil, err
				}
			}
			levels[i].Runs = append(levels[i].Runs, r)
			if o.Log != nil {
				o.Log("throughput: %2d clients, run %d: %d postings in %.1fs = %.1f/s", c, run+1, r.Posted, r.Elapsed.Seconds(), r.Rate())
			}
		}
	}
	return levels, nil
}

// catchUp waits until the hot account's history is numbered: the backlog
// when the load stopped, and the time it took.
func catchUp(ctx context.Context, st *Stack, tenant, id string) (int, time.Duration, error) {
	start := time.Now()
	backlog := -1
	for {
		n, err := st.Store.UnnumberedLines(ctx, tenant, id)
		if err != nil {
			return 0, 0, err
		}
		if backlog < 0 {
			backlog = n
		}
		if n == 0 {
			return backlog, time.Since(start), nil
		}
		if time.Since(start) > 2*time.Minute {
			return 0, 0, fmt.Errorf("the hot account's history did not catch up: %d lines wait after 2 minutes", n)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func openAccounts(ctx context.Context, st *Stack, tok string, n int, markFirst bool) ([]string, error) {
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := map[string]any{"name": fmt.Sprintf("Pool %03d", i), "currency": "RON", "kind": "cash", "opening_balance": "1000000.00"}
				if i == 0 && markFirst {
					body["hot"] = true
				}
				m, err := st.Must(ctx, 201, Request{Method: "POST", Path: "/accounts", Token: tok, Body: body})
				if err != nil {
					errs[i] = err
					continue
				}
				ids[i], _ = m["id"].(string)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("opening the load accounts: %w", err)
		}
	}
	return ids, nil
}

func loadRun(ctx context.Context, st *Stack, tok string, accounts []string, clients, run int, d time.Duration, hot bool) (LoadRun, error) {
	st.ResetLogs()
	res := LoadRun{Clients: clients, Run: run, Statuses: map[int]int{}}
	type posting struct {
		id      string
		latency float64
	}
	var mu sync.Mutex
	var posted []posting
	var wg sync.WaitGroup
	cpu0 := sampleCPU()
	start := time.Now()
	deadline := start.Add(d)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(c)))
			for seq := 0; time.Now().Before(deadline) && ctx.Err() == nil; seq++ {
				from := rng.IntN(len(accounts))
				if hot {
					from = 0
				}
				to := rng.IntN(len(accounts) - 1)
				if to >= from {
					to++
				}
				r, err := st.Do(ctx, Request{Method: "POST", Path: "/transfers", Token: tok,
					IdempotencyKey: fmt.Sprintf("load-%v-%d-%d-%d-%d", hot, clients, run, c, seq),
					Body: map[string]any{"from_account_id": accounts[from], "to_account_id": accounts[to],
						"amount": fmt.Sprintf("%d.%02d", 1+rng.IntN(99), rng.IntN(100)), "memo": "Load"}})
				mu.Lock()
				if err != nil {
					res.Errors++
				} else {
					res.Statuses[r.Status]++
					if r.Status == 201 {
						posted = append(posted, posting{r.RequestID, float64(r.Latency.Microseconds()) / 1000})
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if cpu1 := sampleCPU(); cpu0.ok && cpu1.ok {
		res.MachineCPU, res.SelfCPU = cpu1.machineBusy-cpu0.machineBusy, cpu1.self-cpu0.self
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	lines := st.RequestLines()
	sort.Slice(posted, func(i, j int) bool { return posted[i].latency < posted[j].latency })
	for _, p := range posted {
		res.Posted++
		res.Latencies = append(res.Latencies, p.latency)
		if l, ok := lines[p.id]; ok {
			res.FuncMs = append(res.FuncMs, l.Num("duration_ms"))
		}
	}
	for _, l := range lines {
		res.Retries += l.Num("ConflictRetries")
	}
	return res, nil
}
