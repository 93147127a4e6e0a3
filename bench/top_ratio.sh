#!/bin/bash
# bench/top_ratio.sh - `cprof -top` against `go tool pprof -top` on the large
# generated profiles, as ratios measured in the same session, and the web
# UI's cold flame graph of a 1M-sample profile.
#
# For each profile, PAIRS interleaved pairs (cprof then pprof, default 5):
# CPU time (user + system, /usr/bin/time) and peak RSS of each run.  Prints
# per profile the median CPU seconds and MB of each tool, the median of the
# per-pair ratios (pprof / cprof) and their spread (min..max).  CPU time,
# not wall time: the machine may be shared.  Then FLAME_RUNS cold builds of
# the flame tree of cpu-1m (bench/flame_cold.c: cprof_flame_build, what the
# web UI's first flame request runs, and the JSON write), CPU seconds.
# Nothing here asserts a timing; the figures go to docs/PERFORMANCE.md.
#
#   bench/top_ratio.sh
#   PAIRS=9 PROFILES=alloc-600k FLAME_RUNS=0 bench/top_ratio.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-5}
FLAME_RUNS=${FLAME_RUNS:-5}
PROFILES=${PROFILES:-"alloc-600k cpu-200k-deep"}
CPROF=${CPROF:-build/cprof}
OUT=bench/out
[ -x "$CPROF" ] || { echo "bench: build cprof first (make)" >&2; exit 2; }
[ -f build/libcprofreport.a ] || { echo "bench: build the libraries first (make)" >&2; exit 2; }
command -v go >/dev/null || { echo "bench: go tool pprof is the baseline (./setup.sh)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is needed (./setup.sh)" >&2; exit 2; }
PPROF="$(go env GOTOOLDIR)/pprof"
[ -x "$PPROF" ] || { echo "bench: $PPROF not found" >&2; exit 2; }
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

[ -x "$OUT/gen" ] || cc -O2 -std=c11 -D_GNU_SOURCE -Isrc/core bench/gen.c build/libcprofcore.a -lz -lm -o "$OUT/gen"
gen() {   # name: make bench/out/NAME.pb.gz when missing (bench/run.sh's and webui.sh's)
	local f="$OUT/$1.pb.gz"
	[ -s "$f" ] && return
	case $1 in
	alloc-600k) "$OUT/gen" -type heap -samples 600000 -locations 100000 -functions 20000 -depth 4:12 "$f" ;;
	cpu-200k-deep) "$OUT/gen" -type cpu -samples 200000 -locations 100000 -functions 20000 -depth 8:40 "$f" ;;
	cpu-1m) "$OUT/gen" -type cpu -samples 1000000 -locations 100000 -functions 20000 -depth 8:40 "$f" ;;
	*) echo "bench: unknown profile $1" >&2; exit 2 ;;
	esac
}

# run CMD...: "cpu_s rss_kb" of one run (output discarded)
run() {
	/usr/bin/time -f "%U %S %M" -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" || {
		echo "bench: failed: $*" >&2; cat "$TMP/err" >&2; exit 1; }
	awk '{ printf "%.2f %d\n", $1 + $2, $3 }' "$TMP/time"
}

printf '%-14s %9s %9s %9s %9s %22s %22s\n' profile cprof_s pprof_s cprof_MB pprof_MB "cpu ratio (min..max)" "mem ratio (min..max)"
for name in $PROFILES; do
	gen "$name"
	f="$OUT/$name.pb.gz"
	: >"$TMP/pairs"
	for ((i = 0; i < PAIRS; i++)); do
		read -r cs cm < <(run "$CPROF" -top "$f")
		read -r ps pm < <(run "$PPROF" -top -symbolize=none "$f")
		echo "$cs $cm $ps $pm" >>"$TMP/pairs"
	done
	sort -g "$TMP/pairs" | awk -v n="$name" '
		function med(a, k,   t, i, j) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
		{ k++; cs[k] = $1; cm[k] = $2; ps[k] = $3; pm[k] = $4
		  r = $1 > 0 ? $3 / $1 : 0; m = $2 > 0 ? $4 / $2 : 0; rc[k] = r; rm[k] = m
		  if (k == 1 || r < rlo) rlo = r; if (k == 1 || r > rhi) rhi = r
		  if (k == 1 || m < mlo) mlo = m; if (k == 1 || m > mhi) mhi = m }
		END { printf "%-14s %9.2f %9.2f %9.1f %9.1f %8.1fx (%.1f..%.1f) %8.1fx (%.1f..%.1f)\n", n,
			med(cs, k), med(ps, k), med(cm, k) / 1024, med(pm, k) / 1024,
			med(rc, k), rlo, rhi, med(rm, k), mlo, mhi }'
done
if [ "$FLAME_RUNS" -gt 0 ]; then
	gen cpu-1m
	cc -O2 -D_GNU_SOURCE -Isrc/core -Isrc/report bench/flame_cold.c build/libcprofreport.a \
	   build/libcprofcore.a -lz -lpcre2-8 -lm -o "$OUT/flame_cold"
	"$OUT/flame_cold" "$OUT/cpu-1m.pb.gz" "$FLAME_RUNS" | sort -g | awk '
		{ v[++k] = $1; w = $2; b = $3 }
		END { printf "cpu-1m cold flame tree (cprof_flame_build): median %.3f s CPU (%.3f..%.3f) over %d builds; JSON write %.3f s, %d bytes\n",
			k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2, v[1], v[k], k, w, b }'
fi
echo "# $PAIRS interleaved pairs per profile, CPU = user + system; machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
