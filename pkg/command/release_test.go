package command

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
)

var update = flag.Bool("update", false, "rewrite release/<env>/ (the golden plan) from the charts")

// TestReleasePlanIsFresh renders the repository's real charts and compares them with the
// checked-in plan under release/<env>/, the golden files reviewers read. Run
// `go test ./pkg/command -run TestReleasePlanIsFresh -update` (or make render) to rewrite.
func TestReleasePlanIsFresh(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Environments) == 0 {
		t.Fatal("the repository has no environments: no values-<env>.yaml found")
	}
	for _, env := range repo.Environments {
		golden := filepath.Join(root, "release", env)
		if *update {
			if _, stderr, code := platform(t, "--root", root, "render", "--env", env, "--out", golden); code != 0 {
				t.Fatalf("render %s: exit %d\n%s", env, code, stderr)
			}
			continue
		}
		fresh := filepath.Join(t.TempDir(), env)
		if _, stderr, code := platform(t, "--root", root, "render", "--env", env, "--out", fresh); code != 0 {
			t.Fatalf("render %s: exit %d\n%s", env, code, stderr)
		}
		want, got := tree(t, golden), tree(t, fresh)
		for name, content := range got {
			if old, ok := want[name]; !ok {
				t.Errorf("release/%s/%s is missing: run make render", env, name)
			} else if old != content {
				t.Errorf("release/%s/%s is stale: run make render", env, name)
			}
		}
		for name := range want {
			if _, ok := got[name]; !ok {
				t.Errorf("release/%s/%s is no longer rendered: run make render", env, name)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "release")); err != nil {
		t.Errorf("no release/ directory: %v", err)
	}
}
