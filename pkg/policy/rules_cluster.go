package policy

import (
	"encoding/base64"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	psapi "k8s.io/pod-security-admission/api"
)

// placeholder values are allowed in git where a secret goes.
var placeholder = regexp.MustCompile(`^(|<[^>]*>|\$\{[A-Za-z0-9_]+\}|(?i:changeme|replace-?me|placeholder|redacted))$`)

// C07
func checkLiteralSecret(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("Secret") {
		for _, field := range []string{"data", "stringData"} {
			m := mapOf(o.Body[field])
			for _, k := range slices.Sorted(maps.Keys(m)) {
				v := str(m[k])
				if field == "data" {
					if dec, err := base64.StdEncoding.DecodeString(v); err == nil {
						v = string(dec)
					}
				}
				if !placeholder.MatchString(strings.TrimSpace(v)) {
					out = append(out, violation(o, field+"."+k, "Secret holds a literal value from git: leave it empty in the values files and declare it, publish fills it from the environment"))
				}
			}
		}
	}
	return out
}

// C10
func checkClusterAdmin(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("ClusterRoleBinding", "RoleBinding") {
		if str(get(o.Body, "roleRef", "kind")) == "ClusterRole" && str(get(o.Body, "roleRef", "name")) == "cluster-admin" {
			out = append(out, violation(o, "roleRef.name", "binds cluster-admin"))
		}
	}
	return out
}

// H02
func checkNamespaceLabels(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("Namespace") {
		labels := mapOf(get(o.Body, "metadata", "labels"))
		level := str(labels[psapi.EnforceLevelLabel])
		path := "metadata.labels[" + psapi.EnforceLevelLabel + "]"
		relaxed := slices.Contains(env.Platform.RelaxedNamespaces, o.Name)
		switch {
		case level == "":
			out = append(out, violation(o, path, "namespace has no Pod Security enforce label"))
		case !validLevel(level):
			out = append(out, violation(o, path, "%q is not a Pod Security level", level))
		case level != "restricted" && !relaxed:
			out = append(out, violation(o, path, "namespace enforces %q: only %s may enforce less than restricted", level, strings.Join(env.Platform.RelaxedNamespaces, ", ")))
		}
		if v := str(labels[psapi.EnforceVersionLabel]); v == "" || v == "latest" {
			out = append(out, violation(o, "metadata.labels["+psapi.EnforceVersionLabel+"]", "pin the enforce version (e.g. v1.35) so that a cluster upgrade does not change the policy"))
		}
	}
	return out
}

func validLevel(l string) bool {
	_, err := psapi.ParseLevel(l)
	return err == nil
}

// has reports whether an RBAC rule list contains want (or "*").
func has(list []string, want ...string) bool {
	for _, x := range list {
		if x == "*" || slices.Contains(want, x) {
			return true
		}
	}
	return false
}

// H05
func checkRBACWildcards(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("Role", "ClusterRole") {
		for i, r := range listOf(o.Body["rules"]) {
			for _, f := range []string{"verbs", "resources", "apiGroups"} {
				if slices.Contains(strs(get(r, f)), "*") {
					out = append(out, violation(o, idx("rules", i)+"."+f, "wildcard %q grants every current and future %s", "*", f))
				}
			}
		}
	}
	return out
}

// H06
func checkRBACDangerous(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("Role", "ClusterRole") {
		for i, r := range listOf(o.Body["rules"]) {
			verbs, resources, groups := strs(get(r, "verbs")), strs(get(r, "resources")), strs(get(r, "apiGroups"))
			path := idx("rules", i)
			add := func(msg string) { out = append(out, violation(o, path, "%s", msg)) }
			// Pods, Secrets and tokens are resources of the core group: "*" resources of
			// another group (Kiali reading every Istio kind) grant none of them.
			core := has(groups, "")
			if core && has(verbs, "create") && has(resources, "pods/exec", "pods/attach") {
				add("may exec into or attach to pods")
			}
			if core && o.Kind == "ClusterRole" && has(verbs, "get", "list", "watch") && has(resources, "secrets") {
				add("may read Secrets in every namespace")
			}
			for _, v := range verbs {
				if v == "bind" || v == "escalate" || v == "impersonate" {
					add("grants the verb " + v + " (privilege escalation)")
				}
			}
			if core && has(verbs, "create") && has(resources, "pods", "serviceaccounts/token") {
				add("may create pods or ServiceAccount tokens (runs as any ServiceAccount of the namespace)")
			}
			for _, res := range resources {
				if (strings.HasSuffix(res, "webhookconfigurations") || res == "*" && has(groups, "admissionregistration.k8s.io")) &&
					has(groups, "admissionregistration.k8s.io") && has(verbs, "create", "update", "patch") {
					add("may change admission webhooks")
				}
			}
		}
	}
	return out
}

// defaultDeny reports whether the namespace has policies denying all ingress and egress.
func defaultDeny(env *Env, ns string) (ingress, egress bool) {
	for _, np := range env.Kind("NetworkPolicy") {
		if np.Namespace != ns || len(mapOf(get(np.Body, "spec", "podSelector"))) != 0 {
			continue
		}
		types := strs(get(np.Body, "spec", "policyTypes"))
		if slices.Contains(types, "Ingress") && len(listOf(get(np.Body, "spec", "ingress"))) == 0 {
			ingress = true
		}
		if slices.Contains(types, "Egress") && len(listOf(get(np.Body, "spec", "egress"))) == 0 {
			egress = true
		}
	}
	return ingress, egress
}

