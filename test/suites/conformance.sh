#!/bin/bash
# Conformance with the real Fabric client: the official Node packages (@hyperledger/fabric-gateway 1.11.0) submit
# to the gx-fabric-peer stand-in and read its events, and check a proposal built and signed by our C client.
# Installs the pinned Node packages (npm ci) first. The stand-in runs with its defaults (Gateway concurrency limit
# 500, contractapi error statuses, ECDSA endorsements by the dev CA's peer identity). Last line: "N passed, N failed".
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
if [ "$(jget error.code <<<"$out")" = 10 ] && grep -q 'chaincode response 500, AdminContract:BootstrapSystem requires role' <<<"$out"; then
	ok "Node client gets EndorseError ABORTED with the contractapi-style 500 in ErrorDetail"; else
	notok "wrong role via Node client: $out"; fi

# the endorsement is an ECDSA signature of the peer identity, checked with Node's crypto against its certificate
out=$(client endorsement AdminContract:GetSystemStatus)
if node -e '
const crypto = require("crypto"), fs = require("fs");
const e = JSON.parse(fs.readFileSync(0, "utf8"));
const ca = new crypto.X509Certificate(fs.readFileSync(process.argv[1]));
const cert = new crypto.X509Certificate(e.cert);
const msg = Buffer.concat([Buffer.from(e.prp, "hex"), Buffer.from(e.endorser, "hex")]);
const ok = e.count === 1 && cert.verify(ca.publicKey) && cert.checkIssued(ca) &&
	crypto.verify("sha256", msg, cert.publicKey, Buffer.from(e.signature, "hex"));
process.exit(ok ? 0 : 1);' "$tmp/devca/ca/ca.crt" <<<"$out"; then
	ok "endorsement signature verifies against the peer certificate issued by the dev CA"; else
	notok "endorsement signature: $out"; fi

out=$(PEER_CHAINCODE=gxtv9 client submit AdminContract:GetSystemStatus)
if [ "$(jget error.code <<<"$out")" = 9 ] && grep -q 'No metadata was found for chaincode gxtv9' <<<"$out"; then
	ok "Node client gets FAILED_PRECONDITION for an unknown chaincode"; else
	notok "unknown chaincode via Node client: $out"; fi

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
