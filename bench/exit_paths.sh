#!/bin/sh
# exit_paths.sh - what the runtime's exit-path and exec interposition
# (src/runtime/lifecycle.c) costs a fork-heavy program that nobody profiles
# in its children: N rounds of fork + _exit(0) + waitpid, and N rounds of
# fork + execve(/bin/true) + waitpid, bare and under LD_PRELOAD (no profile
# asked; then with a CPU profile, which every exec'd child starts too:
# the process tree rule profiles every process that inherits the variable).  CPU time (user + sys of
# the program and its children, from getrusage), REPS interleaved runs per
# configuration, median and spread printed with the ratio to bare.
#
#   bench/exit_paths.sh [LIB [BASELINE_LIB]]   (default build/libcprof.so)
#
# BASELINE_LIB (e.g. a build of main) is run in the same interleaving, so
# the two libraries are compared under the same machine load.
set -e
cd "$(dirname "$0")/.."
LIB=$(realpath "${1:-build/libcprof.so}")
BASE=${2:+$(realpath "$2")}
N=${N:-2000}
REPS=${REPS:-7}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat > "$TMP/forker.c" <<'C'
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	int n = atoi(argv[1]);
	int exec = argc > 2 && strcmp(argv[2], "exec") == 0;
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			if (exec) {
				char *a[] = { "/bin/true", NULL };
				execv(a[0], a);
			}
			_exit(0);
		}
		int st;
		waitpid(p, &st, 0);
	}
	return 0;
}
C
gcc -O2 -o "$TMP/forker" "$TMP/forker.c"
python3 - "$TMP/forker" "$N" "$REPS" "$LIB" "$BASE" "$TMP" <<'PY'
import os, resource, statistics, subprocess, sys
prog, n, reps, lib, base, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
confs = [("bare", {})]
for name, l in ([("base", base)] if base else []) + [("this", lib)]:
    confs.append((name + " preload", {"LD_PRELOAD": l}))
    confs.append((name + " +cpu", {"LD_PRELOAD": l, "CPROF_CPU_PROFILE": tmp + "/c.pb.gz"}))
def cpu(args, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPROF_") and k != "LD_PRELOAD"}
    env.update(extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
for mode in ["_exit", "exec"]:
    res = {c[0]: [] for c in confs}
    for _ in range(reps):
        for name, extra in confs:
            res[name].append(cpu([prog, n, mode], extra))
    bare = statistics.median(res["bare"])
    print(f"{mode}: {n} forks, median CPU s of {reps} interleaved runs (min..max), ratio to bare")
    for name, _ in confs:
        v = res[name]
        print(f"  {name:14s} {statistics.median(v):7.3f} ({min(v):.3f}..{max(v):.3f})  x{statistics.median(v) / bare:.2f}", flush=True)
PY
