package catalog

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// Writer prints a catalog in one format.
type Writer func(w io.Writer, c *Catalog) error

var formats = report.Formats[*Catalog]{
	"text":     Text,
	"markdown": func(w io.Writer, c *Catalog) error { _, err := io.WriteString(w, Markdown(c)); return err },
	"json":     JSON,
}

// Format returns the writer for an --output name.
func Format(name string) (Writer, error) { return formats.Writer(name) }

// FormatNames lists the output formats, sorted.
func FormatNames() []string { return formats.Names() }

// row is a service's cells, shared by the text and markdown formats.
func row(s Service) []string {
	var ports, svc []string
	for _, p := range s.Ports {
		ports = append(ports, p.String())
	}
	for _, p := range s.Service {
		svc = append(svc, p.String())
	}
	var queues []string
	for _, q := range s.Queues {
		queues = append(queues, q.String())
	}
	return []string{s.Name, s.Namespace, s.Image.Registry, s.Image.Repository, s.Image.Tag,
		dash(strings.Join(ports, ", ")), dash(strings.Join(svc, ", ")), dash(strings.Join(s.Nodegroup, ",")),
		s.Database.String(), dash(strings.Join(queues, ", ")), dash(s.Application)}
}

var header = []string{"SERVICE", "NAMESPACE", "REGISTRY", "REPOSITORY", "TAG", "CONTAINER PORTS", "SERVICE PORTS", "NODEGROUP", "DATABASE", "QUEUES", "APPLICATION"}

// Text prints one aligned table with an ENV column. Every cell is escaped (escape.Line):
// a tab or a newline in a name cannot shift the columns or add a line to the log.
func Text(w io.Writer, c *Catalog) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\t"+strings.Join(header, "\t"))
	for _, s := range c.Services {
		cells := append([]string{s.Env}, row(s)...)
		for i, cell := range cells {
			cells[i] = escape.Line(cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// JSON prints the catalog as one document.
func JSON(w io.Writer, c *Catalog) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// Markdown is one table per environment, for the README and the pull-request comment.
// Every cell is an escaped code span (escape.Cell), every environment name escaped text.
func Markdown(c *Catalog) string {
	var b strings.Builder
	cols := []string{"service", "namespace", "registry", "repository", "tag", "container ports", "service ports", "nodegroup", "database", "queues", "application"}
	for i, env := range c.Envs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**%s**\n\n| %s |\n|%s\n", escape.Text(env), strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
		for _, s := range c.Services {
			if s.Env != env {
				continue
			}
			cells := row(s)
			for j, cell := range cells {
				if cell != "-" {
					cells[j] = escape.Cell(cell)
				}
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
