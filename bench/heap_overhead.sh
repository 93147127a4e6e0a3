#!/bin/bash
# bench/heap_overhead.sh - what the heap profiler costs a multi-threaded
# malloc/free-heavy program (bench/heap_overhead.c: THREADS threads, OPS
# free+malloc pairs each, 16 B..64 KiB).  Three groups, each with its own
# bare baseline, RUNS times each in rotating order (load drift spreads
# over all configurations):
#   fixed (OPS=0): the cost of starting and exiting (the unwind tables of
#         the modules sampled stacks reach, the profile symbolized and
#         written at exit)
#   long  (OPS, default 10M per thread):   bare, cprof at the default rate;
#         also printed with the fixed cost taken out (the per-allocation
#         price a long-running program pays)
#   short (SHORT_OPS, default 1M):         bare, cprof default, cprof at
#         CPROF_HEAP_RATE=1 (every allocation), heaptrack, tcmalloc alone,
#         tcmalloc + gperftools' heap profiler (HEAPPROFILE)
# cprof runs write a heap profile (CPROF_HEAP_PROFILE), so they include the
# unwinder's start (module registry) and the profile written at exit.
# Printed: median wall and CPU (user+sys) seconds, the slowdown against
# the group's bare run, and the median of each round's own CPU ratio
# (gperftools also against tcmalloc alone).  Read the
# CPU figure on a loaded machine.  Nothing asserts.
#
#   bench/heap_overhead.sh
#   RUNS=7 OPS=20000000 bench/heap_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
THREADS=${THREADS:-2}
OPS=${OPS:-10000000}
SHORT_OPS=${SHORT_OPS:-1000000}
LIB=${LIB:-build/libcprof.so}
TCM=${TCM:-/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4}
OUT=bench/out/heap_overhead
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (./setup.sh)" >&2; exit 2; }
cc -O2 -g -pthread bench/heap_overhead.c -o "$OUT/prog"
PROG=$(realpath "$OUT/prog")
LIBP=$(realpath "$LIB")

# run CONFIG OPS: append "wall cpu" to $OUT/CONFIG.OPS.times
run() {
	local c=$1 ops=$2 t="$OUT/time.txt"
	local tm=(/usr/bin/time -f "%e %U %S" -o "$OUT/time.txt")
	rm -rf "$OUT/prof" "$OUT"/prof.*
	case $c in
	bare) "${tm[@]}" "$PROG" "$THREADS" "$ops" >"$OUT/stdout" ;;
	cprof) LD_PRELOAD="$LIBP" CPROF_HEAP_PROFILE="$OUT/prof" "${tm[@]}" "$PROG" "$THREADS" "$ops" >"$OUT/stdout" ;;
	cprof-rate1) LD_PRELOAD="$LIBP" CPROF_HEAP_RATE=1 CPROF_HEAP_PROFILE="$OUT/prof" \
		"${tm[@]}" "$PROG" "$THREADS" "$ops" >"$OUT/stdout" ;;
	heaptrack) "${tm[@]}" heaptrack -o "$OUT/prof" "$PROG" "$THREADS" "$ops" >"$OUT/stdout.ht" 2>&1
		grep '^threads' "$OUT/stdout.ht" >"$OUT/stdout" || true ;;
	tcmalloc) LD_PRELOAD="$TCM" "${tm[@]}" "$PROG" "$THREADS" "$ops" >"$OUT/stdout" ;;
	gperftools) LD_PRELOAD="$TCM" HEAPPROFILE="$OUT/prof" "${tm[@]}" "$PROG" "$THREADS" "$ops" >"$OUT/stdout" 2>/dev/null ;;
	esac
	grep -q "^threads $THREADS ops $ops " "$OUT/stdout" || { echo "bench: $c: bad output" >&2; exit 1; }
	awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$t" >>"$OUT/$c.$ops.times"
}

group() {
	local ops=$1; shift
	local configs=("$@") n=$#
	for c in "${configs[@]}"; do rm -f "$OUT/$c.$ops.times"; done
	for ((r = 0; r < RUNS; r++)); do
		for ((i = 0; i < n; i++)); do
			run "${configs[$(( (i + r) % n ))]}" "$ops"
		done
	done
	python3 - "$OUT" "$ops" "${configs[@]}" <<'PY'
import statistics, sys
out, ops, configs = sys.argv[1], sys.argv[2], sys.argv[3:]
med = {}
for c in configs:
    rows = [tuple(map(float, l.split())) for l in open(f"{out}/{c}.{ops}.times")]
    med[c] = (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))
bw, bc = med["bare"]
rows_of = {c: [tuple(map(float, l.split())) for l in open(f"{out}/{c}.{ops}.times")] for c in configs}
def paired(c, k):
    # the median of the rounds' own ratios: each round runs every
    # configuration back to back, so slow drifts of the machine cancel
    rs = [x[k] / max(y[k], 1e-3) for x, y in zip(rows_of[c], rows_of["bare"])]
    return statistics.median(rs)
print(f"## OPS={ops} per thread")
print(f"{'config':<14}{'wall s':>9}{'cpu s':>9}{'wall x':>9}{'cpu x':>9}{'cpu x paired':>14}")
for c in configs:
    w, cpu = med[c]
    print(f"{c:<14}{w:9.3f}{cpu:9.3f}{w / max(bw, 1e-3):9.3f}{cpu / max(bc, 1e-3):9.3f}"
          f"{paired(c, 1):14.3f}")
if "tcmalloc" in med and "gperftools" in med:
    tw, tc = med["tcmalloc"]
    w, cpu = med["gperftools"]
    print(f"gperftools against tcmalloc alone: wall x{w / max(tw, 1e-3):.3f} cpu x{cpu / max(tc, 1e-3):.3f}")
PY
}

echo "# heap_overhead: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), RUNS=$RUNS THREADS=$THREADS"
group 0 bare cprof
group "$OPS" bare cprof
python3 - "$OUT" "$OPS" "$THREADS" <<'PY'
import statistics, sys
out, ops, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
def cpu(c, o):
    return statistics.median(float(l.split()[1]) for l in open(f"{out}/{c}.{o}.times"))
b = cpu("bare", ops) - cpu("bare", 0)
c = cpu("cprof", ops) - cpu("cprof", 0)
print(f"cprof per-op cpu, fixed cost taken out: x{c / max(b, 1e-3):.3f} "
      f"({(c - b) / (nth * int(ops)) * 1e9 / 2:.1f} ns more per malloc or free)")
PY
short=(bare cprof cprof-rate1)
command -v heaptrack >/dev/null && short+=(heaptrack)
[ -f "$TCM" ] && short+=(tcmalloc gperftools)
group "$SHORT_OPS" "${short[@]}"
