#!/usr/bin/env bash
# Local stack for development (make up / make down): PostgreSQL, Redis, the Fabric stand-in and every built daemon,
# all under $GX_RUN (./run by default, gitignored): logs in <run>/logs/<name>.log, environment in <run>/env, pids in
# <run>/pids. Every message names the real path.
#   test/lib/stack.sh up       deps + release build, the /docs page's files, start what is not running, print the
#                              status table
#   test/lib/stack.sh down     stop daemons (SIGTERM, SIGKILL after 10 s), Redis and PostgreSQL
#   test/lib/stack.sh status   print the status table; exit 0 when everything built is running and ready
# Env: BUILDROOT (build), GX_PG_PORT (55432), GX_REDIS_PORT (56379), GX_UP_TIMEOUT seconds to wait for /readyz (60),
#      GX_NO_BUILD=1 skips deps and build, GX_RUN (./run) another state directory and GX_PORT_OFFSET (0) added to
#      every daemon port, for a second stack beside make up (test/suites/demo.sh; pass the same values to every call),
#      GX_PEER_BLOCK_MS (2000) the stand-in's block cut timeout.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
RUN=${GX_RUN:-$REPO/run}
case $RUN in /*) ;; *) RUN=$REPO/$RUN ;; esac
LOGS=$RUN/logs
PIDS=$RUN/pids
BR=${BUILDROOT:-build}
case $BR in /*) ;; *) BR=$REPO/$BR ;; esac
BIN=$BR/release/bin
PGBIN=${GX_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${GX_PG_PORT:-55432}
REDIS_PORT=${GX_REDIS_PORT:-56379}
UP_TIMEOUT=${GX_UP_TIMEOUT:-60}

# daemon:port, in design.md §1 order
DAEMONS=(svc-identity:3001 svc-admin:3002 svc-tokenomics:3003 svc-organization:3004 svc-loanpool:3005
	svc-governance:3006 svc-tax:3007 outbox-submitter:9090 projector:9091)
for i in "${!DAEMONS[@]}"; do
	DAEMONS[i]=${DAEMONS[i]%%:*}:$((${DAEMONS[i]##*:} + ${GX_PORT_OFFSET:-0}))
done

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A pid file is trusted only while the pid still runs the expected program (pids get reused).
pid_alive() { # pidfile program
	local pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$2" ] || \
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

load_env() {
	[ -f "$RUN/env" ] || return 0
	set -a
	# shellcheck disable=SC1091
	. "$RUN/env"
	set +a
	PG_PORT=${GX_PG_PORT_RUNNING:-$PG_PORT}
	REDIS_PORT=${GX_REDIS_PORT_RUNNING:-$REDIS_PORT}
}

# the real path of run/pg (a link when the postgres user cannot enter run/, see start_pg)
pgdir() { readlink -f "$RUN/pg"; }
pg_running() { [ -f "$RUN/pg/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$(pgdir)/data" status >/dev/null 2>&1; }
redis_running() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_pg() {
	# As root the server runs as postgres, which must reach its data dir and log. When the checkout lies below a
	# directory postgres cannot enter (e.g. a private temp dir), run/pg becomes a link to a directory it can reach
	# and run/logs/postgres.log a link to the log in there.
	if [ "$(id -u)" -eq 0 ] && [ ! -e "$RUN/pg" ] && ! runuser -u postgres -- test -x "$RUN" 2>/dev/null; then
		local d
		d=$(mktemp -d "${TMPDIR:-/tmp}/gx-stack-pg.XXXXXX") || die "cannot create a PostgreSQL directory"
		chmod 755 "$d"
		ln -s "$d" "$RUN/pg"
		say "note: the postgres user cannot enter $RUN; its data lives in $d (linked as $RUN/pg)"
	fi
	mkdir -p "$RUN/pg"
	local pd
	pd=$(pgdir)
	# the server log lives next to the data; run/logs/postgres.log points to it
	touch "$pd/postgres.log"
	[ -L "$LOGS/postgres.log" ] || { rm -f "$LOGS/postgres.log"; ln -s "$pd/postgres.log" "$LOGS/postgres.log"; }
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$pd" "$pd/postgres.log"
	fi
	if [ ! -f "$RUN/pg/data/PG_VERSION" ]; then
		say "initdb in $RUN/pg/data"
		(cd / && as_pg "$PGBIN/initdb" -D "$pd/data" -U postgres --auth=trust -E UTF8 --no-locale) \
			>"$LOGS/initdb.log" 2>&1 || die "initdb failed, see $LOGS/initdb.log"
	fi
	if pg_running; then
		say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
	else
		(cd / && as_pg "$PGBIN/pg_ctl" -D "$pd/data" -l "$pd/postgres.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $pd" start) >/dev/null \
			|| die "PostgreSQL did not start on port $PG_PORT, see $LOGS/postgres.log"
	fi
	if [ -z "$(psql -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atc \
		"select 1 from pg_database where datname = 'gx_protocol'")" ]; then
		psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'create database gx_protocol' \
			|| die "cannot create database gx_protocol"
	fi
}

start_redis() {
	mkdir -p "$RUN/redis"
	if redis_running; then
		say "Redis already running on 127.0.0.1:$REDIS_PORT"
		return 0
	fi
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" --save '' --appendonly no \
		--daemonize yes --pidfile "$RUN/redis/redis.pid" --logfile "$LOGS/redis.log" \
		|| die "Redis did not start, see $LOGS/redis.log"
	for _ in $(seq 50); do
		redis_running && return 0
		sleep 0.1
	done
	die "Redis did not answer PING on port $REDIS_PORT, see $LOGS/redis.log"
}

# ---- Fabric stand-in ------------------------------------------------------------------------------------
# start_peer: the Fabric stand-in (bin/gx-fabric-peer) on 127.0.0.1:${GX_PEER_PORT:-7051}, plaintext, with the dev
# CA of test/fabric-peer/mkdevca.sh in run/devca and its ledger in run/peer (kept across make down/up), 500-tx
# blocks cut after 2 s like the deployment. Appends the FABRIC_* variables of outbox-submitter and projector to
# run/env (write_env runs first).
PEER_PORT=${GX_PEER_PORT:-7051}
peer_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PEER_PORT") 2>/dev/null; }
start_peer() {
	if [ ! -x "$BIN/gx-fabric-peer" ]; then
		say "note: gx-fabric-peer is not built; the Fabric stand-in is not started"
		return 0
	fi
	test/fabric-peer/mkdevca.sh "$RUN/devca" >>"$LOGS/devca.log" 2>&1 || die "mkdevca.sh failed, see $LOGS/devca.log"
	mkdir -p "$RUN/peer"
	local u=$RUN/devca/users
	{
		echo "FABRIC_PEER_ENDPOINT='127.0.0.1:$PEER_PORT'"
		echo "FABRIC_MSP_ID='$(cat "$RUN/devca/msp-id" 2>/dev/null || echo Org1MSP)'"
		echo "FABRIC_CHANNEL='gxchannel'"
		echo "FABRIC_CHAINCODE='gxtv3'"
		echo "FABRIC_TLS_CA_FILE=''"
		echo "FABRIC_CERT_SUPER_ADMIN='$u/super-admin/cert.pem'"
		echo "FABRIC_KEY_SUPER_ADMIN='$u/super-admin/key.pem'"
		echo "FABRIC_CERT_ADMIN='$u/admin/cert.pem'"
		echo "FABRIC_KEY_ADMIN='$u/admin/key.pem'"
		echo "FABRIC_CERT_PARTNER='$u/partner-api/cert.pem'"
		echo "FABRIC_KEY_PARTNER='$u/partner-api/key.pem'"
	} >>"$RUN/env"
	if pid_alive "$PIDS/gx-fabric-peer.pid" "$BIN/gx-fabric-peer"; then
		say "Fabric stand-in already running on 127.0.0.1:$PEER_PORT"
		return 0
	fi
	(
		cd "$REPO"
		exec setsid "$BIN/gx-fabric-peer" --listen "127.0.0.1:$PEER_PORT" --ledger-dir "$RUN/peer" \
			--ca-cert "$RUN/devca/ca/ca.crt" --block-size 500 --block-timeout-ms "${GX_PEER_BLOCK_MS:-2000}" \
			</dev/null >>"$LOGS/gx-fabric-peer.log" 2>&1
	) &
	echo $! >"$PIDS/gx-fabric-peer.pid"
	for _ in $(seq 100); do
		peer_listening && { say "Fabric stand-in listening on 127.0.0.1:$PEER_PORT ($LOGS/gx-fabric-peer.log)"; return 0; }
		pid_alive "$PIDS/gx-fabric-peer.pid" "$BIN/gx-fabric-peer" || break
		sleep 0.1
	done
	die "the Fabric stand-in did not start, see $LOGS/gx-fabric-peer.log"
}

# The /docs page's Swagger UI files (common/docs-ui/install.sh: npm ci of the pinned package) in $BR/docs-assets,
# which write_env hands to the APIs as DOCS_ASSETS. Without them the stack still starts and /docs answers 503.
DOCS_DIR=$BR/docs-assets
install_docs() {
	if common/docs-ui/install.sh "$DOCS_DIR" >>"$LOGS/docs-assets.log" 2>&1; then
		say "API reference files in $DOCS_DIR ($LOGS/docs-assets.log)"
	else
		say "warning: the /docs page's files could not be installed, see $LOGS/docs-assets.log (/docs answers 503)"
	fi
}

write_env() {
	if [ ! -s "$RUN/secret" ]; then
		(umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$RUN/secret")
	fi
	{
		echo "# written by test/lib/stack.sh up; sourced by the daemons it starts"
		echo "DATABASE_URL='postgresql://postgres@127.0.0.1:$PG_PORT/gx_protocol'"
		echo "REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'"
		echo "JWT_SECRET='$(cat "$RUN/secret")'"
		echo "LOG_LEVEL='${LOG_LEVEL:-info}'"
		echo "DOCS_ASSETS='$DOCS_DIR'"
		echo "GX_PG_PORT_RUNNING=$PG_PORT"
		echo "GX_REDIS_PORT_RUNNING=$REDIS_PORT"
	} >"$RUN/env.tmp"
	chmod 600 "$RUN/env.tmp"
	mv "$RUN/env.tmp" "$RUN/env"
}

migrate() {
	if [ ! -x "$BIN/gxctl" ]; then
		say "note: gxctl is not built; migrations and seed skipped"
		return 0
	fi
	{
		echo "== $(date -u +%FT%TZ) gxctl migrate up"
		DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/gx_protocol" "$BIN/gxctl" migrate up
		echo "== gxctl seed"
		DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/gx_protocol" "$BIN/gxctl" seed
	} >>"$LOGS/gxctl.log" 2>&1 </dev/null || die "migrations failed, see $LOGS/gxctl.log"
	say "migrations and seed applied ($LOGS/gxctl.log)"
}

start_daemon() { # name port
	local name=$1 port=$2
	if pid_alive "$PIDS/$name.pid" "$BIN/$name"; then
		return 0
	fi
	(
		load_env
		export PORT=$port METRICS_PORT=$port
		cd "$REPO"
		exec setsid "$BIN/$name" </dev/null >>"$LOGS/$name.log" 2>&1
	) &
	echo $! >"$PIDS/$name.pid"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true; }

# Prints the table; returns 0 when every built daemon runs and is ready.
status_table() {
	local entry name port state ready rc=0 code
	printf '%-18s %-24s %-8s %s\n' DAEMON URL STATE READY
	for entry in "${DAEMONS[@]}"; do
		name=${entry%%:*}
		port=${entry##*:}
		ready=-
		if [ ! -x "$BIN/$name" ]; then
			state="not built"
		elif pid_alive "$PIDS/$name.pid" "$BIN/$name"; then
			state="pid $(cat "$PIDS/$name.pid")"
			code=$(http_code "http://127.0.0.1:$port/readyz")
			if [ "$code" = 200 ]; then ready=yes; else ready="no ($code)"; rc=1; fi
		else
			state=stopped
			rc=1
		fi
		printf '%-18s %-24s %-8s %s\n' "$name" "http://127.0.0.1:$port" "$state" "$ready"
	done
	if pg_running; then state="running on 127.0.0.1:$PG_PORT (database gx_protocol)"; else state=stopped; rc=1; fi
	printf '%-18s %s\n' postgresql "$state"
	if redis_running; then state="running on 127.0.0.1:$REDIS_PORT"; else state=stopped; rc=1; fi
	printf '%-18s %s\n' redis "$state"
	echo "logs: $LOGS/<name>.log   env: $RUN/env"
	echo "API reference: http://127.0.0.1:<port>/docs on each API (e.g. http://127.0.0.1:${DAEMONS[0]##*:}/docs)"
	return $rc
}

cmd_up() {
	mkdir -p "$LOGS" "$PIDS"
	if [ -z "${GX_NO_BUILD:-}" ]; then
		test/lib/deps.sh
		say "building (release), output in $LOGS/build.log"
		make -j2 -k BUILDROOT="$BR" bins >"$LOGS/build.log" 2>&1 ||
			say "warning: the release build failed ($LOGS/build.log); starting what is built"
	fi
	install_docs
	load_env
	start_pg
	start_redis
	write_env
	start_peer
	migrate
	local entry name port deadline pending
	for entry in "${DAEMONS[@]}"; do
		name=${entry%%:*}
		port=${entry##*:}
		[ -x "$BIN/$name" ] && start_daemon "$name" "$port"
	done
	deadline=$((SECONDS + UP_TIMEOUT))
	while :; do
		pending=0
		for entry in "${DAEMONS[@]}"; do
			name=${entry%%:*}
			port=${entry##*:}
			[ -x "$BIN/$name" ] || continue
			pid_alive "$PIDS/$name.pid" "$BIN/$name" || continue
			[ "$(http_code "http://127.0.0.1:$port/readyz")" = 200 ] || pending=1
		done
		if [ $pending -eq 0 ] || [ $SECONDS -ge $deadline ]; then
			break
		fi
		sleep 0.5
	done
	if ! status_table; then
		for entry in "${DAEMONS[@]}"; do
			name=${entry%%:*}
			port=${entry##*:}
			[ -x "$BIN/$name" ] || continue
			[ "$(http_code "http://127.0.0.1:$port/readyz")" = 200 ] && continue
			echo "---- last lines of $LOGS/$name.log"
			tail -n 15 "$LOGS/$name.log" 2>/dev/null || true
		done
		say "not everything is ready (make down stops what runs)"
		return 1
	fi
}

stop_pidfile() { # pidfile program name
	local pid
	pid_alive "$1" "$2" || { rm -f "$1"; return 0; }
	pid=$(cat "$1")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$3 did not exit within 10 s of SIGTERM; SIGKILL"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	else
		say "stopped $3"
	fi
	rm -f "$1"
}

cmd_down() {
	load_env
	local entry name
	if [ -d "$PIDS" ]; then
		for entry in "${DAEMONS[@]}"; do
			name=${entry%%:*}
			stop_pidfile "$PIDS/$name.pid" "$BIN/$name" "$name" &
		done
		wait
		for f in "$PIDS"/*.pid; do
			[ -e "$f" ] || continue
			name=$(basename "$f" .pid)
			stop_pidfile "$f" "$name" "$name"
		done
	fi
	if redis_running; then
		redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
		say "stopped redis"
	fi
	if pg_running; then
		(cd / && as_pg "$PGBIN/pg_ctl" -D "$(pgdir)/data" -m fast -w stop >/dev/null) && say "stopped postgresql"
	fi
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) load_env; status_table ;;
*) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
