package gitops

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// nodeGroupOfNamespace is DESIGN.md's node-group table, by the namespace the pods run in.
var nodeGroupOfNamespace = map[string]string{
	"microservices": "app",
	"argocd":        "deploy",
	"istio-ingress": "ingress",
	"istio-egress":  "ingress",
	"istio-system":  "system",
	"prometheus":    "system",
	"jaeger":        "system",
}

// officialPlacement says where, in each official chart's values, the pods are placed:
// Application name -> values paths of blocks holding nodeSelector/affinity.
var officialPlacement = map[string][][]string{
	"kube-prometheus-stack": {
		{"prometheusOperator"}, {"prometheusOperator", "admissionWebhooks", "patch"},
		{"prometheus", "prometheusSpec"}, {"alertmanager", "alertmanagerSpec"},
		{"grafana"}, {"kube-state-metrics"},
	},
	"kiali":                {{"deployment"}},
	"jaeger":               {{"jaeger"}},
	"istiod":               {{"pilot"}},
	"istio-cni":            {{}},
	"istio-ingressgateway": {{}},
	"istio-egressgateway":  {{}},
}

// nodeAgents are DaemonSets that must run on every node where their work is: istio-cni sets
// up the network of every meshed pod, so it must cover the node groups of the meshed
// namespaces (app, ingress) besides its own (system).
var nodeAgents = map[string][]string{"istio-cni": {"app", "ingress", "system"}}

// kiali's chart spells nodeSelector node_selector.
func placementBlock(m map[string]any) map[string]any {
	if ns, ok := m["node_selector"]; ok {
		return map[string]any{"nodeSelector": ns}
	}
	return m
}

func placementProblems(tr *Tree, argocdValues map[string]any) []string {
	var out []string
	// Our charts: every rendered workload's pod template.
	for _, r := range tr.Renders {
		if !strings.HasPrefix(r.Chart.ID, "app/") && !strings.HasPrefix(r.Chart.ID, "infra/") {
			continue
		}
		for _, o := range r.Objects {
			var spec map[string]any
			switch o.Kind {
			case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
				spec = asMap(Get(o.Body, "spec", "template", "spec"))
			case "CronJob":
				spec = asMap(Get(o.Body, "spec", "jobTemplate", "spec", "template", "spec"))
			case "Pod":
				spec = asMap(o.Body["spec"])
			default:
				continue
			}
			want := nodeGroupOfNamespace[o.Namespace]
			if got := NodeGroups(spec); want == "" || !slices.Equal(got, []string{want}) {
				out = append(out, r.Chart.ID+" "+o.ID()+": node groups "+strings.Join(got, ",")+", want "+want)
			}
		}
	}
	// Official charts: their values in the Applications.
	for name, blocks := range officialPlacement {
		n := tr.Find(name)
		if n == nil {
			out = append(out, "no Application "+name)
			continue
		}
		want := nodeGroupOfNamespace[n.Destination.Namespace]
		for _, path := range blocks {
			got := NodeGroups(placementBlock(asMap(Get(n.Source.Values, path...))))
			if agent, ok := nodeAgents[name]; ok {
				for _, g := range agent {
					if !slices.Contains(got, g) {
						out = append(out, name+": the node agent does not cover node group "+g+" (has "+strings.Join(got, ",")+")")
					}
				}
				continue
			}
			if !slices.Equal(got, []string{want}) {
				out = append(out, name+" values "+strings.Join(path, ".")+": node groups "+strings.Join(got, ",")+", want "+want)
			}
		}
	}
	// Argo CD (installed by Helmfile): every component on deploy.
	for _, path := range [][]string{{"global"}, {"redisSecretInit"}} {
		if got := NodeGroups(asMap(Get(argocdValues, path...))); !slices.Equal(got, []string{"deploy"}) {
			out = append(out, "argo-cd values "+strings.Join(path, ".")+": node groups "+strings.Join(got, ",")+", want deploy")
		}
	}
	return out
}

