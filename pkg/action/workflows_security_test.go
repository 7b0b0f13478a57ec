package action

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
)

// The workflows' guards (SECURITY.md): secrets only in jobs bound to an environment, prd
// published from main only, the plan only for same-repository release/** branches, the
// platform action pinned by commit SHA, concurrency keyed by the head repository, and prd
// given only the secrets secrets.yaml declares for it. Each test evaluates or runs what
// GitHub would, for the events an attacker can cause.

const upstreamRepo = "microservices-manifests/microservices-manifests"

// secretRef is one read of the secrets context: a name, or "" for the whole context
// (toJSON(secrets), secrets[expr]).
type secretRef struct{ Name, In string }

var (
	exprPart    = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	secretsRead = regexp.MustCompile(`(?i)(?:^|[^\w.-])secrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[\s*'([^']*)'\s*\]|\b)`)
)

// secretRefs lists the secrets a job's expressions read: ${{ }} parts of every value, and
// every `if:` (an expression without ${{ }}). A job's own `secrets: inherit` reads nothing
// here: the called workflow's jobs read what they use, and are checked themselves.
func secretRefs(v any, key string) []secretRef {
	var out []secretRef
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, secretRefs(v[k], k)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, secretRefs(x, key)...)
		}
	case string:
		var exprs []string
		if key == "if" {
			exprs = append(exprs, v)
		} else {
			for _, m := range exprPart.FindAllStringSubmatch(v, -1) {
				exprs = append(exprs, m[1])
			}
		}
		for _, e := range exprs {
			for _, m := range secretsRead.FindAllStringSubmatch(e, -1) {
				name := m[1] + m[2]
				out = append(out, secretRef{Name: name, In: key})
			}
		}
	}
	return out
}

// TestWorkflowSecretsOnlyInEnvironmentJobs: a job that reads a secret (other than the job's
// own GITHUB_TOKEN) is bound to an environment, so the value can be an environment secret
// that GitHub releases only to the environment's branches and reviewers. A job without one
// can only read repository secrets, which any branch's workflow can read.
func TestWorkflowSecretsOnlyInEnvironmentJobs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no workflows")
	}
	for _, file := range files {
		wf := loadWorkflow(t, filepath.Base(file))
		for id, job := range wf.Jobs {
			env, _ := job["environment"].(string)
			if m, ok := job["environment"].(map[string]any); ok {
				env, _ = m["name"].(string)
			}
			for _, ref := range secretRefs(job, "") {
				if strings.EqualFold(ref.Name, "GITHUB_TOKEN") {
					continue
				}
				if strings.TrimSpace(env) == "" {
					name := ref.Name
					if name == "" {
						name = "(the whole secrets context)"
					}
					t.Errorf("%s: job %s reads secrets.%s (in %s:) but has no environment:", wf.Name, id, name, ref.In)
				}
			}
		}
	}
}

// TestWorkflowPublishPrdOnlyFromMain evaluates the publish jobs' `if:` for the runs that can
// reach them: prd is published from refs/heads/main only, whatever the trigger, the input's
// case, or who dispatched it.
func TestWorkflowPublishPrdOnlyFromMain(t *testing.T) {
	publish := loadWorkflow(t, "publish.yml").job(t, "publish")
	if env, _ := publish["environment"].(string); evalTemplate(t, env, ghEvent("push", "refs/heads/main", upstreamRepo, "", map[string]any{"environment": "prd"})) != "prd" {
		t.Errorf("publish.yml: job publish environment = %q, want the environment input (its secrets and protection rules)", env)
	}
	main := loadWorkflow(t, "main.yml").job(t, "publish")
	for _, tc := range []struct {
		name      string
		trigger   string
		ref       string
		env       string
		want      bool
		checkMain bool
	}{
		{"push to main", "push", "refs/heads/main", "prd", true, true},
		{"dispatch on main", "workflow_dispatch", "refs/heads/main", "prd", true, true},
		{"dispatch on a release branch", "workflow_dispatch", "refs/heads/release/1.2", "prd", false, true},
		{"dispatch on a feature branch, PRD in capitals", "workflow_dispatch", "refs/heads/feature/x", "PRD", false, true},
		{"a tag", "push", "refs/tags/v1.2.3", "prd", false, true},
		{"a pull request", "pull_request", "refs/pull/7/merge", "prd", false, true},
		{"an unknown environment off main", "workflow_dispatch", "refs/heads/feature/x", "staging", false, false},
		{"dev off main", "workflow_dispatch", "refs/heads/feature/x", "dev", true, false},
	} {
		ctx := ghEvent(tc.trigger, tc.ref, upstreamRepo, "", map[string]any{"environment": tc.env, "dry-run": false})
		if got := evalIf(t, publish["if"], ctx); got != tc.want {
			t.Errorf("publish.yml job publish, %s (environment %s): runs = %v, want %v (if: %v)", tc.name, tc.env, got, tc.want, publish["if"])
		}
		if tc.checkMain {
			if got := evalIf(t, main["if"], ctx); got != tc.want {
				t.Errorf("main.yml job publish, %s: runs = %v, want %v (if: %v)", tc.name, got, tc.want, main["if"])
			}
		}
	}
}

