package api

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// Route is one operation of the HTTP API, served by its own Lambda function.
type Route struct {
	// Name is the operation; the function is functions/<kebab-case name>
	// and its template resource <Name>Function.
	Name   string
	Method string
	// Path uses {param} segments, which both API Gateway and Go's ServeMux
	// understand, so one string routes in both.
	Path string
	// Scope is the permission checked before anything is read; empty when
	// the route needs only a verified caller and decides per object.
	Scope string
	// Public routes need no token.
	Public bool
	handle func(*Server, http.ResponseWriter, *http.Request, ledger.Caller)
}

// Pattern is the route as a Go 1.22 ServeMux pattern.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// FunctionDir is the folder of the route's Lambda function under functions/.
func (r Route) FunctionDir() string {
	var b strings.Builder
	for i, c := range r.Name {
		if unicode.IsUpper(c) && i > 0 {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// Routes is the single source of the API's routes: the functions, the local
// gateway, template.yaml and api/openapi.yaml are all checked against it.
var Routes = []Route{
	{Name: "Health", Method: "GET", Path: "/health", Public: true, handle: (*Server).health},

	{Name: "CreateAccount", Method: "POST", Path: "/accounts", Scope: ledger.ScopeAccountsManage, handle: (*Server).createAccount},
	{Name: "ListAccounts", Method: "GET", Path: "/accounts", Scope: ledger.ScopeAccountsView, handle: (*Server).listAccounts},
	{Name: "GetAccount", Method: "GET", Path: "/accounts/{id}", Scope: ledger.ScopeAccountsView, handle: (*Server).getAccount},
	{Name: "UpdateAccount", Method: "PATCH", Path: "/accounts/{id}", Scope: ledger.ScopeAccountsManage, handle: (*Server).updateAccount},
	{Name: "GetBalance", Method: "GET", Path: "/accounts/{id}/balance", Scope: ledger.ScopeAccountsView, handle: (*Server).getBalance},
	{Name: "GetHistory", Method: "GET", Path: "/accounts/{id}/history", Scope: ledger.ScopeAccountsView, handle: (*Server).getHistory},

	{Name: "CreateEntry", Method: "POST", Path: "/accounts/{id}/entries", Scope: ledger.ScopeEntriesCreate, handle: (*Server).createEntry},
	{Name: "CreateTransfer", Method: "POST", Path: "/transfers", Scope: ledger.ScopeTransfersCreate, handle: (*Server).createTransfer},
	{Name: "CreateWithdrawal", Method: "POST", Path: "/accounts/{id}/withdrawals", Scope: ledger.ScopeWithdrawalsCreate, handle: (*Server).createWithdrawal},
	{Name: "ApproveTransaction", Method: "POST", Path: "/transactions/{id}/approve", Scope: ledger.ScopeWithdrawalsApprove, handle: (*Server).approve},
	{Name: "RejectTransaction", Method: "POST", Path: "/transactions/{id}/reject", Scope: ledger.ScopeWithdrawalsDelete, handle: (*Server).reject},
	{Name: "CreateJournalEntry", Method: "POST", Path: "/journal-entries", Scope: ledger.ScopeJournalCreate, handle: (*Server).createJournal},
	// Reversal needs the delete right of the transaction's kind.
	{Name: "ReverseTransaction", Method: "POST", Path: "/transactions/{id}/reverse", handle: (*Server).reverse},
	// Reading transactions needs the view right of each one's kind.
	{Name: "GetTransaction", Method: "GET", Path: "/transactions/{id}", handle: (*Server).getTransaction},
	{Name: "ListTransactions", Method: "GET", Path: "/transactions", handle: (*Server).listTransactions},

	{Name: "ClosePeriod", Method: "POST", Path: "/periods/{period}/close", Scope: ledger.ScopePeriodsClose, handle: (*Server).closePeriod},
	// Which months are closed is no secret inside an organisation: any
	// verified caller of the tenant may list them.
	{Name: "ListPeriods", Method: "GET", Path: "/periods", handle: (*Server).listPeriods},

	{Name: "ListAudit", Method: "GET", Path: "/audit", Scope: ledger.ScopeAuditView, handle: (*Server).listAudit},
}

// RouteNamed finds a route by operation name.
func RouteNamed(name string) (Route, bool) {
	for _, r := range Routes {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}
