package apps

import "path"

// Resolver maps a source of an Application to the repository chart (ID) it deploys, ""
// for none. Callers differ in what they link: the tree follows git paths only, the
// policies also match Helm and OCI charts by name.
type Resolver func(a *Application, s Source) string

// PathResolver links a git path source to the chart at that path.
func PathResolver(_ *Application, s Source) string {
	if s.Kind != Path {
		return ""
	}
	return path.Clean(s.Path)
}

// Graph is the App-of-Apps graph: an Application deploys the charts its sources resolve to,
// and the Applications those charts render are its children.
type Graph struct {
	apps []*Application
	// targets maps an Application to the chart IDs it deploys, in source order.
	targets map[*Application][]string
	// deployers maps a chart ID to the Applications deploying it.
	deployers map[string][]*Application
	// rendered maps a chart ID to the Applications it renders.
	rendered map[string][]*Application
}

// NewGraph links apps (in their order) with resolve.
func NewGraph(apps []*Application, resolve Resolver) *Graph {
	g := &Graph{apps: apps, targets: map[*Application][]string{},
		deployers: map[string][]*Application{}, rendered: map[string][]*Application{}}
	for _, a := range apps {
		g.rendered[a.Chart] = append(g.rendered[a.Chart], a)
		for _, s := range a.Sources {
			if id := resolve(a, s); id != "" {
				g.targets[a] = append(g.targets[a], id)
				g.deployers[id] = append(g.deployers[id], a)
			}
		}
	}
	return g
}

// Applications are the graph's Applications, in the order given.
func (g *Graph) Applications() []*Application { return g.apps }

// Targets are the charts a deploys.
func (g *Graph) Targets(a *Application) []string { return g.targets[a] }

// Deployers are the Applications deploying the chart.
func (g *Graph) Deployers(chart string) []*Application { return g.deployers[chart] }

// Rendered are the Applications the chart renders.
func (g *Graph) Rendered(chart string) []*Application { return g.rendered[chart] }

// Children are the Applications rendered by the charts a deploys, per target in order.
func (g *Graph) Children(a *Application) []*Application {
	var out []*Application
	for _, id := range g.targets[a] {
		out = append(out, g.rendered[id]...)
	}
	return out
}

// Parent is the first Application deploying the chart that rendered a (nil for a root).
func (g *Graph) Parent(a *Application) *Application {
	if d := g.deployers[a.Chart]; len(d) > 0 {
		return d[0]
	}
	return nil
}

// Roots are the Applications that no Application deploys (the root installed by Helmfile,
// or orphans), in the order given.
func (g *Graph) Roots() []*Application {
	var out []*Application
	for _, a := range g.apps {
		if g.Parent(a) == nil {
			out = append(out, a)
		}
	}
	return out
}