// TestWorkflowPlanOnlySameRepositoryRelease evaluates the plan jobs' `if:` (the caller's in
// release.yml and the reusable one in plan.yml, each on its own): a fork's pull request, a
// non-release branch and pull_request_target never reach the job holding the write token.
func TestWorkflowPlanOnlySameRepositoryRelease(t *testing.T) {
	jobs := map[string]map[string]any{
		"release.yml job plan": loadWorkflow(t, "release.yml").job(t, "plan"),
		"plan.yml job plan":    loadWorkflow(t, "plan.yml").job(t, "plan"),
	}
	for _, tc := range []struct {
		name    string
		trigger string
		ref     string
		prHead  string
		want    bool
	}{
		{"same-repository release pull request", "pull_request", "refs/pull/7/merge", upstreamRepo + ":release/1.2", true},
		{"fork's release pull request", "pull_request", "refs/pull/7/merge", "attacker/microservices-manifests:release/1.2", false},
		{"fork named like upstream's owner", "pull_request", "refs/pull/7/merge", "microservices-manifests/microservices-manifests-fork:release/1.2", false},
		{"same-repository feature pull request", "pull_request", "refs/pull/7/merge", upstreamRepo + ":feature/x", false},
		{"pull_request_target of a release branch", "pull_request_target", "refs/heads/main", upstreamRepo + ":release/1.2", false},
		{"push to a release branch", "push", "refs/heads/release/1.2", "", true},
		{"push to main", "push", "refs/heads/main", "", false},
		{"dispatch on a release branch", "workflow_dispatch", "refs/heads/release/1.2", "", true},
		{"dispatch on main", "workflow_dispatch", "refs/heads/main", "", false},
		{"dispatch on a tag named release/x", "workflow_dispatch", "refs/tags/release/1.2", "", false},
		{"a branch that only contains release/", "push", "refs/heads/feature/release/1.2", "", false},
	} {
		ctx := ghEvent(tc.trigger, tc.ref, upstreamRepo, tc.prHead, nil)
		for name, job := range jobs {
			if got := evalIf(t, job["if"], ctx); got != tc.want {
				t.Errorf("%s, %s: runs = %v, want %v (if: %v)", name, tc.name, got, tc.want, job["if"])
			}
		}
	}
}

// TestWorkflowPlanConcurrencyKeyedByHeadRepository: a fork's release/x and upstream's
// release/x are different groups (one never cancels the other), while upstream's push and
// pull request of one branch share a group (they never race on the branch).
func TestWorkflowPlanConcurrencyKeyedByHeadRepository(t *testing.T) {
	job := loadWorkflow(t, "plan.yml").job(t, "plan")
	conc, _ := job["concurrency"].(map[string]any)
	group, _ := conc["group"].(string)
	if group == "" {
		t.Fatal("plan.yml: job plan has no concurrency group")
	}
	push := evalTemplate(t, group, ghEvent("push", "refs/heads/release/1.2", upstreamRepo, "", nil))
	pr := evalTemplate(t, group, ghEvent("pull_request", "refs/pull/7/merge", upstreamRepo, upstreamRepo+":release/1.2", nil))
	fork := evalTemplate(t, group, ghEvent("pull_request", "refs/pull/8/merge", upstreamRepo, "attacker/microservices-manifests:release/1.2", nil))
	if fork == push || fork == pr {
		t.Errorf("plan.yml: a fork's release/1.2 shares the concurrency group %q with upstream's (group: %s)", fork, group)
	}
	if push != pr {
		t.Errorf("plan.yml: upstream's push (%q) and pull request (%q) of release/1.2 are in different groups", push, pr)
	}
}