// argoCDValues merges the argo-cd release's static values files of env.
func argoCDValues(t *testing.T, env string) map[string]any {
	t.Helper()
	h, err := LoadHelmfile(repoRoot(t), "deploy/argocd/shared/root/helmfile.d/argocd.yaml", env)
	if err != nil {
		t.Fatal(err)
	}
	rel, ok := h.Release("argo/argo-cd")
	if !ok {
		t.Fatal("no argo/argo-cd release")
	}
	vals := map[string]any{}
	for _, f := range rel.Values {
		if strings.HasSuffix(f, ".gotmpl") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(repoRoot(t), f))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		vals = merge(vals, v)
	}
	return vals
}

func TestNodePlacement(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(tr *Tree, argocd map[string]any) // mutates copies; nil: the real values
		want   string
	}{
		{name: "real values"},
		{name: "istiod on the app node group", want: "istiod values pilot: node groups app, want system",
			mutate: func(tr *Tree, _ map[string]any) {
				asMap(tr.Find("istiod").Source.Values["pilot"])["nodeSelector"] = map[string]any{NodeGroupLabel: "app"}
			}},
		{name: "istio-cni only on system", want: "istio-cni: the node agent does not cover node group app",
			mutate: func(tr *Tree, _ map[string]any) {
				tr.Find("istio-cni").Source.Values["affinity"] = nil
				tr.Find("istio-cni").Source.Values["nodeSelector"] = map[string]any{NodeGroupLabel: "system"}
			}},
		{name: "argo-cd without node selector", want: "argo-cd values global: node groups , want deploy",
			mutate: func(_ *Tree, argocd map[string]any) { delete(asMap(argocd["global"]), "nodeSelector") }},
		{name: "a service without affinity", want: "Deployment/microservices/account: node groups , want app",
			mutate: func(tr *Tree, _ map[string]any) {
				for _, r := range tr.Renders {
					for _, o := range r.Objects {
						if o.Kind == "Deployment" && o.Name == "account" {
							delete(asMap(Get(o.Body, "spec", "template", "spec")), "affinity")
						}
					}
				}
			}},
	}
	for _, tc := range cases {
		for _, env := range envs {
			t.Run(tc.name+"/"+env, func(t *testing.T) {
				tr, argocd := realTree(t, env), argoCDValues(t, env)
				if tc.mutate != nil {
					// Load a private tree: the cached one is shared by the other tests.
					fresh, err := Load(t.Context(), repoRoot(t), env)
					if err != nil {
						t.Fatal(err)
					}
					tr = fresh
					tc.mutate(tr, argocd)
				}
				problems := placementProblems(tr, argocd)
				if tc.want == "" {
					for _, p := range problems {
						t.Error(p)
					}
					return
				}
				if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
					t.Errorf("no problem %q among %q", tc.want, problems)
				}
			})
		}
	}
}

func TestIngressGatewayService(t *testing.T) {
	want := map[string]string{"dev": "NodePort", "prd": "LoadBalancer"}
	for _, env := range envs {
		t.Run(env, func(t *testing.T) {
			gw := realTree(t, env).Find("istio-ingressgateway")
			if gw == nil {
				t.Fatal("no Application istio-ingressgateway")
			}
			if gw.Source.Chart != "gateway" || gw.Source.ReleaseName != "istio-ingressgateway" || gw.Destination.Namespace != "istio-ingress" {
				t.Errorf("gateway %s release %s in %s, want chart gateway, Service istio-ingressgateway in istio-ingress",
					gw.Source.Chart, gw.Source.ReleaseName, gw.Destination.Namespace)
			}
			if got := Get(gw.Source.Values, "service", "type"); got != want[env] {
				t.Errorf("Service type %v, want %s", got, want[env])
			}
			// The other environment's type would fail: the check distinguishes them.
			other := want["dev"]
			if env == "dev" {
				other = want["prd"]
			}
			if Get(gw.Source.Values, "service", "type") == other {
				t.Errorf("Service type is %s, the other environment's", other)
			}
		})
	}
}
