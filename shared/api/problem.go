package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/money"
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[string]int{
	ledger.EMalformed:           http.StatusBadRequest,
	ledger.EValidation:          http.StatusUnprocessableEntity,
	ledger.EUnauthenticated:     http.StatusUnauthorized,
	ledger.EForbidden:           http.StatusForbidden,
	ledger.ENotFound:            http.StatusNotFound,
	ledger.EConflict:            http.StatusConflict,
	ledger.EPrecondition:        http.StatusPreconditionFailed,
	ledger.EInsufficientFunds:   http.StatusUnprocessableEntity,
	ledger.EAccountClosed:       http.StatusConflict,
	ledger.EAlreadyReversed:     http.StatusConflict,
	ledger.EPeriodClosed:        http.StatusConflict,
	ledger.EIdempotencyKeyReuse: http.StatusUnprocessableEntity,
	ledger.ETooLarge:            http.StatusRequestEntityTooLarge,
	ledger.EUnsupportedMedia:    http.StatusUnsupportedMediaType,
	ledger.EUnavailable:         http.StatusServiceUnavailable,
	ledger.EInternal:            http.StatusInternalServerError,
}

var titleOf = map[string]string{
	ledger.EMalformed:           "Malformed request",
	ledger.EValidation:          "Validation failed",
	ledger.EUnauthenticated:     "Unauthenticated",
	ledger.EForbidden:           "Forbidden",
	ledger.ENotFound:            "Not found",
	ledger.EConflict:            "Conflict",
	ledger.EPrecondition:        "Precondition failed",
	ledger.EInsufficientFunds:   "Insufficient funds",
	ledger.EAccountClosed:       "Account closed",
	ledger.EAlreadyReversed:     "Already reversed",
	ledger.EPeriodClosed:        "Period closed",
	ledger.EIdempotencyKeyReuse: "Idempotency key reused",
	ledger.ETooLarge:            "Payload too large",
	ledger.EUnsupportedMedia:    "Unsupported media type",
	ledger.EUnavailable:         "Service busy",
	ledger.EInternal:            "Internal error",
}

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Errors    []ledger.FieldError `json:"errors"`
	AccountID string              `json:"account_id,omitempty"`
	Available string              `json:"available,omitempty"`
	Requested string              `json:"requested,omitempty"`
}

// writeError answers err as problem+json. Errors that are not *ledger.Error
// are logged and answered as a bare 500 that shows no internals.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *ledger.Error
	if !errors.As(err, &e) {
		logger(r).Error("request failed", slog.String("error", err.Error()))
		e = ledger.Errorf(ledger.EInternal, "Something went wrong on our side; the request id identifies it in our logs.")
	}
	status := statusOf[e.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	p := problem{Type: e.Code, Title: titleOf[e.Code], Status: status, Detail: e.Message, Errors: e.Fields}
	if p.Errors == nil {
		p.Errors = []ledger.FieldError{}
	}
	if sf := e.Shortfall; sf != nil {
		c, _ := money.LookupCurrency(sf.Currency)
		p.AccountID, p.Available, p.Requested = sf.AccountID, money.Format(sf.Available, c), money.Format(sf.Requested, c)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	setOutcome(r, e.Code)
	writeJSONType(w, status, "application/problem+json", p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here; they always marshal.
		status, body = http.StatusInternalServerError, []byte(`{"type":"internal","title":"Internal error","status":500,"detail":"","errors":[]}`)
		contentType = "application/problem+json"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
