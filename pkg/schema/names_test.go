package schema

import (
	"strings"
	"testing"
)

// TestValidateNames proves that rendered names are checked with the API server's rule for
// their kind, and that hostile values are refused with a bounded, escaped message.
func TestValidateNames(t *testing.T) {
	huge := strings.Repeat("a", 10<<20)
	const (
		core    = "v1"
		rbac    = "rbac.authorization.k8s.io/v1"
		apps    = "apps/v1"
		batch   = "batch/v1"
		istio   = "networking.istio.io/v1"
		subdom  = "DNS-1123 subdomain"
		label   = "DNS-1123 label"
		label35 = "DNS-1035 label"
		segment = "path segment"
	)
	tests := []struct {
		name               string
		apiVersion, kind   string
		namespace, objName string
		wantPath, wantRule string // wantPath "" means valid
	}{
		// Valid names of each rule.
		{"configmap", core, "ConfigMap", "demo", "demo-config.v1", "", ""},
		{"namespace", core, "Namespace", "", "demo", "", ""},
		{"service", core, "Service", "demo", "demo", "", ""},
		{"deployment", apps, "Deployment", "demo", "a.b-c", "", ""},
		{"custom resource", istio, "VirtualService", "demo", "demo.example", "", ""},
		{"clusterrole with colons", rbac, "ClusterRole", "", "system:foo", "", ""},
		{"rolebinding with upper case", rbac, "RoleBinding", "demo", "Admin:Team", "", ""},
		{"cronjob of 52", batch, "CronJob", "demo", strings.Repeat("c", 52), "", ""},
		{"unicode clusterrole", rbac, "ClusterRole", "", "café", "", ""},

		// The same name is valid for one kind and not for another.
		{"colons in a configmap", core, "ConfigMap", "demo", "system:foo", "metadata.name", subdom},
		{"dots in a namespace", core, "Namespace", "", "a.b", "metadata.name", label},
		{"dots in a service", core, "Service", "demo", "a.b", "metadata.name", label35},
		{"service starting with a digit", core, "Service", "demo", "1demo", "metadata.name", label35},
		{"cronjob of 53", batch, "CronJob", "demo", strings.Repeat("c", 53), "metadata.name", "52 characters"},

		// Hostile names, per kind.
		{"traversal configmap", core, "ConfigMap", "demo", "../../../../tmp/x", "metadata.name", subdom},
		{"traversal clusterrole", rbac, "ClusterRole", "", "..", "metadata.name", segment},
		{"slash in a role", rbac, "Role", "demo", "a/b", "metadata.name", segment},
		{"percent in a role", rbac, "Role", "demo", "a%2fb", "metadata.name", segment},
		{"slash in a deployment", apps, "Deployment", "demo", "a/b", "metadata.name", subdom},
		{"upper case secret", core, "Secret", "demo", "Demo", "metadata.name", subdom},
		{"upper case custom resource", istio, "VirtualService", "demo", "Demo", "metadata.name", subdom},
		{"10 MB configmap", core, "ConfigMap", "demo", huge, "metadata.name", subdom},
		{"10 MB clusterrole", rbac, "ClusterRole", "", huge, "metadata.name", segment},
		{"NUL", core, "ConfigMap", "demo", "a\x00b", "metadata.name", subdom},
		{"NUL in a clusterrole", rbac, "ClusterRole", "", "a\x00b", "metadata.name", segment},
		{"newline", core, "Service", "demo", "a\nb", "metadata.name", label35},
		{"newline in a rolebinding", rbac, "RoleBinding", "demo", "a\n::add-mask::x", "metadata.name", segment},
		{"CRLF", apps, "Deployment", "demo", "demo\r\n", "metadata.name", subdom},
		{"unicode", core, "ConfigMap", "demo", "dеmo", "metadata.name", subdom}, // Cyrillic е
		{"bidi override in a clusterrole", rbac, "ClusterRole", "", "a\u202egnp.exe", "metadata.name", segment},
		{"invalid UTF-8 in a clusterrole", rbac, "ClusterRole", "", "a\xffb", "metadata.name", segment},

		// Namespaces are DNS-1123 labels whatever the kind.
		{"traversal namespace", core, "ConfigMap", "../../etc", "demo", "metadata.namespace", label},
		{"dotted namespace", rbac, "Role", "a.b", "demo", "metadata.namespace", label},
		{"10 MB namespace", apps, "Deployment", huge, "demo", "metadata.namespace", label},
		{"newline namespace", core, "ConfigMap", "demo\n", "demo", "metadata.namespace", label},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ValidateNames(tt.apiVersion, tt.kind, tt.namespace, tt.objName)
			if tt.wantPath == "" {
				if len(got) > 0 {
					t.Fatalf("want valid, got %v", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want one violation at %s, got %v", tt.wantPath, got)
			}
			v := got[0]
			if v.Path != tt.wantPath || !strings.Contains(v.Message, tt.wantRule) {
				t.Errorf("got %s, want %s: ...%s...", v, tt.wantPath, tt.wantRule)
			}
			if len(v.Message) > 600 {
				t.Errorf("message is %d bytes: the value is not bounded", len(v.Message))
			}
			if strings.ContainsAny(v.Message, "\x00\r\n\u202e") {
				t.Errorf("message carries a control character: %q", v.Message)
			}
		})
	}
}

func TestQuoteBoundsAndEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"demo", `"demo"`},
		{"a\nb\x00", `"a\nb\x00"`},
		{strings.Repeat("x", 1000), `"` + strings.Repeat("x", MaxEcho) + `"...(1000 bytes)`},
		// The cut does not split a rune.
		{strings.Repeat("x", MaxEcho-1) + "é" + "zz", `"` + strings.Repeat("x", MaxEcho-1) + `"...(103 bytes)`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%.20q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestObjectIDIsBounded(t *testing.T) {
	if got := ObjectID("ConfigMap", "demo", "demo"); got != "ConfigMap/demo/demo" {
		t.Errorf("plain ID = %q", got)
	}
	if got := ObjectID("ClusterRole", "", "system:foo"); got != "ClusterRole/system:foo" {
		t.Errorf("cluster-scoped ID = %q", got)
	}
	got := ObjectID("ConfigMap", "demo\n", strings.Repeat("a", 10<<20))
	if len(got) > 300 || strings.ContainsAny(got, "\n") {
		t.Errorf("hostile ID is %d bytes: %.200q", len(got), got)
	}
	if got := BoundID("ConfigMap/demo/" + strings.Repeat("a", 10<<20)); len(got) > 300 {
		t.Errorf("BoundID kept %d bytes", len(got))
	}
	if got := BoundID("Role/demo/a\nb"); strings.Contains(got, "\n") {
		t.Errorf("BoundID kept a newline: %q", got)
	}
}

// TestViolationsAreBounded: the schema's own messages and paths quote what the object
// holds (unknown keys, enum values, kinds); a hostile object must not make them huge.
func TestViolationsAreBounded(t *testing.T) {
	v := newValidator(t)
	huge := strings.Repeat("k", 1<<20)
	for name, obj := range map[string]map[string]any{
		"unknown field": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}, huge: "v"},
		"unknown kind":  {"apiVersion": "v1", "kind": huge, "metadata": map[string]any{"name": "x"}},
		"bad enum": {"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"type": huge}},
	} {
		got := validate(t, v, obj)
		if len(got) == 0 {
			t.Errorf("%s: no violation", name)
		}
		for _, vi := range got {
			if len(vi.String()) > 1000 {
				t.Errorf("%s: violation is %d bytes: %.200s", name, len(vi.String()), vi.String())
			}
		}
	}
}
