package test

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/microservices-manifests/microservices-manifests/internal/istiocharts"
	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/gitops"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
)

// helmfileDir holds the Helmfiles that install Argo CD and the root Application.
const helmfileDir = "deploy/argocd/shared/root/helmfile.d"

// pinEnvs are the environments whose pins must be provable offline.
var pinEnvs = []string{"dev", "prd"}

// notOffline are the official chart pins that no offline source holds, keyed
// "<name> <chart> <version>" (name: the Application or Helmfile release), with the reason the
// pin stays all the same. Nothing else may be missing, and an entry that no pin matches, or
// whose pin is available after all, fails the test: the table cannot go stale.
var notOffline = map[string]string{
	"argocd argo-cd 10.9.6": "argo-cd 10.9.6 is the Argo CD v3.5/v3.6 line that pkg/schema's Argo CD CRDs and the embedded Argo CD v3.6.1 match; " +
		sharedCharts + " has only argo-cd 10.1.0 and 10.1.1 (Argo CD v3.4.4)",
}

// chartPin is one chart an Application source or a Helmfile release pins, in one environment.
type chartPin struct {
	Env   string
	Where string // "Application kiali (deploy/argocd/infra)", "Helmfile release argocd (helmfile.d/argocd.yaml)"
	Name  string // the Application or release
	// RepoURL is the chart repository or OCI registry; empty for a local chart.
	RepoURL, Chart, Version string
	// Local is a Helmfile release of a chart of this repository (a path): rendered from the
	// work tree, so always available; Helm ignores its version.
	Local bool
}

func (p chartPin) key() string { return p.Name + " " + p.Chart + " " + p.Version }

// offlineCharts is what renders offline: the packaged official charts of ../shared/charts and
// Istio's charts in the istio.io/istio module (internal/istiocharts).
type offlineCharts struct {
	shared *repo.IndexFile // ../shared/charts indexed by the Helm SDK (Chart.yaml of each package)
	// istioLine is the release line of the module's sources ("1.31"): internal/istiocharts
	// stamps the pinned version on them, so any exact version of that line renders.
	istioLine string
}

var pinExactSemver = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// find returns where pin p renders from offline, or false.
func (o *offlineCharts) find(p chartPin) (string, bool) {
	if p.RepoURL == istiocharts.RepoURL {
		if _, ok := istiocharts.Charts[p.Chart]; ok && o.istioLine != "" &&
			pinExactSemver.MatchString(p.Version) && strings.HasPrefix(p.Version, o.istioLine+".") {
			return fmt.Sprintf("%s@%s (Istio %s sources)", istiocharts.Module, istiocharts.Version, o.istioLine), true
		}
		return "", false
	}
	if o.shared == nil {
		return "", false
	}
	for _, cv := range o.shared.Entries[p.Chart] {
		if cv.Metadata != nil && cv.Version == p.Version && len(cv.URLs) > 0 {
			return path.Join(sharedCharts, path.Base(cv.URLs[0])), true
		}
	}
	return "", false
}

// versions lists the versions of chart available offline, for messages.
func (o *offlineCharts) versions(chart string) []string {
	var out []string
	if o.shared != nil {
		for _, cv := range o.shared.Entries[chart] {
			out = append(out, cv.Version)
		}
	}
	sort.Strings(out)
	return out
}

// pinResult is what checkPins found: the pins not rendered offline with their reason
// (one line each, deduplicated across environments), the pins found and where, and problems.
type pinResult struct {
	excused  []string
	found    []string
	problems []string
}

