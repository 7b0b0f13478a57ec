package test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/official"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// TestOfficialChartsRenderStable renders each official chart of the prd Applications twice
// with our values, as Argo CD renders it at every comparison. A field that differs between
// two renders (a certificate or password a chart generates with genCA/randAlphaNum) keeps
// the Application OutOfSync forever and changes at every sync, so every such field must be
// covered by the Application's ignoreDifferences (with RespectIgnoreDifferences=true, so
// that a sync keeps the live value). The first render of the AWS Load Balancer Controller
// must differ (its webhook certificate), which proves the comparison sees what it should.
func TestOfficialChartsRenderStable(t *testing.T) {
	od := officialSetup(t)
	apps := officialApps(t, od)
	ignores := officialIgnoreDifferences(t)
	for _, name := range istioSortedNames(officialCharts) {
		t.Run(name, func(t *testing.T) {
			first, problems := checkOfficialApp(od, apps[name])
			second, problems2 := checkOfficialApp(od, apps[name])
			if len(problems)+len(problems2) > 0 {
				t.Fatalf("render: %v %v", problems, problems2)
			}
			diffs := renderDiffs(first, second)
			uncovered, err := notIgnored(diffs, ignores[name].entries)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range uncovered {
				t.Errorf("%s changes at every render and is not in the Application's ignoreDifferences: Argo CD would never see it Synced", d)
			}
			if len(diffs) > 0 && !slices.Contains(ignores[name].syncOptions, "RespectIgnoreDifferences=true") {
				t.Errorf("ignoreDifferences without syncOptions RespectIgnoreDifferences=true: every sync would still rotate %v", diffs)
			}
			t.Logf("%s: %d fields differ between renders, all ignored", name, len(diffs))
			if name == "aws-load-balancer-controller" {
				if left, _ := notIgnored(diffs, nil); len(left) == 0 {
					t.Errorf("two renders of the controller's chart are equal: the check would not see a generated certificate")
				}
			}
		})
	}
}

type appIgnores struct {
	entries     []map[string]any
	syncOptions []string
}

// officialIgnoreDifferences reads spec.ignoreDifferences and syncOptions of the prd
// Applications of deploy/argocd/infra.
func officialIgnoreDifferences(t *testing.T) map[string]appIgnores {
	t.Helper()
	out := map[string]appIgnores{}
	res := renderValidated(t, officialEnv, infraAppsChart)
	for _, r := range res.Renders {
		for _, o := range r.Objects {
			if o.Kind != "Application" {
				continue
			}
			var ai appIgnores
			if l, ok := istioDig(o.Body, "spec", "ignoreDifferences").([]any); ok {
				for _, e := range l {
					if m, ok := e.(map[string]any); ok {
						ai.entries = append(ai.entries, m)
					}
				}
			}
			if l, ok := istioDig(o.Body, "spec", "syncPolicy", "syncOptions").([]any); ok {
				for _, e := range l {
					ai.syncOptions = append(ai.syncOptions, fmt.Sprint(e))
				}
			}
			out[o.Name] = ai
		}
	}
	return out
}

// renderDiff is one leaf that differs between two renders, as a JSON pointer.
type renderDiff struct {
	apiVersion, kind, namespace, name, pointer string
}

func (d renderDiff) String() string {
	return fmt.Sprintf("%s/%s/%s %s", d.kind, d.namespace, d.name, d.pointer)
}

func renderDiffs(a, b []*render.Object) []renderDiff {
	byID := map[string]*render.Object{}
	for _, o := range b {
		byID[o.ID()] = o
	}
	var out []renderDiff
	for _, o := range a {
		other := byID[o.ID()]
		if other == nil {
			out = append(out, renderDiff{o.APIVersion, o.Kind, o.Namespace, o.Name, ""})
			continue
		}
		var walk func(x, y any, ptr string)
		walk = func(x, y any, ptr string) {
			switch xv := x.(type) {
			case map[string]any:
				yv, ok := y.(map[string]any)
				if !ok {
					out = append(out, renderDiff{o.APIVersion, o.Kind, o.Namespace, o.Name, ptr})
					return
				}
				for k := range xv {
					walk(xv[k], yv[k], ptr+"/"+official.Pointer(k))
				}
			case []any:
				yv, ok := y.([]any)
				if !ok || len(yv) != len(xv) {
					out = append(out, renderDiff{o.APIVersion, o.Kind, o.Namespace, o.Name, ptr})
					return
				}
				for i := range xv {
					walk(xv[i], yv[i], fmt.Sprintf("%s/%d", ptr, i))
				}
			default:
				if !reflect.DeepEqual(x, y) {
					out = append(out, renderDiff{o.APIVersion, o.Kind, o.Namespace, o.Name, ptr})
				}
			}
		}
		walk(o.Body, other.Body, "")
	}
	return out
}

// notIgnored are the diffs no ignoreDifferences entry covers (official.Covers, which the
// plan and the diff use to mask the same fields).
func notIgnored(diffs []renderDiff, entries []map[string]any) ([]renderDiff, error) {
	var out []renderDiff
	for _, d := range diffs {
		covered, err := official.Covers(entries, &render.Object{APIVersion: d.apiVersion, Kind: d.kind, Namespace: d.namespace, Name: d.name}, d.pointer)
		if err != nil {
			return nil, err
		}
		if !covered {
			out = append(out, d)
		}
	}
	return out, nil
}
