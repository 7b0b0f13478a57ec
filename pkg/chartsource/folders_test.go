package chartsource_test

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
)

// sharedCharts is ../shared/charts seen from this package's directory: the official
// charts packaged for offline tests, absent from a user's clone.
const sharedCharts = "../../../shared/charts"

// noNetwork is a repository URL no test may reach: every charts-from case must resolve
// without it (a request there fails, so a fallback to the network would show).
const noNetwork = "https://127.0.0.1:1/charts"

func TestChartsFrom(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, a, b string) // two folders, searched in order
		ref     chartsource.Ref
		offline bool
		max     int64    // MaxArchiveSize
		want    string   // the archive expected, relative to the folders' parent; "" for an error
		errWant []string // parts of the error message
	}{
		{
			name:  "tiny chart packaged by Helm",
			setup: func(t *testing.T, a, b string) { packageChart(t, a, "tiny", "0.1.0") },
			ref:   chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.1.0"},
			want:  "a/tiny-0.1.0.tgz",
		},
		{
			name: "second folder when the first lacks it, offline",
			setup: func(t *testing.T, a, b string) {
				packageChart(t, a, "tiny", "0.1.0")
				packageChart(t, b, "tiny", "0.2.0")
			},
			ref:     chartsource.Ref{RepoURL: "public.ecr.aws/charts", Chart: "tiny", Version: "0.2.0"},
			offline: true,
			want:    "b/tiny-0.2.0.tgz",
		},
		{
			name:  "a v-prefixed version",
			setup: func(t *testing.T, a, b string) { packageChart(t, a, "tiny", "v0.6.0") },
			ref:   chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "v0.6.0"},
			want:  "a/tiny-v0.6.0.tgz",
		},
		{
			name: "renamed archive refused",
			setup: func(t *testing.T, a, b string) {
				f := packageChart(t, a, "tiny", "0.1.0")
				if err := os.Rename(f, filepath.Join(a, "tiny-0.2.0.tgz")); err != nil {
					t.Fatal(err)
				}
			},
			ref:     chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.2.0"},
			errWant: []string{"tiny-0.2.0.tgz holds chart tiny version 0.1.0"},
		},
		{
			name: "another chart renamed refused, even when a later folder has the right one",
			setup: func(t *testing.T, a, b string) {
				f := packageChart(t, a, "other", "1.0.0")
				if err := os.Rename(f, filepath.Join(a, "tiny-1.0.0.tgz")); err != nil {
					t.Fatal(err)
				}
				packageChart(t, b, "tiny", "1.0.0")
			},
			ref:     chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "1.0.0"},
			errWant: []string{"holds chart other version 1.0.0"},
		},
		{
			name: "version missing lists the versions available",
			setup: func(t *testing.T, a, b string) {
				packageChart(t, a, "tiny", "0.3.0")
				packageChart(t, a, "tiny", "0.10.0")
				packageChart(t, a, "tiny-extra", "9.0.0") // another chart, not a version of tiny
				writeFile(t, filepath.Join(a, "tiny-notes.txt"), []byte("x"))
			},
			ref:     chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.2.0"},
			offline: true,
			errWant: []string{"offline, and not in ", "/a (has 0.3.0, 0.10.0)", "/b (has no version of it)"},
		},
		{
			name: "symlink refused",
			setup: func(t *testing.T, a, b string) {
				f := packageChart(t, b, "tiny", "0.1.0")
				if err := os.Symlink(f, filepath.Join(a, "tiny-0.1.0.tgz")); err != nil {
					t.Fatal(err)
				}
			},
			ref:     chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.1.0"},
			errWant: []string{"unreadable --charts-from archive", "is a symbolic link, not a regular file"},
		},
		{
			name: "FIFO refused without blocking",
			setup: func(t *testing.T, a, b string) {
				if err := syscall.Mkfifo(filepath.Join(a, "tiny-0.1.0.tgz"), 0o644); err != nil {
					t.Skipf("no FIFO here: %v", err)
				}
			},
			ref:     chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.1.0"},
			errWant: []string{"is a FIFO, not a regular file"},
		},
		{
			name:    "archive over the size limit",
			setup:   func(t *testing.T, a, b string) { packageChart(t, a, "tiny", "0.1.0") },
			ref:     chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.1.0"},
			max:     100,
			errWant: []string{"unreadable --charts-from archive", "over the limit of 100"},
		},
		{
			name:    "missing folder is an error, not a skip",
			setup:   func(t *testing.T, a, b string) { os.Remove(b) },
			ref:     chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.1.0"},
			offline: true,
			errWant: []string{"unreadable --charts-from dir"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			a, b := filepath.Join(parent, "a"), filepath.Join(parent, "b")
			for _, d := range []string{a, b} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			tc.setup(t, a, b)
			r := &chartsource.Resolver{ChartsFrom: []string{a, b}, Offline: tc.offline, MaxArchiveSize: tc.max}
			got, err := r.Resolve(context.Background(), tc.ref)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("resolved %s from %s, want an error", tc.ref.Chart, got.Origin)
				}
				wantError(t, err, tc.ref, tc.errWant...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(parent, tc.want)
			if got.Origin != file || got.Digest != sha(readFile(t, file)) {
				t.Errorf("origin %s digest %s, want %s %s", got.Origin, got.Digest, file, sha(readFile(t, file)))
			}
			if got.Chart.Name() != tc.ref.Chart || got.Chart.Metadata.Version != tc.ref.Version || got.Ref != tc.ref {
				t.Errorf("resolved %s %s for %+v", got.Chart.Name(), got.Chart.Metadata.Version, got.Ref)
			}
		})
	}
}

