package action

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOfficialResolverTrustsNothingOfThePullRequest: the action renders the official charts
// with a cache outside the workspace (a pull request could commit .cache/charts/ with an
// archive named by its own digest, standing in for the real chart) and fetches only from the
// chart repositories the platform names (a repoURL is the pull request's to write).
func TestOfficialResolverTrustsNothingOfThePullRequest(t *testing.T) {
	ws := t.TempDir()
	r := &run{a: &Action{Stderr: io.Discard}, root: ws}
	res := r.official()
	rel, err := filepath.Rel(ws, res.CacheDir)
	if err != nil || !strings.HasPrefix(rel, "..") {
		t.Errorf("the official charts' cache %s is inside the workspace %s", res.CacheDir, ws)
	}
	if res.Repositories == nil || !slices.Contains(res.Repositories, "https://prometheus-community.github.io/helm-charts") {
		t.Errorf("the action fetches from any repository: Repositories = %v", res.Repositories)
	}
	if len(res.ChartsFrom) != 0 || res.Offline {
		t.Errorf("the action's resolver reads folders %v (offline %v): it should fetch what the Applications pin", res.ChartsFrom, res.Offline)
	}
}
