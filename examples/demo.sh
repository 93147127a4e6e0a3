#!/bin/sh
# examples/demo.sh - the README's main job (issue 8): build the demo
# service (examples/demo_service.c), run it under the runtime, then serve
# each of its profiles in the web UI and print the URLs.
#
#   examples/demo.sh [SECONDS]        (default 5 seconds of running)
#
# Environment: BUILD (build dir, default build), HOST (default localhost),
# NO_BROWSER=1 (do not open a browser; otherwise the CPU profile opens).
# The runtime writes every profile it knows (CPROF_CPU_PROFILE and, where
# the runtime has them, CPROF_HEAP_PROFILE, CPROF_MUTEX_PROFILE,
# CPROF_THREADS_PROFILE); a variable the runtime does not know is ignored
# and its profile simply is not served.  Then the service runs again, on
# and on, with its endpoint (CPROF_HTTP), and `cprof server` scrapes it
# every 15 s (data in $BUILD/demo/server-data): its page's URL
# (http://127.0.0.1:4040/ unless that port is taken; SERVER_HTTP=ADDR
# picks another) is printed on stderr.  Ctrl-C stops the servers.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
B=${BUILD:-build}
HOST=${HOST:-localhost}
secs=${1:-5}
out=$B/demo
mkdir -p "$out"
[ -x "$B/cprof" ] && [ -f "$B/libcprof.so" ] || { echo "demo.sh: build first: make" >&2; exit 2; }

${CC:-cc} -O2 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -pthread -o "$out/demo_service" examples/demo_service.c
rm -f "$out"/*.pb.gz
echo "demo.sh: running the demo service for ${secs}s under $B/libcprof.so ..." >&2
env LD_PRELOAD="$root/$B/libcprof.so" \
	CPROF_CPU_PROFILE="$out/cpu.pb.gz" \
	CPROF_HEAP_PROFILE="$out/heap.pb.gz" \
	CPROF_MUTEX_PROFILE="$out/mutex.pb.gz" \
	CPROF_THREADS_PROFILE="$out/threads.pb.gz" \
	"$out/demo_service" "$secs" >/dev/null

pids=""
stop() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

first=1
for kind in cpu heap mutex threads; do
	f=$out/$kind.pb.gz
	[ -s "$f" ] || { echo "demo.sh: no $kind profile (the runtime does not write it yet)" >&2; continue; }
	browser=-no_browser
	if [ "$first" = 1 ] && [ "${NO_BROWSER:-0}" != 1 ]; then browser=; fi
	first=0
	# the URL file of an earlier run must not be read before this server
	# truncates it (the redirection happens in the background job)
	rm -f "$out/$kind.url"
	"$B/cprof" -http="$HOST:0" $browser "$out/demo_service" "$f" >"$out/$kind.url" 2>"$out/$kind.log" &
	pids="$pids $!"
	i=0
	while ! grep -q '^Serving web UI on ' "$out/$kind.url" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 "$!" 2>/dev/null; then
			echo "demo.sh: the $kind server did not start:" >&2
			cat "$out/$kind.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	url=$(sed -n 's/^Serving web UI on //p' "$out/$kind.url")
	printf '%-8s %s/ui/\n' "$kind" "$url"
done
# continuous profiling: the service again, long-running with its endpoint,
# and the server scraping it
rm -f "$out/service.log" "$out/server.log"
env LD_PRELOAD="$root/$B/libcprof.so" CPROF_HTTP=127.0.0.1:0 \
	"$out/demo_service" 3599 >/dev/null 2>"$out/service.log" &
pids="$pids $!"
# wait_for FILE PATTERN WHAT: until the last background job writes PATTERN
wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] && kill -0 "$!" 2>/dev/null || { echo "demo.sh: $3 did not start:" >&2; cat "$1" >&2; exit 1; }
		sleep 0.1
	done
}
wait_for "$out/service.log" '^cprof: serving on ' "the service's endpoint"
addr=$(sed -n 's/^cprof: serving on \([^ ]*\).*/\1/p' "$out/service.log" | head -1)
# the server on :4040 (the page's usual address), or any free port when
# 4040 is taken
for http in "${SERVER_HTTP:-127.0.0.1:4040}" 127.0.0.1:0; do
	"$B/cprof" server -http="$http" -data="$out/server-data" -scrape="http://$addr" 2>"$out/server.log" &
	spid=$!
	while ! grep -q 'listening on ' "$out/server.log" 2>/dev/null && kill -0 $spid 2>/dev/null; do sleep 0.1; done
	grep -q 'listening on ' "$out/server.log" && break
	grep -q 'already in use' "$out/server.log" || { cat "$out/server.log" >&2; exit 1; }
done
pids="$pids $spid"
wait_for "$out/server.log" 'listening on ' "the server"
surl=$(sed -n 's/.*listening on \(http:[^ ]*\)\/ .*/\1/p' "$out/server.log" | head -1)
echo "demo.sh: continuous profiling: $surl scrapes the service at http://$addr every 15s;" >&2
echo "demo.sh:   its page: $surl/ (the service's CPU over time: drag a window for its flame graph)" >&2
echo "demo.sh:   e.g. $B/cprof -top '$surl/api/v1/profile?type=cpu&from=now-5m'" >&2
echo "demo.sh: serving; Ctrl-C to stop" >&2
wait
