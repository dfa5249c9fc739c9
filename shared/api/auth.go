package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// tenantPattern keeps a tenant id safe to put in a storage key.
var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// callerOf reads the verified JWT claims that API Gateway's JWT authorizer
// (or, locally, the local gateway) put in the request context. The function
// never sees an unverified token: without claims there is no caller.
func callerOf(r *http.Request) (ledger.Caller, error) {
	gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || gw.Authorizer == nil || gw.Authorizer.JWT == nil {
		return ledger.Caller{}, ledger.Errorf(ledger.EUnauthenticated, "A bearer token is required.")
	}
	claims := gw.Authorizer.JWT.Claims
	sub, tenant := claims["sub"], claims["tenant"]
	if !ledger.ValidUserID(sub) || !tenantPattern.MatchString(tenant) {
		return ledger.Caller{}, ledger.Errorf(ledger.EUnauthenticated, "The token must name a user (sub) and an organisation (tenant).")
	}
	c := ledger.NewCaller(sub, tenant, scopeClaim(claims["scope"]))
	c.Origin = ledger.Origin{RequestID: gw.RequestID, SourceIP: gw.HTTP.SourceIP, UserAgent: gw.HTTP.UserAgent}
	return c, nil
}

// scopeClaim reads the scope claim as API Gateway hands it over: a string
// of space-separated scopes, or a JSON array of strings, which API Gateway
// flattens to "[a b c]". Scopes are separated by spaces only (RFC 8693):
// "a\tb" is one scope, which names no permission.
func scopeClaim(v string) string {
	if inner, ok := strings.CutPrefix(v, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			return inner
		}
	}
	return v
}
