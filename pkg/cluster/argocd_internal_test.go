package cluster

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestArgoCDTreeOverride renders the App-of-Apps tree as ArgoCD would with the root's values
// override (each level with its parent's valuesObject over values-dev.yaml): every git
// source points at the local server, no Application of an official chart remains, the
// charts' values schemas accept the override, and the root Application is the helmfile's.
func TestArgoCDTreeOverride(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	a := &ArgoCD{Cluster: New(root, nil), Root: root, Env: "dev"}
	st := &ArgoCDState{RepoURL: "https://127.0.0.1:1/microservices-manifests.git", Revision: "refs/heads/local"}
	vo, excluded, err := a.treeOverride("deploy/argocd/shared/parent", st)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kube-prometheus-stack", "kiali", "jaeger", "istio-base", "istiod"} {
		if _, ok := excluded[want]; !ok {
			t.Errorf("excluded %v lacks %s", excluded, want)
		}
	}
	rootApp, err := a.rootApplication(st, vo)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(rootApp.Object, "spec", "source", "path"); got != "deploy/argocd/shared/parent" {
		t.Errorf("argocd-root path %q", got)
	}
	if got, _, _ := unstructured.NestedString(rootApp.Object, "spec", "project"); got != "root" {
		t.Errorf("argocd-root project %q", got)
	}

	// Walk the tree: chart path -> the valuesObject its Application carries.
	type level struct {
		path   string
		values map[string]any
	}
	queue := []level{{"deploy/argocd/shared/parent", vo}}
	var names []string
	for len(queue) > 0 {
		l := queue[0]
		queue = queue[1:]
		objs, err := a.renderChart(l.path, l.values)
		if err != nil {
			t.Fatalf("render %s with the override: %v", l.path, err)
		}
		for _, o := range objs {
			if o.GetKind() != "Application" {
				continue
			}
			names = append(names, o.GetName())
			src, _, _ := unstructured.NestedMap(o.Object, "spec", "source")
			if _, ok := excluded[o.GetName()]; ok {
				if src["chart"] == nil || strings.Contains(fmt.Sprint(src["repoURL"]), "127.0.0.1") {
					t.Errorf("%s is excluded but is not an official chart source: %v", o.GetName(), src)
				}
				continue
			}
			if src["repoURL"] != st.RepoURL {
				t.Errorf("%s (from %s): repoURL %v, want the local server", o.GetName(), l.path, src["repoURL"])
			}
			if src["targetRevision"] != st.Revision {
				t.Errorf("%s: targetRevision %v", o.GetName(), src["targetRevision"])
			}
			if v, ok, _ := unstructured.NestedMap(o.Object, "spec", "source", "helm", "valuesObject"); ok && v["git"] != nil {
				queue = append(queue, level{src["path"].(string), v})
			}
		}
	}
	for _, want := range []string{"argocd-app-parent", "argocd-infra-parent", "istio", "account", "frontend", "istio-config"} {
		if !slices.Contains(names, want) {
			t.Errorf("tree %v lacks %s", names, want)
		}
	}
	t.Logf("tree: %v; excluded: %v", names, excluded)

	projects, err := a.renderChart(projectsChart, map[string]any{"gitRepoURL": st.RepoURL})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range projects {
		repos, _, _ := unstructured.NestedStringSlice(p.Object, "spec", "sourceRepos")
		if p.GetName() != "default" && !slices.Contains(repos, st.RepoURL) {
			t.Errorf("AppProject %s sourceRepos %v lacks the local server", p.GetName(), repos)
		}
	}
}
