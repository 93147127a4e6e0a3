#!/bin/bash
# bench/trace_share.sh - what the execution trace costs redis under load,
# as perf sees it: libcprof.so's share of the server's CPU samples
# (`perf record -F 5000 -p PID` during `redis-benchmark -n REQS -c 16 -t
# set,get`, then `perf report --sort dso`), each configuration against the
# untraced preload (off) of the same round.  Requests per CPU-second
# (bench/trace_server.sh) cannot resolve 1 % on this machine; the share of
# the runtime's own code can, and the kernel's extra work (schedstat
# reads) is counted apart with SYSCALLS=1 there.
#
# Configurations (bench/trace_configs.sh): off, trace, ring (the flight
# recorder, nobody reading), norun...; CONFIGS chooses ("off ring" by
# default; off is always run).  LIB2=PATH adds the same configurations
# with another build (say the last commit's, built aside), named CONFIG2.
# RUNS rounds, the order rotating each round.  Printed: each run's share,
# then per configuration the extra over off, median (min..max).  Nothing
# asserts; figures go to docs/PERFORMANCE.md by hand.
#
#   bench/trace_share.sh
#   RUNS=5 CONFIGS="off ring trace" LIB2=/work/old/build/libcprof.so bench/trace_share.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-4}
REQS=${REQS:-100000}
CONFIGS=${CONFIGS:-"off ring"}
case " $CONFIGS " in *" off "*) ;; *) CONFIGS="off $CONFIGS" ;; esac
LIB1=$(realpath "${LIB:-build/libcprof.so}")
LIB2=${LIB2:+$(realpath "$LIB2")}
OUT=$(realpath -m bench/out/trace_share)
mkdir -p "$OUT"
[ -f "$LIB1" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
command -v perf > /dev/null || { echo "bench: perf is needed" >&2; exit 2; }
. bench/trace_configs.sh

ALL=()
for c in $CONFIGS; do ALL+=("$c"); done
if [ -n "$LIB2" ]; then for c in $CONFIGS; do ALL+=("${c}2"); done; fi

# one run: CONFIG (a trailing 2: with LIB2) -> libcprof.so's share, in %
run_one() {
	local cfg=$1 lib=$LIB1
	if [ "${cfg%2}" != "$cfg" ]; then cfg=${cfg%2}; lib=$LIB2; fi
	local port; port=$(free_port)
	# shellcheck disable=SC2046
	env $(LIB=$lib cfg_env "$cfg") redis-server --port "$port" --bind 127.0.0.1 --save "" \
		--appendonly no --dir "$OUT" --logfile "$OUT/redis.log" &
	local pid=$!
	wait_port "$port"
	perf record -q -F 5000 -p "$pid" -o "$OUT/perf.data" > /dev/null 2>&1 &
	local pp=$!
	sleep 0.3
	redis-benchmark -p "$port" -n "$REQS" -c 16 -t set,get -q > /dev/null 2>&1
	kill -INT "$pp"; wait "$pp" 2>/dev/null || true
	kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
	perf report -i "$OUT/perf.data" --no-children --sort dso -g none 2>/dev/null |
		awk '$2 == "libcprof.so" { v = $1 } END { sub("%", "", v); printf "%.2f", v + 0 }'
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg); RUNS=$RUNS REQS=$REQS configurations: ${ALL[*]}"
: > "$OUT/runs.txt"
set -- "${ALL[@]}"
for r in $(seq "$RUNS"); do
	line="round $r:"
	for c in "$@"; do
		v=$(run_one "$c")
		echo "$r $c $v" >> "$OUT/runs.txt"
		line="$line $c $v%"
	done
	echo "$line"
	set -- "${@:2}" "$1"
done
python3 - "$OUT/runs.txt" "${ALL[@]}" <<'PY'
import sys, statistics as st
runs = {}
for line in open(sys.argv[1]):
    r, c, v = line.split()
    runs.setdefault(int(r), {})[c] = float(v)
print("config   libcprof.so share (median)  extra over the same build's off: median (min..max)")
for c in sys.argv[2:]:
    base = "off2" if c.endswith("2") else "off"
    vals = [x[c] for x in runs.values()]
    ex = [x[c] - x[base] for x in runs.values()]
    print(f"{c:8} {st.median(vals):6.2f} %                  {st.median(ex):+.2f} ({min(ex):+.2f}..{max(ex):+.2f})")
PY
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
