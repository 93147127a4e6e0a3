#!/bin/bash
# bench/trace_calls.sh - the execution trace's cost on the calls a server
# makes that return at once (bench/trace_calls.c: write, epoll_wait that
# finds the socket readable, read, per round), in CPU ns per round of the
# program's thread, preloaded with libcprof.so:
#   off    no trace (the baseline)
#   trace  CPROF_TRACE=FILE (the runnable split's default, auto)
#   ring   CPROF_TRACE_RING=2, nobody reading (split: long)
#   norun  CPROF_TRACE=FILE CPROF_TRACE_RUNNABLE=0
# RUNS rounds, the configurations' order rotating each round; per round
# each configuration's extra ns per round against that round's off run;
# printed: medians with min..max.  Extra ns per call times a server's
# calls per request over its CPU per request is the trace's share of it
# (docs/PERFORMANCE.md).  EBADF=1: the calls on descriptor -1, answered
# at once by the kernel (the hooks' own cost against ~150 ns per call
# rather than a socket's microseconds, whose spread hides it).  Nothing
# asserts.
#
#   bench/trace_calls.sh
#   EBADF=1 RUNS=21 N=1000000 bench/trace_calls.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-15}
N=${N:-200000}
EBADF=${EBADF:-0}
ARG=(); [ "$EBADF" = 1 ] && ARG=(ebadf)
LIB=$(realpath "${LIB:-build/libcprof.so}")
OUT=$(realpath -m bench/out/trace_calls)
mkdir -p "$OUT"
cc -O2 -g bench/trace_calls.c -o "$OUT/tc"
CONFIGS="off trace ring norun"
. bench/trace_configs.sh
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); N=$N rounds per run, RUNS=$RUNS, EBADF=$EBADF"
: > "$OUT/runs.txt"
set -- $CONFIGS
for r in $(seq "$RUNS"); do
	line="round $r:"
	for c in "$@"; do
		v=$(env $(cfg_env "$c") "$OUT/tc" "$N" "${ARG[@]}" 2>/dev/null | awk '/ns_per_round/ {print $2}')
		echo "$r $c $v" >> "$OUT/runs.txt"
		line="$line $c $v"
	done
	echo "$line"
	set -- "${@:2}" "$1"   # rotate the order
done
python3 - "$OUT/runs.txt" $CONFIGS <<'PY'
import sys, statistics as st
runs = {}
for line in open(sys.argv[1]):
    r, c, v = line.split()
    runs.setdefault(int(r), {})[c] = float(v)
print("config   ns/round (median)  extra ns/round vs off: median (min..max)  ratio median")
for c in sys.argv[2:]:
    vals = [x[c] for x in runs.values()]
    ex = [x[c] - x["off"] for x in runs.values()]
    ra = [x[c] / x["off"] for x in runs.values()]
    print(f"{c:8} {st.median(vals):10.1f}        {st.median(ex):+7.1f} ({min(ex):+.1f}..{max(ex):+.1f})"
          f"          {st.median(ra):.3f}")
PY
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
