#!/bin/bash
# bench/fork.sh - what the runtime costs fork-heavy work (shells, make,
# pre-forking servers, the gcc driver): a child nobody profiles should cost
# what it costs bare.
#
# Workloads: bench/fork_loop.c (fork + _exit(0) + waitpid, FORKS times)
# and stress-ng's fork-heavy stressors with a fixed number of bogo-ops
# (STRESSORS, "name:ops"; vforkmany runs until its timeout whatever its
# ops, so it is not in the default list).  Three configurations, run in rotating order
# ROUNDS times so the machine's drift spreads over all of them:
#   bare     the program alone
#   preload  LD_PRELOAD=libcprof.so, no profile asked
#   cpu      LD_PRELOAD=libcprof.so CPROF_CPU_PROFILE=... (the first
#            process only: its children are not followed)
# Measured: CPU time (user + system of the process and its waited-for
# children, /usr/bin/time), and wall time.  Printed per workload: the
# median CPU seconds of each configuration, the median of each round's own
# CPU ratio against bare, and the spread (min..max) of that ratio.
# Nothing asserts.
#
#   bench/fork.sh
#   ROUNDS=9 FORKS=4000 STRESSORS="fork:2000 zombie:4000" bench/fork.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
FORKS=${FORKS:-2000}
STRESSORS=${STRESSORS:-fork:2000 vfork:2000 zombie:3000 sigabrt:1000 sigchld:5000}
LIB=${LIB:-build/libcprof.so}
OUT=bench/out/fork
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (./setup.sh)" >&2; exit 2; }
cc -O2 bench/fork_loop.c -o "$OUT/fork_loop"
LIBP=$(realpath "$LIB")
HAVE_STRESS=1
command -v stress-ng >/dev/null || { echo "bench: no stress-ng (./setup.sh): fork loop only" >&2; HAVE_STRESS=0; }

# cmd WORKLOAD: the command line of a workload
cmd() {
	case $1 in
	loop) echo "$OUT/fork_loop $FORKS" ;;
	*) local n=${1%%:*} ops=${1##*:}
	   echo "stress-ng --$n 1 --$n-ops $ops --timeout 120 --quiet" ;;
	esac
}

# run CONFIG WORKLOAD: append "wall cpu" to $OUT/WORKLOAD.CONFIG
run() {
	local c=$1 w=$2 f="$OUT/${2//:/_}.$1"
	local tm=(/usr/bin/time -f "%e %U %S" -o "$OUT/time.txt")
	# shellcheck disable=SC2046
	case $c in
	bare) "${tm[@]}" $(cmd "$w") >/dev/null 2>&1 ;;
	preload) env LD_PRELOAD="$LIBP" "${tm[@]}" $(cmd "$w") >/dev/null 2>&1 ;;
	cpu) env LD_PRELOAD="$LIBP" CPROF_CPU_PROFILE="$OUT/cpu.pb.gz" "${tm[@]}" $(cmd "$w") >/dev/null 2>&1 ;;
	esac || { echo "bench: $w under $c failed" >&2; exit 1; }
	awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$OUT/time.txt" >>"$f"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

WORKLOADS="loop"
[ "$HAVE_STRESS" = 1 ] && WORKLOADS="$WORKLOADS $STRESSORS"
CONFIGS=(bare preload cpu)
printf "%-18s %9s %9s %9s   %-22s %-22s\n" workload "bare cpu" preload "cpu prof" \
	"preload/bare (spread)" "cpu prof/bare (spread)"
for w in $WORKLOADS; do
	base="$OUT/${w//:/_}"
	rm -f "$base".*
	for r in $(seq 0 $((ROUNDS - 1))); do
		for k in 0 1 2; do
			run "${CONFIGS[$(((r + k) % 3))]}" "$w"
		done
	done
	b=$(cut -d' ' -f2 "$base.bare" | median)
	p=$(cut -d' ' -f2 "$base.preload" | median)
	c=$(cut -d' ' -f2 "$base.cpu" | median)
	ratios() {   # median (min..max) of round-by-round CPU ratios of $1 to bare
		paste -d' ' "$base.$1" "$base.bare" | awk '{ print ($4 > 0) ? $2 / $4 : 0 }' >"$OUT/r"
		printf "%.2fx (%.2f..%.2f)" "$(median <"$OUT/r")" "$(sort -g "$OUT/r" | head -1)" \
			"$(sort -g "$OUT/r" | tail -1)"
	}
	printf "%-18s %9s %9s %9s   %-22s %-22s\n" "$w" "$b" "$p" "$c" "$(ratios preload)" "$(ratios cpu)"
done
