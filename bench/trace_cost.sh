#!/bin/bash
# bench/trace_cost.sh - the execution trace's cost per event appended and
# on a lock-heavy program, this tree against a baseline, in one session.
#
#   1. CPU ns per event by kind (bench/trace_cost.c: log, wake, wait; off
#      and the clock alone for reference), the baseline's libcprof.a and
#      this tree's in RUNS interleaved pairs (the order alternates); per
#      pair the ratio this/baseline; medians with min..max.  MODE+ is the
#      same in a generation the flight recorder fills again (its pages
#      already in: the steady state of CPROF_TRACE_RING).
#   2. instructions per event by kind (callgrind, the loop alone:
#      deterministic, one run each).
#   3. flood: THREADS threads appending log events for 300 ms into a 4 MiB
#      buffer: events/s, and produced = recorded + dropped (drops counted,
#      never silent).
#   4. bench/mutex_bench.c (contended 4 threads; pingpong, every op a
#      blocking condvar wait with its waker) preloaded with this tree's
#      libcprof.so: process CPU per op without a trace, with CPROF_TRACE,
#      and with the flight recorder (CPROF_TRACE_RING=2, nobody reading),
#      each also with CPROF_TRACE_RUNNABLE=0 (no schedstat reads); RUNS
#      rounds, the order rotating; ratios against no trace.
#   PARTS="1 4" runs only those parts.
#
# The baseline is a git revision (BASE_REV, default main) built once into
# bench/out/trace_cost/base (BASE_DIR=DIR: a tree already built there).
# Nothing asserts; figures go to docs/PERFORMANCE.md by hand.
#
#   bench/trace_cost.sh
#   RUNS=15 BASE_REV=main bench/trace_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-11}
N=${N:-200000}
THREADS=${THREADS:-2}
PARTS=${PARTS:-1 2 3 4}
BASE_REV=${BASE_REV:-main}
OUT=bench/out/trace_cost
mkdir -p "$OUT"
make -s build/libcprof.a build/libcprofcore.a build/libcprof.so >/dev/null
BASE_DIR=${BASE_DIR:-$OUT/base}
if [ ! -f "$BASE_DIR/build/libcprof.a" ]; then
	rm -rf "$BASE_DIR" && mkdir -p "$BASE_DIR"
	git archive "$BASE_REV" | tar -x -C "$BASE_DIR"
	make -s -C "$BASE_DIR" -j2 build/libcprof.a build/libcprofcore.a >/dev/null
fi
LIBS="$(pkg-config --libs libdw libelf zlib libpcre2-8) -lstdc++ -lpthread -ldl -lm"
build() {  # TREE OUTPUT
	cc -D_GNU_SOURCE -Iinclude -I"$1/src/core" -I"$1/src/runtime" -std=c11 -O2 -g \
	   -o "$2" bench/trace_cost.c "$1/build/libcprof.a" "$1/build/libcprofcore.a" $LIBS
}
build "$BASE_DIR" "$OUT/tc_base"
build . "$OUT/tc_new"
cc -O2 -g -pthread bench/mutex_bench.c -o "$OUT/mb"
LIBP=$(realpath build/libcprof.so)
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs; baseline $BASE_REV ($(git rev-parse --short "$BASE_REV" 2>/dev/null || echo "$BASE_DIR"))"

median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f (min %.3f, max %.3f, n=%d)\n", m, a[1], a[NR], NR}'; }
ns_of() { "$@" | grep -oP 'cpu_ns_per_event=\K[0-9.]+'; }

want() { [[ " $PARTS " == *" $1 "* ]]; }

if want 1; then
echo "== 1. CPU ns per event, baseline vs this tree, $RUNS interleaved pairs of $N events"
for mode in log wake wait log+ wake+ wait+ off clock; do
	: > "$OUT/$mode.txt"
	for i in $(seq "$RUNS"); do
		if (( i % 2 )); then
			a=$(ns_of "$OUT/tc_base" $mode $N); b=$(ns_of "$OUT/tc_new" $mode $N)
		else
			b=$(ns_of "$OUT/tc_new" $mode $N); a=$(ns_of "$OUT/tc_base" $mode $N)
		fi
		echo "$a $b" >> "$OUT/$mode.txt"
	done
	echo "  $mode: baseline $(cut -d' ' -f1 "$OUT/$mode.txt" | median)"
	echo "  $mode: this     $(cut -d' ' -f2 "$OUT/$mode.txt" | median)"
	echo "  $mode: ratio    $(awk '{ if ($1 > 0) print $2/$1 }' "$OUT/$mode.txt" | median)"
done

fi
if want 2; then
echo "== 2. instructions per event (callgrind, the loop alone, 20000 events)"
for mode in log wake wait; do
	for t in base new; do
		valgrind --tool=callgrind --toggle-collect=bench_loop \
			 --callgrind-out-file="$OUT/cg.$mode.$t" "$OUT/tc_$t" $mode 20000 >/dev/null 2>&1
		ir=$(callgrind_annotate "$OUT/cg.$mode.$t" 2>/dev/null |
		     awk '/PROGRAM TOTALS/ && !d { gsub(",", "", $1); print $1; d = 1 }')
		echo "  $mode $t: $(awk -v ir="$ir" 'BEGIN { printf "%.1f", ir / 20000 }') instructions"
	done
done

fi
if want 3; then
echo "== 3. flood: $THREADS threads x 300 ms of log events into a 4 MiB buffer"
echo "   (produced-recorded-dropped: minus the threads' start/end records; never positive)"
for t in base new; do
	echo "  $t: $(CPROF_TRACE_BUF=4M "$OUT/tc_$t" flood 300 "$THREADS")"
done

fi
cpu_of() {  # VAR=VALUE... CMD... -> cpu_ns_per_op
	env "$@" | grep -oP 'cpu_ns_per_op=\K[0-9.]+'
}
# the variants of part 4, each a list of VAR=VALUE (none: no trace)
VARIANTS=("" "CPROF_TRACE=$OUT/m.json" "CPROF_TRACE=$OUT/m.json CPROF_TRACE_RUNNABLE=0"
	  "CPROF_TRACE_RING=2" "CPROF_TRACE_RING=2 CPROF_TRACE_RUNNABLE=0")
NAMES=("no trace, CPU ns/op" "CPROF_TRACE / none" "  the same, CPROF_TRACE_RUNNABLE=0"
       "CPROF_TRACE_RING=2 / none" "  the same, CPROF_TRACE_RUNNABLE=0")
NV=${#VARIANTS[@]}
want 4 && for mode in "contended 4 2000000" "pingpong 100000"; do
	echo "== 4. mutex_bench $mode: process CPU ns/op against no trace, $RUNS rounds (order rotates)"
	: > "$OUT/lock.txt"
	for i in $(seq "$RUNS"); do
		r=()
		for j in $(seq 0 $((NV - 1))); do
			k=$(( (i + j) % NV ))
			# shellcheck disable=SC2086
			r[k]=$(cpu_of ${VARIANTS[k]} LD_PRELOAD="$LIBP" "$OUT/mb" $mode)
		done
		echo "${r[*]}" >> "$OUT/lock.txt"
	done
	echo "  ${NAMES[0]}: $(cut -d' ' -f1 "$OUT/lock.txt" | median)"
	for k in $(seq 1 $((NV - 1))); do
		echo "  ${NAMES[k]}: $(awk -v k=$((k + 1)) '{ print $k/$1 }' "$OUT/lock.txt" | median)"
	done
	python3 -c "import json; d=json.load(open('$OUT/m.json'))['otherData']; print('  last trace: events', d['events'], 'dropped', d['dropped_events'])"
done
