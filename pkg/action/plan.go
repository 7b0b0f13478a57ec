package action

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/catalog"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/diff"
	"github.com/microservices-manifests/microservices-manifests/pkg/github"
	"github.com/microservices-manifests/microservices-manifests/pkg/plan"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// Marker is the hidden text that identifies the plan's sticky pull-request comment.
const Marker = "<!-- platform-plan -->"

// PlanDir is where the plan of each environment lives in the repository: release/<env>/.
const PlanDir = "release"

// Planner is the release-branch step (mission step 4): validate, render release/<env>/ for
// every environment, commit it to the pull request's branch, and keep one sticky comment
// with the manifest diff against the base branch and the service catalog.
//
// With GitHub set, the commit is made through the Git Data API onto Branch and the comment
// is posted on pull request PR. Without it (the embedded default), the plan is written into
// Root's working tree and committed to its current branch with git, and the comment is
// written to Comment.
type Planner struct {
	Root string
	// Envs selects environments; empty means every environment.
	Envs []string
	// Base is the revision the diff compares against ("" skips the diff).
	Base string
	// DryRun renders and composes the comment but commits and posts nothing.
	DryRun bool

	GitHub *github.Client
	Branch string
	PR     int

	// Official, when set, also plans the official chart of every Argo CD Application
	// (release/<env>/<application>/) and diffs it, base and head, with charts from this
	// resolver (validate.Validator.Official); nil plans and diffs our charts only.
	Official *chartsource.Resolver

	// Comment receives the comment when it is not posted (no GitHub client or no PR).
	Comment io.Writer
	// Log receives progress lines.
	Log io.Writer
}

// PlanResult is what a plan run did.
type PlanResult struct {
	Report  *report.Report
	Envs    []string
	Files   map[string][]byte // repository path -> content, every file of release/<env>/
	Diff    *diff.Result      // nil without a base
	Catalog *catalog.Catalog
	// Commit is the new commit, or the unchanged head; Committed says whether one was made.
	Commit    string
	Committed bool
	Body      string // the comment
	// CommentURL is the posted comment ("" when printed).
	CommentURL string
}

