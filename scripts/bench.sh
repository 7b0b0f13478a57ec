#!/usr/bin/env bash
# Benchmark whole-repository validation: `platform validate` against what a user would
# otherwise run, `helm template | kubeconform -strict` for every chart x environment.
#
#   scripts/bench.sh [--root DIR]     (make bench)
#
# Environment: BENCH_ROOT (charts repository, default: this one), RUNS (timed platform
# runs, default 5), PIPELINE_RUNS (timed helm | kubeconform runs, default 3), PARALLEL (1: also time an `xargs -P2` pipeline; 0: skip),
# CRDS (default pkg/schema/crds, for schemagen's -shared-crds).
#
# Both sides see the same inputs: kubeconform gets standalone schemas that cmd/schemagen
# generates from the same pinned sources as the embedded pkg/schema/data (checked
# byte-for-byte), helm gets the same release name, namespace, Kubernetes version,
# .Capabilities.APIVersions and CRDs as platform's in-process render.
#
# It measures and does not assert: the exit status is 0 whether the targets are met or
# the charts have findings, and non-zero only when a pipeline cannot run.
set -euo pipefail

MODULE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${BENCH_ROOT:-$MODULE}
RUNS=${RUNS:-5}
PIPELINE_RUNS=${PIPELINE_RUNS:-3}
PARALLEL=${PARALLEL:-1}
CRDS=${CRDS:-$MODULE/pkg/schema/crds}
KUBE_VERSION=1.35.4                       # pkg/render.KubeVersion
PAIR_TIMEOUT=${PAIR_TIMEOUT:-120}         # one helm template or kubeconform
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}          # one whole timed run
TARGET_RATIO=10 TARGET_WALL=1 TARGET_MIB=300

BIN=$MODULE/bin
CACHE=$MODULE/.cache/bench
SCHEMAS=$CACHE/kubeconform-schemas
OUT=$CACHE/last                           # logs of the last run, kept for inspection

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

while (($#)); do
	case $1 in
	--root) ROOT=${2:?--root needs a directory}; shift 2 ;;
	--root=*) ROOT=${1#--root=}; shift ;;
	-h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) die "unknown argument $1 (usage: scripts/bench.sh [--root DIR])" ;;
	esac
done
ROOT=$(cd "$ROOT" && pwd)

# --- tools -------------------------------------------------------------------------------

build() {
	log "building bin/platform and bin/benchtool"
	(cd "$MODULE" && timeout 600 go build -o "$BIN/platform" ./cmd/platform &&
		timeout 300 go build -o "$BIN/benchtool" ./scripts/benchtool) || die "go build failed"
	"$MODULE/scripts/tools.sh" helm kubeconform
}

# schemas writes kubeconform's per-kind schemas with cmd/schemagen, once per content of
# pkg/schema/data and of the generator's sources. schemagen regenerates the data directory too (into the cache, never
# into the tree): it must equal the embedded one, or the comparison is not like-for-like.
schemas() {
	local key
	key=$(cd "$MODULE" && find pkg/schema/data cmd/schemagen pkg/schema -maxdepth 1 -type f \
		\( -name '*.json' -o -name '*.go' ! -name '*_test.go' \) -print0 | LC_ALL=C sort -z |
		xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
	if [[ -f $SCHEMAS.key && $(<"$SCHEMAS.key") == "$key" && -d $SCHEMAS ]]; then
		log "kubeconform schemas up to date ($(find "$SCHEMAS" -name '*.json' | wc -l) kinds)"
	else
		log "generating kubeconform schemas (go run ./cmd/schemagen -kubeconform)"
		rm -f "$SCHEMAS.key"
		(cd "$MODULE" && timeout 1800 go run ./cmd/schemagen -out "$CACHE/schema-data" \
			-shared-crds "$CRDS" -kubeconform "$SCHEMAS") || die "schemagen failed"
		if diff -rq "$CACHE/schema-data" "$MODULE/pkg/schema/data" >&2; then
			echo "$key" >"$SCHEMAS.key"
		else
			# Not cached, so the next run checks again.
			NOTES+=("schemagen output differs from pkg/schema/data: kubeconform's schemas are not exactly platform's")
		fi
	fi
	# The capabilities platform advertises to templates (pkg/validate.apiVersions).
	API_VERSIONS=$("$BIN/benchtool" apiversions "$MODULE/pkg/schema/data/index.json")
}

# --- chart x environment pairs --------------------------------------------------------------

# pairs writes "CHART NAME NAMESPACE ENV" lines from `platform list` of the snapshot
# (CHART NAME VERSION TYPE NAMESPACE ENVIRONMENTS): application charts only, and only the
# environments that have a values file (platform reports the missing ones as findings).
pairs() {
	timeout 60 "$BIN/platform" --root "$WORK/src" list 2>/dev/null |
		awk 'NR > 1 && $4 != "library" {
			n = split($6, envs, ",")
			for (i = 1; i <= n; i++) {
				if (envs[i] ~ /\(missing\)$/) {
					sub(/\(missing\)$/, "", envs[i])
					print "bench: skipping " $1 " " envs[i] ": no values file (a platform finding)" > "/dev/stderr"
					continue
				}
				print $1, $2, $5, envs[i]
			}
		}'
}

