#!/bin/bash
# bench/cpu_accuracy.sh - does the runtime tell the truth about where CPU
# goes?  bench/cpu_accuracy.c splits each thread's work 60/30/10 between
# three functions and measures the truth itself (per-call thread CPU time,
# and the process's CPU time from getrusage).  Every case is profiled, in
# the same run, by cprof with each of its sampling clocks (cprof-perf: the
# perf_event task-clock counters; cprof-timer: POSIX CPU timers, the
# fallback where perf_event_open is refused), by `perf record -e cpu-clock
# -F HZ`, and by gperftools (LD_PRELOAD libprofiler.so,
# CPUPROFILE_FREQUENCY=HZ); every profile is read with cprof -top.
#
# Cases (CASES, default all):
#   random:N     N threads (THREADS: 1 2 8), the functions in random order
#   fixed:MS     one thread, the order fixed, a round of MS ms (PERIODS: 2 10
#                20): the shape that aliases a sampler locked onto ticks
#   short        2,000 threads of ~0.2 ms of share_30 each, one after
#                another, beside one thread running share_60: "short" prints
#                the short threads' sampled CPU over their true CPU
# LOAD=N runs N competing busy processes during every run (a loaded machine).
#
# Printed per run: each function's share of the three (points), the largest
# deviation from the measured shares, the sampling noise (the standard error
# sqrt(p(1-p)/n) of the 60% share from n samples), and sampled CPU /
# getrusage CPU.  Nothing here asserts; the figures go to
# docs/PERFORMANCE.md by hand, with the machine's load.  The default run is
# 20 CPU-seconds per case and tool (2000 samples at 100 Hz: 1.1 points).
#
#   bench/cpu_accuracy.sh
#   LOAD=4 CASES="random:2 fixed:10 short" TOOLS="cprof-perf perf" bench/cpu_accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-9600}          # ~20 CPU-seconds per run (2 ms rounds)
HZ=${HZ:-100}
THREADS=${THREADS:-1 2 8}
PERIODS=${PERIODS:-2 10 20}
LOAD=${LOAD:-0}
if [ -z "${CASES:-}" ]; then
	CASES=""
	for n in $THREADS; do CASES="$CASES random:$n"; done
	for ms in $PERIODS; do CASES="$CASES fixed:$ms"; done
	CASES="$CASES short"
fi
CPROF=${CPROF:-build/cprof}
LIB=${LIB:-build/libcprof.so}
GPERF=${GPERF:-/usr/lib/x86_64-linux-gnu/libprofiler.so.0}
OUT=bench/out/accuracy
mkdir -p "$OUT"
[ -x "$CPROF" ] && [ -f "$LIB" ] || { echo "bench: build cprof and libcprof.so first (make)" >&2; exit 2; }
cc -O2 -g -pthread bench/cpu_accuracy.c -o "$OUT/prog"
PROG=$(realpath "$OUT/prog")
tools="cprof-perf cprof-timer"
command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1 && tools="$tools perf"
[ -f "$GPERF" ] && tools="$tools gperftools"
tools=${TOOLS:-$tools}

# report TOOL THREADS PROFILE TRUTHFILE [BINARY]: one line of figures
report() {
	local tool=$1 n=$2 prof=$3 truth=$4 bin=${5:-}
	"$CPROF" -top -unit=ms -nodecount=200 $bin "$prof" >"$OUT/top.txt" 2>"$OUT/top.err" ||
		{ echo "bench: cprof cannot read $prof:" >&2; cat "$OUT/top.err" >&2; return 1; }
	python3 - "$tool" "$n" "$OUT/top.txt" "$truth" "$HZ" <<'PY'
import math, re, sys
tool, n, top, truth, hz = sys.argv[1:]
short = n == "short"
line = next(l for l in open(truth) if l.startswith("truth "))
t = dict(kv.split("=") for kv in line.split()[1:])
fns = ["share_60", "share_30", "share_10"]
true = [int(t[f]) for f in fns]
flat = dict.fromkeys(fns, 0.0)
text = open(top).read()
# a short thread's CPU after its last sample (all of it, mostly) is
# charged to its start routine, short_worker, whose only work is share_30
alias = {"short_worker": "share_30"}
for line in text.splitlines():
    m = re.match(r"\s*([\d.]+)ms\s+[\d.]+%\s+[\d.]+%\s+[\d.]+ms\s+[\d.]+%\s+(\S+)$", line)
    if m and alias.get(m.group(2), m.group(2)) in flat:
        flat[alias.get(m.group(2), m.group(2))] += float(m.group(1))
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
extra = ""
if short:
    extra = f"  short {flat['share_30'] * 1e6 / max(1, true[1]):5.3f}"
print(f"{tool:<11} {n:>9}  {shares[0]:5.1f} {shares[1]:5.1f} {shares[2]:5.1f}   "
      f"({truth_sh[0]:4.1f} {truth_sh[1]:4.1f} {truth_sh[2]:4.1f})  {dev:5.1f}  {noise:4.1f}  "
      f"{total_ms/1000:7.2f}s {int(t['rusage_ns'])/1e9:7.2f}s  {ratio:5.3f}{extra}")
PY
}

loadpids=""
stop_load() { [ -n "$loadpids" ] && kill $loadpids 2>/dev/null; wait 2>/dev/null || true; }
trap stop_load EXIT
for ((i = 0; i < LOAD; i++)); do (while :; do :; done) & loadpids="$loadpids $!"; done
sleep 1
echo "# cpu_accuracy: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), LOAD=$LOAD ROUNDS=$ROUNDS HZ=$HZ"
echo "tool          case  shares 60/30/10 (measured truth)      maxdev noise  sampled  getrusage  ratio"
for c in $CASES; do
	case $c in
	random:*) args=("${c#random:}" "$ROUNDS" random 1) ;;
	fixed:*) ms=${c#fixed:}; s=$(( ms / 2 > 0 ? ms / 2 : 1 ))
		 args=(1 $(( ROUNDS / s )) fixed "$s") ;;
	short) args=(2000 0 short 1) ;;
	*) echo "bench: unknown case $c" >&2; exit 2 ;;
	esac
	for tool in $tools; do
		prof="$OUT/$tool.${c//:/_}.prof"
		rm -f "$prof"
		case $tool in
		cprof-perf|cprof-timer)
			LD_PRELOAD="$(realpath "$LIB")" CPROF_CPU_PROFILE="$prof" CPROF_CPU_HZ=$HZ \
				CPROF_CPU_MODE=${tool#cprof-} "$PROG" "${args[@]}" 2>"$OUT/truth.txt"
			report "$tool" "$c" "$prof" "$OUT/truth.txt" ;;
		perf)
			perf record -q -e cpu-clock -F "$HZ" -o "$prof" -- "$PROG" "${args[@]}" \
				2>"$OUT/truth.txt" >/dev/null
			report perf "$c" "$prof" "$OUT/truth.txt" ;;
		gperftools)
			LD_PRELOAD="$GPERF" CPUPROFILE="$prof" CPUPROFILE_FREQUENCY=$HZ \
				"$PROG" "${args[@]}" 2>"$OUT/truth.txt"
			report gperftools "$c" "$prof" "$OUT/truth.txt" "$PROG" ;;
		esac
	done
done
