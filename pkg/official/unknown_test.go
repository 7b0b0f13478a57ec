package official_test

import (
	"context"
	"slices"
	"testing"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/official"
)

// TestUnknownValues: keys the chart neither declares nor reads are reported; declared keys,
// keys below a free-form map or below a map a template takes whole, keys a template reads
// and a sub-chart's declared keys are not.
func TestUnknownValues(t *testing.T) {
	sub := &chart.Chart{Metadata: &chart.Metadata{Name: "sub", Version: "1.0.0"},
		Values:    map[string]any{"enabled": true, "replicas": 1},
		Templates: []*chart.File{{Name: "templates/d.yaml", Data: []byte("replicas: {{ .Values.replicas }}")}}}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{Name: "top", Version: "1.0.0", Dependencies: []*chart.Dependency{{Name: "sub", Version: "1.0.0"}}},
		Values: map[string]any{
			"image":        map[string]any{"tag": "1", "repository": "r"},
			"nodeSelector": map[string]any{},
			"securityCtx":  map[string]any{"runAsUser": 1},
			"strict":       map[string]any{"a": 1},
			"sub":          map[string]any{"replicas": 2},
			"list":         []any{},
		},
		Templates: []*chart.File{{Name: "templates/d.yaml", Data: []byte(
			"image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n" +
				"{{- with .Values.extraEnv }}env: {{ toYaml . }}{{ end }}\n" +
				"sc: {{ toYaml .Values.securityCtx | nindent 2 }}\n" +
				"a: {{ .Values.strict.a }}\n")}},
	}
	ch.AddDependency(sub)
	vals := map[string]any{
		"image":        map[string]any{"tag": "2", "tagg": "typo"},
		"nodeSelector": map[string]any{"any": "thing"},
		"securityCtx":  map[string]any{"runAsNonRoot": true},
		"strict":       map[string]any{"a": 2, "b": 3},
		"extraEnv":     map[string]any{"X": "1"},
		"sub":          map[string]any{"replicas": 3, "replicaz": 4},
		"list":         []any{"x"},
		"global":       map[string]any{"anything": 1},
		"nowhere":      1,
	}
	got := official.UnknownValues(ch, vals)
	want := []string{"image.tagg", "nowhere", "strict.b", "sub.replicaz"}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownValues = %v, want %v", got, want)
	}
}

// TestUnknownValuesRealCharts: a misspelt key in the values of a real official chart is
// reported by Render as a warning naming the Application and the key.
func TestUnknownValuesRealCharts(t *testing.T) {
	resolver := sharedResolver(t)
	for _, tc := range []struct {
		ref  chartsource.Ref
		vals map[string]any
		want string
	}{
		{chartsource.Ref{RepoURL: "https://jaegertracing.github.io/helm-charts", Chart: "jaeger", Version: "4.11.1"},
			map[string]any{"jaeger": map[string]any{"nodeSelectr": map[string]any{"a": "b"}}}, "jaeger.nodeSelectr"},
		{chartsource.Ref{RepoURL: "https://aws.github.io/eks-charts", Chart: "aws-load-balancer-controller", Version: "3.5.0"},
			map[string]any{"clusterName": "c", "enableServiceMutatorWebhok": false}, "enableServiceMutatorWebhok"},
	} {
		res, err := resolver.Resolve(context.Background(), tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := official.UnknownValues(res.Chart, tc.vals); !slices.Contains(got, tc.want) {
			t.Errorf("%s: UnknownValues = %v, want %s among them", tc.ref.Chart, got, tc.want)
		}
	}
}
