package catalog

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/escape/escapetest"
)

// namedCatalog is a catalog of one service in one environment whose every cell is name.
func namedCatalog(name string) *Catalog {
	return &Catalog{Envs: []string{name}, Services: []Service{{
		Env: name, Name: name, Chart: name, Namespace: name,
		Image:       Image{Registry: name, Repository: name, Tag: name},
		Ports:       []Port{{Container: name, Name: name, Port: 8080}},
		Service:     []ServicePort{{Service: name, Name: name, Port: 80}},
		Nodegroup:   []string{name},
		Database:    &Database{Kind: "external", Name: name, Endpoint: name},
		Queues:      []Queue{{Name: name, Role: "consume", Env: name, URL: name}},
		Application: name,
	}}}
}

// TestMarkdownHostileNames: hostile names add no markup to the catalog's tables.
func TestMarkdownHostileNames(t *testing.T) {
	want := escapetest.Markup(Markdown(namedCatalog("account")))
	for _, h := range escapetest.Hostile {
		md := Markdown(namedCatalog(h))
		if got := escapetest.Markup(md); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%q: markup %v, want %v:\n%s", h, got, want, md)
		}
		// A table row per service: a newline or an unescaped pipe would break the table.
		rows := 0
		for _, l := range strings.Split(md, "\n") {
			if strings.HasPrefix(l, "| `") {
				rows++
				if cells := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(l, -1)); cells != 12 {
					t.Errorf("%q: row has %d cell delimiters, want 12: %s", h, cells, l)
				}
			}
		}
		if rows != 1 {
			t.Errorf("%q: %d service rows, want 1:\n%s", h, rows, md)
		}
	}
}

// TestTextHostileNames: hostile names neither add lines nor workflow commands to the text
// table, nor shift its columns with a tab.
func TestTextHostileNames(t *testing.T) {
	command := regexp.MustCompile(`^\s*::|##\[`)
	for _, h := range escapetest.Hostile {
		var buf bytes.Buffer
		if err := Text(&buf, namedCatalog(h)); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != 2 {
			t.Errorf("%q: %d lines, want the header and one row:\n%s", h, len(lines), buf.String())
		}
		for _, l := range lines {
			if command.MatchString(l) || strings.ContainsAny(l, "\t\r\x00\x1b\u202e\u2066") {
				t.Errorf("%q: unsafe line %q", h, l)
			}
		}
	}
}
