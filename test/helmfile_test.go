package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/microservices-manifests/microservices-manifests/internal/helmfilebin"
	"github.com/microservices-manifests/microservices-manifests/internal/istiocharts"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/gitops"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
)

// helmfileTree is the part of the repository a Helmfile run reads: the Helmfiles and their
// values (root/), and the local chart argocd-projects (projects/) with the library charts.
const helmfileTree = "deploy/argocd/shared"

// helmfileColdBuild bounds a cold build of Helmfile on the 2-core machines (measured 31
// minutes on a busy machine, see internal/helmfilebin).
const helmfileColdBuild = 40 * time.Minute

// helmfileDexVars are stand-ins for the GitHub OAuth app prd requires (never real ones).
var helmfileDexVars = map[string]string{
	dexIDVar:     "Iv1.helmfiletest0000",
	dexSecretVar: "helmfile-test-client-secret-0000000000000",
}

// TestHelmfileAgrees runs the real Helmfile (v1, built from the module proxy into bin/ by
// internal/helmfilebin; bin/helm, the Helm the repository pins, on its PATH) on the Helmfiles
// of deploy/argocd/shared/root in every environment and compares, object by object, what
// `helmfile template` renders with the platform's own rendering of the same releases:
//   - a local chart (argocd-projects): pkg/render, as `platform render` renders that chart;
//   - an official chart (argocd-apps, argo-cd): the Helm SDK path of the platform's tests
//     (internal/istiocharts.Render on the package of ../shared/charts) with the release's
//     values files merged in Helmfile's order, the values template secrets.yaml.gotmpl
//     executed as test/dex_test.go reads it;
//   - and the Application argocd-apps renders: gitops.RootApplication, the platform's reading
//     of the root.
//
// Offline and without user state: ../shared/charts is served as a Helm chart repository on
// 127.0.0.1 (index.yaml from the Helm SDK's repo.IndexDirectory), and deploy/argocd/shared
// is copied into a temporary directory where the Helmfiles' repository URLs are rewritten to
// that server (nothing else in them is changed, except below); HOME, the XDG directories,
// Helm's and Helmfile's caches and KUBECONFIG point into temporary directories, and
// Helmfile's upgrade notice and OpenTelemetry are off. A release whose pinned version is not
// in ../shared/charts (argo-cd 10.9.6, see notOffline) is rendered at the newest version that
// is, in both Helmfile and the platform, and the test logs the substitution.
//
// Both sides render for Kubernetes render.KubeVersion with the API versions of pkg/schema
// (Helmfile: --kube-version, --template-args --api-versions), with CRDs (--include-crds).
// Objects are compared whole after parsing: no field is ignored. `helmfile template` needs no
// Helm plugin (helm-diff serves diff and apply only) and runs no presync hook (the kubectl
// hooks of argocd-projects run on sync/apply).
//
// Skipped without ../shared (a user's clone) and in -short mode (the first build of Helmfile
// takes minutes; `go run ./internal/helmfilebin/build -bin bin` builds it beforehand).
func TestHelmfileAgrees(t *testing.T) {
	if fi, err := os.Lstat(filepath.Join(root, sharedCharts)); err != nil || !fi.IsDir() {
		t.Skipf("no packaged official charts in %s beside the repository (a clone without ../shared): %v", sharedCharts, err)
	}
	if testing.Short() {
		t.Skip("-short: runs Helmfile, whose first build takes minutes")
	}
	hf := helmfileSetup(t)
	for _, env := range pinEnvs {
		t.Run(env, func(t *testing.T) {
			for _, file := range hf.files {
				t.Run(file, func(t *testing.T) {
					hf.compare(t, env, file)
				})
			}
		})
	}
	// Helmfile fetched the charts from the local server: the rewrite took effect.
	for _, name := range hf.fetched {
		if hf.server.count(name) == 0 {
			t.Errorf("Helmfile never fetched %s from the local chart repository", name)
		}
	}
	t.Logf("chart repository on 127.0.0.1 served: %s", hf.server.served())

	t.Run("values Helmfile reads differently fail", func(t *testing.T) {
		testHelmfileBites(t, hf)
	})
}

