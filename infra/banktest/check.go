package banktest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Record is what the clients did: the accounts they set up and every
// operation with every answer it got.
type Record struct {
	Accounts []*AccountSpec
	Ops      []*Op
}

// Invariant names, numbered as in DESIGN.md.
var invariantNames = map[int]string{
	// 0 is the contract's "never a 500" (503 with Retry-After when busy),
	// checked on the answers rather than the books.
	0: "never a 500",
	1: "zero-sum",
	2: "history chain",
	3: "funds",
	4: "exactly once",
	5: "one key, one transaction",
}

// Check runs every checker; the result maps an invariant's number to what
// broke it (empty when it holds).
func Check(b *Books, rec *Record) map[int][]string {
	return map[int][]string{
		1: CheckZeroSum(b),
		2: CheckChains(b),
		3: CheckFunds(b),
		4: CheckExactlyOnce(b, rec),
		5: CheckIdempotency(b, rec),
	}
}

func isSystem(id string) bool { return strings.Contains(id, ":") }

// systemCurrency is the currency of "external:RON".
func systemCurrency(id string) string { return id[strings.LastIndex(id, ":")+1:] }

// CheckZeroSum checks invariant 1: per currency, the balances of every
// account, system accounts included, sum to zero. It also holds each
// system account's balance (its shards summed) to the lines the books'
// transactions put on it.
func CheckZeroSum(b *Books) []string {
	var out []string
	sums := map[string]decimal.Decimal{}
	for _, a := range b.Accounts {
		sums[a.Currency] = sums[a.Currency].Add(a.Balance)
	}
	implied := map[string]decimal.Decimal{}
	for _, t := range b.Txns {
		if !t.Booked() {
			continue
		}
		for _, l := range t.Lines {
			if isSystem(l.Account) {
				implied[l.Account] = implied[l.Account].Add(l.Signed())
			}
		}
	}
	for _, id := range sortedKeys(b.System) {
		bal := b.System[id]
		ccy := systemCurrency(id)
		sums[ccy] = sums[ccy].Add(bal)
		if !bal.Equal(implied[id]) {
			out = append(out, fmt.Sprintf("system account %s holds %s, its transactions' lines sum to %s", id, m(bal), m(implied[id])))
		}
	}
	for _, id := range sortedKeys(implied) {
		if _, ok := b.System[id]; !ok && !implied[id].IsZero() {
			out = append(out, fmt.Sprintf("system account %s was not read, its transactions' lines sum to %s", id, m(implied[id])))
		}
	}
	for _, ccy := range sortedKeys(sums) {
		if !sums[ccy].IsZero() {
			out = append(out, fmt.Sprintf("balances in %s sum to %s, not zero (accounts and system accounts)", ccy, m(sums[ccy])))
		}
	}
	return out
}

// CheckChains checks invariant 2: each account's history runs seq 1..n
// without gaps, every balance_after is the previous plus or minus the line,
// and the last one is the balance.
func CheckChains(b *Books) []string {
	var out []string
	for _, a := range b.Accounts {
		bal := decimal.Zero
		lines := b.History[a.ID]
		for i, l := range lines {
			if l.Seq != int64(i+1) {
				out = append(out, fmt.Sprintf("account %s (%s): line %d has seq %d (txn %s)", a.ID, a.Name, i+1, l.Seq, l.TxnID))
				break
			}
			if l.Type == "debit" {
				bal = bal.Sub(l.Amount)
			} else {
				bal = bal.Add(l.Amount)
			}
			if !l.BalanceAfter.Equal(bal) {
				out = append(out, fmt.Sprintf("account %s (%s): seq %d (txn %s) balance_after %s, want %s", a.ID, a.Name, l.Seq, l.TxnID, m(l.BalanceAfter), m(bal)))
				break
			}
		}
		if !bal.Equal(a.Balance) {
			out = append(out, fmt.Sprintf("account %s (%s): balance %s, history (%d lines) ends at %s", a.ID, a.Name, m(a.Balance), len(lines), m(bal)))
		}
	}
	return out
}

