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

// NumberLines numbers a hot account's posted but unnumbered lines after the
// state's last line. Each line's balance_after is the previous one plus its
// credit or minus its debit, and its time is moved up to the previous
// line's if that is later, so that the history in time order is also the
// history in seq order (as PostingTime does for ordinary accounts).
//
// The lines come in the order of their time stamps, taken when each posting
// read the account, which is not always the order in which they committed:
// a debit may have been covered by a credit stamped a moment later that
// committed first. Numbered in stamp order, that debit would show a balance
// below what the account ever had. So a debit that would take balance_after
// below floor (minus the overdraft limit; nil when the account is not
// funds-checked, and stamp order stands) waits until the credits after it
// cover it. Such an order always exists when every line committed so far is
// given: every posting kept the account's available funds at or above zero,
// so the balance after all of them is at or above floor, and credits first,
// then debits, only falls toward that final balance. A debit still
// uncovered is returned unnumbered, in stamp order: the caller has not seen
// every line yet. Once every line is numbered, the last balance_after equals
// the balance, because the parts of the balance moved by exactly these
// lines.
func NumberLines(state HistoryState, lines []HistoryLine, floor *decimal.Decimal) (numbered []HistoryLine, next HistoryState, uncovered []HistoryLine) {
	out := make([]HistoryLine, 0, len(lines))
	place := func(l HistoryLine) {
		state.Seq++
		state.Balance = state.Balance.Add(signedHistory(l))
		if l.PostedAt.Before(state.LastPostedAt) {
			l.PostedAt = state.LastPostedAt
		}
		state.LastPostedAt = l.PostedAt
		l.Seq, l.BalanceAfter = state.Seq, state.Balance
		out = append(out, l)
	}
	below := func(l HistoryLine) bool { return floor != nil && state.Balance.Sub(l.Amount).LessThan(*floor) }
	var waiting []HistoryLine
	for _, l := range lines {
		if l.Type == Debit && below(l) {
			waiting = append(waiting, l)
			continue
		}
		place(l)
		if l.Type == Credit {
			// A credit may now cover debits that wait, oldest first.
			kept := waiting[:0]
			for _, w := range waiting {
				if below(w) {
					kept = append(kept, w)
				} else {
					place(w)
				}
			}
			waiting = kept
		}
	}
	return out, state, waiting
}

func signedHistory(l HistoryLine) decimal.Decimal {
	if l.Type == Debit {
		return l.Amount.Neg()
	}
	return l.Amount
}
