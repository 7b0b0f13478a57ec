package test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/microservices-manifests/microservices-manifests/internal/istiocharts"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

const (
	istioAppsChart   = "deploy/argocd/infra/istio"
	istioConfigChart = "infra/istio-config"
	nodegroupLabel   = "node.kubernetes.io/nodegroup"
)

// istioGrandchildren is what DESIGN.md asks of each Istio grandchild Application: the chart
// of Istio's repository it installs and the namespace it installs it in.
var istioGrandchildren = map[string]struct{ chart, namespace string }{
	"istio-base":           {"base", "istio-system"},
	"istio-cni":            {"cni", "istio-system"},
	"istiod":               {"istiod", "istio-system"},
	"istio-ingressgateway": {"gateway", "istio-ingress"},
	"istio-egressgateway":  {"gateway", "istio-egress"},
}

// ingressServiceType is the type of the istio-ingressgateway Service per environment:
// `minikube service --url` in dev, an AWS load balancer in prd.
var ingressServiceType = map[string]string{"dev": "NodePort", "prd": "LoadBalancer"}

// istioKindsWithoutSchema are kinds the Istio charts may emit that our schema set does not
// define, with the reason it is acceptable; any other kind without a schema fails the test.
var istioKindsWithoutSchema = map[string]string{
	// Only with the cni chart's `provider: multus`, which we do not use; a Multus CRD.
	"k8s.cni.cncf.io/v1 NetworkAttachmentDefinition": "Multus CRD, rendered only with provider=multus",
}

// istioApp is one grandchild Application as rendered in one environment.
type istioApp struct {
	Name, Env               string
	Chart, RepoURL, Version string
	ReleaseName, Namespace  string
	Values                  map[string]any
	problems                []string // problems of the Application itself (its source)
}

// istioEnv is what the checks of one environment share.
type istioEnv struct {
	moduleDir, sourceVersion string
	schemas                  *schema.Validator
	known                    map[string]bool // "apiVersion Kind" with a schema
	apiVersions              []string
	protos                   *istiocharts.Protos // istio.io/api's mesh config messages
	// tracingProviders are the providers infra/istio-config's Telemetry objects name.
	tracingProviders []string
	// authz are infra/istio-config's AuthorizationPolicies: those in a gateway's namespace
	// must select the gateway's pods (nothing else runs there).
	authz []*render.Object
	// istioObjects are the Istio resources every chart of the repository renders: base
	// must install a CRD serving each one's apiVersion.
	istioObjects []istioUse
}

type istioUse struct {
	chart string
	obj   *render.Object
}

