package action

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

const repoRoot = "../.."

// TestWorkflowsLint runs actionlint (built from the Go module proxy, as a library) over every
// workflow: syntax, expressions and their contexts, reusable workflow inputs and secrets,
// and the inputs given to the local action (action.yml). shellcheck runs too when it is
// installed.
func TestWorkflowsLint(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows: %v", err)
	}
	for _, want := range []string{"plan.yml", "publish.yml", "release.yml", "main.yml", "ci.yml", "release-action.yml"} {
		if _, err := os.Stat(filepath.Join(root, ".github", "workflows", want)); err != nil {
			t.Errorf("missing workflow %s", want)
		}
	}
	opts := &actionlint.LinterOptions{Color: actionlint.ColorOptionKindNever, LogWriter: io.Discard}
	if sc, err := lookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	}
	l, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		errs, err := l.LintFile(file, proj)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			t.Errorf("%s:%d:%d: %s [%s]", filepath.Base(file), e.Line, e.Column, e.Message, e.Kind)
		}
	}
}

func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

var pinned = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)

// TestWorkflowsPolicy checks what actionlint does not: third-party actions pinned by full
// commit SHA with a version comment, least-privilege permissions (none at the top, explicit
// per job), reusable workflows callable and dispatchable, and concurrency on the plan.
func TestWorkflowsPolicy(t *testing.T) {
	var action struct {
		Inputs map[string]any `yaml:"inputs"`
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yamlv3.Unmarshal(data, &action); err != nil {
		t.Fatal(err)
	}
	inputs := action.Inputs
	files, _ := filepath.Glob(filepath.Join(repoRoot, ".github", "workflows", "*.yml"))
	for _, file := range files {
		name := filepath.Base(file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			_, ref, ok := strings.Cut(line, "uses: ")
			if !ok || strings.HasPrefix(ref, "./") || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			ref, comment, _ := strings.Cut(ref, " # ")
			if !pinned.MatchString(strings.TrimSpace(ref)) || !strings.HasPrefix(strings.TrimSpace(comment), "v") {
				t.Errorf("%s:%d: %q is not pinned by commit SHA with a # vX.Y.Z comment", name, i+1, strings.TrimSpace(line))
			}
		}
		// yaml.v3: "on" is a key here, not YAML 1.1's boolean.
		var wf struct {
			On          map[string]any            `yaml:"on"`
			Permissions map[string]any            `yaml:"permissions"`
			Jobs        map[string]map[string]any `yaml:"jobs"`
		}
		if err := yamlv3.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if wf.Permissions == nil || len(wf.Permissions) != 0 {
			t.Errorf("%s: top-level permissions must be {} (jobs ask for what they need)", name)
		}
		for id, job := range wf.Jobs {
			if _, ok := job["permissions"]; !ok {
				t.Errorf("%s: job %s has no permissions", name, id)
			}
			// actionlint cannot see the action checked out at run time into .platform-action:
			// its inputs are checked against action.yml here.
			steps, _ := job["steps"].([]any)
			for _, st := range steps {
				step, _ := st.(map[string]any)
				if step["uses"] != "./.platform-action" {
					continue
				}
				with, _ := step["with"].(map[string]any)
				for k := range with {
					if _, ok := inputs[k]; !ok {
						t.Errorf("%s: job %s gives the action input %q, which action.yml does not declare", name, id, k)
					}
				}
			}
		}
		if _, ok := wf.On["workflow_dispatch"]; !ok {
			t.Errorf("%s: no workflow_dispatch (manual reruns)", name)
		}
		if name == "plan.yml" || name == "publish.yml" {
			if _, ok := wf.On["workflow_call"]; !ok {
				t.Errorf("%s: not reusable (no workflow_call)", name)
			}
			for id, job := range wf.Jobs {
				if _, ok := job["concurrency"]; !ok {
					t.Errorf("%s: job %s has no concurrency group", name, id)
				}
			}
		}
	}
}

// TestActionMetadata checks action.yml: a docker action built from the Dockerfile, whose
// inputs are the ones the entrypoint reads and whose outputs are the ones it writes.
func TestActionMetadata(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Author      string            `json:"author"`
		Branding    map[string]string `json:"branding"`
		Inputs      map[string]struct {
			Description string  `json:"description"`
			Required    bool    `json:"required"`
			Default     *string `json:"default"`
		} `json:"inputs"`
		Outputs map[string]struct {
			Description string `json:"description"`
		} `json:"outputs"`
		Runs struct {
			Using string `json:"using"`
			Image string `json:"image"`
		} `json:"runs"`
	}
	if err := yaml.UnmarshalStrict(data, &meta, yaml.DisallowUnknownFields); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if meta.Runs.Using != "docker" || meta.Runs.Image != "Dockerfile" {
		t.Errorf("runs = %+v, want docker / Dockerfile", meta.Runs)
	}
	if meta.Name == "" || meta.Description == "" {
		t.Error("action.yml needs a name and a description")
	}
	read := regexp.MustCompile(`GetInput\("([a-z-]+)"\)`)
	written := regexp.MustCompile(`r\.output\("([a-z-]+)"`)
	src, err := os.ReadFile("action.go")
	if err != nil {
		t.Fatal(err)
	}
	var inputs, outputs []string
	for _, m := range read.FindAllStringSubmatch(string(src), -1) {
		inputs = append(inputs, m[1])
	}
	for _, m := range written.FindAllStringSubmatch(string(src), -1) {
		outputs = append(outputs, m[1])
	}
	for _, in := range inputs {
		if _, ok := meta.Inputs[in]; !ok {
			t.Errorf("the entrypoint reads input %q, which action.yml does not declare", in)
		}
	}
	for name, in := range meta.Inputs {
		if in.Description == "" {
			t.Errorf("input %s has no description", name)
		}
		if !contains(inputs, name) {
			t.Errorf("action.yml declares input %q, which the entrypoint never reads", name)
		}
	}
	for _, out := range outputs {
		if _, ok := meta.Outputs[out]; !ok {
			t.Errorf("the entrypoint writes output %q, which action.yml does not declare", out)
		}
	}
	var declared []string
	for name := range meta.Outputs {
		declared = append(declared, name)
		if !contains(outputs, name) {
			t.Errorf("action.yml declares output %q, which the entrypoint never writes", name)
		}
	}
	sort.Strings(declared)
	if !meta.Inputs["command"].Required {
		t.Error("input command must be required")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
