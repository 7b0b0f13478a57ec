package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
)

const canary = "CANARY-secrets-a41d77"

// TestSymlinksRefused: the declaration and the values files it is proved against are read
// through repofs: a symlink is refused with its file and rule, never followed.
func TestSymlinksRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "leak.yaml")
	testutil.WritePath(t, outside, "secrets:\n  password: "+canary+"\n")
	decl := "secrets:\n  - chart: app/demo\n    path: secrets.password\n    env: DEMO_PASSWORD\n    environments: [dev]\n"
	newRepo := func(t *testing.T) string {
		root := t.TempDir()
		testutil.WritePath(t, filepath.Join(root, "app/demo/Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 0.1.0\n")
		testutil.WritePath(t, filepath.Join(root, "app/demo/values.yaml"), "secrets:\n  password: \"\"\n")
		testutil.WritePath(t, filepath.Join(root, secrets.File), decl)
		return root
	}

	t.Run("secrets.yaml", func(t *testing.T) {
		root := newRepo(t)
		os.Remove(filepath.Join(root, secrets.File))
		if err := os.Symlink(outside, filepath.Join(root, secrets.File)); err != nil {
			t.Fatal(err)
		}
		_, err := secrets.Load(root)
		var fe *repofs.Error
		if !errors.As(err, &fe) || fe.Rule != repofs.RuleSymlink || fe.Path != secrets.File {
			t.Fatalf("Load = %v, want a symlink refusal of %s", err, secrets.File)
		}
	})

	t.Run("values file", func(t *testing.T) {
		root := newRepo(t)
		if err := os.Symlink(outside, filepath.Join(root, "app/demo/values-dev.yaml")); err != nil {
			t.Fatal(err)
		}
		repo, err := discovery.Discover(root)
		if err != nil {
			t.Fatal(err)
		}
		d, err := secrets.Load(root)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range d.Check(repo) {
			if strings.Contains(f.String(), canary) {
				t.Errorf("finding quotes the canary: %s", f)
			}
			if f.File == "app/demo/values-dev.yaml" && strings.Contains(f.Message, repofs.RuleSymlink) {
				found = true
			}
		}
		if !found {
			t.Errorf("findings %v, want a symlink refusal of app/demo/values-dev.yaml", d.Check(repo))
		}
	})
}