// checkPins checks that every pin is available offline, or listed in exceptions with a
// reason; it also fails an exception that no pin needs.
func checkPins(pins []chartPin, off *offlineCharts, exceptions map[string]string) pinResult {
	var res pinResult
	used := map[string]bool{}
	excused := map[string]bool{}
	for _, p := range pins {
		if p.Local {
			res.found = append(res.found, fmt.Sprintf("%s: %s: %s %s: a chart of this repository, rendered from the work tree", p.Env, p.Where, p.Chart, p.Version))
			continue
		}
		reason, listed := exceptions[p.key()]
		where, ok := off.find(p)
		switch {
		case ok && listed:
			used[p.key()] = true
			res.problems = append(res.problems, fmt.Sprintf("%s: %s: %s is listed as not rendered offline, but %s has it: remove it from the table",
				p.Env, p.Where, p.key(), where))
		case ok:
			res.found = append(res.found, fmt.Sprintf("%s: %s: %s %s from %s", p.Env, p.Where, p.Chart, p.Version, where))
		case listed:
			used[p.key()] = true
			if !excused[p.key()] {
				excused[p.key()] = true
				res.excused = append(res.excused, fmt.Sprintf("%s: not rendered offline: %s", p.key(), reason))
			}
		default:
			res.problems = append(res.problems, fmt.Sprintf("%s: %s pins %s %s (%s), which no offline source has (%s: %v; Istio's charts: %s.x of %s): pin a version the tests render, or list it with a reason",
				p.Env, p.Where, p.Chart, p.Version, p.RepoURL, sharedCharts, off.versions(p.Chart), off.istioLine, istiocharts.RepoURL))
		}
	}
	for _, k := range istioSortedNames(exceptions) {
		if !used[k] {
			res.problems = append(res.problems, fmt.Sprintf("the table lists %q, which no pin has (stale entry)", k))
		}
	}
	return res
}

// TestPinsRenderOffline proves every official chart pin, in every environment: each chart
// source of an Application (every Application the repository's charts render, official ones
// being `source: helm` in deploy/argocd/infra and the Istio tree) and every Helmfile release
// must be in ../shared/charts at exactly the pinned version (matched on the packages'
// Chart.yaml, as a Helm repository index of that folder has them), or be an Istio chart of the
// release line internal/istiocharts serves. The only other pins allowed are those listed in
// notOffline, each logged with its reason. The charts this repository publishes to its own
// ECR (prd's `source: chart`) and local Helmfile charts are not official pins. Moved pins must
// fail, so the check is known to bite. Without ../shared (a user's clone) it skips.
func TestPinsRenderOffline(t *testing.T) {
	off := offlineSetup(t)
	var pins []chartPin
	notes := map[string]bool{}
	for _, env := range pinEnvs {
		pins = append(pins, applicationPins(t, env)...)
		pins = append(pins, helmfilePins(t, env, notes)...)
	}
	res := checkPins(pins, off, notOffline)
	for _, l := range res.found {
		t.Log(l)
	}
	for _, l := range res.excused {
		t.Log(l)
	}
	for _, p := range res.problems {
		t.Error(p)
	}
	// The pins this test must have seen, so that a reader that finds nothing cannot pass.
	for _, want := range []string{"kube-prometheus-stack", "kiali-server", "jaeger", "argocd-apps", "argo-cd", "istiod"} {
		if !slices.ContainsFunc(pins, func(p chartPin) bool { return p.Chart == want }) {
			t.Errorf("no pin of chart %s found: the pins are not read", want)
		}
	}
	for _, env := range pinEnvs {
		if !slices.ContainsFunc(pins, func(p chartPin) bool { return p.Env == env && p.Local }) {
			t.Errorf("%s: no local Helmfile release found (argocd-projects)", env)
		}
	}

	t.Run("moved pins fail", func(t *testing.T) {
		testPinsBite(t, pins, off)
	})
}

