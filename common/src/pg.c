/* Asynchronous PostgreSQL pool on libevent (contract in gx/pg.h).
 *
 * Each connection is a small state machine driven by one socket event and one timer:
 *   DOWN --timer--> CONNECTING --PQconnectPoll ok--> IDLE <--> BUSY (running an op, checked out, or cleaning up)
 * Any failure drops the PGconn and goes back to DOWN with exponential backoff. Connecting happens only from the
 * timer, never on the request path. Sockets are non-blocking (PQsetnonblocking) and every send goes through a flush
 * loop that waits for write readiness while libpq's output buffer is not empty.
 *
 * Every user callback is delivered from a zero-delay timer (the pool's "done" queue), so no callback ever runs from
 * inside the call that started the operation and no user code runs while a connection's state is half-updated.
 *
 * Prepared statements: every op runs in libpq pipeline mode (a single statement is "stmt, sync"; a transaction is
 * "BEGIN, stmts, COMMIT, sync"), so the first use of a DML text on a connection can queue PQsendPrepare right in
 * front of its PQsendQueryPrepared without a round trip of its own, and later uses send only Bind/Execute. Each
 * connection keeps a cache of SQL text (by content) -> statement name "gx<N>", bounded at PREP_MAX entries (beyond
 * that statements go unprepared through PQsendQueryParams). The op records what it queued (pipe[]) so the reader
 * knows which results belong to a prepare (skipped; a failed prepare is the statement's error, with the same
 * sqlstate the unprepared statement would have had) and which to a statement. An entry becomes usable for later
 * ops once its prepare returned COMMAND_OK (prepared statements are not transactional, so a later rollback does
 * not undo it); entries whose prepare failed or was skipped by an aborted pipeline are dropped when the op ends.
 * Names are never reused on a connection, and the cache is emptied whenever the PGconn goes away, so a reconnect
 * (restart, pg_terminate_backend, deadline) starts afresh. A statement failing with 0A000 (DDL changed the result
 * type of a cached plan) or 26000 (statement gone) is dropped from the cache and prepared anew on its next use.
 * Statements that do not start with SELECT, INSERT, UPDATE, DELETE, WITH or VALUES (BEGIN, SET, LISTEN, ...) always
 * go unprepared.
 */
#include "gx/pg.h"
#include "gx/log.h"
#include "gx/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define QUERY_DEADLINE_SLACK_MS 5000
#define QUERY_DEADLINE_NO_TIMEOUT_MS 300000
#define PREP_MAX 256     /* prepared statements per connection */
#define PREP_BUCKETS 64  /* hash buckets of the per-connection statement cache */

enum conn_state {
	CS_DOWN,       /* no PGconn; the timer fires the next connect attempt */
	CS_CONNECTING, /* PQconnectPoll in progress; the timer is the connect timeout */
	CS_IDLE,       /* in the pool, waiting for work; read event armed to notice server-side closes */
	CS_BUSY,       /* running an op, checked out by a user, or running an internal statement */
};

enum conn_internal {
	IK_NONE,
	IK_ROLLBACK, /* async ROLLBACK of a connection released inside a transaction */
	IK_LISTEN,   /* (re)subscribing the listener connection */
};

enum op_kind {
	OP_QUERY,      /* gx_pg_query: pool-level, connection released when done */
	OP_TXN,        /* gx_pg_txn: pool-level pipeline transaction */
	OP_ACQUIRE,    /* gx_pg_acquire: hand a connection to the user */
	OP_CONN_QUERY, /* gx_pg_conn_query on a checked-out connection */
};

/* One prepared statement of a connection (key: the SQL text). */
struct prep_ent {
	struct prep_ent *next;
	uint32_t hash;
	bool ready;   /* the server confirmed the prepare; until then it is only queued by the running op */
	char name[16];
	char sql[];
};

/* What an op queued in its pipeline, in order: one entry per result group (results, then a NULL). */
enum pipe_kind {
	PK_UTIL,    /* BEGIN / COMMIT of a transaction */
	PK_PREPARE, /* PQsendPrepare of stmts[stmt]: its COMMAND_OK is not a statement result */
	PK_STMT,    /* stmts[stmt] itself (prepared or not) */
};

struct pipe_ent {
	enum pipe_kind kind;
	int stmt;
	struct prep_ent *prep; /* the cache entry used, or NULL when sent unprepared */
};

struct stmt_copy {
	char *sql;
	int nparams;
	char **params; /* entries may be NULL */
};

struct pg_op {
	struct pg_op *next;
	enum op_kind kind;
	struct gx_pg_pool *pool;
	struct stmt_copy *stmts;
	int nstmts;
	gx_pg_result_cb rcb;
	gx_pg_txn_cb tcb;
	gx_pg_conn_cb ccb;
	void *arg;
	int64_t deadline_us;     /* acquire deadline while waiting in the queue */
	PGresult **res;          /* one slot per statement */
	struct pipe_ent *pipe;   /* what conn_run queued (nstmts * 2 + 2 slots) */
	int npipe;
	int cur;                 /* pipe entry being read */
	bool failed;
	struct gx_pg_error err;
	struct gx_pg_conn *conn; /* OP_ACQUIRE: the connection handed out */
};

