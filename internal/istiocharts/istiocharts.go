// Package istiocharts renders Istio's official Helm charts offline, from the sources that ship
// inside the istio.io/istio Go module, so tests can check the values our grandchild
// Applications (deploy/argocd/infra/istio) give them against the real templates.
//
// The module proxy serves istio.io/istio only as pseudo-versions: Module/Version below is a
// commit of the release-1.31 branch (its VERSION file says 1.31), not the 1.31.4 chart
// packages the Applications pin from https://istio-release.storage.googleapis.com/charts.
// Its charts carry the development version 1.0.0; Load stamps the Application's version
// on them, as Istio's release builder does when it packages a release.
package istiocharts

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/microservices-manifests/microservices-manifests/internal/gomod"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

const (
	// Module and Version pin the Istio sources (release-1.31 branch; VERSION 1.31). Fetched
	// with `go mod download`, never added to go.mod: the module is huge and only its files
	// are needed.
	Module  = "istio.io/istio"
	Version = "v0.0.0-20260827124520-eed52ebb66ad"
	// RepoURL is the chart repository the Applications reference.
	RepoURL = "https://istio-release.storage.googleapis.com/charts"
)

// Charts maps the chart names of the Istio chart repository to their directory in the module.
var Charts = map[string]string{
	"base":    "manifests/charts/base",
	"cni":     "manifests/charts/istio-cni",
	"istiod":  "manifests/charts/istio-control/istio-discovery",
	"gateway": "manifests/charts/gateway",
}

// legacyPrefixes are the values keys a chart copies onto its root before rendering
// (templates/zzy_descope_legacy.yaml): `pilot.x` in istiod means `x`, `cni.x` in cni means `x`.
var legacyPrefixes = map[string]string{"istiod": "pilot", "cni": "cni"}

var (
	downloadMu sync.Mutex
	downloaded = map[string]string{}
)

// ModuleDir returns istio.io/istio's directory in the module cache, downloading it through
// the module proxy if needed (`go mod download -json` run outside any module, so nothing
// touches the repository's go.mod).
func ModuleDir() (string, error) { return download(Module, Version) }

func download(module, version string) (string, error) {
	downloadMu.Lock()
	defer downloadMu.Unlock()
	key := module + "@" + version
	if d, ok := downloaded[key]; ok {
		return d, nil
	}
	mod, err := gomod.Download(context.Background(), "", module, version)
	if err != nil {
		return "", err
	}
	if mod.Dir == "" {
		return "", fmt.Errorf("download %s: not extracted: %s", key, mod.Problem)
	}
	downloaded[key] = mod.Dir
	return mod.Dir, nil
}

