#!/bin/bash
# bench/server_ui.sh - the page of `cprof server` (web/server/srv.js) on a
# synthetic fleet (bench/server_ingest.c's: TARGETS targets in TARGETS/50
# services, 6 kinds every 15 s, MINUTES of fleet time from
# 2026-12-01T00:00Z, then the first hour's rollups copied over the 7 days
# before, as bench/server_ingest.sh does), measured in Chromium by
# bench/server_ui.mjs:
#   first paint   navigation -> the chart and the flame graph of the view
#                 drawn (1 h, 24 h and 7 d ranges, absolute URLs: the
#                 fleet's time is not now);
#   window change a drag on the 24 h chart selecting about 1 h, and
#                 "Whole range" on a 7 d view with a 1 h window: the click
#                 -> the flame graph of the new window drawn.
# Each figure is the median (min-max) of ROUNDS rounds; nothing asserts.
#
#   bench/server_ui.sh                           200 targets (ingest ~6 min)
#   TARGETS=1000 MINUTES=66 bench/server_ui.sh   the issue's fleet (~30 min of ingest)
#   KEEP=1 bench/server_ui.sh                    reuse the data of the last run
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${TARGETS:-200}
MINUTES=${MINUTES:-66}
ROUNDS=${ROUNDS:-5}
B=${B:-build}
OUT=bench/out/server_ui
DATA=${DATA:-$OUT/data-$TARGETS-$MINUTES}
mkdir -p "$OUT"
[ -x "$B/cprof" ] && [ -f "$B/libcprofserver.a" ] || { echo "bench: build first (make)" >&2; exit 2; }
command -v node >/dev/null || { echo "bench: node is needed (./setup.sh)" >&2; exit 2; }
[ -d tests/browser/node_modules/playwright-core ] || { echo "bench: cd tests/browser && npm ci" >&2; exit 2; }
if [ "${KEEP:-0}" != 1 ] || [ ! -d "$DATA" ]; then
	make -s B="$B" "$B/bench/server_ingest"   # the fleet driver (Makefile)
	rm -rf "$DATA"
	echo "== ingest ($TARGETS targets, $MINUTES min of fleet time)"
	"$B/bench/server_ingest" ingest "$DATA" "$TARGETS" "$MINUTES"
	"$B/bench/server_ingest" replicate "$DATA"
fi
du -sh "$DATA"
LOG=$OUT/server.log
# -retention=0: the fleet's days are in the past; the server must not drop them
"$B/cprof" server -http=127.0.0.1:0 -data="$DATA" -retention=0 2>"$LOG" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q 'listening on' "$LOG" && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\)\/ .*/\1/p' "$LOG" | head -1)
[ -n "$url" ] || { cat "$LOG" >&2; exit 1; }
echo "== $url, $ROUNDS rounds (TARGETS=$TARGETS MINUTES=$MINUTES, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
node bench/server_ui.mjs "$url" "$ROUNDS" "$pid"
