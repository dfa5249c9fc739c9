package ledger

import "time"

// AuditPrefix starts the id of an audit record.
const AuditPrefix = "aud_"

// Audit actions of the contract.
const (
	ActionAccountCreated      = "account.created"
	ActionAccountUpdated      = "account.updated"
	ActionTransactionPosted   = "transaction.posted"
	ActionTransactionPending  = "transaction.pending"
	ActionTransactionApproved = "transaction.approved"
	ActionTransactionRejected = "transaction.rejected"
	ActionTransactionReversed = "transaction.reversed"
	ActionPeriodClosed        = "period.closed"
)

// AuditActions lists the actions GET /audit can filter on.
var AuditActions = []string{
	ActionAccountCreated, ActionAccountUpdated, ActionTransactionPosted, ActionTransactionPending,
	ActionTransactionApproved, ActionTransactionRejected, ActionTransactionReversed, ActionPeriodClosed,
	"statement.imported", "statement.completed", "export.created", "fx-rate.set", "recurring.changed",
}

// Origin is where a request came from: what the audit trail keeps besides
// who and when.
type Origin struct {
	RequestID string
	SourceIP  string
	UserAgent string
}

// MaxUserAgentLen bounds what the audit trail keeps of a user agent.
const MaxUserAgentLen = 256

// AuditRecord is one entry of the audit trail: written in the same
// transaction as the change it describes, never changed afterwards.
type AuditRecord struct {
	ID         string
	At         time.Time
	Actor      string
	Action     string
	TargetType string // account, transaction, period
	TargetID   string
	AccountIDs []string
	Origin     Origin
	Changes    []Change
}

// NewAuditRecord stamps a record for the caller's change.
func NewAuditRecord(c Caller, now time.Time, action, targetType, targetID string, accounts []string, changes []Change) *AuditRecord {
	o := c.Origin
	if len(o.UserAgent) > MaxUserAgentLen {
		o.UserAgent = o.UserAgent[:MaxUserAgentLen]
	}
	return &AuditRecord{
		ID: NewID(AuditPrefix, now), At: now.UTC().Truncate(time.Millisecond), Actor: c.Sub, Action: action,
		TargetType: targetType, TargetID: targetID, AccountIDs: accounts, Origin: o, Changes: changes,
	}
}

// TransactionAudit is the record of a posting step of t.
func TransactionAudit(c Caller, now time.Time, action string, t *Transaction, changes []Change) *AuditRecord {
	return NewAuditRecord(c, now, action, "transaction", t.ID, t.AccountIDs(), changes)
}
