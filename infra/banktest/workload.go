package banktest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shopspring/decimal"
)

// Operation kinds of the workload.
const (
	KindTransfer   = "transfer"
	KindExchange   = "exchange"
	KindEntry      = "entry"
	KindJournal    = "journal"
	KindWithdrawal = "withdrawal"
	KindReversal   = "reversal"
	KindDecide     = "decide"   // approve, reject, or both at once, of a pending withdrawal
	KindSettings   = "settings" // a change of an account's settings and its undoing (PATCH twice)
	KindClose      = "close"    // a period close, which other clients may race for
)

// Settings a KindSettings operation changes and then sets back.
const (
	SettingFreeze    = "freeze"    // frozen, then active again
	SettingOverdraft = "overdraft" // a lower overdraft limit, then the first one again
	SettingRename    = "rename"    // another name, then the first one again
)

// Decisions a KindDecide operation takes on a pending withdrawal.
const (
	DecideApprove = "approve"
	DecideReject  = "reject"
	DecideRace    = "race" // approve and reject sent at once: exactly one may win
)

// Ways a request is delivered twice on purpose.
const (
	DupConcurrent = "concurrent"
	DupSequential = "sequential"
)

// AccountSpec is one account the run creates before the load.
type AccountSpec struct {
	Name      string
	Kind      string
	Currency  string
	Opening   decimal.Decimal
	Overdraft decimal.Decimal
	Threshold decimal.Decimal // zero: no approval threshold
	Hot       bool
	// Scale is the size of a typical amount on the account.
	Scale decimal.Decimal

	ID string // set when the account is created
}

// Accounts is the run's fixed chart: two hot RON accounts (marked hot, one
// with an overdraft, one with an approval threshold) that most postings
// touch, spread RON and EUR accounts, a few with an overdraft limit, a few
// with an approval threshold, one that starts empty.
func Accounts() []*AccountSpec {
	d := decimal.RequireFromString
	acc := func(name, kind, ccy, opening, overdraft, threshold, scale string, hot bool) *AccountSpec {
		a := &AccountSpec{Name: name, Kind: kind, Currency: ccy, Opening: d(opening), Overdraft: d(overdraft), Hot: hot, Scale: d(scale)}
		if threshold != "" {
			a.Threshold = d(threshold)
		}
		return a
	}
	return []*AccountSpec{
		acc("Hot Treasury RON", "bank", "RON", "8000.00", "300.00", "", "1500.00", true),
		acc("Hot Cash Desk RON", "cash", "RON", "6000.00", "0", "800.00", "1500.00", true),
		acc("Budget Cluj", "budget", "RON", "1500.00", "500.00", "", "900.00", false),
		acc("Budget Iasi", "budget", "RON", "900.00", "500.00", "", "900.00", false),
		acc("Petty Cash Timisoara", "cash", "RON", "2500.00", "0", "800.00", "900.00", false),
		acc("Petty Cash Brasov", "cash", "RON", "1200.00", "0", "800.00", "900.00", false),
		acc("Operations RON", "bank", "RON", "3000.00", "0", "800.00", "900.00", false),
		acc("Marketing Wallet", "wallet", "RON", "700.00", "0", "", "900.00", false),
		acc("Events Wallet", "wallet", "RON", "400.00", "0", "", "900.00", false),
		acc("New Projects", "budget", "RON", "0", "0", "", "900.00", false),
		acc("Treasury EUR", "bank", "EUR", "800.00", "100.00", "", "180.00", false),
		acc("Travel EUR", "wallet", "EUR", "300.00", "0", "200.00", "180.00", false),
		acc("Suppliers EUR", "bank", "EUR", "500.00", "0", "", "180.00", false),
		acc("Cash EUR", "cash", "EUR", "150.00", "0", "", "180.00", false),
		acc("Conference EUR", "budget", "EUR", "0", "0", "", "180.00", false),
	}
}

// JournalLine is one line of a planned journal voucher.
type JournalLine struct {
	Acct   int
	Type   string
	Amount decimal.Decimal
}

