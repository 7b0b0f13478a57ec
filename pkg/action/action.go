// Package action is the entrypoint of the repository's container GitHub action
// (action.yml, Dockerfile): it reads the inputs and the event that triggered the workflow
// through go-githubactions, runs one verb (plan, publish, validate, catalog, diff), and
// reports back the way GitHub reads it: findings as file annotations, outputs in
// GITHUB_OUTPUT, a Markdown step summary in GITHUB_STEP_SUMMARY. Without a token or
// outside GitHub it uses the embedded defaults: the plan is committed in the local git
// repository and the comment printed.
package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/pkg/catalog"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/diff"
	"github.com/microservices-manifests/microservices-manifests/pkg/github"
	"github.com/microservices-manifests/microservices-manifests/pkg/policy"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// Commands the action runs (input "command").
var Commands = []string{"plan", "publish", "validate", "catalog", "diff"}

// FailedError reports that the command ran and found errors (already annotated).
type FailedError struct{ Summary string }

func (e *FailedError) Error() string { return e.Summary }

// Action runs the action once.
type Action struct {
	// Getenv reads the environment GitHub gives the container (INPUT_*, GITHUB_*).
	Getenv func(string) string
	// Stdout receives workflow commands (annotations) and data; Stderr progress.
	Stdout, Stderr io.Writer
}

// Inputs are the action's inputs (action.yml).
type Inputs struct {
	Command          string
	Environments     []string
	WorkingDirectory string
	Base             string
	Token            string
	Registry         string
	DryRun           bool
	// Secrets are the publish secrets given as NAME=value lines.
	Secrets map[string]string
}

// Event is what the action reads of the event payload (GITHUB_EVENT_PATH).
type Event struct {
	Name string
	// Branch is the branch the plan is committed to: the pull request's head branch, or the
	// pushed / dispatched branch.
	Branch string
	// PR is the pull request number (0 when unknown: looked up by branch).
	PR int
	// BaseRef and BaseSHA are the pull request's base (empty outside pull requests).
	BaseRef, BaseSHA string
	// Fork is true for a pull request from another repository (no write access).
	Fork bool
}

func (a *Action) inputs(gha *githubactions.Action) (*Inputs, error) {
	in := &Inputs{
		Command:          strings.TrimSpace(gha.GetInput("command")),
		WorkingDirectory: gha.GetInput("working-directory"),
		Base:             gha.GetInput("base"),
		Token:            gha.GetInput("github-token"),
		Registry:         gha.GetInput("registry"),
	}
	for _, e := range strings.FieldsFunc(gha.GetInput("environment"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		in.Environments = append(in.Environments, e)
	}
	secrets, err := ParseSecrets(gha.GetInput("secrets"))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		maskValue(gha, secrets[name])
	}
	in.Secrets = secrets
	if s := gha.GetInput("dry-run"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("input dry-run: %q is not a boolean", s)
		}
		in.DryRun = b
	}
	if in.Command == "" {
		return nil, fmt.Errorf("input command is required (one of %s)", strings.Join(Commands, ", "))
	}
	return in, nil
}

// maskValue masks a secret in the runner's log. The runner masks line by line, so a
// multi-line value (a PEM key) is masked as a whole and each of its lines on its own.
func maskValue(gha *githubactions.Action, v string) {
	if v == "" {
		return
	}
	gha.AddMask(v)
	lines := strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' })
	for _, line := range lines {
		if line != v && strings.TrimSpace(line) != "" {
			gha.AddMask(line)
		}
	}
}

// ParseSecrets reads the secrets input: NAME=value lines, and NAME<<DELIMITER blocks
// closed by a line DELIMITER for multi-line values (GITHUB_ENV's syntax); blank lines and
// # comments are skipped. A value is kept byte for byte after the first '=': no whitespace
// is trimmed (a password may begin or end with a space). The one exception is the '\r' of
// CRLF line endings, dropped from every line: inputs edited on Windows carry it, and a
// carriage return cannot be typed into a password. Errors never quote a value.
func ParseSecrets(text string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSuffix(lines[i], "\r")
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if h, delim, heredoc := strings.Cut(line, "<<"); heredoc && (!ok || len(h) < len(name)) {
			start := i + 1
			var body []string
			for i++; i < len(lines) && strings.TrimSuffix(lines[i], "\r") != delim; i++ {
				body = append(body, strings.TrimSuffix(lines[i], "\r"))
			}
			if delim == "" || i == len(lines) {
				return nil, fmt.Errorf("input secrets: line %d: NAME<<DELIMITER is not closed by a line DELIMITER", start)
			}
			name, value, ok = h, strings.Join(body, "\n"), true
		}
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("input secrets: line %d is not NAME=value or NAME<<DELIMITER", i+1)
		}
		out[name] = value
	}
	return out, nil
}

