package policy

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// TestUnrenderedOfficialNamespaces: an AuthorizationPolicy of ours selects the ingress
// gateway, which an official chart renders. Without that chart's objects (official charts
// off) M05 cannot conclude in its namespace and says nothing; with them it finds the gateway;
// with the chart rendered but no such pod it reports the policy.
func TestUnrenderedOfficialNamespaces(t *testing.T) {
	e := newEngine(t)
	root := t.TempDir()
	ours := func(objs ...*render.Object) *render.Result {
		return &render.Result{Env: "prd", Objects: objs, Chart: discovery.Chart{ID: "infra/istio-config", Dir: filepath.Join(root, "infra", "istio-config")}}
	}
	app := &render.Object{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Namespace: "argocd", Name: "istio-ingressgateway",
		Body: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": map[string]any{"name": "istio-ingressgateway", "namespace": "argocd"},
			"spec": map[string]any{"project": "infra", "destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "istio-ingress"},
				"source": map[string]any{"repoURL": "https://istio-release.storage.googleapis.com/charts", "chart": "gateway", "targetRevision": "1.31.4"}}}}
	policy := &render.Object{APIVersion: "security.istio.io/v1", Kind: "AuthorizationPolicy", Namespace: "istio-ingress", Name: "allow-ingressgateway",
		Body: map[string]any{"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": map[string]any{"name": "allow-ingressgateway", "namespace": "istio-ingress"},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"istio": "ingressgateway"}}}}}
	gateway := func(label string) *render.Result {
		body := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "istio-ingressgateway", "namespace": "istio-ingress"},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"istio": label}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"istio": label}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "istio-proxy", "image": "auto"}}}}}}
		return &render.Result{Env: "prd", Chart: discovery.Chart{ID: "istio-ingressgateway", Name: "gateway", Version: "1.31.4"},
			Official: &render.Source{Application: "istio-ingressgateway", Chart: "gateway", Version: "1.31.4"},
			Objects:  []*render.Object{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "istio-ingress", Name: "istio-ingressgateway", Body: body}}}
	}
	m05 := func(renders ...*render.Result) bool {
		t.Helper()
		findings, err := e.Check(renders, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range findings {
			if strings.HasPrefix(f.Rule, "M05") && f.Object == "AuthorizationPolicy/istio-ingress/allow-ingressgateway" {
				return true
			}
		}
		return false
	}
	if m05(ours(app, policy)) {
		t.Error("M05 concluded in a namespace whose official chart is not rendered")
	}
	if m05(ours(app, policy), gateway("ingressgateway")) {
		t.Error("M05 reported a policy whose gateway the official chart renders")
	}
	if !m05(ours(app, policy), gateway("other")) {
		t.Error("M05 missed a policy that selects nothing the rendered official chart has")
	}
}
