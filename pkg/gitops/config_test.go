package gitops

import (
	"slices"
	"testing"
)

// TestTracingProviderMatchesMeshConfig: the Telemetry of infra/istio-config names a provider
// that istiod's meshConfig (the istiod Application's values) defines.
func TestTracingProviderMatchesMeshConfig(t *testing.T) {
	for _, env := range envs {
		t.Run(env, func(t *testing.T) {
			tr := realTree(t, env)
			istiod := tr.Find("istiod")
			if istiod == nil {
				t.Fatal("no Application istiod")
			}
			var defined []string
			providers, _ := Get(istiod.Source.Values, "meshConfig", "extensionProviders").([]any)
			for _, p := range providers {
				if n, ok := asMap(p)["name"].(string); ok {
					defined = append(defined, n)
				}
			}
			used := 0
			for _, r := range tr.Renders {
				for _, o := range r.Objects {
					if o.Kind != "Telemetry" {
						continue
					}
					tracing, _ := Get(o.Body, "spec", "tracing").([]any)
					for _, tc := range tracing {
						ps, _ := asMap(tc)["providers"].([]any)
						for _, p := range ps {
							used++
							if n := asMap(p)["name"]; !slices.Contains(defined, n.(string)) {
								t.Errorf("%s uses tracing provider %v; istiod defines %v", o.ID(), n, defined)
							}
						}
					}
				}
			}
			if used == 0 {
				t.Error("no Telemetry sends traces anywhere")
			}
		})
	}
}

// TestProjects: least privilege of the AppProjects.
func TestProjects(t *testing.T) {
	const ecr = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/charts"
	for _, env := range envs {
		t.Run(env, func(t *testing.T) {
			ps := realTree(t, env).Projects
			for _, name := range []string{"root", "app", "infra", "default"} {
				if ps[name] == nil {
					t.Fatalf("AppProject %s is not rendered", name)
				}
			}
			d := ps["default"]
			if len(strs(Get(d, "spec", "sourceRepos"))) != 0 || Get(d, "spec", "destinations") == nil || len(Get(d, "spec", "destinations").([]any)) != 0 {
				t.Errorf("default project is not locked: %v", d["spec"])
			}
			for name, wantECR := range map[string]bool{"root": false, "app": env == "prd", "infra": env == "prd"} {
				repos := strs(Get(ps[name], "spec", "sourceRepos"))
				if slices.Contains(repos, "*") || slices.Contains(repos, ecr) != wantECR {
					t.Errorf("%s sourceRepos %v (ECR wanted: %v)", name, repos, wantECR)
				}
			}
			if cw, _ := Get(ps["root"], "spec", "clusterResourceWhitelist").([]any); len(cw) != 0 {
				t.Errorf("root may create cluster resources %v", cw)
			}
			if cw, _ := Get(ps["app"], "spec", "clusterResourceWhitelist").([]any); len(cw) != 1 || asMap(cw[0])["kind"] != "Namespace" {
				t.Errorf("app may create cluster resources %v, want Namespace only", cw)
			}
			// Every Application's destination namespace is one of its project's.
			realTree(t, env).Walk(func(n *Node, _ int) {
				p := ps[n.Project]
				ok := false
				dests, _ := Get(p, "spec", "destinations").([]any)
				for _, d := range dests {
					if asMap(d)["namespace"] == n.Destination.Namespace && asMap(d)["server"] == n.Destination.Server {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s deploys to %s %s, outside project %s", n.Name, n.Destination.Server, n.Destination.Namespace, n.Project)
				}
			})
		})
	}
}
