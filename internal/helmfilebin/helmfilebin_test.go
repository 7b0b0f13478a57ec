package helmfilebin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBuilt checks the stamp on small stand-ins built here (seconds, not Helmfile's minutes):
// only a binary whose main module is Helmfile and which reports the pinned version (stamped by
// Build's -ldflags) counts as built, so a second Build is instant and a version bump rebuilds.
func TestBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds small Go programs")
	}
	for _, tc := range []struct {
		name, module, ldflags string
		want                  bool
	}{
		{"pinned Helmfile", Module, ldflags, true},
		{"Helmfile without the version stamp", Module, "", false},
		{"Helmfile stamped with another version", Module, "-X go.szostok.io/version.version=" + Version + "9", false},
		{"another module with the stamp", "example.com/helmfile", ldflags, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := buildStandIn(t, tc.module, tc.ldflags)
			if got := Built(bin); got != tc.want {
				t.Errorf("Built = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("not a Go binary", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), BinaryName)
		if err := os.WriteFile(path, []byte("#!/bin/sh\necho helmfile "+Version+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if Built(path) {
			t.Error("a shell script counts as built")
		}
		if Built(filepath.Join(t.TempDir(), "missing")) {
			t.Error("a missing file counts as built")
		}
	})
}

// TestBuildSkipsWhenBuilt: with the pinned binary in place, Build neither builds nor touches
// the module proxy (a Go command that always fails proves it is not run).
func TestBuildSkipsWhenBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a small Go program")
	}
	dir := t.TempDir()
	if err := os.Rename(buildStandIn(t, Module, ldflags), filepath.Join(dir, BinaryName)); err != nil {
		t.Fatal(err)
	}
	bin, built, err := Build(context.Background(), Options{BinDir: dir, Go: "/bin/false"})
	if err != nil || built || bin != filepath.Join(dir, BinaryName) {
		t.Errorf("Build = %q, %v, %v; want the existing binary, not built, no error", bin, built, err)
	}
	// Without it, Build must run the go command, whose failure is reported.
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Build(context.Background(), Options{BinDir: dir, Go: "/bin/false", Timeout: time.Minute}); err == nil {
		t.Error("Build with a failing go command reported no error")
	}
	if _, err := os.Stat(bin); err == nil {
		t.Error("a failed build left a binary")
	}
}

// buildStandIn builds a small main package whose module path is module and which answers
// `version --output short` with go.szostok.io/version's version variable (a local stand-in
// of that package), with ldflags, as Build builds Helmfile.
func buildStandIn(t *testing.T, module, flags string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module " + module + "\n\ngo 1.22\n\nrequire go.szostok.io/version v0.0.0\n\nreplace go.szostok.io/version => ./version\n",
		"main.go": `package main

import (
	"fmt"
	"os"

	"go.szostok.io/version"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "version" && os.Args[2] == "--output" && os.Args[3] == "short" {
		fmt.Println(version.Get())
		return
	}
	os.Exit(2)
}
`,
		"version/go.mod":     "module go.szostok.io/version\n\ngo 1.22\n",
		"version/version.go": "package version\n\nvar version = \"(devel)\"\n\nfunc Get() string { return version }\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", flags, "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false -mod=mod", "GOWORK=off", "CGO_ENABLED=0", "GOPROXY=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build stand-in: %v\n%s", err, b)
	}
	return out
}