// testPinsBite edits the real pins and checks the verdict on each.
func testPinsBite(t *testing.T, pins []chartPin, off *offlineCharts) {
	t.Helper()
	edit := func(name string, f func(p *chartPin)) []chartPin {
		out := slices.Clone(pins)
		n := 0
		for i := range out {
			if out[i].Name == name {
				f(&out[i])
				n++
			}
		}
		if n == 0 {
			t.Fatalf("no pin named %s to edit", name)
		}
		return out
	}
	bump := func(v string) string { return v + "-unavailable.1" }
	for _, tc := range []struct {
		name  string
		pins  []chartPin
		table map[string]string
		want  []string // substrings of the problems; none: must pass
	}{
		{name: "the real pins", pins: pins, table: notOffline},
		{name: "an Application pin moved to a version not in ../shared/charts",
			pins: edit("jaeger", func(p *chartPin) { p.Version = "4.12.0" }), table: notOffline,
			want: []string{"Application jaeger (deploy/argocd/infra) pins jaeger 4.12.0"}},
		{name: "a prd-only Application pin moved", table: notOffline,
			pins: edit("aws-load-balancer-controller", func(p *chartPin) { p.Version = bump(p.Version) }),
			want: []string{"prd: Application aws-load-balancer-controller"}},
		{name: "an Application pin moved to the other version in ../shared/charts", table: notOffline,
			pins: edit("kube-prometheus-stack", func(p *chartPin) { p.Version = "88.4.0" })},
		{name: "an Istio pin moved off the module's release line", table: notOffline,
			pins: edit("istiod", func(p *chartPin) { p.Version = "1.99.0" }),
			want: []string{"Application istiod (deploy/argocd/infra/istio) pins istiod 1.99.0"}},
		{name: "an Istio pin moved to a chart the module does not have", table: notOffline,
			pins: edit("istiod", func(p *chartPin) { p.Chart = "ztunnel" }),
			want: []string{"pins ztunnel"}},
		{name: "the Helmfile's argocd-apps moved", table: notOffline,
			pins: edit("argocd-apps", func(p *chartPin) { p.Version = "2.0.5" }),
			want: []string{"Helmfile release argocd-apps (helmfile.d/argocd-apps.yaml) pins argocd-apps 2.0.5"}},
		{name: "the Helmfile's argo-cd moved off the listed version", table: notOffline,
			pins: edit("argocd", func(p *chartPin) { p.Version = "10.9.7" }),
			want: []string{"pins argo-cd 10.9.7", `lists "argocd argo-cd 10.9.6", which no pin has`}},
		{name: "an exception for a pin that is available", pins: pins,
			table: map[string]string{"argocd argo-cd 10.9.6": "x", "jaeger jaeger 4.11.1": "x"},
			want:  []string{"jaeger jaeger 4.11.1 is listed as not rendered offline, but"}},
		{name: "no exception table", pins: pins, table: nil,
			want: []string{"pins argo-cd 10.9.6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkPins(tc.pins, off, tc.table).problems
			if len(tc.want) == 0 && len(got) > 0 {
				t.Errorf("problems %q, want none", got)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("no problem mentions %q; problems: %q", w, got)
				}
			}
		})
	}
}

// offlineSetup indexes ../shared/charts (skipping without it) and reads the Istio module's
// release line.
func offlineSetup(t *testing.T) *offlineCharts {
	t.Helper()
	idx := sharedChartsIndex(t, "file://"+sharedCharts)
	moduleDir, err := istiocharts.ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	line, err := istiocharts.SourceVersion(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	return &offlineCharts{shared: idx, istioLine: line}
}

// sharedChartsIndex indexes the packages of ../shared/charts with the Helm SDK, their URLs
// under baseURL; it skips the test without ../shared.
func sharedChartsIndex(t *testing.T, baseURL string) *repo.IndexFile {
	t.Helper()
	dir := filepath.Join(root, sharedCharts)
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		t.Skipf("no packaged official charts in %s beside the repository (a clone without ../shared): %v", sharedCharts, err)
	}
	idx, err := repo.IndexDirectory(dir, baseURL)
	if err != nil {
		t.Fatalf("index %s: %v", sharedCharts, err)
	}
	if len(idx.Entries) == 0 {
		t.Fatalf("%s holds no chart package", sharedCharts)
	}
	idx.SortEntries()
	return idx
}

