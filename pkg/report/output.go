package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
)

// Writer prints a report in one format.
type Writer func(w io.Writer, r *Report) error

// Formats maps --output names to the writers of one kind of result; the report, the
// catalog and the diff each have a set.
type Formats[T any] map[string]func(io.Writer, T) error

// Writer returns the writer for name, or an error listing the known formats.
func (f Formats[T]) Writer(name string) (func(io.Writer, T) error, error) {
	if w, ok := f[name]; ok {
		return w, nil
	}
	return nil, fmt.Errorf("unknown output format %q (want one of %s)", name, strings.Join(f.Names(), ", "))
}

// Names lists the formats, sorted.
func (f Formats[T]) Names() []string {
	names := make([]string, 0, len(f))
	for n := range f {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var formats = Formats[*Report]{
	"text":   Text,
	"json":   JSON,
	"github": GitHub,
	"sarif":  SARIF,
}

// Format returns the writer for an --output name.
func Format(name string) (Writer, error) { return formats.Writer(name) }

// FormatNames lists the output formats, sorted.
func FormatNames() []string { return formats.Names() }

// Text prints one line per finding, then the summary.
func Text(w io.Writer, r *Report) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

// JSON prints the whole report, with the summary, as one JSON document.
func JSON(w io.Writer, r *Report) error {
	findings := r.Findings
	if findings == nil {
		findings = []Finding{}
	}
	out := struct {
		*Report
		Findings []Finding `json:"findings"`
		Errors   int       `json:"errors"`
		Warnings int       `json:"warnings"`
		Summary  string    `json:"summary"`
	}{r, findings, r.Count(Error), r.Count(Warning), r.Summary()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// GitHub prints workflow commands, which GitHub turns into file annotations on the pull
// request (https://docs.github.com/actions/reference/workflow-commands-for-github-actions).
func GitHub(w io.Writer, r *Report) error {
	for _, f := range r.Findings {
		level := map[Severity]string{Error: "error", Warning: "warning", Info: "notice"}[f.Severity]
		var props []string
		if f.File != "" {
			props = append(props, "file="+escapeProperty(f.File))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
			}
			if f.Column > 0 {
				props = append(props, fmt.Sprintf("col=%d", f.Column))
			}
		}
		title := f.Rule
		if f.Chart != "" {
			title = fmt.Sprintf("%s [%s] %s", f.Chart, f.Env, f.Rule)
		}
		props = append(props, "title="+escapeProperty(title))
		msg := f.Message
		if f.Path != "" {
			msg = f.Path + ": " + msg
		}
		if f.Object != "" {
			msg = f.Object + ": " + msg
		}
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", level, strings.Join(props, ","), escapeData(escape.Block(msg))); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

// escapeData and escapeProperty follow the runner's command escaping
// (actions/toolkit packages/core/src/command.ts): the data keeps its newlines (a multi-line
// annotation) but cannot end the command line; a property cannot end its value (",") or
// the properties (":"). Other control characters are escaped first (escape.Block,
// escape.Line).
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(escape.Line(s))
}
