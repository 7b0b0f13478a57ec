package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	psapi "k8s.io/pod-security-admission/api"
	psa "k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/official"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// Platform describes the cluster the charts are deployed to: the data the platform's own
// rules check against (DESIGN.md's node groups and namespaces).
type Platform struct {
	// NodeGroupLabel is the node label workloads select (DESIGN.md "Node groups").
	NodeGroupLabel string
	// NodeGroups maps a namespace to the node group its workloads must require.
	NodeGroups map[string]string
	// AppNamespaces hold the microservices: default-deny NetworkPolicy, quotas, sidecar
	// injection are required there.
	AppNamespaces []string
	// RelaxedNamespaces may enforce a Pod Security level below restricted (node agents,
	// exporters); every other namespace enforces restricted.
	RelaxedNamespaces []string
	// IngressNamespaces may expose NodePort and LoadBalancer Services.
	IngressNamespaces []string
	// IstioRootNamespace holds the mesh-wide PeerAuthentication.
	IstioRootNamespace string
	// OwnRepositoryPrefix marks the image repositories of our own services (built by the
	// backend repository, pushed to ECR).
	OwnRepositoryPrefix string
	// ApprovedRegistries are the registry hosts images may come from, besides ECR.
	ApprovedRegistries []string
	// ChartRepositories are the Helm repositories chart dependencies may come from,
	// besides file:// and our ECR, and the repositories (Helm or OCI) official charts are
	// fetched from over the network (chartsource.Resolver.Repositories): a pull request
	// cannot make the platform contact another host.
	ChartRepositories []string
	// Helmfiles are globs, relative to the repository root, of the Helmfiles that install
	// the App-of-Apps roots: their releases with a local chart are roots of the tree.
	Helmfiles []string
	// ProductionEnvs are the environments where HIGH rules fail the run.
	ProductionEnvs []string
	// ArgoCDNamespace is Argo CD's own namespace (rule C20).
	ArgoCDNamespace string
}

// DefaultPlatform is this repository's platform, as DESIGN.md describes it.
func DefaultPlatform() *Platform {
	return &Platform{
		NodeGroupLabel: "node.kubernetes.io/nodegroup",
		NodeGroups: map[string]string{
			"microservices": "app",
			"argocd":        "deploy",
			"istio-ingress": "ingress",
			"istio-egress":  "ingress",
			"istio-system":  "system",
			"prometheus":    "system",
			"jaeger":        "system",
			"ack-system":    "system",
		},
		ArgoCDNamespace:     "argocd",
		AppNamespaces:       []string{"microservices"},
		RelaxedNamespaces:   []string{"istio-system", "kube-system", "prometheus"},
		IngressNamespaces:   []string{"istio-ingress"},
		IstioRootNamespace:  "istio-system",
		OwnRepositoryPrefix: "microservices/",
		ApprovedRegistries: []string{"docker.io", "ghcr.io", "quay.io", "registry.k8s.io",
			"public.ecr.aws", "gcr.io", "cr.jaegertracing.io"},
		ChartRepositories: []string{"https://argoproj.github.io/argo-helm", "https://istio-release.storage.googleapis.com/charts",
			"https://prometheus-community.github.io/helm-charts", "https://kiali.org/helm-charts",
			"https://jaegertracing.github.io/helm-charts", "https://grafana.github.io/helm-charts",
			"https://aws.github.io/eks-charts", "https://charts.external-secrets.io", "public.ecr.aws/aws-controllers-k8s"},
		Helmfiles:      []string{"deploy/argocd/shared/root/helmfile.d/*.yaml"},
		ProductionEnvs: []string{"prd", "prod", "production"},
	}
}

// Object is a rendered object with the chart that rendered it.
type Object struct {
	*render.Object
	Chart string
	// Application is set on the objects of an official chart (render.Result.Official): the
	// Argo CD Application that installs them. Chart is then the Application's name too.
	// Upstream templates cannot carry our exemption annotations, so the Application's
	// ChartExemptionsAnnotation exempts them (see exempt.go).
	Application string
}

