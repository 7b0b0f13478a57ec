package plan

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// official is the render of Application app's official chart in dev: a ConfigMap and a
// Secret in namespace prometheus.
func official(app string) *render.Result {
	return &render.Result{
		Chart: discovery.Chart{ID: app, Name: "kube-prometheus-stack", Version: "88.5.3", Namespace: "prometheus"},
		Env:   "dev",
		Objects: []*render.Object{
			{Template: "kube-prometheus-stack/templates/cm.yaml", APIVersion: "v1", Kind: "ConfigMap", Namespace: "prometheus", Name: "grafana",
				Body: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "grafana"}}},
			{Template: "kube-prometheus-stack/charts/grafana/templates/secret.yaml", APIVersion: "v1", Kind: "Secret", Namespace: "prometheus", Name: "grafana",
				Body: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "grafana"}, "data": map[string]any{"admin-password": "cHJvbS1vcGVyYXRvcg=="}}},
		},
		Official: &render.Source{Application: app, Field: "spec.source", RepoURL: "https://prometheus-community.github.io/helm-charts",
			Chart: "kube-prometheus-stack", Version: "88.5.3", Tree: "deploy/argocd/infra", File: "deploy/argocd/infra/templates/applications.yaml"},
	}
}

// TestOfficialFiles: an official chart's objects are planned in <application>/, beside our
// charts, Secret data redacted, and the source comment names the Application and the chart
// but not its version (a bump rewrites only the files whose objects change).
func TestOfficialFiles(t *testing.T) {
	files, err := Files(append(renders("deploy/argocd/infra", "argocd", "infra"), official("kube-prometheus-stack")))
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(maps.Keys(files))
	want := []string{
		"deploy/argocd/infra/argocd_configmap_infra.yaml",
		"kube-prometheus-stack/prometheus_configmap_grafana.yaml",
		"kube-prometheus-stack/prometheus_secret_grafana.yaml",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	secret := string(files["kube-prometheus-stack/prometheus_secret_grafana.yaml"])
	if strings.Contains(secret, "cHJvbS1vcGVyYXRvcg==") || !strings.Contains(secret, "admin-password: "+Redacted) {
		t.Errorf("Secret not redacted:\n%s", secret)
	}
	head := "# Source: kube-prometheus-stack/charts/grafana/templates/secret.yaml\n" +
		"# Application: kube-prometheus-stack, chart kube-prometheus-stack (https://prometheus-community.github.io/helm-charts), environment: dev\n"
	if !strings.HasPrefix(secret, head) {
		t.Errorf("source comment:\n%s\nwant it to start with:\n%s", secret, head)
	}
}

// TestOfficialHostileRepoURL: a repoURL with a newline stays inside the source comment.
func TestOfficialHostileRepoURL(t *testing.T) {
	res := official("kube-prometheus-stack")
	res.Official.RepoURL = "https://x\nkind: Namespace"
	files, err := Files([]*render.Result{res})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "kind: Namespace") {
				t.Errorf("%s: the repoURL broke out of the comment:\n%s", name, data)
			}
		}
	}
}

// TestOfficialApplicationDir: an Application's name is its plan directory; one that is not
// a single DNS-1123 name, or that is the first directory of our layout, is refused and
// nothing is planned.
func TestOfficialApplicationDir(t *testing.T) {
	for _, tc := range []struct{ name, app, want string }{
		{"layout app", "app", `release/<env>/app/ holds the plans of the charts under app/`},
		{"layout infra", "infra", "charts under infra/"},
		{"layout deploy", "deploy", "charts under deploy/"},
		{"layout charts", "charts", "charts under charts/"},
		{"slash", "deploy/argocd", "cannot name a plan directory"},
		{"dot-dot", "..", "cannot name a plan directory"},
		{"traversal", "../../tmp", "cannot name a plan directory"},
		{"upper case", "Kube", "cannot name a plan directory"},
		{"empty", "", "cannot name a plan directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Files([]*render.Result{official(tc.app)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q (files %v)", err, tc.want, files)
			}
			if !strings.Contains(err.Error(), "chart kube-prometheus-stack 88.5.3") {
				t.Errorf("the error does not name the chart: %v", err)
			}
		})
	}
	// A name that only starts like a layout directory is its own directory.
	if _, err := Files([]*render.Result{official("apps"), official("infra-shared")}); err != nil {
		t.Errorf("apps, infra-shared: %v", err)
	}
}
