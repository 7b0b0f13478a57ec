// Package secrets is the declaration of the charts' sensitive values: which chart, which
// values path, which environments, and which environment variable provides the value at
// publish time. Values files in git hold no secret: a declared path must be "" or absent
// in every values file, and publish fills it from the environment, failing with the name
// of every missing variable before doing anything else.
package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
	"github.com/microservices-manifests/microservices-manifests/pkg/values"
)

// File is the declaration's name at the repository root.
const File = "secrets.yaml"

// Rule is the rule id of the declaration's findings.
const Rule = "secrets"

var envName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// reservedPrefixes and reservedNames are variables of the runner, the platform and the
// tools publish runs (the GitHub runner and its actions, AWS credentials, git, Docker,
// the process itself). A declaration naming one would bake the runner's token or AWS keys
// into a published chart, so it is refused: a secret has a variable of its own.
var (
	reservedPrefixes = []string{"GITHUB_", "RUNNER_", "ACTIONS_", "INPUT_", "STATE_", "AWS_", "GIT_", "DOCKER_", "HELM_", "SSH_", "LD_"}
	reservedNames    = []string{"PATH", "HOME", "CI", "USER", "SHELL", "PWD", "HOSTNAME", "TMPDIR", "LANG", "TERM",
		"KUBECONFIG", "IMAGEOS", "IMAGEVERSION", "AGENT_TOOLSDIRECTORY", "GITHUB", "RUNNER", "ACTIONS"}
)

