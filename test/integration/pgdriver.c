/* Integration-test driver for the async PostgreSQL pool (gx/pg.h) and the Redis client (gx/redis.h).
 *
 * Run by test/integration/test_pg_pool.py, which owns the PostgreSQL and Redis servers, applies the faults and makes
 * the assertions. Each scenario prints observations as JSON lines carrying "drv":"<scenario>" on stdout (the
 * logger's own lines are there too and are told apart by that key):
 *   pgdriver concurrent|queue|acqtimeout|txn|listen <conninfo>
 *   pgdriver soak <conninfo> <seconds>       queries, transactions and notifications while the test breaks things
 *   pgdriver redis <url> <seconds>           SET/GET and rate-limit calls while the test stops and starts Redis
 *   pgdriver gcra <url>                      burst, limit and refill of the GCRA limiter
 *   pgdriver idem <conninfo> begin <key> <method> <path> <hash>      one gx/idem.h call per run
 *   pgdriver idem <conninfo> complete|txncomplete <key> <status> <headers-json> <body-hex>
 *   pgdriver idem <conninfo> abort <key>
 */
#include "gx/idem.h"
#include "gx/log.h"
#include "gx/pg.h"
#include "gx/redis.h"
#include "gx/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

static struct event_base *base;
static struct gx_pg_pool *pool;
static struct gx_redis *redis;
static int outstanding;
static int64_t t0_us;

static const char *kind_name(enum gx_pg_err_kind k)
{
	switch (k) {
	case GX_PG_ERR_UNAVAILABLE:
		return "UNAVAILABLE";
	case GX_PG_ERR_CONNECTION:
		return "CONNECTION";
	case GX_PG_ERR_QUERY:
		return "QUERY";
	case GX_PG_ERR_TIMEOUT:
		return "TIMEOUT";
	}
	return "?";
}

static long long elapsed_ms(void)
{
	return (long long)((gx_mono_us() - t0_us) / 1000);
}

static void done_one(void)
{
	if (--outstanding == 0)
		event_base_loopbreak(base);
}

static struct gx_pg_pool *mkpool(const char *conninfo, int size, int max_waiters, int acquire_ms, int stmt_ms)
{
	struct gx_pg_pool_opts o = { .size = size,
				     .max_waiters = max_waiters,
				     .acquire_timeout_ms = acquire_ms,
				     .connect_timeout_ms = 3000,
				     .statement_timeout_ms = stmt_ms,
				     .application_name = "gx-pgdriver" };
	return gx_pg_pool_new(base, conninfo, &o);
}

