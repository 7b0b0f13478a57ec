package command

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
)

const hardened = "../action/testdata/hardened"

// releaseBranch is the hardened fixture on main, and a release branch scaling prd.
func releaseBranch(t *testing.T) string {
	t.Helper()
	dir := testutil.GitRepo(t, fixtures+"/base", hardened)
	testutil.Git(t, dir, "checkout", "--quiet", "-b", "release/1.0")
	testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 3\n")
	testutil.Commit(t, dir, "scale prd")
	return dir
}

func TestDiffCommand(t *testing.T) {
	dir := releaseBranch(t)
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"diff", "--base", "main"}, 0, "-  replicas: 2\n+  replicas: 3\n"},
		{[]string{"diff", "--base", "main", "--head", "main"}, 0, "dev, prd: 0 added, 0 removed, 0 changed"},
		{[]string{"diff", "--base", "main", "-e", "dev"}, 0, "dev: 0 added, 0 removed, 0 changed"},
		{[]string{"diff", "--base", "main", "-o", "markdown"}, 0, "**prd** · `app/demo` · 1 changed\n\n| object | change | lines |\n|---|---|---|\n| `Deployment/demo/demo` | changed | +1 −1 |"},
		{[]string{"diff", "--base", "main", "-o", "json"}, 0, `"action": "changed"`},
		{[]string{"diff", "--base", "main", "-o", "yaml"}, 1, `unknown output format "yaml"`},
		{[]string{"diff"}, 1, `"base" not set`},
		{[]string{"diff", "--base", "no-such-branch"}, 1, "no-such-branch"},
	}
	for _, tt := range tests {
		stdout, stderr, code := platform(t, append([]string{"--root", dir}, tt.args...)...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.contains) {
			t.Errorf("%v: exit %d (want %d), want %q in\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.code, tt.contains, stdout, stderr)
		}
	}
}

func TestCatalogCommand(t *testing.T) {
	dir := testutil.Repo(t, fixtures+"/base", hardened)
	stdout, stderr, code := platform(t, "--root", dir, "catalog", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var cat struct {
		Environments []string `json:"environments"`
		Services     []any    `json:"services"`
	}
	if err := json.Unmarshal([]byte(stdout), &cat); err != nil || len(cat.Environments) != 2 {
		t.Errorf("json: %v, %+v", err, cat)
	}
	// The fixture's chart runs in namespace demo, not microservices: no service rows.
	if len(cat.Services) != 0 {
		t.Errorf("services = %v", cat.Services)
	}
	if _, stderr, code := platform(t, "--root", dir, "catalog", "-o", "csv"); code == 0 || !strings.Contains(stderr, "unknown output format") {
		t.Errorf("csv: exit %d, %s", code, stderr)
	}
}

func TestPlanCommandLocal(t *testing.T) {
	dir := releaseBranch(t)
	stdout, stderr, code := platform(t, "--root", dir, "plan", "--base", "main")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "<!-- platform-plan -->\n") || !strings.Contains(stdout, "+  replicas: 3") {
		t.Errorf("comment:\n%s", stdout)
	}
	if got := testutil.Git(t, dir, "log", "-1", "--format=%s"); got != "plan: render release/dev, release/prd" {
		t.Errorf("last commit %q; stderr:\n%s", got, stderr)
	}
	if files := testutil.Git(t, dir, "show", "--name-only", "--format=", "HEAD"); !strings.Contains(files, "release/prd/app/demo/demo_deployment.apps_demo.yaml") {
		t.Errorf("plan commit holds:\n%s", files)
	}
	// --dry-run commits nothing even when something changed.
	testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 4\n")
	head := testutil.Git(t, dir, "rev-parse", "HEAD")
	if _, stderr, code := platform(t, "--root", dir, "plan", "--base", "main", "--dry-run"); code != 0 || testutil.Git(t, dir, "rev-parse", "HEAD") != head {
		t.Errorf("dry run: exit %d, committed; %s", code, stderr)
	}
}

func TestCheckVersionCommand(t *testing.T) {
	dir := releaseBranch(t)
	stdout, stderr, code := platform(t, "--root", dir, "check-version", "--base", "main")
	if code != 1 || !strings.Contains(stdout, "app/demo/Chart.yaml:3") || !strings.Contains(stdout, "not greater than 0.1.0") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	stdout, _, code = platform(t, "--root", dir, "check-version", "--base", "main", "-o", "github")
	if code != 1 || !strings.Contains(stdout, "::error file=app/demo/Chart.yaml,line=3") {
		t.Errorf("github: exit %d\n%s", code, stdout)
	}
	if _, stderr, code := platform(t, "--root", dir, "check-version", "--base", "HEAD"); code != 0 {
		t.Errorf("against itself: exit %d: %s", code, stderr)
	}
}
