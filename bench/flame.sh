#!/bin/bash
# bench/flame.sh - cprof's stack outputs against go tool pprof's nearest
# equivalents, on the large generated profiles of bench/run.sh, in one run.
#
#   cprof -folded       vs  go tool pprof -traces (every stack, as text)
#   cprof -flamegraph   vs  go tool pprof -http=127.0.0.1:PORT -no_browser FILE,
#                           timed from launch until `curl /ui/flamegraph` has
#                           the whole page (pprof loads the profile first);
#                           after HTTP_TIMEOUT seconds (300) it is stopped and
#                           the row says "> 300"
#   cprof -flamesvg     (no pprof equivalent; its time is printed alone)
#
# Each figure is the median of RUNS (default 3) runs: wall seconds and peak
# RSS (MiB; for the pprof server, its VmHWM when the page has arrived), and
# the output's size.  Nothing here asserts a timing; the figures go to
# docs/PERFORMANCE.md by hand, with the date, the machine and its load.
#
#   bench/flame.sh               # both profiles
#   RUNS=5 PROFILES=alloc-600k bench/flame.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
PROFILES=${PROFILES:-"cpu-200k-deep alloc-600k"}
CPROF=${CPROF:-build/cprof}
HTTP_TIMEOUT=${HTTP_TIMEOUT:-300}   # seconds pprof -http gets to serve its flame graph
OUT=bench/out
[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
command -v go >/dev/null || { echo "bench: go tool pprof is the baseline (./setup.sh)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench: curl is needed" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (./setup.sh)" >&2; exit 2; }
PPROF="$(go env GOTOOLDIR)/pprof"
[ -x "$PPROF" ] || { echo "bench: $PPROF not found" >&2; exit 2; }
for name in $PROFILES; do
	[ -s "$OUT/$name.pb.gz" ] || { echo "bench: $OUT/$name.pb.gz missing: run bench/run.sh first" >&2; exit 2; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

median() { sort -g | sed -n "$(( (RUNS + 1) / 2 ))p"; }

# measure OUTFILE CMD...: "wall_s rss_kb bytes" (medians; output to OUTFILE)
measure() {
	local out=$1 i w m walls=() rss=()
	shift
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >"$out" 2>"$TMP/err" || {
			echo "bench: failed: $*" >&2; cat "$TMP/err" >&2; exit 1; }
		read -r w m <"$TMP/time"
		walls+=("$w"); rss+=("$m")
	done
	echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${rss[@]}" | median) $(stat -c %s "$out")"
}

# pprof_http FILE: "wall_s rss_kb bytes" for the pprof web UI's flame graph
pprof_http() {
	local f=$1 i walls=() rss=() port pid t0 t1 hwm
	for ((i = 0; i < RUNS; i++)); do
		port=$(( 20000 + RANDOM % 20000 ))
		t0=$(date +%s.%N)
		"$PPROF" -http=127.0.0.1:$port -no_browser -symbolize=none "$f" >"$TMP/srv.log" 2>&1 &
		pid=$!
		rm -f "$TMP/pprof.html"
		until curl -sf -m "$HTTP_TIMEOUT" -o "$TMP/pprof.html" "http://127.0.0.1:$port/ui/flamegraph"; do
			kill -0 "$pid" 2>/dev/null || { echo "bench: pprof -http died" >&2; cat "$TMP/srv.log" >&2; exit 1; }
			if awk -v a="$t0" -v b="$(date +%s.%N)" -v t="$HTTP_TIMEOUT" 'BEGIN { exit !(b - a > t) }'; then
				# no page within the limit: report the limit and stop
				hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
				kill "$pid"
				wait "$pid" 2>/dev/null || true
				echo "$HTTP_TIMEOUT $hwm 0 timeout"
				return
			fi
			sleep 0.05
		done
		t1=$(date +%s.%N)
		hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
		rss+=("$hwm")
	done
	echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${rss[@]}" | median) $(stat -c %s "$TMP/pprof.html")"
}

row() {   # name what cprof_triple pprof_triple
	awk -v n="$1" -v r="$2" -v c="$3" -v p="$4" 'BEGIN {
		split(c, a, " "); split(p, b, " ");
		if (p == "") {
			printf "%-14s %-12s %9.2f %9s %9.1f %9s %10.1f %10s %8s\n", n, r, a[1], "-", a[2] / 1024, "-", a[3] / 1048576, "-", "-"
		} else {
			if (b[4] == "timeout")   # pprof gave no page within the limit
				printf "%-14s %-12s %9.2f %8s%s %9.1f %9.1f %10.1f %10s %7s%sx\n", n, r, a[1], ">", b[1], a[2] / 1024,
				       b[2] / 1024, a[3] / 1048576, "-", ">", (a[1] > 0 ? int(b[1] / a[1]) : 0)
			else
			printf "%-14s %-12s %9.2f %9.2f %9.1f %9.1f %10.1f %10.1f %7.1fx\n", n, r, a[1], b[1], a[2] / 1024, b[2] / 1024,
			       a[3] / 1048576, b[3] / 1048576, (a[1] > 0 ? b[1] / a[1] : 0) }
	}'
}

printf '%-14s %-12s %9s %9s %9s %9s %10s %10s %8s\n' profile output cprof_s pprof_s cprof_MB pprof_MB cprof_outMB pprof_outMB speedup
for name in $PROFILES; do
	f="$OUT/$name.pb.gz"
	c=$(measure "$TMP/c.folded" "$CPROF" -folded "$f") || exit 1
	p=$(measure "$TMP/p.traces" "$PPROF" -traces -symbolize=none "$f") || exit 1
	row "$name" "-folded" "$c" "$p"
	c=$(measure "$TMP/c.html" "$CPROF" -flamegraph "$f") || exit 1
	p=$(pprof_http "$f") || exit 1
	row "$name" "-flamegraph" "$c" "$p"
	c=$(measure "$TMP/c.svg" "$CPROF" -flamesvg "$f") || exit 1
	row "$name" "-flamesvg" "$c" ""
done
echo "# pprof column: -traces for -folded; -http + curl /ui/flamegraph for -flamegraph"
echo "# runs per figure: $RUNS (median); machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
