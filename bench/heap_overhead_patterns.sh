#!/bin/bash
# bench/heap_overhead_patterns.sh - what the heap profiler (CPROF_HEAP_PROFILE
# at the default rate) costs three allocation patterns, each in 2 threads:
#   window  free + malloc of 16..4096-byte blocks over a 1,024-block window
#           (bench/heap_overhead.c; the pattern of the report that saw 8.5 %)
#   allocs  malloc + free at once of 16..1024 bytes (glibc's tcache: the
#           cheapest malloc there is, so the hooks weigh the most)
#   cxx     std::map<int, std::string> inserts, replaces and erases
#           (bench/heap_patterns_cxx.cc: operator new/delete)
# Two measures, each against a bare run of the same program:
#   instructions  valgrind --tool=callgrind, counting only inside the
#                 threads' worker function (--toggle-collect): the hooks'
#                 and the sampler's own instructions, no start-up or exit,
#                 deterministic but for the sample points drawn
#   CPU time      user+sys of the whole process, RUNS interleaved
#                 (bare, cprof) pairs: the median of the pairs' ratios and
#                 their spread (min..max); noisy on a loaded machine.  Each
#                 run's fixed cost (start-up, and for cprof the unwind
#                 tables built at the first sample and the profile
#                 symbolized and written at exit: the median of 3 runs of
#                 OPS/100 operations, which sample too) is taken out
#                 first, so the ratio is the cost per operation, as the
#                 instructions are
# For reference, jemalloc alone against jemalloc's own sampling profiler
# (MALLOC_CONF=prof:true,lg_prof_sample:19) on the window pattern, CPU
# time, same pairing.  Nothing asserts.
#
#   bench/heap_overhead_patterns.sh
#   RUNS=9 OPS=4000000 IR_OPS=300000 bench/heap_overhead_patterns.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
OPS=${OPS:-2000000}
IR_OPS=${IR_OPS:-300000}
LIB=${LIB:-build/libcprof.so}
JE=${JE:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
OUT=bench/out/heap_patterns
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "bench: valgrind is needed (./setup.sh)" >&2; exit 2; }
cc -O2 -g -pthread bench/heap_overhead.c -o "$OUT/c"
c++ -O2 -g -pthread bench/heap_patterns_cxx.cc -o "$OUT/cxx"
LIBP=$(realpath "$LIB")

# cmd PATTERN OPS: the program's command line
cmd() {
	case $1 in
	cxx) echo "$OUT/cxx 2 $2" ;;
	*) echo "$OUT/c 2 $2 $1" ;;
	esac
}

# ir PATTERN CONFIG: instructions inside the workers
ir() {
	local env=()
	[ "$2" = cprof ] && env=(LD_PRELOAD="$LIBP" CPROF_HEAP_PROFILE="$OUT/prof.pb.gz")
	env "${env[@]}" valgrind --tool=callgrind --toggle-collect='worker*' \
		--callgrind-out-file="$OUT/cg.out" $(cmd "$1" "$IR_OPS") 2>&1 >/dev/null |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

# cpu PATTERN CONFIG [OPS]: user+sys seconds of one run
cpu() {
	local ops=${3:-$OPS}
	local env=()
	case $2 in
	cprof) env=(LD_PRELOAD="$LIBP" CPROF_HEAP_PROFILE="$OUT/prof.pb.gz") ;;
	jemalloc) env=(LD_PRELOAD="$JE") ;;
	jeprof) env=(LD_PRELOAD="$JE" MALLOC_CONF=prof:true,lg_prof_sample:19) ;;
	esac
	env "${env[@]}" /usr/bin/time -f "%U %S" -o "$OUT/time.txt" $(cmd "$1" "$ops") >/dev/null
	awk '{ printf "%.3f\n", $1 + $2 }' "$OUT/time.txt"
}

# fixed PATTERN CONFIG: the median CPU seconds of 3 runs doing 1 % of the work
fixed() {
	local t=()
	for ((r = 0; r < 3; r++)); do t+=("$(cpu "$1" "$2" $((OPS / 100)))"); done
	printf '%s\n' "${t[@]}" | sort -n | sed -n 2p
}

# pairs PATTERN BASE CONFIG: RUNS interleaved pairs, the order alternating
pairs() {
	local ratios=() fa fb
	fa=$(fixed "$1" "$2")
	fb=$(fixed "$1" "$3")
	for ((r = 0; r < RUNS; r++)); do
		local a b
		if ((r % 2)); then b=$(cpu "$1" "$3"); a=$(cpu "$1" "$2"); else a=$(cpu "$1" "$2"); b=$(cpu "$1" "$3"); fi
		ratios+=("$(python3 -c "print(($b - $fb) / ($a - $fa) if $a > $fa and $b > $fb else 0)")")
	done
	python3 - "${ratios[@]}" <<'PY'
import statistics, sys
r = sorted(float(x) for x in sys.argv[1:])
print(f"x{statistics.median(r):.3f} (x{r[0]:.3f}..x{r[-1]:.3f}, {len(r)} pairs)")
PY
}

printf '%-8s %-28s %s\n' pattern "instructions (workers)" "CPU time, cprof / bare"
for p in window allocs cxx; do
	b=$(ir "$p" bare)
	c=$(ir "$p" cprof)
	irr=$(python3 -c "print(f'x{$c / $b:.3f} ({$c - $b:+d})')")
	printf '%-8s %-28s %s\n' "$p" "$irr" "$(pairs "$p" bare cprof)"
done
if [ -f "$JE" ]; then
	printf '%-8s %-28s %s\n' window "jemalloc prof / jemalloc" "$(pairs window jemalloc jeprof)"
fi
