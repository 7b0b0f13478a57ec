package versioncheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
)

// repo is the validate fixture plus an Application chart pinning demo at 0.1.0 in prd,
// committed on main.
func repo(t *testing.T) string {
	t.Helper()
	return testutil.GitRepo(t, "../validate/testdata/base", "testdata/argocd")
}

func setVersion(t *testing.T, dir, version string) {
	t.Helper()
	p := filepath.Join(dir, "app/demo/Chart.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, dir, "app/demo/Chart.yaml", strings.Replace(string(data), "version: 0.1.0\nkubeVersion", "version: "+version+"\nkubeVersion", 1))
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		want   []string // "file:line: message substring"
	}{
		{"unchanged", func(*testing.T, string) {}, nil},
		{"changed without a bump", func(t *testing.T, dir string) {
			testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 3\n")
		}, []string{"app/demo/Chart.yaml:3: its version 0.1.0 is not greater than 0.1.0"}},
		{"bumped, Application not following", func(t *testing.T, dir string) {
			testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 3\n")
			setVersion(t, dir, "0.2.0")
		}, []string{"deploy/argocd/apps/values-prd.yaml:3: Application demo pins chart demo at 0.1.0 in prd, but the chart is now 0.2.0"}},
		{"bumped and pinned", func(t *testing.T, dir string) {
			testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 3\n")
			setVersion(t, dir, "0.2.0")
			testutil.WriteFile(t, dir, "deploy/argocd/apps/values-prd.yaml", "applications:\n  demo:\n    version: 0.2.0\n")
		}, nil},
		{"downgraded", func(t *testing.T, dir string) {
			testutil.WriteFile(t, dir, "app/demo/values-dev.yaml", "replicas: 2\n")
			setVersion(t, dir, "0.0.9")
		}, []string{"app/demo/Chart.yaml:3: its version 0.0.9 is not greater than 0.1.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := repo(t)
			tt.change(t, dir)
			rep, err := (&Checker{Root: dir, Base: "main"}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != len(tt.want) {
				t.Fatalf("got %d findings, want %d:\n%v", len(rep.Findings), len(tt.want), rep.Findings)
			}
			for i, w := range tt.want {
				f := rep.Findings[i]
				loc, msg, _ := strings.Cut(w, ": ")
				if f.Location() != loc || !strings.Contains(f.Message, msg) || f.Rule != Rule {
					t.Errorf("finding %d = %s, want %s", i, f, w)
				}
			}
		})
	}
}
