package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/microservices-manifests/microservices-manifests/pkg/cluster"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// TestNodeLoss: the pod template of a real app chart as rendered for prd (required node
// affinity to nodegroup app, spread over kubernetes.io/hostname with maxSkew 1 and
// DoNotSchedule), 4 replicas. They must be spread 2+2 over the two app nodes; then one
// app node is deleted, and the pod GC controller must remove its pods and the replacements
// must run on the other app node (one node left is one topology domain: a skew of 0, so
// DoNotSchedule still admits all 4 there), the Deployment Available again.
func TestNodeLoss(t *testing.T) {
	ctx := testContext(t)
	_, _, cs := startCluster(ctx, t)

	const replicas = 4
	d := spreadDeployment(ctx, t, "app/customer", "prd", replicas)
	t.Logf("pod template of app/customer (prd): affinity %s, topologySpreadConstraints %s", jsonOf(d.Spec.Template.Spec.Affinity), jsonOf(d.Spec.Template.Spec.TopologySpreadConstraints))
	if _, err := cs.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	perNode := waitSpread(ctx, t, cs, d, "", 60*time.Second)
	t.Logf("available in %s, pods per node: %v", time.Since(start).Round(100*time.Millisecond), perNode)
	appNodes := nodesOf(ctx, t, cs, "app")
	if len(appNodes) != 2 {
		t.Fatalf("app nodes: %v, want 2", appNodes)
	}
	for _, n := range appNodes {
		if perNode[n] != replicas/2 {
			t.Fatalf("pods per node %v: want %d on each app node %v (maxSkew 1 over kubernetes.io/hostname)", perNode, replicas/2, appNodes)
		}
	}

	lost, survivor := appNodes[1], appNodes[0]
	if err := cs.CoreV1().Nodes().Delete(ctx, lost, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	lossAt := time.Now()
	// The pod GC controller: up to 20 s to notice, 40 s of quarantine, up to 20 s to the
	// next pass; kwok then makes the replacements Ready in about a second.
	perNode = waitSpread(ctx, t, cs, d, lost, 150*time.Second)
	t.Logf("node %s deleted: its pods removed and replaced, Deployment available again after %s; pods per node: %v",
		lost, time.Since(lossAt).Round(100*time.Millisecond), perNode)
	if perNode[survivor] != replicas || len(perNode) != 1 {
		t.Errorf("pods per node %v after losing %s: want all %d on %s", perNode, lost, replicas, survivor)
	}
}

// spreadDeployment is a Deployment "spread" in namespace default whose pods carry the
// labels, node affinity and topology spread constraints of chart's Deployment in env.
// Its own namespace and container keep the test free of the chart's ServiceAccount,
// Secrets and Pod Security settings.
func spreadDeployment(ctx context.Context, t *testing.T, chart, env string, replicas int32) *appsv1.Deployment {
	t.Helper()
	plan, err := (&validate.Validator{Root: repoRoot(t), Envs: []string{env}, Charts: []string{chart}, SkipPolicies: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := cluster.ObjectsFromRenders(plan.Renders)
	if err != nil {
		t.Fatal(err)
	}
	var src *appsv1.Deployment
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			b, err := json.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			src = &appsv1.Deployment{}
			if err := json.Unmarshal(b, src); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if src == nil {
		t.Fatalf("%s (%s) renders no Deployment", chart, env)
	}
	spec := src.Spec.Template.Spec
	if len(spec.TopologySpreadConstraints) == 0 || spec.Affinity == nil {
		t.Fatalf("%s (%s): no topology spread constraint or affinity in the pod template", chart, env)
	}
	for _, c := range spec.TopologySpreadConstraints {
		if c.TopologyKey != corev1.LabelHostname || c.WhenUnsatisfiable != corev1.DoNotSchedule || c.MaxSkew != 1 {
			t.Fatalf("%s (%s): constraint %s, want maxSkew 1 over %s, DoNotSchedule (what this test shows)", chart, env, jsonOf(c), corev1.LabelHostname)
		}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "spread", Namespace: metav1.NamespaceDefault},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: src.Spec.Selector,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: src.Spec.Template.Labels},
				Spec: corev1.PodSpec{
					Affinity:                  spec.Affinity,
					TopologySpreadConstraints: spec.TopologySpreadConstraints,
					Containers:                []corev1.Container{{Name: "app", Image: "registry.invalid/app:1.0.0"}},
				},
			},
		},
	}
}

// waitSpread waits, bounded, until d is Available with every replica Ready, none on node
// gone and none terminating, and returns the number of its pods per node.
func waitSpread(ctx context.Context, t *testing.T, cs kubernetes.Interface, d *appsv1.Deployment, gone string, timeout time.Duration) map[string]int {
	t.Helper()
	selector := metav1.FormatLabelSelector(d.Spec.Selector)
	deadline := time.Now().Add(timeout)
	var last string
	for attempt := 0; attempt < 1000 && time.Now().Before(deadline); attempt++ {
		cur, err := cs.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods, err := cs.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		perNode := map[string]int{}
		ready, stale := 0, 0
		var states []string
		for _, p := range pods.Items {
			states = append(states, fmt.Sprintf("%s@%s:%s", p.Name, p.Spec.NodeName, p.Status.Phase))
			if p.Spec.NodeName == gone || p.DeletionTimestamp != nil {
				stale++
				continue
			}
			if isReady(&p) {
				ready++
				perNode[p.Spec.NodeName]++
			}
		}
		available := cur.Status.ObservedGeneration >= cur.Generation && cur.Status.AvailableReplicas == *d.Spec.Replicas
		if available && stale == 0 && ready == int(*d.Spec.Replicas) {
			return perNode
		}
		slices.Sort(states)
		last = fmt.Sprintf("available %d/%d, ready %d, on %q or terminating %d; pods %s",
			cur.Status.AvailableReplicas, *d.Spec.Replicas, ready, gone, stale, strings.Join(states, " "))
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("deployment %s not available after %s: %s", d.Name, timeout, last)
	return nil
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return p.Status.Phase == corev1.PodRunning && c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// nodesOf lists the nodes of a nodegroup, sorted.
func nodesOf(ctx context.Context, t *testing.T, cs kubernetes.Interface, group string) []string {
	t.Helper()
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: cluster.NodeGroupLabel + "=" + group})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range list.Items {
		names = append(names, n.Name)
	}
	slices.Sort(names)
	return names
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