// CheckFunds checks invariant 3: no balance_after ever went below the
// overdraft limit, available is balance - pending + overdraft_limit and not
// negative, and pending is the sum of the account's pending withdrawals.
func CheckFunds(b *Books) []string {
	var out []string
	held := map[string]decimal.Decimal{}
	for _, t := range b.Txns {
		if t.Status != "pending" {
			continue
		}
		for _, l := range t.Lines {
			if !isSystem(l.Account) && l.Type == "debit" {
				held[l.Account] = held[l.Account].Add(l.Amount)
			}
		}
	}
	for _, a := range b.Accounts {
		floor := a.Overdraft.Neg()
		for _, l := range b.History[a.ID] {
			if l.BalanceAfter.LessThan(floor) {
				out = append(out, fmt.Sprintf("account %s (%s): seq %d (txn %s) left balance %s, below -overdraft_limit %s", a.ID, a.Name, l.Seq, l.TxnID, m(l.BalanceAfter), m(floor)))
			}
		}
		if a.Available.IsNegative() {
			out = append(out, fmt.Sprintf("account %s (%s): available %s is below zero", a.ID, a.Name, m(a.Available)))
		}
		if want := a.Balance.Sub(a.Pending).Add(a.Overdraft); !a.Available.Equal(want) {
			out = append(out, fmt.Sprintf("account %s (%s): available %s, but balance %s - pending %s + overdraft %s = %s", a.ID, a.Name, m(a.Available), m(a.Balance), m(a.Pending), m(a.Overdraft), m(want)))
		}
		if !a.Pending.Equal(held[a.ID]) {
			out = append(out, fmt.Sprintf("account %s (%s): pending %s, but its pending withdrawals hold %s", a.ID, a.Name, m(a.Pending), m(held[a.ID])))
		}
	}
	return out
}

// index of the books by what the clients set uniquely per operation.
type bookIndex struct {
	byRef       map[string][]*Txn // postings (not reversals, not openings) by reference
	reversals   map[string][]*Txn // reversals by reason
	rejected    map[string][]*Txn // rejected withdrawals by reason
	openings    map[string][]*Txn // by account id
	auditByTxn  map[string]map[string]int
	auditOrphan []string
}

func indexBooks(b *Books) *bookIndex {
	ix := &bookIndex{byRef: map[string][]*Txn{}, reversals: map[string][]*Txn{}, rejected: map[string][]*Txn{},
		openings: map[string][]*Txn{}, auditByTxn: map[string]map[string]int{}}
	for _, id := range sortedKeys(b.Txns) {
		t := b.Txns[id]
		switch t.Kind {
		case "reversal":
			ix.reversals[t.Reason] = append(ix.reversals[t.Reason], t)
		case "opening":
			for _, l := range t.Lines {
				if !isSystem(l.Account) {
					ix.openings[l.Account] = append(ix.openings[l.Account], t)
				}
			}
		default:
			ix.byRef[t.Reference] = append(ix.byRef[t.Reference], t)
		}
		if t.Status == "rejected" {
			ix.rejected[t.Reason] = append(ix.rejected[t.Reason], t)
		}
	}
	for _, a := range b.Audit {
		if a.Target.Type != "transaction" {
			continue
		}
		if b.Txns[a.Target.ID] == nil {
			ix.auditOrphan = append(ix.auditOrphan, fmt.Sprintf("audit record %s (%s by %s) names transaction %s, which is not in the books", a.ID, a.Action, a.Actor, a.Target.ID))
			continue
		}
		m := ix.auditByTxn[a.Target.ID]
		if m == nil {
			m = map[string]int{}
			ix.auditByTxn[a.Target.ID] = m
		}
		m[a.Action]++
	}
	return ix
}

func linesKey(ls []Line) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.String()
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func mirror(ls []Line) []Line {
	out := make([]Line, len(ls))
	for i, l := range ls {
		out[i] = l
		if l.Type == "debit" {
			out[i].Type = "credit"
		} else {
			out[i].Type = "debit"
		}
	}
	return out
}

func opName(op *Op) string {
	s := fmt.Sprintf("op %d (client %d #%d, %s", op.Index, op.Client, op.Seq, op.Kind)
	if op.Decision != "" {
		s += " " + op.Decision
	}
	return s + ", ref " + op.Ref + ")"
}

// isPosting reports whether the operation creates a transaction of its own
// kind (reversals create one too, matched by reason).
func isPosting(kind string) bool {
	switch kind {
	case KindTransfer, KindExchange, KindEntry, KindJournal, KindWithdrawal:
		return true
	}
	return false
}

// txnKindOf is the transaction kind a posting operation books.
func txnKindOf(kind string) string {
	if kind == KindExchange {
		return "exchange"
	}
	return kind
}

