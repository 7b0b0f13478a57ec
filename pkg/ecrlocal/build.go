package ecrlocal

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
)

// Distribution's registry command and its pinned version.
const (
	RegistryModule  = "github.com/distribution/distribution/v3"
	RegistryVersion = "v3.1.2"
	registryPackage = RegistryModule + "/cmd/registry"
)

// BinaryName is the registry binary's name in the bin directory.
const BinaryName = "registry"

// Built reports whether path is the registry built from the pinned module version. The
// binary's own build information is the stamp: no separate file to keep in step.
func Built(path string) bool {
	info, err := buildinfo.ReadFile(path)
	return err == nil && info.Main.Path == RegistryModule && info.Main.Version == RegistryVersion
}

// Build installs Distribution's registry into binDir with `go install` from the module
// proxy (cold: ~2 min on 2 cores), unless it is there already at the pinned version. One
// build at a time: a second caller waits on a lock and then finds the first one's binary.
// It returns the binary's path and whether it built.
func Build(ctx context.Context, binDir string, log io.Writer) (string, bool, error) {
	bin := filepath.Join(binDir, BinaryName)
	built, err := buildonce.Do(filepath.Join(binDir, "."+BinaryName+".lock"), func() bool { return Built(bin) }, func() error {
		return install(ctx, binDir, bin, log)
	})
	if err != nil {
		return "", false, err
	}
	return bin, built, nil
}

// install runs `go install` into a scratch GOBIN and renames the result to bin: bin is
// either absent or whole.
func install(ctx context.Context, binDir, bin string, log io.Writer) error {
	tmp, err := os.MkdirTemp(binDir, ".registry-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	if log != nil {
		fmt.Fprintf(log, "building %s@%s (cold: ~2 min on 2 cores)\n", registryPackage, RegistryVersion)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "-trimpath", registryPackage+"@"+RegistryVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go install %s@%s: %w\n%s", registryPackage, RegistryVersion, err, tail(string(out), 20))
	}
	if err := os.Rename(filepath.Join(tmp, BinaryName), bin); err != nil {
		return err
	}
	if !Built(bin) {
		return fmt.Errorf("%s: not built from %s@%s", bin, RegistryModule, RegistryVersion)
	}
	if log != nil {
		fmt.Fprintf(log, "built %s in %s\n", bin, time.Since(start).Round(time.Second))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
