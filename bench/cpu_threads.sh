#!/bin/bash
# bench/cpu_threads.sh - what each thread's sampling clock costs.
# bench/cpu_threads.c creates and joins N empty threads one after another,
# optionally while HOLD other threads stay blocked (so the runtime holds
# that many clocks at once).  Run bare, with a CPU profile on POSIX timers
# (CPROF_CPU_MODE=timer) and on perf_event counters (CPROF_CPU_MODE=perf),
# ROUNDS interleaved rounds, each mode also with no threads created (its
# fixed cost, subtracted); printed: the median CPU time (user+sys, wait4)
# per created thread, its extra over bare, and the
# descriptors the process held at its peak (counters take one per thread,
# within a quarter of the soft RLIMIT_NOFILE).
#
#   bench/cpu_threads.sh
#   N=3000 HOLD="0 2000" ROUNDS=9 bench/cpu_threads.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
HOLD=${HOLD:-0 1000}
ROUNDS=${ROUNDS:-7}
LIB=${LIB:-build/libcprof.so}
OUT=bench/out/threads
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
cc -O2 -pthread bench/cpu_threads.c -o "$OUT/prog"
echo "# cpu_threads: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), N=$N ROUNDS=$ROUNDS, ulimit -n $(ulimit -n)"
python3 - "$OUT" "$(realpath "$LIB")" "$N" "$ROUNDS" $HOLD <<'PY'
import os, statistics, subprocess, sys, threading, time
out, lib, n, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
holds = sys.argv[5:]
prog = os.path.join(out, "prog")

def run(mode, hold, count=None):
    env = dict(os.environ)
    if mode != "bare":
        env.update(LD_PRELOAD=lib, CPROF_CPU_PROFILE=os.path.join(out, "p.pb.gz"),
                   CPROF_CPU_MODE=mode)
    p = subprocess.Popen([prog, count if count is not None else n, "hold", hold], env=env,
                         stdout=subprocess.PIPE)
    peak = [0]
    done = threading.Event()
    def watch():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], len(os.listdir(f"/proc/{p.pid}/fd")))
            except OSError:
                pass
            time.sleep(0.02)
    w = threading.Thread(target=watch)
    w.start()
    p.stdout.read()
    _, st, ru = os.wait4(p.pid, 0)
    p.returncode = 0
    done.set()
    w.join()
    if os.waitstatus_to_exitcode(st) != 0:
        sys.exit(f"bench: {mode} hold {hold} failed")
    return ru.ru_utime + ru.ru_stime, peak[0]

modes = ["bare", "timer", "perf"]
print(f"{'hold':>6} {'clock':<6} {'cpu us/thread':>14} {'extra':>8} {'peak fds':>9}")
for hold in holds:
    # each mode with N threads and with none: the difference is the
    # threads' own cost, without the runtime's fixed start and exit work
    res = {m: [] for m in modes}
    fixed = {m: [] for m in modes}
    for r in range(rounds):
        for m in modes[r % 3:] + modes[:r % 3]:
            res[m].append(run(m, hold))
            fixed[m].append(run(m, hold, "0"))
    per = {m: (statistics.median(x[0] for x in res[m]) -
               statistics.median(x[0] for x in fixed[m])) * 1e6 / int(n) for m in modes}
    for m in modes:
        print(f"{hold:>6} {m:<6} {per[m]:14.1f} {per[m] - per['bare']:+8.1f} "
              f"{max(x[1] for x in res[m]):9d}")
PY
