#!/usr/bin/env bash
# Benchmark whole-repository validation: `platform validate` against what a user would
# otherwise run, `helm template | kubeconform -strict` for every chart x environment; then
# the same with the official charts every Argo CD Application installs (`platform validate
# --official --charts-from CHARTS --offline` against one more `helm template | kubeconform`
# per official chart source of each environment).
#
#   scripts/bench.sh [--root DIR]     (make bench)
#
# Environment: BENCH_ROOT (charts repository, default: this one), RUNS (timed platform
# runs, default 5), PIPELINE_RUNS (timed helm | kubeconform runs, default 3), PARALLEL (1: also time an `xargs -P2` pipeline; 0: skip),
# CRDS (default pkg/schema/crds, for schemagen's -shared-crds), CHARTS (packaged official
# charts, default ../shared/charts beside the repository; OFFICIAL=0 skips that part).
#
# Both sides see the same inputs: kubeconform gets standalone schemas that cmd/schemagen
# generates from the same pinned sources as the embedded pkg/schema/data (checked
# byte-for-byte), helm gets the same release name, namespace, Kubernetes version,
# .Capabilities.APIVersions and CRDs as platform's in-process render. For the official
# charts, `benchtool official` lists what pkg/official renders (release name, namespace,
# chart archive, the values it merges from the Application, skipCrds/skipTests) and helm
# gets exactly that; Istio's charts, which platform reads from the istio.io/istio module,
# are handed to helm packaged from the same directory with the same version stamped.
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
OFFICIAL=${OFFICIAL:-1}
CHARTS=${CHARTS:-}                        # default: ROOT/../shared/charts, after --root
TARGET_RATIO=10 TARGET_WALL=1 TARGET_MIB=300
TARGET_OFFICIAL_RATIO=5 TARGET_OFFICIAL_WALL=2 TARGET_OFFICIAL_MIB=500

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
CHARTS=${CHARTS:-$ROOT/../shared/charts}

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

# PIPELINE is the timed user script: one `helm template | kubeconform` per line read from
# stdin (pair: a chart x env of pairs.txt; release: an official chart source of
# official/releases.txt), recording both exit statuses and keeping the output for the
# comparison. The last argument is the directory under OUT.
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
# ENV ID CHART RELEASE NAMESPACE VALUES FLAGS OBJECTS DIR; FLAGS comma-separated or "-".
release() {
	local log=$OUT/$9/$1-$2.log flags=()
	[[ $7 == - ]] || IFS=, read -r -a flags <<<"$7"
	timeout "$PAIR_TIMEOUT" "$HELM" template "$4" "$3" --namespace "$5" \
		--kube-version "$KUBE_VERSION" --api-versions "$API_VERSIONS" "${flags[@]}" \
		-f "$6" </dev/null 2>"$log.helm" |
		timeout "$PAIR_TIMEOUT" "$KUBECONFORM" -strict -summary \
			-schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
			-schema-location "$OUT/official/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" - >"$log" 2>&1
	local rc=("${PIPESTATUS[@]}")
	cat "$log.helm" >>"$log"
	echo "$2 $1 ${rc[0]} ${rc[1]} $log" >>"$OUT/$9/status.txt"
}
'

