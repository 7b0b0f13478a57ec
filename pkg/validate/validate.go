// Package validate is the pipeline every verb shares: discover the charts, render every
// chart in every environment in parallel, check each rendered object's name and namespace
// as the API server does for its kind (an object with an invalid one is reported and
// dropped), check each object strictly against the Kubernetes OpenAPI and the CRDs (those
// in the schema set and those the charts emit), then run the policies (pkg/policy) on each
// environment as a whole.
package validate

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/official"
	"github.com/microservices-manifests/microservices-manifests/pkg/plan"
	"github.com/microservices-manifests/microservices-manifests/pkg/policy"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
)

// Validator renders and checks the repository at Root.
type Validator struct {
	Root string
	// Envs selects environments; empty means every environment found.
	Envs []string
	// Charts selects charts by ID (e.g. "app/account"); empty means every chart.
	Charts []string
	// Parallelism bounds concurrent renders; 0 means GOMAXPROCS.
	Parallelism int
	// Schemas is the schema set; nil loads the embedded one.
	Schemas *schema.Validator
	// SkipPolicies turns the policy checks off (schema validation only).
	SkipPolicies bool
	// Policies is the policy engine; nil builds one for the default platform.
	Policies *policy.Engine
	// Official, when set, also renders the official chart of every Application of each
	// environment (pkg/official, charts from this resolver, Istio's from its module) and
	// checks their objects against the schemas (with the CRDs they ship known in their
	// environment) and the policies, like ours. Only on a run of every chart: the
	// Applications come from the whole environment.
	Official *chartsource.Resolver
}

// Result holds the renders (sorted by chart, then environment) and the report.
type Result struct {
	Repo    *discovery.Repo
	Renders []*render.Result
	// Official are the official charts' renders (Validator.Official), one per Application
	// and environment, their chart ID "<Application> (chart <name> <version>)".
	Official []*render.Result
	Report   *report.Report
	// officialOn says the official charts were asked for (Validator.Official).
	officialOn bool
}

