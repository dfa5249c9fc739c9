package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/shopspring/decimal"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// A hot account (ledger.Account.Hot) cannot keep its balance in its own item:
// DynamoDB cancels a transaction that touches an item another transaction
// still holds, so postings to one item run one at a time, at most one per
// transaction latency (≈25 ms, 40 a second), and far fewer once they collide
// and back off. So a hot account keeps its balance in hotParts items beside
// its own (sk B#00..B#31), and a posting touches one of them:
//
//   - each part holds a share of the balance and of the pending holds, and a
//     spendable amount; the parts' spendable amounts sum to the account's
//     available (balance − pending + overdraft), and none goes below zero,
//     each guarded by the condition of the write that lowers it. So the
//     account's available never goes below zero either.
//   - a debit takes from one part that covers it (one picked at random), or,
//     when none does alone, from several at once in the same transaction, so
//     a debit that the whole balance covers is never refused.
//   - the account's item is not written by postings; its status is copied to
//     every part (setPartsStatus, hotSettings), so a posting that meets a
//     frozen part fails its condition and, built again, is refused.
//   - a posting writes its history line unnumbered (sk P#<time>#<txn>); the
//     history sequencer (NumberHistory, fed by the table's stream) numbers the
//     lines shortly after, keeping its place in the state item (sk Q).
//
// The balance, read as the sum of the parts in one consistent Query, never
// lags. The history does, by the stream's delay (typically well under a
// second on AWS).
const hotParts = 32

// maxCreditSpread caps how many parts one large credit is spread over.
const maxCreditSpread = 8

func partSK(i int) string { return fmt.Sprintf("B#%02d", i) }

const (
	skParts        = "B#"
	skUnnumbered   = "P#"
	skHistoryState = "Q"
)

func unnumberedSK(l *ledger.HistoryLine) string {
	return skUnnumbered + stamp(l.PostedAt) + "#" + l.TransactionID
}

// UnnumberedLineAccount names the hot account whose unnumbered history line
// has this key, for the history sequencer's stream handler.
func UnnumberedLineAccount(pk, sk string) (tenant, accountID string, ok bool) {
	if !strings.HasPrefix(sk, skUnnumbered) || !strings.HasPrefix(pk, "T#") {
		return "", "", false
	}
	i := strings.LastIndex(pk, "#A#")
	if i < 2 {
		return "", "", false
	}
	return pk[2:i], pk[i+3:], true
}

// part is one share of a hot account's balance.
type part struct {
	sk        string
	balance   decimal.Decimal
	pending   decimal.Decimal
	spendable decimal.Decimal
}

func partItem(tenant, accountID string, p part, status string) item {
	it := key(accountPK(tenant, accountID), p.sk)
	it["balance"] = n(p.balance)
	it["pending"] = n(p.pending)
	it["spendable"] = n(p.spendable)
	it["status"] = s(status)
	return it
}

// newParts splits a hot account as it stands into its parts: balance and
// pending in the first, what is spendable spread evenly over all of them,
// so that debits have every part to choose from from the start.
func newParts(a *ledger.Account) []part {
	ps := make([]part, hotParts)
	for i := range ps {
		ps[i].sk = partSK(i)
	}
	ps[0].balance, ps[0].pending = a.Balance, a.Pending
	for i, share := range evenly(a.Available(), hotParts, a.Currency.MinorUnits) {
		ps[i].spendable = share
	}
	return ps
}

// evenly splits amount into n shares in the currency's minor units, the
// remainder in the first; the shares add up to amount exactly.
func evenly(amount decimal.Decimal, n int, scale int32) []decimal.Decimal {
	shares := make([]decimal.Decimal, n)
	each := amount.Div(decimal.NewFromInt(int64(n))).Truncate(scale)
	for i := range shares {
		shares[i] = each
	}
	shares[0] = amount.Sub(each.Mul(decimal.NewFromInt(int64(n - 1))))
	return shares
}

// readParts reads a hot account's parts in one consistent Query (32 small
// items, about 3 KB: one read unit).
func (st *Store) readParts(ctx context.Context, tenant, id string) ([]part, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              st.table,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :b)"),
		ExpressionAttributeValues: item{
			":pk": s(accountPK(tenant, id)), ":b": s(skParts),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, readErr(err)
	}
	ps := make([]part, 0, len(out.Items))
	for _, it := range out.Items {
		r := reader{it: it}
		ps = append(ps, part{sk: r.str(attrSK), balance: r.num("balance"), pending: r.num("pending"), spendable: r.num("spendable")})
		if r.err != nil {
			return nil, r.err
		}
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("hot account %s has no balance parts", id)
	}
	return ps, nil
}

