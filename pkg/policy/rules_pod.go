package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"

	"github.com/microservices-manifests/microservices-manifests/pkg/official"
)

// forContainers calls fn for every container of every workload.
func forContainers(env *Env, fn func(c *Container) []Violation) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		for _, c := range p.Containers() {
			out = append(out, fn(c)...)
		}
	}
	return out
}

func violation(o *Object, path, format string, args ...any) Violation {
	return Violation{Object: o, Path: path, Message: fmt.Sprintf(format, args...)}
}

// C01
func checkPrivileged(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		if isTrue(c.SecurityContext()["privileged"]) {
			return []Violation{violation(c.Pod.Object, c.Path+".securityContext.privileged", "container %q runs privileged", c.Name)}
		}
		return nil
	})
}

// C02
func checkHostNamespaces(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
			if isTrue(p.Spec[f]) {
				out = append(out, violation(p.Object, join(p.Path, f), "the pod shares the node's namespace (%s: true)", f))
			}
		}
	}
	return out
}

// C03
func checkHostPath(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		for i, v := range listOf(p.Spec["volumes"]) {
			if hp := mapOf(get(v, "hostPath")); hp != nil {
				out = append(out, violation(p.Object, idx(join(p.Path, "volumes"), i)+".hostPath",
					"volume %q mounts the node's %s", str(get(v, "name")), str(hp["path"])))
			}
		}
	}
	return out
}

// baselineCapabilities are the capabilities Pod Security baseline allows to add.
var baselineCapabilities = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

// C04
func checkCapsBaseline(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		var out []Violation
		path := c.Path + ".securityContext.capabilities.add"
		for i, cap := range strs(get(c.Body, "securityContext", "capabilities", "add")) {
			if !slices.Contains(baselineCapabilities, strings.TrimPrefix(cap, "CAP_")) {
				out = append(out, violation(c.Pod.Object, idx(path, i), "container %q adds capability %s, outside the Pod Security baseline set", c.Name, cap))
			}
		}
		return out
	})
}

// C05
func checkPrivEscalation(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		v, set := c.SecurityContext()["allowPrivilegeEscalation"]
		if isFalse(v) {
			return nil
		}
		msg := "container %q allows privilege escalation"
		if !set {
			msg = "container %q does not set allowPrivilegeEscalation: false (it defaults to true)"
		}
		return []Violation{violation(c.Pod.Object, c.Path+".securityContext.allowPrivilegeEscalation", msg, c.Name)}
	})
}

// C06
func checkNonRoot(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		psc := mapOf(p.Spec["securityContext"])
		if u, ok := number(psc["runAsUser"]); ok && u == 0 {
			out = append(out, violation(p.Object, join(p.Path, "securityContext.runAsUser"), "the pod runs as user 0 (root)"))
		}
		podNonRoot := isTrue(psc["runAsNonRoot"])
		for _, c := range p.Containers() {
			sc := c.SecurityContext()
			if u, ok := number(sc["runAsUser"]); ok && u == 0 {
				out = append(out, violation(p.Object, c.Path+".securityContext.runAsUser", "container %q runs as user 0 (root)", c.Name))
			}
			v, set := sc["runAsNonRoot"]
			switch {
			case set && !isTrue(v):
				out = append(out, violation(p.Object, c.Path+".securityContext.runAsNonRoot", "container %q sets runAsNonRoot: false", c.Name))
			case !set && !podNonRoot:
				out = append(out, violation(p.Object, c.Path+".securityContext.runAsNonRoot",
					"container %q may run as root: set runAsNonRoot: true on the pod or the container", c.Name))
			}
		}
	}
	return out
}

var (
	sensitiveEnvName = regexp.MustCompile(`(?i)password|secret|token|bearer|AWS_SECRET_ACCESS_KEY|GOOGLE_APPLICATION_CREDENTIALS|AZURE_.+KEY`)
	privateKey       = regexp.MustCompile(`-----BEGIN .*PRIVATE KEY-----`)
)

