package official

import (
	"regexp"
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
// not a map at all (nodeSelector: {}, annotations: {}, a list), anything is accepted: the
// chart takes it whole. A key read only under another name (with .Values.x; .y) is found by
// its own name in the templates, so the check reports keys no template mentions at all:
// a typo, or a key of another chart version, which Helm ignores without a word.
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
	for _, k := range sortedKeys(vals) {
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

var (
	wholeBefore = regexp.MustCompile(`(?:toYaml|toJson|toPrettyJson|mustToJson|tpl|deepCopy|mustDeepCopy|omit)\s+\(?\.Values((?:\.[A-Za-z0-9_-]+)*)(?:[^.\w-]|$)`)
	wholeAfter  = regexp.MustCompile(`\.Values((?:\.[A-Za-z0-9_-]+)*)\s*\|\s*(?:toYaml|toJson|toPrettyJson|mustToJson|deepCopy|mustDeepCopy)\b`)
	identRe     = regexp.MustCompile(`[.\s"'(]([A-Za-z_][A-Za-z0-9_-]*)`)
)

func indexTemplates(ch *chart.Chart) *tmplIndex {
	text := templateText(ch)
	ix := &tmplIndex{whole: map[string]bool{}, idents: map[string]bool{}}
	for _, re := range []*regexp.Regexp{wholeBefore, wholeAfter} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			ix.whole[strings.TrimPrefix(m[1], ".")] = true
		}
	}
	for _, m := range identRe.FindAllStringSubmatch(text, -1) {
		ix.idents[m[1]] = true
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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
