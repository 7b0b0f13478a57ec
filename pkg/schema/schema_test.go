package schema

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// loadFixture decodes a YAML fixture the way the renderer does (go.yaml.in/yaml/v3
// into map[string]any, so numbers arrive as int/float64).
func loadFixture(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return obj
}

func newValidator(t testing.TB) *Validator {
	t.Helper()
	v, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func validate(t testing.TB, v *Validator, obj map[string]any) []Violation {
	t.Helper()
	got, err := v.Validate(obj)
	if err != nil {
		t.Fatalf("Validate: internal error: %v", err)
	}
	return got
}

func TestValidObjects(t *testing.T) {
	v := newValidator(t)
	for _, name := range []string{
		"valid/deployment.yaml",
		"valid/service-targetport-int.yaml",
		"valid/service-targetport-name.yaml",
		"valid/configmap.yaml",
		"valid/namespace.yaml",
		"valid/pdb.yaml",
		"valid/hpa-v2.yaml",
		"valid/istio-virtualservice.yaml",
		"valid/istio-destinationrule.yaml",
		"valid/istio-peerauthentication.yaml",
		"valid/istio-authorizationpolicy.yaml",
		"valid/istio-gateway.yaml",
		"valid/argocd-application.yaml",
		"valid/argocd-appproject.yaml",
		"valid/servicemonitor.yaml",
		"valid/prometheusrule.yaml",
		"valid/ack-sqs-queue.yaml",
		"valid/ack-apigatewayv2-route.yaml",
	} {
		t.Run(name, func(t *testing.T) {
			if got := validate(t, v, loadFixture(t, name)); len(got) != 0 {
				t.Errorf("want no violations, got %q", got)
			}
		})
	}
}

type wantViolation struct {
	path    string // exact
	message string // substring
}

func assertViolations(t *testing.T, got []Violation, want []wantViolation) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d violations %q, want %d %+v", len(got), got, len(want), want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if g.Path == w.path && strings.Contains(g.Message, w.message) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no violation %q containing %q in %q", w.path, w.message, got)
		}
	}
}

func TestInvalidObjects(t *testing.T) {
	v := newValidator(t)
	for _, tc := range []struct {
		fixture string
		want    []wantViolation
	}{
		{"invalid/deployment-unknown-container-field.yaml", []wantViolation{
			{"spec.template.spec.containers[0].imagePullPolice", `unknown field "imagePullPolice"`},
		}},
		{"invalid/deployment-replicas-string.yaml", []wantViolation{
			{"spec.replicas", "expected integer, got string"},
		}},
		{"invalid/deployment-missing-selector.yaml", []wantViolation{
			{"spec", `missing required field "selector"`},
		}},
		{"invalid/deployment-bad-pull-policy.yaml", []wantViolation{
			{"spec.template.spec.containers[0].imagePullPolicy", `value "Sometimes" must be one of "Always", "IfNotPresent", "Never"`},
		}},
		{"invalid/virtualservice-unknown-route-field.yaml", []wantViolation{
			{"spec.http[0].rout", `unknown field "rout"`},
		}},
		{"invalid/unknown-kind.yaml", []wantViolation{
			{"apiVersion", `no schema for kind "Foo" in "example.com/v1"`},
		}},
		{"invalid/deployment-with-core-apiversion.yaml", []wantViolation{
			{"apiVersion", `no schema for kind "Deployment" in "v1" (known in `},
		}},
		{"invalid/missing-kind.yaml", []wantViolation{
			{"", `missing required field "kind"`},
		}},
		{"invalid/service-targetport-bool.yaml", []wantViolation{
			{"spec.ports[0].targetPort", "expected integer or string, got boolean"},
		}},
		{"invalid/configmap-unknown-metadata-field.yaml", []wantViolation{
			{"metadata.label", `unknown field "label"`},
		}},
		{"invalid/queue-missing-queue-name.yaml", []wantViolation{
			{"spec", `missing required field "queueName"`},
			{"spec.delaySeconds", "expected string, got integer"},
		}},
		{"invalid/queue-unknown-field.yaml", []wantViolation{
			{"spec.deadLetterQueue", `unknown field "deadLetterQueue"`},
		}},
		{"invalid/route-unknown-field.yaml", []wantViolation{
			{"spec.targetRefs", `unknown field "targetRefs"`},
		}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			assertViolations(t, validate(t, v, loadFixture(t, tc.fixture)), tc.want)
		})
	}
}

