package official

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// An Application's spec.ignoreDifferences names fields Argo CD does not compare: a chart's
// webhook certificate generated at every render, for instance. Such a field differs in every
// render, so the plan and the diff show it masked (plan.Redact), or neither would ever be
// stable; the objects themselves keep their values for the schemas and the policies.

// jqPathSyntax is the part of jq's path language supported: .field and .field[] (or []?)
// steps. Anything else is refused rather than guessed.
var jqPathSyntax = regexp.MustCompile(`^(\.[A-Za-z0-9_-]+(\[\]\??)?)+$`)

// jqPattern turns a supported jq path expression into a pattern over JSON pointers that
// matches the pointer and everything under it.
func jqPattern(expr string) (*regexp.Regexp, error) {
	if !jqPathSyntax.MatchString(expr) {
		return nil, fmt.Errorf("jq path expression %q: only .field and .field[] paths are understood", expr)
	}
	p := strings.NewReplacer("[]?", `/\d+`, "[]", `/\d+`).Replace(expr)
	p = strings.ReplaceAll(p, ".", "/")
	return regexp.Compile("^" + p + "(/|$)")
}

// Covers reports whether an entry of spec.ignoreDifferences (group, kind, name, namespace,
// jsonPointers, jqPathExpressions) covers the field at JSON pointer ptr of object o. An
// expression this package cannot evaluate is an error.
func Covers(entries []map[string]any, o *render.Object, ptr string) (bool, error) {
	group, _, ok := strings.Cut(o.APIVersion, "/")
	if !ok {
		group = ""
	}
	for _, e := range entries {
		if e["kind"] != o.Kind || (e["name"] != nil && e["name"] != o.Name) ||
			(e["namespace"] != nil && e["namespace"] != o.Namespace) || (e["group"] != nil && e["group"] != group) {
			continue
		}
		if ps, ok := e["jsonPointers"].([]any); ok {
			for _, p := range ps {
				if s := fmt.Sprint(p); ptr == s || strings.HasPrefix(ptr, s+"/") {
					return true, nil
				}
			}
		}
		if js, ok := e["jqPathExpressions"].([]any); ok {
			for _, j := range js {
				re, err := jqPattern(fmt.Sprint(j))
				if err != nil {
					return false, err
				}
				if re.MatchString(ptr) {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

var pointerEscape = strings.NewReplacer("~", "~0", "/", "~1")

// Pointer escapes a key for a JSON pointer (RFC 6901).
func Pointer(key string) string {
	return pointerEscape.Replace(key)
}

// ignoredLeaves returns the JSON pointers of o's leaves that entries cover, sorted. Only
// objects an entry names by kind are walked (a CRD's schema has thousands of leaves).
func ignoredLeaves(entries []map[string]any, o *render.Object) ([]string, error) {
	named := false
	for _, e := range entries {
		named = named || e["kind"] == o.Kind
	}
	if !named {
		return nil, nil
	}
	var out []string
	var walk func(v any, ptr string) error
	walk = func(v any, ptr string) error {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if err := walk(c, ptr+"/"+Pointer(k)); err != nil {
					return err
				}
			}
		case []any:
			for i, c := range x {
				if err := walk(c, fmt.Sprintf("%s/%d", ptr, i)); err != nil {
					return err
				}
			}
		default:
			ok, err := Covers(entries, o, ptr)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, ptr)
			}
		}
		return nil
	}
	if err := walk(o.Body, ""); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// ignoreDifferences is the Application's spec.ignoreDifferences (an ApplicationSet's
// template's).
func ignoreDifferences(a *apps.Application) []map[string]any {
	spec, _ := a.Body["spec"].(map[string]any)
	if a.Kind == "ApplicationSet" {
		tmpl, _ := spec["template"].(map[string]any)
		spec, _ = tmpl["spec"].(map[string]any)
	}
	list, _ := spec["ignoreDifferences"].([]any)
	var out []map[string]any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
