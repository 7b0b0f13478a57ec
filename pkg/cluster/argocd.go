package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	argoapps "github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/gitops"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

// ArgoCDNamespace is where ArgoCD's settings and Applications live.
const ArgoCDNamespace = "argocd"

// Where the App-of-Apps tree is declared (deploy/argocd/shared/root: the helmfile's
// argocd-apps values, the projects chart, the parent chart).
const (
	rootValuesDir = "deploy/argocd/shared/root/values/argocd-apps"
	rootAppName   = "argocd-root"
	projectsChart = "deploy/argocd/shared/projects"
	localRepoName = "microservices-manifests.git"
	// ecrCredentialsChart renders the ExternalSecrets that keep Argo CD's ECR repository
	// Secrets fresh in production; the embedded run writes those Secrets itself.
	ecrCredentialsChart = "infra/ecr-credentials"
)

var applicationGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// ArgoCD runs ArgoCD for real on the embedded cluster (redis-server, argocd-repo-server,
// argocd-application-controller and an HTTPS git server, all on 127.0.0.1) and installs the
// App-of-Apps root of an environment pointing at a local clone of the repository.
//
// Sources: the dev Applications follow git.repoURL, https://github.com/example-org/...
// For the local run the root Application gets a Helm valuesObject that sets git.repoURL
// and git.targetRevision to the local server at every level of the tree (each `tree` entry
// passes them on as its `values`). Nothing in the repository is changed and no Application
// is patched. The entries whose source is an official chart repository (`source: helm`)
// are unreachable offline: they are expected to fail their comparison, are listed in
// Result.Excluded and reported with their error, and are not waited for. (They cannot be
// disabled through the override: a null in a child Application's valuesObject is dropped
// when ArgoCD applies that Application, as kubectl apply treats null as "remove".)
type ArgoCD struct {
	// Cluster is the running embedded cluster.
	Cluster *Cluster
	// Root is the repository root (values, charts).
	Root string
	// Repo is the git repository served to ArgoCD (a bare clone of its HEAD is made); empty
	// means Root. Only committed content is seen by ArgoCD.
	Repo string
	// Env is the environment whose root Application is installed; "dev" when empty.
	Env string
	// Timeout bounds the wait for the tree; 0 means 5 minutes.
	Timeout time.Duration
	// SharedCRDs holds the CRDs no module proxy serves (see Applier); empty: its default.
	SharedCRDs string
	// OCI is where the charts of an environment whose Applications pull from ECR (prd,
	// chartSource oci) come from: the ECR stand-in. Required for such an environment.
	OCI *OCISource
	// Log receives progress lines; nil discards them.
	Log io.Writer

	served []*officialSource
}

// OCISource is the OCI repository the embedded run's Argo CD pulls the published charts
// from, in place of production's ECR repository, with an ECR-style login.
type OCISource struct {
	// RepoURL is host:port/prefix, as an Application's repoURL names it (no scheme).
	RepoURL string
	// CAFile is the PEM CA of the registry's certificate (given to Argo CD's helm, never
	// skipped).
	CAFile string
	// Username and Password: AWS and a token from the stand-in's GetAuthorizationToken.
	Username, Password string
	// ChartsFrom is a folder of packaged official charts (../shared/charts): those at the
	// pinned version whose webhooks would not stand in the way are pushed into the stand-in
	// under <host>/official and their Applications pointed there (listed in the result).
	ChartsFrom string
}

// ArgoCDState is Cluster.Dir/argocd/state.json, rewritten as each process starts: PGID and
// Processes (in start order, each with its start time) are what Stop signals.
type ArgoCDState struct {
	processGroup
	Ports    map[string]int `json:"ports"`
	RepoURL  string         `json:"repoURL"`
	Revision string         `json:"revision"`
	Commit   string         `json:"commit"`
	// LegacyPIDs is read from a state file of an older platform, which recorded no start
	// times; never written.
	LegacyPIDs map[string]int `json:"pids,omitempty"`
}

// AppStatus is one Application after the wait.
type AppStatus struct {
	Name, Project, Sync, Health string
	Revision                    string
	Message                     string
	// Offline is set on an excluded Application (official chart, unreachable offline, or
	// simulated); Note says why.
	Offline bool
	Note    string
}

// OK is Synced and Healthy.
func (s AppStatus) OK() bool { return s.Sync == "Synced" && s.Health == "Healthy" }

