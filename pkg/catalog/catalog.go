// Package catalog answers the SRE team's first question (mission step 1): for every
// microservice, which image (ECR registry, repository, tag) it runs, which ports its
// containers and its Service accept traffic on, where it is scheduled, which database it
// uses, which Saga queues it consumes and produces to and which ArgoCD Application deploys
// it. Everything is read from the rendered objects, never from values files, so the catalog
// is what the cluster gets.
package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/microservices-manifests/microservices-manifests/pkg/apps"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/repofs"
	"github.com/microservices-manifests/microservices-manifests/pkg/report"
	"github.com/microservices-manifests/microservices-manifests/pkg/validate"
)

// Namespace is where the microservices run.
const Namespace = "microservices"

// AppContainer is the container that runs the service's own image; the others are proxies.
const AppContainer = "app"

// NodegroupLabel is the node label the node affinity selects on.
const NodegroupLabel = "node.kubernetes.io/nodegroup"

// Port is a named container port.
type Port struct {
	Container string `json:"container"`
	Name      string `json:"name"`
	Port      int    `json:"port"`
}

func (p Port) String() string { return fmt.Sprintf("%s:%d", p.Name, p.Port) }

// ServicePort is a Service port and the container port it forwards to.
type ServicePort struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	Port    int    `json:"port"`
	// Target is the container port the Service's targetPort resolves to (nil if unresolved).
	Target *Port `json:"target,omitempty"`
}

func (p ServicePort) String() string {
	s := fmt.Sprintf("%s:%d", p.Name, p.Port)
	if p.Target != nil {
		s += fmt.Sprintf(" → %s/%s:%d", p.Target.Container, p.Target.Name, p.Target.Port)
	}
	return s
}

// Image is a container image reference split into its parts.
type Image struct {
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// ECR is true when the registry is an AWS ECR registry.
	ECR bool `json:"ecr"`
}

// Database is what the service's chart renders for its database.
type Database struct {
	// Kind is "mysql-statefulset", "aurora" or "external".
	Kind string `json:"kind"`
	// Name is the StatefulSet or the Service name.
	Name string `json:"name"`
	// Endpoint is the image (StatefulSet) or the external host name (ExternalName Service).
	Endpoint string `json:"endpoint"`
}

func (d *Database) String() string {
	if d == nil {
		return "-"
	}
	switch d.Kind {
	case "mysql-statefulset":
		return fmt.Sprintf("MySQL StatefulSet %s (%s)", d.Name, d.Endpoint)
	case "aurora":
		return fmt.Sprintf("Aurora %s", d.Endpoint)
	default:
		return fmt.Sprintf("external %s", d.Endpoint)
	}
}

// QueuesAnnotation is the Deployment annotation with the roles of the service's queues
// ("consume=<queue>,produce=<queue>", rendered by the common library chart).
const QueuesAnnotation = "microservices-manifests.io/saga-queues"

// Queue is a Saga queue a service uses, read from its app container's `*_QUEUE_URL`
// variables.
type Queue struct {
	// Name is the queue name, the last segment of the URL.
	Name string `json:"name"`
	// Role is "consume", "produce" (from QueuesAnnotation) or "use" when not stated.
	Role string `json:"role"`
	// Env is the variable holding the URL.
	Env string `json:"env"`
	URL string `json:"url"`
	// Declared is true when the environment renders the queue: an ACK Queue with that
	// queueName (prd) or a queue of the ElasticMQ configuration (dev).
	Declared bool `json:"declared"`
}

func (q Queue) String() string {
	s := q.Role + " " + q.Name
	if !q.Declared {
		s += " (undeclared)"
	}
	return s
}

// Service is one row of the catalog.
type Service struct {
	Env       string        `json:"env"`
	Name      string        `json:"name"`
	Chart     string        `json:"chart"`
	Namespace string        `json:"namespace"`
	Image     Image         `json:"image"`
	Ports     []Port        `json:"containerPorts"`
	Service   []ServicePort `json:"servicePorts"`
	Nodegroup []string      `json:"nodegroup"`
	Database  *Database     `json:"database"`
	// Queues are the Saga queues the service consumes and produces to, sorted by role and name.
	Queues []Queue `json:"queues"`
	// Application is the ArgoCD Application deploying the chart ("" when none does yet).
	Application string `json:"application"`
}

