package istiocharts

import (
	"slices"
	"testing"
)

func TestUnknownKeys(t *testing.T) {
	dir, err := ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := Load(dir, "istiod", "1.31.4")
	if err != nil {
		t.Fatal(err)
	}
	got := UnknownKeys(ch, "istiod", map[string]any{
		"pilot":          map[string]any{"cni": map[string]any{"enabled": true}, "nodeSelector": map[string]any{"any": "x"}, "nodeSelecter": 1},
		"cni":            map[string]any{"enabled": true, "enabeld": true},
		"global":         map[string]any{"proxy": map[string]any{"resources": map[string]any{}, "bogus": 1}},
		"meshConfig":     map[string]any{"anything": 1},
		"podAnnotations": map[string]any{"free": "form"},
	}, "meshConfig")
	want := []string{"cni.enabeld", "global.proxy.bogus", "pilot.nodeSelecter"}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownKeys = %q, want %q", got, want)
	}
}

func TestMeshConfigUnknownFields(t *testing.T) {
	dir, err := APIModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadProtos(dir, "mesh/v1alpha1/config.proto")
	if err != nil {
		t.Fatal(err)
	}
	got := p.UnknownFields("istio.mesh.v1alpha1.MeshConfig", map[string]any{
		"enableTracing":   true,
		"access_log_file": "/dev/stdout", // protojson accepts proto names too
		"extensionProviders": []any{map[string]any{"name": "jaeger",
			"opentelemetry": map[string]any{"service": "s", "port": 4317, "prt": 1}}},
		"defaultConfig":         map[string]any{"proxyMetadata": map[string]any{"FREE": "x"}, "holdApplicatonUntilProxyStarts": true},
		"outboundTrafficPolicy": map[string]any{"mode": "REGISTRY_ONLY"},
		"bogus":                 1,
	})
	want := []string{"bogus", "defaultConfig.holdApplicatonUntilProxyStarts", "extensionProviders[0].opentelemetry.prt"}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownFields = %q, want %q", got, want)
	}
}