struct gx_pg_conn {
	struct gx_pg_pool *pool;
	PGconn *pg;
	struct event *ev;    /* socket event, re-assigned on every arm (the socket may change) */
	struct event *timer; /* backoff, connect timeout or query deadline, by state */
	enum conn_state state;
	enum conn_internal internal;
	int backoff_ms;
	bool listener;    /* the pool's dedicated LISTEN connection */
	bool checked_out; /* handed to a user by gx_pg_acquire */
	bool broken;      /* checked out and lost: reconnect on release */
	bool flushing;
	bool fail_logged; /* connect failures are logged once until the next success */
	struct pg_op *op;
	struct prep_ent *prep[PREP_BUCKETS]; /* prepared statements of the current PGconn */
	int nprep;
	unsigned prep_seq; /* next statement name number */
};

struct listen_sub {
	struct listen_sub *next;
	char *channel;
	gx_pg_notify_cb cb;
	void *arg;
};

struct pool_ext {
	struct pool_ext *next;
	const void *key;
	void *val;
	void (*free_fn)(void *);
};

struct gx_pg_pool {
	struct event_base *base;
	char *conninfo;
	char *options;
	char *appname;
	struct gx_pg_pool_opts o;
	struct gx_pg_conn **conns;
	int nconns;
	struct gx_pg_conn *listen_conn;
	struct listen_sub *subs;
	bool listen_dirty;
	struct pg_op *wait_head, *wait_tail;
	int nwait;
	struct pg_op *done_head, *done_tail;
	struct event *done_ev;
	struct event *wait_ev;
	struct pool_ext *ext;
	bool closing;
};

static void conn_start(struct gx_pg_conn *c);
static void conn_make_idle(struct gx_pg_conn *c);
static void conn_lost(struct gx_pg_conn *c, enum gx_pg_err_kind kind, const char *msg);
static void conn_flush(struct gx_pg_conn *c);
static void on_busy_ev(evutil_socket_t fd, short what, void *arg);
static void listener_send(struct gx_pg_conn *c);

/* ---- small helpers -------------------------------------------------------------------------------------- */

static void set_err(struct gx_pg_error *e, enum gx_pg_err_kind kind, const char *msg)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->message, sizeof(e->message), "%s", msg ? msg : "");
	/* libpq messages end with a newline; keep log lines on one line */
	size_t n = strlen(e->message);
	while (n && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
		e->message[--n] = '\0';
}

static void set_err_from_result(struct gx_pg_error *e, const PGresult *r, int stmt_index)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	enum gx_pg_err_kind kind = GX_PG_ERR_QUERY;

	if (state && strcmp(state, "57014") == 0)
		kind = GX_PG_ERR_TIMEOUT;
	else if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))
		kind = GX_PG_ERR_CONNECTION;
	set_err(e, kind, msg ? msg : PQresultErrorMessage(r));
	snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state ? state : "");
	snprintf(e->constraint, sizeof(e->constraint), "%s", cons ? cons : "");
	e->stmt_index = stmt_index;
}

static int backoff_jitter(int ms)
{
	/* +-25 % so that many workers do not reconnect in lockstep */
	int64_t r = gx_mono_us();
	int span = ms / 2 + 1;
	return ms - ms / 4 + (int)((r ^ (r >> 17)) % span);
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return tv;
}

static void stmt_copy_init(struct stmt_copy *d, const char *sql, int nparams, const char *const *params)
{
	d->sql = gx_xstrdup(sql);
	d->nparams = nparams;
	d->params = nparams ? gx_xcalloc((size_t)nparams, sizeof(char *)) : NULL;
	for (int i = 0; i < nparams; i++)
		d->params[i] = params[i] ? gx_xstrdup(params[i]) : NULL;
}

static struct pg_op *op_new(struct gx_pg_pool *pool, enum op_kind kind, int nstmts, void *arg)
{
	struct pg_op *op = gx_xcalloc(1, sizeof(*op));

	op->pool = pool;
	op->kind = kind;
	op->arg = arg;
	op->nstmts = nstmts;
	if (nstmts) {
		op->stmts = gx_xcalloc((size_t)nstmts, sizeof(*op->stmts));
		op->res = gx_xcalloc((size_t)nstmts, sizeof(PGresult *));
	}
	return op;
}

static void op_free(struct pg_op *op)
{
	for (int i = 0; i < op->nstmts; i++) {
		free(op->stmts[i].sql);
		for (int j = 0; j < op->stmts[i].nparams; j++)
			free(op->stmts[i].params[j]);
		free(op->stmts[i].params);
		if (op->res[i])
			PQclear(op->res[i]);
	}
	free(op->stmts);
	free(op->res);
	free(op->pipe);
	free(op);
}