// Catalog is the list of services, sorted by environment then name.
type Catalog struct {
	Envs     []string  `json:"environments"`
	Services []Service `json:"services"`
	// Errors counts validation errors: objects of charts that failed to render are missing.
	Errors int `json:"errors,omitempty"`
}

// Builder builds the catalog of the repository at Root.
type Builder struct {
	Root string
	// Envs restricts the environments; empty means all.
	Envs []string
}

// Run renders the repository and builds the catalog from the objects. Validation errors do
// not stop it: charts that failed to render are missing and Catalog.Errors counts them.
func (b *Builder) Run(ctx context.Context) (*Catalog, error) {
	res, err := (&validate.Validator{Root: b.Root, Envs: b.Envs}).Run(ctx)
	if err != nil {
		return nil, err
	}
	extra, err := LooseApplications(res.Repo.Root)
	if err != nil {
		return nil, err
	}
	cat := Build(res.Renders, res.Report.Envs, extra)
	cat.Errors = res.Report.Count(report.Error)
	return cat, nil
}

// Build derives the catalog from renders. extra are Application objects found outside
// charts (plain manifests under deploy/argocd), which apply to every environment.
func Build(renders []*render.Result, envs []string, extra []*render.Object) *Catalog {
	cat := &Catalog{Envs: append([]string{}, envs...), Services: []Service{}}
	apps := map[string][]*render.Object{}
	for _, r := range renders {
		for _, o := range r.Objects {
			if o.Kind == "Application" && strings.HasPrefix(o.APIVersion, "argoproj.io/") {
				apps[r.Env] = append(apps[r.Env], o)
			}
		}
	}
	declared := map[string]map[string]bool{}
	for _, r := range renders {
		if declared[r.Env] == nil {
			declared[r.Env] = map[string]bool{}
		}
		for _, name := range declaredQueues(r.Objects) {
			declared[r.Env][name] = true
		}
	}
	for _, r := range renders {
		if !strings.HasPrefix(r.Chart.ID, "app/") || r.Chart.ID == "app/shared" {
			continue
		}
		for _, o := range r.Objects {
			if o.Kind != "Deployment" || o.Namespace != Namespace {
				continue
			}
			s := Service{Env: r.Env, Name: o.Name, Chart: r.Chart.ID, Namespace: o.Namespace}
			pod := dig(o.Body, "spec", "template")
			containers := list(dig(pod, "spec", "containers"))
			var all []Port
			for _, c := range containers {
				cm, _ := c.(map[string]any)
				cname, _ := cm["name"].(string)
				for _, p := range list(cm["ports"]) {
					pm, _ := p.(map[string]any)
					name, _ := pm["name"].(string)
					all = append(all, Port{Container: cname, Name: name, Port: toInt(pm["containerPort"])})
				}
				if cname == AppContainer || len(containers) == 1 {
					img, _ := cm["image"].(string)
					s.Image = ParseImage(img)
					roles, _ := dig(o.Body, "metadata", "annotations", QueuesAnnotation).(string)
					s.Queues = queues(cm, roles, declared[r.Env])
				}
			}
			for _, p := range all {
				if p.Container == AppContainer || len(containers) == 1 {
					s.Ports = append(s.Ports, p)
				}
			}
			s.Nodegroup = nodegroups(dig(pod, "spec"))
			podLabels, _ := dig(pod, "metadata", "labels").(map[string]any)
			for _, so := range r.Objects {
				if so.Kind != "Service" || so.Namespace != o.Namespace {
					continue
				}
				sel, _ := dig(so.Body, "spec", "selector").(map[string]any)
				if len(sel) == 0 || !matches(sel, podLabels) {
					continue
				}
				for _, p := range list(dig(so.Body, "spec", "ports")) {
					pm, _ := p.(map[string]any)
					sp := ServicePort{Service: so.Name, Port: toInt(pm["port"])}
					sp.Name, _ = pm["name"].(string)
					sp.Target = resolve(pm["targetPort"], sp.Port, all)
					s.Service = append(s.Service, sp)
				}
			}
			s.Database = database(r.Objects)
			s.Application = owner(apps[r.Env], extra, r.Chart.ID, r.Chart.Name)
			cat.Services = append(cat.Services, s)
		}
	}
	sort.SliceStable(cat.Services, func(i, j int) bool {
		a, b := cat.Services[i], cat.Services[j]
		if a.Env != b.Env {
			return a.Env < b.Env
		}
		return a.Name < b.Name
	})
	return cat
}

