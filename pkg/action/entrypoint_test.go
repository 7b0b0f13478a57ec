package action

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/github/githubtest"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd, Args string
	Stage     string
}

// parseDockerfile reads the instructions of a Dockerfile and names each one's stage (the
// AS name of the last FROM, or its index). It handles what this Dockerfile uses: comments,
// parser directives, backslash continuations.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	stage, stages := "", 0
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage = strings.TrimSpace(args)
			if _, as, ok := strings.Cut(strings.ToLower(args), " as "); ok {
				stage = strings.TrimSpace(as)
			} else {
				stage = string(rune('0' + stages))
			}
			stages++
		}
		out = append(out, instruction{Cmd: cmd, Args: strings.TrimSpace(args), Stage: stage})
	}
	return out
}

// shellWords splits a command line on spaces, keeping double-quoted parts together.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, have = !quoted, true
		case r == ' ' && !quoted:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// dockerBuild checks the Dockerfile's shape and returns the go build arguments of its
// build stage, the path the binary is built to, and the final stage's entrypoint.
func dockerBuild(t *testing.T) (args []string, out string, entrypoint []string) {
	t.Helper()
	ins := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	var buildStage, final string
	var from []string
	for _, in := range ins {
		if in.Cmd == "FROM" {
			from = append(from, in.Args)
			final = in.Stage
		}
		if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") {
			buildStage = in.Stage
			_, rest, _ := strings.Cut(in.Args, "go build")
			if !strings.Contains(in.Args, "CGO_ENABLED=0") {
				t.Errorf("the go build RUN does not set CGO_ENABLED=0: %s", in.Args)
			}
			args = shellWords(rest)
		}
	}
	if len(from) < 2 || !strings.HasPrefix(from[0], "golang:1.26") {
		t.Errorf("want a multi-stage build from golang:1.26, got FROM %v", from)
	}
	if buildStage == "" || buildStage == final {
		t.Fatalf("no go build in a build stage (stages %v)", from)
	}
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			out = args[i+1]
		}
	}
	if !contains(args, "-trimpath") || !contains(args, "./cmd/platform") || out == "" {
		t.Errorf("go build %v: want -trimpath, -o PATH and ./cmd/platform", args)
	}
	var copied, git bool
	for _, in := range ins {
		if in.Stage != final {
			continue
		}
		switch in.Cmd {
		case "COPY":
			f := strings.Fields(in.Args)
			if len(f) == 3 && f[0] == "--from="+buildStage && f[1] == out && f[2] == "/usr/local/bin/platform" {
				copied = true
			}
		case "USER", "WORKDIR":
			// GitHub runs Docker actions as root with GITHUB_WORKSPACE as the working
			// directory; USER breaks access to the workspace and WORKDIR is overridden
			// (docs.github.com: "Dockerfile support for GitHub Actions").
			t.Errorf("the final stage sets %s %s: GitHub requires the default user and working directory", in.Cmd, in.Args)
		case "RUN":
			git = git || regexp.MustCompile(`(apk add|apt-get install).*\bgit\b`).MatchString(in.Args)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.Args), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT %s is not in exec (JSON) form: %v", in.Args, err)
			}
		}
	}
	if !copied {
		t.Errorf("the final stage does not copy %s from stage %s to /usr/local/bin/platform", out, buildStage)
	}
	if !git {
		t.Error("the final stage does not install git")
	}
	if strings.Join(entrypoint, " ") != "/usr/local/bin/platform action" {
		t.Errorf("ENTRYPOINT = %v, want [/usr/local/bin/platform action]", entrypoint)
	}
	return args, out, entrypoint
}

var (
	buildOnce  sync.Once
	builtBin   string
	builtArgs  []string
	buildError string
)

