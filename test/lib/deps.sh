#!/usr/bin/env bash
# Install the Debian packages gx-backend needs to build, test and run locally (make deps).
# Idempotent: asks dpkg first and prints nothing when everything is present. Needs root (or sudo) only when
# something is missing. Node.js and npm may come from outside dpkg; an existing node/npm is never replaced.
set -euo pipefail

PKGS=(build-essential pkg-config libevent-dev libpq-dev libhiredis-dev libcjson-dev libmbedtls-dev
	libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev libgrpc-dev postgresql postgresql-contrib
	redis-server redis-tools libcrack2-dev cracklib-runtime iso-codes openssl curl python3 wrk gnuplot-nox clang-format)

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 && ! installed nodejs; then
	missing+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1 && ! installed npm; then
	missing+=(npm)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing missing packages: ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		echo "deps: missing packages and not root (no sudo): ${missing[*]}" >&2
		exit 1
	fi
fi
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
