package policy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// C17
func checkMTLS(env *Env) []Violation {
	var out []Violation
	bad := func(mode string) bool { return mode == "DISABLE" || env.Production && mode == "PERMISSIVE" }
	for _, o := range env.Kind("PeerAuthentication") {
		if mode := str(get(o.Body, "spec", "mtls", "mode")); bad(mode) {
			out = append(out, violation(o, "spec.mtls.mode", "mTLS mode %s lets plain text in (STRICT or UNSET; PERMISSIVE only outside production)", mode))
		}
		ports := mapOf(get(o.Body, "spec", "portLevelMtls"))
		for _, p := range slices.Sorted(maps.Keys(ports)) {
			if mode := str(get(ports[p], "mode")); bad(mode) {
				out = append(out, violation(o, "spec.portLevelMtls["+p+"].mode", "mTLS mode %s on port %s", mode, p))
			}
		}
	}
	return out
}

// C18
func checkDestinationRuleTLS(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("DestinationRule") {
		if str(get(o.Body, "spec", "trafficPolicy", "tls", "mode")) == "DISABLE" {
			out = append(out, violation(o, "spec.trafficPolicy.tls.mode", "DestinationRule disables TLS to %s", str(get(o.Body, "spec", "host"))))
		}
		for i, s := range listOf(get(o.Body, "spec", "trafficPolicy", "portLevelSettings")) {
			if str(get(s, "tls", "mode")) == "DISABLE" {
				out = append(out, violation(o, idx("spec.trafficPolicy.portLevelSettings", i)+".tls.mode", "DestinationRule disables TLS on a port"))
			}
		}
		for i, sub := range listOf(get(o.Body, "spec", "subsets")) {
			if str(get(sub, "trafficPolicy", "tls", "mode")) == "DISABLE" {
				out = append(out, violation(o, idx("spec.subsets", i)+".trafficPolicy.tls.mode", "DestinationRule subset disables TLS"))
			}
		}
	}
	return out
}

// usesIstio reports whether the environment deploys anything of the mesh.
func usesIstio(env *Env) bool {
	if len(meshNamespaces(env)) > 0 {
		return true
	}
	for _, o := range env.Objects {
		if o.Kind == "PeerAuthentication" || o.Kind == "AuthorizationPolicy" {
			return true
		}
	}
	return false
}

// H09
func checkMeshStrict(env *Env) []Violation {
	if !usesIstio(env) {
		return nil
	}
	root := env.Platform.IstioRootNamespace
	var meshWide []*Object
	for _, o := range env.Kind("PeerAuthentication") {
		if o.Namespace == root && len(mapOf(get(o.Body, "spec", "selector"))) == 0 {
			meshWide = append(meshWide, o)
		}
	}
	switch len(meshWide) {
	case 0:
		anchor := namespaceAnchor(env, root)
		if anchor == nil {
			if ns := meshNamespaces(env); len(ns) > 0 {
				anchor = ns[0]
			}
		}
		return []Violation{violation(anchor, "", "no mesh-wide PeerAuthentication in %s (no selector, mtls.mode STRICT)", root)}
	case 1:
		mode := str(get(meshWide[0].Body, "spec", "mtls", "mode"))
		if mode != "STRICT" && (env.Production || mode != "PERMISSIVE") {
			return []Violation{violation(meshWide[0], "spec.mtls.mode", "the mesh-wide PeerAuthentication must be STRICT, not %q", mode)}
		}
		return nil
	default:
		var out []Violation
		for _, o := range meshWide[1:] {
			out = append(out, violation(o, "", "more than one mesh-wide PeerAuthentication in %s (also %s)", root, meshWide[0].ID()))
		}
		return out
	}
}

var (
	negativeSource    = []string{"notPrincipals", "notNamespaces", "notIpBlocks", "notRemoteIpBlocks", "notRequestPrincipals"}
	negativeOperation = []string{"notHosts", "notPorts", "notMethods", "notPaths"}
	positiveSource    = []string{"principals", "namespaces", "ipBlocks", "remoteIpBlocks", "requestPrincipals"}
	positiveOperation = []string{"hosts", "ports", "methods", "paths"}
)

