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

// TestLoadStampsReleaseImages: the module's sources default the images to a testing
// registry at "latest"; Load gives them the release packages' defaults, so the render of a
// version runs that version's images (and a version bump moves them) without values pinning
// a tag beside the chart version.
func TestLoadStampsReleaseImages(t *testing.T) {
	dir, err := ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ chart, kind, image string }{
		{"istiod", "Deployment", ReleaseHub + "/pilot:1.31.4"},
		{"cni", "DaemonSet", ReleaseHub + "/install-cni:1.31.4"},
	} {
		ch, err := Load(dir, tc.chart, "1.31.4")
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Render(ch, map[string]any{}, tc.chart, "istio-system", nil)
		if err != nil {
			t.Fatal(err)
		}
		var images []string
		for _, o := range objs {
			if o.Kind != tc.kind {
				continue
			}
			spec, _ := o.Body["spec"].(map[string]any)
			tmpl, _ := spec["template"].(map[string]any)
			pod, _ := tmpl["spec"].(map[string]any)
			containers, _ := pod["containers"].([]any)
			for _, c := range containers {
				image, _ := c.(map[string]any)["image"].(string)
				images = append(images, image)
			}
		}
		if !slices.Contains(images, tc.image) {
			t.Errorf("%s renders images %q, want %s", tc.chart, images, tc.image)
		}
	}
}
