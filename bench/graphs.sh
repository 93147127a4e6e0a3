#!/bin/bash
# bench/graphs.sh - the graph outputs of cprof against go tool pprof on the
# large generated profiles (bench/out/*.pb.gz, made by bench/run.sh's
# generator when missing).
#
# Times `cprof -svg` and `go tool pprof -svg -symbolize=none` (both render
# through the same Graphviz dot) RUNS times each (default 3), in the same
# run, and prints the median wall time and peak RSS of each with the ratios.
# REPORTS adds other formats (-dot and -callgrind time the graph code alone,
# without Graphviz; pprof takes minutes per run on these profiles).  Nothing
# here asserts a timing.
#
#   bench/graphs.sh
#   RUNS=5 REPORTS="-svg -dot -callgrind" bench/graphs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
REPORTS=${REPORTS:--svg}
CPROF=${CPROF:-build/cprof}
OUT=bench/out
mkdir -p "$OUT"

[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
command -v go >/dev/null || { echo "bench: go tool pprof is the baseline; install golang-go (./setup.sh)" >&2; exit 2; }
command -v dot >/dev/null || { echo "bench: -svg needs Graphviz's dot (./setup.sh)" >&2; exit 2; }
PPROF="$(go env GOTOOLDIR)/pprof"
[ -x "$PPROF" ] || PPROF="go tool pprof"
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (apt-get install time)" >&2; exit 2; }

# the generator and its settings are bench/run.sh's
declare -A GEN=(
	[alloc-600k]="-type heap -samples 600000 -locations 100000 -functions 20000 -depth 4:12"
	[cpu-200k-deep]="-type cpu -samples 200000 -locations 100000 -functions 20000 -depth 8:40"
)
need_gen=0
for name in "${!GEN[@]}"; do [ -s "$OUT/$name.pb.gz" ] || need_gen=1; done
if [ $need_gen = 1 ] && [ ! -x "$OUT/gen" ]; then
	cc -O2 -std=c11 -D_GNU_SOURCE -Isrc/core bench/gen.c build/libcprofcore.a -lz -lm -o "$OUT/gen"
fi

# measure CMD...: run it RUNS times; print "median_wall_s median_maxrss_kb"
measure() {
	local walls=() rss=() i
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" >/dev/null 2>"$OUT/stderr.txt" || {
			echo "bench: failed: $*" >&2; cat "$OUT/stderr.txt" >&2; exit 1; }
		read -r w m <"$OUT/time.txt"
		walls+=("$w"); rss+=("$m")
	done
	local mw mr
	mw=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
	mr=$(printf '%s\n' "${rss[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
	echo "$mw $mr"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), RUNS=$RUNS"
printf '%-14s %-10s %10s %10s %10s %10s %9s %9s\n' profile report cprof_s pprof_s cprof_MB pprof_MB speedup mem_ratio
for name in cpu-200k-deep alloc-600k; do
	f="$OUT/$name.pb.gz"
	[ -s "$f" ] || "$OUT/gen" ${GEN[$name]} "$f"
	for rep in $REPORTS; do
		# RSS of the process tree's largest member (/usr/bin/time reports
		# the child it ran; dot runs under both tools alike)
		read -r cw cm < <(measure "$CPROF" "$rep" -output=/dev/null "$f")
		read -r pw pm < <(measure $PPROF "$rep" -symbolize=none -output=/dev/null "$f")
		awk -v n="$name" -v r="$rep" -v cw="$cw" -v pw="$pw" -v cm="$cm" -v pm="$pm" 'BEGIN {
			printf "%-14s %-10s %10.2f %10.2f %10.1f %10.1f %8.1fx %8.1f%%\n",
			       n, r, cw, pw, cm / 1024, pm / 1024, (cw > 0 ? pw / cw : 0), 100 * cm / pm }'
	done
done
