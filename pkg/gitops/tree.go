// Package gitops builds the App-of-Apps tree of the repository for one environment: the root
// Application comes from the Helmfile that installs it (the official argocd-apps chart's
// values), and the children of an Application are the Applications rendered by the chart at
// its git source path (the graph of pkg/apps). Policies ("no orphan, no cycle, project fits") and tests walk the tree.
package gitops

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// RootHelmfile is the Helmfile that installs the root Application, relative to the repository.
const RootHelmfile = "deploy/argocd/shared/root/helmfile.d/argocd-apps.yaml"

// Source is an Application's (single) source.
type Source struct {
	RepoURL        string
	Path           string // git sources
	Chart          string // Helm repository and OCI sources
	TargetRevision string
	ReleaseName    string
	ValueFiles     []string
	// Values is spec.source.helm.valuesObject.
	Values map[string]any
}

// Git reports whether the source is a directory of a git repository.
func (s Source) Git() bool { return s.Path != "" && s.Chart == "" }

// Destination is an Application's destination.
type Destination struct {
	Server    string
	Namespace string
}

// Node is one Application of the tree.
type Node struct {
	Name        string
	Project     string
	SyncWave    string
	Source      Source
	Destination Destination
	// RenderedBy is the chart (ID, e.g. "deploy/argocd/infra") that renders this Application;
	// RootHelmfile for the root.
	RenderedBy string
	// Body is the whole Application object.
	Body     map[string]any
	Children []*Node
}

// Tree is the App-of-Apps tree of one environment.
type Tree struct {
	Env  string
	Root *Node
	// Orphans are Applications rendered in the environment but not reachable from the root.
	Orphans []*Node
	// Projects are the rendered AppProjects, by name.
	Projects map[string]map[string]any
	// Renders are every chart's render in the environment (what the tree was built from).
	Renders []*render.Result
}

// renderRules are the finding rules of rendering and schema validation: a chart with such an
// error renders nothing trustworthy, so the tree would be incomplete. Policy findings do not
// stop the tree (policies are what use it).
var renderRules = map[string]bool{"chart": true, "dependency": true, "duplicate": true, "schema": true,
	"template": true, "values": true, "values-schema": true, "yaml": true}

