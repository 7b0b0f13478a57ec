package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
)

// helmDocsVersion must match HELM_DOCS_VERSION in the Makefile (make docs).
const helmDocsVersion = "v1.14.2"

// helmDocs builds the pinned helm-docs into bin/ (as make docs does) and returns its path.
func helmDocs(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join(root, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(makefile, []byte("HELM_DOCS_VERSION := "+helmDocsVersion+"\n")) {
		t.Fatalf("the Makefile does not pin helm-docs %s like this test", helmDocsVersion)
	}
	cmd := exec.Command("go", "install", "github.com/norwoodj/helm-docs/cmd/helm-docs@"+helmDocsVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build helm-docs: %v\n%s", err, out)
	}
	return filepath.Join(bin, "helm-docs")
}

// TestChartREADMEsAreFresh regenerates every chart's README.md with helm-docs in a copy of
// the charts and compares: a values change without `make docs` fails here. Every chart,
// library charts included, must have one.
func TestChartREADMEsAreFresh(t *testing.T) {
	tool := helmDocs(t)
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, c := range repo.Charts {
		for _, name := range []string{"Chart.yaml", "values.yaml", "README.md.gotmpl"} {
			data, err := os.ReadFile(filepath.Join(c.Dir, name))
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(tmp, filepath.FromSlash(c.ID), name)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command(tool, "--chart-search-root", ".", "--skip-version-footer", "--log-level", "error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm-docs: %v\n%s", err, out)
	}
	for _, c := range repo.Charts {
		want, err := os.ReadFile(filepath.Join(tmp, filepath.FromSlash(c.ID), "README.md"))
		if err != nil {
			t.Errorf("%s: helm-docs generated no README (does it have a values.yaml?)", c.ID)
			continue
		}
		got, err := os.ReadFile(filepath.Join(c.Dir, "README.md"))
		if err != nil {
			t.Errorf("%s/README.md is missing: run make docs", c.ID)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s/README.md is stale: run make docs", c.ID)
		}
		if !strings.Contains(string(want), "## Values") && !c.Library() {
			t.Errorf("%s/README.md documents no values", c.ID)
		}
	}
}
