package policy

import (
	"encoding/json"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/gobwas/glob"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/official"
)

// source is one source of an Application, located by its field path.
type source struct {
	Path string
	Body map[string]any
}

func appSources(o *Object) []source {
	spec := mapOf(o.Body["spec"])
	if o.Kind == "ApplicationSet" {
		spec = mapOf(get(o.Body, "spec", "template", "spec"))
	}
	prefix := "spec"
	if o.Kind == "ApplicationSet" {
		prefix = "spec.template.spec"
	}
	var out []source
	if s := mapOf(spec["source"]); s != nil {
		out = append(out, source{Path: prefix + ".source", Body: s})
	}
	for i, s := range listOf(spec["sources"]) {
		out = append(out, source{Path: idx(prefix+".sources", i), Body: mapOf(s)})
	}
	return out
}

func applications(env *Env) []*Object {
	var out []*Object
	for _, o := range env.Kind("Application") {
		if strings.HasPrefix(o.APIVersion, "argoproj.io/") {
			out = append(out, o)
		}
	}
	return out
}

func appProjects(env *Env) map[string]*Object {
	out := map[string]*Object{}
	for _, o := range env.Kind("AppProject") {
		if strings.HasPrefix(o.APIVersion, "argoproj.io/") {
			out[o.Name] = o
		}
	}
	return out
}

// C13
func checkProjectNotDefault(env *Env) []Violation {
	var out []Violation
	for _, o := range env.Kind("Application", "ApplicationSet") {
		p, field := str(get(o.Body, "spec", "project")), "spec.project"
		if o.Kind == "ApplicationSet" {
			p, field = str(get(o.Body, "spec", "template", "spec", "project")), "spec.template.spec.project"
		}
		if p == "" || p == "default" {
			out = append(out, violation(o, field, "Application in the default project, which has no bounds: use root, app or infra"))
		}
	}
	return out
}

func isWildcardPair(m map[string]any, a, b string) bool { return str(m[a]) == "*" && str(m[b]) == "*" }

// C14
func checkProjectWildcards(env *Env) []Violation {
	var out []Violation
	for _, p := range appProjects(env) {
		if p.Name == "default" {
			continue
		}
		for i, r := range strs(get(p.Body, "spec", "sourceRepos")) {
			if r == "*" {
				out = append(out, violation(p, idx("spec.sourceRepos", i), "the project accepts any source repository"))
			}
		}
		for i, d := range listOf(get(p.Body, "spec", "destinations")) {
			m := mapOf(d)
			if (str(m["server"]) == "*" || str(m["name"]) == "*") && str(m["namespace"]) == "*" {
				out = append(out, violation(p, idx("spec.destinations", i), "the project may deploy anywhere (server and namespace *)"))
			}
			if str(m["namespace"]) == p.Namespace && p.Namespace != "" {
				out = append(out, violation(p, idx("spec.destinations", i)+".namespace", "the project may deploy into Argo CD's namespace %s: effectively admin", p.Namespace))
			}
		}
		for i, g := range listOf(get(p.Body, "spec", "clusterResourceWhitelist")) {
			if isWildcardPair(mapOf(g), "group", "kind") {
				out = append(out, violation(p, idx("spec.clusterResourceWhitelist", i), "the project may create any cluster-scoped resource"))
			}
		}
	}
	return out
}

// C15
func checkDefaultProjectLocked(env *Env) []Violation {
	p := appProjects(env)["default"]
	if p == nil {
		return nil
	}
	var out []Violation
	if len(listOf(get(p.Body, "spec", "sourceRepos"))) > 0 {
		out = append(out, violation(p, "spec.sourceRepos", "the default project must accept no source: sourceRepos: []"))
	}
	if len(listOf(get(p.Body, "spec", "destinations"))) > 0 {
		out = append(out, violation(p, "spec.destinations", "the default project must have no destination: destinations: []"))
	}
	locked := false
	for _, g := range listOf(get(p.Body, "spec", "namespaceResourceBlacklist")) {
		locked = locked || isWildcardPair(mapOf(g), "group", "kind")
	}
	if !locked {
		out = append(out, violation(p, "spec.namespaceResourceBlacklist", "the default project must deny every namespaced resource: [{group: '*', kind: '*'}]"))
	}
	return out
}

