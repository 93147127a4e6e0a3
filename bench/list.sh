#!/bin/bash
# bench/list.sh - cprof -list=. against go tool pprof -list=. on a large
# profile whose functions point into real source files (Go 1.19's own
# sources, /usr/lib/go-1.19/src), in one run.
#
# The profile (bench/list_gen.c: NFUNCS functions spread over every .go
# file, NSAMPLES random stacks) is generated once into bench/out/.  Each
# tool lists every function, reading each source file; the figure is the
# median of RUNS (default 3) runs: wall seconds and peak RSS (MiB), with
# the ratios pprof/cprof.  The two outputs are also compared (they must be
# the same).  Nothing here asserts a timing; figures go to
# docs/PERFORMANCE.md by hand, with the date, the machine and its load.
#
#   bench/list.sh
#   RUNS=5 NFUNCS=20000 NSAMPLES=500000 bench/list.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
NFUNCS=${NFUNCS:-10000}
NSAMPLES=${NSAMPLES:-200000}
SRC=${SRC:-/usr/lib/go-1.19/src}
CPROF=${CPROF:-build/cprof}
OUT=bench/out
mkdir -p "$OUT"
[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
command -v go >/dev/null || { echo "bench: go tool pprof is the baseline (./setup.sh)" >&2; exit 2; }
[ -d "$SRC" ] || { echo "bench: $SRC missing (golang-go)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (./setup.sh)" >&2; exit 2; }
PPROF="$(go env GOTOOLDIR)/pprof"
[ -x "$PPROF" ] || { echo "bench: $PPROF not found" >&2; exit 2; }
B=$(dirname "$CPROF")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

PROF="$OUT/list-$NFUNCS-$NSAMPLES.pb.gz"
if [ ! -s "$PROF" ]; then
	cc -O2 -std=c11 -D_GNU_SOURCE -Isrc/core bench/list_gen.c "$B/libcprofcore.a" -lz -lm \
		-o "$OUT/list_gen"
	(cd "$SRC" && find . -name '*.go' -not -path '*/testdata/*' | sort) > "$TMP/files"
	"$OUT/list_gen" "$SRC" "$TMP/files" "$NFUNCS" "$NSAMPLES" "$PROF"
fi

median() { sort -g | sed -n "$(( (RUNS + 1) / 2 ))p"; }

# measure OUTFILE CMD...: "wall_s rss_kb" (medians)
measure() {
	local out=$1 i w m walls=() rss=()
	shift
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >"$out" 2>"$TMP/err" || {
			echo "bench: failed: $*" >&2; cat "$TMP/err" >&2; exit 1; }
		read -r w m <"$TMP/time"
		walls+=("$w"); rss+=("$m")
	done
	echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${rss[@]}" | median)"
}

echo "profile: $PROF ($NFUNCS functions in $(find "$SRC/" -name '*.go' -not -path '*/testdata/*' | wc -l) files, $NSAMPLES samples)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
read -r cw cm < <(measure "$TMP/c.txt" "$CPROF" -list=. -source_path="$SRC" "$PROF")
read -r gw gm < <(measure "$TMP/g.txt" "$PPROF" -list=. -source_path="$SRC" "$PROF")
same=no
cmp -s "$TMP/c.txt" "$TMP/g.txt" && same=yes
printf '%-28s %9s %9s   %s\n' "" "wall s" "RSS MiB" "output"
printf '%-28s %9s %9d   %s lines\n' "cprof -list=." "$cw" $((cm / 1024)) "$(wc -l <"$TMP/c.txt")"
printf '%-28s %9s %9d   identical: %s\n' "go tool pprof -list=." "$gw" $((gm / 1024)) "$same"
awk -v cw="$cw" -v gw="$gw" -v cm="$cm" -v gm="$gm" 'BEGIN {
	printf "ratio pprof/cprof:  wall %.1fx   RSS %.1fx\n", (cw > 0 ? gw / cw : 0), (cm > 0 ? gm / cm : 0) }'
