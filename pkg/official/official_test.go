package official_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/official"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// root is the repository; sharedCharts holds the official charts packaged for offline
// tests, beside it (a user's clone has none).
const (
	root         = "../.."
	sharedCharts = "../../../shared/charts"
)

// want is a chart an Application must install.
type want struct{ repoURL, chart, version string }

const istioRepo = "https://istio-release.storage.googleapis.com/charts"

var istioApps = map[string]want{
	"istio-base":           {istioRepo, "base", ""},
	"istio-cni":            {istioRepo, "cni", ""},
	"istiod":               {istioRepo, "istiod", ""},
	"istio-ingressgateway": {istioRepo, "gateway", ""},
	"istio-egressgateway":  {istioRepo, "gateway", ""},
}

// officialApps are the official Applications of each environment ("" version: any).
var officialApps = map[string]map[string]want{
	"prd": merge(istioApps, map[string]want{
		"kube-prometheus-stack":        {"https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack", "88.5.3"},
		"kiali":                        {"https://kiali.org/helm-charts", "kiali-server", "2.29.0"},
		"jaeger":                       {"https://jaegertracing.github.io/helm-charts", "jaeger", "4.11.1"},
		"ack-sqs-controller":           {"public.ecr.aws/aws-controllers-k8s", "sqs-chart", "1.6.1"},
		"ack-apigatewayv2-controller":  {"public.ecr.aws/aws-controllers-k8s", "apigatewayv2-chart", "1.4.1"},
		"aws-load-balancer-controller": {"https://aws.github.io/eks-charts", "aws-load-balancer-controller", "3.5.0"},
		"external-secrets":             {"https://charts.external-secrets.io", "external-secrets", "2.9.0"},
	}),
	"dev": merge(istioApps, map[string]want{
		"kube-prometheus-stack": {"https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack", "88.5.3"},
		"kiali":                 {"https://kiali.org/helm-charts", "kiali-server", "2.29.0"},
		"jaeger":                {"https://jaegertracing.github.io/helm-charts", "jaeger", "4.11.1"},
	}),
}

func merge(a, b map[string]want) map[string]want {
	out := map[string]want{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// sharedResolver is an offline resolver over ../shared/charts; without it the test skips.
func sharedResolver(t *testing.T) *chartsource.Resolver {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sharedCharts, "README.md")); err != nil {
		t.Skipf("no packaged official charts in %s beside the repository (a clone without ../shared): %v", sharedCharts, err)
	}
	return &chartsource.Resolver{ChartsFrom: []string{sharedCharts}, Offline: true}
}

// envRender is one environment of the repository, rendered and validated once per test run.
type envRender struct {
	once        sync.Once
	res         *validate.Result
	schemas     *schema.Validator
	apiVersions []string
	err         error
}

var renders = map[string]*envRender{"prd": {}, "dev": {}}

// repoEnv renders the repository's charts in env as pkg/validate does (policies off).
func repoEnv(t *testing.T, env string) *envRender {
	t.Helper()
	e := renders[env]
	e.once.Do(func() {
		if e.schemas, e.err = schema.New(); e.err != nil {
			return
		}
		e.apiVersions = render.APIVersions(e.schemas.Kinds())
		e.res, e.err = (&validate.Validator{Root: root, Envs: []string{env}, Schemas: e.schemas, SkipPolicies: true}).Run(context.Background())
	})
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e
}

