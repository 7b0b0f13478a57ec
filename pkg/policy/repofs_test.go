package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
)

// TestChartObjectRefusesSymlink: Chart.yaml and Chart.lock are read through repofs.
func TestChartObjectRefusesSymlink(t *testing.T) {
	root, outside := t.TempDir(), filepath.Join(t.TempDir(), "lock")
	if err := os.WriteFile(outside, []byte("digest: CANARY-policy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "app/demo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("name: demo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := chartObject(root, "app/demo"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "Chart.lock")); err != nil {
		t.Fatal(err)
	}
	_, err := chartObject(root, "app/demo")
	var fe *repofs.Error
	if !errors.As(err, &fe) || fe.Rule != repofs.RuleSymlink || fe.Path != "app/demo/Chart.lock" {
		t.Errorf("chartObject = %v, want a symlink refusal of app/demo/Chart.lock", err)
	}
}