// C08
func checkSecretInEnv(env *Env) []Violation {
	out := forContainers(env, func(c *Container) []Violation {
		var out []Violation
		for i, e := range listOf(c.Body["env"]) {
			m := mapOf(e)
			name, value := str(m["name"]), str(m["value"])
			path := idx(c.Path+".env", i) + ".value"
			switch {
			case value != "" && sensitiveEnvName.MatchString(name):
				out = append(out, violation(c.Pod.Object, path, "variable %s of container %q looks like a secret but has a literal value: use valueFrom.secretKeyRef", name, c.Name))
			case privateKey.MatchString(value):
				out = append(out, violation(c.Pod.Object, path, "variable %s of container %q holds a private key", name, c.Name))
			}
		}
		return out
	})
	for _, o := range env.Kind("ConfigMap") {
		data := mapOf(o.Body["data"])
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if privateKey.MatchString(str(data[k])) {
				out = append(out, violation(o, "data."+k, "ConfigMap key %s holds a private key: put it in a Secret", k))
			}
		}
	}
	return out
}

// C09
func checkImageTag(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		ref := str(c.Body["image"])
		im := parseImage(ref)
		switch {
		case ref == "":
			return []Violation{violation(c.Pod.Object, c.Path+".image", "container %q has no image", c.Name)}
		case im.Digest == "" && im.Tag == "":
			return []Violation{violation(c.Pod.Object, c.Path+".image", "image %s has neither tag nor digest (it means latest)", ref)}
		case im.Digest == "" && im.Tag == "latest":
			return []Violation{violation(c.Pod.Object, c.Path+".image", "image %s uses the mutable tag latest", ref)}
		}
		return nil
	})
}

// H01: the API server's own Pod Security evaluator at the namespace's enforce level.
func checkPodSecurity(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		lv := env.podSecurityLevel(p.Object.Namespace)
		if lv.Level == psapi.LevelPrivileged {
			continue
		}
		var meta metav1.ObjectMeta
		var spec corev1.PodSpec
		if err := convert(p.Meta, &meta); err != nil {
			out = append(out, violation(p.Object, p.MetaPath, "pod metadata cannot be read as ObjectMeta: %v", err))
			continue
		}
		if err := convert(p.Spec, &spec); err != nil {
			out = append(out, violation(p.Object, p.Path, "pod spec cannot be read as PodSpec: %v", err))
			continue
		}
		for _, r := range env.evaluator.EvaluatePod(lv, &meta, &spec) {
			if r.Allowed {
				continue
			}
			msg := fmt.Sprintf("violates PodSecurity %q:%s: %s", lv.Level, lv.Version.String(), r.ForbiddenReason)
			if r.ForbiddenDetail != "" {
				msg += " (" + r.ForbiddenDetail + ")"
			}
			out = append(out, violation(p.Object, p.Path, "%s", msg))
		}
	}
	return out
}

// convert decodes a YAML-decoded map into an API type through JSON.
func convert(in map[string]any, out any) error {
	if in == nil {
		return nil
	}
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// H03
func checkReadOnlyRootFS(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		if c.Field == "ephemeralContainers" || isTrue(c.SecurityContext()["readOnlyRootFilesystem"]) {
			return nil
		}
		return []Violation{violation(c.Pod.Object, c.Path+".securityContext.readOnlyRootFilesystem",
			"container %q has a writable root filesystem: set readOnlyRootFilesystem: true and mount emptyDirs where it writes", c.Name)}
	})
}

