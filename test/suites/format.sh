#!/bin/bash
# Inside `make test`: every C source and header is formatted as .clang-format says (make format-check, one test).
# Last line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! command -v clang-format >/dev/null; then
	echo "not ok - clang-format is not installed (make deps installs it)"
	echo "0 passed, 1 failed"
	exit 1
fi
if make --no-print-directory format-check </dev/null; then
	echo "ok - make format-check"
	echo "1 passed, 0 failed"
else
	echo "not ok - make format-check (run make format)"
	echo "0 passed, 1 failed"
	exit 1
fi
