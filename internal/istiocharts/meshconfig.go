package istiocharts

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// APIModule and APIVersion pin istio.io/api, whose protobuf definitions say which fields
// istiod's mesh config (the istiod chart's `meshConfig`, a istio.mesh.v1alpha1.MeshConfig)
// has. The tag matches the Applications' chart version.
const (
	APIModule  = "istio.io/api"
	APIVersion = "v1.31.4"
)

// APIModuleDir returns istio.io/api's directory in the module cache (see ModuleDir).
func APIModuleDir() (string, error) { return download(APIModule, APIVersion) }

// Protos is a set of protobuf message definitions, read from .proto sources with a parser
// that knows just enough of the language for field names and types.
type Protos struct {
	messages map[string]*message // by full name, e.g. "istio.mesh.v1alpha1.MeshConfig"
	enums    map[string]bool
}

type message struct {
	fields map[string]*field // by JSON name and by proto name
}

type field struct {
	typ      string // resolved full name of a message, or "" for scalars, enums, well-known types
	repeated bool
	isMap    bool // map<K, V>: typ is V's
}

// LoadProtos parses file (relative to moduleDir, e.g. "mesh/v1alpha1/config.proto") and the
// files it imports from the same module; google/ imports are well-known types.
func LoadProtos(moduleDir, file string) (*Protos, error) {
	p := &Protos{messages: map[string]*message{}, enums: map[string]bool{}}
	var pending []pendingField
	seen := map[string]bool{}
	queue := []string{file}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		if seen[f] {
			continue
		}
		seen[f] = true
		src, err := os.ReadFile(filepath.Join(moduleDir, f))
		if err != nil {
			return nil, err
		}
		ps := &protoParser{toks: tokenize(string(src)), p: p}
		imports, fields, err := ps.file()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		pending = append(pending, fields...)
		for _, imp := range imports {
			if !strings.HasPrefix(imp, "google/") {
				queue = append(queue, imp)
			}
		}
	}
	for _, pf := range pending {
		pf.field.typ = p.resolve(pf.scope, pf.typeName)
	}
	return p, nil
}

// UnknownFields returns the paths in value (decoded YAML/JSON) that message (a full name) does
// not define, the way protojson's strict unmarshalling would reject them.
func (p *Protos) UnknownFields(messageName string, value map[string]any) []string {
	var out []string
	p.walk(messageName, "", value, &out)
	sort.Strings(out)
	return out
}

func (p *Protos) walk(msgName, path string, value map[string]any, out *[]string) {
	m := p.messages[msgName]
	if m == nil {
		return
	}
	for k, v := range value {
		q := k
		if path != "" {
			q = path + "." + k
		}
		f := m.fields[k]
		if f == nil {
			*out = append(*out, q)
			continue
		}
		if f.typ == "" {
			continue
		}
		switch {
		case f.isMap:
			if mv, ok := v.(map[string]any); ok {
				for mk, e := range mv {
					if em, ok := e.(map[string]any); ok {
						p.walk(f.typ, q+"."+mk, em, out)
					}
				}
			}
		case f.repeated:
			if l, ok := v.([]any); ok {
				for i, e := range l {
					if em, ok := e.(map[string]any); ok {
						p.walk(f.typ, fmt.Sprintf("%s[%d]", q, i), em, out)
					}
				}
			}
		default:
			if em, ok := v.(map[string]any); ok {
				p.walk(f.typ, q, em, out)
			}
		}
	}
}

// resolve finds typeName as seen from scope ("pkg.Outer.Inner") by protobuf's rules: the
// innermost enclosing scope first. Scalars, enums and unknown (well-known) types give "".
func (p *Protos) resolve(scope, typeName string) string {
	if strings.HasPrefix(typeName, ".") {
		if p.messages[typeName[1:]] != nil {
			return typeName[1:]
		}
		return ""
	}
	for s := scope; ; {
		cand := typeName
		if s != "" {
			cand = s + "." + typeName
		}
		if p.messages[cand] != nil {
			return cand
		}
		if p.enums[cand] {
			return ""
		}
		if s == "" {
			return ""
		}
		if i := strings.LastIndex(s, "."); i >= 0 {
			s = s[:i]
		} else {
			s = ""
		}
	}
}

type pendingField struct {
	field           *field
	scope, typeName string
}

type protoParser struct {
	toks []string
	i    int
	p    *Protos
	pkg  string
	out  []pendingField
}

func (ps *protoParser) peek() string {
	if ps.i < len(ps.toks) {
		return ps.toks[ps.i]
	}
	return ""
}

func (ps *protoParser) next() string {
	t := ps.peek()
	ps.i++
	return t
}

