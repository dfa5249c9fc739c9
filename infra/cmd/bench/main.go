// Command bench measures what each operation costs and how fast the ledger
// goes, and writes it into docs/BENCHMARKS.md:
//
//	go run ./infra/cmd/bench [-runs 6] [-samples 7] [-out docs/BENCHMARKS.md] [-raw docs/bench/]
//
// It starts the local stack (DynamoDB Local from DYNAMODB_ENDPOINT, or one of
// its own; a fresh table; the real handlers behind the local gateway) and:
//
//   - cost model: sends every route of api.Routes (bench.Cases; a route
//     without a case is an error) -samples times after -warmup uncounted
//     requests, and reads each request's DynamoDB units and duration from its
//     log line;
//   - throughput: transfers between random pairs of -accounts accounts from
//     1, 4 and 16 concurrent HTTP clients (-clients), -runs runs of
//     -duration per level;
//   - CPU: go test -run '^$' -bench . -benchmem -count -runs on
//     ./infra/bench/ (the handler and domain benchmarks).
//
// It prints the sections and, with -out, rewrites them between their
// <!-- bench-…:begin --> and <!-- bench-…:end --> markers; with -raw it keeps
// the raw outputs there (go-bench.txt and throughput.txt in the benchmark
// text format, benchstat summaries of both when benchstat runs, and every
// cost-model request in cost-model.tsv).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/treasuryledger/treasury/infra/bench"
	"github.com/treasuryledger/treasury/infra/dynamodblocal"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	runs, samples, warmup, accounts int
	duration                        time.Duration
	clients                         []int
	benchtime, benchPkgs, benchstat string
	out, raw                        string
	parts                           map[string]bool
}

