#!/bin/bash
# bench/bombs.sh - the command on hostile inputs: peak RSS (/usr/bin/time
# -f %M) and wall time of `cprof -top` on each decompression bomb made by
# bench/bombgen.py (gzip of zeros, of text, and profile.proto bombs: empty
# samples, empty strings, one huge string, one huge stack), on /dev/zero,
# and on a normal profile of about the same compressed size (bench/gen.c),
# plus the time of a backtracking regexp (-focus='(.*a){25}') on long names
# against an ordinary one on the same profile.
#
#   bench/bombs.sh                  # 4 GiB bombs (SIZE_MIB=4096)
#   SIZE_MIB=1024 RUNS=3 bench/bombs.sh
#
# Each row is the median of RUNS (default 3) runs; the ratio column is the
# peak RSS against the normal profile's, measured in the same session.
# Nothing asserts a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-4096}
CPROF=${CPROF:-build/cprof}
OUT=bench/out/bombs
[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
mkdir -p "$OUT"
for k in zeros text folded empty_samples strings big_string long_stack; do
	[ -s "$OUT/$k.gz" ] || python3 bench/bombgen.py "$k" "$OUT/$k.gz" "$SIZE_MIB"
done
[ -x "$OUT/gen" ] || cc -O2 -std=c11 -D_GNU_SOURCE -Isrc/core bench/gen.c build/libcprofcore.a -lz -lm -o "$OUT/gen"
# a normal profile of about the bombs' compressed size
want=$(stat -c %s "$OUT/zeros.gz")
[ -s "$OUT/normal.pb.gz" ] || "$OUT/gen" -type cpu -samples $((want / 30)) -locations 20000 \
	-functions 5000 -depth 4:16 "$OUT/normal.pb.gz"
python3 - "$OUT/long.folded" <<'PY'
import random, sys
rnd = random.Random(1)
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        names = ["".join(rnd.choice("abcdefgha_") for _ in range(120)) for _ in range(3)]
        f.write(";".join(names) + " %d\n" % (i + 1))
PY

# median of RUNS: "KiB seconds"
measure() {
	local i
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -f "%M %e" -o "$OUT/time.txt" timeout 600 "$CPROF" "$@" >/dev/null 2>"$OUT/err.txt" || true
		cat "$OUT/time.txt" | tail -1
	done | sort -n | awk -v n="$RUNS" '{a[NR]=$0} END {print a[int((n+1)/2)]}'
}

normal=$(measure -top "$OUT/normal.pb.gz")
nkb=${normal%% *}
printf '%-34s %12s %12s %9s %8s  %s\n' input "file bytes" "peak RSS KiB" "vs normal" seconds "message"
row() {
	local name=$1 file=$2; shift 2
	local m kb s msg
	m=$(measure "$@")
	kb=${m%% *}; s=${m##* }
	msg=$(head -c 90 "$OUT/err.txt" | head -1)
	printf '%-34s %12s %12s %9s %8s  %s\n' "$name" "$( [ -f "$file" ] && stat -c %s "$file" || echo -)" \
		"$kb" "$(awk -v a="$kb" -v b="$nkb" 'BEGIN {printf "%.2fx", a / b}')" "$s" "$msg"
}
row "normal profile (bench/gen.c)" "$OUT/normal.pb.gz" -top "$OUT/normal.pb.gz"
for k in zeros text folded empty_samples strings big_string long_stack; do
	row "$k.gz (${SIZE_MIB} MiB inflated)" "$OUT/$k.gz" -top "$OUT/$k.gz"
done
row "/dev/zero" /dev/zero -top /dev/zero
row "-focus=(.*a){25} on long names" "$OUT/long.folded" -top '-focus=(.*a){25}' "$OUT/long.folded"
row "-focus=a.*b on the same names" "$OUT/long.folded" -top '-focus=a.*b' "$OUT/long.folded"
