#!/usr/bin/env bash
# make demo: a narrated walk through the real write flow with curl against a running `make up` stack. Each step
# prints the request and the response and stops with exit 1 when a status is not the expected one:
#   super admin (gxctl create-super-admin) -> log in -> bootstrap -> initialize countries -> register two users ->
#   log in -> genesis -> fee quote -> transfer, watched PENDING -> ... -> PROJECTED -> idempotent replay ->
#   both balances and histories -> proposal -> vote.
# Safe to run again on the same stack (bootstrap and countries answer 409 then, and new users are registered).
# Env: GX_RUN (./run: the stack's env file gives gxctl its DATABASE_URL), GX_PORT_OFFSET (0), BUILDROOT (build),
#      GX_DEMO_HOST (127.0.0.1), GX_DEMO_COUNTRIES_FILE (a countries-init.json: [{code,name,percentage}] or
#      {countriesData:[...]}; default: four countries), GX_DEMO_QUIET=1 prints bodies raw and cut to 200 bytes.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${GX_RUN:-$REPO/run}
case $RUN in /*) ;; *) RUN=$REPO/$RUN ;; esac
BR=${BUILDROOT:-build}
case $BR in /*) ;; *) BR=$REPO/$BR ;; esac
GXCTL=$BR/release/bin/gxctl
HOST=${GX_DEMO_HOST:-127.0.0.1}
OFF=${GX_PORT_OFFSET:-0}
IDENTITY=http://$HOST:$((3001 + OFF))
ADMIN=http://$HOST:$((3002 + OFF))
TOKENOMICS=http://$HOST:$((3003 + OFF))
GOVERNANCE=http://$HOST:$((3006 + OFF))
TAX=http://$HOST:$((3007 + OFF))
PY=/usr/bin/python3

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'; else B='' G='' R='' N=''; fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
STATUS=
RESP=

say() { printf '%s\n' "$*"; }
T0=$(date +%s%N)
step() { n=$((n + 1)); printf '\n%s== %d. %s%s  [%s s]\n' "$B" "$n" "$*" "$N" "$(elapsed)"; }
elapsed() { local d=$(($(date +%s%N) - T0)); printf '%d.%d' $((d / 1000000000)) $((d / 100000000 % 10)); }
die() { printf '\n%sdemo: FAILED at step %d: %s%s\n' "$R" "$n" "$*" "$N" >&2; exit 1; }

# Pretty JSON (shortened with GX_DEMO_QUIET=1 or past 40 lines).
show() {
	local max=40
	if [ -n "${GX_DEMO_QUIET:-}" ]; then # as sent, cut: no Python start per body
		printf '   %s\n' "$(printf '%s' "$1" | tr '\n' ' ' | cut -c1-200)"
		return 0
	fi
	printf '%s' "$1" | $PY -c '
import json, sys
raw = sys.stdin.read()
def short(v):  # tokens are long: their first characters are enough to follow the walk
    if isinstance(v, dict):
        return {k: (x[:20] + "..." if k.endswith("Token") and isinstance(x, str) and len(x) > 24 else short(x))
                for k, x in v.items()}
    return [short(x) for x in v] if isinstance(v, list) else v
try:
    lines = json.dumps(short(json.loads(raw)), indent=2, ensure_ascii=False).splitlines()
except ValueError:
    lines = raw.splitlines()
m = int(sys.argv[1])
for l in lines[:m]:
    print("   " + l)
if len(lines) > m:
    print("   ... (%d more lines)" % (len(lines) - m))' "$max"
}

# jget EXPR: a field of the last response body, e.g. jget accessToken, jget code, jget 'transactions.0.type'
jget() {
	printf '%s' "$RESP" | $PY -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else (v.get(k) if isinstance(v, dict) else None)
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list, bool)) else v))' "$1" 2>/dev/null || true
}

# call WANT METHOD URL [BODY [TOKEN [IDEMPOTENCY_KEY]]]: prints request and response; WANT is a status or
# "202|409"; exits 1 on any other status. A 429 is waited out (Retry-After) and the request sent again.
call() {
	local want=$1 method=$2 url=$3 body=${4:-} token=${5:-} key=${6:-} try hdr args
	for try in 1 2 3 4; do
		args=(-s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' --max-time 40 -X "$method"
			-H 'Accept: application/json')
		printf '%s> %s %s%s\n' "$B" "$method" "$url" "$N"
		[ -n "$token" ] && { args+=(-H "Authorization: Bearer $token"); say "  Authorization: Bearer ${token:0:16}..."; }
		[ -n "$key" ] && { args+=(-H "Idempotency-Key: $key"); say "  Idempotency-Key: $key"; }
		if [ -n "$body" ]; then
			args+=(-H 'Content-Type: application/json' --data-binary "$body")
			show "$body"
		fi
		STATUS=$(curl "${args[@]}" "$url" 2>/dev/null) || STATUS=000
		RESP=$(cat "$TMP/body" 2>/dev/null || true)
		printf '%s< %s%s\n' "$B" "$STATUS" "$N"
		[ -n "$RESP" ] && show "$RESP"
		if [ "$STATUS" = 429 ] && [ "$try" -lt 4 ]; then
			hdr=$(sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p' "$TMP/headers" | head -n 1)
			say "  (rate limited: waiting ${hdr:-5} s, then the same request again)"
			sleep "${hdr:-5}"
			continue
		fi
		break
	done
	case "|$want|" in
	*"|$STATUS|"*) ;;
	*) die "$method $url answered $STATUS, expected $want" ;;
	esac
}

# wait_projected API COMMAND_ID TOKEN [watch]: polls GET /api/v1/commands/{id} until PROJECTED; prints every status
# it sees ("watch") or only the final one; exits 1 when the command FAILED or is not PROJECTED within 60 s.
wait_projected() {
	local api=$1 cid=$2 token=$3 watch=${4:-} seen='' last='' st code deadline=$((SECONDS + 60))
	say "> GET $api/api/v1/commands/$cid   (polling)"
	while :; do
		code=$(curl -s -o "$TMP/cmd" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $token" \
			"$api/api/v1/commands/$cid" 2>/dev/null) || code=000
		if [ "$code" = 200 ]; then
			RESP=$(cat "$TMP/cmd")
			st=$(sed -n 's/.*"status": *"\([A-Z]*\)".*/\1/p' "$TMP/cmd")
			if [ "$st" != "$last" ]; then
				seen="${seen:+$seen → }$st"
				[ -n "$watch" ] && printf '  %s  status %s\n' "$(date -u +%T.%N | cut -c1-12)" "$st"
				last=$st
			fi
			case $st in
			PROJECTED) break ;;
			FAILED) show "$RESP"; die "command $cid FAILED: $(jget lastError)" ;;
			esac
		elif [ "$code" != 000 ]; then
			show "$(cat "$TMP/cmd")"
			die "GET /api/v1/commands/$cid answered $code"
		fi
		[ $SECONDS -lt $deadline ] || die "command $cid not PROJECTED within 60 s (seen: $seen)"
		sleep 0.05
	done
	say "< 200  seen while polling: $seen"
	show "$RESP"
	[ -n "$watch" ] && printf '%s' "$RESP" | $PY -c '
