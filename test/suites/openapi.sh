#!/bin/bash
# The seven OpenAPI documents and the /docs page, checked with the ecosystem's own tools (pinned in
# test/openapi/package.json, installed with npm ci):
#   - every svc-*/openapi.json: @apidevtools/swagger-parser validates it, `redocly lint` (recommended rules,
#     test/openapi/redocly.yaml) finds no error or warning, every operation has a unique camelCase operationId and an
#     explicit security, and the operationIds of test/openapi/operation-ids.txt are unchanged (check-document.mjs);
#   - self-test: broken copies of a document (one fault each, break-document.py) are each refused for that fault;
#   - every API daemon (GX_BIN_DIR, on free ports, with the real Swagger UI files of common/docs-ui in DOCS_ASSETS)
#     serves /docs, which headless Chromium (Debian's chromium, through playwright-core) renders with every operation
#     of the document, "Try it out" working and no Content-Security-Policy violation (docs-page.mjs); screenshots in
#     <build>/artifacts/docs-<daemon>.png;
#   - self-test: the same page with one inline script added (a proxy) is refused for the CSP violation.
# Installs chromium with apt-get when it is missing. Last line: "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
br=${BUILDROOT:-build}
case $br in /*) ;; *) br=$repo/$br ;; esac
bin=${GX_BIN_DIR:-$br/release/bin}
t=$repo/test/openapi
artifacts=$br/artifacts
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
notok() { fail=$((fail + 1)); echo "not ok - $1"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

if ! "$t/ensure-deps.sh"; then
	notok "npm ci of test/openapi"
	finish
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the documents ----
for doc in "$repo"/svc-*/openapi.json; do
	svc=$(basename "$(dirname "$doc")")
	if out=$(cd "$t" && node check-document.mjs "$doc" "$svc" operation-ids.txt 2>&1); then
		ok "$svc/openapi.json: swagger-parser valid, redocly lint clean, operationIds and security ($(tail -1 <<<"$out"))"
		grep '^note:' <<<"$out"
	else
		notok "$svc/openapi.json:"$'\n'"$(sed 's/^/    /' <<<"$out")"
	fi
done

# ---- self-test: each broken copy is refused for its fault ----
declare -A want=(
	[empty_required]="swagger-parser: Swagger schema validation failed"
	[no_operation_id]="no operationId"
	[duplicate_operation_id]="operation-operationId-unique"
	[snake_case_operation_id]="is not camelCase"
	[renamed_operation_id]="renaming breaks clients"
	[public_without_security]="redocly error security-defined"
	[nullable_without_type]="redocly error nullable-type-sibling"
	[dangling_ref]="redocly error no-unresolved-refs"
)
mkdir -p "$tmp/broken"
faults=$(python3 "$t/break-document.py" "$repo/svc-tax/openapi.json" "$tmp/broken") || notok "break-document.py"
for fault in $faults; do
	out=$(cd "$t" && node check-document.mjs "$tmp/broken/$fault.json" svc-tax operation-ids.txt 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && grep -qF -- "${want[$fault]:-?}" <<<"$out"; then
		ok "self-test: a document with fault $fault is refused (${want[$fault]})"
	else
		notok "self-test: fault $fault: exit $rc, expected '${want[$fault]:-?}' in:"$'\n'"$out"
	fi
done

# ---- /docs in headless Chromium ----
if [ ! -x /usr/bin/chromium ]; then
	echo "installing chromium (apt-get)"
	SUDO=()
	[ "$(id -u)" -ne 0 ] && SUDO=(sudo)
	{ "${SUDO[@]}" apt-get update -qq &&
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
		>"$tmp/apt.log" 2>&1 || { notok "apt-get install chromium: $(tail -3 "$tmp/apt.log")"; finish; }
fi
if ! "$repo/common/docs-ui/install.sh" "$br/docs-assets" >"$tmp/docs-ui.log" 2>&1; then
	notok "common/docs-ui/install.sh: $(tail -3 "$tmp/docs-ui.log")"
	finish
fi
mkdir -p "$artifacts"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# No database or Redis: the page, the document and /health (what "Try it out" sends) need neither.
dead=$(free_port)
start_api() { # name port log
	PORT=$2 BIND=127.0.0.1 STARTUP_WAIT=0 DATABASE_URL="postgresql://gx@127.0.0.1:$dead/gx" \
		REDIS_URL="redis://127.0.0.1:$dead" JWT_SECRET=openapi-suite-secret-of-at-least-32-bytes \
		DOCS_ASSETS="$br/docs-assets" LOG_LEVEL=warn "$bin/$1" </dev/null >"$3" 2>&1 &
	pids+=($!)
}
wait_http() { # url
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.1
	done
	return 1
}

first_url=
for svc in svc-identity svc-admin svc-tokenomics svc-organization svc-loanpool svc-governance svc-tax; do
	if [ ! -x "$bin/$svc" ]; then
		notok "$svc is not built ($bin)"
		continue
	fi
	port=$(free_port)
	start_api "$svc" "$port" "$tmp/$svc.log"
	url=http://127.0.0.1:$port
	if ! wait_http "$url/health"; then
		notok "$svc did not start: $(tail -3 "$tmp/$svc.log")"
		continue
	fi
	[ -z "$first_url" ] && first_url=$url
	shot=$artifacts/docs-$svc.png
	if out=$(cd "$t" && node docs-page.mjs "$url" "$shot" 2>&1); then
		ok "$svc /docs in Chromium: $(node -e 'const r=JSON.parse(process.argv[1]);console.log(`${r.rendered} of ${r.operations} operations rendered, Try it out ${r.tryItOut}, 0 CSP violations`)' "$(tail -1 <<<"$out")"), screenshot $shot"
	else
		notok "$svc /docs in Chromium: $out"
	fi
done

# ---- self-test: an inline script on the page is a reported CSP violation ----
if [ -n "$first_url" ]; then
	(cd "$t" && exec node inject-inline-script.mjs "$first_url") >"$tmp/proxy.log" 2>&1 &
	pids+=($!)
	pport=
	for _ in $(seq 50); do
		pport=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$tmp/proxy.log")
		[ -n "$pport" ] && break
		sleep 0.1
	done
	out=$(cd "$t" && node docs-page.mjs "http://127.0.0.1:$pport" "$tmp/violation.png" 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && grep -q '"violations":\["script-src' <<<"$out"; then
		ok "self-test: the page with an inline script is refused for its CSP violation"
	else
		notok "self-test: inline script not caught (exit $rc): $out"
	fi
fi

for f in "$tmp"/svc-*.log; do
	[ -e "$f" ] || continue
	if grep -q 'Sanitizer\|runtime error' "$f"; then notok "$(basename "$f" .log): sanitizer report: $(grep -m3 'Sanitizer\|runtime error' "$f")"; fi
done
finish
