package official

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

// maxUnknown bounds the paths reported for one Application (values are written by whoever
// opens a pull request).
const maxUnknown = 50

// UnknownValues are the dotted paths of vals that chart ch neither declares in its
// values.yaml (its own or, under a dependency's name or alias, the sub-chart's; `global` is
// always allowed) nor reads in a template. Below a key whose default is an empty map, or
// not a map at all (nodeSelector: {}, annotations: {}, a list), or below a path a template
// passes on whole (toYaml, omit, deepCopy, tpl, toJson), anything is accepted: the chart
// takes it whole. A key that is not declared is still accepted when a template names it
// (read under another name: with .Values.x; .y), so the check reports keys no template
// mentions at all: a typo, or a key of another chart version, which Helm ignores silently.
func UnknownValues(ch *chart.Chart, vals map[string]any) []string {
	var out []string
	walkUnknown(ch, ch.Values, vals, "", indexTemplates(ch), &out)
	sort.Strings(out)
	if len(out) > maxUnknown {
		out = append(out[:maxUnknown], "...")
	}
	return out
}

func walkUnknown(ch *chart.Chart, defaults, vals map[string]any, prefix string, text *tmplIndex, out *[]string) {
	if text.whole[prefix] {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if prefix == "" && k == "global" {
			continue
		}
		if sub := dependency(ch, k); prefix == "" && sub != nil {
			if m, ok := vals[k].(map[string]any); ok {
				var subOut []string
				walkUnknown(sub, sub.Values, m, "", indexTemplates(sub), &subOut)
				for _, sp := range subOut {
					*out = append(*out, k+"."+sp)
				}
			}
			continue
		}
		if text.whole[p] {
			continue
		}
		def, declared := defaults[k]
		if !declared {
			if !text.idents[k] {
				*out = append(*out, p)
			}
			continue
		}
		dm, isMap := def.(map[string]any)
		vm, passMap := vals[k].(map[string]any)
		if !isMap || !passMap || len(dm) == 0 {
			continue // taken whole
		}
		walkUnknown(ch, dm, vm, p, text, out)
	}
}

func dependency(ch *chart.Chart, key string) *chart.Chart {
	for _, d := range ch.Dependencies() {
		name := d.Name()
		if ch.Metadata != nil {
			for _, m := range ch.Metadata.Dependencies {
				if m.Name == d.Name() && m.Alias != "" {
					name = m.Alias
				}
			}
		}
		if name == key {
			return d
		}
	}
	return nil
}

// tmplIndex is what the templates of a chart (with its sub-charts) say about values:
// whole are the .Values paths passed on whole (toYaml .Values.x.securityContext,
// omit .Values "k", .Values | deepCopy, tpl, toJson): whatever is below them reaches the
// output, so no key under them is unknown ("" is .Values itself). A map only handed to
// `with` or `include` is not: its fields are then read by name, and idents are every name
// that appears as a field (.key), an index ("key") or an argument.
type tmplIndex struct {
	whole, idents map[string]bool
}

// wholeFuncs are the template functions that pass their argument on whole.
var wholeFuncs = []string{"toYaml", "toJson", "toPrettyJson", "mustToJson", "tpl", "deepCopy", "mustDeepCopy", "omit"}

// indexTemplates scans the templates once, by hand: a regular expression over a large
// chart's templates (kube-prometheus-stack's are megabytes) took most of validate's time.
func indexTemplates(ch *chart.Chart) *tmplIndex {
	text := templateText(ch)
	ix := &tmplIndex{whole: map[string]bool{}, idents: map[string]bool{}}
	isStart := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isStart(c) || c == '-' || c >= '0' && c <= '9' }
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '.', ' ', '\t', '\n', '\r', '"', '\'', '(':
		default:
			continue
		}
		j := i + 1
		if j >= len(text) || !isStart(text[j]) {
			continue
		}
		for j < len(text) && isIdent(text[j]) {
			j++
		}
		ix.idents[text[i+1:j]] = true
	}
	const v = ".Values"
	for off := 0; ; {
		k := strings.Index(text[off:], v)
		if k < 0 {
			break
		}
		start := off + k
		end := start + len(v)
		off = end
		if end < len(text) && isIdent(text[end]) {
			continue // .ValuesFoo
		}
		// The path: .a.b.c
		for end < len(text) && text[end] == '.' && end+1 < len(text) && isStart(text[end+1]) {
			end++
			for end < len(text) && isIdent(text[end]) {
				end++
			}
		}
		path := strings.TrimPrefix(text[start+len(v):end], ".")
		before := strings.TrimRight(strings.TrimSuffix(strings.TrimRight(text[:start], " \t"), "("), " \t")
		after := strings.TrimLeft(text[end:], " \t")
		whole := false
		for _, f := range wholeFuncs {
			if strings.HasSuffix(before, f) && (len(before) == len(f) || !isIdent(before[len(before)-len(f)-1])) {
				whole = true
			}
		}
		if rest, ok := strings.CutPrefix(after, "|"); ok {
			rest = strings.TrimLeft(rest, " \t")
			for _, f := range wholeFuncs {
				if f != "tpl" && f != "omit" && strings.HasPrefix(rest, f) && (len(rest) == len(f) || !isIdent(rest[len(f)])) {
					whole = true
				}
			}
		}
		if whole {
			ix.whole[path] = true
		}
	}
	return ix
}

// templateText is every template of ch and its sub-charts, for mentioned.
func templateText(ch *chart.Chart) string {
	var b strings.Builder
	for _, t := range ch.Templates {
		b.Write(t.Data)
		b.WriteByte('\n')
	}
	for _, d := range ch.Dependencies() {
		b.WriteString(templateText(d))
	}
	return b.String()
}
