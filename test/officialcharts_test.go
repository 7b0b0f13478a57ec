package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/microservices-manifests/microservices-manifests/internal/istiocharts"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
)

const (
	infraAppsChart   = "deploy/argocd/infra"
	infraSharedChart = "infra/shared"
	// sharedCharts holds the official charts packaged for offline tests (../shared/charts,
	// beside the repository; a user's clone has none).
	sharedCharts    = "../shared/charts"
	eksClusterFile  = "deploy/eks/cluster-prd.yaml"
	officialEnv     = "prd"
	albIngressClass = "alb"
)

// officialCharts are the Applications of official charts whose prd values this test checks
// against the charts' real templates, with the chart each must install.
var officialCharts = map[string]string{
	"kube-prometheus-stack":        "kube-prometheus-stack",
	"kiali":                        "kiali-server",
	"jaeger":                       "jaeger",
	"aws-load-balancer-controller": "aws-load-balancer-controller",
}

// officialEnvData is what the checks of the official charts share: our own prd objects that
// the official charts' objects refer to.
type officialEnvData struct {
	clusterName  string                    // deploy/eks/cluster-prd.yaml metadata.name
	storageClass map[string]*render.Object // our charts' StorageClasses, by name
	secrets      map[string]*render.Object // our charts' Secrets, "namespace/name"
	declared     map[string]bool           // secrets.yaml paths of infra/shared in prd
	schemas      *schema.Validator
	apiVersions  []string
	available    map[string][]*semver.Version // chart name -> the versions in ../shared/charts
}

// TestOfficialChartsAcceptOurValues renders the official charts (the packaged copies in
// ../shared/charts) with the values our prd Applications pass them (spec.source.helm of the
// Applications deploy/argocd/infra renders), as Argo CD would (release name, destination
// namespace, Kubernetes 1.35 and our API versions), and checks the day-one production fixes
// on the objects Argo CD would apply:
//   - kube-prometheus-stack: the Prometheus and Alertmanager Ingresses (class alb) match by
//     pathType Prefix (an ImplementationSpecific `/` matches only `/` on an ALB); the
//     Prometheus CR keeps its TSDB on a volumeClaimTemplate of the StorageClass gp3, which
//     infra/shared renders (EBS CSI, gp3, encrypted, WaitForFirstConsumer); Grafana's admin
//     user and password come from a Secret that infra/shared renders from declared secrets
//     (secrets.yaml), not from the chart (whose default is a generated or literal password);
//   - Kiali: its Ingress has spec.ingressClassName alb (the chart ignores class_name once
//     override_yaml.spec is set);
//   - Jaeger: its Ingress (class alb) matches by pathType Prefix;
//   - the AWS Load Balancer Controller: its Deployment on nodegroup system with 2 replicas
//     and the cluster name of deploy/eks/cluster-prd.yaml, its ServiceAccount annotated with
//     the IRSA role, the IngressClass alb the Ingresses name.
//
// Broken values must fail, so the checks are known to bite.
//
// ../shared/charts holds the newest versions available offline, which may differ from the
// pins (another issue decides the pins): the closest available version is rendered, and the
// test says so in its log. Without ../shared (a user's clone) the test skips.
func TestOfficialChartsAcceptOurValues(t *testing.T) {
	od := officialSetup(t)
	apps := officialApps(t, od)
	for _, name := range istioSortedNames(officialCharts) {
		app := apps[name]
		t.Run(name, func(t *testing.T) {
			if _, got, err := officialChart(od, app.Chart, app.Version); err == nil && got != app.Version {
				t.Logf("%s pins %s %s; %s has %v: rendering %s, the closest (the pin is another issue's decision)",
					app.Name, app.Chart, app.Version, sharedCharts, od.available[app.Chart], got)
			}
			objs, problems := checkOfficialApp(od, app)
			for _, p := range problems {
				t.Errorf("Application %s (%s, chart %s %s): %s", app.Name, app.Env, app.Chart, app.Version, p)
			}
			if len(objs) == 0 && len(problems) == 0 {
				t.Errorf("Application %s: chart %s rendered nothing", app.Name, app.Chart)
			}
		})
	}
	t.Run("broken values fail", func(t *testing.T) {
		testOfficialBroken(t, od, apps)
	})
}

