// Package coldstart measures a Lambda function's cold start on this machine:
// a stand-in for the Lambda Runtime API serves one invocation to the built
// bootstrap, and Measure times the process from exec to its first call for
// work (init) and to its first answer (first invoke), and reads its peak RSS.
//
// The stand-in speaks the Runtime API as github.com/aws/aws-lambda-go
// (v1.55.1) uses it: the runtime reads AWS_LAMBDA_RUNTIME_API (host:port),
// polls GET /2018-06-01/runtime/invocation/next and expects 200 with the
// event as body and the request id, deadline (epoch ms), function ARN and
// trace id in Lambda-Runtime-* headers; it answers with POST
// /2018-06-01/runtime/invocation/{id}/response or .../{id}/error (body
// possibly chunked, with Lambda-Runtime-Function-Error-Type/-Body trailers
// when reading the response fails) and expects 202. A runtime that fails
// before its first next reports to POST /2018-06-01/runtime/init/error
// (aws-lambda-go itself exits instead).
package coldstart

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Runtime API paths and headers (API version 2018-06-01).
const (
	APIVersion = "2018-06-01"

	HeaderRequestID          = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs         = "Lambda-Runtime-Deadline-Ms"
	HeaderInvokedFunctionArn = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID            = "Lambda-Runtime-Trace-Id"
	HeaderErrorType          = "Lambda-Runtime-Function-Error-Type"
	TrailerErrorBody         = "Lambda-Runtime-Function-Error-Body"
)

// CallKind names a Runtime API call.
type CallKind string

// The calls the stand-in serves.
const (
	CallNext      CallKind = "next"
	CallResponse  CallKind = "response"
	CallError     CallKind = "error"
	CallInitError CallKind = "init/error"
)

// Call is one request the runtime made, with the time it arrived.
type Call struct {
	Kind      CallKind
	RequestID string // of the invocation; empty for next and init/error
	At        time.Time
	Body      []byte
	// ErrorType is the Lambda-Runtime-Function-Error-Type header or
	// trailer of an error call.
	ErrorType string
}

// RuntimeAPI is a stand-in for the Lambda Runtime API on 127.0.0.1 serving
// queued events, one per next call. With no event left, next blocks, as it
// does on Lambda between invocations, until the runtime gives up or the
// stand-in closes.
type RuntimeAPI struct {
	// FunctionArn is sent as Lambda-Runtime-Invoked-Function-Arn.
	FunctionArn string
	// Timeout sets Lambda-Runtime-Deadline-Ms: the time next answers plus
	// Timeout (25 s, the template's function timeout, by default).
	Timeout time.Duration

	ln     net.Listener
	srv    *http.Server
	closed chan struct{}

	mu       sync.Mutex
	queue    [][]byte
	pending  map[string]bool // invocations handed out and not yet answered
	calls    []Call
	changed  chan struct{} // closed and replaced on every new call
	serveErr error
}

// NewRuntimeAPI starts a stand-in on a free port of 127.0.0.1 with the given
// events queued.
func NewRuntimeAPI(events ...[]byte) (*RuntimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &RuntimeAPI{
		FunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:coldstart",
		Timeout:     25 * time.Second,
		ln:          ln,
		closed:      make(chan struct{}),
		queue:       append([][]byte(nil), events...),
		pending:     map[string]bool{},
		changed:     make(chan struct{}),
	}
	mux := http.NewServeMux()
	base := "/" + APIVersion + "/runtime"
	mux.HandleFunc("GET "+base+"/invocation/next", r.next)
	mux.HandleFunc("POST "+base+"/invocation/{id}/response", r.answer(CallResponse))
	mux.HandleFunc("POST "+base+"/invocation/{id}/error", r.answer(CallError))
	mux.HandleFunc("POST "+base+"/init/error", r.initError)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.mu.Lock()
			r.serveErr = err
			r.mu.Unlock()
		}
	}()
	return r, nil
}

