#!/usr/bin/env bash
# Run every unit-test binary (test_*) in a directory (make test-unit; make test runs it for both build modes).
# Counts the "ok N - name" / "not ok N - name" lines of test/unit/gx_test.h. A binary that exits non-zero without
# reporting a failing test (crash, sanitizer abort, missing summary) counts as one more failure.
# Last line: "N passed, N failed". Exit 1 when anything failed.
#   GX_UNIT_TIMEOUT  seconds per binary (default 300)
set -euo pipefail

dir=${1:?usage: run-unit.sh <dir with test_* binaries>}
limit=${GX_UNIT_TIMEOUT:-300}
pass=0
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

shopt -s nullglob
for bin in "$dir"/test_*; do
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		continue
	fi
	name=$(basename "$bin")
	echo "# $name"
	rc=0
	timeout --kill-after=5 "$limit" "$bin" >"$out" 2>&1 </dev/null || rc=$?
	cat "$out"
	p=$(grep -c '^ok ' "$out" || true)
	f=$(grep -c '^not ok ' "$out" || true)
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$rc" -ne 0 ]; then
		if [ "$f" -eq 0 ] || ! grep -q '^# [0-9]* passed, [0-9]* failed' "$out"; then
			if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
				why="timed out after ${limit}s"
			elif [ "$rc" -gt 128 ]; then
				why="killed by signal $((rc - 128))"
			else
				why="exit status $rc"
			fi
			echo "not ok - $name: $why without a failing test to show for it (crash or sanitizer report above)"
			fail=$((fail + 1))
		fi
	elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name: ran no tests"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
