/* Asynchronous PostgreSQL pool on libevent (contract in gx/pg.h; the internals and how the pg*.c files divide the
 * work in pg_int.h): the pool's lifecycle, the queue of requests waiting for a connection, the public entry points,
 * the result helpers and the blocking connect for worker threads.
 */
#include "pg_int.h"

#include "gx/log.h"
#include "gx/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- queueing ------------------------------------------------------------------------------------------- */

static void arm_wait_timer(struct gx_pg_pool *pool)
{
	int64_t left;
	struct timeval tv;

	if (!pool->wait_head) {
		evtimer_del(pool->wait_ev);
		return;
	}
	left = pool->wait_head->deadline_us - gx_mono_us();
	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000000;
	tv.tv_usec = left % 1000000;
	evtimer_add(pool->wait_ev, &tv);
}

static struct gx_pg_op *wait_pop(struct gx_pg_pool *pool)
{
	struct gx_pg_op *op = pool->wait_head;

	if (!op)
		return NULL;
	pool->wait_head = op->next;
	if (!pool->wait_head)
		pool->wait_tail = NULL;
	pool->nwait--;
	op->next = NULL;
	arm_wait_timer(pool);
	return op;
}

static void on_wait_ev(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_pool *pool = arg;
	int64_t now = gx_mono_us();
	int expired = 0;

	while (pool->wait_head && pool->wait_head->deadline_us <= now) {
		struct gx_pg_op *op = wait_pop(pool);
		gx_pg_op_fail(op, GX_PG_ERR_UNAVAILABLE, "timed out waiting for a database connection");
		gx_pg_op_complete(op);
		expired++;
	}
	if (expired)
		gx_log_warn("postgres pool: %d request(s) timed out waiting for a connection", expired);
	arm_wait_timer(pool);
}

static void give_conn(struct gx_pg_conn *c, struct gx_pg_op *op)
{
	if (op->kind == OP_ACQUIRE) {
		c->state = CS_BUSY;
		c->checked_out = true;
		event_del(c->ev);
		op->conn = c;
		gx_pg_op_complete(op);
		return;
	}
	gx_pg_conn_run(c, op);
}

void gx_pg_conn_make_idle(struct gx_pg_conn *c)
{
	struct gx_pg_op *op;

	if (gx_pg_prep_has_stale(c)) { /* comes back here through gx_pg_internal_done */
		gx_pg_prep_send_deallocate(c);
		return;
	}
	op = wait_pop(c->pool);
	if (op) {
		give_conn(c, op);
		return;
	}
	c->state = CS_IDLE;
	if (gx_pg_conn_arm(c, EV_READ, gx_pg_on_idle_ev) < 0)
		gx_pg_conn_reconnect(c);
}

static void pool_submit(struct gx_pg_pool *pool, struct gx_pg_op *op)
{
	bool hope = false;

	for (int i = 0; i < pool->nconns; i++) {
		struct gx_pg_conn *c = pool->conns[i];
		if (c->state == CS_IDLE) {
			give_conn(c, op);
			return;
		}
		if (c->state != CS_DOWN)
			hope = true;
	}
	if (!hope) {
		gx_pg_op_fail(op, GX_PG_ERR_UNAVAILABLE, "database unavailable (no connection)");
		gx_pg_op_complete(op);
		return;
	}
	if (pool->nwait >= pool->o.max_waiters) {
		gx_pg_op_fail(op, GX_PG_ERR_UNAVAILABLE, "database pool queue full");
		gx_pg_op_complete(op);
		return;
	}
	op->deadline_us = gx_mono_us() + (int64_t)pool->o.acquire_timeout_ms * 1000;
	op->next = NULL;
	if (pool->wait_tail)
		pool->wait_tail->next = op;
	else
		pool->wait_head = op;
	pool->wait_tail = op;
	pool->nwait++;
	if (pool->wait_head == op)
		arm_wait_timer(pool);
}

/* ---- public API ----------------------------------------------------------------------------------------- */

struct gx_pg_pool *gx_pg_pool_new(struct event_base *base, const char *conninfo, const struct gx_pg_pool_opts *o)
{
	struct gx_pg_pool *pool;

