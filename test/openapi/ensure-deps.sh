#!/bin/bash
# Install the pinned Node packages of the OpenAPI and /docs checks (test/suites/openapi.sh) from package-lock.json
# (npm ci) unless node_modules already matches it. Serialised with a lock.
set -euo pipefail
cd "$(dirname "$0")"
exec 9>"${TMPDIR:-/tmp}/gx-openapi-npm.lock"
flock 9
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
	exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >&2
