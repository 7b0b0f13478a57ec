package catalog

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microservices-manifests/microservices-manifests/pkg/discovery"
	"github.com/microservices-manifests/microservices-manifests/pkg/render"
)

var update = flag.Bool("update", false, "rewrite the catalog block of README.md")

func TestParseImage(t *testing.T) {
	tests := []struct {
		ref  string
		want Image
	}{
		{"123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/microservices/account:1.0.0",
			Image{Registry: "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com", Repository: "microservices/account", Tag: "1.0.0", ECR: true}},
		{"docker.io/paulbouwer/hello-kubernetes:1.10.1", Image{Registry: "docker.io", Repository: "paulbouwer/hello-kubernetes", Tag: "1.10.1"}},
		{"nginx", Image{Registry: "docker.io", Repository: "nginx", Tag: "latest"}},
		{"localhost:5000/a/b", Image{Registry: "localhost:5000", Repository: "a/b", Tag: "latest"}},
		{"ghcr.io/x/y@sha256:abc", Image{Registry: "ghcr.io", Repository: "x/y", Tag: "sha256:abc"}},
		{"ghcr.io/x/y:1.2@sha256:abc", Image{Registry: "ghcr.io", Repository: "x/y", Tag: "sha256:abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if got := ParseImage(tt.ref); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// obj decodes one YAML object for the table below.
func obj(t *testing.T, y string) *render.Object {
	t.Helper()
	objs, err := render.Decode([]byte(y))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decode: %v (%d objects)", err, len(objs))
	}
	return objs[0]
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: account, namespace: microservices}
spec:
  template:
    metadata: {labels: {app: account}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions: [{key: node.kubernetes.io/nodegroup, operator: In, values: [app]}]
      containers:
        - name: app
          image: 1.dkr.ecr.eu-west-1.amazonaws.com/ms/account:2.0.0
          ports: [{name: http-app, containerPort: 8080}]
        - name: envoy
          image: envoyproxy/envoy:v1
          ports: [{name: http, containerPort: 10000}]
`

func TestBuild(t *testing.T) {
	svc := obj(t, `apiVersion: v1
kind: Service
metadata: {name: account, namespace: microservices}
spec: {selector: {app: account}, ports: [{name: http, port: 80, targetPort: http}]}
`)
	mysql := obj(t, `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: account-db, namespace: microservices}
spec: {template: {spec: {containers: [{name: mysql, image: mysql:8.4}]}}}
`)
	aurora := obj(t, `apiVersion: v1
kind: Service
metadata: {name: account-db, namespace: microservices}
spec: {type: ExternalName, externalName: account.cluster-x.eu-west-1.rds.amazonaws.com}
`)
	app := obj(t, `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: account, namespace: argocd}
spec: {source: {repoURL: 1.dkr.ecr.eu-west-1.amazonaws.com/charts, chart: account, targetRevision: 0.1.0}}
`)
	chart := discovery.Chart{ID: "app/account", Name: "account"}
	renders := []*render.Result{
		{Chart: chart, Env: "dev", Objects: []*render.Object{obj(t, deployment), svc, mysql}},
		{Chart: chart, Env: "prd", Objects: []*render.Object{obj(t, deployment), svc, aurora}},
		{Chart: discovery.Chart{ID: "deploy/argocd/app"}, Env: "prd", Objects: []*render.Object{app}},
		{Chart: discovery.Chart{ID: "app/shared"}, Env: "dev", Objects: []*render.Object{obj(t, strings.ReplaceAll(deployment, "account", "shared"))}},
	}
	cat := Build(renders, []string{"dev", "prd"}, nil)
	if len(cat.Services) != 2 {
		t.Fatalf("got %d services, want 2 (app/shared is not a service): %+v", len(cat.Services), cat.Services)
	}
	var lines []string
	for _, s := range cat.Services {
		lines = append(lines, strings.Join(append([]string{s.Env}, row(s)...), " | "))
	}
	want := []string{
		"dev | account | microservices | 1.dkr.ecr.eu-west-1.amazonaws.com | ms/account | 2.0.0 | http-app:8080 | http:80 → envoy/http:10000 | app | MySQL StatefulSet account-db (mysql:8.4) | - | -",
		"prd | account | microservices | 1.dkr.ecr.eu-west-1.amazonaws.com | ms/account | 2.0.0 | http-app:8080 | http:80 → envoy/http:10000 | app | Aurora account.cluster-x.eu-west-1.rds.amazonaws.com | - | account",
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("row %d:\n got %s\nwant %s", i, lines[i], want[i])
		}
	}
}

func TestFormats(t *testing.T) {
	for _, name := range []string{"text", "markdown", "json"} {
		if _, err := Format(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := Format("yaml"); err == nil {
		t.Error("yaml: no error")
	}
}

func TestSpliceReadme(t *testing.T) {
	added := SpliceReadme("# title\n", "\nA\n")
	if got, err := ReadmeCurrent(added); err != nil || got != "\nA\n" {
		t.Fatalf("appended block = %q, %v", got, err)
	}
	replaced := SpliceReadme(added+"tail\n", "\nB\n")
	if got, _ := ReadmeCurrent(replaced); got != "\nB\n" || !strings.HasSuffix(replaced, "tail\n") || !strings.HasPrefix(replaced, "# title\n") {
		t.Errorf("replaced:\n%s", replaced)
	}
}

// TestREADMECatalogIsFresh fails when README.md's catalog block differs from the catalog of
// the repository's rendered charts. go test ./pkg/catalog -run README -update (make docs)
// rewrites it.
func TestREADMECatalogIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("renders the whole repository")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := (&Builder{Root: root}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cat.Errors > 0 {
		t.Fatalf("the repository has %d validation errors: run platform validate", cat.Errors)
	}
	path := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block := ReadmeBlock(cat)
	if *update {
		if err := os.WriteFile(path, []byte(SpliceReadme(string(readme), block)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := ReadmeCurrent(string(readme))
	if err != nil {
		t.Fatalf("%v: run make docs", err)
	}
	if got != block {
		t.Errorf("README.md's service catalog is stale: run make docs\nwant:\n%s", block)
	}
}

// TestQueues: the queue column comes from the app container's *_QUEUE_URL variables, the
// roles from the Deployment's saga-queues annotation, and a queue counts as declared when
// an ACK Queue (prd) or the ElasticMQ configuration (dev) of the environment creates it.
func TestQueues(t *testing.T) {
	dep := obj(t, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: order
  namespace: microservices
  annotations: {microservices-manifests.io/saga-queues: "consume=saga-order-commands,produce=saga-orchestrator-replies"}
spec:
  template:
    spec:
      containers:
        - name: app
          image: 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/microservices/order:1.0.0
          env:
            - {name: AWS_ENDPOINT_URL_SQS, value: "http://saga-queues.microservices.svc.cluster.local:9324"}
            - {name: SAGA_REPLIES_QUEUE_URL, value: "http://saga-queues.microservices.svc.cluster.local:9324/000000000000/saga-orchestrator-replies"}
            - {name: SAGA_ORDER_COMMANDS_QUEUE_URL, value: "http://saga-queues.microservices.svc.cluster.local:9324/000000000000/saga-order-commands"}
            - {name: SAGA_AUDIT_QUEUE_URL, value: "http://saga-queues.microservices.svc.cluster.local:9324/000000000000/audit"}
`)
	elasticmq := obj(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: saga-queues, namespace: microservices}
data:
  elasticmq.conf: |
    aws {
      region = ap-northeast-1
    }
    queues {
      "saga-order-commands" {
        deadLettersQueue {
          name = "saga-order-commands-dlq"
        }
      }
      "saga-order-commands-dlq" {
      }
      saga-orchestrator-replies {
      }
    }
`)
	queue := obj(t, `apiVersion: sqs.services.k8s.aws/v1alpha1
kind: Queue
metadata: {name: saga-order-commands, namespace: microservices}
spec: {queueName: saga-order-commands}
`)
	for _, tc := range []struct {
		name  string
		objs  []*render.Object
		wantS string
	}{
		{"elasticmq", []*render.Object{dep, elasticmq}, "consume saga-order-commands, produce saga-orchestrator-replies, use audit (undeclared)"},
		{"ack", []*render.Object{dep, queue}, "consume saga-order-commands, produce saga-orchestrator-replies (undeclared), use audit (undeclared)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			declared := map[string]bool{}
			for _, n := range declaredQueues(tc.objs) {
				declared[n] = true
			}
			if declared["aws"] || declared["deadLettersQueue"] {
				t.Errorf("declared = %v: configuration blocks are not queues", declared)
			}
			c, _ := dig(dep.Body, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
			roles, _ := dig(dep.Body, "metadata", "annotations", QueuesAnnotation).(string)
			var got []string
			for _, q := range queues(c, roles, declared) {
				got = append(got, q.String())
			}
			if s := strings.Join(got, ", "); s != tc.wantS {
				t.Errorf("queues = %q, want %q", s, tc.wantS)
			}
		})
	}
}
