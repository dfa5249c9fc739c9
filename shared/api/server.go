// Package api is the HTTP face of the ledger: one net/http handler per
// route, problem+json errors, and the caller from the verified JWT claims.
// The same handlers serve in Lambda (through the api-proxy adapter) and
// under the local gateway.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/metrics"
)

// Server holds what the handlers need; built once per process.
type Server struct {
	svc *app.Service
	log *slog.Logger
}

// NewServer returns a server for the service, logging to log.
func NewServer(svc *app.Service, log *slog.Logger) *Server {
	return &Server{svc: svc, log: log}
}

// Handler serves the named routes (all of them when none is named) through
// the request middleware. A Lambda function serves exactly one.
func (s *Server) Handler(names ...string) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range Routes {
		if len(names) > 0 && !contains(names, rt.Name) {
			continue
		}
		mux.Handle(rt.Pattern(), s.wrap(rt))
	}
	mux.Handle("/", s.wrap(Route{Name: "NotFound", Public: true, handle: func(_ *Server, w http.ResponseWriter, r *http.Request, _ ledger.Caller) {
		writeError(w, r, ledger.Errorf(ledger.ENotFound, "No route %s %s.", r.Method, r.URL.Path))
	}}))
	return mux
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// requestInfo travels in the request context, so that errors written deep
// in a handler still reach the one log line of the request.
type requestInfo struct {
	log     *slog.Logger
	outcome string
}

func logger(r *http.Request) *slog.Logger {
	if ri, ok := r.Context().Value(ctxKey{}).(*requestInfo); ok {
		return ri.log
	}
	return slog.Default()
}

func setOutcome(r *http.Request, outcome string) {
	if ri, ok := r.Context().Value(ctxKey{}).(*requestInfo); ok {
		ri.outcome = outcome
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// wrap is the middleware of every route: request id, caller and scope
// check, a recovered panic as a bare 500, and one JSON log line.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		reqID := requestID(r)
		w.Header().Set("X-Request-Id", reqID)
		ri := &requestInfo{log: s.log.With(slog.String("request_id", reqID), slog.String("operation", rt.Name)), outcome: "ok"}
		ctx, counters := metrics.With(context.WithValue(r.Context(), ctxKey{}, ri))
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		var caller ledger.Caller
		defer func() {
			if p := recover(); p != nil {
				ri.log.Error("panic", slog.String("panic", fmt.Sprint(p)))
				writeError(rec, r, fmt.Errorf("panic: %v", p))
			}
			attrs := []any{
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.status), slog.String("outcome", ri.outcome),
				slog.String("tenant", caller.Tenant), slog.String("actor", caller.Sub),
				slog.Float64("duration_ms", float64(time.Since(started).Microseconds())/1000),
				// What it did to DynamoDB, as IAM names it: an AccessDenied
				// on AWS reads against this.
				slog.Any("dynamodb_actions", counters.Actions()),
			}
			ri.log.Info("request", append(attrs, emf(rt.Name, rec.status, ri.outcome, counters, started)...)...)
		}()
		if !rt.Public {
			var err error
			if caller, err = callerOf(r); err != nil {
				writeError(rec, r, err)
				return
			}
			if rt.Scope != "" {
				if err := caller.Require(rt.Scope); err != nil {
					writeError(rec, r, err)
					return
				}
			}
		}
		rt.handle(s, rec, r, caller)
	})
}

// requestID is API Gateway's id for the request, so that our logs and the
// gateway's access logs name it alike; a fresh one if there is none.
func requestID(r *http.Request) string {
	if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && gw.RequestID != "" {
		return gw.RequestID
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ ledger.Caller) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.svc.Store.Ping(ctx); err != nil {
		logger(r).Error("health check failed", slog.String("error", err.Error()))
		writeError(w, r, ledger.Errorf(ledger.EUnavailable, "The ledger cannot reach its table."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
