#!/bin/bash
# bench/server_requests.sh - the server's CPU per request of its page
# (web/server/srv.js) on the synthetic fleet of bench/server_ui.sh, the
# page's heaviest requests replayed with curl ROUNDS times each: the
# flame graph (format=flame, as the page asks) and the chart's series of
# the 1-hour, 24-hour and 7-day views, and of the window a drag on the
# 24-hour chart selects.  Prints the server process's utime+stime (10 ms
# ticks) and the wall time of each round: the first round of a flame
# graph merges its windows, the later ones find them in the server's
# cache of merged windows (src/server/store_wcache.c).
#
#   bench/server_requests.sh DATA [ROUNDS] [CPROF]
#     DATA: a fleet's data directory made by bench/server_ui.sh
#     (bench/out/server_ui/data-TARGETS-66); CPROF: the cprof to serve
#     it (default build/cprof), e.g. an older build to compare with
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench/server_requests.sh DATA [ROUNDS] [CPROF]}
N=${2:-3}
BIN=${3:-build/cprof}
[ -d "$DATA" ] || { echo "bench: no $DATA (bench/server_ui.sh makes it)" >&2; exit 2; }
LOG=$(mktemp)
"$BIN" server -http=127.0.0.1:0 -data="$DATA" -retention=0 2>"$LOG" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$LOG" "$LOG.out"' EXIT
for _ in $(seq 300); do grep -q 'listening on' "$LOG" && break; sleep 0.1; done
URL=$(sed -n 's/.*listening on \(http:[^ ]*\)\/ .*/\1/p' "$LOG" | head -1)
[ -n "$URL" ] || { cat "$LOG" >&2; exit 1; }
echo "== $BIN on $DATA, $N rounds ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
T0=1796083200 D=86400
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{printf "%d\n", ($14+$15)*1000/t}' /proc/$pid/stat; }   # ms, whole
req() {
	local cs=() ws=()
	for _ in $(seq "$N"); do
		local c0 w c1
		c0=$(cpu)
		w=$(curl -s -o "$LOG.out" -w '%{time_total}' "$URL$2")
		c1=$(cpu)
		cs+=("$((c1 - c0))")
		ws+=("$(awk -v w="$w" 'BEGIN { printf "%d", w * 1000 }')")
	done
	printf "%-36s server CPU ms: %-16s wall ms: %s\n" "$1" "${cs[*]}" "${ws[*]}"
}
F="type=cpu&w=786&format=flame"
S="type=cpu&sample_type=cpu&limit=10"
req "flame graph 1 h" "/api/v1/profile?$F&from=$((T0 + 300))&until=$((T0 + 3900))"
req "chart series 1 h (16 s steps)" "/api/v1/series?$S&from=$((T0 + 300))&until=$((T0 + 3900))&step=16s"
req "flame graph, dragged ~1 h window" "/api/v1/profile?$F&from=$T0&until=$((T0 + 4200))"
req "flame graph 24 h" "/api/v1/profile?$F&from=$((T0 + 3900 - D))&until=$((T0 + 3900))"
req "chart series 24 h (379 s steps)" "/api/v1/series?$S&from=$((T0 + 3900 - D))&until=$((T0 + 3900))&step=379s"
req "flame graph 7 d" "/api/v1/profile?$F&from=$((T0 + 3900 - 7 * D))&until=$((T0 + 3900))"
req "chart series 7 d (2653 s steps)" "/api/v1/series?$S&from=$((T0 + 3900 - 7 * D))&until=$((T0 + 3900))&step=2653s"
