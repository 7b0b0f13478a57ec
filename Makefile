# The README's commands. Everything this needs is built from the Go module proxy into bin/.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
PLATFORM := $(BIN)/platform
ENVS ?= dev prd

.PHONY: all up down argocd cluster-build cluster-up cluster-down registry-build registry helmfile-build build validate render catalog test test-short test-deps docs schemas bench vet clean \
	minikube-up minikube-down skaffold-dev argocd-bootstrap

all: validate

## up: the scenario on embedded defaults: plan into a scratch clone (.cache/up), merge, publish dev
## into local OCI layouts, then start the embedded cluster and apply the dev plan onto it.
## ENV=prd: publish prd into the ECR stand-in and let Argo CD deploy it from there (scripts/up.sh)
ENV ?= dev
up: build
	UP_ENV=$(ENV) scripts/up.sh

## down: stop everything up and argocd started (ArgoCD's processes, then the cluster's), also
## after a failed start; with the existing bin/platform when the working tree does not build
down:
	@$(MAKE) --no-print-directory build || { [ -x $(PLATFORM) ] && echo "down: build failed; stopping with the existing $(PLATFORM)" >&2; }
	$(PLATFORM) cluster down

## cluster-build: build the embedded cluster's components and ArgoCD into bin/cluster/ (once per version)
cluster-build: build
	$(PLATFORM) cluster build --argocd

## argocd: run ArgoCD v3.6.1 for real on the embedded cluster (started if it is not running; redis-server
## installed if missing) and sync the dev App-of-Apps (a clone of HEAD)
argocd: build test-deps
	$(PLATFORM) cluster up >/dev/null
	$(PLATFORM) cluster argocd -e dev

## registry-build: build CNCF Distribution's registry, the ECR stand-in, into bin/registry (once per version)
registry-build: build
	$(PLATFORM) registry build

## helmfile-build: build Helmfile v1.8.0 into bin/ (once per version; cold 15-30 min on 2 cores): the
## test that renders the Helmfile root with Helmfile itself runs it
helmfile-build:
	$(GO) run ./internal/helmfilebin/build -bin $(BIN)

## registry: run the ECR stand-in (registry + GetAuthorizationToken endpoint) on 127.0.0.1 until
## interrupted; stdout is the AWS_* / REGISTRY / SSL_CERT_FILE settings a publisher needs
registry: build
	$(PLATFORM) registry serve

## cluster-up / cluster-down: the embedded cluster (state, kubeconfig, logs in .cache/cluster/)
cluster-up: build
	$(PLATFORM) cluster up

cluster-down: down

build: $(PLATFORM)

$(PLATFORM): go.mod go.sum $(shell find cmd pkg -name '*.go' -o -name '*.json' 2>/dev/null)
	$(GO) build -o $@ ./cmd/platform

## validate: render every chart in every environment and validate every object (exit 1 on errors)
validate: build
	$(PLATFORM) validate

## render: write the plan of every environment to release/<env>/ (atomically)
render: build
	@for env in $(ENVS); do $(PLATFORM) render --env $$env --out release/$$env || exit 1; done

## catalog: every microservice's image (ECR registry, repository, tag), ports, nodegroup, database and Application
catalog: build
	$(PLATFORM) catalog

## test: every test tier, as CI runs it (installs the Debian packages tests run for real, and builds
## the embedded cluster's components, the registry and Helmfile first, outside go test's per-package timeout)
test: vet test-deps cluster-build registry-build helmfile-build
	$(GO) test -count=1 ./...

test-deps:
	scripts/test-deps.sh

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

HELM_DOCS_VERSION := v1.14.2
$(BIN)/helm-docs:
	GOBIN=$(BIN) $(GO) install github.com/norwoodj/helm-docs/cmd/helm-docs@$(HELM_DOCS_VERSION)

## docs: regenerate the chart READMEs (helm-docs), docs/policies.md and README's service catalog (tests fail when stale)
docs: $(BIN)/helm-docs build
	$(BIN)/helm-docs --chart-search-root . --skip-version-footer --log-level warning
	$(PLATFORM) policy docs > docs/policies.md
	$(GO) test ./pkg/catalog -run TestREADMECatalogIsFresh -count=1 -update

## schemas: regenerate pkg/schema/data from the pinned upstream modules and pkg/schema/crds (ACK)
schemas:
	$(GO) run ./cmd/schemagen -out pkg/schema/data -shared-crds pkg/schema/crds

## bench: whole-repository validation against helm template + kubeconform -strict, and the Go benchmarks
bench:
	scripts/bench.sh
	$(GO) test -run '^$$' -bench 'Validate|Policies' -benchmem ./pkg/validate/ ./pkg/schema/

## minikube-up: the development cluster (5 nodes, containerd, node groups; CPUS, MEMORY, BACKEND_DIR)
minikube-up:
	scripts/minikube.sh up

## minikube-down: delete every Minikube cluster and its cache
minikube-down:
	scripts/minikube.sh down

BACKEND_DIR ?= ../microservices-backend
PROFILE ?=
## skaffold-dev: build the backend images from BACKEND_DIR and deploy the app charts (PROFILE=<service>)
skaffold-dev:
	@mkdir -p .cache && ln -sfn "$$(cd "$(BACKEND_DIR)" && pwd)" .cache/backend
	skaffold dev $(if $(PROFILE),--profile $(PROFILE))

ROOT_APP := deploy/argocd/shared/root
## argocd-bootstrap: install ArgoCD, then the projects and argocd-root, with Helmfile (ENV=dev|prd)
argocd-bootstrap:
	cd $(ROOT_APP) && helmfile -e $(ENV) -f helmfile.d/argocd.yaml diff --suppress-secrets
	cd $(ROOT_APP) && helmfile -e $(ENV) -f helmfile.d/argocd.yaml apply --suppress-secrets
	cd $(ROOT_APP) && helmfile -e $(ENV) -f helmfile.d/argocd-apps.yaml diff
	cd $(ROOT_APP) && helmfile -e $(ENV) -f helmfile.d/argocd-apps.yaml apply

clean:
	rm -rf bin .cache
