package chartsource_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
)

// tinyChart is a chart with one template, enough for Helm's loader and a render.
func tinyChart(name, version string) *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: version, Type: "application"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n")}},
		Values: map[string]any{},
	}
}

// packageChart writes <name>-<version>.tgz into dir as `helm package` does and returns its path.
func packageChart(t *testing.T, dir, name, version string) string {
	t.Helper()
	file, err := chartutil.Save(tinyChart(name, version), dir)
	if err != nil {
		t.Fatalf("package %s %s: %v", name, version, err)
	}
	return file
}

// tgzEntry is one entry of a hand-made archive.
type tgzEntry struct {
	name     string
	typeflag byte
	body     []byte
	size     int64 // when body is nil: a body of that many zero bytes
	link     string
}

// makeTgz builds a gzipped tar archive, hostile entries included.
func makeTgz(t *testing.T, entries ...tgzEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		size := int64(len(e.body))
		if e.body == nil {
			size = e.size
		}
		tf := e.typeflag
		if tf == 0 {
			tf = tar.TypeReg
		}
		if tf != tar.TypeReg {
			size = 0
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tf, Size: size, Mode: 0o644, Linkname: e.link}); err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			body := e.body
			if body == nil {
				body = make([]byte, size)
			}
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chartYAML is the Chart.yaml of a hand-made archive.
func chartYAML(name, version string) []byte {
	return []byte("apiVersion: v2\nname: " + name + "\nversion: " + version + "\n")
}

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantError checks that err is a *chartsource.Error for ref whose message holds every
// part of want, and names the ref's repoURL, chart and version.
func wantError(t *testing.T, err error, ref chartsource.Ref, want ...string) *chartsource.Error {
	t.Helper()
	var ce *chartsource.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *chartsource.Error", err, err)
	}
	if ce.Ref != ref {
		t.Errorf("error's ref = %+v, want %+v", ce.Ref, ref)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
	for _, part := range []string{ref.RepoURL, ref.Chart, ref.Version} {
		if !strings.Contains(msg, part) {
			t.Errorf("error %q does not name %q", msg, part)
		}
	}
	return ce
}

// chartRepo is a Helm repository served over TLS on 127.0.0.1 from a folder, counting
// the requests it answers.
type chartRepo struct {
	srv  *httptest.Server
	dir  string
	url  string // the repository URL (a sub-path, so that relative URLs are resolved)
	mu   sync.Mutex
	hits map[string]int
}

func newChartRepo(t *testing.T, dir string) *chartRepo {
	t.Helper()
	cr := &chartRepo{dir: dir, hits: map[string]int{}}
	files := http.StripPrefix("/charts/", http.FileServer(http.Dir(dir)))
	cr.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr.mu.Lock()
		cr.hits[r.URL.Path]++
		cr.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(cr.srv.Close)
	cr.url = cr.srv.URL + "/charts"
	return cr
}

func (cr *chartRepo) requests() int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	n := 0
	for _, c := range cr.hits {
		n += c
	}
	return n
}

func (cr *chartRepo) hitsOf(path string) int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.hits[path]
}
