#!/bin/bash
# tests/run.sh - `make test`: every suite, then one closing line that adds
# them up ("tests: N passed, N failed, N skipped").
#
# Stages: unit + e2e (normal build), fuzz smoke runs, unit + e2e again with
# AddressSanitizer and UndefinedBehaviorSanitizer.  Each stage's output is
# shown as it runs and kept in build/test-logs/ for the tally.
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
logs=build/test-logs
rm -rf "$logs"
mkdir -p "$logs"

status=0
stage() {
	local name=$1; shift
	echo "==== $name: $*"
	"$@" 2>&1 | tee "$logs/$name.log"
	local rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] || { echo "==== $name failed (exit $rc)"; status=1; }
}

stage check "$MAKE" --no-print-directory check
stage fuzz "$MAKE" --no-print-directory fuzz-smoke
stage sanitize "$MAKE" --no-print-directory sanitize

# Tally: cmocka's "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)",
# pytest's "N passed, N failed, N skipped", one per passing fuzz target.
passed=0 failed=0 skipped=0
for f in "$logs"/*.log; do
	while read -r n; do passed=$((passed + n)); done < <(grep -aoP '^\[  PASSED  \] \K[0-9]+' "$f")
	while read -r n; do failed=$((failed + n)); done < <(grep -aoP '^\[  FAILED  \] \K[0-9]+(?= test)' "$f")
	while read -r line; do
		p=$(grep -oP '[0-9]+(?= passed)' <<<"$line" || true)
		x=$(grep -oP '[0-9]+(?= failed)' <<<"$line" || true)
		s=$(grep -oP '[0-9]+(?= skipped)' <<<"$line" || true)
		passed=$((passed + ${p:-0})); failed=$((failed + ${x:-0})); skipped=$((skipped + ${s:-0}))
	done < <(grep -aE '^(=+ )?[0-9]+ (passed|failed)' "$f")
	while read -r n; do passed=$((passed + 1)); done < <(grep -aoP '^== fuzz_\S+: passed' "$f")
done
fuzzfail=$(grep -acE '^==[0-9]+==ERROR|^SUMMARY: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)' "$logs/fuzz.log" || true)
failed=$((failed + fuzzfail))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
