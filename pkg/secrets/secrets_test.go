package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
)

// TestRepositoryDeclaration proves the repository's own secrets.yaml: every chart, path
// and environment exists, and no values file in git holds a secret.
func TestRepositoryDeclaration(t *testing.T) {
	repo, err := discovery.Discover(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	d, err := secrets.Load(repo.Root)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Secrets) < 6 {
		t.Errorf("declaration has %d secrets, want the 6 database passwords at least", len(d.Secrets))
	}
	for _, f := range d.Check(repo) {
		t.Error(f.String())
	}
	want := map[string][]string{
		"dev": {"ACCOUNT_DB_PASSWORD", "ACCOUNT_DB_ROOT_PASSWORD", "CUSTOMER_DB_PASSWORD", "CUSTOMER_DB_ROOT_PASSWORD", "ORDER_DB_PASSWORD", "ORDER_DB_ROOT_PASSWORD"},
		"prd": {"ACCOUNT_DB_PASSWORD", "CUSTOMER_DB_PASSWORD", "ORDER_DB_PASSWORD"},
	}
	for env, vars := range want {
		_, err := d.Resolve(env, []string{"app/account", "app/customer", "app/order"}, func(string) (string, bool) { return "", false })
		var missing *secrets.MissingError
		if !errors.As(err, &missing) || strings.Join(missing.Vars, ",") != strings.Join(vars, ",") {
			t.Errorf("%s: missing = %v, want %v", env, err, vars)
		}
	}
}