// TestSharedCharts resolves a real official chart (kube-prometheus-stack, with its
// packaged sub-charts) from ../shared/charts offline, and lists its versions when asked
// for one that is not there.
func TestSharedCharts(t *testing.T) {
	if _, err := os.Stat(sharedCharts); err != nil {
		t.Skipf("no %s (a clone without ../shared: the official charts are packaged there for offline tests): %v", sharedCharts, err)
	}
	r := &chartsource.Resolver{ChartsFrom: []string{sharedCharts}, Offline: true}
	ref := chartsource.Ref{RepoURL: "https://prometheus-community.github.io/helm-charts", Chart: "kube-prometheus-stack", Version: "88.5.3"}
	got, err := r.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(sharedCharts, "kube-prometheus-stack-88.5.3.tgz")
	if got.Digest != sha(readFile(t, file)) || got.Origin != file {
		t.Errorf("digest %s origin %s", got.Digest, got.Origin)
	}
	var deps []string
	for _, d := range got.Chart.Dependencies() {
		deps = append(deps, d.Name())
	}
	if !strings.Contains(strings.Join(deps, ","), "grafana") {
		t.Errorf("sub-charts %v, want grafana among them", deps)
	}
	missing := chartsource.Ref{RepoURL: ref.RepoURL, Chart: ref.Chart, Version: "92.1.0"}
	_, err = r.Resolve(context.Background(), missing)
	wantError(t, err, missing, "not in "+sharedCharts+" (has 88.4.0, 88.5.3)")
}

// TestHostileArchives: every archive check refuses an archive that breaks it, before Helm
// unpacks it.
func TestHostileArchives(t *testing.T) {
	cy := tgzEntry{name: "tiny/Chart.yaml", body: chartYAML("tiny", "0.1.0")}
	nested := func(entries ...tgzEntry) tgzEntry {
		return tgzEntry{name: "tiny/charts/sub-1.0.0.tgz", body: makeTgz(t, append([]tgzEntry{{name: "sub/Chart.yaml", body: chartYAML("sub", "1.0.0")}}, entries...)...)}
	}
	tests := []struct {
		name    string
		data    []byte
		errWant string
	}{
		{"valid hand-made archive", makeTgz(t, cy, tgzEntry{name: "tiny/templates/a.yaml", body: []byte("a: 1\n")}), ""},
		{"valid with a packaged sub-chart", makeTgz(t, cy, nested()), ""},
		{"symlink entry", makeTgz(t, cy, tgzEntry{name: "tiny/templates/env.yaml", typeflag: tar.TypeSymlink, link: "/proc/self/environ"}), "link entries are never unpacked"},
		{"hard link entry", makeTgz(t, cy, tgzEntry{name: "tiny/templates/x.yaml", typeflag: tar.TypeLink, link: "tiny/Chart.yaml"}), "link entries are never unpacked"},
		{"parent directory entry", makeTgz(t, cy, tgzEntry{name: "tiny/../../etc/x", body: []byte("x")}), "the path leaves the chart"},
		{"absolute entry", makeTgz(t, cy, tgzEntry{name: "/etc/x", body: []byte("x")}), "the path leaves the chart"},
		{"device entry", makeTgz(t, cy, tgzEntry{name: "tiny/dev", typeflag: tar.TypeChar}), "is not a regular file"},
		{"file over Helm's per-file limit", makeTgz(t, cy, tgzEntry{name: "tiny/big.txt", size: 5<<20 + 1}), "larger than the limit"},
		{"symlink inside a packaged sub-chart", makeTgz(t, cy, nested(tgzEntry{name: "sub/templates/x.yaml", typeflag: tar.TypeSymlink, link: "/etc/passwd"})), "tiny/charts/sub-1.0.0.tgz: archive entry"},
		{"not gzip", []byte("PK\x03\x04 a zip"), "not a gzipped tar archive"},
		{"no Chart.yaml", makeTgz(t, tgzEntry{name: "tiny/values.yaml", body: []byte("a: 1\n")}), "unsafe or invalid chart archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "tiny-0.1.0.tgz"), tc.data)
			ref := chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.1.0"}
			got, err := (&chartsource.Resolver{ChartsFrom: []string{dir}, Offline: true}).Resolve(context.Background(), ref)
			if tc.errWant == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.Chart.Name() != "tiny" {
					t.Errorf("chart %s", got.Chart.Name())
				}
				return
			}
			if err == nil {
				t.Fatal("resolved, want a refusal")
			}
			wantError(t, err, ref, "unsafe or invalid chart archive", tc.errWant)
		})
	}
}

