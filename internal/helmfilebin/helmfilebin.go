// Package helmfilebin builds Helmfile, the tool that installs Argo CD and the App-of-Apps root
// (deploy/argocd/shared/root/helmfile.d), from the Go module proxy into the repository's bin/,
// so that tests can run the real Helmfile offline against what the platform reads of it.
//
// `go install github.com/helmfile/helmfile@v1.x` is refused by the go command: Helmfile's
// go.mod has replace directives (k8s.io/api, apimachinery, client-go). So the module is
// downloaded with `go mod download` (checked by the checksum database) and built in its
// module-cache directory with its own go.mod and go.sum (-mod=readonly: nothing is resolved
// anew), the way Helmfile's release build does. The version is stamped as the release does
// (-X go.szostok.io/version.version), so `helmfile version` reports it: the binary itself
// (its build information's main module, the version it reports) is the stamp that makes a
// second Build instant, with no separate file to keep in step.
package helmfilebin

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/microservices-manifests/microservices-manifests/internal/buildonce"
	"github.com/microservices-manifests/microservices-manifests/internal/gomod"
)

// Helmfile's module and its pinned version (the newest v1 the module proxy serves).
const (
	Module  = "github.com/helmfile/helmfile"
	Version = "v1.8.0"
)

// BinaryName is Helmfile's name in the bin directory.
const BinaryName = "helmfile"

// versionFlag is the linker flag Helmfile's release build sets (its Makefile's
// GO_BUILD_VERSION_LDFLAGS); without it `helmfile version` says "(devel)".
const versionFlag = "-X go.szostok.io/version.version=" + Version

// ldflags are the linker flags of the build.
var ldflags = versionFlag + " -X go.szostok.io/version.dirtyBuild=false"

// Built reports whether path is Helmfile built by Build at the pinned version: its build
// information names Helmfile as the main module (cheap, read from the file), and the binary
// reports the pinned version itself (`helmfile version -o short`, which prints the -X stamp).
// The stamp is not in the build information: -trimpath leaves -ldflags out of it.
func Built(path string) bool {
	info, err := buildinfo.ReadFile(path)
	if err != nil || info.Main.Path != Module {
		return false
	}
	v, err := reportedVersion(path)
	return err == nil && v == Version
}

// reportedVersion runs `helmfile version -o short` without the upgrade notice (which would ask
// GitHub for the latest release) and without the caller's environment.
func reportedVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version", "--output", "short")
	cmd.Env = []string{"HELMFILE_UPGRADE_NOTICE_DISABLED=1", "OTEL_SDK_DISABLED=true", "NO_COLOR=1", "HOME=" + os.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// Options configure Build.
type Options struct {
	// BinDir receives the binary (created if missing); the repository's bin/.
	BinDir string
	// Log receives progress lines (nil: none).
	Log io.Writer
	// Timeout bounds the build (0: 60 minutes). A cold build downloads ~250 modules and
	// compiles Helm 3 and 4, the Kubernetes client, the AWS, Azure and GCP SDKs: measured
	// 31 minutes wall (22.5 minutes of CPU) on a 2-core machine busy with other builds.
	Timeout time.Duration
	// Go is the go command ("": go from PATH).
	Go string
}

// Build installs Helmfile into opts.BinDir unless it is there already at the pinned version.
// One build at a time: a second caller (another test process, a make target) waits on a lock
// and then finds the first one's binary. It returns the binary's path and whether it built.
func Build(ctx context.Context, opts Options) (string, bool, error) {
	if opts.BinDir == "" {
		return "", false, fmt.Errorf("build helmfile: no bin directory")
	}
	bin := filepath.Join(opts.BinDir, BinaryName)
	built, err := buildonce.Do(filepath.Join(opts.BinDir, "."+BinaryName+".lock"), func() bool { return Built(bin) }, func() error {
		return install(ctx, opts, bin)
	})
	if err != nil {
		return "", false, err
	}
	return bin, built, nil
}

// install builds into a scratch directory beside bin and renames the result: bin is either
// absent or whole.
func install(ctx context.Context, opts Options, bin string) error {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	goCmd := opts.Go
	if goCmd == "" {
		goCmd = "go"
	}
	start := time.Now()
	logf(opts.Log, "building %s@%s (cold: 15-30 minutes on 2 cores)", Module, Version)
	mod, err := gomod.Download(ctx, goCmd, Module, Version)
	if err != nil {
		return fmt.Errorf("build helmfile: %w", err)
	}
	if mod.Dir == "" {
		return fmt.Errorf("build helmfile: %s@%s not extracted: %s", Module, Version, mod.Problem)
	}
	tmp, err := os.MkdirTemp(opts.BinDir, ".helmfile-build-")
	if err != nil {
		return fmt.Errorf("build helmfile: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, BinaryName)
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags", ldflags, "-o", out, ".")
	cmd.Dir = mod.Dir
	// The module's own go.mod and go.sum decide every dependency; no workspace or vendor
	// setting of the caller applies; static like the upstream release binaries.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off", "CGO_ENABLED=0", "GO111MODULE=on")
	b, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		return fmt.Errorf("build helmfile: go build %s@%s: %w\n%s", Module, Version, err, tail(string(b), 20))
	}
	if !Built(out) {
		return fmt.Errorf("build helmfile: %s: not stamped as %s@%s", out, Module, Version)
	}
	if err := os.Rename(out, bin); err != nil {
		return fmt.Errorf("build helmfile: %w", err)
	}
	logf(opts.Log, "built %s in %s", bin, time.Since(start).Round(time.Second))
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