// operators are the API groups whose objects only a controller of an official chart acts
// on (not run here: their charts are not served offline, and their pods would be kwok's):
// such objects stay Progressing, and waves after them OutOfSync, in the embedded run.
var operators = map[string]string{
	"sqs.services.k8s.aws":          "ack-sqs-controller",
	"apigatewayv2.services.k8s.aws": "ack-apigatewayv2-controller",
	"external-secrets.io":           "external-secrets (the embedded run writes the repository Secrets its ExternalSecrets would write, from the stand-in's token)",
	"networking.k8s.io":             "aws-load-balancer-controller (no load balancer is provisioned here, so an Ingress gets no address)",
}

// simulated says why an Application is not Synced and Healthy when every resource holding
// it back is an object of operators; "" otherwise.
func simulated(u *unstructured.Unstructured) string {
	res, _, _ := unstructured.NestedSlice(u.Object, "status", "resources")
	waiting := map[string][]string{}
	for _, r := range res {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		health, _, _ := unstructured.NestedString(m, "health", "status")
		if m["status"] == "Synced" && (health == "" || health == "Healthy") {
			continue
		}
		group, _ := m["group"].(string)
		op, ok := operators[group]
		if !ok {
			return ""
		}
		waiting[op] = append(waiting[op], fmt.Sprintf("%v/%v", m["kind"], m["name"]))
	}
	if len(waiting) == 0 {
		return ""
	}
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(waiting)) {
		parts = append(parts, fmt.Sprintf("%s wait for %s", strings.Join(waiting[op], ", "), op))
	}
	return "simulated: " + strings.Join(parts, "; ") + ", an official chart's controller not run here"
}

// Overrides are what the embedded run changes in Argo CD's behaviour, listed with every run.
var Overrides = []string{
	"the application controller runs with --persist-resource-health (each resource's health in the Application's status, as Argo CD 2 did), so that the wait can tell which resources hold an Application back",
	"HorizontalPodAutoscaler health (argocd-cm resource.customizations): an HPA whose only problem is that it cannot read metrics is Healthy, since the embedded cluster has no metrics API (kwok simulates pods, not their usage); any other failing condition is Degraded as Argo CD's own check says",
}

// hpaHealth is Argo CD's HPA health check, except that missing metrics are not a failure.
const hpaHealth = `hs = {status = "Healthy", message = "no failing condition"}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.status == "False" and (c.type == "AbleToScale" or c.type == "ScalingActive") then
      if c.type == "ScalingActive" and (c.reason == "FailedGetResourceMetric" or c.reason == "FailedGetPodsMetric" or c.reason == "FailedGetObjectMetric" or c.reason == "FailedGetExternalMetric" or c.reason == "FailedGetContainerResourceMetric") then
        hs.message = "embedded cluster, no metrics API: " .. (c.message or "")
      else
        hs.status = "Degraded"
        hs.message = c.message
        return hs
      end
    end
  end
end
return hs
`

// ArgoCDResult is what Run did.
type ArgoCDResult struct {
	State *ArgoCDState
	// Apps are every Application of the tree, sorted by name.
	Apps []AppStatus
	// Excluded are the Applications of official charts (source: helm), unreachable offline:
	// expected to fail their comparison and not waited for; name -> "repoURL version, in chart".
	Excluded map[string]string
	// Served are the official charts served from OCISource.ChartsFrom (an override of the
	// Applications' repoURL, listed).
	Served   []string
	Built    bool
	Duration time.Duration
}

func (a *ArgoCD) logf(format string, args ...any) {
	if a.Log != nil {
		fmt.Fprintf(a.Log, format+"\n", args...)
	}
}

func (a *ArgoCD) env() string {
	if a.Env == "" {
		return "dev"
	}
	return a.Env
}

func (a *ArgoCD) timeout() time.Duration {
	if a.Timeout == 0 {
		return 5 * time.Minute
	}
	return a.Timeout
}

// Dir holds ArgoCD's state, the served repository and the processes' working files.
func (a *ArgoCD) Dir() string { return filepath.Join(a.Cluster.Dir, "argocd") }

func (a *ArgoCD) statePath() string { return filepath.Join(a.Dir(), "state.json") }