var testSHA = strings.Repeat("0123456789abcdef", 3)[:40]

// TestWorkflowPlatformRefIsACommitSHA: platform-ref (the action's code, run with the
// workflow's token and secrets) has no default and must be given; the job's first step
// fails unless it is a full lowercase 40-hex SHA, and the action is checked out at exactly
// that input (no fallback to a branch).
func TestWorkflowPlatformRefIsACommitSHA(t *testing.T) {
	bash := lookBash(t)
	for _, name := range []string{"plan.yml", "publish.yml"} {
		wf := loadWorkflow(t, name)
		for _, trigger := range []string{"workflow_call", "workflow_dispatch"} {
			in, ok := wf.inputs(trigger)["platform-ref"]
			if !ok {
				t.Errorf("%s: %s has no input platform-ref", name, trigger)
				continue
			}
			if _, ok := in["default"]; ok {
				t.Errorf("%s: %s input platform-ref has a default (%v): a moving ref would run unreviewed code", name, trigger, in["default"])
			}
			if in["required"] != true {
				t.Errorf("%s: %s input platform-ref is not required", name, trigger)
			}
		}
		for id, job := range wf.Jobs {
			st := wfSteps(job)
			if len(st) == 0 || st[0]["id"] != "platform-ref" {
				t.Errorf("%s: job %s's first step is not the platform-ref check (id: platform-ref)", name, id)
				continue
			}
			check := st[0]
			env, _ := check["env"].(map[string]any)
			if env["PLATFORM_REF"] != "${{ inputs.platform-ref }}" || check["shell"] != "bash" {
				t.Errorf("%s: job %s: the check must run in bash with PLATFORM_REF: ${{ inputs.platform-ref }}, got env %v shell %v", name, id, env, check["shell"])
			}
			for _, s := range st {
				with, _ := s["with"].(map[string]any)
				if with["path"] == ".platform-action" && with["ref"] != "${{ inputs.platform-ref }}" {
					t.Errorf("%s: job %s checks out the platform action at %v, want exactly ${{ inputs.platform-ref }}", name, id, with["ref"])
				}
			}
			for _, tc := range []struct {
				ref  string
				pass bool
			}{
				{testSHA, true},
				{"main", false},
				{"v1.2.3", false},
				{"", false},
				{testSHA[:39], false},
				{testSHA + "0", false},
				{strings.ToUpper(testSHA), false},
				{testSHA + "\n", false},
				{testSHA + "\nmain", false},
				{"refs/heads/" + testSHA, false},
			} {
				out, err := runWorkflowStep(t, bash, check, repoRoot, map[string]string{"PLATFORM_REF": tc.ref})
				if (err == nil) != tc.pass {
					t.Errorf("%s: job %s: platform-ref %q: passed = %v, want %v\n%s", name, id, tc.ref, err == nil, tc.pass, boundOutput(out))
				}
				if !tc.pass && tc.ref != "" && strings.Contains(out, tc.ref) {
					t.Errorf("%s: job %s: the check echoes the refused platform-ref", name, id)
				}
			}
		}
	}
}

// declaredSecrets reads secrets.yaml independently of pkg/secrets: env names per
// environment.
func declaredSecrets(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var decl struct {
		Secrets []struct {
			Env          string   `yaml:"env"`
			Environments []string `yaml:"environments"`
		} `yaml:"secrets"`
	}
	if err := yamlv3.Unmarshal(data, &decl); err != nil {
		t.Fatalf("secrets.yaml: %v", err)
	}
	out := map[string][]string{}
	for _, s := range decl.Secrets {
		for _, e := range s.Environments {
			if !contains(out[e], s.Env) {
				out[e] = append(out[e], s.Env)
			}
		}
	}
	for e := range out {
		sort.Strings(out[e])
	}
	devOnly := slices.DeleteFunc(slices.Clone(out["dev"]), func(name string) bool { return contains(out["prd"], name) })
	if len(out["prd"]) == 0 || len(devOnly) == 0 {
		t.Fatalf("secrets.yaml: want dev-only secrets next to prd's, got %v", out)
	}
	return out
}

