package ledger

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func dtValidInput() NewAccountInput {
	return NewAccountInput{Name: "Petty Cash – Cluj", Kind: KindCash, Currency: "RON"}
}

func TestNewAccountDefaults(t *testing.T) {
	a, opening, err := NewAccount(NewAccountInput{Name: "  Petty Cash – Cluj  ", Kind: KindCash, Currency: "RON"},
		"acc_1", dtNow, "u_alice")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "acc_1" || a.Name != "Petty Cash – Cluj" || a.Kind != KindCash || a.Currency.Code != "RON" {
		t.Errorf("identity = %q %q %q %q", a.ID, a.Name, a.Kind, a.Currency.Code)
	}
	if !reflect.DeepEqual(a.Members, []string{"u_alice"}) {
		t.Errorf("members = %v, want [u_alice]", a.Members)
	}
	if a.Status != StatusActive || a.Version != 1 || !a.FundsChecked {
		t.Errorf("status %q version %d funds-checked %v, want active 1 true", a.Status, a.Version, a.FundsChecked)
	}
	dtEqDec(t, "balance", a.Balance, "0")
	dtEqDec(t, "pending", a.Pending, "0")
	dtEqDec(t, "overdraft", a.OverdraftLimit, "0")
	dtEqDec(t, "available", a.Available(), "0")
	dtEqDec(t, "opening", opening, "0")
	if a.ApprovalThreshold != nil {
		t.Errorf("approval threshold = %v, want none", a.ApprovalThreshold)
	}
	if string(a.Metadata) != "{}" {
		t.Errorf("metadata = %s, want {}", a.Metadata)
	}
	if a.Code != "" || a.IBAN != "" || a.Seq != 0 || !a.LastPostedAt.IsZero() {
		t.Errorf("code %q iban %q seq %d last %v, want empty", a.Code, a.IBAN, a.Seq, a.LastPostedAt)
	}
	if !a.CreatedAt.Equal(dtNow) || !a.UpdatedAt.Equal(dtNow) || a.CreatedBy != "u_alice" {
		t.Errorf("created %v by %q updated %v", a.CreatedAt, a.CreatedBy, a.UpdatedAt)
	}
}

func TestNewAccountFullInputAndOpening(t *testing.T) {
	in := NewAccountInput{
		Name: "Petty Cash – Cluj", Code: "5311.01", Kind: KindCash, Currency: "RON",
		OpeningBalance: dtPtr("2000.00"), OverdraftLimit: dtPtr("0.00"), ApprovalThreshold: dtPtr("5000.00"),
		IBAN: "RO49AAAA1B31007593840000", Members: []string{"u_alice", "u_bob"},
		Metadata: json.RawMessage(`{ "branch" : "Cluj" }`),
	}
	a, opening, err := NewAccount(in, "acc_1", dtNow, "u_carol")
	if err != nil {
		t.Fatal(err)
	}
	dtEqDec(t, "opening", opening, "2000")
	dtEqDec(t, "balance before the opening line", a.Balance, "0")
	if a.ApprovalThreshold == nil || !a.ApprovalThreshold.Equal(dtDec("5000")) {
		t.Errorf("approval threshold = %v, want 5000", a.ApprovalThreshold)
	}
	if a.IBAN != "RO49AAAA1B31007593840000" || a.Code != "5311.01" {
		t.Errorf("iban %q code %q", a.IBAN, a.Code)
	}
	if !reflect.DeepEqual(a.Members, []string{"u_alice", "u_bob"}) {
		t.Errorf("members = %v (the creator is not added when members are given)", a.Members)
	}
	if string(a.Metadata) != `{"branch":"Cluj"}` {
		t.Errorf("metadata = %s, want compact", a.Metadata)
	}

	b, err := Opening(a, opening, dtActor("u_carol"))
	if err != nil {
		t.Fatal(err)
	}
	u := dtUpdate(t, b, "acc_1")
	dtEqDec(t, "balance after opening", u.Account.Balance, "2000.00")
	if u.Line == nil || u.Line.Seq != 1 || u.Line.Kind != TxnOpening || u.Line.Type != Credit ||
		!u.Line.BalanceAfter.Equal(dtDec("2000")) || u.Line.CounterpartyAccountID != "external:RON" {
		t.Fatalf("opening line = %+v", u.Line)
	}
	if b.Txn.Kind != TxnOpening || b.Txn.Status != TxnPosted || b.Txn.ValueDate != "2026-11-20" {
		t.Errorf("opening txn kind %q status %q value date %q", b.Txn.Kind, b.Txn.Status, b.Txn.ValueDate)
	}
	if len(b.System) != 1 || b.System[0].AccountID != "external:RON" || !b.System[0].Delta.Equal(dtDec("-2000")) {
		t.Errorf("system = %+v, want external:RON -2000", b.System)
	}
	if a.Balance.Sign() != 0 || a.Seq != 0 {
		t.Errorf("Opening changed its input account: balance %s seq %d", a.Balance, a.Seq)
	}
}

