package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// TestChartExemptions: objects of an official chart carry no annotations of ours, so the
// Application that installs them exempts them (ChartExemptionsAnnotation). Each case would
// pass silently, or fail the wrong way, without the part of addChartExemptions it names.
func TestChartExemptions(t *testing.T) {
	e := newEngine(t)
	daemonSet := func() *Object {
		body := map[string]any{"apiVersion": "apps/v1", "kind": "DaemonSet",
			"metadata": map[string]any{"name": "node-exporter", "namespace": "prometheus"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"hostPID": true,
				"containers": []any{map[string]any{"name": "c", "image": "quay.io/prometheus/node-exporter:v1.9.1"}}}}}}
		return &Object{Chart: "kps", Application: "kps", Object: &render.Object{APIVersion: "apps/v1", Kind: "DaemonSet",
			Namespace: "prometheus", Name: "node-exporter", Template: "kube-prometheus-stack/templates/ds.yaml", Body: body}}
	}
	application := func(entries any) *Object {
		ann := map[string]any{}
		if entries != nil {
			raw, ok := entries.(string)
			if !ok {
				b, _ := json.Marshal(entries)
				raw = string(b)
			}
			ann[ChartExemptionsAnnotation] = raw
		}
		body := map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": "kps", "namespace": "argocd", "annotations": ann}}
		return &Object{Chart: "deploy/argocd/infra", Object: &render.Object{APIVersion: "argoproj.io/v1alpha1", Kind: "Application",
			Namespace: "argocd", Name: "kps", Template: "deploy/argocd/infra/templates/applications.yaml", Body: body}}
	}
	reason := "node-exporter reads the node's processes"
	tests := []struct {
		name    string
		entries any
		// wantC02 says whether the DaemonSet's C02 finding remains; want names another
		// finding that must be reported (rule exempt), "" for none.
		wantC02 bool
		want    string
	}{
		{name: "no-annotation", wantC02: true},
		{name: "exempted", entries: []ChartExemption{{Rules: []string{"C02"}, Objects: []string{"DaemonSet/node-*"}, Reason: reason}},
			want: "exempts DaemonSet/node-* of Application kps from C02 host-namespaces: " + reason + " (suppresses 1 finding)"},
		{name: "by-rule-name", entries: []ChartExemption{{Rules: []string{"host-namespaces"}, Objects: []string{"DaemonSet/node-exporter"}, Reason: reason}}},
		{name: "other-kind", entries: []ChartExemption{{Rules: []string{"C02"}, Objects: []string{"Deployment/node-exporter"}, Reason: reason}},
			wantC02: true, want: `object pattern "Deployment/node-exporter" matches no object`},
		{name: "no-reason", entries: []ChartExemption{{Rules: []string{"C02"}, Objects: []string{"DaemonSet/node-exporter"}, Reason: " "}},
			wantC02: true, want: "needs rules, objects and a reason"},
		{name: "unknown-rule", entries: []ChartExemption{{Rules: []string{"C99"}, Objects: []string{"DaemonSet/node-exporter"}, Reason: reason}},
			wantC02: true, want: `unknown rule "C99"`},
		{name: "bad-pattern", entries: []ChartExemption{{Rules: []string{"C02"}, Objects: []string{"DaemonSet/["}, Reason: reason}},
			wantC02: true, want: `object pattern "DaemonSet/["`},
		{name: "not-json", entries: "C02: all", wantC02: true, want: "not a JSON list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := e.NewEnv("prd", []*Object{application(tc.entries), daemonSet()})
			findings := e.Run(env)
			gotC02, gotWant := false, tc.want == ""
			for _, f := range findings {
				if strings.HasPrefix(f.Rule, "C02") && f.Object == "DaemonSet/prometheus/node-exporter" {
					gotC02 = true
				}
				if tc.want != "" && f.Rule == ExemptRule && strings.Contains(f.Message, tc.want) {
					gotWant = true
					if f.Object != "Application/argocd/kps" || f.Chart != "deploy/argocd/infra" {
						t.Errorf("exemption finding names %s in %s, want the Application in its tree chart", f.Object, f.Chart)
					}
				}
			}
			if gotC02 != tc.wantC02 {
				t.Errorf("C02 on the DaemonSet reported: %v, want %v", gotC02, tc.wantC02)
			}
			if !gotWant {
				t.Errorf("no exempt finding containing %q in:\n%s", tc.want, dump(findings))
			}
		})
	}

	// An Application of the same name in another tree does not reach objects of a chart it
	// does not install: only objects whose Application is set are exempted.
	ours := daemonSet()
	ours.Application, ours.Chart = "", "infra/monitoring"
	env := e.NewEnv("prd", []*Object{application([]ChartExemption{{Rules: []string{"C02"}, Objects: []string{"DaemonSet/*"}, Reason: reason}}), ours})
	for _, f := range e.Run(env) {
		if f.Rule == ExemptRule && strings.Contains(f.Message, "suppresses") {
			t.Errorf("an Application's chart exemption applied to a chart of the repository: %s", f.Message)
		}
	}
}

func dump(fs []report.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Severity.String() + " " + f.Rule + " " + f.Object + ": " + f.Message + "\n")
	}
	return b.String()
}