// applicationPins renders the repository in env and returns the chart sources (Helm
// repository or OCI) of every Application, except the repository's own charts published to
// its ECR (the rendering chart's oci.repoURL).
func applicationPins(t *testing.T, env string) []chartPin {
	t.Helper()
	res := renderValidated(t, env, infraAppsChart, istioAppsChart)
	own := map[string]string{} // rendering chart ID -> its oci.repoURL
	var out []chartPin
	n := 0
	for _, a := range apps.FromRenders(res.Renders, env) {
		if _, ok := own[a.Chart]; !ok {
			own[a.Chart] = ownRegistry(t, res.Repo, a.Chart, env)
		}
		for _, s := range a.Sources {
			if s.Kind != apps.HelmRepo && s.Kind != apps.OCI {
				continue
			}
			if s.RepoURL == own[a.Chart] {
				n++
				continue
			}
			out = append(out, chartPin{Env: env, Where: fmt.Sprintf("Application %s (%s)", a.Name, a.Chart), Name: a.Name,
				RepoURL: s.RepoURL, Chart: s.Chart, Version: s.TargetRevision})
		}
	}
	t.Logf("%s: %d official chart sources, %d sources of this repository's own charts (its ECR)", env, len(out), n)
	return out
}

// ownRegistry reads oci.repoURL, the registry the repository publishes its charts to, from the
// values of chart id in env.
func ownRegistry(t *testing.T, r *discovery.Repo, id, env string) string {
	t.Helper()
	c, ok := r.Chart(id)
	if !ok {
		t.Fatalf("Applications rendered by %s, which is not a chart of the repository", id)
	}
	values := map[string]any{}
	for _, f := range []string{id + "/values.yaml", c.ValuesFiles[env]} {
		if f == "" {
			continue
		}
		data, err := repofs.ReadFile(r.Root, f)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		values = eksMerge(values, v)
	}
	u, _ := istioDig(values, "oci", "repoURL").(string)
	return u
}

// helmfilePins reads the releases of every Helmfile of helmfileDir for env, as the platform
// reads them (pkg/gitops); notes are the notes already logged.
func helmfilePins(t *testing.T, env string, notes map[string]bool) []chartPin {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, helmfileDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Helmfile in %s (%v)", helmfileDir, err)
	}
	var out []chartPin
	for _, f := range files {
		rel := helmfileDir + "/" + filepath.Base(f)
		h, err := gitops.LoadHelmfile(root, rel, env)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range h.Releases {
			p := chartPin{Env: env, Name: r.Name, Version: r.Version,
				Where: fmt.Sprintf("Helmfile release %s (helmfile.d/%s)", r.Name, filepath.Base(f))}
			if strings.HasPrefix(r.Chart, ".") || strings.HasPrefix(r.Chart, "/") {
				p.Local, p.Chart = true, r.Chart
				localChartNote(t, r, rel, notes)
			} else {
				repoName, chart, ok := strings.Cut(r.Chart, "/")
				if !ok || h.Repositories[repoName] == "" {
					t.Errorf("%s: release %s: chart %q is not <repository>/<chart> of a declared repository", rel, r.Name, r.Chart)
					continue
				}
				p.RepoURL, p.Chart = h.Repositories[repoName], chart
			}
			out = append(out, p)
		}
	}
	return out
}

// localChartNote checks that a local release's chart is a chart of the repository and says
// (once) when its version pin differs from the chart's (Helm ignores the version of a chart
// path).
func localChartNote(t *testing.T, r gitops.Release, helmfile string, notes map[string]bool) {
	t.Helper()
	dir, err := repofs.Resolve(path.Dir(helmfile), r.Chart)
	if err != nil {
		t.Errorf("%s: release %s: chart %s: %v", helmfile, r.Name, r.Chart, err)
		return
	}
	data, err := repofs.ReadFile(root, dir+"/Chart.yaml")
	if err != nil {
		t.Errorf("%s: release %s: chart %s is not a chart of the repository: %v", helmfile, r.Name, r.Chart, err)
		return
	}
	var meta struct {
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Errorf("%s/Chart.yaml: %v", dir, err)
		return
	}
	if note := helmfile + " " + r.Name; meta.Version != r.Version && !notes[note] {
		notes[note] = true
		t.Logf("note: %s: release %s pins version %s, but %s is version %s; Helm ignores the version of a local chart",
			helmfile, r.Name, r.Version, dir, meta.Version)
	}
}
