package cluster

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestRequiredNodeGroups(t *testing.T) {
	in := func(key string, values ...string) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}},
			}}},
		}}
	}
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want []string
	}{
		{"affinity", corev1.PodSpec{Affinity: in(NodeGroupLabel, "app")}, []string{"app"}},
		{"affinity-several", corev1.PodSpec{Affinity: in(NodeGroupLabel, "system", "app", "app")}, []string{"app", "system"}},
		{"node-selector", corev1.PodSpec{NodeSelector: map[string]string{NodeGroupLabel: "deploy"}}, []string{"deploy"}},
		{"other-label", corev1.PodSpec{Affinity: in("topology.kubernetes.io/zone", "a")}, nil},
		{"none", corev1.PodSpec{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := requiredNodeGroups(tc.spec); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSortInstallOrder(t *testing.T) {
	obj := func(kind, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetName(name)
		return u
	}
	objs := []*unstructured.Unstructured{
		obj("VirtualService", "a"), obj("Deployment", "b"), obj("Deployment", "a"),
		obj("ConfigMap", "c"), obj("ServiceAccount", "s"), obj("ResourceQuota", "q"), obj("Application", "x"),
	}
	sortInstallOrder(objs)
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	want := []string{"ResourceQuota/q", "ServiceAccount/s", "ConfigMap/c", "Deployment/a", "Deployment/b", "Application/x", "VirtualService/a"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
