#!/bin/bash
# bench/trace_instr.sh - the execution trace's cost on a lock-heavy
# program in user-space instructions (valgrind --tool=callgrind):
# deterministic, so not moved by the machine's load as CPU time is.
#
# bench/mutex_bench.c preloaded with libcprof.so, the threads' routine
# alone counted (--toggle-collect: contender, pinger; the start-up and the
# trace's writing at exit are left out), per operation, for:
#   off    no trace        trace  CPROF_TRACE=FILE
#   ring   CPROF_TRACE_RING=2 (the flight recorder, nobody reading)
#   norun  CPROF_TRACE=FILE CPROF_TRACE_RUNNABLE=0 (no schedstat reads)
# What the kernel does for the program (a schedstat pread's formatting, a
# futex wait) is not in these counts: bench/trace_cost.sh part 4 and
# bench/trace_server.sh measure CPU time for that.  Valgrind runs one
# thread at a time, so "contended" rarely blocks here: its figure is the
# lock path's own cost.
#
#   bench/trace_instr.sh
#   OPS_C=100000 OPS_P=10000 bench/trace_instr.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OPS_C=${OPS_C:-50000}     # contended: ops per thread (4 threads)
OPS_P=${OPS_P:-10000}     # pingpong: round trips
LIB=$(realpath "${LIB:-build/libcprof.so}")
OUT=$(realpath -m bench/out/trace_instr)
mkdir -p "$OUT"
cc -O2 -g -pthread bench/mutex_bench.c -o "$OUT/mb"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(valgrind --version)"
. bench/trace_configs.sh
for spec in "contended contender 4 $OPS_C $((4 * OPS_C))" "pingpong pinger $OPS_P - $((2 * OPS_P))"; do
	read -r mode fn a b ops <<< "$spec"
	args=("$mode" "$a")
	[ "$mode" = contended ] && args+=("$b")
	echo "== mutex_bench ${args[*]}: instructions per op ($ops ops in $fn)"
	base=""
	for c in off trace ring norun; do
		# shellcheck disable=SC2046
		env $(cfg_env "$c") valgrind --tool=callgrind --toggle-collect="$fn" \
			--callgrind-out-file="$OUT/cg.$mode.$c" "$OUT/mb" "${args[@]}" >/dev/null 2>"$OUT/vg.log"
		ir=$(callgrind_annotate "$OUT/cg.$mode.$c" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
		per=$(awk -v i="$ir" -v n="$ops" 'BEGIN { printf "%.1f", i / n }')
		[ -z "$base" ] && base=$per
		echo "  $c: $per instr/op ($(awk -v a="$per" -v b="$base" 'BEGIN { printf "%.4f", a / b }') of off)"
	done
done
