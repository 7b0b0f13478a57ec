package test

// The production EKS cluster (deploy/eks/cluster-prd.yaml, an eksctl ClusterConfig) and the
// publish workflow's IAM role (deploy/eks/github-oidc-role.json), checked offline:
//
//   - against eksctl's own JSON schema, read from the pinned module
//     github.com/weaveworks/eksctl (go mod download in a temporary directory; it is the
//     release go.mod requires, TestEKSctlPinsAgree);
//   - against eksctl's own Go types and rules: strict decoding into v1alpha5.ClusterConfig
//     (what `eksctl create cluster -f` does first), then eksctl's defaulting and validation
//     of the cluster, the managed node groups and the add-ons (everything eksctl checks before
//     it calls AWS);
//   - against the platform: the node group table (pkg/policy DefaultPlatform, DESIGN.md),
//     the Kubernetes version the charts are validated for, the region of the prd chart
//     registry, IRSA roles against the ServiceAccounts the prd charts and Applications render,
//     the services' queue permissions against their queue configuration, and node taints
//     against the tolerations of every workload placed on the tainted group.
//
// Broken copies of the files must fail, so the checks are known to bite.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	eksapi "github.com/weaveworks/eksctl/pkg/apis/eksctl.io/v1alpha5"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/microservices-manifests/microservices-manifests/internal/gomod"
	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/policy"
	"github.com/microservices-manifests/microservices-manifests/pkg/publish"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
	"github.com/microservices-manifests/microservices-manifests/pkg/schema"
)

const (
	eksctlModule  = "github.com/weaveworks/eksctl"
	eksctlVersion = "v0.215.0"
	eksSchemaPath = "pkg/apis/eksctl.io/v1alpha5/assets/schema.json"
	eksConfigFile = "deploy/eks/cluster-prd.yaml"
	eksRoleFile   = "deploy/eks/github-oidc-role.json"
	eksEnv        = "prd"
	// eksIRSAAnnotation binds a ServiceAccount to an IAM role (IRSA).
	eksIRSAAnnotation = "eks.amazonaws.com/role-arn"
)

// eksRequiredAddons are the EKS add-ons the cluster needs whatever the charts render: the
// network, DNS, and the EBS CSI driver for PersistentVolumeClaims (dev -> prd parity).
var eksRequiredAddons = []string{"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"}

// eksChartDefaultTolerations are the tolerations an official chart applies when our values
// set none, by Application name (verified in the chart sources; Helm replaces lists, so they
// apply only when the values leave `tolerations` unset).
var eksChartDefaultTolerations = map[string][]any{
	// istio.io/istio manifests/charts/istio-cni/values.yaml: the node agent tolerates every
	// NoSchedule and NoExecute taint.
	"istio-cni": {
		map[string]any{"effect": "NoSchedule", "operator": "Exists"},
		map[string]any{"key": "CriticalAddonsOnly", "operator": "Exists"},
		map[string]any{"effect": "NoExecute", "operator": "Exists"},
	},
}

// eksQueueActions are the SQS actions a service needs on a queue, by its role in the
// service's `queues.urls` values (app charts): produce sends, consume polls and deletes.
var eksQueueActions = map[string][]string{
	"produce": {"sqs:SendMessage", "sqs:GetQueueAttributes"},
	"consume": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"},
}

// eksPlatform is what the ClusterConfig is cross-checked with, read from the repository.
type eksPlatform struct {
	label     string          // node group label (DESIGN.md)
	groups    map[string]bool // node groups of the table
	kubeMinor string          // "1.35": the version the charts are rendered and validated for
	region    string          // region of the prd chart registry (ECR)
	hasHPA    bool            // the prd plan has HorizontalPodAutoscalers (metrics-server)
	queues    []string        // SQS queue names of the prd plan (ACK Queue spec.queueName)
	// irsa: the ServiceAccounts that assume an IAM role, by namespace/name.
	irsa map[string]eksBinding
	// placements: every place a workload is pinned to node groups, with its tolerations.
	placements []eksPlacement
}

type eksBinding struct {
	namespace, name, roleARN, source string
	// queues: the SQS queues the workload uses, queue name -> produce|consume (app charts'
	// queues.urls), with the ARN prefix arn:aws:sqs:<region>:<account>:.
	queues    map[string]string
	queueARNs string
}

type eksPlacement struct {
	where       string
	groups      []string
	tolerations []any
}

var (
	eksOnce     sync.Once
	eksPlat     *eksPlatform
	eksPlatErr  error
	eksSchema   *jsonschema.Schema
	eksSchemaEr error
)

// eksctlSchema compiles eksctl's ClusterConfig JSON schema from the pinned module (go mod
// download run in a temporary directory: nothing touches go.mod).
func eksctlSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	eksOnce.Do(func() {
		eksSchema, eksSchemaEr = loadEksctlSchema()
		eksPlat, eksPlatErr = loadEKSPlatform()
	})
	if eksSchemaEr != nil {
		t.Fatal(eksSchemaEr)
	}
	return eksSchema
}

func eksPlatformData(t *testing.T) *eksPlatform {
	t.Helper()
	eksctlSchema(t)
	if eksPlatErr != nil {
		t.Fatal(eksPlatErr)
	}
	return eksPlat
}

func loadEksctlSchema() (*jsonschema.Schema, error) {
	info, err := gomod.Download(context.Background(), "", eksctlModule, eksctlVersion)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(info.Dir, eksSchemaPath))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", eksSchemaPath, err)
	}
	c := jsonschema.NewCompiler()
	const url = "file:///eksctl-clusterconfig.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// TestEKSctlPinsAgree: the Go types the test decodes into and the JSON schema it validates