// testOfficialBroken breaks the values of the real Applications in ways the checks must catch.
func testOfficialBroken(t *testing.T, od *officialEnvData, apps map[string]*istioApp) {
	t.Helper()
	kiali := func(v map[string]any) map[string]any {
		return istioSub(istioSub(istioSub(v, "deployment"), "ingress"), "override_yaml")
	}
	for _, tc := range []brokenValues{
		{"Prometheus Ingress with the chart's pathType", "kube-prometheus-stack",
			func(v map[string]any) { delete(istioSub(istioSub(v, "prometheus"), "ingress"), "pathType") }, "pathType"},
		{"Alertmanager Ingress with the chart's pathType", "kube-prometheus-stack",
			func(v map[string]any) { delete(istioSub(istioSub(v, "alertmanager"), "ingress"), "pathType") }, "alertmanager"},
		{"Prometheus on an emptyDir", "kube-prometheus-stack",
			func(v map[string]any) { delete(istioSub(istioSub(v, "prometheus"), "prometheusSpec"), "storageSpec") }, "spec.storage"},
		{"Prometheus on a StorageClass nobody renders", "kube-prometheus-stack",
			func(v map[string]any) {
				vct := v
				for _, k := range []string{"prometheus", "prometheusSpec", "storageSpec", "volumeClaimTemplate", "spec"} {
					vct = istioSub(vct, k)
				}
				vct["storageClassName"] = "gp2"
			}, `"gp2"`},
		{"Grafana with the chart's admin password", "kube-prometheus-stack",
			func(v map[string]any) { delete(istioSub(v, "grafana"), "admin") }, "GF_SECURITY_ADMIN_PASSWORD"},
		{"Grafana reading a Secret nobody renders", "kube-prometheus-stack",
			func(v map[string]any) { istioSub(istioSub(v, "grafana"), "admin")["existingSecret"] = "grafana" }, "prometheus/grafana"},
		{"Kiali's class only in class_name", "kiali",
			func(v map[string]any) {
				delete(istioSub(kiali(v), "spec"), "ingressClassName")
				istioSub(istioSub(v, "deployment"), "ingress")["class_name"] = "alb"
			}, "ingressClassName"},
		{"Jaeger Ingress with the chart's pathType", "jaeger",
			func(v map[string]any) { delete(istioSub(istioSub(v, "jaeger"), "ingress"), "pathType") }, "ImplementationSpecific"},
		{"load balancer controller off the system nodegroup", "aws-load-balancer-controller",
			func(v map[string]any) { v["nodeSelector"] = map[string]any{nodegroupLabel: "app"} }, `allows ["app"]; want ["system"]`},
		{"load balancer controller without its IRSA role", "aws-load-balancer-controller",
			func(v map[string]any) { delete(istioSub(v, "serviceAccount"), "annotations") }, "eks.amazonaws.com/role-arn"},
		{"load balancer controller of another cluster", "aws-load-balancer-controller",
			func(v map[string]any) { v["clusterName"] = "microservices-dev" }, "--cluster-name"},
		{"a single load balancer controller", "aws-load-balancer-controller",
			func(v map[string]any) { v["replicaCount"] = 1 }, "replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertBrokenCaught(t, apps, tc, func(app *istioApp) []string { _, p := checkOfficialApp(od, app); return p })
		})
	}
}

