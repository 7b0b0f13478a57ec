package official

import (
	"fmt"
	"os"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
)

// Bounds on what an Application may pass as values: it is written by whoever opens a pull
// request, and every byte of it is parsed.
const (
	maxValuesSize  = 4 << 20
	maxParameters  = 1000
	maxValueFiles  = 100
	maxParamLength = 1 << 20
)

// Values computes the values Argo CD passes to `helm template` for chart source s of
// Application a, whose chart is ch, as Argo CD v3.6.1's repo server does
// (reposerver/repository/repository.go, helmTemplate; util/helm/cmd.go, template):
//
//  1. spec.source.helm.valueFiles, in order (`--values`). For a chart of a Helm or OCI
//     repository they are files inside the chart; `$ref/...` files of other sources and
//     URLs are not resolved here: they are reported as problems and left out.
//  2. valuesObject when set, else values (one more `--values` file): Argo CD writes
//     ValuesYAML(), which is valuesObject whenever it is set, so values is then ignored,
//     not merged (pkg/apis/application/v1alpha1/values.go; both set is a problem).
//  3. parameters: `--set name=value` (`--set-string` with forceString), with Argo CD's
//     environment ($ARGOCD_APP_NAME ...) substituted and unescaped commas escaped
//     (cleanSetParameters). Helm's values.Options.MergeValues applies the files, then
//     every --set, then every --set-string; Argo CD keys them by name (a repeated name:
//     the last wins) and passes them in Go's random map order, so here they go in the
//     order written, for output that is the same on every run.
//
// fileParameters (`--set-file`) read files of the repository: reported as a problem and
// left out. The problems are what Argo CD would do differently; the error is values Helm
// would refuse.
func Values(a *apps.Application, s apps.Source, ch *chart.Chart) (map[string]any, []string, error) {
	helm, _ := s.Body["helm"].(map[string]any)
	vals := map[string]any{}
	var problems []string
	if helm == nil {
		return vals, nil, nil
	}
	files, _ := helm["valueFiles"].([]any)
	if len(files) > maxValueFiles {
		return nil, nil, fmt.Errorf("valueFiles: %d files, more than %d", len(files), maxValueFiles)
	}
	ignoreMissing, _ := helm["ignoreMissingValueFiles"].(bool)
	for i, f := range files {
		name, _ := f.(string)
		switch {
		case strings.HasPrefix(name, "$"):
			problems = append(problems, fmt.Sprintf("valueFiles[%d] %q: a file of another source, not rendered here", i, name))
			continue
		case strings.Contains(name, "://"):
			problems = append(problems, fmt.Sprintf("valueFiles[%d] %q: a URL, not fetched here", i, name))
			continue
		}
		data, ok := chartFile(ch, name)
		if !ok {
			if ignoreMissing {
				continue
			}
			return nil, problems, fmt.Errorf("valueFiles[%d] %q: no such file in chart %s", i, name, ch.Name())
		}
		m, err := parseValues(data)
		if err != nil {
			return nil, problems, fmt.Errorf("valueFiles[%d] %q: %w", i, name, err)
		}
		vals = mergeMaps(vals, m)
	}
	vo, hasObject := helm["valuesObject"]
	vs, _ := helm["values"].(string)
	switch {
	case hasObject && vo != nil:
		m, ok := vo.(map[string]any)
		if !ok {
			return nil, problems, fmt.Errorf("valuesObject: a %T, not a map", vo)
		}
		if vs != "" {
			problems = append(problems, "both values and valuesObject are set: Argo CD uses valuesObject only")
		}
		// Through YAML as Argo CD does (JSONToYAML, then Helm reads the file): no shared
		// maps with the Application, and the same types Helm would see.
		data, err := yaml.Marshal(m)
		if err != nil {
			return nil, problems, fmt.Errorf("valuesObject: %w", err)
		}
		if len(data) > maxValuesSize {
			return nil, problems, fmt.Errorf("valuesObject: %d bytes, more than %d", len(data), maxValuesSize)
		}
		if m, err = parseValues(data); err != nil {
			return nil, problems, fmt.Errorf("valuesObject: %w", err)
		}
		vals = mergeMaps(vals, m)
	case vs != "":
		if len(vs) > maxValuesSize {
			return nil, problems, fmt.Errorf("values: %d bytes, more than %d", len(vs), maxValuesSize)
		}
		m, err := parseValues([]byte(vs))
		if err != nil {
			return nil, problems, fmt.Errorf("values: %w", err)
		}
		vals = mergeMaps(vals, m)
	}
	if fp, _ := helm["fileParameters"].([]any); len(fp) > 0 {
		problems = append(problems, fmt.Sprintf("fileParameters: %d --set-file parameters, not rendered here", len(fp)))
	}
	params, _ := helm["parameters"].([]any)
	if len(params) > maxParameters {
		return nil, problems, fmt.Errorf("parameters: %d, more than %d", len(params), maxParameters)
	}
	env := argoEnv(a, s)
	set, setString := map[string]string{}, map[string]string{}
	var setOrder, stringOrder []string
	for i, p := range params {
		m, _ := p.(map[string]any)
		name, _ := m["name"].(string)
		value := scalar(m["value"])
		if name == "" {
			return nil, problems, fmt.Errorf("parameters[%d]: no name", i)
		}
		if len(name)+len(value) > maxParamLength {
			return nil, problems, fmt.Errorf("parameters[%d]: longer than %d bytes", i, maxParamLength)
		}
		if force, _ := m["forceString"].(bool); force {
			if _, seen := setString[name]; !seen {
				stringOrder = append(stringOrder, name)
			}
			setString[name] = value
		} else {
			if _, seen := set[name]; !seen {
				setOrder = append(setOrder, name)
			}
			set[name] = value
		}
	}
	for _, name := range setOrder {
		if err := strvals.ParseInto(name+"="+cleanSetParameter(envsubst(set[name], env)), vals); err != nil {
			return nil, problems, fmt.Errorf("parameters %s: %w", name, err)
		}
	}
	for _, name := range stringOrder {
		if err := strvals.ParseIntoString(name+"="+cleanSetParameter(envsubst(setString[name], env)), vals); err != nil {
			return nil, problems, fmt.Errorf("parameters %s (forceString): %w", name, err)
		}
	}
	return vals, problems, nil
}