// withParts reads the parts of the hot accounts among accounts, all at
// once, and sets those accounts' balance and pending to their sums. Reads
// that prefetchParts started already are used as they are.
func (st *Store) withParts(ctx context.Context, tenant string, accounts map[string]*ledger.Account, pre map[string]func() ([]part, error)) (map[string][]part, error) {
	var hot []*ledger.Account
	for _, a := range accounts {
		if a.Hot {
			hot = append(hot, a)
			st.hot.Store(tenant+"/"+a.ID, true)
		}
	}
	if len(hot) == 0 {
		return nil, nil
	}
	read := make([][]part, len(hot))
	errs := make([]error, len(hot))
	var wg sync.WaitGroup
	for i, a := range hot {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f := pre[a.ID]; f != nil {
				read[i], errs[i] = f()
			} else {
				read[i], errs[i] = st.readParts(ctx, tenant, a.ID)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make(map[string][]part, len(hot))
	for i, a := range hot {
		a.Balance, a.Pending = decimal.Zero, decimal.Zero
		for _, p := range read[i] {
			a.Balance = a.Balance.Add(p.balance)
			a.Pending = a.Pending.Add(p.pending)
		}
		out[a.ID] = read[i]
	}
	return out, nil
}

// prefetchParts starts reading the parts of the accounts this process has
// seen hot, so that a posting reads them at the same time as the accounts
// rather than after: an account never stops being hot, so what the store
// remembers is never wrong, only incomplete.
func (st *Store) prefetchParts(ctx context.Context, tenant string, ids []string) map[string]func() ([]part, error) {
	var out map[string]func() ([]part, error)
	for _, id := range ids {
		if _, ok := st.hot.Load(tenant + "/" + id); !ok {
			continue
		}
		type result struct {
			parts []part
			err   error
		}
		ch := make(chan result, 1)
		go func() {
			ps, err := st.readParts(ctx, tenant, id)
			ch <- result{ps, err}
		}()
		if out == nil {
			out = map[string]func() ([]part, error){}
		}
		out[id] = sync.OnceValues(func() ([]part, error) {
			r := <-ch
			return r.parts, r.err
		})
	}
	return out
}

// piece is what one write does to one part: it moves the part's balance and
// pending, and takes from its spendable amount (a negative take adds).
type piece struct {
	sk          string
	dBal, dPend decimal.Decimal
	take        decimal.Decimal
}

// allocate spreads a change of a hot account's balance and pending over
// its parts, as read, keeping the parts about level so that debits find
// many parts that cover them and rarely meet:
//
//   - a debit (it takes from what is spendable) goes to a random part that
//     covers it, the richer of two when they differ much (twoChoices), or,
//     when none covers it alone, is taken from the richest parts in turn;
//   - a credit goes to a random part, the poorer of two when they differ
//     much, or, when it is more
//     than an even share of the whole, is spread over as many of the
//     poorest parts as even shares it makes.
//
// It reports false when the parts together do not cover a debit.
func allocate(parts []part, dBal, dPend decimal.Decimal, scale int32) ([]piece, bool) {
	take := dPend.Sub(dBal)
	if !take.IsPositive() {
		give := take.Neg()
		total := give
		for _, p := range parts {
			total = total.Add(p.spendable)
		}
		// k parts of an even share each would hold this credit: spread it
		// over the k poorest, so that no part ends up with most of it.
		k := 1
		if total.IsPositive() {
			k = int(give.Mul(decimal.NewFromInt(int64(len(parts)))).Div(total).Ceil().IntPart())
		}
		if k > 1 {
			// At most maxCreditSpread parts: enough to keep them level,
			// few enough to leave room in the transaction for others.
			k = min(k, len(parts), maxCreditSpread)
			byAmount := append([]part(nil), parts...)
			sort.Slice(byAmount, func(i, j int) bool { return byAmount[i].spendable.LessThan(byAmount[j].spendable) })
			shares := evenly(give, k, scale)
			out := make([]piece, k)
			for i := range out {
				out[i] = piece{sk: byAmount[i].sk, take: shares[i].Neg()}
			}
			out[0].dBal, out[0].dPend = dBal, dPend
			return out, true
		}
		p := twoChoices(parts, false)
		return []piece{{sk: p.sk, dBal: dBal, dPend: dPend, take: take}}, true
	}
	var fit []part
	for _, p := range parts {
		if p.spendable.GreaterThanOrEqual(take) {
			fit = append(fit, p)
		}
	}
	if len(fit) > 0 {
		p := twoChoices(fit, true)
		return []piece{{sk: p.sk, dBal: dBal, dPend: dPend, take: take}}, true
	}
	byAmount := append([]part(nil), parts...)
	sort.Slice(byAmount, func(i, j int) bool { return byAmount[i].spendable.GreaterThan(byAmount[j].spendable) })
	var out []piece
	left := take
	for _, p := range byAmount {
		if !left.IsPositive() || !p.spendable.IsPositive() {
			break
		}
		t := decimal.Min(p.spendable, left)
		out = append(out, piece{sk: p.sk, take: t})
		left = left.Sub(t)
	}
	if left.IsPositive() {
		return nil, false
	}
	// Only the spendable amounts must be each part's own; balance and
	// pending count only as sums, so the first piece carries them.
	out[0].dBal, out[0].dPend = dBal, dPend
	return out, true
}

// twoChoices picks two parts at random and keeps the first, unless the
// second has more than twice its spendable amount (richer) or less than
// half (poorer). Level parts are thus picked uniformly, which makes two
// postings meet on one part least often, and parts that drifted apart are
// brought back together.
func twoChoices(parts []part, richer bool) part {
	a, b := parts[rand.IntN(len(parts))], parts[rand.IntN(len(parts))]
	two := decimal.NewFromInt(2)
	if richer && b.spendable.GreaterThan(a.spendable.Mul(two)) || !richer && b.spendable.Mul(two).LessThan(a.spendable) {
		return b
	}
	return a
}

// hotUpdate adds the writes of one posting to a hot account: the parts it
// moves, each conditional on covering what it gives and on being active,
// and the unnumbered history line.
func (w *writes) hotUpdate(tenant string, u *ledger.AccountUpdate, before *ledger.Account, parts []part, isNew bool) error {
	a := u.Account
	pk := accountPK(tenant, a.ID)
	if isNew {
		w.put(accountItem(tenant, a, 1), notExists, nil)
		for _, p := range newParts(a) {
			w.put(partItem(tenant, a.ID, p, a.Status), notExists, nil)
		}
	} else {
		dBal, dPend := a.Balance.Sub(before.Balance), a.Pending.Sub(before.Pending)
		pieces, ok := allocate(parts, dBal, dPend, a.Currency.MinorUnits)
		if !ok {
			// The parts were read while a posting that moves several of
			// them was landing (a Query reads each item as committed, not
			// all at one instant): read again.
			return errRetry
		}
		// Lifting a hold alone (a rejection) is allowed on a frozen
		// account, as for any account; everything else needs it active.
		needActive := !(dBal.IsZero() && dPend.IsNegative())
		for _, p := range pieces {
			var conds []string
			values := item{":b": n(p.dBal), ":p": n(p.dPend), ":s": n(p.take.Neg())}
			if p.take.IsPositive() {
				conds = append(conds, "spendable >= :take")
				values[":take"] = n(p.take)
			}
			if needActive {
				conds = append(conds, "#status = :active")
				values[":active"] = s(ledger.StatusActive)
			}
			up := w.update(key(pk, p.sk), "ADD balance :b, pending :p, spendable :s", values, nil)
			if len(conds) > 0 {
				up.ConditionExpression = aws.String(strings.Join(conds, " AND "))
				if needActive {
					up.ExpressionAttributeNames = map[string]string{"#status": "status"}
				}
			}
		}
	}
	if u.Line != nil {
		it := historyItem(tenant, u.Line)
		it[attrSK] = s(unnumberedSK(u.Line))
		delete(it, "seq")
		delete(it, "balance_after")
		w.put(it, "", nil)
	}
	return nil
}

// hotSettings adds the writes of a change of a hot account's settings to
// its parts: closing closes every part, on the parts as read, so that no
// posting slips in (freezing and unfreezing went before, setPartsStatus); a
// higher overdraft limit adds to the parts, a lower one takes from them;
// and an account that just became hot gets its parts and history state.
func (w *writes) hotSettings(tenant string, before, a *ledger.Account, parts []part) error {
	pk := accountPK(tenant, a.ID)
	if !before.Hot {
		for _, p := range newParts(a) {
			w.put(partItem(tenant, a.ID, p, a.Status), notExists, nil)
		}
		if a.Seq > 0 {
			w.put(historyStateItem(tenant, a.ID, ledger.HistoryState{Seq: a.Seq, Balance: a.Balance, LastPostedAt: a.LastPostedAt}), notExists, nil)
		}
		return nil
	}
	type change struct {
		set   []string
		conds []string
		vals  item
	}
	changes := map[string]*change{}
	at := func(sk string) *change {
		c := changes[sk]
		if c == nil {
			c = &change{vals: item{}}
			changes[sk] = c
		}
		return c
	}
	if a.Status == ledger.StatusClosed && before.Status != ledger.StatusClosed {
		// Freezing and unfreezing reach the parts before this write
		// (setPartsStatus); closing needs the parts as read, at once.
		for _, p := range parts {
			c := at(p.sk)
			c.set = append(c.set, "#status = :st")
			c.vals[":st"] = s(a.Status)
			if a.Status == ledger.StatusClosed {
				c.conds = append(c.conds, "balance = :bal", "pending = :pend")
				c.vals[":bal"], c.vals[":pend"] = n(p.balance), n(p.pending)
			}
		}
	}
	if d := a.OverdraftLimit.Sub(before.OverdraftLimit); !d.IsZero() {
		pieces, ok := allocate(parts, d, decimal.Zero, a.Currency.MinorUnits)
		if !ok {
			return errRetry // as in hotUpdate: a read across a landing posting
		}
		for _, p := range pieces {
			c := at(p.sk)
			c.set = append(c.set, "spendable = spendable - :take")
			c.vals[":take"] = n(p.take)
			if p.take.IsPositive() {
				c.conds = append(c.conds, "spendable >= :take")
			}
		}
	}
	sks := make([]string, 0, len(changes))
	for sk := range changes {
		sks = append(sks, sk)
	}
	sort.Strings(sks)
	for _, sk := range sks {
		c := changes[sk]
		expr := "SET " + strings.Join(c.set, ", ")
		var names map[string]string
		if strings.Contains(expr, "#status") {
			names = map[string]string{"#status": "status"}
		}
		up := w.update(key(pk, sk), expr, c.vals, names)
		if len(c.conds) > 0 {
			up.ConditionExpression = aws.String(strings.Join(c.conds, " AND "))
		}
	}
	return nil
}

// setPartsStatus copies a hot account's new status (active or frozen) to
// each of its parts, one write per part, each retried on its own, before
// the account item itself changes. One transaction over all 32 parts would
// meet a posting on one of them nearly every time on a busy account (the
// bench of a freeze under load: 503 after 20 s, three times out of three).
// Part by part it only waits for the posting on that part.
//
// The order makes it safe. The account item decides for every posting that
// reads it after it changed. Freezing: once every part is frozen, a
// posting that read the account as active before fails its part's
// condition, so none lands after the freeze is recorded; one that lands
// while the parts turn came before it. Unfreezing: postings read the
// account as frozen, and are refused, until the parts are active again. A
// change that stops halfway leaves some parts behind the account item; the
// next change of status sets them all again.
func (st *Store) setPartsStatus(ctx context.Context, tenant, id string, parts []part, status string) error {
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.retry(ctx, func() error {
				w := &writes{table: st.table}
				w.update(key(accountPK(tenant, id), p.sk), "SET #status = :st", item{":st": s(status)}, map[string]string{"#status": "status"})
				if err := st.commit(ctx, w, time.Now()); err != nil {
					return st.wrap(err)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func historyStateItem(tenant, accountID string, h ledger.HistoryState) item {
	it := key(accountPK(tenant, accountID), skHistoryState)
	it["seq"] = ni(h.Seq)
	it["balance"] = n(h.Balance)
	setTime(it, "last_posted_at", h.LastPostedAt)
	return it
}

// numberBatch is how many lines the sequencer numbers in one transaction:
// two items each (the numbered line in, the unnumbered one out) and the
// state, within DynamoDB's 100 items.
const numberBatch = 40

// NumberHistory numbers a hot account's unnumbered history lines until none
// is left; it returns how many it numbered. It reads every waiting line
// first, because the order they are numbered in depends on all of them
// (ledger.NumberLines), then writes them in transactions of numberBatch,
// each moving its lines and the state at once, conditional on the state it
// read. So it is safe to run twice at once and to run again after a
// failure.
func (st *Store) NumberHistory(ctx context.Context, tenant, accountID string) (int, error) {
	total := 0
	err := st.retry(ctx, func() error {
		n, err := st.numberWaiting(ctx, tenant, accountID)
		total += n
		return err
	})
	return total, err
}

func (st *Store) numberWaiting(ctx context.Context, tenant, id string) (int, error) {
	pk := accountPK(tenant, id)
	var waiting []item
	var start item
	for {
		out, err := st.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 st.table,
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: item{":pk": s(pk), ":p": s(skUnnumbered)},
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return 0, st.wrap(err)
		}
		waiting = append(waiting, out.Items...)
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	if len(waiting) == 0 {
		return 0, nil
	}
	got, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: key(pk, skHistoryState), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, st.wrap(err)
	}
	acc, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: st.table, Key: key(pk, skAccount), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, st.wrap(err)
	}
	r := reader{it: got.Item}
	state := ledger.HistoryState{Seq: r.int("seq"), Balance: r.num("balance"), LastPostedAt: r.time("last_posted_at")}
	ar := reader{it: acc.Item}
	var floor *decimal.Decimal
	if ar.bool("funds_checked") {
		floor = new(ar.num("overdraft_limit").Neg())
	}
	if ar.err != nil {
		return 0, ar.err
	}
	if r.err != nil {
		return 0, r.err
	}
	lines := make([]ledger.HistoryLine, len(waiting))
	waitingSK := make(map[string]string, len(waiting))
	for i, it := range waiting {
		if lines[i], err = decodeHistory(id, it); err != nil {
			return 0, err
		}
		waitingSK[lines[i].TransactionID] = str(it[attrSK])
	}
	numbered, next, uncovered := ledger.NumberLines(state, lines, floor)
	// A debit that no credit in sight covers: the credit that did
	// committed first but was not read (this run read just before it
	// landed, or a page before it). Every posting commits within its
	// deadline of its stamp, so after that the credit would be seen:
	// number such a debit as it stands then, and read again before.
	readAgain := false
	var overdue []ledger.HistoryLine
	for _, l := range uncovered {
		if time.Since(l.PostedAt) > ledger.PostingDeadline {
			overdue = append(overdue, l)
		} else {
			readAgain = true
		}
	}
	if len(overdue) > 0 {
		forced, _, _ := ledger.NumberLines(next, overdue, nil)
		numbered = append(numbered, forced...)
	}
	done := 0
	exists := got.Item != nil
	for len(numbered) > 0 {
		chunk := numbered[:min(numberBatch, len(numbered))]
		numbered = numbered[len(chunk):]
		last := chunk[len(chunk)-1]
		after := ledger.HistoryState{Seq: last.Seq, Balance: last.BalanceAfter, LastPostedAt: last.PostedAt}
		w := &writes{table: st.table}
		for i := range chunk {
			w.put(historyItem(tenant, &chunk[i]), notExists, nil)
			w.delete(key(pk, waitingSK[chunk[i].TransactionID]), "attribute_exists(pk)", nil)
		}
		if exists {
			w.put(historyStateItem(tenant, id, after), "seq = :seq", item{":seq": ni(state.Seq)})
		} else {
			w.put(historyStateItem(tenant, id, after), notExists, nil)
		}
		if err := st.commit(ctx, w, time.Now()); err != nil {
			// A lost race with another run of the sequencer, or an answer
			// lost after the commit: either way the next attempt reads
			// again and finds what is left.
			return done, st.wrap(err)
		}
		done += len(chunk)
		state, exists = after, true
	}
	if readAgain {
		return done, errRetry
	}
	return done, nil
}

// UnnumberedLines counts a hot account's lines still waiting for a number.
func (st *Store) UnnumberedLines(ctx context.Context, tenant, accountID string) (int, error) {
	total := 0
	var start item
	for {
		out, err := st.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 st.table,
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: item{":pk": s(accountPK(tenant, accountID)), ":p": s(skUnnumbered)},
			ConsistentRead:            aws.Bool(true),
			Select:                    "COUNT",
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return 0, err
		}
		total += int(out.Count)
		if start = out.LastEvaluatedKey; start == nil {
			return total, nil
		}
	}
}