func run() error {
	var o options
	flag.IntVar(&o.runs, "runs", 6, "runs per throughput level, and -count of the Go benchmarks")
	flag.IntVar(&o.samples, "samples", 7, "counted requests per cost-model row")
	flag.IntVar(&o.warmup, "warmup", 1, "uncounted requests before each cost-model row")
	flag.IntVar(&o.accounts, "accounts", 200, "accounts the throughput transfers go between")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of one throughput run")
	clients := flag.String("clients", "1,4,16", "concurrent HTTP clients of the throughput levels")
	flag.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime")
	flag.StringVar(&o.benchPkgs, "bench-pkgs", "./infra/bench/", "packages whose Go benchmarks run (space-separated)")
	flag.StringVar(&o.benchstat, "benchstat", "go run golang.org/x/perf/cmd/benchstat@latest", "benchstat command for the raw summaries (empty: none)")
	flag.StringVar(&o.out, "out", "", "rewrite the marked sections of `FILE` (e.g. docs/BENCHMARKS.md)")
	flag.StringVar(&o.raw, "raw", "", "write raw outputs into `DIR` (e.g. docs/bench/)")
	parts := flag.String("parts", "cost,throughput,cpu,hot", "what to measure; sections of parts left out stay as they are")
	flag.Parse()
	if o.runs < 1 || o.samples < 1 || o.warmup < 0 || o.accounts < 2 {
		return errors.New("-runs and -samples must be at least 1, -warmup at least 0, -accounts at least 2")
	}
	for _, c := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("-clients: %q is not a positive number", c)
		}
		o.clients = append(o.clients, n)
	}
	o.parts = map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		switch p = strings.TrimSpace(p); p {
		case "cost", "throughput", "cpu", "hot":
			o.parts[p] = true
		default:
			return fmt.Errorf("-parts: unknown part %q (cost, throughput, cpu, hot)", p)
		}
	}
	if missing := bench.MissingRoutes(bench.Cases()); len(missing) > 0 {
		return fmt.Errorf("routes without a request in the cost model: %s (add them to bench.Cases)", strings.Join(missing, ", "))
	}
	if o.out != "" {
		if _, err := os.Stat(o.out); err != nil {
			return err
		}
	}
	if o.raw != "" {
		if err := os.MkdirAll(o.raw, 0o755); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	info := bench.RunInfo{
		Date: started.UTC().Format("2006-01-02 15:04 UTC"), CPU: cpuModel(), Cores: runtime.NumCPU(), Memory: memory(),
		Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, Kernel: readTrim("/proc/sys/kernel/osrelease"),
		LoadBefore: loadAvg(), Command: "go run ./infra/cmd/bench " + strings.Join(os.Args[1:], " "),
		Runs: o.runs, Samples: o.samples, Warmup: o.warmup, GoBenchCount: o.runs,
	}
	info.DynamoDBLocal = filepath.Base(dynamodblocal.DefaultInstallDir()) + " (npm, the repository's pin), " + javaVersion()
	if ep := os.Getenv("DYNAMODB_ENDPOINT"); ep != "" {
		info.DynamoDBLocal += ", in memory, shared through DYNAMODB_ENDPOINT"
	}
	sections := map[string]string{}
	var raw []string
	p, l := bench.ListPrices, bench.AWSLatency

	if o.parts["cost"] || o.parts["throughput"] {
		logf("starting the local stack")
		startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		st, err := bench.Start(startCtx)
		cancel()
		if err != nil {
			return err
		}
		defer st.Close()
		// Throughput first: its thousands of postings warm DynamoDB Local's
		// JVM, so that the cost model's durations are those of a warm service.
		if o.parts["throughput"] {
			lo := bench.LoadOptions{Accounts: o.accounts, Clients: o.clients, Runs: o.runs, Duration: o.duration, Log: logf}
			levels, err := bench.RunLoad(ctx, st, lo)
			if err != nil {
				return err
			}
			sections[bench.SectionThroughput] = bench.ThroughputSection(levels, lo, runtime.NumCPU())
			if o.raw != "" {
				header := fmt.Sprintf("goos: %s\ngoarch: %s\npkg: github.com/treasuryledger/treasury/infra/cmd/bench\ncpu: %s\n", runtime.GOOS, runtime.GOARCH, info.CPU)
				text := bench.LoadBenchText(header, levels)
				if err := os.WriteFile(filepath.Join(o.raw, "throughput.txt"), []byte(text), 0o644); err != nil {
					return err
				}
				raw = append(raw, "throughput.txt")
				if name, ok := runBenchstat(ctx, o, "throughput.txt"); ok {
					raw = append(raw, name)
				}
			}
		}
		if o.parts["cost"] {
			rows, err := bench.RunCostModel(ctx, st, bench.Cases(), bench.CostModelOptions{Samples: o.samples, Warmup: o.warmup, Log: logf})
			if err != nil {
				return err
			}
			sections[bench.SectionCost] = bench.CostSection(rows, p, l)
			scale, err := bench.ScaleSection(rows, p, l, bench.CustomMetrics(rows))
			if err != nil {
				return err
			}
			sections[bench.SectionScale] = scale
			if o.raw != "" {
				if err := os.WriteFile(filepath.Join(o.raw, "cost-model.tsv"), []byte(costTSV(rows, p, l)), 0o644); err != nil {
					return err
				}
				raw = append(raw, "cost-model.tsv")
			}
		}
	}

	if o.parts["hot"] {
		// A stack of its own, with the DynamoDB model between the service
		// and DynamoDB Local: DynamoDB Local alone never conflicts.
		const model = "aws"
		logf("starting the local stack with the DynamoDB model %q", model)
		startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		st, err := bench.StartModel(startCtx, model)
		cancel()
		if err != nil {
			return err
		}
		lo := bench.LoadOptions{Accounts: 1000, Clients: []int{16}, Runs: min(o.runs, 3), Duration: o.duration, Log: logf}
		spread, err := bench.RunLoad(ctx, st, lo)
		if err != nil {
			st.Close()
			return err
		}
		lo.Hot = true
		plain, err := bench.RunLoad(ctx, st, lo)
		if err != nil {
			st.Close()
			return err
		}
		lo.MarkHot = true
		marked, err := bench.RunLoad(ctx, st, lo)
		st.Close()
		if err != nil {
			return err
		}
		sections[bench.SectionHot] = bench.HotSection(spread[0], plain[0], marked[0], lo, model)
	}

	if o.parts["cpu"] {
		args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(o.runs), "-benchtime", o.benchtime}
		args = append(args, strings.Fields(o.benchPkgs)...)
		logf("go %s", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = moduleRoot()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go test -bench: %w\n%s", err, out.String())
		}
		benches := bench.ParseGoBench(out.String())
		if len(benches) == 0 {
			return fmt.Errorf("go test -bench printed no benchmarks:\n%s", out.String())
		}
		sections[bench.SectionCPU] = bench.CPUSection(benches, p)
		if o.raw != "" {
			if err := os.WriteFile(filepath.Join(o.raw, "go-bench.txt"), out.Bytes(), 0o644); err != nil {
				return err
			}
			raw = append([]string{"go-bench.txt"}, raw...)
			if name, ok := runBenchstat(ctx, o, "go-bench.txt"); ok {
				raw = append(raw, name)
			}
		}
	}

	info.LoadAfter = loadAvg()
	info.Minutes = time.Since(started).Minutes()
	for i, r := range raw {
		raw[i] = relRaw(o, r)
	}
	info.Raw = raw
	for _, part := range []string{"cost", "throughput", "cpu"} {
		if o.parts[part] {
			info.Parts = append(info.Parts, part)
		}
	}
	// The run section describes the cost, throughput and CPU tables: a run
	// of the hot-account part alone leaves it as it is.
	if o.parts["cost"] || o.parts["throughput"] || o.parts["cpu"] {
		sections[bench.SectionRun] = bench.RunSection(info)
	}

	order := []string{bench.SectionRun, bench.SectionCost, bench.SectionCPU, bench.SectionThroughput, bench.SectionScale, bench.SectionHot}
	if o.out == "" {
		for _, name := range order {
			if s, ok := sections[name]; ok {
				fmt.Printf("<!-- %s -->\n%s\n", name, s)
			}
		}
		return nil
	}
	doc, err := os.ReadFile(o.out)
	if err != nil {
		return err
	}
	text := string(doc)
	for _, name := range order {
		s, ok := sections[name]
		if !ok {
			continue
		}
		if text, err = bench.ReplaceSection(text, name, s); err != nil {
			return fmt.Errorf("%s: %w", o.out, err)
		}
	}
	if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
		return err
	}
	logf("wrote %s in %.1f min", o.out, info.Minutes)
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// relRaw names a raw file as the document links it: relative to the
// document's folder.
func relRaw(o options, name string) string {
	full := filepath.Join(o.raw, name)
	if o.out == "" {
		return full
	}
	rel, err := filepath.Rel(filepath.Dir(o.out), full)
	if err != nil {
		return full
	}
	return filepath.ToSlash(rel)
}