// H10
func checkAuthzPatterns(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("AuthorizationPolicy") {
		action := str(get(o.Body, "spec", "action"))
		if action != "" && action != "ALLOW" && action != "DENY" {
			continue
		}
		deny := action == "DENY"
		for i, r := range listOf(get(o.Body, "spec", "rules")) {
			path := idx("spec.rules", i)
			check := func(m map[string]any, p string, negative, positive []string) {
				bad := negative
				if deny {
					bad = positive
				}
				for _, f := range bad {
					if _, ok := m[f]; ok {
						msg := "an ALLOW rule matches by negation (%s): whatever is not listed is allowed"
						if deny {
							msg = "a DENY rule matches by a positive field (%s): anything not listed escapes the deny; use not* fields"
						}
						out = append(out, violation(o, p+"."+f, msg, f))
					}
				}
			}
			for j, from := range listOf(get(r, "from")) {
				check(mapOf(get(from, "source")), idx(path+".from", j)+".source", negativeSource, positiveSource)
			}
			for j, to := range listOf(get(r, "to")) {
				check(mapOf(get(to, "operation")), idx(path+".to", j)+".operation", negativeOperation, positiveOperation)
			}
			for j, w := range listOf(get(r, "when")) {
				check(mapOf(w), idx(path+".when", j), []string{"notValues"}, []string{"values"})
			}
		}
	}
	return out
}

// H11
func checkGatewayHosts(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("Gateway") {
		if str(get(o.Body, "apiVersion")) == "gateway.networking.k8s.io/v1" {
			continue
		}
		for i, s := range listOf(get(o.Body, "spec", "servers")) {
			path := idx("spec.servers", i)
			for j, h := range strs(get(s, "hosts")) {
				if h == "*" || h == "*/*" {
					out = append(out, violation(o, idx(path+".hosts", j), "Gateway server accepts any host (%q)", h))
				}
			}
			if str(get(s, "port", "protocol")) == "HTTPS" {
				tls := mapOf(get(s, "tls"))
				if str(tls["mode"]) == "" {
					out = append(out, violation(o, path+".tls.mode", "HTTPS server without tls.mode"))
				}
				if mode := str(tls["mode"]); (mode == "SIMPLE" || mode == "MUTUAL") && str(tls["credentialName"]) == "" {
					out = append(out, violation(o, path+".tls.credentialName", "HTTPS server without tls.credentialName"))
				}
			}
		}
	}
	for _, o := range env.Kind("VirtualService") {
		for j, h := range strs(get(o.Body, "spec", "hosts")) {
			if h == "*" {
				out = append(out, violation(o, idx("spec.hosts", j), "VirtualService matches any host"))
			}
		}
	}
	return out
}

// H13
func checkIstioCNI(env *Env) []Violation {
	var out []Violation
	var istiod *Object
	cni := false
	for _, o := range env.Objects {
		if o.Kind == "Deployment" && o.Name == "istiod" {
			istiod = o
		}
		if o.Kind == "DaemonSet" && o.Name == "istio-cni-node" {
			cni = true
		}
	}
	if istiod != nil && !cni {
		out = append(out, violation(istiod, "", "sidecar mode without Istio CNI: istio-init needs NET_ADMIN and NET_RAW, which Pod Security baseline forbids; deploy the istio-cni chart"))
	}
	for _, p := range env.Pods() {
		for _, c := range p.Containers() {
			if c.Name == "istio-init" {
				out = append(out, violation(p.Object, c.Path, "istio-init container: use Istio CNI instead"))
			}
		}
	}
	return out
}

var istioPortName = regexp.MustCompile(`^(http|http2|https|grpc|grpc-web|tcp|tls|mongo|mysql|redis|udp)(-.*)?$`)

// M06
func checkPortProtocol(env *Env) []Violation {
	var out []Violation
	var mesh []string
	for _, ns := range meshNamespaces(env) {
		mesh = append(mesh, ns.Name)
	}
	for _, svc := range env.Kind("Service") {
		if !slices.Contains(mesh, svc.Namespace) || str(get(svc.Body, "spec", "type")) == "ExternalName" {
			continue
		}
		for i, p := range listOf(get(svc.Body, "spec", "ports")) {
			if str(get(p, "appProtocol")) != "" || istioPortName.MatchString(str(get(p, "name"))) {
				continue
			}
			out = append(out, violation(svc, idx("spec.ports", i), "%s", fmt.Sprintf("port %s names no protocol: set appProtocol or a name like http-<suffix> (Istio otherwise guesses)", str(get(p, "port")))))
		}
	}
	return out
}

// M10
func checkExposedServices(env *Env) []Violation {
	var out []Violation
	for _, svc := range env.Kind("Service") {
		t := str(get(svc.Body, "spec", "type"))
		if (t == "NodePort" || t == "LoadBalancer") && !slices.Contains(env.Platform.IngressNamespaces, svc.Namespace) {
			out = append(out, violation(svc, "spec.type", "Service of type %s outside the ingress gateway's namespace: expose it through the gateway", t))
		}
		if len(listOf(get(svc.Body, "spec", "externalIPs"))) > 0 {
			out = append(out, violation(svc, "spec.externalIPs", "externalIPs can intercept cluster traffic (CVE-2020-8554)"))
		}
	}
	return out
}
