# bench/trace_configs.sh - sourced by the trace benches (trace_instr.sh,
# trace_calls.sh, trace_server.sh): the environment of each configuration
# they compare, with LIB (libcprof.so) and OUT (where its trace goes, as
# t-CONFIG.json) set by the caller.
#   off    preloaded, no trace (the baseline)
#   trace  CPROF_TRACE=FILE (the split's default, auto)
#   ring   CPROF_TRACE_RING=2, the flight recorder, nobody reading (long)
#   norun  CPROF_TRACE=FILE CPROF_TRACE_RUNNABLE=0 (no schedstat reads;
#          also called norunnable)
#   switch CPROF_TRACE=FILE CPROF_TRACE_SWITCH=1 (switch records)
# Also free_port (a loopback port free now) and wait_port PORT (until a
# server accepts there), for the server benches.
cfg_env() {
	case $1 in
	off) echo "LD_PRELOAD=$LIB" ;;
	trace) echo "LD_PRELOAD=$LIB CPROF_TRACE=$OUT/t-$1.json" ;;
	ring) echo "LD_PRELOAD=$LIB CPROF_TRACE_RING=2" ;;
	norun | norunnable) echo "LD_PRELOAD=$LIB CPROF_TRACE=$OUT/t-$1.json CPROF_TRACE_RUNNABLE=0" ;;
	switch) echo "LD_PRELOAD=$LIB CPROF_TRACE=$OUT/t-$1.json CPROF_TRACE_SWITCH=1" ;;
	esac
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
	for _ in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: server on port $1 did not start" >&2
	return 1
}
