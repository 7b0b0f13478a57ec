// Package diff compares the rendered objects of two revisions of the repository: which
// objects a change adds, removes or changes, with a unified diff per object. It is what the
// release manager reads on the pull request before merging the plan. The official charts
// the Argo CD Applications install (Differ.Official) are compared too, their objects keyed
// by the Application's name: a chart bump is its version change (Version.Official) and the
// objects it changes.
//
// Comparisons are normalised so that a diff shows what a reviewer has to look at:
//   - Secret data and stringData are masked (plan.Redact); a key whose value changed is
//     shown as "<redacted> (changed)", never with its value.
//   - Noise is ignored: the helm.sh/chart and app.kubernetes.io/version labels, a "chart"
//     label whose value is <chart>-<version> (official charts), and the checksum/*
//     annotations, wherever they appear (object and pod template metadata).
//     Those fields change on every chart version or config change; the cause (the version
//     bump, the ConfigMap) is reported on its own: chart versions in Result.Versions, the
//     config change as the ConfigMap's diff. An object whose only difference is noise
//     counts as unchanged.
package diff

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"go.yaml.in/yaml/v3"

	"github.com/microservices-manifests/microservices-manifests/pkg/plan"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// Action says what happens to an object.
type Action string

// Actions, in the order they are listed.
const (
	Added   Action = "added"
	Removed Action = "removed"
	Changed Action = "changed"
)

