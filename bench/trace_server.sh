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
# the figure.  With INSTR=1 the server runs under valgrind's callgrind
# and the measure is requests per billion user-space instructions of the
# whole server process during the load (counters zeroed before it and
# dumped after it with callgrind_control): not moved by the machine's load, but blind to what the
# kernel does for the server (a schedstat pread's formatting, fcntl), and
# valgrind runs one thread at a time.  With SYSCALLS=1 (CPU mode), perf
# counts the server's system calls during the load: printed per request
# for each configuration, they are the kernel's side of the difference.  Printed: each round, then per configuration the median of
# its ratios to the same round's off run with their min..max.  Nothing
# asserts; figures go to docs/PERFORMANCE.md by hand.
#
#   bench/trace_server.sh
#   RUNS=9 SERVERS="redis" SWITCH=1 bench/trace_server.sh
#   INSTR=1 RUNS=3 CONFIGS="off trace ring norunnable" bench/trace_server.sh
#   SYSCALLS=1 RUNS=3 bench/trace_server.sh
#   PIN=1 RUNS=9 bench/trace_server.sh   # server and client on their own CPUs
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
SERVERS=${SERVERS:-"redis nginx"}
INSTR=${INSTR:-0}
PIN=${PIN:-0}             # 1: the server on CPU 1, its client on CPU 0
if [ "$PIN" = 1 ]; then SRV_PIN=(taskset -c 1); CLI_PIN=(taskset -c 0); else SRV_PIN=(); CLI_PIN=(); fi
SYSCALLS=${SYSCALLS:-0}
if [ "$INSTR" = 1 ]; then
	REQS=${REQS:-20000}
	WRAP=(valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$(realpath -m bench/out/trace_server)/cg.out")
else
	WRAP=()
fi
REQS=${REQS:-150000}      # redis-benchmark -n, per test (set and get)
DUR=${DUR:-5}             # wrk seconds
LIB=$(realpath "${LIB:-build/libcprof.so}")
OUT=$(realpath -m bench/out/trace_server)
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
CONFIGS=${CONFIGS:-"off trace ring"}
[ "${SWITCH:-0}" = 1 ] && CONFIGS="$CONFIGS switch"

# the measure's start (before the load) and end (after it, the server
# stopped): CPU ns of its threads, or (INSTR) its instructions from
# callgrind's output once it exited; SYSCALLS: perf counts the load's
# system calls into $OUT/sc.txt
sc_start() {  # PID (not in a command substitution: perf runs on)
	if [ "$SYSCALLS" = 1 ]; then
		perf stat -x, -e raw_syscalls:sys_enter -e syscalls:sys_enter_pread64 \
			-e syscalls:sys_enter_fcntl -e syscalls:sys_enter_newfstat \
			-o "$OUT/sc.txt" -p "$1" > /dev/null 2>&1 &
		SC_PID=$!
		sleep 0.3
	fi
}
sc_stop() {
	if [ "$SYSCALLS" = 1 ]; then kill -INT "$SC_PID"; wait "$SC_PID" 2>/dev/null || true; fi
}
m_start() {
	if [ "$INSTR" = 1 ]; then
		rm -f "$OUT"/cg.out*
		callgrind_control -z "$1" > /dev/null 2>&1
		echo 0
	else
		cpu_ns "$1"
	fi
}
m_load_done() {  # PID
	if [ "$INSTR" = 1 ]; then
		callgrind_control -d "$1" > /dev/null 2>&1
		echo 0
	else
		cpu_ns "$1"
	fi
}
m_value() {  # START END -> seconds of CPU, or instructions / 1e9
	if [ "$INSTR" = 1 ]; then
		# the dump made at the load's end (callgrind_control -d): the
		# load's instructions only, not start-up or the trace's writing
		awk '/^(summary|totals):/ { v = $2 } END { printf "%.6f", v / 1e9 }' "$OUT"/cg.out.*
	else
		echo "$1 $2" | awk '{ printf "%.4f", ($2 - $1) / 1e9 }'
	fi
}

cpu_ns() {  # PID -> CPU ns of its threads (schedstat's first field: ns, not ticks)
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

. bench/trace_configs.sh   # cfg_env CONFIG -> the environment words; free_port, wait_port

# run_redis CONFIG -> "requests cpu_seconds"
run_redis() {
	local port; port=$(free_port)
	rm -f "$OUT/t-$1.json"*
	# shellcheck disable=SC2046
	env $(cfg_env "$1") "${SRV_PIN[@]}" "${WRAP[@]}" redis-server --port "$port" --bind 127.0.0.1 --save "" \
		--appendonly no --dir "$OUT" --logfile "$OUT/redis.log" &
	local pid=$!
	wait_port "$port"
	sc_start $pid
	local c0; c0=$(m_start $pid)
	"${CLI_PIN[@]}" redis-benchmark -p "$port" -n "$REQS" -c 16 -t set,get -q > "$OUT/rb.txt" 2>&1
	local c1; c1=$(m_load_done $pid)
	sc_stop
	kill -TERM $pid; wait $pid || true
	echo "$((2 * REQS)) $(m_value "$c0" "$c1")"
}

# run_nginx CONFIG -> "requests cpu_seconds"
run_nginx() {
	local port; port=$(free_port)
	rm -f "$OUT/t-$1.json"*
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
	env $(cfg_env "$1") "${SRV_PIN[@]}" "${WRAP[@]}" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" &
	local pid=$!
	wait_port "$port"
	sc_start $pid
	local c0; c0=$(m_start $pid)
	"${CLI_PIN[@]}" wrk -t1 -c16 -d"${DUR}s" "http://127.0.0.1:$port/index.html" > "$OUT/wrk.txt" 2>&1
	local c1; c1=$(m_load_done $pid)
	sc_stop
	kill -QUIT $pid; wait $pid || true
	local n; n=$(grep -oP '\d+(?= requests in)' "$OUT/wrk.txt")
	echo "$n $(m_value "$c0" "$c1")"
}

median() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.4f (min %.4f, max %.4f, n=%d)\n", m, a[1], a[NR], NR}'; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs; $(redis-server --version | cut -d' ' -f1-3); $(nginx -v 2>&1)"
for srv in $SERVERS; do
	echo "== $srv: requests per server $([ "$INSTR" = 1 ] && echo "G instructions" || echo CPU-second), $RUNS rounds (configs: $CONFIGS)"
	: > "$OUT/$srv.txt"
	: > "$OUT/$srv-sc.txt"
	read -r -a cfgs <<< "$CONFIGS"
	for r in $(seq "$RUNS"); do
		declare -A rps=()
		line="  round $r:"
		k=${#cfgs[@]}
		for j in $(seq 0 $((k - 1))); do
			c=${cfgs[$(((j + r) % k))]}
			read -r n cpu <<< "$(run_"$srv" "$c")"
			rps[$c]=$(awk -v n="$n" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0) ? n / c : 0 }')
			line="$line $c ${rps[$c]} ($n req, ${cpu}$([ "$INSTR" = 1 ] && echo " G instr" || echo s))"
			if [ "$SYSCALLS" = 1 ]; then
				awk -F, -v n="$n" -v c="$c" '$3 ~ /sys_enter/ { sub(/.*:/, "", $3); printf "%s %s %.4f\n", c, $3, $1 / n }' \
					"$OUT/sc.txt" >> "$OUT/$srv-sc.txt"
			fi
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
		echo -n "  $c / off, requests per $([ "$INSTR" = 1 ] && echo "G instructions" || echo CPU-second): "
		awk -v c="$c" '$1 == c { print $2 }' "$OUT/$srv.txt" | median
	done
	if [ "$SYSCALLS" = 1 ]; then
		echo "  system calls per request (median of the rounds):"
		for c in $CONFIGS; do
			for k in sys_enter sys_enter_pread64 sys_enter_fcntl sys_enter_newfstat; do
				printf '    %-10s %-20s %s\n' "$c" "$k" "$(awk -v c="$c" -v k="$k" '$1 == c && $2 == k { print $3 }' "$OUT/$srv-sc.txt" | median)"
			done
		done
	fi
	# the last traced run's events, and how many of its waits got a
	# runnable split (the traces are written at exit, one file per
	# configuration, removed before each run)
	[ -f "$OUT/t-trace.json" ] && python3 -c "
import json
t = json.load(open('$OUT/t-trace.json'))
w = [e for e in t['traceEvents'] if e.get('cat') == 'blocked']
s = sum(1 for e in w if 'runnable_us' in (e.get('args') or {}))
print('  last trace: events', t['otherData']['events'], 'dropped', t['otherData']['dropped_events'], 'waits', len(w), 'split', s)" || true
done
