#!/bin/sh
# golden.sh - regenerate the -list goldens with go tool pprof (Go 1.19), from
# the repo root: each line of cases.txt is "OUTPUT<tab>ARGS".
set -e
cd "$(dirname "$0")/../../.."
GOROOT_SRC=/usr/lib/go-1.19/src
grep -v '^#' tests/golden/list/cases.txt | while IFS='	' read -r out args; do
	[ -n "$out" ] || continue
	args=$(echo "$args" | sed "s|@GOROOT@|$GOROOT_SRC|g")
	# shellcheck disable=SC2086
	go tool pprof $args > "tests/golden/list/$out" 2>&1 || true
	echo "$out: $(wc -l < "tests/golden/list/$out") lines"
done
