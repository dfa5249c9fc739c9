package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
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

// unnumberedShards spreads the index of waiting lines (gsi1, for the
// backstop sweep) over a few partitions, so that the postings of hot
// accounts do not all write one.
const unnumberedShards = 8

func unnumberedIndexPK(shard int) string { return "HOTQ#" + strconv.Itoa(shard) }

// markUnnumbered lists a waiting line in gsi1 by its time, so the sweep
// finds lines left waiting by key (the index is sparse: a line leaves it
// when it is numbered and its waiting item deleted).
func markUnnumbered(it item, at time.Time) {
	it[attrGSI1PK] = s(unnumberedIndexPK(rand.IntN(unnumberedShards)))
	it[attrGSI1SK] = s(stamp(at) + "#" + str(it[attrPK]))
}

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

// part is one share of a hot account's balance, with the status (and its
// epoch) it was last given.
type part struct {
	sk        string
	balance   decimal.Decimal
	pending   decimal.Decimal
	spendable decimal.Decimal
	status    string
	epoch     int64
}

func partItem(tenant, accountID string, p part, status string, epoch int64) item {
	it := key(accountPK(tenant, accountID), p.sk)
	it["balance"] = n(p.balance)
	it["pending"] = n(p.pending)
	it["spendable"] = n(p.spendable)
	it["status"] = s(status)
	if epoch > 0 {
		it[attrStatusEpoch] = ni(epoch)
	}
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
		ps = append(ps, part{sk: r.str(attrSK), balance: r.num("balance"), pending: r.num("pending"), spendable: r.num("spendable"),
			status: r.str("status"), epoch: r.optInt(attrStatusEpoch)})
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
	// Taken from parts in random order: many debits at once that each
	// need several parts then rarely all reach for the same ones (richest
	// first, every one of them would, and all but one would fail).
	shuffled := append([]part(nil), parts...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var out []piece
	left := take
	for _, p := range shuffled {
		if !left.IsPositive() {
			break
		}
		if !p.spendable.IsPositive() {
			continue
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
// and the unnumbered history line. epoch is the account's status epoch as
// read, with the account active: a part still frozen from an earlier epoch
// is a leftover of a change of status that stopped part-way (the account
// item decides), and the posting sets it active again as it moves it. A
// part frozen at a later epoch was frozen after the read: the posting
// fails its condition and, built again, is refused.
func (w *writes) hotUpdate(tenant string, u *ledger.AccountUpdate, before *ledger.Account, parts []part, epoch int64, isNew bool) error {
	a := u.Account
	pk := accountPK(tenant, a.ID)
	if isNew {
		w.putAs(roleNew, accountItem(tenant, a, 1, 0), notExists, nil)
		for _, p := range newParts(a) {
			w.put(partItem(tenant, a.ID, p, a.Status, 0), notExists, nil)
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
		status := map[string]string{}
		for _, p := range parts {
			status[p.sk] = p.status
		}
		// Lifting a hold alone (a rejection) is allowed on a frozen
		// account, as for any account; everything else needs it active.
		needActive := !(dBal.IsZero() && dPend.IsNegative())
		for _, p := range pieces {
			var conds []string
			expr := "ADD balance :b, pending :p, spendable :s"
			values := item{":b": n(p.dBal), ":p": n(p.dPend), ":s": n(p.take.Neg())}
			var names map[string]string
			if p.take.IsPositive() {
				conds = append(conds, "spendable >= :take")
				values[":take"] = n(p.take)
			}
			switch {
			case needActive && status[p.sk] == ledger.StatusActive:
				conds = append(conds, "#status = :active")
				values[":active"] = s(ledger.StatusActive)
				names = map[string]string{"#status": "status"}
			case needActive:
				conds = append(conds, "(attribute_not_exists("+attrStatusEpoch+") OR "+attrStatusEpoch+" <= :epoch)")
				expr += " SET #status = :active, " + attrStatusEpoch + " = :epoch"
				values[":active"], values[":epoch"] = s(ledger.StatusActive), ni(epoch)
				names = map[string]string{"#status": "status"}
			}
			up := w.update(key(pk, p.sk), expr, values, names)
			if len(conds) > 0 {
				up.ConditionExpression = aws.String(strings.Join(conds, " AND "))
			}
		}
	}
	if u.Line != nil {
		it := historyItem(tenant, u.Line)
		it[attrSK] = s(unnumberedSK(u.Line))
		delete(it, "seq")
		delete(it, "balance_after")
		markUnnumbered(it, u.Line.PostedAt)
		w.put(it, "", nil)
	}
	return nil
}

// hotSettings adds the writes of a change of a hot account's settings to
// its parts: closing closes every part, on the parts as read, so that no
// posting slips in (freezing and unfreezing went before, setPartsStatus); a
// higher overdraft limit adds to the parts, a lower one takes from them;
// and an account that just became hot gets its parts and history state.
func (w *writes) hotSettings(tenant string, before, a *ledger.Account, parts []part, epoch int64) error {
	pk := accountPK(tenant, a.ID)
	if !before.Hot {
		for _, p := range newParts(a) {
			w.put(partItem(tenant, a.ID, p, a.Status, epoch), notExists, nil)
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
		// Freezing and unfreezing reach the parts after this write
		// (setPartsStatus); closing needs the parts as read, at once.
		for _, p := range parts {
			c := at(p.sk)
			c.set = append(c.set, "#status = :st", attrStatusEpoch+" = :epoch")
			c.vals[":st"], c.vals[":epoch"] = s(a.Status), ni(epoch)
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

// setPartsStatus copies a hot account's status (active or frozen), which
// its account item took first, to each of its parts that has another, one
// write per part, each retried on its own. One transaction over all 32
// parts would meet a posting on one of them nearly every time on a busy
// account (the bench of a freeze under load: 503 after 20 s, three times
// out of three). Part by part it only waits for the posting on that part.
//
// The account item decides for every posting that reads it. Freezing: the
// account item is frozen first, so every posting that reads it after is
// refused; one that read it active before and lands on a part not yet
// frozen lands before the freeze is answered, and none lands after it:
// each part, once frozen at the new epoch, fails its condition. Unfreezing:
// the account item is active first; a posting that meets a part still
// frozen from an older epoch takes it back itself (hotUpdate). So a change
// that stops part-way leaves nothing that postings can see; the next
// update of the account, even one that changes nothing, finishes it. Each
// write is conditional on the part's epoch, so a late write of an older
// change never undoes a newer one.
func (st *Store) setPartsStatus(ctx context.Context, tenant, id string, parts []part, status string, epoch int64) error {
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		if p.status == status && p.epoch >= epoch {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &writes{table: st.table}
			up := w.update(key(accountPK(tenant, id), p.sk), "SET #status = :st, "+attrStatusEpoch+" = :epoch",
				item{":st": s(status), ":epoch": ni(epoch)}, map[string]string{"#status": "status"})
			up.ConditionExpression = aws.String("attribute_exists(pk) AND (attribute_not_exists(" + attrStatusEpoch + ") OR " + attrStatusEpoch + " <= :epoch)")
			errs[i] = st.transact(ctx, op{
				name:    "set part status",
				build:   func(context.Context) (*attempt, error) { return &attempt{w: w, done: func() {}}, nil },
				refused: func(context.Context, map[string]bool) error { return nil }, // a newer change reached it first
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
// is left, or until the request's deadline is near (what is left waits for
// the next stream record or the sweep); it returns how many it numbered.
// Each step reads a bounded page of waiting lines, oldest first, and numbers
// what it can of them in one transaction conditional on the state it read,
// so memory does not grow with the backlog, every line is read about once,
// and it is safe to run twice at once and to run again after a failure.
func (st *Store) NumberHistory(ctx context.Context, tenant, accountID string) (int, error) {
	total := 0
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 2*ledger.AnswerReserve {
			return total, nil
		}
		numbered := 0
		err := st.transact(ctx, op{
			name: "number history",
			build: func(ctx context.Context) (*attempt, error) {
				return st.numberingStep(ctx, tenant, accountID, &numbered)
			},
		})
		total += numbered
		if err != nil || numbered == 0 {
			return total, err
		}
	}
}

// numberingStep reads the history state and pages of waiting lines until
// it finds lines it can number, and returns the transaction that numbers up
// to numberBatch of them; nil when nothing waits.
func (st *Store) numberingStep(ctx context.Context, tenant, id string, numbered *int) (*attempt, error) {
	pk := accountPK(tenant, id)
	items, err := st.batchGet(ctx, []item{key(pk, skHistoryState), key(pk, skAccount)})
	if err != nil {
		return nil, st.wrap(err)
	}
	var stateIt, accIt item
	for _, it := range items {
		if str(it[attrSK]) == skHistoryState {
			stateIt = it
		} else {
			accIt = it
		}
	}
	if accIt == nil {
		return nil, fmt.Errorf("hot account %s not found", id)
	}
	var state ledger.HistoryState
	if stateIt != nil {
		r := reader{it: stateIt}
		state = ledger.HistoryState{Seq: r.int("seq"), Balance: r.num("balance"), LastPostedAt: r.time("last_posted_at")}
		if r.err != nil {
			return nil, r.err
		}
	}
	ar := reader{it: accIt}
	var floor *decimal.Decimal
	if ar.bool("funds_checked") {
		floor = new(ar.num("overdraft_limit").Neg())
	}
	if ar.err != nil {
		return nil, ar.err
	}
	// Debits that no credit read so far covers wait in carry, in stamp
	// order, while later pages are read: the credit that covered one
	// committed first, and is further on (or not yet read).
	var carry []ledger.HistoryLine
	waitingSK := map[string]string{}
	var start item
	for {
		out, err := st.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 st.table,
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
			ExpressionAttributeValues: item{":pk": s(pk), ":p": s(skUnnumbered)},
			ConsistentRead:            aws.Bool(true),
			Limit:                     aws.Int32(numberBatch),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, st.wrap(err)
		}
		lines := make([]ledger.HistoryLine, 0, len(carry)+len(out.Items))
		lines = append(lines, carry...)
		for _, it := range out.Items {
			l, err := decodeHistory(id, it)
			if err != nil {
				return nil, err
			}
			waitingSK[l.TransactionID] = str(it[attrSK])
			lines = append(lines, l)
		}
		ready, _, uncovered := ledger.NumberLines(state, lines, floor)
		if len(ready) > 0 {
			return st.numberingWrites(tenant, id, state, stateIt != nil, ready, waitingSK, numbered), nil
		}
		carry = uncovered
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	if len(carry) == 0 {
		return nil, nil
	}
	// Every line is read and some debits are still uncovered. Every
	// posting commits within its deadline of its stamp, so a covering
	// credit older than that would have been read: number such a debit as
	// it stands, and wait for the others.
	var overdue []ledger.HistoryLine
	for _, l := range carry {
		if time.Since(l.PostedAt) > ledger.PostingDeadline {
			overdue = append(overdue, l)
		}
	}
	if len(overdue) == 0 {
		return nil, errRetry
	}
	forced, _, _ := ledger.NumberLines(state, overdue, nil)
	return st.numberingWrites(tenant, id, state, stateIt != nil, forced, waitingSK, numbered), nil
}

// numberingWrites moves up to numberBatch numbered lines (their unnumbered
// items out, the numbered ones in) and the state after them, conditional
// on the state they were numbered from.
func (st *Store) numberingWrites(tenant, id string, state ledger.HistoryState, exists bool, lines []ledger.HistoryLine, waitingSK map[string]string, numbered *int) *attempt {
	pk := accountPK(tenant, id)
	chunk := lines[:min(numberBatch, len(lines))]
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
	// A lost race with another run, or an answer lost after the commit:
	// either way the next step reads again and finds what is left.
	return &attempt{w: w, done: func() { *numbered = len(chunk) }}
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

// HotAccount names a hot account.
type HotAccount struct{ Tenant, ID string }

// WaitingSince lists the hot accounts that have a line waiting for its
// number since before t, from the sparse index of waiting lines: at most
// limit lines are read from each shard (the next sweep goes on).
func (st *Store) WaitingSince(ctx context.Context, t time.Time, limit int) ([]HotAccount, error) {
	seen := map[HotAccount]bool{}
	var out []HotAccount
	for shard := range unnumberedShards {
		res, err := st.query(ctx, &dynamodb.QueryInput{
			TableName:              st.table,
			IndexName:              aws.String(gsi1),
			KeyConditionExpression: aws.String("gsi1pk = :pk AND gsi1sk < :t"),
			ExpressionAttributeValues: item{
				":pk": s(unnumberedIndexPK(shard)), ":t": s(stamp(t)),
			},
			ProjectionExpression: aws.String("pk, sk"),
			Limit:                aws.Int32(int32(limit)),
		})
		if err != nil {
			return nil, err
		}
		for _, it := range res.Items {
			tenant, id, ok := UnnumberedLineAccount(str(it[attrPK]), str(it[attrSK]))
			if a := (HotAccount{tenant, id}); ok && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out, nil
}
