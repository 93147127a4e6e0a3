#!/bin/bash
# bench/startup.sh - what loading the runtime costs a short program: CPU time
# (user + sys of the child, from wait4's rusage) and the number of shared
# libraries the loader opens over the process's life (LD_DEBUG=files: the
# program's own, the preload's, and any loaded later with dlopen; ld.so and
# the vdso not counted).
#
# Programs: /bin/true, and Debian's /usr/bin/python3 importing 15 modules.  Each is run bare,
# preloaded with no profile asked, preloaded with a CPU profile
# (CPROF_CPU_PROFILE; and the same with the plugins and the symbolizer
# process out of reach, CPROF_PLUGIN=/nonexistent, so the profile is
# written unsymbolized: the preload's own cost without exit-time
# symbolization), and under gperftools (LD_PRELOAD=libprofiler.so
# CPUPROFILE=...).  The profile files are symbolized by a helper process
# (cprof-symbolize), which is not the program's child: this script makes
# itself a subreaper (PR_SET_CHILD_SUBREAPER) so the orphaned helper is
# its child, reaps it after the program, and shows its CPU time apart
# ("+helper"): "CPU ms" is the program's process alone.  "libs" counts the
# program's own process (the helper's LD_DEBUG lines have its pid).
# INSTR=1 adds "instr": instructions of one run of each case counted by
# valgrind --tool=callgrind (all threads of the program's process, not the
# helper; exact, so comparable on a loaded machine; the CPU profile's
# samples differ under valgrind, which runs ~50x slower).  BASE_LIB=/path/to/an/older/libcprof.so adds its two
# preloaded cases, for a before/after figure.  Runs are interleaved (each
# round runs every case once, in a rotated order) so load on the machine
# hits every case alike; the output is the median and the 25th-75th
# percentile spread of each case over RUNS rounds, and the ratio of the
# medians to bare.  Nothing asserts a timing: the figures go to
# docs/PERFORMANCE.md by hand with this command line.
#
#   bench/startup.sh                     # RUNS=41
#   RUNS=101 BASE_LIB=/tmp/old/build/libcprof.so bench/startup.sh
#   INSTR=1 RUNS=21 bench/startup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-41}
LIB=${LIB:-$PWD/build/libcprof.so}
[ -f "$LIB" ] || { echo "bench: build the runtime first (make)" >&2; exit 2; }
[ -z "${BASE_LIB:-}" ] || [ -f "$BASE_LIB" ] || { echo "bench: BASE_LIB=$BASE_LIB: no such file" >&2; exit 2; }
GPERF=$(ls /usr/lib/x86_64-linux-gnu/libprofiler.so.0 2>/dev/null || true)
[ -n "$GPERF" ] || echo "bench: gperftools' libprofiler.so.0 not found (./setup.sh installs it); its cases are skipped" >&2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

INSTR=${INSTR:-0}
[ "$INSTR" = 0 ] || command -v valgrind >/dev/null || { echo "bench: INSTR=1 needs valgrind" >&2; exit 2; }
RUNS="$RUNS" LIB="$LIB" GPERF="$GPERF" BASE_LIB="${BASE_LIB:-}" OUT="$OUT" INSTR="$INSTR" /usr/bin/python3 - <<'EOF'
import ctypes, os, re, subprocess, statistics

# orphans (the symbolizer process) become our children: reaped, timed
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
instr = os.environ["INSTR"] != "0"

runs = int(os.environ["RUNS"])
lib, gperf, base, out = (os.environ[k] for k in ("LIB", "GPERF", "BASE_LIB", "OUT"))
PY = ("import json, decimal, email, http.client, sqlite3, xml.dom.minidom, argparse, csv, "
      "logging, asyncio, subprocess, unittest, urllib.request, zipfile, tarfile")
programs = [("/bin/true", ["/bin/true"]), ("/usr/bin/python3 (15 imports)", ["/usr/bin/python3", "-c", PY])]

