// Package publish is mission step 6: on main, the charts go to the registry ArgoCD pulls
// from, complete with their secrets. Publisher validates the repository, reads every
// declared secret of the environment from the process environment (failing with the names
// of all missing ones before anything else), bakes values.yaml + values-<env>.yaml + the
// secrets into each chart as its values.yaml, packages it with the Helm SDK
// deterministically, and pushes it with oras-go as a Helm OCI artifact, tag = chart
// version. An existing tag is never overwritten with other content. Secret values exist
// only in memory, in a private temporary directory while Helm writes the archive, and in
// the pushed package; they are redacted from every error.
package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// Roots are the layout directories whose charts are published by default: the
// user-defined charts of the app and infra teams. Library charts travel inside the charts
// that use them; the GitOps tree (deploy/argocd) is read from git by ArgoCD.
var Roots = []string{"app", "infra"}

// LayoutDir is the directory of the local OCI layouts of LocalLayout, relative to the
// repository root.
const LayoutDir = ".cache/oci"

// LayoutPrefix marks a Registry that is a local directory of OCI image layouts,
// "oci-layout:DIR": one layout per chart under DIR/<env>/<chart name>, DIR relative to the
// repository root unless absolute. The layouts hold the secrets baked into the packages:
// they are written 0700/0600, and only when asked for by name.
const LayoutPrefix = "oci-layout:"

// LocalLayout is the local layouts under LayoutDir: the CLI's default registry, for
// development (make up). The action never uses it.
const LocalLayout = LayoutPrefix + LayoutDir

// Publisher publishes the charts of one environment.
type Publisher struct {
	Root string
	Env  string
	// Registry is "HOST[/PREFIX]"; charts go to HOST/PREFIX/<chart ID>:<version>; or
	// "oci-layout:DIR" (LayoutPrefix) for local OCI layouts. It is required unless DryRun:
	// packages hold secrets and are never written to a place nobody named.
	Registry string
	// Charts selects charts by ID; empty means every application chart under Roots.
	Charts []string
	// DryRun does everything but contacting the registry and pushing.
	DryRun bool
	// PlainHTTP talks HTTP to the registry (a registry on 127.0.0.1).
	PlainHTTP bool
	// ECREndpoint overrides the ECR API endpoint (else AWS_ENDPOINT_URL_ECR, else AWS's).
	ECREndpoint string
	// ECRRegion treats the registry as ECR in that region whatever its host name: an
	// ECR-compatible endpoint reached by another name (the local stand-in on 127.0.0.1).
	// Empty: ECR only for <account>.dkr.ecr.<region>.amazonaws.com hosts.
	ECRRegion string
	// HTTPClient carries the registry traffic; nil means oras's retrying client.
	HTTPClient *http.Client
	// Lookup reads the secrets' variables; nil means os.LookupEnv.
	Lookup func(string) (string, bool)
	// Log receives progress lines (never a secret value); nil discards them.
	Log io.Writer
	// Validator is the validation run first (Root and Envs are set here); nil means the
	// full validation of `platform validate`.
	Validator *validate.Validator
}

// Status of a chart after Run.
type Status string

// Statuses.
const (
	Pushed    Status = "pushed"
	Unchanged Status = "unchanged"
	DryRun    Status = "dry-run"
)

// Chart is one published chart.
type Chart struct {
	// Chart is the chart's ID (its directory).
	Chart   string `json:"chart"`
	Name    string `json:"name"`
	Version string `json:"version"`
	// Repository is HOST/PREFIX/<chart ID>, or the layout's directory relative to the root.
	Repository string `json:"repository"`
	// Digest is the manifest digest.
	Digest string `json:"digest"`
	// Reference is Repository:Version@Digest.
	Reference string `json:"reference"`
	Status    Status `json:"status"`
	// Secrets are the names of the variables baked into the package.
	Secrets []string `json:"secrets,omitempty"`
	// Objects is the number of objects the baked chart renders.
	Objects int `json:"objects"`
}

// Result of a publish.
type Result struct {
	Env      string  `json:"environment"`
	Registry string  `json:"registry"`
	Charts   []Chart `json:"charts"`
	// Report is the validation (with the secret declaration's findings).
	Report *report.Report `json:"-"`
}

// ValidationError stops a publish whose repository does not validate.
type ValidationError struct{ Report *report.Report }

func (e *ValidationError) Error() string {
	return "validation failed, nothing published: " + e.Report.Summary()
}

// ConflictError lists charts whose version already exists with other content.
type ConflictError struct{ Conflicts []string }

func (e *ConflictError) Error() string {
	return "refusing to overwrite published versions with other content (bump the chart version), nothing pushed:\n  " +
		strings.Join(e.Conflicts, "\n  ")
}