// runBenchstat summarises a raw file next to it; it fails softly (benchstat
// is fetched from the module proxy and may be out of reach).
func runBenchstat(ctx context.Context, o options, name string) (string, bool) {
	fields := strings.Fields(o.benchstat)
	if len(fields) == 0 {
		return "", false
	}
	summary := strings.TrimSuffix(name, ".txt") + ".benchstat.txt"
	_ = os.Remove(filepath.Join(o.raw, summary)) // never leave an old summary beside new numbers
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fields[0], append(fields[1:], filepath.Join(o.raw, name))...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		logf("benchstat on %s failed (%v), skipped: %s", name, err, strings.TrimSpace(errb.String()))
		return "", false
	}
	if err := os.WriteFile(filepath.Join(o.raw, summary), out.Bytes(), 0o644); err != nil {
		logf("%v", err)
		return "", false
	}
	return summary, true
}

// costTSV is every counted request of the cost model, one line each.
func costTSV(rows []bench.RouteCost, p bench.Prices, l bench.LatencyModel) string {
	var b strings.Builder
	b.WriteString("route\tvariant\tsample\tstatus\tcalls\tround_trips\ttransactions\trcu\twcu_model\twcu_local\tgsi1_wcu\titems\tlargest_bytes\tnew_item_bytes\tduration_ms\tdynamodb_ms\taws_model_ms\tlog_line_bytes\tconflict_retries\n")
	for _, r := range rows {
		for i, s := range r.Samples {
			fmt.Fprintf(&b, "%s\t%s\t%d\t%d\t%g\t%g\t%g\t%g\t%g\t%g\t%g\t%g\t%g\t%g\t%.3f\t%.3f\t%.1f\t%g\t%g\n",
				r.Case.Route, r.Case.Variant, i+1, s.Status, s.Calls, s.RoundTrips, s.Transactions, s.RCU, s.WCU, s.WCULocal,
				s.IndexWCU, s.Items, s.Largest, s.NewBytes, s.DurationMs, s.DynamoMs, s.AWSMs(l, p), s.LogBytes, s.Retries)
		}
	}
	return b.String()
}

// moduleRoot is the folder of the go.mod above the working directory (the
// working directory itself when there is none), where the benchmark
// packages' relative paths start.
func moduleRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return wd
		}
	}
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	for _, line := range strings.Split(readTrim("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memory() string {
	vals := map[string]float64{}
	for _, line := range strings.Split(readTrim("/proc/meminfo"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			vals[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	if vals["MemTotal"] == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f GiB total, %.0f GiB available", vals["MemTotal"]/(1<<20), vals["MemAvailable"]/(1<<20))
}

func loadAvg() string {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

func javaVersion() string {
	out, err := exec.Command("java", "-version").CombinedOutput()
	if err != nil {
		return "java unknown"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first
}
