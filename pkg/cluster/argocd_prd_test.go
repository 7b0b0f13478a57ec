package cluster_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"helm.sh/helm/v3/pkg/chartutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/microservices-manifests/microservices-manifests/pkg/cluster"
	"github.com/microservices-manifests/microservices-manifests/pkg/ecrlocal"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
	"github.com/microservices-manifests/microservices-manifests/pkg/secrets"
)

// TestArgoCDPrdFromOCI is mission steps 6-8 for prd, offline: the prd charts of a clone of
// this repository's HEAD are published into the ECR stand-in (a real Distribution behind
// ECR's login) through the publish code path, and Argo CD, given the repository Secret that
// infra/ecr-credentials' ExternalSecret writes in production, pulls them from it: every
// Application of this repository's charts becomes Synced at the published version. Then the
// release rules hold end to end: the same version with other content is refused and
// nothing changes; a bumped version, once the tree names it, rolls out.
func TestArgoCDPrdFromOCI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the embedded cluster, ArgoCD and the registry (run without -short)")
	}
	root := repoRoot(t)
	ctx := testContext(t)
	bin, _, err := ecrlocal.Build(ctx, filepath.Join(root, "bin"), testWriter{t})
	if err != nil {
		t.Fatalf("the registry could not be built (make registry-build): %v", err)
	}

	// The repository as CI has it (HEAD), in a clone this test may change and commit to.
	repo := filepath.Join(t.TempDir(), "repo")
	gitRun(t, "", "clone", "-q", "--no-hardlinks", root, repo)
	gitRun(t, repo, "checkout", "-q", "-B", "main")

	const key, secret = "AKIDPRDTEST", "prd-test-secret"
	srv := &ecrlocal.Server{Dir: filepath.Join(t.TempDir(), "registry"), Binary: bin, AccessKeyID: key, SecretAccessKey: secret, Log: testWriter{t}}
	inst, err := srv.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	tmp := t.TempDir()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL_ECR": inst.APIEndpoint,
		"AWS_CONFIG_FILE": filepath.Join(tmp, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(tmp, "none"), "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "DOCKER_CONFIG": tmp} {
		t.Setenv(k, v)
	}
	decl, err := secrets.Load(repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range decl.Secrets {
		// 32 characters: a length every declared secret accepts (Kiali's signing key: 16, 24 or 32).
		t.Setenv(s.Env, (strings.ToLower(s.Env) + strings.Repeat("0", 32))[:32])
	}
	ca, err := os.ReadFile(inst.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	oci := inst.Addr + "/charts"
	publishCharts := func(charts ...string) (*publish.Result, error) {
		p := &publish.Publisher{Root: repo, Env: "prd", Charts: charts, Registry: oci, ECRRegion: inst.Region, HTTPClient: hc, Log: testWriter{t}}
		return p.Run(ctx)
	}
	pushed, err := publishCharts()
	if err != nil {
		t.Fatalf("publish prd into the stand-in: %v", err)
	}
	digests := map[string]string{}
	for _, c := range pushed.Charts {
		digests[c.Name] = c.Digest
		t.Logf("published %s", c.Reference)
	}

	c := cluster.New(root, testWriter{t})
	c.Dir = filepath.Join(t.TempDir(), "cluster")
	c.Components.LogDir = filepath.Join(root, ".cache", "cluster", "logs")
	user, pass, err := publish.ECRLogin(ctx, inst.Region, inst.APIEndpoint, aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, "")))
	if err != nil {
		t.Fatal(err)
	}
	a := &cluster.ArgoCD{Cluster: c, Root: repo, Repo: repo, Env: "prd", Timeout: 6 * time.Minute, Log: testWriter{t},
		OCI: &cluster.OCISource{RepoURL: oci, CAFile: inst.CAFile, Username: user, Password: pass}}
	// The official charts ../shared/charts holds at their pins are served too (those whose
	// webhooks would not refuse everything): a real API server then checks their objects.
	shared := filepath.Join(filepath.Dir(root), "shared", "charts")
	if _, err := os.Stat(shared); err == nil {
		a.OCI.ChartsFrom = shared
	} else {
		t.Logf("no %s beside the repository: the official charts' Applications are only listed (%v)", shared, err)
	}
	if _, err := c.Components.Ensure(ctx); err != nil {
		t.Fatalf("the embedded cluster's components could not be built: %v", err)
	}
	_, err = c.Start(ctx)
	t.Cleanup(func() {
		if err := errors.Join(a.Stop(context.Background()), c.Stop(context.Background())); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("start the embedded cluster: %v", err)
	}
	res, err := a.Run(ctx)
	if res != nil {
		var b strings.Builder
		_ = cluster.WriteAppTable(&b, res.Apps)
		t.Logf("Applications after %s:\n%s", res.Duration.Round(100*time.Millisecond), b.String())
	}
	if err != nil {
		t.Fatalf("argocd prd: %v", err)
	}
	byName := map[string]cluster.AppStatus{}
	for _, s := range res.Apps {
		byName[s.Name] = s
	}
	// Every Application of a chart of this repository pulled from OCI, at the published
	// version; the operator-bound ones (ACK, external-secrets) are Synced or say why not.
	for _, want := range []struct{ app, dir string }{
		{"app-shared", "app/shared"}, {"account", "app/account"}, {"customer", "app/customer"}, {"order", "app/order"},
		{"orchestrator", "app/orchestrator"}, {"frontend", "app/frontend"}, {"infra-shared", "infra/shared"},
		{"istio-config", "infra/istio-config"}, {"monitoring", "infra/monitoring"},
	} {
		meta, err := chartutil.LoadChartfile(filepath.Join(repo, want.dir, "Chart.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		s := byName[want.app]
		if !s.OK() || s.Revision != meta.Version || digests[meta.Name] == "" {
			t.Errorf("%s: %s/%s at %q (published digest %q), want Synced/Healthy at %s from %s: %s", want.app, s.Sync, s.Health, s.Revision, digests[meta.Name], meta.Version, oci, s.Message)
		}
	}
	if a.OCI.ChartsFrom != "" {
		for _, name := range []string{"jaeger", "kiali", "ack-sqs-controller", "ack-apigatewayv2-controller"} {
			if s := byName[name]; s.Offline || (!s.OK() && !strings.HasPrefix(s.Note, "simulated")) {
				t.Errorf("official %s served from %s: %s/%s: %s %s", name, shared, s.Sync, s.Health, s.Note, s.Message)
			}
		}
		if len(res.Served) == 0 {
			t.Errorf("no official chart served from %s", shared)
		}
	}
	for _, name := range []string{"saga-queues", "api-gateway", "ecr-credentials"} {
		if s := byName[name]; !s.OK() && !strings.HasPrefix(s.Note, "simulated") {
			t.Errorf("%s: %s/%s without a reason: %s", name, s.Sync, s.Health, s.Message)
		}
	}

	// The same version with other content is refused, nothing pushed.
	valuesFile := filepath.Join(repo, "app", "account", "values-prd.yaml")
	orig, err := os.ReadFile(valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(valuesFile, append(append([]byte{}, orig...), []byte("\ncommonLabels:\n  release-test: changed\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := publishCharts("app/account"); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("republish account %s with other content: %v, want a refusal", digests["account"], err)
	}
	again, err := publishCharts("app/account")
	if err == nil || again != nil && len(again.Charts) > 0 && again.Charts[0].Digest != digests["account"] {
		t.Errorf("account changed in the registry after a refusal: %+v %v", again, err)
	}

	// A bumped version rolls out once the tree names it (the release's commit on main).
	chartFile := filepath.Join(repo, "app", "account", "Chart.yaml")
	meta, err := chartutil.LoadChartfile(chartFile)
	if err != nil {
		t.Fatal(err)
	}
	cur := semver.MustParse(meta.Version)
	next := cur.IncPatch().String()
	replaceIn(t, chartFile, "version: "+cur.String(), "version: "+next)
	replaceIn(t, filepath.Join(repo, "deploy", "argocd", "app", "values.yaml"), "  account:\n    source: chart\n    version: "+cur.String(), "  account:\n    source: chart\n    version: "+next)
	bumped, err := publishCharts("app/account")
	if err != nil || bumped.Charts[0].Status != publish.Pushed {
		t.Fatalf("publish account %s: %+v %v", next, bumped, err)
	}
	gitRun(t, repo, "-c", "user.name=test", "-c", "user.email=test@localhost.invalid", "commit", "-q", "-am", "account "+next)
	gitRun(t, repo, "push", "-q", "--force", filepath.Join(a.Dir(), "git", "microservices-manifests.git"), "main:"+res.State.Revision)
	cfg, err := c.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	apps := dyn.Resource(schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}).Namespace(cluster.ArgoCDNamespace)
	refresh := []byte(`{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"hard"}}}`)
	if _, err := apps.Patch(ctx, "argocd-app-parent", types.MergePatchType, refresh, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		u, err := apps.Get(ctx, "account", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rev, _, _ := unstructured.NestedString(u.Object, "status", "sync", "revision")
		sync, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
		d, derr := cs.AppsV1().Deployments("microservices").Get(ctx, "account", metav1.GetOptions{})
		if rev == next && sync == "Synced" && derr == nil && d.Labels["helm.sh/chart"] == "account-"+next {
			t.Logf("account "+next+" rolled out from %s in %s (Deployment labelled %s)", oci, time.Since(start).Round(100*time.Millisecond), d.Labels["helm.sh/chart"])
			break
		}
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("account not rolled out to "+next+" within 3m: revision %q, %s, deployment %v", rev, sync, derr)
		}
		time.Sleep(2 * time.Second)
	}
}

func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s: %q not found", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