import json, sys
d = json.load(sys.stdin)
print("  its life: PENDING %s -> SUBMITTED %s -> COMMITTED %s (block %s) -> PROJECTED %s" % (
    d["createdAt"], d["submittedAt"], d["committedAt"], d.get("blockNumber"), d["projectedAt"]))'
	return 0
}

uuid() { cat /proc/sys/kernel/random/uuid; }

# ---- 0. the stack answers ----------------------------------------------------------------------------------------
step "The stack is up (GET /readyz of the APIs used here)"
for api in "$IDENTITY" "$ADMIN" "$TOKENOMICS" "$GOVERNANCE" "$TAX"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$api/readyz" 2>/dev/null) || code=000
	say "  $api/readyz -> $code"
	[ "$code" = 200 ] || die "$api is not ready: start the stack with 'make up' (status: test/lib/stack.sh status)"
done

SUF=$(date +%s)-$$
# not "Demo-...": the users' last name is Demo, and a password may not contain a name (WEAK_PASSWORD)
PASSWORD="Walk-$(uuid | cut -c1-12)"
printf '%s\n' "$PASSWORD" >"$TMP/password"

# ---- 1. the first super admin: an operator command, not an endpoint --------------------------------------------
step "Create the first SUPER_ADMIN with the operator CLI (design.md §4: no open endpoint does this)"
[ -x "$GXCTL" ] || die "$GXCTL is not built (make)"
[ -f "$RUN/env" ] || die "$RUN/env is missing: is the stack started with 'make up'?"
ADMIN_EMAIL="demo-admin-$SUF@example.com"
say "\$ gxctl create-super-admin --email $ADMIN_EMAIL --password-file <file>"
ADMIN_ID=$(set -a && . "$RUN/env" && set +a && "$GXCTL" create-super-admin --email "$ADMIN_EMAIL" \
	--first-name Demo --last-name Admin --password-file "$TMP/password" 2>"$TMP/gxctl.err") ||
	{ cat "$TMP/gxctl.err" >&2; die "gxctl create-super-admin failed"; }