// applicationsOf returns the Applications our charts render in env.
func applicationsOf(t *testing.T, env string) []*apps.Application {
	t.Helper()
	e := repoEnv(t, env)
	var out []*apps.Application
	for _, r := range e.res.Renders {
		for _, a := range official.FromObjects(r.Objects) {
			a.Chart, a.Env = r.Chart.ID, env
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Application rendered in %s", env)
	}
	return out
}

func renderEnv(t *testing.T, env string, resolver *chartsource.Resolver) ([]*official.Release, []report.Finding, time.Duration) {
	t.Helper()
	e := repoEnv(t, env)
	list := applicationsOf(t, env)
	start := time.Now()
	rels, findings, err := official.Render(context.Background(), official.Options{Root: root, Env: env, Resolver: resolver, APIVersions: e.apiVersions}, list)
	if err != nil {
		t.Fatal(err)
	}
	return rels, findings, time.Since(start)
}

// TestRenderRepository renders the official charts of the real Applications of prd and dev
// offline and checks that every one resolves at its pin and renders, that no source of this
// repository or of our ECR is rendered, and that kube-prometheus-stack's CRDs come back.
func TestRenderRepository(t *testing.T) {
	resolver := sharedResolver(t)
	for _, env := range []string{"prd", "dev"} {
		t.Run(env, func(t *testing.T) {
			rels, findings, took := renderEnv(t, env, resolver)
			t.Logf("%s: %d releases in %v", env, len(rels), took.Round(time.Millisecond))
			for _, f := range findings {
				t.Errorf("finding: %s", f)
			}
			got := map[string]*official.Release{}
			for _, r := range rels {
				if got[r.Application] != nil {
					t.Errorf("Application %s rendered twice", r.Application)
				}
				got[r.Application] = r
				t.Logf("%-30s %-28s %-8s %4d objects %3d CRDs  %s", r.Application, r.Chart, r.Version, len(r.Objects), len(r.CRDs), r.Origin)
				if official.Ours(r.RepoURL) || strings.Contains(r.RepoURL, "github.com") {
					t.Errorf("Application %s: %s is ours, rendered by pkg/render", r.Application, r.RepoURL)
				}
				if len(r.Objects) == 0 {
					t.Errorf("Application %s: chart %s rendered nothing", r.Application, r.Chart)
				}
				for _, o := range r.Objects {
					if !strings.HasPrefix(o.Template, r.Chart+"/") {
						t.Errorf("%s: %s: template %q is not a file of chart %s", r.ChartID(), o.ID(), o.Template, r.Chart)
					}
				}
			}
			for name, w := range officialApps[env] {
				r := got[name]
				switch {
				case r == nil:
					t.Errorf("Application %s (chart %s %s) not rendered", name, w.chart, w.version)
				case r.RepoURL != w.repoURL || r.Chart != w.chart || (w.version != "" && r.Version != w.version):
					t.Errorf("Application %s: %s %s %s, want %s %s %s", name, r.RepoURL, r.Chart, r.Version, w.repoURL, w.chart, w.version)
				}
			}
			for name := range got {
				if _, ok := officialApps[env][name]; !ok {
					t.Errorf("Application %s rendered, not in this test's list for %s: add it", name, env)
				}
			}
			if kps := got["kube-prometheus-stack"]; kps != nil {
				var names []string
				for _, c := range kps.CRDs {
					names = append(names, c.Name)
				}
				if !slices.Contains(names, "prometheuses.monitoring.coreos.com") || !slices.Contains(names, "servicemonitors.monitoring.coreos.com") {
					t.Errorf("kube-prometheus-stack CRDs = %q, want the Prometheus Operator's", names)
				}
			}
			if base := got["istio-base"]; base != nil && len(base.CRDs) == 0 {
				t.Error("istio-base: no CRDs")
			}
		})
	}
}

// TestRenderDeterministic renders prd twice: the objects must be identical but for the
// fields the Applications' ignoreDifferences cover (certificates generated at every render).
func TestRenderDeterministic(t *testing.T) {
	resolver := sharedResolver(t)
	first, _, cold := renderEnv(t, "prd", resolver)
	second, _, warm := renderEnv(t, "prd", resolver)
	t.Logf("Render prd: %v first, %v warm", cold.Round(time.Millisecond), warm.Round(time.Millisecond))
	if len(first) != len(second) {
		t.Fatalf("%d releases, then %d", len(first), len(second))
	}
	ignores := map[string][]ignore{}
	for _, a := range applicationsOf(t, "prd") {
		ignores[a.Name] = ignoresOf(a)
	}
	ignored := 0
	for i, r1 := range first {
		r2 := second[i]
		if r1.ChartID() != r2.ChartID() || len(r1.Objects) != len(r2.Objects) {
			t.Errorf("release %d: %s with %d objects, then %s with %d", i, r1.ChartID(), len(r1.Objects), r2.ChartID(), len(r2.Objects))
			continue
		}
		for j, o1 := range r1.Objects {
			o2 := r2.Objects[j]
			if o1.ID() != o2.ID() || o1.Template != o2.Template {
				t.Errorf("%s: object %d: %s (%s), then %s (%s)", r1.ChartID(), j, o1.ID(), o1.Template, o2.ID(), o2.Template)
				continue
			}
			if reflect.DeepEqual(o1.Body, o2.Body) {
				continue
			}
			b1, b2 := stripIgnored(t, o1, ignores[r1.Application]), stripIgnored(t, o2, ignores[r1.Application])
			if !reflect.DeepEqual(b1, b2) {
				t.Errorf("%s: %s differs between two renders beyond the Application's ignoreDifferences", r1.ChartID(), o1.ID())
				continue
			}
			ignored++
			t.Logf("%s: %s differs only where ignoreDifferences says", r1.ChartID(), o1.ID())
		}
	}
	t.Logf("%d objects differ only in ignored fields", ignored)
}

// ignore is one spec.ignoreDifferences entry.
type ignore struct {
	group, kind, name, namespace string
	pointers, jq                 []string
}

func ignoresOf(a *apps.Application) []ignore {
	spec, _ := a.Body["spec"].(map[string]any)
	list, _ := spec["ignoreDifferences"].([]any)
	var out []ignore
	for _, x := range list {
		m, _ := x.(map[string]any)
		str := func(k string) string { s, _ := m[k].(string); return s }
		strs := func(k string) []string {
			var l []string
			for _, v := range asList(m[k]) {
				if s, ok := v.(string); ok {
					l = append(l, s)
				}
			}
			return l
		}
		out = append(out, ignore{group: str("group"), kind: str("kind"), name: str("name"), namespace: str("namespace"),
			pointers: strs("jsonPointers"), jq: strs("jqPathExpressions")})
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

// stripIgnored returns a copy of o's body without the fields the ignores cover. jq
// expressions are read as plain paths (.a.b, .a[]?.b), which is what ours are.
func stripIgnored(t *testing.T, o *render.Object, ignores []ignore) map[string]any {
	t.Helper()
	b, _ := json.Marshal(o.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	group, _, _ := strings.Cut(o.APIVersion, "/")
	if !strings.Contains(o.APIVersion, "/") {
		group = ""
	}
	for _, ig := range ignores {
		if ig.group != group || ig.kind != o.Kind || (ig.name != "" && ig.name != o.Name) || (ig.namespace != "" && ig.namespace != o.Namespace) {
			continue
		}
		for _, p := range ig.pointers {
			remove(body, strings.Split(strings.TrimPrefix(p, "/"), "/"))
		}
		for _, q := range ig.jq {
			if !regexp.MustCompile(`^(\.[A-Za-z0-9_-]+(\[\]\??)?)+$`).MatchString(q) {
				t.Fatalf("jqPathExpression %q: not a plain path this test can apply", q)
			}
			remove(body, strings.Split(strings.TrimPrefix(strings.NewReplacer("[]?", ".[]", "[]", ".[]").Replace(q), "."), "."))
		}
	}
	return body
}

// remove deletes the path (keys, "[]" for every item) from v.
func remove(v any, path []string) {
	if len(path) == 0 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			delete(x, path[0])
			return
		}
		remove(x[path[0]], path[1:])
	case []any:
		if path[0] == "[]" {
			for _, item := range x {
				remove(item, path[1:])
			}
		}
	}
}

// TestRenderFindings checks that a chart that cannot be had, or that refuses the values, is
// a finding about its Application with the right severity, and that sources that are ours
// are not rendered. It needs no network and no ../shared: the charts are written here.
func TestRenderFindings(t *testing.T) {
	dir := t.TempDir()
	writeChart(t, dir, "demo", "1.0.0", demoChart)
	if err := os.WriteFile(filepath.Join(dir, "broken-1.0.0.tgz"), []byte("not a gzip archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	const repo = "https://charts.example.org"
	cases := []struct {
		name     string
		source   map[string]any
		severity report.Severity // -1: no finding
		message  string          // a substring of the finding
		objects  int             // objects rendered, without a finding
	}{
		{name: "absent offline is a warning", source: helmSource(repo, "absent", "2.0.0", nil),
			severity: report.Warning, message: "Application app: https://charts.example.org absent 2.0.0: chart not resolved"},
		{name: "broken archive is an error", source: helmSource(repo, "broken", "1.0.0", nil),
			severity: report.Error, message: "broken 1.0.0"},
		{name: "valuesObject the schema rejects is an error", source: helmSource(repo, "demo", "1.0.0", map[string]any{"valuesObject": map[string]any{"replicas": "two"}}),
			severity: report.Error, message: "chart rejects the values"},
		{name: "values that are not YAML is an error", source: helmSource(repo, "demo", "1.0.0", map[string]any{"values": "replicas: [1"}),
			severity: report.Error, message: "values:"},
		{name: "parameter of the wrong type is an error", source: helmSource(repo, "demo", "1.0.0", map[string]any{"parameters": []any{map[string]any{"name": "replicas", "value": "two"}}}),
			severity: report.Error, message: "chart rejects the values"},
		{name: "missing value file is an error", source: helmSource(repo, "demo", "1.0.0", map[string]any{"valueFiles": []any{"values-nope.yaml"}}),
			severity: report.Error, message: "values-nope.yaml"},
		{name: "good values render", source: helmSource(repo, "demo", "1.0.0", map[string]any{"valuesObject": map[string]any{"replicas": 3}}),
			severity: -1, objects: 4},
		{name: "git path of this repository is skipped", source: map[string]any{"repoURL": "https://github.com/example-org/microservices-manifests.git", "path": "infra/shared", "targetRevision": "refs/heads/main"},
			severity: -1},
		{name: "our ECR chart is skipped", source: helmSource("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts", "infra-shared", "0.4.0", nil),
			severity: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := application("app", "demo-ns", tc.source)
			rels, findings, err := official.Render(context.Background(), official.Options{Env: "prd",
				Resolver: &chartsource.Resolver{ChartsFrom: []string{dir}, Offline: true}}, []*apps.Application{a})
			if err != nil {
				t.Fatal(err)
			}
			if tc.severity < 0 {
				for _, f := range findings {
					t.Errorf("unexpected finding: %s", f)
				}
				n := 0
				for _, r := range rels {
					n += len(r.Objects)
				}
				if n != tc.objects {
					t.Errorf("%d objects rendered, want %d", n, tc.objects)
				}
				return
			}
			if len(findings) != 1 || len(rels) != 0 {
				t.Fatalf("%d findings, %d releases; want one finding: %v", len(findings), len(rels), findings)
			}
			f := findings[0]
			if f.Severity != tc.severity || f.Rule != official.Rule || f.Env != "prd" || f.Object != "Application/argocd/app" ||
				f.File != "deploy/argocd/infra/templates/applications.yaml" || !strings.Contains(f.Message, tc.message) {
				t.Errorf("finding %s (severity %d), want severity %d, rule %s, the Application and %q", f, f.Severity, tc.severity, official.Rule, tc.message)
			}
			t.Logf("%s", f)
		})
	}
}

// TestBrokenRealValues breaks the valuesObject of a real Application: an Error finding.
func TestBrokenRealValues(t *testing.T) {
	resolver := sharedResolver(t)
	e := repoEnv(t, "prd")
	var app *apps.Application
	for _, a := range applicationsOf(t, "prd") {
		if a.Name == "external-secrets" {
			app = a
		}
	}
	if app == nil {
		t.Fatal("no Application external-secrets in prd")
	}
	body := deepCopy(t, app.Body)
	helm := body["spec"].(map[string]any)["source"].(map[string]any)["helm"].(map[string]any)
	vo := helm["valuesObject"].(map[string]any)
	vo["replicaCount"] = "two" // the chart's values.schema.json wants an integer
	broken := apps.FromBody(body, app.Chart)
	broken.Template, broken.Env = app.Template, "prd"
	rels, findings, err := official.Render(context.Background(), official.Options{Env: "prd", Resolver: resolver, APIVersions: e.apiVersions}, []*apps.Application{broken})
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 0 || len(findings) != 1 || findings[0].Severity != report.Error || !strings.Contains(findings[0].Message, "Application external-secrets: https://charts.external-secrets.io external-secrets 2.9.0: chart rejects the values") {
		t.Fatalf("releases %d, findings %v; want one error about the Application", len(rels), findings)
	}
	t.Logf("%s", findings[0])
}

// TestValues checks the values Argo CD passes: valuesObject wins over values, parameters
// (--set, --set-string) go last, value files come from the chart.
func TestValues(t *testing.T) {
	dir := t.TempDir()
	writeChart(t, dir, "demo", "1.0.0", demoChart)
	res, err := (&chartsource.Resolver{ChartsFrom: []string{dir}, Offline: true}).Resolve(context.Background(), chartsource.Ref{RepoURL: "https://charts.example.org", Chart: "demo", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		helm     map[string]any
		want     string // JSON of the values
		problems int
	}{
		{name: "values string", helm: map[string]any{"values": "a: 1\nb: {c: 2}\n"}, want: `{"a":1,"b":{"c":2}}`},
		{name: "valuesObject wins over values, not merged", helm: map[string]any{"values": "a: 1\n", "valuesObject": map[string]any{"b": 2}},
			want: `{"b":2}`, problems: 1},
		{name: "parameters over valuesObject", helm: map[string]any{"valuesObject": map[string]any{"a": map[string]any{"b": 1, "c": 1}},
			"parameters": []any{map[string]any{"name": "a.b", "value": "2"}, map[string]any{"name": "d", "value": "x,y"},
				map[string]any{"name": "e", "value": "true", "forceString": true}, map[string]any{"name": "f", "value": "{1,2}"},
				map[string]any{"name": "g", "value": "$ARGOCD_APP_NAME"}}},
			want: `{"a":{"b":2,"c":1},"d":"x,y","e":"true","f":[1,2],"g":"app"}`},
		{name: "value file of the chart, then values", helm: map[string]any{"valueFiles": []any{"values-big.yaml"}, "values": "replicas: 5\n"},
			want: `{"labels":{"size":"big"},"replicas":5}`},
		{name: "value file of another source is a problem", helm: map[string]any{"valueFiles": []any{"$values/x.yaml"}}, want: `{}`, problems: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := application("app", "ns", helmSource("https://charts.example.org", "demo", "1.0.0", tc.helm))
			vals, problems, err := official.Values(a, a.Sources[0], res.Chart)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(vals)
			if string(b) != tc.want || len(problems) != tc.problems {
				t.Errorf("values %s, problems %q; want %s and %d problems", b, problems, tc.want, tc.problems)
			}
		})
	}
}

// TestObjectsAsArgoCDApplies checks Lists flattened, namespaces defaulted (not on
// cluster-scoped kinds, including a CRD's scope Cluster), skipCrds and the templates.
func TestObjectsAsArgoCDApplies(t *testing.T) {
	dir := t.TempDir()
	writeChart(t, dir, "demo", "1.0.0", demoChart)
	for _, tc := range []struct {
		name string
		helm map[string]any
		want []string // object IDs, in order
	}{
		// Helm's install order puts ConfigMaps before CRDs.
		{name: "default", want: []string{"ConfigMap/demo-ns/a", "CustomResourceDefinition/widgets.example.org", "ClusterRole/demo", "Widget/w"}},
		// The CRD is left out, but its scope still holds (the cluster has it).
		{name: "skipCrds", helm: map[string]any{"skipCrds": true}, want: []string{"ConfigMap/demo-ns/a", "ClusterRole/demo", "Widget/w"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := application("app", "demo-ns", helmSource("https://charts.example.org", "demo", "1.0.0", tc.helm))
			rels, findings, err := official.Render(context.Background(), official.Options{Resolver: &chartsource.Resolver{ChartsFrom: []string{dir}, Offline: true}}, []*apps.Application{a})
			if err != nil || len(findings) > 0 || len(rels) != 1 {
				t.Fatalf("err %v, findings %v, %d releases", err, findings, len(rels))
			}
			var ids []string
			for _, o := range rels[0].Objects {
				ids = append(ids, o.ID())
				if o.Kind == "ConfigMap" {
					if ns := o.Body["metadata"].(map[string]any)["namespace"]; ns != "demo-ns" || o.Template != "demo/templates/list.yaml" {
						t.Errorf("ConfigMap: metadata.namespace %v, template %s", ns, o.Template)
					}
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("objects %q, want %q", ids, tc.want)
			}
			if got := rels[0].ChartID(); got != "app (chart demo 1.0.0)" {
				t.Errorf("ChartID %q", got)
			}
		})
	}
}

func TestOurs(t *testing.T) {
	for _, tc := range []struct {
		repoURL string
		want    bool
	}{
		{"123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts", true},
		{"oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts", true},
		{"public.ecr.aws/aws-controllers-k8s", false},
		{"https://charts.external-secrets.io", false},
		{"12345678901.dkr.ecr.ap-northeast-1.amazonaws.com/charts", false},
	} {
		if got := official.Ours(tc.repoURL); got != tc.want {
			t.Errorf("Ours(%q) = %v, want %v", tc.repoURL, got, tc.want)
		}
	}
}

func TestFromObjects(t *testing.T) {
	objs := []*render.Object{
		{Template: "t.yaml", APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: "a", Namespace: "argocd",
			Body: map[string]any{"kind": "Application", "metadata": map[string]any{"name": "a"}}},
		{APIVersion: "argoproj.io/v1alpha1", Kind: "ApplicationSet", Name: "s", Body: map[string]any{"kind": "ApplicationSet"}},
		{APIVersion: "example.org/v1", Kind: "Application", Name: "x", Body: map[string]any{"kind": "Application"}},
		{APIVersion: "v1", Kind: "ConfigMap", Name: "c", Body: map[string]any{"kind": "ConfigMap"}},
	}
	got := official.FromObjects(objs)
	if len(got) != 1 || got[0].Name != "a" || got[0].Template != "t.yaml" {
		t.Errorf("FromObjects = %+v, want Application a", got)
	}
}

// application is an Application as deploy/argocd/infra renders one.
func application(name, namespace string, source map[string]any) *apps.Application {
	body := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": "argocd"},
		"spec": map[string]any{"project": "infra", "source": source,
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": namespace}},
	}
	o := &render.Object{Template: "deploy/argocd/infra/templates/applications.yaml", APIVersion: "argoproj.io/v1alpha1",
		Kind: "Application", Namespace: "argocd", Name: name, Body: body}
	return apps.FromObject(o, "deploy/argocd/infra", "prd")
}

func helmSource(repoURL, chart, version string, helm map[string]any) map[string]any {
	s := map[string]any{"repoURL": repoURL, "chart": chart, "targetRevision": version}
	if helm != nil {
		s["helm"] = helm
	}
	return s
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// demoChart is a small chart with what the render must handle: a values schema, a CRD in
// crds/ of scope Cluster and an object of it, a List, a cluster-scoped kind, a value file.
var demoChart = map[string]string{
	"values.yaml":     "replicas: 1\n",
	"values-big.yaml": "labels:\n  size: big\nreplicas: 4\n",
	"values.schema.json": `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
		"properties":{"replicas":{"type":"integer"},"labels":{"type":"object"}}}`,
	"crds/widget.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
spec:
  group: example.org
  scope: Cluster
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
	"templates/list.yaml": `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: a
    data:
      replicas: "{{ .Values.replicas }}"
`,
	"templates/widget.yaml":      "apiVersion: example.org/v1\nkind: Widget\nmetadata:\n  name: w\n",
	"templates/clusterrole.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: demo\nrules: []\n",
}

// writeChart packages files as <dir>/<name>-<version>.tgz, laid out as helm package does.
func writeChart(t *testing.T, dir, name, version string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	all := map[string]string{"Chart.yaml": fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\n", name, version)}
	for k, v := range files {
		all[k] = v
	}
	var names []string
	for k := range all {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, n := range names {
		data := []byte(all[n])
		if err := tw.WriteHeader(&tar.Header{Name: name + "/" + n, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s.tgz", name, version)), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRenderCancelled: a cancelled context is the one error Render returns.
func TestRenderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := application("app", "ns", helmSource("https://charts.example.org", "demo", "1.0.0", nil))
	if _, _, err := official.Render(ctx, official.Options{Resolver: &chartsource.Resolver{Offline: true}}, []*apps.Application{a}); err == nil {
		t.Error("Render with a cancelled context: no error")
	}
}
