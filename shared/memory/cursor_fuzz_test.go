package memory

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/treasuryledger/treasury/shared/app"
	"github.com/treasuryledger/treasury/shared/ledger"
)

// FuzzCursor: whatever string comes as a cursor, the decoder answers either
// ledger.EMalformed or exactly the position of a cursor this store issued
// for that query; another spelling of an issued cursor (white space,
// padding bits, base64 variants) is malformed too.
func FuzzCursor(f *testing.F) {
	s := New()
	scopes := []string{
		scope("history", "t1", "acc_A", time.Time{}, time.Time{}, false),
		scope("history", "t1", "acc_A", time.Time{}, time.Time{}, true),
		scope("history", "t2", "acc_A", time.Time{}, time.Time{}, false),
		scope("accounts", "t1", "", "", "", ""),
	}
	issued := map[string]map[string]string{} // scope -> token -> position
	issue := func(sc, pos string) string {
		tok := s.encodeCursor(sc, pos)
		if issued[sc] == nil {
			issued[sc] = map[string]string{}
		}
		issued[sc][tok] = pos
		return tok
	}
	for _, pos := range []string{"H#2026-11-20T10:00:00.000Z#000000000001", "acc_03EK0E6800FVDJDA792W8CTRMD", "x", "é\x00~", strings.Repeat("z", 700)} {
		for _, sc := range scopes[:2] {
			tok := issue(sc, pos)
			f.Add(tok)
			f.Add(tok + "\n")
			f.Add(tok[:len(tok)-1])
			f.Add(strings.Replace(tok, ".", "..", 1))
		}
	}
	// A cursor from a real list.
	ctx := context.Background()
	for _, name := range []string{"One", "Two", "Three"} {
		now := time.Now()
		acc, _, err := ledger.NewAccount(ledger.NewAccountInput{Name: name, Kind: ledger.KindCash, Currency: "EUR"}, ledger.NewID(ledger.AccountPrefix, now), now, "alice")
		if err != nil {
			f.Fatal(err)
		}
		audit := ledger.NewAuditRecord(ledger.NewCaller("alice", "t1", "admin"), now, ledger.ActionAccountCreated, "account", acc.ID, []string{acc.ID}, acc.Settings())
		if _, err := s.CreateAccount(ctx, "t1", acc, nil, nil, "alice", audit); err != nil {
			f.Fatal(err)
		}
	}
	page, err := s.ListAccounts(ctx, "t1", app.AccountFilter{Limit: 1})
	if err != nil || page.NextCursor == "" {
		f.Fatalf("ListAccounts: %v, cursor %q", err, page.NextCursor)
	}
	issued[scopes[3]] = map[string]string{page.NextCursor: page.Items[0].ID}
	f.Add(page.NextCursor)
	f.Add("")
	f.Add("not a cursor")
	f.Add("." + strings.Repeat("A", 24))

	f.Fuzz(func(t *testing.T, token string) {
		for _, sc := range scopes {
			pos, err := s.decodeCursor(sc, token)
			if token == "" {
				if err != nil || pos != "" {
					t.Fatalf("no cursor decoded as %q, %v", pos, err)
				}
				continue
			}
			if err != nil {
				if ledger.ErrorCode(err) != ledger.EMalformed {
					t.Fatalf("decodeCursor(%q) = %v: not malformed", token, err)
				}
				continue
			}
			want, ok := issued[sc][token]
			if !ok || want != pos {
				t.Fatalf("decodeCursor accepted %q as %q for %s, which the store never issued (issued %v)", token, pos, sc, ok)
			}
		}
		// Whatever it was, the list answers malformed or a page, never
		// anything else.
		if _, err := s.ListAccounts(ctx, "t1", app.AccountFilter{Limit: 1, Cursor: token}); err != nil && ledger.ErrorCode(err) != ledger.EMalformed {
			t.Fatalf("ListAccounts with cursor %q: %v", token, err)
		}
	})
}
