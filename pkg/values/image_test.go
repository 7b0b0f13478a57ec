package values_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/values"
)

// realRepo copies the repository's account and shared charts and the library chart.
func realRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"app/account", "app/shared", "charts/common"} {
		if err := os.CopyFS(filepath.Join(root, dir), os.DirFS(filepath.Join("..", "..", dir))); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// diffLines returns the lines of b that are not in a, and the count of a's lines missing in b.
func diffLines(a, b string) (added []string, removed int) {
	have := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		have[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		if have[l] > 0 {
			have[l]--
			continue
		}
		added = append(added, l)
	}
	for _, n := range have {
		removed += n
	}
	return added, removed
}

func TestSetImage(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name, env, digest string
		file              string
		added             []string
		removed           int
	}{
		{name: "defaults", file: "app/account/values.yaml", added: []string{`      tag: "1.4.2"`}, removed: 1},
		{name: "defaults-with-digest", digest: digest, file: "app/account/values.yaml",
			added: []string{`      tag: "1.4.2"`, `      digest: "` + digest + `"`}, removed: 2},
		{name: "env-file-insert", env: "dev", file: "app/account/values-dev.yaml",
			added: []string{"    image:", `      tag: "1.4.2"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := realRepo(t)
			path := filepath.Join(root, tc.file)
			before, _ := os.ReadFile(path)
			s := &values.ImageSetter{Root: root, Service: "account", Tag: "1.4.2", Env: tc.env, Digest: tc.digest}
			res, err := s.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(path)
			added, removed := diffLines(string(before), string(after))
			if strings.Join(added, "\n") != strings.Join(tc.added, "\n") || removed != tc.removed {
				t.Errorf("changed lines: +%q, -%d; want +%q, -%d", added, removed, tc.added, tc.removed)
			}
			if res.File != tc.file || len(res.Changes) == 0 || res.Changes[0].New != "1.4.2" {
				t.Errorf("result = %+v", res)
			}
			// Idempotent.
			again, err := s.Run(context.Background())
			if err != nil || len(again.Changes) != 0 {
				t.Errorf("second run: %+v %v", again, err)
			}
		})
	}
}

func TestSetImageRefuses(t *testing.T) {
	root := realRepo(t)
	orig, _ := os.ReadFile(filepath.Join(root, "app/account/values.yaml"))
	for _, s := range []values.ImageSetter{
		{Service: "nope", Tag: "1.0.1"},
		{Service: "shared", Tag: "1.0.1"},
		{Service: "../account", Tag: "1.0.1"},
		{Service: "account", Tag: "latest"},
		{Service: "account", Tag: "-bad"},
		{Service: "account", Tag: "1.0.1", Digest: "md5:x"},
		{Service: "account", Tag: "1.0.1", Env: "stg"},
	} {
		s.Root = root
		if _, err := s.Run(context.Background()); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if now, _ := os.ReadFile(filepath.Join(root, "app/account/values.yaml")); string(now) != string(orig) {
		t.Error("a refused edit changed the file")
	}
}

// TestSetImageRestores: an edit the chart's schema rejects is undone.
func TestSetImageRestores(t *testing.T) {
	root := realRepo(t)
	schemaPath := filepath.Join(root, "app/account/values.schema.json")
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	// Tags must start with "1." in this fixture.
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if tag, ok := v["tag"].(map[string]any); ok && tag["type"] == "string" {
				tag["pattern"] = `^1\.`
				n++
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(schema)
	if n == 0 {
		t.Skip("the account schema has no tag property to constrain")
	}
	data, _ = json.Marshal(schema)
	if err := os.WriteFile(schemaPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "app/account/values.yaml")
	before, _ := os.ReadFile(path)
	res, err := (&values.ImageSetter{Root: root, Service: "account", Tag: "2.0.0"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "restored") || res == nil || res.Report == nil || len(res.Report.Findings) == 0 {
		t.Fatalf("err = %v, res = %+v", err, res)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("file not restored")
	}
}
