package diff

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const fixture = "../validate/testdata/base"

// twoCommits scripts a repository: commit 1 is the validate fixture with chart labels;
// commit 2 bumps the chart version (noise only in the labels), scales prd, changes the dev
// password, adds a ConfigMap and removes the VirtualService.
func twoCommits(t *testing.T) string {
	t.Helper()
	dir := testutil.Repo(t, fixture)
	testutil.WriteFile(t, dir, "charts/lib/templates/_labels.tpl", `{{- define "lib.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.Version | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
`)
	testutil.WriteFile(t, dir, "app/demo/values-dev.yaml", "replicas: 1\npassword: first-secret\n")
	testutil.Git(t, dir, "init", "--quiet", "--initial-branch=main")
	testutil.Commit(t, dir, "base")

	chart, err := os.ReadFile(filepath.Join(dir, "app/demo/Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, dir, "app/demo/Chart.yaml", strings.Replace(string(chart), "version: 0.1.0\nkubeVersion", "version: 0.2.0\nkubeVersion", 1))
	testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 3\n")
	testutil.WriteFile(t, dir, "app/demo/values-dev.yaml", "replicas: 1\npassword: second-secret\n")
	testutil.WriteFile(t, dir, "app/demo/templates/configmap.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: demo
  namespace: {{ .Release.Namespace }}
data:
  LOG_LEVEL: info
`)
	if err := os.Remove(filepath.Join(dir, "app/demo/templates/virtualservice.yaml")); err != nil {
		t.Fatal(err)
	}
	testutil.Commit(t, dir, "head")
	return dir
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/diff -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./pkg/diff -update to rewrite):\n%s", name, got)
	}
}

func TestTwoCommitsGolden(t *testing.T) {
	dir := twoCommits(t)
	res, err := (&Differ{Root: dir, Base: "HEAD~1", Head: "HEAD"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range FormatNames() {
		write, _ := Format(format)
		var buf bytes.Buffer
		if err := write(&buf, res); err != nil {
			t.Fatal(err)
		}
		golden(t, "two-commits."+map[string]string{"text": "txt", "markdown": "md", "json": "json"}[format], buf.String())
		for _, secret := range []string{"first-secret", "second-secret"} {
			if strings.Contains(buf.String(), secret) {
				t.Errorf("%s output holds the secret %q", format, secret)
			}
		}
	}
	if got, want := res.Summary(), "dev, prd: 2 added, 2 removed, 2 changed, 4 unchanged"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if got := strings.Join(res.Charts(), ","); got != "app/demo" {
		t.Errorf("charts = %q", got)
	}
	if out, _ := Git(context.Background(), dir, "worktree", "list"); strings.Count(out, "\n") != 0 {
		t.Errorf("worktrees left behind:\n%s", out)
	}
}

func TestWorktreeHead(t *testing.T) {
	dir := twoCommits(t)
	testutil.WriteFile(t, dir, "app/demo/values-prd.yaml", "replicas: 4\n")
	res, err := (&Differ{Root: dir, Base: "HEAD", Envs: []string{"prd"}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Kind != "Deployment" || res.Head != Worktree {
		t.Fatalf("changes = %+v", res.Changes)
	}
	if !strings.Contains(res.Changes[0].Diff, "-  replicas: 3\n+  replicas: 4\n") {
		t.Errorf("diff:\n%s", res.Changes[0].Diff)
	}
}

func TestNoise(t *testing.T) {
	obj := func(version, checksum string) *render.Object {
		return &render.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "ns", Name: "x", Body: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "x", "namespace": "ns", "labels": map[string]any{
				"helm.sh/chart": "x-" + version, "app.kubernetes.io/version": version, "app.kubernetes.io/name": "x",
				"chart": "kube-prometheus-stack-" + version}},
			"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
				"annotations": map[string]any{"checksum/config": checksum, "keep": "me"},
				"labels":      map[string]any{"helm.sh/chart": "x-" + version}}}},
		}}
	}
	tests := []struct {
		name    string
		a, b    *render.Object
		changed bool
	}{
		{"version and checksum only", obj("1.0.0", "aaa"), obj("1.0.1", "bbb"), false},
		{"same", obj("1.0.0", "aaa"), obj("1.0.0", "aaa"), false},
		{"chart label not a chart version", obj("1.0.0", "aaa"), chartLabelled("gateway"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Compare(
				[]*render.Result{{Env: "dev", Objects: []*render.Object{tt.a}}},
				[]*render.Result{{Env: "dev", Objects: []*render.Object{tt.b}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(res.Changes) > 0; got != tt.changed {
				t.Errorf("changed = %v, want %v: %+v", got, tt.changed, res.Changes)
			}
		})
	}
	for _, label := range []string{"kube-prometheus-stack-88.5.3", "grafana-10.1.0-rc.1", "x-v1.2.3"} {
		if _, ok := Normalize(chartLabelled(label))["metadata"].(map[string]any)["labels"].(map[string]any)["chart"]; ok {
			t.Errorf("chart label %q is kept", label)
		}
	}
	for _, label := range []string{"gateway", "1.2.3", "x-1.2"} {
		if _, ok := Normalize(chartLabelled(label))["metadata"].(map[string]any)["labels"].(map[string]any)["chart"]; !ok {
			t.Errorf("chart label %q is dropped: it is not a chart's name and version", label)
		}
	}
	n := Normalize(obj("1.0.0", "aaa"))
	ann := n["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"].(map[string]any)
	if _, ok := ann["keep"]; !ok || len(ann) != 1 {
		t.Errorf("annotations after Normalize = %v, want only keep", ann)
	}
}

func TestMarkdownLimit(t *testing.T) {
	res := &Result{Base: "main", Head: "HEAD", Envs: []string{"dev"}}
	for i := 0; i < 200; i++ {
		res.Changes = append(res.Changes, Change{Key: Key{Env: "dev", Chart: "app/x", APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: strings.Repeat("n", 3) + string(rune('a'+i%26))},
			Action: Changed, Diff: strings.Repeat("+ line of a long diff\n", 2000)})
	}
	for _, limit := range []int{65536, 20000, 3000, 500} {
		md := Markdown(res, limit)
		if len(md) > limit {
			t.Errorf("limit %d: got %d characters", limit, len(md))
		}
		if limit >= 20000 && !strings.Contains(md, "more object diffs are not shown") {
			t.Errorf("limit %d: no note on the omitted objects", limit)
		}
		if limit == 65536 && !strings.Contains(md, "more lines of this diff not shown") {
			t.Errorf("limit %d: no note on the cut diff", limit)
		}
		if strings.Count(md, "<details>") != strings.Count(md, "</details>") {
			t.Errorf("limit %d: unbalanced <details>", limit)
		}
	}
}

// chartLabelled is a Deployment labelled chart: value.
func chartLabelled(value string) *render.Object {
	return &render.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "ns", Name: "x", Body: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "x", "namespace": "ns", "labels": map[string]any{"chart": value}}}}
}
