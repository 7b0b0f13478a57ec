package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/internal/istiocharts"
	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/official"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// officialRelease is one line of releases.txt: what the shell hands to `helm template`.
type officialRelease struct {
	env, id, chart, name, namespace, values string
	// flags are helm template's flags for the source's helm block, comma-separated.
	flags string
	// objects is how many objects platform renders for it; unchecked, those of them whose
	// kind kubeconform has no schema for.
	objects   int
	unchecked map[string]int
}

// officialInputs writes, into OUT, the inputs of the `helm template | kubeconform` pipeline
// over the official charts that `platform validate --official --charts-from CHARTS
// --offline` renders for ROOT:
//
//	releases.txt  ENV ID CHART RELEASE NAMESPACE VALUES FLAGS OBJECTS, one per release
//	skipped.txt   ENV APPLICATION: why, one per chart source pkg/official did not render
//	schemas/      kubeconform schemas generated from the CRDs the charts ship, for the kinds
//	              SCHEMAS has none of (crdSchemas)
//	generated.txt ENV ID FILE: which release's CRDs each of them comes from
//	unchecked.txt ENV ID KIND COUNT: objects whose kind has a schema in neither
//	charts/       Istio's charts, packaged with the version pkg/official stamps on them
//	values/       the values pkg/official computes, one file per release
//
// The release list is pkg/official's own (official.Render of the Applications that
// pkg/validate renders), and the values come from official.Values, so that helm gets
// what platform renders and nothing is picked twice.
func officialInputs(args []string) error {
	if len(args) != 4 {
		usage()
	}
	root, chartsDir, schemas, out := args[0], args[1], args[2], args[3]
	abs, err := filepath.Abs(chartsDir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	set, err := schema.New()
	if err != nil {
		return err
	}
	res, err := (&validate.Validator{Root: root, Schemas: set, SkipPolicies: true}).Run(ctx)
	if err != nil {
		return fmt.Errorf("validate %s: %w", root, err)
	}
	resolver := &chartsource.Resolver{ChartsFrom: []string{abs}, Offline: true}
	apiVersions := render.APIVersions(set.Kinds())
	for _, dir := range []string{"charts", "values"} {
		if err := os.MkdirAll(filepath.Join(out, dir), 0o755); err != nil {
			return err
		}
	}
	var releases []officialRelease
	var skipped, generated []string
	for _, env := range res.Report.Envs {
		applications := apps.FromRenders(res.Renders, env)
		rels, findings, err := official.Render(ctx, official.Options{Root: root, Env: env, Resolver: resolver, APIVersions: apiVersions}, applications)
		if err != nil {
			return err
		}
		for _, f := range findings {
			// official-values warnings are about keys a chart ignores: it still renders.
			if f.Rule == official.Rule {
				skipped = append(skipped, fmt.Sprintf("%s %s", env, oneLine(f.Message)))
			}
		}
		ids := map[string]int{}
		for _, rel := range rels {
			r, err := officialInput(rel, applications, env, out, ids)
			if err != nil {
				return fmt.Errorf("%s [%s]: %w", rel.ChartID(), env, err)
			}
			files, err := crdSchemas(rel.CRDs, schemas, filepath.Join(out, "schemas"))
			if err != nil {
				return fmt.Errorf("%s [%s]: %w", rel.ChartID(), env, err)
			}
			for _, f := range files {
				generated = append(generated, fmt.Sprintf("%s %s %s", env, r.id, f))
			}
			if r.unchecked, err = unchecked(rel.Objects, schemas, filepath.Join(out, "schemas")); err != nil {
				return err
			}
			releases = append(releases, r)
		}
	}
	if err := writeLines(filepath.Join(out, "releases.txt"), releases, func(r officialRelease) []string {
		return []string{fmt.Sprintf("%s %s %s %s %s %s %s %d", r.env, r.id, r.chart, r.name, r.namespace, r.values, r.flags, r.objects)}
	}); err != nil {
		return err
	}
	for file, lines := range map[string][]string{"skipped.txt": skipped, "generated.txt": generated} {
		if err := writeLines(filepath.Join(out, file), lines, func(s string) []string { return []string{s} }); err != nil {
			return err
		}
	}
	return writeLines(filepath.Join(out, "unchecked.txt"), releases, func(r officialRelease) []string {
		var lines []string
		for _, k := range slices.Sorted(maps.Keys(r.unchecked)) {
			lines = append(lines, fmt.Sprintf("%s %s %s %d", r.env, r.id, k, r.unchecked[k]))
		}
		return lines
	})
}

// officialInput finds the Application source rel was rendered from, and writes its chart
// (Istio's) and values.
func officialInput(rel *official.Release, applications []*apps.Application, env, out string, ids map[string]int) (officialRelease, error) {
	r := officialRelease{env: env, name: rel.ReleaseName, namespace: rel.Namespace, objects: len(rel.Objects)}
	// The ID is what the comparison matches with platform's chart "<Application> (chart ...)".
	r.id = safeName.ReplaceAllString(rel.Application, "_")
	if ids[r.id]++; ids[r.id] > 1 {
		r.id = fmt.Sprintf("%s#%d", r.id, ids[r.id])
	}
	a, s, ok := findSource(applications, rel)
	if !ok {
		return r, fmt.Errorf("no source %s in Application %s", rel.Field, rel.Application)
	}
	var ch *chart.Chart
	var err error
	if strings.TrimSuffix(rel.RepoURL, "/") == istiocharts.RepoURL {
		// The module holds the chart sources at development version 1.0.0; pkg/official
		// stamps the Application's version on them, so helm gets the chart packaged so.
		dir, err := istiocharts.ModuleDir()
		if err != nil {
			return r, err
		}
		if ch, err = istiocharts.Load(dir, rel.Chart, rel.Version); err != nil {
			return r, err
		}
		dest := filepath.Join(out, "charts", env+"-"+r.id)
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return r, err
		}
		if r.chart, err = chartutil.Save(ch, dest); err != nil {
			return r, fmt.Errorf("package %s: %w", rel.Chart, err)
		}
	} else {
		// A chart of a --charts-from folder: Origin is its file.
		r.chart = rel.Origin
		if ch, err = loader.Load(r.chart); err != nil {
			return r, fmt.Errorf("chart from %s: %w", rel.Origin, err)
		}
	}
	vals, _, err := official.Values(a, s, ch)
	if err != nil {
		return r, err
	}
	b, err := yaml.Marshal(vals)
	if err != nil {
		return r, err
	}
	r.values = filepath.Join(out, "values", env+"-"+r.id+".yaml")
	if err := os.WriteFile(r.values, b, 0o644); err != nil {
		return r, err
	}
	r.flags = helmFlags(s)
	return r, nil
}

