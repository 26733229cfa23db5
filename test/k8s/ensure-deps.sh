#!/bin/bash
# Install the pinned Node packages of the k8s validation (npm ci from package-lock.json) unless node_modules
# already matches the lock file. Serialised with a lock so parallel runs do not race.
set -euo pipefail
cd "$(dirname "$0")"
exec 9>"${TMPDIR:-/tmp}/gx-k8s-npm.lock"
flock 9
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
	exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >&2
