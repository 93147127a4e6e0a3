#!/bin/bash
# bench/trace_server.sh - what the execution trace costs a real server
# under load: Debian's redis-server (redis-benchmark) and nginx (wrk),
# each preloaded with libcprof.so.
#
# Configurations, RUNS rounds, their order rotating each round (drift in
# the machine's load spreads over all of them):
#   off    the runtime preloaded, no trace (the baseline)
#   trace  CPROF_TRACE=FILE: the whole run traced (written at exit, after
#          the measurement)
#   ring   CPROF_TRACE_RING=2: the flight recorder, nobody reading
#   switch CPROF_TRACE=FILE + CPROF_TRACE_SWITCH=1 (SWITCH=1 only)
#   norunnable  CPROF_TRACE=FILE + CPROF_TRACE_RUNNABLE=0 (CONFIGS="off
#          norunnable ..." chooses the list)
# Measured: requests served per CPU-second of the server (the CPU ns
# of all its threads, /proc/PID/task/*/schedstat, over the load), so the
# client's share of the 2 CPUs and other work on the machine do not enter
# the figure.  Printed: each round, then per configuration the median of
# its ratios to the same round's off run with their min..max.  Nothing
# asserts; figures go to docs/PERFORMANCE.md by hand.
#
#   bench/trace_server.sh
#   RUNS=9 SERVERS="redis" SWITCH=1 bench/trace_server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
SERVERS=${SERVERS:-"redis nginx"}
REQS=${REQS:-150000}      # redis-benchmark -n, per test (set and get)
DUR=${DUR:-5}             # wrk seconds
LIB=$(realpath "${LIB:-build/libcprof.so}")
OUT=$(realpath -m bench/out/trace_server)
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
CONFIGS=${CONFIGS:-"off trace ring"}
[ "${SWITCH:-0}" = 1 ] && CONFIGS="$CONFIGS switch"

cpu_ns() {  # PID -> CPU ns of its threads (schedstat's first field: ns, not ticks)
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cfg_env() {  # CONFIG -> the environment words
	case $1 in
	off) echo "LD_PRELOAD=$LIB" ;;
	trace) echo "LD_PRELOAD=$LIB CPROF_TRACE=$OUT/t.json" ;;
	ring) echo "LD_PRELOAD=$LIB CPROF_TRACE_RING=2" ;;
	switch) echo "LD_PRELOAD=$LIB CPROF_TRACE=$OUT/t.json CPROF_TRACE_SWITCH=1" ;;
	norunnable) echo "LD_PRELOAD=$LIB CPROF_TRACE=$OUT/t.json CPROF_TRACE_RUNNABLE=0" ;;
	esac
}

wait_port() {
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: server on port $1 did not start" >&2
	return 1
}

# run_redis CONFIG -> "requests cpu_seconds"
run_redis() {
	local port; port=$(free_port)
	# shellcheck disable=SC2046
	env $(cfg_env "$1") redis-server --port "$port" --bind 127.0.0.1 --save "" \
		--appendonly no --dir "$OUT" --logfile "$OUT/redis.log" &
	local pid=$!
	wait_port "$port"
	local c0; c0=$(cpu_ns $pid)
	redis-benchmark -p "$port" -n "$REQS" -c 16 -t set,get -q > "$OUT/rb.txt" 2>&1
	local c1; c1=$(cpu_ns $pid)
	kill -TERM $pid; wait $pid || true
	echo "$((2 * REQS)) $(echo "$c0 $c1" | awk '{ printf "%.4f", ($2 - $1) / 1e9 }')"
}

# run_nginx CONFIG -> "requests cpu_seconds"
run_nginx() {
	local port; port=$(free_port)
	local d=$OUT/nginx
	mkdir -p "$d/www"
	[ -f "$d/www/index.html" ] || for i in $(seq 400); do echo "line $i of the page"; done > "$d/www/index.html"
	cat > "$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
    server { listen 127.0.0.1:$port; root $d/www; }
}
EOF
	mkdir -p "$d/tmp"
	# shellcheck disable=SC2046
	env $(cfg_env "$1") nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" &
	local pid=$!
	wait_port "$port"
	local c0; c0=$(cpu_ns $pid)
	wrk -t1 -c16 -d"${DUR}s" "http://127.0.0.1:$port/index.html" > "$OUT/wrk.txt" 2>&1
	local c1; c1=$(cpu_ns $pid)
	kill -QUIT $pid; wait $pid || true
	local n; n=$(grep -oP '\d+(?= requests in)' "$OUT/wrk.txt")
	echo "$n $(echo "$c0 $c1" | awk '{ printf "%.4f", ($2 - $1) / 1e9 }')"
}

median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.4f (min %.4f, max %.4f, n=%d)\n", m, a[1], a[NR], NR}'; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs; $(redis-server --version | cut -d' ' -f1-3); $(nginx -v 2>&1)"
for srv in $SERVERS; do
	echo "== $srv: requests per server CPU-second, $RUNS rounds (configs: $CONFIGS)"
	: > "$OUT/$srv.txt"
	read -r -a cfgs <<< "$CONFIGS"
	for r in $(seq "$RUNS"); do
		declare -A rps=()
		line="  round $r:"
		k=${#cfgs[@]}
		for j in $(seq 0 $((k - 1))); do
			c=${cfgs[$(((j + r) % k))]}
			read -r n cpu <<< "$(run_"$srv" "$c")"
			rps[$c]=$(awk -v n="$n" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0) ? n / c : 0 }')
			line="$line $c ${rps[$c]} ($n req, ${cpu}s)"
		done
		echo "$line"
		for c in $CONFIGS; do
			[ "$c" = off ] && continue
			echo "$c $(awk -v a="${rps[$c]}" -v b="${rps[off]}" 'BEGIN { printf "%.4f", (b > 0) ? a / b : 0 }')" >> "$OUT/$srv.txt"
		done
		unset rps
	done
	for c in $CONFIGS; do
		[ "$c" = off ] && continue
		echo -n "  $c / off, requests per CPU-second: "
		awk -v c="$c" '$1 == c { print $2 }' "$OUT/$srv.txt" | median
	done
	[ -f "$OUT/t.json" ] && python3 -c "import json; d=json.load(open('$OUT/t.json'))['otherData']; print('  last trace: events', d['events'], 'dropped', d['dropped_events'])" || true
done
