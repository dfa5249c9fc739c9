package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// details are the descriptive fields every posting body may carry.
type details struct {
	Memo      string          `json:"memo"`
	Reference string          `json:"reference"`
	ValueDate string          `json:"value_date"`
	Category  string          `json:"category"`
	Metadata  json.RawMessage `json:"metadata"`
}

func (d details) domain() ledger.Details {
	return ledger.Details{Memo: d.Memo, Reference: d.Reference, ValueDate: d.ValueDate, Category: d.Category, Metadata: d.Metadata}
}

// answerPosting writes a posting's transaction with the status the route
// gives on success, marking a replay.
func answerPosting(w http.ResponseWriter, r *http.Request, p *app.Posted, err error, status int) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	setOutcome(r, p.Transaction.Status)
	markReplay(w, p.Replayed)
	writeJSON(w, status, renderTxn(p.Transaction))
}

func (s *Server) createEntry(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req struct {
		Type   string `json:"type"`
		Amount string `json:"amount"`
		details
	}
	idem, err := readJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.svc.PostEntry(r.Context(), c, r.PathValue("id"), ledger.EntryInput{Type: req.Type, Amount: req.Amount, Details: req.domain()}, idem)
	answerPosting(w, r, p, err, http.StatusCreated)
}

func (s *Server) createTransfer(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req struct {
		FromAccountID string  `json:"from_account_id"`
		ToAccountID   string  `json:"to_account_id"`
		Amount        string  `json:"amount"`
		ToAmount      *string `json:"to_amount"`
		details
	}
	idem, err := readJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.svc.PostTransfer(r.Context(), c, ledger.TransferInput{
		FromAccountID: req.FromAccountID, ToAccountID: req.ToAccountID, Amount: req.Amount, ToAmount: req.ToAmount, Details: req.domain(),
	}, idem)
	answerPosting(w, r, p, err, http.StatusCreated)
}

func (s *Server) createWithdrawal(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req struct {
		Amount string `json:"amount"`
		Payee  string `json:"payee"`
		Method string `json:"method"`
		details
	}
	idem, err := readJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.svc.PostWithdrawal(r.Context(), c, r.PathValue("id"), ledger.WithdrawalInput{
		Amount: req.Amount, Payee: req.Payee, Method: req.Method, Details: req.domain(),
	}, idem)
	answerPosting(w, r, p, err, http.StatusCreated)
}

func (s *Server) createJournal(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req struct {
		Lines []struct {
			AccountID string `json:"account_id"`
			Type      string `json:"type"`
			Amount    string `json:"amount"`
		} `json:"lines"`
		details
	}
	idem, err := readJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	in := ledger.JournalInput{Details: req.domain()}
	for _, l := range req.Lines {
		in.Lines = append(in.Lines, ledger.JournalLineInput{AccountID: l.AccountID, Type: l.Type, Amount: l.Amount})
	}
	p, err := s.svc.PostJournal(r.Context(), c, in, idem)
	answerPosting(w, r, p, err, http.StatusCreated)
}

// readOptionalJSON reads a body that may be empty (approve takes none).
func readOptionalJSON(r *http.Request, v any) (*app.Idempotency, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		if err := decodeStrict(body, v); err != nil {
			return nil, err
		}
	}
	return idempotencyOf(r, body)
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req struct{}
	idem, err := readOptionalJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.svc.Approve(r.Context(), c, r.PathValue("id"), idem)
	answerPosting(w, r, p, err, http.StatusOK)
}

func (s *Server) reject(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req struct {
		Reason string `json:"reason"`
	}
	idem, err := readOptionalJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.svc.Reject(r.Context(), c, r.PathValue("id"), req.Reason, idem)
	answerPosting(w, r, p, err, http.StatusOK)
}

func (s *Server) reverse(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req struct {
		Reason    string `json:"reason"`
		ValueDate string `json:"value_date"`
	}
	idem, err := readOptionalJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := s.svc.Reverse(r.Context(), c, r.PathValue("id"), ledger.ReverseInput{Reason: req.Reason, ValueDate: req.ValueDate}, idem)
	answerPosting(w, r, p, err, http.StatusCreated)
}

func (s *Server) getTransaction(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	t, err := s.svc.GetTransaction(r.Context(), c, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderTxn(t))
}

func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	q := query{r: r}
	f := app.TransactionFilter{
		AccountID: q.str("account_id"), Kind: q.str("kind"), Status: q.str("status"),
		From: q.moment("from", false), To: q.moment("to", true), Limit: q.limit(), Cursor: q.str("cursor"),
	}
	if err := q.v.Err(); err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.svc.ListTransactions(r.Context(), c, f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderList(page.Items, page.NextCursor, renderTxn))
}

func (s *Server) closePeriod(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	var req struct{}
	idem, err := readOptionalJSON(r, &req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, replayed, err := s.svc.ClosePeriod(r.Context(), c, r.PathValue("period"), idem)
	if err != nil {
		writeError(w, r, err)
		return
	}
	markReplay(w, replayed)
	writeJSON(w, http.StatusOK, renderPeriod(*p, time.Now()))
}

func (s *Server) listPeriods(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	periods, err := s.svc.ListPeriods(r.Context(), c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	now := time.Now()
	writeJSON(w, http.StatusOK, renderList(periods, "", func(p ledger.Period) periodJSON { return renderPeriod(p, now) }))
}
