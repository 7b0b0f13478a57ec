// Package render renders the repository's charts in-process with the Helm SDK, offline and
// deterministically: file:// dependencies (the library charts) are resolved from the
// repository, objects come out sorted in Helm's install order, then by namespace and name,
// and every failure is a located finding rather than a bare error.
//
// Charts, values and schemas are read only through pkg/repofs: a symlink, a FIFO, an
// oversized file or a file:// dependency outside the repository is a finding naming the
// file and the rule, and Helm never touches the filesystem.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"

	"github.com/microservices-manifests/microservices-manifests/internal/escape"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// KubeVersion is the Kubernetes version charts are rendered for (.Capabilities.KubeVersion).
const KubeVersion = "v1.35.4"

// Object is one rendered Kubernetes object.
type Object struct {
	// Template is the source file, relative to the repository root.
	Template   string
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// Body is the decoded object (maps, slices, strings, ints, floats, bools).
	Body map[string]any
	// Ignored are JSON pointers of fields Argo CD does not compare for this object (its
	// Application's spec.ignoreDifferences, set by pkg/official): values generated at every
	// render, which the plan and the diff show masked.
	Ignored []string
}

// ID is Kind/namespace/name, or Kind/name for objects without a namespace.
func (o *Object) ID() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Result is the render of one chart in one environment.
type Result struct {
	Chart    discovery.Chart
	Env      string
	Objects  []*Object
	Findings []report.Finding
	// Official is set on the render of an official chart (pkg/official) that an Argo CD
	// Application installs: Chart.ID is then the Application's name (its plan directory,
	// release/<env>/<application>/), Chart.Name and Chart.Version the chart's, Chart.Dir
	// empty (the chart is not in the repository).
	Official *Source
}

// Source says where an official chart's render comes from.
type Source struct {
	// Application is the Argo CD Application's name; Field its source's field path
	// ("spec.source", "spec.sources[1]").
	Application, Field      string
	RepoURL, Chart, Version string
	// Digest is the chart archive's "sha256:<hex>" ("" for a chart from a Go module);
	// Origin says where the chart was found.
	Digest, Origin string
	// Tree is the chart of this repository that renders the Application (its ID) and File
	// the template: where a finding about the Application's values points.
	Tree, File string
}

// Describe is "chart <name> <version> (<repoURL>)", for messages.
func (s *Source) Describe() string {
	return fmt.Sprintf("chart %s %s (%s)", s.Chart, s.Version, s.RepoURL)
}

// Renderer renders charts of one repository.
type Renderer struct {
	Repo *discovery.Repo
	// APIVersions are advertised to templates as .Capabilities.APIVersions, in Helm's
	// "group/version" and "group/version/Kind" forms.
	APIVersions []string
}

// Render renders chart c for environment env. Problems in the chart or its values are
// returned as findings in the result; the error is for failures of the machine (I/O).
func (r *Renderer) Render(c discovery.Chart, env string) (*Result, error) {
	res := &Result{Chart: c, Env: env}
	fail := func(f report.Finding) (*Result, error) {
		f.Severity, f.Chart, f.Env = report.Error, c.ID, env
		res.Findings = append(res.Findings, f)
		return res, nil
	}
	valuesPath, ok := c.ValuesFiles[env]
	if !ok {
		return fail(report.Finding{Rule: "values", File: c.ID + "/values-" + env + ".yaml",
			Message: fmt.Sprintf("missing values file for environment %q (every chart needs one per environment)", env)})
	}
	ch, err := Load(c)
	if err != nil {
		var f *report.Finding
		if errors.As(err, &f) {
			return fail(*f)
		}
		if f, ok := refused(err); ok {
			return fail(f)
		}
		return fail(report.Finding{Rule: "chart", File: c.ID + "/Chart.yaml", Message: err.Error()})
	}
	// Defaults in the chart's values.yaml are checked the same way as the environment's file.
	if f := CheckYAML(r.Repo.Root, c.ID+"/values.yaml"); f != nil {
		return fail(*f)
	}
	vals, f := readValues(r.Repo.Root, valuesPath)
	if f != nil {
		return fail(*f)
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return fail(report.Finding{Rule: "chart", File: c.ID + "/Chart.yaml", Message: err.Error()})
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, err
	}
	caps.KubeVersion = *kv
	caps.APIVersions = append(chartutil.VersionSet{}, caps.APIVersions...)
	caps.APIVersions = append(caps.APIVersions, r.APIVersions...)
	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, KubeVersion) {
		return fail(report.Finding{Rule: "chart", File: c.ID + "/Chart.yaml", Path: "kubeVersion",
			Message: fmt.Sprintf("chart requires kubeVersion %s, which %s does not satisfy", ch.Metadata.KubeVersion, KubeVersion)})
	}
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: c.Name, Namespace: c.Namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		for _, f := range valuesSchemaFindings(err, r.Repo.Root, c, valuesPath) {
			res.Findings = append(res.Findings, f)
		}
		for i := range res.Findings {
			res.Findings[i].Severity, res.Findings[i].Chart, res.Findings[i].Env = report.Error, c.ID, env
		}
		return res, nil
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return fail(templateFinding(err, c, r.deps(c)))
	}
	for _, crd := range ch.CRDObjects() {
		files[crd.Filename] = string(crd.File.Data)
	}
	deps := r.deps(c)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") || strings.TrimSpace(files[name]) == "" {
			continue
		}
		src := sourcePath(name, c, deps)
		objs, err := Decode([]byte(files[name]))
		if err != nil {
			f := yamlFinding(err)
			f.Rule, f.File = "yaml", src
			f.Message = "rendered output is not valid YAML: " + f.Message
			f.Line = 0 // the line is in Helm's output, not in the template
			res.Findings = append(res.Findings, f)
			continue
		}
		for _, o := range objs {
			o.Template = src
			res.Objects = append(res.Objects, o)
		}
	}
	Sort(res.Objects)
	for i := 1; i < len(res.Objects); i++ {
		a, b := res.Objects[i-1], res.Objects[i]
		if a.APIVersion == b.APIVersion && a.ID() == b.ID() {
			res.Findings = append(res.Findings, report.Finding{Rule: "duplicate", File: b.Template, Object: b.ID(),
				Message: "object rendered twice (also by " + a.Template + ")"})
		}
	}
	for i := range res.Findings {
		res.Findings[i].Severity, res.Findings[i].Chart, res.Findings[i].Env = report.Error, c.ID, env
	}
	return res, nil
}

