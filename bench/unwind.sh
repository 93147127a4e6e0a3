#!/bin/bash
# bench/unwind.sh - the unwinder's cost (bench/unwind_bench.c): ns per
# sample and per frame at depths 8/32/96 for the runtime's rt_unwind, a
# frame-pointer walk, libunwind's unw_backtrace and libgcc's
# _Unwind_Backtrace, in one run; and the memory of the compact tables for
# libc and libstdc++.  Nothing here asserts a timing: the figures go to
# docs/PERFORMANCE.md by hand, with the date, the machine and its load.
#
#   bench/unwind.sh            (ITERS=20000 by default)
#   ITERS=100000 bench/unwind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${ITERS:-20000}
OUT=bench/out
mkdir -p "$OUT"
make -s build/libcprof.a build/libcprofcore.a >/dev/null
CFLAGS="-D_GNU_SOURCE -Iinclude -Isrc/core -Isrc/runtime -std=c11 -O2 -g -fno-omit-frame-pointer"
cc $CFLAGS -o "$OUT/unwind_bench" bench/unwind_bench.c build/libcprof.a build/libcprofcore.a \
   $(pkg-config --libs libdw libelf zlib libpcre2-8) -lunwind -lstdc++ -lpthread -ldl -lm
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
"$OUT/unwind_bench" "$ITERS"