cases = [("bare", {})]
cases.append(("libcprof.so, no profile", {"LD_PRELOAD": lib}))
cases.append(("libcprof.so, CPU profile", {"LD_PRELOAD": lib, "CPROF_CPU_PROFILE": out + "/cpu.pb.gz"}))
# the same without the plugins: the preload's own cost, with no exit-time
# symbolization (libdw reading debug files) or compression
cases.append(("  same, no plugins", {"LD_PRELOAD": lib, "CPROF_CPU_PROFILE": out + "/cpu.pb.gz",
                                     "CPROF_PLUGIN": out + "/none"}))
if base:
    cases.append(("BASE_LIB, no profile", {"LD_PRELOAD": base}))
    cases.append(("BASE_LIB, CPU profile", {"LD_PRELOAD": base, "CPROF_CPU_PROFILE": out + "/cpu.pb.gz"}))
if gperf:
    cases.append(("gperftools CPU profile", {"LD_PRELOAD": gperf, "CPUPROFILE": out + "/gperf.prof"}))

clean = {k: v for k, v in os.environ.items()
         if not k.startswith(("CPROF_", "LD_PRELOAD", "CPUPROFILE", "LD_DEBUG"))}

def reap_others():
    """CPU ms of the other children (orphaned helpers), reaped."""
    ms = 0.0
    while True:
        try:
            _, _, ru = os.wait4(-1, 0)
        except ChildProcessError:
            return ms
        ms += (ru.ru_utime + ru.ru_stime) * 1e3

def cpu_ms(argv, extra):
    env = dict(clean, **extra)
    pid = os.posix_spawnp(argv[0], argv, env,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                                        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {argv[0]} failed under {extra}")
    return (ru.ru_utime + ru.ru_stime) * 1e3, reap_others()

def libs(argv, extra):
    env = dict(clean, LD_DEBUG="files", **extra)
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    reap_others()
    by_pid = {}
    for pid, f in re.findall(r"^\s*(\d+):\s+file=(\S+)\s+\[\d+\];\s+(?:needed|dynamically loaded)",
                             r.stderr, re.M):
        by_pid.setdefault(int(pid), set()).add(f)
    return len(by_pid[min(by_pid)]) if by_pid else 0

def instructions(argv, extra):
    if not instr:
        return ""
    env = dict(clean, **extra)
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p"] + argv,
                       env=env, capture_output=True, text=True)
    reap_others()
    m = re.search(r"Collected : (\d+)", r.stderr)
    for f in os.listdir(out):
        if f.startswith("cg."):
            os.unlink(os.path.join(out, f))
    return f"{int(m.group(1)) / 1e6:8.2f}M" if m else "       ?"

def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]

print(f"startup cost: CPU ms (user+sys of the program's process; +helper: its symbolizer "
      f"process's), median [p25-p75] of {runs} interleaved rounds")
for name, argv in programs:
    times = {c: [] for c, _ in cases}
    helper = {c: [] for c, _ in cases}
    for r in range(runs):
        order = cases[r % len(cases):] + cases[:r % len(cases)]
        for c, extra in order:
            own, h = cpu_ms(argv, extra)
            times[c].append(own)
            helper[c].append(h)
    bare = statistics.median(times["bare"])
    print(f"\n{name}")
    print(f"  {'case':28} {'median':>8} {'p25-p75':>15} {'x bare':>7} {'+helper':>8} {'libs':>5}"
          + ("    instr" if instr else ""))
    for c, extra in cases:
        v = times[c]
        m = statistics.median(v)
        print(f"  {c:28} {m:8.2f} {q(v, .25):7.2f}-{q(v, .75):<7.2f} {m / bare if bare else 0:7.2f} "
              f"{statistics.median(helper[c]):8.2f} {libs(argv, extra):5d} {instructions(argv, extra)}")
EOF
