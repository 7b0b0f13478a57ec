package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// crd is a CRD as a chart ships it: a strict spec, an int-or-string, a nullable and an
// open (preserve-unknown-fields) field, and a version that is not served.
const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: string, enum: [small, large]}
              port: {x-kubernetes-int-or-string: true}
              note: {type: string, nullable: true}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - name: v0
    served: false
    storage: false
`

// TestCRDSchemas: the schema written for a CRD's served version is as strict as
// kubeconform -strict's own (an unknown field or a bad enum is invalid) and admits what
// the API server admits (null optional fields, int-or-string either way, open objects);
// a kind the shared schemas have already, or an unserved version, gets none.
func TestCRDSchemas(t *testing.T) {
	var body map[string]any
	if err := yaml.Unmarshal([]byte(crd), &body); err != nil {
		t.Fatal(err)
	}
	have, dir := t.TempDir(), t.TempDir()
	files, err := crdSchemas([]*render.Object{{Body: body}}, have, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"widget-example-v1.json"}; strings.Join(files, ",") != strings.Join(want, ",") {
		t.Fatalf("written %v, want %v", files, want)
	}
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join(dir, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		spec  string
		valid bool
	}{
		{"minimal", `{"size": "small"}`, true},
		{"int-or-string as integer", `{"size": "small", "port": 80}`, true},
		{"int-or-string as string", `{"size": "small", "port": "http"}`, true},
		{"nullable", `{"size": "small", "note": null}`, true},
		{"optional null", `{"size": "small", "port": null}`, true},
		{"open object", `{"size": "small", "extra": {"anything": [1]}}`, true},
		{"unknown field", `{"size": "small", "colour": "red"}`, false},
		{"bad enum", `{"size": "medium"}`, false},
		{"required missing", `{}`, false},
		{"int-or-string as bool", `{"size": "small", "port": true}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": ` + tt.spec + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(doc); (err == nil) != tt.valid {
				t.Errorf("valid = %v, want %v (%v)", err == nil, tt.valid, err)
			}
		})
	}

	if err := os.WriteFile(filepath.Join(have, files[0]), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := crdSchemas([]*render.Object{{Body: body}}, have, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("a kind the shared schemas have got a schema again: %v", again)
	}
}

// TestUnchecked: an object is unchecked only when no schema directory has its kind.
func TestUnchecked(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(b, "widget-example-v1.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := []*render.Object{{APIVersion: "example.com/v1", Kind: "Widget"}, {APIVersion: "v1", Kind: "ConfigMap"}, {APIVersion: "v1", Kind: "ConfigMap"}}
	got, err := unchecked(objs, a, b)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(got)
	if string(js) != `{"v1/ConfigMap":2}` {
		t.Errorf("unchecked = %s, want {\"v1/ConfigMap\":2}", js)
	}
}

// TestHelmFlags: the source's helm block decides helm template's flags as Argo CD does.
func TestHelmFlags(t *testing.T) {
	tests := []struct {
		name string
		helm map[string]any
		want string
	}{
		{"no helm block", nil, "--include-crds"},
		{"skipCrds", map[string]any{"skipCrds": true}, "-"},
		{"skipTests", map[string]any{"skipTests": true}, "--include-crds,--skip-tests"},
		{"skipSchemaValidation", map[string]any{"skipSchemaValidation": true, "skipCrds": true}, "--skip-schema-validation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{}
			if tt.helm != nil {
				body["helm"] = tt.helm
			}
			if got := helmFlags(apps.Source{Body: body}); got != tt.want {
				t.Errorf("helmFlags = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOfficialApplication: platform's chart of an official render matches the pipeline's
// ID (the Application), and our charts' IDs are left alone.
func TestOfficialApplication(t *testing.T) {
	for in, want := range map[string]string{
		"kiali (chart kiali-server 2.29.0)": "kiali",
		"app/account":                       "app/account",
	} {
		if got := officialApplication(in); got != want {
			t.Errorf("officialApplication(%q) = %q, want %q", in, got, want)
		}
	}
}
