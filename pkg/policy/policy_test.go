package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
)

// fixtureChart is the annotation that sets, in a fixture, the chart that rendered an object.
const fixtureChart = "fixture.policy/chart"

var envDirective = regexp.MustCompile(`(?m)^# env: (\S+)$`)

// loadFixture reads a multi-document fixture into an environment (default prd; a first
// line "# env: dev" changes it). HelmChart documents become the environment's charts.
func loadFixture(t *testing.T, e *Engine, file string) *Env {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Decode(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	name := "prd"
	if m := envDirective.FindSubmatch(data); m != nil {
		name = string(m[1])
	}
	env := e.NewEnv(name, nil)
	for _, o := range objs {
		o.Template = filepath.ToSlash(file)
		chart := str(get(o.Body, "metadata", "annotations", fixtureChart))
		if chart == "" {
			chart = "fixture"
		}
		po := &Object{Object: o, Chart: chart}
		if o.Kind == "HelmChart" {
			env.Charts = append(env.Charts, po)
		} else {
			env.Objects = append(env.Objects, po)
		}
	}
	return env
}

func newEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// findingsOf runs one rule on a fixture and returns the findings of that rule.
func findingsOf(t *testing.T, e *Engine, r *Rule, file string) []report.Finding {
	t.Helper()
	env := loadFixture(t, e, file)
	if r.CheckedBy == "schema" {
		s, err := schema.New()
		if err != nil {
			t.Fatal(err)
		}
		var out []report.Finding
		for _, o := range env.Objects {
			vs, err := s.Validate(o.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				out = append(out, report.Finding{Rule: "schema", Object: o.ID(), Path: v.Path, Message: v.Message})
			}
		}
		return out
	}
	e.Rules = []*Rule{r}
	var out []report.Finding
	for _, f := range e.Run(env) {
		if f.Rule == r.Title() {
			out = append(out, f)
		}
	}
	return out
}

// TestRules runs every rule on its fixtures: success.*.yaml must pass, failure.*.yaml must
// fail, and every registered rule must have at least one of each.
func TestRules(t *testing.T) {
	e := newEngine(t)
	for _, r := range Rules() {
		t.Run(r.ID, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join("testdata", r.ID, "*.yaml"))
			var pass, fail int
			for _, file := range files {
				base := filepath.Base(file)
				switch {
				case strings.HasPrefix(base, "success."):
					pass++
					t.Run(base, func(t *testing.T) {
						for _, f := range findingsOf(t, e, r, file) {
							t.Errorf("unexpected finding: %s", f)
						}
					})
				case strings.HasPrefix(base, "failure."):
					fail++
					t.Run(base, func(t *testing.T) {
						got := findingsOf(t, e, r, file)
						if len(got) == 0 {
							t.Errorf("no %s finding", r.Title())
						}
						for _, f := range got {
							t.Logf("%s", f)
							if r.CheckedBy == "" && f.Object == "" {
								t.Errorf("finding without object: %s", f)
							}
						}
					})
				default:
					t.Errorf("fixture %s: name it success.<case>.yaml or failure.<case>.yaml", file)
				}
			}
			if pass == 0 || fail == 0 {
				t.Errorf("rule %s needs testdata/%s/success.<case>.yaml and failure.<case>.yaml (has %d and %d)", r.Title(), r.ID, pass, fail)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		for _, key := range []string{r.ID, r.Name} {
			if seen[key] {
				t.Errorf("duplicate rule id or name %q", key)
			}
			seen[key] = true
		}
		if !regexp.MustCompile(`^[CHMLP]\d\d$`).MatchString(r.ID) {
			t.Errorf("rule id %q: want a letter and two digits", r.ID)
		}
		if r.Description == "" || r.Remediation == "" || len(r.Sources) == 0 || r.Kinds == "" {
			t.Errorf("rule %s lacks description, remediation, kinds or sources", r.ID)
		}
		if (r.check == nil) == (r.CheckedBy == "") {
			t.Errorf("rule %s: exactly one of check and CheckedBy", r.ID)
		}
	}
	if r, ok := Lookup("read-only-rootfs"); !ok || r.ID != "H03" {
		t.Errorf("Lookup by name: %v %v", r, ok)
	}
}

func TestSeverityByEnvironment(t *testing.T) {
	tests := []struct {
		sev  Severity
		prd  bool
		want report.Severity
	}{
		{Critical, false, report.Error}, {Critical, true, report.Error},
		{High, false, report.Warning}, {High, true, report.Error},
		{Medium, true, report.Warning}, {Low, true, report.Info},
	}
	for _, tt := range tests {
		if got := tt.sev.In(tt.prd); got != tt.want {
			t.Errorf("%s in production=%v: %s, want %s", tt.sev, tt.prd, got, tt.want)
		}
	}
}

func TestExemptions(t *testing.T) {
	const workload = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: legacy
  namespace: microservices
  annotations:
    %s
spec:
  selector: {matchLabels: {app: legacy}}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers:
        - name: app
          image: docker.io/library/nginx:1.29.0
          securityContext: {readOnlyRootFilesystem: false}
`
	tests := []struct {
		name       string
		annotation string
		wantRule   []string // rules of the findings, in order
		wantSev    []report.Severity
	}{
		{"by id", `policy.microservices-manifests.io/exempt-H03: "nginx writes its cache under /var/cache"`,
			[]string{ExemptRule}, []report.Severity{report.Info}},
		{"by name", `policy.microservices-manifests.io/exempt-read-only-rootfs: "nginx writes its cache"`,
			[]string{ExemptRule}, []report.Severity{report.Info}},
		{"empty reason", `policy.microservices-manifests.io/exempt-H03: ""`,
			[]string{"H03 read-only-rootfs", ExemptRule}, []report.Severity{report.Error, report.Error}},
		{"unknown rule", `policy.microservices-manifests.io/exempt-X99: "because"`,
			[]string{"H03 read-only-rootfs", ExemptRule}, []report.Severity{report.Error, report.Error}},
	}
	e := newEngine(t)
	r, _ := Lookup("H03")
	e.Rules = []*Rule{r}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := render.Decode([]byte(strings.Replace(workload, "%s", tt.annotation, 1)))
			if err != nil {
				t.Fatal(err)
			}
			env := e.NewEnv("prd", []*Object{{Object: objs[0], Chart: "app/legacy"}})
			got := e.Run(env)
			if len(got) != len(tt.wantRule) {
				t.Fatalf("got %d findings, want %d: %v", len(got), len(tt.wantRule), got)
			}
			for i, f := range got {
				if f.Rule != tt.wantRule[i] || f.Severity != tt.wantSev[i] {
					t.Errorf("finding %d: %s %q, want %s %q (%s)", i, f.Severity, f.Rule, tt.wantSev[i], tt.wantRule[i], f)
				}
			}
		})
	}
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		ref  string
		want image
	}{
		{"nginx", image{Repository: "nginx"}},
		{"nginx:1.29", image{Repository: "nginx", Tag: "1.29"}},
		{"docker.io/envoyproxy/envoy:v1.39.6", image{Registry: "docker.io", Repository: "envoyproxy/envoy", Tag: "v1.39.6"}},
		{"localhost:5000/a/b@sha256:abc", image{Registry: "localhost:5000", Repository: "a/b", Digest: "sha256:abc"}},
		{"1.dkr.ecr.x.amazonaws.com/m/a:1.0.0@sha256:abc", image{Registry: "1.dkr.ecr.x.amazonaws.com", Repository: "m/a", Tag: "1.0.0", Digest: "sha256:abc"}},
	}
	for _, tt := range tests {
		if got := parseImage(tt.ref); got != tt.want {
			t.Errorf("parseImage(%q) = %+v, want %+v", tt.ref, got, tt.want)
		}
	}
}

// TestDocsFresh fails when docs/policies.md is not what the registry generates
// (regenerate: go run ./cmd/platform policy docs > docs/policies.md).
func TestDocsFresh(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "policies.md")
	if os.Getenv("UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it: make docs)", err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Errorf("docs/policies.md is stale: run make docs (platform policy docs > docs/policies.md)")
	}
}