// officialSetup finds the packaged charts (skipping without ../shared/charts) and reads what
// the checks compare against: the EKS cluster's name and secrets.yaml.
func officialSetup(t *testing.T) *officialEnvData {
	t.Helper()
	dir := filepath.Join(root, sharedCharts)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no packaged official charts in %s beside the repository (a clone without ../shared): %v", sharedCharts, err)
	}
	schemas, err := schema.New()
	if err != nil {
		t.Fatal(err)
	}
	od := &officialEnvData{schemas: schemas, apiVersions: render.APIVersions(schemas.Kinds()),
		available: officialVersions(entries), declared: map[string]bool{}}
	for _, chart := range officialCharts {
		if len(od.available[chart]) == 0 {
			t.Fatalf("%s has no package of chart %s (have %v)", sharedCharts, chart, od.available)
		}
	}
	var cluster struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	data, err := os.ReadFile(filepath.Join(root, eksClusterFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &cluster); err != nil || cluster.Metadata.Name == "" {
		t.Fatalf("%s: no metadata.name (%v)", eksClusterFile, err)
	}
	od.clusterName = cluster.Metadata.Name
	decl, err := secrets.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range decl.For(infraSharedChart, officialEnv) {
		od.declared[s.Path] = true
	}
	return od
}

// officialVersions reads the chart versions of ../shared/charts' <chart>-<version>.tgz files.
func officialVersions(entries []os.DirEntry) map[string][]*semver.Version {
	out := map[string][]*semver.Version{}
	tgz := regexp.MustCompile(`^(.+)-([0-9]+\.[0-9]+\.[0-9]+)\.tgz$`)
	for _, e := range entries {
		if m := tgz.FindStringSubmatch(e.Name()); m != nil {
			out[m[1]] = append(out[m[1]], semver.MustParse(m[2]))
		}
	}
	return out
}

// officialChart returns the package of chart closest to version: that version if available,
// else the newest below it, else the oldest above it.
func officialChart(od *officialEnvData, chart, version string) (path, got string, err error) {
	want, err := semver.NewVersion(version)
	if err != nil {
		return "", "", fmt.Errorf("pin %q of chart %s is not a version: %w", version, chart, err)
	}
	var below, above *semver.Version
	for _, v := range od.available[chart] {
		switch {
		case v.Equal(want):
			return officialPath(chart, v), v.Original(), nil
		case v.LessThan(want):
			if below == nil || v.GreaterThan(below) {
				below = v
			}
		case above == nil || v.LessThan(above):
			above = v
		}
	}
	pick := below
	if pick == nil {
		pick = above
	}
	if pick == nil {
		return "", "", fmt.Errorf("%s has no package of chart %s", sharedCharts, chart)
	}
	return officialPath(chart, pick), pick.Original(), nil
}

func officialPath(chart string, v *semver.Version) string {
	return filepath.Join(root, sharedCharts, chart+"-"+v.Original()+".tgz")
}

