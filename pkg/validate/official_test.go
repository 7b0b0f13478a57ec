package validate

import (
	"bytes"
	"context"
	"github.com/microservices-manifests/microservices-manifests/internal/testutil"
	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/plan"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// TestValidateOfficial: with Official set, every official Application of both environments
// is rendered and its objects checked against the schemas (the CRDs the charts ship known
// in their environment): the repository passes; an official chart's object that breaks its
// schema (a number in jaeger's nodeSelector) is an error naming the Application.
func TestValidateOfficial(t *testing.T) {
	resolver := &chartsource.Resolver{ChartsFrom: []string{testutil.SharedCharts(t)}, Offline: true, CacheDir: t.TempDir()}
	v := &Validator{Root: filepath.Join("..", ".."), Official: resolver}
	res, err := v.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Report.Findings {
		if f.Severity == report.Error {
			t.Errorf("official: %s", f)
		}
	}
	perEnv := map[string]int{}
	apps := map[string]bool{}
	for _, r := range res.Official {
		perEnv[r.Env] += len(r.Objects)
		apps[r.Chart.ID] = true
		if r.Official == nil || r.Official.Application != r.Chart.ID || r.Chart.Version == "" {
			t.Errorf("official render %s/%s: want Chart.ID = its Application, the chart's version, and its source (%+v)", r.Chart.ID, r.Env, r.Official)
		}
	}
	t.Logf("official objects per environment: %v; Applications: %d", perEnv, len(apps))
	for _, want := range []string{"kube-prometheus-stack", "kiali", "jaeger", "istiod", "external-secrets", "aws-load-balancer-controller"} {
		if !apps[want] {
			t.Errorf("no official render of %s", want)
		}
	}
	if perEnv["dev"] == 0 || perEnv["prd"] <= perEnv["dev"] {
		t.Errorf("official objects per environment %v: want both, prd more (its extra Applications)", perEnv)
	}

	root := copyRepo(t)
	valuesFile := filepath.Join(root, "deploy", "argocd", "infra", "values.yaml")
	b, err := os.ReadFile(valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "        nodeSelector:\n          node.kubernetes.io/nodegroup: system\n        # The namespace enforces",
		"        nodeSelector:\n          node.kubernetes.io/nodegroup: 7\n        # The namespace enforces", 1)
	if broken == string(b) {
		t.Fatal("jaeger's nodeSelector not found in deploy/argocd/infra/values.yaml")
	}
	if err := os.WriteFile(valuesFile, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = (&Validator{Root: root, Official: resolver, SkipPolicies: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	caught := false
	for _, f := range res.Report.Findings {
		if f.Severity == report.Error && f.Chart == "jaeger" && strings.Contains(f.Path, "nodeSelector") {
			caught = true
		}
	}
	if !caught {
		t.Errorf("a number in jaeger's nodeSelector was not caught:\n%s", list(res.Report.Findings))
	}
}

// copyRepo copies what validate reads of this repository into a temporary directory.
func copyRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"app", "infra", "charts", "deploy", "secrets.yaml"} {
		if out, err := exec.Command("cp", "-r", filepath.Join("..", "..", dir), root).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v %s", dir, err, out)
		}
	}
	return root
}

// TestOfficialPolicies: the policies judge the official charts' objects like ours. The
// repository has no error and no warning on them (each finding was fixed in values or
// exempted with a reason, listed as info); without kube-prometheus-stack's exemption for
// node-exporter its host namespaces fail prd, named by the Application; an Application whose
// name is a directory of the repository's charts (its plan would mix with theirs) is refused.
func TestOfficialPolicies(t *testing.T) {
	resolver := &chartsource.Resolver{ChartsFrom: []string{testutil.SharedCharts(t)}, Offline: true, CacheDir: t.TempDir()}
	res, err := (&Validator{Root: filepath.Join("..", ".."), Official: resolver}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	official := map[string]bool{}
	for _, r := range res.Official {
		official[r.Chart.ID] = true
	}
	used := 0
	for _, f := range res.Report.Findings {
		switch {
		case official[f.Chart] && f.Severity != report.Info:
			t.Errorf("official chart finding: %s", f)
		case f.Rule == "exempt" && strings.Contains(f.Message, "of Application kube-prometheus-stack") && strings.Contains(f.Message, "(suppresses"):
			used++
		}
	}
	if used == 0 {
		t.Errorf("no exemption of kube-prometheus-stack's objects was used: are the policies run on official objects?")
	}

	root := copyRepo(t)
	valuesFile := filepath.Join(root, "deploy", "argocd", "infra", "values.yaml")
	b, err := os.ReadFile(valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, edit := range [][2]string{
		{"      - rules: [host-namespaces, host-path, priv-escalation]\n", "      - rules: [host-path, priv-escalation]\n"},
		{"\n  ack-sqs-controller:\n    source: helm\n", "\n  app:\n    source: helm\n"},
	} {
		if !strings.Contains(text, edit[0]) {
			t.Fatalf("%q not found in deploy/argocd/infra/values.yaml", edit[0])
		}
		text = strings.Replace(text, edit[0], edit[1], 1)
	}
	if err := os.WriteFile(valuesFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = (&Validator{Root: root, Envs: []string{"prd"}, Official: resolver}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var hostNS, renamed bool
	for _, f := range res.Report.Findings {
		if f.Severity != report.Error {
			continue
		}
		if strings.HasPrefix(f.Rule, "C02") && f.Chart == "kube-prometheus-stack" && strings.Contains(f.Object, "node-exporter") {
			hostNS = true
		}
		if f.Rule == "official-chart" && f.Object == "Application/app" && strings.Contains(f.Message, "rename the Application") {
			renamed = true
		}
	}
	if !hostNS {
		t.Errorf("node-exporter's host namespaces not reported without its exemption:\n%s", list(res.Report.Findings))
	}
	if !renamed {
		t.Errorf("an Application named app (a directory of the charts) was not refused:\n%s", list(res.Report.Findings))
	}
	for _, r := range res.Official {
		if r.Chart.ID == "app" {
			t.Errorf("the Application named app was rendered into the plan's app/ directory")
		}
	}
	if got := res.Unrendered("prd"); !slices.Equal(got, []string{"app"}) {
		t.Errorf("Unrendered(prd) = %q, want [app]", got)
	}
}

// TestOfficialPlanStable: the plan of the official charts is the same at every render, so
// that it is committed once and a diff shows only what a change changes. A chart that draws
// a password or a certificate at every render (Grafana's admin password, the ALB
// controller's webhook certificate) must be given a fixed value, or its field must be in the
// Application's ignoreDifferences, which the plan shows masked (plan.Ignored).
func TestOfficialPlanStable(t *testing.T) {
	resolver := &chartsource.Resolver{ChartsFrom: []string{testutil.SharedCharts(t)}, Offline: true, CacheDir: t.TempDir()}
	files := func() map[string][]byte {
		res, err := (&Validator{Root: filepath.Join("..", ".."), Official: resolver, SkipPolicies: true}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, env := range res.Report.Envs {
			var renders []*render.Result
			for _, r := range res.Official {
				if r.Env == env {
					renders = append(renders, r)
				}
			}
			f, err := plan.Files(renders)
			if err != nil {
				t.Fatal(err)
			}
			for name, data := range f {
				out[env+"/"+name] = data
			}
		}
		return out
	}
	first, second := files(), files()
	masked := 0
	for name, data := range first {
		if !bytes.Equal(data, second[name]) {
			t.Errorf("release/%s differs between two renders", name)
		}
		masked += bytes.Count(data, []byte(plan.Ignored))
	}
	if len(first) == 0 || len(first) != len(second) {
		t.Errorf("%d and %d official plan files", len(first), len(second))
	}
	// The ALB controller's certificate (prd) is generated at every render: without the
	// masking this test would fail, and with none masked it would prove nothing.
	if masked == 0 {
		t.Errorf("no field masked as %q: the ALB controller's webhook certificate should be", plan.Ignored)
	}
	t.Logf("%d official plan files, %d fields masked", len(first), masked)
}