// safeName keeps IDs to one shell word and one file name.
var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func findSource(applications []*apps.Application, rel *official.Release) (*apps.Application, apps.Source, bool) {
	for _, a := range applications {
		if a.Name != rel.Application || a.Kind != "Application" {
			continue
		}
		for _, s := range a.Sources {
			if s.Field == rel.Field {
				return a, s, true
			}
		}
	}
	return nil, apps.Source{}, false
}

// helmFlags are the flags Argo CD passes to helm template for a source's helm block, as
// pkg/official honours them: --include-crds unless skipCrds, --skip-tests,
// --skip-schema-validation; "-" for none.
func helmFlags(s apps.Source) string {
	helm, _ := s.Body["helm"].(map[string]any)
	var flags []string
	if skip, _ := helm["skipCrds"].(bool); !skip {
		flags = append(flags, "--include-crds")
	}
	if skip, _ := helm["skipTests"].(bool); skip {
		flags = append(flags, "--skip-tests")
	}
	if skip, _ := helm["skipSchemaValidation"].(bool); skip {
		flags = append(flags, "--skip-schema-validation")
	}
	if len(flags) == 0 {
		return "-"
	}
	return strings.Join(flags, ",")
}

// unchecked counts the objects, per "apiVersion/Kind", that kubeconform cannot check: no
// file for their kind in any of dirs (kubeconform's naming, see pkg/schema).
func unchecked(objs []*render.Object, dirs ...string) (map[string]int, error) {
	out := map[string]int{}
	for _, o := range objs {
		found := false
		for _, dir := range dirs {
			_, err := os.Stat(filepath.Join(dir, kubeconformFile(o.APIVersion, o.Kind)))
			if err == nil {
				found = true
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		if !found {
			out[o.APIVersion+"/"+o.Kind]++
		}
	}
	return out, nil
}

// kubeconformFile is pkg/schema's name for a kind's standalone schema, kubeconform's
// {{ .ResourceKind }}{{ .KindSuffix }}.json: the lowercase kind, then the first label
// of the group (if any), then the version.
func kubeconformFile(apiVersion, kind string) string {
	suffix := "-" + strings.ToLower(apiVersion)
	if group, version, ok := strings.Cut(apiVersion, "/"); ok {
		first, _, _ := strings.Cut(group, ".")
		suffix = "-" + strings.ToLower(first) + "-" + strings.ToLower(version)
	}
	return strings.ToLower(kind) + suffix + ".json"
}

func writeLines[T any](file string, items []T, lines func(T) []string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, it := range items {
		for _, l := range lines(it) {
			fmt.Fprintln(w, l)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	return f.Close()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
