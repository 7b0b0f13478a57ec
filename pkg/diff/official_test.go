package diff

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/github"
)

// officialBump scripts a repository whose dev environment installs kube-prometheus-stack
// (testdata/official): commit 1 pins 88.4.0, commit 2 (HEAD) pins head.
func officialBump(t *testing.T, head string) string {
	t.Helper()
	dir := testutil.GitRepo(t, fixture, "testdata/official")
	testutil.WriteFile(t, dir, "deploy/argocd/infra/values-dev.yaml", "kubePrometheusStack: 88.4.0\n")
	testutil.Commit(t, dir, "kube-prometheus-stack 88.4.0")
	testutil.WriteFile(t, dir, "deploy/argocd/infra/values-dev.yaml", "kubePrometheusStack: "+head+"\n")
	testutil.Commit(t, dir, "kube-prometheus-stack "+head)
	return dir
}

// TestOfficialChartBump: a kube-prometheus-stack bump (88.4.0 → 88.5.3) shows, under the
// Application, the version change first and every object it changes (new images), not the
// objects whose only change is the chart's version in their labels; the PR comment lists
// every changed object within GitHub's limit.
func TestOfficialChartBump(t *testing.T) {
	dir := officialBump(t, "88.5.3")
	res, err := (&Differ{Root: dir, Base: "HEAD~1", Head: "HEAD", Official: &chartsource.Resolver{ChartsFrom: []string{testutil.SharedCharts(t)}, Offline: true, CacheDir: t.TempDir()}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseErrors+res.HeadErrors != 0 {
		t.Errorf("errors: base %d, head %d", res.BaseErrors, res.HeadErrors)
	}
	want := Version{Chart: "kube-prometheus-stack", Official: "kube-prometheus-stack", Envs: []string{"dev"}, Base: "88.4.0", Head: "88.5.3"}
	if len(res.Versions) != 1 || !slices.Equal(res.Versions[0].Envs, want.Envs) || res.Versions[0].Chart != want.Chart ||
		res.Versions[0].Official != want.Official || res.Versions[0].Base != want.Base || res.Versions[0].Head != want.Head {
		t.Fatalf("versions = %+v, want [%+v]", res.Versions, want)
	}
	var official []string
	for _, c := range res.Changes {
		if c.Chart == "kube-prometheus-stack" {
			official = append(official, string(c.Action)+" "+c.Object())
		}
	}
	wantChanges := []string{
		"changed Deployment/prometheus/kube-prometheus-stack-kube-state-metrics",
		"changed Job/prometheus/kube-prometheus-stack-admission-create",
		"changed Job/prometheus/kube-prometheus-stack-admission-patch",
	}
	if !slices.Equal(official, wantChanges) {
		t.Errorf("kube-prometheus-stack changes:\n%s\nwant:\n%s", strings.Join(official, "\n"), strings.Join(wantChanges, "\n"))
	}
	for _, c := range res.Changes {
		if c.Chart == "kube-prometheus-stack" && c.Kind == "Deployment" && !strings.Contains(c.Diff, "+          image: registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0\n") {
			t.Errorf("the image change is not in the diff:\n%s", c.Diff)
		}
		if strings.Contains(c.Diff, "chart: kube-prometheus-stack-") {
			t.Errorf("%s: the chart label is not ignored:\n%s", c.Object(), c.Diff)
		}
	}

	if got := res.Versions[0].Change("→"); got != "chart kube-prometheus-stack 88.4.0 → 88.5.3" {
		t.Errorf("version change %q", got)
	}
	var text strings.Builder
	if err := Text(&text, res); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(text.String(), "\n"); first != "version kube-prometheus-stack (Application) [dev]: chart kube-prometheus-stack 88.4.0 -> 88.5.3" {
		t.Errorf("text: first line %q", first)
	}

	md := Markdown(res, github.MaxCommentLength)
	blocks := strings.Count(md, "<details>")
	t.Logf("%d changes (%d of kube-prometheus-stack), %d unchanged; comment %d characters, %d of %d object diffs shown",
		len(res.Changes), len(official), res.Unchanged, len(md), blocks, len(res.Changes))
	if len(md) > github.MaxCommentLength {
		t.Errorf("the comment has %d characters, more than %d", len(md), github.MaxCommentLength)
	}
	row := "| `kube-prometheus-stack` (Application, dev) | chart kube-prometheus-stack 88.4.0 → 88.5.3 |"
	heading := "**dev** · `kube-prometheus-stack` (Application) · chart kube-prometheus-stack 88.4.0 → 88.5.3 · 3 changed\n\n| object | change | lines |\n"
	v, h := strings.Index(md, row), strings.Index(md, heading)
	if v < 0 || h < 0 || v > h || strings.Index(md, "| object |") < v {
		t.Errorf("the version row (at %d) is not at the top, above the Application's group (at %d):\n%s", v, h, md)
	}
	for _, c := range res.Changes {
		if !strings.Contains(md, "| `"+c.Object()+"` | "+string(c.Action)+" |") {
			t.Errorf("%s is not in the comment's table", c.Object())
		}
	}
	if blocks != len(res.Changes) {
		t.Errorf("%d object diffs shown, want all %d", blocks, len(res.Changes))
	}
}

// TestOfficialOff: without a resolver the Applications' charts are neither rendered nor
// compared: the bump is the Application's one-line change.
func TestOfficialOff(t *testing.T) {
	testutil.SharedCharts(t) // same fixture; skips alike
	dir := officialBump(t, "88.5.3")
	res, err := (&Differ{Root: dir, Base: "HEAD~1", Head: "HEAD"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Versions) != 0 || len(res.Changes) != 1 || res.Changes[0].Kind != "Application" {
		t.Errorf("versions %+v, changes %+v: want only the Application changed", res.Versions, res.Changes)
	}
}

// TestOfficialUnresolved: a pin the resolver cannot find offline leaves the head without
// the chart's objects; the diff counts it as an error of the head (so the reader is told
// why every object shows as removed) and still names the version change.
func TestOfficialUnresolved(t *testing.T) {
	dir := officialBump(t, "99.0.0")
	res, err := (&Differ{Root: dir, Base: "HEAD~1", Head: "HEAD", Official: &chartsource.Resolver{ChartsFrom: []string{testutil.SharedCharts(t)}, Offline: true, CacheDir: t.TempDir()}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseErrors != 0 || res.HeadErrors == 0 {
		t.Errorf("errors: base %d, head %d; want the head's unresolved chart counted", res.BaseErrors, res.HeadErrors)
	}
	if len(res.Versions) != 1 || res.Versions[0].Change("->") != "chart kube-prometheus-stack 88.4.0 -> 99.0.0" {
		t.Errorf("versions = %+v", res.Versions)
	}
	if md := Markdown(res, github.MaxCommentLength); !strings.Contains(md, "Validation errors: 0 in the base, ") {
		t.Errorf("no warning in the comment:\n%.600s", md)
	}
}
