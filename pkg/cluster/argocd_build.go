package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ArgoCD's build: argocd from the pinned github.com/argoproj/argo-cd/v3 (needs go 1.27,
// hence a module of its own with argo-cd's replace lines, pkg/cluster/argocd), and the
// loopback HTTPS git server of that module.
const (
	ArgoCDModule    = "github.com/argoproj/argo-cd/v3"
	ArgoCDVersion   = "v3.6.1"
	ArgoCDToolchain = "go1.27.3"
	// HelmVersion is the helm binary the repo-server runs (scripts/tools.sh builds it into bin/).
	HelmVersion = "v3.22.0"
)

// argocdBuildModule is ArgoCD's build module, relative to the repository root.
const argocdBuildModule = "pkg/cluster/argocd"

// argocdLinks are the multi-call names of the argocd binary (it dispatches on argv[0]).
var argocdLinks = []string{"argocd-application-controller", "argocd-repo-server"}

// argocdHack are scripts of the argo-cd module the repo-server runs from PATH: it always
// calls git-verify-wrapper.sh (without it every manifest request fails with "permission
// denied"), gpg-wrapper.sh when GPG is enabled.
var argocdHack = []string{"hack/git-verify-wrapper.sh", "hack/gpg-wrapper.sh"}

// argocdGitServer is the HTTPS git server built from the build module's ./gitserver.
const argocdGitServer = "argocd-git-server"

func (c *Components) argocdFiles() []string {
	files := append([]string{"argocd", argocdGitServer}, argocdLinks...)
	for _, h := range argocdHack {
		files = append(files, filepath.Base(h))
	}
	return files
}

// HelmPath is the helm binary given to the repo-server: Root/bin/helm.
func (c *Components) HelmPath() string { return filepath.Join(c.Root, "bin", "helm") }

func (c *Components) argocdEnv() []string { return []string{"GOTOOLCHAIN=" + ArgoCDToolchain} }

func (c *Components) argocdStamp(ctx context.Context) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "gitserver/main.go"} {
		b, err := os.ReadFile(filepath.Join(c.Root, argocdBuildModule, f))
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBuild, err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	cmd := exec.CommandContext(ctx, c.goCmd(), "env", "GOVERSION")
	cmd.Dir = filepath.Join(c.Root, argocdBuildModule)
	cmd.Env = append(os.Environ(), c.argocdEnv()...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: go env GOVERSION with GOTOOLCHAIN=%s (the toolchain comes from the module proxy): %v", ErrBuild, ArgoCDToolchain, err)
	}
	fmt.Fprintf(h, "go %s\nargocd %s@%s\nhack %s\n", strings.TrimSpace(string(out)), ArgoCDModule, ArgoCDVersion, strings.Join(argocdHack, ","))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// EnsureArgoCD builds argocd (and its links, the hack scripts, the git server) into BinDir
// unless the stamp BinDir/.argocd-stamp matches, and helm into Root/bin unless it is there.
// It reports whether it built argocd.
func (c *Components) EnsureArgoCD(ctx context.Context) (bool, error) {
	if err := c.ensureHelm(ctx); err != nil {
		return false, err
	}
	want, err := c.argocdStamp(ctx)
	if err != nil {
		return false, err
	}
	complete := func() bool { return c.hasAll(c.argocdFiles()) }
	return c.buildOnce(".argocd-stamp", want, complete, "argocd-build.log", func(logFile *os.File, logPath string) error {
		start := time.Now()
		dir := filepath.Join(c.Root, argocdBuildModule)
		c.logf("building argocd %s with %s (cold: ~4-10 min; log: %s)", ArgoCDVersion, ArgoCDToolchain, logPath)
		if err := c.run(ctx, logFile, dir, c.argocdEnv(), "build", "-ldflags", "-s -w", "-o", c.Path("argocd"), ArgoCDModule+"/cmd"); err != nil {
			return err
		}
		if err := c.run(ctx, logFile, dir, c.argocdEnv(), "build", "-o", c.Path(argocdGitServer), "./gitserver"); err != nil {
			return err
		}
		for _, l := range argocdLinks {
			_ = os.Remove(c.Path(l))
			if err := os.Symlink("argocd", c.Path(l)); err != nil {
				return err
			}
		}
		files, err := moduleFiles(ctx, c.goCmd(), ArgoCDModule, ArgoCDVersion, "", argocdHack)
		if err != nil {
			return err
		}
		for _, h := range argocdHack {
			if err := os.WriteFile(c.Path(filepath.Base(h)), files[h], 0o755); err != nil {
				return err
			}
		}
		c.logf("built argocd %s in %s", ArgoCDVersion, time.Since(start).Round(time.Second))
		return nil
	})
}

func (c *Components) hasAll(names []string) bool {
	for _, name := range names {
		if _, err := os.Stat(c.Path(name)); err != nil {
			return false
		}
	}
	return true
}

// ensureHelm runs `scripts/tools.sh helm` unless Root/bin/helm is already there.
func (c *Components) ensureHelm(ctx context.Context) error {
	if _, err := os.Stat(c.HelmPath()); err == nil {
		return nil
	}
	c.logf("building helm %s into %s (scripts/tools.sh helm)", HelmVersion, filepath.Dir(c.HelmPath()))
	cmd := exec.CommandContext(ctx, filepath.Join(c.Root, "scripts", "tools.sh"), "helm")
	cmd.Dir = c.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: scripts/tools.sh helm: %v\n%s", ErrBuild, err, strings.TrimSpace(string(out)))
	}
	return nil
}