// H04
func checkServiceAccount(env *Env) []Violation {
	var out []Violation
	accounts := map[string]*Object{}
	for _, o := range env.Kind("ServiceAccount") {
		accounts[o.Namespace+"/"+o.Name] = o
		if o.Name == "default" && !isFalse(o.Body["automountServiceAccountToken"]) {
			out = append(out, violation(o, "automountServiceAccountToken", "the default ServiceAccount must set automountServiceAccountToken: false"))
		}
	}
	for _, p := range env.Pods() {
		name := str(p.Spec["serviceAccountName"])
		if name == "" || name == "default" {
			out = append(out, violation(p.Object, join(p.Path, "serviceAccountName"), "the pod runs as the namespace's default ServiceAccount: give it its own"))
			continue
		}
		sa, found := accounts[p.Object.Namespace+"/"+name]
		if !found && !env.Partial {
			out = append(out, violation(p.Object, join(p.Path, "serviceAccountName"), "ServiceAccount %s/%s is not rendered in %s", p.Object.Namespace, name, env.Name))
		}
		if _, set := p.Spec["automountServiceAccountToken"]; !set && (sa == nil || !isFalse(sa.Body["automountServiceAccountToken"])) {
			out = append(out, violation(p.Object, join(p.Path, "automountServiceAccountToken"),
				"the API token is mounted by default: set automountServiceAccountToken: false, or true explicitly if the pod calls the API"))
		}
	}
	return out
}

// H12
func checkInjectionOptOut(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		if p.Object.Kind == "Job" || p.Object.Kind == "CronJob" {
			continue
		}
		if str(p.Annotations()["sidecar.istio.io/inject"]) == "false" {
			out = append(out, violation(p.Object, p.MetaPath+".annotations[sidecar.istio.io/inject]", "the pod opts out of the mesh"))
		}
		if str(p.Labels()["sidecar.istio.io/inject"]) == "false" {
			out = append(out, violation(p.Object, p.MetaPath+".labels[sidecar.istio.io/inject]", "the pod opts out of the mesh"))
		}
	}
	for _, ns := range env.Platform.AppNamespaces {
		o := env.Namespace(ns)
		if o == nil {
			continue
		}
		labels := mapOf(get(o.Body, "metadata", "labels"))
		if str(labels["istio-injection"]) != "enabled" && str(labels["istio.io/rev"]) == "" {
			out = append(out, violation(o, "metadata.labels[istio-injection]", "mesh namespace %s has neither istio-injection=enabled nor istio.io/rev", ns))
		}
	}
	return out
}

var (
	sha256Ref  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	versionTag = regexp.MustCompile(`^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$`)
)

// H15
func checkImageDigest(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		ref := str(c.Body["image"])
		im := parseImage(ref)
		var out []Violation
		switch {
		case im.Registry == "":
			out = append(out, violation(c.Pod.Object, c.Path+".image", "image %s has no registry host (a Docker Hub short name): name the registry", ref))
		case !official.ECRHost.MatchString(im.Registry) && !slices.Contains(env.Platform.ApprovedRegistries, im.Registry):
			out = append(out, violation(c.Pod.Object, c.Path+".image", "image %s comes from %s, which is not an approved registry", ref, im.Registry))
		}
		if env.Production && !sha256Ref.MatchString(im.Digest) {
			out = append(out, violation(c.Pod.Object, c.Path+".image", "image %s is not pinned by digest (@sha256:...)", ref))
		}
		return out
	})
}

// H18
func checkResources(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		if c.Field == "ephemeralContainers" {
			return nil
		}
		var missing []string
		res := mapOf(c.Body["resources"])
		for _, f := range []string{"requests.cpu", "requests.memory", "limits.memory"} {
			a, b, _ := strings.Cut(f, ".")
			if str(get(res, a, b)) == "" {
				missing = append(missing, f)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		return []Violation{violation(c.Pod.Object, c.Path+".resources", "container %q does not set %s", c.Name, strings.Join(missing, ", "))}
	})
}

