package ledger

import "time"

// The time limits of one request, from the inside out. They are one set:
// each must end before the next, and a test (infra/templatecheck) holds
// them in this order against template.yaml's function timeout.
const (
	// PostingDeadline bounds how long a posting may take from reading its
	// accounts (and the period of its value date) to committing. Closing a
	// period turns it "closing" at once, so that later postings see it and
	// are refused; it is "closed" once every posting that read it open has
	// had this long to finish. The store enforces it on every commit.
	PostingDeadline = 15 * time.Second
	// RetryBudget is how long the store keeps retrying one request that
	// meets contention before it answers 503 with Retry-After.
	RetryBudget = 20 * time.Second
	// AnswerReserve is kept back from the request's own deadline (the
	// Lambda context's): time to find out whether an attempt whose answer
	// was lost committed, and to write the answer. The store's loop ends
	// this long before the deadline, whatever is left of RetryBudget.
	AnswerReserve = 2 * time.Second
	// LandingGrace is how long after a write's call returned without an
	// answer the write may still be applied by DynamoDB (a request already
	// on its way). Before the store answers a refusal while such a write is
	// unresolved, it waits this long and looks for it once more.
	LandingGrace = 1 * time.Second
	// FunctionTimeout is the Lambda timeout of every HTTP function
	// (template.yaml Globals.Function.Timeout); the local gateway gives each
	// request this deadline too.
	FunctionTimeout = 25 * time.Second
	// GatewayTimeout is API Gateway HTTP API's integration timeout (its
	// maximum, 30 s): a function must answer before it.
	GatewayTimeout = 30 * time.Second
	// HistoryQuiet is how long a hot account's line may wait for its number
	// before the backstop sweep (every minute) numbers it, whatever became of
	// the stream record that should have.
	HistoryQuiet = time.Minute
)
