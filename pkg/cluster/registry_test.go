package cluster_test

import (
	"maps"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/microservices-manifests/microservices-manifests/pkg/cluster"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// TestRepositorySecretShapes: the repository Secret the embedded run writes for Argo CD
// (cluster.RepositorySecret) has the shape of the one external-secrets writes in production
// from infra/ecr-credentials' ExternalSecret: same name, type, labels and keys, the same
// fixed values, and the login where the generator puts it. And the repository it names is
// the one the prd Applications pull from and the AppProjects allow.
func TestRepositorySecretShapes(t *testing.T) {
	root := repoRoot(t)
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	objects := func(id, env string) []*render.Object {
		c, ok := repo.Chart(id)
		if !ok {
			t.Fatalf("no chart %s", id)
		}
		res, err := (&render.Renderer{Repo: repo}).Render(c, env)
		if err != nil || len(res.Findings) > 0 {
			t.Fatalf("render %s %s: %v %v", id, env, err, res.Findings)
		}
		return res.Objects
	}
	prdRepo, err := cluster.OCIRepository(root, "prd")
	if err != nil || prdRepo == "" {
		t.Fatalf("prd pulls from no OCI repository (%v)", err)
	}
	var found int
	for _, o := range objects("infra/ecr-credentials", "prd") {
		if o.Kind != "ExternalSecret" {
			continue
		}
		found++
		u := unstructured.Unstructured{Object: o.Body}
		target, _, _ := unstructured.NestedString(u.Object, "spec", "target", "name")
		typ, _, _ := unstructured.NestedString(u.Object, "spec", "target", "template", "type")
		labels, _, _ := unstructured.NestedStringMap(u.Object, "spec", "target", "template", "metadata", "labels")
		data, _, _ := unstructured.NestedStringMap(u.Object, "spec", "target", "template", "data")
		name := data["name"]
		if data["url"] != prdRepo {
			t.Errorf("ExternalSecret %s: url %q, want the prd Applications' repository %q", u.GetName(), data["url"], prdRepo)
		}
		embedded := unstructured.Unstructured{Object: cluster.RepositorySecret(name, data["url"], "{{ .username }}", "{{ .password }}")}
		eData, _, _ := unstructured.NestedStringMap(embedded.Object, "stringData")
		eType, _, _ := unstructured.NestedString(embedded.Object, "type")
		if embedded.GetName() != target || embedded.GetNamespace() != u.GetNamespace() || eType != typ ||
			!maps.Equal(embedded.GetLabels(), labels) || !maps.Equal(eData, data) {
			t.Errorf("shapes differ:\n production (ExternalSecret target): %s/%s type %s labels %v data %v\n embedded run (RepositorySecret):   %s/%s type %s labels %v data %v",
				u.GetNamespace(), target, typ, labels, data, embedded.GetNamespace(), embedded.GetName(), eType, embedded.GetLabels(), eData)
		}
	}
	if found != 1 {
		t.Fatalf("infra/ecr-credentials renders %d ExternalSecrets in prd, want 1", found)
	}

	// The Applications' oci.repoURL and the AppProjects' source repositories name it too.
	for _, o := range objects("deploy/argocd/app", "prd") {
		if repoURL, _, _ := unstructured.NestedString(o.Body, "spec", "source", "repoURL"); o.Kind == "Application" && repoURL != prdRepo {
			t.Errorf("Application %s pulls from %q, not from the repository Argo CD has credentials for (%q)", o.Name, repoURL, prdRepo)
		}
	}
	for _, o := range objects("deploy/argocd/shared/projects", "prd") {
		if o.Name != "app" && o.Name != "infra" {
			continue
		}
		repos, _, _ := unstructured.NestedStringSlice(o.Body, "spec", "sourceRepos")
		if !slices.Contains(repos, prdRepo) {
			t.Errorf("AppProject %s: sourceRepos %v lack %s", o.Name, repos, prdRepo)
		}
	}
}
