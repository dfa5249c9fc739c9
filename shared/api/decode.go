package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/treasuryledger/treasury/shared/ledger"
)

// MaxBodyBytes is the contract's limit on a request body.
const MaxBodyBytes = 64 << 10

// readBody reads a JSON body within the limit, checking its media type.
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
			return nil, ledger.Errorf(ledger.EUnsupportedMedia, "Send the body as application/json.")
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, ledger.Errorf(ledger.EMalformed, "The body could not be read.")
	}
	if len(body) > MaxBodyBytes {
		return nil, ledger.Errorf(ledger.ETooLarge, "The body is larger than 64 KiB.")
	}
	// encoding/json would store invalid UTF-8 as U+FFFD: refuse it instead.
	if !utf8.Valid(body) {
		return nil, ledger.Errorf(ledger.EMalformed, "The body is not valid UTF-8.")
	}
	return body, nil
}

// decodeStrict parses body into v. Malformed JSON, duplicate keys, unknown
// fields and trailing data are 400; a value of the wrong JSON type (a number
// where an amount string belongs) is a 422 on that field.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return ledger.Errorf(ledger.EMalformed, "The request needs a JSON body.")
	}
	if err := checkDuplicateKeys(body); err != nil {
		return err
	}
	if err := checkExactKeys(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return ledger.Errorf(ledger.EMalformed, "The body must be a JSON object.")
		}
		msg := "must be " + jsonKind(te.Type.Kind().String())
		if te.Value == "number" && te.Type.Kind().String() == "string" {
			msg = "must be a string (amounts are decimal strings such as \"12.50\", never numbers)"
		}
		return &ledger.Error{Code: ledger.EValidation, Message: "The request has invalid fields.",
			Fields: []ledger.FieldError{{Field: field, Message: msg}}}
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &ledger.Error{Code: ledger.EMalformed, Message: "The body has a field this route does not take.",
			Fields: []ledger.FieldError{{Field: name, Message: "is not a known field"}}}
	case err != nil:
		return ledger.Errorf(ledger.EMalformed, "The body is not valid JSON.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return ledger.Errorf(ledger.EMalformed, "The body has data after its JSON value.")
	}
	return nil
}

// checkExactKeys holds every key of the body to the exact name of a field
// of t (struct json tags, through pointers, slices and nested structs):
// encoding/json matches keys case-insensitively and through Unicode case
// folding, so without this {"amount":"1.00","AMOUNT":"900.00"} passes the
// duplicate check and books 900.00. A key that matches no field exactly is
// an unknown field (400). Fields of other types (json.RawMessage, maps)
// hold free-form JSON and are not looked into.
func checkExactKeys(body []byte, t reflect.Type) error {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil // decodeStrict reports malformed JSON itself
	}
	return exactKeys(doc, t, "")
}

func exactKeys(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		items, ok := v.([]any)
		if !ok || t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i, it := range items {
			if err := exactKeys(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		for k, val := range obj {
			ft, ok := fields[k]
			name := k
			if path != "" {
				name = path + "." + k
			}
			if !ok {
				return &ledger.Error{Code: ledger.EMalformed, Message: "The body has a field this route does not take.",
					Fields: []ledger.FieldError{{Field: name, Message: "is not a known field (field names match exactly)"}}}
			}
			if err := exactKeys(val, ft, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of a struct's fields, embedded structs'
// included, to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "bool":
		return "true or false"
	default:
		return "a number"
	}
}

// checkDuplicateKeys walks the JSON tokens: encoding/json silently keeps the
// last of two equal keys, and a ledger must not guess which amount was meant.
func checkDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		keys     map[string]bool
		isObject bool
		wantKey  bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return ledger.Errorf(ledger.EMalformed, "The body is not valid JSON.")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				if top != nil && top.isObject {
					top.wantKey = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, isObject: true, wantKey: true})
			case '[':
				if top != nil && top.isObject {
					top.wantKey = true
				}
				stack = append(stack, &frame{})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top != nil && top.isObject {
			if top.wantKey {
				k := fmt.Sprint(tok)
				if top.keys[k] {
					return &ledger.Error{Code: ledger.EMalformed, Message: "The body repeats a key.",
						Fields: []ledger.FieldError{{Field: k, Message: "appears twice"}}}
				}
				top.keys[k] = true
				top.wantKey = false
			} else {
				top.wantKey = true
			}
		}
	}
}
