package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// renders is one chart's render with a ConfigMap named name in namespace ns.
func renders(chartID, ns, name string) []*render.Result {
	return []*render.Result{{
		Chart: discovery.Chart{ID: chartID},
		Env:   "dev",
		Objects: []*render.Object{{Template: chartID + "/templates/cm.yaml", APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: name,
			Body: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}}}},
	}}
}

// tree lists every path under dir (relative, slash-separated), for "nothing written".
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFilesRefusesEscapingNames is the plan's own guard, independent of pkg/validate's name
// check: an object whose file name would leave its chart's directory is an error naming
// the object, and no plan is returned.
func TestFilesRefusesEscapingNames(t *testing.T) {
	tests := []struct {
		name, chartID, ns, objName string
	}{
		// Five ".." climb out of release/<env>/; four stay in the plan but leave the chart.
		{"traversal out of the plan", "app/demo", "demo", "../../../../../tmp/x"},
		{"traversal into another chart", "app/demo", "demo", "../../../other/x"},
		{"traversal in the namespace", "app/demo", "../../../../tmp", "x"},
		{"slash", "app/demo", "demo", "a/b"},
		{"backslash", "app/demo", "demo", `a\..\..\b`},
		{"NUL", "app/demo", "demo", "a\x00b"},
		{"too long for a file name", "app/demo", "demo", strings.Repeat("a", 300)},
		{"chart ID climbing out", "../../x", "demo", "demo"},
		{"absolute chart ID", "/etc", "demo", "demo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Files(renders(tt.chartID, tt.ns, tt.objName))
			if err == nil {
				t.Fatalf("no error; files %v", keys(files))
			}
			if files != nil {
				t.Errorf("files returned with the error: %v", keys(files))
			}
			if !strings.Contains(err.Error(), "ConfigMap/") || !strings.Contains(err.Error(), tt.chartID+"/templates/cm.yaml") {
				t.Errorf("error does not name the object and its template: %v", err)
			}
			if len(err.Error()) > 600 || strings.ContainsAny(err.Error(), "\x00\n") {
				t.Errorf("error is not bounded and escaped: %q", err)
			}
		})
	}
	// A valid name gives the usual file.
	files, err := Files(renders("app/demo", "demo", "demo"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["app/demo/demo_configmap_demo.yaml"]; !ok || len(files) != 1 {
		t.Errorf("files = %v", keys(files))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestWriteRefusesEscapingFiles: Write itself refuses a file name that is not a clean
// relative path, whoever built the map, and writes nothing.
func TestWriteRefusesEscapingFiles(t *testing.T) {
	for _, name := range []string{"../x.yaml", "app/../../x.yaml", "/tmp/x.yaml", "a/./b.yaml", "a\x00.yaml", ""} {
		root := t.TempDir()
		dir := filepath.Join(root, "release", "dev")
		err := Write(dir, map[string][]byte{"app/demo/ok.yaml": []byte("ok\n"), name: []byte("x\n")})
		if err == nil {
			t.Errorf("%q: no error", name)
		}
		if got := tree(t, root); len(got) > 2 { // ".", "release"
			t.Errorf("%q: written %v", name, got)
		}
	}
}

// TestWriteRefusesSymlinks: a pull request can commit release (or release/dev) as a link
// to a directory of the runner; the plan is never written through it, and the previous
// content is untouched.
func TestWriteRefusesSymlinks(t *testing.T) {
	files := map[string][]byte{"app/demo/demo_configmap_demo.yaml": []byte("kind: ConfigMap\n")}
	tests := []struct {
		name string
		link string // the path, relative to the repository, that is a link to outside
		env  string // the plan directory written
	}{
		{"release is a link", "release", "release/dev"},
		{"release/dev is a link", "release/dev", "release/dev"},
		{"a deeper plan directory under a link", "release", "release/dev/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, outside := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("runner file\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(repo, filepath.FromSlash(tt.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Fatal(err)
			}

			err := WriteIn(repo, filepath.FromSlash(tt.env), files)
			if err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("WriteIn: err = %v, want a refusal naming the symbolic link", err)
			}
			if got := tree(t, outside); strings.Join(got, ",") != ".,keep" {
				t.Errorf("written through the link: %v", got)
			}

			// Write with the path relative to the working directory checks it as well.
			t.Chdir(repo)
			if err := Write(filepath.FromSlash(tt.env), files); err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("Write: err = %v, want a refusal naming the symbolic link", err)
			}
			if got := tree(t, outside); strings.Join(got, ",") != ".,keep" {
				t.Errorf("written through the link: %v", got)
			}
		})
	}
}

// TestWriteAbsoluteDirLink: with an absolute directory, the directory and its parent are
// checked.
func TestWriteAbsoluteDirLink(t *testing.T) {
	repo, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(repo, "release")); err != nil {
		t.Fatal(err)
	}
	err := Write(filepath.Join(repo, "release", "dev"), map[string][]byte{"app/demo/x.yaml": []byte("x\n")})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("err = %v", err)
	}
	if got := tree(t, outside); len(got) != 1 {
		t.Errorf("written through the link: %v", got)
	}
}

// TestWriteInReplaces: the ordinary case still replaces the directory atomically.
func TestWriteInReplaces(t *testing.T) {
	repo := t.TempDir()
	if err := WriteIn(repo, filepath.Join("release", "dev"), map[string][]byte{"app/demo/old.yaml": []byte("old\n")}); err != nil {
		t.Fatal(err)
	}
	if err := WriteIn(repo, filepath.Join("release", "dev"), map[string][]byte{"app/demo/new.yaml": []byte("new\n")}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tree(t, filepath.Join(repo, "release")), ","); got != ".,dev,dev/app,dev/app/demo,dev/app/demo/new.yaml" {
		t.Errorf("tree = %s", got)
	}
	if err := WriteIn(repo, "../outside", nil); err == nil {
		t.Error("WriteIn accepted a directory outside the root")
	}
}
