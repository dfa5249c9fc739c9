package api

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/treasuryledger/treasury/shared/ledger"
	"github.com/treasuryledger/treasury/shared/money"
)

// openAPIFile is api/openapi.yaml, relative to this package's folder (go test
// runs in it).
const openAPIFile = "../../api/openapi.yaml"

// httpMethods are the operation fields of an OpenAPI 3.1 Path Item.
var httpMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true,
}

// pathItemFields are a Path Item's other fields; anything else (a misspelt
// method, say) would silently describe nothing.
var pathItemFields = map[string]bool{
	"$ref": true, "summary": true, "description": true, "servers": true, "parameters": true,
}

// loadOpenAPI parses the document and returns its root mapping.
func loadOpenAPI(t *testing.T) *yaml.Node {
	t.Helper()
	raw, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("read %s: %v", openAPIFile, err)
	}
	// Decoding into a map catches what a yaml.Node would let through:
	// duplicate keys, and a document that is not a mapping at all.
	var asMap map[string]any
	if err := yaml.Unmarshal(raw, &asMap); err != nil {
		t.Fatalf("%s does not decode as a mapping without duplicate keys: %v", openAPIFile, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse %s: %v", openAPIFile, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: the document must be one mapping", openAPIFile)
	}
	return doc.Content[0]
}

// deref follows YAML aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// get returns the value of key in a mapping, nil when absent or n is no mapping.
func get(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// pairs lists a mapping's keys and values in document order.
func pairs(n *yaml.Node) (keys []string, values []*yaml.Node) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
		values = append(values, deref(n.Content[i+1]))
	}
	return keys, values
}

