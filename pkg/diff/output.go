package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// Writer prints a diff result in one format.
type Writer func(w io.Writer, r *Result) error

var formats = report.Formats[*Result]{
	"text":     Text,
	"markdown": func(w io.Writer, r *Result) error { _, err := io.WriteString(w, Markdown(r, 0)); return err },
	"json":     JSON,
}

// Format returns the writer for an --output name.
func Format(name string) (Writer, error) { return formats.Writer(name) }

// FormatNames lists the output formats, sorted.
func FormatNames() []string { return formats.Names() }

// Text prints a header line per change and its unified diff, then the summary. Names are
// escaped (escape.Line) and so is every line of a diff (escape.Block): the objects come
// from the pull request, and this text may be read by the runner as workflow commands.
func Text(w io.Writer, r *Result) error {
	var b strings.Builder
	for _, v := range r.Versions {
		name := escape.Line(v.Chart)
		if v.Official != "" {
			name += " (Application) [" + escape.Line(strings.Join(v.Envs, ", ")) + "]"
		}
		fmt.Fprintf(&b, "version %s: %s\n", name, escape.Line(v.Change("->")))
	}
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%s [%s] %s %s (%s)\n", escape.Line(string(c.Action)), escape.Line(c.Env), escape.Line(c.Chart), escape.Line(c.Object()), escape.Line(c.APIVersion))
		b.WriteString(escape.Block(c.Diff))
	}
	b.WriteString(escape.Line(r.Summary()) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// JSON prints the whole result as one document.
func JSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// MaxObjectDiff bounds one object's diff in Markdown; longer diffs are cut with a note.
const MaxObjectDiff = 12000

// Markdown renders the result for a pull-request comment: the chart version changes (ours
// and the official charts of the Applications), then, per environment and chart (or
// Application), a line with its version change and counts over a table of its changed
// objects, then one collapsed <details> block per changed object. When limit is positive
// the text stays within limit characters: object blocks that do not fit are left out and a
// note says how many and where to see them. Every name, version and ref is escaped for its
// place (package escape): they come from the pull request.
func Markdown(r *Result, limit int) string {
	var head strings.Builder
	envs := make([]string, len(r.Envs))
	for i, e := range r.Envs {
		envs[i] = escape.Text(e)
	}
	fmt.Fprintf(&head, "**Manifest diff** %s → %s: %d added, %d removed, %d changed, %d unchanged objects (%s).\n\n",
		escape.Code(r.Base), escape.Code(r.Head), r.Count(Added), r.Count(Removed), r.Count(Changed), r.Unchanged, strings.Join(envs, ", "))
	if r.BaseErrors+r.HeadErrors > 0 {
		fmt.Fprintf(&head, "> [!WARNING]\n> Validation errors: %d in the base, %d in the head; objects of charts that failed to render are missing from that side. Run `platform validate`.\n\n", r.BaseErrors, r.HeadErrors)
	}
	if len(r.Versions) > 0 {
		head.WriteString("| chart | version |\n|---|---|\n")
		for _, v := range r.Versions {
			fmt.Fprintf(&head, "| %s | %s |\n", versionCell(v), escape.Text(v.Change("→")))
		}
		head.WriteString("\n")
	}
	if len(r.Changes) == 0 {
		head.WriteString("No object changes.\n")
		return head.String()
	}
	for _, g := range r.groups() {
		head.WriteString(g.heading(r.Versions))
		head.WriteString("| object | change | lines |\n|---|---|---|\n")
		for _, c := range g.changes {
			fmt.Fprintf(&head, "| %s | %s | +%d −%d |\n", escape.Cell(c.Object()), escape.Text(string(c.Action)), c.AddedLines, c.RemovedLines)
		}
		head.WriteString("\n")
	}

	out := head.String()
	if limit > 0 && len(out) > limit {
		return truncate(out, limit)
	}
	for i, c := range r.Changes {
		block := detailsBlock(c)
		if limit > 0 {
			note := omitted(len(r.Changes) - i)
			if len(out)+len(block)+len(omitted(len(r.Changes)-i-1)) > limit {
				if len(out)+len(note) <= limit {
					out += note
				}
				return out
			}
		}
		out += block
	}
	return out
}

// group is the changes of one chart (or Application) in one environment: Changes are
// sorted by environment, then chart.
type group struct {
	env, chart string
	changes    []Change
}

func (r *Result) groups() []group {
	var out []group
	for _, c := range r.Changes {
		if n := len(out); n > 0 && out[n-1].env == c.Env && out[n-1].chart == c.Chart {
			out[n-1].changes = append(out[n-1].changes, c)
			continue
		}
		out = append(out, group{env: c.Env, chart: c.Chart, changes: []Change{c}})
	}
	return out
}

// heading is the group's line: environment, chart, its version change in this environment
// (an Application's official chart says so) and its counts, e.g.
// "**dev** · `kube-prometheus-stack` (Application) · chart kube-prometheus-stack 88.4.0 →
// 88.5.3 · 2 added, 40 changed".
func (g group) heading(versions []Version) string {
	parts := []string{"**" + escape.Text(g.env) + "**", escape.Code(g.chart)}
	for _, v := range versions {
		if v.Chart == g.chart && (v.Official == "" || slices.Contains(v.Envs, g.env)) {
			if v.Official != "" {
				parts[1] += " (Application)"
			}
			parts = append(parts, escape.Text(v.Change("→")))
		}
	}
	var counts []string
	for _, a := range []Action{Added, Removed, Changed} {
		n := 0
		for _, c := range g.changes {
			if c.Action == a {
				n++
			}
		}
		if n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, a))
		}
	}
	return strings.Join(append(parts, strings.Join(counts, ", ")), " · ") + "\n\n"
}

// versionCell names a version row's chart: an Application is marked, with the environments
// where its chart moves.
func versionCell(v Version) string {
	if v.Official == "" {
		return escape.Cell(v.Chart)
	}
	return escape.Cell(v.Chart) + " (Application, " + escape.Text(strings.Join(v.Envs, ", ")) + ")"
}

func detailsBlock(c Change) string {
	d := c.Diff
	if len(d) > MaxObjectDiff {
		cut := strings.LastIndex(d[:MaxObjectDiff], "\n") + 1
		d = d[:cut] + fmt.Sprintf("... %d more lines of this diff not shown\n", strings.Count(d[cut:], "\n"))
	}
	// The diff's fence is longer than any run of backticks in it (escape.Fenced): a value
	// holding ``` cannot close it and turn the rest of the comment into Markdown.
	return fmt.Sprintf("<details><summary>%s <code>%s</code> <code>%s</code> [%s]</summary>\n\n%s\n</details>\n",
		escape.HTML(string(c.Action)), escape.HTML(c.Chart), escape.HTML(c.Object()), escape.HTML(c.Env), escape.Fenced("diff", d))
}

func omitted(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("\n> [!NOTE]\n> %d more object diffs are not shown (GitHub's comment size limit). Run `platform diff --base <base>` locally or read `release/<env>/` in this pull request.\n", n)
}

func truncate(s string, limit int) string {
	const note = "\n\n… truncated (GitHub's comment size limit).\n"
	if limit <= len(note) {
		return s[:limit]
	}
	cut := strings.LastIndex(s[:limit-len(note)], "\n")
	if cut < 0 {
		cut = limit - len(note)
	}
	return s[:cut] + note
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
