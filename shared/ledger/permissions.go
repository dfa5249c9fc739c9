package ledger

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scopes of the contract.
const (
	ScopeAccountsView       = "accounts:view"
	ScopeAccountsManage     = "accounts:manage"
	ScopeAccountsAll        = "accounts:all"
	ScopeEntriesView        = "entries:view"
	ScopeEntriesCreate      = "entries:create"
	ScopeEntriesDelete      = "entries:delete"
	ScopeTransfersView      = "transfers:view"
	ScopeTransfersCreate    = "transfers:create"
	ScopeTransfersDelete    = "transfers:delete"
	ScopeWithdrawalsView    = "withdrawals:view"
	ScopeWithdrawalsCreate  = "withdrawals:create"
	ScopeWithdrawalsApprove = "withdrawals:approve"
	ScopeWithdrawalsDelete  = "withdrawals:delete"
	ScopeJournalCreate      = "journal:create"
	ScopePeriodsClose       = "periods:close"
	ScopeAuditView          = "audit:view"
	ScopeAdmin              = "admin"
)

// Caller is the authenticated user a request acts for, and where the
// request came from (for the audit trail).
type Caller struct {
	Sub    string
	Tenant string
	Scopes map[string]bool
	Origin Origin
}

// ValidUserID reports whether a user id (a token's sub, an account's
// member) is 1-128 characters of valid UTF-8, without control characters,
// and not only spaces.
func ValidUserID(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > 128 || strings.TrimSpace(s) == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// NewCaller parses the scope claim: scopes separated by single spaces.
func NewCaller(sub, tenant, scope string) Caller {
	c := Caller{Sub: sub, Tenant: tenant, Scopes: map[string]bool{}}
	for _, s := range strings.Split(scope, " ") {
		if s != "" {
			c.Scopes[s] = true
		}
	}
	return c
}

// Has reports whether the caller holds scope; admin holds them all.
func (c Caller) Has(scope string) bool { return c.Scopes[ScopeAdmin] || c.Scopes[scope] }

// Require refuses a caller without scope.
func (c Caller) Require(scope string) error {
	if !c.Has(scope) {
		return Errorf(EForbidden, "This needs the %s permission.", scope)
	}
	return nil
}

// SeesAllAccounts: admin and accounts:all are the only ways around membership.
func (c Caller) SeesAllAccounts() bool { return c.Has(ScopeAccountsAll) }

// MayActOn reports whether the caller may act on the account at all.
func (c Caller) MayActOn(a *Account) bool { return c.SeesAllAccounts() || a.HasMember(c.Sub) }

// rights per transaction kind: view, create, reverse-or-reject.
type kindRights struct{ view, create, remove string }

var rightsByKind = map[string]kindRights{
	TxnEntry:      {ScopeEntriesView, ScopeEntriesCreate, ScopeEntriesDelete},
	TxnOpening:    {ScopeEntriesView, ScopeEntriesCreate, ScopeEntriesDelete},
	TxnAdjustment: {ScopeEntriesView, ScopeEntriesCreate, ScopeEntriesDelete},
	TxnTransfer:   {ScopeTransfersView, ScopeTransfersCreate, ScopeTransfersDelete},
	TxnExchange:   {ScopeTransfersView, ScopeTransfersCreate, ScopeTransfersDelete},
	TxnWithdrawal: {ScopeWithdrawalsView, ScopeWithdrawalsCreate, ScopeWithdrawalsDelete},
	TxnJournal:    {ScopeEntriesView, ScopeJournalCreate, ScopeEntriesDelete},
}

// KnownKind reports whether kind is a transaction kind.
func KnownKind(kind string) bool { return kind == TxnReversal || rightsByKind[kind] != (kindRights{}) }

// ViewScope is the scope needed to see transactions of a kind; a reversal is
// seen with the rights of what it reverses (reversedKind).
func ViewScope(kind, reversedKind string) string {
	if kind == TxnReversal {
		kind = reversedKind
	}
	return rightsByKind[kind].view
}

// MayView reports whether the caller may see a transaction of the kind.
func (c Caller) MayView(kind, reversedKind string) bool {
	s := ViewScope(kind, reversedKind)
	return s != "" && c.Has(s)
}

// RemoveScope is the scope that reverses (posted) or rejects (pending) a kind.
func RemoveScope(kind string) string { return rightsByKind[kind].remove }