// resolvePointer resolves a local JSON pointer ("#/components/schemas/X")
// in the document.
func resolvePointer(root *yaml.Node, ref string) *yaml.Node {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	n := root
	if ptr == "" {
		return n
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil
	}
	for _, seg := range strings.Split(ptr[1:], "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		n = deref(n)
		switch {
		case n == nil:
			return nil
		case n.Kind == yaml.MappingNode:
			n = get(n, seg)
		case n.Kind == yaml.SequenceNode:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
	}
	return deref(n)
}

// follow resolves n if it is a {$ref: ...} object.
func follow(root, n *yaml.Node) *yaml.Node {
	for i := 0; i < 10; i++ {
		ref := get(n, "$ref")
		if ref == nil {
			return n
		}
		n = resolvePointer(root, ref.Value)
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIVersion(t *testing.T) {
	root := loadOpenAPI(t)
	v := get(root, "openapi")
	if v == nil || !regexp.MustCompile(`^3\.1\.[0-9]+$`).MatchString(v.Value) {
		got := "<none>"
		if v != nil {
			got = v.Value
		}
		t.Fatalf("openapi must be 3.1.x, got %s", got)
	}
	for _, key := range []string{"info", "paths", "components"} {
		if get(root, key) == nil {
			t.Errorf("the document has no %s", key)
		}
	}
}

// TestOpenAPIMatchesRoutes checks the document against the route table: the
// same operations, named alike, secured alike.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	root := loadOpenAPI(t)
	paths := get(root, "paths")
	if paths == nil || paths.Kind != yaml.MappingNode {
		t.Fatal("paths must be a mapping")
	}

	want := map[string]Route{}
	for _, r := range Routes {
		want[r.Method+" "+r.Path] = r
	}

	type operation struct {
		node, pathItem *yaml.Node
	}
	have := map[string]operation{}
	pathKeys, pathItems := pairs(paths)
	for i, p := range pathKeys {
		item := pathItems[i]
		if item == nil || item.Kind != yaml.MappingNode {
			t.Errorf("paths[%s] must be a mapping", p)
			continue
		}
		fields, ops := pairs(item)
		for j, f := range fields {
			switch {
			case httpMethods[f]:
				have[strings.ToUpper(f)+" "+p] = operation{node: ops[j], pathItem: item}
			case !pathItemFields[f]:
				t.Errorf("paths[%s] has %q, which is not a Path Item field", p, f)
			}
		}
	}

	var missing, extra []string
	for k := range want {
		if _, ok := have[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("operations in Routes but not in %s:\n  %s", openAPIFile, strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("operations in %s but not in Routes:\n  %s", openAPIFile, strings.Join(extra, "\n  "))
	}

	schemes := get(get(root, "components"), "securitySchemes")
	if b := get(schemes, "bearerAuth"); b == nil {
		t.Error("components.securitySchemes has no bearerAuth")
	} else if typ, scheme, format := get(b, "type"), get(b, "scheme"), get(b, "bearerFormat"); typ == nil || typ.Value != "http" ||
		scheme == nil || scheme.Value != "bearer" || format == nil || format.Value != "JWT" {
		t.Error("bearerAuth must be type http, scheme bearer, bearerFormat JWT")
	}
	rootSecurity := get(root, "security")

	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := want[k]
		op, ok := have[k]
		if !ok {
			continue
		}
		if id := get(op.node, "operationId"); id == nil || id.Value != r.Name {
			got := "<none>"
			if id != nil {
				got = id.Value
			}
			t.Errorf("%s: operationId is %s, want %s", k, got, r.Name)
		}

		sec := get(op.node, "security")
		if r.Public {
			if sec == nil || sec.Kind != yaml.SequenceNode || len(sec.Content) != 0 {
				t.Errorf("%s is public: it must say security: []", k)
			}
			continue
		}
		if sec == nil {
			sec = rootSecurity
		}
		if sec == nil || sec.Kind != yaml.SequenceNode || len(sec.Content) == 0 {
			t.Errorf("%s needs a token: it must have a non-empty security requirement", k)
			continue
		}
		for _, req := range sec.Content {
			names, _ := pairs(req)
			if len(names) == 0 {
				// {} in the list means "or no token at all".
				t.Errorf("%s: an empty security requirement makes the token optional", k)
			}
			for _, name := range names {
				if get(schemes, name) == nil {
					t.Errorf("%s: security scheme %q is not in components.securitySchemes", k, name)
				}
			}
		}
	}

	// Path parameters: each {param} of a path is declared, required, and
	// nothing else is declared in: path. Every POST takes Idempotency-Key.
	templateParam := regexp.MustCompile(`\{([^}]+)\}`)
	for k, op := range have {
		path := k[strings.Index(k, " ")+1:]
		inPath := map[string]bool{}
		headers := map[string]bool{}
		for _, list := range []*yaml.Node{get(op.pathItem, "parameters"), get(op.node, "parameters")} {
			if list == nil {
				continue
			}
			for _, p := range list.Content {
				p = follow(root, p)
				name, in := get(p, "name"), get(p, "in")
				if name == nil || in == nil {
					t.Errorf("%s: a parameter without name or in", k)
					continue
				}
				switch in.Value {
				case "path":
					inPath[name.Value] = true
					if req := get(p, "required"); req == nil || req.Value != "true" {
						t.Errorf("%s: path parameter %s must be required: true", k, name.Value)
					}
				case "header":
					headers[strings.ToLower(name.Value)] = true
				}
			}
		}
		wantPath := map[string]bool{}
		for _, m := range templateParam.FindAllStringSubmatch(path, -1) {
			wantPath[m[1]] = true
		}
		if got, w := strings.Join(sortedKeys(inPath), ","), strings.Join(sortedKeys(wantPath), ","); got != w {
			t.Errorf("%s: path parameters declared [%s], the path has [%s]", k, got, w)
		}
		if strings.HasPrefix(k, "POST ") && !headers["idempotency-key"] {
			t.Errorf("%s: a POST must declare the Idempotency-Key header", k)
		}
	}
}

// TestOpenAPIRefsResolve checks that every $ref is local and points at
// something in the document.
func TestOpenAPIRefsResolve(t *testing.T) {
	root := loadOpenAPI(t)
	refs := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || n.Kind == yaml.AliasNode {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "$ref" && v.Kind == yaml.ScalarNode {
					refs++
					switch {
					case !strings.HasPrefix(v.Value, "#/"):
						t.Errorf("line %d: $ref %q is not a local reference (#/...)", v.Line, v.Value)
					case resolvePointer(root, v.Value) == nil:
						t.Errorf("line %d: $ref %q points at nothing", v.Line, v.Value)
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	if refs == 0 {
		t.Error("no $ref found: the walk is broken or the document is not what it should be")
	}
}

// ---- Schemas against the code ------------------------------------------
//
// The document states the server's rules as JSON Schema where it can. The
// tests below hold those schemas to the code that enforces the rules, and
// the document's own examples to its schemas, so that neither drifts.
// They need no Node: `make lint` (Redocly CLI) checks the examples too.

// schemaNamed returns components.schemas[name].
func schemaNamed(t *testing.T, root *yaml.Node, name string) *yaml.Node {
	t.Helper()
	s := get(get(get(root, "components"), "schemas"), name)
	if s == nil {
		t.Fatalf("components.schemas has no %s", name)
	}
	return s
}

// ecmaSpace is what \s means in an ECMA-262 pattern (JSON Schema's regex
// dialect), written for Go's RE2, whose \s is ASCII only.
const ecmaSpace = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

// translateECMA rewrites the ECMA-262 escapes the document uses into RE2:
// \uXXXX becomes \x{XXXX} and \s its ECMA meaning. Anything RE2 cannot
// express (look-around other than a leading negative lookahead, which
// jsonPattern handles, or back-references) fails to compile, which fails
// the test: a pattern should stay portable to the regex engines that
// generated clients use.
func translateECMA(p string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			n := p[i+1]
			switch {
			case n == 'u' && i+5 < len(p):
				b.WriteString(`\x{` + p[i+2:i+6] + `}`)
				i += 5
			case n == 's':
				if inClass {
					b.WriteString(ecmaSpace)
				} else {
					b.WriteString("[" + ecmaSpace + "]")
				}
				i++
			default:
				b.WriteByte(c)
				b.WriteByte(n)
				i++
			}
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
		case c == ']' && inClass:
			inClass = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// jsonPattern compiles a JSON Schema pattern. A leading negative lookahead,
// ^(?!X)..., is the one look-around allowed: it becomes "does not match ^X".
type jsonPattern struct {
	not, re *regexp.Regexp
}

func compilePattern(t *testing.T, p string) jsonPattern {
	t.Helper()
	var jp jsonPattern
	rest := p
	if strings.HasPrefix(p, "^(?!") {
		depth, end := 0, -1
		for i := 1; i < len(p) && end < 0; i++ {
			switch p[i] {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					end = i
				}
			}
		}
		if end < 0 {
			t.Fatalf("pattern %q: unbalanced lookahead", p)
		}
		var err error
		if jp.not, err = regexp.Compile("^" + translateECMA(p[4:end])); err != nil {
			t.Fatalf("pattern %q: %v", p, err)
		}
		rest = "^" + p[end+1:]
	}
	re, err := regexp.Compile(translateECMA(rest))
	if err != nil {
		t.Fatalf("pattern %q is not portable (Go's RE2 cannot compile it): %v", p, err)
	}
	jp.re = re
	return jp
}

func (jp jsonPattern) match(s string) bool {
	if jp.not != nil && jp.not.MatchString(s) {
		return false
	}
	return jp.re.MatchString(s)
}

// validator is a small JSON Schema 2020-12 checker for the keywords this
// document uses. It reports the first few problems it finds.
type validator struct {
	t        *testing.T
	root     *yaml.Node
	patterns map[string]jsonPattern
}

func newValidator(t *testing.T, root *yaml.Node) *validator {
	return &validator{t: t, root: root, patterns: map[string]jsonPattern{}}
}

func (v *validator) pattern(p string) jsonPattern {
	jp, ok := v.patterns[p]
	if !ok {
		jp = compilePattern(v.t, p)
		v.patterns[p] = jp
	}
	return jp
}

// jsonType names the JSON type of a value decoded from YAML.
func jsonType(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int, int64, uint64:
		return "integer"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func decodeNode(t *testing.T, n *yaml.Node) any {
	t.Helper()
	var x any
	if err := n.Decode(&x); err != nil {
		t.Fatalf("line %d: %v", n.Line, err)
	}
	return x
}

func scalars(n *yaml.Node) []string {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, deref(c).Value)
	}
	return out
}

// validate returns what is wrong with x under schema s (nil when nothing).
func (v *validator) validate(s *yaml.Node, x any, at string) []string {
	s = deref(s)
	if s == nil {
		return nil
	}
	if s.Kind == yaml.ScalarNode { // boolean schema
		if s.Value == "false" {
			return []string{at + ": the schema false admits nothing"}
		}
		return nil
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if ref := get(s, "$ref"); ref != nil {
		target := resolvePointer(v.root, ref.Value)
		if target == nil {
			return []string{at + ": $ref " + ref.Value + " points at nothing"}
		}
		errs = append(errs, v.validate(target, x, at)...)
	}
	for _, sub := range nodes(get(s, "allOf")) {
		errs = append(errs, v.validate(sub, x, at)...)
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		subs := nodes(get(s, kw))
		if len(subs) == 0 {
			continue
		}
		matched := 0
		var first []string
		for _, sub := range subs {
			if e := v.validate(sub, x, at); len(e) == 0 {
				matched++
			} else if first == nil {
				first = e
			}
		}
		switch {
		case matched == 0:
			fail("matches none of %s (first: %s)", kw, strings.Join(first, "; "))
		case kw == "oneOf" && matched > 1:
			fail("matches %d schemas of oneOf", matched)
		}
	}
	typ := jsonType(x)
	if ts := scalars(get(s, "type")); len(ts) > 0 {
		ok := false
		for _, want := range ts {
			if want == typ || (want == "number" && typ == "integer") {
				ok = true
			}
		}
		if !ok {
			fail("is %s, not %s", typ, strings.Join(ts, " or "))
			return errs
		}
	}
	if enum := get(s, "enum"); enum != nil {
		found := false
		for _, e := range nodes(enum) {
			if fmt.Sprint(decodeNode(v.t, e)) == fmt.Sprint(x) {
				found = true
			}
		}
		if !found {
			fail("%v is not in the enum", x)
		}
	}
	if c := get(s, "const"); c != nil && fmt.Sprint(decodeNode(v.t, c)) != fmt.Sprint(x) {
		fail("%v is not the const %s", x, c.Value)
	}
	switch val := x.(type) {
	case string:
		n := utf8.RuneCountInString(val)
		if m := get(s, "minLength"); m != nil && n < atoi(m) {
			fail("%q is shorter than %s", val, m.Value)
		}
		if m := get(s, "maxLength"); m != nil && n > atoi(m) {
			fail("%q is longer than %s", val, m.Value)
		}
		if p := get(s, "pattern"); p != nil && !v.pattern(p.Value).match(val) {
			fail("%q does not match %s", val, p.Value)
		}
		if f := get(s, "format"); f != nil {
			layout := map[string]string{"date": time.DateOnly, "date-time": time.RFC3339Nano}[f.Value]
			if _, err := time.Parse(layout, val); layout != "" && err != nil {
				fail("%q is not a %s", val, f.Value)
			}
		}
	case []any:
		if m := get(s, "minItems"); m != nil && len(val) < atoi(m) {
			fail("has fewer than %s items", m.Value)
		}
		if m := get(s, "maxItems"); m != nil && len(val) > atoi(m) {
			fail("has more than %s items", m.Value)
		}
		if items := get(s, "items"); items != nil {
			for i, it := range val {
				errs = append(errs, v.validate(items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		if m := get(s, "maxProperties"); m != nil && len(val) > atoi(m) {
			fail("has more than %s properties", m.Value)
		}
		for _, r := range scalars(get(s, "required")) {
			if _, ok := val[r]; !ok {
				fail("lacks the required %s", r)
			}
		}
		props := get(s, "properties")
		for k, pv := range val {
			if ps := get(props, k); ps != nil {
				errs = append(errs, v.validate(ps, pv, at+"."+k)...)
			} else if ap := get(s, "additionalProperties"); ap != nil && ap.Value == "false" {
				fail("has %s, which the schema does not allow", k)
			}
		}
		if cond := get(s, "if"); cond != nil && len(v.validate(cond, x, at)) == 0 {
			errs = append(errs, v.validate(get(s, "then"), x, at)...)
		}
	}
	return errs
}

func nodes(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func atoi(n *yaml.Node) int {
	i, _ := strconv.Atoi(n.Value)
	return i
}

// TestOpenAPIExamplesValidate checks every example in the document against
// its schema: schema examples, parameter examples and media-type examples.
func TestOpenAPIExamplesValidate(t *testing.T) {
	root := loadOpenAPI(t)
	v := newValidator(t, root)
	checked := 0
	check := func(schema, example *yaml.Node, where string) {
		checked++
		for i, e := range v.validate(schema, decodeNode(t, example), "example") {
			if i == 3 {
				t.Errorf("line %d (%s): ...", example.Line, where)
				break
			}
			t.Errorf("line %d (%s): %s", example.Line, where, e)
		}
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		n = deref(n)
		if n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			keys, vals := pairs(n)
			schema := get(n, "schema")
			for i, k := range keys {
				switch {
				case k == "examples" && vals[i].Kind == yaml.SequenceNode && isSchema(n):
					// A schema's own examples (a list).
					for _, ex := range vals[i].Content {
						check(n, ex, path)
					}
				case k == "examples" && vals[i].Kind == yaml.MappingNode && schema != nil:
					// A media type's or parameter's named examples.
					_, exs := pairs(vals[i])
					for _, ex := range exs {
						if val := get(ex, "value"); val != nil {
							check(schema, val, path)
						}
					}
				case k == "example" && schema != nil:
					check(schema, vals[i], path)
				}
			}
			for i, k := range keys {
				walk(vals[i], path+"/"+k)
			}
			return
		}
		for i, c := range n.Content {
			walk(c, path+"/"+strconv.Itoa(i))
		}
	}
	walk(root, "#")
	if checked < 20 {
		t.Errorf("only %d examples checked: the walk is broken", checked)
	}
}

// isSchema tells a Schema Object (which holds a list of examples) from a
// Media Type or Parameter Object (which holds a map of them).
func isSchema(n *yaml.Node) bool {
	for _, k := range []string{"type", "$ref", "allOf", "anyOf", "oneOf", "pattern", "enum", "properties"} {
		if get(n, k) != nil {
			return true
		}
	}
	return false
}

// valid reports whether x passes the schema.
func (v *validator) valid(s *yaml.Node, x any) bool { return len(v.validate(s, x, "")) == 0 }

// TestOpenAPIAmountSchemas holds the amount schemas to the contract's money
// rules and to money.ParseAmount: a canonical amount the schema accepts is
// one the server accepts, and the server accepts no canonical amount that
// the schema refuses.
func TestOpenAPIAmountSchemas(t *testing.T) {
	root := loadOpenAPI(t)
	v := newValidator(t, root)
	amount, positive, nonNegative := schemaNamed(t, root, "Amount"), schemaNamed(t, root, "PositiveAmount"), schemaNamed(t, root, "NonNegativeAmount")

	for s, want := range map[string]bool{
		"1250.50": true, "0.01": true, "5": true, "0": true, "-20.00": true, "999999999999999.9999": true,
		"0000000000000001.00": false, "01.00": false, "1e3": false, "1E3": false, "+5.00": false, "1,000.00": false,
		"1234567890123456": false, "1 000": false, " 5": false, ".5": false, "5.": false, "": false, "1.23456": false,
		"NaN": false, "--1": false, "1.2.3": false, "１": false, "٣": false,
	} {
		if got := v.valid(amount, s); got != want {
			t.Errorf("Amount %q: schema says %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{
		"1250.50": true, "0.01": true, "5": true, "0.0001": true, "0.1000": true, "0.010": true,
		"0": false, "0.00": false, "0.0000": false, "-5.00": false, "-0.01": false, "00.01": false,
	} {
		if got := v.valid(positive, s); got != want {
			t.Errorf("PositiveAmount %q: schema says %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{"0": true, "0.00": true, "100.00": true, "-1.00": false, "-0": false} {
		if got := v.valid(nonNegative, s); got != want {
			t.Errorf("NonNegativeAmount %q: schema says %v, want %v", s, got, want)
		}
	}

	// Against the parser, for the currency with the most minor units (the
	// schemas allow 4 decimals; the server holds each currency to its own).
	clf, ok := money.LookupCurrency("CLF")
	if !ok || clf.MinorUnits != 4 {
		t.Fatalf("CLF should be an ISO 4217 currency with 4 minor units, got %+v", clf)
	}
	var corpus []string
	for _, sign := range []string{"", "-", "+"} {
		for _, whole := range []string{"", "0", "00", "1", "01", "10", "9", strings.Repeat("9", 15), "1" + strings.Repeat("0", 14),
			strings.Repeat("1", 16), strings.Repeat("0", 15) + "1"} {
			for _, frac := range []string{"", ".", ".0", ".00", ".000", ".0000", ".00000", ".1", ".01", ".001", ".0001", ".00001", ".5", ".1234"} {
				corpus = append(corpus, sign+whole+frac)
			}
		}
	}
	corpus = append(corpus, "1e3", "1E3", "1,000.00", "1_000", "1'000", " 5", "5 ", "NaN", "Infinity", "0x10", "１", "٣", "1.2.3", "--1", "-")
	for _, s := range corpus {
		d, err := money.ParseAmount(s, clf)
		server := err == nil
		canonical := server // the server refuses leading zeros as the schemas do
		for _, c := range []struct {
			name   string
			schema *yaml.Node
			rule   bool // the server's rule for the field, beyond the grammar
		}{
			{"Amount", amount, true},
			{"PositiveAmount", positive, server && d.IsPositive()},
			{"NonNegativeAmount", nonNegative, server && !d.IsNegative() && !strings.HasPrefix(s, "-")},
		} {
			got := v.valid(c.schema, s)
			if got && !(server && c.rule) {
				t.Errorf("%s accepts %q, which the server refuses", c.name, s)
			}
			if !got && canonical && c.rule {
				t.Errorf("%s refuses %q, which the server accepts in canonical form", c.name, s)
			}
		}
	}
}

// TestOpenAPIIdempotencyKeySchema holds the IdempotencyKey schema to the
// header check the routes run (idempotencyOf).
func TestOpenAPIIdempotencyKeySchema(t *testing.T) {
	root := loadOpenAPI(t)
	v := newValidator(t, root)
	schema := schemaNamed(t, root, "IdempotencyKey")
	for key, want := range map[string]bool{
		"a": true, "first-account": true, strings.Repeat("k", 255): true, "Recurring:x": true, "recurring": true,
		"x recurring:": true, "a,b": true, " ": true, "~": true,
		"": false, strings.Repeat("k", 256): false, "recurring:": false, "recurring:acc/2026-01-31": false,
		"tab\there": false, "é": false, "\x7f": false, "line\nbreak": false,
	} {
		got := v.valid(schema, key)
		if got != want {
			t.Errorf("IdempotencyKey %q: schema says %v, want %v", key, got, want)
		}
		r := httptest.NewRequest("POST", "/transfers", nil)
		r.Header["Idempotency-Key"] = []string{key}
		_, err := idempotencyOf(r, []byte(`{}`))
		if server := err == nil; server != got {
			t.Errorf("IdempotencyKey %q: schema says %v, the server %v (%v)", key, got, server, err)
		}
	}
}

// TestOpenAPITextSchemas holds the user id, name and code schemas to the
// checks the ledger runs on them.
func TestOpenAPITextSchemas(t *testing.T) {
	root := loadOpenAPI(t)
	v := newValidator(t, root)
	userID, name, code := schemaNamed(t, root, "UserId"), schemaNamed(t, root, "Name"), schemaNamed(t, root, "Code")
	corpus := []string{
		"u_alice", "Petty Cash – Cluj", "a b", " padded ", "", " ", "   ", "\t", "a\tb", "line\nbreak", "nul\x00",
		"del\x7f", "c1\u0085", "nbsp\u00a0", "\u00a0", "sep\u2028", "para\u2029", "émoji 💶",
		strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("é", 100), strings.Repeat("é", 101),
		strings.Repeat("a", 128), strings.Repeat("a", 129),
	}
	for _, s := range corpus {
		if got, server := v.valid(userID, s), ledger.ValidUserID(s); got != server {
			t.Errorf("UserId %q: schema says %v, ledger.ValidUserID %v", s, got, server)
		}
		_, _, err := ledger.NewAccount(ledger.NewAccountInput{Name: s, Code: s, Kind: "cash", Currency: "RON"},
			"acc_01JD3Z8X5N8Q4W2Y7T6R5P4K3M", time.Now(), "u_alice")
		bad := map[string]bool{}
		var e *ledger.Error
		if errors.As(err, &e) {
			for _, f := range e.Fields {
				bad[f.Field] = true
			}
		}
		if got := v.valid(code, s); got != !bad["code"] {
			t.Errorf("Code %q: schema says %v, the server %v", s, got, !bad["code"])
		}
		// The server trims a name before it counts, so the schema may refuse
		// a padded name the server takes; never the other way round.
		if got := v.valid(name, s); got && bad["name"] || !got && !bad["name"] && strings.TrimSpace(s) == s {
			t.Errorf("Name %q: schema says %v, the server %v", s, got, !bad["name"])
		}
	}
}

// TestOpenAPITimeFilterSchema: what the DateOrTime schema accepts, the
// from/to/as_of parser accepts (the parser is more lenient in corners of
// RFC 3339 that the schema does not invite, such as a comma before the
// fraction).
func TestOpenAPITimeFilterSchema(t *testing.T) {
	root := loadOpenAPI(t)
	v := newValidator(t, root)
	schema := schemaNamed(t, root, "DateOrTime")
	for s, want := range map[string]bool{
		"2026-11-30": true, "2026-11-30T12:00:00Z": true, "2026-11-30T12:00:00.123Z": true, "2026-11-30T14:00:00+02:00": true,
		"2026-11-30T12:00:00-00:00": true, "2024-02-29": true,
		"2026-02-30": false, "2026-13-01": false, "2026-11-30T24:00:00Z": false, "2026-11-30t12:00:00z": false,
		"2026-11-30 12:00:00Z": false, "2026-11-30T12:00Z": false, "2026-11-30T12:00:00+0200": false, "30.11.2026": false,
		"": false, "now": false, "1732970000": false,
	} {
		got := v.valid(schema, s)
		if got != want {
			t.Errorf("DateOrTime %q: schema says %v, want %v", s, got, want)
		}
		q := query{r: httptest.NewRequest("GET", "/transactions?from="+url.QueryEscape(s), nil)}
		q.moment("from", false)
		if server := len(q.v.Fields) == 0 && s != ""; got && !server {
			t.Errorf("DateOrTime %q: the schema accepts it, the server refuses it", s)
		}
	}
}

// TestOpenAPIConventions checks what every operation shares: declared
// tags, both JSON media types on every body, Idempotency-Key on every route
// that reads one, and the answers every operation can get.
func TestOpenAPIConventions(t *testing.T) {
	root := loadOpenAPI(t)
	declared := map[string]bool{}
	for _, tag := range nodes(get(root, "tags")) {
		declared[get(tag, "name").Value] = true
		if get(tag, "description") == nil {
			t.Errorf("tag %s has no description", get(tag, "name").Value)
		}
	}
	pathKeys, items := pairs(get(root, "paths"))
	for i, p := range pathKeys {
		methods, ops := pairs(items[i])
		for j, m := range methods {
			if !httpMethods[m] {
				continue
			}
			op, k := ops[j], strings.ToUpper(m)+" "+p
			for _, tag := range scalars(get(op, "tags")) {
				if !declared[tag] {
					t.Errorf("%s: tag %s is not declared in tags", k, tag)
				}
			}
			if body := follow(root, get(op, "requestBody")); body != nil {
				for _, mt := range []string{"application/json", "application/merge-patch+json"} {
					if get(get(body, "content"), mt) == nil {
						t.Errorf("%s: the body reader takes %s, the document does not list it", k, mt)
					}
				}
				idem := false
				for _, prm := range nodes(get(op, "parameters")) {
					prm = follow(root, prm)
					if get(prm, "in").Value == "header" && strings.EqualFold(get(prm, "name").Value, "Idempotency-Key") {
						idem = true
					}
				}
				if !idem {
					t.Errorf("%s reads Idempotency-Key (readJSON) but does not declare it", k)
				}
			}
			codes, resps := pairs(get(op, "responses"))
			have := map[string]bool{}
			for c, code := range codes {
				have[code] = true
				r := follow(root, resps[c])
				if get(get(r, "headers"), "X-Request-Id") == nil {
					t.Errorf("%s %s: the answer does not declare X-Request-Id", k, code)
				}
			}
			for _, code := range []string{"429", "500", "503"} {
				if !have[code] {
					t.Errorf("%s does not list %s", k, code)
				}
			}
		}
	}
}
