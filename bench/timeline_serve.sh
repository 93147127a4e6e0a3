#!/bin/bash
# bench/timeline_serve.sh - `cprof -http` on a large execution trace:
# launch to serving (the `Serving` line), wall seconds, the process's
# CPU seconds (utime + stime from /proc/PID/stat at that moment) and its
# main thread's (the serial part: the index's other thread has exited;
# on two free CPUs the wall time is about the larger of the two), for
# this build and a baseline build in interleaved pairs, then the medians
# (min..max) and the median per-pair ratio.
#
#   CPROF_BASE=/path/to/old/cprof PAIRS=5 bench/timeline_serve.sh [TRACE]
#
# TRACE defaults to bench/out/timeline/trace-10000000.json (made by
# bench/timeline.sh, or bench/out/timeline/gen 10000000 16 FILE).  The
# output is polled every 20 ms, so wall times are within ~20 ms; CPU
# times are in clock ticks (10 ms).  Nothing asserts a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-5}
CPROF=${CPROF:-build/cprof}
BASE=${CPROF_BASE:?set CPROF_BASE to the baseline cprof}
TRACE=${1:-bench/out/timeline/trace-10000000.json}
[ -s "$TRACE" ] || { echo "bench: no trace $TRACE (bench/timeline.sh makes it)" >&2; exit 2; }
OUT=bench/out/timeline
mkdir -p "$OUT"
TCK=$(getconf CLK_TCK)
cat "$TRACE" > /dev/null   # in the page cache for both

# one run: "wall_s cpu_s main_thread_cpu_s"
run() {
	local bin=$1 log=$OUT/serve-pair.log
	rm -f "$log"
	local t0 t1 pid
	t0=$(date +%s.%N)
	"$bin" -no_browser -http=127.0.0.1:0 "$TRACE" > "$log" 2>&1 &
	pid=$!
	until grep -qs '^Serving' "$log"; do
		kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.02
	done
	t1=$(date +%s.%N)
	local cpu self
	cpu=$(awk -v t="$TCK" '{print ($14 + $15) / t}' "/proc/$pid/stat")
	self=$(awk -v t="$TCK" '{print ($14 + $15) / t}' "/proc/$pid/task/$pid/stat")
	kill $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	echo "$(echo "$t1 - $t0" | bc) $cpu $self"
}

med() { sort -n | awk '{v[NR]=$1} END {if (NR) printf "%.2f (%.2f..%.2f)", v[int((NR+1)/2)], v[1], v[NR]}'; }

echo "trace: $TRACE, $(stat -c %s "$TRACE") bytes; load average $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$OUT/serve-pairs.txt"
for i in $(seq "$PAIRS"); do
	b=$(run "$BASE")
	n=$(run "$CPROF")
	echo "$b $n" >> "$OUT/serve-pairs.txt"
	echo "pair $i: base wall, CPU, main thread's CPU s: $b; this: $n"
done
echo "load average after $(cut -d' ' -f1-3 /proc/loadavg)"
col() { awk -v k="$1" '{print $k}' "$OUT/serve-pairs.txt" | med; }
ratio() { awk -v k="$1" '{print $(k + 3) / $k}' "$OUT/serve-pairs.txt" | med; }
echo "wall s: base $(col 1), this $(col 4), ratio $(ratio 1)"
echo "CPU s:  base $(col 2), this $(col 5), ratio $(ratio 2)"
echo "main thread's CPU s: base $(col 3), this $(col 6), ratio $(ratio 3)"
