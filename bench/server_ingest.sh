#!/bin/bash
# bench/server_ingest.sh - the server store (src/server/store*.c) under a
# synthetic fleet (bench/server_ingest.c has the fleet's shape): ingest
# rate, CPU, peak RSS and bytes per stored sample for MINUTES of fleet
# time, then range-query latency over 1 h, 24 h and 7 d.
#
# The 24 h and 7 d ranges are answered from rollups; ingesting 7 days of a
# 1,000-target fleet would take days here, so after the ingest day 0's
# first hour of rollups is copied over the 7 days before, where the
# queries' plans read rollups: day rows for every day, hour and 10-minute
# rows at the two edge days.  A query's cost is the number and size of the
# rows it reads, which the copies reproduce; what they do not reproduce is
# a day row holding more distinct stacks than one hour's (the union of 24
# hours), so the 7-day figure is a lower bound for fleets whose stacks
# churn.  The data directory needs about 1.2 GB per 1,000 target-hours
# plus 4 GB for the copies.
#
#   bench/server_ingest.sh                   1,000 targets, 65 minutes
#   TARGETS=200 MINUTES=20 ROUNDS=3 bench/server_ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${TARGETS:-1000}
MINUTES=${MINUTES:-65}
ROUNDS=${ROUNDS:-5}
B=${B:-build}
OUT=bench/out/server_ingest
DATA=${DATA:-$OUT/data}
mkdir -p "$OUT"
[ -f "$B/libcprofserver.a" ] || { echo "bench: build first (make)" >&2; exit 2; }
make -s B="$B" "$B/bench/server_ingest"   # the fleet driver (Makefile)
rm -rf "$DATA"
echo "== ingest ($TARGETS targets, $MINUTES min of fleet time)"
"$B/bench/server_ingest" ingest "$DATA" "$TARGETS" "$MINUTES"
"$B/bench/server_ingest" replicate "$DATA"
echo "== queries ($ROUNDS rounds each)"
"$B/bench/server_ingest" query "$DATA" "$ROUNDS"
echo "== retention of the replicated days, with the dictionary collection"
"$B/bench/server_ingest" gc "$DATA"