// Env is one rendered environment: every object of every chart, and the indexes rules share.
type Env struct {
	Name       string
	Production bool
	Platform   *Platform
	// Partial is set when only some charts were rendered: rules that look for related
	// objects are skipped, since the objects may be in a chart that was not rendered.
	Partial bool
	Objects []*Object
	// Roots are the charts installed outside Argo CD (by Helmfile): the roots of the
	// App-of-Apps tree, deployed by no Application.
	Roots []string
	// Charts are the charts of the environment as objects of kind HelmChart (Chart.yaml
	// under "chart", Chart.lock under "lock"), for the rules about chart metadata.
	Charts []*Object
	// Unrendered are the namespaces an official chart deploys into whose objects are not in
	// the environment (official charts off, or one not resolved: a finding says so). Rules
	// that look for an object's counterpart (M05: a Service's pods) do not conclude there.
	Unrendered map[string]bool

	pods      []*Pod
	podsOnce  sync.Once
	evaluator psa.Evaluator
}

// Engine runs the rules.
type Engine struct {
	Platform *Platform
	// Rules to run; nil means every registered rule.
	Rules     []*Rule
	evaluator psa.Evaluator
}

// New returns an engine for the platform (nil: DefaultPlatform) with the Pod Security
// evaluator of the pinned k8s.io/pod-security-admission.
func New(p *Platform) (*Engine, error) {
	if p == nil {
		p = DefaultPlatform()
	}
	ev, err := psa.NewEvaluator(psa.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("pod security evaluator: %w", err)
	}
	return &Engine{Platform: p, evaluator: ev}, nil
}

// NewEnv builds an environment from objects (for tests and callers that did not render).
func (e *Engine) NewEnv(name string, objects []*Object) *Env {
	return &Env{Name: name, Production: slices.Contains(e.Platform.ProductionEnvs, name),
		Platform: e.Platform, Objects: objects, evaluator: e.evaluator}
}

// Check runs the rules on the renders, one environment at a time, and returns the findings
// (exemptions applied and listed). partial says the renders are not every chart.
func (e *Engine) Check(renders []*render.Result, partial bool) ([]report.Finding, error) {
	var envs []*Env
	byName := map[string]*Env{}
	for _, res := range renders {
		if res == nil {
			continue
		}
		env := byName[res.Env]
		if env == nil {
			env = e.NewEnv(res.Env, nil)
			env.Partial = partial
			byName[res.Env] = env
			envs = append(envs, env)
		}
		app := ""
		if res.Official != nil {
			app = res.Official.Application
		}
		for _, o := range res.Objects {
			env.Objects = append(env.Objects, &Object{Object: o, Chart: res.Chart.ID, Application: app})
		}
		if res.Official != nil {
			continue // not a chart of the repository: no Chart.yaml to check
		}
		ch, err := chartObject(res.Chart.Root(), res.Chart.ID)
		if err != nil {
			return nil, err
		}
		env.Charts = append(env.Charts, ch)
	}
	if i := slices.IndexFunc(renders, func(r *render.Result) bool { return r != nil && r.Official == nil }); i >= 0 {
		c := renders[i].Chart
		roots, err := helmfileCharts(c.Root(), e.Platform.Helmfiles)
		if err != nil {
			return nil, err
		}
		for _, env := range envs {
			env.Roots = roots
		}
	}
	for _, env := range envs {
		env.Unrendered = unrenderedNamespaces(env)
	}
	out := make([][]report.Finding, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Go(func() { out[i] = e.Run(env) })
	}
	wg.Wait()
	return slices.Concat(out...), nil
}

// Run checks one environment.
func (e *Engine) Run(env *Env) []report.Finding {
	rules := e.Rules
	if rules == nil {
		rules = registry
	}
	ex := newExemptions(env)
	var findings []report.Finding
	for _, r := range rules {
		if r.check == nil || (r.WholeEnvironment && env.Partial) {
			continue
		}
		for _, v := range r.check(env) {
			if v.Object != nil && ex.apply(v.Object, r) {
				continue
			}
			f := report.Finding{Severity: r.Severity.In(env.Production), Rule: r.Title(), Env: env.Name,
				Path: v.Path, Message: v.Message}
			if v.Object != nil {
				f.Chart, f.File, f.Object = v.Object.Chart, v.Object.Template, v.Object.ID()
			}
			findings = append(findings, f)
		}
	}
	return append(findings, ex.findings(env.Name)...)
}

