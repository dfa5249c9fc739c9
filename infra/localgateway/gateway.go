// Package localgateway stands in for API Gateway's HTTP API on one machine:
// it verifies the bearer token as the JWT authorizer would, turns each HTTP
// request into the payload-2.0 event Lambda would get, and invokes that
// route's Lambda handler (the api-proxy adapter included), so the local
// stack and the tests run exactly the code Lambda runs.
package localgateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/treasuryledger/treasury/infra/localauth"
	"github.com/treasuryledger/treasury/shared/api"
	"github.com/treasuryledger/treasury/shared/lambdaapi"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// Gateway serves every route of api.Routes.
type Gateway struct {
	mux      *http.ServeMux
	verifier localauth.Verifier
	log      *slog.Logger
}

// New builds a gateway over the server's routes, one adapter per route as
// one Lambda function per route would have.
func New(srv *api.Server, verifier localauth.Verifier, log *slog.Logger) *Gateway {
	g := &Gateway{mux: http.NewServeMux(), verifier: verifier, log: log}
	for _, rt := range api.Routes {
		g.mux.Handle(rt.Pattern(), g.route(rt, lambdaapi.Adapt(srv, rt.Name)))
	}
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", newRequestID())
		gatewayAnswer(w, http.StatusNotFound, "Not Found")
	})
	return g
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// gatewayAnswer is API Gateway's own body for errors it answers itself.
func gatewayAnswer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"message":"`+msg+`"}`)
}

func (g *Gateway) route(rt api.Route, invoke lambdaapi.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := newRequestID()
		// API Gateway names every request, its own refusals included.
		w.Header().Set("X-Request-Id", reqID)
		var claims map[string]string
		if !rt.Public {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			var err error
			if ok {
				claims, err = g.verifier.Verify(strings.TrimSpace(tok))
			}
			if !ok || err != nil {
				g.log.Info("gateway refused", slog.String("request_id", reqID), slog.String("route", rt.Name), slog.Int("status", 401))
				gatewayAnswer(w, http.StatusUnauthorized, "Unauthorized")
				return
			}
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20)) // API Gateway's payload limit
		if err != nil {
			gatewayAnswer(w, http.StatusBadRequest, "Bad Request")
			return
		}
		ev := Event(r, rt, body, reqID, claims)
		// The function's own deadline, as Lambda gives it in the context.
		ctx, cancel := context.WithTimeout(r.Context(), ledger.FunctionTimeout)
		defer cancel()
		resp, err := invoke(ctx, ev)
		if err != nil {
			g.log.Error("function failed", slog.String("request_id", reqID), slog.String("error", err.Error()))
			gatewayAnswer(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		writeResponse(w, resp)
	})
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Event builds the payload-2.0 event API Gateway would send for r.
func Event(r *http.Request, rt api.Route, body []byte, reqID string, claims map[string]string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	params := map[string]string{}
	for _, seg := range strings.Split(rt.Path, "/") {
		if strings.HasPrefix(seg, "{") {
			name := strings.Trim(seg, "{}")
			params[name] = r.PathValue(name)
		}
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: rt.Pattern(), RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Headers: headers, PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rt.Pattern(), AccountID: "000000000000", Stage: "$default", RequestID: reqID,
			APIID: "local", DomainName: r.Host, DomainPrefix: "local", Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent(),
			},
		},
	}
	if claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: nil},
		}
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}