type work struct {
	chart    discovery.Chart
	out      *Chart
	artifact *Artifact
}

// Run publishes. On any error nothing has been pushed, except when a push itself fails
// midway (the charts pushed before are in the result).
func (p *Publisher) Run(ctx context.Context) (*Result, error) {
	if p.Env == "" {
		return nil, errors.New("publish: no environment (--env)")
	}
	logf := func(format string, args ...any) {
		if p.Log != nil {
			fmt.Fprintf(p.Log, format+"\n", args...)
		}
	}
	lookup := p.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	// The destination is known, or nothing is read: no secret is resolved for a publish
	// that has nowhere to go.
	var reg Registry
	switch {
	case p.Registry != "":
		var err error
		if reg, err = ParseRegistry(p.Registry); err != nil {
			return nil, err
		}
	case !p.DryRun:
		return nil, errors.New("publish: no registry: give HOST[/PREFIX] (e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts), " +
			"or " + LayoutPrefix + "DIR for local OCI layouts; nothing read, nothing written")
	}

	// 1. The repository validates for the environment, secret declaration included.
	v := validate.Validator{}
	if p.Validator != nil {
		v = *p.Validator
	}
	v.Root, v.Envs = p.Root, []string{p.Env}
	vres, err := v.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w", p.Env, err)
	}
	repo := vres.Repo
	res := &Result{Env: p.Env, Report: vres.Report}
	decl, err := secrets.Load(repo.Root)
	if err != nil {
		return res, err
	}
	res.Report.Findings = append(res.Report.Findings, decl.Check(repo)...)
	res.Report.Sort()
	if res.Report.Failed() {
		return res, &ValidationError{Report: res.Report}
	}
	logf("validated %s", res.Report.Summary())

	charts, err := p.selection(repo)
	if err != nil {
		return res, err
	}
	ids := make([]string, len(charts))
	for i, c := range charts {
		ids[i] = c.ID
	}

	// 2. Every secret of the environment is set, or nothing happens.
	vals, err := decl.Resolve(p.Env, ids, lookup)
	if err != nil {
		return res, err
	}
	red := secrets.NewRedactor(vals)
	n := 0
	for _, vs := range vals {
		n += len(vs)
	}
	logf("secrets: %d value(s) for %s read from the environment", n, p.Env)

	// 3. Bake, check and package every chart in memory.
	if reg.Host == "" && reg.Layout != "" {
		if !filepath.IsAbs(reg.Layout) {
			reg.Layout = filepath.Join(repo.Root, reg.Layout)
		}
		reg.Layout = filepath.Join(reg.Layout, p.Env)
	}
	res.Registry = p.display(repo.Root, reg.String())
	var todo []*work
	for _, c := range charts {
		w, err := p.build(ctx, repo.Root, c, vals[c.ID], reg)
		if err != nil {
			return res, red.Error(fmt.Errorf("package %s: %w", c.ID, err))
		}
		todo = append(todo, w)
		logf("packaged %s %s for %s: %d objects, %s", c.ID, c.Version, p.Env, w.out.Objects, w.out.Digest)
	}
	if p.DryRun {
		if res.Registry == "" {
			res.Registry = "(none: dry run)"
		}
		for _, w := range todo {
			w.out.Status = DryRun
			res.Charts = append(res.Charts, *w.out)
		}
		return res, nil
	}

	// 4. Compare with what the registry holds: same content is a no-op, other content under
	// the same version is refused for every chart before anything is pushed.
	if reg.Host == "" {
		if err := privateLayout(repo.Root, reg.Layout); err != nil {
			return res, err
		}
	}
	cred, err := p.credential(ctx, reg)
	if err != nil {
		return res, err
	}
	var conflicts []string
	targets := map[string]oras.Target{}
	for _, w := range todo {
		t, existing, err := p.existing(ctx, reg, w.chart.Name, w.out.Version, cred)
		if err != nil {
			return res, fmt.Errorf("resolve %s: %w", w.out.Repository+":"+w.out.Version, err)
		}
		targets[w.chart.ID] = t
		switch {
		case existing == "":
		case existing == w.out.Digest:
			w.out.Status = Unchanged
		default:
			conflicts = append(conflicts, fmt.Sprintf("%s %s: %s:%s is %s, this package is %s",
				w.chart.ID, w.out.Version, w.out.Repository, w.out.Version, existing, w.out.Digest))
		}
	}
	if len(conflicts) > 0 {
		return res, &ConflictError{Conflicts: conflicts}
	}

	// 5. Push.
	for _, w := range todo {
		if w.out.Status == Unchanged {
			logf("unchanged %s", w.out.Reference)
			res.Charts = append(res.Charts, *w.out)
			continue
		}
		t := targets[w.chart.ID]
		if t == nil {
			if t, err = p.target(ctx, reg, w.chart.Name, cred); err != nil {
				return res, err
			}
		}
		if err := w.artifact.Push(ctx, t, w.out.Version); err != nil {
			return res, red.Error(fmt.Errorf("push %s:%s: %w", w.out.Repository, w.out.Version, err))
		}
		if reg.Host == "" {
			// oras writes blobs 0444 and the index 0666 &^ umask: the layout holds secrets.
			if err := restrict(reg.Repository(w.chart.Name)); err != nil {
				return res, err
			}
		}
		w.out.Status = Pushed
		logf("pushed %s", w.out.Reference)
		res.Charts = append(res.Charts, *w.out)
	}
	return res, nil
}