static void op_fail(struct pg_op *op, enum gx_pg_err_kind kind, const char *msg)
{
	if (op->failed)
		return;
	op->failed = true;
	set_err(&op->err, kind, msg);
}

/* ---- prepared statement cache -------------------------------------------------------------------------- */

static uint32_t prep_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Worth preparing: DML and queries; utility statements (BEGIN, SET, LISTEN, ...) are not. */
static bool prep_eligible(const char *sql)
{
	static const char *const kw[] = { "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES" };

	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r' || *sql == '(')
		sql++;
	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++) {
		size_t n = strlen(kw[i]);
		if (strncasecmp(sql, kw[i], n) == 0 && !isalnum((unsigned char)sql[n]) && sql[n] != '_')
			return true;
	}
	return false;
}

static struct prep_ent *prep_find(struct gx_pg_conn *c, const char *sql, uint32_t h)
{
	for (struct prep_ent *p = c->prep[h % PREP_BUCKETS]; p; p = p->next)
		if (p->hash == h && strcmp(p->sql, sql) == 0)
			return p;
	return NULL;
}

static struct prep_ent *prep_add(struct gx_pg_conn *c, const char *sql, uint32_t h)
{
	size_t len = strlen(sql);
	struct prep_ent *p = gx_xmalloc(sizeof(*p) + len + 1);

	p->hash = h;
	p->ready = false;
	snprintf(p->name, sizeof(p->name), "gx%u", c->prep_seq++);
	memcpy(p->sql, sql, len + 1);
	p->next = c->prep[h % PREP_BUCKETS];
	c->prep[h % PREP_BUCKETS] = p;
	c->nprep++;
	return p;
}

/* Drop entries the server does not (or no longer usably) hold; all of them when all is set. */
static void prep_prune(struct gx_pg_conn *c, bool all)
{
	for (int b = 0; b < PREP_BUCKETS; b++) {
		struct prep_ent **pp = &c->prep[b];
		while (*pp) {
			struct prep_ent *p = *pp;
			if (all || !p->ready) {
				*pp = p->next;
				free(p);
				c->nprep--;
			} else {
				pp = &p->next;
			}
		}
	}
	if (all)
		c->prep_seq = 0;
}

/* ---- deferred delivery ---------------------------------------------------------------------------------- */

static void deliver(struct pg_op *op)
{
	const struct gx_pg_error *err = op->failed ? &op->err : NULL;

	switch (op->kind) {
	case OP_ACQUIRE:
		op->ccb(err ? NULL : op->conn, err, op->arg);
		break;
	case OP_QUERY:
	case OP_CONN_QUERY:
		op->rcb(err ? NULL : op->res[0], err, op->arg);
		break;
	case OP_TXN:
		op->tcb(err ? NULL : op->res, err ? 0 : op->nstmts, err, op->arg);
		break;
	}
	op_free(op);
}

static void on_done_ev(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_pool *pool = arg;
	struct pg_op *op = pool->done_head;

	pool->done_head = pool->done_tail = NULL;
	while (op) {
		struct pg_op *next = op->next;
		deliver(op);
		op = next;
	}
}

/* Queue op's callback for the next loop iteration. */
static void op_complete(struct pg_op *op)
{
	struct gx_pg_pool *pool = op->pool;
	struct timeval zero = { 0, 0 };

	if (op->kind != OP_ACQUIRE && !op->failed && op->nstmts && !op->res[op->nstmts - 1])
		op_fail(op, GX_PG_ERR_QUERY, "statement returned no result");
	op->next = NULL;
	if (pool->done_tail)
		pool->done_tail->next = op;
	else
		pool->done_head = op;
	pool->done_tail = op;
	evtimer_add(pool->done_ev, &zero);
}

/* ---- socket events -------------------------------------------------------------------------------------- */

static int conn_arm(struct gx_pg_conn *c, short what, event_callback_fn cb)
{
	evutil_socket_t fd = PQsocket(c->pg);

	event_del(c->ev);
	if (fd < 0)
		return -1;
	event_assign(c->ev, c->pool->base, fd, what, cb, c);
	if (event_add(c->ev, NULL) < 0)
		return -1;
	return 0;
}

static void conn_drop_pg(struct gx_pg_conn *c)
{
	event_del(c->ev);
	evtimer_del(c->timer);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	prep_prune(c, true); /* the statements lived in that session */
	c->flushing = false;
	c->internal = IK_NONE;
}

static void conn_schedule_reconnect(struct gx_pg_conn *c)
{
	struct timeval tv;

	conn_drop_pg(c);
	c->state = CS_DOWN;
	if (c->pool->closing)
		return;
	tv = ms_tv(backoff_jitter(c->backoff_ms));
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	evtimer_add(c->timer, &tv);
}