// CheckExactlyOnce checks invariant 4: every acknowledged operation is in the
// books exactly once, with what it asked for and in each of its accounts'
// histories once; every refused one left nothing; nothing is in the books
// that no client asked for; the audit trail names each change once.
func CheckExactlyOnce(b *Books, rec *Record) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	ix := indexBooks(b)
	claimed := map[string]string{} // txn id -> who accounts for it

	// Openings: one per account with a non-zero opening balance.
	for _, a := range rec.Accounts {
		if a.ID == "" {
			continue
		}
		ts := ix.openings[a.ID]
		want := 0
		if !a.Opening.IsZero() {
			want = 1
		}
		if len(ts) != want {
			bad("account %s (%s): %d opening transactions, want %d", a.ID, a.Name, len(ts), want)
		}
		for _, t := range ts {
			claimed[t.ID] = "opening of " + a.Name
			wantLines := []Line{{a.ID, "credit", a.Opening, a.Currency}, {"external:" + a.Currency, "debit", a.Opening, a.Currency}}
			if linesKey(t.Lines) != linesKey(wantLines) {
				bad("account %s (%s): opening %s has lines [%s], want [%s]", a.ID, a.Name, t.ID, linesKey(t.Lines), linesKey(wantLines))
			}
		}
	}

	for _, op := range rec.Ops {
		if op.Skipped || len(op.Calls) == 0 {
			continue
		}
		switch {
		case isPosting(op.Kind):
			c := op.Calls[0]
			found := ix.byRef[op.Ref]
			for _, t := range found {
				claimed[t.ID] = opName(op)
			}
			switch c.Outcome() {
			case Acknowledged:
				ack, _ := c.Acked()
				t := b.Txns[ack.TxnID]
				if t == nil {
					bad("%s was acknowledged as %s, which is not in the books; answers: %s", opName(op), ack.TxnID, c.Describe())
					continue
				}
				claimed[t.ID] = opName(op)
				checkPosting(op, t, bad)
				var shown struct {
					Lines []Line `json:"lines"`
				}
				if err := json.Unmarshal(ack.Body, &shown); err != nil || linesKey(shown.Lines) != linesKey(op.Expected) {
					bad("%s: the answer shows lines [%s], it asked for [%s]", opName(op), linesKey(shown.Lines), linesKey(op.Expected))
				}
				if op.Kind == KindWithdrawal {
					want := "posted"
					if op.Over {
						want = "pending"
					}
					if ack.TxnState != want {
						bad("%s: answered %s, want %s (amount %s)", opName(op), ack.TxnState, want, m(op.Amount))
					}
				}
			case Refused:
				for _, t := range found {
					bad("%s was refused, yet the books hold %s (%s, %s) with its reference; answers: %s", opName(op), t.ID, t.Kind, t.Status, c.Describe())
				}
			default:
				for _, t := range found {
					checkPosting(op, t, bad)
				}
			}
		case op.Kind == KindReversal:
			c := op.Calls[0]
			found := ix.reversals[op.Ref]
			for _, t := range found {
				claimed[t.ID] = opName(op)
			}
			target := b.Txns[op.TargetTxn]
			switch c.Outcome() {
			case Acknowledged:
				ack, _ := c.Acked()
				t := b.Txns[ack.TxnID]
				if t == nil {
					bad("%s was acknowledged as %s, which is not in the books; answers: %s", opName(op), ack.TxnID, c.Describe())
					continue
				}
				claimed[t.ID] = opName(op)
				checkReversal(op, t, target, bad)
			case Refused:
				for _, t := range found {
					bad("%s was refused, yet the books hold reversal %s of %s; answers: %s", opName(op), t.ID, t.Reverses, c.Describe())
				}
			default:
				for _, t := range found {
					checkReversal(op, t, target, bad)
				}
			}
		case op.Kind == KindDecide:
			target := b.Txns[op.TargetTxn]
			if target == nil {
				bad("%s acted on %s, which is not in the books", opName(op), op.TargetTxn)
				continue
			}
			acked := 0
			for _, c := range op.Calls {
				out := c.Outcome()
				if out == Acknowledged {
					acked++
				}
				switch c.Name {
				case DecideApprove:
					approved := target.ApprovedBy == c.Sub
					switch {
					case out == Acknowledged && (!approved || !target.Booked()):
						bad("%s: approval acknowledged, but %s is %s, approved_by %q; answers: %s", opName(op), target.ID, target.Status, target.ApprovedBy, c.Describe())
					case out == Refused && approved:
						bad("%s: approval refused, but %s is approved by %s; answers: %s", opName(op), target.ID, target.ApprovedBy, c.Describe())
					}
				case DecideReject:
					rejected := target.Status == "rejected" && target.Reason == op.Ref
					switch {
					case out == Acknowledged && !rejected:
						bad("%s: rejection acknowledged, but %s is %s with reason %q; answers: %s", opName(op), target.ID, target.Status, target.Reason, c.Describe())
					case out == Refused && rejected:
						bad("%s: rejection refused, but %s is rejected with its reason; answers: %s", opName(op), target.ID, c.Describe())
					}
				}
			}
			if acked > 1 {
				bad("%s: both the approval and the rejection of %s were acknowledged", opName(op), target.ID)
			}
		}
	}

	// Nothing in the books that no client asked for.
	for _, id := range sortedKeys(b.Txns) {
		if claimed[id] == "" {
			t := b.Txns[id]
			bad("transaction %s (%s, %s, reference %q, reason %q) is in the books, but no operation asked for it", id, t.Kind, t.Status, t.Reference, t.Reason)
		}
	}
	for _, ts := range ix.rejected {
		for _, t := range ts {
			if !strings.HasPrefix(t.Reason, "bank-") {
				bad("transaction %s is rejected with reason %q, which no operation gave", t.ID, t.Reason)
			}
		}
	}

	// Each booked transaction is in each of its accounts' histories once;
	// each history line belongs to a booked transaction's line.
	type seen struct {
		n    int
		line HistoryLine
	}
	onAccount := map[string]map[string]*seen{} // account -> txn -> lines
	for acc, lines := range b.History {
		m := map[string]*seen{}
		onAccount[acc] = m
		for _, l := range lines {
			s := m[l.TxnID]
			if s == nil {
				s = &seen{line: l}
				m[l.TxnID] = s
			}
			s.n++
			t := b.Txns[l.TxnID]
			switch {
			case t == nil:
				bad("account %s: seq %d names transaction %s, which is not in the books", acc, l.Seq, l.TxnID)
			case !t.Booked():
				bad("account %s: seq %d books transaction %s, which is %s", acc, l.Seq, l.TxnID, t.Status)
			}
		}
	}
	for _, id := range sortedKeys(b.Txns) {
		t := b.Txns[id]
		for _, l := range t.Lines {
			if isSystem(l.Account) {
				continue
			}
			s := onAccount[l.Account][id]
			n := 0
			if s != nil {
				n = s.n
			}
			want := 0
			if t.Booked() {
				want = 1
			}
			if n != want {
				bad("transaction %s (%s, %s, %s) is in account %s's history %d times, want %d", id, t.Kind, t.Status, claimed[id], l.Account, n, want)
				continue
			}
			if n == 1 && (s.line.Type != l.Type || !s.line.Amount.Equal(l.Amount)) {
				bad("transaction %s: account %s's history shows %s %s, the transaction %s %s", id, l.Account, s.line.Type, m(s.line.Amount), l.Type, m(l.Amount))
			}
		}
	}

	// The audit trail: one record per change.
	out = append(out, ix.auditOrphan...)
	for _, id := range sortedKeys(b.Txns) {
		t := b.Txns[id]
		got := ix.auditByTxn[id]
		want := map[string]int{}
		switch t.Kind {
		case "opening", "reversal":
		case "withdrawal":
			if t.Status == "pending" || t.Status == "rejected" || t.ApprovedBy != "" {
				want["transaction.pending"] = 1
			} else {
				want["transaction.posted"] = 1
			}
		default:
			want["transaction.posted"] = 1
		}
		if t.ApprovedBy != "" {
			want["transaction.approved"] = 1
		}
		if t.Status == "rejected" {
			want["transaction.rejected"] = 1
		}
		if t.Status == "reversed" {
			want["transaction.reversed"] = 1
		}
		for _, action := range []string{"transaction.posted", "transaction.pending", "transaction.approved", "transaction.rejected", "transaction.reversed"} {
			if got[action] != want[action] {
				bad("transaction %s (%s, %s): %d %s audit records, want %d", id, t.Kind, t.Status, got[action], action, want[action])
			}
		}
	}
	return out
}

