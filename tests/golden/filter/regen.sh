#!/bin/bash
# regen.sh: rewrite NAME.txt for every case of cases.txt with go tool pprof
# (Go 1.19), in UTC.  Needs `go` on PATH.
set -eu
cd "$(dirname "$0")"
grep -v '^#' cases.txt | while read -r name prof args; do
  [ -n "$name" ] || continue
  # shellcheck disable=SC2086
  TZ=UTC go tool pprof -symbolize=none $args "$prof" > "$name.txt" 2>&1 || echo "exit $?" >> "$name.txt"
done
