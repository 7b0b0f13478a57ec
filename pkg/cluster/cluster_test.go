package cluster_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/microservices-manifests/microservices-manifests/pkg/cluster"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// testContext ends a minute before the test binary's deadline, so that a slow build or
// wait fails with its own message rather than the test timeout's panic.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Minute))
		t.Cleanup(cancel)
	}
	return ctx
}

// startCluster starts an embedded cluster with a state directory of its own (a cluster
// started by `make up` keeps running) and stops it when the test ends. It skips under
// -short and fails with how to get the components when they cannot be built.
func startCluster(ctx context.Context, t *testing.T) (*cluster.Cluster, *rest.Config, kubernetes.Interface) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the embedded cluster tests build and run kube-apiserver, etcd and kwok (run without -short)")
	}
	root := repoRoot(t)
	c := cluster.New(root, testWriter{t})
	c.Dir = filepath.Join(t.TempDir(), "cluster")
	c.Components.LogDir = filepath.Join(root, ".cache", "cluster", "logs")

	buildStart := time.Now()
	built, err := c.Components.Ensure(ctx)
	if err != nil {
		t.Fatalf("the embedded cluster's components could not be built; this test needs them "+
			"(the Go module proxy or a warm module cache, and ~10 min cold; `bin/platform cluster up` builds them too): %v", err)
	}
	t.Logf("components ready in %s (built: %t)", time.Since(buildStart).Round(time.Second), built)

	res, err := c.Start(ctx)
	// Stop is a no-op once the cluster is stopped; it runs before the temp dir is removed.
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err != nil {
		logs, _ := os.ReadDir(filepath.Join(c.Dir, "logs"))
		t.Fatalf("start: %v (logs in %s: %d files)", err, filepath.Join(c.Dir, "logs"), len(logs))
	}
	t.Logf("cluster started in %s at %s", res.StartDuration.Round(100*time.Millisecond), res.Server)

	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, cfg, cs
}

// TestEmbeddedCluster is the real-apiserver tier: it starts the cluster, applies the dev
// plan of this repository, checks placement and Pod Security admission, and stops.
func TestEmbeddedCluster(t *testing.T) {
	root := repoRoot(t)
	ctx := testContext(t)
	c, cfg, cs := startCluster(ctx, t)
	assertNodes(ctx, t, cs)

	plan, err := (&validate.Validator{Root: root, Envs: []string{"dev"}}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Report.Failed() {
		t.Fatalf("the dev plan does not validate: %d findings", len(plan.Report.Findings))
	}
	objs, err := cluster.ObjectsFromRenders(plan.Renders)
	if err != nil {
		t.Fatal(err)
	}
	a := &cluster.Applier{
		Config: cfg, Root: root, Objects: objs, Timeout: 2 * time.Minute,
		ProvisionVolumes: true, DataDir: filepath.Join(c.Dir, "volumes"), Log: testWriter{t},
	}
	out, err := a.Run(ctx)
	if out != nil {
		var b strings.Builder
		_ = cluster.WriteTable(&b, out.Workloads)
		t.Logf("apply: %d CRDs, %d objects, %d volumes in %s\n%s", out.CRDs, out.Applied, len(out.Volumes), out.Duration.Round(100*time.Millisecond), b.String())
	}
	if err != nil {
		t.Fatalf("apply: %v", err)
	}

	deployments := 0
	for _, w := range out.Workloads {
		if w.Kind != "Deployment" || w.Namespace != "microservices" {
			continue
		}
		deployments++
		if !w.OK() || len(w.NodeGroups) != 1 || w.NodeGroups[0] != "app" {
			t.Errorf("%s/%s: available %t, placed %t, nodegroups %v, nodes %v: want available on nodegroup app", w.Namespace, w.Name, w.Available, w.Placed, w.NodeGroups, w.Nodes)
		}
		for _, n := range w.Nodes {
			node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := node.Labels[cluster.NodeGroupLabel]; got != "app" {
				t.Errorf("%s runs on %s of nodegroup %q, want app", w.Name, n, got)
			}
		}
	}
	if deployments == 0 {
		t.Error("the dev plan has no Deployment in namespace microservices")
	}

	assertPodSecurityRejects(ctx, t, cs)

	// Stop: every process of the group ends.
	pids := componentPIDs(t, c.Dir)
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for name, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still running after Stop", name, pid)
		}
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state.json left after Stop: %v", err)
	}
}

