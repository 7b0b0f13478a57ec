package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// get walks nested maps by key; nil when a key is missing or a value is not a map.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

// str is a string value, or the text of a scalar ("" for nil, maps and lists).
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil, map[string]any, []any:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range listOf(v) {
		out = append(out, str(x))
	}
	return out
}

func isTrue(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

func isFalse(v any) bool {
	b, ok := v.(bool)
	return ok && !b
}

// number is an integer field's value; ok is false when absent or not a number.
func number(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case uint64:
		return int(x), true
	case float64:
		return int(x), true
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

func idx(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// Pod is a pod template inside a workload (or a Pod itself).
type Pod struct {
	Object *Object
	// Path is the field path of the pod spec: "spec.template.spec".
	Path string
	// MetaPath is the field path of the pod metadata: "spec.template.metadata".
	MetaPath string
	Meta     map[string]any
	Spec     map[string]any
}

// Labels of the pod template.
func (p *Pod) Labels() map[string]any { return mapOf(p.Meta["labels"]) }

// Annotations of the pod template.
func (p *Pod) Annotations() map[string]any { return mapOf(p.Meta["annotations"]) }

// Container is one container of a pod, located by its field path.
type Container struct {
	Pod  *Pod
	Path string
	Name string
	Body map[string]any
	// Field is "containers", "initContainers" or "ephemeralContainers".
	Field string
}

// SecurityContext of the container ("" path prefix handled by callers).
func (c *Container) SecurityContext() map[string]any { return mapOf(c.Body["securityContext"]) }

// Containers lists every container of the pod: init, regular, then ephemeral.
func (p *Pod) Containers() []*Container {
	var out []*Container
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for i, c := range listOf(p.Spec[field]) {
			m := mapOf(c)
			if m == nil {
				continue
			}
			out = append(out, &Container{Pod: p, Path: idx(join(p.Path, field), i), Name: str(m["name"]), Body: m, Field: field})
		}
	}
	return out
}

// AppContainers are the long-running containers (spec.containers).
func (p *Pod) AppContainers() []*Container {
	var out []*Container
	for _, c := range p.Containers() {
		if c.Field == "containers" {
			out = append(out, c)
		}
	}
	return out
}

// podPaths locates the pod template of each workload kind.
var podPaths = map[string][]string{
	"Pod":                   nil,
	"Deployment":            {"spec", "template"},
	"StatefulSet":           {"spec", "template"},
	"DaemonSet":             {"spec", "template"},
	"ReplicaSet":            {"spec", "template"},
	"ReplicationController": {"spec", "template"},
	"Job":                   {"spec", "template"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template"},
}

// workloadKinds are the kinds that carry a pod template, sorted.
func workloadKinds() []string {
	out := make([]string, 0, len(podPaths))
	for k := range podPaths {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// podOf returns the pod template of a workload, or nil.
func podOf(o *Object) *Pod {
	keys, ok := podPaths[o.Kind]
	if !ok || strings.Contains(o.APIVersion, ".") && !strings.HasPrefix(o.APIVersion, "batch/") && !strings.HasPrefix(o.APIVersion, "apps/") {
		return nil
	}
	tmpl := o.Body
	if keys != nil {
		tmpl = mapOf(get(o.Body, keys...))
	}
	if tmpl == nil {
		return nil
	}
	prefix := strings.Join(keys, ".")
	return &Pod{Object: o, Path: join(prefix, "spec"), MetaPath: join(prefix, "metadata"),
		Meta: mapOf(tmpl["metadata"]), Spec: mapOf(tmpl["spec"])}
}

// Pods returns the pod templates of every workload in the environment.
func (env *Env) Pods() []*Pod {
	env.podsOnce.Do(func() {
		for _, o := range env.Objects {
			if p := podOf(o); p != nil && p.Spec != nil {
				env.pods = append(env.pods, p)
			}
		}
	})
	return env.pods
}

// labelSelector is a metav1.LabelSelector (matchLabels, matchExpressions) as decoded YAML.
// A nil selector matches nothing; an empty one matches everything.
func labelSelectorMatches(sel map[string]any, labels map[string]any) bool {
	if sel == nil {
		return false
	}
	for k, v := range mapOf(sel["matchLabels"]) {
		if got, ok := labels[k]; !ok || str(got) != str(v) {
			return false
		}
	}
	for _, e := range listOf(sel["matchExpressions"]) {
		m := mapOf(e)
		key, op, values := str(m["key"]), str(m["operator"]), strs(m["values"])
		got, has := labels[key]
		switch op {
		case "In":
			if !has || !slices.Contains(values, str(got)) {
				return false
			}
		case "NotIn":
			if has && slices.Contains(values, str(got)) {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// mapSelectorMatches is a Service-style selector (plain map); empty matches nothing, as for
// Services without selectors.
func mapSelectorMatches(sel map[string]any, labels map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if got, ok := labels[k]; !ok || str(got) != str(v) {
			return false
		}
	}
	return true
}

// podsIn returns the pod templates in namespace ns.
func (env *Env) podsIn(ns string) []*Pod {
	var out []*Pod
	for _, p := range env.Pods() {
		if p.Object.Namespace == ns {
			out = append(out, p)
		}
	}
	return out
}

// image is a parsed container image reference.
type image struct {
	Registry   string // host, "" when the reference has none (a Docker Hub short name)
	Repository string
	Tag        string
	Digest     string
}

func parseImage(ref string) image {
	var im image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, im.Digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, im.Tag = ref[:i], ref[i+1:]
	}
	if first, rest, ok := strings.Cut(ref, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		im.Registry, ref = first, rest
	}
	im.Repository = ref
	return im
}
