package versioncheck

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestReadsNoSymlink: the files located for findings are read through repofs: a symlinked
// values file is not read, so nothing from where it points is located or quoted.
func TestReadsNoSymlink(t *testing.T) {
	root, outside := t.TempDir(), filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(outside, []byte("argocd:\n  version: 1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "deploy/apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "deploy/apps/values-prd.yaml")); err != nil {
		t.Fatal(err)
	}
	if n := lineOf(root, "deploy/apps/values-prd.yaml", regexp.MustCompile(`version:`)); n != 0 {
		t.Errorf("lineOf read through the link: line %d", n)
	}
	if file, line := locatePin(root, pin{name: "argocd", chartDir: "deploy/apps"}); file != "" {
		t.Errorf("locatePin read through the link: %s:%d", file, line)
	}
}