// Op is one operation of the workload. Everything up to the run-time
// section is a pure function of the seed, the client and its position.
type Op struct {
	// Keyless posts send no Idempotency-Key (see planOp).
	Keyless bool
	Index   int // position in the whole run
	Client  int
	Seq     int // position in the client's sequence
	Kind    string
	Key     string // Idempotency-Key (a decide operation suffixes it per request)
	Ref     string // reference (postings) or reason (reversal, rejection): unique per operation

	// Postings.
	From, To  int // transfer, exchange
	Acct      int // entry, withdrawal
	EntryType string
	Amount    decimal.Decimal
	ToAmount  decimal.Decimal // exchange
	Journal   []JournalLine
	Over      bool // withdrawal at or above the account's approval threshold

	// Reversal and decision: which earlier posting of this client they act
	// on is chosen at run time from what was acknowledged (Pick), since a
	// transaction id exists only once a posting is answered.
	Pick     int
	Decision string

	// Settings and period close.
	Setting string
	Month   string // YYYY-MM of a close: a past month, so postings go on

	// Client faults.
	ShortTimeout time.Duration // first attempt's timeout when non-zero
	Abandon      bool          // no retry after the short timeout
	Dup          string        // "", DupConcurrent or DupSequential
	JitterSeed   uint64

	// Run time.
	Skipped   bool   // a reversal or decision with nothing to act on
	Target    *Op    // the posting it reverses or decides
	TargetTxn string // that posting's transaction id
	Expected  []Line // the lines it asks for, with account ids
	Calls     []*Call
}

// weights of the operation kinds, in percent.
var kindWeights = []struct {
	kind string
	w    int
}{
	{KindTransfer, 22}, {KindExchange, 9}, {KindEntry, 15}, {KindJournal, 9},
	{KindWithdrawal, 21}, {KindReversal, 12}, {KindDecide, 8}, {KindSettings, 3}, {KindClose, 1},
}

// Plan returns each client's operations: operation i of the run belongs to
// client i mod clients. A client's sequence depends only on the seed, the
// client's number and the run's size.
func Plan(seed int64, ops, clients int, accts []*AccountSpec) [][]*Op {
	out := make([][]*Op, clients)
	for c := range clients {
		r := rand.New(rand.NewPCG(uint64(seed), 0xba4b0000+uint64(c)))
		for i := c; i < ops; i += clients {
			out[c] = append(out[c], planOp(r, seed, i, c, len(out[c]), accts))
		}
	}
	return out
}

