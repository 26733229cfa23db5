#!/usr/bin/env bash
# make test: install missing packages, build release and ASan+UBSan, run unit tests in both modes, integration tests
# against the ASan binaries, the curl smoke test against a started stack, then every test/suites/*.sh.
# Every suite prints "N passed, N failed" as its last line; this script adds them up and prints one final line
# "N passed, N failed". A failed build, a crashed suite or a suite without that line counts as a failure.
# Exit status 1 when anything failed.
# Env: BUILDROOT (default build), GX_SUITE_TIMEOUT seconds per suite (default 900), GX_SKIP_SMOKE=1 skips the smoke stack.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PY=/usr/bin/python3
BR=${BUILDROOT:-build}
case $BR in /*) ;; *) BR=$REPO/$BR ;; esac
export BUILDROOT=$BR
SUITE_TIMEOUT=${GX_SUITE_TIMEOUT:-900}
SAN_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:disable_coredump=1
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 GX_BIN_DIR="$BR/asan/bin")

total_pass=0
total_fail=0
report=()
start=$SECONDS
out=$(mktemp)
started_stack=0
cleanup() {
	rm -f "$out"
	if [ $started_stack -eq 1 ]; then
		test/lib/stack.sh down || true
	fi
}
trap cleanup EXIT

banner() { printf '\n==== %s ====\n' "$*"; }

failure() { # name message
	total_fail=$((total_fail + 1))
	report+=("$(printf '%-28s FAILED: %s' "$1" "$2")")
	printf 'not ok - %s: %s\n' "$1" "$2"
}

# suite NAME CMD...: run, show output, add its last "N passed, N failed" line to the totals.
suite() {
	local name=$1 rc=0 line p f t0=$SECONDS
	shift
	banner "$name"
	timeout --kill-after=10 "$SUITE_TIMEOUT" "$@" </dev/null 2>&1 | tee "$out" || rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 || true)
	if [ -z "$line" ]; then
		failure "$name" "exit status $rc and no 'N passed, N failed' line"
		return 0
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	report+=("$(printf '%-28s %s  (%ds)' "$name" "$line" $((SECONDS - t0)))")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		failure "$name" "exit status $rc although it reported no failure"
	fi
}

build() { # name make-args...
	local name=$1 t0=$SECONDS
	shift
	banner "$name"
	if make -k -j2 BUILDROOT="$BR" "$@" all </dev/null; then
		report+=("$(printf '%-28s ok  (%ds)' "$name" $((SECONDS - t0)))")
	else
		failure "$name" "make${*:+ $*} all failed; see the compiler output above"
	fi
}

banner "deps"
test/lib/deps.sh || failure deps "test/lib/deps.sh failed; packages may be missing"

build "build (release)"
build "build (asan)" SANITIZE=1

suite "unit (release)" test/lib/run-unit.sh "$BR/release/test"
suite "unit (asan)" env "${SAN_ENV[@]}" test/lib/run-unit.sh "$BR/asan/test"
# the Node packages some integration tests use as a reference client, installed once before files run in parallel
test/conformance/ensure-deps.sh || echo "note: npm ci of test/conformance failed; tests that need it will say so"
suite "integration (asan)" env "${SAN_ENV[@]}" "$PY" test/lib/runtests.py

if [ -z "${GX_SKIP_SMOKE:-}" ]; then
	banner "smoke stack"
	built=()
	for d in svc-identity svc-admin svc-tokenomics svc-organization svc-loanpool svc-governance svc-tax \
		outbox-submitter projector; do
		if [ -x "$BR/release/bin/$d" ]; then
			built+=("$d")
		fi
	done
	if [ ${#built[@]} -eq 0 ]; then
		echo "no daemon is built: smoke test has nothing to check"
		suite "smoke" env GX_SMOKE_DAEMONS= test/smoke.sh
	elif test/lib/stack.sh status >/dev/null 2>&1; then
		echo "a stack is already running (make up): smoke-testing it and leaving it running"
		suite "smoke" env GX_SMOKE_DAEMONS="${built[*]}" test/smoke.sh
	else
		started_stack=1
		if GX_NO_BUILD=1 test/lib/stack.sh up; then
			suite "smoke" env GX_SMOKE_DAEMONS="${built[*]}" test/smoke.sh
		else
			failure "smoke" "test/lib/stack.sh up failed (logs in run/logs)"
			tail -n 40 run/logs/*.log 2>/dev/null || true
		fi
		test/lib/stack.sh down || failure "smoke" "test/lib/stack.sh down failed"
		started_stack=0
	fi
fi

shopt -s nullglob
# suites that write reports (reliability) write them into the build tree here; `make reliability` updates docs/
for s in test/suites/*.sh; do
	suite "$(basename "$s" .sh)" env "${SAN_ENV[@]}" GX_REL_REPORT="$BR/reliability-report.md" bash "$s"
done

banner "summary ($((SECONDS - start))s)"
printf '%s\n' "${report[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
