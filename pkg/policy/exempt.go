package policy

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
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

// ChartExemptionsAnnotation, on an Argo CD Application, exempts objects of the official chart
// it installs, whose templates we do not write and so cannot annotate. Its value is a JSON
// list (the tree charts render it from an entry's policyExemptions):
//
//	[{"rules": ["C02", "C03"], "objects": ["DaemonSet/*-node-exporter"], "reason": "why"}]
//
// rules are IDs or names; objects are Kind/name patterns (path.Match: * within a name); the
// reason is mandatory. A pattern that matches no object of the chart in an environment is
// listed (a renamed object, a typo), and so is an exemption that suppresses nothing.
const ChartExemptionsAnnotation = "policy.microservices-manifests.io/chart-exemptions"

// ChartExemption is one entry of ChartExemptionsAnnotation.
type ChartExemption struct {
	Rules   []string `json:"rules"`
	Objects []string `json:"objects"`
	Reason  string   `json:"reason"`
}

type exemption struct {
	object *Object
	key    string
	path   string
	rule   *Rule
	reason string
	used   int
	// scope, for an exemption of an official chart's objects, says which (the patterns).
	scope string
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
	ex.addChartExemptions(env)
	return ex
}

// addChartExemptions reads ChartExemptionsAnnotation of every Application whose official
// chart was rendered in env and exempts the matching objects. Problems are findings on the
// Application, where the entry is written.
func (ex *exemptions) addChartExemptions(env *Env) {
	byApp := map[string][]*Object{}
	for _, o := range env.Objects {
		if o.Application != "" {
			byApp[o.Application] = append(byApp[o.Application], o)
		}
	}
	for _, a := range env.Objects {
		objs := byApp[a.Name]
		if a.Kind != "Application" || !strings.HasPrefix(a.APIVersion, "argoproj.io/") || a.Application != "" || len(objs) == 0 {
			continue
		}
		raw, ok := mapOf(get(a.Body, "metadata", "annotations"))[ChartExemptionsAnnotation]
		if !ok {
			continue
		}
		field := "metadata.annotations[" + ChartExemptionsAnnotation + "]"
		bad := func(sev report.Severity, p, msg string) {
			ex.invalid = append(ex.invalid, report.Finding{Severity: sev, Rule: ExemptRule, Env: env.Name,
				Chart: a.Chart, File: a.Template, Object: a.ID(), Path: p, Message: msg})
		}
		var entries []ChartExemption
		if err := json.Unmarshal([]byte(str(raw)), &entries); err != nil {
			bad(report.Error, field, fmt.Sprintf("chart exemptions are not a JSON list of {rules, objects, reason}: %v", err))
			continue
		}
		for i, en := range entries {
			p := fmt.Sprintf("%s[%d]", field, i)
			reason := strings.TrimSpace(en.Reason)
			if reason == "" || len(en.Rules) == 0 || len(en.Objects) == 0 {
				bad(report.Error, p, "a chart exemption needs rules, objects and a reason saying why those objects may not comply")
				continue
			}
			var matched []*Object
			for _, pat := range en.Objects {
				if _, err := path.Match(pat, ""); err != nil {
					bad(report.Error, p+".objects", fmt.Sprintf("object pattern %q: %v", pat, err))
					continue
				}
				n := 0
				for _, o := range objs {
					if ok, _ := path.Match(pat, o.Kind+"/"+o.Name); ok {
						n++
						if !slices.Contains(matched, o) {
							matched = append(matched, o)
						}
					}
				}
				if n == 0 {
					// Info, not a warning: one list serves every environment, and an object
					// may exist in only one; a typo leaves its finding unsuppressed anyway.
					bad(report.Info, p+".objects", fmt.Sprintf("object pattern %q matches no object of Application %s's chart here (only in another environment, renamed, or a typo?)", pat, a.Name))
				}
			}
			for _, name := range en.Rules {
				r, ok := Lookup(name)
				if !ok {
					bad(report.Error, p+".rules", fmt.Sprintf("exemption names unknown rule %q (see platform policy list)", name))
					continue
				}
				e := &exemption{object: a, key: ChartExemptionsAnnotation, path: p, rule: r, reason: reason,
					scope: fmt.Sprintf("%s of Application %s", strings.Join(en.Objects, ", "), a.Name)}
				for _, o := range matched {
					ex.byObject[o] = append(ex.byObject[o], e)
				}
				ex.all = append(ex.all, e)
			}
		}
	}
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
		if e.scope != "" {
			msg = fmt.Sprintf("exempts %s from %s: %s", e.scope, e.rule.Title(), e.reason)
		}
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