func (p *Publisher) selection(repo *discovery.Repo) ([]discovery.Chart, error) {
	if len(p.Charts) > 0 {
		var out []discovery.Chart
		for _, id := range p.Charts {
			c, ok := repo.Chart(strings.TrimSuffix(id, "/"))
			if !ok || c.Library() {
				return nil, fmt.Errorf("unknown chart %q (see platform list; library charts are published inside the charts using them)", id)
			}
			out = append(out, c)
		}
		return out, nil
	}
	var out []discovery.Chart
	for _, c := range repo.Renderable() {
		top, _, _ := strings.Cut(c.ID, "/")
		if slices.Contains(Roots, top) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no charts to publish under %s", strings.Join(Roots, ", "))
	}
	// Charts are published as <prefix>/<chart name> (what the prd Applications pull), so
	// two charts with one name would overwrite each other.
	byName := map[string]string{}
	for _, c := range out {
		if other, dup := byName[c.Name]; dup {
			return nil, fmt.Errorf("charts %s and %s are both named %q: chart names must be unique in the registry", other, c.ID, c.Name)
		}
		byName[c.Name] = c.ID
	}
	return out, nil
}

func (p *Publisher) build(ctx context.Context, root string, c discovery.Chart, vals []secrets.Value, reg Registry) (*work, error) {
	ch, err := Bake(c, p.Env, root, vals)
	if err != nil {
		return nil, err
	}
	objects, err := Check(ch, c.Namespace)
	if err != nil {
		return nil, fmt.Errorf("render the baked chart: %w", err)
	}
	tgz, err := Package(ch, root)
	if err != nil {
		return nil, err
	}
	art, err := NewArtifact(ctx, tgz)
	if err != nil {
		return nil, err
	}
	out := &Chart{Chart: c.ID, Name: c.Name, Version: ch.Metadata.Version, Objects: objects,
		Repository: p.display(root, reg.Repository(c.Name)), Digest: art.Manifest.Digest.String()}
	out.Reference = out.Repository + ":" + out.Version + "@" + out.Digest
	for _, v := range vals {
		out.Secrets = append(out.Secrets, v.Env)
	}
	return &work{chart: c, out: out, artifact: art}, nil
}

// existing resolves the version's tag; "" when absent. A layout that does not exist yet is
// not created here.
func (p *Publisher) existing(ctx context.Context, reg Registry, id, version string, cred auth.CredentialFunc) (oras.Target, string, error) {
	if reg.Host == "" {
		if _, err := os.Stat(filepath.Join(reg.Repository(id), "index.json")); errors.Is(err, os.ErrNotExist) {
			return nil, "", nil
		}
	}
	t, err := p.target(ctx, reg, id, cred)
	if err != nil {
		return nil, "", err
	}
	desc, err := t.Resolve(ctx, version)
	if errors.Is(err, errdef.ErrNotFound) {
		return t, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return t, desc.Digest.String(), nil
}

// display shows paths under the repository relative to it, so outputs carry no machine path.
func (p *Publisher) display(root, s string) string {
	if filepath.IsAbs(s) {
		if rel, err := filepath.Rel(root, s); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return s
}

// privateLayout prepares the directory of local layouts: no existing component of it under
// root may be a symbolic link (a pull request can commit .cache as one), and it is 0700, so
// that the packages, which hold secrets, are readable by their owner only.
func privateLayout(root, dir string) error {
	if rel, err := filepath.Rel(root, dir); err == nil && filepath.IsLocal(rel) {
		cur := root
		for _, elem := range strings.Split(filepath.ToSlash(rel), "/") {
			cur = filepath.Join(cur, elem)
			fi, err := os.Lstat(cur)
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if err != nil {
				return err
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				return fmt.Errorf("refusing to write packages through %s: it is a symbolic link", cur)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// restrict takes group and other permissions off every file (0600, or 0400 for oras's
// read-only blobs) and directory (0700) of a layout.
func restrict(dir string) error {
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			return fmt.Errorf("layout %s: %s is a symbolic link", dir, path)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return os.Chmod(path, fi.Mode().Perm()&0o700)
	})
}
