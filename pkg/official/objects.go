package official

import (
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// ECRHost matches an ECR registry host: where our own images and charts are published
// (pkg/policy recognises both with it).
var ECRHost = regexp.MustCompile(`^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// maxListItems bounds the items of one List object a chart renders.
const maxListItems = 10000

// flatten replaces every List by its items, as Argo CD's repo server does with the objects
// `helm template` prints (repository.go, GenerateManifests: obj.IsList() -> EachListItem;
// a List whose items is null is dropped). IsList means an `items` array, whatever the kind.
func flatten(objs []*render.Object) ([]*render.Object, error) {
	var out []*render.Object
	for _, o := range objs {
		items, isList := o.Body["items"].([]any)
		_, hasSpec := o.Body["spec"]
		_, hasStatus := o.Body["status"]
		switch {
		case isList:
		case o.Body["items"] == nil && hasKey(o.Body, "items") && !hasSpec && !hasStatus:
			continue // isNullList
		default:
			out = append(out, o)
			continue
		}
		if len(items) > maxListItems {
			return nil, fmt.Errorf("%s (%s): %d items, more than %d", o.ID(), o.Template, len(items), maxListItems)
		}
		for i, item := range items {
			b, err := yaml.Marshal(item)
			if err != nil {
				return nil, fmt.Errorf("%s (%s): items[%d]: %w", o.ID(), o.Template, i, err)
			}
			got, err := render.Decode(b)
			if err != nil || len(got) != 1 {
				return nil, fmt.Errorf("%s (%s): items[%d]: not an object (%v)", o.ID(), o.Template, i, err)
			}
			got[0].Template = o.Template
			out = append(out, got[0])
		}
	}
	return out, nil
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// clusterScoped are the kinds of Kubernetes 1.35 that have no namespace (group/Kind, "" for
// the core group): the kube-apiserver's cluster-scoped resources.
var clusterScoped = map[string]bool{
	"/Namespace": true, "/Node": true, "/PersistentVolume": true, "/ComponentStatus": true,
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":     true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":        true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicy":          true,
	"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding":   true,
	"apiextensions.k8s.io/CustomResourceDefinition":                 true,
	"apiregistration.k8s.io/APIService":                             true,
	"certificates.k8s.io/CertificateSigningRequest":                 true,
	"certificates.k8s.io/ClusterTrustBundle":                        true,
	"flowcontrol.apiserver.k8s.io/FlowSchema":                       true,
	"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration":       true,
	"internal.apiserver.k8s.io/StorageVersion":                      true,
	"networking.k8s.io/IngressClass":                                true,
	"networking.k8s.io/IPAddress":                                   true,
	"networking.k8s.io/ServiceCIDR":                                 true,
	"node.k8s.io/RuntimeClass":                                      true,
	"rbac.authorization.k8s.io/ClusterRole":                         true,
	"rbac.authorization.k8s.io/ClusterRoleBinding":                  true,
	"resource.k8s.io/DeviceClass":                                   true,
	"resource.k8s.io/ResourceSlice":                                 true,
	"scheduling.k8s.io/PriorityClass":                               true,
	"storage.k8s.io/CSIDriver":                                      true,
	"storage.k8s.io/CSINode":                                        true,
	"storage.k8s.io/StorageClass":                                   true,
	"storage.k8s.io/VolumeAttachment":                               true,
	"storage.k8s.io/VolumeAttributesClass":                          true,
	"storagemigration.k8s.io/StorageVersionMigration":               true,
}

// defaultNamespaces puts every namespaced object without a namespace into its release's
// namespace, as Argo CD applies it into the destination namespace. Kinds are namespaced
// unless Kubernetes makes them cluster-scoped or a CRD rendered by one of the releases
// says scope Cluster (an object may use a CRD another Application installs).
func defaultNamespaces(releases []*Release) {
	cluster := map[string]bool{}
	for _, rel := range releases {
		for k := range rel.clusterKinds {
			cluster[k] = true
		}
	}
	for _, rel := range releases {
		for _, o := range rel.Objects {
			if o.Namespace != "" || rel.Namespace == "" {
				continue
			}
			group, _, _ := strings.Cut(o.APIVersion, "/")
			if !strings.Contains(o.APIVersion, "/") {
				group = ""
			}
			key := group + "/" + o.Kind
			if clusterScoped[key] || cluster[key] {
				continue
			}
			o.Namespace = rel.Namespace
			// The body too: the plan and the diff print it, and the API server stores it so.
			if meta, ok := o.Body["metadata"].(map[string]any); ok && rel.Namespace != "" {
				meta["namespace"] = rel.Namespace
			}
		}
	}
}

// clusterKinds are the kinds ("group/Kind") that the CRDs among objs declare scope Cluster.
func clusterKinds(objs []*render.Object) map[string]bool {
	out := map[string]bool{}
	for _, c := range objs {
		if !isCRD(c) {
			continue
		}
		spec, _ := c.Body["spec"].(map[string]any)
		names, _ := spec["names"].(map[string]any)
		group, _ := spec["group"].(string)
		kind, _ := names["kind"].(string)
		if scope, _ := spec["scope"].(string); scope == "Cluster" && kind != "" {
			out[group+"/"+kind] = true
		}
	}
	return out
}