/* Run the loop until the pool has a connection (or 10 s). */
static void wait_ready(struct gx_pg_pool *p)
{
	struct timeval tv = { 0, 20000 };
	int64_t end = gx_mono_us() + 10000000;

	while (!gx_pg_pool_ready(p) && gx_mono_us() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void run_for_ms(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* ---- counting scenarios ---- */

static int n_ok, n_bad, n_unavail, n_other;

static void on_count(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	long want = (long)(intptr_t)arg;

	if (err) {
		if (err->kind == GX_PG_ERR_UNAVAILABLE)
			n_unavail++;
		else
			n_other++;
	} else if (want < 0 || strtol(gx_pg_val(res, 0, "doubleVal"), NULL, 10) == want) {
		n_ok++;
	} else {
		n_bad++;
	}
	done_one();
}

static void scenario_counts(const char *name, const char *conninfo, int size, int maxw, int acq_ms, int n,
			    const char *sql)
{
	pool = mkpool(conninfo, size, maxw, acq_ms, 0);
	wait_ready(pool);
	for (int i = 0; i < n; i++) {
		char v[16];
		const char *params[1] = { v };
		snprintf(v, sizeof(v), "%d", i);
		outstanding++;
		if (gx_pg_query(pool, sql, strstr(sql, "$1") ? 1 : 0, params, on_count,
				(void *)(intptr_t)(strstr(sql, "doubleVal") ? 2 * i : -1)) < 0)
			outstanding--;
	}
	int open, busy, waiting;
	gx_pg_pool_stats(pool, &open, &busy, &waiting);
	event_base_dispatch(base);
	printf("{\"drv\":\"%s\",\"ok\":%d,\"bad\":%d,\"unavailable\":%d,\"other\":%d,\"waitingAtStart\":%d,"
	       "\"open\":%d}\n",
	       name, n_ok, n_bad, n_unavail, n_other, waiting, open);
}

/* ---- txn scenario: a chain of steps ---- */

static int step;
static struct gx_pg_pool *tpool;
static void txn_next(void);

static void print_err(const char *what, const struct gx_pg_error *err)
{
	if (!err) {
		printf("{\"drv\":\"txn\",\"step\":\"%s\",\"ok\":true}\n", what);
		return;
	}
	printf("{\"drv\":\"txn\",\"step\":\"%s\",\"ok\":false,\"kind\":\"%s\",\"sqlstate\":\"%s\",\"constraint\":\"%s\","
	       "\"stmtIndex\":%d}\n",
	       what, kind_name(err->kind), err->sqlstate, err->constraint, err->stmt_index);
}

static void on_txn(PGresult *const *res, int nres, const struct gx_pg_error *err, void *arg)
{
	print_err(arg, err);
	if (!err)
		printf("{\"drv\":\"txn\",\"step\":\"%s-results\",\"n\":%d,\"last\":\"%s\"}\n", (const char *)arg, nres,
		       PQcmdTuples(res[nres - 1]));
	txn_next();
}

static void on_q(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	print_err(arg, err);
	if (!err)
		printf("{\"drv\":\"txn\",\"step\":\"%s-value\",\"value\":\"%s\"}\n", (const char *)arg,
		       gx_pg_val(res, 0, "n"));
	txn_next();
}

static struct gx_pg_conn *held;

static void on_held_q(PGresult *res GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	print_err(arg, err);
	txn_next();
}

static void on_acquired(struct gx_pg_conn *conn, const struct gx_pg_error *err, void *arg)
{
	print_err(arg, err);
	held = conn;
	txn_next();
}

static void txn_retry(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg GX_UNUSED)
{
	txn_next();
}

static void txn_next(void)
{
	static const char *ins = "INSERT INTO \"Item\"(id, v) VALUES ($1::int, $2)";
	static const char *p1[] = { "1", "a" }, *p2[] = { "2", "b" }, *p3[] = { "3", "c" }, *p4[] = { "4", "a" },
			  *p5[] = { "5", "e" }, *p6[] = { "6", "f" };
	struct gx_pg_stmt ok[2] = { { ins, 2, p1 }, { ins, 2, p2 } };
	struct gx_pg_stmt bad[3] = { { ins, 2, p3 }, { ins, 2, p4 }, { ins, 2, p5 } };
	static const char *probe = "SELECT $1::int + 1 AS n /* prep-probe */";
	static const char *probe_count =
		"SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE "
		"'%prep' || '-probe%'";
	static const char *bad_col = "SELECT no_such_column AS n FROM \"Item\"";
	static const char *stale =
		"SELECT a.id AS n FROM \"Item\" a LEFT JOIN \"Item\" b ON b.id = -a.id "
		"FOR UPDATE OF b /* prep-stale */";
	static const char *stale_count =
		"SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE "
		"'%prep' || '-stale%'";
	static const char *p41[] = { "41" }, *p9[] = { "9" }, *p7[] = { "7", "g" };
	struct gx_pg_stmt bad_txn[2] = { { ins, 2, p7 }, { bad_col, 0, NULL } };

	switch (step++) {
	case 0:
		gx_pg_txn(pool, ok, 2, on_txn, "commit");
		break;
	case 1:
		gx_pg_txn(pool, bad, 3, on_txn, "rollback");
		break;
	case 2:
		gx_pg_query(pool, "SELECT count(*) AS n FROM \"Item\" WHERE id IN (3, 4, 5)", 0, NULL, on_q,
			    "after-rollback");
		break;
	case 3:
		gx_pg_acquire(pool, on_acquired, "acquire");
		break;
	case 4:
		gx_pg_conn_query(held, "BEGIN", 0, NULL, on_held_q, "begin");
		break;
	case 5:
		gx_pg_conn_query(held, ins, 2, p6, on_held_q, "insert-held");
		break;
	case 6:
		gx_pg_release(held); /* still inside the transaction: the pool must roll it back */
		held = NULL;
		gx_pg_query(pool, "SELECT count(*) AS n FROM \"Item\" WHERE id = 6", 0, NULL, on_q,
			    "after-dirty-release");
		break;
	case 7:
		gx_pg_query(pool, "SELEC 1", 0, NULL, on_q, "syntax");
		break;
	case 8:
		gx_pg_query(tpool, "SELECT pg_sleep(3) AS n", 0, NULL, on_q, "stmt-timeout");
		break;
	case 9:
		gx_pg_query(pool, "SELECT count(*) AS n FROM \"Item\"", 0, NULL, on_q, "final-count");
		break;
	/* prepared statements: the pool (one connection) prepares each query once and re-prepares after a reconnect */
	case 10:
		gx_pg_query(pool, probe, 1, p41, on_q, "prep-1");
		break;
	case 11:
		gx_pg_query(pool, probe, 1, p1, on_q, "prep-2");
		break;
	case 12:
		gx_pg_query(pool, probe_count, 0, NULL, on_q, "prep-count");
		break;
	case 13:
		gx_pg_query(pool, bad_col, 0, NULL, on_q, "prep-bad-1");
		break;
	case 14:
		gx_pg_query(pool, bad_col, 0, NULL, on_q, "prep-bad-2");
		break;
	case 15:
		gx_pg_txn(pool, bad_txn, 2, on_txn, "prep-bad-txn");
		break;
	case 16:
		gx_pg_query(pool, "SELECT pg_terminate_backend(pg_backend_pid()) AS n", 0, NULL, on_q, "prep-kill");
		break;
	case 17:
		if (!gx_pg_pool_ready(pool)) { /* reconnecting: look again in 50 ms */
			static const struct timeval again = { 0, 50000 };
			step--;
			event_base_once(base, -1, EV_TIMEOUT, txn_retry, NULL, &again);
			break;
		}
		gx_pg_query(pool, probe, 1, p9, on_q, "prep-after-reconnect");
		break;
	case 18:
		gx_pg_query(pool, probe_count, 0, NULL, on_q, "prep-count-after");
		break;
	/* a statement the server prepares but rejects when planning (0A000) is prepared again on every use: the
	 * server must not keep the old copies */
	case 19:
	case 20:
	case 21:
		gx_pg_query(pool, stale, 0, NULL, on_q, "prep-stale");
		break;
	case 22:
		gx_pg_query(pool, stale_count, 0, NULL, on_q, "prep-stale-count");
		break;
	default:
		event_base_loopbreak(base);
	}
}

static void scenario_txn(const char *conninfo)
{
	pool = mkpool(conninfo, 1, 10, 2000, 0);
	tpool = mkpool(conninfo, 1, 10, 2000, 300);
	wait_ready(pool);
	wait_ready(tpool);
	txn_next();
	event_base_dispatch(base);
	gx_pg_pool_free(tpool);
}

/* ---- listen ---- */

static void on_notify(const char *channel, const char *payload, void *arg GX_UNUSED)
{
	printf("{\"drv\":\"notify\",\"t\":%lld,\"channel\":\"%s\",\"payload\":\"%s\"}\n", elapsed_ms(), channel,
	       payload);
	fflush(stdout);
	if (strcmp(payload, "hello") == 0)
		event_base_loopbreak(base);
}

static void on_notify_sent(PGresult *res GX_UNUSED, const struct gx_pg_error *err, void *arg GX_UNUSED)
{
	if (err)
		printf("{\"drv\":\"listen\",\"sendError\":\"%s\"}\n", err->message);
}

static void scenario_listen(const char *conninfo)
{
	static const char *pl[] = { "hello" };
	int64_t end = gx_mono_us() + 10000000;

	pool = mkpool(conninfo, 1, 10, 2000, 0);
	gx_pg_listen(pool, "gx_test", on_notify, NULL);
	gx_pg_listen(pool, "Other Channel", on_notify, NULL);
	while (!gx_pg_listen_ready(pool) && gx_mono_us() < end)
		run_for_ms(20);
	gx_pg_query(pool, "SELECT pg_notify('Other Channel', 'quoted'), pg_notify('gx_test', $1)", 1, pl,
		    on_notify_sent, NULL);
	run_for_ms(5000);
}

/* ---- soak: traffic while the test breaks the server ---- */

static struct event *tick_ev;
static int64_t soak_end_us;
static int soak_ok, soak_fail;

static void on_soak_q(PGresult *res, const struct gx_pg_error *err, void *arg GX_UNUSED)
{
	if (err) {
		soak_fail++;
		printf("{\"drv\":\"soak\",\"t\":%lld,\"ok\":false,\"kind\":\"%s\"}\n", elapsed_ms(),
		       kind_name(err->kind));
	} else {
		soak_ok++;
		printf("{\"drv\":\"soak\",\"t\":%lld,\"ok\":%s}\n", elapsed_ms(),
		       strcmp(gx_pg_val(res, 0, "one"), "1") == 0 ? "true" : "false");
	}
	fflush(stdout);
}

static void on_soak_txn(PGresult *const *res, int nres, const struct gx_pg_error *err, void *arg)
{
	on_soak_q(err ? NULL : res[nres - 1], err, arg);
}

static void on_tick(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg GX_UNUSED)
{
	static int n;
	static const struct gx_pg_stmt st[2] = { { "SELECT 2 AS two", 0, NULL }, { "SELECT 1 AS one", 0, NULL } };

	if (gx_mono_us() > soak_end_us) {
		event_base_loopbreak(base);
		return;
	}
	if (n++ % 3 == 0)
		gx_pg_txn(pool, st, 2, on_soak_txn, NULL);
	else
		gx_pg_query(pool, "SELECT 1 AS one", 0, NULL, on_soak_q, NULL);
}

static void scenario_soak(const char *conninfo, int seconds)
{
	struct timeval tv = { 0, 50000 };

	pool = mkpool(conninfo, 2, 100, 1000, 0);
	gx_pg_listen(pool, "soak", on_notify, NULL);
	wait_ready(pool);
	printf("{\"drv\":\"soak\",\"t\":%lld,\"started\":true}\n", elapsed_ms());
	fflush(stdout);
	soak_end_us = gx_mono_us() + (int64_t)seconds * 1000000;
	tick_ev = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick_ev, &tv);
	event_base_dispatch(base);
	event_free(tick_ev);
	run_for_ms(300); /* let in-flight queries finish */
	printf("{\"drv\":\"soak-summary\",\"ok\":%d,\"fail\":%d}\n", soak_ok, soak_fail);
}

/* ---- redis ---- */

static void on_get(const redisReply *reply, const char *err, void *arg GX_UNUSED)
{
	bool ok = !err && reply && reply->type == REDIS_REPLY_STRING && strcmp(reply->str, "v1") == 0;

	printf("{\"drv\":\"redis\",\"t\":%lld,\"op\":\"get\",\"ok\":%s,\"err\":\"%s\"}\n", elapsed_ms(),
	       ok ? "true" : "false", err ? err : "");
	fflush(stdout);
}

static void on_set(const redisReply *reply GX_UNUSED, const char *err GX_UNUSED, void *arg GX_UNUSED)
{
}

static void on_rl(const struct gx_ratelimit_result *r, void *arg)
{
	printf("{\"drv\":\"%s\",\"t\":%lld,\"op\":\"rl\",\"allowed\":%s,\"degraded\":%s,\"limit\":%lld,"
	       "\"remaining\":%lld,\"reset\":%lld,\"retryAfter\":%lld}\n",
	       (const char *)arg, elapsed_ms(), r->allowed ? "true" : "false", r->degraded ? "true" : "false", r->limit,
	       r->remaining, r->reset_s, r->retry_after_s);
	fflush(stdout);
	if (strcmp(arg, "gcra") == 0)
		done_one();
}

static void on_redis_tick(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg GX_UNUSED)
{
	const char *set[] = { "SET", "gx:test:k", "v1" };
	const char *get[] = { "GET", "gx:test:k" };

	if (gx_mono_us() > soak_end_us) {
		event_base_loopbreak(base);
		return;
	}
	gx_redis_cmd(redis, on_set, NULL, 3, set, NULL);
	gx_redis_cmd(redis, on_get, NULL, 2, get, NULL);
	gx_redis_ratelimit(redis, "gx:test:rl", 1000000, 1000000, 1000, on_rl, "redis");
}

static void wait_redis(void)
{
	int64_t end = gx_mono_us() + 10000000;

	while (!gx_redis_ready(redis) && gx_mono_us() < end)
		run_for_ms(20);
}

static void scenario_redis(const char *url, int seconds)
{
	struct timeval tv = { 0, 50000 };

	redis = gx_redis_new(base, url);
	if (!redis)
		exit(2);
	wait_redis();
	printf("{\"drv\":\"redis\",\"t\":%lld,\"started\":true}\n", elapsed_ms());
	fflush(stdout);
	soak_end_us = gx_mono_us() + (int64_t)seconds * 1000000;
	tick_ev = event_new(base, -1, EV_PERSIST, on_redis_tick, NULL);
	event_add(tick_ev, &tv);
	event_base_dispatch(base);
	event_free(tick_ev);
	run_for_ms(300);
}

static void on_flushed(const redisReply *reply GX_UNUSED, const char *err, void *arg GX_UNUSED)
{
	printf("{\"drv\":\"gcra-flush\",\"ok\":%s}\n", err ? "false" : "true");
	done_one();
}

static void scenario_gcra(const char *url)
{
	const char *flush[] = { "SCRIPT", "FLUSH" };
	char key[64];

	redis = gx_redis_new(base, url);
	if (!redis)
		exit(2);
	wait_redis();
	/* drop the cached script: the first call must fall back from EVALSHA to EVAL */
	outstanding = 1;
	gx_redis_cmd(redis, on_flushed, NULL, 2, flush, NULL);
	event_base_dispatch(base);
	snprintf(key, sizeof(key), "gx:test:gcra:%lld", (long long)gx_now_ms());
	/* burst 5, then 1 per second: six calls at once -> 5 allowed, the sixth limited */
	for (int i = 0; i < 6; i++) {
		outstanding = 1;
		gx_redis_ratelimit(redis, key, 5, 1, 1000, on_rl, "gcra");
		event_base_dispatch(base);
	}
	run_for_ms(1100);
	outstanding = 1;
	gx_redis_ratelimit(redis, key, 5, 1, 1000, on_rl, "gcra");
	event_base_dispatch(base);
}

/* ---- idempotency store: one call per run ---- */

static void on_idem_begin(const struct gx_idem_hit *hit, const struct gx_pg_error *err, void *arg GX_UNUSED)
{
	static const char *names[] = { "NEW", "REPLAY", "MISMATCH", "IN_FLIGHT" };

	if (err) {
		printf("{\"drv\":\"idem\",\"error\":\"%s\"}\n", kind_name(err->kind));
	} else {
		char *hex = gx_xmalloc(2 * hit->body_len + 1);
		gx_hex_encode(hit->body ? hit->body : (const unsigned char *)"", hit->body_len, hex);
		printf("{\"drv\":\"idem\",\"state\":\"%s\",\"status\":%d,\"headers\":%s,\"bodyHex\":\"%s\"}\n",
		       names[hit->state], hit->status, hit->headers_json ? hit->headers_json : "null", hex);
		free(hex);
	}
	done_one();
}

static void on_idem_done(const struct gx_pg_error *err, void *arg GX_UNUSED)
{
	printf("{\"drv\":\"idem\",\"ok\":%s}\n", err ? "false" : "true");
	done_one();
}

static void on_idem_txn(PGresult *const *res GX_UNUSED, int n GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	on_idem_done(err, arg);
}

static int scenario_idem(const char *conninfo, int argc, char **argv)
{
	pool = mkpool(conninfo, 1, 10, 5000, 0);
	wait_ready(pool);
	outstanding = 1;
	if (argc == 5 && strcmp(argv[0], "begin") == 0) {
		gx_idem_begin(pool, argv[1], argv[2], argv[3], argv[4], on_idem_begin, NULL);
	} else if (argc == 5 && (strcmp(argv[0], "complete") == 0 || strcmp(argv[0], "txncomplete") == 0)) {
		size_t len = strlen(argv[4]) / 2;
		unsigned char *body = gx_xmalloc(len + 1);
		if (gx_hex_decode(argv[4], len, body) < 0)
			return 2;
		if (argv[0][0] == 'c') {
			gx_idem_complete(pool, argv[1], atoi(argv[2]), argv[3], body, len, on_idem_done, NULL);
		} else {
			struct gx_idem_stmt st;
			struct gx_pg_stmt stmts[2] = { { "SELECT 1", 0, NULL } };
			gx_idem_complete_stmt(&st, argv[1], atoi(argv[2]), argv[3], body, len, NULL);
			stmts[1] = st.stmt;
			gx_pg_txn(pool, stmts, 2, on_idem_txn, NULL);
			gx_idem_stmt_clear(&st);
		}
		free(body);
	} else if (argc == 2 && strcmp(argv[0], "abort") == 0) {
		gx_idem_abort(pool, argv[1], on_idem_done, NULL);
	} else {
		fprintf(stderr, "bad idem arguments\n");
		return 2;
	}
	event_base_dispatch(base);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pgdriver <scenario> <conninfo|url> [seconds]\n");
		return 2;
	}
	gx_log_init("pgdriver");
	base = event_base_new();
	t0_us = gx_mono_us();
	const char *s = argv[1], *ci = argv[2];
	int secs = argc > 3 ? atoi(argv[3]) : 5;

	if (strcmp(s, "concurrent") == 0)
		scenario_counts(s, ci, 3, 1024, 5000, 300, "SELECT $1::int * 2 AS \"doubleVal\"");
	else if (strcmp(s, "queue") == 0)
		scenario_counts(s, ci, 1, 4, 10000, 20, "SELECT pg_sleep(0.3)");
	else if (strcmp(s, "acqtimeout") == 0)
		scenario_counts(s, ci, 1, 10, 300, 3, "SELECT pg_sleep(1)");
	else if (strcmp(s, "txn") == 0)
		scenario_txn(ci);
	else if (strcmp(s, "listen") == 0)
		scenario_listen(ci);
	else if (strcmp(s, "soak") == 0)
		scenario_soak(ci, secs);
	else if (strcmp(s, "redis") == 0)
		scenario_redis(ci, secs);
	else if (strcmp(s, "gcra") == 0)
		scenario_gcra(ci);
	else if (strcmp(s, "idem") == 0) {
		int rc = scenario_idem(ci, argc - 3, argv + 3);
		if (rc)
			return rc;
	} else {
		fprintf(stderr, "unknown scenario %s\n", s);
		return 2;
	}
	fflush(stdout);
	gx_pg_pool_free(pool);
	gx_redis_free(redis);
	event_base_free(base);
	return 0;
}
