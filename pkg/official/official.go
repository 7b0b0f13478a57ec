// Package official renders the official Helm charts that the Argo CD Applications of one
// environment install (kube-prometheus-stack, Kiali, Jaeger, the ACK controllers, the AWS
// Load Balancer Controller, external-secrets, Istio's charts ...) the way Argo CD's repo
// server renders them, so that the schema stage, the policies, the plan and the diff see
// what the cluster will run and not only the Applications that point at it.
//
// Sources of this repository (git paths) and our own charts from ECR are rendered by
// pkg/render already and are skipped here. Charts of Istio's repository come from the
// istio.io/istio module (internal/istiocharts), every other chart through a
// chartsource.Resolver (folders of packaged charts, a cache, the network).
//
// A chart that cannot be resolved or rendered is a finding about its Application (rule
// "official-chart"), never a crash and never a silent skip: a Warning when the resolver is
// offline and simply does not hold the chart (a user's clone without network), an Error
// when the chart is there but broken, or rejects the values.
package official

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"helm.sh/helm/v3/pkg/chart"

	"github.com/microservices-manifests/microservices-manifests/internal/istiocharts"
	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// Rule is the finding rule of an official chart that could not be resolved or rendered.
const Rule = "official-chart"

// RuleValues names the warning about a values key the chart neither declares nor reads.
const RuleValues = "official-values"

// Options configure Render.
type Options struct {
	// Root is the repository root. When Resolver is nil, a Resolver caching under
	// <Root>/.cache/charts (online) is used.
	Root string
	// Env is the environment the Applications were rendered for (findings carry it).
	Env string
	// Resolver finds the charts (not Istio's). Offline with ChartsFrom for tests and
	// air-gapped runs.
	Resolver *chartsource.Resolver
	// APIVersions are advertised to the charts as .Capabilities.APIVersions, as pkg/validate
	// renders our charts: render.APIVersions(schemas.Kinds()).
	APIVersions []string
	// Log receives one status line per release rendered; nil discards them.
	Log io.Writer
	// Parallelism bounds concurrent renders; 0 means GOMAXPROCS.
	Parallelism int
}

// Release is one chart source of an Application, rendered.
type Release struct {
	// Application is the Application's metadata.name; Tree and File the chart of this
	// repository that renders it and the template (findings about its values point there).
	Application, Tree, File string
	// Field is the source's field path in the Application ("spec.source", "spec.sources[1]").
	Field                                           string
	RepoURL, Chart, Version, ReleaseName, Namespace string
	// Digest is the chart archive's "sha256:<hex>" ("" for Istio's charts, which come from
	// a Go module); Origin says where the chart came from.
	Digest, Origin string
	// Objects are what Argo CD would apply, sorted (render.Sort): Lists flattened, namespaced
	// objects without a namespace put in the release namespace. Template is the file inside
	// the chart ("kube-prometheus-stack/templates/prometheus/prometheus.yaml").
	Objects []*render.Object
	// CRDs are the CustomResourceDefinitions the chart ships (also in Objects).
	CRDs []*render.Object

	// clusterKinds are the kinds ("group/Kind") the chart's CRDs make cluster-scoped,
	// including CRDs left out by skipCrds (the cluster has them all the same).
	clusterKinds map[string]bool
}

// ChartID names the release where findings name a chart: "<Application> (chart X Y)".
func (r *Release) ChartID() string {
	return fmt.Sprintf("%s (chart %s %s)", r.Application, r.Chart, r.Version)
}

// Result is the release as a render of the validate pipeline: Chart.ID is the Application's
// name (its plan directory), Official says where the chart came from.
func (r *Release) Result(env string) *render.Result {
	return &render.Result{Env: env, Objects: r.Objects,
		Chart: discovery.Chart{ID: r.Application, Name: r.Chart, Version: r.Version, Namespace: r.Namespace},
		Official: &render.Source{Application: r.Application, Field: r.Field, RepoURL: r.RepoURL, Chart: r.Chart,
			Version: r.Version, Digest: r.Digest, Origin: r.Origin, Tree: r.Tree, File: r.File}}
}

// job is one chart source to render.
type job struct {
	app *apps.Application
	src apps.Source
}