// TestWorkflowMainPassesOnlyPrdSecrets: main.yml names no secret that secrets.yaml does not
// declare for prd (the dev-only root passwords above all), and hands publish.yml the prd
// environment's secrets through inherit, never by reading them in its own job.
func TestWorkflowMainPassesOnlyPrdSecrets(t *testing.T) {
	prd := declaredSecrets(t)["prd"]
	wf := loadWorkflow(t, "main.yml")
	calls := 0
	for id, job := range wf.Jobs {
		for _, ref := range secretRefs(job, "") {
			if ref.Name == "" || !contains(prd, strings.ToUpper(ref.Name)) && !strings.EqualFold(ref.Name, "GITHUB_TOKEN") {
				t.Errorf("main.yml: job %s passes secrets.%s, which secrets.yaml does not declare for prd", id, ref.Name)
			}
		}
		if job["uses"] != "./.github/workflows/publish.yml" {
			continue
		}
		calls++
		with, _ := job["with"].(map[string]any)
		if with["environment"] != "prd" {
			t.Errorf("main.yml: job %s publishes environment %v, want prd", id, with["environment"])
		}
		if s, ok := job["secrets"].(string); ok && s != "inherit" {
			t.Errorf("main.yml: job %s: secrets: %q", id, s)
		}
	}
	if calls == 0 {
		t.Error("main.yml: no job calls publish.yml")
	}
}

// TestWorkflowPublishPassesOnlyDeclaredSecrets runs publish.yml's step that turns the job's
// secrets (the environment's, and the caller's through inherit) into the action's secrets
// input, and reads its output with the action's own parser (ParseSecrets): exactly the names
// secrets.yaml declares for the environment, never GITHUB_TOKEN, AWS keys or any undeclared
// secret, values byte for byte (multi-line ones too), and no value printed.
func TestWorkflowPublishPassesOnlyDeclaredSecrets(t *testing.T) {
	bash := lookBash(t)
	for _, tool := range []string{"jq", "yq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (GitHub's runners have it): %v", tool, err)
		}
	}
	wf := loadWorkflow(t, "publish.yml")
	step := stepByID(t, wf, "publish", "declared-secrets")
	env, _ := step["env"].(map[string]any)
	if env["ALL_SECRETS"] != "${{ toJSON(secrets) }}" || env["ENVIRONMENT"] != "${{ inputs.environment }}" || step["shell"] != "bash" {
		t.Fatalf("publish.yml: step declared-secrets: want bash with ALL_SECRETS: ${{ toJSON(secrets) }} and ENVIRONMENT: ${{ inputs.environment }}, got %v", env)
	}
	for _, s := range wfSteps(wf.job(t, "publish")) {
		if s["uses"] == "./.platform-action" {
			with, _ := s["with"].(map[string]any)
			if with["secrets"] != "${{ steps.declared-secrets.outputs.lines }}" {
				t.Errorf("publish.yml: the action's secrets input is %v, want ${{ steps.declared-secrets.outputs.lines }}", with["secrets"])
			}
		}
	}
	declared := declaredSecrets(t)
	const canary = "CANARY-workflow-secret"
	all := map[string]string{
		"github_token":          canary + "-token",
		"AWS_SECRET_ACCESS_KEY": canary + "-aws",
		"UNDECLARED_SECRET":     canary + "-undeclared",
	}
	for _, names := range declared {
		for i, n := range names {
			all[n] = " pw " + strings.ToLower(n) + "=x#y<<z "
			if i == 0 {
				all[n] = "-----BEGIN KEY-----\n" + strings.ToLower(n) + "\n\n-----END KEY-----\n"
			}
		}
	}
	for _, environment := range []string{"prd", "dev"} {
		got, out, err := runDeclared(t, bash, step, repoRoot, environment, all)
		if err != nil {
			t.Fatalf("%s: %v\n%s", environment, err, boundOutput(out))
		}
		var names []string
		for name, value := range got {
			names = append(names, name)
			if value != all[name] {
				t.Errorf("%s: %s was passed altered (%d bytes, want %d)", environment, name, len(value), len(all[name]))
			}
		}
		sort.Strings(names)
		if strings.Join(names, " ") != strings.Join(declared[environment], " ") {
			t.Errorf("%s: passed %v, want exactly the declared %v", environment, names, declared[environment])
		}
		for k, v := range all {
			if strings.Contains(out, v) || strings.Contains(out, strings.Split(v, "\n")[0]) {
				t.Errorf("%s: the step printed the value of %s", environment, k)
			}
		}
	}
	for _, bad := range []string{`prd" or true`, "", "PRD\n", "../prd"} {
		if _, _, err := runDeclared(t, bash, step, repoRoot, bad, all); err == nil {
			t.Errorf("environment %q was accepted", bad)
		}
	}
	// A declaration that names what must never be passed fails the step, printing nothing
	// of the values.
	for name, decl := range map[string]string{
		"GITHUB_TOKEN":        "secrets:\n  - {chart: app/a, path: p, env: GITHUB_TOKEN, environments: [prd]}\n",
		"github_token":        "secrets:\n  - {chart: app/a, path: p, env: github_token, environments: [prd]}\n",
		"a workflow command":  "secrets:\n  - {chart: app/a, path: p, env: \"X\\n::add-mask::y\", environments: [prd]}\n",
		"a lowercase env var": "secrets:\n  - {chart: app/a, path: p, env: aws_secret_access_key, environments: [prd]}\n",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "secrets.yaml"), []byte(decl), 0o600); err != nil {
			t.Fatal(err)
		}
		got, out, err := runDeclared(t, bash, step, dir, "prd", all)
		if err == nil || len(got) > 0 || strings.Contains(out, canary) {
			t.Errorf("secrets.yaml declaring %s: err = %v, passed %d, printed a value = %v; want a failure passing and printing nothing", name, err, len(got), strings.Contains(out, canary))
		}
	}
}