// TestIstioChartsAcceptOurValues renders Istio's real charts (the sources in the istio.io/istio
// module, see internal/istiocharts) with the values of each Istio grandchild Application, in
// every environment, exactly as Argo CD would (release name, destination namespace,
// Kubernetes 1.35 and our API versions, the chart's values.schema.json enforced), and checks:
//   - the source: Istio's chart repository, the expected chart and namespace, a version of the
//     release line the module holds;
//   - no values key the chart does not know: the gateway chart's strict schema; for base, cni
//     and istiod (no schema, Helm would ignore a typo) the keys of their values.yaml defaults;
//     istiod's rendered mesh config against istio.io/api's MeshConfig protobuf fields;
//   - every rendered object valid against our strict schemas (pkg/schema), base's CRDs as
//     apiextensions.k8s.io/v1 CustomResourceDefinition; a kind without a schema must be listed
//     in istioKindsWithoutSchema;
//   - DESIGN.md's placement: istiod on nodegroup system, both gateways on ingress, istio-cni
//     on every nodegroup; istio-ingressgateway Service in istio-ingress (NodePort in dev,
//     LoadBalancer in prd), istio-egressgateway in istio-egress;
//   - the wiring: istiod's mesh config has the tracing provider infra/istio-config's Telemetry
//     names; the injector has CNI on (H13: no istio-init with NET_ADMIN/NET_RAW); istio-config's
//     AuthorizationPolicies select the gateway pods; base's CRDs serve every Istio resource
//     the repository's charts render.
//
// Broken values must fail, so the checks are known to bite.
//
// The module holds the release-1.31 sources pinned by pseudo-version, not the 1.31.4 chart
// packages the Applications pin from Istio's chart repository: templates that changed
// between the branch head and the 1.31.4 tag are not what Argo CD will render.
func TestIstioChartsAcceptOurValues(t *testing.T) {
	moduleDir, err := istiocharts.ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	apiDir, err := istiocharts.APIModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	protos, err := istiocharts.LoadProtos(apiDir, "mesh/v1alpha1/config.proto")
	if err != nil {
		t.Fatal(err)
	}
	sourceVersion, err := istiocharts.SourceVersion(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, k := range schemas.Kinds() {
		known[k] = true
	}
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(repo.Environments) == 0 {
		t.Fatal("no environments found")
	}
	for _, env := range repo.Environments {
		t.Run(env, func(t *testing.T) {
			ie := &istioEnv{moduleDir: moduleDir, sourceVersion: sourceVersion, schemas: schemas, known: known,
				apiVersions: render.APIVersions(schemas.Kinds()), protos: protos}
			apps := istioApps(t, env, ie)
			for _, name := range istioSortedNames(apps) {
				app := apps[name]
				t.Run(name, func(t *testing.T) {
					objs, problems := checkIstioApp(ie, app)
					for _, p := range problems {
						t.Errorf("Application %s (%s, chart %s %s): %s", app.Name, app.Env, app.Chart, app.Version, p)
					}
					if name == "istio-base" {
						for _, p := range ie.checkServed(objs) {
							t.Errorf("Application %s (%s, chart %s %s): %s", app.Name, app.Env, app.Chart, app.Version, p)
						}
					}
				})
			}
			t.Run("broken values fail", func(t *testing.T) {
				testIstioBroken(t, ie, apps)
			})
		})
	}
}

// testIstioBroken breaks the values of the real Applications in ways the checks must catch.
func testIstioBroken(t *testing.T, ie *istioEnv, apps map[string]*istioApp) {
	t.Helper()
	for _, tc := range []brokenValues{
		{"misspelled key in a chart with a values schema", "istio-ingressgateway",
			func(v map[string]any) { v["nodeSelectr"] = v["nodeSelector"] }, "nodeSelectr"},
		{"misspelled key in a chart without a values schema", "istiod",
			func(v map[string]any) {
				istioSub(v, "pilot")["nodeSelecter"] = map[string]any{nodegroupLabel: "system"}
			}, "pilot.nodeSelecter"},
		{"gateway on the wrong nodegroup", "istio-ingressgateway",
			func(v map[string]any) { v["nodeSelector"] = map[string]any{nodegroupLabel: "app"} }, `allows ["app"]; want ["ingress"]`},
		{"gateway pods not selected by istio-config's AuthorizationPolicy", "istio-ingressgateway",
			func(v map[string]any) { istioSub(v, "labels")["istio"] = "gateway" }, "selects no pod"},
		{"egress gateway Service missing", "istio-egressgateway",
			func(v map[string]any) { istioSub(v, "service")["type"] = "None" }, "Service/istio-egress/istio-egressgateway"},
		{"istiod without the tracing provider", "istiod",
			func(v map[string]any) { delete(istioSub(v, "meshConfig"), "extensionProviders") }, `lack "jaeger"`},
		{"misspelled mesh config field", "istiod",
			func(v map[string]any) { istioSub(v, "meshConfig")["enableTraceing"] = true }, "enableTraceing"},
		{"sidecars without CNI", "istiod",
			func(v map[string]any) { delete(istioSub(v, "pilot"), "cni"); delete(v, "cni") }, "pilot.cni.enabled is not true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertBrokenCaught(t, apps, tc, func(app *istioApp) []string { _, p := checkIstioApp(ie, app); return p })
		})
	}
	t.Run("Istio resources without base's CRDs", func(t *testing.T) {
		if len(ie.istioObjects) == 0 {
			t.Fatal("no chart renders an Istio resource: the CRD coverage check has nothing to check")
		}
		if problems := ie.checkServed(nil); len(problems) != len(ie.istioObjects) {
			t.Errorf("without base's CRDs, %d of %d Istio resources were reported", len(problems), len(ie.istioObjects))
		} else {
			t.Logf("caught: %s", problems[0])
		}
	})
}

