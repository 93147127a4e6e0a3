#!/bin/bash
# bench/threads_snapshot.sh - what a thread snapshot costs (bench/
# threads_snapshot.c): the raw snapshot (/proc reads, unwinding blocked
# threads from their /proc registers, signals to running ones) and the
# symbolized cprof_threads_write, at 10 and 1000 threads; and what the
# runtime adds to pthread_create (the creator's stack for "created by" and
# the threadcreate profile), bare against preloaded, interleaved runs.
# Nothing here asserts a timing: figures go to docs/PERFORMANCE.md by hand
# with the machine's load; instruction counts (callgrind) where valgrind is
# installed.
#
#   bench/threads_snapshot.sh            (REPS=20, N=1000)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-20}
N=${N:-1000}
OUT=bench/out
mkdir -p "$OUT"
make -s build/libcprof.a build/libcprofcore.a build/libcprof.so >/dev/null
LIBS="$(pkg-config --libs libdw libelf zlib libpcre2-8 libmicrohttpd) -lstdc++ -lpthread -ldl -lm"
cc -DDIRECT -Iinclude -Isrc/core -Isrc/runtime -O2 -g -o "$OUT/threads_snapshot" \
   bench/threads_snapshot.c build/libcprof.a build/libcprofcore.a $LIBS
cc -O2 -g -o "$OUT/threads_create" bench/threads_snapshot.c -lpthread
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$OUT/threads_snapshot" snap 10 "$REPS"
"$OUT/threads_snapshot" snap "$N" "$REPS"
for i in 1 2 3; do
	echo -n "bare:      "; "$OUT/threads_create" create 20000
	echo -n "preloaded: "; LD_PRELOAD=$PWD/build/libcprof.so "$OUT/threads_create" create 20000
done
# instructions per pthread_create+join (user space, callgrind): the
# difference of 1200 and 200 creations, bare and preloaded (the whole
# runtime: creator's stack, registry, threadcreate table, interposed join)
if command -v valgrind >/dev/null; then
	for mode in bare preloaded; do
		pre=""
		[ $mode = preloaded ] && pre="LD_PRELOAD=$PWD/build/libcprof.so"
		ir() {
			env $pre valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.threads" \
				"$OUT/threads_create" create "$1" >/dev/null 2>&1
			grep -m1 '^summary:' "$OUT/cg.threads" | cut -d' ' -f2
		}
		a=$(ir 200); b=$(ir 1200)
		echo "$mode: $(( (b - a) / 1000 )) instructions per pthread_create+join (callgrind)"
	done
	rm -f "$OUT/cg.threads"
fi
