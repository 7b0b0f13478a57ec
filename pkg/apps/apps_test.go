package apps_test

import (
	"context"
	"slices"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/gitops"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

func TestKindOf(t *testing.T) {
	cases := []struct {
		name, repoURL, chart, path string
		want                       apps.Kind
	}{
		{name: "oci scheme", repoURL: "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts", chart: "order", want: apps.OCI},
		{name: "registry without scheme", repoURL: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts", chart: "order", want: apps.OCI},
		{name: "https helm repository", repoURL: "https://istio-release.storage.googleapis.com/charts", chart: "istiod", want: apps.HelmRepo},
		{name: "http helm repository", repoURL: "http://charts.example.org", chart: "x", want: apps.HelmRepo},
		{name: "git path", repoURL: "https://github.com/example-org/repo.git", path: "app/order", want: apps.Path},
		{name: "chart wins over path", repoURL: "https://charts.example.org", chart: "x", path: "app/x", want: apps.HelmRepo},
		{name: "neither chart nor path", repoURL: "https://github.com/example-org/repo.git", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := apps.KindOf(tc.repoURL, tc.chart, tc.path); got != tc.want {
				t.Errorf("KindOf(%q, %q, %q) = %q, want %q", tc.repoURL, tc.chart, tc.path, got, tc.want)
			}
		})
	}
}

func TestFromBody(t *testing.T) {
	body := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "istiod", "namespace": "argocd",
			"annotations": map[string]any{"argocd.argoproj.io/sync-wave": "-1"}},
		"spec": map[string]any{
			"project": "infra",
			"source": map[string]any{"repoURL": "https://istio-release.storage.googleapis.com/charts", "chart": "istiod",
				"targetRevision": 1.2, "helm": map[string]any{
					"releaseName": "istiod", "values": "a: 1\n", "valuesObject": map[string]any{"b": 2},
					"valueFiles": []any{"values.yaml"},
					"parameters": []any{map[string]any{"name": "c", "value": "3"}}}},
			"sources":     []any{map[string]any{"repoURL": "https://github.com/example-org/repo.git", "path": "infra/x", "targetRevision": "refs/heads/main"}},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "istio-system"},
			"syncPolicy":  map[string]any{"syncOptions": []any{"ServerSideApply=true"}},
		},
	}
	a := apps.FromBody(body, "deploy/argocd/infra/istio")
	if a.Name != "istiod" || a.Namespace != "argocd" || a.Project != "infra" || a.Wave != "-1" || a.Chart != "deploy/argocd/infra/istio" {
		t.Errorf("metadata = %+v", a)
	}
	if a.Destination != (apps.Destination{Server: "https://kubernetes.default.svc", Namespace: "istio-system"}) {
		t.Errorf("destination = %+v", a.Destination)
	}
	if !slices.Equal(a.SyncOptions, []string{"ServerSideApply=true"}) {
		t.Errorf("syncOptions = %q", a.SyncOptions)
	}
	if len(a.Sources) != 2 {
		t.Fatalf("%d sources, want 2", len(a.Sources))
	}
	s, ok := a.Single()
	if !ok || s.Field != "spec.source" || s.Kind != apps.HelmRepo || s.Chart != "istiod" || s.TargetRevision != "1.2" ||
		s.Helm.ReleaseName != "istiod" || s.Helm.Values != "a: 1\n" || s.Helm.ValuesObject["b"] != 2 ||
		!slices.Equal(s.Helm.ValueFiles, []string{"values.yaml"}) || s.Helm.Parameters["c"] != "3" {
		t.Errorf("spec.source = %+v", s)
	}
	if s := a.Sources[1]; s.Field != "spec.sources[0]" || s.Kind != apps.Path || s.Path != "infra/x" {
		t.Errorf("spec.sources[0] = %+v", s)
	}

	set := apps.FromBody(map[string]any{"kind": "ApplicationSet", "metadata": map[string]any{"name": "set"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"project": "app",
			"source": map[string]any{"repoURL": "oci://registry.example.org/charts", "chart": "x"}}}}}, "")
	if s, ok := set.Single(); !ok || set.Project != "app" || s.Field != "spec.template.spec.source" || s.Kind != apps.OCI {
		t.Errorf("ApplicationSet = %+v, source %+v", set, s)
	}
}

// app is a rendered Application with one source.
func app(name string, source map[string]any) *render.Object {
	return &render.Object{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: name, Namespace: "argocd",
		Body: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": name, "namespace": "argocd"},
			"spec":     map[string]any{"source": source}}}
}

func gitPath(p string) map[string]any {
	return map[string]any{"repoURL": "https://github.com/example-org/repo.git", "path": p}
}

