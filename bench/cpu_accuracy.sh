#!/bin/bash
# bench/cpu_accuracy.sh - does the runtime tell the truth about where CPU
# goes?  bench/cpu_accuracy.c splits each thread's work 60/30/10 between
# three functions and measures the truth itself (per-call thread CPU time,
# and the process's CPU time from getrusage).  For 1, 2 and 8 threads the
# same program is profiled, in the same run, by cprof (LD_PRELOAD
# libcprof.so, 100 Hz), by `perf record -e cpu-clock -F HZ`, and by
# gperftools (LD_PRELOAD libprofiler.so, CPUPROFILE_FREQUENCY=HZ); every
# profile is read with cprof -top.  Printed per run: each function's share
# of the three (points), the largest deviation from the measured shares,
# and sampled CPU / getrusage CPU.  Nothing here asserts: the issue's
# targets (shares within 3 points, total within 5%) are for reading; the
# figures go to docs/PERFORMANCE.md by hand, with the machine's load.
#
# Sampling noise: a share p estimated from n samples has a standard error
# of sqrt(p(1-p)/n); with 500 samples (5 CPU-seconds at 100 Hz) that is 2.2
# points for the 60% share, so every sampler (perf and gperftools too)
# lands 3-4 points off now and then.  The default run is 20 CPU-seconds
# per configuration (2000 samples, 1.1 points); the "noise" column prints
# that standard error for each run, so a deviation can be read against it.
#
#   bench/cpu_accuracy.sh
#   ROUNDS=4800 HZ=100 THREADS="1 2 8" ORDER=fixed bench/cpu_accuracy.sh
# ORDER=random (default) calls the three functions in a random order each
# round; ORDER=fixed keeps a strict 2 ms period, which tick-based timers
# (cprof's and gperftools') can alias with.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-9600}          # ~20 CPU-seconds per run
HZ=${HZ:-100}
THREADS=${THREADS:-1 2 8}
ORDER=${ORDER:-random}
CPROF=${CPROF:-build/cprof}
LIB=${LIB:-build/libcprof.so}
GPERF=${GPERF:-/usr/lib/x86_64-linux-gnu/libprofiler.so.0}
OUT=bench/out/accuracy
mkdir -p "$OUT"
[ -x "$CPROF" ] && [ -f "$LIB" ] || { echo "bench: build cprof and libcprof.so first (make)" >&2; exit 2; }
cc -O2 -g -pthread bench/cpu_accuracy.c -o "$OUT/prog"
PROG=$(realpath "$OUT/prog")
tools="cprof"
command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1 && tools="$tools perf"
[ -f "$GPERF" ] && tools="$tools gperftools"

# report TOOL THREADS PROFILE TRUTHFILE [BINARY]: one line of figures
report() {
	local tool=$1 n=$2 prof=$3 truth=$4 bin=${5:-}
	"$CPROF" -top -unit=ms -nodecount=200 $bin "$prof" >"$OUT/top.txt" 2>"$OUT/top.err" ||
		{ echo "bench: cprof cannot read $prof:" >&2; cat "$OUT/top.err" >&2; return 1; }
	python3 - "$tool" "$n" "$OUT/top.txt" "$truth" "$HZ" <<'PY'
import math, re, sys
tool, n, top, truth, hz = sys.argv[1:]
line = next(l for l in open(truth) if l.startswith("truth "))
t = dict(kv.split("=") for kv in line.split()[1:])
fns = ["share_60", "share_30", "share_10"]
true = [int(t[f]) for f in fns]
flat = dict.fromkeys(fns, 0.0)
text = open(top).read()
for line in text.splitlines():
    m = re.match(r"\s*([\d.]+)ms\s+[\d.]+%\s+[\d.]+%\s+[\d.]+ms\s+[\d.]+%\s+(\S+)$", line)
    if m and m.group(2) in flat:
        flat[m.group(2)] += float(m.group(1))
m = re.search(r"of ([\d.]+)ms total", text)
total_ms = float(m.group(1)) if m else sum(flat.values())
s = sum(flat.values()) or 1
shares = [100 * flat[f] / s for f in fns]
truth_sh = [100 * v / sum(true) for v in true]
dev = max(abs(a - b) for a, b in zip(shares, truth_sh))
ratio = total_ms * 1e6 / int(t["rusage_ns"])
nsamples = max(1.0, total_ms * int(hz) / 1000)
p = truth_sh[0] / 100
noise = 100 * math.sqrt(p * (1 - p) / nsamples)
print(f"{tool:<11} {n:>3}  {shares[0]:5.1f} {shares[1]:5.1f} {shares[2]:5.1f}   "
      f"({truth_sh[0]:4.1f} {truth_sh[1]:4.1f} {truth_sh[2]:4.1f})  {dev:5.1f}  {noise:4.1f}  "
      f"{total_ms/1000:7.2f}s {int(t['rusage_ns'])/1e9:7.2f}s  {ratio:5.3f}")
PY
}

echo "# cpu_accuracy: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), ROUNDS=$ROUNDS HZ=$HZ ORDER=$ORDER"
echo "tool    threads  shares 60/30/10 (measured truth)      maxdev noise  sampled  getrusage  ratio"
for n in $THREADS; do
	for tool in $tools; do
		prof="$OUT/$tool.$n.prof"
		rm -f "$prof"
		case $tool in
		cprof)
			LD_PRELOAD="$(realpath "$LIB")" CPROF_CPU_PROFILE="$prof" CPROF_CPU_HZ=$HZ \
				"$PROG" "$n" "$ROUNDS" "$ORDER" 2>"$OUT/truth.txt"
			report cprof "$n" "$prof" "$OUT/truth.txt" ;;
		perf)
			perf record -q -e cpu-clock -F "$HZ" -o "$prof" -- "$PROG" "$n" "$ROUNDS" "$ORDER" \
				2>"$OUT/truth.txt" >/dev/null
			report perf "$n" "$prof" "$OUT/truth.txt" ;;
		gperftools)
			LD_PRELOAD="$GPERF" CPUPROFILE="$prof" CPUPROFILE_FREQUENCY=$HZ \
				"$PROG" "$n" "$ROUNDS" "$ORDER" 2>"$OUT/truth.txt"
			report gperftools "$n" "$prof" "$OUT/truth.txt" "$PROG" ;;
		esac
	done
done
