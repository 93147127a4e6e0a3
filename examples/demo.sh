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
# and its profile simply is not served.  Ctrl-C stops the servers.
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
echo "demo.sh: serving; Ctrl-C to stop" >&2
wait