// Key identifies an object across revisions.
type Key struct {
	Env        string `json:"env"`
	Chart      string `json:"chart"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Object is Kind/namespace/name (Kind/name when cluster-scoped).
func (k Key) Object() string {
	if k.Namespace == "" {
		return k.Kind + "/" + k.Name
	}
	return k.Kind + "/" + k.Namespace + "/" + k.Name
}

// File is the object's plan file name (release/<env>/<file>).
func (k Key) File() string {
	return plan.FileName(k.Chart, &render.Object{APIVersion: k.APIVersion, Kind: k.Kind, Namespace: k.Namespace, Name: k.Name})
}

func (k Key) less(o Key) bool {
	a := []string{k.Env, k.Chart, k.Kind, k.Namespace, k.Name, k.APIVersion}
	b := []string{o.Env, o.Chart, o.Kind, o.Namespace, o.Name, o.APIVersion}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Change is one object that differs.
type Change struct {
	Key
	Action Action `json:"action"`
	// Diff is the unified diff of the normalised YAML (base -> head).
	Diff string `json:"diff"`
	// Added and Removed count the diff's lines.
	AddedLines   int `json:"addedLines"`
	RemovedLines int `json:"removedLines"`
}

// Version is a chart whose version differs between the revisions: one of ours (its
// Chart.yaml) or the official chart an Argo CD Application installs (its targetRevision).
type Version struct {
	// Chart is our chart's ID, or the Application's name (the Chart of its objects' Keys).
	Chart string `json:"chart"`
	// Official is the official chart's name when Chart is an Application ("" for ours).
	Official string `json:"official,omitempty"`
	// Envs are the environments where the Application's chart moves (official charts only:
	// each environment pins its own version; ours have one Chart.yaml).
	Envs []string `json:"environments,omitempty"`
	Base string   `json:"base,omitempty"`
	Head string   `json:"head,omitempty"`
}

// Change is "0.1.0 → 0.2.0", or "chart kube-prometheus-stack 88.4.0 → 88.5.3" for an
// Application's official chart; a side without the chart is "-". Not escaped.
func (v Version) Change(arrow string) string {
	s := orDash(v.Base) + " " + arrow + " " + orDash(v.Head)
	if v.Official != "" {
		s = "chart " + v.Official + " " + s
	}
	return s
}

// Result is the comparison of two revisions.
type Result struct {
	Base string   `json:"base"`
	Head string   `json:"head"`
	Envs []string `json:"environments"`
	// Changes is sorted by environment, chart, kind, namespace, name.
	Changes []Change `json:"changes"`
	// Unchanged counts the objects present and equal on both sides.
	Unchanged int `json:"unchanged"`
	// Versions lists charts whose version changed, sorted.
	Versions []Version `json:"versions"`
	// BaseErrors and HeadErrors count validation errors of each side: objects of a chart
	// that failed to render are missing from that side.
	BaseErrors int `json:"baseErrors"`
	HeadErrors int `json:"headErrors"`
}

// Count returns how many changes have action a.
func (r *Result) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Charts lists the charts with at least one change, sorted and unique.
func (r *Result) Charts() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range r.Changes {
		if !seen[c.Chart] {
			seen[c.Chart] = true
			out = append(out, c.Chart)
		}
	}
	sort.Strings(out)
	return out
}

// Summary is one line: "dev, prd: 2 added, 1 removed, 3 changed, 40 unchanged".
func (r *Result) Summary() string {
	return fmt.Sprintf("%s: %d added, %d removed, %d changed, %d unchanged",
		strings.Join(r.Envs, ", "), r.Count(Added), r.Count(Removed), r.Count(Changed), r.Unchanged)
}

// Compare compares the renders of the base and the head. Both are the output of the
// validate pipeline; envs restricts the comparison (empty: every environment either side
// renders).
func Compare(base, head []*render.Result, envs []string) (*Result, error) {
	res := &Result{Versions: []Version{}, Changes: []Change{}}
	want := map[string]bool{}
	for _, e := range envs {
		want[e] = true
	}
	seenEnv := map[string]bool{}
	side := func(renders []*render.Result) map[Key]*render.Object {
		objs := map[Key]*render.Object{}
		for _, r := range renders {
			if len(want) > 0 && !want[r.Env] {
				continue
			}
			seenEnv[r.Env] = true
			for _, o := range r.Objects {
				objs[Key{Env: r.Env, Chart: r.Chart.ID, APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}] = o
			}
		}
		return objs
	}
	b, h := side(base), side(head)
	for e := range seenEnv {
		res.Envs = append(res.Envs, e)
	}
	sort.Strings(res.Envs)
	if len(res.Envs) == 0 {
		res.Envs = append([]string{}, envs...)
	}

	keys := map[Key]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range h {
		keys[k] = true
	}
	sorted := make([]Key, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].less(sorted[j]) })

	for _, k := range sorted {
		bo, ho := b[k], h[k]
		var bb, hb map[string]any
		if bo != nil {
			bb = Normalize(bo)
		}
		if ho != nil {
			hb = Normalize(ho)
		}
		if bo != nil && ho != nil && k.Kind == "Secret" && k.APIVersion == "v1" {
			markChangedSecretKeys(bo.Body, ho.Body, hb)
		}
		bt, err := text(bb)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", k.Chart, k.Object(), err)
		}
		ht, err := text(hb)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", k.Chart, k.Object(), err)
		}
		if bo != nil && ho != nil && bt == ht {
			res.Unchanged++
			continue
		}
		c := Change{Key: k, Action: Changed}
		switch {
		case bo == nil:
			c.Action = Added
		case ho == nil:
			c.Action = Removed
		}
		from, to := "a/"+k.Env+"/"+k.File(), "b/"+k.Env+"/"+k.File()
		if bo == nil {
			from = "/dev/null"
		}
		if ho == nil {
			to = "/dev/null"
		}
		c.Diff, err = difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: lines(bt), B: lines(ht), FromFile: from, ToFile: to, Context: 3,
		})
		if err != nil {
			return nil, fmt.Errorf("diff %s: %w", k.Object(), err)
		}
		for _, line := range strings.Split(c.Diff, "\n") {
			switch {
			case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			case strings.HasPrefix(line, "+"):
				c.AddedLines++
			case strings.HasPrefix(line, "-"):
				c.RemovedLines++
			}
		}
		res.Changes = append(res.Changes, c)
	}

	res.Versions = versions(base, head, want)
	for _, r := range base {
		res.BaseErrors += len(r.Findings)
	}
	for _, r := range head {
		res.HeadErrors += len(r.Findings)
	}
	return res, nil
}

// versions lists the charts whose version differs: ours by chart ID (a Chart.yaml is the
// same in every environment), the official charts by Application and chart name in each
// environment of want (empty: all), environments with the same move in one row.
func versions(base, head []*render.Result, want map[string]bool) []Version {
	type key struct{ env, chart, official string }
	found := map[key]*Version{}
	var keys []key
	collect := func(renders []*render.Result, isHead bool) {
		for _, r := range renders {
			k := key{chart: r.Chart.ID}
			if r.Official != nil {
				if len(want) > 0 && !want[r.Env] {
					continue
				}
				k = key{env: r.Env, chart: r.Chart.ID, official: r.Official.Chart}
			}
			v := found[k]
			if v == nil {
				v = &Version{Chart: k.chart, Official: k.official}
				found[k] = v
				keys = append(keys, k)
			}
			if isHead {
				v.Head = r.Chart.Version
			} else {
				v.Base = r.Chart.Version
			}
		}
	}
	collect(base, false)
	collect(head, true)
	out := []Version{}
	type move struct{ chart, official, base, head string }
	rows := map[move]int{} // index in out
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.chart != b.chart {
			return a.chart < b.chart
		}
		if a.official != b.official {
			return a.official < b.official
		}
		return a.env < b.env
	})
	for _, k := range keys {
		v := found[k]
		if v.Base == v.Head {
			continue
		}
		m := move{v.Chart, v.Official, v.Base, v.Head}
		if i, ok := rows[m]; ok && k.env != "" {
			out[i].Envs = append(out[i].Envs, k.env)
			continue
		}
		rows[m] = len(out)
		if k.env != "" {
			v.Envs = []string{k.env}
		}
		out = append(out, *v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Chart < out[j].Chart })
	return out
}

// noise lists the label keys and annotation key prefixes Normalize drops.
var (
	noiseLabels             = []string{"helm.sh/chart", "app.kubernetes.io/version"}
	noiseAnnotationPrefixes = []string{"checksum/"}
	// chartLabel is the older "chart: <name>-<version>" label of many official charts
	// (kube-prometheus-stack sets it on every object): dropped only when its value is a
	// chart name and version, the same value helm.sh/chart carries.
	chartLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?-v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$`)
)

