package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
)

// normalize copies obj into plain JSON values for the validator: YAML decoders give
// int/int64/uint64/float64, which jsonschema v6 accepts as numbers (integers validate
// as "integer"); time.Time and non-string map keys are converted as sigs.k8s.io/yaml
// would; other types go through a JSON round trip.
//
// Map entries whose value is null are dropped: the API server treats a null field as
// unset (built-in types decode it to the zero value, CRD pruning removes it), so
// `annotations:` left empty by a template is not an error, while a null required
// field is still reported as missing.
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil, string, bool, json.Number,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float64:
		return t, nil
	case float32:
		return float64(t), nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if x == nil {
				continue
			}
			n, err := normalize(x)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if x == nil {
				continue
			}
			n, err := normalize(x)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			n, err := normalize(x)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = x
		}
		return out, nil
	case []string:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = x
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(t))
		for i, x := range t {
			n, err := normalize(x)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case time.Time:
		return t.UTC().Format(time.RFC3339), nil
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return nil, fmt.Errorf("normalize %T: %w", v, err)
		}
		out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("normalize %T: %w", v, err)
		}
		return normalize(out)
	}
}

// violations maps a jsonschema error tree to one Violation per real problem, sorted.
func violations(err *jsonschema.ValidationError, inst any) []Violation {
	var out []Violation
	collect(err, inst, &out)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	uniq := out[:0]
	for i, v := range out {
		if i > 0 && v == out[i-1] {
			continue
		}
		uniq = append(uniq, v)
	}
	return uniq
}

func collect(e *jsonschema.ValidationError, inst any, out *[]Violation) {
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		if len(e.Causes) == 0 { // oneOf matched more than one branch
			*out = append(*out, Violation{Path: fieldPath(inst, e.InstanceLocation), Message: leafMessage(e.ErrorKind, nil)})
			return
		}
		if v, ok := mergedTypeError(e, inst); ok {
			*out = append(*out, v)
			return
		}
		*out = append(*out, bestBranch(e, inst)...)
		return
	case *kind.AdditionalProperties:
		props := append([]string(nil), k.Properties...)
		sort.Strings(props)
		for _, p := range props {
			loc := append(append([]string(nil), e.InstanceLocation...), p)
			*out = append(*out, Violation{Path: fieldPath(inst, loc), Message: "unknown field " + Quote(p)})
		}
		return
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, Violation{Path: fieldPath(inst, e.InstanceLocation), Message: fmt.Sprintf("missing required field %q", m)})
		}
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, Violation{Path: fieldPath(inst, e.InstanceLocation), Message: leafMessage(e.ErrorKind, lookup(inst, e.InstanceLocation))})
		return
	}
	for _, c := range e.Causes {
		collect(c, inst, out)
	}
}

// mergedTypeError reports "expected a or b, got c" when every branch of an
// anyOf/oneOf failed only on its type at the combinator's own location.
func mergedTypeError(e *jsonschema.ValidationError, inst any) (Violation, bool) {
	var want []string
	for _, c := range e.Causes {
		for c.Causes != nil && len(c.Causes) == 1 {
			if _, ok := c.ErrorKind.(*kind.Reference); !ok {
				break
			}
			c = c.Causes[0]
		}
		t, ok := c.ErrorKind.(*kind.Type)
		if !ok || len(c.InstanceLocation) != len(e.InstanceLocation) {
			return Violation{}, false
		}
		want = append(want, t.Want...)
	}
	return Violation{
		Path:    fieldPath(inst, e.InstanceLocation),
		Message: fmt.Sprintf("expected %s, got %s", joinTypes(want), jsonType(lookup(inst, e.InstanceLocation))),
	}, true
}

// bestBranch picks the most specific failing branch of an anyOf/oneOf: one whose
// type matched, with the deepest problem, and the fewest problems.
func bestBranch(e *jsonschema.ValidationError, inst any) []Violation {
	var best []Violation
	bestScore := [3]int{math.MinInt, math.MinInt, math.MinInt}
	for _, c := range e.Causes {
		var vs []Violation
		collect(c, inst, &vs)
		typeMiss := 0
		if onlyTypeMismatchAt(c, len(e.InstanceLocation)) {
			typeMiss = -1
		}
		depth := 0
		for _, l := range leavesOf(c) {
			if len(l.InstanceLocation) > depth {
				depth = len(l.InstanceLocation)
			}
		}
		score := [3]int{typeMiss, depth, -len(vs)}
		if better(score, bestScore) {
			best, bestScore = vs, score
		}
	}
	return best
}