// runDeclared runs the declared-secrets step in dir and returns what it wrote to the
// GITHUB_OUTPUT lines block, parsed by the action's ParseSecrets, and its combined output.
func runDeclared(t *testing.T, bash string, step map[string]any, dir, environment string, secrets map[string]string) (map[string]string, string, error) {
	t.Helper()
	js, err := json.Marshal(secrets)
	if err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(t.TempDir(), "output")
	if err := os.WriteFile(outFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runWorkflowStep(t, bash, step, dir, map[string]string{
		"ENVIRONMENT":   environment,
		"ALL_SECRETS":   string(js),
		"GITHUB_OUTPUT": outFile,
	})
	data, rerr := os.ReadFile(outFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	text := string(data)
	if text == "" {
		return nil, out, err
	}
	head, rest, _ := strings.Cut(text, "\n")
	delim, ok := strings.CutPrefix(head, "lines<<")
	body, after, found := strings.Cut(rest, delim+"\n")
	if !ok || delim == "" || !found || after != "" {
		t.Fatalf("GITHUB_OUTPUT is not one lines<<DELIMITER block (%d bytes)", len(text))
	}
	parsed, perr := ParseSecrets(body)
	if perr != nil {
		t.Fatalf("the action cannot read the step's output: %v", perr)
	}
	return parsed, out, err
}

func lookBash(t *testing.T) string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("bash is not installed: %v", err)
	}
	return bash
}

// runStep runs a step's `run:` as GitHub runs `shell: bash` (bash --noprofile --norc -eo
// pipefail FILE) in dir, with only PATH and env in its environment.
func runWorkflowStep(t *testing.T, bash string, step map[string]any, dir string, env map[string]string) (string, error) {
	t.Helper()
	script, _ := step["run"].(string)
	if script == "" {
		t.Fatalf("step %v has no run:", step["name"])
	}
	file := filepath.Join(t.TempDir(), "step.sh")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", file)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// bound keeps a failure message short whatever a step printed.
func boundOutput(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