# pipeline MODE (sequential | parallel) [official] times the user script over every line
# of pairs.txt (or official/releases.txt), best of PIPELINE_RUNS (the machine is shared:
# one run is noisy), in OUT/MODE (or OUT/official-MODE).
pipeline() {
	local mode=$1 dir=$1 fn=pair list=$OUT/pairs.txt what="chart x env" i
	if [[ ${2:-} == official ]]; then
		dir=official-$mode fn=release list=$OUT/official/releases.txt what="official chart sources"
	fi
	mkdir -p "$OUT/$dir"
	: >"$OUT/$dir/time.txt"
	local script
	# shellcheck disable=SC2016 # expanded by the bash that runs it
	case $mode in
	sequential) script=$PIPELINE'while read -r -a f; do '$fn' "${f[@]}" '$dir'; done' ;;
	parallel) script="xargs -P2 -L1 bash -c $(printf %q "$PIPELINE$fn"' "$@" '$dir) _" ;;
	esac
	log "timing helm template | kubeconform ($mode, $(wc -l <"$list") $what, $PIPELINE_RUNS runs)"
	for ((i = 0; i < PIPELINE_RUNS; i++)); do
		: >"$OUT/$dir/status.txt"
		"$BIN/benchtool" measure "$OUT/$dir/time.txt" -- \
			timeout "$RUN_TIMEOUT" bash -c "$script" <"$list" ||
			die "the $dir pipeline did not run to the end (exit $?)"
		# Exit 1 is a finding (helm: render error, kubeconform: invalid); anything else is
		# a tool that did not run (timeout 124, not found 127, signal 128+, Go panic 2).
		local bad
		bad=$(awk '$3 > 1 || $4 > 1' "$OUT/$dir/status.txt")
		[[ -z $bad ]] || die "$dir pipeline: tools failed to run:"$'\n'"$bad"
		[[ $(wc -l <"$OUT/$dir/status.txt") == $(wc -l <"$list") ]] ||
			die "$dir pipeline: not every line of $list ran"
	done
}

# official_inputs writes OUT/official (see benchtool official) from the snapshot, or says
# why the official charts are left out.
official_inputs() {
	if [[ $OFFICIAL != 1 ]]; then
		OFFICIAL_SKIP="OFFICIAL=$OFFICIAL"
	elif [[ ! -d $CHARTS ]]; then
		OFFICIAL_SKIP="no packaged official charts in $CHARTS (a clone without ../shared beside it; set CHARTS=DIR)"
	fi
	if [[ -n ${OFFICIAL_SKIP:-} ]]; then
		log "official charts skipped: $OFFICIAL_SKIP"
		return
	fi
	CHARTS=$(cd "$CHARTS" && pwd)
	log "listing the official chart sources (benchtool official, charts from $CHARTS)"
	timeout "$RUN_TIMEOUT" "$BIN/benchtool" official "$WORK/src" "$CHARTS" "$SCHEMAS" "$OUT/official" ||
		die "benchtool official failed"
	[[ -s $OUT/official/releases.txt ]] || die "no official chart source to render under $ROOT"
}

# platform NAME [FLAG...] times `platform validate FLAG...`: one untimed run (kept for the
# comparison, OUT/NAME.json), then RUNS (OUT/NAME-time.txt).
platform() {
	local name=$1
	shift
	log "timing platform validate${*:+ $*} (1 warm-up, then $RUNS runs)"
	local rc=0 i
	timeout "$RUN_TIMEOUT" "$BIN/platform" --root "$WORK/src" validate "$@" -o json >"$OUT/$name.json" 2>"$OUT/$name.err" || rc=$?
	if ((rc > 1)) || ! grep -q '"findings"' "$OUT/$name.json"; then
		cat "$OUT/$name.err" >&2
		die "platform validate $* did not run (exit $rc)"
	fi
	: >"$OUT/$name-time.txt"
	for ((i = 0; i < RUNS; i++)); do
		rc=0
		"$BIN/benchtool" measure "$OUT/$name-time.txt" -- \
			timeout "$RUN_TIMEOUT" "$BIN/platform" --root "$WORK/src" validate "$@" >/dev/null 2>&1 || rc=$?
		((rc <= 1)) || die "platform validate $* run $((i + 1)) failed (exit $rc)"
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
	report_official
	local note
	for note in "${NOTES[@]}"; do echo "note: $note"; done
	echo "logs: $OUT"
}