func checkPosting(op *Op, t *Txn, bad func(string, ...any)) {
	if t.Kind != txnKindOf(op.Kind) {
		bad("%s: %s is a %s, want %s", opName(op), t.ID, t.Kind, txnKindOf(op.Kind))
	}
	if t.Reference != op.Ref {
		bad("%s: %s has reference %q", opName(op), t.ID, t.Reference)
	}
	if linesKey(t.Lines) != linesKey(op.Expected) {
		bad("%s: %s has lines [%s], it asked for [%s]", opName(op), t.ID, linesKey(t.Lines), linesKey(op.Expected))
	}
	if op.Kind != KindWithdrawal && !t.Booked() {
		bad("%s: %s is %s", opName(op), t.ID, t.Status)
	}
	if op.Kind == KindWithdrawal && !op.Over && !t.Booked() {
		bad("%s: %s is %s, below the threshold it posts at once", opName(op), t.ID, t.Status)
	}
}

func checkReversal(op *Op, t, target *Txn, bad func(string, ...any)) {
	if t.Kind != "reversal" || t.Reverses != op.TargetTxn {
		bad("%s: %s is a %s reversing %q, want a reversal of %s", opName(op), t.ID, t.Kind, t.Reverses, op.TargetTxn)
	}
	if target == nil {
		bad("%s: the transaction it reverses, %s, is not in the books", opName(op), op.TargetTxn)
		return
	}
	if want := mirror(target.Lines); linesKey(t.Lines) != linesKey(want) {
		bad("%s: %s has lines [%s], want the mirror of %s: [%s]", opName(op), t.ID, linesKey(t.Lines), target.ID, linesKey(want))
	}
	if target.Status != "reversed" || target.ReversedBy != t.ID {
		bad("%s: reversal %s is in the books, but %s is %s, reversed_by %q", opName(op), t.ID, target.ID, target.Status, target.ReversedBy)
	}
}