	if (!base || !conninfo) {
		gx_log_error("gx_pg_pool_new: base and conninfo are required");
		return NULL;
	}
	pool = gx_xcalloc(1, sizeof(*pool));
	pool->base = base;
	if (o)
		pool->o = *o;
	if (pool->o.size < 1)
		pool->o.size = 1;
	if (pool->o.max_waiters <= 0)
		pool->o.max_waiters = 1024;
	if (pool->o.acquire_timeout_ms <= 0)
		pool->o.acquire_timeout_ms = 2000;
	if (pool->o.connect_timeout_ms <= 0)
		pool->o.connect_timeout_ms = 5000;
	if (pool->o.statement_timeout_ms == 0)
		pool->o.statement_timeout_ms = 10000;
	else if (pool->o.statement_timeout_ms < 0) /* negative: no server-side timeout */
		pool->o.statement_timeout_ms = 0;
	pool->conninfo = gx_xstrdup(conninfo);
	pool->appname = gx_xstrdup(pool->o.application_name ? pool->o.application_name : "gx-backend");
	pool->o.application_name = pool->appname;
	pool->options = gx_xasprintf("-c statement_timeout=%d", pool->o.statement_timeout_ms);
	pool->done_ev = evtimer_new(base, gx_pg_on_done_ev, pool);
	pool->wait_ev = evtimer_new(base, on_wait_ev, pool);
	if (!pool->done_ev || !pool->wait_ev) {
		gx_log_fatal("postgres pool: cannot create events");
		abort();
	}
	pool->nconns = pool->o.size;
	pool->conns = gx_xcalloc((size_t)pool->nconns, sizeof(*pool->conns));
	for (int i = 0; i < pool->nconns; i++) {
		pool->conns[i] = gx_pg_conn_new(pool, false);
		gx_pg_conn_start(pool->conns[i]);
	}
	return pool;
}

static void fail_list(struct gx_pg_op *op, const char *why)
{
	while (op) {
		struct gx_pg_op *next = op->next;
		if (op->kind == OP_ACQUIRE && op->conn) {
			op->conn = NULL;
			gx_pg_op_fail(op, GX_PG_ERR_UNAVAILABLE, why);
		} else if (op->kind == OP_ACQUIRE || !op->failed) {
			bool had_results = !op->failed && op->nstmts && op->res[op->nstmts - 1];
			if (!had_results)
				gx_pg_op_fail(op, GX_PG_ERR_UNAVAILABLE, why);
		}
		gx_pg_op_deliver(op);
		op = next;
	}
}

void gx_pg_pool_free(struct gx_pg_pool *pool)
{
	struct gx_pg_op *pending = NULL, *done;

	if (!pool)
		return;
	pool->closing = true;
	/* ops running on connections fail as unavailable; completed ops are still delivered */
	for (int i = 0; i <= pool->nconns; i++) {
		struct gx_pg_conn *c = i < pool->nconns ? pool->conns[i] : pool->listen_conn;
		if (c && c->op) {
			c->op->next = pending;
			gx_pg_op_fail(c->op, GX_PG_ERR_UNAVAILABLE, "database pool shut down");
			pending = c->op;
			c->op = NULL;
		}
	}
	done = pool->done_head;
	pool->done_head = pool->done_tail = NULL;
	for (int i = 0; i < pool->nconns; i++)
		gx_pg_conn_free(pool->conns[i]);
	gx_pg_conn_free(pool->listen_conn);
	pool->listen_conn = NULL;
	free(pool->conns);
	pool->conns = NULL;
	pool->nconns = 0;
	fail_list(done, "database pool shut down");
	fail_list(pending, "database pool shut down");
	fail_list(pool->wait_head, "database pool shut down");
	pool->wait_head = pool->wait_tail = NULL;
	/* callbacks above may have queued more (they see no connection): gx_pg_op_deliver them too */
	fail_list(pool->done_head, "database pool shut down");
	event_free(pool->done_ev);
	event_free(pool->wait_ev);
	while (pool->subs) {
		struct gx_pg_listen_sub *s = pool->subs;
		pool->subs = s->next;
		free(s->channel);
		free(s);
	}
	while (pool->ext) {
		struct gx_pg_pool_ext *e = pool->ext;
		pool->ext = e->next;
		if (e->free_fn)
			e->free_fn(e->val);
		free(e);
	}
	free(pool->conninfo);
	free(pool->options);
	free(pool->appname);
	free(pool);
}