// assertNodes checks DefaultNodes: one control-plane-like node, two per nodegroup, each
// labelled with its hostname, the two of a nodegroup in different zones.
func assertNodes(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zones := map[string][]string{}
	for _, n := range nodes.Items {
		g := n.Labels[cluster.NodeGroupLabel]
		zones[g] = append(zones[g], n.Labels[corev1.LabelTopologyZone])
		if got := n.Labels[corev1.LabelHostname]; got != n.Name {
			t.Errorf("node %s: %s=%q, want its name", n.Name, corev1.LabelHostname, got)
		}
	}
	if len(zones[""]) != 1 {
		t.Errorf("nodes without nodegroup: %d, want 1 (the control-plane-like node)", len(zones[""]))
	}
	for _, g := range cluster.NodeGroups() {
		if z := zones[g]; len(z) != 2 || z[0] == "" || z[1] == "" || z[0] == z[1] {
			t.Errorf("nodegroup %s: zones %q, want two nodes in two zones", g, z)
		}
	}
}

// assertPodSecurityRejects creates a privileged pod in namespace microservices (enforce:
// restricted): the apiserver's PodSecurity admission must refuse it.
func assertPodSecurityRejects(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	privileged := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "violates-restricted", Namespace: "microservices"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:            "app",
				Image:           "registry.invalid/app:1.0.0",
				SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
			}},
		},
	}
	created, err := cs.CoreV1().Pods("microservices").Create(ctx, pod, metav1.CreateOptions{})
	if err == nil {
		_ = cs.CoreV1().Pods("microservices").Delete(ctx, created.Name, metav1.DeleteOptions{})
		t.Fatal("a privileged pod was admitted in namespace microservices (Pod Security restricted is enforced there)")
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "violates PodSecurity \"restricted") {
		t.Fatalf("privileged pod: got %v, want Forbidden by PodSecurity restricted", err)
	}
	t.Logf("rejected as expected: %v", err)
}

func componentPIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Processes []cluster.Process `json:"processes"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	for _, p := range st.Processes {
		if p.StartTime == 0 {
			t.Errorf("%s recorded without its start time", p.Name)
		}
		pids[p.Name] = p.PID
	}
	if len(pids) != 5 {
		t.Errorf("state has %d processes, want 5: %+v", len(pids), st.Processes)
	}
	return pids
}

func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestPKI checks the generated certificates without starting anything.
func TestPKI(t *testing.T) {
	dir := t.TempDir()
	c := cluster.New(dir, nil)
	if err := cluster.EnsurePKI(c); err != nil {
		t.Fatal(err)
	}
	read := func(name string) *x509.Certificate {
		b, err := os.ReadFile(filepath.Join(c.Dir, "pki", name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	ca, serving, admin := read("ca.crt"), read("apiserver.crt"), read("admin.crt")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := serving.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("serving certificate for 127.0.0.1: %v", err)
	}
	if _, err := admin.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin client certificate: %v", err)
	}
	if got := admin.Subject.Organization; len(got) != 1 || got[0] != "system:masters" {
		t.Errorf("admin groups %v, want [system:masters]", got)
	}
	// A second call keeps the CA (kubeconfigs stay valid across restarts).
	if err := cluster.EnsurePKI(c); err != nil {
		t.Fatal(err)
	}
	if !read("ca.crt").Equal(ca) {
		t.Error("the CA was regenerated")
	}
}
