package policy

import (
	"strings"
)

// hpaFor returns the HorizontalPodAutoscaler scaling the workload, or nil.
func hpaFor(env *Env, o *Object) *Object {
	for _, h := range env.Kind("HorizontalPodAutoscaler") {
		ref := mapOf(get(h.Body, "spec", "scaleTargetRef"))
		if h.Namespace == o.Namespace && str(ref["kind"]) == o.Kind && str(ref["name"]) == o.Name {
			return h
		}
	}
	return nil
}

// minReplicas is the fewest pods the workload runs: the HPA's minReplicas, else
// spec.replicas (default 1).
func minReplicas(env *Env, o *Object) int {
	if h := hpaFor(env, o); h != nil {
		if n, ok := number(get(h.Body, "spec", "minReplicas")); ok {
			return n
		}
		return 1
	}
	if n, ok := number(get(o.Body, "spec", "replicas")); ok {
		return n
	}
	return 1
}

// replicated are the Deployments and StatefulSets.
func replicated(env *Env) []*Pod {
	var out []*Pod
	for _, p := range env.Pods() {
		if p.Object.Kind == "Deployment" || p.Object.Kind == "StatefulSet" {
			out = append(out, p)
		}
	}
	return out
}

// M02
func checkReplicas(env *Env) []Violation {
	if !env.Production {
		return nil
	}
	var out []Violation
	for _, p := range replicated(env) {
		if n := minReplicas(env, p.Object); n < 2 {
			out = append(out, violation(p.Object, "spec.replicas", "runs %d replica in production: one node drain takes it down (replicas or HPA minReplicas >= 2)", n))
		}
	}
	return out
}

// pdbsFor returns the PodDisruptionBudgets selecting the pod template.
func pdbsFor(env *Env, p *Pod) []*Object {
	var out []*Object
	for _, pdb := range env.Kind("PodDisruptionBudget") {
		if pdb.Namespace == p.Object.Namespace && labelSelectorMatches(mapOf(get(pdb.Body, "spec", "selector")), p.Labels()) {
			out = append(out, pdb)
		}
	}
	return out
}

// M03
func checkPDB(env *Env) []Violation {
	var out []Violation
	for _, p := range replicated(env) {
		n := minReplicas(env, p.Object)
		pdbs := pdbsFor(env, p)
		if n > 1 && len(pdbs) == 0 {
			out = append(out, violation(p.Object, "", "%d replicas but no PodDisruptionBudget selects the pods", n))
		}
		for _, pdb := range pdbs {
			if m, ok := number(get(pdb.Body, "spec", "minAvailable")); ok && m >= n {
				out = append(out, violation(pdb, "spec.minAvailable", "minAvailable %d >= %d replicas of %s: no pod can ever be evicted", m, n, p.Object.ID()))
			}
		}
	}
	for _, pdb := range env.Kind("PodDisruptionBudget") {
		spec := mapOf(pdb.Body["spec"])
		if mu, set := spec["maxUnavailable"]; set && (str(mu) == "0" || str(mu) == "0%") {
			out = append(out, violation(pdb, "spec.maxUnavailable", "maxUnavailable 0 blocks every node drain"))
		}
		if str(spec["minAvailable"]) == "100%" {
			out = append(out, violation(pdb, "spec.minAvailable", "minAvailable 100%% blocks every node drain"))
		}
		if str(spec["unhealthyPodEvictionPolicy"]) != "AlwaysAllow" {
			out = append(out, violation(pdb, "spec.unhealthyPodEvictionPolicy", "set AlwaysAllow so that pods that never became ready do not block drains"))
		}
	}
	return out
}

// M04
func checkSpread(env *Env) []Violation {
	var out []Violation
	for _, p := range replicated(env) {
		if minReplicas(env, p.Object) < 2 && hpaFor(env, p.Object) == nil {
			continue
		}
		if len(listOf(p.Spec["topologySpreadConstraints"])) > 0 {
			continue
		}
		spread := false
		anti := mapOf(get(p.Spec, "affinity", "podAntiAffinity"))
		for _, t := range listOf(anti["requiredDuringSchedulingIgnoredDuringExecution"]) {
			spread = spread || str(get(t, "topologyKey")) == "kubernetes.io/hostname"
		}
		for _, t := range listOf(anti["preferredDuringSchedulingIgnoredDuringExecution"]) {
			spread = spread || str(get(t, "podAffinityTerm", "topologyKey")) == "kubernetes.io/hostname"
		}
		if !spread {
			out = append(out, violation(p.Object, join(p.Path, "topologySpreadConstraints"), "replicas may all land on one node: add topologySpreadConstraints or podAntiAffinity on kubernetes.io/hostname"))
		}
	}
	return out
}