# report_official: the whole repository with the official charts, both sides.
report_official() {
	echo
	if [[ -n ${OFFICIAL_SKIP:-} ]]; then
		echo "official charts: skipped: $OFFICIAL_SKIP"
		return
	fi
	local seq oseq opar pf par
	read -r -a seq < <(stats "$OUT/sequential/time.txt")
	read -r -a oseq < <(stats "$OUT/official-sequential/time.txt")
	read -r -a pf < <(stats "$OUT/platform-official-time.txt")
	local n_rel n_obj
	n_rel=$(wc -l <"$OUT/official/releases.txt")
	n_obj=$(awk '{ n += $8 } END { print n + 0 }' "$OUT/official/releases.txt")
	echo "with the official charts ($n_rel chart sources of the Applications of every environment, $n_obj objects; charts from $CHARTS):"
	printf '%-66s %8s %14s\n' tool "wall s" "peak RSS MiB"
	printf '%-66s %8s %14s\n' "helm template | kubeconform, official (best of $PIPELINE_RUNS, median ${oseq[1]})" "${oseq[0]}" "${oseq[2]}"
	if [[ -f $OUT/official-parallel/time.txt ]]; then
		read -r -a opar < <(stats "$OUT/official-parallel/time.txt")
		read -r -a par < <(stats "$OUT/parallel/time.txt")
		printf '%-66s %8s %14s\n' "  same, xargs -P2 (best of $PIPELINE_RUNS, median ${opar[1]})" "${opar[0]}" "${opar[2]}"
	fi
	awk -v a="${seq[0]}" -v b="${oseq[0]}" 'BEGIN { printf "%-66s %8.3f\n", "helm | kubeconform, ours + official (sum of the bests)", a + b }'
	printf '%-66s %8s %14s\n' "platform validate --official (best of $RUNS, median ${pf[1]})" "${pf[0]}" "${pf[2]}"
	echo
	awk -v s="${seq[0]}" -v o="${oseq[0]}" -v sm="${seq[1]}" -v om="${oseq[1]}" -v b="${pf[0]}" -v m="${pf[1]}" \
		-v rss="${pf[2]}" -v p="${par[0]:-}" -v op="${opar[0]:-}" \
		-v tr="$TARGET_OFFICIAL_RATIO" -v tw="$TARGET_OFFICIAL_WALL" -v tm="$TARGET_OFFICIAL_MIB" 'BEGIN {
		printf "ratio: %.1fx (best sequential pipelines, ours + official / best platform --official; medians %.1fx", (s + o) / b, (sm + om) / m
		if (p != "") printf "; xargs -P2 %.1fx", (p + op) / b
		print ")"
		printf "target >= %dx faster:    %s\n", tr, ((s + o) / b >= tr ? "met" : "NOT met")
		printf "target < %d s warm:       %s (best %.3f s, median %.3f s)\n", tw, (b < tw ? "met" : "NOT met"), b, m
		printf "target < %d MiB:        %s (%.1f MiB)\n", tm, (rss < tm ? "met" : "NOT met"), rss
	}'
	if [[ -s $OUT/official/skipped.txt ]]; then
		echo "skipped on both sides (pkg/official could not resolve or render them; platform reports each as an official-chart finding):"
		sed 's/^/  /' "$OUT/official/skipped.txt"
	else
		echo "skipped on both sides: none (every official chart source resolved offline)"
	fi
	echo "kubeconform schemas generated from the CRDs the charts ship (kinds cmd/schemagen has none of): $(wc -l <"$OUT/official/generated.txt")" \
		"($(awk '{ print $2 }' "$OUT/official/generated.txt" | sort -u | paste -sd, -))"
	if [[ -s $OUT/official/unchecked.txt ]]; then
		echo "objects kubeconform cannot check (no schema for the kind; a 'could not find schema' error on its side):"
		awk '{ printf "  %s %s: %s x%d\n", $1, $2, $3, $4 }' "$OUT/official/unchecked.txt"
	else
		echo "objects kubeconform cannot check: none (every kind has a schema)"
	fi
	echo
	echo "findings with the official charts (the untimed platform --official run against the last sequential pipelines):"
	"$BIN/benchtool" compare "$OUT/platform-official.json" <(cat "$OUT/sequential/status.txt" "$OUT/official-sequential/status.txt") | sed 's/^/  /'
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
	official_inputs

	pipeline sequential
	if [[ $PARALLEL == 1 ]]; then pipeline parallel; fi
	platform platform --official=false
	if [[ -z ${OFFICIAL_SKIP:-} ]]; then
		pipeline sequential official
		if [[ $PARALLEL == 1 ]]; then pipeline parallel official; fi
		platform platform-official --official --charts-from "$CHARTS" --offline
	fi
	report
}

main
