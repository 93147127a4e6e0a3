#!/bin/bash
# bench/dlopen.sh - what the runtime costs a program that dlopens and
# dlcloses libraries in a loop (plugins, interpreters importing modules):
# bench/dlopen_loop.c, CYCLES times dlopen + dlsym + dlclose of each
# library in LIBS, bare and under a CPU profile (whose unwinder needs every
# loaded module's table: the runtime builds them on its own thread and
# keeps them across dlclose, so the same file loaded again takes its table
# back).  Configurations run in rotating order ROUNDS times; printed: the
# median wall and CPU seconds (user + system, /usr/bin/time) of each, and
# the median of the rounds' own CPU ratios with their spread.  LIB=... for
# another libcprof.so (e.g. an older build, for a before/after pair).
# Nothing asserts.
#
#   bench/dlopen.sh
#   ROUNDS=7 CYCLES=1200 bench/dlopen.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
CYCLES=${CYCLES:-1200}
LIB=${LIB:-build/libcprof.so}
OUT=bench/out/dlopen
mkdir -p "$OUT"
[ -f "$LIB" ] || { echo "bench: build libcprof.so first (make)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (./setup.sh)" >&2; exit 2; }
cc -O2 bench/dlopen_loop.c -o "$OUT/dlopen_loop" -ldl
cc -O1 -g -shared -fPIC -Itests/runtime/robust tests/runtime/robust/dlib.c -o "$OUT/dlib.so"
LIBS=${LIBS:-$OUT/dlib.so /usr/lib/x86_64-linux-gnu/libsqlite3.so.0}
LIBP=$(realpath "$LIB")

run() {   # CONFIG TARGET FILE
	local tm=(/usr/bin/time -f "%e %U %S" -o "$OUT/time.txt")
	case $1 in
	bare) "${tm[@]}" "$OUT/dlopen_loop" "$2" "$CYCLES" >/dev/null ;;
	cpu) LD_PRELOAD="$LIBP" CPROF_CPU_PROFILE="$OUT/cpu.pb.gz" "${tm[@]}" \
		"$OUT/dlopen_loop" "$2" "$CYCLES" >/dev/null 2>&1 ;;
	esac
	awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$OUT/time.txt" >>"$3"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf "%-44s %8s %8s %8s %8s   %s\n" library "bare s" "cpu s" "bare cpu" "prof cpu" "CPU ratio (spread)"
for l in $LIBS; do
	[ -f "$l" ] || { echo "bench: no $l, skipped" >&2; continue; }
	rm -f "$OUT"/t.*
	for r in $(seq 0 $((ROUNDS - 1))); do
		if [ $((r % 2)) = 0 ]; then run bare "$l" "$OUT/t.bare"; run cpu "$l" "$OUT/t.cpu"
		else run cpu "$l" "$OUT/t.cpu"; run bare "$l" "$OUT/t.bare"; fi
	done
	paste -d' ' "$OUT/t.cpu" "$OUT/t.bare" | awk '{ print ($4 > 0) ? $2 / $4 : 0 }' >"$OUT/r"
	printf "%-44s %8s %8s %8s %8s   %.2fx (%.2f..%.2f)\n" "$(basename "$l")" \
		"$(cut -d' ' -f1 "$OUT/t.bare" | median)" "$(cut -d' ' -f1 "$OUT/t.cpu" | median)" \
		"$(cut -d' ' -f2 "$OUT/t.bare" | median)" "$(cut -d' ' -f2 "$OUT/t.cpu" | median)" \
		"$(median <"$OUT/r")" "$(sort -g "$OUT/r" | head -1)" "$(sort -g "$OUT/r" | tail -1)"
done