// M01
func checkProbes(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		if !slices.Contains([]string{"Deployment", "StatefulSet", "DaemonSet"}, p.Object.Kind) {
			continue
		}
		for _, c := range p.AppContainers() {
			ports := containerPorts(c)
			for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
				pr := mapOf(c.Body[probe])
				if pr == nil {
					if probe != "startupProbe" {
						out = append(out, violation(p.Object, c.Path+"."+probe, "container %q has no %s", c.Name, probe))
					}
					continue
				}
				for _, h := range []string{"httpGet", "tcpSocket", "grpc"} {
					handler := mapOf(pr[h])
					if handler == nil {
						continue
					}
					path := c.Path + "." + probe + "." + h
					if str(handler["host"]) != "" {
						out = append(out, violation(p.Object, path+".host", "the %s of container %q probes another host", probe, c.Name))
					}
					port := str(handler["port"])
					if port != "" && !ports[port] {
						out = append(out, violation(p.Object, path+".port", "the %s of container %q targets port %s, which the container does not declare", probe, c.Name, port))
					}
				}
			}
		}
	}
	return out
}

// containerPorts maps the names and numbers of a container's ports.
func containerPorts(c *Container) map[string]bool {
	out := map[string]bool{}
	for _, p := range listOf(c.Body["ports"]) {
		if n := str(get(p, "name")); n != "" {
			out[n] = true
		}
		if n := str(get(p, "containerPort")); n != "" {
			out[n] = true
		}
	}
	return out
}

var captureBypass = []string{"traffic.sidecar.istio.io/excludeInboundPorts", "traffic.sidecar.istio.io/excludeOutboundPorts",
	"traffic.sidecar.istio.io/excludeOutboundIPRanges"}

// M07
func checkCaptureBypass(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		for _, a := range captureBypass {
			if v, ok := p.Annotations()[a]; ok && str(v) != "" {
				out = append(out, violation(p.Object, p.MetaPath+".annotations["+a+"]", "traffic on %s bypasses the sidecar (mTLS and authorization do not apply)", str(v)))
			}
		}
	}
	return out
}

