package ledger

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestTransactionAsOfPendingApprovedReversed(t *testing.T) {
	created, acc := dtPendingWithdrawal(t)
	approvedAt := dtNow.Add(time.Hour)
	ab, err := Approve(created, dtAccounts(acc), Actor{Sub: "u_bob", Now: approvedAt})
	if err != nil {
		t.Fatal(err)
	}
	_, reversed, err := Reverse(ab.Txn, dtAccounts(dtUpdate(t, ab, "acc_A").Account), ReverseInput{Reason: "dup"},
		Actor{Sub: "u_carol", Now: dtNow.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if reversed.Status != TxnReversed || reversed.ReversedBy == "" || reversed.ApprovedBy != "u_bob" {
		t.Fatalf("fixture: %+v", reversed)
	}

	c := reversed.AsOf(StepCreated)
	if c.Status != TxnPending || !c.PostedAt.IsZero() || c.PostedBy != "" || !c.ApprovedAt.IsZero() || c.ApprovedBy != "" || c.ReversedBy != "" {
		t.Errorf("as of created: status %q posted %v %q approved %v %q reversed by %q, want pending and nothing else",
			c.Status, c.PostedAt, c.PostedBy, c.ApprovedAt, c.ApprovedBy, c.ReversedBy)
	}
	if c.ID != created.ID || c.CreatedBy != "u_alice" || !c.CreatedAt.Equal(dtNow) || c.Payee != "ACME" || len(c.Lines) != 2 {
		t.Errorf("as of created lost what the creation said: %+v", c)
	}

	a := reversed.AsOf(StepApproved)
	if a.Status != TxnPosted || a.ReversedBy != "" || a.ApprovedBy != "u_bob" || !a.ApprovedAt.Equal(approvedAt) ||
		a.PostedBy != "u_bob" || !a.PostedAt.Equal(approvedAt) {
		t.Errorf("as of approved: status %q reversed by %q approved %q %v posted %q %v",
			a.Status, a.ReversedBy, a.ApprovedBy, a.ApprovedAt, a.PostedBy, a.PostedAt)
	}
	if reversed.Status != TxnReversed || reversed.ReversedBy == "" {
		t.Errorf("AsOf changed its receiver")
	}
}

func TestTransactionAsOfOtherLives(t *testing.T) {
	// Rejected: as of creation it was pending, without the rejection.
	created, acc := dtPendingWithdrawal(t)
	rb, err := Reject(created, dtAccounts(acc), "no invoice", Actor{Sub: "u_bob", Now: dtNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c := rb.Txn.AsOf(StepCreated)
	if c.Status != TxnPending || c.RejectedBy != "" || !c.RejectedAt.IsZero() || c.Reason != "" {
		t.Errorf("rejected as of created: %q %q %v %q", c.Status, c.RejectedBy, c.RejectedAt, c.Reason)
	}
	if r := rb.Txn.AsOf(StepRejected); r.Status != TxnRejected || r.Reason != "no invoice" || r.RejectedBy != "u_bob" {
		t.Errorf("rejected as of rejected: %q %q %q", r.Status, r.Reason, r.RejectedBy)
	}

	// Posted at once and reversed later: as of creation it was posted, with
	// its posting time, and not reversed.
	b, err := Entry(dtAcc(t, "acc_A", "RON", "100"), EntryInput{Type: Credit, Amount: "5"}, dtActor("u_alice"))
	if err != nil {
		t.Fatal(err)
	}
	_, rev, err := Reverse(b.Txn, dtAccounts(dtUpdate(t, b, "acc_A").Account), ReverseInput{Reason: "typo"}, dtActor("u_bob"))
	if err != nil {
		t.Fatal(err)
	}
	p := rev.AsOf(StepCreated)
	if p.Status != TxnPosted || p.ReversedBy != "" || !p.PostedAt.Equal(dtNow) || p.PostedBy != "u_alice" {
		t.Errorf("entry as of created: %q reversed by %q posted %v %q", p.Status, p.ReversedBy, p.PostedAt, p.PostedBy)
	}
	// A reversal reason stays: it belongs to a reversal, not a rejection.
	rv := Transaction{Kind: TxnReversal, Status: TxnPosted, InitialStatus: TxnPosted, Reason: "typo"}
	if got := rv.AsOf(StepCreated); got.Reason != "typo" {
		t.Errorf("reversal reason dropped: %q", got.Reason)
	}
}

func TestPeriodStatus(t *testing.T) {
	closing := dtNow
	p := &Period{Month: "2026-10", ClosingAt: closing, ClosedBy: "u_ctrl"}
	cases := []struct {
		name string
		p    *Period
		now  time.Time
		want string
	}{
		{"never closed (no record)", nil, dtNow, PeriodOpen},
		{"record without closing time", &Period{Month: "2026-10"}, dtNow, PeriodOpen},
		{"at the close", p, closing, PeriodClosing},
		{"within the deadline", p, closing.Add(PostingDeadline - time.Millisecond), PeriodClosing},
		{"at the deadline", p, closing.Add(PostingDeadline), PeriodClosed},
		{"long after", p, closing.Add(48 * time.Hour), PeriodClosed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.StatusAt(tc.now); got != tc.want {
				t.Errorf("StatusAt = %q, want %q", got, tc.want)
			}
			err := tc.p.AcceptsPostings(tc.now)
			if tc.want == PeriodOpen {
				if err != nil {
					t.Errorf("open period refused: %v", err)
				}
				return
			}
			e := dtLedgerErr(t, err, EPeriodClosed)
			if !strings.Contains(e.Message, "2026-10") || !strings.Contains(e.Message, tc.want) {
				t.Errorf("message %q does not name the month and its state", e.Message)
			}
		})
	}
	if PostingDeadline != 15*time.Second {
		t.Errorf("PostingDeadline = %v", PostingDeadline)
	}
	if got := p.ClosedAt(); !got.Equal(closing.Add(15 * time.Second)) {
		t.Errorf("ClosedAt = %v", got)
	}
	var none *Period
	if !none.ClosedAt().IsZero() || !(&Period{Month: "2026-10"}).ClosedAt().IsZero() {
		t.Errorf("an open period has a closing time")
	}
}

func TestValidMonthAndPeriodOf(t *testing.T) {
	for s, want := range map[string]bool{
		"2026-01": true, "2026-12": true, "1999-07": true,
		"2026-13": false, "2026-00": false, "2026-1": false, "26-01": false, "2026-01-01": false,
		"2026/01": false, "": false, " 2026-01": false, "2026-01 ": false, "202601": false,
	} {
		if got := ValidMonth(s); got != want {
			t.Errorf("ValidMonth(%q) = %v, want %v", s, got, want)
		}
	}
	for in, want := range map[string]string{"2026-11-20": "2026-11", "2026-01-31": "2026-01", "2026": ""} {
		if got := PeriodOf(in); got != want {
			t.Errorf("PeriodOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCallerScopes(t *testing.T) {
	every := []string{
		ScopeAccountsView, ScopeAccountsManage, ScopeAccountsAll, ScopeEntriesView, ScopeEntriesCreate, ScopeEntriesDelete,
		ScopeTransfersView, ScopeTransfersCreate, ScopeTransfersDelete, ScopeWithdrawalsView, ScopeWithdrawalsCreate,
		ScopeWithdrawalsApprove, ScopeWithdrawalsDelete, ScopeJournalCreate, ScopePeriodsClose, ScopeAuditView,
		"recurring:manage", "statements:import", "statements:reconcile", "exports:create", "reports:view", "fx:manage",
	}
	admin := NewCaller("u_root", "t_1", "admin")
	for _, s := range every {
		if !admin.Has(s) || admin.Require(s) != nil {
			t.Errorf("admin lacks %s", s)
		}
	}
	// Space-separated: a tab is no separator, so "entries:view\ttransfers:create"
	// is one scope that names no permission.
	c := NewCaller("u_alice", "t_1", "  accounts:view   entries:view\ttransfers:create journal:create ")
	if c.Sub != "u_alice" || c.Tenant != "t_1" || len(c.Scopes) != 3 {
		t.Errorf("caller %+v", c)
	}
	for _, s := range every {
		want := s == ScopeAccountsView || s == ScopeJournalCreate
		if c.Has(s) != want {
			t.Errorf("Has(%s) = %v, want %v", s, c.Has(s), want)
		}
	}
	e := dtLedgerErr(t, c.Require(ScopeWithdrawalsApprove), EForbidden)
	if !strings.Contains(e.Message, ScopeWithdrawalsApprove) {
		t.Errorf("message %q does not name the permission", e.Message)
	}
	if NewCaller("u", "t", "Admin").Has(ScopeAccountsView) || NewCaller("u", "t", "admin:all").Has(ScopeAccountsView) {
		t.Errorf("only the exact admin scope is admin")
	}
}

func TestMayView(t *testing.T) {
	cases := []struct {
		scope        string
		kind, revOf  string
		want         bool
		wantScope    string
		removeScope  string
		removeOfKind string
	}{
		{scope: "entries:view", kind: TxnEntry, want: true, wantScope: "entries:view"},
		{scope: "entries:view", kind: TxnOpening, want: true, wantScope: "entries:view"},
		{scope: "entries:view", kind: TxnAdjustment, want: true, wantScope: "entries:view"},
		{scope: "entries:view", kind: TxnJournal, want: true, wantScope: "entries:view"},
		{scope: "entries:view", kind: TxnTransfer, want: false, wantScope: "transfers:view"},
		{scope: "entries:view", kind: TxnWithdrawal, want: false, wantScope: "withdrawals:view"},
		{scope: "transfers:view", kind: TxnTransfer, want: true, wantScope: "transfers:view"},
		{scope: "transfers:view", kind: TxnExchange, want: true, wantScope: "transfers:view"},
		{scope: "transfers:view", kind: TxnEntry, want: false, wantScope: "entries:view"},
		{scope: "withdrawals:view", kind: TxnWithdrawal, want: true, wantScope: "withdrawals:view"},
		{scope: "withdrawals:approve", kind: TxnWithdrawal, want: false, wantScope: "withdrawals:view"},
		{scope: "journal:create", kind: TxnJournal, want: false, wantScope: "entries:view"},
		{scope: "transfers:view", kind: TxnReversal, revOf: TxnTransfer, want: true, wantScope: "transfers:view"},
		{scope: "transfers:view", kind: TxnReversal, revOf: TxnWithdrawal, want: false, wantScope: "withdrawals:view"},
		{scope: "entries:view", kind: TxnReversal, revOf: TxnJournal, want: true, wantScope: "entries:view"},
		{scope: "admin", kind: TxnReversal, revOf: "", want: false, wantScope: ""},
		{scope: "admin", kind: "refund", want: false, wantScope: ""},
		{scope: "admin", kind: TxnExchange, want: true, wantScope: "transfers:view"},
		{scope: "accounts:all", kind: TxnEntry, want: false, wantScope: "entries:view"},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s/%s/%s", tc.scope, tc.kind, tc.revOf)
		c := NewCaller("u", "t", tc.scope)
		if got := c.MayView(tc.kind, tc.revOf); got != tc.want {
			t.Errorf("%s: MayView = %v, want %v", name, got, tc.want)
		}
		if got := ViewScope(tc.kind, tc.revOf); got != tc.wantScope {
			t.Errorf("%s: ViewScope = %q, want %q", name, got, tc.wantScope)
		}
	}
	removes := map[string]string{
		TxnEntry: "entries:delete", TxnOpening: "entries:delete", TxnAdjustment: "entries:delete",
		TxnTransfer: "transfers:delete", TxnExchange: "transfers:delete", TxnWithdrawal: "withdrawals:delete",
		TxnJournal: "entries:delete", TxnReversal: "",
	}
	for kind, want := range removes {
		if got := RemoveScope(kind); got != want {
			t.Errorf("RemoveScope(%s) = %q, want %q", kind, got, want)
		}
		if !KnownKind(kind) {
			t.Errorf("KnownKind(%s) = false", kind)
		}
	}
	for _, k := range []string{"", "refund", "Entry"} {
		if KnownKind(k) {
			t.Errorf("KnownKind(%q) = true", k)
		}
	}
}

func TestMayActOn(t *testing.T) {
	acc := dtAcc(t, "acc_A", "RON", "0") // members u_alice, u_bob
	cases := []struct {
		sub, scope string
		want       bool
	}{
		{"u_alice", "accounts:view", true},
		{"u_bob", "", true},
		{"u_carol", "accounts:view accounts:manage", false},
		{"u_carol", "accounts:all", true},
		{"u_carol", "admin", true},
		{"U_ALICE", "accounts:view", false},
	}
	for _, tc := range cases {
		c := NewCaller(tc.sub, "t_1", tc.scope)
		if got := c.MayActOn(acc); got != tc.want {
			t.Errorf("%s with %q: MayActOn = %v, want %v", tc.sub, tc.scope, got, tc.want)
		}
		if got := c.SeesAllAccounts(); got != (tc.scope == "accounts:all" || tc.scope == "admin") {
			t.Errorf("%s with %q: SeesAllAccounts = %v", tc.sub, tc.scope, got)
		}
	}
}

// dtIDMillis decodes the time part of an id: its first ten base32 digits.
func dtIDMillis(t *testing.T, id, prefix string) int64 {
	t.Helper()
	var ms int64
	for _, ch := range strings.TrimPrefix(id, prefix)[:10] {
		i := strings.IndexRune(crockford, ch)
		if i < 0 {
			t.Fatalf("%q in %s", ch, id)
		}
		ms = ms<<5 | int64(i)
	}
	return ms
}

func TestNewID(t *testing.T) {
	for _, prefix := range []string{AccountPrefix, TransactionPrefix, AuditPrefix} {
		id := NewID(prefix, dtNow)
		if !strings.HasPrefix(id, prefix) || len(id) != len(prefix)+26 || !ValidID(id, prefix) {
			t.Errorf("NewID(%q) = %q", prefix, id)
		}
		if ms := dtIDMillis(t, id, prefix); ms != dtNow.UnixMilli() {
			t.Errorf("id %s carries %d ms, want %d", id, ms, dtNow.UnixMilli())
		}
		if strings.ContainsAny(strings.TrimPrefix(id, prefix), "ILOUilou") {
			t.Errorf("id %s has a letter Crockford leaves out", id)
		}
	}
	// Sortable by time: ids made 2 ms apart sort in the order they were made.
	var ids []string
	for i := range 200 {
		ids = append(ids, NewID(TransactionPrefix, dtNow.Add(time.Duration(2*i)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("ids made 2 ms apart do not sort in time order")
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("duplicate id %s", ids[i])
		}
	}
	// Later years too (the 48-bit time field at its top digits).
	if a, b := NewID(AccountPrefix, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)), NewID(AccountPrefix, dtNow); a <= b {
		t.Errorf("2099 id %s sorts before 2026 id %s", a, b)
	}
	// Unique within one millisecond.
	seen := map[string]bool{}
	for range 5000 {
		id := NewID(AccountPrefix, dtNow)
		if seen[id] {
			t.Fatalf("duplicate id %s in one millisecond", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	good := "01KAJ3Q9ZX8B4N7T2VWM5R6CDE" // 26 Crockford digits
	if len(good) != 26 {
		t.Fatalf("fixture length %d", len(good))
	}
	cases := []struct {
		s, prefix string
		want      bool
	}{
		{"acc_" + good, AccountPrefix, true},
		{"txn_" + good, TransactionPrefix, true},
		{"txn_" + good, AccountPrefix, false},
		{"ACC_" + good, AccountPrefix, false},
		{good, AccountPrefix, false},
		{"acc_", AccountPrefix, false},
		{"", AccountPrefix, false},
		{"acc_" + good[:25], AccountPrefix, false},
		{"acc_" + good + "0", AccountPrefix, false},
		{"acc_" + good[:25] + "I", AccountPrefix, false},
		{"acc_" + good[:25] + "L", AccountPrefix, false},
		{"acc_" + good[:25] + "O", AccountPrefix, false},
		{"acc_" + good[:25] + "U", AccountPrefix, false},
		{"acc_" + strings.ToLower(good), AccountPrefix, false},
		{"acc_" + good[:25] + "a", AccountPrefix, false},
		{"acc_" + good[:25] + "-", AccountPrefix, false},
		{"acc_" + good[:25] + "/", AccountPrefix, false},
		{"acc_" + good[:24] + "é", AccountPrefix, false},
		{"acc_" + good[:25] + " ", AccountPrefix, false},
		{"acc_../../" + good[:20], AccountPrefix, false},
	}
	for _, tc := range cases {
		if got := ValidID(tc.s, tc.prefix); got != tc.want {
			t.Errorf("ValidID(%q, %q) = %v, want %v", tc.s, tc.prefix, got, tc.want)
		}
	}
}

func TestSystemAccounts(t *testing.T) {
	ron := dtCur(t, "RON")
	if SystemAccountID(SystemExternal, ron) != "external:RON" || SystemAccountID(SystemFX, dtCur(t, "EUR")) != "fx:EUR" {
		t.Errorf("system ids %q %q", SystemAccountID(SystemExternal, ron), SystemAccountID(SystemFX, dtCur(t, "EUR")))
	}
	for id, want := range map[string]bool{"external:RON": true, "fx:USD": true, "acc_X": false, "external": false, "fxRON": false} {
		if IsSystemAccount(id) != want {
			t.Errorf("IsSystemAccount(%q) = %v", id, !want)
		}
	}
	txn := Transaction{Lines: []Line{{AccountID: "acc_A"}, {AccountID: "fx:EUR"}, {AccountID: "fx:USD"}, {AccountID: "acc_B"}}}
	if got := txn.AccountIDs(); strings.Join(got, ",") != "acc_A,acc_B" {
		t.Errorf("AccountIDs = %v", got)
	}
	l := Line{AccountID: "acc_A", Type: Debit, Amount: dtDec("5"), Currency: ron}
	if m := l.Mirror(); m.Type != Credit || !m.Amount.Equal(l.Amount) || m.AccountID != "acc_A" || !m.Signed().Equal(dtDec("5")) || !l.Signed().Equal(dtDec("-5")) {
		t.Errorf("mirror %+v", m)
	}
}

func TestUserIDsAndScopes(t *testing.T) {
	for id, want := range map[string]bool{
		"u_alice": true, strings.Repeat("é", 128): true, strings.Repeat("u", 129): false, "": false, "   ": false,
		"u_alice\nadmin": false, "u\x00": false, "u\tx": false, "\xff": false,
	} {
		if ValidUserID(id) != want {
			t.Errorf("ValidUserID(%q) = %v, want %v", id, !want, want)
		}
	}
	c := NewCaller("u", "t", "accounts:view  entries:view\tentries:create")
	if !c.Has("accounts:view") || !c.Has("entries:view\tentries:create") || c.Has("entries:create") {
		t.Errorf("scopes %v: want splitting on spaces only", c.Scopes)
	}
}
