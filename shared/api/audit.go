package api

import (
	"net/http"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

type auditJSON struct {
	ID         string       `json:"id"`
	At         string       `json:"at"`
	Actor      string       `json:"actor"`
	Action     string       `json:"action"`
	Target     targetJSON   `json:"target"`
	AccountIDs []string     `json:"account_ids"`
	RequestID  *string      `json:"request_id"`
	SourceIP   *string      `json:"source_ip"`
	UserAgent  *string      `json:"user_agent"`
	Changes    []changeJSON `json:"changes"`
}

type targetJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type changeJSON struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

func renderAudit(a *ledger.AuditRecord) auditJSON {
	out := auditJSON{
		ID: a.ID, At: ts(a.At), Actor: a.Actor, Action: a.Action, Target: targetJSON{Type: a.TargetType, ID: a.TargetID},
		AccountIDs: a.AccountIDs, RequestID: null(a.Origin.RequestID), SourceIP: null(a.Origin.SourceIP),
		UserAgent: null(a.Origin.UserAgent), Changes: make([]changeJSON, len(a.Changes)),
	}
	if out.AccountIDs == nil {
		out.AccountIDs = []string{}
	}
	for i, c := range a.Changes {
		out.Changes[i] = changeJSON{Field: c.Field, Old: c.Old, New: c.New}
	}
	return out
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, c ledger.Caller) {
	q := query{r: r}
	f := app.AuditFilter{
		AccountID: q.str("account_id"), Actor: q.str("actor"), Action: q.oneOf("action", ledger.AuditActions...),
		From: q.moment("from", false), To: q.moment("to", true), Limit: q.limit(), Cursor: q.str("cursor"),
	}
	if err := q.v.Err(); err != nil {
		writeError(w, r, err)
		return
	}
	page, err := s.svc.ListAudit(r.Context(), c, f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, renderList(page.Items, page.NextCursor, renderAudit))
}