// Addr is the value for AWS_LAMBDA_RUNTIME_API: host:port, no scheme.
func (r *RuntimeAPI) Addr() string { return r.ln.Addr().String() }

// Enqueue adds an event for a later next call.
func (r *RuntimeAPI) Enqueue(event []byte) {
	r.mu.Lock()
	r.queue = append(r.queue, event)
	r.mu.Unlock()
}

// Calls returns the calls so far, in order of arrival.
func (r *RuntimeAPI) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Changed returns a channel closed at the next call to arrive; take it
// before looking at Calls so that no call is missed in between.
func (r *RuntimeAPI) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Close stops the server; a next call still waiting is dropped.
func (r *RuntimeAPI) Close() error {
	select {
	case <-r.closed:
		return nil
	default:
	}
	close(r.closed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = r.srv.Close()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.serveErr != nil {
		return r.serveErr
	}
	return err
}

func (r *RuntimeAPI) record(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *RuntimeAPI) next(w http.ResponseWriter, req *http.Request) {
	r.record(Call{Kind: CallNext, At: time.Now()})
	r.mu.Lock()
	var event []byte
	have := len(r.queue) > 0
	if have {
		event, r.queue = r.queue[0], r.queue[1:]
	}
	r.mu.Unlock()
	if !have {
		// Lambda freezes the runtime here until the next invoke; the
		// stand-in waits until the caller or the server goes away.
		select {
		case <-req.Context().Done():
		case <-r.closed:
		}
		return
	}
	id := newRequestID()
	r.mu.Lock()
	r.pending[id] = true
	r.mu.Unlock()
	now := time.Now()
	h := w.Header()
	h.Set(HeaderRequestID, id)
	h.Set(HeaderDeadlineMs, strconv.FormatInt(now.Add(r.Timeout).UnixMilli(), 10))
	h.Set(HeaderInvokedFunctionArn, r.FunctionArn)
	h.Set(HeaderTraceID, newTraceID(now))
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(event)
}

func (r *RuntimeAPI) answer(kind CallKind) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		id := req.PathValue("id")
		body, err := io.ReadAll(req.Body)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, "InvalidRequest", err.Error())
			return
		}
		r.mu.Lock()
		known := r.pending[id]
		delete(r.pending, id)
		r.mu.Unlock()
		if !known {
			writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "unknown or already answered request id "+id)
			return
		}
		c := Call{Kind: kind, RequestID: id, At: at, Body: body}
		// The error type comes as a header on /error (aws-lambda-go sends
		// none, only the body's errorType), or as a trailer when
		// aws-lambda-go failed while streaming the response body.
		c.ErrorType = req.Header.Get(HeaderErrorType)
		if t := req.Trailer.Get(HeaderErrorType); t != "" {
			c.ErrorType = t
		}
		if c.ErrorType == "" && kind == CallError {
			var e struct {
				ErrorType string `json:"errorType"`
			}
			if json.Unmarshal(body, &e) == nil {
				c.ErrorType = e.ErrorType
			}
		}
		r.record(c)
		writeStatus(w, http.StatusAccepted, "", "")
	}
}

func (r *RuntimeAPI) initError(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(req.Body)
	r.record(Call{Kind: CallInitError, At: at, Body: body, ErrorType: req.Header.Get(HeaderErrorType)})
	writeStatus(w, http.StatusAccepted, "", "")
}

// writeStatus answers as the Runtime API does: {"status":"OK"} on 202, an
// errorMessage/errorType object otherwise.
func writeStatus(w http.ResponseWriter, code int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code == http.StatusAccepted {
		_, _ = io.WriteString(w, `{"status":"OK"}`)
		return
	}
	_, _ = fmt.Fprintf(w, `{"errorMessage":%q,"errorType":%q}`, msg, errType)
}

// newRequestID returns a random version-4 UUID, the form of Lambda's ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTraceID returns an X-Ray trace header as Lambda sends it (not sampled).
func newTraceID(now time.Time) string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}