// ReadEvent reads the payload of event name from path ("" or missing: an empty event).
func ReadEvent(name, path, refName string) (*Event, error) {
	ev := &Event{Name: name, Branch: refName}
	if path == "" {
		return ev, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ev, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read event payload: %w", err)
	}
	var payload struct {
		Number      int `json:"number"`
		PullRequest *struct {
			Number int `json:"number"`
			Head   struct {
				Ref  string `json:"ref"`
				Repo struct {
					FullName string `json:"full_name"`
				} `json:"repo"`
			} `json:"head"`
			Base struct {
				Ref  string `json:"ref"`
				SHA  string `json:"sha"`
				Repo struct {
					FullName string `json:"full_name"`
				} `json:"repo"`
			} `json:"base"`
		} `json:"pull_request"`
		Ref    string         `json:"ref"`
		Inputs map[string]any `json:"inputs"`
	}
	if err := json.Unmarshal(data, &payload); err != nil {
		return nil, fmt.Errorf("event payload %s: %w", path, err)
	}
	switch {
	case payload.PullRequest != nil:
		pr := payload.PullRequest
		ev.PR, ev.Branch, ev.BaseRef, ev.BaseSHA = pr.Number, pr.Head.Ref, pr.Base.Ref, pr.Base.SHA
		ev.Fork = pr.Head.Repo.FullName != "" && pr.Head.Repo.FullName != pr.Base.Repo.FullName
	case strings.HasPrefix(payload.Ref, "refs/heads/"):
		ev.Branch = strings.TrimPrefix(payload.Ref, "refs/heads/")
	}
	if n, ok := payload.Inputs["pull-request"]; ok {
		if pr, ok := github.ParseNumber(fmt.Sprint(n)); ok {
			ev.PR = pr
		}
	}
	return ev, nil
}

// Run runs the command the inputs name. A *FailedError means the command found errors and
// reported them; other errors are failures of the run itself.
//
// The runner reads workflow commands on stderr as well as stdout, and what the action
// prints there (progress, errors) names charts and objects of the pull request: every line
// written to Stderr, and the error's message, is escaped (escape.Writer, escape.Block).
// Bulk text on stdout is printed between stop-commands markers (printData).
func (a *Action) Run(ctx context.Context) error {
	log := escape.NewWriter(a.Stderr)
	safe := *a
	safe.Stderr = log
	err := safe.runCommand(ctx)
	if ferr := log.Flush(); err == nil {
		err = ferr
	}
	if err != nil && !errors.As(err, new(*FailedError)) {
		return &logSafeError{err}
	}
	return err
}

// logSafeError is an error whose message is escaped for the log (main prints it on stderr).
type logSafeError struct{ err error }

func (e *logSafeError) Error() string { return escape.Block(e.err.Error()) }
func (e *logSafeError) Unwrap() error { return e.err }

// printData prints text (a diff, the catalog, a comment: text from the pull request) on
// stdout; on a runner, between stop-commands markers so that no line of it is read as a
// workflow command.
func (r *run) printData(text string) error {
	if r.a.Getenv("GITHUB_ACTIONS") == "true" {
		return escape.StopCommands(r.a.Stdout, text)
	}
	_, err := io.WriteString(r.a.Stdout, text)
	return err
}