func planOp(r *rand.Rand, seed int64, index, client, seq int, accts []*AccountSpec) *Op {
	op := &Op{Index: index, Client: client, Seq: seq}
	op.Key = fmt.Sprintf("bank-%d-c%02d-%05d", seed, client, seq)
	op.Ref = op.Key
	w := r.IntN(100)
	for _, k := range kindWeights {
		if w < k.w {
			op.Kind = k.kind
			break
		}
		w -= k.w
	}
	switch op.Kind {
	case KindTransfer:
		ccy := "RON"
		if r.IntN(4) == 0 {
			ccy = "EUR"
		}
		op.From, op.To = pickPair(r, accts, ccy)
		op.Amount = amount(r, accts[op.From].Scale, 20, 1400)
	case KindExchange:
		from, to := "RON", "EUR"
		if r.IntN(2) == 0 {
			from, to = to, from
		}
		op.From = pickAccount(r, accts, from, true)
		op.To = pickAccount(r, accts, to, true)
		op.Amount = amount(r, accts[op.From].Scale, 50, 1200)
		rate := decimal.RequireFromString("4.9731")
		if from == "RON" {
			op.ToAmount = op.Amount.Div(rate).Round(2)
		} else {
			op.ToAmount = op.Amount.Mul(rate).Round(2)
		}
		if !op.ToAmount.IsPositive() {
			op.ToAmount = decimal.RequireFromString("0.01")
		}
	case KindEntry:
		op.Acct = pickAccount(r, accts, anyCurrency(r), true)
		// Mostly money in: withdrawals only take money out, and the books
		// should neither drain nor overflow over a long run.
		op.EntryType = "credit"
		if r.IntN(100) < 30 {
			op.EntryType = "debit"
		}
		op.Amount = amount(r, accts[op.Acct].Scale, 20, 1300)
	case KindJournal:
		ccy := "RON"
		if r.IntN(4) == 0 {
			ccy = "EUR"
		}
		a, b := pickPair(r, accts, ccy)
		c := pickAccount(r, accts, ccy, false)
		for c == a || c == b {
			c = pickAccount(r, accts, ccy, false)
		}
		x := amount(r, accts[a].Scale, 20, 800)
		y := amount(r, accts[a].Scale, 20, 800)
		one, two := "debit", "credit"
		if r.IntN(2) == 0 {
			one, two = two, one
		}
		op.Journal = []JournalLine{{a, one, x.Add(y)}, {b, two, x}, {c, two, y}}
	case KindWithdrawal:
		// Most withdrawals go to accounts with an approval threshold,
		// half of those at or above it, so that decisions find pending
		// ones to act on.
		if r.IntN(100) < 60 {
			op.Acct = pickThreshold(r, accts)
		} else {
			op.Acct = pickAccount(r, accts, anyCurrency(r), true)
		}
		a := accts[op.Acct]
		if !a.Threshold.IsZero() && r.IntN(100) < 55 {
			op.Over = true
			op.Amount = a.Threshold.Add(amount(r, a.Threshold, 0, 800))
		} else if !a.Threshold.IsZero() {
			op.Amount = amount(r, a.Threshold, 50, 990)
		} else {
			op.Amount = amount(r, a.Scale, 20, 1300)
		}
	case KindReversal:
		op.Pick = r.IntN(8)
	case KindSettings:
		op.Acct = pickAccount(r, accts, anyCurrency(r), true)
		op.Setting = []string{SettingFreeze, SettingOverdraft, SettingRename}[r.IntN(3)]
	case KindClose:
		// Few months, so that clients race for the same one.
		op.Month = fmt.Sprintf("2019-%02d", 1+r.IntN(4))
	case KindDecide:
		switch d := r.IntN(100); {
		case d < 45:
			op.Decision = DecideApprove
		case d < 85:
			op.Decision = DecideReject
		default:
			op.Decision = DecideRace
		}
	}
	if r.Float64() < 0.10 {
		op.ShortTimeout = time.Duration(2+r.IntN(30)) * time.Millisecond
		// A few clients give up after that timeout: their outcome stays
		// unknown.
		op.Abandon = r.IntN(4) == 0
	}
	if r.Float64() < 0.08 {
		op.Dup = DupConcurrent
		if r.IntN(2) == 0 {
			op.Dup = DupSequential
		}
	}
	op.JitterSeed = r.Uint64()
	// A few transfers and entries carry no Idempotency-Key: sent once, never
	// retried or duplicated by the client, so only the service's own
	// handling of lost commit answers keeps them from being booked twice.
	if (op.Kind == KindTransfer || op.Kind == KindEntry) && r.IntN(12) == 0 {
		op.Keyless, op.Dup, op.Abandon = true, "", true
	}
	return op
}

func anyCurrency(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return "EUR"
	}
	return "RON"
}

// pickAccount picks an account of the currency; hot ones (RON) take about
// 40% of the picks when allowed.
func pickAccount(r *rand.Rand, accts []*AccountSpec, ccy string, hot bool) int {
	var hots, spread []int
	for i, a := range accts {
		if a.Currency != ccy {
			continue
		}
		if a.Hot {
			hots = append(hots, i)
		} else {
			spread = append(spread, i)
		}
	}
	if hot && len(hots) > 0 && r.IntN(100) < 40 {
		return hots[r.IntN(len(hots))]
	}
	return spread[r.IntN(len(spread))]
}

// pickThreshold picks an account with an approval threshold.
func pickThreshold(r *rand.Rand, accts []*AccountSpec) int {
	var ids []int
	for i, a := range accts {
		if !a.Threshold.IsZero() {
			ids = append(ids, i)
		}
	}
	return ids[r.IntN(len(ids))]
}

func pickPair(r *rand.Rand, accts []*AccountSpec, ccy string) (int, int) {
	a := pickAccount(r, accts, ccy, true)
	b := pickAccount(r, accts, ccy, true)
	for b == a {
		b = pickAccount(r, accts, ccy, true)
	}
	return a, b
}

// amount draws scale × U(lo, hi) per mille, in whole cents (integer
// arithmetic: no float touches an amount), at least 0.01.
func amount(r *rand.Rand, scale decimal.Decimal, lo, hi int) decimal.Decimal {
	permille := lo + r.IntN(hi-lo+1)
	cents := scale.Shift(2).IntPart() * int64(permille) / 1000
	if cents < 1 {
		cents = 1
	}
	return decimal.New(cents, -2)
}
