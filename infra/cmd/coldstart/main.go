// Command coldstart measures every function's cold start and size:
//
//	go run ./infra/cmd/withdynamodb -- go run ./infra/cmd/coldstart [-runs 5] [-out docs/BENCHMARKS.md]
//
// It builds each function of api.Routes with the Makefile's flags twice: for
// linux/arm64, as deployed, to report its size, and for linux/amd64, this
// machine, to run it. Each amd64 bootstrap is started -runs times against a
// stand-in of the Lambda Runtime API with its sample event
// events/<function dir>.json, with DYNAMODB_ENDPOINT and a table (TABLE_NAME,
// or a fresh one the tool creates and deletes), and timed from exec to its
// first call for work (init) and to its first response, after -warmup
// uncounted rounds (DynamoDB Local's JVM is slow on its first requests).
// DynamoDB is reached through a timing proxy, so the table also shows how
// much of the first response was DynamoDB's. A last row measures a
// hello-world function (infra/coldstart/testdata/echo) the same way
// (-baseline=false leaves it out); -fn picks functions, -v prints each run.
// It prints a Markdown table and, with -out, puts it between the markers
// <!-- coldstart:begin --> and <!-- coldstart:end --> of that file.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/treasuryledger/treasury/infra/coldstart"
	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/dynamo"
)

// baselineName names the hello-world row in the table.
const baselineName = "*hello world (aws-lambda-go only)*"

// budget is the size budget of one bootstrap (infra/templatecheck).
const budget = 15 << 20

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

func run() error {
	runs := flag.Int("runs", 5, "cold starts per function")
	out := flag.String("out", "", "write the table between the coldstart markers of `FILE` (e.g. docs/BENCHMARKS.md)")
	only := flag.String("fn", "", "measure only these functions (comma-separated route names)")
	warmup := flag.Int("warmup", 1, "uncounted rounds first, to warm DynamoDB Local's JVM and the page cache")
	verbose := flag.Bool("v", false, "print every run's timings, Runtime API calls and the function's output")
	baseline := flag.Bool("baseline", true, "add a hello-world row: the aws-lambda-go echo function of infra/coldstart/testdata")
	timeout := flag.Duration("timeout", 30*time.Second, "limit for one cold start")
	flag.Parse()
	if *runs < 1 || *warmup < 0 {
		return errors.New("-runs must be at least 1, -warmup at least 0")
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("runs linux builds and reads /proc: linux only, not %s", runtime.GOOS)
	}
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		return errors.New("DYNAMODB_ENDPOINT is not set: run the tool under `go run ./infra/cmd/withdynamodb --`")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	routes, err := selectRoutes(*only)
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	// One target per function, and the hello-world baseline: the echo
	// function of the package's tests, aws-lambda-go alone.
	type target struct {
		name, pkg string
		event     []byte
	}
	var targets []target
	for _, r := range routes {
		b, err := os.ReadFile(filepath.Join(root, "events", r.FunctionDir()+".json"))
		if err != nil {
			return err
		}
		targets = append(targets, target{r.Name, "./functions/" + r.FunctionDir(), b})
	}
	if *baseline {
		targets = append(targets, target{baselineName, "./infra/coldstart/testdata/echo", []byte(`{"hello":"world"}`)})
	}

	table, dropTable, err := prepareTable(ctx, endpoint)
	if err != nil {
		return err
	}
	defer dropTable()

	tmp, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var pkgs []string
	for _, t := range targets {
		pkgs = append(pkgs, t.pkg)
	}
	bins := map[string]map[string]string{}
	for _, arch := range []string{"arm64", "amd64"} {
		t0 := time.Now()
		dir := filepath.Join(tmp, arch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if bins[arch], err = coldstart.Build(ctx, root, "linux", arch, dir, pkgs...); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "coldstart: built %d functions for linux/%s in %.0fs\n", len(pkgs), arch, time.Since(t0).Seconds())
	}

	rows := make([]coldstart.Row, len(targets))
	for i, t := range targets {
		st, err := os.Stat(bins["arm64"][t.pkg])
		if err != nil {
			return err
		}
		rows[i] = coldstart.Row{Function: t.name, Arm64Size: st.Size()}
	}
	// The functions reach DynamoDB through a timing proxy, so that the
	// table shows how much of the first response was DynamoDB Local's.
	timer, err := newDBTimer(endpoint)
	if err != nil {
		return err
	}
	defer timer.close()
	env := []string{"DYNAMODB_ENDPOINT=" + timer.url, "TABLE_NAME=" + table}
	// Round robin, so that a slow spell of the machine spreads over all
	// functions rather than falling on one.
	for run := 1 - *warmup; run <= *runs; run++ {
		if run < 1 {
			fmt.Fprintf(os.Stderr, "coldstart: warm-up round %d of %d\n", run+*warmup, *warmup)
		} else {
			fmt.Fprintf(os.Stderr, "coldstart: run %d of %d\n", run, *runs)
		}
		for i, t := range targets {
			if err := ctx.Err(); err != nil {
				return err
			}
			timer.take()
			rctx, cancel := context.WithTimeout(ctx, *timeout)
			res, err := coldstart.Measure(rctx, bins["amd64"][t.pkg], t.event,
				append(env, "AWS_LAMBDA_FUNCTION_NAME="+path.Base(t.pkg)))
			cancel()
			// Measure returns after the invocation ended (the runtime
			// called next again): DynamoDB calls since belong to this run.
			dbTime := timer.take()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if run < 1 {
					// A warm-up that fails is reported; it does not count.
					fmt.Fprintf(os.Stderr, "coldstart: %s warm-up: %v\n", t.name, err)
					continue
				}
				rows[i].Failures++
				fmt.Fprintf(os.Stderr, "coldstart: %s run %d: %v\n", t.name, run, err)
				continue
			}
			if *verbose {
				printRun(t.name, run, res, dbTime)
			}
			if run < 1 {
				continue
			}
			rows[i].Runs = append(rows[i].Runs, res)
			rows[i].DB = append(rows[i].DB, dbTime)
			if code := statusCode(res.Body); code != 0 {
				rows[i].Statuses = append(rows[i].Statuses, code)
			}
		}
	}

	section := header(*runs, *warmup) + "\n" + coldstart.Table(rows) + "\n" + footer(rows)
	fmt.Print(section)
	if *out != "" {
		doc, err := os.ReadFile(*out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		updated, err := coldstart.ReplaceSection(string(doc), section)
		if err != nil {
			return fmt.Errorf("%s: %w", *out, err)
		}
		if err := os.WriteFile(*out, []byte(updated), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "coldstart: wrote the table into %s\n", *out)
	}
	for _, r := range rows {
		if r.Failures > 0 {
			return fmt.Errorf("%s: %d of %d runs failed", r.Function, r.Failures, *runs)
		}
	}
	return nil
}

