package plan

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// TestRedactIgnored: the fields an Application tells Argo CD not to compare are masked in
// the plan, whatever their depth or escaping; a pointer that leads nowhere changes nothing,
// and the object itself is never modified (the schemas and policies saw its real values).
func TestRedactIgnored(t *testing.T) {
	body := map[string]any{
		"webhooks": []any{map[string]any{"clientConfig": map[string]any{"caBundle": "LS0t"}}},
		"data":     map[string]any{"tls/key~1": "c2VjcmV0"},
		"kind":     "ValidatingWebhookConfiguration",
	}
	o := &render.Object{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration", Name: "w", Body: body,
		Ignored: []string{"/webhooks/0/clientConfig/caBundle", "/data/tls~1key~01", "/webhooks/7/clientConfig", "/missing/x"}}
	got := Redact(o)
	want := map[string]any{
		"webhooks": []any{map[string]any{"clientConfig": map[string]any{"caBundle": Ignored}}},
		"data":     map[string]any{"tls/key~1": Ignored},
		"kind":     "ValidatingWebhookConfiguration",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Redact = %v, want %v", got, want)
	}
	if body["webhooks"].([]any)[0].(map[string]any)["clientConfig"].(map[string]any)["caBundle"] != "LS0t" || body["data"].(map[string]any)["tls/key~1"] != "c2VjcmV0" {
		t.Errorf("Redact modified the object: %v", body)
	}
}

// TestKeep: the plan of an Application whose official chart was not rendered this time is
// kept as it was; one that was rendered is not mixed with its old files; links and names
// that are not one plain directory keep nothing.
func TestKeep(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for name, data := range map[string]string{"jaeger/a.yaml": "a", "jaeger/sub/b.yaml": "b", "kiali/old.yaml": "old"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "jaeger", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"kiali/new.yaml": []byte("new")}
	if err := Keep(dir, files, []string{"jaeger", "kiali", "linked", "..", "absent"}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"kiali/new.yaml": []byte("new"), "jaeger/a.yaml": []byte("a"), "jaeger/sub/b.yaml": []byte("b")}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("Keep = %q, want %q", files, want)
	}
	if err := Keep(filepath.Join(dir, "none"), files, []string{"jaeger"}); err != nil {
		t.Errorf("Keep of a plan never written: %v", err)
	}
}
