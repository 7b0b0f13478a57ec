package values_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/microservices-manifests/microservices-manifests/pkg/values"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestSetScalarGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/values.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, value, old string
	}{
		{"double-quoted", "containers.app.image.tag", "2.3.4", "1.0.0"},
		{"single-quoted", "containers.app.image.digest", "sha256:abc", ""},
		{"plain-with-comment", "replicaCount", "3", "1"},
		{"missing-leaf", "containers.app.image.pullPolicy", "Always", ""},
		{"missing-mappings", "containers.app.probes.path", "/healthz", ""},
		{"missing-top-level", "secrets.password", "x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := values.ParsePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			out, old, err := values.SetScalar(in, p, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if old != tc.old {
				t.Errorf("old = %q, want %q", old, tc.old)
			}
			var m map[string]any
			if err := yaml.Unmarshal(out, &m); err != nil {
				t.Fatalf("result is not YAML: %v\n%s", err, out)
			}
			if got, _ := values.Lookup(m, p); got != tc.value && !(tc.name == "plain-with-comment" && got == 3) {
				t.Errorf("%s = %v after the edit", tc.path, got)
			}
			golden := filepath.Join("testdata", "set."+tc.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if string(out) != string(want) {
				t.Errorf("output differs from %s:\n%s", golden, out)
			}
			// Every line of the input is still there, except the edited one.
			kept := 0
			for _, line := range strings.Split(string(in), "\n") {
				if strings.Contains(string(out), line) {
					kept++
				}
			}
			if n := len(strings.Split(string(in), "\n")); kept < n-1 {
				t.Errorf("%d of %d input lines kept", kept, n)
			}
		})
	}
}

func TestSetScalarRefuses(t *testing.T) {
	in, _ := os.ReadFile("testdata/values.in.yaml")
	for _, path := range []string{"containers.sidecar.image.tag", "containers.app.image", "replicaCount.x"} {
		p, _ := values.ParsePath(path)
		if out, _, err := values.SetScalar(in, p, "v"); err == nil {
			t.Errorf("%s: edited\n%s", path, out)
		}
	}
}

func TestSetScalarEmptyFile(t *testing.T) {
	out, _, err := values.SetScalar([]byte("# only a comment\n"), values.Path{"a", "b"}, "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "# only a comment\na:\n  b: \"1.0\"\n" {
		t.Errorf("got %q", out)
	}
}