// Run starts ArgoCD (stopping an earlier one first), installs the root Application and waits
// until the tree is Synced and Healthy. On error the processes are left running for
// inspection (logs in Cluster.Dir/logs/argocd-*.log) unless they failed to start.
func (a *ArgoCD) Run(ctx context.Context) (*ArgoCDResult, error) {
	start := time.Now()
	res := &ArgoCDResult{}
	var err error
	if res.Built, err = a.Cluster.Components.EnsureArgoCD(ctx); err != nil {
		return nil, err
	}
	cfg, err := a.Cluster.RESTConfig()
	if err != nil {
		return nil, fmt.Errorf("embedded cluster: %w (start it: platform cluster up)", err)
	}
	if err := a.Stop(ctx); err != nil {
		return nil, err
	}
	redis, err := ensureRedis(ctx, a.logf)
	if err != nil {
		return nil, err
	}
	st := &ArgoCDState{}
	if st.Ports, err = freePorts("redis", "repo-server", "repo-server-metrics", "controller-metrics", "git"); err != nil {
		return nil, err
	}
	res.State = st
	if err := a.serveRepo(ctx, st); err != nil {
		return nil, err
	}
	a.served = nil
	valuesObject, excluded, err := a.treeOverride("deploy/argocd/shared/parent", st)
	if err != nil {
		return nil, err
	}
	res.Excluded = excluded
	if err := a.pushOfficial(ctx, a.served); err != nil {
		return nil, err
	}
	for _, s := range a.served {
		res.Served = append(res.Served, fmt.Sprintf("Application %s: chart %s %s from %s, served as %s/%s instead of its chart repository",
			s.app, s.chart, s.version, a.OCI.ChartsFrom, s.repoURL, s.chart))
	}

	// Settings, the repository, the AppProjects (and every CRD of the schema set) before the
	// controller reads them.
	objs, err := a.bootstrapObjects(st)
	if err != nil {
		return nil, err
	}
	ap := &Applier{Config: cfg, Root: a.Root, SharedCRDs: a.SharedCRDs, Objects: objs, Log: a.Log}
	if _, err := ap.Run(ctx); err != nil {
		return nil, fmt.Errorf("argocd bootstrap: %w", err)
	}

	if err := a.startAll(ctx, st, redis); err != nil {
		_ = a.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	root, err := a.rootApplication(st, valuesObject)
	if err != nil {
		return res, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return res, err
	}
	if _, err := dyn.Resource(applicationGVR).Namespace(ArgoCDNamespace).Apply(ctx, rootAppName, root,
		metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return res, fmt.Errorf("apply Application %s: %w", rootAppName, err)
	}
	a.logf("argocd: applied %s (%s %s, path %s); not waited for (official charts, unreachable offline): %s", rootAppName,
		st.RepoURL, st.Revision, "deploy/argocd/shared/parent", strings.Join(slices.Sorted(maps.Keys(excluded)), ", "))
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return res, err
	}
	res.Apps, err = a.Wait(ctx, dyn, cs, a.timeout(), excluded)
	res.Duration = time.Since(start)
	return res, err
}

// ensureRedis finds redis-server, installing Debian's package when it is missing (make
// argocd and make up run scripts/test-deps.sh first, which does the same and may ask for
// sudo's password; here sudo must not prompt).
func ensureRedis(ctx context.Context, logf func(string, ...any)) (string, error) {
	return ensureProgram(ctx, "redis-server", "redis-server", os.Geteuid(), exec.LookPath, runCombined, logf)
}

func runCombined(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	return cmd.CombinedOutput()
}