static void conn_connect_failed(struct gx_pg_conn *c, const char *why)
{
	if (!c->fail_logged) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", why ? why : "unknown error");
		msg[strcspn(msg, "\n")] = '\0';
		gx_log_warn("postgres connect failed, retrying with backoff: %s", msg);
		c->fail_logged = true;
	}
	conn_schedule_reconnect(c);
}

static void notice_processor(void *arg GX_UNUSED, const char *message)
{
	gx_log_debug("postgres notice: %.*s", (int)strcspn(message, "\n"), message);
}

static void dispatch_notifies(struct gx_pg_conn *c)
{
	PGnotify *n;

	while ((n = PQnotifies(c->pg)) != NULL) {
		if (c->listener) {
			for (struct listen_sub *s = c->pool->subs; s; s = s->next)
				if (strcmp(s->channel, n->relname) == 0)
					s->cb(n->relname, n->extra ? n->extra : "", s->arg);
		}
		PQfreemem(n);
		if (!c->pg) /* a callback cannot drop the connection, but stay defensive */
			return;
	}
}

static void on_connect_ev(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_conn *c = arg;
	PostgresPollingStatusType st = PQconnectPoll(c->pg);

	switch (st) {
	case PGRES_POLLING_READING:
		if (conn_arm(c, EV_READ, on_connect_ev) < 0)
			conn_connect_failed(c, "no socket while connecting");
		return;
	case PGRES_POLLING_WRITING:
		if (conn_arm(c, EV_WRITE, on_connect_ev) < 0)
			conn_connect_failed(c, "no socket while connecting");
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	evtimer_del(c->timer);
	event_del(c->ev);
	if (PQsetnonblocking(c->pg, 1) != 0) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->fail_logged || c->backoff_ms > BACKOFF_MIN_MS)
		gx_log_info("postgres connection established");
	c->fail_logged = false;
	c->backoff_ms = BACKOFF_MIN_MS;
	if (c->listener) {
		c->pool->listen_dirty = true;
		c->state = CS_BUSY;
		listener_send(c);
		return;
	}
	conn_make_idle(c);
}

static void conn_start(struct gx_pg_conn *c)
{
	struct gx_pg_pool *pool = c->pool;
	const char *keys[] = { "dbname", "options", "application_name", NULL };
	const char *vals[] = { pool->conninfo, pool->options, pool->appname, NULL };
	struct timeval tv = ms_tv(pool->o.connect_timeout_ms);

	c->pg = PQconnectStartParams(keys, vals, 1);
	c->state = CS_CONNECTING;
	evtimer_add(c->timer, &tv);
	if (!c->pg) {
		conn_connect_failed(c, "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	PQsetNoticeProcessor(c->pg, notice_processor, NULL);
	if (conn_arm(c, EV_WRITE, on_connect_ev) < 0)
		conn_connect_failed(c, "no socket while connecting");
}

static void on_timer(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_conn *c = arg;

	switch (c->state) {
	case CS_DOWN:
		conn_start(c);
		break;
	case CS_CONNECTING:
		conn_connect_failed(c, "connect timeout");
		break;
	case CS_BUSY:
		gx_log_warn("postgres query deadline passed, dropping the connection");
		conn_lost(c, GX_PG_ERR_TIMEOUT, "query deadline passed");
		break;
	case CS_IDLE:
		break;
	}
}

static void on_idle_ev(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_conn *c = arg;

	if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c->pg));
		msg[strcspn(msg, "\n")] = '\0';
		gx_log_warn("postgres idle connection lost: %s", msg);
		c->backoff_ms = BACKOFF_MIN_MS;
		conn_schedule_reconnect(c);
		return;
	}
	dispatch_notifies(c);
	/* stray results on an idle connection (should not happen): drain them */
	while (!PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (!r)
			break;
		PQclear(r);
	}
	if (conn_arm(c, EV_READ, on_idle_ev) < 0)
		conn_schedule_reconnect(c);
}

/* ---- running ops ---------------------------------------------------------------------------------------- */

static void arm_deadline(struct gx_pg_conn *c)
{
	int st = c->pool->o.statement_timeout_ms;
	struct timeval tv = ms_tv(st > 0 ? st + QUERY_DEADLINE_SLACK_MS : QUERY_DEADLINE_NO_TIMEOUT_MS);

	evtimer_add(c->timer, &tv);
}

static void pipe_push(struct pg_op *op, enum pipe_kind kind, int stmt, struct prep_ent *prep)
{
	struct pipe_ent *e = &op->pipe[op->npipe++];

	e->kind = kind;
	e->stmt = stmt;
	e->prep = prep;
}

/* Queue stmts[i] of op (i < 0: the utility statement s) in the pipeline, preparing it first on its first use on
 * this connection. Returns libpq's 1/0. */
