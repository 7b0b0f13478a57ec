package gitops

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pinned are the official charts the Helmfiles release, at the exact versions chosen.
var pinned = map[string]map[string]string{
	"argocd.yaml":      {"argo/argo-cd": "10.9.6"},
	"argocd-apps.yaml": {"argo/argocd-apps": "2.0.4", "../../projects": "0.4.0"},
}

func TestHelmfiles(t *testing.T) {
	dir := "deploy/argocd/shared/root/helmfile.d"
	for file, charts := range pinned {
		for _, env := range envs {
			t.Run(file+"/"+env, func(t *testing.T) {
				h, err := LoadHelmfile(repoRoot(t), dir+"/"+file, env)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range h.Problems(envs...) {
					t.Error(p)
				}
				if h.Repositories["argo"] != "https://argoproj.github.io/argo-helm" {
					t.Errorf("repository argo = %q, want https://argoproj.github.io/argo-helm", h.Repositories["argo"])
				}
				for chart, version := range charts {
					r, ok := h.Release(chart)
					if !ok {
						t.Errorf("no release of %s", chart)
						continue
					}
					if r.Version != version || r.Namespace != "argocd" {
						t.Errorf("%s: version %s in %s, want %s in argocd", chart, r.Version, r.Namespace, version)
					}
					// Each environment's own values file is listed (after the common ones).
					if !slices.ContainsFunc(r.Values, func(v string) bool { return strings.Contains(filepath.Base(v), env) }) {
						t.Errorf("%s: values %v list no %s file", chart, r.Values, env)
					}
				}
			})
		}
	}
}

func TestHelmfileProblems(t *testing.T) {
	cases := []struct {
		name, content string
		want          []string
	}{
		{name: "fit", content: "environments:\n  dev: {}\n  prd: {}\n---\nrepositories:\n  - name: argo\n    url: https://argoproj.github.io/argo-helm\nreleases:\n  - name: a\n    chart: argo/argo-cd\n    version: 10.9.6\n    values:\n      - v-{{ .Environment.Name }}.yaml\n"},
		{name: "range version, missing env, missing values, unknown repo",
			content: "environments:\n  dev: {}\n---\nreleases:\n  - name: a\n    chart: other/argo-cd\n    version: ~10.9\n    values:\n      - missing-{{ .Environment.Name }}.yaml\n",
			want:    []string{`environment "prd" is not declared`, `version "~10.9" is not an exact version`, "values file", `chart "other/argo-cd" is not from a declared repository`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, env := range envs {
				if err := os.WriteFile(filepath.Join(dir, "v-"+env+".yaml"), []byte("{}\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "helmfile.yaml")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			h, err := LoadHelmfile(dir, "helmfile.yaml", "dev")
			if err != nil {
				t.Fatal(err)
			}
			got := h.Problems(envs...)
			if len(tc.want) == 0 && len(got) > 0 {
				t.Errorf("problems %q, want none", got)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("no problem %q among %q", w, got)
				}
			}
		})
	}
	t.Run("not a helmfile", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "helmfile.yaml"), []byte("releases:\n  - name: a\n    chartt: x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadHelmfile(dir, "helmfile.yaml", "dev"); err == nil {
			t.Error("a misspelled field parsed")
		}
	})
}

func TestRootApplication(t *testing.T) {
	for _, env := range envs {
		t.Run(env, func(t *testing.T) {
			app, err := RootApplication(repoRoot(t), RootHelmfile, env)
			if err != nil {
				t.Fatal(err)
			}
			n, err := node(app)
			if err != nil {
				t.Fatal(err)
			}
			if n.Name != "argocd-root" || n.Project != "root" || n.Source.Path != "deploy/argocd/shared/parent" ||
				!slices.Equal(n.Source.ValueFiles, []string{"values-" + env + ".yaml"}) {
				t.Errorf("root = %s [%s] %s %v, want argocd-root [root] deploy/argocd/shared/parent values-%s.yaml",
					n.Name, n.Project, n.Source.Path, n.Source.ValueFiles, env)
			}
			// The tree's git sources in the parents follow the same revision as the root.
			tr := realTree(t, env)
			for _, c := range tr.Root.Children {
				if c.Source.TargetRevision != n.Source.TargetRevision || c.Source.RepoURL != n.Source.RepoURL {
					t.Errorf("%s follows %s@%s, the root %s@%s", c.Name, c.Source.RepoURL, c.Source.TargetRevision, n.Source.RepoURL, n.Source.TargetRevision)
				}
			}
		})
	}
}