func (a *Action) runCommand(ctx context.Context) error {
	gha := githubactions.New(githubactions.WithGetenv(a.Getenv), githubactions.WithWriter(a.Stdout))
	in, err := a.inputs(gha)
	if err != nil {
		return err
	}
	ghc, err := gha.Context()
	if err != nil {
		return fmt.Errorf("read the GitHub context: %w", err)
	}
	ev, err := ReadEvent(ghc.EventName, ghc.EventPath, ghc.RefName)
	if err != nil {
		return err
	}
	root := in.WorkingDirectory
	if root == "" {
		root = "."
	}
	if !filepath.IsAbs(root) && ghc.Workspace != "" {
		root = filepath.Join(ghc.Workspace, root)
	}
	if root, err = filepath.Abs(root); err != nil {
		return err
	}
	var client *github.Client
	if in.Token != "" && ghc.Repository != "" {
		if client, err = github.New(ghc.APIURL, in.Token, ghc.Repository); err != nil {
			return err
		}
		gha.AddMask(in.Token)
	}
	r := &run{a: a, gha: gha, in: in, ev: ev, root: root, client: client}
	fmt.Fprintf(a.Stderr, "platform action: %s in %s (event %s, branch %s)\n", in.Command, root, orNone(ev.Name), orNone(ev.Branch))
	switch in.Command {
	case "validate":
		return r.validate(ctx)
	case "plan":
		return r.plan(ctx)
	case "diff":
		return r.diff(ctx)
	case "catalog":
		return r.catalog(ctx)
	case "publish":
		return r.publish(ctx)
	default:
		return fmt.Errorf("input command: unknown %q (want one of %s)", in.Command, strings.Join(Commands, ", "))
	}
}

type run struct {
	a      *Action
	gha    *githubactions.Action
	in     *Inputs
	ev     *Event
	root   string
	client *github.Client
}

// output sets an output in GITHUB_OUTPUT, or prints it outside GitHub.
func (r *run) output(name, value string) {
	if r.a.Getenv("GITHUB_OUTPUT") == "" {
		fmt.Fprintf(r.a.Stderr, "output %s=%s\n", name, value)
		return
	}
	r.gha.SetOutput(name, value)
}

// summary appends to the step summary, or prints it outside GitHub.
func (r *run) summary(md string) {
	if r.a.Getenv("GITHUB_STEP_SUMMARY") == "" {
		fmt.Fprintf(r.a.Stderr, "--- step summary ---\n%s\n", md)
		return
	}
	r.gha.AddStepSummary(md)
}

func jsonList(items []string) string {
	if items == nil {
		items = []string{}
	}
	b, _ := json.Marshal(items)
	return string(b)
}

// annotate turns errors and warnings into file annotations (informational findings stay
// in the step summary's counts: GitHub shows only a few annotations of each level per step).
func (r *run) annotate(rep *report.Report) {
	for _, f := range rep.Findings {
		if f.Severity < report.Warning {
			continue
		}
		// go-githubactions escapes properties and data for the command syntax; the fields
		// are escaped first for control characters (a name is one line of a title).
		fields := map[string]string{}
		if f.File != "" {
			fields["file"] = escape.Line(f.File)
			if f.Line > 0 {
				fields["line"] = strconv.Itoa(f.Line)
			}
			if f.Column > 0 {
				fields["col"] = strconv.Itoa(f.Column)
			}
		}
		title := f.Rule
		if f.Chart != "" {
			title = fmt.Sprintf("%s [%s] %s", f.Chart, f.Env, f.Rule)
		}
		fields["title"] = escape.Line(title)
		msg := f.Message
		if f.Path != "" {
			msg = f.Path + ": " + msg
		}
		if f.Object != "" {
			msg = f.Object + ": " + msg
		}
		g := r.gha.WithFieldsMap(fields)
		if f.Severity == report.Error {
			g.Errorf("%s", escape.Block(msg))
		} else {
			g.Warningf("%s", escape.Block(msg))
		}
	}
}