// SourceVersion is the module's VERSION file (major.minor of the release branch, e.g. "1.31").
func SourceVersion(moduleDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(moduleDir, "VERSION"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// ReleaseHub is the image registry of Istio's release packages: their values default the
// images to ReleaseHub at the chart's own version, where the sources default to a testing
// registry at "latest".
const ReleaseHub = "docker.io/istio"

// Load reads chart name (a key of Charts) from the module and stamps version on it as the
// release packages have it: as version and appVersion, and as the default image tag (with
// ReleaseHub) where the sources hold their testing defaults. So an Application's version
// bump moves its images as the packaged chart would, and values need not pin them.
func Load(moduleDir, name, version string) (*chart.Chart, error) {
	rel, ok := Charts[name]
	if !ok {
		return nil, fmt.Errorf("unknown Istio chart %q (known: base, cni, gateway, istiod)", name)
	}
	ch, err := loader.LoadDir(filepath.Join(moduleDir, rel))
	if err != nil {
		return nil, fmt.Errorf("load Istio chart %s: %w", name, err)
	}
	if ch.Metadata.Name != name {
		return nil, fmt.Errorf("%s holds chart %q, want %q", rel, ch.Metadata.Name, name)
	}
	ch.Metadata.Version, ch.Metadata.AppVersion = version, version
	if defaults, ok := ch.Values["_internal_defaults_do_not_set"].(map[string]any); ok {
		if global, ok := defaults["global"].(map[string]any); ok {
			if _, ok := global["hub"]; ok {
				global["hub"] = ReleaseHub
			}
			if _, ok := global["tag"]; ok {
				global["tag"] = version
			}
		}
	}
	return ch, nil
}

// Render renders ch with values as a release name in namespace, the way Argo CD's
// `helm template --include-crds` does for a Kubernetes render.KubeVersion cluster that serves
// apiVersions ("group/version" and "group/version/Kind"). The chart's values.schema.json, if
// it has one, is enforced; its error is returned.
func Render(ch *chart.Chart, values map[string]any, name, namespace string, apiVersions []string) ([]*render.Object, error) {
	// Helm mutates the values it is given (coalescing, the charts' own `set $.Values`).
	names, files, err := RenderFiles(ch, deepCopy(values), name, namespace, apiVersions)
	if err != nil {
		return nil, err
	}
	var objs []*render.Object
	for _, n := range names {
		got, err := render.Decode([]byte(files[n]))
		if err != nil {
			return nil, fmt.Errorf("%s: rendered output is not valid YAML: %w", n, err)
		}
		for _, o := range got {
			o.Template = n
			objs = append(objs, o)
		}
	}
	render.Sort(objs)
	return objs, nil
}

// RenderFiles is `helm template --include-crds` of ch with vals (changed by Helm) as Render
// describes it, before decoding: the rendered files (the chart's crds/ included) and their
// names, sorted, without NOTES.txt and empty files. Sub-charts disabled by their condition
// or tags are removed from ch, as helm install/template do (so ch is changed: load it per
// render).
func RenderFiles(ch *chart.Chart, vals map[string]any, name, namespace string, apiVersions []string) ([]string, map[string]string, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(render.KubeVersion)
	if err != nil {
		return nil, nil, err
	}
	caps.KubeVersion = *kv
	caps.APIVersions = append(append(chartutil.VersionSet{}, caps.APIVersions...), apiVersions...)
	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, render.KubeVersion) {
		return nil, nil, fmt.Errorf("chart %s requires kubeVersion %s", ch.Name(), ch.Metadata.KubeVersion)
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, nil, err
	}
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: name, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, nil, err
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, nil, err
	}
	for _, crd := range ch.CRDObjects() {
		files[crd.Filename] = string(crd.File.Data)
	}
	names := make([]string, 0, len(files))
	for n, f := range files {
		if strings.HasSuffix(n, "NOTES.txt") || strings.TrimSpace(f) == "" {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names, files, nil
}

// UnknownKeys reports the values paths of values that chart name does not declare, for the
// Istio charts that have no values.schema.json (base, cni, istiod), where Helm would silently
// ignore a misspelled key. Declared means present in the chart's defaults (its values.yaml,
// whose defaults sit under `_internal_defaults_do_not_set`); a default that is an empty map
// or null is free-form (labels, nodeSelector, affinity, env ...) and not descended into, nor
// is a default that is a list or a scalar; freeForm lists further free-form paths (e.g.
// "meshConfig", a protobuf message the chart passes through; check it separately).
// Keys under the chart's legacy prefix (`pilot.` for istiod, `cni.` for cni) are checked
// against the root, as the chart copies them there.
func UnknownKeys(ch *chart.Chart, name string, values map[string]any, freeForm ...string) []string {
	defaults := map[string]any{}
	for k, v := range ch.Values {
		if k != "_internal_defaults_do_not_set" {
			defaults[k] = v
		}
	}
	if in, ok := ch.Values["_internal_defaults_do_not_set"].(map[string]any); ok {
		for k, v := range in {
			defaults[k] = v
		}
	}
	free := map[string]bool{}
	for _, f := range freeForm {
		free[f] = true
	}
	var out []string
	var walk func(path string, def, val map[string]any)
	walk = func(path string, def, val map[string]any) {
		for _, k := range slices.Sorted(maps.Keys(val)) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if free[p] {
				continue
			}
			if path == "" && k == legacyPrefixes[name] {
				if sub, ok := val[k].(map[string]any); ok {
					if d, ok := defaults[k].(map[string]any); ok {
						// Both a key of its own (istiod's `cni`) and a prefix: either reading.
						walkEither(p, d, defaults, sub, free, &out)
					} else {
						walk(p, defaults, sub)
					}
					continue
				}
			}
			d, ok := def[k]
			if !ok {
				out = append(out, p)
				continue
			}
			dm, dIsMap := d.(map[string]any)
			vm, vIsMap := val[k].(map[string]any)
			if dIsMap && vIsMap && len(dm) > 0 {
				walk(p, dm, vm)
			}
		}
	}
	walk("", defaults, values)
	return out
}

// walkEither checks val against a and against b and reports only the paths unknown to both.
func walkEither(path string, a, b, val map[string]any, free map[string]bool, out *[]string) {
	var ua, ub []string
	collect := func(def map[string]any, dst *[]string) {
		var walk func(p string, def, val map[string]any)
		walk = func(p string, def, val map[string]any) {
			for _, k := range slices.Sorted(maps.Keys(val)) {
				q := p + "." + k
				if free[q] {
					continue
				}
				d, ok := def[k]
				if !ok {
					*dst = append(*dst, q)
					continue
				}
				dm, dIsMap := d.(map[string]any)
				vm, vIsMap := val[k].(map[string]any)
				if dIsMap && vIsMap && len(dm) > 0 {
					walk(q, dm, vm)
				}
			}
		}
		walk(path, def, val)
	}
	collect(a, &ua)
	collect(b, &ub)
	inB := map[string]bool{}
	for _, p := range ub {
		inB[p] = true
	}
	for _, p := range ua {
		if inB[p] {
			*out = append(*out, p)
		}
	}
}

func deepCopy(v map[string]any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // values decoded from YAML always marshal
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}