static int send_stmt(struct gx_pg_conn *c, struct pg_op *op, int i, const struct stmt_copy *s)
{
	const char *const *params = (const char *const *)s->params;
	struct prep_ent *p = NULL;

	if (i >= 0 && prep_eligible(s->sql)) {
		uint32_t h = prep_hash(s->sql);
		p = prep_find(c, s->sql, h);
		if (!p && c->nprep < PREP_MAX) {
			p = prep_add(c, s->sql, h);
			if (!PQsendPrepare(c->pg, p->name, s->sql, s->nparams, NULL))
				return 0;
			pipe_push(op, PK_PREPARE, i, p);
		}
	}
	pipe_push(op, i < 0 ? PK_UTIL : PK_STMT, i < 0 ? 0 : i, p);
	if (p)
		return PQsendQueryPrepared(c->pg, p->name, s->nparams, params, NULL, NULL, 0);
	return PQsendQueryParams(c->pg, s->sql, s->nparams, NULL, params, NULL, NULL, 0);
}

/* Start op on c (c is not running anything). Failures complete the op and drop the connection. */
static void conn_run(struct gx_pg_conn *c, struct pg_op *op)
{
	static const struct stmt_copy begin = { (char *)"BEGIN", 0, NULL };
	static const struct stmt_copy commit = { (char *)"COMMIT", 0, NULL };
	bool txn = op->kind == OP_TXN;

	c->state = CS_BUSY;
	c->op = op;
	event_del(c->ev);
	free(op->pipe);
	op->pipe = gx_xcalloc((size_t)op->nstmts * 2 + 2, sizeof(*op->pipe));
	op->npipe = 0;
	op->cur = 0;
	if (!PQenterPipelineMode(c->pg) || (txn && !send_stmt(c, op, -1, &begin)))
		goto fail;
	for (int i = 0; i < op->nstmts; i++)
		if (!send_stmt(c, op, i, &op->stmts[i]))
			goto fail;
	if ((txn && !send_stmt(c, op, -1, &commit)) || !PQpipelineSync(c->pg))
		goto fail;
	arm_deadline(c);
	conn_flush(c);
	return;
fail:
	gx_log_error("postgres send failed: %.*s", (int)strcspn(PQerrorMessage(c->pg), "\n"),
		     PQerrorMessage(c->pg));
	conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
}

static void conn_flush(struct gx_pg_conn *c)
{
	int r = PQflush(c->pg);

	if (r < 0) {
		conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	c->flushing = r > 0;
	if (conn_arm(c, c->flushing ? EV_READ | EV_WRITE : EV_READ, on_busy_ev) < 0)
		conn_lost(c, GX_PG_ERR_CONNECTION, "socket closed");
}

/* Hand the connection back after an op or a release: roll back a dirty transaction, else make it idle. */
static void conn_after_use(struct gx_pg_conn *c)
{
	PGTransactionStatusType ts;

	c->checked_out = false;
	if (c->broken || !c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		c->broken = false;
		c->backoff_ms = BACKOFF_MIN_MS;
		conn_schedule_reconnect(c);
		return;
	}
	ts = PQtransactionStatus(c->pg);
	if (ts == PQTRANS_IDLE) {
		conn_make_idle(c);
		return;
	}
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
		c->state = CS_BUSY;
		c->internal = IK_ROLLBACK;
		if (!PQsendQuery(c->pg, "ROLLBACK")) {
			conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
			return;
		}
		arm_deadline(c);
		conn_flush(c);
		return;
	}
	gx_log_warn("postgres connection released in state %d, reconnecting", (int)ts);
	c->backoff_ms = BACKOFF_MIN_MS;
	conn_schedule_reconnect(c);
}

static void op_done_on_conn(struct gx_pg_conn *c)
{
	struct pg_op *op = c->op;

	c->op = NULL;
	evtimer_del(c->timer);
	event_del(c->ev);
	prep_prune(c, false); /* prepares that failed or were skipped by an aborted pipeline */
	if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c->pg)) {
		gx_log_error("postgres: cannot leave pipeline mode: %.*s",
			     (int)strcspn(PQerrorMessage(c->pg), "\n"), PQerrorMessage(c->pg));
		c->broken = true;
	}
	op_complete(op);
	if (op->kind == OP_CONN_QUERY)
		return; /* stays checked out */
	conn_after_use(c);
}

static void internal_done(struct gx_pg_conn *c, bool ok)
{
	enum conn_internal what = c->internal;

	c->internal = IK_NONE;
	evtimer_del(c->timer);
	event_del(c->ev);
	if (what == IK_LISTEN) {
		if (!ok) {
			conn_lost(c, GX_PG_ERR_QUERY, "LISTEN failed");
			return;
		}
		if (c->pool->listen_dirty) {
			listener_send(c);
			return;
		}
		c->state = CS_IDLE;
		if (conn_arm(c, EV_READ, on_idle_ev) < 0)
			conn_schedule_reconnect(c);
		return;
	}
	/* IK_ROLLBACK */
	if (!ok || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		c->backoff_ms = BACKOFF_MIN_MS;
		conn_schedule_reconnect(c);
		return;
	}
	conn_make_idle(c);
}

