package diff

import (
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// TestIgnoredFieldsAreNoChange: a certificate a chart generates at every render (the ALB
// controller's webhook Secret and caBundle), which its Application's ignoreDifferences names,
// differs between any two renders; the diff must not report it, Secret or not. A key that is
// not ignored still shows as changed.
func TestIgnoredFieldsAreNoChange(t *testing.T) {
	side := func(cert, other string) []*render.Result {
		secret := &render.Object{APIVersion: "v1", Kind: "Secret", Namespace: "kube-system", Name: "tls",
			Ignored: []string{"/data/tls.crt"},
			Body: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "tls", "namespace": "kube-system"},
				"data": map[string]any{"tls.crt": cert, "other": other}}}
		hook := &render.Object{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration", Name: "hook",
			Ignored: []string{"/webhooks/0/clientConfig/caBundle"},
			Body: map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration", "metadata": map[string]any{"name": "hook"},
				"webhooks": []any{map[string]any{"name": "v.example.com", "clientConfig": map[string]any{"caBundle": cert}}}}}
		return []*render.Result{{Chart: discovery.Chart{ID: "alb", Version: "1.0.0"}, Env: "prd", Objects: []*render.Object{secret, hook},
			Official: &render.Source{Application: "alb", Chart: "aws-load-balancer-controller", Version: "1.0.0"}}}
	}
	res, err := Compare(side("Y2VydDE=", "a"), side("Y2VydDI=", "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 || res.Unchanged != 2 {
		t.Errorf("ignored fields reported: %d changes (%v), %d unchanged", len(res.Changes), res.Changes, res.Unchanged)
	}
	res, err = Compare(side("Y2VydDE=", "a"), side("Y2VydDI=", "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Kind != "Secret" {
		t.Errorf("a changed key that is not ignored: %v", res.Changes)
	}
}
