#!/bin/bash
# Conformance with the real Fabric client: the official Node packages (@hyperledger/fabric-gateway 1.11.0) submit
# to the gx-fabric-peer stand-in and read its events, and check a proposal built and signed by our C client.
# Installs the pinned Node packages (npm ci) first. Last line: "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${GX_BIN_DIR:-$repo/${BUILDROOT:-build}/release/bin}/gx-fabric-peer
conf=$repo/test/conformance
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
notok() { fail=$((fail + 1)); echo "not ok - $1"; }

if [ ! -x "$bin" ]; then
	notok "gx-fabric-peer is not built ($bin)"
	echo "$pass passed, $fail failed"
	exit 1
fi
if ! "$conf/ensure-deps.sh"; then
	notok "npm ci of test/conformance"
	echo "$pass passed, $fail failed"
	exit 1
fi
tmp=$(mktemp -d)
peer_pid=
cleanup() {
	[ -n "$peer_pid" ] && kill -TERM "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
"$repo/test/fabric-peer/mkdevca.sh" "$tmp/devca" || { notok "mkdevca.sh"; echo "$pass passed, $fail failed"; exit 1; }

"$bin" --listen 127.0.0.1:0 --ledger-dir "$tmp/ledger" --ca-cert "$tmp/devca/ca/ca.crt" --block-timeout-ms 200 \
	>"$tmp/peer.log" 2>&1 &
peer_pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*"msg":"listening","port":"\{0,1\}\([0-9]*\).*/\1/p' "$tmp/peer.log" | head -1)
	[ -n "$port" ] && break
	sleep 0.1
done
if [ -z "$port" ]; then
	notok "peer did not start: $(tail -5 "$tmp/peer.log")"
	echo "$pass passed, $fail failed"
	exit 1
fi
export PEER_ADDR=127.0.0.1:$port DEVCA=$tmp/devca
client() { (cd "$conf" && node client.mjs "$@"); }
jget() { node -e 'let d=JSON.parse(require("fs").readFileSync(0,"utf8"));for(const k of process.argv[1].split("."))d=d?.[k];console.log(d===undefined?"":typeof d==="object"?JSON.stringify(d):d)' "$1"; }

out=$(IDENTITY=super-admin client submit AdminContract:BootstrapSystem)
code=$(jget code <<<"$out")
txid=$(jget txId <<<"$out")
block=$(jget block <<<"$out")
if [ "$code" = 0 ] && [ -n "$txid" ]; then ok "Node client submits BootstrapSystem: VALID in block $block"; else
	notok "Node client submit: $out"; fi

out=$(client events 0 1)
if [ "$(jget events.0.txId <<<"$out")" = "$txid" ] && [ "$(jget events.0.name <<<"$out")" = SystemBootstrapped ] &&
	[ "$(jget events.0.block <<<"$out")" = "$block" ]; then ok "Node client reads the event from block 0"; else
	notok "Node client events: $out"; fi

out=$(IDENTITY=partner-api client evaluate AdminContract:GetSystemStatus)
if grep -q '\\"bootstrapped\\":true' <<<"$out"; then ok "Node client evaluates GetSystemStatus"; else
	notok "Node client evaluate: $out"; fi

out=$(IDENTITY=admin client submit AdminContract:BootstrapSystem)
if [ "$(jget error.code <<<"$out")" = 10 ] && grep -q 'chaincode response 403' <<<"$out"; then
	ok "Node client gets EndorseError ABORTED with the chaincode's 403 in ErrorDetail"; else
	notok "wrong role via Node client: $out"; fi

if (cd "$conf" && node proposal-check.mjs "$bin" "$tmp/devca/users/admin") >"$tmp/check.out" 2>&1; then
	ok "C-built proposal checked with the Node packages ($(tail -1 "$tmp/check.out"))"
else
	cat "$tmp/check.out"
	notok "C-built proposal check"
fi

if grep -q '"level":"\(error\|fatal\)"\|Sanitizer\|runtime error' "$tmp/peer.log"; then
	notok "peer log has errors: $(grep -m3 '"level":"error"\|Sanitizer\|runtime error' "$tmp/peer.log")"
else ok "peer log clean"; fi
kill -TERM "$peer_pid"
if wait "$peer_pid"; then ok "peer exits 0 on SIGTERM"; else notok "peer exit status on SIGTERM"; fi
peer_pid=
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
