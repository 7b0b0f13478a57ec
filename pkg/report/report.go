// Package report holds findings, the values every check returns, and the output formats
// that print them. The exit code is decided last, from the findings.
package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
)

// Severity of a finding. Only errors fail a run.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	default:
		return "info"
	}
}

// MarshalJSON writes the severity as its name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Finding is one problem, located as precisely as the source allows.
type Finding struct {
	Severity Severity `json:"severity"`
	// Rule names the check: "template", "values", "values-schema", "yaml", "schema", ...
	Rule  string `json:"rule"`
	Chart string `json:"chart,omitempty"`
	Env   string `json:"env,omitempty"`
	// File is relative to the repository root (a template, a values file).
	File string `json:"file,omitempty"`
	// Line and Column in File, when known (Helm gives them for template errors).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Object is Kind/namespace/name (Kind/name when cluster-scoped).
	Object string `json:"object,omitempty"`
	// Path is the field path inside the object or values file, kubectl style.
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// Location is file[:line[:column]], or the chart when no file is known.
func (f Finding) Location() string {
	loc := f.File
	if loc == "" {
		loc = f.Chart
	}
	if f.Line > 0 {
		loc += fmt.Sprintf(":%d", f.Line)
		if f.Column > 0 {
			loc += fmt.Sprintf(":%d", f.Column)
		}
	}
	return loc
}

// String is the one-line human form:
// "error app/account [dev] app/account/templates/deployment.yaml: Deployment/ns/name: spec.replicas: msg (schema)".
// It is one line whatever the fields hold: every field is escaped (escape.Line), so a name
// with a newline or a control character cannot add a line, a workflow command or a
// terminal escape to the log.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Severity.String())
	if f.Chart != "" {
		b.WriteString(" " + escape.Line(f.Chart))
	}
	if f.Env != "" {
		b.WriteString(" [" + escape.Line(f.Env) + "]")
	}
	if loc := f.Location(); loc != "" && loc != f.Chart {
		b.WriteString(" " + escape.Line(loc))
	}
	b.WriteString(":")
	if f.Object != "" {
		b.WriteString(" " + escape.Line(f.Object) + ":")
	}
	if f.Path != "" {
		b.WriteString(" " + escape.Line(f.Path) + ":")
	}
	b.WriteString(" " + escape.Line(f.Message))
	if f.Rule != "" {
		b.WriteString(" (" + escape.Line(f.Rule) + ")")
	}
	return b.String()
}

// Report is the result of a validation run.
type Report struct {
	Findings []Finding `json:"findings"`
	Objects  int       `json:"objects"`
	Charts   int       `json:"charts"`
	Envs     []string  `json:"environments"`
	// Rules describe the rules that ran, for the formats that document them (SARIF).
	Rules []RuleInfo `json:"-"`
}

// Count returns the number of findings of severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Failed reports whether any finding is an error.
func (r *Report) Failed() bool { return r.Count(Error) > 0 }

// Summary is the last line of every output: "N objects in M charts x K envs: X errors".
func (r *Report) Summary() string {
	s := fmt.Sprintf("%d objects in %d charts x %d envs: %d errors", r.Objects, r.Charts, len(r.Envs), r.Count(Error))
	if w := r.Count(Warning); w > 0 {
		s += fmt.Sprintf(", %d warnings", w)
	}
	return s
}

// Sort orders findings by chart, environment, file, line, object, path, message, so that
// output is identical on every run whatever the parallelism.
func (r *Report) Sort() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		switch {
		case a.Chart != b.Chart:
			return a.Chart < b.Chart
		case a.Env != b.Env:
			return a.Env < b.Env
		case a.File != b.File:
			return a.File < b.File
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Object != b.Object:
			return a.Object < b.Object
		case a.Path != b.Path:
			return a.Path < b.Path
		default:
			return a.Message < b.Message
		}
	})
}

// Error lets a finding travel as an error where a function can only fail one way.
func (f *Finding) Error() string { return f.String() }

// RuleInfo describes a rule for the formats that carry rule metadata (SARIF).
type RuleInfo struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Title       string   `json:"title"`
	Severity    string   `json:"severity"`
	Description string   `json:"description"`
	Remediation string   `json:"remediation"`
	Sources     []string `json:"sources,omitempty"`
}
