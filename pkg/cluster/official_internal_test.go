package cluster

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
)

// TestServeOfficial: the embedded run serves an official chart found in the folder through
// chartsource (name and version validated, the archive's Chart.yaml matching and its entries
// checked) and says why when it does not: an entry whose chart name would leave the folder is
// never a file name, a chart with webhooks kwok cannot answer is listed with its reason.
func TestServeOfficial(t *testing.T) {
	dir := testutil.SharedCharts(t)
	a := &ArgoCD{OCI: &OCISource{RepoURL: "127.0.0.1:5000/charts", ChartsFrom: dir}}
	src, why := a.serveOfficial("jaeger", map[string]any{"repoURL": "https://jaegertracing.github.io/helm-charts", "version": "4.11.1"})
	want, err := os.ReadFile(filepath.Join(dir, "jaeger-4.11.1.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	if src == nil || !bytes.Equal(src.archive, want) || src.repoURL != "127.0.0.1:5000/"+officialPrefix {
		t.Fatalf("jaeger 4.11.1 not served from %s (%s)", dir, why)
	}
	for _, tc := range []struct {
		name  string
		entry map[string]any
		why   string
	}{
		{"path in the chart name", map[string]any{"chart": "../shared/charts/jaeger", "repoURL": "https://x.example", "version": "4.11.1"}, "invalid chart name"},
		{"version not in the folder", map[string]any{"chart": "jaeger", "repoURL": "https://x.example", "version": "0.0.1"}, "not in " + dir},
		{"webhooks kwok cannot answer", map[string]any{"repoURL": "https://prometheus-community.github.io/helm-charts", "version": "88.5.3"}, "not served: its operator's admission webhook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "kube-prometheus-stack"
			if tc.entry["chart"] != nil {
				name = "x"
			}
			src, why := a.serveOfficial(name, tc.entry)
			if src != nil || !strings.Contains(why, tc.why) {
				t.Errorf("served %v, why %q: want refused with %q", src, why, tc.why)
			}
		})
	}
}
