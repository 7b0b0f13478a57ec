#!/usr/bin/env bash
# Development cluster on Minikube, as the mission describes it: 5 nodes, containerd, docker
# driver, the backend repository mounted at /data, a pinned Kubernetes version, and worker
# nodes m02..m05 labelled with the node groups the charts' affinities select.
#
#   scripts/minikube.sh up     # make minikube-up   (CPUS, MEMORY, BACKEND_DIR, KUBERNETES_VERSION)
#   scripts/minikube.sh down   # make minikube-down (minikube delete --all --purge)
set -euo pipefail

: "${KUBERNETES_VERSION:=v1.35.4}"   # the version the schemas and the embedded cluster use
: "${CPUS:=2}"                       # per node
: "${MEMORY:=4096}"                  # MiB per node
: "${BACKEND_DIR:=../microservices-backend}"
: "${PROFILE:=minikube}"             # the mission's commands use the default profile

# Node of the profile -> node group (the control-plane node gets none). The order matches
# DESIGN.md's table: app, deploy, ingress, system.
nodegroups=(app deploy ingress system)

need() { command -v "$1" >/dev/null 2>&1 || { echo "minikube.sh: $1 not found (asdf install, see .tool-versions)" >&2; exit 1; }; }

up() {
  need minikube
  need kubectl
  [ -d "$BACKEND_DIR" ] || { echo "minikube.sh: BACKEND_DIR=$BACKEND_DIR does not exist (clone the backend monorepo there)" >&2; exit 1; }
  minikube start \
    --profile "$PROFILE" \
    --nodes 5 \
    --driver docker \
    --container-runtime containerd \
    --kubernetes-version "$KUBERNETES_VERSION" \
    --cpus "$CPUS" \
    --memory "$MEMORY" \
    --mount --mount-string "$(cd "$BACKEND_DIR" && pwd):/data"
  local i node
  for i in "${!nodegroups[@]}"; do
    node=$(printf '%s-m%02d' "$PROFILE" $((i + 2)))
    kubectl --context "$PROFILE" label node "$node" --overwrite "node.kubernetes.io/nodegroup=${nodegroups[$i]}"
  done
  # tcptraceroute in every node for network debugging (the node image is Debian/Ubuntu based).
  for node in $(kubectl --context "$PROFILE" get nodes -o name | cut -d/ -f2); do
    timeout 300 minikube --profile "$PROFILE" ssh --node "$node" -- \
      "sudo sh -c 'command -v tcptraceroute >/dev/null || (apt-get update -qq && apt-get install -y -qq tcptraceroute)'"
  done
  kubectl --context "$PROFILE" get nodes -L node.kubernetes.io/nodegroup
}

down() {
  need minikube
  minikube delete --all --purge
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
