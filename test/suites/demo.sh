#!/usr/bin/env bash
# Suite: starts a second local stack (test/lib/stack.sh with its own GX_RUN directory and GX_PORT_OFFSET, release
# binaries of $BUILDROOT, never the make up ports), runs test/demo.sh against it twice (a fresh system, then again on
# the same system: bootstrap and countries answer 409 and the walk goes on), and test/smoke.sh; stops and removes
# it. Counts the smoke checks and one check per demo run; "N passed, N failed" last.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO" || exit 1
BR=${BUILDROOT:-build}
case $BR in /*) ;; *) BR=$REPO/$BR ;; esac
export BUILDROOT=$BR
pass=0
fail=0
ok() { printf 'ok - %s\n' "$*"; pass=$((pass + 1)); }
notok() { printf 'not ok - %s\n' "$*"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

for b in svc-identity svc-admin svc-tokenomics svc-organization svc-loanpool svc-governance svc-tax \
	outbox-submitter projector gxctl gx-fabric-peer; do
	if [ ! -x "$BR/release/bin/$b" ]; then
		notok "demo: $BR/release/bin/$b is not built (make BUILDROOT=$BR all)"
		finish
	fi
done

# ports: every daemon port + offset, and PostgreSQL/Redis/peer, all free (nothing answers a connect)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
offset=
for off in $(seq $((10000 + ($$ % 60) * 100)) 100 23000); do  # below the ephemeral port range
	free=1
	for p in 3001 3002 3003 3004 3005 3006 3007 9090 9091 5432 6379 7051; do
		port_free $((p + off)) || { free=0; break; }
	done
	[ $free -eq 1 ] && { offset=$off; break; }
done
[ -n "$offset" ] || { notok "demo: no free port range found"; finish; }

export GX_RUN
GX_RUN=$(mktemp -d -t gx-demo-suite.XXXXXX)
chmod 755 "$GX_RUN" # PostgreSQL runs as the postgres user and must reach run/pg
export GX_PORT_OFFSET=$offset GX_PG_PORT=$((5432 + offset)) GX_REDIS_PORT=$((6379 + offset))
export GX_PEER_PORT=$((7051 + offset)) GX_NO_BUILD=1 GX_UP_TIMEOUT=60
# the walk logs in three times and registers twice from one IP within seconds, twice over: above the strict
# (login/register) burst of 5; test/demo.sh waits out a 429, but the suite should not spend its time waiting
export RATE_LIMIT_STRICT_BURST=100 RATE_LIMIT_STRICT_PER_MIN=1000
# the two walks poll their commands and the smoke test follows at once, all from one IP within a minute: above
# the general burst of 100 (the limits themselves are tested in test_http_pipeline and the reliability suite)
export RATE_LIMIT_BURST=2000 RATE_LIMIT_PER_MIN=20000
# and, for time too: cheap bcrypt for the users it registers, blocks cut after 500 ms instead of 2 s
export BCRYPT_COST=4 GX_PEER_BLOCK_MS=500
cleanup() {
	test/lib/stack.sh down >/dev/null 2>&1 || true
	rm -rf "$GX_RUN"
}
trap cleanup EXIT

echo "demo suite: stack in $GX_RUN, ports +$offset"
t0=$SECONDS
if test/lib/stack.sh up >"$GX_RUN/up.out" 2>&1; then
	ok "demo: test/lib/stack.sh up with GX_RUN and GX_PORT_OFFSET ($((SECONDS - t0)) s)"
else
	notok "demo: test/lib/stack.sh up failed"
	cat "$GX_RUN/up.out"
	tail -n 20 "$GX_RUN"/logs/*.log 2>/dev/null
	finish
fi
# what up prints names this stack's own directory, not the default ./run
if grep -q "^logs: $GX_RUN/logs/<name>.log   env: $GX_RUN/env\$" "$GX_RUN/up.out" && ! grep -q '[^/]run/logs' "$GX_RUN/up.out"; then
	ok "demo: stack.sh up prints the paths under GX_RUN"
else
	notok "demo: stack.sh up prints paths that are not under GX_RUN"
	grep -n 'logs' "$GX_RUN/up.out"
fi

for run in 1 2; do
	t0=$SECONDS
	if GX_DEMO_QUIET=1 test/demo.sh >"$GX_RUN/demo$run.out" 2>&1 &&
		grep -q '^demo: all [0-9]* steps passed' "$GX_RUN/demo$run.out"; then
		ok "demo: test/demo.sh run $run ($((SECONDS - t0)) s): $(grep -c '^== ' "$GX_RUN/demo$run.out") steps"
		if [ "$run" = 2 ]; then
			if grep -q 'already bootstrapped' "$GX_RUN/demo2.out"; then
				ok "demo: run 2 saw the earlier bootstrap"
			else
				notok "demo: run 2 did not see the earlier bootstrap"
			fi
		fi
	else
		notok "demo: test/demo.sh run $run failed ($((SECONDS - t0)) s); its output:"
		sed 's/^/    /' "$GX_RUN/demo$run.out" | tail -n 80
	fi
done

# the smoke test against this stack: its checks count here
out=$(test/smoke.sh 2>&1)
echo "$out" | grep -E '^(ok|not ok) ' | sed 's/^/smoke: /'
line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
if [ -n "$line" ]; then
	pass=$((pass + ${line%% passed*}))
	f=${line#*passed, }
	fail=$((fail + ${f%% failed*}))
else
	notok "demo: test/smoke.sh printed no summary"
	echo "$out" | tail -n 20
fi

# the daemons' logs: no sanitizer report, no crash
if grep -l -E 'Sanitizer|runtime error:|"level":"fatal"' "$GX_RUN"/logs/*.log 2>/dev/null; then
	notok "demo: a daemon log has a fatal or sanitizer line"
else
	ok "demo: no fatal line in the daemons' logs"
fi
finish
