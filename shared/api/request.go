package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// ReservedKeyPrefix marks keys the recurring runner uses for itself.
const ReservedKeyPrefix = "recurring:"

// idempotencyOf reads the Idempotency-Key header; nil when absent. The hash
// covers method, path and body, so a key reused on another route or with
// another body is told apart.
func idempotencyOf(r *http.Request, body []byte) (*app.Idempotency, error) {
	// The api-proxy splits header values at commas; a key may hold commas,
	// so join the pieces back (the same way every time).
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) == 0 {
		return nil, nil
	}
	k := strings.Join(vals, ",")
	bad := func(msg string) error {
		return &ledger.Error{Code: ledger.EValidation, Message: "The Idempotency-Key header is not usable.",
			Fields: []ledger.FieldError{{Field: "Idempotency-Key", Message: msg}}}
	}
	if len(k) < 1 || len(k) > 255 {
		return nil, bad("must be 1 to 255 characters")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return nil, bad("must be printable ASCII")
		}
	}
	if strings.HasPrefix(k, ReservedKeyPrefix) {
		return nil, bad("must not start with " + ReservedKeyPrefix + ", which is reserved")
	}
	var compact bytes.Buffer
	if json.Compact(&compact, body) != nil {
		compact.Write(body)
	}
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(compact.Bytes())
	return &app.Idempotency{Key: k, RequestHash: hex.EncodeToString(h.Sum(nil))}, nil
}

// readJSON reads and strictly decodes the body, and the idempotency key.
func readJSON(r *http.Request, v any) (*app.Idempotency, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := decodeStrict(body, v); err != nil {
		return nil, err
	}
	return idempotencyOf(r, body)
}

// query reads list parameters, collecting every bad one.
type query struct {
	r *http.Request
	v ledger.Invalid
}

func (q *query) str(name string) string { return q.r.URL.Query().Get(name) }

func (q *query) limit() int {
	s := q.str("limit")
	if s == "" {
		return 50
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 200 {
		q.v.Add("limit", "must be a whole number from 1 to 200")
		return 50
	}
	return n
}

// moment reads a time filter: an RFC 3339 time, or a date meaning the whole
// UTC day (its start for "from", its last millisecond otherwise).
func (q *query) moment(name string, endOfDay bool) time.Time {
	s := q.str(name)
	if s == "" {
		return time.Time{}
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			return d.Add(24*time.Hour - time.Millisecond)
		}
		return d
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.v.Add(name, "must be a date YYYY-MM-DD or an RFC 3339 time")
		return time.Time{}
	}
	return t.UTC()
}

func (q *query) oneOf(name string, allowed ...string) string {
	s := q.str(name)
	if s == "" {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	q.v.Add(name, "must be one of %s", strings.Join(allowed, ", "))
	return ""
}