bool gx_pg_pool_ready(const struct gx_pg_pool *pool)
{
	for (int i = 0; i < pool->nconns; i++)
		if (pool->conns[i]->state == CS_IDLE || (pool->conns[i]->state == CS_BUSY && pool->conns[i]->pg))
			return true;
	return false;
}

void gx_pg_pool_stats(const struct gx_pg_pool *pool, int *open, int *busy, int *waiting)
{
	int o = 0, b = 0;

	for (int i = 0; i < pool->nconns; i++) {
		const struct gx_pg_conn *c = pool->conns[i];
		if (c->state == CS_IDLE)
			o++;
		else if (c->state == CS_BUSY) {
			o++;
			b++;
		}
	}
	if (open)
		*open = o;
	if (busy)
		*busy = b;
	if (waiting)
		*waiting = pool->nwait;
}

static bool check_params(const char *fn, const char *sql, int nparams, const char *const *params)
{
	if (!sql || nparams < 0 || (nparams > 0 && !params)) {
		gx_log_error("%s: bad arguments (sql %s, nparams %d)", fn, sql ? "set" : "NULL", nparams);
		return false;
	}
	return true;
}

int gx_pg_query(struct gx_pg_pool *pool, const char *sql, int nparams, const char *const *params, gx_pg_result_cb cb,
		void *arg)
{
	struct gx_pg_op *op;

	if (!pool || !cb || !check_params("gx_pg_query", sql, nparams, params) || pool->closing) {
		if (pool && pool->closing)
			gx_log_error("gx_pg_query: pool is shutting down");
		return -1;
	}
	op = gx_pg_op_new(pool, OP_QUERY, 1, arg);
	op->rcb = cb;
	gx_pg_stmt_copy_init(&op->stmts[0], sql, nparams, params);
	pool_submit(pool, op);
	return 0;
}