// globMatch is Argo CD's matching of project patterns: "!" negates.
func globMatch(pattern, value string, separators ...rune) bool {
	neg := strings.HasPrefix(pattern, "!")
	pattern = strings.TrimPrefix(pattern, "!")
	ok := pattern == "*"
	if !ok {
		g, err := glob.Compile(pattern, separators...)
		ok = err == nil && g.Match(value)
	}
	if neg {
		return !ok
	}
	return ok
}

func normalizeRepo(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	return u
}

// sourcePermitted replays AppProject.IsSourcePermitted.
func sourcePermitted(project *Object, repo string) bool {
	any := false
	for _, pat := range strs(get(project.Body, "spec", "sourceRepos")) {
		neg := strings.HasPrefix(pat, "!")
		norm := normalizeRepo(strings.TrimPrefix(pat, "!"))
		if neg {
			norm = "!" + norm
		}
		if globMatch(norm, normalizeRepo(repo), '/') {
			if !neg {
				any = true
			}
		} else if neg {
			return false
		}
	}
	return any
}

// destinationPermitted replays AppProject.IsDestinationPermitted.
func destinationPermitted(project *Object, server, name, namespace string) bool {
	any := false
	for _, d := range listOf(get(project.Body, "spec", "destinations")) {
		m := mapOf(d)
		ps, pn, pns := str(m["server"]), str(m["name"]), str(m["namespace"])
		nameOK := name != "" && pn != "" && globMatch(pn, name)
		serverOK := server != "" && ps != "" && globMatch(ps, server)
		nsOK := globMatch(pns, namespace)
		if (serverOK || nameOK) && nsOK {
			any = true
		} else if (!nameOK && strings.HasPrefix(pn, "!")) || (!serverOK && strings.HasPrefix(ps, "!")) || (!nsOK && strings.HasPrefix(pns, "!")) {
			return false
		}
	}
	return any
}

// C16
func checkAppInProject(env *Env) []Violation {
	projects := appProjects(env)
	if len(projects) == 0 {
		return nil // the projects are managed outside the rendered charts
	}
	var out []Violation
	for _, app := range applications(env) {
		name := str(get(app.Body, "spec", "project"))
		p := projects[name]
		if p == nil {
			out = append(out, violation(app, "spec.project", "AppProject %q is not rendered in %s", name, env.Name))
			continue
		}
		for _, s := range appSources(app) {
			if repo := str(s.Body["repoURL"]); !sourcePermitted(p, repo) {
				out = append(out, violation(app, s.Path+".repoURL", "source %s is not in the sourceRepos of project %s", repo, name))
			}
		}
		d := mapOf(get(app.Body, "spec", "destination"))
		server, dname, ns := str(d["server"]), str(d["name"]), str(d["namespace"])
		if !destinationPermitted(p, server, dname, ns) {
			where := server
			if where == "" {
				where = dname
			}
			out = append(out, violation(app, "spec.destination", "destination %s namespace %q is not among the destinations of project %s", where, ns, name))
		}
	}
	return out
}

var secretPlugin = regexp.MustCompile(`(?i)vault|avp|secret|sops|1password|doppler|infisical`)

// C19
func checkSecretPlugin(env *Env) []Violation {
	var out []Violation
	for _, app := range env.Kind("Application", "ApplicationSet") {
		for _, s := range appSources(app) {
			if name := str(get(s.Body, "plugin", "name")); s.Body["plugin"] != nil && (secretPlugin.MatchString(name) || secretPlugin.MatchString(str(get(s.Body, "plugin", "env")))) {
				out = append(out, violation(app, s.Path+".plugin", "config management plugin %q injects secrets into manifests (they end up in Argo CD's cache)", name))
			}
		}
	}
	for _, cm := range env.Kind("ConfigMap") {
		if cm.Name != "argocd-cm" && cm.Name != "argocd-cmp-cm" {
			continue
		}
		data := mapOf(cm.Body["data"])
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if strings.Contains(str(data[k]), "argocd-vault-plugin") {
				out = append(out, violation(cm, "data."+k, "argocd-vault-plugin is configured: secrets would be injected into manifests"))
			}
		}
	}
	return out
}