// against come from the same eksctl release.
func TestEKSctlPinsAgree(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(eksctlModule) + `\s+(\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("go.mod does not require %s (the test decodes into its v1alpha5 types)", eksctlModule)
	}
	if string(m[1]) != eksctlVersion {
		t.Errorf("go.mod requires %s %s, the schema is read from %s: keep them equal", eksctlModule, m[1], eksctlVersion)
	}
}

// loadEKSPlatform renders every chart for prd and collects what the cluster must provide.
func loadEKSPlatform() (*eksPlatform, error) {
	def := policy.DefaultPlatform()
	p := &eksPlatform{label: def.NodeGroupLabel, groups: map[string]bool{}, irsa: map[string]eksBinding{}}
	for _, g := range def.NodeGroups {
		p.groups[g] = true
	}
	kv := strings.Split(strings.TrimPrefix(render.KubeVersion, "v"), ".")
	p.kubeMinor = kv[0] + "." + kv[1]

	repo, err := discovery.Discover(root)
	if err != nil {
		return nil, err
	}
	schemas, err := schema.New()
	if err != nil {
		return nil, err
	}
	r := &render.Renderer{Repo: repo, APIVersions: render.APIVersions(schemas.Kinds())}
	for _, c := range repo.Charts {
		if _, ok := c.ValuesFiles[eksEnv]; !ok || c.Library() {
			continue
		}
		res, err := r.Render(c, eksEnv)
		if err != nil {
			return nil, err
		}
		if len(res.Findings) > 0 {
			return nil, fmt.Errorf("%s does not render for %s: %s", c.ID, eksEnv, res.Findings[0].Message)
		}
		queues, queueARNs, err := eksChartQueues(repo, c)
		if err != nil {
			return nil, err
		}
		for _, o := range res.Objects {
			where := fmt.Sprintf("%s %s", c.ID, o.ID())
			switch o.Kind {
			case "HorizontalPodAutoscaler":
				p.hasHPA = true
			case "Queue":
				if n, _ := eksDig(o.Body, "spec", "queueName").(string); n != "" {
					p.queues = append(p.queues, n)
				}
			case "ServiceAccount":
				if arn, _ := eksDig(o.Body, "metadata", "annotations", eksIRSAAnnotation).(string); arn != "" {
					p.irsa[o.Namespace+"/"+o.Name] = eksBinding{namespace: o.Namespace, name: o.Name, roleARN: arn,
						source: where, queues: queues, queueARNs: queueARNs}
				}
			case "Application":
				ns, _ := eksDig(o.Body, "spec", "destination", "namespace").(string)
				for _, src := range eksAppSources(o.Body) {
					if repoURL, _ := src["repoURL"].(string); p.region == "" {
						host, _, _ := strings.Cut(repoURL, "/")
						p.region = publish.ECRRegion(host)
					}
					vals, _ := eksDig(src, "helm", "valuesObject").(map[string]any)
					if vals == nil {
						continue
					}
					eksServiceAccounts(vals, ns, where, p.irsa)
					before := len(p.placements)
					eksWalkPlacements(vals, where+" values", p.label, &p.placements)
					if defaults, ok := eksChartDefaultTolerations[o.Name]; ok {
						for i := before; i < len(p.placements); i++ {
							if p.placements[i].tolerations == nil {
								p.placements[i].tolerations = defaults
							}
						}
					}
				}
				continue
			}
			eksWalkPlacements(o.Body, where, p.label, &p.placements)
		}
	}
	// Argo CD itself is installed by Helmfile (deploy/argocd/shared/root): its values per
	// release directory, common.yaml under <env>.yaml.
	dirs, _ := filepath.Glob(filepath.Join(root, "deploy/argocd/shared/root/values/*"))
	for _, dir := range dirs {
		merged := map[string]any{}
		for _, name := range []string{"common.yaml", eksEnv + ".yaml"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if os.IsNotExist(err) {
				continue
			} else if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := sigsyaml.Unmarshal(data, &m); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", dir, name, err)
			}
			merged = eksMerge(merged, m)
		}
		rel, _ := filepath.Rel(root, dir)
		eksWalkPlacements(merged, "helmfile values "+filepath.ToSlash(rel), p.label, &p.placements)
	}
	sort.Strings(p.queues)
	if p.region == "" {
		return nil, fmt.Errorf("no prd Application pulls from ECR: cannot tell the production region")
	}
	return p, nil
}

// eksChartQueues reads an app chart's prd queue configuration (values.yaml under
// values-prd.yaml): queue name -> produce|consume, and the ARN prefix of its queues.
func eksChartQueues(repo *discovery.Repo, c discovery.Chart) (map[string]string, string, error) {
	merged := map[string]any{}
	for _, f := range []string{filepath.Join(c.Dir, "values.yaml"), filepath.Join(repo.Root, c.ValuesFiles[eksEnv])} {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, "", err
		}
		var m map[string]any
		if err := sigsyaml.Unmarshal(data, &m); err != nil {
			return nil, "", fmt.Errorf("%s: %w", f, err)
		}
		merged = eksMerge(merged, m)
	}
	q, _ := merged["queues"].(map[string]any)
	if q == nil || q["enabled"] == false {
		return nil, "", nil
	}
	urls, _ := q["urls"].(map[string]any)
	out := map[string]string{}
	for _, u := range urls {
		um, _ := u.(map[string]any)
		name, _ := um["queue"].(string)
		role, _ := um["role"].(string)
		if name != "" {
			out[name] = role
		}
	}
	region, _ := q["region"].(string)
	account := fmt.Sprint(q["accountId"])
	return out, fmt.Sprintf("arn:aws:sqs:%s:%s:", region, account), nil
}

// eksServiceAccounts finds `serviceAccount: {name, annotations: {eks.amazonaws.com/role-arn}}`
// anywhere in an Application's values (official charts' convention).
func eksServiceAccounts(v any, ns, where string, out map[string]eksBinding) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if sa, ok := child.(map[string]any); ok && k == "serviceAccount" {
				arn, _ := eksDig(sa, "annotations", eksIRSAAnnotation).(string)
				name, _ := sa["name"].(string)
				if arn != "" {
					if name == "" {
						name = "(unnamed: set serviceAccount.name)"
					}
					out[ns+"/"+name] = eksBinding{namespace: ns, name: name, roleARN: arn, source: where + " values"}
				}
			}
			eksServiceAccounts(child, ns, where, out)
		}
	case []any:
		for _, child := range v {
			eksServiceAccounts(child, ns, where, out)
		}
	}
}

// eksWalkPlacements records every map that pins pods to node groups (nodeSelector,
// node_selector or a required node affinity on the label) with the tolerations beside it:
// pod specs of rendered workloads, and the values of official charts in Applications.
func eksWalkPlacements(v any, where, label string, out *[]eksPlacement) {
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			var groups []string
			for _, key := range []string{"nodeSelector", "node_selector"} {
				if sel, ok := v[key].(map[string]any); ok {
					if g, ok := sel[label].(string); ok {
						groups = append(groups, g)
					}
				}
			}
			terms, _ := eksDig(v, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms").([]any)
			for _, term := range terms {
				exprs, _ := eksDig(term, "matchExpressions").([]any)
				for _, e := range exprs {
					em, _ := e.(map[string]any)
					if em["key"] == label && em["operator"] == "In" {
						vals, _ := em["values"].([]any)
						for _, g := range vals {
							groups = append(groups, fmt.Sprint(g))
						}
					}
				}
			}
			if len(groups) > 0 {
				tol, _ := v["tolerations"].([]any)
				*out = append(*out, eksPlacement{where: strings.TrimSpace(where + " " + path), groups: groups, tolerations: tol})
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if k == "nodeSelector" || k == "node_selector" || k == "affinity" || k == "tolerations" {
					continue
				}
				walk(v[k], strings.TrimPrefix(path+"."+k, "."))
			}
		case []any:
			for i, child := range v {
				walk(child, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(v, "")
}

// eksTolerates is Kubernetes' rule: does one of the tolerations tolerate the taint?
func eksTolerates(tolerations []any, key, value, effect string) bool {
	for _, t := range tolerations {
		tm, _ := t.(map[string]any)
		if e, _ := tm["effect"].(string); e != "" && e != effect {
			continue
		}
		k, _ := tm["key"].(string)
		op, _ := tm["operator"].(string)
		switch {
		case op == "Exists" && (k == "" || k == key):
			return true
		case (op == "" || op == "Equal") && k == key && fmt.Sprint(tm["value"]) == value:
			return true
		}
	}
	return false
}

// eksProblems checks a ClusterConfig: eksctl's schema, eksctl's types and rules, then the
// platform cross-checks.
func eksProblems(t *testing.T, data []byte) []string {
	t.Helper()
	sch := eksctlSchema(t)
	plat := eksPlatformData(t)
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// 1. eksctl's JSON schema.
	raw, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return []string{"yaml: " + err.Error()}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []string{"json: " + err.Error()}
	}
	if err := sch.Validate(inst); err != nil {
		add("eksctl schema: %v", err)
	}

	// 2. eksctl's types (strict: unknown or mistyped fields fail, as in eksctl's ParseConfig)
	// and eksctl's own defaulting and validation (cmdutils InitializeClusterConfig).
	cfg := &eksapi.ClusterConfig{}
	if err := sigsyaml.UnmarshalStrict(data, cfg); err != nil {
		add("eksctl types: %v", err)
		return problems
	}
	if cfg.APIVersion != eksapi.SchemeGroupVersion.String() || cfg.Kind != eksapi.ClusterConfigKind {
		add("eksctl types: apiVersion/kind %s/%s, want %s/%s", cfg.APIVersion, cfg.Kind, eksapi.SchemeGroupVersion, eksapi.ClusterConfigKind)
	}
	if cfg.Metadata == nil {
		add("metadata is missing")
		return problems
	}
	eksapi.SetClusterConfigDefaults(cfg)
	if err := eksapi.ValidateClusterConfig(cfg); err != nil {
		add("eksctl validation: %v", err)
	}
	for i, ng := range cfg.ManagedNodeGroups {
		if err := eksapi.SetManagedNodeGroupDefaults(ng, cfg.Metadata, cfg.IsControlPlaneOnOutposts()); err != nil {
			add("eksctl validation: managedNodeGroups[%d]: %v", i, err)
			continue
		}
		if err := eksapi.ValidateManagedNodeGroup(i, ng); err != nil {
			add("eksctl validation: %v", err)
		}
	}
	for _, a := range cfg.Addons {
		if err := a.Validate(); err != nil {
			add("eksctl validation: %v", err)
		}
	}

	// 3. The platform.
	if cfg.Metadata.Region != plat.region {
		add("metadata.region %q: the prd charts come from ECR in %q", cfg.Metadata.Region, plat.region)
	}
	if cfg.Metadata.Version != plat.kubeMinor {
		add("metadata.version %q: the charts are rendered and validated for Kubernetes %s (pkg/render KubeVersion %s)",
			cfg.Metadata.Version, plat.kubeMinor, render.KubeVersion)
	}
	if !eksapi.IsEnabled(cfg.IAM.WithOIDC) {
		add("iam.withOIDC must be true: the IRSA roles need the cluster's OIDC provider")
	}
	if cfg.CloudWatch == nil || cfg.CloudWatch.ClusterLogging == nil ||
		!slices.Contains(cfg.CloudWatch.ClusterLogging.EnableTypes, "api") || !slices.Contains(cfg.CloudWatch.ClusterLogging.EnableTypes, "audit") {
		add("cloudWatch.clusterLogging.enableTypes must include api and audit")
	}
	if len(cfg.NodeGroups) > 0 {
		add("nodeGroups (self-managed): use managedNodeGroups, the ones this test cross-checks")
	}

	// Node groups: one per row of the table, each labelled with its row.
	covered := map[string]bool{}
	for i, ng := range cfg.ManagedNodeGroups {
		path := fmt.Sprintf("managedNodeGroups[%d] (%s)", i, ng.Name)
		g, ok := ng.Labels[plat.label]
		switch {
		case !ok:
			add("%s: no label %s; every node group carries its row of the node group table", path, plat.label)
		case !plat.groups[g]:
			add("%s: label %s=%s is not a node group of the table %v", path, plat.label, g, eksKeys(plat.groups))
		default:
			covered[g] = true
		}
		if !ng.PrivateNetworking {
			add("%s: privateNetworking must be true (nodes in private subnets)", path)
		}
		if ng.VolumeEncrypted == nil || !*ng.VolumeEncrypted {
			add("%s: volumeEncrypted must be true", path)
		}
		if ng.DisableIMDSv1 != nil && !*ng.DisableIMDSv1 {
			add("%s: disableIMDSv1 must stay true", path)
		}
		if ng.IAM != nil && len(ng.IAM.AttachPolicyARNs) > 0 {
			if !slices.ContainsFunc(ng.IAM.AttachPolicyARNs, func(a string) bool { return strings.HasSuffix(a, ":policy/AmazonEKSWorkerNodePolicy") }) {
				add("%s: iam.attachPolicyARNs replaces eksctl's defaults and lacks AmazonEKSWorkerNodePolicy", path)
			}
			if !slices.ContainsFunc(ng.IAM.AttachPolicyARNs, func(a string) bool {
				return strings.HasSuffix(a, ":policy/AmazonEC2ContainerRegistryPullOnly") || strings.HasSuffix(a, ":policy/AmazonEC2ContainerRegistryReadOnly")
			}) {
				add("%s: iam.attachPolicyARNs has no ECR pull policy (AmazonEC2ContainerRegistryPullOnly or ReadOnly): the images and charts are in ECR", path)
			}
			for _, a := range ng.IAM.AttachPolicyARNs {
				if eksBroadPolicy(a) {
					add("%s: iam.attachPolicyARNs %s is broader than a node needs", path, a)
				}
			}
		}
		// A taint keeps every pod off the group that does not tolerate it.
		for _, taint := range ng.Taints {
			if taint.Effect != "NoSchedule" && taint.Effect != "NoExecute" {
				continue
			}
			for _, pl := range plat.placements {
				if slices.Contains(pl.groups, g) && !eksTolerates(pl.tolerations, taint.Key, taint.Value, string(taint.Effect)) {
					add("%s: taint %s=%s:%s, but %s is pinned to %s without a toleration for it",
						path, taint.Key, taint.Value, taint.Effect, pl.where, g)
				}
			}
		}
	}
	for _, g := range eksKeys(plat.groups) {
		if !covered[g] {
			add("node group %s of the table has no managed node group labelled %s=%s", g, plat.label, g)
		}
	}

	// Add-ons.
	var addons []string
	for _, a := range cfg.Addons {
		addons = append(addons, a.Name)
		for _, arn := range a.AttachPolicyARNs {
			if eksBroadPolicy(arn) {
				add("addon %s: attachPolicyARNs %s is broader than it needs", a.Name, arn)
			}
		}
	}
	want := slices.Clone(eksRequiredAddons)
	if plat.hasHPA {
		want = append(want, "metrics-server")
	}
	for _, a := range want {
		if !slices.Contains(addons, a) {
			add("addons: %s is missing", a)
		}
	}

	// IRSA: the roles and the ServiceAccounts that assume them, one to one.
	declared := map[string]bool{}
	for i, sa := range cfg.IAM.ServiceAccounts {
		key := sa.Namespace + "/" + sa.Name
		path := fmt.Sprintf("iam.serviceAccounts[%d] (%s)", i, key)
		declared[key] = true
		b, ok := plat.irsa[key]
		if !ok {
			add("%s: no prd chart or Application creates ServiceAccount %s annotated %s (have %v)", path, key, eksIRSAAnnotation, eksKeys(plat.irsa))
		} else if role := b.roleARN[strings.LastIndex(b.roleARN, "/")+1:]; sa.RoleName != role {
			add("%s: roleName %q, but %s annotates the ServiceAccount with %s", path, sa.RoleName, b.source, b.roleARN)
		}
		if sa.RoleOnly == nil || !*sa.RoleOnly {
			add("%s: roleOnly must be true: the chart creates and owns the ServiceAccount", path)
		}
		for _, arn := range sa.AttachPolicyARNs {
			if eksBroadPolicy(arn) {
				add("%s: attachPolicyARNs %s is not least privilege", path, arn)
			}
		}
		grants, perr := eksGrants(sa.AttachPolicy)
		if perr != nil {
			add("%s: attachPolicy: %v", path, perr)
		}
		for _, g := range grants {
			if g.action == "*" || strings.HasSuffix(g.action, ":*") {
				add("%s: attachPolicy allows %s: list the actions", path, g.action)
			}
			if g.resource == "*" && !eksUnscopedAction(g.action) {
				add("%s: attachPolicy allows %s on every resource: scope it", path, g.action)
			}
		}
		if ok && len(b.queues) > 0 {
			problems = append(problems, eksQueueGrantProblems(path, b, grants)...)
		}
		// The ACK SQS controller's role must reach every queue the prd plan declares.
		var createRes []string
		for _, g := range grants {
			if g.action == "sqs:CreateQueue" {
				createRes = append(createRes, g.resource)
			}
		}
		if len(createRes) > 0 {
			for _, q := range plat.queues {
				if !slices.ContainsFunc(createRes, func(r string) bool { return eksCoversQueue(r, plat.region, q) }) {
					add("%s: sqs:CreateQueue does not cover queue %s of the prd plan (resources %v)", path, q, createRes)
				}
			}
		}
	}
	for _, key := range eksKeys(plat.irsa) {
		if !declared[key] {
			b := plat.irsa[key]
			add("ServiceAccount %s (%s) assumes %s, but iam.serviceAccounts creates no role for it", key, b.source, b.roleARN)
		}
	}
	return problems
}

type eksGrant struct{ action, resource string }

// eksGrants flattens an IAM policy document's Allow statements into action x resource pairs.
func eksGrants(doc map[string]any) ([]eksGrant, error) {
	if doc == nil {
		return nil, nil
	}
	stmts, ok := doc["Statement"].([]any)
	if !ok {
		return nil, fmt.Errorf("Statement must be a list")
	}
	var out []eksGrant
	for i, s := range stmts {
		sm, _ := s.(map[string]any)
		if sm["Effect"] != "Allow" {
			continue
		}
		if _, ok := sm["NotAction"]; ok {
			return nil, fmt.Errorf("Statement[%d]: NotAction grants everything else", i)
		}
		if _, ok := sm["NotResource"]; ok {
			return nil, fmt.Errorf("Statement[%d]: NotResource grants everything else", i)
		}
		for _, a := range eksStrings(sm["Action"]) {
			for _, r := range eksStrings(sm["Resource"]) {
				out = append(out, eksGrant{a, r})
			}
		}
	}
	return out, nil
}

// eksQueueGrantProblems: a service's role grants exactly what its queue configuration uses.
func eksQueueGrantProblems(path string, b eksBinding, grants []eksGrant) []string {
	want := map[eksGrant]bool{}
	for q, role := range b.queues {
		for _, a := range eksQueueActions[role] {
			want[eksGrant{a, b.queueARNs + q}] = true
		}
	}
	have := map[eksGrant]bool{}
	for _, g := range grants {
		have[g] = true
	}
	var problems []string
	for _, g := range eksSortedGrants(want) {
		if !have[g] {
			problems = append(problems, fmt.Sprintf("%s: the service's queues.urls needs %s on %s, attachPolicy does not allow it", path, g.action, g.resource))
		}
	}
	for _, g := range eksSortedGrants(have) {
		if !want[g] {
			problems = append(problems, fmt.Sprintf("%s: attachPolicy allows %s on %s, which the service's queues.urls does not use", path, g.action, g.resource))
		}
	}
	return problems
}

func eksSortedGrants(m map[eksGrant]bool) []eksGrant {
	out := make([]eksGrant, 0, len(m))
	for g := range m {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].resource != out[j].resource {
			return out[i].resource < out[j].resource
		}
		return out[i].action < out[j].action
	})
	return out
}

// eksBroadPolicy flags AWS managed policies that grant far more than a workload needs.
func eksBroadPolicy(arn string) bool {
	name := arn[strings.LastIndex(arn, "/")+1:]
	return name == "AdministratorAccess" || name == "PowerUserAccess" || strings.HasSuffix(name, "FullAccess") ||
		strings.HasSuffix(name, "PowerUser") || name == "IAMFullAccess"
}

// eksGlob matches an IAM resource pattern (`*` and `?`) against a string.
func eksGlob(pattern, s string) bool {
	re := "^" + strings.NewReplacer(`\*`, `.*`, `\?`, `.`).Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// eksCoversQueue: does an SQS resource pattern cover the queue in the region (any account:
// the account is the one eksctl runs in)?
func eksCoversQueue(pattern, region, queue string) bool {
	if pattern == "*" {
		return true
	}
	parts := strings.SplitN(pattern, ":", 6)
	return len(parts) == 6 && parts[2] == "sqs" && eksGlob(parts[3], region) && eksGlob(parts[5], queue)
}

// eksUnscopedAction: actions that take no resource-level permissions, so Resource "*" is
// the only way to grant them (IAM service authorization reference).
func eksUnscopedAction(action string) bool {
	switch action {
	case "ecr:GetAuthorizationToken", "sqs:ListQueues",
		"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
		"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups":
		return true
	}
	return strings.HasPrefix(action, "ec2:Describe")
}

func eksStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func eksDig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func eksAppSources(app map[string]any) []map[string]any {
	var out []map[string]any
	if s, ok := eksDig(app, "spec", "source").(map[string]any); ok {
		out = append(out, s)
	}
	if ss, ok := eksDig(app, "spec", "sources").([]any); ok {
		for _, s := range ss {
			if sm, ok := s.(map[string]any); ok {
				out = append(out, sm)
			}
		}
	}
	return out
}

// eksMerge overlays b on a the way Helm merges values files (maps merged, the rest replaced).
func eksMerge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := v.(map[string]any)
		if aok && bok {
			out[k] = eksMerge(am, bm)
		} else {
			out[k] = v
		}
	}
	return out
}

func eksKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// eksEdit decodes the ClusterConfig generically, applies edit, and encodes it again.
func eksEdit(t *testing.T, data []byte, edit func(cfg map[string]any)) []byte {
	t.Helper()
	var cfg map[string]any
	if err := sigsyaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	out, err := sigsyaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eksNodeGroup(cfg map[string]any, name string) map[string]any {
	for _, ng := range cfg["managedNodeGroups"].([]any) {
		if m := ng.(map[string]any); m["name"] == name {
			return m
		}
	}
	panic("no node group " + name)
}

func eksServiceAccount(cfg map[string]any, name string) map[string]any {
	for _, sa := range eksDig(cfg, "iam", "serviceAccounts").([]any) {
		if m := sa.(map[string]any); eksDig(m, "metadata", "name") == name {
			return m
		}
	}
	panic("no iam.serviceAccounts entry " + name)
}

// TestEKSClusterConfig checks deploy/eks/cluster-prd.yaml, then broken copies of it.
func TestEKSClusterConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, eksConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range eksProblems(t, data) {
		t.Errorf("%s: %s", eksConfigFile, p)
	}
	plat := eksPlatformData(t)

	// What a dedicated taint on a group would take: the placements without a toleration.
	t.Run("tolerations", func(t *testing.T) {
		for _, g := range eksKeys(plat.groups) {
			var missing []string
			for _, pl := range plat.placements {
				if slices.Contains(pl.groups, g) && !eksTolerates(pl.tolerations, "dedicated", g, "NoSchedule") {
					missing = append(missing, pl.where)
				}
			}
			t.Logf("taint dedicated=%s:NoSchedule on %s needs a toleration in %d places: %s", g, g, len(missing), strings.Join(missing, "; "))
		}
	})

	t.Run("broken copies fail", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			edit func(cfg map[string]any)
			want string // a substring of one of the problems
		}{
			{"unknown field (schema)", func(c map[string]any) { eksNodeGroup(c, "app")["instanceTyp"] = "m7i.large" }, "additional properties 'instanceTyp' not allowed"},
			{"unknown field (eksctl types)", func(c map[string]any) { eksNodeGroup(c, "app")["instanceTyp"] = "m7i.large" }, `eksctl types: error unmarshaling JSON: while decoding JSON: json: unknown field "instanceTyp"`},
			{"unknown top-level field", func(c map[string]any) { c["managedNodegroups"] = c["managedNodeGroups"] }, "managedNodegroups"},
			{"wrong type (schema)", func(c map[string]any) { eksNodeGroup(c, "system")["minSize"] = "three" }, "minSize': got string, want integer"},
			{"wrong type (eksctl types)", func(c map[string]any) { eksNodeGroup(c, "system")["minSize"] = "three" }, "eksctl types: error unmarshaling JSON"},
			{"wrong kind", func(c map[string]any) { c["kind"] = "Cluster" }, "kind"},
			{"eksctl rule: duplicate node group name", func(c map[string]any) { eksNodeGroup(c, "deploy")["name"] = "app" }, "eksctl validation"},
			{"eksctl rule: role without any policy", func(c map[string]any) {
				delete(eksServiceAccount(c, "ack-sqs-controller"), "attachPolicy")
			}, "eksctl validation"},
			{"eksctl rule: unknown log type", func(c map[string]any) {
				eksDig(c, "cloudWatch", "clusterLogging").(map[string]any)["enableTypes"] = []any{"api", "audit", "kubelet"}
			}, "kubelet"},
			{"node group missing its label", func(c map[string]any) {
				delete(eksNodeGroup(c, "ingress")["labels"].(map[string]any), "node.kubernetes.io/nodegroup")
			}, "no label node.kubernetes.io/nodegroup"},
			{"label not in the table", func(c map[string]any) {
				eksNodeGroup(c, "ingress")["labels"].(map[string]any)["node.kubernetes.io/nodegroup"] = "edge"
			}, "edge is not a node group of the table"},
			{"table row without a node group", func(c map[string]any) {
				ngs := c["managedNodeGroups"].([]any)
				c["managedNodeGroups"] = slices.DeleteFunc(slices.Clone(ngs), func(ng any) bool { return ng.(map[string]any)["name"] == "system" })
			}, "node group system of the table"},
			{"OIDC off", func(c map[string]any) { c["iam"].(map[string]any)["withOIDC"] = false }, "withOIDC"},
			{"version other than the charts'", func(c map[string]any) { c["metadata"].(map[string]any)["version"] = "1.33" }, "metadata.version"},
			{"region other than the registry's", func(c map[string]any) { c["metadata"].(map[string]any)["region"] = "us-east-1" }, "metadata.region"},
			{"public nodes", func(c map[string]any) { eksNodeGroup(c, "app")["privateNetworking"] = false }, "privateNetworking"},
			{"unencrypted volumes", func(c map[string]any) { eksNodeGroup(c, "deploy")["volumeEncrypted"] = false }, "volumeEncrypted"},
			{"node role without ECR pulls", func(c map[string]any) {
				eksNodeGroup(c, "app")["iam"] = map[string]any{"attachPolicyARNs": []any{"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}}
			}, "ECR pull"},
			{"taint without tolerations", func(c map[string]any) {
				eksNodeGroup(c, "system")["taints"] = []any{map[string]any{"key": "dedicated", "value": "system", "effect": "NoSchedule"}}
			}, "without a toleration"},
			{"no EBS CSI driver", func(c map[string]any) {
				c["addons"] = slices.DeleteFunc(slices.Clone(c["addons"].([]any)), func(a any) bool { return a.(map[string]any)["name"] == "aws-ebs-csi-driver" })
			}, "aws-ebs-csi-driver is missing"},
			{"IRSA role for a ServiceAccount no chart creates", func(c map[string]any) {
				eksServiceAccount(c, "ack-sqs-controller")["metadata"].(map[string]any)["namespace"] = "ack-sqs"
			}, "no prd chart or Application creates ServiceAccount ack-sqs/ack-sqs-controller"},
			{"role name other than the annotation's", func(c map[string]any) {
				eksServiceAccount(c, "ack-apigatewayv2-controller")["roleName"] = "apigateway"
			}, "roleName \"apigateway\""},
			{"eksctl would create the chart's ServiceAccount", func(c map[string]any) {
				delete(eksServiceAccount(c, "order"), "roleOnly")
			}, "roleOnly"},
			{"wildcard action", func(c map[string]any) {
				st := eksDig(eksServiceAccount(c, "ack-sqs-controller"), "attachPolicy", "Statement").([]any)
				st[0].(map[string]any)["Action"] = "sqs:*"
			}, "allows sqs:*"},
			{"managed full-access policy", func(c map[string]any) {
				sa := eksServiceAccount(c, "ack-sqs-controller")
				delete(sa, "attachPolicy")
				sa["attachPolicyARNs"] = []any{"arn:aws:iam::aws:policy/AmazonSQSFullAccess"}
			}, "not least privilege"},
			{"ACK role misses a queue of the plan", func(c map[string]any) {
				st := eksDig(eksServiceAccount(c, "ack-sqs-controller"), "attachPolicy", "Statement").([]any)
				st[0].(map[string]any)["Resource"] = "arn:aws:sqs:ap-northeast-1:123456789012:saga-*-commands"
			}, "does not cover queue saga-orchestrator-replies"},
			{"service cannot consume its queue", func(c map[string]any) {
				st := eksDig(eksServiceAccount(c, "orchestrator"), "attachPolicy", "Statement").([]any)
				eksServiceAccount(c, "orchestrator")["attachPolicy"].(map[string]any)["Statement"] = st[:1]
			}, "needs sqs:ReceiveMessage on arn:aws:sqs:ap-northeast-1:123456789012:saga-orchestrator-replies"},
			{"service may read another service's queue", func(c map[string]any) {
				st := eksDig(eksServiceAccount(c, "account"), "attachPolicy", "Statement").([]any)
				st[1].(map[string]any)["Resource"] = []any{"arn:aws:sqs:ap-northeast-1:123456789012:saga-account-commands",
					"arn:aws:sqs:ap-northeast-1:123456789012:saga-order-commands"}
			}, "allows sqs:ReceiveMessage on arn:aws:sqs:ap-northeast-1:123456789012:saga-order-commands"},
			{"annotated ServiceAccount without a role", func(c map[string]any) {
				sas := eksDig(c, "iam", "serviceAccounts").([]any)
				c["iam"].(map[string]any)["serviceAccounts"] = slices.DeleteFunc(slices.Clone(sas), func(sa any) bool {
					return eksDig(sa, "metadata", "name") == "ack-apigatewayv2-controller"
				})
			}, "ack-system/ack-apigatewayv2-controller"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				problems := eksProblems(t, eksEdit(t, data, tc.edit))
				i := slices.IndexFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) })
				if i < 0 {
					t.Errorf("want a problem containing %q, got %q", tc.want, problems)
					return
				}
				t.Logf("caught (%d problems): %s", len(problems), problems[i])
			})
		}
	})
}

// TestEKSCatchesTaintsOnlyWithoutTolerations: a taint passes once every workload of the group
// tolerates it (the check is about tolerations, not about taints).
func TestEKSCatchesTaintsOnlyWithoutTolerations(t *testing.T) {
	tol := []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}}
	for _, tc := range []struct {
		name        string
		tolerations []any
		key, value  string
		want        bool
	}{
		{"equal", tol, "dedicated", "system", true},
		{"other value", tol, "dedicated", "ingress", false},
		{"exists any key", []any{map[string]any{"operator": "Exists"}}, "dedicated", "system", true},
		{"exists other effect", []any{map[string]any{"operator": "Exists", "effect": "NoExecute"}}, "dedicated", "system", false},
		{"none", nil, "dedicated", "system", false},
	} {
		if got := eksTolerates(tc.tolerations, tc.key, tc.value, "NoSchedule"); got != tc.want {
			t.Errorf("%s: eksTolerates = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// eksRole is deploy/eks/github-oidc-role.json: the IAM role the publish workflow assumes
// through GitHub's OIDC provider (not an eksctl object: GitHub's provider is account-wide).
type eksRole struct {
	RoleName              string         `json:"roleName"`
	Description           string         `json:"description"`
	OIDCProvider          eksOIDC        `json:"oidcProvider"`
	TrustPolicy           map[string]any `json:"trustPolicy"`
	PermissionsPolicyName string         `json:"permissionsPolicyName"`
	PermissionsPolicy     map[string]any `json:"permissionsPolicy"`
}

type eksOIDC struct {
	URL       string   `json:"url"`
	ClientIDs []string `json:"clientIDs"`
}

// eksPublishExpect is what the publish role must allow.
type eksPublishExpect struct {
	subject, region, account, prefix string
}

// eksPublishExpectations reads it from the repository: the GitHub repository (the
// Applications' git repoURL), the OIDC subject of the publish job (its GitHub environment,
// else the main branch), and the ECR charts repository (the prd Applications' OCI repoURL).
func eksPublishExpectations(t *testing.T) eksPublishExpect {
	t.Helper()
	var infra struct {
		Git struct{ RepoURL string } `json:"git"`
		OCI struct{ RepoURL string } `json:"oci"`
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy/argocd/infra/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sigsyaml.Unmarshal(data, &infra); err != nil {
		t.Fatal(err)
	}
	repo := strings.TrimSuffix(strings.TrimPrefix(infra.Git.RepoURL, "https://github.com/"), ".git")
	host, prefix, _ := strings.Cut(infra.OCI.RepoURL, "/")
	region := publish.ECRRegion(host)
	account, _, _ := strings.Cut(host, ".")
	if repo == "" || region == "" || prefix == "" {
		t.Fatalf("deploy/argocd/infra/values.yaml: git.repoURL %q / oci.repoURL %q", infra.Git.RepoURL, infra.OCI.RepoURL)
	}
	// main.yml calls publish.yml with `environment`; publish.yml's job runs in that GitHub
	// environment, which makes the token's subject repo:<repo>:environment:<env>.
	var mainWF struct {
		Jobs map[string]struct {
			Uses string         `json:"uses"`
			With map[string]any `json:"with"`
		} `json:"jobs"`
	}
	var publishWF struct {
		Jobs map[string]struct {
			Environment any `json:"environment"`
		} `json:"jobs"`
	}
	for f, into := range map[string]any{".github/workflows/main.yml": &mainWF, ".github/workflows/publish.yml": &publishWF} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := sigsyaml.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	subject := "repo:" + repo + ":ref:refs/heads/main"
	for _, job := range mainWF.Jobs {
		if !strings.HasSuffix(job.Uses, "/publish.yml") {
			continue
		}
		env, _ := job.With["environment"].(string)
		for _, pj := range publishWF.Jobs {
			if pj.Environment != nil && env != "" {
				subject = "repo:" + repo + ":environment:" + env
			}
		}
	}
	return eksPublishExpect{subject: subject, region: region, account: account, prefix: prefix}
}

func eksRoleProblems(data []byte, want eksPublishExpect) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var role eksRole
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&role); err != nil {
		return []string{"decode: " + err.Error()}
	}
	if role.RoleName == "" || role.PermissionsPolicyName == "" {
		add("roleName and permissionsPolicyName are required")
	}
	const issuer = "token.actions.githubusercontent.com"
	if role.OIDCProvider.URL != "https://"+issuer || !slices.Equal(role.OIDCProvider.ClientIDs, []string{"sts.amazonaws.com"}) {
		add("oidcProvider must be https://%s with client ID sts.amazonaws.com", issuer)
	}
	for name, doc := range map[string]map[string]any{"trustPolicy": role.TrustPolicy, "permissionsPolicy": role.PermissionsPolicy} {
		if doc["Version"] != "2012-10-17" {
			add("%s.Version must be 2012-10-17", name)
		}
	}
	// Trust: GitHub's OIDC provider, web identity, exactly the publish job's subject.
	stmts, _ := role.TrustPolicy["Statement"].([]any)
	if len(stmts) != 1 {
		add("trustPolicy must have exactly one statement, has %d", len(stmts))
	}
	for _, s := range stmts {
		sm, _ := s.(map[string]any)
		fed, _ := eksDig(sm, "Principal", "Federated").(string)
		if sm["Effect"] != "Allow" || sm["Action"] != "sts:AssumeRoleWithWebIdentity" {
			add("trustPolicy: Effect Allow, Action sts:AssumeRoleWithWebIdentity")
		}
		if fed != fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", want.account, issuer) {
			add("trustPolicy: Principal.Federated %q, want GitHub's OIDC provider in account %s", fed, want.account)
		}
		cond, _ := sm["Condition"].(map[string]any)
		for op := range cond {
			if op != "StringEquals" {
				add("trustPolicy: condition operator %s: only StringEquals pins the subject", op)
			}
		}
		if aud := eksDig(cond, "StringEquals", issuer+":aud"); aud != "sts.amazonaws.com" {
			add("trustPolicy: %s:aud must be sts.amazonaws.com, is %v", issuer, aud)
		}
		if sub := eksDig(cond, "StringEquals", issuer+":sub"); sub != want.subject {
			add("trustPolicy: %s:sub %v, want %s (the publish job's OIDC subject)", issuer, sub, want.subject)
		}
	}
	// Permissions: an ECR token, and pushing to the charts repositories only.
	grants, err := eksGrants(role.PermissionsPolicy)
	if err != nil {
		add("permissionsPolicy: %v", err)
	}
	push := []string{"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
		"ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
	charts := fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s/*", want.region, want.account, want.prefix)
	have := map[eksGrant]bool{}
	for _, g := range grants {
		have[g] = true
		switch {
		case g.action == "ecr:GetAuthorizationToken":
			if g.resource != "*" {
				add("permissionsPolicy: ecr:GetAuthorizationToken takes Resource \"*\"")
			}
		case slices.Contains(push, g.action):
			if g.resource != charts {
				add("permissionsPolicy: %s on %s; want the charts repositories %s only", g.action, g.resource, charts)
			}
		default:
			add("permissionsPolicy: %s on %s is more than publishing charts needs", g.action, g.resource)
		}
	}
	if !have[eksGrant{"ecr:GetAuthorizationToken", "*"}] {
		add("permissionsPolicy: ecr:GetAuthorizationToken is missing (the publish step logs in to ECR with it)")
	}
	for _, a := range push {
		if !have[eksGrant{a, charts}] {
			add("permissionsPolicy: %s on %s is missing (oras pushes and checks chart versions)", a, charts)
		}
	}
	return problems
}

// TestEKSPublishRole checks the publish workflow's IAM role, then broken copies of it.
func TestEKSPublishRole(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, eksRoleFile))
	if err != nil {
		t.Fatal(err)
	}
	want := eksPublishExpectations(t)
	for _, p := range eksRoleProblems(data, want) {
		t.Errorf("%s: %s", eksRoleFile, p)
	}
	edit := func(f func(r map[string]any)) []byte {
		var r map[string]any
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		f(r)
		out, _ := json.Marshal(r)
		return out
	}
	trust := func(r map[string]any) map[string]any {
		return r["trustPolicy"].(map[string]any)["Statement"].([]any)[0].(map[string]any)
	}
	perms := func(r map[string]any) []any { return r["permissionsPolicy"].(map[string]any)["Statement"].([]any) }
	for _, tc := range []struct {
		name string
		edit func(r map[string]any)
		want string
	}{
		{"unknown field", func(r map[string]any) { r["trustPolicies"] = r["trustPolicy"] }, "unknown field"},
		{"any branch may assume it", func(r map[string]any) {
			c := trust(r)["Condition"].(map[string]any)
			c["StringLike"] = map[string]any{"token.actions.githubusercontent.com:sub": "repo:example-org/microservices-manifests:*"}
			delete(c["StringEquals"].(map[string]any), "token.actions.githubusercontent.com:sub")
		}, "StringLike"},
		{"another repository", func(r map[string]any) {
			trust(r)["Condition"].(map[string]any)["StringEquals"].(map[string]any)["token.actions.githubusercontent.com:sub"] = "repo:someone/else:environment:prd"
		}, ":sub"},
		{"no audience", func(r map[string]any) {
			delete(trust(r)["Condition"].(map[string]any)["StringEquals"].(map[string]any), "token.actions.githubusercontent.com:aud")
		}, ":aud"},
		{"ecr:* on everything", func(r map[string]any) {
			perms(r)[1].(map[string]any)["Action"] = "ecr:*"
		}, "ecr:*"},
		{"push to every repository", func(r map[string]any) {
			perms(r)[1].(map[string]any)["Resource"] = "*"
		}, "charts repositories"},
		{"cannot log in", func(r map[string]any) {
			r["permissionsPolicy"].(map[string]any)["Statement"] = perms(r)[1:]
		}, "ecr:GetAuthorizationToken is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := eksRoleProblems(edit(tc.edit), want)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("want a problem containing %q, got %q", tc.want, problems)
			}
		})
	}
}