# snapshot copies the repository to WORK/src, so that both sides check the same tree while
# others keep editing it, and its chart roots (pkg/discovery.Roots) to TREE, where
# `helm dependency build` vendors the file:// dependencies (the repository is not touched).
snapshot() {
	mkdir -p "$WORK/src" "$TREE"
	# tar exits 1 for "file changed as we read it": someone saved a file meanwhile.
	local rc=0
	tar -C "$ROOT" --exclude=./.git --exclude=./bin --exclude=./.cache -cf - . | tar -C "$WORK/src" -xf - || rc=$?
	((rc <= 1)) || die "cannot copy $ROOT"
	local top
	for top in app infra deploy charts; do
		if [[ -d $WORK/src/$top ]]; then cp -a "$WORK/src/$top" "$TREE/$top"; fi
	done
}

# dependencies runs `helm dependency build` in TREE for the charts with file:// dependencies.
dependencies() {
	local chart
	while read -r chart; do
		grep -Eq "repository:[[:space:]]*[\"']?file://" "$TREE/$chart/Chart.yaml" || continue
		timeout "$PAIR_TIMEOUT" "$BIN/helm" dependency build "$TREE/$chart" >"$OUT/dep-${chart//\//_}.log" 2>&1 ||
			log "helm dependency build $chart failed (see $OUT/dep-${chart//\//_}.log)"
	done < <(cut -d' ' -f1 "$OUT/pairs.txt" | sort -u)
}

# PIPELINE is the timed user script: one `helm template | kubeconform` per pair read from
# stdin, recording both exit statuses and keeping the output for the comparison.
# shellcheck disable=SC2016 # expanded by the bash that runs it
PIPELINE='
pair() {
	local log=$OUT/$5/${1//\//_}-$4.log
	timeout "$PAIR_TIMEOUT" "$HELM" template "$2" "$TREE/$1" --namespace "$3" \
		--kube-version "$KUBE_VERSION" --api-versions "$API_VERSIONS" --include-crds \
		-f "$TREE/$1/values-$4.yaml" </dev/null 2>"$log.helm" |
		timeout "$PAIR_TIMEOUT" "$KUBECONFORM" -strict -summary \
			-schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" - >"$log" 2>&1
	local rc=("${PIPESTATUS[@]}")
	cat "$log.helm" >>"$log"
	echo "$1 $4 ${rc[0]} ${rc[1]} $log" >>"$OUT/$5/status.txt"
}
'

# pipeline MODE (sequential | parallel) times the user script over every pair, best of
# PIPELINE_RUNS (the machine is shared: one run is noisy).
pipeline() {
	local mode=$1 i
	mkdir -p "$OUT/$mode"
	: >"$OUT/$mode/time.txt"
	local script
	# shellcheck disable=SC2016 # expanded by the bash that runs it
	case $mode in
	sequential) script=$PIPELINE'while read -r c n ns e; do pair "$c" "$n" "$ns" "$e" sequential; done' ;;
	parallel) script="xargs -P2 -L1 bash -c $(printf %q "$PIPELINE"'pair "$@" parallel') _" ;;
	esac
	log "timing helm template | kubeconform ($mode, $(wc -l <"$OUT/pairs.txt") chart x env, $PIPELINE_RUNS runs)"
	for ((i = 0; i < PIPELINE_RUNS; i++)); do
		: >"$OUT/$mode/status.txt"
		"$BIN/benchtool" measure "$OUT/$mode/time.txt" -- \
			timeout "$RUN_TIMEOUT" bash -c "$script" <"$OUT/pairs.txt" ||
			die "the $mode pipeline did not run to the end (exit $?)"
		# Exit 1 is a finding (helm: render error, kubeconform: invalid); anything else is
		# a tool that did not run (timeout 124, not found 127, signal 128+, Go panic 2).
		local bad
		bad=$(awk '$3 > 1 || $4 > 1' "$OUT/$mode/status.txt")
		[[ -z $bad ]] || die "$mode pipeline: tools failed to run:"$'\n'"$bad"
		[[ $(wc -l <"$OUT/$mode/status.txt") == $(wc -l <"$OUT/pairs.txt") ]] ||
			die "$mode pipeline: not every chart x env ran"
	done
}

