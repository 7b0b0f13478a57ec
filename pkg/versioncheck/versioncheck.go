// Package versioncheck enforces chart hygiene across a change: a chart whose rendered
// objects differ from the base revision must bump its Chart.yaml version (SemVer, greater
// than the base's), and the prd Application pinning that chart from the registry
// (deploy/argocd, the targetRevision of its OCI source) must pin the new version, or
// ArgoCD keeps deploying the old package.
package versioncheck

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/microservices-manifests/microservices-manifests/pkg/diff"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// Rule is the rule id of the findings.
const Rule = "chart-version"

// PinnedEnv is the environment whose Applications pin chart versions.
const PinnedEnv = "prd"

// Published are the layout roots whose charts are published to the registry by version
// (publish.Roots); the GitOps tree under deploy/argocd is read from git by revision.
var Published = []string{"app/", "infra/"}

// Checker compares the working tree at Root with Base.
type Checker struct {
	Root string
	Base string
}

// Run renders both revisions and returns the findings in a report.
func (c *Checker) Run(ctx context.Context) (*report.Report, error) {
	base, err := diff.Render(ctx, c.Root, c.Base, nil)
	if err != nil {
		return nil, fmt.Errorf("render base %s: %w", c.Base, err)
	}
	head, err := diff.Render(ctx, c.Root, diff.Worktree, nil)
	if err != nil {
		return nil, err
	}
	return Check(c.Root, c.Base, base, head)
}

// Check is Run on renders already made.
func Check(root, baseRev string, base, head []*render.Result) (*report.Report, error) {
	res, err := diff.Compare(base, head, nil)
	if err != nil {
		return nil, err
	}
	rep := &report.Report{Envs: res.Envs}
	baseVersion, headVersion := map[string]string{}, map[string]string{}
	names := map[string]string{}
	for _, r := range base {
		baseVersion[r.Chart.ID] = r.Chart.Version
	}
	for _, r := range head {
		headVersion[r.Chart.ID] = r.Chart.Version
		names[r.Chart.ID] = r.Chart.Name
	}
	charts := res.Charts()
	rep.Charts = len(charts)
	for _, id := range charts {
		bv, inBase := baseVersion[id]
		hv, inHead := headVersion[id]
		if !inBase || !inHead || !published(id) {
			continue // a new or removed chart has nothing to bump; git-sourced charts no tag
		}
		file := id + "/Chart.yaml"
		line := lineOf(root, file, regexp.MustCompile(`^version:`))
		b, errB := semver.NewVersion(bv)
		h, errH := semver.NewVersion(hv)
		switch {
		case errH != nil:
			rep.Findings = append(rep.Findings, finding(id, file, line, fmt.Sprintf("version %q is not SemVer: %v", hv, errH)))
			continue
		case errB == nil && !h.GreaterThan(b):
			rep.Findings = append(rep.Findings, finding(id, file, line,
				fmt.Sprintf("the chart's rendered objects changed against %s but its version %s is not greater than %s there: bump it", baseRev, hv, bv)))
			continue
		}
		// The version moved: the prd Applications pinning this chart must follow.
		for _, app := range pinning(head, names[id]) {
			if app.revision == hv {
				continue
			}
			f := finding(id, app.template, 0, fmt.Sprintf("Application %s pins chart %s at %s in %s, but the chart is now %s", app.name, names[id], app.revision, PinnedEnv, hv))
			f.Env, f.Object, f.Path = PinnedEnv, "Application/"+app.namespace+"/"+app.name, "spec.source.targetRevision"
			if file, line := locatePin(root, app); file != "" {
				f.File, f.Line = file, line
			}
			rep.Findings = append(rep.Findings, f)
		}
	}
	rep.Sort()
	return rep, nil
}

func published(id string) bool {
	for _, p := range Published {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

func finding(chart, file string, line int, msg string) report.Finding {
	return report.Finding{Severity: report.Error, Rule: Rule, Chart: chart, File: file, Line: line, Message: msg}
}

type pin struct {
	name, namespace string
	chartDir        string // the chart rendering the Application
	template        string
	revision        string
}

// pinning finds the prd Applications with an OCI/Helm source of chart name.
func pinning(head []*render.Result, name string) []pin {
	var out []pin
	for _, r := range head {
		if r.Env != PinnedEnv {
			continue
		}
		for _, o := range r.Objects {
			if o.Kind != "Application" || !strings.HasPrefix(o.APIVersion, "argoproj.io/") {
				continue
			}
			spec, _ := o.Body["spec"].(map[string]any)
			sources, _ := spec["sources"].([]any)
			if s, ok := spec["source"]; ok {
				sources = append(sources, s)
			}
			for _, s := range sources {
				sm, _ := s.(map[string]any)
				chart, _ := sm["chart"].(string)
				if chart != name && !strings.HasSuffix(chart, "/"+name) {
					continue
				}
				rev, _ := sm["targetRevision"].(string)
				out = append(out, pin{name: o.Name, namespace: o.Namespace, chartDir: r.Chart.ID, template: o.Template, revision: rev})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// locatePin finds the values line that sets the pinned version: in the Application chart's
// values-prd.yaml, then values.yaml, the first "version:" or "targetRevision:" line inside
// the block keyed by the Application's name.
func locatePin(root string, p pin) (string, int) {
	for _, name := range []string{"values-" + PinnedEnv + ".yaml", "values.yaml"} {
		rel := p.chartDir + "/" + name
		data, err := repofs.ReadFile(root, rel)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		n, indent := 0, -1
		key := regexp.MustCompile(`^(\s*)` + regexp.QuoteMeta(p.name) + `:\s*$`)
		for sc.Scan() {
			n++
			line := sc.Text()
			if indent < 0 {
				if m := key.FindStringSubmatch(line); m != nil {
					indent = len(m[1])
				}
				continue
			}
			trimmed := strings.TrimSpace(line)
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			if len(line)-len(strings.TrimLeft(line, " ")) <= indent {
				break
			}
			if strings.HasPrefix(trimmed, "version:") || strings.HasPrefix(trimmed, "targetRevision:") {
				return rel, n
			}
		}
	}
	return "", 0
}

// lineOf returns the 1-based line of the first line of root/rel matching re, or 0.
func lineOf(root, rel string, re *regexp.Regexp) int {
	data, err := repofs.ReadFile(root, rel)
	if err != nil {
		return 0
	}
	for i, line := range strings.Split(string(data), "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	return 0
}
