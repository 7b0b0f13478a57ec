package repofs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
)

// canary is what a symlink points at: it must appear in no result and no error.
const canary = "CANARY-repofs-5e1f0c"

// outsideSecret writes a file outside any repository holding the canary.
func outsideSecret(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "environ")
	testutil.WritePath(t, p, "AWS_SECRET_ACCESS_KEY="+canary+"\n")
	return p
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// sparse makes a file of size bytes without writing them.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	testutil.WritePath(t, path, "")
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// within runs f and fails the test if it does not return in time (a FIFO read blocks).
func within[T any](t *testing.T, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("hung: the read blocked")
		panic("unreachable")
	}
}

// wantRefusal checks err is an *Error with the rule and path, that never quotes the canary.
func wantRefusal(t *testing.T, err error, rule, path string) {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a %s refusal of %s", err, err, rule, path)
	}
	if fe.Rule != rule || fe.Path != path {
		t.Errorf("refusal %q, want rule %s of %s", fe.Error(), rule, path)
	}
	if strings.Contains(err.Error(), canary) {
		t.Errorf("error quotes the canary: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, root, secret string)
		rel   string
		rule  string // "" means read succeeds
		path  string // the refused path
		isErr error  // a plain error matched with errors.Is
	}{
		{name: "regular file", rel: "app/a/values.yaml",
			setup: func(t *testing.T, root, _ string) {
				testutil.WritePath(t, filepath.Join(root, "app/a/values.yaml"), "a: 1\n")
			}},
		{name: "symlink to a secret", rel: "app/a/docs/x.txt", rule: RuleSymlink, path: "app/a/docs/x.txt",
			setup: func(t *testing.T, root, secret string) {
				testutil.Symlink(t, secret, filepath.Join(root, "app/a/docs/x.txt"))
			}},
		{name: "symlink inside the repository", rel: "app/a/values-dev.yaml", rule: RuleSymlink, path: "app/a/values-dev.yaml",
			setup: func(t *testing.T, root, _ string) {
				testutil.WritePath(t, filepath.Join(root, "app/a/values.yaml"), "a: 1\n")
				testutil.Symlink(t, "values.yaml", filepath.Join(root, "app/a/values-dev.yaml"))
			}},
		{name: "symlinked directory on the way", rel: "app/a/docs/x.txt", rule: RuleSymlink, path: "app/a/docs",
			setup: func(t *testing.T, root, secret string) {
				testutil.Symlink(t, filepath.Dir(secret), filepath.Join(root, "app/a/docs"))
				testutil.WritePath(t, filepath.Join(filepath.Dir(secret), "x.txt"), canary)
			}},
		{name: "dot-dot", rel: "app/../../outside", rule: RuleOutside, path: "app/../../outside"},
		{name: "absolute", rel: "/etc/passwd", rule: RuleOutside, path: "/etc/passwd"},
		{name: "empty", rel: "", rule: RuleOutside, path: ""},
		{name: "fifo", rel: "app/a/values-dev.yaml", rule: RuleNotRegular, path: "app/a/values-dev.yaml",
			setup: func(t *testing.T, root, _ string) { mkfifo(t, filepath.Join(root, "app/a/values-dev.yaml")) }},
		{name: "directory", rel: "app/a/values-dev.yaml", rule: RuleNotRegular, path: "app/a/values-dev.yaml",
			setup: func(t *testing.T, root, _ string) {
				if err := os.MkdirAll(filepath.Join(root, "app/a/values-dev.yaml"), 0o755); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "over the size limit", rel: "app/a/values.yaml", rule: RuleTooLarge, path: "app/a/values.yaml",
			setup: func(t *testing.T, root, _ string) { sparse(t, filepath.Join(root, "app/a/values.yaml"), MaxFileSize+1) }},
		{name: "missing", rel: "app/a/values.yaml", isErr: fs.ErrNotExist},
		{name: "file on the way", rel: "app/a/values.yaml/x", isErr: syscall.ENOTDIR,
			setup: func(t *testing.T, root, _ string) {
				testutil.WritePath(t, filepath.Join(root, "app/a/values.yaml"), "a: 1\n")
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, secret := t.TempDir(), outsideSecret(t)
			if tc.setup != nil {
				tc.setup(t, root, secret)
			}
			type result struct {
				data []byte
				err  error
			}
			res := within(t, func() result {
				data, err := ReadFile(root, tc.rel)
				return result{data, err}
			})
			data, err := res.data, res.err
			if bytes.Contains(data, []byte(canary)) {
				t.Fatal("the canary was read")
			}
			switch {
			case tc.isErr != nil:
				if !errors.Is(err, tc.isErr) {
					t.Fatalf("error %v, want %v", err, tc.isErr)
				}
			case tc.rule != "":
				wantRefusal(t, err, tc.rule, tc.path)
			case err != nil:
				t.Fatal(err)
			}
		})
	}
}

// TestReadSwapped replaces the file between the Lstat check and the open: the open file
// is checked again, so the swap is refused rather than read (or waited on).
func TestReadSwapped(t *testing.T) {
	cases := []struct {
		name string
		swap func(t *testing.T, path, secret string)
		rule string
	}{
		{name: "for a symlink", rule: RuleSymlink, swap: func(t *testing.T, path, secret string) { testutil.Symlink(t, secret, path) }},
		{name: "for a fifo", rule: RuleNotRegular, swap: func(t *testing.T, path, _ string) { mkfifo(t, path) }},
		{name: "for another file", rule: RuleChanged, swap: func(t *testing.T, path, _ string) { testutil.WritePath(t, path, canary) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, secret := t.TempDir(), outsideSecret(t)
			path := filepath.Join(root, "values.yaml")
			testutil.WritePath(t, path, "a: 1\n")
			checked, err := lstat(root, "values.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			tc.swap(t, path, secret)
			r, err := os.OpenRoot(root)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			err = within(t, func() error {
				data, err := readIn(r, "values.yaml", checked, MaxFileSize)
				if bytes.Contains(data, []byte(canary)) {
					t.Error("the canary was read")
				}
				return err
			})
			wantRefusal(t, err, tc.rule, "values.yaml")
		})
	}
}

func TestResolve(t *testing.T) {
	cases := []struct {
		base, ref, want string
	}{
		{base: "app/a", ref: "../../charts/common", want: "charts/common"},
		{base: "app/a", ref: "./charts/sub", want: "app/a/charts/sub"},
		{base: "app/a", ref: "..", want: "app"},
		{base: "app/a", ref: "../../..", want: ""},
		{base: "app/a", ref: "../../../outside", want: ""},
		{base: "app/a", ref: "/etc", want: ""},
		{base: "app/a", ref: "", want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := Resolve(tc.base, tc.ref)
			if tc.want == "" {
				var fe *Error
				if !errors.As(err, &fe) || fe.Rule != RuleOutside {
					t.Fatalf("Resolve(%q, %q) = %q, %v; want an %s refusal", tc.base, tc.ref, got, err, RuleOutside)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve(%q, %q) = %q, %v; want %q", tc.base, tc.ref, got, err, tc.want)
			}
		})
	}
}

// TestLimitsAreHelms: the limits are Helm's own, so that neither side refuses what the
// other accepts.
func TestLimitsAreHelms(t *testing.T) {
	if MaxFileSize != loader.MaxDecompressedFileSize || MaxChartSize != loader.MaxDecompressedChartSize {
		t.Errorf("limits %d/%d, Helm's %d/%d", MaxFileSize, MaxChartSize, loader.MaxDecompressedFileSize, loader.MaxDecompressedChartSize)
	}
}

const chartYAML = "apiVersion: v2\nname: demo\nversion: 0.1.0\n"

// chartRoot writes a minimal chart at root/app/demo and returns root.
func chartRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "app/demo")
	testutil.WritePath(t, filepath.Join(dir, "Chart.yaml"), chartYAML)
	testutil.WritePath(t, filepath.Join(dir, "values.yaml"), "a: 1\n")
	testutil.WritePath(t, filepath.Join(dir, "templates/cm.yaml"), "kind: ConfigMap\n")
	return root
}