// testHelmfileBites runs Helmfile on a work copy whose dev values of the root Application
// differ from the repository's: the comparison with the platform (which reads the repository)
// must report the field.
func testHelmfileBites(t *testing.T, hf *helmfileRun) {
	t.Helper()
	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(hf.work)); err != nil {
		t.Fatal(err)
	}
	values := filepath.Join(work, "deploy/argocd/shared/root/values/argocd-apps/dev.yaml")
	data, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "targetRevision: refs/heads/main", "targetRevision: refs/heads/not-main", 1)
	if edited == string(data) {
		t.Fatalf("%s: no targetRevision refs/heads/main to edit", values)
	}
	if err := os.WriteFile(values, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := hf.template(t, work, "dev", "argocd-apps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := gitops.LoadHelmfile(root, helmfileDir+"/argocd-apps.yaml", "dev")
	if err != nil {
		t.Fatal(err)
	}
	r, ok := h.Release("argo/argocd-apps")
	if !ok {
		t.Fatal("no release of argo/argocd-apps")
	}
	diffs := helmfileDiff(got[r.Name], hf.platformRender(t, "dev", helmfileDir+"/argocd-apps.yaml", r))
	if !slices.ContainsFunc(diffs, func(d string) bool {
		return strings.Contains(d, "spec.source.targetRevision: Helmfile \"refs/heads/not-main\", platform \"refs/heads/main\"")
	}) {
		t.Errorf("edited values passed; differences: %q", diffs)
	}
}

// helmfileRun is what every environment's comparison shares.
type helmfileRun struct {
	helmfile, helmDir string // the binaries' paths: helmfile, the directory of helm
	server            *helmfileChartServer
	index             *repo.IndexFile
	work              string   // the copy of helmfileTree, repository URLs rewritten
	files             []string // the Helmfiles, base names
	repo              *discovery.Repo
	apiVersions       []string
	renderer          *render.Renderer
	// substituted maps a release name to the version rendered instead of its pin.
	substituted map[string]string
	// fetched are the packages Helmfile must fetch from the server (remote releases).
	fetched []string
}

func helmfileSetup(t *testing.T) *helmfileRun {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join(root, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	hf := &helmfileRun{helmDir: bin, substituted: map[string]string{}}

	// Helmfile: built once into bin/ (instant when already there). A cold build takes longer
	// than go test's default 10-minute timeout of the whole package: start one only when the
	// package has the time, rather than let the timeout kill every test of the package.
	ctx := context.Background()
	if !helmfilebin.Built(filepath.Join(bin, helmfilebin.BinaryName)) {
		if dl, ok := t.Deadline(); ok && time.Until(dl) < helmfileColdBuild {
			t.Fatalf("%s is not built, and a cold build (up to %s) does not fit in this test's deadline (%s left): build it first with `go run ./internal/helmfilebin/build -bin bin`, or run go test with -timeout 60m",
				filepath.Join("bin", helmfilebin.BinaryName), helmfileColdBuild, time.Until(dl).Round(time.Second))
		}
		if dl, ok := t.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl.Add(-time.Minute))
			defer cancel()
		}
	}
	start := time.Now()
	var log bytes.Buffer
	path, built, err := helmfilebin.Build(ctx, helmfilebin.Options{BinDir: bin, Log: &log})
	if err != nil {
		t.Fatalf("%v\n(a cold build takes minutes: build it before the tests with `go run ./internal/helmfilebin/build -bin bin`)", err)
	}
	if built {
		t.Logf("built Helmfile %s in %s", helmfilebin.Version, time.Since(start).Round(time.Second))
	}
	hf.helmfile = path

	// Helm: the pinned bin/helm, as the cluster code and Argo CD's repo-server get it.
	cmd := exec.Command(filepath.Join(root, "scripts", "tools.sh"), "helm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/tools.sh helm: %v\n%s", err, out)
	}

	// The chart repository: ../shared/charts on 127.0.0.1.
	hf.server = &helmfileChartServer{dir: filepath.Join(root, sharedCharts), hits: map[string]int{}}
	srv := httptest.NewServer(hf.server)
	t.Cleanup(srv.Close)
	hf.index = sharedChartsIndex(t, srv.URL)
	if err := hf.server.setIndex(hf.index, t.TempDir()); err != nil {
		t.Fatal(err)
	}

	hf.repo, err = discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	hf.apiVersions = render.APIVersions(schemas.Kinds())
	hf.renderer = &render.Renderer{Repo: hf.repo, APIVersions: hf.apiVersions}

	hf.work = t.TempDir()
	if err := helmfileCopyTree(root, helmfileTree, hf.work); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(hf.work, helmfileDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".yaml") {
			hf.files = append(hf.files, e.Name())
		}
	}
	if len(hf.files) == 0 {
		t.Fatalf("no Helmfile in %s", helmfileDir)
	}
	for _, f := range hf.files {
		hf.rewrite(t, f, srv.URL)
	}
	return hf
}