// Reserved reports whether name is a variable of the runner or the platform, which a
// secret may not name.
func Reserved(name string) bool {
	if slices.Contains(reservedNames, name) {
		return true
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Secret declares one sensitive value.
type Secret struct {
	// Chart is the chart's ID, its directory relative to the root ("app/account").
	Chart string `yaml:"chart"`
	// Path is the dotted values path the value is written to ("secrets.databasePassword").
	Path string `yaml:"path"`
	// Env is the environment variable holding the value at publish time.
	Env string `yaml:"env"`
	// Environments are the environments that need the value (each has a values-<env>.yaml).
	Environments []string `yaml:"environments"`
	// Description says what the value is, for people rotating it.
	Description string `yaml:"description,omitempty"`

	line int
}

// Declaration is the content of secrets.yaml.
type Declaration struct {
	Secrets []Secret `yaml:"secrets"`
}

// Load reads root/secrets.yaml strictly (unknown keys are errors) through repofs (a
// symlink or a FIFO is refused). A missing file is an empty declaration: a repository
// without secrets publishes without variables.
func Load(root string) (*Declaration, error) {
	data, err := repofs.ReadFile(root, File)
	if errors.Is(err, os.ErrNotExist) {
		return &Declaration{}, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse decodes a declaration, keeping each entry's line for findings.
func Parse(data []byte) (*Declaration, error) {
	var d Declaration
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", File, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil && len(doc.Content) > 0 {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "secrets" && root.Content[i+1].Kind == yaml.SequenceNode {
				for j, item := range root.Content[i+1].Content {
					if j < len(d.Secrets) {
						d.Secrets[j].line = item.Line
					}
				}
			}
		}
	}
	return &d, nil
}

// Check proves the declaration against the repository: charts and environments exist,
// each path exists in the chart's values.yaml, no path is declared twice for an
// environment, and no values file in git holds a value at a declared path.
func (d *Declaration) Check(repo *discovery.Repo) []report.Finding {
	var out []report.Finding
	add := func(s Secret, env, file, path, format string, args ...any) {
		line := s.line
		if file != File {
			line = 0
		}
		out = append(out, report.Finding{Severity: report.Error, Rule: Rule, Chart: s.Chart, Env: env,
			File: file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	seen := map[string]int{}
	for i, s := range d.Secrets {
		c, ok := repo.Chart(s.Chart)
		if !ok || c.Library() {
			add(s, "", File, "", "secrets[%d]: unknown chart %q (see platform list)", i, s.Chart)
			continue
		}
		if !envName.MatchString(s.Env) {
			add(s, "", File, fmt.Sprintf("secrets[%d].env", i), "environment variable name %s must match %s", schema.Quote(s.Env), envName)
		} else if Reserved(s.Env) {
			add(s, "", File, fmt.Sprintf("secrets[%d].env", i), "%s is reserved: variables of the runner and the platform "+
				"(GITHUB_*, RUNNER_*, ACTIONS_*, INPUT_*, AWS_*, PATH, HOME, ...) hold its tokens and credentials and are never read as secrets; "+
				"give the secret a variable of its own", s.Env)
		}
		p, err := values.ParsePath(s.Path)
		if err != nil {
			add(s, "", File, "", "secrets[%d]: %v", i, err)
			continue
		}
		if len(s.Environments) == 0 {
			add(s, "", File, "", "secrets[%d]: no environments (list the environments that need %s)", i, s.Env)
		}
		for _, env := range s.Environments {
			if !slices.Contains(repo.Environments, env) {
				add(s, env, File, "", "secrets[%d]: unknown environment %q (found: %s)", i, env, strings.Join(repo.Environments, ", "))
				continue
			}
			key := s.Chart + "\x00" + s.Path + "\x00" + env
			if j, dup := seen[key]; dup {
				add(s, env, File, "", "secrets[%d]: %s of %s in %s is already declared by secrets[%d]", i, s.Path, s.Chart, env, j)
			}
			seen[key] = i
		}
		defaults := c.ID + "/values.yaml"
		vals, err := readValues(repo.Root, defaults)
		if err != nil {
			add(s, "", defaults, "", "%v", err)
			continue
		}
		v, ok := values.Lookup(vals, p)
		if !ok {
			add(s, "", File, "", "secrets[%d]: %s is not a key of %s: declare it there, \"\" and documented", i, s.Path, defaults)
			continue
		}
		if msg := committed(v); msg != "" {
			add(s, "", defaults, s.Path, "%s: a secret is never set in git; leave it \"\" and export %s at publish time", msg, s.Env)
		}
		envs := make([]string, 0, len(c.ValuesFiles))
		for env := range c.ValuesFiles {
			envs = append(envs, env)
		}
		sort.Strings(envs)
		for _, env := range envs {
			file := c.ValuesFiles[env]
			vals, err := readValues(repo.Root, file)
			if err != nil {
				add(s, env, file, "", "%v", err)
				continue
			}
			if v, ok := values.Lookup(vals, p); ok {
				if msg := committed(v); msg != "" {
					add(s, env, file, s.Path, "%s: a secret is never set in git; leave it \"\" and export %s at publish time", msg, s.Env)
				}
			}
		}
	}
	return out
}

// committed describes a value found in git at a secret's path; "" when it holds no secret.
// The value itself is never repeated.
func committed(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if v == "" {
			return ""
		}
		return "holds a value"
	default:
		return fmt.Sprintf("holds a %T, not an empty string", v)
	}
}

func readValues(root, rel string) (map[string]any, error) {
	data, err := repofs.ReadFile(root, rel)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	vals, err := chartutil.ReadValues(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return vals, nil
}

// For returns the secrets of chart id in env, in declaration order.
func (d *Declaration) For(id, env string) []Secret {
	var out []Secret
	for _, s := range d.Secrets {
		if s.Chart == id && slices.Contains(s.Environments, env) {
			out = append(out, s)
		}
	}
	return out
}

// Value is a declared secret with the value read from the environment.
type Value struct {
	Secret
	Value string
}

// MissingError names every declared variable that is unset or empty, and nothing else.
type MissingError struct {
	Env  string
	Vars []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%d secret environment variable(s) for %s unset or empty: %s", len(e.Vars), e.Env, strings.Join(e.Vars, ", "))
}

// Resolve reads the variables of the secrets of env for the given charts (all charts when
// ids is empty) through lookup (os.LookupEnv in production). Every unset or empty variable
// is reported at once in a *MissingError. The result maps a chart ID to its values.
func (d *Declaration) Resolve(env string, ids []string, lookup func(string) (string, bool)) (map[string][]Value, error) {
	out := map[string][]Value{}
	missing := map[string]bool{}
	for _, s := range d.Secrets {
		if !slices.Contains(s.Environments, env) || len(ids) > 0 && !slices.Contains(ids, s.Chart) {
			continue
		}
		if Reserved(s.Env) { // Check reports it; never read one, whoever calls
			return nil, fmt.Errorf("%s: %s is reserved for the runner and the platform: not read as a secret", File, s.Env)
		}
		v, ok := lookup(s.Env)
		if !ok || v == "" {
			missing[s.Env] = true
			continue
		}
		out[s.Chart] = append(out[s.Chart], Value{Secret: s, Value: v})
	}
	if len(missing) > 0 {
		e := &MissingError{Env: env}
		for name := range missing {
			e.Vars = append(e.Vars, name)
		}
		sort.Strings(e.Vars)
		return nil, e
	}
	return out, nil
}

// Redactor replaces secret values in text, for errors from libraries that may quote values.
type Redactor struct{ r *strings.Replacer }

// NewRedactor redacts every value in vals.
func NewRedactor(vals map[string][]Value) *Redactor {
	var pairs []string
	var all []string
	for _, vs := range vals {
		for _, v := range vs {
			all = append(all, v.Value)
		}
	}
	// Longest first, so a value containing another is replaced whole.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	for _, v := range all {
		pairs = append(pairs, v, "[REDACTED]")
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String redacts s.
func (r *Redactor) String(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Error redacts err's message; the chain is dropped only when something was redacted.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := r.String(msg); red != msg {
		return errors.New(red)
	}
	return err
}