func better(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

func leavesOf(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leavesOf(c)...)
	}
	return out
}

func onlyTypeMismatchAt(e *jsonschema.ValidationError, depth int) bool {
	for _, l := range leavesOf(e) {
		if _, ok := l.ErrorKind.(*kind.Type); !ok || len(l.InstanceLocation) != depth {
			return false
		}
	}
	return true
}

func joinTypes(want []string) string {
	seen := map[string]bool{}
	var uniq []string
	for _, w := range want {
		if !seen[w] {
			seen[w] = true
			uniq = append(uniq, w)
		}
	}
	return strings.Join(uniq, " or ")
}

// leafMessage words one problem; value is the offending instance value.
func leafMessage(k jsonschema.ErrorKind, value any) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("expected %s, got %s", joinTypes(k.Want), jsonType(value))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = display(w)
		}
		if len(want) == 1 {
			return fmt.Sprintf("value %s must be %s", display(k.Got), want[0])
		}
		return fmt.Sprintf("value %s must be one of %s", display(k.Got), strings.Join(want, ", "))
	case *kind.Const:
		return fmt.Sprintf("value %s must be %s", display(k.Got), display(k.Want))
	case *kind.Pattern:
		return fmt.Sprintf("value %s does not match pattern %q", Quote(k.Got), k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long, got %d", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long, got %d", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items, got %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, got %d", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d entries, got %d", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d entries, got %d", k.Want, k.Got)
	case *kind.Minimum:
		return fmt.Sprintf("value %s must be >= %s", rat(k.Got), rat(k.Want))
	case *kind.Maximum:
		return fmt.Sprintf("value %s must be <= %s", rat(k.Got), rat(k.Want))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("value %s must be > %s", rat(k.Got), rat(k.Want))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("value %s must be < %s", rat(k.Got), rat(k.Want))
	case *kind.MultipleOf:
		return fmt.Sprintf("value %s must be a multiple of %s", rat(k.Got), rat(k.Want))
	case *kind.UniqueItems:
		return fmt.Sprintf("items [%d] and [%d] are duplicates", k.Duplicates[0], k.Duplicates[1])
	case *kind.OneOf:
		return "conflicting fields: value matches more than one allowed alternative"
	case *kind.Not:
		return "value is not allowed here"
	case *kind.FalseSchema:
		return "field is not allowed"
	case *kind.InvalidJsonValue:
		return "invalid value " + Quote(fmt.Sprint(k.Value))
	default:
		return strings.ToLower(k.LocalizedString(message.NewPrinter(language.English)))
	}
}

func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// display renders a value for a message: strings quoted, others as JSON, either cut to
// MaxEcho bytes (values come from pull requests).
func display(v any) string {
	if s, ok := v.(string); ok {
		return Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprint(v))
	}
	if len(b) > MaxEcho {
		return escape.Cut(string(b), MaxEcho) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}

func jsonType(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "integer"
	case json.Number:
		if _, err := t.Int64(); err == nil {
			return "integer"
		}
		return "number"
	default:
		return "number"
	}
}

// lookup returns the value at a JSON pointer token list, or nil.
func lookup(inst any, tokens []string) any {
	cur := inst
	for _, tok := range tokens {
		switch c := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		case map[string]any:
			cur = c[tok]
		default:
			return nil
		}
	}
	return cur
}

// fieldPath renders a JSON pointer token list in kubectl style:
// spec.containers[0].image, metadata.labels["app.kubernetes.io/name"].
func fieldPath(inst any, tokens []string) string {
	var sb strings.Builder
	cur := inst
	for _, tok := range tokens {
		switch c := cur.(type) {
		case []any:
			sb.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			} else {
				cur = nil
			}
			continue
		case map[string]any:
			cur = c[tok]
		default:
			cur = nil
		}
		if plainKey(tok) {
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			sb.WriteString(tok)
		} else {
			sb.WriteString("[" + Quote(tok) + "]")
		}
	}
	return sb.String()
}

func plainKey(s string) bool {
	if s == "" || len(s) > MaxEcho {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