// queueURLVar names the variables holding a queue URL.
var queueURLVar = regexp.MustCompile(`^[A-Z][A-Z0-9_]*_QUEUE_URL$`)

// queues reads the container's queue URL variables; roles is the QueuesAnnotation.
func queues(container map[string]any, roles string, declared map[string]bool) []Queue {
	role := map[string]string{}
	for _, kv := range strings.Split(roles, ",") {
		if r, q, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			role[q] = r
		}
	}
	var out []Queue
	for _, e := range list(container["env"]) {
		em, _ := e.(map[string]any)
		name, _ := em["name"].(string)
		url, _ := em["value"].(string)
		if !queueURLVar.MatchString(name) || url == "" {
			continue
		}
		q := Queue{Name: url[strings.LastIndex(url, "/")+1:], Env: name, URL: url}
		q.Role = role[q.Name]
		if q.Role == "" {
			q.Role = "use"
		}
		q.Declared = declared[q.Name]
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role < out[j].Role
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// elasticMQQueue is a queue block of an ElasticMQ configuration (`"<name>" {` inside queues).
var elasticMQQueue = regexp.MustCompile(`(?m)^\s*"?([A-Za-z0-9_-]+)"?\s*\{`)

// declaredQueues are the queues an environment's objects create: ACK Queues (their
// queueName) and the queues of an ElasticMQ configuration (a ConfigMap key elasticmq.conf).
func declaredQueues(objs []*render.Object) []string {
	var out []string
	for _, o := range objs {
		switch {
		case o.Kind == "Queue" && strings.HasPrefix(o.APIVersion, "sqs.services.k8s.aws/"):
			if n, _ := dig(o.Body, "spec", "queueName").(string); n != "" {
				out = append(out, n)
			}
		case o.Kind == "ConfigMap":
			conf, _ := dig(o.Body, "data", "elasticmq.conf").(string)
			_, block, ok := strings.Cut(conf, "\nqueues {")
			if !ok {
				continue
			}
			for _, m := range elasticMQQueue.FindAllStringSubmatch(block, -1) {
				if m[1] != "deadLettersQueue" {
					out = append(out, m[1])
				}
			}
		}
	}
	return out
}

// ParseImage splits "registry/repo/path:tag" (or "@sha256:...") as the container runtime
// does: the first component is a registry when it has a dot or a colon or is localhost;
// otherwise the registry is docker.io.
func ParseImage(ref string) Image {
	var img Image
	rest := ref
	if i := strings.Index(rest, "@"); i >= 0 {
		img.Tag = rest[i+1:]
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
		if img.Tag == "" {
			img.Tag = rest[i+1:]
		}
		rest = rest[:i]
	}
	if first, after, ok := strings.Cut(rest, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		img.Registry, img.Repository = first, after
	} else {
		img.Registry, img.Repository = "docker.io", rest
	}
	if img.Tag == "" {
		img.Tag = "latest"
	}
	img.ECR = strings.Contains(img.Registry, ".dkr.ecr.") && strings.Contains(img.Registry, ".amazonaws.com")
	return img
}

// nodegroups reads the required node affinity (or the nodeSelector) on NodegroupLabel.
func nodegroups(spec any) []string {
	var out []string
	terms := list(dig(spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"))
	for _, t := range terms {
		for _, e := range list(dig(t, "matchExpressions")) {
			em, _ := e.(map[string]any)
			if em["key"] == NodegroupLabel && em["operator"] == "In" {
				for _, v := range list(em["values"]) {
					if s, ok := v.(string); ok {
						out = append(out, s)
					}
				}
			}
		}
	}
	if sel, ok := dig(spec, "nodeSelector", NodegroupLabel).(string); ok && len(out) == 0 {
		out = append(out, sel)
	}
	return out
}

// resolve finds the container port a Service targetPort (name or number) points at.
func resolve(target any, port int, ports []Port) *Port {
	for _, p := range ports {
		switch t := target.(type) {
		case string:
			if p.Name == t {
				return &p
			}
		case nil:
			if p.Port == port {
				return &p
			}
		default:
			if p.Port == toInt(t) {
				return &p
			}
		}
	}
	return nil
}

// database finds the chart's database: a StatefulSet running MySQL, or an ExternalName
// Service (Aurora when the host is an RDS endpoint).
func database(objs []*render.Object) *Database {
	for _, o := range objs {
		if o.Kind != "StatefulSet" {
			continue
		}
		for _, c := range list(dig(o.Body, "spec", "template", "spec", "containers")) {
			img, _ := dig(c, "image").(string)
			if strings.Contains(ParseImage(img).Repository, "mysql") {
				return &Database{Kind: "mysql-statefulset", Name: o.Name, Endpoint: img}
			}
		}
	}
	for _, o := range objs {
		if o.Kind != "Service" || dig(o.Body, "spec", "type") != "ExternalName" {
			continue
		}
		host, _ := dig(o.Body, "spec", "externalName").(string)
		kind := "external"
		if strings.Contains(host, ".rds.amazonaws.com") {
			kind = "aurora"
		}
		return &Database{Kind: kind, Name: o.Name, Endpoint: host}
	}
	return nil
}

// owner is the Application whose source points at the chart: a git source whose path is
// the chart's directory, or a Helm/OCI source whose chart is the chart's name.
func owner(rendered, extra []*render.Object, chartID, chartName string) string {
	var found []string
	for _, o := range append(append([]*render.Object{}, rendered...), extra...) {
		for _, s := range apps.FromBody(o.Body, "").Sources {
			if strings.Trim(s.Path, "/") == chartID || s.Chart == chartName || strings.HasSuffix(s.Chart, "/"+chartName) {
				found = append(found, o.Name)
			}
		}
	}
	sort.Strings(found)
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

// LooseApplications reads Application manifests kept as plain YAML under deploy/argocd
// (outside any chart), e.g. a root Application applied by hand. Files are read through
// repofs: a symlinked manifest or directory is an error naming it, not followed.
func LooseApplications(root string) ([]*render.Object, error) {
	const top = "deploy/argocd"
	// WalkDir would follow deploy/argocd itself if it were a symlink.
	if fi, err := repofs.Stat(root, top); os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, nil
	}
	dir := filepath.Join(root, filepath.FromSlash(top))
	var out []*render.Object
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if _, err := os.Lstat(filepath.Join(path, "Chart.yaml")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&os.ModeSymlink != 0 {
			// A link to a directory would hide manifests from this walk; a link to a file
			// is refused by repofs below.
			if fi, err := os.Stat(path); err == nil && fi.IsDir() {
				return &repofs.Error{Path: filepath.ToSlash(rel), Rule: repofs.RuleSymlink, Msg: "a symbolic link to a directory; symbolic links are never followed"}
			}
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := repofs.ReadFile(root, rel)
		if err != nil {
			return err
		}
		objs, err := render.Decode(data)
		if err != nil {
			return nil // values files and helmfiles are not manifests
		}
		for _, o := range objs {
			if o.Kind == "Application" && strings.HasPrefix(o.APIVersion, "argoproj.io/") {
				out = append(out, o)
			}
		}
		return nil
	})
	return out, err
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func matches(selector, labels map[string]any) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func toInt(v any) int {
	switch t := v.(type) {
	case int:
		return t
	case int64:
		return int(t)
	case float64:
		return int(t)
	case string:
		n, _ := strconv.Atoi(t)
		return n
	}
	return 0
}