// Render renders the official chart sources of applications (one environment's). Releases
// come out sorted by Application, then source field; findings name the Application. The
// error is for a cancelled ctx only.
func Render(ctx context.Context, opts Options, applications []*apps.Application) ([]*Release, []report.Finding, error) {
	resolver := opts.Resolver
	if resolver == nil {
		cache := ""
		if opts.Root != "" {
			cache = filepath.Join(opts.Root, ".cache", "charts")
		}
		resolver = &chartsource.Resolver{CacheDir: cache, Log: opts.Log}
	}
	var jobs []job
	for _, a := range applications {
		for _, s := range Sources(a) {
			jobs = append(jobs, job{app: a, src: s})
		}
	}
	slices.SortStableFunc(jobs, func(x, y job) int {
		return strings.Compare(x.app.Name+"\x00"+x.src.Field, y.app.Name+"\x00"+y.src.Field)
	})

	r := &renderer{opts: opts, resolver: resolver}
	releases := make([]*Release, len(jobs))
	findings := make([][]report.Finding, len(jobs))
	limit := opts.Parallelism
	if limit <= 0 {
		limit = runtime.GOMAXPROCS(0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, j := range jobs {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			releases[i], findings[i] = r.render(gctx, j)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, fmt.Errorf("render official charts: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("render official charts: %w", err)
	}
	var out []*Release
	for _, rel := range releases {
		if rel != nil {
			out = append(out, rel)
		}
	}
	defaultNamespaces(out)
	for _, rel := range out {
		render.Sort(rel.Objects)
		render.Sort(rel.CRDs)
		r.logf("official: %s [%s]: %s: %d objects, %d CRDs (%s)", rel.ChartID(), opts.Env, rel.Namespace, len(rel.Objects), len(rel.CRDs), rel.Origin)
	}
	return out, slices.Concat(findings...), nil
}

// FromObjects picks the Argo CD Applications (kind Application, group argoproj.io) of
// rendered objects; ApplicationSets are not expanded. The Applications' Chart and Env are
// left for the caller to set (findings carry them); apps.FromRenders sets both.
func FromObjects(objs []*render.Object) []*apps.Application {
	var out []*apps.Application
	for _, o := range objs {
		if o != nil && o.Kind == "Application" && apps.IsApplication(o) {
			out = append(out, apps.FromObject(o, "", ""))
		}
	}
	return out
}

// Sources are the official chart sources of a (an Application, not an ApplicationSet),
// the ones Render renders: a chart of a Helm repository or an OCI registry other than our
// ECR. A path of a git repository and our own published charts are rendered by pkg/render.
func Sources(a *apps.Application) []apps.Source {
	if a == nil || a.Kind != "Application" {
		return nil
	}
	var out []apps.Source
	for _, s := range a.Sources {
		if (s.Kind == apps.HelmRepo || s.Kind == apps.OCI) && !Ours(s.RepoURL) {
			out = append(out, s)
		}
	}
	return out
}

// Ours reports whether repoURL is our own ECR (<12 digits>.dkr.ecr.<region>.amazonaws.com,
// with or without oci://), where the charts of this repository are published: pkg/policy's
// rule for the App-of-Apps tree recognises our charts the same way.
func Ours(repoURL string) bool {
	host, _, _ := strings.Cut(strings.TrimPrefix(repoURL, "oci://"), "/")
	return ECRHost.MatchString(host)
}

// renderer renders jobs; it is shared by the workers.
type renderer struct {
	opts     Options
	resolver *chartsource.Resolver

	istioOnce sync.Once
	istioDir  string
	istioErr  error
	logMu     sync.Mutex
}

func (r *renderer) logf(format string, args ...any) {
	if r.opts.Log == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.opts.Log, format+"\n", args...)
}

// render resolves, values and renders one source; a problem is returned as a finding.
func (r *renderer) render(ctx context.Context, j job) (*Release, []report.Finding) {
	a, s := j.app, j.src
	rel := &Release{Application: a.Name, Tree: a.Chart, File: a.Template, Field: s.Field, RepoURL: s.RepoURL, Chart: s.Chart, Version: s.TargetRevision,
		ReleaseName: a.Name, Namespace: a.Destination.Namespace}
	helm, _ := s.Body["helm"].(map[string]any)
	if n, _ := helm["releaseName"].(string); n != "" {
		rel.ReleaseName = n
	}
	if n, _ := helm["namespace"].(string); n != "" {
		rel.Namespace = n // spec.source.helm.namespace overrides the destination's for helm
	}
	var findings []report.Finding
	fail := func(sev report.Severity, path, format string, args ...any) (*Release, []report.Finding) {
		return nil, append(findings, r.finding(a, sev, path, fmt.Sprintf("Application %s: %s %s %s: ", a.Name, s.RepoURL, s.Chart, s.TargetRevision)+fmt.Sprintf(format, args...)))
	}

	ch, sev, err := r.load(ctx, rel)
	if err != nil {
		return fail(sev, s.Field, "%v", err)
	}
	vals, problems, err := Values(a, s, ch)
	for _, p := range problems {
		findings = append(findings, r.finding(a, report.Warning, s.Field+".helm", fmt.Sprintf("Application %s: %s %s %s: %s", a.Name, s.RepoURL, s.Chart, s.TargetRevision, p)))
	}
	if err != nil {
		return fail(report.Error, s.Field+".helm", "%v", err)
	}
	crdFiles := map[string]bool{}
	for _, c := range ch.CRDObjects() {
		crdFiles[filepath.ToSlash(c.Filename)] = true
	}
	if b, _ := helm["skipSchemaValidation"].(bool); b {
		dropSchemas(ch)
	}
	for _, key := range UnknownValues(ch, vals) {
		findings = append(findings, r.finding(a, report.Warning, s.Field+".helm",
			fmt.Sprintf("Application %s: %s %s %s: values key %s is neither in the chart's values.yaml nor read by a template: Helm ignores it (a typo, or a key of another chart version) (%s)",
				a.Name, s.RepoURL, s.Chart, s.TargetRevision, key, RuleValues)))
	}
	objs, err := renderChart(ch, vals, rel.ReleaseName, rel.Namespace, r.opts.APIVersions)
	if err != nil {
		return fail(report.Error, s.Field+".helm", "chart rejects the values: %v", err)
	}
	skipCRDs, _ := helm["skipCrds"].(bool)
	skipTests, _ := helm["skipTests"].(bool)
	objs, err = flatten(objs)
	if err != nil {
		return fail(report.Error, s.Field, "%v", err)
	}
	rel.clusterKinds = clusterKinds(objs)
	ignores := ignoreDifferences(a)
	for _, o := range objs {
		if skipCRDs && crdFiles[o.Template] {
			continue // helm template without --include-crds leaves out crds/ (not templated CRDs)
		}
		if skipTests && isTestHook(o) {
			continue
		}
		if o.Ignored, err = ignoredLeaves(ignores, o); err != nil {
			return fail(report.Error, "spec.ignoreDifferences", "%v", err)
		}
		rel.Objects = append(rel.Objects, o)
		if isCRD(o) {
			rel.CRDs = append(rel.CRDs, o)
		}
	}
	return rel, findings
}

// load resolves the chart: Istio's from the module, every other through the resolver. The
// severity says how bad a failure is.
func (r *renderer) load(ctx context.Context, rel *Release) (*chart.Chart, report.Severity, error) {
	if strings.TrimSuffix(rel.RepoURL, "/") == istiocharts.RepoURL {
		r.istioOnce.Do(func() { r.istioDir, r.istioErr = istiocharts.ModuleDir() })
		if r.istioErr != nil {
			// The module comes through the Go module proxy: offline and not in the module
			// cache is the same situation as a chart absent offline.
			sev := report.Error
			if r.resolver.Offline {
				sev = report.Warning
			}
			return nil, sev, fmt.Errorf("charts of %s@%s: %w", istiocharts.Module, istiocharts.Version, r.istioErr)
		}
		if _, ok := istiocharts.Charts[rel.Chart]; !ok {
			return nil, report.Error, fmt.Errorf("not a chart of Istio's repository (%s has base, cni, gateway, istiod)", istiocharts.Module)
		}
		ch, err := istiocharts.Load(r.istioDir, rel.Chart, rel.Version)
		if err != nil {
			return nil, report.Error, err
		}
		rel.Origin = fmt.Sprintf("%s@%s %s", istiocharts.Module, istiocharts.Version, istiocharts.Charts[rel.Chart])
		return ch, 0, nil
	}
	res, err := r.resolver.Resolve(ctx, chartsource.Ref{RepoURL: rel.RepoURL, Chart: rel.Chart, Version: rel.Version})
	if err != nil {
		sev := report.Error
		var ce *chartsource.Error
		if errors.As(err, &ce) && r.resolver.Offline && strings.HasPrefix(ce.Reason, "offline") {
			sev = report.Warning
		}
		return nil, sev, fmt.Errorf("chart not resolved: %w", err)
	}
	rel.Digest, rel.Origin = res.Digest, res.Origin
	return res.Chart, 0, nil
}

func (r *renderer) finding(a *apps.Application, sev report.Severity, path, msg string) report.Finding {
	f := report.Finding{Severity: sev, Rule: Rule, Chart: a.Chart, Env: r.opts.Env, File: a.Template, Path: path, Message: msg}
	if f.Env == "" {
		f.Env = a.Env
	}
	if a.Name != "" {
		f.Object = "Application/" + a.Name
		if a.Namespace != "" {
			f.Object = "Application/" + a.Namespace + "/" + a.Name
		}
	}
	return f
}

// dropSchemas removes the values schemas of ch and its sub-charts, as helm's
// --skip-schema-validation (spec.source.helm.skipSchemaValidation) does.
func dropSchemas(ch *chart.Chart) {
	ch.Schema = nil
	for _, d := range ch.Dependencies() {
		dropSchemas(d)
	}
}

func isCRD(o *render.Object) bool {
	return o.Kind == "CustomResourceDefinition" && strings.HasPrefix(o.APIVersion, "apiextensions.k8s.io/")
}

// isTestHook reports a helm test hook (left out by --skip-tests).
func isTestHook(o *render.Object) bool {
	meta, _ := o.Body["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	hooks, _ := ann["helm.sh/hook"].(string)
	for h := range strings.SplitSeq(hooks, ",") {
		if strings.HasPrefix(strings.TrimSpace(h), "test") {
			return true
		}
	}
	return false
}
