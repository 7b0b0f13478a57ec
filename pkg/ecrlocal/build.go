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
	"syscall"
	"time"
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
	if Built(bin) {
		return bin, false, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", false, err
	}
	lock, err := os.OpenFile(filepath.Join(binDir, "."+BinaryName+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", false, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", false, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // released by Close anyway
	if Built(bin) {
		return bin, false, nil
	}
	// Install into a scratch GOBIN and rename: bin/registry is either absent or whole.
	tmp, err := os.MkdirTemp(binDir, ".registry-build-")
	if err != nil {
		return "", false, err
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
		return "", false, fmt.Errorf("go install %s@%s: %w\n%s", registryPackage, RegistryVersion, err, tail(string(out), 20))
	}
	if err := os.Rename(filepath.Join(tmp, BinaryName), bin); err != nil {
		return "", false, err
	}
	if !Built(bin) {
		return "", false, fmt.Errorf("%s: not built from %s@%s", bin, RegistryModule, RegistryVersion)
	}
	if log != nil {
		fmt.Fprintf(log, "built %s in %s\n", bin, time.Since(start).Round(time.Second))
	}
	return bin, true, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
