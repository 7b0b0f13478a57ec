# The README's commands. Everything this needs is built from the Go module proxy into bin/.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
PLATFORM := $(BIN)/platform
ENVS ?= dev prd
SHARED ?= ../shared

.PHONY: all build validate render test test-short schemas bench vet clean

all: validate

build: $(PLATFORM)

$(PLATFORM): go.mod go.sum $(shell find cmd pkg -name '*.go' -o -name '*.json' 2>/dev/null)
	$(GO) build -o $@ ./cmd/platform

## validate: render every chart in every environment and validate every object (exit 1 on errors)
validate: build
	$(PLATFORM) validate

## render: write the plan of every environment to release/<env>/ (atomically)
render: build
	@for env in $(ENVS); do $(PLATFORM) render --env $$env --out release/$$env || exit 1; done

## test: every test tier, as CI runs it
test: vet
	$(GO) test -count=1 ./...

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

## schemas: regenerate pkg/schema/data from the pinned upstream modules and ../shared/crds
schemas:
	$(GO) run ./cmd/schemagen -out pkg/schema/data -shared-crds $(SHARED)/crds

## bench: whole-repository validation against helm template + kubeconform -strict
bench:
	scripts/bench.sh

clean:
	rm -rf bin .cache
