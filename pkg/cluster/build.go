package cluster

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// Versions of the components. Kubernetes and etcd are pinned by the build module's go.mod
// (pkg/cluster/components); kwok is installed from its own module, whose k8s.io/* (1.36)
// cannot share a build list with k8s.io/kubernetes 1.35.
const (
	KubernetesVersion = "v1.35.4"
	KwokModule        = "sigs.k8s.io/kwok"
	KwokVersion       = "v0.8.0"
)

// componentsModule is the build module, relative to the repository root.
const componentsModule = "pkg/cluster/components"

// kubernetesCommands are built from k8s.io/kubernetes; etcd from the module's ./etcd.
var kubernetesCommands = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// binaries are every executable the cluster runs, as named in the bin directory.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// kwokStages are kwok's own stage definitions (its kwokctl defaults: nodes become Ready and
// keep a heartbeat, pods become Running/Ready, complete, and are deleted).
var kwokStages = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat/node-heartbeat.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

// kwokStagesFile is the kwok --config file written beside the binaries.
const kwokStagesFile = "kwok-stages.yaml"

// Components builds the cluster's binaries into BinDir, once per version: a stamp file
// records the inputs (build module, kwok version, Go version) and a matching stamp skips
// the build entirely.
type Components struct {
	// Root is the repository root; the build module is Root/pkg/cluster/components.
	Root string
	// BinDir receives the binaries (normally Root/bin/cluster).
	BinDir string
	// LogDir receives build.log (normally Root/.cache/cluster/logs).
	LogDir string
	// GoCommand is the go binary; "go" when empty.
	GoCommand string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// ErrBuild marks a failure to build the components (typically: no module proxy).
var ErrBuild = errors.New("build the embedded cluster's components")

func (c *Components) goCmd() string {
	if c.GoCommand == "" {
		return "go"
	}
	return c.GoCommand
}

func (c *Components) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Path is the path of one binary.
func (c *Components) Path(name string) string { return filepath.Join(c.BinDir, name) }

// ldflags stamp the Kubernetes version into the binaries, as the release build does:
// the components derive their emulation and compatibility versions from it.
func ldflags() string {
	major, minor := "1", strings.Split(strings.TrimPrefix(KubernetesVersion, "v"), ".")[1]
	var b strings.Builder
	b.WriteString("-s -w")
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		fmt.Fprintf(&b, " -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s", pkg, KubernetesVersion, pkg, major, pkg, minor)
	}
	b.WriteString(" -X k8s.io/component-base/version.gitTreeState=clean")
	return b.String()
}