func fixture(t *testing.T, decl string, files map[string]string) *discovery.Repo {
	t.Helper()
	root := t.TempDir()
	base := map[string]string{
		"app/svc/Chart.yaml":      "apiVersion: v2\nname: svc\nversion: 0.1.0\n",
		"app/svc/values.yaml":     "secrets:\n  password: \"\"\n  token: ~\nother: 1\n",
		"app/svc/values-dev.yaml": "other: 2\n",
		"app/svc/values-prd.yaml": "other: 3\n",
		"charts/lib/Chart.yaml":   "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
		secrets.File:              decl,
	}
	for k, v := range files {
		base[k] = v
	}
	for name, body := range base {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func TestCheck(t *testing.T) {
	const ok = "secrets:\n  - chart: app/svc\n    path: secrets.password\n    env: SVC_PASSWORD\n    environments: [dev, prd]\n"
	for _, tc := range []struct {
		name  string
		decl  string
		files map[string]string
		want  []string // substrings, one per finding, in order
	}{
		{name: "valid", decl: ok},
		{name: "valid-null-in-values", decl: strings.Replace(ok, "secrets.password", "secrets.token", 1)},
		{name: "failure.unknown-chart", decl: strings.Replace(ok, "app/svc", "app/nope", 1), want: []string{`unknown chart "app/nope"`}},
		{name: "failure.library-chart", decl: strings.Replace(ok, "app/svc", "charts/lib", 1), want: []string{`unknown chart "charts/lib"`}},
		{name: "failure.unknown-env", decl: strings.Replace(ok, "[dev, prd]", "[dev, stg]", 1), want: []string{`unknown environment "stg"`}},
		{name: "failure.no-env", decl: strings.Replace(ok, "[dev, prd]", "[]", 1), want: []string{"no environments"}},
		{name: "failure.bad-variable", decl: strings.Replace(ok, "SVC_PASSWORD", "svc-password", 1), want: []string{"environment variable name"}},
		{name: "failure.path-not-in-values", decl: strings.Replace(ok, "secrets.password", "secrets.missing", 1), want: []string{"not a key of app/svc/values.yaml"}},
		{name: "failure.bad-path", decl: strings.Replace(ok, "secrets.password", "secrets..x", 1), want: []string{"invalid key"}},
		{name: "failure.duplicate", decl: ok + strings.TrimPrefix(ok, "secrets:\n"), want: []string{"already declared", "already declared"}},
		{name: "failure.committed-in-env-file", decl: ok,
			files: map[string]string{"app/svc/values-prd.yaml": "secrets:\n  password: hunter2-in-git\n"},
			want:  []string{"app/svc/values-prd.yaml: secrets.password: holds a value"}},
		{name: "failure.committed-in-defaults", decl: ok,
			files: map[string]string{"app/svc/values.yaml": "secrets:\n  password: hunter2-in-git\n"},
			want:  []string{"app/svc/values.yaml: secrets.password: holds a value"}},
		{name: "failure.not-a-string", decl: ok,
			files: map[string]string{"app/svc/values-dev.yaml": "secrets:\n  password: {a: b}\n"},
			want:  []string{"holds a map"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := fixture(t, tc.decl, tc.files)
			d, err := secrets.Load(repo.Root)
			if err != nil {
				t.Fatal(err)
			}
			got := d.Check(repo)
			if len(got) != len(tc.want) {
				t.Fatalf("findings = %v, want %d", got, len(tc.want))
			}
			for i, f := range got {
				if s := f.String(); !strings.Contains(s, tc.want[i]) || strings.Contains(s, "hunter2") {
					t.Errorf("finding %q, want %q and no value", s, tc.want[i])
				}
				if f.Rule != secrets.Rule {
					t.Errorf("rule = %s", f.Rule)
				}
			}
		})
	}
}

func TestParseStrict(t *testing.T) {
	if _, err := secrets.Parse([]byte("secrets:\n  - chart: app/svc\n    pth: x\n")); err == nil {
		t.Error("unknown key accepted")
	}
	d, err := secrets.Parse(nil)
	if err != nil || len(d.Secrets) != 0 {
		t.Errorf("empty declaration: %v %v", d, err)
	}
}

func TestResolve(t *testing.T) {
	d, err := secrets.Parse([]byte(`secrets:
  - {chart: app/a, path: s.p, env: A_PW, environments: [dev, prd]}
  - {chart: app/a, path: s.r, env: A_ROOT, environments: [dev]}
  - {chart: app/b, path: s.p, env: B_PW, environments: [prd]}
  - {chart: app/c, path: s.p, env: A_PW, environments: [prd]}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"A_PW": "one", "B_PW": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	_, err = d.Resolve("prd", nil, lookup)
	var missing *secrets.MissingError
	if !errors.As(err, &missing) || strings.Join(missing.Vars, ",") != "B_PW" || !strings.Contains(err.Error(), "B_PW") {
		t.Errorf("prd: %v", err)
	}
	_, err = d.Resolve("dev", nil, lookup)
	if !errors.As(err, &missing) || strings.Join(missing.Vars, ",") != "A_ROOT" {
		t.Errorf("dev: %v", err)
	}
	vals, err := d.Resolve("prd", []string{"app/a", "app/c"}, lookup)
	if err != nil || len(vals["app/a"]) != 1 || vals["app/c"][0].Value != "one" {
		t.Errorf("selection: %v %v", vals, err)
	}
	red := secrets.NewRedactor(vals)
	if got := red.Error(errors.New("value one leaked")).Error(); strings.Contains(got, "one leaked") {
		t.Errorf("redacted = %q", got)
	}
}

// TestReservedVariables: a declaration naming a variable of the runner or the platform
// (its token, AWS credentials, the action's inputs) is a finding located at the entry's
// env field, and such a variable is never read.
func TestReservedVariables(t *testing.T) {
	for _, tc := range []struct {
		env      string
		reserved bool
	}{
		{"GITHUB_TOKEN", true},
		{"RUNNER_TEMP", true},
		{"ACTIONS_ID_TOKEN_REQUEST_TOKEN", true},
		{"ACTIONS_RUNTIME_TOKEN", true},
		{"INPUT_SECRETS", true},
		{"AWS_SECRET_ACCESS_KEY", true},
		{"AWS_SESSION_TOKEN", true},
		{"GIT_ASKPASS", true},
		{"PATH", true},
		{"HOME", true},
		{"SVC_PASSWORD", false},
		{"MY_GITHUB_TOKEN_FOR_APP", false},
		{"PATHS_DB_PASSWORD", false},
	} {
		t.Run(tc.env, func(t *testing.T) {
			decl := "secrets:\n  - chart: app/svc\n    path: secrets.password\n    env: " + tc.env + "\n    environments: [dev, prd]\n"
			repo := fixture(t, decl, nil)
			d, err := secrets.Load(repo.Root)
			if err != nil {
				t.Fatal(err)
			}
			got := d.Check(repo)
			lookedUp := false
			_, rerr := d.Resolve("dev", nil, func(string) (string, bool) { lookedUp = true; return "value", true })
			if !tc.reserved {
				if len(got) != 0 || rerr != nil || !lookedUp {
					t.Errorf("findings %v, resolve %v", got, rerr)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("findings = %v, want one", got)
			}
			f := got[0]
			if f.File != secrets.File || f.Line != 2 || f.Path != "secrets[0].env" || !strings.Contains(f.Message, tc.env+" is reserved") {
				t.Errorf("finding %+v: want %s:2 secrets[0].env, %s is reserved", f, secrets.File, tc.env)
			}
			if rerr == nil || lookedUp {
				t.Errorf("Resolve read the reserved variable (err %v)", rerr)
			}
		})
	}
}