// ensureProgram looks program up in PATH; when it is missing it installs the Debian
// package pkg: apt-get update (a fresh machine has no package lists, and install alone
// then fails with "Unable to locate package"), then apt-get install, through `sudo -n`
// when euid is not root.
func ensureProgram(ctx context.Context, program, pkg string, euid int,
	lookPath func(string) (string, error),
	run func(ctx context.Context, name string, args ...string) ([]byte, error),
	logf func(string, ...any),
) (string, error) {
	if p, err := lookPath(program); err == nil {
		return p, nil
	}
	manual := "apt-get install " + pkg
	if euid != 0 {
		manual = "sudo " + manual
	}
	if _, err := lookPath("apt-get"); err != nil {
		return "", fmt.Errorf("%s not found in PATH and there is no apt-get to install it: install %s with the system's package manager (Debian/Ubuntu: %s)", program, pkg, manual)
	}
	var prefix []string
	if euid != 0 {
		if _, err := lookPath("sudo"); err != nil {
			return "", fmt.Errorf("%s not found in PATH; installing it needs root and there is no sudo: run `%s` as root", program, "apt-get update && apt-get install -y "+pkg)
		}
		prefix = []string{"sudo", "-n"}
	}
	logf("%s not found: installing Debian's %s (%sapt-get update; apt-get install -y %s)", program, pkg, strings.Join(append(prefix, ""), " "), pkg)
	for _, args := range [][]string{
		{"apt-get", "update", "-qq"},
		{"apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg},
	} {
		argv := append(append([]string{}, prefix...), args...)
		if out, err := run(ctx, argv[0], argv[1:]...); err != nil {
			return "", fmt.Errorf("%s is not installed and `%s` failed: %v (install it by hand: %s)\n%s",
				program, strings.Join(argv, " "), err, manual, tail(string(out), 1500))
		}
	}
	p, err := lookPath(program)
	if err != nil {
		return "", fmt.Errorf("%s still not in PATH after installing %s: %w", program, pkg, err)
	}
	return p, nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (a *ArgoCD) git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// serveRepo makes a bare clone of the repository's HEAD under Dir/git; the revision is the
// current branch (or, on a detached HEAD, a branch argocd-local made at it).
func (a *ArgoCD) serveRepo(ctx context.Context, st *ArgoCDState) error {
	repo := a.Repo
	if repo == "" {
		repo = a.Root
	}
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	commit, err := a.git(ctx, repo, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	branch, err := a.git(ctx, repo, "symbolic-ref", "--short", "-q", "HEAD")
	if err != nil || branch == "" {
		branch = "argocd-local"
	}
	dir := filepath.Join(a.Dir(), "git")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bare := filepath.Join(dir, localRepoName)
	if _, err := a.git(ctx, dir, "clone", "-q", "--bare", "--no-local", repo, bare); err != nil {
		return err
	}
	if _, err := a.git(ctx, bare, "update-ref", "refs/heads/"+branch, commit); err != nil {
		return err
	}
	st.Commit, st.Revision = commit, "refs/heads/"+branch
	st.RepoURL = fmt.Sprintf("https://127.0.0.1:%d/%s", st.Ports["git"], localRepoName)
	return nil
}

// readValues merges a chart's values.yaml and values-<env>.yaml (Helm's semantics).
func (a *ArgoCD) readValues(files ...string) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(a.Root, f))
		if err != nil {
			return nil, err
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		mergeValues(out, v)
	}
	return out, nil
}

// mergeValues merges src into dst: maps recursively, anything else replaced.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
			cp := map[string]any{}
			mergeValues(cp, sm)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

// treeOverride is the values override of one chart of Applications (library
// argocd.applications): git at the local server, and each `source: tree` entry's values
// the same override of its own chart. It also returns the `source: helm` entries.
func (a *ArgoCD) treeOverride(chartDir string, st *ArgoCDState) (map[string]any, map[string]string, error) {
	vals, err := a.readValues(chartDir+"/values.yaml", chartDir+"/values-"+a.env()+".yaml")
	if err != nil {
		return nil, nil, err
	}
	if vals["chartSource"] == "oci" && a.OCI == nil {
		return nil, nil, fmt.Errorf("%s: the %s Applications pull their charts from an OCI registry (chartSource oci): publish them into the ECR stand-in and give its repository (platform cluster registry; make up ENV=%s does both)", chartDir, a.env(), a.env())
	}
	apps, _ := vals["applications"].(map[string]any)
	out := map[string]any{"git": map[string]any{"repoURL": st.RepoURL, "targetRevision": st.Revision}}
	if _, ok := vals["oci"]; ok && a.OCI != nil {
		out["oci"] = map[string]any{"repoURL": a.OCI.RepoURL}
	}
	over := map[string]any{}
	excluded := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		e, ok := apps[name].(map[string]any)
		if !ok {
			continue // null: disabled in this environment
		}
		switch e["source"] {
		case "helm":
			src, why := a.serveOfficial(name, e)
			if src == nil {
				excluded[name] = why + ", in " + chartDir
				continue
			}
			a.served = append(a.served, src)
			over[name] = map[string]any{"repoURL": src.repoURL}
		case "tree":
			path, _ := e["path"].(string)
			child, ex, err := a.treeOverride(path, st)
			if err != nil {
				return nil, nil, err
			}
			over[name] = map[string]any{"values": child}
			maps.Copy(excluded, ex)
		}
	}
	if len(over) > 0 {
		out["applications"] = over
	}
	return out, excluded, nil
}