// Normalize returns the object's body as compared: Secret data redacted, noise labels and
// annotations removed at any depth. The object itself is not modified.
func Normalize(o *render.Object) map[string]any {
	out, _ := strip(plan.Redact(o), "").(map[string]any)
	return out
}

// strip copies v, dropping noise from maps found under a "labels" or "annotations" key.
func strip(v any, parentKey string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if parentKey == "labels" && (contains(noiseLabels, k) || k == "chart" && isChartVersion(val)) {
				continue
			}
			if parentKey == "annotations" && hasPrefix(k, noiseAnnotationPrefixes) {
				continue
			}
			out[k] = strip(val, k)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = strip(val, "")
		}
		return out
	default:
		return v
	}
}

// markChangedSecretKeys flags, in the normalised head body, the Secret keys whose value
// differs from the base, so that a reviewer sees a value changed without seeing it.
func markChangedSecretKeys(base, head, normalized map[string]any) {
	for _, field := range []string{"data", "stringData"} {
		bm, _ := base[field].(map[string]any)
		hm, _ := head[field].(map[string]any)
		nm, _ := normalized[field].(map[string]any)
		for k, hv := range hm {
			// A key the Application does not compare (masked as plan.Ignored) is not a change.
			if bv, ok := bm[k]; ok && fmt.Sprint(bv) != fmt.Sprint(hv) && nm != nil && nm[k] != plan.Ignored {
				nm[k] = plan.Redacted + " (changed)"
			}
		}
	}
}

func isChartVersion(v any) bool {
	s, ok := v.(string)
	return ok && chartLabel.MatchString(s)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// lines splits s after each newline, without difflib.SplitLines's extra empty last line.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// text is the object as YAML with sorted keys, the form the plan files use.
func text(body map[string]any) (string, error) {
	if body == nil {
		return "", nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(body); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}