say "  $ADMIN_ID"

step "Log in as the super admin"
call 200 POST "$IDENTITY/api/v1/auth/login" "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$PASSWORD\"}"
SA=$(jget accessToken)
[ "$(jget user.role)" = SUPER_ADMIN ] || die "the login did not give a SUPER_ADMIN token"

# ---- 2. bootstrap and countries --------------------------------------------------------------------------------
step "Bootstrap the system (202: the command is in the outbox; 409 when an earlier run did it)"
call "202|409" POST "$ADMIN/api/v1/bootstrap" "" "$SA" "$(uuid)"
if [ "$STATUS" = 202 ]; then
	wait_projected "$ADMIN" "$(jget commandId)" "$SA"
else
	[ "$(jget code)" = SYSTEM_ALREADY_BOOTSTRAPPED ] || die "unexpected 409 $(jget code)"
	say "  (already bootstrapped)"
fi

step "Initialize the countries' genesis allocations"
if [ -n "${GX_DEMO_COUNTRIES_FILE:-}" ]; then
	COUNTRIES=$($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps(d if isinstance(d, dict) else {"countriesData": d}, separators=(",", ":")))' "$GX_DEMO_COUNTRIES_FILE")
else
	COUNTRIES='{"countriesData":[{"code":"US","name":"United States","percentage":0.4},{"code":"DE","name":"Germany","percentage":0.25},{"code":"IN","name":"India","percentage":0.2},{"code":"BR","name":"Brazil","percentage":0.15}]}'
fi
call "202|409" POST "$ADMIN/api/v1/countries/initialize" "$COUNTRIES" "$SA" "$(uuid)"
if [ "$STATUS" = 202 ]; then
	wait_projected "$ADMIN" "$(jget commandId)" "$SA"
else
	[ "$(jget code)" = COUNTRIES_ALREADY_INITIALIZED ] || die "unexpected 409 $(jget code)"
	say "  (already initialized)"
fi
call 200 GET "$ADMIN/api/v1/countries/US/stats"
[ -n "$(jget initializedAt)" ] || die "US is not initialized"
call 200 GET "$ADMIN/api/v1/system/status"
[ "$(jget isBootstrapped)" = true ] || die "system status: not bootstrapped"

# ---- 3. two users ----------------------------------------------------------------------------------------------
declare -A UID_ EMAIL TOKEN REG
for who in alice bob; do
	step "Register $who (CREATE_USER goes on chain with ids and hashes only)"
	EMAIL[$who]="demo-$who-$SUF@example.com"
	call 202 POST "$IDENTITY/api/v1/users" "{\"email\":\"${EMAIL[$who]}\",\"password\":\"$PASSWORD\",\"firstName\":\"${who^}\",\"lastName\":\"Demo\",\"nationalityCountryCode\":\"US\",\"dateOfBirth\":\"1990-04-01\"}" "" "$(uuid)"
	UID_[$who]=$(jget aggregateId)
	REG[$who]=$(jget commandId)
	[ -n "${UID_[$who]}" ] || die "no aggregateId (profile id) in the 202"
done
for who in alice bob; do
	step "Log in as $who (works at once, before the chain confirmed the registration)"
	call 200 POST "$IDENTITY/api/v1/auth/login" "{\"email\":\"${EMAIL[$who]}\",\"password\":\"$PASSWORD\"}"
	TOKEN[$who]=$(jget accessToken)
	step "Wait for $who's registration to be projected (wallet created)"
	wait_projected "$IDENTITY" "${REG[$who]}" "${TOKEN[$who]}"
done
ALICE=${UID_[alice]} BOB=${UID_[bob]}

# ---- 4. genesis, fee, transfer ---------------------------------------------------------------------------------
step "Genesis: the super admin gives alice her allocation"
call 202 POST "$TOKENOMICS/api/v1/genesis" "{\"userId\":\"$ALICE\",\"userType\":\"individual\",\"countryCode\":\"US\"}" "$SA" "$(uuid)"
wait_projected "$TOKENOMICS" "$(jget commandId)" "$SA"
call 200 GET "$TOKENOMICS/api/v1/wallets/$ALICE/balance" "" "${TOKEN[alice]}"
GENESIS_Q=$(jget balanceQirat)
[ "${GENESIS_Q:-0}" -gt 0 ] || die "alice has no balance after genesis"

AMOUNT=12.5
step "Calculate the fee of a $AMOUNT coin transfer (svc-tax, the same rule the chain applies)"
call 200 POST "$TAX/api/v1/fees/calculate" "{\"amountCoins\":\"$AMOUNT\"}"
AMOUNT_Q=$(jget amountQirat)
FEE_Q=$(jget feeQirat)
[ "$AMOUNT_Q" = 1250000 ] || die "amountQirat $AMOUNT_Q, expected 1250000"

