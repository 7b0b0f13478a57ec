package gitops

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
)

// TestHelmfileStaysInRepository: a Helmfile and the values files it lists are read through
// repofs; a values file outside the repository or a symlink is refused with the rule.
func TestHelmfileStaysInRepository(t *testing.T) {
	const rel = "deploy/helmfile.yaml"
	outside := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(outside, []byte("applications: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	release := func(values string) string {
		return "environments:\n  dev: {}\n---\nreleases:\n  - name: root\n    chart: argo/argocd-apps\n    version: 2.0.4\n    values:\n      - " + values + "\n"
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, root string)
		rule  string
	}{
		{name: "values above the root", rule: repofs.RuleOutside, setup: func(t *testing.T, root string) {
			testutil.WritePath(t, filepath.Join(root, rel), release("../../outside.yaml"))
		}},
		{name: "values by absolute path", rule: repofs.RuleOutside, setup: func(t *testing.T, root string) {
			testutil.WritePath(t, filepath.Join(root, rel), release(outside))
		}},
		{name: "symlinked values", rule: repofs.RuleSymlink, setup: func(t *testing.T, root string) {
			testutil.WritePath(t, filepath.Join(root, rel), release("values.yaml"))
			if err := os.Symlink(outside, filepath.Join(root, "deploy/values.yaml")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "symlinked helmfile", rule: repofs.RuleSymlink, setup: func(t *testing.T, root string) {
			other := filepath.Join(t.TempDir(), "helmfile.yaml")
			testutil.WritePath(t, other, release("values.yaml"))
			if err := os.MkdirAll(filepath.Join(root, "deploy"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(other, filepath.Join(root, rel)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.setup(t, root)
			_, err := RootApplication(root, rel, "dev")
			var fe *repofs.Error
			if !errors.As(err, &fe) || fe.Rule != tc.rule {
				t.Fatalf("RootApplication = %v, want a %s refusal", err, tc.rule)
			}
		})
	}
}
