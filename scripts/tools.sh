#!/usr/bin/env bash
# Install pinned third-party tools into bin/ from the Go module proxy.
#
#   scripts/tools.sh helm kubeconform     # only the named tools
#   scripts/tools.sh                      # every tool below
#
# Idempotent: a tool whose binary already reports the pinned version is left alone, and
# builds go through the normal Go module and build caches, so re-runs are cheap.
set -euo pipefail

# Pinned versions. kubeconform: latest the proxy serves
# (curl -s https://proxy.golang.org/github.com/yannh/kubeconform/@v/list).
HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
GO=${GO:-go}
# go install of a large module on a slow machine: generous but bounded.
INSTALL_TIMEOUT=${INSTALL_TIMEOUT:-900}

log() { printf 'tools: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# module_version TOOL prints the module version bin/TOOL was built from ("" when absent):
# `go version -m` reads the build info Go embeds in every binary.
module_version() {
	[[ -x $BIN/$1 ]] || return 0
	"$GO" version -m "$BIN/$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# reported_version TOOL prints the version the binary itself reports.
reported_version() {
	case $1 in
	helm) timeout 20 "$BIN/helm" version --template '{{.Version}}' ;;
	kubeconform) timeout 20 "$BIN/kubeconform" -v ;;
	esac
}

# installed TOOL VERSION: bin/TOOL was built from VERSION and says so itself.
installed() {
	[[ $(module_version "$1") == "$2" && $(reported_version "$1" 2>/dev/null) == "$2" ]]
}

# install TOOL PACKAGE VERSION [LDFLAGS]
install() {
	local tool=$1 pkg=$2 want=$3 ldflags=${4:-}
	if installed "$tool" "$want"; then
		log "$tool $want already in $BIN"
		return 0
	fi
	log "installing $tool $want (have: $(module_version "$tool")) ..."
	mkdir -p "$BIN"
	# CGO off: static binaries, like the upstream releases.
	GOBIN=$BIN CGO_ENABLED=0 timeout "$INSTALL_TIMEOUT" \
		"$GO" install -trimpath -ldflags "$ldflags" "$pkg@$want" ||
		die "go install $pkg@$want failed"
	installed "$tool" "$want" ||
		die "$BIN/$tool: built from '$(module_version "$tool")', reports '$(reported_version "$tool" 2>&1)'; want $want"
	log "$tool $(reported_version "$tool") installed"
}

main() {
	local tools=("$@")
	((${#tools[@]})) || tools=(helm kubeconform)
	local t
	for t in "${tools[@]}"; do
		case $t in
		# Helm's release builds stamp the version with -X; without it `helm version`
		# says only "v3.22" (the same value lands in .Capabilities.HelmVersion).
		helm) install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" \
			"-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" ;;
		# kubeconform's releases stamp main.version likewise ("development" otherwise).
		kubeconform) install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" \
			"-X main.version=$KUBECONFORM_VERSION" ;;
		*) die "unknown tool '$t' (known: helm kubeconform)" ;;
		esac
	done
}

main "$@"
