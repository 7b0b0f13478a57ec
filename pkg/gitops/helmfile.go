package gitops

import (
	"bytes"
	"fmt"
	"maps"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
)

// Helmfile is what this package reads of a Helmfile (v1 syntax): its environments and releases.
// Release templates ({{ .Environment.Name }}) in values paths are resolved for one environment.
type Helmfile struct {
	// Root is the repository root; Path, the Helmfile, is relative to it (slash-separated).
	Root         string
	Path         string
	Env          string
	Environments []string
	Repositories map[string]string // name -> URL
	Releases     []Release
}

// Release is one Helmfile release.
type Release struct {
	Name      string
	Namespace string
	Chart     string // "<repository>/<chart>" or a local path
	Version   string
	// Values are the values files, resolved against the Helmfile's directory, relative to
	// the repository root (slash-separated); none may leave the repository.
	Values []string
	Needs  []string
}

type helmfileDoc struct {
	Environments map[string]any `json:"environments"`
	HelmDefaults map[string]any `json:"helmDefaults"`
	Repositories []struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"repositories"`
	Releases []struct {
		Name      string   `json:"name"`
		Namespace string   `json:"namespace"`
		Chart     string   `json:"chart"`
		Version   string   `json:"version"`
		Values    []any    `json:"values"`
		Needs     []string `json:"needs"`
		Hooks     []any    `json:"hooks"`
		// CreateNamespace is Helmfile's createNamespace.
		CreateNamespace *bool `json:"createNamespace"`
	} `json:"releases"`
}

var envTemplate = regexp.MustCompile(`\{\{-?\s*\.Environment\.Name\s*-?\}\}`)

// LoadHelmfile parses the Helmfile rel of the repository at root for environment env,
// through repofs. Documents separated by "---" are merged the way Helmfile layers them
// (later documents add releases).
func LoadHelmfile(root, rel, env string) (*Helmfile, error) {
	data, err := repofs.ReadFile(root, rel)
	if err != nil {
		return nil, err
	}
	path := filepath.ToSlash(rel)
	h := &Helmfile{Root: root, Path: path, Env: env, Repositories: map[string]string{}}
	envs := map[string]bool{}
	for i, doc := range bytes.Split(data, []byte("\n---")) {
		doc = envTemplate.ReplaceAll(doc, []byte(env))
		if bytes.Contains(doc, []byte("{{")) {
			return nil, fmt.Errorf("%s: document %d: only {{ .Environment.Name }} templates are supported", path, i+1)
		}
		var d helmfileDoc
		if err := yaml.UnmarshalStrict(doc, &d); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
		}
		for name := range d.Environments {
			envs[name] = true
		}
		for _, r := range d.Repositories {
			h.Repositories[r.Name] = r.URL
		}
		for _, r := range d.Releases {
			rel := Release{Name: r.Name, Namespace: r.Namespace, Chart: r.Chart, Version: r.Version, Needs: r.Needs}
			for _, v := range r.Values {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("%s: release %s: inline values are not used here; list values files", path, r.Name)
				}
				f, err := repofs.Resolve(pathpkg.Dir(path), s)
				if err != nil {
					return nil, fmt.Errorf("%s: release %s: values file: %w", path, r.Name, err)
				}
				rel.Values = append(rel.Values, f)
			}
			h.Releases = append(h.Releases, rel)
		}
	}
	h.Environments = slices.Sorted(maps.Keys(envs))
	return h, nil
}

// Release returns the release whose chart is chart (e.g. "argo/argocd-apps").
func (h *Helmfile) Release(chart string) (Release, bool) {
	for _, r := range h.Releases {
		if r.Chart == chart {
			return r, true
		}
	}
	return Release{}, false
}

var exactVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// Problems lists what makes the Helmfile unfit: environments missing from want, releases of
// repository charts without an exact version or from an undeclared repository, values files
// that do not exist. Empty means fit.
func (h *Helmfile) Problems(want ...string) []string {
	var out []string
	have := map[string]bool{}
	for _, e := range h.Environments {
		have[e] = true
	}
	for _, e := range want {
		if !have[e] {
			out = append(out, fmt.Sprintf("environment %q is not declared", e))
		}
	}
	if !have[h.Env] {
		out = append(out, fmt.Sprintf("environment %q (the one loaded) is not declared", h.Env))
	}
	if len(h.Releases) == 0 {
		out = append(out, "no releases")
	}
	for _, r := range h.Releases {
		local := strings.HasPrefix(r.Chart, ".") || strings.HasPrefix(r.Chart, "/")
		if !local {
			repo, _, ok := strings.Cut(r.Chart, "/")
			if !ok || h.Repositories[repo] == "" {
				out = append(out, fmt.Sprintf("release %s: chart %q is not from a declared repository", r.Name, r.Chart))
			}
		}
		if !exactVersion.MatchString(r.Version) {
			out = append(out, fmt.Sprintf("release %s: version %q is not an exact version", r.Name, r.Version))
		}
		for _, v := range r.Values {
			if fi, err := repofs.Stat(h.Root, v); err != nil {
				out = append(out, fmt.Sprintf("release %s: values file %s: %v", r.Name, v, err))
			} else if !fi.Mode().IsRegular() {
				out = append(out, fmt.Sprintf("release %s: values file %s: not a regular file", r.Name, v))
			}
		}
	}
	return out
}

// RootApplication reads the root Application from the Helmfile file of the repository at
// root: the single Application of the argocd-apps release's values (its files merged in
// order) for env.
func RootApplication(root, file, env string) (map[string]any, error) {
	h, err := LoadHelmfile(root, file, env)
	if err != nil {
		return nil, err
	}
	path := h.Path
	var rel *Release
	for i, r := range h.Releases {
		if strings.HasSuffix(r.Chart, "/argocd-apps") {
			rel = &h.Releases[i]
		}
	}
	if rel == nil {
		return nil, fmt.Errorf("%s: no release of the argocd-apps chart", path)
	}
	values := map[string]any{}
	for _, f := range rel.Values {
		if strings.HasSuffix(f, ".gotmpl") {
			return nil, fmt.Errorf("%s: release %s: template values file %s cannot be read statically", path, rel.Name, f)
		}
		data, err := repofs.ReadFile(root, f)
		if err != nil {
			return nil, fmt.Errorf("%s: release %s: %w", path, rel.Name, err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		values = merge(values, v)
	}
	apps, _ := values["applications"].(map[string]any)
	if len(apps) != 1 {
		return nil, fmt.Errorf("%s: release %s must define exactly one Application (the root), found %d", path, rel.Name, len(apps))
	}
	for name, a := range apps {
		spec, ok := a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: application %s is not a map", path, name)
		}
		return ApplicationFromChartValues(name, spec), nil
	}
	panic("unreachable")
}

// ApplicationFromChartValues turns an entry of argocd-apps' `applications` map into the
// Application object the chart renders (the fields this package reads).
func ApplicationFromChartValues(name string, v map[string]any) map[string]any {
	meta := map[string]any{"name": name}
	if ns, ok := v["namespace"]; ok {
		meta["namespace"] = ns
	}
	if a, ok := v["additionalAnnotations"]; ok {
		meta["annotations"] = a
	}
	if l, ok := v["additionalLabels"]; ok {
		meta["labels"] = l
	}
	if f, ok := v["finalizers"]; ok {
		meta["finalizers"] = f
	}
	spec := map[string]any{}
	for _, k := range []string{"project", "source", "sources", "destination", "syncPolicy", "revisionHistoryLimit", "ignoreDifferences", "info"} {
		if x, ok := v[k]; ok {
			spec[k] = x
		}
	}
	return map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta, "spec": spec}
}

// merge merges src into dst like Helm merges values files: maps deeply, everything else replaced.
func merge(dst, src map[string]any) map[string]any {
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = sv
	}
	return dst
}