func (ps *protoParser) skipStatement() {
	depth := 0
	for ps.i < len(ps.toks) {
		switch ps.next() {
		case "{", "[", "(":
			depth++
		case "}", "]", ")":
			depth--
			if depth == 0 && ps.peek() == ";" {
				ps.i++
				return
			}
			if depth <= 0 {
				return
			}
		case ";":
			if depth == 0 {
				return
			}
		}
	}
}

func (ps *protoParser) skipBlock() { // at "{"
	depth := 0
	for ps.i < len(ps.toks) {
		switch ps.next() {
		case "{":
			depth++
		case "}":
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

func (ps *protoParser) file() (imports []string, fields []pendingField, err error) {
	for ps.i < len(ps.toks) {
		switch t := ps.peek(); t {
		case "package":
			ps.next()
			ps.pkg = ps.next()
			ps.skipStatement()
		case "import":
			ps.next()
			if s := ps.next(); s == "public" || s == "weak" {
				imports = append(imports, strings.Trim(ps.next(), `"`))
			} else {
				imports = append(imports, strings.Trim(s, `"`))
			}
			ps.skipStatement()
		case "message":
			ps.next()
			if err := ps.message(ps.pkg, ps.next()); err != nil {
				return nil, nil, err
			}
		case "enum":
			ps.next()
			ps.p.enums[join(ps.pkg, ps.next())] = true
			ps.skipBlock()
		case "service", "extend":
			ps.next()
			ps.next()
			ps.skipBlock()
		default:
			ps.skipStatement()
		}
	}
	return imports, ps.out, nil
}

func join(scope, name string) string {
	if scope == "" {
		return name
	}
	return scope + "." + name
}

// message parses a message body; the name has been read, the next token is "{".
func (ps *protoParser) message(scope, name string) error {
	full := join(scope, name)
	m := &message{fields: map[string]*field{}}
	ps.p.messages[full] = m
	if ps.next() != "{" {
		return fmt.Errorf("message %s: expected {", full)
	}
	return ps.body(full, m, false)
}

// body parses fields until the closing "}" (of a message or a oneof).
func (ps *protoParser) body(full string, m *message, oneof bool) error {
	for ps.i < len(ps.toks) {
		t := ps.peek()
		switch t {
		case "}":
			ps.next()
			return nil
		case ";":
			ps.next()
		case "message":
			ps.next()
			if err := ps.message(full, ps.next()); err != nil {
				return err
			}
		case "enum":
			ps.next()
			ps.p.enums[join(full, ps.next())] = true
			ps.skipBlock()
		case "oneof":
			ps.next()
			ps.next() // its name
			if ps.next() != "{" {
				return fmt.Errorf("message %s: oneof: expected {", full)
			}
			if err := ps.body(full, m, true); err != nil {
				return err
			}
		case "option", "reserved", "extensions":
			ps.skipStatement()
		case "extend":
			ps.next()
			ps.next()
			ps.skipBlock()
		default:
			f := &field{}
			typ := ps.next()
			if typ == "repeated" || typ == "optional" || typ == "required" {
				f.repeated = typ == "repeated"
				typ = ps.next()
			}
			if typ == "map" {
				// map < K , V >
				ps.next()
				ps.next()
				ps.next()
				typ = ps.next()
				ps.next()
				f.isMap = true
			}
			name := ps.next()
			if name == "" || !isIdent(name) {
				return fmt.Errorf("message %s: cannot parse field near %q", full, name)
			}
			jsonName := lowerCamel(name)
			// = N [options] ;
			for ps.i < len(ps.toks) && ps.peek() != ";" {
				if ps.next() == "json_name" && ps.peek() == "=" {
					ps.next()
					jsonName = strings.Trim(ps.next(), `"`)
				}
			}
			ps.next()
			m.fields[name] = f
			m.fields[jsonName] = f
			ps.out = append(ps.out, pendingField{field: f, scope: full, typeName: typ})
		}
	}
	return fmt.Errorf("message %s: unexpected end of file", full)
}

func isIdent(s string) bool {
	for _, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return s != ""
}

// lowerCamel is protobuf's JSON name of a field: "max_tag_length" -> "maxTagLength".
func lowerCamel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tokenize splits protobuf source into identifiers (with dots), numbers, strings and
// punctuation, dropping comments.
func tokenize(src string) []string {
	var toks []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				i = len(src)
			} else {
				i += end + 4
			}
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			toks = append(toks, src[i:min(j+1, len(src))])
			i = j + 1
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || c == '.' || c == '-' || c == '+' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '.' || src[j] == '-' || src[j] == '+' ||
				unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			toks = append(toks, src[i:j])
			i = j
		default:
			toks = append(toks, string(c))
			i++
		}
	}
	return toks
}
