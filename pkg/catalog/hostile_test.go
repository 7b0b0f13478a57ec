package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
)

const looseApp = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: CANARY-catalog-51be
  namespace: argocd
spec: {}
`

// TestLooseApplicationsRefuseSymlinks: manifests under deploy/argocd are read through
// repofs; a symlinked manifest, directory or deploy/argocd itself is an error naming it.
func TestLooseApplicationsRefuseSymlinks(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "app.yaml"), []byte(looseApp), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, link, target string }{
		{name: "manifest", link: "deploy/argocd/root.yaml", target: filepath.Join(outside, "app.yaml")},
		{name: "directory", link: "deploy/argocd/apps", target: outside},
		{name: "deploy/argocd", link: "deploy/argocd", target: outside},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			link := filepath.Join(root, filepath.FromSlash(tc.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tc.target, link); err != nil {
				t.Fatal(err)
			}
			apps, err := LooseApplications(root)
			var fe *repofs.Error
			if !errors.As(err, &fe) || fe.Rule != repofs.RuleSymlink || fe.Path != tc.link {
				t.Errorf("LooseApplications = %d apps, %v; want a symlink refusal of %s", len(apps), err, tc.link)
			}
			if err != nil && strings.Contains(err.Error(), "CANARY") {
				t.Errorf("error quotes the manifest: %v", err)
			}
		})
	}
}
