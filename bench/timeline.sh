#!/bin/bash
# bench/timeline.sh - the web UI's timeline on a large execution trace:
# a generated trace of EVENTS events (bench/timeline_gen.c: 16 threads
# of running / blocked with a stack / runnable slices and wake-up flows,
# the runtime's format), then
#   1. the cost of loading it, by step, in CPU seconds
#      (bench/timeline_load.c: read, index, each delay profile) and the
#      CPU µs of one window query of every lane at 1200 px, whole trace
#      and zoomed 1000x;
#   2. `cprof -http` on it: wall time from launch to serving, peak RSS;
#   3. in Chromium (tests/browser/timeline.mjs bench=1): the first screen
#      (navigation to the first window drawn) and each zoom/pan request's
#      time from sent to drawn, with its item count;
#   4. launch to first screen, what a person waits for
#      (tests/browser/timeline_launch.mjs): with Chromium already open,
#      `cprof -no_browser -http=127.0.0.1:0 TRACE` launched, the page
#      opened at its Serving line, until the first window is drawn; each
#      run's cprof killed and waited for before the next.
#
#   bench/timeline.sh                  # EVENTS=10000000 RUNS=3
#   EVENTS=1000000 RUNS=5 bench/timeline.sh
#   SKIP_LOAD=1 bench/timeline.sh      # parts 2, 3 and 4 only
#   ONLY_LAUNCH=1 RUNS=9 bench/timeline.sh   # part 4 only
#   CPROF_BASE=/path/to/old/cprof ...  # part 4 also for a baseline, in
#                                      # interleaved pairs
#
# Figures are medians of RUNS (min..max); nothing asserts a timing.  Needs
# node, Chromium and tests/browser/node_modules (setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-10000000}
CPROF=${CPROF:-build/cprof}
OUT=bench/out/timeline
[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
command -v node >/dev/null || { echo "bench: node is needed (./setup.sh)" >&2; exit 2; }
mkdir -p "$OUT"
cc -O2 -std=c11 -Wall -o "$OUT/gen" bench/timeline_gen.c
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Isrc/core -Isrc/report -o "$OUT/load" bench/timeline_load.c \
	build/libcprofreport.a build/libcprofcore.a -lz -lm -lpthread
TRACE=$OUT/trace-$EVENTS.json
[ -s "$TRACE" ] || "$OUT/gen" "$EVENTS" 16 "$TRACE"
echo "trace: $TRACE, $(stat -L -c %s "$TRACE") bytes, $EVENTS events; load average $(cut -d' ' -f1-3 /proc/loadavg)"

med() { sort -n | awk '{v[NR]=$1} END {if (NR) printf "%s (%s..%s)", v[int((NR+1)/2)], v[1], v[NR]}'; }

if [ -z "${SKIP_LOAD:-}" ] && [ -z "${ONLY_LAUNCH:-}" ]; then
echo "== 1. loading, CPU seconds by step (median of $RUNS) =="
for i in $(seq "$RUNS"); do "$OUT/load" "$TRACE"; done > "$OUT/load.txt"
for k in read_s index_s pprof_0_s pprof_1_s pprof_2_s query_all_us query_zoom_us; do
	printf '%-14s %s\n' "$k" "$(awk -v k=$k '$1==k {print $2}' "$OUT/load.txt" | med)"
done
grep -m1 '^lanes' "$OUT/load.txt"
grep -m1 '^query_all' "$OUT/load.txt" | sed 's/.*items/items per whole-trace query:/'
fi

if [ -z "${ONLY_LAUNCH:-}" ]; then
echo "== 2. cprof -http: launch to serving (wall s), peak RSS (KB) =="
echo "== 3. Chromium: first screen (ms), request sent -> drawn (ms) =="
: > "$OUT/serve.txt"
: > "$OUT/browser.txt"
for i in $(seq "$RUNS"); do
	log=$OUT/serve.log
	rm -f "$log"   # else the last run's line is read before the shell truncates it
	t0=$(date +%s.%N)
	/usr/bin/time -f "rss_kb %M" -o "$OUT/rss.txt" "$CPROF" -no_browser -http=127.0.0.1:0 "$TRACE" > "$log" 2>&1 &
	tpid=$!
	until grep -qs '^Serving' "$log"; do
		kill -0 $tpid 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.05
	done
	t1=$(date +%s.%N)
	echo "serve_s $(echo "$t1 - $t0" | bc)" >> "$OUT/serve.txt"
	url=$(sed -n 's/^Serving web UI on \(http:[^ ]*\).*/\1/p' "$log")/ui/
	(cd tests/browser && node timeline.mjs "$url" "$PWD/../../build/artifacts" bench=1) >> "$OUT/browser.txt"
	kill "$(pgrep -P $tpid)" 2>/dev/null || true
	wait $tpid || true
	cat "$OUT/rss.txt" >> "$OUT/serve.txt"
done
printf 'serve_s        %s\n' "$(awk '$1=="serve_s" {print $2}' "$OUT/serve.txt" | med)"
printf 'rss_kb         %s\n' "$(awk '$1=="rss_kb" {print $2}' "$OUT/serve.txt" | med)"
printf 'first_screen_ms %s\n' "$(awk '$1=="first_screen_ms" {print $2}' "$OUT/browser.txt" | med)"
printf 'request_ms     %s over %s requests\n' \
	"$(awk '$1=="pan_ms" {for (i=2;i<=NF;i++) print $i}' "$OUT/browser.txt" | med)" \
	"$(awk '$1=="pan_ms" {n+=NF-1} END {print n}' "$OUT/browser.txt")"
printf 'request_max_ms %s\n' "$(awk '$1=="pan_ms" {for (i=2;i<=NF;i++) print $i}' "$OUT/browser.txt" | sort -n | tail -1)"
printf 'items/request  %s\n' "$(awk '$1=="pan_items" {for (i=2;i<=NF;i++) print $i}' "$OUT/browser.txt" | med)"
fi

echo "== 4. launch to first screen (ms; median (min..max) of $RUNS) =="
bins=$(realpath "$CPROF")
[ -n "${CPROF_BASE:-}" ] && bins=$bins,$(realpath "$CPROF_BASE")
atrace=$(realpath "$TRACE")
(cd tests/browser && node timeline_launch.mjs "$bins" "$atrace" "$RUNS") > "$OUT/launch.txt"
# field $2 of the $3 lines of binary $1 (0: CPROF, 1: CPROF_BASE: the
# tag after the values, absent with one binary)
launch() {
	awk -v b="$1" -v f="$2" -v k="$3" 'BEGIN {t = k == "launch_ms" ? 5 : 8}
		$1==k && ($t=="" || $t==b) {print $f}' "$OUT/launch.txt"
}
report() {
	local b=$1 who=$2
	printf '%s launch_to_serving_ms %s\n' "$who" "$(launch "$b" 2 launch_ms | med)"
	printf '%s page_to_screen_ms    %s\n' "$who" "$(launch "$b" 3 launch_ms | med)"
	printf '%s launch_to_screen_ms  %s, under 2000 ms in %s of %s\n' "$who" \
		"$(launch "$b" 4 launch_ms | med)" \
		"$(launch "$b" 4 launch_ms | awk '$1 < 2000 {n++} END {print n+0}')" \
		"$(launch "$b" 4 launch_ms | wc -l)"
	printf '%s first window sent, answered (ms from navigation) %s, %s\n' "$who" \
		"$(launch "$b" 6 launch_parts_ms | med)" "$(launch "$b" 7 launch_parts_ms | med)"
}
report 0 this
[ -n "${CPROF_BASE:-}" ] && report 1 base
echo "load average after $(cut -d' ' -f1-3 /proc/loadavg)"