// M05
func checkSelectors(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		if p.Object.Kind == "Pod" || p.Object.Kind == "Job" || p.Object.Kind == "CronJob" {
			continue
		}
		sel := mapOf(get(p.Object.Body, "spec", "selector"))
		if p.Object.Kind == "ReplicationController" {
			sel = map[string]any{"matchLabels": sel}
		}
		if !labelSelectorMatches(sel, p.Labels()) {
			out = append(out, violation(p.Object, "spec.selector", "the selector does not match the pod template's labels"))
		}
	}
	anyPod := func(ns string, match func(labels map[string]any) bool) bool {
		// An official chart that was not rendered may hold the counterpart: no conclusion.
		if env.Unrendered[ns] || ns == "" && len(env.Unrendered) > 0 {
			return true
		}
		for _, p := range env.Pods() {
			if (ns == "" || p.Object.Namespace == ns) && match(p.Labels()) {
				return true
			}
		}
		return false
	}
	for _, svc := range env.Kind("Service") {
		sel := mapOf(get(svc.Body, "spec", "selector"))
		if len(sel) == 0 || str(get(svc.Body, "spec", "type")) == "ExternalName" {
			continue
		}
		if !anyPod(svc.Namespace, func(l map[string]any) bool { return mapSelectorMatches(sel, l) }) {
			out = append(out, violation(svc, "spec.selector", "the Service selects no pod rendered in namespace %s", svc.Namespace))
		}
	}
	for _, pdb := range env.Kind("PodDisruptionBudget") {
		sel := mapOf(get(pdb.Body, "spec", "selector"))
		if !anyPod(pdb.Namespace, func(l map[string]any) bool { return labelSelectorMatches(sel, l) }) {
			out = append(out, violation(pdb, "spec.selector", "the PodDisruptionBudget selects no pod rendered in namespace %s", pdb.Namespace))
		}
	}
	for _, h := range env.Kind("HorizontalPodAutoscaler") {
		ref := mapOf(get(h.Body, "spec", "scaleTargetRef"))
		found := false
		for _, o := range env.Objects {
			found = found || o.Namespace == h.Namespace && o.Kind == str(ref["kind"]) && o.Name == str(ref["name"])
		}
		if !found {
			out = append(out, violation(h, "spec.scaleTargetRef", "scale target %s/%s is not rendered in namespace %s", str(ref["kind"]), str(ref["name"]), h.Namespace))
		}
	}
	for _, sm := range env.Kind("ServiceMonitor") {
		out = append(out, checkServiceMonitor(env, sm)...)
	}
	for _, np := range env.Kind("NetworkPolicy") {
		sel := mapOf(get(np.Body, "spec", "podSelector"))
		if len(sel) == 0 {
			continue
		}
		if !anyPod(np.Namespace, func(l map[string]any) bool { return labelSelectorMatches(sel, l) }) {
			out = append(out, violation(np, "spec.podSelector", "the NetworkPolicy selects no pod rendered in namespace %s", np.Namespace))
		}
	}
	for _, ap := range env.Kind("AuthorizationPolicy") {
		sel := mapOf(get(ap.Body, "spec", "selector", "matchLabels"))
		if len(sel) == 0 {
			continue
		}
		ns := ap.Namespace
		if ns == env.Platform.IstioRootNamespace {
			ns = "" // a policy in the root namespace applies to the whole mesh
		}
		if !anyPod(ns, func(l map[string]any) bool { return mapSelectorMatches(sel, l) }) {
			out = append(out, violation(ap, "spec.selector.matchLabels", "the AuthorizationPolicy selects no workload rendered in namespace %s", ap.Namespace))
		}
	}
	return out
}

func checkServiceMonitor(env *Env, sm *Object) []Violation {
	nsSel := mapOf(get(sm.Body, "spec", "namespaceSelector"))
	names := strs(nsSel["matchNames"])
	anyNS := isTrue(nsSel["any"])
	if anyNS && len(names) > 0 {
		return []Violation{violation(sm, "spec.namespaceSelector", "namespaceSelector sets both any and matchNames")}
	}
	if len(names) == 0 && !anyNS {
		names = []string{sm.Namespace}
	}
	sel := mapOf(get(sm.Body, "spec", "selector"))
	for _, n := range names {
		if env.Unrendered[n] {
			return nil // an official chart not rendered may hold the Service
		}
	}
	if anyNS && len(env.Unrendered) > 0 {
		return nil
	}
	for _, svc := range env.Kind("Service") {
		inNS := anyNS
		for _, n := range names {
			inNS = inNS || n == svc.Namespace
		}
		if inNS && labelSelectorMatches(sel, mapOf(get(svc.Body, "metadata", "labels"))) {
			return nil
		}
	}
	where := "any namespace"
	if !anyNS {
		where = "namespace " + strings.Join(names, ", ")
	}
	return []Violation{violation(sm, "spec.selector", "the ServiceMonitor selects no Service rendered in %s", where)}
}
