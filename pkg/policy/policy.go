// Package policy checks rendered objects against the platform's security and reliability
// rules (../shared/POLICIES.md): Pod Security (with the API server's own evaluator), RBAC,
// Istio, ArgoCD, resources, and the platform's own rules (node groups, ECR images, the
// App-of-Apps tree).
//
// Rules are data: each has an id, a severity, the kinds it inspects, a description, a
// remediation and its sources, and the docs page is generated from them. Rules run on a whole
// rendered environment at once, so that cross-object rules (a Service selects pods, an HPA
// target exists) see every chart of that environment. An object opts out of a rule with the
// annotation policy.microservices-manifests.io/exempt-<ID>: "<reason>"; the reason is mandatory
// and every exemption in force is listed in the findings.
package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// Severity is a rule's severity. How it maps to a finding's severity depends on the
// environment (see Severity.In).
type Severity string

// Severities, from most to least severe.
const (
	Critical Severity = "CRITICAL"
	High     Severity = "HIGH"
	Medium   Severity = "MEDIUM"
	Low      Severity = "LOW"
)

// In maps the rule severity to a finding severity in an environment: CRITICAL fails
// everywhere, HIGH fails in production and warns elsewhere, MEDIUM warns, LOW informs.
func (s Severity) In(production bool) report.Severity {
	switch s {
	case Critical:
		return report.Error
	case High:
		if production {
			return report.Error
		}
		return report.Warning
	case Medium:
		return report.Warning
	default:
		return report.Info
	}
}

func (s Severity) rank() int {
	return map[Severity]int{Critical: 0, High: 1, Medium: 2, Low: 3}[s]
}

// Rule is one registered check. Everything but the check function is documentation, printed
// by `platform policy explain` and in docs/policies.md.
type Rule struct {
	// ID is stable and short: C (critical), H (high), M (medium), P (platform) and a number.
	ID string
	// Name is the rule's short name, kube-linter style ("read-only-rootfs").
	Name     string
	Severity Severity
	// Kinds says what the rule inspects ("workloads", "Namespace <-> NetworkPolicy", ...).
	Kinds       string
	Description string
	Remediation string
	// Sources name the standards and tools the rule comes from.
	Sources []string
	// WholeEnvironment rules need every chart of the environment (they look for related
	// objects); they are skipped when only some charts are checked.
	WholeEnvironment bool
	// CheckedBy names another stage that implements the rule (the schema check); such
	// rules have no check function here.
	CheckedBy string

	check func(e *Env) []Violation
}

// Title is "ID name", the finding's Rule field.
func (r *Rule) Title() string { return r.ID + " " + r.Name }

// Info is the rule's metadata for output formats that describe rules (SARIF).
func (r *Rule) Info() report.RuleInfo {
	return report.RuleInfo{ID: r.ID, Name: r.Name, Title: r.Title(), Severity: string(r.Severity),
		Description: r.Description, Remediation: r.Remediation, Sources: r.Sources}
}

// Violation is a rule's verdict on one object (or, for rules about what is missing from an
// environment, on none).
type Violation struct {
	Object  *Object
	Path    string
	Message string
}

// registry is the set of built-in rules, sorted by severity then ID, built once from data.
var registry = newRegistry(builtin())

func newRegistry(rules []*Rule) []*Rule {
	sort.SliceStable(rules, func(i, j int) bool {
		a, b := rules[i], rules[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		return idLess(a.ID, b.ID)
	})
	return rules
}

// idLess orders ids by letter group (C, H, M, L, P) and number.
func idLess(a, b string) bool {
	order := "CHMLP"
	ia, ib := strings.IndexByte(order, a[0]), strings.IndexByte(order, b[0])
	if ia != ib {
		return ia < ib
	}
	return a < b
}

// Rules returns the registered rules, sorted by severity, then ID.
func Rules() []*Rule { return slices.Clone(registry) }

// Lookup finds a rule by ID ("H03") or name ("read-only-rootfs"), case-insensitively.
func Lookup(key string) (*Rule, bool) {
	for _, r := range registry {
		if strings.EqualFold(r.ID, key) || strings.EqualFold(r.Name, key) || strings.EqualFold(r.Title(), key) {
			return r, true
		}
	}
	return nil, false
}

// RuleInfos is the registry's metadata for report formats.
func RuleInfos() []report.RuleInfo {
	out := make([]report.RuleInfo, 0, len(registry))
	for _, r := range registry {
		out = append(out, r.Info())
	}
	return out
}

func (r *Rule) String() string { return fmt.Sprintf("%s (%s)", r.Title(), r.Severity) }