// rootApplication is argocd-root as the helmfile's argocd-apps release renders it from
// deploy/argocd/shared/root/values/argocd-apps/{common,<env>}.yaml (the official
// argocd-apps chart's fields), with the local source and the values override.
func (a *ArgoCD) rootApplication(st *ArgoCDState, valuesObject map[string]any) (*unstructured.Unstructured, error) {
	vals, err := a.readValues(rootValuesDir+"/common.yaml", rootValuesDir+"/"+a.env()+".yaml")
	if err != nil {
		return nil, err
	}
	apps, _ := vals["applications"].(map[string]any)
	app, ok := apps[rootAppName].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: no applications.%s", rootValuesDir, rootAppName)
	}
	obj := gitops.ApplicationFromChartValues(rootAppName, app)
	meta, spec := obj["metadata"].(map[string]any), obj["spec"].(map[string]any)
	meta["namespace"] = orDefault(meta["namespace"], ArgoCDNamespace)
	src, ok := spec["source"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: applications.%s.source is not a single source", rootValuesDir, rootAppName)
	}
	src["repoURL"], src["targetRevision"] = st.RepoURL, st.Revision
	helm, _ := src["helm"].(map[string]any)
	if helm == nil {
		helm = map[string]any{}
		src["helm"] = helm
	}
	helm["valuesObject"] = valuesObject
	return toUnstructured(obj)
}

func orDefault(v any, def string) any {
	if s, ok := v.(string); ok && s != "" {
		return s
	}
	return def
}

// bootstrapObjects are ArgoCD's namespace, settings, the local repository and the
// AppProjects rendered for the environment with gitRepoURL at the local server.
func (a *ArgoCD) bootstrapObjects(st *ArgoCDState) ([]*unstructured.Unstructured, error) {
	part := map[string]any{"app.kubernetes.io/part-of": "argocd"}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	raw := []map[string]any{
		{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ArgoCDNamespace}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "argocd-cm", "namespace": ArgoCDNamespace, "labels": part},
			// A short reconciliation: a comparison that failed while its parent was syncing is retried soon.
			"data": map[string]any{"timeout.reconciliation": "30s",
				"resource.customizations.health.autoscaling_HorizontalPodAutoscaler": hpaHealth}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "argocd-cmd-params-cm", "namespace": ArgoCDNamespace, "labels": part}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "argocd-rbac-cm", "namespace": ArgoCDNamespace, "labels": part}},
		{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "argocd-secret", "namespace": ArgoCDNamespace, "labels": part},
			"type": "Opaque", "stringData": map[string]any{"server.secretkey": hex.EncodeToString(key)}},
		{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "repo-local", "namespace": ArgoCDNamespace,
			"labels": map[string]any{"app.kubernetes.io/part-of": "argocd", "argocd.argoproj.io/secret-type": "repository"}},
			// The local server's certificate is self-signed and made at its start.
			"type": "Opaque", "stringData": map[string]any{"type": "git", "url": st.RepoURL, "insecure": "true"}},
	}
	var out []*unstructured.Unstructured
	for _, r := range raw {
		u, err := toUnstructured(r)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	projectValues := map[string]any{"gitRepoURL": st.RepoURL}
	if a.OCI != nil {
		projectValues["ociRepositories"] = []any{a.OCI.RepoURL}
		secrets, err := a.repositorySecrets()
		if err != nil {
			return nil, err
		}
		out = append(out, secrets...)
		if len(a.served) > 0 {
			official := a.served[0].repoURL
			projectValues["ociRepositories"] = []any{a.OCI.RepoURL, official}
			u, err := toUnstructured(RepositorySecret(officialPrefix, official, a.OCI.Username, a.OCI.Password))
			if err != nil {
				return nil, err
			}
			out = append(out, u)
		}
	}
	projects, err := a.renderChart(projectsChart, projectValues)
	if err != nil {
		return nil, err
	}
	return append(out, projects...), nil
}

// repositorySecrets are the Secrets infra/ecr-credentials' ExternalSecrets would write in
// the environment (one per repository of its values), pointing at the stand-in.
func (a *ArgoCD) repositorySecrets() ([]*unstructured.Unstructured, error) {
	vals, err := a.readValues(ecrCredentialsChart+"/values.yaml", ecrCredentialsChart+"/values-"+a.env()+".yaml")
	if err != nil {
		return nil, err
	}
	repos, _ := vals["repositories"].(map[string]any)
	var out []*unstructured.Unstructured
	for _, name := range slices.Sorted(maps.Keys(repos)) {
		if repos[name] == nil {
			continue
		}
		u, err := toUnstructured(RepositorySecret(name, a.OCI.RepoURL, a.OCI.Username, a.OCI.Password))
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s/values-%s.yaml declares no repository: Argo CD would have no credentials for %s", ecrCredentialsChart, a.env(), a.OCI.RepoURL)
	}
	return out, nil
}

// RepositorySecret is Argo CD's repository Secret for an OCI Helm repository with a login:
// the Secret infra/ecr-credentials' ExternalSecret templates (ecr-credentials.secretData),
// name repo-<name>; a test checks both have the same shape.
func RepositorySecret(name, url, user, password string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "repo-" + name, "namespace": ArgoCDNamespace,
			"labels": map[string]any{"argocd.argoproj.io/secret-type": "repository", "app.kubernetes.io/part-of": "argocd"}},
		"type": "Opaque",
		"stringData": map[string]any{"name": name, "type": "helm", "enableOCI": "true", "url": url,
			"username": user, "password": password},
	}
}