// stamp hashes everything the binaries depend on.
func (c *Components) stamp(ctx context.Context) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "etcd/main.go"} {
		b, err := os.ReadFile(filepath.Join(c.Root, componentsModule, f))
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBuild, err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	out, err := exec.CommandContext(ctx, c.goCmd(), "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("%w: go env GOVERSION: %v", ErrBuild, err)
	}
	fmt.Fprintf(h, "go %s\nkwok %s@%s\nldflags %s\nstages %s\n", strings.TrimSpace(string(out)), KwokModule, KwokVersion, ldflags(), strings.Join(kwokStages, ","))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Ensure builds the binaries unless the stamp in BinDir matches. It reports whether it built.
func (c *Components) Ensure(ctx context.Context) (bool, error) {
	want, err := c.stamp(ctx)
	if err != nil {
		return false, err
	}
	return c.buildOnce(".stamp", want, c.complete, "build.log", func(logFile *os.File, logPath string) error {
		start := time.Now()
		c.logf("building kube-apiserver, kube-controller-manager, kube-scheduler %s and etcd (cold: ~5-10 min on 2 cores; log: %s)", KubernetesVersion, logPath)
		args := []string{"build", "-ldflags", ldflags(), "-o", c.BinDir + string(os.PathSeparator)}
		for _, name := range kubernetesCommands {
			args = append(args, "k8s.io/kubernetes/cmd/"+name)
		}
		args = append(args, "./etcd")
		if err := c.run(ctx, logFile, filepath.Join(c.Root, componentsModule), nil, args...); err != nil {
			return err
		}
		c.logf("building kwok %s", KwokVersion)
		// go install pkg@version builds kwok with its own go.mod, outside any module.
		if err := c.run(ctx, logFile, c.BinDir, []string{"GOBIN=" + c.BinDir, "GOTOOLCHAIN=local"},
			"install", KwokModule+"/cmd/kwok@"+KwokVersion); err != nil {
			return err
		}
		if err := c.writeStages(ctx); err != nil {
			return err
		}
		c.logf("built the embedded cluster's components in %s", time.Since(start).Round(time.Second))
		return nil
	})
}

// buildOnce runs build unless BinDir/stampName holds want and complete() holds. One build
// at a time (a test and `platform cluster up` may ask together): the second waits on the
// lock and then finds the first one's stamp. build logs to LogDir/logName; a failure is
// reported with the log's tail. It reports whether it built.
func (c *Components) buildOnce(stampName, want string, complete func() bool, logName string, build func(logFile *os.File, logPath string) error) (bool, error) {
	stampFile := filepath.Join(c.BinDir, stampName)
	fresh := func() bool {
		got, err := os.ReadFile(stampFile)
		return err == nil && strings.TrimSpace(string(got)) == want && complete()
	}
	return buildonce.Do(stampFile+".lock", fresh, func() error {
		if err := os.MkdirAll(c.LogDir, 0o755); err != nil {
			return err
		}
		logPath := filepath.Join(c.LogDir, logName)
		logFile, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer logFile.Close()
		if err := build(logFile, logPath); err != nil {
			return c.buildError(err, logPath)
		}
		return os.WriteFile(stampFile, []byte(want+"\n"), 0o644)
	})
}

func (c *Components) complete() bool {
	for _, name := range append(binaries, kwokStagesFile) {
		if _, err := os.Stat(c.Path(name)); err != nil {
			return false
		}
	}
	return true
}

func (c *Components) run(ctx context.Context, log io.Writer, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, c.goCmd(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var tail bytes.Buffer
	cmd.Stdout = log
	cmd.Stderr = io.MultiWriter(log, &tail)
	fmt.Fprintf(log, "$ %s %s\n", c.goCmd(), strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(tail.String())
		if len(msg) > 2000 {
			msg = "..." + msg[len(msg)-2000:]
		}
		return fmt.Errorf("go %s: %w\n%s", args[0], err, msg)
	}
	return nil
}

func (c *Components) buildError(err error, logPath string) error {
	goproxy, _ := exec.Command(c.goCmd(), "env", "GOPROXY").Output()
	return fmt.Errorf("%w (needs the Go module proxy, GOPROXY=%s, or a warm module cache; log: %s): %v",
		ErrBuild, strings.TrimSpace(string(goproxy)), logPath, err)
}

// writeStages copies kwok's stage files out of the kwok module (verified by go mod download).
func (c *Components) writeStages(ctx context.Context) error {
	files, err := moduleFiles(ctx, c.goCmd(), KwokModule, KwokVersion, "", kwokStages)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# kwok stages from %s@%s: %s\n", KwokModule, KwokVersion, strings.Join(kwokStages, ", "))
	for _, name := range kwokStages {
		b.WriteString("---\n")
		b.Write(bytes.TrimSpace(files[name]))
		b.WriteString("\n")
	}
	return os.WriteFile(c.Path(kwokStagesFile), b.Bytes(), 0o644)
}

// moduleFiles reads files out of a module's zip, downloaded (and checksum-verified) with
// `go mod download -json`. Reading the zip rather than the extracted directory works even
// when the module's go.mod asks for a newer Go than the local toolchain. wantSum, when set,
// must equal the module's h1: sum. A pattern may be a glob (path.Match syntax).
func moduleFiles(ctx context.Context, goCmd, module, version, wantSum string, patterns []string) (map[string][]byte, error) {
	info, err := gomod.Download(ctx, goCmd, module, version)
	if err != nil {
		return nil, err
	}
	if info.Zip == "" {
		return nil, fmt.Errorf("go mod download %s@%s reported no zip", module, version)
	}
	if wantSum != "" && info.Sum != wantSum {
		return nil, fmt.Errorf("%s@%s: sum %s, want %s", module, version, info.Sum, wantSum)
	}
	zr, err := zip.OpenReader(info.Zip)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	prefix := module + "@" + version + "/"
	files := map[string][]byte{}
	for _, f := range zr.File {
		name := strings.TrimPrefix(f.Name, prefix)
		for _, p := range patterns {
			if ok, _ := filepathMatch(p, name); !ok {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			files[name] = b
			break
		}
	}
	for _, p := range patterns {
		found := false
		for name := range files {
			if ok, _ := filepathMatch(p, name); ok {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%s@%s: no file matches %s", module, version, p)
		}
	}
	return files, nil
}

func filepathMatch(pattern, name string) (bool, error) {
	return filepath.Match(pattern, name)
}
