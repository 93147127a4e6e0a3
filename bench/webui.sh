#!/bin/bash
# bench/webui.sh - the web UI's flame graph on a large profile (issue 8):
# first paint and one zoom measured in Chromium (bench/webui.mjs), cprof
# -http against go tool pprof -http on the same file, plus each server's
# time to serve (launch -> the flame graph page answers, which includes
# loading the profile) and its peak RSS after the runs.
#
#   bench/webui.sh                       # bench/out/cpu-1m.pb.gz (made by bench/out/gen)
#   RUNS=5 PROFILE=bench/out/cpu-100k.pb.gz bench/webui.sh   # a size pprof can serve
#
# PROFILE=bench/out/cpu-100k.pb.gz is generated too when missing
# (-samples 100000 -locations 20000 -functions 5000 -depth 4:16).
#
# Each figure is the median of RUNS (default 3) page loads, alternating the
# two servers; nothing asserts a timing.  Needs node, Chromium and
# tests/browser/node_modules (setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CPROF=${CPROF:-build/cprof}
OUT=bench/out
PROFILE=${PROFILE:-$OUT/cpu-1m.pb.gz}
[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
command -v node >/dev/null || { echo "bench: node is needed (./setup.sh)" >&2; exit 2; }
[ -d tests/browser/node_modules/playwright-core ] || { echo "bench: cd tests/browser && npm ci" >&2; exit 2; }
PPROF="$(go env GOTOOLDIR 2>/dev/null)/pprof"
[ -x "$PPROF" ] || { echo "bench: go tool pprof is the baseline (./setup.sh)" >&2; exit 2; }
mkdir -p "$OUT"
if [ ! -s "$PROFILE" ]; then
	[ -x "$OUT/gen" ] || cc -O2 -std=c11 -D_GNU_SOURCE -Isrc/core bench/gen.c build/libcprofcore.a -lz -lm -o "$OUT/gen"
	case $PROFILE in
	*cpu-100k*) "$OUT/gen" -type cpu -samples 100000 -locations 20000 -functions 5000 -depth 4:16 "$PROFILE" ;;
	*) "$OUT/gen" -type cpu -samples 1000000 -locations 100000 -functions 20000 -depth 8:40 "$PROFILE" ;;
	esac
fi
TMP=$(mktemp -d)
PPROF_TIMEOUT=${PPROF_TIMEOUT:-180}     # seconds a server gets to answer /ui/flamegraph
RSS_LIMIT_MB=${RSS_LIMIT_MB:-6000}      # a server past this is stopped (shared machines)
cleanup() {
	for f in "$TMP"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start NAME PORT CMD...: launch, then wait until /ui/flamegraph answers
# (pprof builds the page on that request); prints seconds, or "none" when
# the server died, took longer than PPROF_TIMEOUT or grew past RSS_LIMIT_MB
start() {
	local name=$1 port=$2; shift 2
	local t0; t0=$(date +%s.%N)
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	echo $pid >"$TMP/$name.pid"
	# one request, in the background, polled (a repeated request would
	# make pprof build the page again, concurrently)
	until grep -qs "Serving web UI" "$TMP/$name.out" "$TMP/$name.err" || ! kill -0 $pid 2>/dev/null; do sleep 0.1; done
	{ curl -sf -o /dev/null -m "$PPROF_TIMEOUT" "http://127.0.0.1:$port/ui/flamegraph" && touch "$TMP/$name.ok"; } >/dev/null 2>&1 &
	local cpid=$!
	until [ -f "$TMP/$name.ok" ]; do
		local rss; rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status 2>/dev/null || echo 0)
		if ! kill -0 $pid 2>/dev/null || [ "$rss" -gt "$RSS_LIMIT_MB" ] ||
		   [ "$(echo "$(date +%s.%N) - $t0 > $PPROF_TIMEOUT" | bc)" = 1 ]; then
			echo "bench: $name: no flame graph page (rss ${rss} MiB, $(echo "$(date +%s.%N) - $t0" | bc | cut -d. -f1) s)" >&2
			kill $pid $cpid 2>/dev/null || true
			rm -f "$TMP/$name.pid"
			echo none
			return
		fi
		sleep 0.2
	done
	echo "$(date +%s.%N) - $t0" | bc
}
cp=$(free_port); pp=$(free_port)
cs=$(start cprof "$cp" "$CPROF" -http=127.0.0.1:$cp -no_browser "$PROFILE")
ps=$(start pprof "$pp" "$PPROF" -http=127.0.0.1:$pp -no_browser "$PROFILE")
purl="http://127.0.0.1:$pp"
[ "$ps" = none ] && purl=""
node bench/webui.mjs "http://127.0.0.1:$cp" "$purl" "$RUNS" | tee "$TMP/runs.txt"
rss() { [ -f "$TMP/$1.pid" ] && awk '/VmHWM/ {print int($2/1024)}' "/proc/$(cat "$TMP/$1.pid")/status" || echo -; }
cr=$(rss cprof); pr=$(rss pprof)
# med TOOL COLUMN [FIRST_RUN]: the median over runs >= FIRST_RUN
med() {
	local v; v=$(awk -v t="$1" -v c="$2" -v f="${3:-0}" '$1 == t && $2 >= f {print $c}' "$TMP/runs.txt" | sort -g)
	[ -n "$v" ] || { echo none; return; }
	echo "$v" | sed -n "$(( ($(echo "$v" | wc -l) + 1) / 2 ))p"
}
printf "\nprofile: %s (%s bytes)\n" "$PROFILE" "$(stat -c %s "$PROFILE")"
printf '%-22s %10s %10s %8s\n' figure cprof pprof ratio
row() {
	local r=-
	[ -n "$3" ] && [ "$3" != none ] && [ "$3" != - ] && [ "$3" != NaN ] && [ -n "$2" ] && [ "$2" != none ] && r="$(echo "scale=2; $3 / $2" | bc)x"
	printf '%-22s %10s %10s %8s\n' "$1" "$2" "${3:-none}" "$r"
}
fmt() { [ "$1" = none ] && echo none || printf %.2f "$1"; }
row "server ready (s)" "$(fmt "$cs")" "$(fmt "$ps")"
# cprof caches the flame tree of the last filter set: its run 0 is cold
# (the report runs), later runs are warm; pprof builds its page every time
row "first paint, cold (ms)" "$(awk '$1 == "cprof" && $2 == 0 {print $3}' "$TMP/runs.txt")" "$(med pprof 3)"
row "first paint, warm (ms)" "$(med cprof 3 1)" "$(med pprof 3)"
row "zoom (ms)" "$(med cprof 4)" "$(med pprof 4)"
row "server peak RSS (MiB)" "$cr" "$pr"
echo "(ratio: pprof / cprof; none: pprof served no flame graph within ${PPROF_TIMEOUT} s / ${RSS_LIMIT_MB} MiB;"
echo " pprof's zoom then animates for 750 ms, not counted)"
