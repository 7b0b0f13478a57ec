package action

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/github"
)

// officialTree is a GitOps tree chart whose dev environment installs kube-prometheus-stack.
const officialTree = "../diff/testdata/official"

// bumpRepo scripts the upgrade pull request: main pins kube-prometheus-stack 88.4.0 in dev,
// branch release/1.0 moves it to 88.5.3. It returns the checkout of release/1.0.
func bumpRepo(t *testing.T) string {
	t.Helper()
	dir := testutil.Repo(t, fixture, hardened, officialTree)
	testutil.WriteFile(t, dir, "deploy/argocd/infra/values-dev.yaml", "kubePrometheusStack: 88.4.0\n")
	testutil.Git(t, dir, "init", "--quiet", "--initial-branch=main")
	testutil.Commit(t, dir, "kube-prometheus-stack 88.4.0")
	testutil.Git(t, dir, "checkout", "--quiet", "-b", "release/1.0")
	testutil.WriteFile(t, dir, "deploy/argocd/infra/values-dev.yaml", "kubePrometheusStack: 88.5.3\n")
	testutil.Commit(t, dir, "kube-prometheus-stack 88.5.3")
	return dir
}

// TestPlanOfficialChartBump: the plan holds the official chart's objects in
// release/<env>/<application>/ and the comment of the bump shows the Application's version
// change above its group and lists every changed object, within GitHub's limit. The
// fixture's kube-prometheus-stack breaks policies (hostPath, host namespaces): the comment
// then also carries the findings, the heaviest comment such a bump makes.
func TestPlanOfficialChartBump(t *testing.T) {
	dir := bumpRepo(t)
	var comment, log bytes.Buffer
	res, err := (&Planner{Root: dir, Base: "main", DryRun: true, Official: &chartsource.Resolver{ChartsFrom: []string{testutil.SharedCharts(t)}, Offline: true, CacheDir: t.TempDir()}, Comment: &comment, Log: &log}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "release/dev/kube-prometheus-stack/"
	deployment := prefix + "prometheus_deployment.apps_kube-prometheus-stack-kube-state-metrics.yaml"
	head := "# Source: kube-prometheus-stack/charts/kube-state-metrics/templates/deployment.yaml\n" +
		"# Application: kube-prometheus-stack, chart kube-prometheus-stack (https://prometheus-community.github.io/helm-charts), environment: dev\n"
	if got := string(res.Files[deployment]); !strings.HasPrefix(got, head) || !strings.Contains(got, "kube-state-metrics:v2.20.0") {
		t.Errorf("%s:\n%.400s", deployment, got)
	}
	official := 0
	for name, data := range res.Files {
		switch {
		case strings.HasPrefix(name, prefix):
			official++
		case strings.HasPrefix(name, "release/prd/kube-prometheus-stack/"):
			t.Errorf("%s: prd installs no kube-prometheus-stack", name)
		case strings.Contains(string(data), "# Application: "):
			t.Errorf("%s: an official chart's object outside its Application's directory", name)
		}
	}
	if official < 100 {
		t.Errorf("%d files in %s, want the whole chart (over 100 objects)", official, prefix)
	}

	body := res.Body
	blocks := strings.Count(body, "<details><summary>changed")
	t.Logf("%d plan files of kube-prometheus-stack; %d changes; comment %d characters, %d object diffs shown; validation %s",
		official, len(res.Diff.Changes), len(body), blocks, res.Report.Summary())
	if len(body) > github.MaxCommentLength || body != comment.String() {
		t.Errorf("comment of %d characters (limit %d), printed: %v", len(body), github.MaxCommentLength, body == comment.String())
	}
	row := strings.Index(body, "| `kube-prometheus-stack` (Application, dev) | chart kube-prometheus-stack 88.4.0 → 88.5.3 |")
	group := strings.Index(body, "**dev** · `kube-prometheus-stack` (Application) · chart kube-prometheus-stack 88.4.0 → 88.5.3 · ")
	if row < 0 || group < row {
		t.Errorf("version row at %d, the Application's group at %d:\n%s", row, group, body)
	}
	kps := 0
	for _, c := range res.Diff.Changes {
		if c.Chart == "kube-prometheus-stack" {
			kps++
		}
		if !strings.Contains(body, "| `"+c.Object()+"` | "+string(c.Action)+" |") {
			t.Errorf("%s is not in the comment's table", c.Object())
		}
	}
	if kps == 0 {
		t.Error("no change of kube-prometheus-stack")
	}
	if got := strings.Join(res.ChangedCharts(), ","); got != "deploy/argocd/infra,kube-prometheus-stack" {
		t.Errorf("changed charts %q", got)
	}
}

// TestPlanOfficialOff: without a resolver the plan has no Application directory and the
// diff compares our charts only.
func TestPlanOfficialOff(t *testing.T) {
	testutil.SharedCharts(t) // the same fixture: skips alike
	dir := bumpRepo(t)
	res, err := (&Planner{Root: dir, Base: "main", DryRun: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name := range res.Files {
		if strings.HasPrefix(name, "release/dev/kube-prometheus-stack/") {
			t.Fatalf("%s planned without a resolver", name)
		}
	}
	if len(res.Diff.Versions) != 0 || len(res.Diff.Changes) != 1 || res.Diff.Changes[0].Kind != "Application" {
		t.Errorf("versions %+v, changes %d: want only the Application's change", res.Diff.Versions, len(res.Diff.Changes))
	}
}

// TestPlanOfficialApplicationNamedLikeLayout: an Application called "app" would plan its
// chart in release/<env>/app/, among our app/ charts: pkg/validate reports it (and renders
// no chart for it) or, failing that, the plan refuses it; either way no official object is
// planned there.
func TestPlanOfficialApplicationNamedLikeLayout(t *testing.T) {
	dir := bumpRepo(t)
	tpl := filepath.Join(dir, "deploy/argocd/infra/templates/application.yaml")
	b, err := os.ReadFile(tpl)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WritePath(t, tpl, strings.Replace(string(b), "  name: kube-prometheus-stack\n", "  name: app\n", 1))
	res, err := (&Planner{Root: dir, DryRun: true, Official: &chartsource.Resolver{ChartsFrom: []string{testutil.SharedCharts(t)}, Offline: true, CacheDir: t.TempDir()}}).Run(context.Background())
	if err != nil {
		if !strings.Contains(err.Error(), `Application "app" cannot name a plan directory`) {
			t.Errorf("err = %v", err)
		}
		return
	}
	if !res.Report.Failed() {
		t.Errorf("the Application named app passed validation: %s", res.Report.Summary())
	}
	for name, data := range res.Files {
		if strings.HasPrefix(name, "release/dev/app/") && strings.Contains(string(data), "# Application: ") {
			t.Errorf("%s: an official object planned among our app/ charts", name)
		}
	}
}
