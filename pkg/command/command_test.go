package command

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
)

const fixtures = "../validate/testdata"

// platform runs the command tree in-process, as main does.
func platform(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := NewRoot(&out, &errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	var exit *ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.Code
	default:
		errb.WriteString(err.Error())
		code = 1
	}
	return out.String(), errb.String(), code
}

// tree reads every file under dir into path -> content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRenderIsDeterministic(t *testing.T) {
	root := testutil.Repo(t, fixtures+"/base")
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	for _, dir := range []string{a, b} {
		if _, stderr, code := platform(t, "--root", root, "render", "--policies=false", "--env", "prd", "--out", dir); code != 0 {
			t.Fatalf("render: exit %d: %s", code, stderr)
		}
	}
	ta, tb := tree(t, a), tree(t, b)
	if len(ta) != 4 {
		t.Fatalf("plan has %d files, want 4: %v", len(ta), ta)
	}
	for name, content := range ta {
		if tb[name] != content {
			t.Errorf("%s differs between two renders", name)
		}
	}
	s1, _, _ := platform(t, "--root", root, "render", "--policies=false", "--env", "prd", "--out", "-")
	s2, _, _ := platform(t, "--root", root, "render", "--policies=false", "--env", "prd", "--out", "-")
	if s1 != s2 || strings.Count(s1, "\n---\n")+1 != 4 {
		t.Errorf("stream differs between runs or does not hold 4 documents:\n%s", s1)
	}
	want := "app/demo/demo_deployment.apps_demo.yaml"
	if _, ok := ta[want]; !ok {
		t.Errorf("no %s in plan: %v", want, keys(ta))
	}
}

func TestRenderRedactsSecrets(t *testing.T) {
	root := testutil.Repo(t, fixtures+"/base")
	if err := os.WriteFile(filepath.Join(root, "app/demo/values-dev.yaml"), []byte("password: s3cr3t-value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "plan")
	if _, stderr, code := platform(t, "--root", root, "render", "--policies=false", "--env", "dev", "--out", dir); code != 0 {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	secret := tree(t, dir)["app/demo/demo_secret_demo-db.yaml"]
	if !strings.Contains(secret, "password: <redacted>") {
		t.Errorf("secret not redacted:\n%s", secret)
	}
	stream, _, _ := platform(t, "--root", root, "render", "--policies=false", "--env", "dev", "--out", "-")
	for name, content := range map[string]string{"plan": strings.Join(values(tree(t, dir)), "\n"), "stream": stream} {
		if strings.Contains(content, "s3cr3t") {
			t.Errorf("%s holds the secret value", name)
		}
	}
}

func TestFailedRenderLeavesDirUntouched(t *testing.T) {
	good := testutil.Repo(t, fixtures+"/base")
	parent := t.TempDir()
	dir := filepath.Join(parent, "plan")
	if _, stderr, code := platform(t, "--root", good, "render", "--policies=false", "--env", "dev", "--out", dir); code != 0 {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	before := tree(t, dir)
	// Schema and render failures, and (last) the policies: the demo chart is not hardened,
	// so with policies on its prd render has errors.
	for _, fixture := range []string{"unknown-field", "template-syntax", "invalid-yaml-values", "policies"} {
		args := []string{"--root", good, "render", "--env", "prd", "--out", dir}
		if fixture != "policies" {
			bad := testutil.Repo(t, fixtures+"/base", fixtures+"/failure."+fixture)
			args = []string{"--root", bad, "render", "--policies=false", "--env", "dev", "--out", dir}
		}
		_, stderr, code := platform(t, args...)
		if code != 1 || !strings.Contains(stderr, "nothing written") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and 'nothing written'", fixture, code, stderr)
		}
		after := tree(t, dir)
		if len(after) != len(before) {
			t.Errorf("%s: plan dir changed: %v", fixture, keys(after))
		}
		for name, content := range before {
			if after[name] != content {
				t.Errorf("%s: %s changed", fixture, name)
			}
		}
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Errorf("%s: left behind %d entries in the parent directory", fixture, len(entries))
		}
	}
}

func TestValidateExitCodeAndFormats(t *testing.T) {
	good := testutil.Repo(t, fixtures+"/base")
	bad := testutil.Repo(t, fixtures+"/base", fixtures+"/failure.unknown-field")
	tests := []struct {
		root, output string
		code         int
		contains     string
	}{
		{good, "text", 0, "8 objects in 1 charts x 2 envs: 0 errors\n"},
		{bad, "text", 1, `error app/demo [dev] app/demo/templates/deployment.yaml: Deployment/demo/demo: spec.template.spec.containers[0].imagePullPolice: unknown field "imagePullPolice" (schema)`},
		{bad, "json", 1, `"path": "spec.template.spec.containers[0].imagePullPolice"`},
		{bad, "github", 1, "::error file=app/demo/templates/deployment.yaml,title=app/demo [dev] schema::Deployment/demo/demo: spec.template"},
	}
	for _, tt := range tests {
		stdout, stderr, code := platform(t, "--root", tt.root, "validate", "--policies=false", "--output", tt.output)
		if code != tt.code || !strings.Contains(stdout, tt.contains) {
			t.Errorf("validate -o %s: exit %d (want %d), stdout:\n%s\nstderr: %s\nwant it to contain %q", tt.output, code, tt.code, stdout, stderr, tt.contains)
		}
	}
	if _, stderr, code := platform(t, "--root", good, "validate", "--output", "yaml"); code == 0 || !strings.Contains(stderr, `unknown output format "yaml"`) {
		t.Errorf("unknown format: exit %d, %s", code, stderr)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