// namespaceAnchor is the object a namespace-level finding is attached to: the Namespace if
// rendered, else the first object in it.
func namespaceAnchor(env *Env, ns string) *Object {
	if o := env.Namespace(ns); o != nil {
		return o
	}
	for _, o := range env.Objects {
		if o.Namespace == ns {
			return o
		}
	}
	return nil
}

// workloadNamespaces are the namespaces holding workloads, sorted.
func workloadNamespaces(env *Env) []string {
	var out []string
	for _, p := range env.Pods() {
		if !slices.Contains(out, p.Object.Namespace) {
			out = append(out, p.Object.Namespace)
		}
	}
	sort.Strings(out)
	return out
}

// H07
func checkNetworkPolicy(env *Env) []Violation {
	var out []Violation
	for _, ns := range workloadNamespaces(env) {
		in, eg := defaultDeny(env, ns)
		if !in || !eg {
			out = append(out, violation(namespaceAnchor(env, ns), "", "namespace %s has no default-deny NetworkPolicy (podSelector: {}, policyTypes: [Ingress, Egress], no rules)", ns))
			continue
		}
	}
	for _, ns := range env.Platform.AppNamespaces {
		if o := env.Namespace(ns); o != nil && !slices.Contains(workloadNamespaces(env), ns) {
			if in, eg := defaultDeny(env, ns); !in || !eg {
				out = append(out, violation(o, "", "app namespace %s has no default-deny NetworkPolicy", ns))
			}
		}
	}
	return out
}

// meshNamespaces are the rendered namespaces with sidecar injection.
func meshNamespaces(env *Env) []*Object {
	var out []*Object
	for _, o := range env.Kind("Namespace") {
		labels := mapOf(get(o.Body, "metadata", "labels"))
		if str(labels["istio-injection"]) == "enabled" || str(labels["istio.io/rev"]) != "" {
			out = append(out, o)
		}
	}
	return out
}

// H08
func checkIstioDefaultDeny(env *Env) []Violation {
	var out []Violation
	allowNothing := func(ns string) bool {
		for _, ap := range env.Kind("AuthorizationPolicy") {
			if ap.Namespace != ns {
				continue
			}
			spec := mapOf(ap.Body["spec"])
			action := str(spec["action"])
			if (action == "" || action == "ALLOW") && len(listOf(spec["rules"])) == 0 && len(mapOf(spec["selector"])) == 0 && len(listOf(spec["targetRefs"])) == 0 {
				return true
			}
		}
		return false
	}
	if allowNothing(env.Platform.IstioRootNamespace) {
		return nil // mesh-wide default deny
	}
	for _, ns := range meshNamespaces(env) {
		if !allowNothing(ns.Name) {
			out = append(out, violation(ns, "", "mesh namespace %s has no allow-nothing AuthorizationPolicy (spec: {})", ns.Name))
		}
	}
	return out
}

// H19
func checkQuotas(env *Env) []Violation {
	var out []Violation
	for _, ns := range env.Platform.AppNamespaces {
		o := env.Namespace(ns)
		if o == nil {
			continue
		}
		for _, kind := range []string{"ResourceQuota", "LimitRange"} {
			found := false
			for _, q := range env.Kind(kind) {
				found = found || q.Namespace == ns
			}
			if !found {
				out = append(out, violation(o, "", "app namespace %s has no %s", ns, kind))
			}
		}
	}
	return out
}

// clusterScoped are the cluster-scoped kinds of Kubernetes and of the CRDs we know.
var clusterScoped = []string{"Namespace", "Node", "PersistentVolume", "StorageClass", "PriorityClass", "ClusterRole",
	"ClusterRoleBinding", "CustomResourceDefinition", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
	"APIService", "IngressClass", "RuntimeClass", "CSIDriver", "CSINode", "VolumeAttachment", "FlowSchema",
	"PriorityLevelConfiguration", "CertificateSigningRequest", "ClusterIssuer", "ClusterSecretStore", "ClusterExternalSecret",
	"DeviceClass", "IPAddress", "ServiceCIDR", "StorageVersionMigration", "VolumeAttributesClass"}

// H20
func checkNamespaceSet(env *Env) []Violation {
	var out []Violation
	scoped := map[string]bool{}
	for _, crd := range env.Kind("CustomResourceDefinition") {
		if str(get(crd.Body, "spec", "scope")) == "Cluster" {
			scoped[str(get(crd.Body, "spec", "names", "kind"))] = true
		}
	}
	for _, o := range env.Objects {
		if slices.Contains(clusterScoped, o.Kind) || scoped[o.Kind] {
			continue
		}
		switch o.Namespace {
		case "":
			out = append(out, violation(o, "metadata.namespace", "namespaced object without metadata.namespace: it lands wherever it is applied"))
		case "default":
			out = append(out, violation(o, "metadata.namespace", "object in the default namespace"))
		}
	}
	return out
}
