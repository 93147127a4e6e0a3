#!/bin/bash
# bench/mutex_bench.sh - what the interposed pthread primitives of the
# mutex and block profiles cost (bench/mutex_bench.c), in the same session:
#
#   1. instructions per uncontended lock+unlock pair (valgrind callgrind,
#      stable on a loaded machine): bare vs LD_PRELOAD=libcprof.so, from
#      the difference between N=1 and N=1000000 runs (start-up cancels);
#      and per blocking condition wait (the slow path: clock, the
#      wait record, the block event)
#   2. wall ns per operation, RUNS times each in rotating order, medians:
#        uncontended   one thread, lock+unlock
#        contended     4 threads, one mutex, ~100 ns critical sections
#        pingpong      two threads handing a token over a condition
#                      variable (every wait blocks: the slow path each time)
#      under: bare; cprof with the defaults (mutex 1/10, block 10 ms);
#      cprof with everything recorded (fraction 1, rate 1); cprof with
#      both profiles off (the wait records only).
# Nothing asserts; the figures go to docs/PERFORMANCE.md by hand, with the
# machine's load (printed).
#
#   bench/mutex_bench.sh
#   RUNS=9 bench/mutex_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
LIB=${LIB:-build/libcprof.so}
OUT=bench/out/mutex
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
cc -O2 -g -pthread bench/mutex_bench.c -o "$OUT/prog"
PROG=$(realpath "$OUT/prog")
# a copy: a rebuild during the run must not swap the library under it
cp "$LIB" "$OUT/libcprof.so"
LIBP=$(realpath "$OUT/libcprof.so")
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

if command -v valgrind >/dev/null; then
	ir() { valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file=/dev/null "$@" 2>&1 |
		grep -oP 'Collected : \K[0-9]+'; }
	b1=$(ir "$PROG" uncontended 1); b2=$(ir "$PROG" uncontended 1000000)
	p1=$(LD_PRELOAD=$LIBP ir "$PROG" uncontended 1)
	p2=$(LD_PRELOAD=$LIBP ir "$PROG" uncontended 1000000)
	bare=$(( (b2 - b1) / 1000000 )); pre=$(( (p2 - p1) / 1000000 ))
	echo "instructions per uncontended lock+unlock (loop included): bare $bare, cprof $pre (+$((pre - bare)))"
	# the slow path: every condition wait of the ping-pong blocks
	irpp() { local a b; a=$(ir "$@" pingpong 10); b=$(ir "$@" pingpong 20010); echo $(( (b - a) / 40000 )); }
	bare=$(irpp "$PROG")
	off=$(CPROF_MUTEX_FRACTION=0 CPROF_BLOCK_RATE=0 LD_PRELOAD=$LIBP irpp "$PROG")
	def=$(LD_PRELOAD=$LIBP irpp "$PROG")
	all=$(CPROF_MUTEX_FRACTION=1 CPROF_BLOCK_RATE=1 LD_PRELOAD=$LIBP irpp "$PROG")
	echo "instructions per blocking condition wait (ping-pong): bare $bare, cprof off $off, defaults $def, everything recorded $all"
fi

declare -A env=(
	[bare]=""
	[default]="LD_PRELOAD=$LIBP"
	[all]="LD_PRELOAD=$LIBP CPROF_MUTEX_FRACTION=1 CPROF_BLOCK_RATE=1"
	[off]="LD_PRELOAD=$LIBP CPROF_MUTEX_FRACTION=0 CPROF_BLOCK_RATE=0"
)
configs="bare default all off"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for mode in "uncontended 20000000" "contended 4 1000000" "pingpong 100000"; do
	name=${mode%% *}
	for c in $configs; do : > "$OUT/$name.$c"; done
	for ((r = 0; r < RUNS; r++)); do
		set -- $configs
		# rotate the order every run
		for ((k = 0; k < r % 4; k++)); do set -- "${@:2}" "$1"; done
		for c in "$@"; do
			env -u LD_PRELOAD ${env[$c]} "$PROG" $mode | grep -oP 'ns_per_op=\K[0-9.]+' >> "$OUT/$name.$c"
		done
	done
	base=$(median < "$OUT/$name.bare")
	line="$name:"
	for c in $configs; do
		m=$(median < "$OUT/$name.$c")
		line="$line $c ${m}ns"
		[ "$c" = bare ] || line="$line ($(awk -v a="$m" -v b="$base" 'BEGIN{printf "%+.0f%%", (a/b-1)*100}'))"
	done
	echo "$line"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
