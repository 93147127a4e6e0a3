#!/bin/bash
# bench/server_clickhouse.sh - the server store on ClickHouse
# (src/server/store_ch*.c) under bench/server_ingest.c's synthetic fleet,
# against the SQLite store under the same fleet in the same session:
# ingest rate and CPU (the cprof process, and the ClickHouse server's own
# CPU from /proc), bytes per stored sample row (the samples table after
# OPTIMIZE FINAL, ZSTD server-wide), and merged range-query latency.
#
# A throw-away ClickHouse is started on loopback (tools/clickhouse-local.sh)
# and stopped at the end: one node, or with CLUSTER=1 the 2-shard,
# 2-replica cluster with ZooKeeper (the CPU figure is then the sum of the
# four nodes' and ZooKeeper's; bytes per row are per replica).  SQLITE=0
# skips the SQLite run (for a second ClickHouse layout in one session).
# Only MINUTES of fleet time are ingested (7 days of a 1,000-target fleet
# would take days here), so the 24 h and 7 d queries read the same data as
# the 1 h ones plus empty days: they show the fixed cost of a long range,
# not the cost of 7 days of data.
#
#   bench/server_clickhouse.sh                      100 targets, 5 minutes
#   TARGETS=200 MINUTES=10 ROUNDS=5 bench/server_clickhouse.sh
#   CLUSTER=1 SQLITE=0 TARGETS=1000 MINUTES=2 bench/server_clickhouse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${TARGETS:-100}
MINUTES=${MINUTES:-5}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18900}
CLUSTER=${CLUSTER:-0}
SQLITE=${SQLITE:-1}
B=${B:-build}
OUT=bench/out/server_clickhouse
mkdir -p "$OUT"
[ -f "$B/libcprofserver.a" ] || { echo "bench: build first (make)" >&2; exit 2; }
make -s B="$B" "$B/bench/server_ingest"   # the fleet driver (Makefile)
rm -rf "$OUT/ch" "$OUT/sqlite"
if [ "$CLUSTER" = 1 ]; then
	tools/clickhouse-local.sh start "$OUT/ch" -port "$PORT" -cluster >/dev/null
	URL=$(sed 's#/cprof?#/bench?#' "$OUT/ch/url")
	NODES=$(cat "$OUT/ch/ports")
	T=samples_local
else
	tools/clickhouse-local.sh start "$OUT/ch" -port "$PORT" >/dev/null
	URL="clickhouse://127.0.0.1:$PORT/bench"
	NODES=$PORT
	T=samples
fi
trap 'tools/clickhouse-local.sh stop "$OUT/ch"' EXIT
q() { curl -s "http://127.0.0.1:${2:-${NODES%%$'\n'*}}/?database=bench" --data-binary "$1"; }
chcpu() {       # the ClickHouse servers' (and ZooKeeper's) CPU seconds so far
	for f in "$OUT"/ch/node*/pid "$OUT"/ch/zk/pid; do
		if [ -f "$f" ]; then cat "/proc/$(cat "$f")/stat"; fi; done |
		awk -v hz="$(getconf CLK_TCK)" '{ s += $14 + $15 } END { printf "%.2f", s / hz }'
}
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) (shared, loaded: figures are noisy)"
if [ "$SQLITE" = 1 ]; then
	echo "== SQLite store ($TARGETS targets, $MINUTES min of fleet time)"
	"$B/bench/server_ingest" ingest "$OUT/sqlite" "$TARGETS" "$MINUTES"
	"$B/bench/server_ingest" query "$OUT/sqlite" "$ROUNDS"
fi
echo "== ClickHouse store, $([ "$CLUSTER" = 1 ] && echo "2 shards x 2 replicas" || echo "one node") ($URL)"
c0=$(chcpu)
w0=$(date +%s.%N)
"$B/bench/server_ingest" ingest "$URL" "$TARGETS" "$MINUTES" | tee "$OUT/ingest.txt"
if [ "$CLUSTER" = 1 ]; then
	# Distributed inserts are sent on to the shards in the background and
	# replicas fetch parts after: wait until every copy holds every row
	want=$(sed -n 's/.*samples stored \([0-9]*\).*/\1/p' "$OUT/ingest.txt")
	for _ in $(seq 600); do
		have=$(for n in $NODES; do q "SELECT count() FROM $T" "$n"; done |
		       awk '{ s += $1 } END { print s }')
		[ "$have" -ge $((2 * want)) ] && break
		sleep 1
	done
	echo "  every replica holds every row $(echo "$(date +%s.%N) - $w0" | bc | cut -c1-6) s after the ingest began ($have of $((2 * want)) rows)"
fi
c1=$(chcpu)
echo "  ClickHouse server CPU during ingest: $(echo "$c1 - $c0" | bc) s"
for n in $NODES; do
	q "OPTIMIZE TABLE $T FINAL" "$n" >/dev/null
	q "OPTIMIZE TABLE ${T/samples/samples_hour} FINAL" "$n" >/dev/null
done
# sums over every node (each replica holds a copy: the ratio is per copy)
parts() {       # SELECT over system.parts of every node, summed: "rows bytes ubytes"
	for n in $NODES; do
		q "SELECT sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes) FROM system.parts WHERE database = 'bench' AND active AND $1" "$n"
	done | awk '{ r += $1; c += $2; u += $3 } END { print r, c, u }'
}
read -r rows cb ub <<< "$(parts "table = '$T'")"
read -r _ allb _ <<< "$(parts "1")"
echo "  bytes per stored sample row (samples table, compressed, after OPTIMIZE FINAL):"
awk -v r="$rows" -v c="$cb" -v u="$ub" -v a="$allb" 'BEGIN {
	printf "    %d rows, %.2f bytes/row compressed, %.2f uncompressed\n", r, c / r, u / r
	printf "  all tables (rollups, profiles, dictionaries) per sample row:\n    %.2f bytes\n", a / r }'
[ "$CLUSTER" = 1 ] || echo "  per column (bytes/row compressed):"
[ "$CLUSTER" = 1 ] || q "SELECT concat('    ', name, ' ', toString(round(data_compressed_bytes / (SELECT sum(rows) FROM system.parts WHERE database = 'bench' AND table = '$T' AND active), 2))) FROM system.columns WHERE database = 'bench' AND table = '$T'"
c0=$(chcpu)
STORE_PIDS=$(cat "$OUT"/ch/node*/pid | tr '\n' ' ') "$B/bench/server_ingest" query "$URL" "$ROUNDS"
c1=$(chcpu)
echo "  ClickHouse server CPU during the queries: $(echo "$c1 - $c0" | bc) s"
