// Command soak runs the bank test at full size (make soak): seeded
// concurrent clients against the local stack with the DynamoDB model's
// conflicts, latency and faults, client timeouts, retries and duplicate
// deliveries, and one DynamoDB Local restart under load; then it checks the
// ledger's invariants. It prints the summary line and exits 1 if an
// invariant is broken, 2 if the run could not be made.
//
//	go run ./infra/cmd/soak -ops 10000 -seed 7 -clients 16
//
// The seed defaults to BANK_SEED, else banktest.DefaultSeed; the same seed
// replays the same operations per client.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/treasuryledger/treasury/infra/banktest"
)

func main() { os.Exit(run()) }

func run() int {
	seed, err := banktest.SeedFromEnv(banktest.DefaultSeed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	flag.Int64Var(&seed, "seed", seed, "seed of the run (default: BANK_SEED, else a fixed seed)")
	ops := flag.Int("ops", 10000, "operations in the whole run")
	clients := flag.Int("clients", 16, "concurrent HTTP clients")
	model := flag.String("model", "", "DynamoDB model, ddbmodel.Parse form (default: "+banktest.DefaultModel+")")
	serverLog := flag.String("server-log", "", "write the service's warnings and errors to this file")
	record := flag.String("record", "", "write every operation and every answer it saw to this file (JSON lines)")
	details := flag.Int("details", 50, "findings shown per broken invariant")
	quiet := flag.Bool("q", false, "no progress lines on stderr")
	flag.Parse()

	cfg := banktest.Config{Seed: seed, Ops: *ops, Clients: *clients, Model: *model, Progress: os.Stderr}
	if *quiet {
		cfg.Progress = io.Discard
	}
	if *serverLog != "" {
		f, err := os.Create(*serverLog)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 2
		}
		defer f.Close()
		cfg.ServerLog = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := banktest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	fmt.Println(res.Summary())
	fmt.Println(res.Details(*details))
	if *record != "" {
		f, err := os.Create(*record)
		if err == nil {
			err = res.WriteRecord(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak: writing the record:", err)
		}
	}
	if len(res.Failed()) > 0 {
		return 1
	}
	return 0
}
