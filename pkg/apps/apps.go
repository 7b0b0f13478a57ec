// Package apps is the one model of ArgoCD Applications in this repository: it reads every
// Application (and ApplicationSet) from the rendered plan or from the Helmfile release that
// installs the root, knows where each source comes from (a path of this repository, a Helm
// repository or an OCI registry), and builds the App-of-Apps graph once for the policies,
// the tree, the catalog and the cluster code.
package apps

import (
	"fmt"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// Kind is where a source's manifests come from, by ArgoCD's own rules.
type Kind string

const (
	// Path is a directory of a git repository (spec.source.path).
	Path Kind = "path"
	// HelmRepo is a chart of a classic Helm repository (chart with an http(s) repoURL).
	HelmRepo Kind = "helm"
	// OCI is a chart of an OCI registry (chart with an oci:// or scheme-less repoURL).
	OCI Kind = "oci"
)

// Helm is a source's helm block.
type Helm struct {
	ReleaseName string
	// Values is helm.values, a YAML string.
	Values string
	// ValuesObject is helm.valuesObject.
	ValuesObject map[string]any
	ValueFiles   []string
	// Parameters are helm.parameters, name to value.
	Parameters map[string]string
}

// Source is one source of an Application.
type Source struct {
	Kind           Kind
	RepoURL        string
	Path           string
	Chart          string
	TargetRevision string
	Helm           Helm
	// Field is the source's field path in the object ("spec.source", "spec.sources[1]",
	// "spec.template.spec.source" in an ApplicationSet), for findings.
	Field string
	// Body is the source as written.
	Body map[string]any
}

// KindOf decides a source's kind as ArgoCD does: a chart is pulled from an OCI registry when
// its repoURL has the oci:// scheme or none, from a Helm repository otherwise; a source
// without chart is a git path ("" when neither chart nor path is set).
func KindOf(repoURL, chart, path string) Kind {
	switch {
	case chart != "":
		if strings.HasPrefix(repoURL, "oci://") || !strings.Contains(repoURL, "://") {
			return OCI
		}
		return HelmRepo
	case path != "":
		return Path
	}
	return ""
}

// Destination is an Application's destination.
type Destination struct {
	Server    string
	Name      string
	Namespace string
}

// Application is one ArgoCD Application, or the template of an ApplicationSet.
type Application struct {
	// Kind is Application or ApplicationSet.
	Kind      string
	Name      string
	Namespace string
	Project   string
	// Sources are spec.source then spec.sources.
	Sources     []Source
	Destination Destination
	SyncOptions []string
	// Wave is the argocd.argoproj.io/sync-wave annotation as written ("" when absent).
	Wave string
	// Template is the file that rendered it, relative to the repository.
	Template string
	// Env is the environment it was rendered for.
	Env string
	// Chart is the repository chart (ID) that rendered it, or the Helmfile installing it.
	Chart string
	// Object is the rendered object (nil for one read from Helmfile values).
	Object *render.Object
	// Body is the whole object.
	Body map[string]any
}

// Single is spec.source, the only source of a single-source Application (false when it
// has none, e.g. only spec.sources).
func (a *Application) Single() (Source, bool) {
	for _, s := range a.Sources {
		if s.Field == a.specField()+".source" {
			return s, true
		}
	}
	return Source{}, false
}

func (a *Application) specField() string {
	if a.Kind == "ApplicationSet" {
		return "spec.template.spec"
	}
	return "spec"
}

// IsApplication reports whether o is an ArgoCD Application or ApplicationSet.
func IsApplication(o *render.Object) bool {
	return (o.Kind == "Application" || o.Kind == "ApplicationSet") && strings.HasPrefix(o.APIVersion, "argoproj.io/")
}

// FromObject reads a rendered Application or ApplicationSet; chart and env say where it was
// rendered.
func FromObject(o *render.Object, chart, env string) *Application {
	a := FromBody(o.Body, chart)
	a.Kind, a.Name, a.Namespace, a.Template, a.Env, a.Object = o.Kind, o.Name, o.Namespace, o.Template, env, o
	return a
}

// FromBody reads an Application object (e.g. the root, from the values of the Helmfile
// release that installs it).
func FromBody(body map[string]any, chart string) *Application {
	a := &Application{Body: body, Chart: chart}
	a.Kind, _ = body["kind"].(string)
	if a.Kind == "" {
		a.Kind = "Application"
	}
	a.Name, _ = get(body, "metadata", "name").(string)
	a.Namespace, _ = get(body, "metadata", "namespace").(string)
	a.Wave, _ = get(body, "metadata", "annotations", "argocd.argoproj.io/sync-wave").(string)
	spec, _ := get(body, "spec").(map[string]any)
	prefix := a.specField()
	if a.Kind == "ApplicationSet" {
		spec, _ = get(body, "spec", "template", "spec").(map[string]any)
	}
	a.Project, _ = spec["project"].(string)
	a.Destination.Server, _ = get(spec, "destination", "server").(string)
	a.Destination.Name, _ = get(spec, "destination", "name").(string)
	a.Destination.Namespace, _ = get(spec, "destination", "namespace").(string)
	a.SyncOptions = stringList(get(spec, "syncPolicy", "syncOptions"))
	if s, ok := spec["source"].(map[string]any); ok {
		a.Sources = append(a.Sources, source(s, prefix+".source"))
	}
	if l, ok := spec["sources"].([]any); ok {
		for i, s := range l {
			m, _ := s.(map[string]any)
			a.Sources = append(a.Sources, source(m, fmt.Sprintf("%s.sources[%d]", prefix, i)))
		}
	}
	return a
}

func source(m map[string]any, field string) Source {
	s := Source{Field: field, Body: m}
	s.RepoURL, s.Path, s.Chart, s.TargetRevision = text(m["repoURL"]), text(m["path"]), text(m["chart"]), text(m["targetRevision"])
	s.Kind = KindOf(s.RepoURL, s.Chart, s.Path)
	s.Helm.ReleaseName, _ = get(m, "helm", "releaseName").(string)
	s.Helm.Values, _ = get(m, "helm", "values").(string)
	s.Helm.ValuesObject, _ = get(m, "helm", "valuesObject").(map[string]any)
	s.Helm.ValueFiles = stringList(get(m, "helm", "valueFiles"))
	if ps, ok := get(m, "helm", "parameters").([]any); ok {
		s.Helm.Parameters = map[string]string{}
		for _, p := range ps {
			name, _ := get(p, "name").(string)
			value, _ := get(p, "value").(string)
			s.Helm.Parameters[name] = value
		}
	}
	return s
}

// FromRenders reads the Applications and ApplicationSets of the renders of env ("" for
// every environment), in render and object order.
func FromRenders(renders []*render.Result, env string) []*Application {
	var out []*Application
	for _, r := range renders {
		if env != "" && r.Env != env {
			continue
		}
		for _, o := range r.Objects {
			if IsApplication(o) {
				out = append(out, FromObject(o, r.Chart.ID, r.Env))
			}
		}
	}
	return out
}

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

// text is a string value, or the text of a scalar ("" for nil, maps and lists): YAML reads
// `targetRevision: 1.0` as a number.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil, map[string]any, []any:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// stringList is the string items of a list (others skipped).
func stringList(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