// Load renders the repository at root for env (validate.Validator) and builds its tree.
// Render and schema errors are returned as an error.
func Load(ctx context.Context, root, env string) (*Tree, error) {
	res, err := (&validate.Validator{Root: root, Envs: []string{env}}).Run(ctx)
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, f := range res.Report.Findings {
		if f.Severity == report.Error && (renderRules[f.Rule] || repofs.IsRule(f.Rule)) {
			errs = append(errs, f.String())
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("render %s: %d errors:\n%s", env, len(errs), strings.Join(errs, "\n"))
	}
	rootApp, err := RootApplication(res.Repo.Root, RootHelmfile, env)
	if err != nil {
		return nil, err
	}
	return Build(env, rootApp, res.Renders)
}

// Build links the Applications of renders (of environment env) under rootApp.
func Build(env string, rootApp map[string]any, renders []*render.Result) (*Tree, error) {
	t := &Tree{Env: env, Projects: map[string]map[string]any{}, Renders: renders}
	nodes := map[*apps.Application]*Node{}
	var all []*apps.Application
	for _, r := range renders {
		if r.Env != env {
			continue
		}
		for _, o := range r.Objects {
			switch {
			case o.Kind == "Application" && apps.IsApplication(o):
				a := apps.FromObject(o, r.Chart.ID, r.Env)
				n, err := nodeOf(a)
				if err != nil {
					return nil, fmt.Errorf("%s in %s: %w", o.ID(), r.Chart.ID, err)
				}
				nodes[a] = n
				all = append(all, a)
			case o.Kind == "AppProject" && strings.HasPrefix(o.APIVersion, "argoproj.io/"):
				t.Projects[o.Name] = o.Body
			}
		}
	}
	rootA := apps.FromBody(rootApp, RootHelmfile)
	root, err := nodeOf(rootA)
	if err != nil {
		return nil, fmt.Errorf("root application: %w", err)
	}
	nodes[rootA] = root
	t.Root = root
	// The tree follows the single source's git path only.
	g := apps.NewGraph(append([]*apps.Application{rootA}, all...), func(a *apps.Application, s apps.Source) string {
		if s.Field != "spec.source" {
			return ""
		}
		return apps.PathResolver(a, s)
	})

	reached := map[*Node]bool{}
	var link func(a *apps.Application, stack []string) error
	link = func(a *apps.Application, stack []string) error {
		n := nodes[a]
		for _, s := range stack {
			if s == n.Name {
				return fmt.Errorf("cycle: %s -> %s", strings.Join(stack, " -> "), n.Name)
			}
		}
		stack = append(stack, n.Name)
		var children []*Node
		for _, ca := range g.Children(a) {
			c := nodes[ca]
			if reached[c] {
				return fmt.Errorf("application %s is rendered under %s and again under %s", c.Name, c.RenderedBy, n.Name)
			}
			reached[c] = true
			if err := link(ca, stack); err != nil {
				return err
			}
			children = append(children, c)
		}
		n.Children = children
		return nil
	}
	if err := link(rootA, nil); err != nil {
		return nil, err
	}
	for _, a := range all {
		if n := nodes[a]; !reached[n] {
			t.Orphans = append(t.Orphans, n)
		}
	}
	return t, nil
}

// Walk visits every node depth-first, children in name order, with its depth (root: 0).
func (t *Tree) Walk(fn func(n *Node, depth int)) {
	var walk func(n *Node, d int)
	walk = func(n *Node, d int) {
		fn(n, d)
		for _, c := range n.Children {
			walk(c, d+1)
		}
	}
	if t.Root != nil {
		walk(t.Root, 0)
	}
}

// Find returns the node named name, or nil.
func (t *Tree) Find(name string) *Node {
	var found *Node
	t.Walk(func(n *Node, _ int) {
		if found == nil && n.Name == name {
			found = n
		}
	})
	return found
}

// String prints the tree, one Application per line: name [project] source -> namespace.
func (t *Tree) String() string {
	var b strings.Builder
	t.Walk(func(n *Node, d int) {
		src := n.Source.Path
		if !n.Source.Git() {
			src = n.Source.RepoURL + " " + n.Source.Chart + "@" + n.Source.TargetRevision
		}
		fmt.Fprintf(&b, "%s%s [%s] wave %s: %s -> %s\n", strings.Repeat("  ", d), n.Name, n.Project, n.SyncWave, src, n.Destination.Namespace)
	})
	return b.String()
}

// node reads the fields of an Application object.
func node(body map[string]any) (*Node, error) { return nodeOf(apps.FromBody(body, "")) }

// nodeOf reads the fields of an Application.
func nodeOf(a *apps.Application) (*Node, error) {
	if a.Name == "" {
		return nil, fmt.Errorf("application without metadata.name")
	}
	n := &Node{Name: a.Name, Body: a.Body, Project: a.Project, SyncWave: a.Wave, RenderedBy: a.Chart}
	if n.SyncWave == "" {
		n.SyncWave = "0"
	}
	src, ok := a.Single()
	if !ok {
		return nil, fmt.Errorf("application %s: spec.source is required (multi-source Applications are not used here)", a.Name)
	}
	n.Source = Source{RepoURL: src.RepoURL, Path: src.Path, Chart: src.Chart, TargetRevision: src.TargetRevision,
		ReleaseName: src.Helm.ReleaseName, ValueFiles: src.Helm.ValueFiles, Values: src.Helm.ValuesObject}
	n.Destination = Destination{Server: a.Destination.Server, Namespace: a.Destination.Namespace}
	return n, nil
}

// Get returns the value at the path of keys in nested maps, or nil.
func Get(m map[string]any, keys ...string) any { return get(m, keys...) }

func get(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// NodeGroupLabel is the node label of the node groups (../shared/DESIGN.md).
const NodeGroupLabel = "node.kubernetes.io/nodegroup"

// NodeGroups returns the node groups a pod spec (or a chart's values block with the same
// fields) confines pods to: its nodeSelector's NodeGroupLabel, else the values of the
// required node affinity's In expressions on that label (the union over the terms). Nil means
// the pods may run on any node.
func NodeGroups(spec map[string]any) []string {
	if g, ok := Get(spec, "nodeSelector", NodeGroupLabel).(string); ok && g != "" {
		return []string{g}
	}
	terms, _ := Get(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms").([]any)
	seen := map[string]bool{}
	for _, term := range terms {
		exprs, _ := Get(asMap(term), "matchExpressions").([]any)
		found := false
		for _, e := range exprs {
			em := asMap(e)
			if em["key"] != NodeGroupLabel || em["operator"] != "In" {
				continue
			}
			found = true
			vals, _ := em["values"].([]any)
			for _, v := range vals {
				if s, ok := v.(string); ok {
					seen[s] = true
				}
			}
		}
		if !found {
			// A term without a node-group expression admits any node group.
			return nil
		}
	}
	if len(seen) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(seen))
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