// officialApps renders the repository's prd charts and returns the Applications of
// officialCharts by name; it fills od with our StorageClasses and Secrets.
func officialApps(t *testing.T, od *officialEnvData) map[string]*istioApp {
	t.Helper()
	res := renderValidated(t, officialEnv, infraAppsChart, infraSharedChart)
	od.storageClass, od.secrets = map[string]*render.Object{}, map[string]*render.Object{}
	apps := map[string]*istioApp{}
	for _, r := range res.Renders {
		for _, o := range r.Objects {
			switch {
			case r.Chart.ID == infraAppsChart && o.Kind == "Application":
				if _, ok := officialCharts[o.Name]; ok {
					apps[o.Name] = istioAppOf(t, officialEnv, o)
				}
			case o.Kind == "StorageClass":
				od.storageClass[o.Name] = o
			case o.Kind == "Secret" && o.APIVersion == "v1":
				od.secrets[o.Namespace+"/"+o.Name] = o
			}
		}
	}
	for name := range officialCharts {
		if apps[name] == nil {
			t.Errorf("%s renders no Application %s in %s", infraAppsChart, name, officialEnv)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return apps
}

// checkOfficialApp renders the official chart with the Application's values and returns the
// objects and every problem found, each naming the object and field it is about.
func checkOfficialApp(od *officialEnvData, app *istioApp) ([]*render.Object, []string) {
	problems := slices.Clone(app.problems)
	if want := officialCharts[app.Name]; app.Chart != want {
		return nil, append(problems, fmt.Sprintf("spec.source.chart: %q, want %q", app.Chart, want))
	}
	path, got, err := officialChart(od, app.Chart, app.Version)
	if err != nil {
		return nil, append(problems, err.Error())
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, append(problems, fmt.Sprintf("load %s: %v", path, err))
	}
	objs, err := istiocharts.Render(ch, app.Values, app.ReleaseName, app.Namespace, od.apiVersions)
	if err != nil {
		return nil, append(problems, fmt.Sprintf("chart %s %s rejects the values: %v", app.Chart, got, err))
	}
	objs, err = officialFlatten(objs, app.Namespace)
	if err != nil {
		return nil, append(problems, fmt.Sprintf("chart %s %s: %v", app.Chart, got, err))
	}
	c := &officialCheck{od: od, objs: objs}
	switch app.Name {
	case "kube-prometheus-stack":
		for _, name := range []string{"kube-prometheus-stack-prometheus", "kube-prometheus-stack-alertmanager"} {
			c.prefixIngress(c.find("Ingress", app.Namespace, name))
		}
		c.storage(c.find("Prometheus", app.Namespace, "kube-prometheus-stack-prometheus"))
		c.storage(c.find("Alertmanager", app.Namespace, "kube-prometheus-stack-alertmanager"))
		c.grafanaAdmin(c.find("Deployment", app.Namespace, "kube-prometheus-stack-grafana"))
	case "kiali":
		if ing := c.find("Ingress", app.Namespace, "kiali"); ing != nil {
			c.validate(ing)
			if got, _ := istioDig(ing.Body, "spec", "ingressClassName").(string); got != albIngressClass {
				c.add("%s: spec.ingressClassName is %q, want %q (with override_yaml.spec set the chart ignores class_name: put ingressClassName in the spec)",
					ing.ID(), got, albIngressClass)
			}
		}
	case "jaeger":
		c.prefixIngress(c.find("Ingress", app.Namespace, "jaeger-query"))
	case "aws-load-balancer-controller":
		c.loadBalancerController(app)
	}
	return objs, append(problems, c.problems...)
}

// officialCheck collects the problems of one Application's rendered objects.
type officialCheck struct {
	od       *officialEnvData
	objs     []*render.Object
	problems []string
}

func (c *officialCheck) add(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *officialCheck) find(kind, ns, name string) *render.Object {
	for _, o := range c.objs {
		if o.Kind == kind && o.Namespace == ns && o.Name == name {
			return o
		}
	}
	c.add("%s/%s/%s: not rendered", kind, ns, name)
	return nil
}

// validate checks an object against our strict schemas (the fields the checks read exist
// where Kubernetes reads them).
func (c *officialCheck) validate(o *render.Object) {
	vs, err := c.od.schemas.Validate(o.Body)
	if err != nil {
		c.add("%s (%s): %v", o.ID(), o.Template, err)
	}
	for _, v := range vs {
		c.add("%s (%s): %s", o.ID(), o.Template, v)
	}
}

// prefixIngress checks an ALB Ingress: class alb, every path `Prefix`.
func (c *officialCheck) prefixIngress(ing *render.Object) {
	if ing == nil {
		return
	}
	c.validate(ing)
	if got, _ := istioDig(ing.Body, "spec", "ingressClassName").(string); got != albIngressClass {
		c.add("%s: spec.ingressClassName is %q, want %q", ing.ID(), got, albIngressClass)
	}
	n := 0
	for i, rule := range istioList(istioDig(ing.Body, "spec", "rules")) {
		for j, p := range istioList(istioDig(rule, "http", "paths")) {
			n++
			if pt, _ := istioDig(p, "pathType").(string); pt != "Prefix" {
				path, _ := istioDig(p, "path").(string)
				c.add("%s: spec.rules[%d].http.paths[%d]: path %q has pathType %q, want Prefix (on an ALB an ImplementationSpecific %q matches that path only)",
					ing.ID(), i, j, path, pt, path)
			}
		}
	}
	if n == 0 {
		c.add("%s: no path", ing.ID())
	}
}

// storage checks that the Prometheus CR keeps its TSDB on a claim of a StorageClass we render
// for EBS gp3 volumes.
func (c *officialCheck) storage(p *render.Object) {
	if p == nil {
		return
	}
	c.validate(p)
	vct, _ := istioDig(p.Body, "spec", "storage", "volumeClaimTemplate", "spec").(map[string]any)
	if vct == nil {
		c.add("%s: spec.storage.volumeClaimTemplate.spec: missing, its data is an emptyDir that a restart empties (set prometheus.prometheusSpec.storageSpec, alertmanager.alertmanagerSpec.storage)", p.ID())
		return
	}
	if size, _ := istioDig(vct, "resources", "requests", "storage").(string); size == "" {
		c.add("%s: spec.storage.volumeClaimTemplate.spec.resources.requests.storage: missing", p.ID())
	}
	name, _ := vct["storageClassName"].(string)
	sc := c.od.storageClass[name]
	if name != "gp3" || sc == nil {
		c.add("%s: spec.storage.volumeClaimTemplate.spec.storageClassName is %q, want \"gp3\", a StorageClass %s renders in %s (have %v)",
			p.ID(), name, infraSharedChart, officialEnv, istioSortedNames(c.od.storageClass))
		return
	}
	for _, want := range []struct {
		path  []string
		value string
	}{
		{[]string{"provisioner"}, "ebs.csi.aws.com"},
		{[]string{"parameters", "type"}, "gp3"},
		{[]string{"parameters", "encrypted"}, "true"},
		{[]string{"volumeBindingMode"}, "WaitForFirstConsumer"},
	} {
		if got := fmt.Sprint(istioDig(sc.Body, want.path...)); got != want.value {
			c.add("%s (%s): %s is %q, want %q", sc.ID(), infraSharedChart, strings.Join(want.path, "."), got, want.value)
		}
	}
}

// grafanaAdmin checks that Grafana's admin user and password come from a Secret our charts
// render from declared secrets, and that the chart renders no admin password of its own.
func (c *officialCheck) grafanaAdmin(d *render.Object) {
	if d == nil {
		return
	}
	var container map[string]any
	for _, ct := range istioList(istioDig(d.Body, "spec", "template", "spec", "containers")) {
		if n, _ := istioDig(ct, "name").(string); n == "grafana" {
			container, _ = ct.(map[string]any)
		}
	}
	if container == nil {
		c.add("%s: no container grafana", d.ID())
		return
	}
	for _, env := range []struct{ name, path string }{
		{"GF_SECURITY_ADMIN_USER", "grafanaAdmin.user"},
		{"GF_SECURITY_ADMIN_PASSWORD", "grafanaAdmin.password"},
	} {
		var ref map[string]any
		for _, e := range istioList(container["env"]) {
			if n, _ := istioDig(e, "name").(string); n == env.name {
				ref, _ = istioDig(e, "valueFrom", "secretKeyRef").(map[string]any)
			}
		}
		if ref == nil {
			c.add("%s: container grafana: env %s is not from a secretKeyRef (set grafana.admin.existingSecret)", d.ID(), env.name)
			continue
		}
		name, _ := ref["name"].(string)
		key, _ := ref["key"].(string)
		s := c.od.secrets[d.Namespace+"/"+name]
		if s == nil {
			c.add("%s: container grafana: env %s reads Secret %s/%s, which none of our %s charts renders", d.ID(), env.name, d.Namespace, name, officialEnv)
			continue
		}
		if _, ok := istioDig(s.Body, "data", key).(string); !ok {
			c.add("%s: container grafana: env %s reads key %q of Secret %s, which has no such key", d.ID(), env.name, key, s.ID())
		}
		if !c.od.declared[env.path] {
			c.add("%s: container grafana: env %s comes from %s, whose value %s is not declared in secrets.yaml for %s", d.ID(), env.name, s.ID(), env.path, officialEnv)
		}
	}
	for _, o := range c.objs {
		if o.Kind != "Secret" {
			continue
		}
		if _, ok := istioDig(o.Body, "data", "admin-password").(string); ok {
			c.add("%s: the chart renders its own admin password (with grafana.admin.existingSecret it would not)", o.ID())
		}
		b, _ := yaml.Marshal(o.Body)
		if strings.Contains(string(b), "prom-operator") {
			c.add("%s: holds the chart's default admin password", o.ID())
		}
	}
}

// loadBalancerController checks the controller's Deployment, ServiceAccount and IngressClass.
func (c *officialCheck) loadBalancerController(app *istioApp) {
	d := c.find("Deployment", app.Namespace, app.ReleaseName)
	sa := c.find("ServiceAccount", app.Namespace, "aws-load-balancer-controller")
	if ic := c.find("IngressClass", "", albIngressClass); ic != nil {
		c.validate(ic)
	}
	if d != nil {
		c.validate(d)
		pod, _ := istioDig(d.Body, "spec", "template", "spec").(map[string]any)
		if got, constrained := istioNodegroups(pod); !constrained || !slices.Equal(got, []string{"system"}) {
			c.add("%s: spec.template.spec: %s allows %q; want [\"system\"]", d.ID(), nodegroupLabel, got)
		}
		if r, _ := istioDig(d.Body, "spec", "replicas").(int); r < 2 {
			c.add("%s: spec.replicas is %v, want 2 (one controller per zone failure)", d.ID(), istioDig(d.Body, "spec", "replicas"))
		}
		if got, _ := pod["serviceAccountName"].(string); sa != nil && got != sa.Name {
			c.add("%s: serviceAccountName %q, want %q (the IRSA ServiceAccount)", d.ID(), got, sa.Name)
		}
		want := "--cluster-name=" + c.od.clusterName
		found := false
		for _, ct := range istioList(pod["containers"]) {
			for _, a := range istioList(istioDig(ct, "args")) {
				found = found || a == want
			}
		}
		if !found {
			c.add("%s: no container argument %s (the cluster of %s)", d.ID(), want, eksClusterFile)
		}
	}
	if sa != nil {
		arn, _ := istioDig(sa.Body, "metadata", "annotations", eksIRSAAnnotation).(string)
		if !regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:role/aws-load-balancer-controller$`).MatchString(arn) {
			c.add("%s: annotation %s is %q, want the IRSA role arn:aws:iam::<account>:role/aws-load-balancer-controller", sa.ID(), eksIRSAAnnotation, arn)
		}
	}
}

// officialFlatten returns the objects as Argo CD applies them: the items of a v1 List (the
// load balancer controller's chart wraps its IngressClass so) in its place, each without a
// namespace in the destination namespace unless its kind is cluster-scoped.
func officialFlatten(objs []*render.Object, namespace string) ([]*render.Object, error) {
	var out []*render.Object
	for _, o := range objs {
		if o.APIVersion != "v1" || o.Kind != "List" {
			out = append(out, o)
			continue
		}
		for i, item := range istioList(o.Body["items"]) {
			b, err := yaml.Marshal(item)
			if err != nil {
				return nil, err
			}
			got, err := render.Decode(b)
			if err != nil || len(got) != 1 {
				return nil, fmt.Errorf("%s (%s): items[%d]: not an object (%v)", o.ID(), o.Template, i, err)
			}
			got[0].Template = o.Template
			out = append(out, got[0])
		}
	}
	for _, o := range out {
		if o.Namespace == "" && officialNamespaced(o.Kind) {
			o.Namespace = namespace
		}
	}
	return out, nil
}

// officialNamespaced reports whether Argo CD puts an object of kind without a namespace into
// the destination namespace (the cluster-scoped kinds the official charts render are not).
func officialNamespaced(kind string) bool {
	switch kind {
	case "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "IngressClass", "IngressClassParams",
		"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Namespace", "StorageClass", "PriorityClass":
		return false
	}
	return true
}