// parseValues reads a values document as Helm reads a --values file: a mapping (an empty
// document is no values).
func parseValues(data []byte) (map[string]any, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	switch m := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return m, nil
	default:
		return nil, fmt.Errorf("a %T, not a map of values", v)
	}
}

// chartFile is a file of the chart (values.yaml is kept in Raw, every other in Files).
func chartFile(ch *chart.Chart, name string) ([]byte, bool) {
	name = path.Clean(strings.TrimPrefix(name, "./"))
	if strings.HasPrefix(name, "../") || name == ".." || path.IsAbs(name) {
		return nil, false
	}
	for _, list := range [][]*chart.File{ch.Raw, ch.Files} {
		for _, f := range list {
			if f != nil && f.Name == name {
				return f.Data, true
			}
		}
	}
	return nil, false
}

// mergeMaps is Helm's merge of --values files (pkg/cli/values/options.go, mergeMaps): b
// over a, maps merged key by key, anything else replaced.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v, ok := v.(map[string]any); ok {
			if bv, ok := out[k]; ok {
				if bv, ok := bv.(map[string]any); ok {
					out[k] = mergeMaps(bv, v)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

// argoEnv is the build environment Argo CD substitutes in parameters (repository.go,
// newEnv); a chart's revision is its version.
func argoEnv(a *apps.Application, s apps.Source) map[string]string {
	short := func(n int) string {
		if len(s.TargetRevision) > n {
			return s.TargetRevision[:n]
		}
		return s.TargetRevision
	}
	return map[string]string{
		"ARGOCD_APP_NAME":                   a.Name,
		"ARGOCD_APP_NAMESPACE":              a.Destination.Namespace,
		"ARGOCD_APP_PROJECT_NAME":           a.Project,
		"ARGOCD_APP_REVISION":               s.TargetRevision,
		"ARGOCD_APP_REVISION_SHORT":         short(7),
		"ARGOCD_APP_REVISION_SHORT_8":       short(8),
		"ARGOCD_APP_SOURCE_REPO_URL":        s.RepoURL,
		"ARGOCD_APP_SOURCE_PATH":            s.Path,
		"ARGOCD_APP_SOURCE_TARGET_REVISION": s.TargetRevision,
	}
}

// envsubst is Argo CD's Env.Envsubst: $VAR and ${VAR} from env, unknown ones empty, $$ a $.
func envsubst(s string, env map[string]string) string {
	return os.Expand(s, func(k string) string {
		if k == "$" {
			return "$"
		}
		return env[k]
	})
}

// cleanSetParameter is Argo CD's cleanSetParameters (util/helm/cmd.go): a value in braces
// is a Helm list; otherwise unescaped commas are escaped, so a value is one value.
func cleanSetParameter(v string) string {
	if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
		return v
	}
	var b strings.Builder
	var prev rune
	for _, r := range v {
		if r == ',' && prev != '\\' {
			b.WriteString(`\,`)
		} else {
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// scalar is a parameter value as Argo CD's API has it (a string; YAML may have read a
// number or a bool).
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}