# platform times `platform validate`: one untimed run (kept for the comparison), then RUNS.
platform() {
	log "timing platform validate (1 warm-up, then $RUNS runs)"
	local rc=0 i
	timeout "$RUN_TIMEOUT" "$BIN/platform" --root "$WORK/src" validate -o json >"$OUT/platform.json" 2>"$OUT/platform.err" || rc=$?
	if ((rc > 1)) || ! grep -q '"findings"' "$OUT/platform.json"; then
		cat "$OUT/platform.err" >&2
		die "platform validate did not run (exit $rc)"
	fi
	: >"$OUT/platform-time.txt"
	for ((i = 0; i < RUNS; i++)); do
		rc=0
		"$BIN/benchtool" measure "$OUT/platform-time.txt" -- \
			timeout "$RUN_TIMEOUT" "$BIN/platform" --root "$WORK/src" validate >/dev/null 2>&1 || rc=$?
		((rc <= 1)) || die "platform validate run $((i + 1)) failed (exit $rc)"
	done
}

# --- report ----------------------------------------------------------------------------------

# stats FILE prints "BEST MEDIAN MAXRSS_MIB" of measure's "WALL MAXRSS_KIB EXIT" lines.
stats() {
	sort -n "$1" | awk '{ w[NR] = $1; if ($2 > rss) rss = $2 }
		END { printf "%.3f %.3f %.1f\n", w[1], w[int((NR + 1) / 2)], rss / 1024 }'
}

report() {
	local seq par pf
	read -r -a seq < <(stats "$OUT/sequential/time.txt")
	read -r -a pf < <(stats "$OUT/platform-time.txt")
	local n_pairs n_charts
	n_pairs=$(wc -l <"$OUT/pairs.txt")
	n_charts=$(cut -d' ' -f1 "$OUT/pairs.txt" | sort -u | wc -l)

	echo
	echo "repository:  $ROOT (a snapshot: $n_charts charts, $n_pairs chart x env)"
	echo "machine:     $(nproc) cores, $(uname -sr), $(go env GOVERSION); load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "tools:       helm $("$BIN/helm" version --template '{{.Version}}'), kubeconform $("$BIN/kubeconform" -v)," \
		"kubeconform schemas: $(find "$SCHEMAS" -name '*.json' | wc -l) kinds from cmd/schemagen"
	echo
	printf '%-56s %8s %14s\n' tool "wall s" "peak RSS MiB"
	printf '%-56s %8s %14s\n' "helm template | kubeconform (best of $PIPELINE_RUNS, median ${seq[1]})" "${seq[0]}" "${seq[2]}"
	if [[ -f $OUT/parallel/time.txt ]]; then
		read -r -a par < <(stats "$OUT/parallel/time.txt")
		printf '%-56s %8s %14s\n' "  same, xargs -P2 (best of $PIPELINE_RUNS, median ${par[1]})" "${par[0]}" "${par[2]}"
	fi
	printf '%-56s %8s %14s\n' "platform validate (best of $RUNS, median ${pf[1]})" "${pf[0]}" "${pf[2]}"
	echo
	awk -v s="${seq[0]}" -v sm="${seq[1]}" -v b="${pf[0]}" -v m="${pf[1]}" -v rss="${pf[2]}" -v p="${par[0]:-}" \
		-v tr="$TARGET_RATIO" -v tw="$TARGET_WALL" -v tm="$TARGET_MIB" 'BEGIN {
		printf "ratio: %.1fx (best sequential pipeline / best platform; medians %.1fx", s / b, sm / m
		if (p != "") printf "; xargs -P2 %.1fx", p / b
		print ")"
		printf "target >= %dx faster:   %s\n", tr, (s / b >= tr ? "met" : "NOT met")
		printf "target < %d s warm:      %s (best %.3f s, median %.3f s)\n", tw, (b < tw ? "met" : "NOT met"), b, m
		printf "target < %d MiB:       %s (%.1f MiB)\n", tm, (rss < tm ? "met" : "NOT met"), rss
	}'
	echo "peak RSS is the largest single process (wait4 ru_maxrss); in the pipeline helm and kubeconform also run side by side"
	echo
	echo "findings (the untimed platform run against the last sequential pipeline):"
	"$BIN/benchtool" compare "$OUT/platform.json" "$OUT/sequential/status.txt" | sed 's/^/  /'
	local note
	for note in "${NOTES[@]}"; do echo "note: $note"; done
	echo "logs: $OUT"
}

main() {
	NOTES=()
	LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
	build
	rm -rf "$OUT"
	mkdir -p "$OUT"
	schemas

	WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
	TREE=$WORK/helm
	# shellcheck disable=SC2064 # WORK is fixed now
	trap "rm -rf '$WORK'" EXIT
	# A user's own repositories and plugins stay out of it.
	export HELM_CACHE_HOME=$WORK/.helm/cache HELM_CONFIG_HOME=$WORK/.helm/config HELM_DATA_HOME=$WORK/.helm/data
	snapshot
	pairs >"$OUT/pairs.txt"
	[[ -s $OUT/pairs.txt ]] || die "no chart x environment to render under $ROOT"
	dependencies

	export OUT TREE SCHEMAS API_VERSIONS KUBE_VERSION PAIR_TIMEOUT HELM=$BIN/helm KUBECONFORM=$BIN/kubeconform
	pipeline sequential
	if [[ $PARALLEL == 1 ]]; then pipeline parallel; fi
	platform
	report
}

main