// brokenValues is one way of breaking a real Application's values that the checks must catch.
type brokenValues struct {
	name, app string
	edit      func(values map[string]any)
	want      string // a substring of one of the problems
}

// assertBrokenCaught applies tc to a copy of the Application's values and fails unless
// check reports a problem mentioning tc.want.
func assertBrokenCaught(t *testing.T, apps map[string]*istioApp, tc brokenValues, check func(*istioApp) []string) {
	t.Helper()
	orig, ok := apps[tc.app]
	if !ok {
		t.Fatalf("no Application %s to break", tc.app)
	}
	broken := *orig
	broken.Values = istioCopy(orig.Values)
	tc.edit(broken.Values)
	problems := check(&broken)
	for _, p := range problems {
		if strings.Contains(p, tc.want) {
			t.Logf("caught: %s", p)
			return
		}
	}
	t.Errorf("Application %s (%s) with broken values passed (no problem mentions %q); problems: %q",
		tc.app, broken.Env, tc.want, problems)
}

// renderValidated renders every chart of env (policies are other tests' business) and
// fails the test when one of charts has a finding.
func renderValidated(t *testing.T, env string, charts ...string) *validate.Result {
	t.Helper()
	res, err := (&validate.Validator{Root: root, Envs: []string{env}, SkipPolicies: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Report.Findings {
		if slices.Contains(charts, f.Chart) {
			t.Errorf("%s does not validate in %s: %s %s %s: %s", f.Chart, env, f.File, f.Object, f.Path, f.Message)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return res
}

// istioApps renders the repository's Istio Applications and istio-config in env, and returns
// the grandchildren by name; it fills ie.tracingProviders from istio-config's Telemetry.
func istioApps(t *testing.T, env string, ie *istioEnv) map[string]*istioApp {
	t.Helper()
	// Every chart, for the Istio resources they use.
	res := renderValidated(t, env, istioAppsChart, istioConfigChart)
	apps := map[string]*istioApp{}
	for _, r := range res.Renders {
		for _, o := range r.Objects {
			if strings.HasSuffix(strings.Split(o.APIVersion, "/")[0], ".istio.io") {
				ie.istioObjects = append(ie.istioObjects, istioUse{chart: r.Chart.ID, obj: o})
			}
			switch {
			case r.Chart.ID == istioAppsChart && o.Kind == "Application":
				apps[o.Name] = istioAppOf(t, env, o)
			case r.Chart.ID == istioConfigChart && o.Kind == "AuthorizationPolicy":
				ie.authz = append(ie.authz, o)
			case r.Chart.ID == istioConfigChart && o.Kind == "Telemetry":
				for _, tr := range istioList(istioDig(o.Body, "spec", "tracing")) {
					for _, p := range istioList(istioDig(tr, "providers")) {
						if n, _ := istioDig(p, "name").(string); n != "" && !slices.Contains(ie.tracingProviders, n) {
							ie.tracingProviders = append(ie.tracingProviders, n)
						}
					}
				}
			}
		}
	}
	if len(ie.tracingProviders) == 0 {
		t.Fatalf("%s renders no Telemetry with a tracing provider in %s", istioConfigChart, env)
	}
	for name := range istioGrandchildren {
		if apps[name] == nil {
			t.Errorf("%s renders no Application %s in %s", istioAppsChart, name, env)
		}
	}
	for name := range apps {
		if _, ok := istioGrandchildren[name]; !ok {
			t.Errorf("%s renders Application %s in %s, which this test does not know: add it to istioGrandchildren", istioAppsChart, name, env)
		}
	}
	return apps
}

// istioAppOf reads what Argo CD would install from a rendered Application.
func istioAppOf(t *testing.T, env string, o *render.Object) *istioApp {
	t.Helper()
	a := &istioApp{Name: o.Name, Env: env}
	src, _ := istioDig(o.Body, "spec", "source").(map[string]any)
	if src == nil {
		a.problems = append(a.problems, "spec.source: missing (multiple sources are not handled by this test)")
		return a
	}
	a.Chart, _ = src["chart"].(string)
	a.RepoURL, _ = src["repoURL"].(string)
	a.Version, _ = src["targetRevision"].(string)
	a.Namespace, _ = istioDig(o.Body, "spec", "destination", "namespace").(string)
	helm, _ := src["helm"].(map[string]any)
	a.ReleaseName, _ = helm["releaseName"].(string)
	if a.ReleaseName == "" {
		a.ReleaseName = a.Name // Argo CD's default
	}
	for _, k := range []string{"parameters", "fileParameters", "valueFiles"} {
		if helm[k] != nil {
			a.problems = append(a.problems, fmt.Sprintf("spec.source.helm.%s: set, but this test only reads values and valuesObject", k))
		}
	}
	vo, hasObject := helm["valuesObject"].(map[string]any)
	vs, hasString := helm["values"].(string)
	switch {
	case hasObject && hasString:
		a.problems = append(a.problems, "spec.source.helm: both values and valuesObject are set")
	case hasObject:
		a.Values = vo
	case hasString:
		if err := yaml.Unmarshal([]byte(vs), &a.Values); err != nil {
			a.problems = append(a.problems, "spec.source.helm.values: not YAML: "+err.Error())
		}
	}
	if a.Values == nil {
		a.Values = map[string]any{}
	}
	return a
}

// checkIstioApp renders the real chart with the Application's values and returns the objects
// and every problem found, each naming the object and field it is about.
func checkIstioApp(ie *istioEnv, app *istioApp) ([]*render.Object, []string) {
	problems := slices.Clone(app.problems)
	want := istioGrandchildren[app.Name]
	if app.RepoURL != istiocharts.RepoURL {
		problems = append(problems, fmt.Sprintf("spec.source.repoURL: %q, want Istio's chart repository %s", app.RepoURL, istiocharts.RepoURL))
	}
	if app.Chart != want.chart {
		problems = append(problems, fmt.Sprintf("spec.source.chart: %q, want %q", app.Chart, want.chart))
		return nil, problems
	}
	if app.Namespace != want.namespace {
		problems = append(problems, fmt.Sprintf("spec.destination.namespace: %q, want %q", app.Namespace, want.namespace))
	}
	if !strings.HasPrefix(app.Version, ie.sourceVersion+".") {
		problems = append(problems, fmt.Sprintf("spec.source.targetRevision: %q, but the charts checked here are Istio %s (%s@%s): move both together",
			app.Version, ie.sourceVersion, istiocharts.Module, istiocharts.Version))
	}
	ch, err := istiocharts.Load(ie.moduleDir, app.Chart, app.Version)
	if err != nil {
		return nil, append(problems, err.Error())
	}
	if ch.Schema == nil {
		// No values.schema.json: Helm would ignore a misspelled key. meshConfig is a protobuf
		// message passed through to istiod; its fields are checked below, on the render.
		// resources is a ResourceRequirements the charts render key by key (their defaults
		// hold only requests); global.enableReaderRBAC is read with `dig` by istiod's
		// reader-clusterrole templates, with no default in values.yaml.
		for _, p := range istiocharts.UnknownKeys(ch, app.Chart, app.Values, "meshConfig", "resources", "pilot.resources", "global.enableReaderRBAC") {
			problems = append(problems, fmt.Sprintf("values key %s: not a value of chart %s (not in its values.yaml defaults; Helm would ignore it)", p, app.Chart))
		}
	}
	objs, err := istiocharts.Render(ch, app.Values, app.ReleaseName, app.Namespace, ie.apiVersions)
	if err != nil {
		return nil, append(problems, fmt.Sprintf("chart %s rejects the values: %v", app.Chart, err))
	}
	problems = append(problems, ie.checkSchemas(objs)...)
	problems = append(problems, ie.checkWiring(app, objs)...)
	return objs, problems
}

// checkServed checks that the CRDs the base chart renders serve every Istio resource the
// repository's charts render (group, version and kind), so none waits for a CRD that
// istio-base does not install.
func (ie *istioEnv) checkServed(baseObjs []*render.Object) []string {
	served := map[string]bool{} // "group/version Kind"
	for _, o := range baseObjs {
		if o.Kind != "CustomResourceDefinition" {
			continue
		}
		group, _ := istioDig(o.Body, "spec", "group").(string)
		kind, _ := istioDig(o.Body, "spec", "names", "kind").(string)
		for _, v := range istioList(istioDig(o.Body, "spec", "versions")) {
			name, _ := istioDig(v, "name").(string)
			if on, _ := istioDig(v, "served").(bool); on {
				served[group+"/"+name+" "+kind] = true
			}
		}
	}
	var problems []string
	for _, u := range ie.istioObjects {
		if !served[u.obj.APIVersion+" "+u.obj.Kind] {
			problems = append(problems, fmt.Sprintf("%s %s (chart %s, %s): no CustomResourceDefinition rendered by base serves %s %s",
				u.obj.APIVersion, u.obj.ID(), u.chart, u.obj.Template, u.obj.APIVersion, u.obj.Kind))
		}
	}
	return problems
}

// checkSchemas validates every rendered object strictly; CRDs the base chart renders are
// validated as apiextensions.k8s.io/v1 CustomResourceDefinition like any other object.
func (ie *istioEnv) checkSchemas(objs []*render.Object) []string {
	var problems []string
	for _, o := range objs {
		key := o.APIVersion + " " + o.Kind
		if !ie.known[key] {
			if _, ok := istioKindsWithoutSchema[key]; !ok {
				problems = append(problems, fmt.Sprintf("%s %s (%s): no schema for this kind in pkg/schema; add its CRD or list it in istioKindsWithoutSchema with a reason", o.APIVersion, o.ID(), o.Template))
			}
			continue
		}
		vs, err := ie.schemas.Validate(o.Body)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %s (%s): %v", o.APIVersion, o.ID(), o.Template, err))
			continue
		}
		for _, v := range vs {
			problems = append(problems, fmt.Sprintf("%s %s (%s): %s", o.APIVersion, o.ID(), o.Template, v))
		}
	}
	return problems
}

// checkWiring checks what DESIGN.md asks of each grandchild beyond valid objects.
func (ie *istioEnv) checkWiring(app *istioApp, objs []*render.Object) []string {
	var problems []string
	find := func(kind, ns, name string) *render.Object {
		for _, o := range objs {
			if o.Kind == kind && o.Namespace == ns && o.Name == name {
				return o
			}
		}
		problems = append(problems, fmt.Sprintf("%s/%s/%s: not rendered", kind, ns, name))
		return nil
	}
	placed := func(o *render.Object, want ...string) {
		if o == nil {
			return
		}
		pod, _ := istioDig(o.Body, "spec", "template", "spec").(map[string]any)
		got, constrained := istioNodegroups(pod)
		switch {
		case !constrained:
			problems = append(problems, fmt.Sprintf("%s: spec.template.spec: no nodeSelector or required node affinity on %s; want %s",
				o.ID(), nodegroupLabel, strings.Join(want, ", ")))
		case !slices.Equal(got, want):
			problems = append(problems, fmt.Sprintf("%s: spec.template.spec: %s allows %q; want %q",
				o.ID(), nodegroupLabel, got, want))
		}
	}
	switch app.Name {
	case "istio-base":
		crds := 0
		for _, o := range objs {
			if o.Kind == "CustomResourceDefinition" {
				crds++
			}
		}
		if crds == 0 {
			problems = append(problems, "no CustomResourceDefinition rendered: base must install Istio's CRDs")
		}
	case "istio-cni":
		// A node agent: it must run wherever meshed pods start, i.e. on every nodegroup.
		if ds := find("DaemonSet", "istio-system", "istio-cni-node"); ds != nil {
			pod, _ := istioDig(ds.Body, "spec", "template", "spec").(map[string]any)
			if got, constrained := istioNodegroups(pod); constrained {
				for _, ng := range []string{"app", "deploy", "ingress", "system"} {
					if !slices.Contains(got, ng) {
						problems = append(problems, fmt.Sprintf("%s: spec.template.spec: %s allows %q, not %q where meshed pods run",
							ds.ID(), nodegroupLabel, got, ng))
					}
				}
			}
		}
	case "istiod":
		placed(find("Deployment", "istio-system", "istiod"), "system")
		if cm := find("ConfigMap", "istio-system", "istio"); cm != nil {
			problems = append(problems, ie.checkMesh(cm)...)
		}
		// H13: no istio-init with NET_ADMIN/NET_RAW; the injector renders pods from these values.
		if cm := find("ConfigMap", "istio-system", "istio-sidecar-injector"); cm != nil {
			var vals map[string]any
			s, _ := istioDig(cm.Body, "data", "values").(string)
			if err := yaml.Unmarshal([]byte(s), &vals); err != nil {
				problems = append(problems, fmt.Sprintf("%s: data.values: %v", cm.ID(), err))
			} else if on, _ := istioDig(vals, "pilot", "cni", "enabled").(bool); !on {
				problems = append(problems, fmt.Sprintf("%s: data.values: pilot.cni.enabled is not true: injected sidecars would get istio-init with NET_ADMIN/NET_RAW (set cni.enabled or pilot.cni.enabled)", cm.ID()))
			}
		}
	case "istio-ingressgateway":
		d := find("Deployment", "istio-ingress", "istio-ingressgateway")
		placed(d, "ingress")
		problems = append(problems, ie.checkSelected(d)...)
		if svc := find("Service", "istio-ingress", "istio-ingressgateway"); svc != nil {
			want, ok := ingressServiceType[app.Env]
			if got, _ := istioDig(svc.Body, "spec", "type").(string); !ok {
				problems = append(problems, fmt.Sprintf("%s: no expected type for environment %q in ingressServiceType", svc.ID(), app.Env))
			} else if got != want {
				problems = append(problems, fmt.Sprintf("%s: spec.type is %q, want %q in %s", svc.ID(), got, want, app.Env))
			}
		}
	case "istio-egressgateway":
		d := find("Deployment", "istio-egress", "istio-egressgateway")
		placed(d, "ingress")
		problems = append(problems, ie.checkSelected(d)...)
		find("Service", "istio-egress", "istio-egressgateway")
	}
	return problems
}

// checkSelected checks that every AuthorizationPolicy of infra/istio-config in the gateway's
// namespace that has a selector selects the gateway's pods: with the namespace's deny-all,
// a policy that selects nothing leaves the gateway closed.
func (ie *istioEnv) checkSelected(d *render.Object) []string {
	if d == nil {
		return nil
	}
	labels, _ := istioDig(d.Body, "spec", "template", "metadata", "labels").(map[string]any)
	var problems []string
	for _, ap := range ie.authz {
		if ap.Namespace != d.Namespace {
			continue
		}
		sel, _ := istioDig(ap.Body, "spec", "selector", "matchLabels").(map[string]any)
		if len(sel) == 0 {
			continue
		}
		for k, v := range sel {
			if labels[k] != v {
				problems = append(problems, fmt.Sprintf("%s: spec.selector.matchLabels %v (%s) selects no pod of %s, whose labels are %v",
					ap.ID(), sel, istioConfigChart, d.ID(), labels))
				break
			}
		}
	}
	return problems
}

// checkMesh checks istiod's mesh config: every field must be one of istio.io/api's MeshConfig,
// and the tracing providers infra/istio-config's Telemetry names must be extension providers.
func (ie *istioEnv) checkMesh(cm *render.Object) []string {
	s, _ := istioDig(cm.Body, "data", "mesh").(string)
	var mesh map[string]any
	if err := yaml.Unmarshal([]byte(s), &mesh); err != nil {
		return []string{fmt.Sprintf("%s: data.mesh: %v", cm.ID(), err)}
	}
	var have []string
	for _, p := range istioList(mesh["extensionProviders"]) {
		if n, _ := istioDig(p, "name").(string); n != "" {
			have = append(have, n)
		}
	}
	var problems []string
	// istiod reads this with protobuf's strict unmarshalling: a misspelled field is an error.
	for _, p := range ie.protos.UnknownFields("istio.mesh.v1alpha1.MeshConfig", mesh) {
		problems = append(problems, fmt.Sprintf("%s: data.mesh: %s: not a field of istio.mesh.v1alpha1.MeshConfig (%s@%s) (from the values key meshConfig)",
			cm.ID(), p, istiocharts.APIModule, istiocharts.APIVersion))
	}
	for _, want := range ie.tracingProviders {
		if !slices.Contains(have, want) {
			problems = append(problems, fmt.Sprintf("%s: data.mesh: extensionProviders %q lack %q, the tracing provider %s's Telemetry uses",
				cm.ID(), have, want, istioConfigChart))
		}
	}
	return problems
}

// istioNodegroups returns the nodegroups a pod may be scheduled on (sorted) according to its
// nodeSelector and required node affinity on node.kubernetes.io/nodegroup; constrained is
// false when neither restricts the label.
func istioNodegroups(pod map[string]any) (groups []string, constrained bool) {
	var sets [][]string
	if v, ok := istioDig(pod, "nodeSelector", nodegroupLabel).(string); ok {
		sets = append(sets, []string{v})
	}
	terms := istioList(istioDig(pod, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"))
	if len(terms) > 0 {
		// Terms are ORed: the union, unless a term leaves the label free.
		var union []string
		free := false
		for _, term := range terms {
			var in []string
			termConstrained := false
			for _, e := range istioList(istioDig(term, "matchExpressions")) {
				if k, _ := istioDig(e, "key").(string); k != nodegroupLabel {
					continue
				}
				if op, _ := istioDig(e, "operator").(string); op != "In" {
					continue
				}
				vals := []string{}
				for _, v := range istioList(istioDig(e, "values")) {
					if s, ok := v.(string); ok {
						vals = append(vals, s)
					}
				}
				if termConstrained {
					in = istioIntersect(in, vals)
				} else {
					in, termConstrained = vals, true
				}
			}
			if !termConstrained {
				free = true
			}
			union = append(union, in...)
		}
		if !free {
			sets = append(sets, union)
		}
	}
	if len(sets) == 0 {
		return nil, false
	}
	groups = sets[0]
	for _, s := range sets[1:] {
		groups = istioIntersect(groups, s)
	}
	groups = slices.Compact(slices.Sorted(slices.Values(groups)))
	return groups, true
}

func istioIntersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func istioDig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func istioList(v any) []any {
	l, _ := v.([]any)
	return l
}

// istioSub returns m[k] as a map, creating it if needed.
func istioSub(m map[string]any, k string) map[string]any {
	s, ok := m[k].(map[string]any)
	if !ok {
		s = map[string]any{}
		m[k] = s
	}
	return s
}

func istioCopy(v map[string]any) map[string]any {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func istioSortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