var (
	commitSHA  = regexp.MustCompile(`^[0-9a-f]{40}$`)
	exactChart = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// H14
func checkPinnedSources(env *Env) []Violation {
	var out []Violation
	for _, app := range env.Kind("Application", "ApplicationSet") {
		for _, s := range appSources(app) {
			rev := str(s.Body["targetRevision"])
			p := s.Path + ".targetRevision"
			if str(s.Body["chart"]) != "" {
				if !exactChart.MatchString(rev) {
					out = append(out, violation(app, p, "chart %s at %q: pin an exact version", str(s.Body["chart"]), rev))
				}
				continue
			}
			if !env.Production || commitSHA.MatchString(rev) || strings.HasPrefix(rev, "refs/tags/") || exactChart.MatchString(rev) {
				continue
			}
			out = append(out, violation(app, p, "git revision %q moves: pin a commit SHA or a tag in production", rev))
		}
	}
	return out
}

// H16
func checkChartDeps(env *Env) []Violation {
	var out []Violation
	for _, ch := range env.Charts {
		lock := mapOf(ch.Body["lock"])
		remote := false
		for i, d := range listOf(get(ch.Body, "chart", "dependencies")) {
			m := mapOf(d)
			p := idx("dependencies", i)
			repo, version := str(m["repository"]), str(m["version"])
			if !exactChart.MatchString(version) {
				out = append(out, violation(ch, p+".version", "dependency %s at %q: pin an exact version", str(m["name"]), version))
			}
			if strings.HasPrefix(repo, "file://") {
				continue
			}
			remote = true
			if !chartRepoAllowed(env.Platform, repo) {
				out = append(out, violation(ch, p+".repository", "dependency repository %s is not on the allow-list", repo))
			}
		}
		switch {
		case lock == nil && remote:
			out = append(out, violation(ch, "dependencies", "remote dependencies without Chart.lock: run helm dependency update and commit Chart.lock"))
		case lock != nil && !lockInSync(get(ch.Body, "chart", "dependencies"), lock["dependencies"]):
			out = append(out, violation(ch, "dependencies", "Chart.lock is out of sync with Chart.yaml: run helm dependency update"))
		}
	}
	return out
}

func chartRepoAllowed(p *Platform, repo string) bool {
	if strings.HasPrefix(repo, "oci://") {
		return official.Ours(repo)
	}
	return slices.Contains(p.ChartRepositories, strings.TrimSuffix(repo, "/"))
}

func lockInSync(deps, locked any) bool {
	key := func(v any) []string {
		var out []string
		for _, d := range listOf(v) {
			out = append(out, str(get(d, "name"))+"@"+str(get(d, "version"))+"@"+str(get(d, "repository")))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(deps), key(locked))
}

// H17
func checkArgoSSO(env *Env) []Violation {
	var out []Violation
	for _, cm := range env.Kind("ConfigMap") {
		data := mapOf(cm.Body["data"])
		switch cm.Name {
		case "argocd-cm":
			if env.Production && str(data["admin.enabled"]) != "false" {
				out = append(out, violation(cm, "data[admin.enabled]", "the local admin user is enabled in production: set admin.enabled: \"false\" and log in through SSO"))
			}
			if str(data["users.anonymous.enabled"]) == "true" {
				out = append(out, violation(cm, "data[users.anonymous.enabled]", "anonymous access is enabled"))
			}
			if str(data["dex.config"]) == "" && str(data["oidc.config"]) == "" {
				out = append(out, violation(cm, "data", "no SSO: set dex.config (GitHub connector) or oidc.config"))
			}
		case "argocd-rbac-cm":
			if d := str(data["policy.default"]); d != "" && d != "role:readonly" {
				out = append(out, violation(cm, "data[policy.default]", "default role %q: use role:readonly or nothing", d))
			}
			for i, line := range strings.Split(str(data["policy.csv"]), "\n") {
				f := strings.Split(line, ",")
				for j := range f {
					f[j] = strings.TrimSpace(f[j])
				}
				if len(f) == 3 && f[0] == "g" && f[2] == "role:admin" && (f[1] == "*" || f[1] == "authenticated" || f[1] == "<everyone>") {
					out = append(out, violation(cm, "data[policy.csv]", "line %d makes everyone admin", i+1))
				}
			}
			if s := str(data["scopes"]); s != "" && !strings.Contains(s, "groups") {
				out = append(out, violation(cm, "data[scopes]", "scopes %s omit groups: team bindings would not apply", s))
			}
		}
	}
	return out
}

const ssaOption = "ServerSideApply=true"

func hasSSA(app *Object) bool {
	return slices.Contains(strs(get(app.Body, "spec", "syncPolicy", "syncOptions")), ssaOption)
}

// H21
func checkServerSideApply(env *Env) []Violation {
	var out []Violation
	t := newTree(env)
	for _, app := range applications(env) {
		for _, s := range appSources(app) {
			if str(s.Body["chart"]) == "kube-prometheus-stack" && !hasSSA(app) {
				out = append(out, violation(app, "spec.syncPolicy.syncOptions", "kube-prometheus-stack's CRDs exceed the 256 KiB annotation limit of client-side apply: add %s", ssaOption))
			}
		}
	}
	for _, crd := range env.Kind("CustomResourceDefinition") {
		data, err := json.Marshal(crd.Body)
		if err != nil || len(data) <= 262144 {
			continue
		}
		if strings.Contains(str(get(crd.Body, "metadata", "annotations", "argocd.argoproj.io/sync-options")), ssaOption) {
			continue
		}
		for _, app := range t.deployers(crd.Chart) {
			if !hasSSA(app) {
				out = append(out, violation(app, "spec.syncPolicy.syncOptions", "deploys CRD %s (%d bytes, over 256 KiB) without %s", crd.Name, len(data), ssaOption))
			}
		}
	}
	return out
}

// M15
func checkArgoHygiene(env *Env) []Violation {
	var out []Violation
	for _, app := range applications(env) {
		if !slices.Contains(strs(get(app.Body, "metadata", "finalizers")), "resources-finalizer.argocd.argoproj.io") {
			out = append(out, violation(app, "metadata.finalizers", "a child Application without resources-finalizer.argocd.argoproj.io leaves its resources behind when deleted"))
		}
		for _, s := range appSources(app) {
			if str(s.Body["chart"]) != "" {
				continue
			}
			if str(s.Body["path"]) != "" && str(get(app.Body, "metadata", "annotations", "argocd.argoproj.io/manifest-generate-paths")) == "" {
				out = append(out, violation(app, "metadata.annotations[argocd.argoproj.io/manifest-generate-paths]", "a monorepo Application should set manifest-generate-paths so that unrelated commits do not regenerate it"))
			}
			rev := str(s.Body["targetRevision"])
			if !commitSHA.MatchString(rev) && !strings.HasPrefix(rev, "refs/heads/") && !strings.HasPrefix(rev, "refs/tags/") {
				out = append(out, violation(app, s.Path+".targetRevision", "git revision %q is ambiguous: write refs/heads/<branch> or refs/tags/<tag>", rev))
			}
		}
	}
	return out
}

// tree is the App-of-Apps graph of one environment (apps.Graph): an Application deploys the
// chart its source points to (a path of this repository, or a chart of the same name from a
// Helm or OCI repository), and the Applications that chart renders are its children.
type tree struct {
	*apps.Graph
	// object and app map between the policy objects and the graph's Applications.
	object   map[*apps.Application]*Object
	app      map[*Object]*apps.Application
	dangling []Violation
}

func newTree(env *Env) *tree {
	t := &tree{object: map[*apps.Application]*Object{}, app: map[*Object]*apps.Application{}}
	byID, byName := map[string]bool{}, map[string][]string{}
	for _, ch := range env.Charts {
		byID[ch.Chart] = true
		byName[ch.Name] = append(byName[ch.Name], ch.Chart)
	}
	var list []*apps.Application
	for _, o := range applications(env) {
		a := apps.FromObject(o.Object, o.Chart, env.Name)
		t.object[a], t.app[o] = o, a
		list = append(list, a)
	}
	t.Graph = apps.NewGraph(list, func(a *apps.Application, s apps.Source) string {
		app := t.object[a]
		if c := s.Chart; c != "" {
			ours := official.Ours(s.RepoURL)
			switch ids := byName[c]; {
			case len(ids) == 1:
				return ids[0]
			case len(ids) > 1:
				// Charts are published as <repository>/<name>: two charts of one name
				// overwrite each other there.
				t.dangling = append(t.dangling, violation(app, s.Field+".chart", "chart name %s is ambiguous: %s all publish to %s/%s", c, strings.Join(ids, ", "), s.RepoURL, c))
				return ids[0]
			case ours:
				t.dangling = append(t.dangling, violation(app, s.Field+".chart", "chart %s from our ECR is not a chart of this repository", c))
			}
		} else if p := s.Path; p != "" {
			p = path.Clean(strings.TrimPrefix(p, "./"))
			if byID[p] {
				return p
			} else if strings.HasPrefix(p, "app/") || strings.HasPrefix(p, "infra/") || strings.HasPrefix(p, "deploy/") {
				t.dangling = append(t.dangling, violation(app, s.Field+".path", "path %s is not a chart of this repository", p))
			}
		}
		return ""
	})
	return t
}

// deployers are the Applications deploying the chart.
func (t *tree) deployers(chart string) []*Object {
	var out []*Object
	for _, a := range t.Deployers(chart) {
		out = append(out, t.object[a])
	}
	return out
}

// P03
func checkAppTree(env *Env) []Violation {
	apps := applications(env)
	if len(apps) == 0 {
		return nil
	}
	t := newTree(env)
	out := append([]Violation{}, t.dangling...)
	// Orphans: charts nothing deploys. Charts rendering Applications and deployed by no
	// Application are the tree's roots (installed by Helmfile); a chart that renders no
	// object in this environment (a production-only chart in dev) has nothing to deploy;
	// everything else must be reachable.
	rendering := map[string]bool{}
	for _, o := range env.Objects {
		rendering[o.Chart] = true
	}
	for _, ch := range env.Charts {
		if len(t.Deployers(ch.Chart)) == 0 && !slices.Contains(env.Roots, ch.Chart) && len(t.Rendered(ch.Chart)) == 0 && rendering[ch.Chart] {
			out = append(out, violation(ch, "", "chart %s is deployed by no Application: add a child Application or remove the chart", ch.Chart))
		}
	}
	// Cycles: depth-first over Application -> child Application.
	const (
		white = iota
		grey
		black
	)
	color := map[*Object]int{}
	var visit func(a *Object, trail []string)
	visit = func(a *Object, trail []string) {
		color[a] = grey
		trail = append(trail, a.Name)
		for _, ca := range t.Children(t.app[a]) {
			c := t.object[ca]
			switch color[c] {
			case grey:
				out = append(out, violation(a, "", "App-of-Apps cycle: %s -> %s", strings.Join(trail, " -> "), c.Name))
			case white:
				visit(c, trail)
			}
		}
		color[a] = black
	}
	for _, a := range apps {
		if color[a] == white {
			visit(a, nil)
		}
	}
	return out
}

// C20
func checkArgoCDNamespace(env *Env) []Violation {
	ns := env.Platform.ArgoCDNamespace
	if ns == "" {
		return nil
	}
	var out []Violation
	for _, o := range env.Objects {
		if o.Namespace != ns || slices.Contains(env.Roots, o.Chart) {
			continue
		}
		if o.Kind == "Application" && strings.HasPrefix(o.APIVersion, "argoproj.io/") {
			continue
		}
		out = append(out, violation(o, "metadata.namespace", "%s %q in Argo CD's namespace %s, rendered by %s, which Argo CD deploys: only Applications belong there (a Secret there can be a repository or cluster credential Argo CD trusts; its ConfigMaps are its settings and RBAC)",
			o.Kind, o.Name, ns, o.Chart))
	}
	return out
}

// builtinNamespaces exist in every cluster before anything syncs.
var builtinNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// P07
func checkApplicationNamespace(env *Env) []Violation {
	var out []Violation
	for _, o := range applications(env) {
		a := apps.FromObject(o.Object, o.Chart, env.Name)
		ns := a.Destination.Namespace
		if ns == "" || slices.Contains(builtinNamespaces, ns) || env.Namespace(ns) != nil || slices.Contains(a.SyncOptions, "CreateNamespace=true") {
			continue
		}
		out = append(out, violation(o, "spec.destination.namespace", "namespace %s is rendered by no chart of the environment and the Application does not create it (CreateNamespace=true): its first sync fails", ns))
	}
	return out
}