// buildEntrypoint builds the binary exactly as the Dockerfile does (its go build arguments,
// CGO_ENABLED=0), once per test run, and returns the ENTRYPOINT command line with the
// binary in place of /usr/local/bin/platform.
//
// PLATFORM_ACTION_BIN=/path/to/platform runs the tests against that binary instead (an older
// build, a release image's binary): the hostile-input suite then says what it lets through.
func buildEntrypoint(t *testing.T) []string {
	t.Helper()
	args, out, entrypoint := dockerBuild(t)
	if bin := os.Getenv("PLATFORM_ACTION_BIN"); bin != "" {
		return append([]string{bin}, entrypoint[1:]...)
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "platform-entrypoint-")
		if err != nil {
			buildError = err.Error()
			return
		}
		bin := filepath.Join(dir, "platform")
		for i := range args {
			if args[i] == out {
				args[i] = bin
			}
		}
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildError = fmt.Sprintf("go build %v: %v\n%s", args, err, out)
			return
		}
		builtBin, builtArgs = bin, entrypoint[1:]
	})
	if buildError != "" {
		t.Fatal(buildError)
	}
	return append([]string{builtBin}, builtArgs...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// githubEnv is the environment GitHub gives a container action: INPUT_* (upper case, the
// name's hyphens kept), GITHUB_*, the event payload and the file-command files.
type githubEnv struct {
	vars                   map[string]string
	output, summary, event string
}

func newGitHubEnv(t *testing.T, workspace, eventName string, payload any, inputs map[string]string) *githubEnv {
	t.Helper()
	dir := t.TempDir()
	e := &githubEnv{vars: map[string]string{}, output: filepath.Join(dir, "output"), summary: filepath.Join(dir, "summary"), event: filepath.Join(dir, "event.json")}
	data, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{e.event, data}, {e.output, nil}, {e.summary, nil}} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{
		"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": workspace, "HOME": dir,
		"GITHUB_EVENT_NAME": eventName, "GITHUB_EVENT_PATH": e.event,
		"GITHUB_OUTPUT": e.output, "GITHUB_STEP_SUMMARY": e.summary,
		"GITHUB_REPOSITORY": "acme/manifests", "GITHUB_REPOSITORY_OWNER": "acme",
		"GITHUB_RUN_ID": "1", "GITHUB_RUN_NUMBER": "1", "GITHUB_RUN_ATTEMPT": "1",
		"GITHUB_ACTOR": "release-manager", "GITHUB_JOB": "plan", "GITHUB_WORKFLOW": "release",
		"GITHUB_SERVER_URL": "https://github.example", "RUNNER_OS": "Linux",
	} {
		e.vars[k] = v
	}
	for k, v := range inputs {
		e.vars["INPUT_"+strings.ToUpper(k)] = v
	}
	return e
}

func (e *githubEnv) run(t *testing.T, entrypoint []string) (stdout, stderr string, code int) {
	t.Helper()
	return e.runContext(t, context.Background(), entrypoint)
}

// runContext is run with a deadline: hostile input (a FIFO) must not hang the action.
func (e *githubEnv) runContext(t *testing.T, ctx context.Context, entrypoint []string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, entrypoint[0], entrypoint[1:]...)
	cmd.Dir = e.vars["GITHUB_WORKSPACE"]
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, testutil.GitEnv()...)
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var o, s strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &s
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), s.String(), code
}

// outputs parses GITHUB_OUTPUT's "name<<DELIM\nvalue\nDELIM" records.
func (e *githubEnv) outputs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(e.output)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

func TestEntrypointPlanOnPullRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the action's binary")
	}
	bin := buildEntrypoint(t)
	ws := releaseRepo(t)
	mainSHA := testutil.Git(t, ws, "rev-parse", "main")
	fake := githubtest.New(t, "acme", "manifests")
	seed := fake.Seed("release/1.0", map[string]string{"README.md": "manifests\n"})
	fake.AddPull(githubtest.PullRequest{Number: 12, HeadRef: "release/1.0", BaseRef: "main", BaseSHA: mainSHA})
	repo := map[string]any{"full_name": "acme/manifests", "name": "manifests", "owner": map[string]any{"login": "acme"}}
	payload := map[string]any{
		"action": "synchronize", "number": 12,
		"pull_request": map[string]any{
			"number": 12, "state": "open", "title": "Release 1.0",
			"head": map[string]any{"ref": "release/1.0", "sha": testutil.Git(t, ws, "rev-parse", "HEAD"), "repo": repo},
			"base": map[string]any{"ref": "main", "sha": mainSHA, "repo": repo},
		},
		"repository": repo,
	}
	env := newGitHubEnv(t, ws, "pull_request", payload, map[string]string{
		"command": "plan", "environment": "", "working-directory": ".", "base": "", "registry": "", "secrets": "",
		"github-token": "ghs_test", "dry-run": "false",
	})
	env.vars["GITHUB_API_URL"] = fake.APIURL()
	env.vars["GITHUB_REF"], env.vars["GITHUB_REF_NAME"] = "refs/pull/12/merge", "12/merge"
	env.vars["GITHUB_HEAD_REF"], env.vars["GITHUB_BASE_REF"] = "release/1.0", "main"

	stdout, stderr, code := env.run(t, bin)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "::add-mask::ghs_test") {
		t.Error("the token was not masked")
	}
	out := env.outputs(t)
	if out["changed-charts"] != `["app/demo"]` || out["committed"] != "true" || out["plan-path"] != "release/dev\nrelease/prd" || out["errors"] != "0" {
		t.Errorf("outputs = %q", out)
	}
	head := fake.Head("release/1.0")
	if out["commit"] != head.SHA || head.Parents[0] != seed {
		t.Errorf("output commit %s, branch head %+v (seed %s)", out["commit"], head, seed)
	}
	if !strings.Contains(out["comment-url"], "/pull/12#issuecomment-") || len(fake.Comments(12)) != 1 {
		t.Errorf("comment-url %q, comments %d", out["comment-url"], len(fake.Comments(12)))
	}
	summary, _ := os.ReadFile(env.summary)
	for _, want := range []string{"## platform plan", "0 errors", "Committed the plan", "**Manifest diff**", "ConfigMap/demo/demo"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("step summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(string(summary), "ghs_test") || strings.Contains(stderr, "ghs_test") {
		t.Error("the token leaked into the summary or the log")
	}

	// A rerun (workflow_dispatch of the branch) changes nothing and adds no comment.
	env2 := newGitHubEnv(t, ws, "workflow_dispatch", map[string]any{"ref": "refs/heads/release/1.0", "inputs": map[string]any{}, "repository": repo},
		map[string]string{"command": "plan", "github-token": "ghs_test"})
	env2.vars["GITHUB_API_URL"] = fake.APIURL()
	env2.vars["GITHUB_REF"], env2.vars["GITHUB_REF_NAME"] = "refs/heads/release/1.0", "release/1.0"
	if stdout, stderr, code := env2.run(t, bin); code != 0 {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := env2.outputs(t); got["committed"] != "false" || got["commit"] != head.SHA {
		t.Errorf("rerun outputs = %q", got)
	}
	if n := len(fake.Comments(12)); n != 1 {
		t.Errorf("%d comments after the rerun, want 1", n)
	}
}

func TestEntrypointValidateAnnotates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the action's binary")
	}
	bin := buildEntrypoint(t)
	ws := testutil.Repo(t, fixture, hardened, "../validate/testdata/failure.unknown-field")
	env := newGitHubEnv(t, ws, "push", map[string]any{"ref": "refs/heads/main"}, map[string]string{"command": "validate", "github-token": ""})
	stdout, stderr, code := env.run(t, bin)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "::error file=app/demo/templates/deployment.yaml,title=app/demo [dev] schema::Deployment/demo/demo: spec.template.spec.containers[0].imagePullPolice") &&
		!strings.Contains(stdout, "::error title=app/demo [dev] schema,file=app/demo/templates/deployment.yaml::") {
		t.Errorf("no annotation on the deployment template:\n%s", stdout)
	}
	if out := env.outputs(t); out["errors"] == "0" || out["errors"] == "" {
		t.Errorf("errors output = %q", out["errors"])
	}
	summary, _ := os.ReadFile(env.summary)
	if !strings.Contains(string(summary), "imagePullPolice") {
		t.Errorf("summary:\n%s", summary)
	}
}

func TestEntrypointUnknownCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the action's binary")
	}
	bin := buildEntrypoint(t)
	env := newGitHubEnv(t, t.TempDir(), "push", map[string]any{}, map[string]string{"command": "deploy"})
	_, stderr, code := env.run(t, bin)
	if code == 0 || !strings.Contains(stderr, `unknown "deploy"`) {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}
