#!/bin/bash
# Reliability suite (issues 11 and 20), under production settings (durable PostgreSQL, 2 s blocks): crash safety
# under kill -9 (postmaster, stand-in, submitters, projectors, API), worker takeover and recovery (kill -9 and
# SIGSTOP of a submitter, SIGSTOP of the projector, a lost COMMIT answer), dependency faults, graceful rollout, rate
# limits across replicas, queue health under an old snapshot. Runs test/reliability/test_rel_*.py through
# test/lib/runtests.py against $GX_BIN_DIR (make test: the ASan binaries), collects the measured figures (JSON
# files) and writes docs/reliability-report.md from them (test/reliability/report.py).
# `make test` runs the short profile (about 4 minutes on 2 cores under ASan); `make reliability` the long one.
# Env: GX_BIN_DIR, GX_REL_PROFILE (short, the default, or long: longer chaos, more users and threads), GX_REL_JOBS
# (test files at a time, default 2), GX_REL_CHAOS_SECONDS (overrides the profile's chaos time), GX_REL_FILE_TIMEOUT
# (seconds per file, default 600), GX_REL_REPORT (report path, default docs/reliability-report.md).
# Last line: "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
br=${BUILDROOT:-build}
case $br in /*) ;; *) br=$repo/$br ;; esac
export GX_BIN_DIR=${GX_BIN_DIR:-$br/asan/bin}
report=${GX_REL_REPORT:-docs/reliability-report.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GX_REL_FIGURES=$tmp/figures
mkdir -p "$GX_REL_FIGURES"
export PYTHONPATH=$repo/test/reliability${PYTHONPATH:+:$PYTHONPATH}
export GX_REL_PROFILE=${GX_REL_PROFILE:-short}
echo "reliability profile: $GX_REL_PROFILE"

start=$SECONDS
# runtests.py runs the files in parallel, GX_TEST_JOBS at a time (each file owns its stack); two keep a 2-core
# machine busy without starving the recovery-time measurements
GX_TEST_JOBS=${GX_REL_JOBS:-2} GX_TEST_FILE_TIMEOUT=${GX_REL_FILE_TIMEOUT:-600} \
	/usr/bin/python3 test/lib/runtests.py "$repo"/test/reliability/test_rel_*.py 2>&1 | tee "$tmp/out.log"
rc=${PIPESTATUS[0]}
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/out.log" | tail -n 1)
if [ -z "$line" ]; then
	line="0 passed, 1 failed"
fi
/usr/bin/python3 test/reliability/report.py "$GX_REL_FIGURES" "$tmp/out.log" "$((SECONDS - start))" "$GX_BIN_DIR" \
	>"$report.tmp" && mv "$report.tmp" "$report" && echo "report written to $report"
p=${line%% passed*}
f=${line#*passed, }
f=${f%% failed*}
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
	f=1
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