// unrenderedNamespaces are the destination namespaces of the Applications of env that
// install an official chart (a Helm or OCI source other than our ECR) whose objects are not
// in env.
func unrenderedNamespaces(env *Env) map[string]bool {
	rendered := map[string]bool{}
	for _, o := range env.Objects {
		if o.Application != "" {
			rendered[o.Application] = true
		}
	}
	out := map[string]bool{}
	for _, o := range applications(env) {
		if o.Application != "" || rendered[o.Name] {
			continue
		}
		a := apps.FromObject(o.Object, o.Chart, env.Name)
		if len(official.Sources(a)) > 0 && a.Destination.Namespace != "" {
			out[a.Destination.Namespace] = true
		}
	}
	return out
}

// helmfileCharts returns the local charts (IDs relative to root) the Helmfiles release.
func helmfileCharts(root string, globs []string) ([]string, error) {
	var out []string
	for _, g := range globs {
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(g)))
		if err != nil {
			return nil, fmt.Errorf("helmfile glob %s: %w", g, err)
		}
		for _, f := range files {
			rel, err := filepath.Rel(root, f)
			if err != nil {
				return nil, fmt.Errorf("read helmfile: %w", err)
			}
			data, err := repofs.ReadFile(root, rel)
			if err != nil {
				return nil, fmt.Errorf("read helmfile: %w", err)
			}
			dir := filepath.Dir(f)
			// Helmfiles are templates; the release list is plain YAML in every document
			// that has one, and documents that do not parse cannot hold it.
			for _, doc := range strings.Split(string(data), "\n---") {
				var hf struct {
					Releases []struct{ Chart string } `json:"releases"`
				}
				if yaml.Unmarshal([]byte(doc), &hf) != nil {
					continue
				}
				for _, r := range hf.Releases {
					if !strings.HasPrefix(r.Chart, ".") {
						continue
					}
					if rel, err := filepath.Rel(root, filepath.Join(dir, filepath.FromSlash(r.Chart))); err == nil {
						out = append(out, filepath.ToSlash(rel))
					}
				}
			}
		}
	}
	return out, nil
}

// chartObject reads the Chart.yaml and Chart.lock of chart id in the repository at root
// (through repofs) into a HelmChart object.
func chartObject(root, id string) (*Object, error) {
	body := map[string]any{"apiVersion": "policy.microservices-manifests.io/v1", "kind": "HelmChart"}
	meta := map[string]any{}
	for key, file := range map[string]string{"chart": "Chart.yaml", "lock": "Chart.lock"} {
		data, err := repofs.ReadFile(root, id+"/"+file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read chart: %w", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("parse %s/%s: %w", id, file, err)
		}
		body[key] = m
	}
	if ch, ok := body["chart"].(map[string]any); ok {
		meta["name"] = ch["name"]
		meta["annotations"] = ch["annotations"]
	}
	body["metadata"] = meta
	name, _ := meta["name"].(string)
	return &Object{Chart: id, Object: &render.Object{Template: id + "/Chart.yaml", APIVersion: "policy.microservices-manifests.io/v1",
		Kind: "HelmChart", Name: name, Body: body}}, nil
}

// podSecurityLevel is the enforce level and version of a namespace: its labels when the
// namespace is rendered in the environment, else restricted at the latest version.
func (env *Env) podSecurityLevel(ns string) psapi.LevelVersion {
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	o := env.Namespace(ns)
	if o == nil {
		return lv
	}
	labels := mapOf(get(o.Body, "metadata", "labels"))
	if l, err := psapi.ParseLevel(str(labels[psapi.EnforceLevelLabel])); err == nil {
		lv.Level = l
	}
	if v, err := psapi.ParseVersion(str(labels[psapi.EnforceVersionLabel])); err == nil {
		lv.Version = v
	}
	return lv
}

// Namespace returns the rendered Namespace object called name, or nil.
func (env *Env) Namespace(name string) *Object {
	for _, o := range env.Objects {
		if o.Kind == "Namespace" && o.APIVersion == "v1" && o.Name == name {
			return o
		}
	}
	return nil
}

// Kind returns the objects of the given kinds.
func (env *Env) Kind(kinds ...string) []*Object {
	var out []*Object
	for _, o := range env.Objects {
		if slices.Contains(kinds, o.Kind) {
			out = append(out, o)
		}
	}
	return out
}
