#!/usr/bin/env bash
# curl smoke test of a running stack: GET /health /livez /readyz /metrics on each of the nine daemons, one
# representative call of each (an API's OpenAPI document and a real route answered through the database or Redis; a
# worker's own metrics), then the calls in test/smoke.d/<daemon>.sh when such a file exists. Read-only: safe against
# any stack (nothing is written but the failed-login counter of a made-up email, new each run).
#   test/smoke.sh                      against make up on 127.0.0.1 (APIs 3001..3007, workers 9090/9091)
#   test/smoke.sh HOST --nodeports     against a cluster: APIs on NodePorts 30001..30007, workers 9090/9091 on HOST
# Env: GX_SMOKE_DAEMONS="svc-identity projector ..." limits the daemons checked (default: all nine);
#      GX_PORT_OFFSET (0) is added to every port (a stack started with the same GX_PORT_OFFSET, test/lib/stack.sh).
# One line per check, "N passed, N failed" last; exit 1 on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
host=127.0.0.1
nodeports=0
for arg in "$@"; do
	case "$arg" in
	--nodeports) nodeports=1 ;;
	-h | --help) sed -n '2,10p' "$0"; exit 0 ;;
	-*) echo "smoke: unknown option $arg" >&2; exit 2 ;;
	*) host=$arg ;;
	esac
done

declare -A PORT=([svc-identity]=3001 [svc-admin]=3002 [svc-tokenomics]=3003 [svc-organization]=3004
	[svc-loanpool]=3005 [svc-governance]=3006 [svc-tax]=3007 [outbox-submitter]=9090 [projector]=9091)
ALL="svc-identity svc-admin svc-tokenomics svc-organization svc-loanpool svc-governance svc-tax outbox-submitter projector"
read -r -a daemons <<<"${GX_SMOKE_DAEMONS-$ALL}"

pass=0
fail=0
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# check LABEL EXPECTED_STATUS METHOD URL [BODY_REGEX [curl args...]]
#   passes when the status matches and (if given, non-empty) the body matches the extended regex BODY_REGEX.
# Available to test/smoke.d/*.sh together with $BASE (the daemon's base URL) and $NAME.
check() {
	local label=$1 want=$2 method=$3 url=$4 regex=${5:-} code
	shift 4
	[ $# -gt 0 ] && shift
	code=$(curl -s -o "$body" -w '%{http_code}' --max-time 10 -X "$method" "$@" "$url" 2>/dev/null) || true
	if [ "$code" != "$want" ]; then
		printf 'not ok - %s: %s %s -> %s, want %s %s\n' "$label" "$method" "$url" "${code:-000}" "$want" \
			"$(head -c 200 "$body" | tr '\n' ' ')"
		fail=$((fail + 1))
	elif [ -n "$regex" ] && ! grep -Eq -- "$regex" "$body"; then
		printf 'not ok - %s: %s %s -> %s but body does not match /%s/: %s\n' "$label" "$method" "$url" "$code" \
			"$regex" "$(head -c 200 "$body" | tr '\n' ' ')"
		fail=$((fail + 1))
	else
		printf 'ok - %s: %s %s -> %s\n' "$label" "$method" "$url" "$code"
		pass=$((pass + 1))
	fi
}

# A made-up id: answered 404 through the database (never created by anyone).
NOID=00000000-0000-4000-8000-00000000dead
JSON=(-H 'Content-Type: application/json')
err() { printf '"code": *"%s"' "$1"; } # body regex of the one error format with code $1

# representative NAME: one real call per daemon beyond health, with the answer's status and shape.
representative() {
	case $1 in
	svc-*)
		check "$1 openapi" 200 GET "$BASE/openapi.json" '"openapi": *"3\.'
		check "$1 unknown route" 404 GET "$BASE/api/v1/no-such-route" "$(err NOT_FOUND)"
		check "$1 command status of an unknown id" 404 GET "$BASE/api/v1/commands/$NOID" \
			"$(err COMMAND_NOT_FOUND)"
		;;
	esac
	case $1 in
	svc-identity)
		check "$1 login with bad credentials" 401 POST "$BASE/api/v1/auth/login" \
			"$(err INVALID_CREDENTIALS)" "${JSON[@]}" \
			--data "{\"email\":\"smoke-$$-$RANDOM@example.com\",\"password\":\"not-the-password\"}" ;;
	svc-admin)
		check "$1 system status" 200 GET "$BASE/api/v1/system/status" '"isBootstrapped": *(true|false)'
		check "$1 countries (seeded)" 200 GET "$BASE/api/v1/countries?limit=5" '"code": *"A[A-Z]"' ;;
	svc-tokenomics)
		check "$1 balance without a token" 401 GET "$BASE/api/v1/wallets/$NOID/balance" \
			"$(err UNAUTHORIZED)" ;;
	svc-organization)
		check "$1 unknown organization" 404 GET "$BASE/api/v1/organizations/$NOID" "$(err ORG_NOT_FOUND)" ;;
	svc-loanpool)
		check "$1 loan application without a token" 401 POST "$BASE/api/v1/loans" "$(err UNAUTHORIZED)" \
			"${JSON[@]}" --data '{}' ;;
	svc-governance)
		check "$1 proposals" 200 GET "$BASE/api/v1/proposals?status=ALL&limit=5" '"proposals": *\[' ;;
	svc-tax)
		check "$1 fee quote" 200 POST "$BASE/api/v1/fees/calculate" '"feeQirat": *"10000"' "${JSON[@]}" \
			--data '{"amount":10000000}' ;;
	outbox-submitter)
		check "$1 outbox metrics" 200 GET "$BASE/metrics" '^gx_outbox_queue_depth[ {]' ;;
	projector)
		check "$1 projector metrics" 200 GET "$BASE/metrics" '^gx_projector_last_block[ {]' ;;
	esac
}

for NAME in "${daemons[@]}"; do
	port=${PORT[$NAME]:-}
	if [ -z "$port" ]; then
		echo "smoke: unknown daemon $NAME" >&2
		exit 2
	fi
	if [ $nodeports -eq 1 ] && [ "$port" -lt 9000 ]; then
		port=$((port + 27000))
	fi
	port=$((port + ${GX_PORT_OFFSET:-0}))
	BASE="http://$host:$port"
	check "$NAME health" 200 GET "$BASE/health"
	check "$NAME livez" 200 GET "$BASE/livez"
	check "$NAME readyz" 200 GET "$BASE/readyz"
	check "$NAME metrics" 200 GET "$BASE/metrics" '^# TYPE '
	representative "$NAME"
	if [ -f "$HERE/smoke.d/$NAME.sh" ]; then
		# shellcheck disable=SC1090
		. "$HERE/smoke.d/$NAME.sh"
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
