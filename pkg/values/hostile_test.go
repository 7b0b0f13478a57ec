package values_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/values"
)

// TestSetImageRefusesSymlink: a values file that is a symlink is refused before anything
// is edited, so nothing is written through the link to the file it points at.
func TestSetImageRefusesSymlink(t *testing.T) {
	root := realRepo(t)
	file := filepath.Join(root, "app/account/values-dev.yaml")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "elsewhere.yaml")
	if err := os.WriteFile(outside, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, file); err != nil {
		t.Fatal(err)
	}
	_, err = (&values.ImageSetter{Root: root, Service: "account", Env: "dev", Tag: "1.2.3"}).Run(context.Background())
	var fe *repofs.Error
	if !errors.As(err, &fe) || fe.Rule != repofs.RuleSymlink || fe.Path != "app/account/values-dev.yaml" {
		t.Errorf("Run = %v, want a symlink refusal of app/account/values-dev.yaml", err)
	}
	if got, _ := os.ReadFile(outside); string(got) != string(orig) {
		t.Error("the file outside the repository was written through the link")
	}
}