// renderChart renders a chart of the repository for the environment with Helm's SDK, with
// an extra values layer over values-<env>.yaml.
func (a *ArgoCD) renderChart(id string, override map[string]any) ([]*unstructured.Unstructured, error) {
	repo, err := discovery.Discover(a.Root)
	if err != nil {
		return nil, err
	}
	c, ok := repo.Chart(id)
	if !ok {
		return nil, fmt.Errorf("chart %s not found", id)
	}
	ch, err := render.Load(c)
	if err != nil {
		return nil, err
	}
	vals, err := a.readValues(c.ValuesFiles[a.env()])
	if err != nil {
		return nil, err
	}
	mergeValues(vals, override)
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: c.Name, Namespace: c.Namespace, Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	var out []*unstructured.Unstructured
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(name, ".yaml") || strings.TrimSpace(files[name]) == "" {
			continue
		}
		objs, err := render.Decode([]byte(files[name]))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", id, name, err)
		}
		for _, o := range objs {
			u, err := toUnstructured(o.Body)
			if err != nil {
				return nil, err
			}
			if u.GetNamespace() == "" {
				u.SetNamespace(c.Namespace)
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// processEnv is the environment of ArgoCD's processes.
func (a *ArgoCD) processEnv() []string {
	comp := a.Cluster.Components
	env := componentEnv()
	env = slices.DeleteFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "TMPDIR=") ||
			strings.HasPrefix(kv, "ARGOCD_") || strings.HasPrefix(kv, "GIT_")
	})
	return append(env,
		"PATH="+comp.BinDir+string(os.PathListSeparator)+filepath.Dir(comp.HelmPath())+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+filepath.Join(a.Dir(), "home"),
		"TMPDIR="+filepath.Join(a.Dir(), "tmp"),
		"KUBECONFIG="+a.Cluster.Kubeconfig(),
		"ARGOCD_FAKE_IN_CLUSTER=true",
		"ARGOCD_GPG_ENABLED=false",
		"ARGOCD_GNUPGHOME="+filepath.Join(a.Dir(), "gnupg"),
		// The CA of a registry's certificate, by host name (Argo CD's argocd-tls-certs-cm
		// layout): its helm gets --ca-file.
		"ARGOCD_TLS_DATA_PATH="+filepath.Join(a.Dir(), "tls"),
	)
}

func (a *ArgoCD) startAll(ctx context.Context, st *ArgoCDState, redis string) error {
	for _, d := range []string{"home", "tmp", "gnupg", "redis", "tls"} {
		if err := os.MkdirAll(filepath.Join(a.Dir(), d), 0o700); err != nil {
			return err
		}
	}
	if a.OCI != nil {
		ca, err := os.ReadFile(a.OCI.CAFile)
		if err != nil {
			return fmt.Errorf("registry CA: %w", err)
		}
		host, _, _ := strings.Cut(a.OCI.RepoURL, "/")
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if err := os.WriteFile(filepath.Join(a.Dir(), "tls", host), ca, 0o600); err != nil {
			return err
		}
	}
	comp := a.Cluster.Components
	redisAddr := fmt.Sprintf("127.0.0.1:%d", st.Ports["redis"])
	repoServer := fmt.Sprintf("127.0.0.1:%d", st.Ports["repo-server"])
	procs := []struct {
		name, exe string
		args      []string
		port      int
	}{
		{"redis", redis, []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(st.Ports["redis"]), "--save", "", "--appendonly", "no",
			"--dir", filepath.Join(a.Dir(), "redis"), "--protected-mode", "yes"}, st.Ports["redis"]},
		{"git-server", comp.Path(argocdGitServer), []string{"-listen", fmt.Sprintf("127.0.0.1:%d", st.Ports["git"]), "-root", filepath.Join(a.Dir(), "git")}, st.Ports["git"]},
		{"repo-server", comp.Path("argocd-repo-server"), []string{
			"--address", "127.0.0.1", "--port", strconv.Itoa(st.Ports["repo-server"]),
			"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(st.Ports["repo-server-metrics"]),
			"--redis", redisAddr, "--disable-tls", "--client-ca-path=", "--loglevel", "info"}, st.Ports["repo-server"]},
		{"application-controller", comp.Path("argocd-application-controller"), []string{
			"--kubeconfig", a.Cluster.Kubeconfig(), "--namespace", ArgoCDNamespace,
			"--repo-server", repoServer, "--repo-server-plaintext", "--redis", redisAddr,
			"--metrics-port", strconv.Itoa(st.Ports["controller-metrics"]),
			"--app-resync", "30", "--loglevel", "info",
			// Each resource's health in the Application's status (Argo CD 3's default keeps it
			// in redis only): the wait names what holds an Application back.
			"--persist-resource-health"}, st.Ports["controller-metrics"]},
	}
	for _, p := range procs {
		if err := a.start(st, p.name, p.exe, p.args); err != nil {
			return err
		}
		if err := a.waitPort(ctx, st, p.name, p.port); err != nil {
			return err
		}
	}
	a.logf("argocd: redis %d, repo-server %d, application-controller (metrics %d), git %s; logs %s/argocd-*.log",
		st.Ports["redis"], st.Ports["repo-server"], st.Ports["controller-metrics"], st.RepoURL, a.Cluster.logDir())
	return nil
}

