#!/bin/bash
# bench/trace_bench.sh - what the execution trace costs (trace*.c), in one
# session, RUNS interleaved pairs each:
#
#   1. CPU ns per event appended (bench/trace_bench.c: cprof_trace_log,
#      one clock read + one append of a 48-byte record), trace on vs off;
#      N events, fewer than the 64 MiB buffer holds (no drops).
#   2. the cost on a lock-heavy program (bench/mutex_bench.c: contended,
#      4 threads on one mutex; pingpong, every wait a blocking condition
#      wait): process CPU time (user+sys) and wall time per operation,
#      preloaded without a trace vs with CPROF_TRACE, in alternating order.
# Prints each pair and the medians of the ratios with their min..max.
# Nothing asserts; figures go to docs/PERFORMANCE.md by hand.
#
#   bench/trace_bench.sh
#   RUNS=11 bench/trace_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
LIB=${LIB:-build/libcprof.so}
OUT=bench/out/trace
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
cp "$LIB" "$OUT/libcprof.so"
for p in libcprof-sym.so libcprof-http.so cprof-symbolize; do cp "$(dirname "$LIB")/$p" "$OUT/"; done
LIBP=$(realpath "$OUT/libcprof.so")
cc -O2 -g -Iinclude bench/trace_bench.c "$LIBP" -Wl,-rpath,"$(dirname "$LIBP")" -o "$OUT/tb"
cc -O2 -g -pthread bench/mutex_bench.c -o "$OUT/mb"
TB=$(realpath "$OUT/tb"); MB=$(realpath "$OUT/mb")
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.4f (min %.4f, max %.4f, n=%d)\n", m, a[1], a[NR], NR}'; }

echo "== 1. ns per event appended (cprof_trace_log, CPU time of the loop)"
N=500000
: > "$OUT/append.txt"
for i in $(seq "$RUNS"); do
	off=$(LD_PRELOAD=$LIBP "$TB" off $N | grep -oP 'cpu_ns_per_event=\K[0-9.]+')
	on=$(LD_PRELOAD=$LIBP "$TB" append $N "$OUT/t.json" | grep -oP 'cpu_ns_per_event=\K[0-9.]+')
	clk=$(LD_PRELOAD=$LIBP "$TB" clock $N | grep -oP 'cpu_ns_per_event=\K[0-9.]+')
	echo "  off $off ns  on $on ns  clock alone $clk ns"
	echo "$off $on $clk" >> "$OUT/append.txt"
done
echo -n "  trace off, ns per call: "; cut -d' ' -f1 "$OUT/append.txt" | median
echo -n "  trace on, ns per event: "; cut -d' ' -f2 "$OUT/append.txt" | median
echo -n "  the clock read alone: "; cut -d' ' -f3 "$OUT/append.txt" | median
echo -n "  per event less the clock (pairwise): "; awk '{ print $2 - $3 }' "$OUT/append.txt" | median
python3 -c "import json; d=json.load(open('$OUT/t.json'))['otherData']; print('  last trace: events', d['events'], 'dropped', d['dropped_events'])"

cpu_of() {  # VAR=VALUE... CMD... -> "cpu_ns_per_op ns_per_op": the program's work, before
	      # the exit-time writing of the trace (its cost is in part 3)
	env "$@" > "$OUT/stdout"
	echo "$(grep -oP 'cpu_ns_per_op=\K[0-9.]+' "$OUT/stdout") $(grep -oP ' ns_per_op=\K[0-9.]+' "$OUT/stdout")"
}
for mode in "contended 4 3000000" "pingpong 100000"; do
for runnable in 1 0; do
	echo "== 2. mutex_bench $mode: CPU ns/op and wall ns/op, no trace vs CPROF_TRACE (CPROF_TRACE_RUNNABLE=$runnable)"
	: > "$OUT/pairs.txt"
	for i in $(seq "$RUNS"); do
		if (( i % 2 )); then
			a=$(cpu_of LD_PRELOAD="$LIBP" "$MB" $mode)
			b=$(cpu_of CPROF_TRACE="$OUT/m.json" CPROF_TRACE_RUNNABLE=$runnable LD_PRELOAD="$LIBP" "$MB" $mode)
		else
			b=$(cpu_of CPROF_TRACE="$OUT/m.json" CPROF_TRACE_RUNNABLE=$runnable LD_PRELOAD="$LIBP" "$MB" $mode)
			a=$(cpu_of LD_PRELOAD="$LIBP" "$MB" $mode)
		fi
		echo "  off: $a   on: $b"
		echo "$a $b" >> "$OUT/pairs.txt"
	done
	echo -n "  CPU time ratio on/off: "; awk '{ if ($1 > 0) print $3/$1 }' "$OUT/pairs.txt" | median
	echo -n "  wall ns/op ratio on/off: "; awk '{ print $4/$2 }' "$OUT/pairs.txt" | median
	python3 -c "import json; d=json.load(open('$OUT/m.json'))['otherData']; print('  last trace: events', d['events'], 'dropped', d['dropped_events'])"
done
done
echo "== 3. writing: CPU seconds of cprof_trace_stop for the 500000-event trace of part 1"
for i in 1 2 3; do
	/usr/bin/time -f '%U %S' env LD_PRELOAD="$LIBP" "$TB" append 500000 "$OUT/t.json" 2>&1 >/dev/null |
		awk '{ printf "  whole process %.2f s CPU; ", $1+$2 }'
	ls -l "$OUT/t.json" | awk '{ printf "%d MB of JSON\n", $5/1e6 }'
done
