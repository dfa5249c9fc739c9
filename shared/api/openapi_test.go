package api

import (
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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
