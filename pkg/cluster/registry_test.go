package cluster_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
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

// TestRegistryStopsWithDown: `platform cluster registry` leaves the stand-in running in the
// background with its settings recorded, and what `platform cluster down` calls (Down)
// ends it: the recorded process is gone and a second Stop finds nothing to do.
func TestRegistryStopsWithDown(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the platform binary and runs the registry")
	}
	root := repoRoot(t)
	ctx := testContext(t)
	exe := filepath.Join(t.TempDir(), "platform")
	build := exec.CommandContext(ctx, "go", "build", "-o", exe, "./cmd/platform")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := cluster.New(root, testWriter{t})
	c.Dir = filepath.Join(t.TempDir(), "cluster")
	r := &cluster.Registry{Cluster: c, Exe: exe, Root: root, Log: testWriter{t}}
	st, err := r.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	for _, k := range cluster.RegistrySettings {
		if st.Settings[k] == "" {
			t.Errorf("setting %s missing: %v", k, st.Settings)
		}
	}
	if _, _, err := st.Login(ctx); err != nil {
		t.Fatalf("login at the running stand-in: %v", err)
	}
	if got := st.Repository("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts"); got != st.Settings["REGISTRY_ADDR"]+"/charts" {
		t.Errorf("Repository = %q", got)
	}
	p, ok := st.Lookup("registry")
	if !ok || !p.Running() {
		t.Fatalf("registry not recorded as running: %+v", st)
	}
	if err := r.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("registry storage after Down: %v, want it dropped", err)
	}
	if p.Running() {
		t.Errorf("registry (pid %d) still running after Stop", p.PID)
	}
	if _, err := r.ReadState(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state after Stop: %v, want none", err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
