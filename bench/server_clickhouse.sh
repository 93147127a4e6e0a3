#!/bin/bash
# bench/server_clickhouse.sh - the server store on ClickHouse
# (src/server/store_ch*.c) under bench/server_ingest.c's synthetic fleet,
# against the SQLite store under the same fleet in the same session:
# ingest rate and CPU (the cprof process, and the ClickHouse server's own
# CPU from /proc), bytes per stored sample row (the samples table after
# OPTIMIZE FINAL, ZSTD server-wide), and merged range-query latency.
#
# A throw-away ClickHouse is started on loopback (tools/clickhouse-local.sh)
# and stopped at the end.  Only MINUTES of fleet time are ingested (7 days
# of a 1,000-target fleet would take days here), so the 24 h and 7 d
# queries read the same data as the 1 h ones plus empty days: they show the
# fixed cost of a long range, not the cost of 7 days of data.
#
#   bench/server_clickhouse.sh                      100 targets, 5 minutes
#   TARGETS=200 MINUTES=10 ROUNDS=5 bench/server_clickhouse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${TARGETS:-100}
MINUTES=${MINUTES:-5}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18900}
B=${B:-build}
OUT=bench/out/server_clickhouse
mkdir -p "$OUT"
[ -f "$B/libcprofserver.a" ] || { echo "bench: build first (make)" >&2; exit 2; }
make -s B="$B" "$B/bench/server_ingest"   # the fleet driver (Makefile)
rm -rf "$OUT/ch" "$OUT/sqlite"
tools/clickhouse-local.sh start "$OUT/ch" -port "$PORT" >/dev/null
trap 'tools/clickhouse-local.sh stop "$OUT/ch"' EXIT
URL="clickhouse://127.0.0.1:$PORT/bench"
q() { curl -s "http://127.0.0.1:$PORT/?database=bench" --data-binary "$1"; }
chcpu() {       # the ClickHouse server's CPU seconds so far (utime + stime)
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
		"/proc/$(cat "$OUT/ch/node1/pid")/stat"
}
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared, loaded: figures are noisy)"
echo "== SQLite store ($TARGETS targets, $MINUTES min of fleet time)"
"$B/bench/server_ingest" ingest "$OUT/sqlite" "$TARGETS" "$MINUTES"
"$B/bench/server_ingest" query "$OUT/sqlite" "$ROUNDS"
echo "== ClickHouse store, one node ($URL)"
c0=$(chcpu)
"$B/bench/server_ingest" ingest "$URL" "$TARGETS" "$MINUTES"
c1=$(chcpu)
echo "  ClickHouse server CPU during ingest: $(echo "$c1 - $c0" | bc) s"
q "OPTIMIZE TABLE samples FINAL" >/dev/null
q "OPTIMIZE TABLE samples_hour FINAL" >/dev/null
echo "  bytes per stored sample row (samples table, compressed, after OPTIMIZE FINAL):"
q "SELECT concat('    ', toString(sum(rows)), ' rows, ', toString(round(sum(data_compressed_bytes) / sum(rows), 2)), ' bytes/row compressed, ', toString(round(sum(data_uncompressed_bytes) / sum(rows), 2)), ' uncompressed') FROM system.parts WHERE database = 'bench' AND table = 'samples' AND active"
echo "  per column (bytes/row compressed):"
q "SELECT concat('    ', name, ' ', toString(round(data_compressed_bytes / (SELECT sum(rows) FROM system.parts WHERE database = 'bench' AND table = 'samples' AND active), 2))) FROM system.columns WHERE database = 'bench' AND table = 'samples'"
echo "  all tables (rollup, profiles, dictionaries) per sample row:"
q "SELECT concat('    ', toString(round(sum(data_compressed_bytes) / (SELECT sum(rows) FROM system.parts WHERE database = 'bench' AND table = 'samples' AND active), 2)), ' bytes') FROM system.parts WHERE database = 'bench' AND active"
c0=$(chcpu)
"$B/bench/server_ingest" query "$URL" "$ROUNDS"
c1=$(chcpu)
echo "  ClickHouse server CPU during the queries: $(echo "$c1 - $c0" | bc) s"
