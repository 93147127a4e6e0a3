#!/bin/bash
# bench/cpu_overhead.sh - what profiling costs a real CPU-bound program:
# bench/cpu_overhead.c compresses a generated file with zlib (REPS times).
# In the same run, RUNS times each, in rotating order (so drift in the
# machine's load spreads over all of them):
#   bare            the program alone
#   cprof-100       LD_PRELOAD libcprof.so, CPROF_CPU_HZ=100
#   cprof-1000      the same at 1000 Hz
#   gperftools-100  LD_PRELOAD libprofiler.so, CPUPROFILE_FREQUENCY=100
#   perf-100        perf record -e cpu-clock -F 100 (its cost is mostly in
#                   the kernel and the perf process, outside the program)
#   perf-1000       the same at 1000 Hz
# Printed: the median wall time and the median CPU time (user+sys of the
# program, collector thread included) of each, and the slowdown against
# bare in percent.  On a loaded machine the CPU-time figure is the one to
# read (wall time measures the other tenants too).  Nothing here asserts;
# the issue's targets (1% at 100 Hz, 5% at 1000 Hz) are for reading, and
# the figures go to docs/PERFORMANCE.md by hand, with the machine's load.
#
#   bench/cpu_overhead.sh
#   RUNS=9 REPS=40 bench/cpu_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
REPS=${REPS:-20}
CPROF=${CPROF:-build/cprof}
LIB=${LIB:-build/libcprof.so}
GPERF=${GPERF:-/usr/lib/x86_64-linux-gnu/libprofiler.so.0}
OUT=bench/out/overhead
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (./setup.sh)" >&2; exit 2; }
cc -O2 -g bench/cpu_overhead.c -lz -o "$OUT/prog"
PROG=$(realpath "$OUT/prog")
LIBP=$(realpath "$LIB")

configs="bare cprof-100 cprof-1000"
[ -f "$GPERF" ] && configs="$configs gperftools-100"
command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1 &&
	configs="$configs perf-100 perf-1000"

# run CONFIG: append "wall cpu" to $OUT/CONFIG.times; checks the output
run() {
	local c=$1 t="$OUT/time.txt"
	rm -f "$OUT/prof"
	case $c in
	bare) /usr/bin/time -f "%e %U %S" -o "$t" "$PROG" "$REPS" >"$OUT/stdout" ;;
	cprof-*) LD_PRELOAD="$LIBP" CPROF_CPU_PROFILE="$OUT/prof" CPROF_CPU_HZ=${c#cprof-} \
		/usr/bin/time -f "%e %U %S" -o "$t" "$PROG" "$REPS" >"$OUT/stdout" ;;
	gperftools-*) LD_PRELOAD="$GPERF" CPUPROFILE="$OUT/prof" CPUPROFILE_FREQUENCY=${c#gperftools-} \
		/usr/bin/time -f "%e %U %S" -o "$t" "$PROG" "$REPS" >"$OUT/stdout" 2>/dev/null ;;
	perf-*) /usr/bin/time -f "%e %U %S" -o "$t" \
		perf record -q -e cpu-clock -F ${c#perf-} -o "$OUT/prof" -- "$PROG" "$REPS" >"$OUT/stdout" 2>/dev/null ;;
	esac
	grep -q "^compressed $REPS x" "$OUT/stdout" || { echo "bench: $c: bad output" >&2; exit 1; }
	[ "$c" = bare ] || [ -s "$OUT/prof" ] || { echo "bench: $c wrote no profile" >&2; exit 1; }
	awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$t" >>"$OUT/$c.times"
	# the runtime's own account of its signal handler (a '#' comment)
	case $c in cprof-*)
		"$CPROF" -raw "$OUT/prof" 2>/dev/null |
			sed -n 's/^Comment: # cprof: \([0-9]*\) samples, \([0-9.]*\) us per sample.*/\1 \2/p' \
			>>"$OUT/$c.handler" ;;
	esac
}

for c in $configs; do rm -f "$OUT/$c.times" "$OUT/$c.handler"; done
echo "# cpu_overhead: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), RUNS=$RUNS REPS=$REPS"
set -- $configs
n=$#
for ((r = 0; r < RUNS; r++)); do
	for ((i = 0; i < n; i++)); do
		idx=$(( (i + r) % n + 1 ))
		run "${!idx}"
	done
done
# note: for perf-* the CPU time is perf's process and the program's together
python3 - "$OUT" $configs <<'PY'
import statistics, sys
out, configs = sys.argv[1], sys.argv[2:]
med = {}
for c in configs:
    rows = [tuple(map(float, l.split())) for l in open(f"{out}/{c}.times")]
    med[c] = (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))
bw, bc = med["bare"]
print(f"{'config':<16} {'wall s':>8} {'slowdown':>9} {'cpu s':>8} {'slowdown':>9}")
for c in configs:
    w, cpu = med[c]
    print(f"{c:<16} {w:8.3f} {100*(w/bw-1):+8.1f}% {cpu:8.3f} {100*(cpu/bc-1):+8.1f}%")
import os
for c in configs:
    f = f"{out}/{c}.handler"
    if os.path.exists(f) and os.path.getsize(f):
        rows = [tuple(map(float, l.split())) for l in open(f)]
        print(f"{c}: {statistics.median(r[0] for r in rows):.0f} samples per run, "
              f"{statistics.median(r[1] for r in rows):.2f} us per sample inside the handler "
              f"(median; signal delivery not included)")
PY
