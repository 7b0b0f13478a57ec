package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/escape/escapetest"
)

// runnerCommand is what the runner parses as a workflow command: "::" at a line's start
// after white space, or the legacy "##[" anywhere in a line.
var runnerCommand = regexp.MustCompile(`^\s*::|##\[`)

// hostileFindings puts h in every field of a finding, one field at a time.
func hostileFindings(h string) map[string]Finding {
	base := Finding{Severity: Error, Rule: "schema", Chart: "app/demo", Env: "dev", File: "app/demo/templates/cm.yaml",
		Object: "ConfigMap/demo/demo", Path: "data", Message: "bad"}
	out := map[string]Finding{}
	for _, field := range []string{"rule", "chart", "env", "file", "object", "path", "message"} {
		f := base
		switch field {
		case "rule":
			f.Rule = h
		case "chart":
			f.Chart = h
		case "env":
			f.Env = h
		case "file":
			f.File = h
		case "object":
			f.Object = h
		case "path":
			f.Path = h
		case "message":
			f.Message = h
		}
		out[field] = f
	}
	return out
}

// TestTextHostile: a finding is one line of the log whatever its fields hold: no field adds
// a line, a workflow command or a control character.
func TestTextHostile(t *testing.T) {
	for _, h := range escapetest.Hostile {
		for field, f := range hostileFindings(h) {
			var buf bytes.Buffer
			if err := Text(&buf, &Report{Findings: []Finding{f}}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "error ") {
				t.Errorf("%s %q: want the finding and the summary, got:\n%s", field, h, buf.String())
			}
			for _, l := range lines {
				if runnerCommand.MatchString(l) || strings.ContainsAny(l, "\r\x00\x1b\u202e\u2066\u2069") {
					t.Errorf("%s %q: unsafe line %q", field, h, l)
				}
			}
		}
	}
}

func TestTextNormal(t *testing.T) {
	f := Finding{Severity: Error, Rule: "schema", Chart: "app/demo", Env: "dev", File: "app/demo/templates/deployment.yaml", Line: 3,
		Object: "Deployment/demo/demo", Path: "spec.replicas", Message: "must be >= 1: got -1"}
	want := "error app/demo [dev] app/demo/templates/deployment.yaml:3: Deployment/demo/demo: spec.replicas: must be >= 1: got -1 (schema)"
	if got := f.String(); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// TestGitHubHostile: the github format prints exactly one command per finding, whose
// properties are only those it sets, whatever the fields hold.
func TestGitHubHostile(t *testing.T) {
	props := regexp.MustCompile(`^::error ([^:]*)::(.*)$`)
	for _, h := range escapetest.Hostile {
		for field, f := range hostileFindings(h) {
			var buf bytes.Buffer
			if err := GitHub(&buf, &Report{Findings: []Finding{f}}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("%s %q: want one command and the summary, got:\n%s", field, h, buf.String())
			}
			m := props.FindStringSubmatch(lines[0])
			if m == nil {
				t.Fatalf("%s %q: not an error command: %q", field, h, lines[0])
			}
			var keys []string
			for _, p := range strings.Split(m[1], ",") {
				k, _, _ := strings.Cut(p, "=")
				keys = append(keys, k)
			}
			if got := strings.Join(keys, ","); got != "file,title" {
				t.Errorf("%s %q: properties %s, want file,title: %q", field, h, got, lines[0])
			}
			if runnerCommand.MatchString(lines[1]) || strings.ContainsAny(buf.String(), "\r\x00\x1b\u202e") {
				t.Errorf("%s %q: unsafe output %q", field, h, buf.String())
			}
		}
	}
}