/* One result of op's pipeline (see pipe_ent); r == NULL ends one entry, the sync result ends the op. */
static bool handle_op_result(struct gx_pg_conn *c, struct pg_op *op, PGresult *r, ExecStatusType st, bool is_err)
{
	const struct pipe_ent *e = op->cur < op->npipe ? &op->pipe[op->cur] : NULL;

	if (!r) {
		if (PQstatus(c->pg) == CONNECTION_BAD)
			return true; /* the caller notices and fails the op */
		if (++op->cur > op->npipe) {
			op_fail(op, GX_PG_ERR_CONNECTION, "postgres pipeline out of step");
			c->broken = true;
			return true;
		}
		return false;
	}
	if (st == PGRES_PIPELINE_SYNC) {
		PQclear(r);
		return true;
	}
	if (is_err && !op->failed) {
		/* a failed BEGIN counts as the first statement, a failed COMMIT as the last */
		int idx = !e ? op->nstmts - 1 : e->kind != PK_UTIL ? e->stmt : op->cur == 0 ? 0 : op->nstmts - 1;
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		op->failed = true;
		set_err_from_result(&op->err, r, idx);
		/* 0A000 "cached plan must not change result type", 26000 no such statement: prepare afresh next time */
		if (e && e->prep && state && (strcmp(state, "0A000") == 0 || strcmp(state, "26000") == 0))
			e->prep->ready = false;
	} else if (e && e->kind == PK_PREPARE && st == PGRES_COMMAND_OK) {
		e->prep->ready = true;
	} else if (e && e->kind == PK_STMT && !is_err && st != PGRES_PIPELINE_ABORTED) {
		if (op->res[e->stmt])
			PQclear(op->res[e->stmt]);
		op->res[e->stmt] = r;
		return false;
	}
	PQclear(r);
	return false;
}

/* One result of the running query or internal statement; r == NULL ends one pipeline entry / the query. Returns
 * true when the whole operation is finished. */
static bool handle_result(struct gx_pg_conn *c, PGresult *r)
{
	struct pg_op *op = c->op;
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_EMPTY_QUERY;
	bool is_err = r && (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR);

	if (!op) { /* internal statement: the caller notes failures */
		if (!r)
			return true;
		if (is_err) {
			const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			gx_log_error("postgres %s failed: %s", c->internal == IK_LISTEN ? "LISTEN" : "ROLLBACK",
				     m ? m : "unknown error");
		}
		PQclear(r);
		return false;
	}
	return handle_op_result(c, op, r, st, is_err);
}

static void on_busy_ev(evutil_socket_t fd GX_UNUSED, short what, void *arg)
{
	struct gx_pg_conn *c = arg;
	bool internal_failed = false;

	if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
		conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	if (c->flushing) {
		conn_flush(c);
		if (!c->pg || c->flushing)
			return;
	}
	dispatch_notifies(c);
	for (;;) {
		PGresult *r;
		if (PQisBusy(c->pg)) {
			if (conn_arm(c, EV_READ, on_busy_ev) < 0)
				conn_lost(c, GX_PG_ERR_CONNECTION, "socket closed");
			return;
		}
		r = PQgetResult(c->pg);
		if (!c->op && r && (PQresultStatus(r) == PGRES_FATAL_ERROR))
			internal_failed = true;
		if (handle_result(c, r))
			break;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	if (c->op)
		op_done_on_conn(c);
	else
		internal_done(c, !internal_failed);
}

/* The connection broke (or the deadline passed): fail the running op, then reconnect or mark broken. */
static void conn_lost(struct gx_pg_conn *c, enum gx_pg_err_kind kind, const char *msg)
{
	struct pg_op *op = c->op;
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", msg && *msg ? msg : "connection lost");
	buf[strcspn(buf, "\n")] = '\0';
	c->op = NULL;
	if (op) {
		op_fail(op, kind, buf); /* keeps an earlier server error (e.g. the failing statement of a txn) */
		op_complete(op);
	}
	c->backoff_ms = BACKOFF_MIN_MS;
	if (c->checked_out) {
		conn_drop_pg(c);
		c->broken = true;
		return;
	}
	if (!op)
		gx_log_warn("postgres connection lost: %s", buf);
	conn_schedule_reconnect(c);
}

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

static struct pg_op *wait_pop(struct gx_pg_pool *pool)
{
	struct pg_op *op = pool->wait_head;

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
		struct pg_op *op = wait_pop(pool);
		op_fail(op, GX_PG_ERR_UNAVAILABLE, "timed out waiting for a database connection");
		op_complete(op);
		expired++;
	}
	if (expired)
		gx_log_warn("postgres pool: %d request(s) timed out waiting for a connection", expired);
	arm_wait_timer(pool);
}

