package gitops

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

var envs = []string{"dev", "prd"}

// repoRoot is the real repository these tests assert.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var (
	treesMu sync.Mutex
	trees   = map[string]*Tree{}
)

// realTree loads (once per environment) the tree of the real repository.
func realTree(t *testing.T, env string) *Tree {
	t.Helper()
	treesMu.Lock()
	defer treesMu.Unlock()
	if tr, ok := trees[env]; ok {
		return tr
	}
	tr, err := Load(context.Background(), repoRoot(t), env)
	if err != nil {
		t.Fatalf("Load %s: %v", env, err)
	}
	trees[env] = tr
	return tr
}

// copyRepo copies the parts of the repository that render (charts and helmfiles) to a
// temporary directory and applies edit (relative path -> new content; "" deletes).
func copyRepo(t *testing.T, edit map[string]string) string {
	t.Helper()
	src, dst := repoRoot(t), t.TempDir()
	for _, top := range discovery.Roots {
		err := filepath.WalkDir(filepath.Join(src, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for rel, content := range edit {
		p := filepath.Join(dst, filepath.FromSlash(rel))
		if content == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// appendTo returns the file's content with extra appended.
func appendTo(t *testing.T, rel, extra string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data) + extra
}

// replaceIn returns the file's content with old replaced by new (once; old must occur).
func replaceIn(t *testing.T, rel, old, new string) string {
	t.Helper()
	s := appendTo(t, rel, "")
	if !strings.Contains(s, old) {
		t.Fatalf("%s does not contain %q", rel, old)
	}
	return strings.Replace(s, old, new, 1)
}

// chartsUnder lists the names of the directories holding an application chart under dir.
func chartsUnder(t *testing.T, root, dir string) []string {
	t.Helper()
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range repo.Renderable() {
		if strings.HasPrefix(c.ID, dir+"/") && !strings.Contains(strings.TrimPrefix(c.ID, dir+"/"), "/") {
			out = append(out, c.ID)
		}
	}
	return out
}

// officialChildren are the infra children from official charts (besides one per infra/ chart).
var officialChildren = map[string]string{
	"kube-prometheus-stack": "kube-prometheus-stack",
	"kiali":                 "kiali-server",
	"jaeger":                "jaeger",
}

var istioGrandchildren = map[string]string{
	"istio-base":           "base",
	"istio-cni":            "cni",
	"istiod":               "istiod",
	"istio-ingressgateway": "gateway",
	"istio-egressgateway":  "gateway",
}

// shapeProblems checks the tree against the mission: root -> exactly the two parents ->
// one child per chart under app/ and infra/ plus the official charts and istio -> the five
// Istio grandchildren; projects root/app/infra; no orphan.
func shapeProblems(t *testing.T, root string, tr *Tree) []string {
	t.Helper()
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	names := func(ns []*Node) []string {
		var s []string
		for _, n := range ns {
			s = append(s, n.Name)
		}
		sort.Strings(s)
		return s
	}
	if tr.Root == nil || tr.Root.Name != "argocd-root" || tr.Root.Project != "root" {
		bad("root is %+v, want argocd-root in project root", tr.Root)
		return out
	}
	if got := names(tr.Root.Children); !slices.Equal(got, []string{"argocd-app-parent", "argocd-infra-parent"}) {
		bad("root children = %v, want exactly argocd-app-parent and argocd-infra-parent", got)
	}
	for _, o := range tr.Orphans {
		bad("orphan Application %s (rendered by %s)", o.Name, o.RenderedBy)
	}
	// Every chart under app/ and infra/ that renders objects in the environment is deployed
	// by exactly one child of its parent (infra/ecr-credentials renders nothing in dev).
	empty := map[string]bool{}
	for _, r := range tr.Renders {
		if len(r.Objects) == 0 {
			empty[r.Chart.ID] = true
		}
	}
	for parent, dir := range map[string]string{"argocd-app-parent": "app", "argocd-infra-parent": "infra"} {
		p := tr.Find(parent)
		if p == nil {
			bad("no %s", parent)
			continue
		}
		want := map[string]bool{}
		for _, id := range chartsUnder(t, root, dir) {
			want[id] = !empty[id]
		}
		deployed := map[string]int{}
		for _, c := range p.Children {
			if id := chartOf(t, root, c); id != "" {
				deployed[id]++
			}
		}
		for id, renders := range want {
			if renders && deployed[id] != 1 {
				bad("%s: chart %s is deployed by %d children, want 1", parent, id, deployed[id])
			}
		}
		for id := range deployed {
			if _, ok := want[id]; !ok {
				bad("%s: child deploys %s, which is not a chart under %s/", parent, id, dir)
			}
		}
		if dir == "infra" {
			for name, chart := range officialChildren {
				c := findChild(p, name)
				if c == nil || c.Source.Chart != chart {
					bad("%s: no child %s of the official chart %s", parent, name, chart)
				}
			}
			istio := findChild(p, "istio")
			if istio == nil {
				bad("%s: no child istio", parent)
			} else {
				got := map[string]string{}
				for _, g := range istio.Children {
					got[g.Name] = g.Source.Chart
				}
				for name, chart := range istioGrandchildren {
					if got[name] != chart {
						bad("istio: grandchild %s has chart %q, want %q", name, got[name], chart)
					}
				}
				if len(got) != len(istioGrandchildren) {
					bad("istio has %d grandchildren %v, want %d", len(got), got, len(istioGrandchildren))
				}
			}
		}
	}
	// Projects: an Application that renders Applications (the root, the parents, the istio
	// tree) is in project root, which may create nothing but Applications; the app and
	// infra teams' charts are in their projects, which cannot deploy into Argo CD's
	// namespace; the ECR credentials' renewal, which must, has a project of its own.
	tr.Walk(func(n *Node, d int) {
		want := "infra"
		switch {
		case d == 0 || len(n.Children) > 0 || n.Source.Path != "" && strings.HasPrefix(n.Source.Path, "deploy/"):
			want = "root"
		case n.Name == "ecr-credentials":
			want = "argocd-credentials"
		case under(tr, "argocd-app-parent", n):
			want = "app"
		}
		if n.Project != want {
			bad("%s is in project %q, want %q", n.Name, n.Project, want)
		}
		if n.Project != "root" && n.Project != "" && tr.Projects[n.Project] == nil {
			bad("%s: project %s is not rendered", n.Name, n.Project)
		}
	})
	return out
}

func findChild(n *Node, name string) *Node {
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func under(tr *Tree, ancestor string, n *Node) bool {
	a := tr.Find(ancestor)
	found := false
	var walk func(x *Node)
	walk = func(x *Node) {
		for _, c := range x.Children {
			if c == n {
				found = true
			}
			walk(c)
		}
	}
	if a != nil {
		walk(a)
	}
	return found
}

// chartOf is the repository chart an Application deploys: its git path, or the chart of that
// name (OCI, published from this repository).
func chartOf(t *testing.T, root string, n *Node) string {
	t.Helper()
	if n.Source.Git() {
		if strings.HasPrefix(n.Source.Path, "app/") || strings.HasPrefix(n.Source.Path, "infra/") {
			return n.Source.Path
		}
		return ""
	}
	if !strings.Contains(n.Source.RepoURL, ".dkr.ecr.") {
		return ""
	}
	repo, err := discovery.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range repo.Renderable() {
		if c.Name == n.Source.Chart {
			return c.ID
		}
	}
	t.Errorf("%s: chart %s is not a chart of this repository", n.Name, n.Source.Chart)
	return ""
}

func TestTreeShape(t *testing.T) {
	cases := []struct {
		name string
		edit map[string]string // nil: the real repository
		want string            // substring of a problem; "" means none
	}{
		{name: "real repository"},
		{name: "a disabled service is a chart without Application",
			edit: map[string]string{"deploy/argocd/app/values-dev.yaml": appendTo(t, "deploy/argocd/app/values-dev.yaml", "applications:\n  order: null\n"),
				"deploy/argocd/app/values-prd.yaml": appendTo(t, "deploy/argocd/app/values-prd.yaml", "applications:\n  order: null\n")},
			want: "chart app/order is deployed by 0 children"},
		{name: "a grandchild in the wrong project",
			edit: map[string]string{"deploy/argocd/infra/istio/values-dev.yaml": appendTo(t, "deploy/argocd/infra/istio/values-dev.yaml", "  istiod:\n    project: app\n"),
				"deploy/argocd/infra/istio/values-prd.yaml": replaceIn(t, "deploy/argocd/infra/istio/values-prd.yaml", "  istiod:\n", "  istiod:\n    project: app\n")},
			want: `istiod is in project "app", want "infra"`},
	}
	for _, tc := range cases {
		for _, env := range envs {
			t.Run(tc.name+"/"+env, func(t *testing.T) {
				root, tr := repoRoot(t), (*Tree)(nil)
				if tc.edit == nil {
					tr = realTree(t, env)
					t.Logf("tree of %s:\n%s", env, tr)
				} else {
					root = copyRepo(t, tc.edit)
					var err error
					if tr, err = Load(context.Background(), root, env); err != nil {
						t.Fatal(err)
					}
				}
				problems := shapeProblems(t, root, tr)
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

func TestTreeSourcesPerEnvironment(t *testing.T) {
	for _, env := range envs {
		t.Run(env, func(t *testing.T) {
			tr := realTree(t, env)
			tr.Walk(func(n *Node, d int) {
				id := chartOf(t, repoRoot(t), n)
				switch {
				case id == "":
					// the tree's own charts (git) and the official charts (exact versions)
					if !n.Source.Git() && !exactVersion.MatchString(n.Source.TargetRevision) {
						t.Errorf("%s: official chart %s at %q, want an exact version", n.Name, n.Source.Chart, n.Source.TargetRevision)
					}
				case env == "dev" && !n.Source.Git():
					t.Errorf("%s: dev deploys %s from %s, want this git repository", n.Name, id, n.Source.RepoURL)
				case env == "prd" && id == "infra/ecr-credentials":
					// The credentials to reach ECR cannot come from ECR: git in every environment.
					if !n.Source.Git() {
						t.Errorf("%s: prd deploys %s from %s, want this git repository", n.Name, id, n.Source.RepoURL)
					}
				case env == "prd":
					if n.Source.Git() {
						t.Errorf("%s: prd deploys %s from git, want the ECR chart", n.Name, id)
					}
					if v := chartVersion(t, id); n.Source.TargetRevision != v {
						t.Errorf("%s: targetRevision %s, want %s's version %s", n.Name, n.Source.TargetRevision, id, v)
					}
				}
				if d > 0 && !slices.Contains(strs(Get(n.Body, "metadata", "finalizers")), "resources-finalizer.argocd.argoproj.io") {
					t.Errorf("%s has no resources finalizer", n.Name)
				}
				if n.Source.Git() && Get(n.Body, "metadata", "annotations", "argocd.argoproj.io/manifest-generate-paths") == nil {
					t.Errorf("%s (git) has no manifest-generate-paths annotation", n.Name)
				}
				auto, _ := Get(n.Body, "spec", "syncPolicy", "automated").(map[string]any)
				if auto["prune"] != true || auto["selfHeal"] != true {
					t.Errorf("%s: automated sync %v, want prune and selfHeal", n.Name, auto)
				}
			})
			kps := tr.Find("kube-prometheus-stack")
			if kps == nil || !slices.Contains(strs(Get(kps.Body, "spec", "syncPolicy", "syncOptions")), "ServerSideApply=true") {
				t.Errorf("kube-prometheus-stack does not sync with ServerSideApply=true")
			}
			// CRDs first: istio-base before istiod before the gateways; kube-prometheus-stack before monitoring.
			for _, order := range [][2]string{{"istio-base", "istiod"}, {"istiod", "istio-ingressgateway"}, {"istiod", "istio-egressgateway"},
				{"istio-base", "istio-cni"}, {"kube-prometheus-stack", "monitoring"}, {"istio", "istio-config"}, {"infra-shared", "istio"}} {
				a, b := tr.Find(order[0]), tr.Find(order[1])
				if a == nil || b == nil || wave(t, a) >= wave(t, b) {
					t.Errorf("%s must sync in an earlier wave than %s", order[0], order[1])
				}
			}
		})
	}
}

func wave(t *testing.T, n *Node) int {
	t.Helper()
	var w int
	if _, err := fmt.Sscan(n.SyncWave, &w); err != nil {
		t.Fatalf("%s: sync wave %q: %v", n.Name, n.SyncWave, err)
	}
	return w
}

func chartVersion(t *testing.T, id string) string {
	t.Helper()
	repo, err := discovery.Discover(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := repo.Chart(id)
	return c.Version
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestBuildFindsCyclesAndOrphans(t *testing.T) {
	app := func(name, path string) *render.Object {
		return &render.Object{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: name, Namespace: "argocd",
			Body: map[string]any{"metadata": map[string]any{"name": name}, "spec": map[string]any{"project": "infra",
				"source": map[string]any{"repoURL": "https://example.com/r.git", "path": path}}}}
	}
	res := func(id string, objs ...*render.Object) *render.Result {
		return &render.Result{Chart: discovery.Chart{ID: id}, Env: "dev", Objects: objs}
	}
	root := app("root", "a").Body
	t.Run("cycle", func(t *testing.T) {
		_, err := Build("dev", root, []*render.Result{res("a", app("x", "b")), res("b", app("y", "a"))})
		if err == nil || !strings.Contains(err.Error(), "cycle") && !strings.Contains(err.Error(), "again") {
			t.Errorf("err = %v, want a cycle", err)
		}
	})
	t.Run("orphan", func(t *testing.T) {
		tr, err := Build("dev", root, []*render.Result{res("a", app("x", "app/x")), res("z", app("lost", "app/y"))})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Orphans) != 1 || tr.Orphans[0].Name != "lost" {
			t.Errorf("orphans = %v, want lost", tr.Orphans)
		}
		if got := tr.Root.Children; len(got) != 1 || got[0].Name != "x" {
			t.Errorf("children = %v", got)
		}
	})
}

// ackControllers are the official ACK controller charts (prd only: dev has ElasticMQ and the
// Istio ingress gateway instead of AWS) and the children whose CRDs they install.
var ackControllers = map[string]struct{ chart, version, user string }{
	"ack-sqs-controller":          {"sqs-chart", "1.6.1", "saga-queues"},
	"ack-apigatewayv2-controller": {"apigatewayv2-chart", "1.4.1", "api-gateway"},
}

// TestACKControllers: in prd the infra parent deploys each ACK controller from
// public.ecr.aws at the version of the CRDs in the schema set, on nodegroup system, with an
// IRSA role, a sync wave before the chart whose resources it reconciles; dev has none.
func TestACKControllers(t *testing.T) {
	for _, env := range envs {
		t.Run(env, func(t *testing.T) {
			tr := realTree(t, env)
			for name, want := range ackControllers {
				n := tr.Find(name)
				if env != "prd" {
					if n != nil {
						t.Errorf("%s is deployed in %s, want prd only", name, env)
					}
					continue
				}
				if n == nil {
					t.Errorf("no Application %s in prd", name)
					continue
				}
				if n.Source.RepoURL != "public.ecr.aws/aws-controllers-k8s" || n.Source.Chart != want.chart || n.Source.TargetRevision != want.version {
					t.Errorf("%s: source %s %s %s, want public.ecr.aws/aws-controllers-k8s %s %s", name, n.Source.RepoURL, n.Source.Chart, n.Source.TargetRevision, want.chart, want.version)
				}
				values, _ := Get(n.Body, "spec", "source", "helm", "valuesObject").(map[string]any)
				if got := Get(values, "deployment", "nodeSelector", "node.kubernetes.io/nodegroup"); got != "system" {
					t.Errorf("%s: nodegroup %v, want system", name, got)
				}
				if arn, _ := Get(values, "serviceAccount", "annotations", "eks.amazonaws.com/role-arn").(string); !strings.HasPrefix(arn, "arn:aws:iam::") {
					t.Errorf("%s: ServiceAccount role-arn %q, want an IAM role (IRSA)", name, arn)
				}
				if Get(n.Body, "spec", "destination", "namespace") != "ack-system" {
					t.Errorf("%s: destination %v, want ack-system", name, Get(n.Body, "spec", "destination"))
				}
				user := tr.Find(want.user)
				if user == nil || wave(t, n) >= wave(t, user) {
					t.Errorf("%s must sync in an earlier wave than %s", name, want.user)
				}
			}
		})
	}
}