// Load reads the chart and attaches its file:// dependencies from the repository, so that
// rendering and packaging need neither `helm dependency build` nor the network. Both are
// read through repofs.LoadChart, and a dependency must stay inside the repository. A file
// refused by repofs is returned as its *repofs.Error; other problems in the chart as a
// *report.Finding or Helm's error.
func Load(c discovery.Chart) (*chart.Chart, error) {
	root := c.Root()
	if root == "" {
		return nil, fmt.Errorf("chart %s: directory %s does not end with its ID", c.ID, c.Dir)
	}
	ch, err := repofs.LoadChart(root, c.ID)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	for i, dep := range ch.Metadata.Dependencies {
		if have[dep.Name] {
			continue
		}
		dir, ok := strings.CutPrefix(dep.Repository, "file://")
		if !ok {
			return nil, &report.Finding{Rule: "dependency", File: c.ID + "/Chart.yaml", Path: fmt.Sprintf("dependencies[%d]", i),
				Message: fmt.Sprintf("dependency %q from %q is not available offline: vendor it under charts/ or reference a library chart with file://", dep.Name, dep.Repository)}
		}
		rel, err := repofs.Resolve(c.ID, dir)
		if err != nil {
			var fe *repofs.Error
			errors.As(err, &fe)
			return nil, &report.Finding{Severity: report.Error, Rule: repofs.RuleOutside, File: c.ID + "/Chart.yaml", Path: fmt.Sprintf("dependencies[%d].repository", i),
				Message: fmt.Sprintf("dependency %s: %s", escape.Quote(dep.Name, discovery.MaxNameEcho), fe.Msg)}
		}
		sub, err := repofs.LoadChart(root, rel)
		if err != nil {
			if fe := (*repofs.Error)(nil); errors.As(err, &fe) {
				return nil, &repofs.Error{Path: fe.Path, Rule: fe.Rule, Msg: fmt.Sprintf("dependency %s: %s", escape.Quote(dep.Name, discovery.MaxNameEcho), fe.Msg)}
			}
			return nil, &report.Finding{Rule: "dependency", File: c.ID + "/Chart.yaml", Path: fmt.Sprintf("dependencies[%d].repository", i),
				Message: fmt.Sprintf("load dependency %s: %v", escape.Quote(dep.Name, discovery.MaxNameEcho), err)}
		}
		if sub.Metadata.Name != dep.Name {
			return nil, &report.Finding{Rule: "dependency", File: c.ID + "/Chart.yaml", Path: fmt.Sprintf("dependencies[%d].name", i),
				Message: fmt.Sprintf("dependency %q points at chart %q", dep.Name, sub.Metadata.Name)}
		}
		if dep.Version != "" && dep.Version != sub.Metadata.Version {
			return nil, &report.Finding{Rule: "dependency", File: c.ID + "/Chart.yaml", Path: fmt.Sprintf("dependencies[%d].version", i),
				Message: fmt.Sprintf("dependency %q pins version %s but %s is at %s", dep.Name, dep.Version, dep.Repository, sub.Metadata.Version)}
		}
		ch.AddDependency(sub)
	}
	return ch, nil
}

