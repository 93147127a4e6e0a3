#!/bin/bash
# bench/run.sh - cprof against go tool pprof on large generated profiles.
#
# Generates the profiles (bench/gen.c) once into bench/out/, then times
# `cprof -top` and `go tool pprof -top` on the same file in the same run,
# RUNS times each (default 3), and prints the median wall time and peak RSS
# of each, with the ratios.  Nothing here asserts a timing: the figures go
# to docs/PERFORMANCE.md by hand, with the date and machine.
#
#   bench/run.sh                 # both profiles, -top
#   RUNS=5 REPORTS="-top -traces" bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
REPORTS=${REPORTS:--top}
CPROF=${CPROF:-build/cprof}
OUT=bench/out
mkdir -p "$OUT"

[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
command -v go >/dev/null || { echo "bench: go tool pprof is the baseline; install golang-go (./setup.sh)" >&2; exit 2; }
PPROF="$(go env GOTOOLDIR)/pprof"
[ -x "$PPROF" ] || PPROF="go tool pprof"
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (apt-get install time)" >&2; exit 2; }

cc -O2 -std=c11 -D_GNU_SOURCE -Isrc/core bench/gen.c build/libcprofcore.a -lz -lm -o "$OUT/gen"

declare -A GEN=(
	[alloc-600k]="-type heap -samples 600000 -locations 100000 -functions 20000 -depth 4:12"
	[cpu-200k-deep]="-type cpu -samples 200000 -locations 100000 -functions 20000 -depth 8:40"
)

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

printf '%-14s %-8s %10s %10s %10s %10s %9s %9s\n' profile report cprof_s pprof_s cprof_MB pprof_MB speedup mem_ratio
for name in alloc-600k cpu-200k-deep; do
	f="$OUT/$name.pb.gz"
	[ -s "$f" ] || "$OUT/gen" ${GEN[$name]} "$f"
	gz=$(stat -c %s "$f"); raw=$(gzip -dc "$f" | wc -c)
	echo "# $name: $(( gz / 1024 )) KiB gzipped, $(( raw / 1024 )) KiB raw ($f)"
	for rep in $REPORTS; do
		read -r cw cm < <(measure "$CPROF" "$rep" "$f")
		read -r pw pm < <(measure $PPROF "$rep" -symbolize=none "$f")
		awk -v n="$name" -v r="$rep" -v cw="$cw" -v pw="$pw" -v cm="$cm" -v pm="$pm" 'BEGIN {
			printf "%-14s %-8s %10.2f %10.2f %10.1f %10.1f %8.1fx %8.1f%%\n",
			       n, r, cw, pw, cm / 1024, pm / 1024, (cw > 0 ? pw / cw : 0), 100 * cm / pm }'
	done
done
echo "# runs per figure: $RUNS (median); machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
