// Package app holds the use cases: it checks who may do what, asks the
// domain (package ledger) for the rule, and hands the result to a Store to
// commit atomically. It knows nothing of HTTP or DynamoDB.
package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// Service runs the use cases.
type Service struct {
	Store Store
	Now   func() time.Time
}

// New returns a Service on the store with the wall clock.
func New(store Store) *Service { return &Service{Store: store, Now: time.Now} }

// Idempotency identifies a request that may be retried: the caller's key and
// a hash of what it asked (method, path, body).
type Idempotency struct {
	Key         string
	RequestHash string
}

// State is what a posting is decided on: the accounts it touches, the
// transaction it acts on (approve, reject, reverse) and the period of its
// value date, all read in one consistent round trip.
type State struct {
	Accounts    map[string]*ledger.Account
	Transaction *ledger.Transaction
	Period      *ledger.Period
	Now         time.Time
}

// Commit is what one posting writes.
type Commit struct {
	Booking *ledger.Booking
	// Replaces is empty when Booking.Txn is new; otherwise the status the
	// stored transaction must still have when Booking.Txn overwrites it.
	Replaces string
	// Reversed is an existing posted transaction this commit marks reversed.
	Reversed *ledger.Transaction
	// Step is the step of Booking.Txn that the response shows.
	Step string
	// Audit is the audit trail's record of this change, written with it.
	Audit *ledger.AuditRecord
}

// PostRequest asks the store to load state, let Build decide, and commit.
type PostRequest struct {
	Tenant string
	Idem   *Idempotency
	Caller string // sub, for idempotency keys
	// AccountIDs to load; when TransactionID is set, the accounts of its
	// lines are loaded as well.
	AccountIDs    []string
	TransactionID string
	// Month of the value date whose period is read; MonthOfTransaction
	// takes it from the loaded transaction instead.
	Month              string
	MonthOfTransaction bool
	Build              func(*State) (*Commit, error)
}

// Replay says that an idempotent request ran before: the transaction it made
// or changed, and the step its answer showed.
type Replay struct {
	ResourceID string
	Step       string
}

// Page is one page of a list.
type Page[T any] struct {
	Items      []T
	NextCursor string // empty: the list ends here
}

// AccountFilter narrows GET /accounts.
type AccountFilter struct {
	Status, Kind, Currency string
	Member                 string // "" = every account of the tenant
	Limit                  int
	Cursor                 string
}

// HistoryFilter narrows an account's history.
type HistoryFilter struct {
	From, To   time.Time // zero: unbounded
	Descending bool
	Limit      int
	Cursor     string
}

// TransactionFilter narrows GET /transactions.
type TransactionFilter struct {
	AccountID    string // "" = the whole tenant
	Kind, Status string
	From, To     time.Time
	Limit        int
	Cursor       string
}

// AuditFilter narrows GET /audit.
type AuditFilter struct {
	AccountID, Actor, Action string
	From, To                 time.Time
	Limit                    int
	Cursor                   string
}

// Store is the persistence the use cases need. The adapter owns the
// transaction (and its retries); the domain owns the rules.
type Store interface {
	// CreateAccount writes a new account, its name and code guards, its
	// member index and, when opening is not nil, its opening booking.
	CreateAccount(ctx context.Context, tenant string, acc *ledger.Account, opening *ledger.Booking, idem *Idempotency, caller string, audit *ledger.AuditRecord) (*Replay, error)
	// AccountCreation returns, for a replayed creation, the settings the
	// account was created with (its account.created audit record's new
	// values, as JSON), to rebuild the first answer from.
	AccountCreation(ctx context.Context, tenant, caller string, idem *Idempotency) (map[string]json.RawMessage, error)
	GetAccount(ctx context.Context, tenant, id string) (*ledger.Account, error)
	GetAccounts(ctx context.Context, tenant string, ids []string) (map[string]*ledger.Account, error)
	// UpdateAccount reads the account, lets fn change it, and writes it back
	// with fn's audit record (nil: nothing changed, nothing is written)
	// unless something changed it meanwhile (then it tries again).
	UpdateAccount(ctx context.Context, tenant, id string, fn func(*ledger.Account) (*ledger.AuditRecord, error)) (*ledger.Account, error)
	ListAccounts(ctx context.Context, tenant string, f AccountFilter) (Page[*ledger.Account], error)
	History(ctx context.Context, tenant, accountID string, f HistoryFilter) (Page[ledger.HistoryLine], error)
	// BalanceAt is balance_after of the last line posted at or before t.
	BalanceAt(ctx context.Context, tenant, accountID string, t time.Time) (decimal.Decimal, error)
	Post(ctx context.Context, req PostRequest) (*ledger.Transaction, *Replay, error)
	GetTransaction(ctx context.Context, tenant, id string) (*ledger.Transaction, error)
	ListTransactions(ctx context.Context, tenant string, f TransactionFilter) (Page[*ledger.Transaction], error)
	// ClosePeriod records a closing month with its audit record; a replayed
	// request answers the stored period.
	ClosePeriod(ctx context.Context, tenant string, p ledger.Period, idem *Idempotency, caller string, audit *ledger.AuditRecord) (*ledger.Period, *Replay, error)
	ListPeriods(ctx context.Context, tenant string) ([]ledger.Period, error)
	ListAudit(ctx context.Context, tenant string, f AuditFilter) (Page[*ledger.AuditRecord], error)
	Ping(ctx context.Context) error
}
