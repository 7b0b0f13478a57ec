// Package values reads and edits chart values: dotted paths into decoded values
// (secrets are merged at publish time this way) and in-place edits of values files that keep
// their comments, order and formatting (set-image).
package values

import (
	"fmt"
	"regexp"
	"strings"
)

var segment = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Path is a dotted values path, "secrets.databasePassword", split into its keys.
type Path []string

// ParsePath splits a dotted path. Keys are Helm value names: letters, digits, '_' and '-';
// a key containing a dot cannot be addressed (the charts' values API has none).
func ParsePath(s string) (Path, error) {
	if s == "" {
		return nil, fmt.Errorf("empty values path")
	}
	p := Path(strings.Split(s, "."))
	for _, k := range p {
		if !segment.MatchString(k) {
			return nil, fmt.Errorf("values path %q: invalid key %q (want letters, digits, '_' or '-')", s, k)
		}
	}
	return p, nil
}

func (p Path) String() string { return strings.Join(p, ".") }

// Lookup returns the value at p, and whether every key along p exists.
func Lookup(vals map[string]any, p Path) (any, bool) {
	var cur any = vals
	for _, k := range p {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Set stores v at p, creating the mappings along the way. It fails when a key along p
// holds something other than a mapping (or null).
func Set(vals map[string]any, p Path, v any) error {
	if len(p) == 0 {
		return fmt.Errorf("empty values path")
	}
	m := vals
	for i, k := range p[:len(p)-1] {
		next, ok := m[k]
		if !ok || next == nil {
			child := map[string]any{}
			m[k] = child
			m = child
			continue
		}
		child, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("values path %s: %s is a %T, not a mapping", p, p[:i+1], next)
		}
		m = child
	}
	m[p[len(p)-1]] = v
	return nil
}
