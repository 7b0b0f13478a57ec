package diff

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/official"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// Worktree names the working tree (with uncommitted changes) as the head.
const Worktree = "worktree"

// Differ renders two revisions of the git repository at Root and compares them.
type Differ struct {
	Root string
	// Base is a git revision (branch, tag, commit).
	Base string
	// Head is a git revision, or Worktree (or empty) for the working tree at Root.
	Head string
	// Envs restricts the comparison; empty means every environment either side has.
	Envs []string
	// Schemas is shared by both renders; nil loads the embedded set once.
	Schemas *schema.Validator
	// Official, when set, also renders on both sides the official chart of every Argo CD
	// Application (validate.Validator.Official) and compares their objects, keyed by the
	// Application's name, and their chart versions; nil compares our charts only.
	Official *chartsource.Resolver
}

// Run checks out the revisions into temporary git worktrees (removed afterwards), renders
// each with the validate pipeline and compares them.
func (d *Differ) Run(ctx context.Context) (*Result, error) {
	if d.Base == "" {
		return nil, fmt.Errorf("diff needs a base revision")
	}
	if d.Schemas == nil {
		s, err := schema.New()
		if err != nil {
			return nil, err
		}
		d.Schemas = s
	}
	opts := Options{Schemas: d.Schemas, Official: d.Official}
	base, err := RenderWith(ctx, d.Root, d.Base, opts)
	if err != nil {
		return nil, fmt.Errorf("render base %s: %w", d.Base, err)
	}
	head, err := RenderWith(ctx, d.Root, d.Head, opts)
	if err != nil {
		return nil, fmt.Errorf("render head %s: %w", d.headName(), err)
	}
	res, err := Compare(base, head, d.Envs)
	if err != nil {
		return nil, err
	}
	res.Base, res.Head = d.Base, d.headName()
	return res, nil
}

func (d *Differ) headName() string {
	if d.Head == "" {
		return Worktree
	}
	return d.Head
}

// Options configure RenderWith.
type Options struct {
	// Schemas is the schema set; nil loads the embedded one.
	Schemas *schema.Validator
	// Official, when set, renders the official charts of the Applications too
	// (validate.Validator.Official); nil renders our charts only.
	Official *chartsource.Resolver
}

// Render renders our charts at revision rev of the git repository at root with the
// validate pipeline: rev is checked out into a temporary detached worktree, removed
// afterwards. An empty rev or Worktree renders root's working tree itself.
func Render(ctx context.Context, root, rev string, schemas *schema.Validator) ([]*render.Result, error) {
	return RenderWith(ctx, root, rev, Options{Schemas: schemas})
}

// RenderWith is Render, with the official charts when opts.Official is set: it returns
// Renders of the validate run.
func RenderWith(ctx context.Context, root, rev string, opts Options) ([]*render.Result, error) {
	dir := root
	if rev != "" && rev != Worktree {
		tmp, err := os.MkdirTemp("", "platform-diff-")
		if err != nil {
			return nil, err
		}
		os.Remove(tmp) // git worktree add creates it
		if _, err := Git(ctx, root, "worktree", "add", "--detach", "--quiet", tmp, rev+"^{commit}"); err != nil {
			return nil, err
		}
		defer func() {
			// A cancelled context must not leave the worktree registered.
			Git(context.WithoutCancel(ctx), root, "worktree", "remove", "--force", tmp)
			os.RemoveAll(tmp)
		}()
		dir = tmp
	}
	// Policies judge objects, they do not change them: a diff needs the renders (and the
	// schema errors, which say an object is missing), not the policy findings.
	res, err := (&validate.Validator{Root: dir, Schemas: opts.Schemas, SkipPolicies: true, Official: opts.Official}).Run(ctx)
	if err != nil {
		return nil, err
	}
	return Renders(res), nil
}

// Renders are the renders of a validate run that a diff compares: ours, then the official
// charts' and, for each official chart source that could not be rendered (findings of rule
// official-chart and no render: a chart not found, values it rejects), a render without
// objects that holds those findings, as a chart of ours that fails to render does: Compare
// counts them as errors of that side, so a reader is told that the Application's objects
// are missing rather than shown them all as added or removed.
func Renders(v *validate.Result) []*render.Result {
	out := append(append([]*render.Result{}, v.Renders...), v.Official...)
	type source struct{ env, app, field string }
	rendered := map[source]bool{}
	for _, r := range v.Official {
		if r.Official != nil {
			rendered[source{r.Env, r.Official.Application, r.Official.Field}] = true
		}
	}
	failed := map[source]*render.Result{}
	var order []source
	for _, f := range v.Report.Findings {
		app, ok := strings.CutPrefix(f.Object, "Application/")
		if f.Rule != official.Rule || !ok {
			continue
		}
		app = app[strings.LastIndex(app, "/")+1:] // Application/<namespace>/<name>
		src := source{f.Env, app, strings.TrimSuffix(f.Path, ".helm")}
		if rendered[src] {
			continue // a warning about the values of a chart that rendered
		}
		r := failed[src]
		if r == nil {
			r = &render.Result{Chart: discovery.Chart{ID: app}, Env: f.Env,
				Official: &render.Source{Application: app, Field: src.field, Tree: f.Chart, File: f.File}}
			failed[src] = r
			order = append(order, src)
		}
		r.Findings = append(r.Findings, f)
	}
	for _, src := range order {
		r := failed[src]
		for _, a := range apps.FromRenders(v.Renders, src.env) {
			for _, s := range a.Sources {
				if a.Name == src.app && s.Field == src.field {
					r.Chart.Name, r.Chart.Version, r.Chart.Namespace = s.Chart, s.TargetRevision, a.Destination.Namespace
					r.Official.RepoURL, r.Official.Chart, r.Official.Version = s.RepoURL, s.Chart, s.TargetRevision
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// Git runs git in dir and returns its trimmed stdout; the error carries stderr.
func Git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}
