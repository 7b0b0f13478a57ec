package cluster

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// FieldManager is the server-side apply field manager of everything Apply writes.
const FieldManager = "platform"

// provisionedBy marks the PersistentVolumes Apply creates for pending claims.
const provisionedBy = "platform-embedded-cluster"

// Note is said once in every apply: what the embedded cluster does not run.
const Note = "admission webhooks: none installed (Istio's injector and validation, ArgoCD and the " +
	"Prometheus Operator come from official charts that are not rendered here): no sidecar is " +
	"injected and Istio/Prometheus/ArgoCD objects are stored, not acted upon"

// Applier installs the CRD sources and server-side applies a plan, then waits until every
// Deployment and StatefulSet is Available on a node of the nodegroup its affinity asks for.
type Applier struct {
	Config *rest.Config
	// Root is the repository root (for the CRD sources of pkg/schema/data/index.json).
	Root string
	// SharedCRDs holds the CRDs no module proxy serves; empty means Root/pkg/schema/crds.
	SharedCRDs string
	// GoCommand is the go binary used to download CRD modules; "go" when empty.
	GoCommand string
	// Objects is the plan.
	Objects []*unstructured.Unstructured
	// Timeout bounds each wait (CRDs established, kinds served, workloads available);
	// 0 means 3 minutes.
	Timeout time.Duration
	// ProvisionVolumes binds a pre-bound volume to each pending claim without a storage
	// class (the embedded cluster has no provisioner; a real cluster has one).
	ProvisionVolumes bool
	// DataDir holds the hostPath of provisioned volumes (nothing is written there).
	DataDir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Workload is one Deployment or StatefulSet after the wait.
type Workload struct {
	Kind, Namespace, Name string
	// NodeGroups are the nodegroups its node affinity (or nodeSelector) requires.
	NodeGroups []string
	Replicas   int32
	Ready      int32
	Available  bool
	// Nodes are the nodes of its ready pods, Placed whether each has a required nodegroup.
	Nodes  []string
	Placed bool
	// Problem says why it is not available, when it is not.
	Problem string
}

// OK is Available and placed on the right nodegroup.
func (w Workload) OK() bool { return w.Available && w.Placed }

// ApplyResult is what Apply did.
type ApplyResult struct {
	CRDs      int
	Applied   int
	Volumes   []string
	Workloads []Workload
	Duration  time.Duration
}

func (a *Applier) logf(format string, args ...any) {
	if a.Log != nil {
		fmt.Fprintf(a.Log, format+"\n", args...)
	}
}

func (a *Applier) timeout() time.Duration {
	if a.Timeout == 0 {
		return 3 * time.Minute
	}
	return a.Timeout
}

// ObjectsFromRenders converts rendered objects (pkg/validate's result) for Apply.
func ObjectsFromRenders(renders []*render.Result) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, r := range renders {
		for _, o := range r.Objects {
			u, err := toUnstructured(o.Body)
			if err != nil {
				return nil, fmt.Errorf("%s/%s %s: %w", r.Chart.ID, r.Env, o.ID(), err)
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// Run applies and waits. The result is returned with the error when the wait failed, so
// that the table can still be printed.
func (a *Applier) Run(ctx context.Context) (*ApplyResult, error) {
	start := time.Now()
	res := &ApplyResult{}
	cfg := rest.CopyConfig(a.Config)
	// API warnings (deprecated fields, finalizer names of upstream CRDs) once each, as progress.
	warnings := io.Discard
	if a.Log != nil {
		warnings = a.Log
	}
	cfg.WarningHandler = rest.NewWarningWriter(warnings, rest.WarningWriterOptions{Deduplicate: true})
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	// 1. CRDs: every CRD source of the schemas, then any CRD of the plan.
	shared := a.SharedCRDs
	if shared == "" {
		shared = filepath.Join(a.Root, "pkg", "schema", "crds")
	}
	sources, err := LoadCRDs(ctx, a.Root, shared, a.GoCommand)
	if err != nil {
		return nil, err
	}
	var crds, namespaces, rest []*unstructured.Unstructured
	for _, s := range sources {
		crds = append(crds, s.CRDs...)
		a.logf("crds: %d from %s", len(s.CRDs), s.Name)
	}
	for _, o := range a.Objects {
		switch {
		case o.GetKind() == "CustomResourceDefinition":
			crds = append(crds, o)
		case o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1":
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range crds {
		if _, err := dyn.Resource(crdGVR).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return nil, fmt.Errorf("apply CustomResourceDefinition %s: %w", crdName(crd), err)
		}
	}
	res.CRDs = len(crds)
	if err := a.waitEstablished(ctx, dyn, crdGVR, crds); err != nil {
		return nil, err
	}
	a.logf("crds: %d established", len(crds))
	mapper.Reset()

	// 2. Namespaces, 3. the rest in Helm's install order, retrying kinds not served yet.
	n, err := a.applyAll(ctx, dyn, mapper, namespaces)
	res.Applied += n
	if err != nil {
		return res, err
	}
	sortInstallOrder(rest)
	n, err = a.applyAll(ctx, dyn, mapper, rest)
	res.Applied += n
	if err != nil {
		return res, err
	}
	a.logf("applied %d objects (server-side apply, field manager %q)", res.Applied, FieldManager)
	a.logf("note: %s", Note)

	// 4. Wait for the workloads, provisioning volumes for their claims.
	res.Workloads, res.Volumes, err = a.waitWorkloads(ctx, cs)
	res.Duration = time.Since(start)
	return res, err
}

func (a *Applier) waitEstablished(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, crds []*unstructured.Unstructured) error {
	pending := map[string]bool{}
	for _, c := range crds {
		pending[c.GetName()] = true
	}
	deadline := time.Now().Add(a.timeout())
	for attempt := 0; len(pending) > 0; attempt++ {
		for name := range pending {
			u, err := dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				continue
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					delete(pending, name)
				}
			}
		}
		if len(pending) == 0 {
			break
		}
		if attempt > 600 || time.Now().After(deadline) {
			return fmt.Errorf("crds not established after %s: %s", a.timeout(), strings.Join(sortedSet(pending), ", "))
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// applyAll applies objects; those whose kind is not served yet are retried (bounded), other
// failures are collected and reported together.
func (a *Applier) applyAll(ctx context.Context, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, objs []*unstructured.Unstructured) (int, error) {
	pending := objs
	applied := 0
	var failures []string
	deadline := time.Now().Add(a.timeout())
	for attempt := 0; len(pending) > 0; attempt++ {
		var again []*unstructured.Unstructured
		var lastErr error
		for _, o := range pending {
			err := a.applyOne(ctx, dyn, mapper, o)
			switch {
			case err == nil:
				applied++
			case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
				again = append(again, o)
				lastErr = err
			default:
				failures = append(failures, fmt.Sprintf("%s: %v", objectID(o), err))
			}
		}
		pending = again
		if len(pending) == 0 {
			break
		}
		if attempt >= 20 || time.Now().After(deadline) {
			for _, o := range pending {
				failures = append(failures, fmt.Sprintf("%s: kind not served after %d attempts: %v", objectID(o), attempt+1, lastErr))
			}
			break
		}
		mapper.Reset()
		if err := sleep(ctx, time.Second); err != nil {
			return applied, err
		}
	}
	if len(failures) > 0 {
		return applied, fmt.Errorf("apply: %d objects failed:\n  %s", len(failures), strings.Join(failures, "\n  "))
	}
	return applied, nil
}

func (a *Applier) applyOne(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		ri = dyn.Resource(m.Resource).Namespace(ns)
	}
	_, err = ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	return err
}

func objectID(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// sortInstallOrder orders objects like Helm installs them (kinds it does not know last),
// then by namespace and name.
func sortInstallOrder(objs []*unstructured.Unstructured) {
	rank := map[string]int{}
	for i, k := range releaseutil.InstallOrder {
		rank[k] = i + 1
	}
	r := func(k string) int {
		if v, ok := rank[k]; ok {
			return v
		}
		return len(rank) + 1
	}
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if r(a.GetKind()) != r(b.GetKind()) {
			return r(a.GetKind()) < r(b.GetKind())
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}

// waitWorkloads polls every Deployment and StatefulSet of the plan until all are OK or the
// timeout passes, binding a volume to each pending claim of their namespaces on the way
// (the embedded cluster has no storage provisioner).
func (a *Applier) waitWorkloads(ctx context.Context, cs kubernetes.Interface) ([]Workload, []string, error) {
	type key struct{ kind, ns, name string }
	var keys []key
	nsSet := map[string]bool{}
	for _, o := range a.Objects {
		if o.GetAPIVersion() == "apps/v1" && (o.GetKind() == "Deployment" || o.GetKind() == "StatefulSet") {
			keys = append(keys, key{o.GetKind(), o.GetNamespace(), o.GetName()})
			nsSet[o.GetNamespace()] = true
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].ns != keys[j].ns {
			return keys[i].ns < keys[j].ns
		}
		return keys[i].name < keys[j].name
	})
	var volumes []string
	deadline := time.Now().Add(a.timeout())
	var out []Workload
	for attempt := 0; ; attempt++ {
		for ns := range nsSet {
			if !a.ProvisionVolumes {
				break
			}
			v, err := a.provision(ctx, cs, ns)
			if err != nil {
				return nil, volumes, err
			}
			volumes = append(volumes, v...)
		}
		out = out[:0]
		done := true
		for _, k := range keys {
			w, err := a.workload(ctx, cs, k.kind, k.ns, k.name)
			if err != nil {
				w = Workload{Kind: k.kind, Namespace: k.ns, Name: k.name, Problem: err.Error()}
			}
			out = append(out, w)
			done = done && w.OK()
		}
		if done {
			return out, volumes, nil
		}
		if attempt > 1000 || time.Now().After(deadline) {
			var bad []string
			for _, w := range out {
				if !w.OK() {
					bad = append(bad, fmt.Sprintf("%s/%s/%s: %s", w.Kind, w.Namespace, w.Name, w.Problem))
				}
			}
			return out, volumes, fmt.Errorf("workloads not available on their nodegroup after %s:\n  %s", a.timeout(), strings.Join(bad, "\n  "))
		}
		if err := sleep(ctx, time.Second); err != nil {
			return out, volumes, err
		}
	}
}

func (a *Applier) workload(ctx context.Context, cs kubernetes.Interface, kind, ns, name string) (Workload, error) {
	w := Workload{Kind: kind, Namespace: ns, Name: name}
	var tmpl corev1.PodTemplateSpec
	var sel *metav1.LabelSelector
	switch kind {
	case "Deployment":
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return w, err
		}
		tmpl, sel = d.Spec.Template, d.Spec.Selector
		w.Replicas = ptrOr(d.Spec.Replicas, 1)
		w.Ready = d.Status.ReadyReplicas
		avail := false
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				avail = true
			}
			if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
				w.Problem = c.Message
			}
		}
		w.Available = avail && d.Status.ObservedGeneration >= d.Generation &&
			d.Status.UpdatedReplicas == w.Replicas && d.Status.AvailableReplicas == w.Replicas
	case "StatefulSet":
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return w, err
		}
		tmpl, sel = s.Spec.Template, s.Spec.Selector
		w.Replicas = ptrOr(s.Spec.Replicas, 1)
		w.Ready = s.Status.ReadyReplicas
		w.Available = s.Status.ObservedGeneration >= s.Generation &&
			s.Status.ReadyReplicas == w.Replicas && s.Status.AvailableReplicas == w.Replicas
	}
	w.NodeGroups = requiredNodeGroups(tmpl.Spec)
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return w, err
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return w, err
	}
	w.Placed = true
	readyPods := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if !podReady(&p) {
			if w.Problem == "" {
				w.Problem = podProblem(&p)
			}
			continue
		}
		readyPods++
		node, err := cs.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			return w, err
		}
		if !slices.Contains(w.Nodes, node.Name) {
			w.Nodes = append(w.Nodes, node.Name)
		}
		if len(w.NodeGroups) > 0 && !slices.Contains(w.NodeGroups, node.Labels[NodeGroupLabel]) {
			w.Placed = false
			w.Problem = fmt.Sprintf("pod %s on node %s of nodegroup %q, affinity wants %v", p.Name, node.Name, node.Labels[NodeGroupLabel], w.NodeGroups)
		}
	}
	sort.Strings(w.Nodes)
	if readyPods == 0 {
		w.Placed = false
		if w.Problem == "" {
			w.Problem = "no ready pod"
		}
	}
	if w.OK() {
		w.Problem = ""
	} else if w.Problem == "" {
		w.Problem = fmt.Sprintf("%d/%d ready", w.Ready, w.Replicas)
	}
	return w, nil
}