func TestOpeningNegativeWithinOverdraft(t *testing.T) {
	a, opening, err := NewAccount(NewAccountInput{Name: "Card", Kind: KindWallet, Currency: "EUR",
		OpeningBalance: dtPtr("-300.00"), OverdraftLimit: dtPtr("300.00")}, "acc_1", dtNow, "u_alice")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Opening(a, opening, dtActor("u_alice"))
	if err != nil {
		t.Fatalf("an opening down to the overdraft limit is allowed: %v", err)
	}
	u := dtUpdate(t, b, "acc_1")
	dtEqDec(t, "balance", u.Account.Balance, "-300")
	dtEqDec(t, "available", u.Account.Available(), "0")
	if u.Line.Type != Debit || !u.Line.Amount.Equal(dtDec("300")) {
		t.Errorf("line = %s %s, want debit 300", u.Line.Type, u.Line.Amount)
	}
	if b.System[0].AccountID != "external:EUR" || !b.System[0].Delta.Equal(dtDec("300")) {
		t.Errorf("system = %+v, want external:EUR +300", b.System)
	}
}

func TestNewAccountValidation(t *testing.T) {
	members := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("u_%02d", i)
		}
		return out
	}
	metaKeys := func(n int) json.RawMessage {
		m := map[string]int{}
		for i := range n {
			m[fmt.Sprintf("k%02d", i)] = i
		}
		b, _ := json.Marshal(m)
		return b
	}
	// {"k":"xxx…"} is 8 bytes plus the x's.
	metaSize := func(total int) json.RawMessage {
		return json.RawMessage(`{"k":"` + strings.Repeat("x", total-8) + `"}`)
	}
	cases := []struct {
		name   string
		edit   func(*NewAccountInput)
		fields []string // none: valid
		check  func(*testing.T, *Account)
	}{
		{"valid minimal", func(*NewAccountInput) {}, nil, nil},
		{"name missing", func(in *NewAccountInput) { in.Name = "" }, []string{"name"}, nil},
		{"name blank", func(in *NewAccountInput) { in.Name = "   " }, []string{"name"}, nil},
		{"name 100 chars", func(in *NewAccountInput) { in.Name = strings.Repeat("a", 100) }, nil, nil},
		{"name 100 multibyte chars", func(in *NewAccountInput) { in.Name = strings.Repeat("ă", 100) }, nil,
			func(t *testing.T, a *Account) {
				if len([]rune(a.Name)) != 100 {
					t.Errorf("name has %d characters", len([]rune(a.Name)))
				}
			}},
		{"name 101 chars", func(in *NewAccountInput) { in.Name = strings.Repeat("a", 101) }, []string{"name"}, nil},
		{"name newline", func(in *NewAccountInput) { in.Name = "Petty\nCash" }, []string{"name"}, nil},
		{"name tab", func(in *NewAccountInput) { in.Name = "Petty\tCash" }, []string{"name"}, nil},
		{"name DEL", func(in *NewAccountInput) { in.Name = "Petty\x7fCash" }, []string{"name"}, nil},
		{"name NUL", func(in *NewAccountInput) { in.Name = "Petty\x00Cash" }, []string{"name"}, nil},
		{"name invalid UTF-8", func(in *NewAccountInput) { in.Name = "Petty\xffCash" }, []string{"name"}, nil},
		{"kind missing", func(in *NewAccountInput) { in.Kind = "" }, []string{"kind"}, nil},
		{"kind unknown", func(in *NewAccountInput) { in.Kind = "savings" }, []string{"kind"}, nil},
		{"kind upper case", func(in *NewAccountInput) { in.Kind = "Cash" }, []string{"kind"}, nil},
		{"kind bank", func(in *NewAccountInput) { in.Kind = KindBank }, nil, nil},
		{"kind budget", func(in *NewAccountInput) { in.Kind = KindBudget }, nil, nil},
		{"kind wallet", func(in *NewAccountInput) { in.Kind = KindWallet }, nil, nil},
		{"currency missing", func(in *NewAccountInput) { in.Currency = "" }, []string{"currency"}, nil},
		{"currency lower case", func(in *NewAccountInput) { in.Currency = "ron" }, []string{"currency"}, nil},
		{"currency unknown", func(in *NewAccountInput) { in.Currency = "XYZ" }, []string{"currency"}, nil},
		{"currency withdrawn", func(in *NewAccountInput) { in.Currency = "HRK" }, []string{"currency"}, nil},
		{"RON scale 2", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("10.25") }, nil, nil},
		{"RON scale 3", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("10.250") }, []string{"opening_balance"}, nil},
		{"JPY whole", func(in *NewAccountInput) { in.Currency, in.OpeningBalance = "JPY", dtPtr("1500") }, nil,
			func(t *testing.T, a *Account) {
				if a.Currency.MinorUnits != 0 {
					t.Errorf("JPY minor units %d", a.Currency.MinorUnits)
				}
			}},
		{"JPY fraction", func(in *NewAccountInput) { in.Currency, in.OpeningBalance = "JPY", dtPtr("1500.5") }, []string{"opening_balance"}, nil},
		{"BHD scale 3", func(in *NewAccountInput) { in.Currency, in.OpeningBalance = "BHD", dtPtr("1.234") }, nil, nil},
		{"BHD scale 4", func(in *NewAccountInput) { in.Currency, in.OpeningBalance = "BHD", dtPtr("1.2345") }, []string{"opening_balance"}, nil},
		{"opening separators", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("1,000.00") }, []string{"opening_balance"}, nil},
		{"opening exponent", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("1e3") }, []string{"opening_balance"}, nil},
		{"opening plus", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("+5") }, []string{"opening_balance"}, nil},
		{"opening empty string", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("") }, []string{"opening_balance"}, nil},
		{"opening 15 integer digits", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("999999999999999.99") }, nil, nil},
		{"opening 16 integer digits", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("1000000000000000") }, []string{"opening_balance"}, nil},
		{"opening zero", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("0.00") }, nil, nil},
		{"opening negative, no overdraft", func(in *NewAccountInput) { in.OpeningBalance = dtPtr("-0.01") }, []string{"opening_balance"}, nil},
		{"opening at minus overdraft", func(in *NewAccountInput) {
			in.OpeningBalance, in.OverdraftLimit = dtPtr("-100.00"), dtPtr("100.00")
		}, nil, nil},
		{"opening below minus overdraft", func(in *NewAccountInput) {
			in.OpeningBalance, in.OverdraftLimit = dtPtr("-100.01"), dtPtr("100.00")
		}, []string{"opening_balance"}, nil},
		{"approval threshold zero", func(in *NewAccountInput) { in.ApprovalThreshold = dtPtr("0.00") }, []string{"approval_threshold"}, nil},
		{"approval threshold negative", func(in *NewAccountInput) { in.ApprovalThreshold = dtPtr("-1.00") }, []string{"approval_threshold"}, nil},
		{"approval threshold one ban", func(in *NewAccountInput) { in.ApprovalThreshold = dtPtr("0.01") }, nil,
			func(t *testing.T, a *Account) {
				if a.ApprovalThreshold == nil || !a.ApprovalThreshold.Equal(dtDec("0.01")) {
					t.Errorf("threshold = %v", a.ApprovalThreshold)
				}
			}},
		{"approval threshold scale", func(in *NewAccountInput) { in.ApprovalThreshold = dtPtr("100.001") }, []string{"approval_threshold"}, nil},
		{"overdraft negative", func(in *NewAccountInput) { in.OverdraftLimit = dtPtr("-0.01") }, []string{"overdraft_limit"}, nil},
		{"overdraft zero", func(in *NewAccountInput) { in.OverdraftLimit = dtPtr("0") }, nil, nil},
		{"overdraft positive", func(in *NewAccountInput) { in.OverdraftLimit = dtPtr("250.50") }, nil,
			func(t *testing.T, a *Account) { dtEqDec(t, "available", a.Available(), "250.50") }},
		{"iban valid", func(in *NewAccountInput) { in.IBAN = "RO49AAAA1B31007593840000" }, nil, nil},
		{"iban lower case with spaces", func(in *NewAccountInput) { in.IBAN = "ro49 aaaa 1b31 0075 9384 0000" }, nil,
			func(t *testing.T, a *Account) {
				if a.IBAN != "RO49AAAA1B31007593840000" {
					t.Errorf("iban = %q, want normalised", a.IBAN)
				}
			}},
		{"iban shortest (NO, 15)", func(in *NewAccountInput) { in.IBAN = "NO9386011117947" }, nil, nil},
		{"iban German", func(in *NewAccountInput) { in.IBAN = "DE89370400440532013000" }, nil, nil},
		{"iban bad checksum", func(in *NewAccountInput) { in.IBAN = "RO48AAAA1B31007593840000" }, []string{"iban"}, nil},
		{"iban one digit off", func(in *NewAccountInput) { in.IBAN = "RO49AAAA1B31007593840001" }, []string{"iban"}, nil},
		{"iban too short", func(in *NewAccountInput) { in.IBAN = "RO49AAAA" }, []string{"iban"}, nil},
		{"iban too long", func(in *NewAccountInput) { in.IBAN = "RO49" + strings.Repeat("0", 31) }, []string{"iban"}, nil},
		{"iban punctuation", func(in *NewAccountInput) { in.IBAN = "RO49-AAAA-1B31-0075-9384-0000" }, []string{"iban"}, nil},
		{"members 50", func(in *NewAccountInput) { in.Members = members(50) }, nil,
			func(t *testing.T, a *Account) {
				if len(a.Members) != 50 {
					t.Errorf("members = %d", len(a.Members))
				}
			}},
		{"members 51", func(in *NewAccountInput) { in.Members = members(51) }, []string{"members"}, nil},
		{"members deduplicated and trimmed", func(in *NewAccountInput) { in.Members = []string{"u_a", " u_b ", "u_a", "u_b"} }, nil,
			func(t *testing.T, a *Account) {
				if !reflect.DeepEqual(a.Members, []string{"u_a", "u_b"}) {
					t.Errorf("members = %q, want [u_a u_b]", a.Members)
				}
			}},
		{"members empty id", func(in *NewAccountInput) { in.Members = []string{"u_a", " "} }, []string{"members"}, nil},
		{"members over-long id", func(in *NewAccountInput) { in.Members = []string{strings.Repeat("u", 129)} }, []string{"members"}, nil},
		{"metadata null", func(in *NewAccountInput) { in.Metadata = json.RawMessage("null") }, nil,
			func(t *testing.T, a *Account) {
				if string(a.Metadata) != "{}" {
					t.Errorf("metadata = %s", a.Metadata)
				}
			}},
		{"metadata canonical", func(in *NewAccountInput) { in.Metadata = json.RawMessage(`{"b": 1, "a": {"y": 2}}`) }, nil,
			func(t *testing.T, a *Account) {
				if string(a.Metadata) != `{"a":{"y":2},"b":1}` {
					t.Errorf("metadata = %s, want sorted and compact", a.Metadata)
				}
			}},
		{"metadata 20 keys", func(in *NewAccountInput) { in.Metadata = metaKeys(20) }, nil, nil},
		{"metadata 21 keys", func(in *NewAccountInput) { in.Metadata = metaKeys(21) }, []string{"metadata"}, nil},
		{"metadata 2048 bytes", func(in *NewAccountInput) { in.Metadata = metaSize(2048) }, nil, nil},
		{"metadata 2049 bytes", func(in *NewAccountInput) { in.Metadata = metaSize(2049) }, []string{"metadata"}, nil},
		{"metadata array", func(in *NewAccountInput) { in.Metadata = json.RawMessage(`["a"]`) }, []string{"metadata"}, nil},
		{"metadata string", func(in *NewAccountInput) { in.Metadata = json.RawMessage(`"branch"`) }, []string{"metadata"}, nil},
		{"metadata number", func(in *NewAccountInput) { in.Metadata = json.RawMessage(`42`) }, []string{"metadata"}, nil},
		{"metadata broken", func(in *NewAccountInput) { in.Metadata = json.RawMessage(`{"a":`) }, []string{"metadata"}, nil},
		{"code 64", func(in *NewAccountInput) { in.Code = strings.Repeat("9", 64) }, nil, nil},
		{"code 65", func(in *NewAccountInput) { in.Code = strings.Repeat("9", 65) }, []string{"code"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := dtValidInput()
			tc.edit(&in)
			a, _, err := NewAccount(in, "acc_1", dtNow, "u_alice")
			dtWantFields(t, err, tc.fields...)
			if len(tc.fields) > 0 {
				if a != nil {
					t.Errorf("an invalid input returned an account")
				}
				return
			}
			if a == nil {
				t.Fatal("no account")
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

func TestNewAccountReportsEveryBrokenField(t *testing.T) {
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("u_%d", i)
	}
	in := NewAccountInput{
		Name: "", Code: strings.Repeat("c", 65), Kind: "savings", Currency: "RON",
		OpeningBalance: dtPtr("1.001"), OverdraftLimit: dtPtr("-1.00"), ApprovalThreshold: dtPtr("0"),
		IBAN: "RO48AAAA1B31007593840000", Members: many, Metadata: json.RawMessage(`[]`),
	}
	_, _, err := NewAccount(in, "acc_1", dtNow, "u_alice")
	dtWantFields(t, err, "name", "code", "kind", "opening_balance", "overdraft_limit", "approval_threshold",
		"iban", "members", "metadata")
	e := dtLedgerErr(t, err, EValidation)
	if len(e.Fields) != 9 {
		t.Errorf("%d field errors, want one per field: %+v", len(e.Fields), e.Fields)
	}
	if e.Shortfall != nil {
		t.Errorf("a validation error carries a shortfall")
	}

	// With an unknown currency the amounts cannot be judged; the other
	// fields still are.
	in = NewAccountInput{Name: "", Kind: "", Currency: "eur", OpeningBalance: dtPtr("1.001")}
	_, _, err = NewAccount(in, "acc_1", dtNow, "u_alice")
	dtWantFields(t, err, "name", "kind", "currency")
}

// The contract bounds metadata at "2 KB as JSON". A 411-byte object is far
// below it and must be accepted.
//
// KNOWN BUG (account.go:451-452, checkMetadata): the size is measured on
// json.Marshal's output, which escapes '<', '>' and '&' as \u003c etc. (six
// bytes each), so this object is measured as 2411 bytes and refused with
// "is larger than 2 KB as JSON". The stored text is also rewritten
// ("a<b" → "a\u003cb"). The same check serves PATCH and every posting's
// metadata.
func TestNewAccountMetadataSizeIsTheJSONAsSent(t *testing.T) {
	for _, ch := range []string{"<", ">", "&"} {
		raw := json.RawMessage(`{"note":"` + strings.Repeat(ch, 400) + `"}`)
		if len(raw) > MaxMetadataSize {
			t.Fatalf("fixture is %d bytes", len(raw))
		}
		in := dtValidInput()
		in.Metadata = raw
		a, _, err := NewAccount(in, "acc_1", dtNow, "u_alice")
		if err != nil {
			t.Errorf("metadata of %d bytes with %q refused: %v", len(raw), ch, err)
			continue
		}
		var got, want map[string]string
		if json.Unmarshal(a.Metadata, &got) != nil || json.Unmarshal(raw, &want) != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("metadata changed its meaning: %s", a.Metadata)
		}
	}
}

func dtBaseAccount(t *testing.T) *Account {
	t.Helper()
	a, _, err := NewAccount(NewAccountInput{
		Name: "Main Bank", Code: "5121", Kind: KindBank, Currency: "RON",
		OverdraftLimit: dtPtr("500.00"), ApprovalThreshold: dtPtr("5000.00"),
		Members: []string{"u_alice", "u_bob"}, Metadata: json.RawMessage(`{"a":2,"b":1}`),
	}, "acc_M", dtNow.Add(-time.Hour), "u_alice")
	if err != nil {
		t.Fatal(err)
	}
	a.Balance = dtDec("1000.00")
	return a
}

func TestAccountApply(t *testing.T) {
	later := dtNow
	cases := []struct {
		name    string
		prepare func(*Account)
		patch   AccountPatch
		code    string   // error code, "" for success
		fields  []string // for validation errors
		changes []Change
		check   func(*testing.T, *Account)
	}{
		{name: "rename", patch: AccountPatch{Name: dtPtr("Main Bank – BT")},
			changes: []Change{{"name", "Main Bank", "Main Bank – BT"}},
			check: func(t *testing.T, a *Account) {
				if a.Name != "Main Bank – BT" {
					t.Errorf("name = %q", a.Name)
				}
			}},
		{name: "same name is no change", patch: AccountPatch{Name: dtPtr("  Main Bank ")}},
		{name: "empty name refused", patch: AccountPatch{Name: dtPtr(" ")}, code: EValidation, fields: []string{"name"}},
		{name: "long name refused", patch: AccountPatch{Name: dtPtr(strings.Repeat("n", 101))}, code: EValidation, fields: []string{"name"}},
		{name: "code", patch: AccountPatch{Code: dtPtr("5121.01")}, changes: []Change{{"code", "5121", "5121.01"}}},
		{name: "raise overdraft", patch: AccountPatch{OverdraftLimit: dtPtr("750")},
			changes: []Change{{"overdraft_limit", "500.00", "750.00"}},
			check:   func(t *testing.T, a *Account) { dtEqDec(t, "available", a.Available(), "1750") }},
		{name: "same overdraft other spelling", patch: AccountPatch{OverdraftLimit: dtPtr("500")}},
		{name: "negative overdraft", patch: AccountPatch{OverdraftLimit: dtPtr("-1")}, code: EValidation, fields: []string{"overdraft_limit"}},
		{name: "overdraft scale", patch: AccountPatch{OverdraftLimit: dtPtr("1.005")}, code: EValidation, fields: []string{"overdraft_limit"}},
		{name: "overdraft cut leaving available at zero",
			prepare: func(a *Account) { a.Balance = dtDec("-200.00") },
			patch:   AccountPatch{OverdraftLimit: dtPtr("200.00")},
			changes: []Change{{"overdraft_limit", "500.00", "200.00"}},
			check:   func(t *testing.T, a *Account) { dtEqDec(t, "available", a.Available(), "0") }},
		{name: "overdraft cut leaving available below zero",
			prepare: func(a *Account) { a.Balance = dtDec("-200.00") },
			patch:   AccountPatch{OverdraftLimit: dtPtr("199.99")}, code: EConflict},
		{name: "overdraft cut counts pending holds",
			prepare: func(a *Account) { a.Balance, a.Pending = dtDec("100.00"), dtDec("300.00") },
			patch:   AccountPatch{OverdraftLimit: dtPtr("199.99")}, code: EConflict},
		{name: "overdraft cut to zero, funds fine", patch: AccountPatch{OverdraftLimit: dtPtr("0")},
			changes: []Change{{"overdraft_limit", "500.00", "0.00"}}},
		{name: "clear approval threshold", patch: AccountPatch{ClearApprovalThresh: true},
			changes: []Change{{"approval_threshold", "5000.00", nil}},
			check: func(t *testing.T, a *Account) {
				if a.ApprovalThreshold != nil {
					t.Errorf("threshold = %v, want none", a.ApprovalThreshold)
				}
			}},
		{name: "clear absent threshold is no change", prepare: func(a *Account) { a.ApprovalThreshold = nil },
			patch: AccountPatch{ClearApprovalThresh: true}},
		{name: "set threshold from none", prepare: func(a *Account) { a.ApprovalThreshold = nil },
			patch: AccountPatch{ApprovalThreshold: dtPtr("100")}, changes: []Change{{"approval_threshold", nil, "100.00"}}},
		{name: "change threshold", patch: AccountPatch{ApprovalThreshold: dtPtr("7500.5")},
			changes: []Change{{"approval_threshold", "5000.00", "7500.50"}}},
		{name: "zero threshold refused", patch: AccountPatch{ApprovalThreshold: dtPtr("0")}, code: EValidation, fields: []string{"approval_threshold"}},
		{name: "set iban", patch: AccountPatch{IBAN: dtPtr("ro49 aaaa 1b31 0075 9384 0000")},
			changes: []Change{{"iban", "", "RO49AAAA1B31007593840000"}}},
		{name: "bad iban", patch: AccountPatch{IBAN: dtPtr("RO48AAAA1B31007593840000")}, code: EValidation, fields: []string{"iban"}},
		{name: "members replaced whole", patch: AccountPatch{MembersSet: true, Members: []string{"u_carol", "u_carol"}},
			changes: []Change{{"members", []string{"u_alice", "u_bob"}, []string{"u_carol"}}}},
		{name: "same members", patch: AccountPatch{MembersSet: true, Members: []string{"u_alice", "u_bob"}}},
		{name: "too many members", patch: AccountPatch{MembersSet: true, Members: make([]string, 51)}, code: EValidation, fields: []string{"members"}},
		{name: "same metadata other order", patch: AccountPatch{MetadataSet: true, Metadata: json.RawMessage(`{ "b":1, "a":2 }`)}},
		{name: "metadata replaced", patch: AccountPatch{MetadataSet: true, Metadata: json.RawMessage(`{"c":3}`)},
			changes: []Change{{"metadata", json.RawMessage(`{"a":2,"b":1}`), json.RawMessage(`{"c":3}`)}}},
		{name: "metadata not an object", patch: AccountPatch{MetadataSet: true, Metadata: json.RawMessage(`[1]`)}, code: EValidation, fields: []string{"metadata"}},
		{name: "freeze", patch: AccountPatch{Status: dtPtr(StatusFrozen)}, changes: []Change{{"status", "active", "frozen"}}},
		{name: "unfreeze", prepare: func(a *Account) { a.Status = StatusFrozen },
			patch: AccountPatch{Status: dtPtr(StatusActive)}, changes: []Change{{"status", "frozen", "active"}}},
		{name: "unknown status", patch: AccountPatch{Status: dtPtr("deleted")}, code: EValidation, fields: []string{"status"}},
		{name: "close with balance", patch: AccountPatch{Status: dtPtr(StatusClosed)}, code: EConflict},
		{name: "close with pending", prepare: func(a *Account) { a.Balance, a.Pending = dtDec("0"), dtDec("10") },
			patch: AccountPatch{Status: dtPtr(StatusClosed)}, code: EConflict},
		{name: "close overdrawn", prepare: func(a *Account) { a.Balance = dtDec("-0.01") },
			patch: AccountPatch{Status: dtPtr(StatusClosed)}, code: EConflict},
		{name: "close empty account", prepare: func(a *Account) { a.Balance = dtDec("0.00") },
			patch: AccountPatch{Status: dtPtr(StatusClosed)}, changes: []Change{{"status", "active", "closed"}}},
		{name: "close frozen empty account", prepare: func(a *Account) { a.Balance, a.Status = dtDec("0"), StatusFrozen },
			patch: AccountPatch{Status: dtPtr(StatusClosed)}, changes: []Change{{"status", "frozen", "closed"}}},
		{name: "closed is final: reopen", prepare: func(a *Account) { a.Balance, a.Status = dtDec("0"), StatusClosed },
			patch: AccountPatch{Status: dtPtr(StatusActive)}, code: EConflict},
		{name: "closed is final: rename", prepare: func(a *Account) { a.Balance, a.Status = dtDec("0"), StatusClosed },
			patch: AccountPatch{Name: dtPtr("Old bank")}, code: EConflict},
		{name: "if-match ok", patch: AccountPatch{Name: dtPtr("X"), ExpectedVersion: dtPtr(int64(1))},
			changes: []Change{{"name", "Main Bank", "X"}}},
		{name: "if-match stale", patch: AccountPatch{Name: dtPtr("X"), ExpectedVersion: dtPtr(int64(0))}, code: EPrecondition},
		{name: "if-match ahead", patch: AccountPatch{Name: dtPtr("X"), ExpectedVersion: dtPtr(int64(2))}, code: EPrecondition},
		{name: "if-match checked before closed", prepare: func(a *Account) { a.Balance, a.Status = dtDec("0"), StatusClosed },
			patch: AccountPatch{ExpectedVersion: dtPtr(int64(7))}, code: EPrecondition},
		{name: "several changes, one version", patch: AccountPatch{Name: dtPtr("Y"), OverdraftLimit: dtPtr("0"), Status: dtPtr(StatusFrozen)},
			changes: []Change{{"name", "Main Bank", "Y"}, {"overdraft_limit", "500.00", "0.00"}, {"status", "active", "frozen"}}},
		{name: "two invalid fields reported together",
			patch: AccountPatch{Name: dtPtr(""), IBAN: dtPtr("XX00"), OverdraftLimit: dtPtr("-5")}, code: EValidation,
			fields: []string{"name", "iban", "overdraft_limit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := dtBaseAccount(t)
			if tc.prepare != nil {
				tc.prepare(a)
			}
			before := *a
			changes, err := a.Apply(tc.patch, later)
			if tc.code != "" {
				e := dtLedgerErr(t, err, tc.code)
				if tc.code == EValidation {
					dtWantFields(t, e, tc.fields...)
				}
				if changes != nil {
					t.Errorf("a refused patch returned changes %v", changes)
				}
				if a.Version != before.Version {
					t.Errorf("a refused patch moved the version to %d", a.Version)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if len(changes) != len(tc.changes) || (len(changes) > 0 && !reflect.DeepEqual(changes, tc.changes)) {
				t.Fatalf("changes = %#v\nwant      %#v", changes, tc.changes)
			}
			if len(tc.changes) == 0 {
				if a.Version != before.Version || !a.UpdatedAt.Equal(before.UpdatedAt) {
					t.Errorf("no change moved version %d→%d / updated_at", before.Version, a.Version)
				}
			} else if a.Version != before.Version+1 || !a.UpdatedAt.Equal(later) {
				t.Errorf("version %d→%d updated %v, want one bump at %v", before.Version, a.Version, a.UpdatedAt, later)
			}
			if !a.Balance.Equal(before.Balance) || !a.Pending.Equal(before.Pending) || a.Seq != before.Seq {
				t.Errorf("settings change moved money: balance %s pending %s seq %d", a.Balance, a.Pending, a.Seq)
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

func TestAccountApplyVersionCountsEachRealChange(t *testing.T) {
	a := dtBaseAccount(t)
	steps := []struct {
		patch   AccountPatch
		version int64
	}{
		{AccountPatch{Name: dtPtr("One")}, 2},
		{AccountPatch{Name: dtPtr("One")}, 2},
		{AccountPatch{ExpectedVersion: dtPtr(int64(2)), Status: dtPtr(StatusFrozen)}, 3},
		{AccountPatch{Status: dtPtr(StatusFrozen)}, 3},
		{AccountPatch{ClearApprovalThresh: true}, 4},
		{AccountPatch{ClearApprovalThresh: true}, 4},
	}
	for i, s := range steps {
		if _, err := a.Apply(s.patch, dtNow.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if a.Version != s.version {
			t.Fatalf("step %d: version %d, want %d", i, a.Version, s.version)
		}
	}
	if _, err := a.Apply(AccountPatch{ExpectedVersion: dtPtr(int64(3)), Name: dtPtr("Two")}, dtNow); ErrorCode(err) != EPrecondition {
		t.Fatalf("stale If-Match: %v, want precondition-failed", err)
	}
}

func TestAccountCanPostAndMembers(t *testing.T) {
	for _, st := range []string{StatusFrozen, StatusClosed} {
		a := dtAcc(t, "acc_A", "RON", "0", withStatus(st))
		e := dtLedgerErr(t, a.CanPost(), EAccountClosed)
		if !strings.Contains(e.Message, st) {
			t.Errorf("message %q does not say %s", e.Message, st)
		}
	}
	a := dtAcc(t, "acc_A", "RON", "0")
	if err := a.CanPost(); err != nil {
		t.Errorf("active account: %v", err)
	}
	if !a.HasMember("u_bob") || a.HasMember("u_carol") || a.HasMember("") {
		t.Errorf("HasMember wrong for members %v", a.Members)
	}
	b := dtAcc(t, "acc_B", "RON", "100.00", withPending("30.00"), withOverdraft("50.00"))
	dtEqDec(t, "available", b.Available(), "120.00")
}