// CheckIdempotency checks invariant 5: one Idempotency-Key gave at most one
// transaction. Every 2xx answer of a key names the same transaction; the
// books hold at most one transaction with an operation's unique reference
// (or reason); an acknowledged key's transaction is the one with its
// reference; and a delivery sent after a key's 2xx answer replays it.
func CheckIdempotency(b *Books, rec *Record) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	ix := indexBooks(b)
	closers := map[string]map[string]bool{} // month -> keys acknowledged
	for _, op := range rec.Ops {
		if op.Skipped || op.Kind == KindSettings {
			continue // settings changes carry no key
		}
		if op.Kind == KindClose {
			if _, ok := op.Calls[0].Acked(); ok {
				if closers[op.Month] == nil {
					closers[op.Month] = map[string]bool{}
				}
				closers[op.Month][op.Calls[0].Key] = true
			}
		}
		var found []*Txn
		switch {
		case isPosting(op.Kind):
			found = ix.byRef[op.Ref]
		case op.Kind == KindReversal:
			found = ix.reversals[op.Ref]
		case op.Kind == KindDecide:
			found = ix.rejected[op.Ref]
		}
		if len(found) > 1 {
			ids := make([]string, len(found))
			for i, t := range found {
				ids[i] = t.ID + " (" + t.Status + ")"
			}
			bad("%s: the books hold %d transactions for it: %s", opName(op), len(found), strings.Join(ids, ", "))
		}
		for _, c := range op.Calls {
			ids := c.TxnIDs()
			if len(ids) > 1 {
				bad("%s: key %s was answered with %d transactions: %s; answers: %s", opName(op), c.Key, len(ids), strings.Join(ids, ", "), c.Describe())
			}
			ack, ok := c.Acked()
			if !ok {
				continue
			}
			switch {
			case op.Kind == KindDecide:
				if ack.TxnID != op.TargetTxn {
					bad("%s: key %s answered transaction %s, it acted on %s", opName(op), c.Key, ack.TxnID, op.TargetTxn)
				}
			case len(found) == 1 && found[0].ID != ack.TxnID:
				bad("%s: key %s answered %s, but the books hold %s with its reference", opName(op), c.Key, ack.TxnID, found[0].ID)
			}
			// Every delivery sent after the first 2xx came back must
			// replay it (a 5xx or no answer settles nothing either way).
			first := firstAck(c)
			for _, a := range c.Answers {
				if !a.Sent.After(first) || a.Status == 0 || a.Status >= 500 {
					continue
				}
				if a.Status < 200 || a.Status >= 300 || a.TxnID != ack.TxnID {
					bad("%s: key %s was answered %s after its 2xx; answers: %s", opName(op), c.Key, a.String(), c.Describe())
				} else if !a.Replayed {
					bad("%s: key %s was answered again without Idempotent-Replayed; answers: %s", opName(op), c.Key, c.Describe())
				}
			}
		}
	}
	// A period closes once: every other close of it is 409, or a replay of
	// the one that closed it.
	for _, month := range sortedKeys(closers) {
		if keys := closers[month]; len(keys) > 1 {
			bad("period %s: closes with %d different keys were answered 2xx: %s", month, len(keys), strings.Join(sortedKeys(keys), ", "))
		}
	}
	return out
}

// firstAck is when the call's first 2xx answer came back.
func firstAck(c *Call) (t0 time.Time) {
	for _, a := range c.Answers {
		if a.Status >= 200 && a.Status < 300 && (t0.IsZero() || a.Received.Before(t0)) {
			t0 = a.Received
		}
	}
	return t0
}

// m shows an amount with the cents of RON and EUR.
func m(v decimal.Decimal) string { return v.StringFixed(2) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