// deps maps the in-chart path of each file:// dependency ("account/charts/common") to its
// directory in the repository ("charts/common"), for locating template errors.
func (r *Renderer) deps(c discovery.Chart) map[string]string {
	out := map[string]string{}
	data, err := repofs.ReadFile(r.Repo.Root, c.ID+"/Chart.yaml")
	if err != nil {
		return out
	}
	var meta struct {
		Dependencies []struct{ Name, Alias, Repository string } `yaml:"dependencies"`
	}
	if yaml.Unmarshal(data, &meta) != nil {
		return out
	}
	for _, d := range meta.Dependencies {
		dir, ok := strings.CutPrefix(d.Repository, "file://")
		if !ok {
			continue
		}
		if rel, err := repofs.Resolve(c.ID, dir); err == nil {
			out[c.Name+"/charts/"+d.Name] = rel
		}
	}
	return out
}

// sourcePath turns Helm's template name ("account/templates/x.yaml",
// "account/charts/common/templates/_x.tpl") into a repository path.
func sourcePath(name string, c discovery.Chart, deps map[string]string) string {
	for prefix, dir := range deps {
		if rest, ok := strings.CutPrefix(name, prefix+"/"); ok {
			return dir + "/" + rest
		}
	}
	if rest, ok := strings.CutPrefix(name, c.Name+"/"); ok {
		return c.ID + "/" + rest
	}
	return name
}

// refused turns a file refused by repofs into the finding that names it and the rule.
func refused(err error) (report.Finding, bool) {
	var fe *repofs.Error
	if !errors.As(err, &fe) {
		return report.Finding{}, false
	}
	return report.Finding{Rule: fe.Rule, File: fe.Path, Message: fe.Msg}, true
}

var templateLocation = regexp.MustCompile(`([\w./-]+\.(?:yaml|yml|tpl|txt|json)):(\d+)(?::(\d+))?`)

// templateFinding locates a Helm template error: Helm reports
// "parse error at (account/templates/x.yaml:12): ..." or
// "template: account/templates/x.yaml:5:3: executing ... : <message>".
func templateFinding(err error, c discovery.Chart, deps map[string]string) report.Finding {
	msg := err.Error()
	f := report.Finding{Rule: "template", Message: msg}
	if m := templateLocation.FindStringSubmatch(msg); m != nil {
		f.File = sourcePath(m[1], c, deps)
		f.Line, _ = strconv.Atoi(m[2])
		f.Column, _ = strconv.Atoi(m[3])
		// Keep the message after the location, which is what went wrong.
		if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
			f.Message = msg[i+2:]
		}
		if strings.HasPrefix(msg, "parse error") {
			f.Message = "template syntax: " + f.Message
		}
	}
	return f
}

// Sort orders objects in Helm's install order (Namespaces and CRDs before what uses them),
// then by namespace, name and apiVersion.
func Sort(objs []*Object) {
	rank := map[string]int{}
	for i, k := range releaseutil.InstallOrder {
		rank[k] = i + 1
	}
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		ra, rb := rank[a.Kind], rank[b.Kind]
		if ra == 0 {
			ra = len(rank) + 1
		}
		if rb == 0 {
			rb = len(rank) + 1
		}
		switch {
		case ra != rb:
			return ra < rb
		case a.Kind != b.Kind:
			return a.Kind < b.Kind
		case a.Namespace != b.Namespace:
			return a.Namespace < b.Namespace
		case a.Name != b.Name:
			return a.Name < b.Name
		default:
			return a.APIVersion < b.APIVersion
		}
	})
}

// Decode splits a multi-document YAML stream into objects. Empty documents are skipped;
// duplicate keys, non-mapping documents and objects without kind/apiVersion/name are errors.
func Decode(data []byte) ([]*Object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Object
	for i := 0; ; i++ {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(node.Content) == 0 || node.Content[0].Tag == "!!null" {
			continue
		}
		var body map[string]any
		if err := node.Decode(&body); err != nil {
			return nil, err
		}
		if body == nil {
			continue
		}
		o := &Object{Body: body}
		o.APIVersion, _ = body["apiVersion"].(string)
		o.Kind, _ = body["kind"].(string)
		if meta, ok := body["metadata"].(map[string]any); ok {
			o.Name, _ = meta["name"].(string)
			o.Namespace, _ = meta["namespace"].(string)
		}
		if o.Kind == "" || o.APIVersion == "" || o.Name == "" {
			return nil, &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: document %d has no apiVersion, kind or metadata.name", node.Line, i+1)}}
		}
		out = append(out, o)
	}
}

// APIVersions turns "apiVersion Kind" pairs (schema.Validator.Kinds) into the forms Helm
// advertises as .Capabilities.APIVersions: "group/version" and "group/version/Kind".
func APIVersions(kinds []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range kinds {
		gv, kind, ok := strings.Cut(k, " ")
		if !ok {
			continue
		}
		for _, s := range []string{gv, gv + "/" + kind} {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
