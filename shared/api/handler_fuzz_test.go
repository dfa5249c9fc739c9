package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// FuzzCheckDuplicateKeys: checkDuplicateKeys never panics, answers only
// ledger errors, and, on any body encoding/json reads, agrees with an
// independent walk: a body it accepts holds no repeated key at any depth
// (keys compared as encoding/json decodes them, escapes included), and a
// body without one is not refused.
func FuzzCheckDuplicateKeys(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":2}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"b":1},{"b":2}]}`, `[{"a":1,"a":1}]`,
		`{"a":1,"\u0061":2}`, `{"a":{"a":{"a":1}},"b":[[],{}]}`, `{"x":"a","a":"x"}`, `{} {}`, `{"a":1} {"a":1}`,
		`{"a":[1,"a",{"a":null}],"b":true}`, "{\"\xff\":1,\"\xfe\":2}", `{"":1,"":2}`, `[1,2,3]`, `"a"`, `{"a":1,}`,
		`{"a" 1}`, `{"a":1`, ``, `   `, `{"k":"\"a\":1,\"a\":2"}`, `{"\ud800":1,"\ufffd":2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := checkDuplicateKeys(body)
		if err != nil {
			var le *ledger.Error
			if !errors.As(err, &le) || le.Code != ledger.EMalformed {
				t.Fatalf("checkDuplicateKeys(%q) = %v: not a malformed ledger error", body, err)
			}
		}
		values, ok := topValues(body)
		if !ok {
			// Not JSON: decodeStrict refuses it after this check. (This
			// check itself lets a body cut short pass, since the decoder's
			// Token answers io.EOF inside an unclosed object; a repeated
			// key before the cut is still found.)
			return
		}
		var dup string
		found := false
		for _, v := range values {
			if _, k, d := walkValue(v, 0); d {
				dup, found = k, true
				break
			}
		}
		switch {
		case found && err == nil:
			t.Fatalf("checkDuplicateKeys accepted %q, which repeats the key %q", body, dup)
		case !found && err != nil:
			t.Fatalf("checkDuplicateKeys refused %q (%v), which repeats no key", body, err)
		}
	})
}

// topValues splits a body into its top-level JSON values the way a
// json.Decoder reads a stream; false when one of them is not valid JSON.
func topValues(body []byte) ([]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []json.RawMessage
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return out, true
		}
		if err != nil {
			return nil, false
		}
		out = append(out, raw)
	}
}

// walkValue walks one valid JSON value from b[i], recursively, and reports
// the first key an object repeats. It reads the text itself; only a key's
// literal is decoded by encoding/json, so that keys compare as decoded.
func walkValue(b []byte, i int) (next int, dupKey string, dup bool) {
	i = skipSpace(b, i)
	switch b[i] {
	case '{':
		keys := map[string]bool{}
		i = skipSpace(b, i+1)
		if b[i] == '}' {
			return i + 1, "", false
		}
		for {
			i = skipSpace(b, i)
			end := stringEnd(b, i)
			var k string
			_ = json.Unmarshal(b[i:end], &k)
			if keys[k] {
				return end, k, true
			}
			keys[k] = true
			i = skipSpace(b, end) + 1 // the colon
			var d bool
			if i, dupKey, d = walkValue(b, i); d {
				return i, dupKey, true
			}
			i = skipSpace(b, i)
			if b[i] == '}' {
				return i + 1, "", false
			}
			i++ // the comma
		}
	case '[':
		i = skipSpace(b, i+1)
		if b[i] == ']' {
			return i + 1, "", false
		}
		for {
			var d bool
			if i, dupKey, d = walkValue(b, i); d {
				return i, dupKey, true
			}
			i = skipSpace(b, i)
			if b[i] == ']' {
				return i + 1, "", false
			}
			i++ // the comma
		}
	case '"':
		return stringEnd(b, i), "", false
	default:
		for i < len(b) && !bytes.ContainsRune([]byte(",]} \t\r\n"), rune(b[i])) {
			i++
		}
		return i, "", false
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// stringEnd is the index just after the string literal starting at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}
