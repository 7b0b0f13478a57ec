package action

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
)

// publishCanary is the secret value the publish tests look for in every output and file.
const publishCanary = "canary-pw-5e3b9d"

// publishRepo is the hardened fixture with the demo chart's password declared as a secret.
func publishRepo(t *testing.T) string {
	t.Helper()
	ws := testutil.Repo(t, fixture, hardened)
	testutil.WriteFile(t, ws, secrets.File, "secrets:\n  - chart: app/demo\n    path: password\n    env: DEMO_DB_PASSWORD\n    environments: [dev, prd]\n")
	return ws
}

// runAction runs the action in process with the environment GitHub gives the container.
func runAction(t *testing.T, env *githubEnv) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	a := &Action{Getenv: func(k string) string { return env.vars[k] }, Stdout: &o, Stderr: &e}
	err = a.Run(context.Background())
	return o.String(), e.String(), err
}

// assertNoSecret fails when secret is in any file under dir or in any text
// (add-mask lines excepted: they are how the runner learns the value).
func assertNoSecret(t *testing.T, secret, dir string, texts map[string]string) {
	t.Helper()
	for name, text := range texts {
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, secret) && !strings.HasPrefix(line, "::add-mask::") {
				t.Errorf("the secret is in the %s: %s", name, line)
			}
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		// Symlinks are the attack's planted inputs (one reads /proc/self/environ), not output.
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the secret is written in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPublishRequiresRegistry: without a registry (or with a local layout) the action
// refuses to publish before reading a secret, and nothing holding one is written into the
// workspace; a dry run needs no registry.
func TestPublishRequiresRegistry(t *testing.T) {
	for _, registry := range []string{"", "  ", "oci-layout:.cache/oci"} {
		ws := publishRepo(t)
		env := newGitHubEnv(t, ws, "push", map[string]any{"ref": "refs/heads/main"}, map[string]string{
			"command": "publish", "environment": "prd", "registry": registry, "secrets": "DEMO_DB_PASSWORD=" + publishCanary, "dry-run": "false",
		})
		stdout, stderr, err := runAction(t, env)
		if err == nil || !strings.Contains(err.Error(), "input registry is required") {
			t.Errorf("registry %q: err = %v, want a refusal", registry, err)
		}
		if _, err := os.Stat(filepath.Join(ws, ".cache")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("registry %q: .cache exists: %v", registry, err)
		}
		assertNoSecret(t, publishCanary, ws, map[string]string{"stdout": stdout, "stderr": stderr})
	}

	ws := publishRepo(t)
	env := newGitHubEnv(t, ws, "push", map[string]any{"ref": "refs/heads/main"}, map[string]string{
		"command": "publish", "environment": "prd", "registry": "", "secrets": "DEMO_DB_PASSWORD=" + publishCanary, "dry-run": "true",
	})
	stdout, stderr, err := runAction(t, env)
	if err != nil {
		t.Fatalf("dry run without a registry: %v\n%s", err, stderr)
	}
	summary, _ := os.ReadFile(env.summary)
	if !strings.Contains(string(summary), "dry-run") {
		t.Errorf("summary:\n%s", summary)
	}
	assertNoSecret(t, publishCanary, ws, map[string]string{"stdout": stdout, "stderr": stderr, "summary": string(summary)})
}

// TestPublishReadsSecretsOnlyFromInput: a declared variable that is only in the container's
// environment (where the runner keeps its tokens and AWS credentials) is missing.
func TestPublishReadsSecretsOnlyFromInput(t *testing.T) {
	ws := publishRepo(t)
	env := newGitHubEnv(t, ws, "push", map[string]any{"ref": "refs/heads/main"}, map[string]string{
		"command": "publish", "environment": "prd", "secrets": "", "dry-run": "true",
	})
	env.vars["DEMO_DB_PASSWORD"] = publishCanary
	stdout, stderr, err := runAction(t, env)
	var missing *secrets.MissingError
	if !errors.As(err, &missing) || strings.Join(missing.Vars, ",") != "DEMO_DB_PASSWORD" {
		t.Errorf("err = %v, want DEMO_DB_PASSWORD missing: the environment is not a source of secrets", err)
	}
	assertNoSecret(t, publishCanary, ws, map[string]string{"stdout": stdout, "stderr": stderr})
}

// TestSecretsMaskedLineByLine: the runner masks line by line, so each line of a multi-line
// value is masked as well as the whole value.
func TestSecretsMaskedLineByLine(t *testing.T) {
	input := "PLAIN=" + publishCanary + "  \r\n" +
		"PEM<<EOF\r\n-----BEGIN KEY-----\r\nMIIBline1\r\nline2==\r\n\r\n-----END KEY-----\r\nEOF\r\n"
	env := newGitHubEnv(t, t.TempDir(), "push", map[string]any{}, map[string]string{"command": "deploy", "secrets": input})
	stdout, _, err := runAction(t, env)
	if err == nil {
		t.Fatal("unknown command accepted")
	}
	masks := map[string]bool{}
	var list []string
	for _, line := range strings.Split(stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "::add-mask::"); ok {
			masks[v] = true
			list = append(list, v)
		}
	}
	for _, want := range []string{
		publishCanary + "  ", // trailing spaces are part of the value
		"-----BEGIN KEY-----%0AMIIBline1%0Aline2==%0A%0A-----END KEY-----", // the whole value, escaped
		"-----BEGIN KEY-----", "MIIBline1", "line2==", "-----END KEY-----",
	} {
		if !masks[want] {
			t.Errorf("no ::add-mask::%s (masks: %q)", want, list)
		}
	}
	if len(masks) != 6 {
		t.Errorf("masks = %q, want the 6 above (no empty line masked)", list)
	}
}

func TestParseSecrets(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		wantErr  string
	}{
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}, ""},
		{"bytes kept", "A=  padded  \nB==starts with =\n", map[string]string{"A": "  padded  ", "B": "=starts with ="}, ""},
		{"CRLF", "A=x\r\nB=y \r\n", map[string]string{"A": "x", "B": "y "}, ""},
		{"comments and blanks", "# c\n\n  \nA=1\n", map[string]string{"A": "1"}, ""},
		{"indented name", "  A=1", map[string]string{"A": "1"}, ""},
		{"heredoc", "K<<END\nl1\n\nl3 \nEND\nA=1", map[string]string{"K": "l1\n\nl3 ", "A": "1"}, ""},
		{"<< inside a value", "A=x<<y", map[string]string{"A": "x<<y"}, ""},
		{"unclosed heredoc", "K<<END\n" + publishCanary + "\n", nil, "line 1: NAME<<DELIMITER is not closed"},
		{"no equals", publishCanary, nil, "line 1 is not NAME=value"},
		{"space in name", "A B=" + publishCanary, nil, "line 1 is not NAME=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSecrets(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), publishCanary) {
					t.Errorf("err = %v, want %q without the value", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
