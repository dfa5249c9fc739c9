package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// applyBooking writes a booking's accounts, history lines, holds and system
// balances; the caller holds the lock and has checked its conditions. A hot
// account's line, which the domain leaves unnumbered, is numbered here at
// once (the DynamoDB store's sequencer does it shortly after the posting):
// its time is moved up to the account's last line if that is later, as
// ledger.NumberLines does.
func (tn *tenant) applyBooking(bk *ledger.Booking) {
	t := bk.Txn
	for _, u := range bk.Updates {
		a := cloneAccount(u.Account)
		rec := tn.accounts[a.ID]
		var prev *ledger.Account
		if rec == nil {
			rec = &accountRec{}
			tn.accounts[a.ID] = rec
		} else {
			prev = rec.acc
		}
		if u.Line != nil {
			l := *u.Line
			l.AccountID = a.ID
			l.PostedAt = norm(l.PostedAt)
			if a.Hot {
				seq, last := int64(0), time.Time{}
				if prev != nil {
					seq, last = prev.Seq, prev.LastPostedAt
				}
				if l.PostedAt.Before(last) {
					l.PostedAt = last
				}
				a.Seq, a.LastPostedAt = seq+1, l.PostedAt
				l.Seq, l.BalanceAfter = a.Seq, a.Balance
			}
			tn.history[a.ID] = append(tn.history[a.ID], l)
		}
		if u.HoldAdded != "" {
			tn.holds[a.ID] = append(tn.holds[a.ID], hold{key: holdKey(t.CreatedAt, t.ID), txn: t.ID})
		}
		if u.HoldReleased != "" {
			outcome := ledger.StepRejected
			if t.Status == ledger.TxnPosted {
				outcome = ledger.StepApproved
			}
			hs := tn.holds[a.ID]
			for i := range hs {
				if hs[i].txn == u.HoldReleased {
					hs[i].outcome = outcome
				}
			}
		}
		rec.acc = a
		rec.rev++
	}
	for _, d := range bk.System {
		tn.system[d.AccountID] = tn.system[d.AccountID].Add(d.Delta)
	}
}

func (tn *tenant) addAudit(a *ledger.AuditRecord) error {
	r, err := newAuditRec(a)
	if err != nil {
		return err
	}
	tn.auditIdx[a.ID] = len(tn.audit)
	tn.audit = append(tn.audit, r)
	return nil
}

// CreateAccount writes a new account with its name and code, its opening
// booking and its creation record, or answers the replay of the request
// that created it before.
func (s *Store) CreateAccount(_ context.Context, tenantID string, a *ledger.Account, opening *ledger.Booking, idem *app.Idempotency, caller string, audit *ledger.AuditRecord) (*app.Replay, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	tn := s.tenant(tenantID)
	if idem != nil {
		if r, ok := tn.idem[idemKey{caller, idem.Key}]; ok && r.live(now) {
			return checkReplay(r, idem)
		}
	}
	if tn.accounts[a.ID] != nil {
		// As the DynamoDB store: an account of this id can only be this
		// request's own.
		return nil, nil
	}
	if _, taken := tn.names[ledger.NameKey(a.Name)]; taken {
		return nil, ledger.Errorf(ledger.EConflict, "An account named %q already exists.", a.Name)
	}
	if a.Code != "" {
		if _, taken := tn.codes[ledger.NameKey(a.Code)]; taken {
			return nil, ledger.Errorf(ledger.EConflict, "An account with code %q already exists.", a.Code)
		}
	}
	if audit == nil {
		return nil, fmt.Errorf("memory: an account creation without its audit record")
	}
	rec, err := newAuditRec(audit)
	if err != nil {
		return nil, err
	}
	if opening != nil {
		tn.applyBooking(opening)
		tn.txns[opening.Txn.ID] = cloneTxn(opening.Txn)
	}
	if tn.accounts[a.ID] == nil {
		tn.accounts[a.ID] = &accountRec{acc: cloneAccount(a), rev: 1}
	}
	tn.names[ledger.NameKey(a.Name)] = a.ID
	if a.Code != "" {
		tn.codes[ledger.NameKey(a.Code)] = a.ID
	}
	tn.auditIdx[audit.ID] = len(tn.audit)
	tn.audit = append(tn.audit, rec)
	if idem != nil {
		tn.idem[idemKey{caller, idem.Key}] = idemRec{
			hash: idem.RequestHash, resource: a.ID, step: ledger.StepCreated, auditID: audit.ID, expires: now.Add(idempotencyTTL),
		}
	}
	return nil, nil
}

