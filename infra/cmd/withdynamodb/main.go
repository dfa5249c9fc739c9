// Command withdynamodb runs a command with one DynamoDB Local server around it:
//
//	go run ./infra/cmd/withdynamodb [-data DIR] [-port N] -- CMD ARGS...
//
// It starts DynamoDB Local (in-memory unless -data), runs CMD with
// DYNAMODB_ENDPOINT set, stops the server when CMD exits and exits with CMD's
// exit code. `make test` wraps `go test ./...` in it so that all test packages
// share one server (dynamodblocal.ForTests picks up DYNAMODB_ENDPOINT) instead
// of each starting its own JVM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/treasuryledger/treasury/infra/dynamodblocal"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("withdynamodb", flag.ExitOnError)
	dataDir := fs.String("data", "", "keep tables in `DIR` across runs (default: in-memory, gone on exit)")
	port := fs.Int("port", 0, "listen on port `N` (default: a free port)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: withdynamodb [-data DIR] [-port N] -- CMD [ARGS...]\n\n"+
			"Starts DynamoDB Local, runs CMD with DYNAMODB_ENDPOINT set, stops the server\n"+
			"when CMD exits and exits with CMD's exit code.\n\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:]) // ExitOnError: exits 2 on bad flags
	args := fs.Args()         // flag stops at "--" and drops it
	if len(args) == 0 {
		fs.Usage()
		return 2
	}

	// Catch signals from the start: a Ctrl-C during the few seconds java
	// takes to boot must still stop it rather than leave it running.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)

	srv, sig, err := startServer(sigs, dynamodblocal.Options{DataDir: *dataDir, Port: *port})
	if err != nil {
		fmt.Fprintf(os.Stderr, "withdynamodb: cannot start DynamoDB Local: %v\n", err)
		if sig != nil {
			return 128 + int(sig.(syscall.Signal))
		}
		return 1
	}
	storage := "in-memory"
	if *dataDir != "" {
		storage = "data in " + *dataDir
	}
	fmt.Fprintf(os.Stderr, "withdynamodb: DynamoDB Local (%s) at %s\n", storage, srv.Endpoint())

	code := runCommand(args, srv.Endpoint(), sigs)
	if err := srv.Stop(); err != nil {
		// CMD's exit code still wins: it is what the caller asked about,
		// and a server that died mid-run has most likely failed CMD anyway.
		fmt.Fprintf(os.Stderr, "withdynamodb: %v\n", err)
	}
	return code
}

// startServer starts DynamoDB Local, aborting if a signal arrives meanwhile;
// it then returns that signal.
func startServer(sigs <-chan os.Signal, opts dynamodblocal.Options) (*dynamodblocal.Server, os.Signal, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan os.Signal, 1)
	done, watcherGone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watcherGone)
		select {
		case s := <-sigs:
			got <- s
			cancel()
		case <-done:
		}
	}()
	srv, err := dynamodblocal.Start(ctx, opts)
	// Retire the watcher before looking at got, so a signal it took is
	// never lost; later signals stay in sigs for runCommand.
	close(done)
	<-watcherGone
	select {
	case s := <-got:
		// Interrupted, even if Start made it just before noticing: the user
		// asked us to stop, so do not go on to run CMD.
		if err == nil {
			_ = srv.Stop()
			err = fmt.Errorf("interrupted by %v", s)
		}
		return nil, s, err
	default:
		return srv, nil, err
	}
}

// runCommand runs CMD with DYNAMODB_ENDPOINT set and returns its exit code.
// SIGINT/SIGTERM received meanwhile are forwarded to CMD, and we keep waiting
// for it to exit, so it can shut down cleanly while the server is still up.
// (On a terminal Ctrl-C, CMD shares our process group and gets SIGINT from the
// terminal as well; forwarding matters when only we are signalled, e.g. by a
// CI runner or `kill`.)
func runCommand(args []string, endpoint string, sigs <-chan os.Signal) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// A later duplicate key wins in exec, so this overrides any inherited value.
	cmd.Env = append(os.Environ(), "DYNAMODB_ENDPOINT="+endpoint)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "withdynamodb: %v\n", err)
		return 127 // the shell's "command not found"
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			return exitCode(err)
		}
	}
}

// exitCode maps CMD's result to our exit code, using the shell's 128+N for a
// command killed by signal N.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exitErr.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "withdynamodb: %v\n", err)
	return 1
}
