#!/bin/bash
# bench/fork_ab.sh - two builds of libcprof.so against each other on the
# fork loop (bench/fork_loop.c: fork + _exit(0) + waitpid, FORKS times):
# bare, bare with one idle thread (bare_thr: what any multi-threaded
# program's fork pays, for reference), A preloaded, B preloaded, A and B
# with a CPU profile, in rotating order PAIRS times.  Printed: the median CPU microseconds per fork (user
# + system of the process and its children, as fork_loop reports them),
# the median of each round's own ratio B/A and to bare with the spread
# (min..max), and page faults per fork (perf stat, counts exact) when perf
# is there.  Nothing asserts.
#
#   bench/fork_ab.sh OLD/libcprof.so build/libcprof.so
#   PAIRS=21 FORKS=4000 bench/fork_ab.sh A.so B.so
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bench/fork_ab.sh LIB_A LIB_B" >&2; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
PAIRS=${PAIRS:-15}
FORKS=${FORKS:-2000}
OUT=bench/out/fork_ab
mkdir -p "$OUT"
cc -O2 -pthread bench/fork_loop.c -o "$OUT/fork_loop"
rm -f "$OUT"/*.cpu
CONFIGS=(bare bare_thr a b a_cpu b_cpu)

run() {   # CONFIG: appends the CPU us per fork to $OUT/CONFIG.cpu
	local lib=
	case $1 in bare*) ;; a*) lib=$A ;; b*) lib=$B ;; esac
	local envs=()
	[ -n "$lib" ] && envs+=(LD_PRELOAD="$lib")
	case $1 in *_cpu) envs+=(CPROF_CPU_PROFILE="$OUT/cpu.pb.gz") ;; esac
	local thr=; [ "$1" = bare_thr ] && thr=thread
	env "${envs[@]}" "$OUT/fork_loop" "$FORKS" $thr 2>/dev/null | awk '{ print $6 }' >>"$OUT/$1.cpu"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() {   # X Y: median (min..max) of the rounds' X/Y
	paste -d' ' "$OUT/$1.cpu" "$OUT/$2.cpu" | awk '{ print $1 / $2 }' >"$OUT/r"
	printf "%.3f (%.3f..%.3f)" "$(median <"$OUT/r")" "$(sort -g "$OUT/r" | head -1)" "$(sort -g "$OUT/r" | tail -1)"
}
for r in $(seq 0 $((PAIRS - 1))); do
	for k in 0 1 2 3 4 5; do run "${CONFIGS[$(((r + k) % 6))]}"; done
done
printf "%-8s %14s %-24s %-24s %s\n" config "cpu us/fork" "x bare (spread)" "B/A (spread)" "faults/fork"
for c in "${CONFIGS[@]}"; do
	pf=-
	if command -v perf >/dev/null; then
		lib=; case $c in bare*) ;; a*) lib=$A ;; b*) lib=$B ;; esac
		envs=(); [ -n "$lib" ] && envs+=(LD_PRELOAD="$lib")
		case $c in *_cpu) envs+=(CPROF_CPU_PROFILE="$OUT/cpu.pb.gz") ;; esac
		thr=; [ "$c" = bare_thr ] && thr=thread
		pf=$(perf stat -x, -e page-faults --inherit env "${envs[@]}" "$OUT/fork_loop" "$FORKS" $thr 2>&1 >/dev/null |
			awk -F, -v n="$FORKS" '$3 == "page-faults" { printf "%.1f", $1 / n }') || pf=-
	fi
	ab=; case $c in b) ab=$(ratio b a) ;; b_cpu) ab=$(ratio b_cpu a_cpu) ;; esac
	printf "%-8s %14s %-24s %-24s %s\n" "$c" "$(median <"$OUT/$c.cpu")" \
		"$([ "$c" = bare ] && echo - || ratio "$c" bare)" "${ab:--}" "$pf"
done
