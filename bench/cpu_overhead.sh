#!/bin/bash
# bench/cpu_overhead.sh - what profiling costs a real CPU-bound program:
# bench/cpu_overhead.c compresses a generated file with zlib (REPS times).
# In the same run, RUNS times each, in rotating order (so drift in the
# machine's load spreads over all of them):
#   bare            the program alone
#   cprof-perf-100  LD_PRELOAD libcprof.so, CPROF_CPU_HZ=100, CPROF_CPU_MODE=perf
#                   (perf_event task-clock counters; skipped where refused)
#   cprof-timer-100 the same with POSIX CPU timers (CPROF_CPU_MODE=timer)
#   cprof-*-1000    the same at 1000 Hz
#   cprof-timer-1   a CPU profile at 1 Hz: the runtime's fixed cost (start,
#                   symbolizing and writing at exit) with almost no samples;
#                   "vs 1 Hz" is each cprof configuration's paired ratio
#                   against it, the cost of sampling itself
#   gperftools-100  LD_PRELOAD libprofiler.so, CPUPROFILE_FREQUENCY=100
#   perf-100        perf record -e cpu-clock -F 100 (its cost is mostly in
#                   the kernel and the perf process, outside the program)
#   perf-1000       the same at 1000 Hz
# CPU time is the child's user+sys from wait4 (microseconds; collector
# thread included).  Each round runs every configuration once, in rotating
# order, so a round is a set of interleaved pairs with bare; printed per
# configuration: the median of the rounds' paired CPU ratios against bare,
# with the interquartile range of those ratios (the spread to read a 0.5 %
# figure against), and the median wall time.  On a loaded machine the
# CPU-time figure is the one to read (wall time measures the other tenants
# too).  Nothing here asserts;
# the issue's targets (1% at 100 Hz, 5% at 1000 Hz) are for reading, and
# the figures go to docs/PERFORMANCE.md by hand, with the machine's load.
#
#   bench/cpu_overhead.sh
#   RUNS=15 REPS=40 bench/cpu_overhead.sh
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

configs="bare cprof-timer-1 cprof-perf-100 cprof-timer-100 cprof-perf-1000 cprof-timer-1000"
[ -f "$GPERF" ] && configs="$configs gperftools-100"
command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1 &&
	configs="$configs perf-100 perf-1000"

echo "# cpu_overhead: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), RUNS=$RUNS REPS=$REPS"
python3 - "$OUT" "$PROG" "$REPS" "$RUNS" "$LIBP" "$GPERF" "$CPROF" $configs <<'PY'
import os, re, statistics, subprocess, sys, time
out, prog, reps, runs, lib, gperf, cprof = sys.argv[1:8]
configs = sys.argv[8:]
runs = int(runs)

def command(c):
    env = dict(os.environ)
    prof = os.path.join(out, "prof")
    argv = [prog, reps]
    if c.startswith("cprof-"):
        _, mode, hz = c.split("-")
        env.update(LD_PRELOAD=lib, CPROF_CPU_PROFILE=prof, CPROF_CPU_HZ=hz, CPROF_CPU_MODE=mode)
    elif c.startswith("gperftools-"):
        env.update(LD_PRELOAD=gperf, CPUPROFILE=prof, CPUPROFILE_FREQUENCY=c.split("-")[1])
    elif c.startswith("perf-"):
        argv = ["perf", "record", "-q", "-e", "cpu-clock", "-F", c.split("-")[1], "-o", prof,
                "--"] + argv
    return argv, env, prof

def run(c):
    argv, env, prof = command(c)
    if os.path.exists(prof):
        os.unlink(prof)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    outp = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0 or not outp.startswith(b"compressed " + reps.encode() + b" x"):
        sys.exit(f"bench: {c}: exit {p.returncode}, bad output")
    if c != "bare" and not (os.path.exists(prof) and os.path.getsize(prof)):
        sys.exit(f"bench: {c} wrote no profile")
    handler = None
    if c.startswith("cprof-"):
        raw = subprocess.run([cprof, "-raw", prof], capture_output=True, text=True).stdout
        m = re.search(r"# cprof: (\d+) samples, ([\d.]+) us per sample", raw)
        if m:
            handler = (int(m.group(1)), float(m.group(2)))
    return wall, ru.ru_utime + ru.ru_stime, handler

# a configuration the machine refuses (perf mode without perf_event_open) is left out
configs = [c for c in configs if not c.startswith("cprof-perf") or
           "perf_event" in subprocess.run([cprof, "-raw", run("cprof-perf-100") and
                                           os.path.join(out, "prof")],
                                          capture_output=True, text=True).stdout]
res = {c: [] for c in configs}
for r in range(runs):
    n = len(configs)
    for i in range(n):
        c = configs[(i + r) % n]
        res[c].append(run(c))
bare = res["bare"]
def paired(c, base):
    ratios = sorted(x[1] / b[1] for x, b in zip(res[c], res[base]))
    q = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
    return f"{statistics.median(ratios):9.4f} [{q[0]:.4f}, {q[2]:.4f}]"
print(f"{'config':<18} {'cpu ratio':>9} {'IQR':>17} {'cpu s':>8} {'wall s':>8}   vs 1 Hz (IQR)")
for c in configs:
    cpu = statistics.median(x[1] for x in res[c])
    wall = statistics.median(x[0] for x in res[c])
    extra = paired(c, "cprof-timer-1") if c.startswith("cprof-") and "cprof-timer-1" in res else ""
    print(f"{c:<18} {paired(c, 'bare')} {cpu:8.3f} {wall:8.3f}   {extra}")
for c in configs:
    h = [x[2] for x in res[c] if x[2]]
    if h:
        print(f"{c}: {statistics.median(x[0] for x in h):.0f} samples per run, "
              f"{statistics.median(x[1] for x in h):.2f} us per sample inside the handler "
              f"(median; signal delivery not included)")
PY
