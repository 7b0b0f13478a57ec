package validate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/chartsource"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
)

// sharedCharts holds the official charts packaged for offline tests, beside the repository.
const sharedCharts = "../../../shared/charts"

func officialResolver(t *testing.T) *chartsource.Resolver {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sharedCharts, "README.md")); err != nil {
		t.Skipf("no packaged official charts in %s beside the repository (a clone without ../shared): %v", sharedCharts, err)
	}
	abs, err := filepath.Abs(sharedCharts)
	if err != nil {
		t.Fatal(err)
	}
	return &chartsource.Resolver{ChartsFrom: []string{abs}, Offline: true}
}

// TestValidateOfficial: with Official set, every official Application of both environments
// is rendered and its objects checked against the schemas (the CRDs the charts ship known
// in their environment): the repository passes; an official chart's object that breaks its
// schema (a number in jaeger's nodeSelector) is an error naming the Application.
func TestValidateOfficial(t *testing.T) {
	resolver := officialResolver(t)
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
		apps[strings.SplitN(r.Chart.ID, " ", 2)[0]] = true
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

	root := t.TempDir()
	for _, dir := range []string{"app", "infra", "charts", "deploy", "secrets.yaml"} {
		if out, err := exec.Command("cp", "-r", filepath.Join("..", "..", dir), root).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v %s", dir, err, out)
		}
	}
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
		if f.Severity == report.Error && strings.HasPrefix(f.Chart, "jaeger ") && strings.Contains(f.Path, "nodeSelector") {
			caught = true
		}
	}
	if !caught {
		t.Errorf("a number in jaeger's nodeSelector was not caught:\n%s", list(res.Report.Findings))
	}
}
