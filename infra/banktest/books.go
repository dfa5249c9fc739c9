package banktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Books is the ledger as read after the run: what the invariant checkers
// look at. Tests build one by hand to show that each checker fails.
type Books struct {
	Accounts []Account
	History  map[string][]HistoryLine // by account id, oldest first
	Txns     map[string]*Txn          // by id
	Audit    []AuditRecord
	// System holds the summed shards of every system account, by id
	// ("external:RON", "fx:EUR").
	System map[string]decimal.Decimal
	// Listed is how many transactions GET /transactions listed (the rest
	// were found through histories, answers and the audit trail).
	Listed int
}

// Account is an account as GET /accounts shows it.
type Account struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Currency  string          `json:"currency"`
	Status    string          `json:"status"`
	Balance   decimal.Decimal `json:"balance"`
	Pending   decimal.Decimal `json:"pending"`
	Available decimal.Decimal `json:"available"`
	Overdraft decimal.Decimal `json:"overdraft_limit"`
}

// HistoryLine is one line of an account's history.
type HistoryLine struct {
	Seq          int64           `json:"seq"`
	TxnID        string          `json:"transaction_id"`
	Kind         string          `json:"kind"`
	Type         string          `json:"type"`
	Amount       decimal.Decimal `json:"amount"`
	BalanceAfter decimal.Decimal `json:"balance_after"`
}

// Line is one line of a transaction.
type Line struct {
	Account  string          `json:"account_id"`
	Type     string          `json:"type"`
	Amount   decimal.Decimal `json:"amount"`
	Currency string          `json:"currency"`
}

func (l Line) String() string {
	return l.Account + " " + l.Type + " " + l.Amount.StringFixed(2) + " " + l.Currency
}

// Signed is the line's effect on its account's balance.
func (l Line) Signed() decimal.Decimal {
	if l.Type == "debit" {
		return l.Amount.Neg()
	}
	return l.Amount
}

// Txn is a transaction as GET /transactions shows it.
type Txn struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Lines      []Line `json:"lines"`
	Memo       string `json:"-"`
	Reference  string `json:"-"`
	Reason     string `json:"-"`
	Reverses   string `json:"-"`
	ReversedBy string `json:"-"`
	ApprovedBy string `json:"-"`
	RejectedBy string `json:"-"`
	CreatedBy  string `json:"created_by"`
}

// UnmarshalJSON reads the nullable fields as empty strings.
func (t *Txn) UnmarshalJSON(b []byte) error {
	type plain Txn
	var aux struct {
		plain
		Memo       *string `json:"memo"`
		Reference  *string `json:"reference"`
		Reason     *string `json:"reason"`
		Reverses   *string `json:"reverses"`
		ReversedBy *string `json:"reversed_by"`
		ApprovedBy *string `json:"approved_by"`
		RejectedBy *string `json:"rejected_by"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*t = Txn(aux.plain)
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	t.Memo, t.Reference, t.Reason = deref(aux.Memo), deref(aux.Reference), deref(aux.Reason)
	t.Reverses, t.ReversedBy = deref(aux.Reverses), deref(aux.ReversedBy)
	t.ApprovedBy, t.RejectedBy = deref(aux.ApprovedBy), deref(aux.RejectedBy)
	return nil
}

// Booked reports whether the transaction's lines are on its accounts'
// balances: posted, or posted and since reversed.
func (t *Txn) Booked() bool { return t.Status == "posted" || t.Status == "reversed" }

// AuditRecord is one record of GET /audit.
type AuditRecord struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Actor  string `json:"actor"`
	Target struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"target"`
	Changes []struct {
		Field string `json:"field"`
		New   any    `json:"new"`
	} `json:"changes"`
}

// reader reads the books through the gateway with an admin token, retrying
// while the service answers 503 (or any 5xx, or not at all).
type reader struct {
	base  string
	token string
	http  *http.Client
}

// get reads path into v.
func (r *reader) get(ctx context.Context, path string, v any) error {
	var last string
	for attempt := 0; attempt < 120; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(time.Duration(attempt)*50*time.Millisecond, time.Second)):
			}
		}
		req, err := http.NewRequestWithContext(ctx, "GET", r.base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+r.token)
		res, err := r.http.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			last = err.Error()
			continue
		}
		if res.StatusCode >= 500 {
			last = fmt.Sprintf("%d %s", res.StatusCode, raw)
			continue
		}
		if res.StatusCode != 200 {
			return fmt.Errorf("GET %s: %d %s", path, res.StatusCode, raw)
		}
		return json.Unmarshal(raw, v)
	}
	return fmt.Errorf("GET %s: no answer after retries, last: %s", path, last)
}

// list reads every page of a list.
func list[T any](ctx context.Context, r *reader, path string) ([]T, error) {
	var out []T
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	p := path + sep + "limit=200"
	for {
		var page struct {
			Items      []T     `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := r.get(ctx, p, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out, nil
		}
		p = path + sep + "limit=200&cursor=" + url.QueryEscape(*page.NextCursor)
	}
}

// read reads accounts, histories, transactions and the audit trail. extra
// are transaction ids named elsewhere (answers) to fetch if not listed.
func (r *reader) read(ctx context.Context, extra []string) (*Books, error) {
	b := &Books{History: map[string][]HistoryLine{}, Txns: map[string]*Txn{}}
	var err error
	if b.Accounts, err = list[Account](ctx, r, "/accounts"); err != nil {
		return nil, err
	}
	for _, a := range b.Accounts {
		if b.History[a.ID], err = list[HistoryLine](ctx, r, "/accounts/"+a.ID+"/history"); err != nil {
			return nil, err
		}
	}
	txns, err := list[*Txn](ctx, r, "/transactions")
	if err != nil {
		return nil, err
	}
	b.Listed = len(txns)
	for _, t := range txns {
		b.Txns[t.ID] = t
	}
	// The tenant-wide list comes from an index; each account's own list is
	// read consistently from its partition (holds of pending withdrawals
	// included). Take the union.
	for _, a := range b.Accounts {
		ts, err := list[*Txn](ctx, r, "/transactions?account_id="+a.ID)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if b.Txns[t.ID] == nil {
				b.Txns[t.ID] = t
			}
		}
	}
	if b.Audit, err = list[AuditRecord](ctx, r, "/audit"); err != nil {
		return nil, err
	}
	want := append([]string(nil), extra...)
	for _, lines := range b.History {
		for _, l := range lines {
			want = append(want, l.TxnID)
		}
	}
	for _, a := range b.Audit {
		if a.Target.Type == "transaction" {
			want = append(want, a.Target.ID)
		}
	}
	sort.Strings(want)
	for _, id := range want {
		if id == "" || b.Txns[id] != nil {
			continue
		}
		var t Txn
		err := r.get(ctx, "/transactions/"+id, &t)
		if err != nil {
			if strings.Contains(err.Error(), ": 404 ") {
				continue // named but not in the books: the checkers say so
			}
			return nil, err
		}
		b.Txns[t.ID] = &t
	}
	return b, nil
}