// TestInvalidRefs: every part of a ref is validated before it becomes a file name, a URL
// or a message, and the message still names what was asked (quoted when it is hostile).
func TestInvalidRefs(t *testing.T) {
	dir := t.TempDir()
	packageChart(t, dir, "tiny", "0.1.0")
	tests := []struct {
		name    string
		ref     chartsource.Ref
		errWant string
	}{
		{"parent directory chart", chartsource.Ref{RepoURL: noNetwork, Chart: "../tiny", Version: "0.1.0"}, "invalid chart name"},
		{"chart with a slash", chartsource.Ref{RepoURL: noNetwork, Chart: "a/tiny", Version: "0.1.0"}, "invalid chart name"},
		{"empty chart", chartsource.Ref{RepoURL: noNetwork, Chart: "", Version: "0.1.0"}, "invalid chart name"},
		{"version range", chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "^0.1.0"}, "not an exact chart version"},
		{"version wildcard", chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "0.1.*"}, "not an exact chart version"},
		{"version not semver", chartsource.Ref{RepoURL: noNetwork, Chart: "tiny", Version: "main"}, "not an exact chart version"},
		{"empty repoURL", chartsource.Ref{RepoURL: "", Chart: "tiny", Version: "0.1.0"}, "invalid repoURL"},
		{"credentials in repoURL", chartsource.Ref{RepoURL: "https://user:pw@127.0.0.1:1/charts", Chart: "tiny", Version: "0.1.0"}, "no credentials"},
		{"git repoURL", chartsource.Ref{RepoURL: "ssh://git@github.com/x/y", Chart: "tiny", Version: "0.1.0"}, "unsupported repoURL scheme"},
		{"file repoURL", chartsource.Ref{RepoURL: "file:///etc", Chart: "tiny", Version: "0.1.0"}, "unsupported repoURL scheme"},
		{"OCI repoURL with a tag", chartsource.Ref{RepoURL: "oci://127.0.0.1:1/charts:v1", Chart: "tiny", Version: "0.1.0"}, "invalid OCI repoURL"},
		{"OCI repoURL upper case", chartsource.Ref{RepoURL: "127.0.0.1:1/Charts", Chart: "tiny", Version: "0.1.0"}, "invalid OCI repoURL"},
		{"newline in repoURL", chartsource.Ref{RepoURL: "https://127.0.0.1:1/\n::warning::x", Chart: "tiny", Version: "0.1.0"}, `"https://127.0.0.1:1/\n::warning::x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The folder holds tiny 0.1.0: an invalid ref must not reach it either.
			_, err := (&chartsource.Resolver{ChartsFrom: []string{dir}}).Resolve(context.Background(), tc.ref)
			if err == nil {
				t.Fatal("resolved, want a refusal")
			}
			var ce *chartsource.Error
			msg := err.Error()
			if !errors.As(err, &ce) || !strings.Contains(msg, tc.errWant) {
				t.Errorf("err = %q (%T), want a *chartsource.Error saying %q", msg, err, tc.errWant)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message %q holds a newline", msg)
			}
		})
	}
}
