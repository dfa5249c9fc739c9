package ledger

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// Error codes. Each is also the problem+json `type` slug the API answers with;
// the API layer owns the one table from code to HTTP status.
const (
	EMalformed           = "malformed"             // the request cannot be read at all
	EValidation          = "validation"            // a field breaks a rule
	EUnauthenticated     = "unauthenticated"       // no caller, or not one we trust
	EForbidden           = "forbidden"             // the caller lacks a permission
	ENotFound            = "not-found"             // unknown, or not visible to the caller
	EConflict            = "conflict"              // the object's state forbids it
	EPrecondition        = "precondition-failed"   // If-Match did not match
	EInsufficientFunds   = "insufficient-funds"    // available would fall below zero
	EAccountClosed       = "account-closed"        // frozen or closed account
	EAlreadyReversed     = "already-reversed"      // second reversal of one transaction
	EPeriodClosed        = "period-closed"         // value date in a closing or closed period
	EIdempotencyKeyReuse = "idempotency-key-reuse" // same key, another body
	ETooLarge            = "payload-too-large"     // body over the limit
	EUnsupportedMedia    = "unsupported-media-type"
	EUnavailable         = "unavailable" // the store stayed busy past the retry budget
	EInternal            = "internal"
)

// FieldError names one field that broke a rule.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Shortfall is what a client needs to act on an insufficient-funds refusal.
type Shortfall struct {
	AccountID string
	Available decimal.Decimal
	Requested decimal.Decimal
	Currency  string
}

// Error is an error a user may see: its Message is safe to show, unlike the
// text of any other error, which is logged and answered as a bare 500.
type Error struct {
	Code      string
	Message   string
	Fields    []FieldError
	Shortfall *Shortfall
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Message)
	}
	return e.Code + ": " + e.Message
}

// Errorf builds an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else EInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// Invalid collects field errors so that one answer lists every broken rule,
// not only the first.
type Invalid struct{ Fields []FieldError }

// Add records that field broke a rule.
func (v *Invalid) Add(field, format string, args ...any) {
	v.Fields = append(v.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was added, else a validation *Error.
func (v *Invalid) Err() error {
	if len(v.Fields) == 0 {
		return nil
	}
	return &Error{Code: EValidation, Message: "The request has invalid fields.", Fields: v.Fields}
}

// NotFound is the one answer for "unknown" and "not yours to see", so that
// the two cannot be told apart.
func NotFound(what string) *Error {
	return Errorf(ENotFound, "%s not found.", what)
}