// requiredNodeGroups reads the nodegroups a pod template requires.
func requiredNodeGroups(spec corev1.PodSpec) []string {
	var groups []string
	if v, ok := spec.NodeSelector[NodeGroupLabel]; ok {
		groups = append(groups, v)
	}
	if spec.Affinity != nil && spec.Affinity.NodeAffinity != nil && spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, e := range term.MatchExpressions {
				if e.Key == NodeGroupLabel && e.Operator == corev1.NodeSelectorOpIn {
					groups = append(groups, e.Values...)
				}
			}
		}
	}
	sort.Strings(groups)
	return slices.Compact(groups)
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podProblem(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			return fmt.Sprintf("pod %s: %s: %s", p.Name, c.Type, c.Message)
		}
	}
	return fmt.Sprintf("pod %s: %s", p.Name, p.Status.Phase)
}

// provision binds a hostPath PersistentVolume (pre-bound through claimRef) to every pending
// claim without a storage class in ns. The path is never used: no kubelet mounts it.
func (a *Applier) provision(ctx context.Context, cs kubernetes.Interface, ns string) ([]string, error) {
	pvcs, err := cs.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var made []string
	for _, pvc := range pvcs.Items {
		if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" ||
			(pvc.Spec.StorageClassName != nil && *pvc.Spec.StorageClassName != "") {
			continue
		}
		name := "pv-" + ns + "-" + pvc.Name
		size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		if size.IsZero() {
			size = resource.MustParse("1Gi")
		}
		mode := corev1.PersistentVolumeFilesystem
		if pvc.Spec.VolumeMode != nil {
			mode = *pvc.Spec.VolumeMode
		}
		dataDir := a.DataDir
		if dataDir == "" {
			dataDir = "/tmp/embedded-cluster-volumes"
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisionedBy},
			},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
				AccessModes:                   pvc.Spec.AccessModes,
				VolumeMode:                    &mode,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: pvc.Name, UID: pvc.UID},
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(dataDir, ns, pvc.Name)},
				},
			},
		}
		if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return made, fmt.Errorf("provision volume for %s/%s: %w", ns, pvc.Name, err)
		}
		made = append(made, fmt.Sprintf("%s (%s for %s/%s)", name, size.String(), ns, pvc.Name))
		a.logf("volume: %s %s bound to %s/%s", name, size.String(), ns, pvc.Name)
	}
	return made, nil
}

// WriteTable prints one line per workload: workload, nodegroup, node, ready.
func WriteTable(w io.Writer, workloads []Workload) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tNODEGROUP\tNODE\tREADY\tSTATUS")
	for _, wl := range workloads {
		status := "ok"
		if !wl.OK() {
			status = wl.Problem
		}
		ng := strings.Join(wl.NodeGroups, ",")
		if ng == "" {
			ng = "-"
		}
		node := strings.Join(wl.Nodes, ",")
		if node == "" {
			node = "-"
		}
		fmt.Fprintf(tw, "%s/%s/%s\t%s\t%s\t%d/%d\t%s\n", strings.ToLower(wl.Kind), wl.Namespace, wl.Name, ng, node, wl.Ready, wl.Replicas, status)
	}
	return tw.Flush()
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