static void give_conn(struct gx_pg_conn *c, struct pg_op *op)
{
	if (op->kind == OP_ACQUIRE) {
		c->state = CS_BUSY;
		c->checked_out = true;
		event_del(c->ev);
		op->conn = c;
		op_complete(op);
		return;
	}
	conn_run(c, op);
}

static void conn_make_idle(struct gx_pg_conn *c)
{
	struct pg_op *op = wait_pop(c->pool);

	if (op) {
		give_conn(c, op);
		return;
	}
	c->state = CS_IDLE;
	if (conn_arm(c, EV_READ, on_idle_ev) < 0)
		conn_schedule_reconnect(c);
}

static void pool_submit(struct gx_pg_pool *pool, struct pg_op *op)
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
		op_fail(op, GX_PG_ERR_UNAVAILABLE, "database unavailable (no connection)");
		op_complete(op);
		return;
	}
	if (pool->nwait >= pool->o.max_waiters) {
		op_fail(op, GX_PG_ERR_UNAVAILABLE, "database pool queue full");
		op_complete(op);
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

/* ---- listener ------------------------------------------------------------------------------------------- */

static void listener_send(struct gx_pg_conn *c)
{
	size_t cap = 64, len = 0;
	char *sql = gx_xmalloc(cap);

	sql[0] = '\0';
	c->pool->listen_dirty = false;
	for (struct listen_sub *s = c->pool->subs; s; s = s->next) {
		char *id = PQescapeIdentifier(c->pg, s->channel, strlen(s->channel));
		size_t need;
		if (!id) {
			free(sql);
			conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
			return;
		}
		need = len + strlen(id) + 10;
		if (need > cap) {
			cap = need * 2;
			sql = gx_xrealloc(sql, cap);
		}
		len += (size_t)sprintf(sql + len, "LISTEN %s;", id);
		PQfreemem(id);
	}
	c->state = CS_BUSY;
	c->internal = IK_LISTEN;
	if (len == 0) {
		free(sql);
		internal_done(c, true);
		return;
	}
	if (!PQsendQuery(c->pg, sql)) {
		free(sql);
		conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	free(sql);
	arm_deadline(c);
	conn_flush(c);
}

/* ---- public API ----------------------------------------------------------------------------------------- */

static struct gx_pg_conn *conn_new(struct gx_pg_pool *pool, bool listener)
{
	struct gx_pg_conn *c = gx_xcalloc(1, sizeof(*c));

	c->pool = pool;
	c->listener = listener;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->ev = event_new(pool->base, -1, 0, on_idle_ev, c);
	c->timer = evtimer_new(pool->base, on_timer, c);
	if (!c->ev || !c->timer) {
		gx_log_fatal("postgres pool: cannot create events");
		abort();
	}
	c->state = CS_DOWN;
	return c;
}

static void conn_free(struct gx_pg_conn *c)
{
	if (!c)
		return;
	conn_drop_pg(c);
	event_free(c->ev);
	event_free(c->timer);
	free(c);
}

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
	pool->done_ev = evtimer_new(base, on_done_ev, pool);
	pool->wait_ev = evtimer_new(base, on_wait_ev, pool);
	if (!pool->done_ev || !pool->wait_ev) {
		gx_log_fatal("postgres pool: cannot create events");
		abort();
	}
	pool->nconns = pool->o.size;
	pool->conns = gx_xcalloc((size_t)pool->nconns, sizeof(*pool->conns));
	for (int i = 0; i < pool->nconns; i++) {
		pool->conns[i] = conn_new(pool, false);
		conn_start(pool->conns[i]);
	}
	return pool;
}

static void fail_list(struct pg_op *op, const char *why)
{
	while (op) {
		struct pg_op *next = op->next;
		if (op->kind == OP_ACQUIRE && op->conn) {
			op->conn = NULL;
			op_fail(op, GX_PG_ERR_UNAVAILABLE, why);
		} else if (op->kind == OP_ACQUIRE || !op->failed) {
			bool had_results = !op->failed && op->nstmts && op->res[op->nstmts - 1];
			if (!had_results)
				op_fail(op, GX_PG_ERR_UNAVAILABLE, why);
		}
		deliver(op);
		op = next;
	}
}

void gx_pg_pool_free(struct gx_pg_pool *pool)
{
	struct pg_op *pending = NULL, *done;

	if (!pool)
		return;
	pool->closing = true;
	/* ops running on connections fail as unavailable; completed ops are still delivered */
	for (int i = 0; i <= pool->nconns; i++) {
		struct gx_pg_conn *c = i < pool->nconns ? pool->conns[i] : pool->listen_conn;
		if (c && c->op) {
			c->op->next = pending;
			op_fail(c->op, GX_PG_ERR_UNAVAILABLE, "database pool shut down");
			pending = c->op;
			c->op = NULL;
		}
	}
	done = pool->done_head;
	pool->done_head = pool->done_tail = NULL;
	for (int i = 0; i < pool->nconns; i++)
		conn_free(pool->conns[i]);
	conn_free(pool->listen_conn);
	pool->listen_conn = NULL;
	free(pool->conns);
	pool->conns = NULL;
	pool->nconns = 0;
	fail_list(done, "database pool shut down");
	fail_list(pending, "database pool shut down");
	fail_list(pool->wait_head, "database pool shut down");
	pool->wait_head = pool->wait_tail = NULL;
	/* callbacks above may have queued more (they see no connection): deliver them too */
	fail_list(pool->done_head, "database pool shut down");
	event_free(pool->done_ev);
	event_free(pool->wait_ev);
	while (pool->subs) {
		struct listen_sub *s = pool->subs;
		pool->subs = s->next;
		free(s->channel);
		free(s);
	}
	while (pool->ext) {
		struct pool_ext *e = pool->ext;
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
	struct pg_op *op;

	if (!pool || !cb || !check_params("gx_pg_query", sql, nparams, params) || pool->closing) {
		if (pool && pool->closing)
			gx_log_error("gx_pg_query: pool is shutting down");
		return -1;
	}
	op = op_new(pool, OP_QUERY, 1, arg);
	op->rcb = cb;
	stmt_copy_init(&op->stmts[0], sql, nparams, params);
	pool_submit(pool, op);
	return 0;
}

int gx_pg_txn(struct gx_pg_pool *pool, const struct gx_pg_stmt *stmts, int n, gx_pg_txn_cb cb, void *arg)
{
	struct pg_op *op;

	if (!pool || !cb || n < 1 || !stmts || pool->closing) {
		gx_log_error("gx_pg_txn: bad arguments or pool shutting down (n %d)", n);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (!check_params("gx_pg_txn", stmts[i].sql, stmts[i].nparams, stmts[i].params))
			return -1;
	op = op_new(pool, OP_TXN, n, arg);
	op->tcb = cb;
	for (int i = 0; i < n; i++)
		stmt_copy_init(&op->stmts[i], stmts[i].sql, stmts[i].nparams, stmts[i].params);
	pool_submit(pool, op);
	return 0;
}

void gx_pg_acquire(struct gx_pg_pool *pool, gx_pg_conn_cb cb, void *arg)
{
	struct pg_op *op;

	if (pool->closing) {
		struct gx_pg_error err;
		set_err(&err, GX_PG_ERR_UNAVAILABLE, "database pool shut down");
		cb(NULL, &err, arg);
		return;
	}
	op = op_new(pool, OP_ACQUIRE, 0, arg);
	op->ccb = cb;
	pool_submit(pool, op);
}

int gx_pg_conn_query(struct gx_pg_conn *conn, const char *sql, int nparams, const char *const *params,
		     gx_pg_result_cb cb, void *arg)
{
	struct pg_op *op;

	if (!conn || !cb || !check_params("gx_pg_conn_query", sql, nparams, params))
		return -1;
	if (!conn->checked_out || conn->op) {
		gx_log_error("gx_pg_conn_query: connection not checked out or already running a query");
		return -1;
	}
	op = op_new(conn->pool, OP_CONN_QUERY, 1, arg);
	op->rcb = cb;
	stmt_copy_init(&op->stmts[0], sql, nparams, params);
	if (conn->broken || !conn->pg) {
		op_fail(op, GX_PG_ERR_CONNECTION, "connection lost");
		op_complete(op);
		return 0;
	}
	conn_run(conn, op);
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
	conn_after_use(conn);
}

int gx_pg_listen(struct gx_pg_pool *pool, const char *channel, gx_pg_notify_cb cb, void *arg)
{
	struct listen_sub *s, **tail;

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
		pool->listen_conn = conn_new(pool, true);
		conn_start(pool->listen_conn);
	} else if (pool->listen_conn->state == CS_IDLE) {
		listener_send(pool->listen_conn);
	}
	return 0;
}

bool gx_pg_listen_ready(const struct gx_pg_pool *pool)
{
	return pool->listen_conn && pool->listen_conn->state == CS_IDLE && !pool->listen_dirty;
}

void *gx_pg_pool_ext_get(const struct gx_pg_pool *pool, const void *key)
{
	for (const struct pool_ext *e = pool->ext; e; e = e->next)
		if (e->key == key)
			return e->val;
	return NULL;
}

void gx_pg_pool_ext_set(struct gx_pg_pool *pool, const void *key, void *val, void (*free_fn)(void *))
{
	struct pool_ext *e = gx_xcalloc(1, sizeof(*e));

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
	PQsetNoticeProcessor(pg, notice_processor, NULL);
	return pg;
}