// AccountCreation returns the settings a replayed creation created the
// account with: the new values of the account.created record that the
// key's record names, as JSON.
func (s *Store) AccountCreation(_ context.Context, tenantID, caller string, idem *app.Idempotency) (map[string]json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenant(tenantID)
	if idem == nil {
		return nil, fmt.Errorf("memory: a creation is found by its idempotency key, and there is none")
	}
	r, ok := tn.idem[idemKey{caller, idem.Key}]
	if !ok || r.auditID == "" {
		return nil, fmt.Errorf("memory: the idempotency record of a created account names no creation record")
	}
	i, ok := tn.auditIdx[r.auditID]
	if !ok {
		return nil, fmt.Errorf("memory: the creation record %s is missing", r.auditID)
	}
	var cs []struct {
		Field string          `json:"field"`
		New   json.RawMessage `json:"new"`
	}
	if raw := tn.audit[i].changes; len(raw) > 0 {
		if err := json.Unmarshal(raw, &cs); err != nil {
			return nil, fmt.Errorf("memory: the creation record %s: %w", r.auditID, err)
		}
	}
	out := make(map[string]json.RawMessage, len(cs))
	for _, c := range cs {
		out[c.Field] = c.New
	}
	return out, nil
}

// UpdateAccount reads the account, lets fn change a copy, and writes it back
// with fn's audit record, unless fn returns none (then nothing is written)
// or the account moved meanwhile (then fn runs again on the new state).
func (s *Store) UpdateAccount(ctx context.Context, tenantID, id string, fn func(*ledger.Account) (*ledger.AuditRecord, error)) (*ledger.Account, error) {
	for range maxAttempts {
		if ctx.Err() != nil {
			return nil, busy()
		}
		s.mu.Lock()
		rec := s.tenant(tenantID).accounts[id]
		if rec == nil {
			s.mu.Unlock()
			return nil, ledger.NotFound("Account")
		}
		before, rev := cloneAccount(rec.acc), rec.rev
		s.mu.Unlock()

		a := cloneAccount(before)
		audit, err := fn(a)
		if err != nil {
			return nil, err
		}
		if audit == nil {
			return a, nil
		}
		done, err := s.commitUpdate(tenantID, id, rev, before, a, audit)
		if err != nil || done {
			if err != nil {
				return nil, err
			}
			return cloneAccount(a), nil
		}
	}
	return nil, busy()
}

func (s *Store) commitUpdate(tenantID, id string, rev int64, before, a *ledger.Account, audit *ledger.AuditRecord) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenant(tenantID)
	rec := tn.accounts[id]
	if rec == nil || rec.rev != rev {
		return false, nil
	}
	oldName, newName := ledger.NameKey(before.Name), ledger.NameKey(a.Name)
	oldCode, newCode := ledger.NameKey(before.Code), ledger.NameKey(a.Code)
	if oldName != newName {
		if _, taken := tn.names[newName]; taken {
			return false, ledger.Errorf(ledger.EConflict, "An account named %q already exists.", a.Name)
		}
	}
	if oldCode != newCode && newCode != "" {
		if _, taken := tn.codes[newCode]; taken {
			return false, ledger.Errorf(ledger.EConflict, "An account with code %q already exists.", a.Code)
		}
	}
	if err := tn.addAudit(audit); err != nil {
		return false, err
	}
	if oldName != newName {
		if tn.names[oldName] == id {
			delete(tn.names, oldName)
		}
		if newName != "" {
			tn.names[newName] = id
		}
	}
	if oldCode != newCode {
		if oldCode != "" && tn.codes[oldCode] == id {
			delete(tn.codes, oldCode)
		}
		if newCode != "" {
			tn.codes[newCode] = id
		}
	}
	stored := cloneAccount(a)
	stored.ID = id
	rec.acc = stored
	rec.rev++
	return true, nil
}

// ClosePeriod records that a month is closing, with its audit record; a
// second close is a conflict, and a replay answers the stored period.
func (s *Store) ClosePeriod(_ context.Context, tenantID string, p ledger.Period, idem *app.Idempotency, caller string, audit *ledger.AuditRecord) (*ledger.Period, *app.Replay, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	tn := s.tenant(tenantID)
	if idem != nil {
		if r, ok := tn.idem[idemKey{caller, idem.Key}]; ok && r.live(now) {
			replay, err := checkReplay(r, idem)
			if err != nil {
				return nil, nil, err
			}
			stored, ok := tn.periods[p.Month]
			if !ok {
				return nil, nil, busy()
			}
			return &stored, replay, nil
		}
	}
	if _, closed := tn.periods[p.Month]; closed {
		return nil, nil, ledger.Errorf(ledger.EConflict, "The period %s is already closing or closed.", p.Month)
	}
	if audit == nil {
		return nil, nil, fmt.Errorf("memory: a period close without its audit record")
	}
	if err := tn.addAudit(audit); err != nil {
		return nil, nil, err
	}
	stored := ledger.Period{Month: p.Month, ClosingAt: norm(p.ClosingAt), ClosedBy: p.ClosedBy}
	tn.periods[p.Month] = stored
	if idem != nil {
		tn.idem[idemKey{caller, idem.Key}] = idemRec{
			hash: idem.RequestHash, resource: p.Month, step: ledger.StepCreated, expires: now.Add(idempotencyTTL),
		}
	}
	out := p
	return &out, nil, nil
}

