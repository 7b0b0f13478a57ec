package command

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
)

var update = flag.Bool("update", false, "rewrite release/<env>/ (the golden plan) from the charts")

// sharedCharts holds the official charts packaged for offline tests, beside the repository.
const sharedCharts = "../../../shared/charts"

// officialArgs are the flags that render the official charts offline from ../shared/charts,
// or turn them off when the folder is absent (a clone without ../shared): ok says which.
func officialArgs(t *testing.T) (args []string, ok bool) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sharedCharts, "README.md")); err != nil {
		return []string{"--official=false"}, false
	}
	abs, err := filepath.Abs(sharedCharts)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"--charts-from", abs, "--offline"}, true
}

// TestReleasePlanIsFresh renders the repository's real charts, and the official charts of
// its Applications from ../shared/charts, and compares them with the checked-in plan under
// release/<env>/, the golden files reviewers read. Run
// `go test ./pkg/command -run TestReleasePlanIsFresh -update` (or make render) to rewrite.
// Without ../shared/charts only our charts' directories are compared.
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
	official, withOfficial := officialArgs(t)
	if !withOfficial && *update {
		t.Fatalf("-update needs the official charts in %s: the plan would lose every Application's directory", sharedCharts)
	}
	// ours says whether a plan file belongs to one of our charts (not to an Application).
	ours := func(name string) bool {
		for _, r := range discovery.Roots {
			top, _, _ := strings.Cut(r, "/")
			if strings.HasPrefix(name, top+"/") {
				return true
			}
		}
		return false
	}
	for _, env := range repo.Environments {
		golden := filepath.Join(root, "release", env)
		if *update {
			if _, stderr, code := platform(t, append([]string{"--root", root, "render", "--env", env, "--out", golden}, official...)...); code != 0 {
				t.Fatalf("render %s: exit %d\n%s", env, code, stderr)
			}
			continue
		}
		fresh := filepath.Join(t.TempDir(), env)
		if _, stderr, code := platform(t, append([]string{"--root", root, "render", "--env", env, "--out", fresh}, official...)...); code != 0 {
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
			if _, ok := got[name]; !ok && (withOfficial || ours(name)) {
				t.Errorf("release/%s/%s is no longer rendered: run make render", env, name)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "release")); err != nil {
		t.Errorf("no release/ directory: %v", err)
	}
}

// officialRepo is the validate fixture with a GitOps tree whose dev environment installs
// kube-prometheus-stack 88.5.3 (an official chart).
func officialRepo(t *testing.T) string {
	t.Helper()
	dir := testutil.Repo(t, fixtures+"/base", "../diff/testdata/official")
	testutil.WriteFile(t, dir, "deploy/argocd/infra/values-dev.yaml", "kubePrometheusStack: 88.5.3\n")
	return dir
}

// TestRenderOfficial: render writes the official chart of each Application in
// <application>/ beside our charts, by default; --official=false writes our charts only
// and says so once.
func TestRenderOfficial(t *testing.T) {
	official, ok := officialArgs(t)
	if !ok {
		t.Skipf("no packaged official charts in %s beside the repository", sharedCharts)
	}
	root := officialRepo(t)
	on := filepath.Join(t.TempDir(), "dev")
	_, stderr, code := platform(t, append([]string{"--root", root, "render", "--policies=false", "--env", "dev", "--out", on}, official...)...)
	if code != 0 {
		t.Fatalf("render: exit %d\n%s", code, stderr)
	}
	files := tree(t, on)
	want := "kube-prometheus-stack/prometheus_deployment.apps_kube-prometheus-stack-kube-state-metrics.yaml"
	if _, ok := files[want]; !ok || !strings.Contains(stderr, "and 1 official charts [dev]") {
		t.Errorf("no %s in the plan (%d files); stderr:\n%s", want, len(files), stderr)
	}
	if _, ok := files["deploy/argocd/infra/argocd_application.argoproj.io_kube-prometheus-stack.yaml"]; !ok {
		t.Errorf("the Application is not in the plan: %v", keys(files))
	}

	off := filepath.Join(t.TempDir(), "dev")
	_, stderr, code = platform(t, "--root", root, "render", "--policies=false", "--env", "dev", "--out", off, "--official=false")
	if code != 0 {
		t.Fatalf("render --official=false: exit %d\n%s", code, stderr)
	}
	for name := range tree(t, off) {
		if strings.HasPrefix(name, "kube-prometheus-stack/") {
			t.Fatalf("%s written with --official=false", name)
		}
	}
	if n := strings.Count(stderr, "official charts off (--official=false)"); n != 1 {
		t.Errorf("--official=false said %d times:\n%s", n, stderr)
	}
}

// TestOfficialFlags: render, plan and diff render the official charts by default, and take
// --charts-from and --offline as validate does.
func TestOfficialFlags(t *testing.T) {
	for _, name := range []string{"render", "plan", "diff"} {
		cmd, _, err := NewRoot(nil, nil).Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		for flagName, def := range map[string]string{"official": "true", "charts-from": "[]", "offline": "false"} {
			if f := cmd.Flags().Lookup(flagName); f == nil || f.DefValue != def {
				t.Errorf("%s --%s: %+v, want default %s", name, flagName, f, def)
			}
		}
	}
}

// TestOfficialNotFetchedHint: a chart repository the platform does not list is not contacted
// (the pull request writes repoURLs); the Application's error names it, nothing is written,
// and one line says what to do without network. No request leaves this machine: the refusal
// comes before any.
func TestOfficialNotFetchedHint(t *testing.T) {
	root := officialRepo(t)
	file := filepath.Join(root, "deploy", "argocd", "infra", "templates", "application.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "https://prometheus-community.github.io/helm-charts", "https://charts.example.invalid/helm", 1)
	if text == string(b) {
		t.Fatal("repoURL not found in the fixture")
	}
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "dev")
	_, stderr, code := platform(t, "--root", root, "render", "--policies=false", "--env", "dev", "--out", out, "--charts-from", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "not one of the chart repositories the platform fetches from") {
		t.Fatalf("render with an unlisted chart repository: exit %d, want 1 naming the refusal\n%s", code, stderr)
	}
	if n := strings.Count(stderr, "official charts not resolved (see the errors above)"); n != 1 {
		t.Errorf("the hint is printed %d times, want once:\n%s", n, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("render wrote %s after an error", out)
	}
	_, stderr, code = platform(t, "--root", root, "render", "--policies=false", "--env", "dev", "--out", out, "--charts-from", t.TempDir(), "--offline")
	if code != 0 || strings.Contains(stderr, "official charts not resolved (see the errors above)") {
		t.Errorf("render --offline: exit %d, want 0 with a warning and no hint\n%s", code, stderr)
	}
}
