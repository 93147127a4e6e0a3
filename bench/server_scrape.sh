#!/bin/bash
# bench/server_scrape.sh - what being scraped by `cprof server` costs a
# target: its throughput with the server scraping it against the same
# program with its endpoint on and nobody asking.
#
# The target is tests/runtime/http/worker.c (one thread burning CPU,
# allocating and locking; it prints the work units it did in DUR seconds)
# under LD_PRELOAD=libcprof.so with CPROF_HTTP=127.0.0.1:0.  Configurations,
# RUNS times each in rotating order (drift in the machine's load spreads
# over all of them):
#   idle        the endpoint on, no scraper (the baseline)
#   scrape15    a cprof server scraping it every 15 s (the default: CPU
#               profile 14 s, heap, allocs, mutex, block, goroutine,
#               threadcreate, /metrics)
#   scrape2     the same every 2 s (7.5x the default rate)
# Printed: the median units of each and the ratio to idle (1.00 = no
# change; below 1 the program lost throughput), the units per CPU-second
# of the working thread, and the CPU seconds per second the rest of the
# process used (the runtime's threads: sampling, rendering profiles).
# The server runs on the same 2 cores, so `units` includes its own CPU
# competing with the program; `units/work-cpu` does not.  Nothing asserts.
#
#   bench/server_scrape.sh
#   RUNS=5 DUR=10 bench/server_scrape.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DUR=${DUR:-8}
LIB=$(realpath "${LIB:-build/libcprof.so}")
CPROF=$(realpath "${CPROF:-build/cprof}")
OUT=bench/out/server_scrape
mkdir -p "$OUT"
[ -f "$LIB" ] && [ -x "$CPROF" ] || { echo "bench: build first (make)" >&2; exit 2; }
cc -O1 -g -pthread tests/runtime/http/worker.c -o "$OUT/worker"
PROG=$(realpath "$OUT/worker")

# run CONFIG: prints "units work_cpu_ns process_cpu_ns"
run() {
	local cfg=$1 spid=""
	rm -f "$OUT/err" "$OUT/srv.err"
	env LD_PRELOAD="$LIB" CPROF_HTTP=127.0.0.1:0 "$PROG" "$DUR" 1 >"$OUT/out" 2>"$OUT/err" &
	local pid=$!
	if [ "$cfg" != idle ]; then
		local addr=""
		for _ in $(seq 100); do
			addr=$(grep -o 'serving on 127.0.0.1:[0-9]*' "$OUT/err" | cut -d' ' -f3 || true)
			[ -n "$addr" ] && break
			sleep 0.05
		done
		local iv=${cfg#scrape}
		cat >"$OUT/cfg.yaml" <<EOC
scrape_configs:
  - job_name: bench
    scrape_interval: ${iv}s
    static_configs:
      - targets: ["$addr"]
EOC
		rm -rf "$OUT/data"
		"$CPROF" server -http=127.0.0.1:0 -data="$OUT/data" -config="$OUT/cfg.yaml" 2>"$OUT/srv.err" &
		spid=$!
	fi
	wait "$pid"
	[ -n "$spid" ] && { kill "$spid"; wait "$spid" || true; }
	awk '/^units/ {print $2, $4, $6}' "$OUT/out"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
spread() { sort -n | awk '{a[NR]=$1} END {printf "%s..%s", a[1], a[NR]}'; }

echo "# bench/server_scrape.sh: RUNS=$RUNS DUR=${DUR}s, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
configs="idle scrape15 scrape2"
for c in $configs; do : >"$OUT/$c.units"; : >"$OUT/$c.eff"; : >"$OUT/$c.own"; done
cfgs=($configs)
for r in $(seq "$RUNS"); do
	for i in $(seq 0 $((${#cfgs[@]} - 1))); do
		c=${cfgs[$(( (i + r) % ${#cfgs[@]} ))]}
		read -r u w p < <(run "$c")
		echo "$u" >>"$OUT/$c.units"
		echo "$u $w" | awk '{printf "%.1f\n", $1 / ($2 / 1e9)}' >>"$OUT/$c.eff"
		echo "$w $p" | awk -v d="$DUR" '{printf "%.4f\n", ($2 - $1) / 1e9 / d}' >>"$OUT/$c.own"
	done
done
base=$(median <"$OUT/idle.units")
beff=$(median <"$OUT/idle.eff")
printf '%-10s %10s %7s %18s %14s %7s %16s\n' config units ratio 'units (spread)' 'units/work-cpu' ratio 'other-cpu (s/s)'
for c in $configs; do
	u=$(median <"$OUT/$c.units")
	e=$(median <"$OUT/$c.eff")
	o=$(median <"$OUT/$c.own")
	printf '%-10s %10s %7.3f %18s %14s %7.3f %16s\n' "$c" "$u" "$(echo "$u / $base" | bc -l)" \
		"$(spread <"$OUT/$c.units")" "$e" "$(echo "$e / $beff" | bc -l)" "$o"
done
echo "# units: work in DUR s of wall time (the program's throughput; the server shares the cores);"
echo "# units/work-cpu: work per CPU-second of the working thread (its efficiency);"
echo "# other-cpu: CPU seconds per wall second used by the rest of the process (the runtime's threads)"