int gx_pg_txn(struct gx_pg_pool *pool, const struct gx_pg_stmt *stmts, int n, gx_pg_txn_cb cb, void *arg)
{
	struct gx_pg_op *op;

	if (!pool || !cb || n < 1 || !stmts || pool->closing) {
		gx_log_error("gx_pg_txn: bad arguments or pool shutting down (n %d)", n);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (!check_params("gx_pg_txn", stmts[i].sql, stmts[i].nparams, stmts[i].params))
			return -1;
	op = gx_pg_op_new(pool, OP_TXN, n, arg);
	op->tcb = cb;
	for (int i = 0; i < n; i++)
		gx_pg_stmt_copy_init(&op->stmts[i], stmts[i].sql, stmts[i].nparams, stmts[i].params);
	pool_submit(pool, op);
	return 0;
}

void gx_pg_acquire(struct gx_pg_pool *pool, gx_pg_conn_cb cb, void *arg)
{
	struct gx_pg_op *op;

	if (pool->closing) {
		struct gx_pg_error err;
		gx_pg_set_err(&err, GX_PG_ERR_UNAVAILABLE, "database pool shut down");
		cb(NULL, &err, arg);
		return;
	}
	op = gx_pg_op_new(pool, OP_ACQUIRE, 0, arg);
	op->ccb = cb;
	pool_submit(pool, op);
}

int gx_pg_conn_query(struct gx_pg_conn *conn, const char *sql, int nparams, const char *const *params,
		     gx_pg_result_cb cb, void *arg)
{
	struct gx_pg_op *op;

	if (!conn || !cb || !check_params("gx_pg_conn_query", sql, nparams, params))
		return -1;
	if (!conn->checked_out || conn->op) {
		gx_log_error("gx_pg_conn_query: connection not checked out or already running a query");
		return -1;
	}
	op = gx_pg_op_new(conn->pool, OP_CONN_QUERY, 1, arg);
	op->rcb = cb;
	gx_pg_stmt_copy_init(&op->stmts[0], sql, nparams, params);
	if (conn->broken || !conn->pg) {
		gx_pg_op_fail(op, GX_PG_ERR_CONNECTION, "connection lost");
		gx_pg_op_complete(op);
		return 0;
	}
	gx_pg_conn_run(conn, op);
	return 0;
}

void gx_pg_release(struct gx_pg_conn *conn)
{
	if (!conn)
		return;
	if (!conn->checked_out || conn->op) {
		gx_log_error("gx_pg_release: connection not checked out or a query is still running");
		return;
	}
	gx_pg_conn_after_use(conn);
}

int gx_pg_listen(struct gx_pg_pool *pool, const char *channel, gx_pg_notify_cb cb, void *arg)
{
	struct gx_pg_listen_sub *s, **tail;

	if (!pool || !channel || !*channel || !cb || pool->closing) {
		gx_log_error("gx_pg_listen: bad arguments");
		return -1;
	}
	s = gx_xcalloc(1, sizeof(*s));
	s->channel = gx_xstrdup(channel);
	s->cb = cb;
	s->arg = arg;
	for (tail = &pool->subs; *tail; tail = &(*tail)->next)
		;
	*tail = s;
	pool->listen_dirty = true;
	if (!pool->listen_conn) {
		pool->listen_conn = gx_pg_conn_new(pool, true);
		gx_pg_conn_start(pool->listen_conn);
	} else if (pool->listen_conn->state == CS_IDLE) {
		gx_pg_listener_send(pool->listen_conn);
	}
	return 0;
}

bool gx_pg_listen_ready(const struct gx_pg_pool *pool)
{
	return pool->listen_conn && pool->listen_conn->state == CS_IDLE && !pool->listen_dirty;
}

void *gx_pg_pool_ext_get(const struct gx_pg_pool *pool, const void *key)
{
	for (const struct gx_pg_pool_ext *e = pool->ext; e; e = e->next)
		if (e->key == key)
			return e->val;
	return NULL;
}

void gx_pg_pool_ext_set(struct gx_pg_pool *pool, const void *key, void *val, void (*free_fn)(void *))
{
	struct gx_pg_pool_ext *e = gx_xcalloc(1, sizeof(*e));

	e->key = key;
	e->val = val;
	e->free_fn = free_fn;
	e->next = pool->ext;
	pool->ext = e;
}

struct event_base *gx_pg_pool_base(const struct gx_pg_pool *pool)
{
	return pool->base;
}

static int find_col(const PGresult *res, const char *col)
{
	int n;

	if (!res)
		return -1;
	n = PQnfields(res);
	/* PQfnumber folds unquoted names to lower case; our columns are quoted CamelCase, so compare exactly */
	for (int i = 0; i < n; i++)
		if (strcmp(PQfname(res, i), col) == 0)
			return i;
	return -1;
}

const char *gx_pg_val(const PGresult *res, int row, const char *col)
{
	int c = find_col(res, col);

	if (c < 0 || row < 0 || row >= PQntuples(res) || PQgetisnull(res, row, c))
		return "";
	return PQgetvalue(res, row, c);
}

bool gx_pg_isnull(const PGresult *res, int row, const char *col)
{
	int c = find_col(res, col);

	return c < 0 || row < 0 || row >= PQntuples(res) || PQgetisnull(res, row, c);
}

PGconn *gx_pg_connect_blocking(const char *conninfo, const char *application_name)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { conninfo, application_name ? application_name : "gx-backend", NULL };
	PGconn *pg = PQconnectdbParams(keys, vals, 1);

	if (!pg) {
		gx_log_error("postgres connect failed: out of memory");
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		const char *m = PQerrorMessage(pg);
		gx_log_error("postgres connect failed: %.*s", (int)strcspn(m, "\n"), m);
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, gx_pg_notice_processor, NULL);
	return pg;
}
