package publish_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
)

// envCanary stands for the runner's environment (/proc/self/environ), which a symlink in a
// chart would package into the published chart.
const envCanary = "CANARY-publish-3b8e04"

// TestBakeRefusesSymlinks: a symlink anywhere in the chart fails the bake with the file and
// the rule named, and nothing it points at reaches a package.
func TestBakeRefusesSymlinks(t *testing.T) {
	cases := []struct {
		name, link string
	}{
		{name: "in docs", link: "app/account/docs/x.txt"},
		{name: "read by .Files.Get", link: "app/account/files/x"},
		{name: "in templates", link: "app/account/templates/leak.yaml"},
		{name: "as the environment's values file", link: "app/account/values-prd.yaml"},
		{name: "in the library chart", link: "charts/common/docs/x.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			root := testRepo(t)
			secret := filepath.Join(t.TempDir(), "environ")
			if err := os.WriteFile(secret, []byte("AWS_SECRET_ACCESS_KEY="+envCanary+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(root, filepath.FromSlash(tc.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			os.Remove(link)
			if err := os.Symlink(secret, link); err != nil {
				t.Fatal(err)
			}
			repo, err := discovery.Discover(root)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := repo.Chart("app/account")
			vals := []secrets.Value{{Secret: secrets.Secret{Chart: c.ID, Path: "secrets.databasePassword", Env: "X"}, Value: dbPassword}}
			ch, err := publish.Bake(c, "prd", root, vals)
			if err == nil {
				tgz, err := publish.Package(ch, root)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(untar(t, tgz), envCanary) {
					t.Error("the package holds the runner's environment")
				}
				t.Fatal("a chart with a symlink was baked")
			}
			var fe *repofs.Error
			if !errors.As(err, &fe) || fe.Rule != repofs.RuleSymlink || fe.Path != tc.link {
				t.Errorf("error %v, want a %s refusal of %s", err, repofs.RuleSymlink, tc.link)
			}
			if strings.Contains(err.Error(), envCanary) || strings.Contains(err.Error(), dbPassword) {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
}

// untar concatenates the names and contents of a package's entries.
func untar(t *testing.T, tgz []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(h.Name + "\n")
		if _, err := io.Copy(&b, tr); err != nil {
			t.Fatal(err)
		}
	}
}