// read is what one attempt of a posting was decided on.
type read struct {
	state  *app.State
	revs   map[string]int64
	month  string
	period *ledger.Period // the stored record, nil when the month is open
	readAt time.Time
}

// Post loads what the request names, lets Build decide on copies, and
// applies the commit at once, unless something it was decided on moved
// meanwhile: then it reads and builds again.
func (s *Store) Post(ctx context.Context, req app.PostRequest) (*ledger.Transaction, *app.Replay, error) {
	for range maxAttempts {
		if ctx.Err() != nil {
			return nil, nil, busy()
		}
		rd, replay, err := s.readPost(req)
		if err != nil || replay != nil {
			return nil, replay, err
		}
		c, err := req.Build(rd.state)
		if err != nil {
			return nil, nil, err
		}
		if c == nil || c.Booking == nil || c.Booking.Txn == nil {
			return nil, nil, fmt.Errorf("memory: a posting without its booking")
		}
		if c.Audit == nil {
			return nil, nil, fmt.Errorf("memory: a posting without its audit record")
		}
		ok, err := s.commitPost(req, rd, c)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			return cloneTxn(c.Booking.Txn), nil, nil
		}
	}
	return nil, nil, busy()
}

func (s *Store) readPost(req app.PostRequest) (*read, *app.Replay, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenant(req.Tenant)
	st := &app.State{Accounts: map[string]*ledger.Account{}}
	ids := append([]string(nil), req.AccountIDs...)
	month := req.Month
	if req.TransactionID != "" {
		t := tn.txns[req.TransactionID]
		if t == nil {
			return nil, nil, ledger.NotFound("Transaction")
		}
		st.Transaction = cloneTxn(t)
		ids = append(ids, t.AccountIDs()...)
		if req.MonthOfTransaction {
			month = ledger.PeriodOf(t.ValueDate)
		}
	}
	readAt := s.now()
	if req.Idem != nil {
		if r, ok := tn.idem[idemKey{req.Caller, req.Idem.Key}]; ok && r.live(readAt) {
			replay, err := checkReplay(r, req.Idem)
			return nil, replay, err
		}
	}
	rd := &read{state: st, revs: map[string]int64{}, month: month, readAt: readAt}
	for _, id := range ids {
		if rec := tn.accounts[id]; rec != nil {
			st.Accounts[id] = cloneAccount(rec.acc)
			rd.revs[id] = rec.rev
		}
	}
	if month != "" {
		if p, ok := tn.periods[month]; ok {
			stored := p
			rd.period = &stored
			cp := p
			st.Period = &cp
		} else {
			st.Period = &ledger.Period{Month: month}
		}
	}
	st.Now = readAt
	return rd, nil, nil
}

// commitPost applies c if everything it was decided on still stands; false
// means build again.
func (s *Store) commitPost(req app.PostRequest, rd *read, c *app.Commit) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenant(req.Tenant)
	for _, u := range c.Booking.Updates {
		rev, wasRead := rd.revs[u.Account.ID]
		rec := tn.accounts[u.Account.ID]
		if !wasRead || rec == nil || rec.rev != rev {
			return false, nil
		}
	}
	t := c.Booking.Txn
	stored := tn.txns[t.ID]
	switch {
	case c.Replaces == "" && stored != nil,
		c.Replaces != "" && (stored == nil || stored.Status != c.Replaces):
		return false, nil
	}
	if c.Reversed != nil {
		if o := tn.txns[c.Reversed.ID]; o == nil || o.Status != ledger.TxnPosted {
			return false, nil
		}
	}
	if req.Idem != nil {
		if r, ok := tn.idem[idemKey{req.Caller, req.Idem.Key}]; ok && r.live(rd.readAt) {
			return false, nil // another request of this key landed: read its replay
		}
	}
	if rd.month != "" {
		p, ok := tn.periods[rd.month]
		if ok != (rd.period != nil) || (ok && !p.ClosingAt.Equal(rd.period.ClosingAt)) {
			return false, nil // the period began closing meanwhile
		}
	}
	rec, err := newAuditRec(c.Audit)
	if err != nil {
		return false, err
	}
	tn.applyBooking(c.Booking)
	tn.txns[t.ID] = cloneTxn(t)
	if c.Reversed != nil {
		tn.txns[c.Reversed.ID] = cloneTxn(c.Reversed)
	}
	tn.auditIdx[c.Audit.ID] = len(tn.audit)
	tn.audit = append(tn.audit, rec)
	if req.Idem != nil {
		tn.idem[idemKey{req.Caller, req.Idem.Key}] = idemRec{
			hash: req.Idem.RequestHash, resource: t.ID, step: c.Step, expires: rd.readAt.Add(idempotencyTTL),
		}
	}
	return true, nil
}
