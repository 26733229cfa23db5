#!/bin/bash
# Bounded libFuzzer run inside `make test`: builds every test/fuzz/fuzz_*.c target (make fuzz-bins, clang with
# ASan+UBSan) and runs each for GX_FUZZ_SECONDS (default 6) on a scratch corpus seeded from test/fuzz/corpus/<name>
# (the committed seeds are never modified). A crash, leak, sanitizer report or timeout fails that target; the
# reproducer is kept as $BUILDROOT/fuzz/crash-<name>-*. `make fuzz` runs longer (FUZZ_SECONDS, default 60).
# Last line: "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
br=${BUILDROOT:-build}
secs=${GX_FUZZ_SECONDS:-6}
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
notok() { fail=$((fail + 1)); echo "not ok - $1"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
	notok "clang is not installed (libFuzzer targets need it)"
	echo "$pass passed, $fail failed"
	exit 1
fi
if ! make -j2 BUILDROOT="$br" fuzz-bins >"$tmp/build.log" 2>&1 </dev/null; then
	tail -n 30 "$tmp/build.log"
	notok "make fuzz-bins"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok "make fuzz-bins"

for src in test/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	short=${name#fuzz_}
	bin=$br/fuzz/$name
	seeds=test/fuzz/corpus/$short
	work=$tmp/$short
	mkdir -p "$work"
	nseeds=$(find "$seeds" -type f 2>/dev/null | wc -l)
	dirs=("$work")
	[ "$nseeds" -gt 0 ] && dirs+=("$seeds")
	# -timeout: one input taking over 10 s is a hang; -rss_limit_mb bounds memory blowups
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$br/fuzz/crash-$short-" "${dirs[@]}" >"$tmp/$short.log" 2>&1 </dev/null
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$short.log" | tail -n 1)
	if [ $rc -eq 0 ] && [ "$nseeds" -gt 0 ] && ! grep -qE 'Sanitizer|runtime error:' "$tmp/$short.log"; then
		ok "$name: ${runs:-?} runs in ${secs}s from $nseeds seeds, no crash"
	elif [ "$nseeds" -eq 0 ]; then
		notok "$name: no seed corpus in $seeds"
	else
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|#[0-9]+ 0x' "$tmp/$short.log" | head -n 25
		notok "$name: exit $rc (reproduce: $bin <file written above>)"
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