func findingsSummary(rep *report.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Validation**: %s\n\n", rep.Summary())
	if rep.Failed() {
		b.WriteString("| file | object | message |\n|---|---|---|\n")
		for i, f := range rep.Findings {
			if i == 100 {
				fmt.Fprintf(&b, "| … | | %d more in the annotations |\n", len(rep.Findings)-i)
				break
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", escape.Cell(f.Location()), escape.Cell(f.Object), escape.Text(f.Message))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (r *run) validate(ctx context.Context) error {
	res, err := (&validate.Validator{Root: r.root, Envs: r.in.Environments, Official: r.official()}).Run(ctx)
	if err != nil {
		return err
	}
	r.annotate(res.Report)
	r.output("errors", strconv.Itoa(res.Report.Count(report.Error)))
	r.summary("## platform validate\n\n" + findingsSummary(res.Report))
	if res.Report.Failed() {
		return &FailedError{Summary: res.Report.Summary()}
	}
	return nil
}

// official is the resolver of the official charts the Applications install: validate, plan
// and diff render them like ours. Its cache is outside the workspace: the workspace is the
// pull request's, and a cache entry committed there (an archive named by its own digest)
// would otherwise stand in for the real chart. Over the network it contacts only the chart
// repositories the platform names, never an address a pull request writes as a repoURL.
func (r *run) official() *chartsource.Resolver {
	return &chartsource.Resolver{CacheDir: filepath.Join(os.TempDir(), "platform-official-charts"),
		Repositories: policy.DefaultPlatform().ChartRepositories, Log: r.a.Stderr}
}

// base is the revision to diff against: the input, else the pull request's base commit
// when it is in the clone, else origin/<base branch>.
func (r *run) base(ctx context.Context, pr *github.PullRequest) string {
	if r.in.Base != "" {
		return r.in.Base
	}
	sha, ref := r.ev.BaseSHA, r.ev.BaseRef
	if pr != nil {
		sha, ref = pr.BaseSHA, pr.BaseRef
	}
	for _, rev := range []string{sha, "origin/" + ref, ref} {
		if rev == "" || rev == "origin/" {
			continue
		}
		if _, err := diff.Git(ctx, r.root, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err == nil {
			return rev
		}
	}
	if ref != "" {
		r.gha.Warningf("base %s is not in the clone (check out with fetch-depth: 0): no manifest diff", ref)
	}
	return ""
}

func (r *run) plan(ctx context.Context) error {
	p := &Planner{Root: r.root, Envs: r.in.Environments, DryRun: r.in.DryRun, Log: r.a.Stderr, Branch: r.ev.Branch, Official: r.official()}
	var pr *github.PullRequest
	if r.client != nil {
		if r.ev.Fork {
			return errors.New("plan: the pull request comes from a fork; its branch cannot be written with this token")
		}
		if r.ev.Branch == "" {
			return errors.New("plan: no branch to commit to (run on a push, a pull request or a dispatch of a branch)")
		}
		p.GitHub = r.client
		var err error
		if r.ev.PR > 0 {
			pr, err = r.client.PullRequest(ctx, r.ev.PR)
		} else {
			pr, err = r.client.PullRequestForBranch(ctx, r.ev.Branch)
		}
		if err != nil {
			return err
		}
		if pr != nil {
			p.PR = pr.Number
		} else {
			r.gha.Noticef("no open pull request from %s: the plan is committed, no comment posted", r.ev.Branch)
		}
	}
	p.Base = r.base(ctx, pr)
	var comment strings.Builder
	if p.GitHub == nil || p.PR == 0 {
		p.Comment = &comment
	}
	res, err := p.Run(ctx)
	if err != nil {
		return err
	}
	if comment.Len() > 0 {
		if err := r.printData(comment.String()); err != nil {
			return err
		}
	}
	r.annotate(res.Report)
	var dirs []string
	for _, env := range res.Envs {
		dirs = append(dirs, PlanDir+"/"+env)
	}
	r.output("plan-path", strings.Join(dirs, "\n"))
	r.output("changed-charts", jsonList(res.ChangedCharts()))
	r.output("commit", res.Commit)
	r.output("committed", strconv.FormatBool(res.Committed))
	r.output("comment-url", res.CommentURL)
	r.output("errors", strconv.Itoa(res.Report.Count(report.Error)))
	r.summary(planSummary(res, p.Branch, r.in.DryRun))
	if res.Report.Failed() {
		return &FailedError{Summary: res.Report.Summary()}
	}
	return nil
}

// planSummary is the step summary of a plan on branch, every value escaped for its place.
func planSummary(res *PlanResult, branch string, dryRun bool) string {
	sum := "## platform plan\n\n" + findingsSummary(res.Report)
	switch {
	case res.Committed:
		dirs := make([]string, len(res.Envs))
		for i, env := range res.Envs {
			dirs[i] = escape.Code(PlanDir + "/" + env)
		}
		sum += fmt.Sprintf("Committed the plan (%s) as %s on %s.\n\n", strings.Join(dirs, ", "), escape.Code(short(res.Commit)), escape.Code(orNone(branch)))
	case !res.Report.Failed() && !dryRun:
		sum += "The plan is unchanged: no commit.\n\n"
	}
	if res.CommentURL != "" {
		sum += fmt.Sprintf("Sticky comment: %s\n\n", escape.Text(res.CommentURL))
	}
	if res.Diff != nil {
		sum += diff.Markdown(res.Diff, 200_000) + "\n"
	}
	return sum
}

func (r *run) diff(ctx context.Context) error {
	var pr *github.PullRequest
	if r.client != nil && r.ev.PR > 0 {
		var err error
		if pr, err = r.client.PullRequest(ctx, r.ev.PR); err != nil {
			return err
		}
	}
	base := r.base(ctx, pr)
	if base == "" {
		return errors.New("diff: no base revision (input base, or a pull request's base)")
	}
	res, err := (&diff.Differ{Root: r.root, Base: base, Envs: r.in.Environments, Official: r.official()}).Run(ctx)
	if err != nil {
		return err
	}
	var text strings.Builder
	if err := diff.Text(&text, res); err != nil {
		return err
	}
	if err := r.printData(text.String()); err != nil {
		return err
	}
	r.output("changed-charts", jsonList(res.Charts()))
	r.summary("## platform diff\n\n" + diff.Markdown(res, 200_000))
	return nil
}

func (r *run) catalog(ctx context.Context) error {
	cat, err := (&catalog.Builder{Root: r.root, Envs: r.in.Environments}).Run(ctx)
	if err != nil {
		return err
	}
	var text strings.Builder
	if err := catalog.Text(&text, cat); err != nil {
		return err
	}
	if err := r.printData(text.String()); err != nil {
		return err
	}
	js, err := json.Marshal(cat)
	if err != nil {
		return err
	}
	r.output("catalog", string(js))
	r.summary("## Service catalog\n\n" + catalog.Markdown(cat))
	if cat.Errors > 0 {
		return &FailedError{Summary: fmt.Sprintf("catalog: %d validation errors; charts that failed to render are missing", cat.Errors)}
	}
	return nil
}

func (r *run) publish(ctx context.Context) error {
	if len(r.in.Environments) != 1 {
		return errors.New("publish: input environment must name exactly one environment")
	}
	// Packages hold the secrets: they go to a registry or nowhere (a dry run), never into
	// files of the workspace, which later steps and artifacts can read.
	if !r.in.DryRun && (strings.TrimSpace(r.in.Registry) == "" || strings.HasPrefix(r.in.Registry, publish.LayoutPrefix)) {
		return errors.New("publish: input registry is required (HOST[/PREFIX], e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts): " +
			"the action does not write packages, which hold secrets, into the workspace; set dry-run to package without pushing")
	}
	// Secrets come from the secrets input only: the container's environment also holds the
	// runner's tokens and AWS credentials, which a secrets.yaml of a pull request could name.
	p := &publish.Publisher{Root: r.root, Env: r.in.Environments[0], Registry: r.in.Registry, DryRun: r.in.DryRun, Log: r.a.Stderr,
		Lookup: func(name string) (string, bool) {
			v, ok := r.in.Secrets[name]
			return v, ok && v != ""
		}}
	res, err := p.Run(ctx)
	var verr *publish.ValidationError
	if errors.As(err, &verr) {
		r.annotate(verr.Report)
	}
	if err != nil {
		return err
	}
	var pushed []string
	for _, c := range res.Charts {
		if c.Status == publish.Pushed {
			pushed = append(pushed, c.Reference)
		}
	}
	r.output("pushed", jsonList(pushed))
	r.summary(publishSummary(res))
	return nil
}

// publishSummary is the step summary of a publish: a table of the charts, every value
// escaped for its cell.
func publishSummary(res *publish.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## platform publish (%s → %s)\n\n| chart | version | status | reference |\n|---|---|---|---|\n", escape.Text(res.Env), escape.Text(res.Registry))
	for _, c := range res.Charts {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", escape.Cell(c.Chart), escape.Text(c.Version), escape.Text(string(c.Status)), escape.Cell(c.Reference))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
