package render_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// canary stands for the runner's environment (/proc/self/environ): a symlink points at it,
// and it must appear in no finding, no error and no rendered object.
const canary = "CANARY-render-7d2c91"

const (
	demoChart = "apiVersion: v2\nname: demo\nversion: 0.1.0\n"
	// demoTemplate reads files/x the way a chart embeds a file (.Files.Get).
	demoTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
data:
  greeting: {{ .Values.greeting | quote }}
  file: {{ .Files.Get "files/x" | quote }}
`
	libChart    = "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n"
	libTemplate = `{{- define "lib.label" -}}from-lib{{- end -}}`
	// withLib uses the library chart through a file:// dependency.
	withLib = "apiVersion: v2\nname: demo\nversion: 0.1.0\ndependencies:\n  - name: lib\n    version: 0.1.0\n    repository: %s\n"
	libUser = `apiVersion: v1
kind: ConfigMap
metadata:
  name: lib-user
data:
  label: {{ include "lib.label" . | quote }}
`
)

// fixture is a repository with one application chart (app/demo, environment dev), a
// library chart (charts/lib), and a directory outside it (outside/) holding the canary
// and a chart made of it.
type fixture struct {
	root, outside, secret string
}

func (f fixture) demo(rel string) string { return filepath.Join(f.root, "app/demo", rel) }

func newFixture(t *testing.T) fixture {
	t.Helper()
	base := t.TempDir()
	f := fixture{root: filepath.Join(base, "repo"), outside: filepath.Join(base, "outside")}
	f.secret = filepath.Join(f.outside, "environ")
	testutil.WritePath(t, f.secret, "GITHUB_TOKEN="+canary+"\n")
	testutil.WritePath(t, filepath.Join(f.outside, "lib/Chart.yaml"), libChart)
	testutil.WritePath(t, filepath.Join(f.outside, "lib/templates/_lib.tpl"), `{{- define "lib.label" -}}`+canary+`{{- end -}}`)
	testutil.WritePath(t, filepath.Join(f.outside, "demo/Chart.yaml"), "apiVersion: v2\nname: evil\nversion: 0.1.0\n")
	testutil.WritePath(t, filepath.Join(f.outside, "demo/values-dev.yaml"), "greeting: "+canary+"\n")
	testutil.WritePath(t, f.demo("Chart.yaml"), demoChart)
	testutil.WritePath(t, f.demo("values.yaml"), "greeting: hello\n")
	testutil.WritePath(t, f.demo("values-dev.yaml"), "greeting: dev\n")
	testutil.WritePath(t, f.demo("templates/configmap.yaml"), demoTemplate)
	testutil.WritePath(t, f.demo("files/x"), "plain")
	testutil.WritePath(t, filepath.Join(f.root, "charts/lib/Chart.yaml"), libChart)
	testutil.WritePath(t, filepath.Join(f.root, "charts/lib/templates/_lib.tpl"), libTemplate)
	return f
}

// outcome is everything a render shows: the discovery error, the findings, the objects.
type outcome struct {
	err      error
	findings []report.Finding
	objects  []*render.Object
}

// text is every byte of the outcome a user or a later step could see.
func (o outcome) text(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	if o.err != nil {
		b.WriteString(o.err.Error())
	}
	for _, f := range o.findings {
		b.WriteString(f.String() + "\n")
	}
	data, err := json.Marshal(o.objects)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(data)
	return b.String()
}

// renderDev discovers the repository and renders every application chart for dev,
// failing the test if that does not finish in time (a FIFO read blocks forever).
func renderDev(t *testing.T, root string) outcome {
	t.Helper()
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		repo, err := discovery.Discover(root)
		if err != nil {
			o.err = err
			done <- o
			return
		}
		r := &render.Renderer{Repo: repo}
		for _, c := range repo.Renderable() {
			res, err := r.Render(c, "dev")
			if err != nil {
				o.err = err
				break
			}
			o.findings = append(o.findings, res.Findings...)
			o.objects = append(o.objects, res.Objects...)
		}
		done <- o
	}()
	select {
	case o := <-done:
		return o
	case <-time.After(60 * time.Second):
		t.Fatal("render hung")
		return outcome{}
	}
}

// maxMessage bounds a finding's message: a huge or hostile input is never echoed.
const maxMessage = 500

func TestHostileCharts(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, f fixture)
		// errFile and errRule: Discover fails naming the file and the rule.
		errFile, errRule string
		// rule and file: a finding with them (and path, when set).
		rule, file, path string
		// data, when set, is the rendered ConfigMap's data.
		data map[string]any
		// object names a ConfigMap that must be rendered.
		object string
	}{
		{name: "baseline", data: map[string]any{"greeting": "dev", "file": "plain"}},
		{name: "symlink in templates", rule: repofs.RuleSymlink, file: "app/demo/templates/leak.yaml",
			setup: func(t *testing.T, f fixture) { testutil.Symlink(t, f.secret, f.demo("templates/leak.yaml")) }},
		{name: "symlink read by .Files.Get", rule: repofs.RuleSymlink, file: "app/demo/files/x",
			setup: func(t *testing.T, f fixture) {
				os.Remove(f.demo("files/x"))
				testutil.Symlink(t, f.secret, f.demo("files/x"))
			}},
		{name: "symlink in docs", rule: repofs.RuleSymlink, file: "app/demo/docs/x.txt",
			setup: func(t *testing.T, f fixture) { testutil.Symlink(t, f.secret, f.demo("docs/x.txt")) }},
		// Discovery meets the link first: a link to a directory may hide a chart.
		{name: "symlinked files directory", errRule: repofs.RuleSymlink, errFile: "app/demo/files",
			setup: func(t *testing.T, f fixture) {
				os.RemoveAll(f.demo("files"))
				testutil.WritePath(t, filepath.Join(f.outside, "files/x"), canary)
				testutil.Symlink(t, filepath.Join(f.outside, "files"), f.demo("files"))
			}},
		{name: "symlink as Chart.yaml", errRule: repofs.RuleSymlink, errFile: "app/demo/Chart.yaml",
			setup: func(t *testing.T, f fixture) {
				os.Remove(f.demo("Chart.yaml"))
				testutil.Symlink(t, filepath.Join(f.outside, "demo/Chart.yaml"), f.demo("Chart.yaml"))
			}},
		{name: "symlink as values-dev.yaml", rule: repofs.RuleSymlink, file: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, f fixture) {
				os.Remove(f.demo("values-dev.yaml"))
				testutil.Symlink(t, filepath.Join(f.outside, "demo/values-dev.yaml"), f.demo("values-dev.yaml"))
			}},
		{name: "symlink as a chart directory", errRule: repofs.RuleSymlink, errFile: "app/evil",
			setup: func(t *testing.T, f fixture) {
				testutil.Symlink(t, filepath.Join(f.outside, "demo"), filepath.Join(f.root, "app/evil"))
			}},
		{name: "symlink as a layout root", errRule: repofs.RuleSymlink, errFile: "infra",
			setup: func(t *testing.T, f fixture) { testutil.Symlink(t, f.outside, filepath.Join(f.root, "infra")) }},
		{name: "file:// dependency inside the repository", object: "lib-user",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("Chart.yaml"), strings.Replace(withLib, "%s", "file://../../charts/lib", 1))
				testutil.WritePath(t, f.demo("templates/lib-user.yaml"), libUser)
			}},
		{name: "file:// dependency outside the repository", rule: repofs.RuleOutside, file: "app/demo/Chart.yaml", path: "dependencies[0].repository",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("Chart.yaml"), strings.Replace(withLib, "%s", "file://../../../outside/lib", 1))
				testutil.WritePath(t, f.demo("templates/lib-user.yaml"), libUser)
			}},
		{name: "file:// dependency by absolute path", rule: repofs.RuleOutside, file: "app/demo/Chart.yaml", path: "dependencies[0].repository",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("Chart.yaml"), strings.Replace(withLib, "%s", "file://"+filepath.Join(f.outside, "lib"), 1))
				testutil.WritePath(t, f.demo("templates/lib-user.yaml"), libUser)
			}},
		{name: "file:// dependency holding a symlink", rule: repofs.RuleSymlink, file: "charts/lib/templates/_leak.tpl",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("Chart.yaml"), strings.Replace(withLib, "%s", "file://../../charts/lib", 1))
				testutil.Symlink(t, f.secret, filepath.Join(f.root, "charts/lib/templates/_leak.tpl"))
			}},
		{name: "file:// dependency on a parent directory", rule: "dependency", file: "app/demo/Chart.yaml", path: "dependencies[0].repository",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("Chart.yaml"), strings.Replace(withLib, "%s", "file://..", 1))
			}},
		{name: "chart named ..", errRule: "name", errFile: "app/demo/Chart.yaml",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("Chart.yaml"), "apiVersion: v2\nname: ..\nversion: 0.1.0\n")
			}},
		{name: "chart named with a slash", errRule: "name", errFile: "app/demo/Chart.yaml",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("Chart.yaml"), "apiVersion: v2\nname: ../../../tmp/x\nversion: 0.1.0\n")
			}},
		{name: "values file is a FIFO", rule: repofs.RuleNotRegular, file: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, f fixture) {
				os.Remove(f.demo("values-dev.yaml"))
				if err := syscall.Mkfifo(f.demo("values-dev.yaml"), 0o644); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
			}},
		{name: "values file is a directory", rule: repofs.RuleNotRegular, file: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, f fixture) {
				os.Remove(f.demo("values-dev.yaml"))
				if err := os.Mkdir(f.demo("values-dev.yaml"), 0o755); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "values file over the limit", rule: repofs.RuleTooLarge, file: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("values-dev.yaml"), "greeting: "+strings.Repeat("x", int(repofs.MaxFileSize))+"\n")
			}},
		{name: "deeply nested values", rule: "values", file: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("values-dev.yaml"), "greeting: "+strings.Repeat("[", 100000))
			}},
		{name: "deeply nested defaults", rule: "chart", file: "app/demo/Chart.yaml",
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("values.yaml"), "greeting: "+strings.Repeat("{a: ", 100000))
			}},
		{name: "alias bomb in values", rule: "values", file: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, f fixture) { testutil.WritePath(t, f.demo("values-dev.yaml"), aliasBomb()) }},
		{name: "alias bomb in defaults", rule: "chart", file: "app/demo/Chart.yaml",
			setup: func(t *testing.T, f fixture) { testutil.WritePath(t, f.demo("values.yaml"), aliasBomb()) }},
		{name: "NUL bytes in values", rule: "values", file: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, f fixture) { testutil.WritePath(t, f.demo("values-dev.yaml"), "greeting: a\x00b\n") }},
		{name: "CRLF line endings", data: map[string]any{"greeting": "crlf", "file": "plain"},
			setup: func(t *testing.T, f fixture) {
				testutil.WritePath(t, f.demo("values-dev.yaml"), "# dev\r\ngreeting: crlf\r\n")
				testutil.WritePath(t, f.demo("values.yaml"), "greeting: hello\r\nother: 1\r\n")
				testutil.WritePath(t, f.demo("templates/configmap.yaml"), strings.ReplaceAll(demoTemplate, "\n", "\r\n"))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			o := renderDev(t, f.root)
			text := o.text(t)
			if strings.Contains(text, canary) {
				t.Fatalf("the canary leaked:\n%.2000s", text)
			}
			for _, fd := range o.findings {
				if len(fd.Message) > maxMessage {
					t.Errorf("finding message of %d bytes: %.200s...", len(fd.Message), fd.Message)
				}
			}
			switch {
			case tc.errFile != "":
				if o.err == nil || !strings.Contains(o.err.Error(), tc.errFile+": ") || !strings.Contains(o.err.Error(), tc.errRule) {
					t.Fatalf("error %v, want one naming %s and %s", o.err, tc.errFile, tc.errRule)
				}
				return
			case o.err != nil:
				t.Fatal(o.err)
			}
			if tc.rule != "" {
				if !hasFinding(o.findings, tc.rule, tc.file, tc.path) {
					t.Fatalf("findings:\n%s\nwant rule %s in %s %s", o.text(t), tc.rule, tc.file, tc.path)
				}
				if len(o.objects) > 0 {
					t.Errorf("%d objects rendered from a refused chart", len(o.objects))
				}
				return
			}
			if len(o.findings) > 0 {
				t.Fatalf("findings:\n%s", text)
			}
			if tc.data != nil {
				cm := find(o.objects, "demo")
				if cm == nil {
					t.Fatalf("no ConfigMap demo in %s", text)
				}
				got, _ := json.Marshal(cm.Body["data"])
				want, _ := json.Marshal(tc.data)
				if string(got) != string(want) {
					t.Errorf("data %s, want %s", got, want)
				}
			}
			if tc.object != "" && find(o.objects, tc.object) == nil {
				t.Errorf("no ConfigMap %s in %s", tc.object, text)
			}
		})
	}
}

func hasFinding(fs []report.Finding, rule, file, path string) bool {
	for _, f := range fs {
		if f.Rule == rule && f.File == file && (path == "" || f.Path == path) && f.Severity == report.Error {
			return true
		}
	}
	return false
}

func find(objs []*render.Object, name string) *render.Object {
	for _, o := range objs {
		if o.Kind == "ConfigMap" && o.Name == name {
			return o
		}
	}
	return nil
}

// aliasBomb is a "billion laughs" document: nine levels of nine aliases each.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString(`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "greeting"} {
		b.WriteString(n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n")
		prev = n
	}
	return b.String()
}