// entry is one entry of a test archive.
type entry struct {
	name, link string
	typ        byte
	body       string
}

func tgz(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
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

func subChart(name string) entry {
	return entry{name: name + "/Chart.yaml", body: "apiVersion: v2\nname: " + name + "\nversion: 0.1.0\n"}
}

func TestLoadChart(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, root, dir, secret string)
		chart string // default app/demo
		rule  string
		path  string
		check func(t *testing.T, files []*loader.BufferedFile)
	}{
		{name: "plain chart, .helmignore honoured", setup: func(t *testing.T, root, dir, secret string) {
			testutil.WritePath(t, filepath.Join(dir, ".helmignore"), "docs/\n*.bak\n")
			testutil.Symlink(t, secret, filepath.Join(dir, "docs/x.txt")) // ignored, so never read
			testutil.WritePath(t, filepath.Join(dir, "old.bak"), "x")
			testutil.WritePath(t, filepath.Join(dir, "templates/.hidden"), "x") // Helm's default rule
			testutil.WritePath(t, filepath.Join(dir, "files/a.txt"), "\xEF\xBB\xBFbom")
		}, check: func(t *testing.T, files []*loader.BufferedFile) {
			var names []string
			for _, f := range files {
				names = append(names, f.Name)
				if f.Name == "files/a.txt" && string(f.Data) != "bom" {
					t.Errorf("files/a.txt = %q, want its BOM trimmed as Helm does", f.Data)
				}
			}
			if got, want := strings.Join(names, " "), ".helmignore Chart.yaml files/a.txt templates/cm.yaml values.yaml"; got != want {
				t.Errorf("files %s, want %s", got, want)
			}
		}},
		{name: "symlinked template", rule: RuleSymlink, path: "app/demo/templates/leak.yaml",
			setup: func(t *testing.T, root, dir, secret string) {
				testutil.Symlink(t, secret, filepath.Join(dir, "templates/leak.yaml"))
			}},
		{name: "symlink read by .Files.Get", rule: RuleSymlink, path: "app/demo/files/x",
			setup: func(t *testing.T, root, dir, secret string) {
				testutil.Symlink(t, secret, filepath.Join(dir, "files/x"))
			}},
		{name: "symlink in docs", rule: RuleSymlink, path: "app/demo/docs/x.txt",
			setup: func(t *testing.T, root, dir, secret string) {
				testutil.Symlink(t, secret, filepath.Join(dir, "docs/x.txt"))
			}},
		{name: "symlinked Chart.yaml", rule: RuleSymlink, path: "app/demo/Chart.yaml",
			setup: func(t *testing.T, root, dir, secret string) {
				other := filepath.Join(filepath.Dir(secret), "Chart.yaml")
				testutil.WritePath(t, other, chartYAML)
				os.Remove(filepath.Join(dir, "Chart.yaml"))
				testutil.Symlink(t, other, filepath.Join(dir, "Chart.yaml"))
			}},
		{name: "symlinked values-dev.yaml", rule: RuleSymlink, path: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, root, dir, secret string) {
				testutil.Symlink(t, secret, filepath.Join(dir, "values-dev.yaml"))
			}},
		{name: "symlinked .helmignore", rule: RuleSymlink, path: "app/demo/.helmignore",
			setup: func(t *testing.T, root, dir, secret string) {
				testutil.Symlink(t, secret, filepath.Join(dir, ".helmignore"))
			}},
		{name: "symlinked sub-chart directory", rule: RuleSymlink, path: "app/demo/charts/sub",
			setup: func(t *testing.T, root, dir, secret string) {
				testutil.WritePath(t, filepath.Join(filepath.Dir(secret), "sub/Chart.yaml"), "apiVersion: v2\nname: sub\nversion: 0.1.0\n")
				testutil.Symlink(t, filepath.Join(filepath.Dir(secret), "sub"), filepath.Join(dir, "charts/sub"))
			}},
		{name: "symlinked chart directory", chart: "app/link", rule: RuleSymlink, path: "app/link",
			setup: func(t *testing.T, root, dir, secret string) {
				testutil.Symlink(t, dir, filepath.Join(root, "app/link"))
			}},
		{name: "chart directory dot-dot", chart: "app/demo/../../..", rule: RuleOutside, path: "app/demo/../../.."},
		{name: "fifo", rule: RuleNotRegular, path: "app/demo/values-dev.yaml",
			setup: func(t *testing.T, root, dir, secret string) { mkfifo(t, filepath.Join(dir, "values-dev.yaml")) }},
		{name: "file over the limit", rule: RuleTooLarge, path: "app/demo/files/big",
			setup: func(t *testing.T, root, dir, secret string) {
				sparse(t, filepath.Join(dir, "files/big"), MaxFileSize+1)
			}},
		{name: "chart over the limit", rule: RuleTooLarge, path: "app/demo",
			setup: func(t *testing.T, root, dir, secret string) {
				for i := int64(0); i <= MaxChartSize/MaxFileSize; i++ {
					sparse(t, filepath.Join(dir, fmt.Sprintf("files/big%d", i)), MaxFileSize)
				}
			}},
		{name: "too many files", rule: RuleTooLarge, path: "app/demo",
			setup: func(t *testing.T, root, dir, secret string) {
				for i := range MaxChartFiles {
					testutil.WritePath(t, filepath.Join(dir, fmt.Sprintf("files/%d", i)), "")
				}
			}},
		{name: "packaged sub-chart", setup: func(t *testing.T, root, dir, secret string) {
			data := tgz(t, subChart("sub"), entry{name: "sub/templates/cm.yaml", body: "kind: ConfigMap\n"})
			testutil.WritePath(t, filepath.Join(dir, "charts/sub-0.1.0.tgz"), string(data))
		}},
		{name: "packaged sub-chart with a ../ entry", rule: RuleOutside, path: "app/demo/charts/sub-0.1.0.tgz",
			setup: func(t *testing.T, root, dir, secret string) {
				data := tgz(t, subChart("sub"), entry{name: "sub/../../../evil.yaml", body: "x"})
				testutil.WritePath(t, filepath.Join(dir, "charts/sub-0.1.0.tgz"), string(data))
			}},
		{name: "packaged sub-chart with an absolute entry", rule: RuleOutside, path: "app/demo/charts/sub-0.1.0.tgz",
			setup: func(t *testing.T, root, dir, secret string) {
				data := tgz(t, subChart("sub"), entry{name: "/etc/evil.yaml", body: "x"})
				testutil.WritePath(t, filepath.Join(dir, "charts/sub-0.1.0.tgz"), string(data))
			}},
		{name: "packaged sub-chart with a symlink entry", rule: RuleSymlink, path: "app/demo/charts/sub-0.1.0.tgz",
			setup: func(t *testing.T, root, dir, secret string) {
				data := tgz(t, subChart("sub"), entry{name: "sub/files/x", typ: tar.TypeSymlink, link: secret})
				testutil.WritePath(t, filepath.Join(dir, "charts/sub-0.1.0.tgz"), string(data))
			}},
		{name: "packaged sub-chart with a hard link entry", rule: RuleSymlink, path: "app/demo/charts/sub-0.1.0.tgz",
			setup: func(t *testing.T, root, dir, secret string) {
				data := tgz(t, subChart("sub"), entry{name: "sub/files/x", typ: tar.TypeLink, link: "sub/Chart.yaml"})
				testutil.WritePath(t, filepath.Join(dir, "charts/sub-0.1.0.tgz"), string(data))
			}},
		{name: "packaged sub-chart with a device entry", rule: RuleNotRegular, path: "app/demo/charts/sub-0.1.0.tgz",
			setup: func(t *testing.T, root, dir, secret string) {
				data := tgz(t, subChart("sub"), entry{name: "sub/files/x", typ: tar.TypeChar})
				testutil.WritePath(t, filepath.Join(dir, "charts/sub-0.1.0.tgz"), string(data))
			}},
		{name: "symlink entry in a sub-chart packaged in a sub-chart", rule: RuleSymlink, path: "app/demo/charts/sub-0.1.0.tgz!sub/charts/inner-0.1.0.tgz",
			setup: func(t *testing.T, root, dir, secret string) {
				inner := tgz(t, subChart("inner"), entry{name: "inner/files/x", typ: tar.TypeSymlink, link: secret})
				data := tgz(t, subChart("sub"), entry{name: "sub/charts/inner-0.1.0.tgz", body: string(inner)})
				testutil.WritePath(t, filepath.Join(dir, "charts/sub-0.1.0.tgz"), string(data))
			}},
		{name: "packaged sub-chart that is not an archive", rule: RuleArchive, path: "app/demo/charts/sub-0.1.0.tgz",
			setup: func(t *testing.T, root, dir, secret string) {
				testutil.WritePath(t, filepath.Join(dir, "charts/sub-0.1.0.tgz"), "not gzip")
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, secret := chartRoot(t), outsideSecret(t)
			dir := filepath.Join(root, "app/demo")
			if tc.setup != nil {
				tc.setup(t, root, dir, secret)
			}
			chartDir := tc.chart
			if chartDir == "" {
				chartDir = "app/demo"
			}
			type result struct {
				files []*loader.BufferedFile
				err   error
			}
			res := within(t, func() result {
				files, err := ChartFiles(root, chartDir)
				return result{files, err}
			})
			for _, f := range res.files {
				if bytes.Contains(f.Data, []byte(canary)) {
					t.Errorf("the canary was read into %s", f.Name)
				}
			}
			if tc.rule != "" {
				wantRefusal(t, res.err, tc.rule, tc.path)
				return
			}
			if res.err != nil {
				t.Fatal(res.err)
			}
			if tc.check != nil {
				tc.check(t, res.files)
			}
			ch, err := LoadChart(root, chartDir)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Name() != "demo" {
				t.Errorf("loaded %q", ch.Name())
			}
		})
	}
}
