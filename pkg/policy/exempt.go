package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// ExemptPrefix starts the annotation key that exempts an object from a rule:
// policy.microservices-manifests.io/exempt-H03: "why this object may not comply".
// The rule is named by ID or short name; the value is the reason and must not be empty.
// On workloads the annotation may sit on the object or on its pod template.
const ExemptPrefix = "policy.microservices-manifests.io/exempt-"

// ExemptRule is the finding rule under which exemptions are listed.
const ExemptRule = "exempt"

type exemption struct {
	object *Object
	key    string
	path   string
	rule   *Rule
	reason string
	used   int
}

type exemptions struct {
	byObject map[*Object][]*exemption
	invalid  []report.Finding
	all      []*exemption
}

func newExemptions(env *Env) *exemptions {
	ex := &exemptions{byObject: map[*Object][]*exemption{}}
	objects := append(append([]*Object{}, env.Objects...), env.Charts...)
	for _, o := range objects {
		annotations := map[string]string{}
		paths := map[string]string{}
		add := func(m map[string]any, path string) {
			for k, v := range m {
				if strings.HasPrefix(k, ExemptPrefix) {
					annotations[k], paths[k] = strings.TrimSpace(str(v)), path
				}
			}
		}
		add(mapOf(get(o.Body, "metadata", "annotations")), "metadata.annotations")
		if p := podOf(o); p != nil {
			add(p.Annotations(), p.MetaPath+".annotations")
		}
		keys := make([]string, 0, len(annotations))
		for k := range annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := strings.TrimPrefix(k, ExemptPrefix)
			path := paths[k] + "[" + k + "]"
			bad := func(msg string) {
				ex.invalid = append(ex.invalid, report.Finding{Severity: report.Error, Rule: ExemptRule, Env: env.Name,
					Chart: o.Chart, File: o.Template, Object: o.ID(), Path: path, Message: msg})
			}
			r, ok := Lookup(name)
			switch {
			case !ok:
				bad(fmt.Sprintf("exemption names unknown rule %q (see platform policy list)", name))
			case annotations[k] == "":
				bad(fmt.Sprintf("exemption from %s has no reason: the annotation's value must say why the object may not comply", r.Title()))
			default:
				e := &exemption{object: o, key: k, path: path, rule: r, reason: annotations[k]}
				ex.byObject[o] = append(ex.byObject[o], e)
				ex.all = append(ex.all, e)
			}
		}
	}
	return ex
}

// apply reports whether o is exempt from r, counting the use.
func (ex *exemptions) apply(o *Object, r *Rule) bool {
	for _, e := range ex.byObject[o] {
		if e.rule == r {
			e.used++
			return true
		}
	}
	return false
}

// findings lists every exemption in force (info) and every invalid one (error).
func (ex *exemptions) findings(env string) []report.Finding {
	out := append([]report.Finding{}, ex.invalid...)
	for _, e := range ex.all {
		msg := fmt.Sprintf("exempt from %s: %s", e.rule.Title(), e.reason)
		switch e.used {
		case 0:
			msg += " (nothing to suppress here)"
		case 1:
			msg += " (suppresses 1 finding)"
		default:
			msg += fmt.Sprintf(" (suppresses %d findings)", e.used)
		}
		out = append(out, report.Finding{Severity: report.Info, Rule: ExemptRule, Env: env, Chart: e.object.Chart,
			File: e.object.Template, Object: e.object.ID(), Path: e.path, Message: msg})
	}
	return out
}
