// Package test holds the repository-level tests of the platform's content: skaffold.yaml,
// the charts' generated configuration files run through the real tools.
package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
)

const root = ".."

// skaffoldProblems validates a skaffold.yaml against Skaffold's own schema, then checks it
// against the repository: every release's chart exists with dev values, every artifact's
// image is referenced by a release's setValueTemplates, every backend service has a profile.
func skaffoldProblems(t *testing.T, data []byte) []string {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return []string{"parse: " + err.Error()}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return []string{"json: " + err.Error()}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	schemaFile, err := os.Open("schemas/skaffold-v4beta14.json")
	if err != nil {
		t.Fatal(err)
	}
	defer schemaFile.Close()
	sdoc, err := jsonschema.UnmarshalJSON(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("file:///skaffold.json", sdoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file:///skaffold.json")
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	if err := sch.Validate(inst); err != nil {
		problems = append(problems, "schema: "+err.Error())
	}

	var cfg struct {
		Build struct {
			Artifacts []struct{ Image, Context string } `yaml:"artifacts"`
		} `yaml:"build"`
		Deploy struct {
			Helm struct {
				Releases []struct {
					Name              string            `yaml:"name"`
					ChartPath         string            `yaml:"chartPath"`
					ValuesFiles       []string          `yaml:"valuesFiles"`
					SetValueTemplates map[string]string `yaml:"setValueTemplates"`
				} `yaml:"releases"`
			} `yaml:"helm"`
		} `yaml:"deploy"`
		Profiles []struct{ Name string } `yaml:"profiles"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return append(problems, "decode: "+err.Error())
	}
	templates := ""
	for _, r := range cfg.Deploy.Helm.Releases {
		if _, err := os.Stat(filepath.Join(root, r.ChartPath, "Chart.yaml")); err != nil {
			problems = append(problems, "release "+r.Name+": no chart at "+r.ChartPath)
		}
		for _, f := range r.ValuesFiles {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				problems = append(problems, "release "+r.Name+": no values file "+f)
			}
		}
		for _, v := range r.SetValueTemplates {
			templates += v + "\n"
		}
	}
	// Skaffold exposes each artifact as IMAGE_REPO_<image with non-alphanumerics as _>.
	sanitize := regexp.MustCompile(`[^A-Za-z0-9]`)
	profiles := map[string]bool{}
	for _, p := range cfg.Profiles {
		profiles[p.Name] = true
	}
	for _, a := range cfg.Build.Artifacts {
		key := sanitize.ReplaceAllString(a.Image, "_")
		for _, v := range []string{"IMAGE_REPO_" + key, "IMAGE_TAG_" + key} {
			if !strings.Contains(templates, "{{."+v+"}}") {
				problems = append(problems, "artifact "+a.Image+": no release uses {{."+v+"}}")
			}
		}
		if svc := filepath.Base(a.Context); !profiles[svc] {
			problems = append(problems, "artifact "+a.Image+": no profile "+svc)
		}
	}
	sort.Strings(problems)
	return problems
}

func TestSkaffold(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(root, "skaffold.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		edit        func(string) string
		wantProblem string // "" means valid
	}{
		{"repository file", func(s string) string { return s }, ""},
		{"unknown field", func(s string) string { return strings.Replace(s, "useBuildkit: true", "useBuildKitt: true", 1) }, "schema:"},
		{"missing chart", func(s string) string { return strings.Replace(s, "chartPath: app/order", "chartPath: app/orders", 1) }, "no chart at app/orders"},
		{"unused artifact", func(s string) string {
			return strings.Replace(s, `"{{.IMAGE_TAG_microservices_customer}}"`, `"1.0.0"`, 1)
		}, "artifact microservices/customer: no release uses {{.IMAGE_TAG_microservices_customer}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := skaffoldProblems(t, []byte(tt.edit(string(good))))
			if tt.wantProblem == "" {
				for _, p := range problems {
					t.Error(p)
				}
				return
			}
			if !strings.Contains(strings.Join(problems, "\n"), tt.wantProblem) {
				t.Errorf("problems %q do not include %q", problems, tt.wantProblem)
			}
		})
	}
}

// TestSkaffoldCoversEveryBackendService: every app chart whose `app` container is built from
// our ECR repositories has a Skaffold artifact.
func TestSkaffoldCoversEveryBackendService(t *testing.T) {
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "skaffold.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range repo.Charts {
		if !strings.HasPrefix(c.ID, "app/") {
			continue
		}
		values, err := os.ReadFile(filepath.Join(c.Dir, "values.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		image := "microservices/" + c.Name
		if bytes.Contains(values, []byte("repository: "+image+"\n")) && !bytes.Contains(data, []byte("image: "+image+"\n")) {
			t.Errorf("%s builds %s from the backend repository but skaffold.yaml has no artifact for it", c.ID, image)
		}
	}
}