step "Transfer $AMOUNT coins from alice to bob, and watch the command"
KEY=$(uuid)
BODY="{\"toUserId\":\"$BOB\",\"amount\":\"$AMOUNT\",\"remark\":\"demo\"}"
call 202 POST "$TOKENOMICS/api/v1/transfers" "$BODY" "${TOKEN[alice]}" "$KEY"
TRANSFER=$(jget commandId)
FIRST=$RESP
wait_projected "$TOKENOMICS" "$TRANSFER" "${TOKEN[alice]}" watch
TXID=$(jget fabricTxId)

step "Send the same transfer again with the same Idempotency-Key: replayed, not applied twice"
call 202 POST "$TOKENOMICS/api/v1/transfers" "$BODY" "${TOKEN[alice]}" "$KEY"
[ "$RESP" = "$FIRST" ] || die "the replay differs from the first answer"
say "  (same body byte for byte: commandId $TRANSFER)"

# ---- 5. balances and histories ---------------------------------------------------------------------------------
step "Both balances"
call 200 GET "$TOKENOMICS/api/v1/wallets/$ALICE/balance" "" "${TOKEN[alice]}"
A_Q=$(jget balanceQirat)
call 200 GET "$TOKENOMICS/api/v1/wallets/$BOB/balance" "" "${TOKEN[bob]}"
B_Q=$(jget balanceQirat)
[ "$A_Q" -eq $((GENESIS_Q - AMOUNT_Q - FEE_Q)) ] || die "alice has $A_Q Qirat, expected $GENESIS_Q - $AMOUNT_Q - $FEE_Q"
[ "$B_Q" -eq "$AMOUNT_Q" ] || die "bob has $B_Q Qirat, expected $AMOUNT_Q"
say "  alice: $GENESIS_Q - $AMOUNT_Q - fee $FEE_Q = $A_Q Qirat; bob: $B_Q Qirat"

step "Both histories"
call 200 GET "$TOKENOMICS/api/v1/wallets/$ALICE/transactions?limit=10" "" "${TOKEN[alice]}"
[ "$(jget total)" -ge 2 ] || die "alice's history should have the genesis and the transfer"
grep -q "$TXID" <<<"$RESP" || die "alice's history does not show tx $TXID"
call 200 GET "$TOKENOMICS/api/v1/wallets/$BOB/transactions?limit=10" "" "${TOKEN[bob]}"
[ "$(jget total)" -ge 1 ] || die "bob's history is empty"
grep -q "$TXID" <<<"$RESP" || die "bob's history does not show tx $TXID"

# ---- 6. governance ---------------------------------------------------------------------------------------------
step "Alice proposes a parameter change"
call 202 POST "$GOVERNANCE/api/v1/proposals" '{"title":"Lower the transfer fee","description":"Demo proposal: lower transactionFeeBps from the default to 5 basis points for all transfers.","targetParameter":"transactionFeeBps","proposedValue":"5"}' "${TOKEN[alice]}" "$(uuid)"
PROPOSAL=$(jget aggregateId)
wait_projected "$GOVERNANCE" "$(jget commandId)" "${TOKEN[alice]}"
call 200 GET "$GOVERNANCE/api/v1/proposals/$PROPOSAL"
[ "$(jget proposal.status)" = ACTIVE ] || die "the proposal is not ACTIVE"

step "Bob votes FOR"
call 202 POST "$GOVERNANCE/api/v1/proposals/$PROPOSAL/vote" '{"vote":"FOR","reason":"cheaper transfers"}' "${TOKEN[bob]}" "$(uuid)"
wait_projected "$GOVERNANCE" "$(jget commandId)" "${TOKEN[bob]}"
call 200 GET "$GOVERNANCE/api/v1/proposals/$PROPOSAL"
[ "$(jget proposal.votesFor)" = 1 ] || die "votesFor is $(jget proposal.votesFor), expected 1"

step "Bob cannot vote twice"
call 409 POST "$GOVERNANCE/api/v1/proposals/$PROPOSAL/vote" '{"vote":"AGAINST"}' "${TOKEN[bob]}" "$(uuid)"
[ "$(jget code)" = ALREADY_VOTED ] || die "expected ALREADY_VOTED"

printf '\n%sdemo: all %d steps passed%s in %s s (transfer %s, tx %s)\n' "$G" "$n" "$N" "$(elapsed)" "$TRANSFER" "$TXID"