// rewrite points the repositories of Helmfile file (in the work copy) to the local server and
// replaces a pin that ../shared/charts lacks by the newest version it has. Each edit must
// match exactly one line, so nothing else changes.
func (hf *helmfileRun) rewrite(t *testing.T, file, serverURL string) {
	t.Helper()
	rel := helmfileDir + "/" + file
	h, err := gitops.LoadHelmfile(root, rel, pinEnvs[0])
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(hf.work, filepath.FromSlash(rel))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	replaceLine := func(old, new string) {
		if n := strings.Count(text, old+"\n"); n != 1 {
			t.Fatalf("%s: %d lines end with %q, want exactly 1 to rewrite", rel, n, old)
		}
		text = strings.Replace(text, old+"\n", new+"\n", 1)
	}
	for _, name := range istioSortedNames(h.Repositories) {
		replaceLine("url: "+h.Repositories[name], "url: "+serverURL)
	}
	for _, r := range h.Releases {
		repoName, chart, ok := strings.Cut(r.Chart, "/")
		if !ok || h.Repositories[repoName] == "" {
			continue // a local chart
		}
		if cv, err := hf.index.Get(chart, r.Version); err == nil {
			hf.fetched = append(hf.fetched, path.Base(cv.URLs[0]))
			continue
		}
		newest, err := hf.index.Get(chart, "")
		if err != nil {
			t.Fatalf("%s: release %s: %s has no version of chart %s", rel, r.Name, sharedCharts, chart)
		}
		replaceLine("version: "+r.Version, "version: "+newest.Version)
		hf.fetched = append(hf.fetched, path.Base(newest.URLs[0]))
		hf.substituted[r.Name] = newest.Version
		t.Logf("%s: release %s pins %s %s, not available offline (see notOffline): Helmfile and the platform render %s %s, the newest in %s",
			rel, r.Name, chart, r.Version, chart, newest.Version, sharedCharts)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// compare runs `helmfile template` on one Helmfile in env and compares each release.
func (hf *helmfileRun) compare(t *testing.T, env, file string) {
	rel := helmfileDir + "/" + file
	h, err := gitops.LoadHelmfile(root, rel, env)
	if err != nil {
		t.Fatal(err)
	}
	got, err := hf.template(t, hf.work, env, file)
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, r := range h.Releases {
		helmfileObjs, ok := got[r.Name]
		if !ok {
			t.Errorf("release %s: Helmfile rendered nothing", r.Name)
			continue
		}
		delete(got, r.Name)
		want := hf.platformRender(t, env, rel, r)
		if want == nil {
			continue
		}
		diffs := helmfileDiff(helmfileObjs, want)
		for _, d := range diffs {
			t.Errorf("release %s (%s): Helmfile and the platform differ: %s", r.Name, env, d)
		}
		if strings.HasSuffix(r.Chart, "/argocd-apps") {
			hf.compareRoot(t, env, r, helmfileObjs)
		}
		verdict := "equal"
		if len(diffs) > 0 {
			verdict = fmt.Sprintf("%d differences", len(diffs))
		}
		line := fmt.Sprintf("%s %d objects %s", r.Name, len(helmfileObjs), verdict)
		if v, ok := hf.substituted[r.Name]; ok {
			line += fmt.Sprintf(" (%s at %s for the pin %s)", r.Chart, v, r.Version)
		}
		summary = append(summary, line)
	}
	for name := range got {
		t.Errorf("Helmfile rendered release %s, which pkg/gitops does not read from %s", name, rel)
	}
	t.Logf("%s %s: %s", env, file, strings.Join(summary, ", "))
}

// template runs Helmfile on file of the work copy work and returns its objects by release.
func (hf *helmfileRun) template(t *testing.T, work, env, file string) (map[string][]*render.Object, error) {
	t.Helper()
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	args := []string{"--environment", env, "--file", "helmfile.d/" + file, "template",
		"--include-crds", "--kube-version", render.KubeVersion,
		"--template-args", "--api-versions " + strings.Join(hf.apiVersions, " --api-versions "),
		"--output-dir", out, "--output-dir-template", "{{ .OutputDir }}/{{ .Release.Name }}"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	cmd := exec.CommandContext(ctx, hf.helmfile, args...)
	cmd.Dir = filepath.Join(work, filepath.FromSlash(path.Dir(helmfileDir)))
	if cmd.Env, err = hf.env(tmp, env); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helmfile %s: %v\nstderr:\n%s\nstdout:\n%s", strings.Join(args[:5], " "), err, helmfileTail(stderr.String(), 40), helmfileTail(stdout.String(), 20))
	}
	t.Logf("helmfile -e %s -f helmfile.d/%s template: %s", env, file, time.Since(start).Round(time.Millisecond))
	return helmfileReadReleases(out)
}

// env is Helmfile's whole environment: nothing of the user's (HOME, caches, kubeconfig,
// Helm repositories and plugins) is read or written.
func (hf *helmfileRun) env(tmp, env string) ([]string, error) {
	dirs := map[string]string{}
	for _, d := range []string{"home", "config", "cache", "data", "tmp", "helmfile-cache"} {
		dirs[d] = filepath.Join(tmp, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return nil, err
		}
	}
	out := []string{
		// Only bin/: Helm is all that `helmfile template` runs (no kubectl, no plugin).
		"PATH=" + hf.helmDir,
		"HOME=" + dirs["home"],
		"XDG_CONFIG_HOME=" + dirs["config"],
		"XDG_CACHE_HOME=" + dirs["cache"],
		"XDG_DATA_HOME=" + dirs["data"],
		"HELM_CONFIG_HOME=" + filepath.Join(dirs["config"], "helm"),
		"HELM_CACHE_HOME=" + filepath.Join(dirs["cache"], "helm"),
		"HELM_DATA_HOME=" + filepath.Join(dirs["data"], "helm"),
		"HELMFILE_CACHE_HOME=" + dirs["helmfile-cache"],
		"HELMFILE_TEMPDIR=" + dirs["tmp"],
		"TMPDIR=" + dirs["tmp"],
		"KUBECONFIG=" + filepath.Join(tmp, "no-kubeconfig"),
		"HELMFILE_UPGRADE_NOTICE_DISABLED=1",
		"OTEL_SDK_DISABLED=true",
		"NO_COLOR=1",
	}
	if env == "prd" {
		for _, k := range istioSortedNames(helmfileDexVars) {
			out = append(out, k+"="+helmfileDexVars[k])
		}
	}
	return out, nil
}

// platformRender renders release r of env the platform's way; nil after reporting a problem.
func (hf *helmfileRun) platformRender(t *testing.T, env, helmfile string, r gitops.Release) []*render.Object {
	t.Helper()
	if strings.HasPrefix(r.Chart, ".") {
		return hf.localRender(t, env, helmfile, r)
	}
	_, chart, _ := strings.Cut(r.Chart, "/")
	version := r.Version
	if v, ok := hf.substituted[r.Name]; ok {
		version = v
	}
	cv, err := hf.index.Get(chart, version)
	if err != nil || len(cv.URLs) == 0 {
		t.Errorf("release %s: %s %s not in %s", r.Name, chart, version, sharedCharts)
		return nil
	}
	ch, err := loader.Load(filepath.Join(root, sharedCharts, path.Base(cv.URLs[0])))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	for _, f := range r.Values {
		var v map[string]any
		switch {
		case f == argoCDValuesDir+"/secrets.yaml.gotmpl":
			vars := map[string]string{}
			if env == "prd" {
				vars = helmfileDexVars
			}
			v, err = dexValues(env, vars)
		case strings.HasSuffix(f, ".gotmpl"):
			t.Errorf("release %s: values template %s: the platform has no reading of it", r.Name, f)
			return nil
		default:
			var data []byte
			data, err = repofs.ReadFile(root, f)
			if err == nil {
				err = yaml.Unmarshal(data, &v)
			}
		}
		if err != nil {
			t.Fatalf("release %s: %s: %v", r.Name, f, err)
		}
		values = eksMerge(values, v)
	}
	objs, err := istiocharts.Render(ch, values, r.Name, r.Namespace, hf.apiVersions)
	if err != nil {
		t.Errorf("release %s: %s %s rejects the values: %v", r.Name, chart, version, err)
		return nil
	}
	return objs
}

// localRender renders a release of a chart of this repository as `platform render` does,
// after checking that the release is that render: the same release name, namespace and
// values file.
func (hf *helmfileRun) localRender(t *testing.T, env, helmfile string, r gitops.Release) []*render.Object {
	t.Helper()
	id, err := repofs.Resolve(path.Dir(helmfile), r.Chart)
	if err != nil {
		t.Errorf("release %s: chart %s: %v", r.Name, r.Chart, err)
		return nil
	}
	c, ok := hf.repo.Chart(id)
	if !ok {
		t.Errorf("release %s: chart %s (%s) is not a chart the platform renders", r.Name, r.Chart, id)
		return nil
	}
	if r.Name != c.Name || r.Namespace != c.Namespace || len(r.Values) != 1 || r.Values[0] != c.ValuesFiles[env] {
		t.Errorf("release %s: Helmfile installs %s as %s in %s with values %v; the platform renders it as %s in %s with %s",
			r.Name, id, r.Name, r.Namespace, r.Values, c.Name, c.Namespace, c.ValuesFiles[env])
	}
	res, err := hf.renderer.Render(c, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		t.Errorf("release %s: platform render of %s: %s %s: %s", r.Name, id, f.File, f.Object, f.Message)
	}
	return res.Objects
}

// compareRoot compares the Application the argocd-apps release renders with the platform's
// reading of the root (gitops.RootApplication).
func (hf *helmfileRun) compareRoot(t *testing.T, env string, r gitops.Release, objs []*render.Object) {
	t.Helper()
	app, err := gitops.RootApplication(root, gitops.RootHelmfile, env)
	if err != nil {
		t.Fatal(err)
	}
	want, err := render.Decode(helmfileYAML(t, app))
	if err != nil || len(want) != 1 {
		t.Fatalf("the platform's root Application is not one object: %v", err)
	}
	var apps []*render.Object
	for _, o := range objs {
		if o.Kind == "Application" {
			apps = append(apps, o)
		}
	}
	for _, d := range helmfileDiff(apps, want) {
		t.Errorf("release %s (%s): Helmfile's Application and gitops.RootApplication differ: %s", r.Name, env, d)
	}
}

// helmfileReadReleases reads `helm template --output-dir` files under dir/<release>/, bounded.
func helmfileReadReleases(dir string) (map[string][]*render.Object, error) {
	out := map[string][]*render.Object{}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		if n++; n > 1000 {
			return fmt.Errorf("%s: more than 1000 files", dir)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		release, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > 16<<20 {
			return fmt.Errorf("%s: larger than 16 MiB", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		objs, err := render.Decode(data)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		out[release] = append(out[release], objs...)
		return nil
	})
	for _, objs := range out {
		render.Sort(objs)
	}
	return out, err
}

// helmfileObjectKey identifies an object across renders.
func helmfileObjectKey(o *render.Object) string {
	return o.APIVersion + " " + o.ID()
}

// helmfileDiff compares two renders as sets of objects, each parsed and normalised through
// JSON (so that both sides' number and map types agree), and describes every difference
// (at most 20 paths per object).
func helmfileDiff(got, want []*render.Object) []string {
	index := func(objs []*render.Object) (map[string]any, []string) {
		m := map[string]any{}
		var dup []string
		for _, o := range objs {
			k := helmfileObjectKey(o)
			if _, ok := m[k]; ok {
				dup = append(dup, k)
			}
			var v any
			b, err := json.Marshal(o.Body)
			if err == nil {
				err = json.Unmarshal(b, &v)
			}
			if err != nil {
				v = fmt.Sprintf("unencodable: %v", err)
			}
			m[k] = v
		}
		return m, dup
	}
	g, gdup := index(got)
	w, wdup := index(want)
	var out []string
	for _, k := range gdup {
		out = append(out, "Helmfile renders "+k+" twice")
	}
	for _, k := range wdup {
		out = append(out, "the platform renders "+k+" twice")
	}
	keys := map[string]bool{}
	for k := range g {
		keys[k] = true
	}
	for k := range w {
		keys[k] = true
	}
	for _, k := range istioSortedNames(keys) {
		gv, gok := g[k]
		wv, wok := w[k]
		switch {
		case !wok:
			out = append(out, k+": only Helmfile renders it")
		case !gok:
			out = append(out, k+": only the platform renders it")
		case !reflect.DeepEqual(gv, wv):
			var paths []string
			helmfileDiffValues(gv, wv, "", &paths)
			out = append(out, k+": "+strings.Join(paths, "; "))
		}
	}
	return out
}

// helmfileDiffValues appends the paths where a (Helmfile) and b (the platform) differ.
func helmfileDiffValues(a, b any, at string, out *[]string) {
	if len(*out) >= 20 {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range istioSortedNames(keys) {
			helmfileDiffValues(am[k], bm[k], at+"."+k, out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			helmfileDiffValues(al[i], bl[i], fmt.Sprintf("%s[%d]", at, i), out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, fmt.Sprintf("%s: Helmfile %s, platform %s", strings.TrimPrefix(at, "."), helmfileShort(a), helmfileShort(b)))
	}
}

func helmfileShort(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

func helmfileYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func helmfileTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// helmfileCopyTree copies the directory rel of the repository at from into to (same relative path),
// reading every file through repofs (sizes bounded, no symlink followed); anything but
// directories and regular files is refused, and at most 2000 entries are copied.
func helmfileCopyTree(from, rel, to string) error {
	n := 0
	return filepath.WalkDir(filepath.Join(from, filepath.FromSlash(rel)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > 2000 {
			return fmt.Errorf("copy %s: more than 2000 entries", rel)
		}
		r, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, r)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case !d.Type().IsRegular():
			return fmt.Errorf("copy %s: %s is not a regular file or directory", rel, r)
		}
		data, err := repofs.ReadFile(from, filepath.ToSlash(r))
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

// helmfileChartServer serves ../shared/charts as a Helm chart repository: index.yaml and the packages
// it lists, nothing else, and counts what was fetched.
type helmfileChartServer struct {
	dir   string
	index []byte
	files map[string]bool // package file names the index lists
	mu    sync.Mutex
	hits  map[string]int
}

// setIndex serves idx, written by the Helm SDK (into dir) as `helm repo index` writes it.
func (s *helmfileChartServer) setIndex(idx *repo.IndexFile, dir string) error {
	p := filepath.Join(dir, "index.yaml")
	if err := idx.WriteFile(p, 0o644); err != nil {
		return err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	files := map[string]bool{}
	for _, cvs := range idx.Entries {
		for _, cv := range cvs {
			for _, u := range cv.URLs {
				files[path.Base(u)] = true
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index, s.files = b, files
	return nil
}

func (s *helmfileChartServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	index, known := s.index, s.files[name]
	if name == "index.yaml" || known {
		s.hits[name]++
	}
	s.mu.Unlock()
	switch {
	case name == "index.yaml":
		w.Header().Set("Content-Type", "application/x-yaml")
		_, _ = w.Write(index)
	case known:
		http.ServeFile(w, r, filepath.Join(s.dir, name))
	default:
		http.NotFound(w, r)
	}
}

// count is how often name was asked for.
func (s *helmfileChartServer) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[name]
}

// served describes what the server was asked for.
func (s *helmfileChartServer) served() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for name, n := range s.hits {
		parts = append(parts, fmt.Sprintf("%s x%d", name, n))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// TestHelmfileDiff checks the comparison itself, without Helmfile: equal renders pass, and
// each kind of difference is reported with the object and the field.
func TestHelmfileDiff(t *testing.T) {
	decode := func(s string) []*render.Object {
		t.Helper()
		objs, err := render.Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: argocd\ndata:\n  k: v\n"
	const app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: root\nspec:\n  revisionHistoryLimit: 10\n"
	for _, tc := range []struct {
		name      string
		got, want string
		diffs     []string // substrings, one per expected difference; none: equal
	}{
		{name: "equal in another order", got: cm + "---\n" + app, want: app + "---\n" + cm},
		{name: "a number typed differently is equal", got: app, want: strings.Replace(app, "10", "10.0", 1)},
		{name: "a field differs", got: cm, want: strings.Replace(cm, "k: v", "k: w", 1),
			diffs: []string{`v1 ConfigMap/argocd/a: data.k: Helmfile "v", platform "w"`}},
		{name: "a field only one side has", got: cm, want: strings.Replace(cm, "  k: v\n", "  k: v\n  extra: x\n", 1),
			diffs: []string{`data.extra: Helmfile (absent), platform "x"`}},
		{name: "an object only Helmfile renders", got: cm + "---\n" + app, want: cm,
			diffs: []string{"argoproj.io/v1alpha1 Application/root: only Helmfile renders it"}},
		{name: "an object only the platform renders", got: app, want: cm + "---\n" + app,
			diffs: []string{"v1 ConfigMap/argocd/a: only the platform renders it"}},
		{name: "another namespace is another object", got: cm, want: strings.Replace(cm, "namespace: argocd", "namespace: other", 1),
			diffs: []string{"ConfigMap/argocd/a: only Helmfile", "ConfigMap/other/a: only the platform"}},
		{name: "an object rendered twice", got: cm + "---\n" + cm, want: cm,
			diffs: []string{"Helmfile renders v1 ConfigMap/argocd/a twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := helmfileDiff(decode(tc.got), decode(tc.want))
			if len(got) != len(tc.diffs) {
				t.Errorf("differences %q, want %d", got, len(tc.diffs))
			}
			for _, w := range tc.diffs {
				if !slices.ContainsFunc(got, func(d string) bool { return strings.Contains(d, w) }) {
					t.Errorf("no difference mentions %q: %q", w, got)
				}
			}
		})
	}
}
