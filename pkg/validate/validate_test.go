package validate

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/policy"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// want is one expected finding; Message is a substring.
type want struct {
	Env, Rule, File string
	Line            int
	Object, Path    string
	Message         string
}

// run validates the base repository with overlays, schema only: the demo chart is a schema
// fixture, not a hardened workload (policies are tested in pkg/policy and TestPolicies).
func run(t *testing.T, overlays ...string) *Result {
	t.Helper()
	root := testutil.Repo(t, "testdata/base", overlays...)
	res, err := (&Validator{Root: root, SkipPolicies: true}).Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestBaseIsValid(t *testing.T) {
	res := run(t)
	for _, f := range res.Report.Findings {
		t.Errorf("unexpected finding: %s", f)
	}
	// demo renders Deployment, Secret, Service and VirtualService in dev and prd.
	if res.Report.Objects != 8 || res.Report.Charts != 1 || len(res.Report.Envs) != 2 {
		t.Errorf("summary = %q, want 8 objects in 1 charts x 2 envs", res.Report.Summary())
	}
}

func TestFailures(t *testing.T) {
	const (
		dep = "app/demo/templates/deployment.yaml"
		svc = "app/demo/templates/service.yaml"
		vs  = "app/demo/templates/virtualservice.yaml"
	)
	both := func(w want) []want {
		d, p := w, w
		d.Env, p.Env = "dev", "prd"
		return []want{d, p}
	}
	tests := []struct {
		fixture string
		want    []want
	}{
		{"template-syntax", both(want{Rule: "template", File: svc, Line: 4, Message: "template syntax: unexpected"})},
		{"template-required", both(want{Rule: "template", File: svc, Line: 7, Message: "owner is required"})},
		{"library-template", both(want{Rule: "template", File: "charts/lib/templates/_labels.tpl", Line: 3, Message: `function "nosuchfunction" not defined`})},
		{"unknown-field", both(want{Rule: "schema", File: dep, Object: "Deployment/demo/demo",
			Path: "spec.template.spec.containers[0].imagePullPolice", Message: `unknown field "imagePullPolice"`})},
		{"bad-enum", both(want{Rule: "schema", File: dep, Object: "Deployment/demo/demo",
			Path: "spec.template.spec.containers[0].imagePullPolicy", Message: "Sometimes"})},
		{"wrong-type", both(want{Rule: "schema", File: dep, Object: "Deployment/demo/demo", Path: "spec.replicas", Message: "integer"})},
		{"missing-required", both(want{Rule: "schema", File: dep, Object: "Deployment/demo/demo", Path: "spec", Message: `"selector"`})},
		{"istio-unknown-field", both(want{Rule: "schema", File: vs, Object: "VirtualService/demo/demo",
			Path: "spec.http[0].rout", Message: `unknown field "rout"`})},
		{"unknown-kind", both(want{Rule: "schema", File: svc, Object: "Widget/demo/demo", Path: "apiVersion", Message: `no schema for kind "Widget"`})},
		// The ACK kinds of the Saga's queues and the API Gateway (CRDs from ../shared/crds).
		{"queue-unknown-field", both(want{Rule: "schema", File: "app/demo/templates/queue.yaml", Object: "Queue/demo/demo",
			Path: "spec.deadLetterQueue", Message: `unknown field "deadLetterQueue"`})},
		{"route-unknown-field", both(want{Rule: "schema", File: "app/demo/templates/route.yaml", Object: "Route/demo/demo",
			Path: "spec.targetRefs", Message: `unknown field "targetRefs"`})},
		{"duplicate-key-rendered", both(want{Rule: "yaml", File: svc, Message: `mapping key "name" already defined`})},
		{"missing-values-file", []want{{Env: "prd", Rule: "values", File: "app/demo/values-prd.yaml", Message: `missing values file for environment "prd"`}}},
		{"invalid-yaml-values", []want{{Env: "dev", Rule: "values", File: "app/demo/values-dev.yaml", Line: 2, Message: "did not find expected ',' or ']'"}}},
		{"duplicate-key-values", []want{{Env: "dev", Rule: "values", File: "app/demo/values-dev.yaml", Line: 3, Message: `mapping key "replicas" already defined at line 1`}}},
		{"values-schema", []want{{Env: "prd", Rule: "values-schema", File: "app/demo/values-prd.yaml", Line: 2, Path: "replicas", Message: "want integer"}}},
		{"values-unknown-key", []want{{Env: "prd", Rule: "values-schema", File: "app/demo/values-prd.yaml", Line: 2, Path: "replics", Message: "unknown key"}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			res := run(t, "testdata/failure."+tt.fixture)
			if !res.Report.Failed() {
				t.Fatalf("no error reported; summary %q", res.Report.Summary())
			}
			var got []report.Finding
			for _, f := range res.Report.Findings {
				if f.Severity == report.Error {
					got = append(got, f)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tt.want), list(got))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Chart != "app/demo" || g.Env != w.Env || g.Rule != w.Rule || g.File != w.File || g.Line != w.Line ||
					g.Object != w.Object || g.Path != w.Path || !strings.Contains(g.Message, w.Message) {
					t.Errorf("finding %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

func TestUnknownEnvironment(t *testing.T) {
	root := testutil.Repo(t, "testdata/base")
	_, err := (&Validator{Root: root, Envs: []string{"stg"}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `unknown environment "stg" (found: dev, prd)`) {
		t.Fatalf("err = %v", err)
	}
}

func list(fs []report.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	return b.String()
}

// TestPolicies checks that validate runs the policies after the schema check, on every
// environment, with HIGH failing only in prd, and describes the rules for SARIF.
func TestPolicies(t *testing.T) {
	root := testutil.Repo(t, "testdata/base")
	res, err := (&Validator{Root: root}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sev := map[string]report.Severity{}
	for _, f := range res.Report.Findings {
		if f.Rule == "H03 read-only-rootfs" {
			sev[f.Env] = f.Severity
		}
	}
	if sev["dev"] != report.Warning || sev["prd"] != report.Error {
		t.Errorf("H03 severities by env = %v, want dev warning, prd error", sev)
	}
	if len(res.Report.Rules) == 0 {
		t.Error("report carries no rule descriptions")
	}
	// With a chart selection, the rules that need the whole environment are skipped.
	res, err = (&Validator{Root: root, Charts: []string{"app/demo"}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Report.Findings {
		if strings.HasPrefix(f.Rule, "H07 ") {
			t.Errorf("whole-environment rule ran on a chart selection: %s", f)
		}
	}
}

// BenchmarkValidate measures the policies' share of a whole-repository validation
// (go test -bench Validate -run ^$ ./pkg/validate/).
func BenchmarkValidate(b *testing.B) {
	root := "../.."
	for _, skip := range []bool{true, false} {
		b.Run(fmt.Sprintf("policies=%v", !skip), func(b *testing.B) {
			for b.Loop() {
				if _, err := (&Validator{Root: root, SkipPolicies: skip}).Run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPolicies measures the policy stage alone on the whole repository's renders.
func BenchmarkPolicies(b *testing.B) {
	res, err := (&Validator{Root: "../..", SkipPolicies: true}).Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	engine, err := policy.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(res.Report.Objects), "objects")
	for b.Loop() {
		if _, err := engine.Check(res.Renders, false); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHostileNames: a rendered name or namespace the API server would reject is a
// schema-stage error located at its template and field, with a bounded, escaped message,
// and the object goes no further (no plan file, policy or diff sees it).
func TestHostileNames(t *testing.T) {
	configMap := func(name, namespace string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + namespace + "\ndata: {}\n"
	}
	tests := []struct {
		name, template string
		wantPath       string // "" when the name is valid
		wantMessage    string
	}{
		{"traversal", configMap(`"../../../../tmp/x"`, "demo"), "metadata.name", "DNS-1123 subdomain"},
		{"slash", configMap("a/b", "demo"), "metadata.name", `"a/b" is invalid`},
		{"upper case", configMap("Demo", "demo"), "metadata.name", "DNS-1123 subdomain"},
		{"10 MB", configMap(`{{ repeat 10485760 "a" }}`, "demo"), "metadata.name", "...(10485760 bytes)"},
		{"NUL", configMap(`"a\0b"`, "demo"), "metadata.name", `"a\x00b" is invalid`},
		{"newline", configMap(`"a\n::add-mask::b"`, "demo"), "metadata.name", `"a\n::add-mask::b" is invalid`},
		{"CRLF", configMap(`"demo\r\n"`, "demo"), "metadata.name", `"demo\r\n" is invalid`},
		{"unicode", configMap(`"dеmo"`, "demo"), "metadata.name", "DNS-1123 subdomain"},
		{"colons in a configmap", configMap(`"system:foo"`, "demo"), "metadata.name", "DNS-1123 subdomain"},
		{"traversal namespace", configMap("demo", `"../../etc"`), "metadata.namespace", "DNS-1123 label"},
		{"service with a dot", "apiVersion: v1\nkind: Service\nmetadata:\n  name: a.b\n  namespace: demo\nspec:\n  ports: [{port: 80}]\n",
			"metadata.name", "DNS-1035 label"},
		{"clusterrole with colons", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: system:foo\nrules: []\n", "", ""},
		{"clusterrole traversal", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: ../x\nrules: []\n",
			"metadata.name", "path segment"},
	}
	const file = "app/demo/templates/hostile.yaml"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testutil.Repo(t, "testdata/base")
			testutil.WriteFile(t, root, file, tt.template)
			res, err := (&Validator{Root: root, SkipPolicies: true}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []report.Finding
			for _, f := range res.Report.Findings {
				if f.Rule == "name" {
					got = append(got, f)
				}
				if len(f.String()) > 1000 {
					t.Errorf("finding of %d bytes: %.300s", len(f.String()), f.String())
				}
			}
			for _, r := range res.Renders {
				for _, o := range r.Objects {
					if o.Template == file && tt.wantPath != "" {
						t.Errorf("%s: the object with an invalid name was kept", r.Env)
					}
				}
			}
			if tt.wantPath == "" {
				if len(got) > 0 {
					t.Errorf("valid name reported: %s", list(got))
				}
				return
			}
			if len(got) != 2 { // dev and prd
				t.Fatalf("got %d name findings, want 2:\n%s", len(got), list(got))
			}
			for _, f := range got {
				if f.Severity != report.Error || f.File != file || f.Path != tt.wantPath || !strings.Contains(f.Message, tt.wantMessage) {
					t.Errorf("got %.400s\nwant error in %s at %s: ...%s...", f, file, tt.wantPath, tt.wantMessage)
				}
				if strings.ContainsAny(f.Object+f.Message, "\x00\r\n") {
					t.Errorf("control character in %q / %q", f.Object, f.Message)
				}
			}
		})
	}
}

// TestFindingObjectsAreBounded: object IDs of findings built by other stages from raw names
// (here the renderer's duplicate check) are bounded before the report is returned.
func TestFindingObjectsAreBounded(t *testing.T) {
	root := testutil.Repo(t, "testdata/base")
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ repeat 1048576 \"a\" }}\n  namespace: demo\n"
	testutil.WriteFile(t, root, "app/demo/templates/one.yaml", cm)
	testutil.WriteFile(t, root, "app/demo/templates/two.yaml", cm)
	res, err := (&Validator{Root: root, SkipPolicies: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dup := false
	for _, f := range res.Report.Findings {
		dup = dup || f.Rule == "duplicate"
		if len(f.Object) > 400 {
			t.Errorf("%s finding has an object ID of %d bytes", f.Rule, len(f.Object))
		}
	}
	if !dup {
		t.Errorf("no duplicate finding:\n%s", list(res.Report.Findings))
	}
}
