package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
)

// openObjects lists the JSON pointers of object schemas that declare properties but leave
// additionalProperties unset, i.e. accept any unknown key.
func openObjects(s any, at string) []string {
	var out []string
	switch v := s.(type) {
	case map[string]any:
		if _, has := v["properties"]; has && v["type"] == "object" {
			if _, set := v["additionalProperties"]; !set {
				out = append(out, at)
			}
		}
		for k, x := range v {
			out = append(out, openObjects(x, at+"/"+k)...)
		}
	case []any:
		for i, x := range v {
			out = append(out, openObjects(x, fmt.Sprintf("%s/%d", at, i))...)
		}
	}
	return out
}

// TestEveryChartHasAStrictValuesSchema: values are an API (STYLE.md 13). Every application
// chart ships a values.schema.json that rejects unknown keys at every level, so a typo in a
// values file fails `platform validate` instead of being ignored by the templates.
func TestEveryChartHasAStrictValuesSchema(t *testing.T) {
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Renderable()) == 0 {
		t.Fatal("no charts found")
	}
	for _, c := range repo.Renderable() {
		data, err := os.ReadFile(filepath.Join(c.Dir, "values.schema.json"))
		if err != nil {
			t.Errorf("%s: no values.schema.json", c.ID)
			continue
		}
		var s any
		if err := json.Unmarshal(data, &s); err != nil {
			t.Errorf("%s/values.schema.json: %v", c.ID, err)
			continue
		}
		if top, _ := s.(map[string]any); top == nil || top["additionalProperties"] != false {
			t.Errorf("%s/values.schema.json: the top level must set additionalProperties: false", c.ID)
		}
		for _, p := range openObjects(s, "") {
			t.Errorf("%s/values.schema.json#%s: an object with properties must set additionalProperties", c.ID, p)
		}
	}
}

func TestOpenObjects(t *testing.T) {
	var s any
	if err := json.Unmarshal([]byte(`{"type":"object","additionalProperties":false,"properties":{"a":{"type":"object","properties":{"b":{"type":"string"}}}}}`), &s); err != nil {
		t.Fatal(err)
	}
	if got := openObjects(s, ""); len(got) != 1 || got[0] != "/properties/a" {
		t.Errorf("openObjects = %v, want [/properties/a]", got)
	}
}