var ianaSvcName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$`)

func validPortName(n string) bool {
	return ianaSvcName.MatchString(n) && !strings.Contains(n, "--") && strings.ContainsAny(n, "abcdefghijklmnopqrstuvwxyz")
}

// M09
func checkEnvAndPorts(env *Env) []Violation {
	out := forContainers(env, func(c *Container) []Violation {
		var out []Violation
		seen := map[string]bool{}
		for i, e := range listOf(c.Body["env"]) {
			name := str(get(e, "name"))
			if seen[name] {
				out = append(out, violation(c.Pod.Object, idx(c.Path+".env", i)+".name", "container %q sets %s twice", c.Name, name))
			}
			seen[name] = true
		}
		for i, p := range listOf(c.Body["ports"]) {
			if n := str(get(p, "name")); n != "" && !validPortName(n) {
				out = append(out, violation(c.Pod.Object, idx(c.Path+".ports", i)+".name", "port name %q is not a valid IANA service name (at most 15 lowercase letters, digits and single hyphens)", n))
			}
		}
		return out
	})
	for _, svc := range env.Kind("Service") {
		for i, p := range listOf(get(svc.Body, "spec", "ports")) {
			if n := str(get(p, "name")); n != "" && !validPortName(n) {
				out = append(out, violation(svc, idx("spec.ports", i)+".name", "port name %q is not a valid IANA service name", n))
			}
			target, isName := get(p, "targetPort").(string)
			if !isName || env.Partial {
				continue
			}
			pods := selectedPods(env, svc)
			if len(pods) == 0 {
				continue // M05 reports the Service that selects nothing
			}
			for _, pod := range pods {
				found := false
				for _, c := range pod.AppContainers() {
					found = found || containerPorts(c)[target]
				}
				if !found {
					out = append(out, violation(svc, idx("spec.ports", i)+".targetPort", "target port %q is not a container port of %s", target, pod.Object.ID()))
				}
			}
		}
	}
	return out
}

// selectedPods are the pod templates a Service selects.
func selectedPods(env *Env, svc *Object) []*Pod {
	sel := mapOf(get(svc.Body, "spec", "selector"))
	var out []*Pod
	for _, p := range env.podsIn(svc.Namespace) {
		if mapSelectorMatches(sel, p.Labels()) {
			out = append(out, p)
		}
	}
	return out
}

// M14
func checkSecretsAsFiles(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		var out []Violation
		for i, e := range listOf(c.Body["env"]) {
			if ref := mapOf(get(e, "valueFrom", "secretKeyRef")); ref != nil {
				out = append(out, violation(c.Pod.Object, idx(c.Path+".env", i)+".valueFrom.secretKeyRef",
					"variable %s reads Secret %s from the environment; a mounted file is not inherited by child processes nor dumped with the environment", str(get(e, "name")), str(ref["name"])))
			}
		}
		for i, e := range listOf(c.Body["envFrom"]) {
			if ref := mapOf(get(e, "secretRef")); ref != nil {
				out = append(out, violation(c.Pod.Object, idx(c.Path+".envFrom", i)+".secretRef", "container %q reads Secret %s into the environment", c.Name, str(ref["name"])))
			}
		}
		return out
	})
}

// P01
func checkNodeGroup(env *Env) []Violation {
	var out []Violation
	label := env.Platform.NodeGroupLabel
	for _, p := range env.Pods() {
		want, ok := env.Platform.NodeGroups[p.Object.Namespace]
		if !ok || p.Object.Kind == "DaemonSet" {
			continue
		}
		if str(get(p.Spec, "nodeSelector", label)) == want {
			continue
		}
		path := join(p.Path, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
		terms := listOf(get(p.Spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"))
		if len(terms) == 0 {
			out = append(out, violation(p.Object, path, "the pod states no required node affinity: namespace %s runs on node group %q (%s In [%s])", p.Object.Namespace, want, label, want))
			continue
		}
		// Terms are ORed: each must pin the node group.
		for i, t := range terms {
			ok := false
			for _, e := range listOf(get(t, "matchExpressions")) {
				m := mapOf(e)
				if str(m["key"]) == label && str(m["operator"]) == "In" && slices.Equal(strs(m["values"]), []string{want}) {
					ok = true
				}
			}
			if !ok {
				out = append(out, violation(p.Object, idx(path, i), "node selector term does not require %s In [%s] (namespace %s runs on node group %q)", label, want, p.Object.Namespace, want))
			}
		}
	}
	return out
}

// P02
func checkOwnImages(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		ref := str(c.Body["image"])
		im := parseImage(ref)
		own := official.ECRHost.MatchString(im.Registry) || strings.HasPrefix(im.Repository, env.Platform.OwnRepositoryPrefix)
		if !own {
			return nil
		}
		if !official.ECRHost.MatchString(im.Registry) {
			return []Violation{violation(c.Pod.Object, c.Path+".image", "image %s of our own services must come from ECR (<account>.dkr.ecr.<region>.amazonaws.com)", ref)}
		}
		if im.Digest == "" && !versionTag.MatchString(im.Tag) {
			return []Violation{violation(c.Pod.Object, c.Path+".image", "image %s needs an immutable version tag (x.y.z) or a digest, not %q", ref, im.Tag)}
		}
		return nil
	})
}

// H22
func checkEphemeralStorage(env *Env) []Violation {
	return forContainers(env, func(c *Container) []Violation {
		if c.Field == "ephemeralContainers" {
			return nil
		}
		var missing []string
		res := mapOf(c.Body["resources"])
		for _, f := range []string{"requests", "limits"} {
			if str(get(res, f, "ephemeral-storage")) == "" {
				missing = append(missing, f+".ephemeral-storage")
			}
		}
		if len(missing) == 0 {
			return nil
		}
		return []Violation{violation(c.Pod.Object, c.Path+".resources", "container %q does not set %s: its logs, writable layer and emptyDirs are neither scheduled for nor bounded", c.Name, strings.Join(missing, ", "))}
	})
}

// minHighID is the lowest user and group id H23 accepts: ids below are the host's system
// and login accounts.
const minHighID = 10000

// H23: the effective id is the container's securityContext field, else the pod's.
func checkHighUID(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		psc := mapOf(p.Spec["securityContext"])
		for _, c := range p.Containers() {
			if c.Field == "ephemeralContainers" {
				continue
			}
			for _, f := range []string{"runAsUser", "runAsGroup"} {
				v, set := c.SecurityContext()[f]
				path := c.Path + ".securityContext." + f
				if !set {
					v, set = psc[f]
					path = join(p.Path, "securityContext."+f)
				}
				n, ok := number(v)
				switch {
				case !set:
					out = append(out, violation(p.Object, c.Path+".securityContext."+f,
						"container %q does not set %s (nor does the pod): the image's user applies, often a low system id; set it >= %d", c.Name, f, minHighID))
				case !ok || n < minHighID:
					out = append(out, violation(p.Object, path, "container %q runs with %s %s, below %d: it may share the id of a host account", c.Name, f, str(v), minHighID))
				}
			}
		}
	}
	return out
}

// probeHandlers are the probe handler fields, in the order they are compared.
var probeHandlers = []string{"httpGet", "tcpSocket", "grpc", "exec"}

// probeHandler describes a probe's handler as a comparable string: its kind and target,
// with named ports resolved to the container's port numbers; "" when it has none.
func probeHandler(c *Container, probe map[string]any) string {
	numbers := map[string]string{}
	for _, p := range listOf(c.Body["ports"]) {
		if n := str(get(p, "name")); n != "" {
			numbers[n] = str(get(p, "containerPort"))
		}
	}
	port := func(v any) string {
		if n, ok := numbers[str(v)]; ok {
			return n
		}
		return str(v)
	}
	for _, h := range probeHandlers {
		m := mapOf(probe[h])
		if m == nil {
			continue
		}
		switch h {
		case "httpGet":
			scheme := str(m["scheme"])
			if scheme == "" {
				scheme = "HTTP"
			}
			path := str(m["path"])
			if path == "" {
				path = "/"
			}
			h := fmt.Sprintf("httpGet %s %s:%s%s", strings.ToUpper(scheme), str(m["host"]), port(m["port"]), path)
			if headers := listOf(m["httpHeaders"]); len(headers) > 0 {
				data, _ := json.Marshal(headers)
				h += " headers " + string(data)
			}
			return h
		case "tcpSocket":
			return fmt.Sprintf("tcpSocket %s:%s", str(m["host"]), port(m["port"]))
		case "grpc":
			return fmt.Sprintf("grpc %s %s", port(m["port"]), str(m["service"]))
		case "exec":
			cmd, _ := json.Marshal(strs(m["command"]))
			return "exec " + string(cmd)
		}
	}
	return ""
}

// M17
func checkDistinctLiveness(env *Env) []Violation {
	var out []Violation
	for _, p := range env.Pods() {
		if !slices.Contains([]string{"Deployment", "StatefulSet", "DaemonSet"}, p.Object.Kind) {
			continue
		}
		for _, c := range p.Containers() {
			if c.Field == "ephemeralContainers" {
				continue
			}
			ready, live := mapOf(c.Body["readinessProbe"]), mapOf(c.Body["livenessProbe"])
			if ready == nil || live == nil {
				continue // M01 reports a missing probe
			}
			if h := probeHandler(c, live); h != "" && h == probeHandler(c, ready) {
				out = append(out, violation(p.Object, c.Path+".livenessProbe",
					"the liveness probe of container %q repeats its readiness probe (%s): when what readiness checks is slow, the kubelet restarts healthy containers; give liveness a handler that checks only the process", c.Name, h))
			}
		}
	}
	return out
}