func selectRoutes(only string) ([]api.Route, error) {
	if only == "" {
		return api.Routes, nil
	}
	var rs []api.Route
	for _, n := range strings.Split(only, ",") {
		r, ok := api.RouteNamed(strings.TrimSuffix(strings.TrimSpace(n), "Function"))
		if !ok {
			return nil, fmt.Errorf("unknown function %q", n)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run inside the module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}

// prepareTable returns TABLE_NAME, created if missing, or else a fresh table
// that the returned func deletes again.
func prepareTable(ctx context.Context, endpoint string) (string, func(), error) {
	db, err := dynamo.NewClient(ctx, dynamo.ClientConfig{Endpoint: endpoint})
	if err != nil {
		return "", nil, err
	}
	name, own := os.Getenv("TABLE_NAME"), false
	if name == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		name, own = "coldstart-"+hex.EncodeToString(b[:]), true
	}
	if err := dynamo.CreateTable(ctx, db, name); err != nil {
		return "", nil, err
	}
	drop := func() {
		if !own {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			fmt.Fprintf(os.Stderr, "coldstart: delete table %s: %v\n", name, err)
		}
	}
	return name, drop, nil
}

// statusCode reads the API Gateway response's statusCode (0 if none).
func statusCode(body []byte) int {
	var r struct {
		StatusCode int `json:"statusCode"`
	}
	_ = json.Unmarshal(body, &r)
	return r.StatusCode
}

func header(runs, warmup int) string {
	return fmt.Sprintf("Measured %s on %s (%d cores), %s, with `-runs %d -warmup %d`: median (min–max) of %d cold starts\n"+
		"of each function's **linux/amd64** build (same flags as the Makefile's arm64 build) against the Runtime API\n"+
		"stand-in and DynamoDB Local on 127.0.0.1, after %d uncounted round(s). The size is that of the stripped\n"+
		"**linux/arm64** `bootstrap` as deployed. HTTP status: what the sample event got, per run.\n",
		time.Now().UTC().Format("2006-01-02"), cpuModel(), runtime.NumCPU(), goVersion(), runs, warmup, runs, warmup)
}

func footer(rows []coldstart.Row) string {
	var largest coldstart.Row
	var total int64
	n, ties := 0, 0
	for _, r := range rows {
		if r.Function == baselineName {
			continue
		}
		n++
		total += r.Arm64Size
		switch {
		case r.Arm64Size > largest.Arm64Size:
			largest, ties = r, 1
		case r.Arm64Size == largest.Arm64Size:
			ties++
		}
	}
	tie := ""
	if ties > 1 {
		tie = fmt.Sprintf(" (%d of the %d functions have that very size)", ties, n)
	}
	return fmt.Sprintf("Largest arm64 bootstrap: %s, %d bytes = %.2f MiB of the %d MiB budget%s; all %d together %.1f MiB.\n",
		largest.Function, largest.Arm64Size, float64(largest.Arm64Size)/coldstart.MiB, budget>>20, tie, n, float64(total)/coldstart.MiB)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "an unknown CPU"
	}
	for _, l := range bytes.Split(b, []byte("\n")) {
		if k, v, ok := bytes.Cut(l, []byte(":")); ok && string(bytes.TrimSpace(k)) == "model name" {
			return string(bytes.TrimSpace(v))
		}
	}
	return "an unknown CPU"
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

func printRun(name string, run int, res coldstart.Result, db time.Duration) {
	fmt.Fprintf(os.Stderr, "%s run %d: init %.1f ms, first response %.1f ms (DynamoDB %.1f ms), peak RSS %.1f MiB\n",
		name, run, float64(res.Init)/1e6, float64(res.FirstResponse)/1e6, float64(db)/1e6, float64(res.PeakRSS)/coldstart.MiB)
	if len(res.Calls) > 0 {
		t0 := res.Calls[0].At.Add(-res.Init)
		for _, c := range res.Calls {
			fmt.Fprintf(os.Stderr, "  %8.1f ms  %s %s\n", float64(c.At.Sub(t0))/1e6, c.Kind, c.RequestID)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(string(res.Output)), "\n") {
		if l != "" {
			fmt.Fprintf(os.Stderr, "  | %s\n", l)
		}
	}
}