// TestRootPinsGVK checks that the schema of a kind only accepts that exact
// apiVersion and kind, so a document can't validate against the wrong schema.
func TestRootPinsGVK(t *testing.T) {
	v := newValidator(t)
	for _, tc := range []struct {
		key        string
		apiVersion string
		kind       string
		want       []wantViolation
	}{
		{"apps/v1 Deployment", "apps/v1", "StatefulSet", []wantViolation{{"kind", `value "StatefulSet" must be "Deployment"`}}},
		{"apps/v1 Deployment", "apps/v1beta1", "Deployment", []wantViolation{{"apiVersion", `value "apps/v1beta1" must be "apps/v1"`}}},
		{"networking.istio.io/v1 VirtualService", "networking.istio.io/v1beta1", "VirtualService", []wantViolation{{"apiVersion", `must be "networking.istio.io/v1"`}}},
		{"sqs.services.k8s.aws/v1alpha1 Queue", "sqs.services.k8s.aws/v1alpha1", "Topic", []wantViolation{{"kind", `must be "Queue"`}}},
	} {
		t.Run(tc.key+" as "+tc.apiVersion+" "+tc.kind, func(t *testing.T) {
			ref, ok := v.kinds[tc.key]
			if !ok {
				t.Fatalf("%s not indexed", tc.key)
			}
			s, err := ref.file.schema(ref.def)
			if err != nil {
				t.Fatal(err)
			}
			obj := map[string]any{"apiVersion": tc.apiVersion, "kind": tc.kind, "metadata": map[string]any{"name": "x"}}
			err = s.Validate(obj)
			if err == nil {
				t.Fatal("validated with a mismatched apiVersion/kind")
			}
			got := violations(asValidationError(t, err), obj)
			var filtered []Violation
			for _, g := range got {
				if g.Path == "apiVersion" || g.Path == "kind" {
					filtered = append(filtered, g)
				}
			}
			assertViolations(t, filtered, tc.want)
		})
	}
}

func TestGoNumberTypes(t *testing.T) {
	v := newValidator(t)
	for _, replicas := range []any{2, int32(2), int64(2), uint64(2), float64(2)} {
		obj := loadFixture(t, "invalid/deployment-replicas-string.yaml")
		obj["spec"].(map[string]any)["replicas"] = replicas
		if got := validate(t, v, obj); len(got) != 0 {
			t.Errorf("replicas %T(%v): want no violations, got %q", replicas, replicas, got)
		}
	}
	obj := loadFixture(t, "invalid/deployment-replicas-string.yaml")
	obj["spec"].(map[string]any)["replicas"] = 2.5
	assertViolations(t, validate(t, v, obj), []wantViolation{{"spec.replicas", "expected integer, got number"}})
}

func TestValidateDoesNotModifyInput(t *testing.T) {
	v := newValidator(t)
	obj := loadFixture(t, "valid/deployment.yaml")
	before := loadFixture(t, "valid/deployment.yaml")
	validate(t, v, obj)
	if !reflect.DeepEqual(obj, before) {
		t.Error("Validate modified its input")
	}
}

