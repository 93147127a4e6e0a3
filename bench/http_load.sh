#!/bin/bash
# bench/http_load.sh - what the HTTP endpoint costs the program it lives in.
#
# The program is tests/runtime/http/worker.c (one thread burning CPU,
# allocating and locking; it prints the work units it did in DUR seconds),
# run under LD_PRELOAD=libcprof.so.  Configurations, RUNS times each in
# rotating order (drift in the machine's load spreads over all of them):
#   off          the runtime without CPROF_HTTP (the baseline)
#   idle         CPROF_HTTP=127.0.0.1:0, nobody asking: the idle cost
#   wrk-metrics  wrk -c8 on /metrics for the whole run
#   wrk-heap     wrk -c8 on /debug/pprof/heap, rate limit off
#                (CPROF_HTTP_RATE=-1): every request renders a profile
#   wrk-limited  the same with the default rate limit (60/min): most get 429
# Printed: the median units of each and the ratio to off (1.00 = no
# change; below 1 the program lost throughput), plus wrk's requests/s.
# Then survival: wrk -c1000 for DUR seconds and SLOW half-open requests
# (slowloris), after which one request must still be answered and the
# program still be running.  On a machine shared with other work the
# figures move by several percent between runs: read them with the load
# (uptime is printed).  Nothing asserts except survival.
#
#   bench/http_load.sh
#   RUNS=5 DUR=5 bench/http_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DUR=${DUR:-4}
SLOW=${SLOW:-200}
LIB=$(realpath "${LIB:-build/libcprof.so}")
OUT=bench/out/http
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench: wrk is needed (./setup.sh)" >&2; exit 2; }
cc -O1 -g -pthread tests/runtime/http/worker.c -o "$OUT/worker"
PROG=$(realpath "$OUT/worker")

# run CONFIG: prints "units work_cpu_ns process_cpu_ns RPS"
run() {
	local cfg=$1 env=(LD_PRELOAD="$LIB") path="" rps="-"
	case $cfg in
	off) ;;
	idle) env+=(CPROF_HTTP=127.0.0.1:0) ;;
	wrk-metrics) env+=(CPROF_HTTP=127.0.0.1:0); path=/metrics ;;
	wrk-heap) env+=(CPROF_HTTP=127.0.0.1:0 CPROF_HTTP_RATE=-1); path=/debug/pprof/heap ;;
	wrk-limited) env+=(CPROF_HTTP=127.0.0.1:0); path=/debug/pprof/heap ;;
	esac
	rm -f "$OUT/err"
	env "${env[@]}" "$PROG" "$DUR" 1 >"$OUT/out" 2>"$OUT/err" &
	local pid=$!
	if [ -n "$path" ]; then
		local port=""
		for _ in $(seq 100); do
			port=$(grep -o 'serving on 127.0.0.1:[0-9]*' "$OUT/err" | cut -d: -f2 || true)
			[ -n "$port" ] && break
			sleep 0.05
		done
		rps=$(wrk -t1 -c8 -d"$((DUR - 1))s" "http://127.0.0.1:$port$path" 2>/dev/null |
			awk '/Requests\/sec/ {print $2}' || true)
	fi
	wait "$pid"
	echo "$(awk '/^units/ {print $2, $4, $6}' "$OUT/out") $rps"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "# bench/http_load.sh: RUNS=$RUNS DUR=${DUR}s, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
configs="off idle wrk-metrics wrk-heap wrk-limited"
for c in $configs; do : >"$OUT/$c.units"; : >"$OUT/$c.eff"; : >"$OUT/$c.own"; : >"$OUT/$c.rps"; done
cfgs=($configs)
for r in $(seq "$RUNS"); do
	for i in $(seq 0 $((${#cfgs[@]} - 1))); do
		c=${cfgs[$(( (i + r) % ${#cfgs[@]} ))]}
		read -r u w p q < <(run "$c")
		echo "$u" >>"$OUT/$c.units"
		echo "$u $w" | awk '{printf "%.1f\n", $1 / ($2 / 1e9)}' >>"$OUT/$c.eff"
		echo "$w $p" | awk -v d="$DUR" '{printf "%.4f\n", ($2 - $1) / 1e9 / d}' >>"$OUT/$c.own"
		[ "$q" != - ] && echo "$q" >>"$OUT/$c.rps"
	done
done
base=$(median <"$OUT/off.units")
beff=$(median <"$OUT/off.eff")
printf '%-12s %10s %7s %14s %7s %16s %10s\n' config units ratio 'units/work-cpu' ratio 'other-cpu (s/s)' 'req/s'
for c in $configs; do
	u=$(median <"$OUT/$c.units")
	e=$(median <"$OUT/$c.eff")
	o=$(median <"$OUT/$c.own")
	q=-
	[ -s "$OUT/$c.rps" ] && q=$(median <"$OUT/$c.rps")
	printf '%-12s %10s %7.3f %14s %7.3f %16s %10s\n' "$c" "$u" "$(echo "$u / $base" | bc -l)" \
		"$e" "$(echo "$e / $beff" | bc -l)" "$o" "$q"
done
echo "# units: work in DUR s of wall time (the program's throughput, other tenants included);"
echo "# units/work-cpu: work per CPU-second of the working thread (its efficiency);"
echo "# other-cpu: CPU seconds per wall second used by the rest of the process (the runtime's threads)"

echo "# survival: wrk -c1000 on /metrics for ${DUR}s, then $SLOW slow (half-sent) requests"
rm -f "$OUT/err"
env LD_PRELOAD="$LIB" CPROF_HTTP=127.0.0.1:0 "$PROG" $((DUR * 3)) 1 >"$OUT/out" 2>"$OUT/err" &
pid=$!
port=""
for _ in $(seq 100); do
	port=$(grep -o 'serving on 127.0.0.1:[0-9]*' "$OUT/err" 2>/dev/null | cut -d: -f2 || true)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "bench: the endpoint did not start: $(cat "$OUT/err")" >&2; exit 1; }
ulimit -n 4096 2>/dev/null || true
wrk -t2 -c1000 -d"${DUR}s" "http://127.0.0.1:$port/metrics" 2>&1 | grep -E 'Requests/sec|Socket errors|requests in' || true
python3 - "$port" "$SLOW" <<'EOF'
import socket, subprocess, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
slow = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /debug/pprof/heap HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)
t0 = time.time()
code = "000"
while code != "200" and time.time() - t0 < 60:
    code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                           f"http://127.0.0.1:{port}/debug/pprof/goroutine?debug=1"],
                          capture_output=True, text=True).stdout
    if code != "200":
        time.sleep(0.2)
print(f"with {n} slow clients connected: a new request got {code} after {time.time() - t0:.2f}s")
for s in slow:
    s.close()
EOF
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")
alive=no
kill -0 "$pid" 2>/dev/null && alive=yes
echo "after the load: /metrics answers $code, program running: $alive"
wait "$pid"
echo "program finished: $(cat "$OUT/out" | tail -1)"
[ "$code" = 200 ] && [ "$alive" = yes ]