// start starts one of ArgoCD's processes in their process group and records it in the
// state file before anything waits for it.
func (a *ArgoCD) start(st *ArgoCDState, name, exe string, args []string) error {
	_, err := st.start(processSpec{
		Name: name, Exe: exe, Args: args, Dir: a.Dir(), Env: a.processEnv(), Log: a.logPath(name),
	}, func() error { return a.writeState(st) })
	return err
}

// waitPort waits until the process listens on its loopback port.
func (a *ArgoCD) waitPort(ctx context.Context, st *ArgoCDState, name string, port int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if out, err := exec.CommandContext(ctx, "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d", port)).CombinedOutput(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("argocd %s: not listening on 127.0.0.1:%d after 60s (%s); log %s:\n%s", name, port,
				strings.TrimSpace(string(out)), a.logPath(name), a.logTail(name, 20))
		}
		if !st.running(name) {
			return fmt.Errorf("argocd %s exited at start; log %s:\n%s", name, a.logPath(name), a.logTail(name, 20))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

func (a *ArgoCD) logPath(name string) string {
	return filepath.Join(a.Cluster.logDir(), "argocd-"+name+".log")
}

func (a *ArgoCD) logTail(name string, n int) string {
	b, _ := os.ReadFile(a.logPath(name))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (a *ArgoCD) writeState(st *ArgoCDState) error {
	if err := os.MkdirAll(a.Dir(), 0o755); err != nil {
		return err
	}
	return writeStateFile(a.statePath(), st)
}

// ReadState is the state of a running ArgoCD, if any.
func (a *ArgoCD) ReadState() (*ArgoCDState, error) {
	b, err := os.ReadFile(a.statePath())
	if err != nil {
		return nil, err
	}
	var st ArgoCDState
	return &st, json.Unmarshal(b, &st)
}

// Stop ends ArgoCD's processes, newest first (the controller, the repo-server, the git
// server, redis): SIGTERM, SIGKILL after 5 s, then whatever is left of their process group
// (the repo-server's git and helm). Only the processes recorded with their start time are
// signalled: a PID now naming another process is left alone. Stopping nothing is not an
// error; the state file is removed once everything recorded has ended.
func (a *ArgoCD) Stop(ctx context.Context) error {
	st, err := a.ReadState()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(st.LegacyPIDs) > 0 && len(st.Processes) == 0 {
		a.logf("argocd: %s", legacyWarning(a.statePath(), st.LegacyPIDs))
	}
	n, err := st.stop(ctx, func(string) time.Duration { return 5 * time.Second }, func(format string, args ...any) {
		a.logf("argocd: "+format, args...)
	})
	if err != nil {
		return fmt.Errorf("argocd: %w", err)
	}
	if n > 0 {
		a.logf("argocd: stopped %d processes", n)
	}
	if err := os.Remove(a.statePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Wait polls the Applications until argocd-root and every Application of its tree (those
// listed in any Application's resources) are Synced and Healthy, except the offline ones,
// which must exist and are reported as they are. An Application whose comparison failed
// gets argocd.argoproj.io/refresh=hard (at most every 20 s); claims pending in the
// destinations get a pre-bound volume (no provisioner here).
func (a *ArgoCD) Wait(ctx context.Context, dyn dynamic.Interface, cs kubernetes.Interface, timeout time.Duration, offline map[string]string) ([]AppStatus, error) {
	deadline := time.Now().Add(timeout)
	prov := &Applier{DataDir: filepath.Join(a.Cluster.Dir, "volumes"), Log: a.Log}
	refreshed := map[string]time.Time{}
	last := ""
	for {
		list, err := dyn.Resource(applicationGVR).Namespace(ArgoCDNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		want := map[string]bool{rootAppName: true}
		have := map[string]AppStatus{}
		nss := map[string]bool{}
		for _, u := range list.Items {
			s := appStatus(&u)
			s.Note, s.Offline = offline[s.Name]
			if !s.OK() && !s.Offline {
				s.Note = simulated(&u)
			}
			have[s.Name] = s
			if ns := argoapps.FromBody(u.Object, "").Destination.Namespace; ns != "" && ns != ArgoCDNamespace {
				nss[ns] = true
			}
			res, _, _ := unstructured.NestedSlice(u.Object, "status", "resources")
			for _, r := range res {
				if m, ok := r.(map[string]any); ok && m["kind"] == "Application" && m["group"] == "argoproj.io" {
					want[fmt.Sprint(m["name"])] = true
				}
			}
			if !s.Offline && strings.Contains(s.Message, "ComparisonError") && time.Since(refreshed[s.Name]) > 20*time.Second {
				refreshed[s.Name] = time.Now()
				patch := []byte(`{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"hard"}}}`)
				if _, err := dyn.Resource(applicationGVR).Namespace(ArgoCDNamespace).Patch(ctx, s.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err == nil {
					a.logf("argocd: %s: comparison failed (%s): refresh=hard", s.Name, s.Message)
				}
			}
		}
		for ns := range nss {
			if _, err := prov.provision(ctx, cs, ns); err != nil {
				return nil, err
			}
		}
		var apps []AppStatus
		var pending []string
		for _, name := range slices.Sorted(maps.Keys(want)) {
			s, ok := have[name]
			if !ok {
				s = AppStatus{Name: name, Sync: "-", Health: "-", Message: "not created yet"}
			}
			apps = append(apps, s)
			if !s.OK() && !(ok && (s.Offline || s.Note != "")) {
				pending = append(pending, fmt.Sprintf("%s (%s/%s)", name, s.Sync, s.Health))
			}
		}
		line := fmt.Sprintf("argocd: %d/%d Applications Synced and Healthy or expected offline", len(apps)-len(pending), len(apps))
		if len(pending) > 0 {
			line += "; waiting for " + strings.Join(pending, ", ")
		}
		if line != last {
			a.logf("%s", line)
			last = line
		}
		// The tree is complete once the parents list their children.
		if len(pending) == 0 && len(want) > 1 && len(have) >= len(want) {
			return apps, nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, s := range apps {
				if !s.OK() {
					fmt.Fprintf(&b, "\n  %s: %s/%s: %s", s.Name, s.Sync, s.Health, s.Message)
				}
			}
			return apps, fmt.Errorf("argocd: Applications not Synced and Healthy after %s (logs %s/argocd-*.log):%s", timeout, a.Cluster.logDir(), b.String())
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return apps, err
		}
	}
}

func appStatus(u *unstructured.Unstructured) AppStatus {
	s := AppStatus{Name: u.GetName()}
	s.Project = argoapps.FromBody(u.Object, "").Project
	s.Sync, _, _ = unstructured.NestedString(u.Object, "status", "sync", "status")
	s.Health, _, _ = unstructured.NestedString(u.Object, "status", "health", "status")
	s.Revision, _, _ = unstructured.NestedString(u.Object, "status", "sync", "revision")
	var msgs []string
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			msgs = append(msgs, fmt.Sprintf("%v: %v", m["type"], m["message"]))
		}
	}
	if phase, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "phase"); phase != "" && phase != "Succeeded" {
		msg, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "message")
		msgs = append(msgs, fmt.Sprintf("sync %s: %s", phase, msg))
	}
	sort.Strings(msgs)
	s.Message = strings.Join(msgs, "; ")
	if s.Sync == "" {
		s.Sync = "Unknown"
	}
	if s.Health == "" {
		s.Health = "Unknown"
	}
	return s
}

// WriteAppTable prints one line per Application.
func WriteAppTable(w io.Writer, apps []AppStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APPLICATION\tPROJECT\tSYNC\tHEALTH\tREVISION\tNOTE")
	for _, s := range apps {
		rev := s.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		note := ""
		switch {
		case !s.Offline && s.Note != "":
			note = s.Note
		case s.Offline:
			note = "expected offline: official chart repository unreachable (" + s.Note + ")"
			if !strings.Contains(s.Message, "ComparisonError") {
				note = "official chart (offline): " + s.Message
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Project, s.Sync, s.Health, rev, note)
	}
	return tw.Flush()
}
