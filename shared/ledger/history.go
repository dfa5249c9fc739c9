package ledger

import (
	"time"

	"github.com/shopspring/decimal"
)

// HistoryState is where a hot account's numbered history stands: the last
// line's number, its balance_after and its time.
type HistoryState struct {
	Seq          int64
	Balance      decimal.Decimal
	LastPostedAt time.Time
}

// NumberLines numbers a hot account's posted but unnumbered lines, in the
// order given, after the state's last line. Each line's balance_after is the
// previous one plus its credit or minus its debit, and its time is moved up
// to the previous line's if that is later, so that the history in time
// order is also the history in seq order (as PostingTime does for ordinary
// accounts). Once every line is numbered, the last balance_after equals the
// balance, because the parts of the balance moved by exactly these lines.
func NumberLines(state HistoryState, lines []HistoryLine) ([]HistoryLine, HistoryState) {
	out := make([]HistoryLine, len(lines))
	for i, l := range lines {
		state.Seq++
		if l.Type == Credit {
			state.Balance = state.Balance.Add(l.Amount)
		} else {
			state.Balance = state.Balance.Sub(l.Amount)
		}
		if l.PostedAt.Before(state.LastPostedAt) {
			l.PostedAt = state.LastPostedAt
		}
		state.LastPostedAt = l.PostedAt
		l.Seq, l.BalanceAfter = state.Seq, state.Balance
		out[i] = l
	}
	return out, state
}