func TestWithCRDs(t *testing.T) {
	base := newValidator(t)
	withWidget, err := base.WithCRDs([]map[string]any{loadFixture(t, "crd/widget-crd.yaml")})
	if err != nil {
		t.Fatalf("WithCRDs: %v", err)
	}
	for _, tc := range []struct {
		name      string
		validator *Validator
		fixture   string
		want      []wantViolation
	}{
		{"valid widget", withWidget, "crd/widget-valid.yaml", nil},
		{"invalid widget", withWidget, "crd/widget-invalid.yaml", []wantViolation{
			{"spec.size", `value "medium" must be one of "small", "large"`},
			{"spec.replicas", "value 0 must be >= 1"},
			{"spec.colour", `unknown field "colour"`},
		}},
		{"base validator does not know widgets", base, "crd/widget-valid.yaml", []wantViolation{
			{"apiVersion", `no schema for kind "Widget" in "platform.example.com/v1"`},
		}},
		{"builtins still known", withWidget, "valid/deployment.yaml", nil},
		{"the CRD object itself is a valid CustomResourceDefinition", base, "crd/widget-crd.yaml", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertViolations(t, validate(t, tc.validator, loadFixture(t, tc.fixture)), tc.want)
		})
	}
	// The same CRD rendered in another environment is converted and compiled once.
	again, err := base.WithCRDs([]map[string]any{loadFixture(t, "crd/widget-crd.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	key := "platform.example.com/v1 Widget"
	if again.kinds[key].file == nil || again.kinds[key].file != withWidget.kinds[key].file {
		t.Errorf("a CRD given twice is converted twice (%p, %p): its schema compiles once per environment", again.kinds[key].file, withWidget.kinds[key].file)
	}
	for name, bad := range map[string]map[string]any{
		"no group and kind": {"kind": "CustomResourceDefinition", "spec": map[string]any{}},
		"not a CRD":         loadFixture(t, "valid/configmap.yaml"),
	} {
		if _, err := base.WithCRDs([]map[string]any{bad}); err == nil {
			t.Errorf("WithCRDs accepted a CRD with %s", name)
		}
	}
}

func TestConcurrentValidate(t *testing.T) {
	v := newValidator(t)
	fixtures := []string{"valid/deployment.yaml", "valid/istio-virtualservice.yaml", "valid/configmap.yaml", "invalid/deployment-replicas-string.yaml"}
	objs := make([]map[string]any, len(fixtures))
	for i, f := range fixtures {
		objs[i] = loadFixture(t, f)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(objs))
	for range 8 {
		for i, obj := range objs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := v.Validate(obj)
				if err == nil && (len(got) > 0) != strings.HasPrefix(fixtures[i], "invalid/") {
					err = fmt.Errorf("%s: unexpected result %q", fixtures[i], got)
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestKinds(t *testing.T) {
	v := newValidator(t)
	kinds := v.Kinds()
	if !sort.StringsAreSorted(kinds) {
		t.Error("Kinds is not sorted")
	}
	have := map[string]bool{}
	for _, k := range kinds {
		have[k] = true
	}
	for _, want := range []string{
		"v1 ConfigMap", "apps/v1 Deployment", "autoscaling/v2 HorizontalPodAutoscaler",
		"networking.istio.io/v1 VirtualService", "argoproj.io/v1alpha1 Application",
		"monitoring.coreos.com/v1 ServiceMonitor", "sqs.services.k8s.aws/v1alpha1 Queue",
		"apigatewayv2.services.k8s.aws/v1alpha1 API",
	} {
		if !have[want] {
			t.Errorf("Kinds lacks %q", want)
		}
	}
	for _, unwanted := range []string{"apps/v1 DeleteOptions", "v1 WatchEvent", "v1 Status"} {
		if have[unwanted] {
			t.Errorf("Kinds lists the non-resource %q", unwanted)
		}
	}
}

// TestAllKindsCompile compiles the schema of every indexed kind, so that a
// generated schema the validator can't use (a bad pattern, a dangling $ref) fails
// here rather than when a chart first uses that kind.
func TestAllKindsCompile(t *testing.T) {
	v := newValidator(t)
	for key, ref := range v.kinds {
		if _, err := ref.file.schema(ref.def); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
}

// TestGeneratedSchemasFresh regenerates the schemas into a temporary directory and
// compares them byte for byte with the checked-in data.
func TestGeneratedSchemasFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping schema regeneration in -short mode (needs go mod download of the pinned sources)")
	}
	shared := "crds"
	if _, err := os.Stat(shared); err != nil {
		t.Fatalf("vendored CRDs not found at pkg/schema/%s: %v", shared, err)
	}
	out := filepath.Join(t.TempDir(), "data")
	kc := filepath.Join(t.TempDir(), "kubeconform")
	if err := Generate(context.Background(), GenerateOptions{Out: out, SharedCRDs: shared, Kubeconform: kc}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	want := readDir(t, out)
	have := readDir(t, "data")
	var stale []string
	for name, b := range want {
		if hb, ok := have[name]; !ok {
			stale = append(stale, name+" (missing)")
		} else if !bytes.Equal(hb, b) {
			stale = append(stale, name+" (differs)")
		}
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			stale = append(stale, name+" (no longer generated)")
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("pkg/schema/data is stale, run make schemas:\n  %s", strings.Join(stale, "\n  "))
	}

	kcFiles := readDir(t, kc)
	if got, want := len(kcFiles), len(newValidator(t).Kinds()); got != want {
		t.Errorf("kubeconform: %d files, want one per kind (%d)", got, want)
	}
	for _, name := range []string{"deployment-apps-v1.json", "configmap-v1.json", "virtualservice-networking-v1.json", "queue-sqs-v1alpha1.json"} {
		if _, ok := kcFiles[name]; !ok {
			t.Errorf("kubeconform: %s missing", name)
		}
	}
}

func TestKubeconformFile(t *testing.T) {
	for _, tc := range []struct{ apiVersion, kind, want string }{
		{"v1", "ConfigMap", "configmap-v1.json"},
		{"apps/v1", "Deployment", "deployment-apps-v1.json"},
		{"networking.istio.io/v1beta1", "VirtualService", "virtualservice-networking-v1beta1.json"},
		{"sqs.services.k8s.aws/v1alpha1", "Queue", "queue-sqs-v1alpha1.json"},
	} {
		if got := kubeconformFile(tc.apiVersion, tc.kind); got != tc.want {
			t.Errorf("kubeconformFile(%q, %q) = %q, want %q", tc.apiVersion, tc.kind, got, tc.want)
		}
	}
}

func TestGenerateFailureKeepsData(t *testing.T) {
	out := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(out, "index.json")
	if err := os.WriteFile(marker, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Generate(context.Background(), GenerateOptions{Out: out, SharedCRDs: filepath.Join(t.TempDir(), "missing")})
	if err == nil {
		t.Fatal("Generate succeeded without shared CRDs")
	}
	if !strings.Contains(err.Error(), "shared CRDs") {
		t.Errorf("error does not mention the shared CRDs: %v", err)
	}
	if b, _ := os.ReadFile(marker); string(b) != "previous" {
		t.Errorf("previous data was touched: %q", b)
	}
}

func asValidationError(t *testing.T, err error) *jsonschema.ValidationError {
	t.Helper()
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("not a validation error: %v", err)
	}
	return verr
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("read %s: %v", e.Name(), err)
		}
		out[e.Name()] = b
	}
	return out
}

func BenchmarkValidateDeployment(b *testing.B) {
	benchmarkValidate(b, "valid/deployment.yaml")
}

func BenchmarkValidateVirtualService(b *testing.B) {
	benchmarkValidate(b, "valid/istio-virtualservice.yaml")
}

func BenchmarkValidateApplication(b *testing.B) {
	benchmarkValidate(b, "valid/argocd-application.yaml")
}

func benchmarkValidate(b *testing.B, fixture string) {
	b.Helper()
	v := newValidator(b)
	obj := loadFixture(b, fixture)
	if got := validate(b, v, obj); len(got) != 0 { // warm: compile once
		b.Fatalf("fixture invalid: %q", got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Validate(obj); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdDeployment measures New plus the first validation of a kind, which
// includes loading and compiling its schema file.
func BenchmarkColdDeployment(b *testing.B) {
	obj := loadFixture(b, "valid/deployment.yaml")
	b.ReportAllocs()
	for b.Loop() {
		v := newValidator(b)
		if _, err := v.Validate(obj); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVendoredCRDsMatchShared: pkg/schema/crds is an unchanged copy of the workplace's
// ../shared/crds (the ACK CRDs no registry serves); a drift on either side fails here.
func TestVendoredCRDsMatchShared(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "crds")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("no ../shared/crds beside the repository to compare with (%v)", err)
	}
	for _, dir := range []string{"ack-sqs-v1.6.1", "ack-apigatewayv2-v1.4.1"} {
		want, err := os.ReadDir(filepath.Join(shared, dir))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadDir(filepath.Join("crds", dir))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d files vendored, ../shared/crds has %d", dir, len(got), len(want))
		}
		for _, e := range want {
			a, err := os.ReadFile(filepath.Join(shared, dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join("crds", dir, e.Name()))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("pkg/schema/crds/%s/%s differs from ../shared/crds (copy it unchanged)", dir, e.Name())
			}
		}
	}
}
