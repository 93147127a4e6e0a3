#!/bin/bash
# Resident memory of `cprof server` with N discovered scrape targets
# (file_sd_configs, closed ports, scrape_interval 60s), 8 s after start,
# against the same server with none: the per-target cost.
#   bench/server_target_memory.sh [CPROF_BINARY] [N]
set -eu
BIN=${1:-build/cprof}
N=${2:-1000}
rss() {   # rss N -> VmRSS kB
	local d
	d=$(mktemp -d)
	python3 -c "
import json, sys
n = int(sys.argv[1])
print(json.dumps([{'targets': ['127.0.0.1:%d' % (20000 + i) for i in range(n)],
                   'labels': {'env': 'prod', 'team': 'x'}}]))" "$1" > "$d/t.json"
	printf 'scrape_configs:\n  - job_name: j\n    scrape_interval: 60s\n    file_sd_configs: [{files: [%s]}]\n' \
		"$d/t.json" > "$d/c.yaml"
	"$BIN" server -data="$d/data" -http=127.0.0.1:0 -config="$d/c.yaml" 2>/dev/null &
	local p=$!
	sleep 8
	awk '/VmRSS/ {print $2}' "/proc/$p/status"
	kill "$p"
	wait "$p" 2>/dev/null || true
	rm -rf "$d"
}
a=$(rss 0)
b=$(rss "$N")
echo "targets=0 rss_kb=$a"
echo "targets=$N rss_kb=$b"
echo "per_target_kb=$(( (b - a) / N ))"