func names(as []*apps.Application) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func TestGraphFixture(t *testing.T) {
	renders := []*render.Result{
		{Chart: discovery.Chart{ID: "deploy/parent"}, Env: "dev", Objects: []*render.Object{
			app("app-parent", gitPath("deploy/app")), app("infra-parent", gitPath("./deploy/infra/"))}},
		{Chart: discovery.Chart{ID: "deploy/app"}, Env: "dev", Objects: []*render.Object{
			app("order", gitPath("app/order")),
			app("istiod", map[string]any{"repoURL": "https://istio-release.storage.googleapis.com/charts", "chart": "istiod"}),
			{APIVersion: "v1", Kind: "ConfigMap", Name: "not-an-app"}}},
		{Chart: discovery.Chart{ID: "deploy/infra"}, Env: "dev", Objects: []*render.Object{app("monitoring", gitPath("infra/monitoring"))}},
		{Chart: discovery.Chart{ID: "deploy/app"}, Env: "prd", Objects: []*render.Object{app("prd-only", gitPath("app/x"))}},
	}
	root := apps.FromBody(app("root", gitPath("deploy/parent")).Body, "helmfile.yaml")
	list := append([]*apps.Application{root}, apps.FromRenders(renders, "dev")...)
	g := apps.NewGraph(list, apps.PathResolver)
	if got := names(g.Roots()); !slices.Equal(got, []string{"root"}) {
		t.Errorf("roots = %q, want [root]", got)
	}
	byName := map[string]*apps.Application{}
	for _, a := range g.Applications() {
		byName[a.Name] = a
	}
	for parent, want := range map[string][]string{
		"root": {"app-parent", "infra-parent"}, "app-parent": {"order", "istiod"}, "infra-parent": {"monitoring"},
		"order": nil, "istiod": nil,
	} {
		if got := names(g.Children(byName[parent])); !slices.Equal(got, want) {
			t.Errorf("children of %s = %q, want %q", parent, got, want)
		}
		for _, c := range want {
			if p := g.Parent(byName[c]); p != byName[parent] {
				t.Errorf("parent of %s = %v, want %s", c, p, parent)
			}
		}
	}
	if got := g.Targets(byName["infra-parent"]); !slices.Equal(got, []string{"deploy/infra"}) {
		t.Errorf("targets of infra-parent = %q, want [deploy/infra] (path cleaned)", got)
	}
	if byName["prd-only"] != nil {
		t.Error("an Application of another environment is in the graph")
	}
}

// TestGraphRealRepository builds the graph of the repository's rendered plans: the root of
// the Helmfile, its two parents, and every child reached once.
func TestGraphRealRepository(t *testing.T) {
	want := map[string]map[string]int{ // children per Application with children
		"dev": {"argocd-root": 2, "argocd-app-parent": 6, "argocd-infra-parent": 9, "istio": 5},
		"prd": {"argocd-root": 2, "argocd-app-parent": 6, "argocd-infra-parent": 14, "istio": 5},
	}
	for _, env := range []string{"dev", "prd"} {
		t.Run(env, func(t *testing.T) {
			res, err := (&validate.Validator{Root: "../..", Envs: []string{env}}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			body, err := gitops.RootApplication(res.Repo.Root, gitops.RootHelmfile, env)
			if err != nil {
				t.Fatal(err)
			}
			rendered := apps.FromRenders(res.Renders, env)
			g := apps.NewGraph(append([]*apps.Application{apps.FromBody(body, gitops.RootHelmfile)}, rendered...), apps.PathResolver)
			roots := g.Roots()
			if got := names(roots); !slices.Equal(got, []string{"argocd-root"}) {
				t.Fatalf("roots = %q, want [argocd-root]", got)
			}
			if got := names(g.Children(roots[0])); !slices.Equal(got, []string{"argocd-app-parent", "argocd-infra-parent"}) {
				t.Errorf("children of argocd-root = %q, want both parents", got)
			}
			seen := map[*apps.Application]int{}
			got := map[string]int{}
			var walk func(a *apps.Application)
			walk = func(a *apps.Application) {
				seen[a]++
				if c := g.Children(a); len(c) > 0 {
					got[a.Name] = len(c)
				}
				for _, c := range g.Children(a) {
					if g.Parent(c) != a {
						t.Errorf("parent of %s = %v, want %s", c.Name, g.Parent(c), a.Name)
					}
					walk(c)
				}
			}
			walk(roots[0])
			for name, n := range want[env] {
				if got[name] != n {
					t.Errorf("%s has %d children, want %d", name, got[name], n)
				}
			}
			for name := range got {
				if _, ok := want[env][name]; !ok {
					t.Errorf("%s has %d children, want none", name, got[name])
				}
			}
			for _, a := range rendered {
				if seen[a] != 1 {
					t.Errorf("%s (rendered by %s) is reached %d times, want once", a.Name, a.Chart, seen[a])
				}
			}
			if total := len(seen); total != 1+len(rendered) {
				t.Errorf("%d Applications in the tree, want %d", total, 1+len(rendered))
			}
		})
	}
}
