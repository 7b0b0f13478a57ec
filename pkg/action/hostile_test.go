package action

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasregistry "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/github/githubtest"
)

// The hostile-input suite: the action's entrypoint, built as the Dockerfile builds it, run
// on a release branch whose author is an attacker (SECURITY.md, "A pull-request author").
// Each case plants one attack and asserts the outcome: the run fails naming the file and
// the rule, nothing is written where it must not be, and a canary secret, present in the
// process environment, in the token and in a file outside the repository, appears in no
// output, file, log, commit or comment.

// canary is the secret every case tries to exfiltrate.
const canary = "CANARY-5b0e1c7d-do-not-leak"

type hostileCase struct {
	name string
	// plant changes the checkout of the release branch (the change is committed).
	plant func(t *testing.T, ws, outside string)
	// want are substrings of stdout+stderr (the error names file and rule).
	want []string
	// ok means the run is expected to succeed (the attack is neutralised, not refused).
	ok bool
	// worktree plants the attack after the commit, in the checkout only (git cannot hold
	// a FIFO; a workflow step before the action could make one).
	worktree bool
	// github prepares the pull request on GitHub (the fake) before the run, and check
	// asserts its state after.
	github func(fake *githubtest.Server)
	check  func(t *testing.T, fake *githubtest.Server)
}

