#!/bin/bash
# bench/symbolize.sh - local symbolization of a large address-only profile:
# cprof (libdw) against go tool pprof on the same input, same run.
#
# A generated C file with NFUNCS functions (each with an inlined helper) is
# built -O2 -g as a PIE; a gperftools-format CPU profile (the legacy binary
# format, addresses and /proc/self/maps only) is written with NLOCS
# distinct addresses spread over that program's functions, in stacks of 4,
# and a second, smaller one with SMALL_NLOCS addresses.
# Timed, RUNS times each (median wall seconds and peak RSS):
#   cprof -top                     (decode + symbolize + report)
#   cprof -top -symbolize=none     (decode + report: the difference is symbolization)
#   go tool pprof -top             (Go's pprof reads the binary with its own
#                                   DWARF reader, which takes minutes per 100k
#                                   addresses: it runs on the smaller profile,
#                                   as cprof does there too, for the ratio)
# Nothing asserts a timing; the figures go to docs/PERFORMANCE.md by hand.
#
#   bench/symbolize.sh
#   NLOCS=200000 SMALL_NLOCS=10000 RUNS=5 bench/symbolize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
NFUNCS=${NFUNCS:-5000}
NLOCS=${NLOCS:-100000}
SMALL_NLOCS=${SMALL_NLOCS:-2000}
CPROF=${CPROF:-build/cprof}
OUT=bench/out/symbolize
mkdir -p "$OUT"
[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
command -v go >/dev/null || { echo "bench: go tool pprof is the baseline; install golang-go" >&2; exit 2; }
PPROF="$(go env GOTOOLDIR)/pprof"
[ -x "$PPROF" ] || PPROF="go tool pprof"

if [ ! -x "$OUT/big" ] || [ ! -s "$OUT/big.prof" ] || [ ! -s "$OUT/small.prof" ]; then
	python3 - "$OUT/big.c" "$NFUNCS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("static inline double helper(double x, long i) { return x * 1.0000001 + (double)(i & 7); }\n")
    for i in range(n):
        f.write("__attribute__((noinline)) double func_%d(long n) {\n"
                "  double x = %d;\n  for (long i = 0; i < n; i++)\n"
                "    x = helper(x, i) / (1.5 + (double)(i %% %d));\n  return x;\n}\n" % (i, i, i + 3))
    f.write("int main(int argc, char **argv) { double s = 0;\n")
    for i in range(n):
        f.write("  s += func_%d(argc);\n" % i)
    f.write("  return (int)s; }\n")
PY
	cc -O2 -g -fPIE -pie -o "$OUT/big" "$OUT/big.c"
	for spec in "big.prof $NLOCS" "small.prof $SMALL_NLOCS"; do
	set -- $spec
	python3 - "$OUT/big" "$OUT/$1" "$2" <<'PY'
import random, struct, subprocess, sys
exe, out, nlocs = sys.argv[1], sys.argv[2], int(sys.argv[3])
syms = []
for line in subprocess.run(["nm", "-S", "--defined-only", exe], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if len(p) == 4 and p[2] in "tT" and p[3].startswith("func_"):
        syms.append((int(p[0], 16), int(p[1], 16)))
load = None
for line in subprocess.run(["readelf", "-lW", exe], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if p and p[0] == "LOAD" and "E" in p[6:-1]:
        load = (int(p[1], 16), int(p[2], 16), int(p[5], 16))  # offset, vaddr, memsz
off, vaddr, memsz = load
base = 0x555555554000
start = base + (vaddr & ~0xfff)
rnd = random.Random(1)
addrs = set()
while len(addrs) < nlocs:
    a, sz = rnd.choice(syms)
    addrs.add(base + a + rnd.randrange(max(sz, 1)))
addrs = list(addrs)
rnd.shuffle(addrs)
words = [0, 3, 0, 10000, 0]
for i in range(0, len(addrs), 4):
    st = addrs[i:i + 4]
    words += [1 + (i % 7), len(st)] + st
words += [0, 1, 0]
with open(out, "wb") as f:
    f.write(struct.pack("<%dQ" % len(words), *words))
    f.write(("%x-%x r-xp %08x 00:00 0 %s\n" % (start, start + ((memsz + 0xfff) & ~0xfff),
             off & ~0xfff, exe)).encode())
PY
	done
fi
EXE="$(cd "$OUT" && pwd)/big"
PROF="$OUT/big.prof"

measure() {
	local walls=() rss=() i
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" >"$OUT/stdout.txt" 2>"$OUT/stderr.txt" || {
			echo "bench: failed: $*" >&2; cat "$OUT/stderr.txt" >&2; exit 1; }
		read -r w m <"$OUT/time.txt"
		walls+=("$w"); rss+=("$m")
	done
	printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p" | tr '\n' ' '
	printf '%s\n' "${rss[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p"
}

nlocs() { "$CPROF" -raw -symbolize=none "$1" | sed -n '/^Locations/,/^Mappings/p' | grep -c ' M='; }
echo "binary: $EXE ($NFUNCS functions); median of $RUNS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %8s %10s\n' "" "wall s" "peak KB"
row() { printf '%-44s %8s %10s\n' "$1" "$2" "$3"; }
for prof in "$OUT/big.prof" "$OUT/small.prof"; do
	n=$(nlocs "$prof")
	read -r cw cm < <(measure "$CPROF" -top "$EXE" "$prof")
	grep -q helper "$OUT/stdout.txt" || { echo "bench: cprof did not symbolize" >&2; exit 1; }
	read -r nw nm < <(measure "$CPROF" -top -symbolize=none "$EXE" "$prof")
	row "$n locations: cprof -top" "$cw" "$cm"
	row "$n locations: cprof -top -symbolize=none" "$nw" "$nm"
	awk -v c="$cw" -v n="$nw" 'BEGIN { printf "%-44s %8.2f\n", "  symbolization alone (difference)", c - n }'
	if [ "$prof" = "$OUT/small.prof" ]; then
		read -r gw gm < <(measure $PPROF -top "$EXE" "$prof")
		grep -q func_ "$OUT/stdout.txt" || echo "bench: note: go tool pprof named no func_ function" >&2
		row "$n locations: go tool pprof -top" "$gw" "$gm"
		awk -v c="$cw" -v g="$gw" 'BEGIN { if (c > 0) printf "pprof / cprof wall on %s: %.1fx\n", "the same profile", g / c }'
	fi
done
