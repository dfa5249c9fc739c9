package api

import (
	"encoding/json"
	"testing"

	"github.com/treasuryledger/treasury/shared/ledger"
)

type decodeLine struct {
	AccountID string `json:"account_id"`
	Amount    string `json:"amount"`
}

type decodeBody struct {
	details
	Type   string       `json:"type"`
	Amount string       `json:"amount"`
	Lines  []decodeLine `json:"lines"`
}

// TestDecodeStrictMatchesFieldNamesExactly: encoding/json matches keys
// case-insensitively and by Unicode folding, so a second spelling of a
// field slipped past the duplicate check and won.
func TestDecodeStrictMatchesFieldNamesExactly(t *testing.T) {
	cases := []struct {
		body, code, field string
	}{
		{`{"type":"credit","amount":"1.00"}`, "", ""},
		{`{"type":"credit","amount":"1.00","memo":"x","metadata":{"AMOUNT":1}}`, "", ""},
		{`{"type":"credit","amount":"1.00","AMOUNT":"900.00"}`, ledger.EMalformed, "AMOUNT"},
		{`{"type":"credit","Amount":"900.00"}`, ledger.EMalformed, "Amount"},
		{`{"\u212aind":"x","type":"credit"}`, ledger.EMalformed, "\u212aind"},
		{`{"type":"credit","MEMO":"x"}`, ledger.EMalformed, "MEMO"},
		{`{"lines":[{"account_id":"a","amount":"1.00"},{"account_id":"b","amount":"1.00","aMount":"9"}]}`, ledger.EMalformed, "lines[1].aMount"},
		{`{"type":"credit","amount":"1.00","amount":"2.00"}`, ledger.EMalformed, "amount"},
	}
	for _, c := range cases {
		var v decodeBody
		err := decodeStrict([]byte(c.body), &v)
		if c.code == "" {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		var le *ledger.Error
		if ledger.ErrorCode(err) != c.code || !errorsAs(err, &le) || len(le.Fields) == 0 || le.Fields[0].Field != c.field {
			t.Errorf("%s: %v; want %s on field %q", c.body, err, c.code, c.field)
		}
	}
}

func errorsAs(err error, target **ledger.Error) bool {
	e, ok := err.(*ledger.Error)
	*target = e
	return ok
}

// FuzzDecodeStrict: whatever the body, decoding answers an error value of
// the ledger (never a panic or a raw error), and a body it accepts holds no
// key that is not a field's exact name and no repeated key.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{"type":"credit","amount":"1.00"}`, `{"amount":"1","AMOUNT":"2"}`, `{"a":{"a":1,"a":2}}`,
		`{"lines":[{"account_id":"x","amount":"1"}]}`, `[1,2]`, `{"type":"credit"} {}`, `{"\u212aind":1}`, "{\"memo\":\"\xff\"}", ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v decodeBody
		err := decodeStrict(body, &v)
		if err != nil {
			if ledger.ErrorCode(err) == ledger.EInternal {
				t.Fatalf("decodeStrict(%q) = %v: not a ledger error", body, err)
			}
			return
		}
		if checkDuplicateKeys(body) != nil {
			t.Fatalf("accepted %q with a repeated key", body)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil {
			for k := range m {
				switch k {
				case "type", "amount", "lines", "memo", "reference", "value_date", "category", "metadata":
				default:
					t.Fatalf("accepted %q with key %q", body, k)
				}
			}
		}
	})
}