// ChangedCharts lists the charts whose objects differ from the base (all planned charts
// without a base), sorted.
func (r *PlanResult) ChangedCharts() []string {
	if r.Diff != nil {
		return r.Diff.Charts()
	}
	seen := map[string]bool{}
	for p := range r.Files {
		rest := strings.TrimPrefix(p, PlanDir+"/")
		if _, rest, ok := strings.Cut(rest, "/"); ok {
			if i := strings.LastIndex(rest, "/"); i > 0 {
				seen[rest[:i]] = true
			}
		}
	}
	var out []string
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Run plans. A repository that does not validate is not committed; the result carries the
// report and the comment says so; the caller decides the exit code from the report.
func (p *Planner) Run(ctx context.Context) (*PlanResult, error) {
	logf := func(format string, args ...any) {
		if p.Log != nil {
			fmt.Fprintf(p.Log, format+"\n", args...)
		}
	}
	schemas, err := schema.New()
	if err != nil {
		return nil, err
	}
	v, err := (&validate.Validator{Root: p.Root, Envs: p.Envs, Schemas: schemas, Official: p.Official}).Run(ctx)
	if err != nil {
		return nil, err
	}
	res := &PlanResult{Report: v.Report, Envs: v.Report.Envs}
	logf("validated: %s", v.Report.Summary())

	res.Files = map[string][]byte{}
	for _, env := range res.Envs {
		var renders []*render.Result
		for _, r := range slices.Concat(v.Renders, v.Official) {
			if r.Env == env {
				renders = append(renders, r)
			}
		}
		files, err := plan.Files(renders)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", env, err)
		}
		if err := plan.Keep(filepath.Join(p.Root, PlanDir, env), files, v.Unrendered(env)); err != nil {
			return nil, fmt.Errorf("plan %s: %w", env, err)
		}
		for name, data := range files {
			res.Files[PlanDir+"/"+env+"/"+name] = data
		}
	}

	if p.Base != "" {
		base, err := diff.RenderWith(ctx, p.Root, p.Base, diff.Options{Schemas: schemas, Official: p.Official})
		if err != nil {
			return nil, fmt.Errorf("render base %s: %w", p.Base, err)
		}
		if res.Diff, err = diff.Compare(base, diff.Renders(v), res.Envs); err != nil {
			return nil, err
		}
		res.Diff.Base, res.Diff.Head = p.Base, p.headName()
		logf("diff against %s: %s", p.Base, res.Diff.Summary())
	}
	extra, err := catalog.LooseApplications(v.Repo.Root)
	if err != nil {
		return nil, err
	}
	res.Catalog = catalog.Build(v.Renders, res.Envs, extra)
	res.Body = CommentBody(res, github.MaxCommentLength)

	if !p.DryRun && !v.Report.Failed() {
		if err := p.commit(ctx, res); err != nil {
			return nil, err
		}
		if res.Committed {
			logf("committed the plan as %s", short(res.Commit))
		} else {
			logf("the plan is unchanged: no commit")
		}
	} else if v.Report.Failed() {
		logf("validation failed: the plan is not committed")
	}

	if p.GitHub != nil && p.PR > 0 && !p.DryRun {
		cm, err := p.GitHub.UpsertComment(ctx, p.PR, Marker, res.Body)
		if err != nil {
			return nil, err
		}
		res.CommentURL = cm.URL
		for _, f := range cm.Foreign {
			logf("ignored comment %d by %s on #%d: it holds the plan's marker but this token did not write it", f.ID, f.Author, p.PR)
		}
		switch {
		case cm.Created:
			logf("commented on #%d: %s", p.PR, cm.URL)
		case cm.Updated:
			logf("updated the comment on #%d: %s", p.PR, cm.URL)
		default:
			logf("the comment on #%d is up to date: %s", p.PR, cm.URL)
		}
	} else if p.Comment != nil {
		if _, err := io.WriteString(p.Comment, res.Body); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (p *Planner) headName() string {
	if p.Branch != "" {
		return p.Branch
	}
	return diff.Worktree
}

func (p *Planner) prefixes(envs []string) []string {
	var out []string
	for _, env := range envs {
		out = append(out, PlanDir+"/"+env+"/")
	}
	return out
}

func (p *Planner) message(res *PlanResult) string {
	var dirs []string
	for _, env := range res.Envs {
		dirs = append(dirs, PlanDir+"/"+env)
	}
	msg := "plan: render " + strings.Join(dirs, ", ")
	if res.Diff != nil {
		msg += "\n\n" + res.Diff.Summary() + " against " + res.Diff.Base
	}
	return msg + "\n\nWritten by platform plan."
}

// commit records the plan: through the GitHub API onto Branch, or in Root's git repository.
func (p *Planner) commit(ctx context.Context, res *PlanResult) error {
	if p.GitHub != nil {
		if p.Branch == "" {
			return fmt.Errorf("plan: no branch to commit to")
		}
		c, err := p.GitHub.CommitFiles(ctx, p.Branch, p.prefixes(res.Envs), res.Files, p.message(res))
		if err != nil {
			return err
		}
		res.Commit, res.Committed = c.SHA, c.Created
		return nil
	}
	for _, env := range res.Envs {
		prefix := PlanDir + "/" + env + "/"
		files := map[string][]byte{}
		for name, data := range res.Files {
			if rest, ok := strings.CutPrefix(name, prefix); ok {
				files[rest] = data
			}
		}
		if err := plan.WriteIn(p.Root, filepath.Join(PlanDir, env), files); err != nil {
			return fmt.Errorf("write %s: %w", prefix, err)
		}
	}
	if _, err := os.Stat(filepath.Join(p.Root, ".git")); err != nil {
		return nil // not a git repository: the files are the plan
	}
	var paths []string
	for _, env := range res.Envs {
		paths = append(paths, PlanDir+"/"+env)
	}
	if _, err := diff.Git(ctx, p.Root, append([]string{"add", "--all", "--"}, paths...)...); err != nil {
		return err
	}
	if _, err := diff.Git(ctx, p.Root, append([]string{"diff", "--cached", "--quiet", "--"}, paths...)...); err == nil {
		res.Commit, _ = diff.Git(ctx, p.Root, "rev-parse", "HEAD")
		return nil
	}
	commit := []string{"commit", "--quiet", "-m", p.message(res), "--"}
	// A fresh machine or a container (the action's image) has no git identity: the plan
	// commit is then made by a named bot identity rather than failing.
	if email, _ := diff.Git(ctx, p.Root, "config", "user.email"); email == "" {
		commit = append([]string{"-c", "user.name=" + BotName, "-c", "user.email=" + BotEmail}, commit...)
	}
	if _, err := diff.Git(ctx, p.Root, append(commit, paths...)...); err != nil {
		return err
	}
	sha, err := diff.Git(ctx, p.Root, "rev-parse", "HEAD")
	res.Commit, res.Committed = sha, true
	return err
}

// BotName and BotEmail sign local plan commits where git has no identity configured.
const (
	BotName  = "platform plan"
	BotEmail = "platform-plan@users.noreply.github.com"
)

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
