package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/money"
)

type createAccountRequest struct {
	Name              string          `json:"name"`
	Currency          string          `json:"currency"`
	Kind              string          `json:"kind"`
	Code              string          `json:"code"`
	OpeningBalance    *string         `json:"opening_balance"`
	OverdraftLimit    *string         `json:"overdraft_limit"`
	ApprovalThreshold *string         `json:"approval_threshold"`
	IBAN              string          `json:"iban"`
	Members           []string        `json:"members"`
	Metadata          json.RawMessage `json:"metadata"`
	Hot               bool            `json:"hot"`
}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req createAccountRequest
	idem, err := readJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	acc, replayed, err := s.svc.CreateAccount(r.Context(), c, ledger.NewAccountInput{
		Name: req.Name, Code: req.Code, Kind: req.Kind, Currency: req.Currency,
		OpeningBalance: req.OpeningBalance, OverdraftLimit: req.OverdraftLimit,
		ApprovalThreshold: req.ApprovalThreshold, IBAN: req.IBAN, Members: req.Members, Metadata: req.Metadata,
		Hot: req.Hot,
	}, idem)
	if err != nil {
		writeError(w, r, err)
		return
	}
	markReplay(w, replayed)
	w.Header().Set("ETag", etag(acc))
	writeJSON(w, http.StatusCreated, renderAccount(acc))
}

func markReplay(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	q := query{r: r}
	f := app.AccountFilter{
		Status: q.oneOf("status", ledger.StatusActive, ledger.StatusFrozen, ledger.StatusClosed),
		Kind:   q.oneOf("kind", ledger.KindCash, ledger.KindBank, ledger.KindBudget, ledger.KindWallet),
		Limit:  q.limit(), Cursor: q.str("cursor"),
	}
	if cur := q.str("currency"); cur != "" {
		if _, ok := money.LookupCurrency(cur); !ok {
			q.v.Add("currency", "is not an ISO 4217 currency code")
		}
		f.Currency = cur
	}
	if err := q.v.Err(); err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.svc.ListAccounts(r.Context(), c, f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderList(page.Items, page.NextCursor, renderAccount))
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	a, err := s.svc.GetAccount(r.Context(), c, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(a))
	writeJSON(w, http.StatusOK, renderAccount(a))
}

// updateAccount applies a JSON Merge Patch (RFC 7396): absent fields stay,
// null clears a nullable field, members is replaced whole.
func (s *Server) updateAccount(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var fields map[string]json.RawMessage
	if _, err := readJSON(r, &fields); err != nil {
		writeError(w, r, err)
		return
	}
	var p ledger.AccountPatch
	var v ledger.Invalid
	str := func(name string, raw json.RawMessage, nullable bool) *string {
		if string(raw) == "null" {
			if !nullable {
				v.Add(name, "cannot be null")
				return nil
			}
			empty := ""
			return &empty
		}
		var out string
		if err := json.Unmarshal(raw, &out); err != nil {
			v.Add(name, "must be a string")
			return nil
		}
		return &out
	}
	for name, raw := range fields {
		switch name {
		case "name":
			p.Name = str(name, raw, false)
		case "code":
			p.Code = str(name, raw, true)
		case "overdraft_limit":
			p.OverdraftLimit = str(name, raw, false)
		case "approval_threshold":
			if string(raw) == "null" {
				p.ClearApprovalThresh = true
			} else {
				p.ApprovalThreshold = str(name, raw, false)
			}
		case "iban":
			p.IBAN = str(name, raw, true)
		case "status":
			p.Status = str(name, raw, false)
		case "members":
			p.MembersSet = true
			if err := json.Unmarshal(raw, &p.Members); err != nil || p.Members == nil {
				v.Add(name, "must be an array of user ids")
			}
		case "metadata":
			p.MetadataSet, p.Metadata = true, raw
		case "hot":
			var hot bool
			if err := json.Unmarshal(raw, &hot); err != nil {
				v.Add(name, "must be true or false")
			} else {
				p.Hot = &hot
			}
		default:
			writeError(w, r, &ledger.Error{Code: ledger.EMalformed, Message: "The body has a field this route does not take.",
				Fields: []ledger.FieldError{{Field: name, Message: "is not a field that can be changed"}}})
			return
		}
	}
	if m := r.Header.Get("If-Match"); m != "" {
		ver, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(m, "W/"), `"`), 10, 64)
		if err != nil {
			writeError(w, r, ledger.Errorf(ledger.EPrecondition, "If-Match must be the account's ETag, such as \"3\"."))
			return
		}
		p.ExpectedVersion = &ver
	}
	if err := v.Err(); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.svc.UpdateAccount(r.Context(), c, r.PathValue("id"), p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(a))
	writeJSON(w, http.StatusOK, renderAccount(a))
}

type balanceJSON struct {
	AccountID string  `json:"account_id"`
	Currency  string  `json:"currency"`
	Balance   string  `json:"balance"`
	Pending   *string `json:"pending"`
	Available *string `json:"available"`
	AsOf      string  `json:"as_of"`
}

func (s *Server) getBalance(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	q := query{r: r}
	asOf := q.moment("as_of", true)
	if err := q.v.Err(); err != nil {
		writeError(w, r, err)
		return
	}
	b, err := s.svc.GetBalance(r.Context(), c, r.PathValue("id"), asOf)
	if err != nil {
		writeError(w, r, err)
		return
	}
	a := b.Account
	out := balanceJSON{AccountID: a.ID, Currency: a.Currency.Code, Balance: money.Format(b.Balance, a.Currency)}
	if b.AsOf.IsZero() {
		pending, available := money.Format(a.Pending, a.Currency), money.Format(a.Available(), a.Currency)
		out.Pending, out.Available, out.AsOf = &pending, &available, ts(time.Now())
	} else {
		out.AsOf = ts(b.AsOf)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	q := query{r: r}
	f := app.HistoryFilter{
		From: q.moment("from", false), To: q.moment("to", true),
		Descending: q.oneOf("order", "asc", "desc") == "desc",
		Limit:      q.limit(), Cursor: q.str("cursor"),
	}
	if err := q.v.Err(); err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.svc.History(r.Context(), c, r.PathValue("id"), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderList(page.Items, page.NextCursor, renderHistory))
}