// hostileRepo is releaseRepo with the attack planted and committed on release/1.0, plus a
// directory outside the repository holding the canary.
func hostileRepo(t *testing.T, tc hostileCase) (ws, outside string) {
	t.Helper()
	ws = releaseRepo(t)
	outside = t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("token="+canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tc.plant(t, ws, outside)
	if !tc.worktree {
		testutil.Commit(t, ws, "attack")
	}
	return ws, outside
}

// configMapTemplate renders a ConfigMap whose data is the content of a chart file.
const configMapTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: leak
  namespace: {{ .Release.Namespace }}
data:
  leak: {{ .Files.Get "files/env" | quote }}
`

func hostileCases() []hostileCase {
	return []hostileCase{
		{
			name: "symlink-to-proc-environ-in-files",
			plant: func(t *testing.T, ws, _ string) {
				testutil.Symlink(t, "/proc/self/environ", filepath.Join(ws, "app/demo/files/env"))
				testutil.WriteFile(t, ws, "app/demo/templates/leak.yaml", configMapTemplate)
			},
			want: []string{"app/demo/files/env", "symlink"},
		},
		{
			name: "symlink-outside-the-repository-in-docs",
			plant: func(t *testing.T, ws, outside string) {
				testutil.Symlink(t, filepath.Join(outside, "secret.txt"), filepath.Join(ws, "app/demo/docs/x.txt"))
			},
			want: []string{"app/demo/docs/x.txt", "symlink"},
		},
		{
			name: "relative-symlink-as-template",
			plant: func(t *testing.T, ws, outside string) {
				testutil.WriteFile(t, outside, "leak.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\n  namespace: demo\ndata:\n  token: "+canary+"\n")
				rel, err := filepath.Rel(filepath.Join(ws, "app/demo/templates"), filepath.Join(outside, "leak.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				testutil.Symlink(t, rel, filepath.Join(ws, "app/demo/templates/notes.yaml"))
			},
			want: []string{"app/demo/templates/notes.yaml", "symlink"},
		},
		{
			name: "symlinked-values-file",
			plant: func(t *testing.T, ws, outside string) {
				testutil.WriteFile(t, outside, "values.yaml", "image: registry.example/demo:"+canary+"\n")
				os.Remove(filepath.Join(ws, "app/demo/values-prd.yaml"))
				testutil.Symlink(t, filepath.Join(outside, "values.yaml"), filepath.Join(ws, "app/demo/values-prd.yaml"))
			},
			want: []string{"app/demo/values-prd.yaml", "symlink"},
		},
		{
			name: "file-dependency-outside-the-repository",
			plant: func(t *testing.T, ws, outside string) {
				testutil.WriteFile(t, outside, "lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n")
				chart, err := os.ReadFile(filepath.Join(ws, "app/demo/Chart.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				rel, err := filepath.Rel(filepath.Join(ws, "app/demo"), filepath.Join(outside, "lib"))
				if err != nil {
					t.Fatal(err)
				}
				testutil.WriteFile(t, ws, "app/demo/Chart.yaml", strings.Replace(string(chart), "file://../../charts/lib", "file://"+rel, 1))
			},
			want: []string{"app/demo/Chart.yaml", "outside"},
		},
		{
			name: "object-name-traversal",
			plant: func(t *testing.T, ws, outside string) {
				testutil.WriteFile(t, ws, "app/demo/templates/configmap.yaml",
					"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../../../../../../.."+filepath.ToSlash(outside)+"/pwned\n  namespace: demo\ndata: {}\n")
			},
			want: []string{"app/demo/templates/configmap.yaml", "metadata.name"},
		},
		{
			name: "object-name-injects-markdown-and-workflow-commands",
			plant: func(t *testing.T, ws, _ string) {
				testutil.WriteFile(t, ws, "app/demo/templates/configmap.yaml",
					"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x</details><!-- @acme/admins ![i](https://evil.example/i.png)\\n::warning::pwned\\n::add-mask::x\"\n  namespace: demo\ndata: {}\n")
			},
			want: []string{"app/demo/templates/configmap.yaml", "metadata.name"},
		},
		{
			name: "values-file-is-a-fifo",
			plant: func(t *testing.T, ws, _ string) {
				p := filepath.Join(ws, "app/demo/values-prd.yaml")
				os.Remove(p)
				if err := syscall.Mkfifo(p, 0o644); err != nil {
					t.Fatalf("mkfifo: %v", err)
				}
			},
			want:     []string{"app/demo/values-prd.yaml"},
			worktree: true,
		},
		{
			name: "ten-megabyte-template",
			plant: func(t *testing.T, ws, _ string) {
				testutil.WriteFile(t, ws, "app/demo/templates/configmap.yaml",
					"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "+strings.Repeat("a", 10<<20)+"\n  namespace: demo\ndata: {}\n")
			},
			want: []string{"app/demo/templates/configmap.yaml", "too-large"},
		},
		{
			name: "ten-megabyte-object-name-rendered",
			plant: func(t *testing.T, ws, _ string) {
				testutil.WriteFile(t, ws, "app/demo/templates/configmap.yaml",
					"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ repeat 10485760 \"a\" }}\n  namespace: demo\ndata: {}\n")
			},
			want: []string{"app/demo/templates/configmap.yaml", "metadata.name"},
		},
		{
			name: "namespace-with-nul-and-crlf",
			plant: func(t *testing.T, ws, _ string) {
				testutil.WriteFile(t, ws, "app/demo/templates/configmap.yaml",
					"apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: ok\r\n  namespace: \"demo\\0\\r\\n::warning::pwned\"\r\ndata: {}\r\n")
			},
			want: []string{"app/demo/templates/configmap.yaml", "metadata.namespace"},
		},
		{
			name: "chart-named-dot-dot",
			plant: func(t *testing.T, ws, _ string) {
				testutil.WriteFile(t, ws, "app/evil/Chart.yaml", "apiVersion: v2\nname: ..\nversion: 0.1.0\n")
				testutil.WriteFile(t, ws, "app/evil/values-dev.yaml", "{}\n")
				testutil.WriteFile(t, ws, "app/evil/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: demo\n")
			},
			want: []string{"app/evil/Chart.yaml"},
		},
		{
			// An attacker comments first with the marker, hoping to own "the plan" and edit
			// it later: the action leaves that comment alone and posts its own.
			name:  "sticky-comment-hijack",
			plant: func(t *testing.T, ws, _ string) {},
			ok:    true,
			github: func(fake *githubtest.Server) {
				fake.AddComment(7, "mallory", "User", Marker+"\nLGTM, approved by @acme/admins")
			},
			check: func(t *testing.T, fake *githubtest.Server) {
				cs := fake.Comments(7)
				if len(cs) != 2 || cs[0].Author != "mallory" || !strings.Contains(cs[0].Body, "LGTM") {
					t.Fatalf("comments = %+v: want mallory's untouched and the bot's own", cs)
				}
				if cs[1].AuthorType != "Bot" || !strings.Contains(cs[1].Body, "Manifest diff") {
					t.Errorf("the plan comment is %+v", cs[1])
				}
			},
		},
	}
}

// hostileRun runs the plan on the attacked branch as a pull request with a GitHub API
// (the fake) and returns everything the run produced that a person or the attacker could
// read: stdout, stderr, outputs, step summary, the files of the branch on GitHub and the
// comments.
func hostileRun(t *testing.T, bin []string, ws string, tc hostileCase) (out string, code int, fake *githubtest.Server) {
	t.Helper()
	fake = githubtest.New(t, "acme", "manifests")
	if tc.github != nil {
		tc.github(fake)
	}
	fake.Seed("release/1.0", map[string]string{"README.md": "manifests\n"})
	mainSHA := testutil.Git(t, ws, "rev-parse", "main")
	fake.AddPull(githubtest.PullRequest{Number: 7, HeadRef: "release/1.0", BaseRef: "main", BaseSHA: mainSHA})
	repo := map[string]any{"full_name": "acme/manifests", "name": "manifests", "owner": map[string]any{"login": "acme"}}
	payload := map[string]any{"number": 7, "pull_request": map[string]any{
		"number": 7, "title": "<!-- platform-plan --> @acme/admins",
		"head": map[string]any{"ref": "release/1.0", "repo": repo}, "base": map[string]any{"ref": "main", "sha": mainSHA, "repo": repo},
	}}
	env := newGitHubEnv(t, ws, "pull_request", payload, map[string]string{"command": "plan", "github-token": "ghs_" + canary})
	env.vars["GITHUB_API_URL"] = fake.APIURL()
	env.vars["PLATFORM_CANARY"] = canary
	env.vars["GITHUB_REF"], env.vars["GITHUB_HEAD_REF"], env.vars["GITHUB_BASE_REF"] = "refs/pull/7/merge", "release/1.0", "main"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdout, stderr, code := env.runContext(t, ctx, bin)
	if ctx.Err() != nil {
		t.Fatalf("the run did not finish in time (a hang on hostile input)\nstderr:\n%s", stderr)
	}
	var all strings.Builder
	all.WriteString(stdout + stderr)
	for _, p := range []string{env.output, env.summary} {
		b, _ := os.ReadFile(p)
		all.Write(b)
	}
	for _, c := range fake.Comments(7) {
		all.WriteString(c.Body)
	}
	if head := fake.Head("release/1.0"); head != nil {
		for _, content := range fake.Files(head.SHA) {
			all.WriteString(content)
		}
	}
	return all.String(), code, fake
}

// TestHostilePullRequest is the suite: one subtest per attack.
func TestHostilePullRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the action's binary")
	}
	bin := buildEntrypoint(t)
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			ws, outside := hostileRepo(t, tc)
			out, code, fake := hostileRun(t, bin, ws, tc)
			if tc.ok != (code == 0) {
				t.Fatalf("exit %d (want success %v)\n%s", code, tc.ok, bounded(out))
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the output does not name %q:\n%s", w, bounded(out))
				}
			}
			assertNoCanary(t, out, ws, outside)
			if head := fake.Head("release/1.0"); head != nil && len(head.Parents) > 0 && !tc.ok {
				t.Errorf("a failed plan was committed to the branch: %+v", head)
			}
			assertSafeLog(t, out)
			assertSafeMarkdown(t, fake)
			if tc.check != nil {
				tc.check(t, fake)
			}
			if len(out) > 1<<20 {
				t.Errorf("the run printed %d bytes: hostile input must be bounded in every output", len(out))
			}
		})
	}
}

// assertNoCanary greps every output and every file the run could have written: the
// workspace (except git's compressed objects), and the directory outside the repository.
func assertNoCanary(t *testing.T, out, ws, outside string) {
	t.Helper()
	// The one place the token may appear is the command that tells the runner to mask it.
	masked := strings.ReplaceAll(out, "::add-mask::ghs_"+canary+"\n", "")
	if i := strings.Index(masked, canary); i >= 0 {
		t.Errorf("the canary leaked into the outputs: …%s…", masked[max(0, i-200):min(len(masked), i+100)])
	}
	check := func(root string, skip func(string) bool) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 || (d.Type()&^fs.ModeDir) != 0 {
				return nil
			}
			if d.IsDir() {
				if skip(p) {
					return fs.SkipDir
				}
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(canary)) && !strings.HasPrefix(p, outside+string(filepath.Separator)) {
				t.Errorf("the canary leaked into %s", p)
			}
			return nil
		})
	}
	check(ws, func(p string) bool { return filepath.Base(p) == ".git" })
	entries, _ := os.ReadDir(outside)
	for _, e := range entries {
		if !map[string]bool{"secret.txt": true, "leak.yaml": true, "values.yaml": true, "lib": true}[e.Name()] {
			t.Errorf("the run wrote %s outside the repository", filepath.Join(outside, e.Name()))
		}
	}
	// The local git history: a plan committed locally would hold the leak.
	cmd := exec.Command("git", "log", "--all", "-p")
	cmd.Dir = ws
	if b, err := cmd.Output(); err == nil && bytes.Contains(b, []byte(canary)) {
		t.Error("the canary leaked into the repository's git history")
	}
}

// workflowCommand matches a line the runner would parse as a workflow command.
var workflowCommand = regexp.MustCompile(`(?m)^::[a-z-]+`)

// assertSafeLog: no line of the log is a workflow command the attacker wrote (the
// action's own annotations may quote the hostile name, escaped, in their message).
func assertSafeLog(t *testing.T, out string) {
	t.Helper()
	for _, m := range workflowCommand.FindAllStringIndex(out, -1) {
		line := out[m[0]:]
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if strings.HasPrefix(line, "::warning::pwned") || line == "::add-mask::x" {
			t.Errorf("attacker text became a workflow command: %q", line)
		}
	}
}

// assertSafeMarkdown: the comment the plan posts has no markup the attacker wrote: HTML
// comments other than the marker, unbalanced <details>, mentions, images.
func assertSafeMarkdown(t *testing.T, fake *githubtest.Server) {
	t.Helper()
	for _, c := range fake.Comments(7) {
		if c.AuthorType != "Bot" {
			continue // the attacker's own comment
		}
		body := strings.Replace(c.Body, Marker, "", 1)
		for _, bad := range []string{"<!--", "-->", "![", "<img", "@acme/admins"} {
			if strings.Contains(body, bad) {
				t.Errorf("the comment contains %q:\n%s", bad, bounded(c.Body))
			}
		}
		if o, cl := strings.Count(body, "<details>"), strings.Count(body, "</details>"); o != cl {
			t.Errorf("the comment has %d <details> and %d </details>:\n%s", o, cl, bounded(c.Body))
		}
	}
}

func bounded(s string) string {
	if len(s) > 8000 {
		return s[:8000] + "\n… (cut)"
	}
	return s
}

// TestHostilePublish is the main-branch side: a merged chart with a symlink to the
// runner's environment is refused before anything is pushed, and a clean publish bakes the
// declared secret, and only it, into the pushed package.
func TestHostilePublish(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the action's binary")
	}
	bin := buildEntrypoint(t)
	srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	publish := func(t *testing.T, ws string) (string, int) {
		t.Helper()
		env := newGitHubEnv(t, ws, "push", map[string]any{"ref": "refs/heads/main"}, map[string]string{
			"command": "publish", "environment": "prd", "registry": host + "/charts",
			"secrets": "DEMO_DB_PASSWORD=" + publishCanary, "dry-run": "false",
		})
		env.vars["PLATFORM_CANARY"] = canary
		env.vars["SSL_CERT_FILE"] = caFile
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		stdout, stderr, code := env.runContext(t, ctx, bin)
		summary, _ := os.ReadFile(env.summary)
		output, _ := os.ReadFile(env.output)
		texts := map[string]string{"stdout": stdout, "stderr": stderr, "summary": string(summary), "outputs": string(output)}
		assertNoSecret(t, publishCanary, ws, texts)
		assertNoSecret(t, canary, ws, texts) // the runner's environment
		return stdout + stderr, code
	}
	reg, err := remote.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	reg.Client = &auth.Client{Client: srv.Client()}
	catalog := func(t *testing.T) []string {
		t.Helper()
		var repos []string
		if err := reg.Repositories(context.Background(), "", func(r []string) error { repos = append(repos, r...); return nil }); err != nil {
			t.Fatal(err)
		}
		return repos
	}

	t.Run("symlink-to-proc-environ", func(t *testing.T) {
		ws := publishRepo(t)
		testutil.Symlink(t, "/proc/self/environ", filepath.Join(ws, "app/demo/docs/x.txt"))
		out, code := publish(t, ws)
		if code == 0 || !strings.Contains(out, "app/demo/docs/x.txt") || !strings.Contains(out, "symlink") {
			t.Errorf("exit %d, want a refusal naming app/demo/docs/x.txt and the rule:\n%s", code, bounded(out))
		}
		if repos := catalog(t); len(repos) != 0 {
			t.Errorf("registry holds %v: nothing may be pushed", repos)
		}
	})
	t.Run("clean", func(t *testing.T) {
		ws := publishRepo(t)
		out, code := publish(t, ws)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, bounded(out))
		}
		repos := catalog(t)
		if len(repos) != 1 {
			t.Fatalf("registry holds %v, want the demo chart", repos)
		}
		pkg := pulledChart(t, reg, repos[0])
		if !strings.Contains(pkg, publishCanary) {
			t.Error("the declared secret is not baked into the package")
		}
		if strings.Contains(pkg, canary) {
			t.Error("the runner's environment is in the package")
		}
	})
}

// pulledChart is the decompressed content of every layer of every tag of repository.
func pulledChart(t *testing.T, reg *remote.Registry, name string) string {
	t.Helper()
	ctx := context.Background()
	repo, err := reg.Repository(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := orasregistry.Tags(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, tag := range tags {
		desc, err := repo.Resolve(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := content.FetchAll(ctx, repo, desc)
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		for _, l := range m.Layers {
			b, err := content.FetchAll(ctx, repo.Blobs(), l)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(&all, io.LimitReader(zr, 64<<20)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return all.String()
}
