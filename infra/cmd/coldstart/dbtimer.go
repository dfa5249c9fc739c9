package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// dbTimer is a reverse proxy in front of DynamoDB that adds up the wall
// time during which at least one request is in flight, so that a run's
// first response splits into the function's own time and DynamoDB's.
type dbTimer struct {
	proxy *httputil.ReverseProxy
	srv   *http.Server
	url   string

	mu       sync.Mutex
	inFlight int
	since    time.Time
	busy     time.Duration
}

func newDBTimer(endpoint string) (*dbTimer, error) {
	target, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &dbTimer{proxy: httputil.NewSingleHostReverseProxy(target), url: "http://" + ln.Addr().String()}
	d.srv = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = d.srv.Serve(ln) }()
	return d, nil
}

func (d *dbTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	if d.inFlight == 0 {
		d.since = time.Now()
	}
	d.inFlight++
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inFlight--
		if d.inFlight == 0 {
			d.busy += time.Since(d.since)
		}
		d.mu.Unlock()
	}()
	d.proxy.ServeHTTP(w, r)
}

// take returns the busy time since the last take and starts anew.
func (d *dbTimer) take() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.busy
	if d.inFlight > 0 {
		b += time.Since(d.since)
		d.since = time.Now()
	}
	d.busy = 0
	return b
}

func (d *dbTimer) close() { _ = d.srv.Close() }
