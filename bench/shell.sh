#!/bin/bash
# bench/shell.sh - the interactive shell driven through a pipe, cprof against
# go tool pprof on the large generated profiles (bench/run.sh makes them).
#
# One session: the greeting, then five reports with options and per-command
# arguments, as a user would type them.  Each command of either shell works
# on a fresh copy of the profile (cprof_profile_dup here, a re-decode of a
# cached serialization in pprof), so the session measures that cost too.
# Prints the median wall time and peak RSS of RUNS sessions (default 3) of
# each, and the ratios.  Asserts nothing.
#
#   bench/shell.sh
#   RUNS=5 bench/shell.sh
#   RUNS=1 PROFILES=cpu-200k-deep bench/shell.sh   (pprof takes minutes a session)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CPROF=${CPROF:-build/cprof}
OUT=bench/out
PROFILES=${PROFILES:-alloc-600k cpu-200k-deep}
SESSION=${SESSION:-'top\ntop -cum 20\ntree 10\nfocus=main\ntop\n:\nsample_index=0\ntop5 -cum\n'}

[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
command -v go >/dev/null || { echo "bench: go tool pprof is the baseline" >&2; exit 2; }
PPROF="$(go env GOTOOLDIR)/pprof"
[ -x "$PPROF" ] || { echo "bench: no pprof in $(go env GOTOOLDIR)" >&2; exit 2; }
for f in $PROFILES; do
	[ -s "$OUT/$f.pb.gz" ] || { echo "bench: run bench/run.sh first to generate $OUT/$f.pb.gz" >&2; exit 2; }
done

# measure CMD...: RUNS sessions; prints "median_wall_s median_maxrss_kb"
measure() {
	local walls=() rss=() i
	for ((i = 0; i < RUNS; i++)); do
		printf "$SESSION" | /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" >/dev/null 2>"$OUT/stderr.txt" || {
			echo "bench: failed: $*" >&2; cat "$OUT/stderr.txt" >&2; exit 1; }
		read -r w m <"$OUT/time.txt"
		walls+=("$w"); rss+=("$m")
	done
	local mw mr
	mw=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
	mr=$(printf '%s\n' "${rss[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
	echo "$mw $mr"
}

echo "# session: $(printf "$SESSION" | tr '\n' ';')"
printf '%-14s %10s %10s %10s %10s %9s %9s\n' profile cprof_s pprof_s cprof_MB pprof_MB speedup mem_ratio
for name in $PROFILES; do
	f="$OUT/$name.pb.gz"
	read -r cw cm < <(measure "$CPROF" "$f")
	read -r pw pm < <(measure "$PPROF" -symbolize=none "$f")
	awk -v n="$name" -v cw="$cw" -v pw="$pw" -v cm="$cm" -v pm="$pm" 'BEGIN {
		printf "%-14s %10.2f %10.2f %10.1f %10.1f %8.1fx %8.1f%%\n",
		       n, cw, pw, cm / 1024, pm / 1024, (cw > 0 ? pw / cw : 0), 100 * cm / pm }'
done
echo "# runs per figure: $RUNS (median); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
