// Package gomod locates pinned upstream modules with `go mod download -json`, run from an
// empty temporary directory so that the repository's go.mod is never touched; the module
// proxy and the checksum database verify what is downloaded. Schema generation, the
// embedded cluster and the tests that read upstream files (Istio charts, eksctl's schema)
// all go through it.
package gomod

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Module is a downloaded module version.
type Module struct {
	Dir string // extracted tree in the module cache
	Zip string // the module's zip in the download cache
	Sum string // h1: checksum
	// Problem is what go reported when it fetched the zip but could not extract it (e.g. the
	// module's go.mod needs a newer Go): the zip is still usable, Dir is empty.
	Problem string
}

// Download fetches path@version with goCmd ("" means go from PATH). env adds variables to
// the go command's environment, e.g. GOTOOLCHAIN=go1.27.3 for a module whose go.mod needs a
// newer Go than the local one.
func Download(ctx context.Context, goCmd, path, version string, env ...string) (Module, error) {
	key := path + "@" + version
	if goCmd == "" {
		goCmd = "go"
	}
	tmp, err := os.MkdirTemp("", "gomod-download-")
	if err != nil {
		return Module{}, fmt.Errorf("download %s: %w", key, err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", key)
	cmd.Dir = tmp
	cmd.Env = append(append(os.Environ(), "GO111MODULE=on", "GOFLAGS=-mod=mod"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var info struct{ Dir, Zip, Sum, Error string }
	if err := json.Unmarshal(out, &info); err != nil && runErr == nil {
		runErr = err
	}
	// go exits non-zero when it fetched the zip but could not extract it; Problem says why.
	switch {
	case info.Zip != "" && info.Dir == "" && info.Error != "":
		return Module{Zip: info.Zip, Sum: info.Sum, Problem: info.Error}, nil
	case info.Error != "":
		return Module{}, fmt.Errorf("download %s: %s", key, info.Error)
	case runErr != nil:
		return Module{}, fmt.Errorf("download %s: %w: %s", key, runErr, strings.TrimSpace(stderr.String()))
	case info.Dir == "" && info.Zip == "":
		return Module{}, fmt.Errorf("download %s: go mod download reported no directory", key)
	}
	return Module{Dir: info.Dir, Zip: info.Zip, Sum: info.Sum}, nil
}