// Run renders and validates. Findings are in the report; the error is for failures that
// prevent checking at all (an unknown environment, an unreadable repository).
func (v *Validator) Run(ctx context.Context) (*Result, error) {
	repo, err := discovery.Discover(v.Root)
	if err != nil {
		return nil, err
	}
	envs, charts, err := v.selection(repo)
	if err != nil {
		return nil, err
	}
	schemas := v.Schemas
	if schemas == nil {
		if schemas, err = schema.New(); err != nil {
			return nil, err
		}
	}
	r := &render.Renderer{Repo: repo, APIVersions: render.APIVersions(schemas.Kinds())}

	renders := make([]*render.Result, len(charts)*len(envs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.parallelism())
	for i, c := range charts {
		for j, env := range envs {
			g.Go(func() error {
				if err := gctx.Err(); err != nil {
					return err
				}
				res, err := r.Render(c, env)
				if err != nil {
					return fmt.Errorf("render %s/%s: %w", c.ID, env, err)
				}
				renders[i*len(envs)+j] = res
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	var officials []*render.Result
	var officialFindings []report.Finding
	if v.Official != nil && len(v.Charts) == 0 {
		perEnv := make([][]*official.Release, len(envs))
		found := make([][]report.Finding, len(envs))
		g, gctx := errgroup.WithContext(ctx)
		for i, env := range envs {
			g.Go(func() (err error) {
				perEnv[i], found[i], err = official.Render(gctx, official.Options{Root: v.Root, Env: env, Resolver: v.Official,
					APIVersions: r.APIVersions, Parallelism: v.Parallelism}, apps.FromRenders(renders, env))
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for i, env := range envs {
			officialFindings = append(officialFindings, found[i]...)
			for _, rel := range perEnv[i] {
				// Its plan directory is release/<env>/<application>/: an Application
				// called "app" would mix its files with our charts' plans.
				if err := plan.CheckApplicationDir(rel.Application); err != nil {
					officialFindings = append(officialFindings, report.Finding{Severity: report.Error, Rule: official.Rule, Env: env,
						Chart: rel.Tree, File: rel.File, Object: "Application/" + rel.Application, Message: err.Error()})
					continue
				}
				officials = append(officials, rel.Result(env))
			}
		}
	}
	all := append(append([]*render.Result{}, renders...), officials...)
	checkNames(all)
	if err := checkSchemas(ctx, schemas, envs, all, v.parallelism()); err != nil {
		return nil, err
	}
	rep := &report.Report{Charts: len(charts), Envs: envs}
	for _, res := range all {
		rep.Objects += len(res.Objects)
		rep.Findings = append(rep.Findings, res.Findings...)
	}
	rep.Findings = append(rep.Findings, officialFindings...)
	if !v.SkipPolicies {
		engine := v.Policies
		if engine == nil {
			if engine, err = policy.New(nil); err != nil {
				return nil, err
			}
		}
		// Cross-object rules need every chart of an environment; with a chart selection
		// they are skipped rather than report objects that live in charts not rendered.
		findings, err := engine.Check(all, len(v.Charts) > 0)
		if err != nil {
			return nil, fmt.Errorf("policies: %w", err)
		}
		rep.Findings = append(rep.Findings, findings...)
		rep.Rules = policy.RuleInfos()
	}
	// Object IDs are built from rendered names by every stage; bound them in one place so
	// that no output (annotations, summaries, SARIF) repeats a huge or unprintable name.
	for i := range rep.Findings {
		rep.Findings[i].Object = schema.BoundID(rep.Findings[i].Object)
	}
	rep.Sort()
	return &Result{Repo: repo, Renders: renders, Official: officials, Report: rep, officialOn: v.Official != nil && len(v.Charts) == 0}, nil
}

// Unrendered lists the Applications of env that install an official chart (official.Sources)
// whose render is not in the result (a finding says why: not resolved, rejected, a refused
// name), sorted: a plan keeps their previous files (plan.Keep) instead of deleting them. Nil
// when the official charts were not asked for.
func (r *Result) Unrendered(env string) []string {
	if !r.officialOn {
		return nil
	}
	rendered := map[string]bool{}
	for _, o := range r.Official {
		if o.Env == env {
			rendered[o.Official.Application] = true
		}
	}
	var out []string
	for _, a := range apps.FromRenders(r.Renders, env) {
		if len(official.Sources(a)) > 0 && !rendered[a.Name] && !slices.Contains(out, a.Name) {
			out = append(out, a.Name)
		}
	}
	slices.Sort(out)
	return out
}

// checkNames reports, as schema-stage errors, every object whose metadata.name or
// metadata.namespace the API server would reject for its kind, and drops it from the
// render: names become plan file names, comment lines and annotations, so no later stage
// (policies, plan, diff, catalog) sees a name Kubernetes does not accept. The report
// fails, so nothing is written or published.
func checkNames(renders []*render.Result) {
	for _, res := range renders {
		kept := res.Objects[:0]
		for _, o := range res.Objects {
			violations := schema.ValidateNames(o.APIVersion, o.Kind, o.Namespace, o.Name)
			for _, vi := range violations {
				res.Findings = append(res.Findings, report.Finding{Severity: report.Error, Rule: schema.NameRule,
					Chart: res.Chart.ID, Env: res.Env, File: o.Template, Object: schema.ObjectID(o.Kind, o.Namespace, o.Name),
					Path: vi.Path, Message: vi.Message})
			}
			if len(violations) == 0 {
				kept = append(kept, o)
			}
		}
		res.Objects = kept
	}
}

// checkSchemas validates every object against the schema set extended, per environment,
// with the CustomResourceDefinitions the charts render in that environment.
func checkSchemas(ctx context.Context, base *schema.Validator, envs []string, renders []*render.Result, limit int) error {
	// Compiling the CRDs an environment renders (the official charts' are large) is done
	// per environment, in parallel.
	perEnv := map[string]*schema.Validator{}
	compiled := make([]*schema.Validator, len(envs))
	cg := new(errgroup.Group)
	cg.SetLimit(limit)
	for i, env := range envs {
		var crds []map[string]any
		for _, res := range renders {
			if res.Env != env {
				continue
			}
			for _, o := range res.Objects {
				if o.Kind == "CustomResourceDefinition" && strings.HasPrefix(o.APIVersion, "apiextensions.k8s.io/") {
					crds = append(crds, o.Body)
				}
			}
		}
		compiled[i] = base
		if len(crds) > 0 {
			cg.Go(func() (err error) {
				if compiled[i], err = base.WithCRDs(crds); err != nil {
					return fmt.Errorf("CRDs rendered in %s: %w", env, err)
				}
				return nil
			})
		}
	}
	if err := cg.Wait(); err != nil {
		return err
	}
	for i, env := range envs {
		perEnv[env] = compiled[i]
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	var mu sync.Mutex
	for _, res := range renders {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			var found []report.Finding
			for _, o := range res.Objects {
				violations, err := perEnv[res.Env].Validate(o.Body)
				if err != nil {
					return fmt.Errorf("validate %s %s in %s/%s: %w", schema.Quote(o.APIVersion), schema.ObjectID(o.Kind, o.Namespace, o.Name), res.Chart.ID, res.Env, err)
				}
				for _, vi := range violations {
					found = append(found, report.Finding{Severity: report.Error, Rule: "schema",
						Chart: res.Chart.ID, Env: res.Env, File: o.Template, Object: schema.ObjectID(o.Kind, o.Namespace, o.Name), Path: vi.Path, Message: vi.Message})
				}
			}
			mu.Lock()
			res.Findings = append(res.Findings, found...)
			mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

func (v *Validator) selection(repo *discovery.Repo) ([]string, []discovery.Chart, error) {
	envs := repo.Environments
	if len(v.Envs) > 0 {
		for _, e := range v.Envs {
			if !slices.Contains(repo.Environments, e) {
				return nil, nil, fmt.Errorf("unknown environment %q (found: %s)", e, strings.Join(repo.Environments, ", "))
			}
		}
		envs = v.Envs
	}
	if len(envs) == 0 {
		return nil, nil, fmt.Errorf("no environments found under %s: add values-<env>.yaml files beside the charts", repo.Root)
	}
	charts := repo.Renderable()
	if len(v.Charts) > 0 {
		charts = nil
		for _, id := range v.Charts {
			c, ok := repo.Chart(strings.TrimSuffix(id, "/"))
			if !ok || c.Library() {
				return nil, nil, fmt.Errorf("unknown chart %q (see platform list)", id)
			}
			charts = append(charts, c)
		}
	}
	return envs, charts, nil
}

func (v *Validator) parallelism() int {
	if v.Parallelism > 0 {
		return v.Parallelism
	}
	return runtime.GOMAXPROCS(0)
}
