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
