/* Internals shared by the pg*.c files, the asynchronous PostgreSQL pool (contract in gx/pg.h).
 * Not a public header: only common/src/pg*.c include it.
 *
 * The files, one way down: pg.c (public API, pool lifecycle, the wait queue) -> pg_exec.c (the pipeline-mode query
 * engine: sending an op, reading its results, the connection's return to the pool) -> pg_prep.c (the per-connection
 * prepared-statement cache) and pg_conn.c (connection lifecycle: connect, backoff, idle watch, LISTEN) -> pg_op.c
 * (operations, error mapping and the deferred delivery of callbacks).
 *
 * Each connection is a small state machine driven by one socket event and one timer:
 *   DOWN --timer--> CONNECTING --PQconnectPoll ok--> IDLE <--> BUSY (running an op, checked out, or cleaning up)
 * Any failure drops the PGconn and goes back to DOWN with exponential backoff. Connecting happens only from the
 * timer, never on the request path. Sockets are non-blocking (PQsetnonblocking) and every send goes through a flush
 * loop that waits for write readiness while libpq's output buffer is not empty.
 *
 * Every user callback is delivered from a zero-delay timer (the pool's "done" queue), so no callback ever runs from
 * inside the call that started the operation and no user code runs while a connection's state is half-updated.
 */
#ifndef GX_PG_INT_H
#define GX_PG_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "gx/pg.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define QUERY_DEADLINE_SLACK_MS 5000
#define QUERY_DEADLINE_NO_TIMEOUT_MS 300000
#define PREP_MAX 256    /* prepared statements per connection (cached and stale together) */
#define PREP_BUCKETS 64 /* hash buckets of the per-connection statement cache */

enum conn_state {
	CS_DOWN,       /* no PGconn; the timer fires the next connect attempt */
	CS_CONNECTING, /* PQconnectPoll in progress; the timer is the connect timeout */
	CS_IDLE,       /* in the pool, waiting for work; read event armed to notice server-side closes */
	CS_BUSY,       /* running an op, checked out by a user, or running an internal statement */
};

enum conn_internal {
	IK_NONE,
	IK_ROLLBACK,   /* async ROLLBACK of a connection released inside a transaction */
	IK_LISTEN,     /* (re)subscribing the listener connection */
	IK_DEALLOCATE, /* releasing prepared statements the cache dropped while the server still held them */
};

enum op_kind {
	OP_QUERY,      /* gx_pg_query: pool-level, connection released when done */
	OP_TXN,        /* gx_pg_txn: pool-level pipeline transaction */
	OP_ACQUIRE,    /* gx_pg_acquire: hand a connection to the user */
	OP_CONN_QUERY, /* gx_pg_conn_query on a checked-out connection */
};

/* One prepared statement of a connection (key: the SQL text). */
struct gx_pg_prep {
	struct gx_pg_prep *next;
	uint32_t hash;
	bool ready; /* the server confirmed the prepare; until then it is only queued by the running op */
	bool stale; /* the server holds it but it must not be used again (0A000): moved to the stale list */
	char name[16];
	char sql[];
};

/* What an op queued in its pipeline, in order: one entry per result group (results, then a NULL). */
enum pipe_kind {
	PK_UTIL,    /* BEGIN / COMMIT of a transaction */
	PK_PREPARE, /* PQsendPrepare of stmts[stmt]: its COMMAND_OK is not a statement result */
	PK_STMT,    /* stmts[stmt] itself (prepared or not) */
};

struct gx_pg_pipe_ent {
	enum pipe_kind kind;
	int stmt;
	struct gx_pg_prep *prep; /* the cache entry used, or NULL when sent unprepared */
};

struct gx_pg_stmt_copy {
	char *sql;
	int nparams;
	char **params; /* entries may be NULL */
};

struct gx_pg_op {
	struct gx_pg_op *next;
	enum op_kind kind;
	struct gx_pg_pool *pool;
	struct gx_pg_stmt_copy *stmts;
	int nstmts;
	gx_pg_result_cb rcb;
	gx_pg_txn_cb tcb;
	gx_pg_conn_cb ccb;
	void *arg;
	int64_t deadline_us;         /* acquire deadline while waiting in the queue */
	PGresult **res;              /* one slot per statement */
	struct gx_pg_pipe_ent *pipe; /* what gx_pg_conn_run queued (nstmts * 2 + 2 slots) */
	int npipe;
	int cur; /* pipe entry being read */
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
	struct gx_pg_op *op;
	struct gx_pg_prep *prep[PREP_BUCKETS]; /* prepared statements of the current PGconn */
	int nprep;
	struct gx_pg_prep *stale; /* dropped from the cache, still held by the server: DEALLOCATE before idling */
	int nstale;               /* counted with nprep against PREP_MAX */
	unsigned prep_seq;        /* next statement name number */
};

struct gx_pg_listen_sub {
	struct gx_pg_listen_sub *next;
	char *channel;
	gx_pg_notify_cb cb;
	void *arg;
};

struct gx_pg_pool_ext {
	struct gx_pg_pool_ext *next;
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
	struct gx_pg_listen_sub *subs;
	bool listen_dirty;
	struct gx_pg_op *wait_head, *wait_tail;
	int nwait;
	struct gx_pg_op *done_head, *done_tail;
	struct event *done_ev;
	struct event *wait_ev;
	struct gx_pg_pool_ext *ext;
	bool closing;
};

/* ---- operations, errors, delivery (pg_op.c) ---- */

/* e := a client-side error of kind (message trimmed to one line); from_result: the server's error in r. */
void gx_pg_set_err(struct gx_pg_error *e, enum gx_pg_err_kind kind, const char *msg);
void gx_pg_set_err_from_result(struct gx_pg_error *e, const PGresult *r, int stmt_index);
/* A new op with nstmts empty statement slots; the pool owns it until it is delivered. */
struct gx_pg_op *gx_pg_op_new(struct gx_pg_pool *pool, enum op_kind kind, int nstmts, void *arg);
void gx_pg_stmt_copy_init(struct gx_pg_stmt_copy *d, const char *sql, int nparams, const char *const *params);
/* Record the op's failure (the first one wins). */
void gx_pg_op_fail(struct gx_pg_op *op, enum gx_pg_err_kind kind, const char *msg);
/* Queue op's callback for the next loop iteration (the op is freed after it ran). */
void gx_pg_op_complete(struct gx_pg_op *op);
/* Run op's callback now and free it (pool shutdown only; otherwise through gx_pg_op_complete). */
void gx_pg_op_deliver(struct gx_pg_op *op);
/* The pool's done_ev callback: deliver every completed op. */
void gx_pg_on_done_ev(evutil_socket_t fd, short what, void *arg);

static inline struct timeval gx_pg_ms_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	return tv;
}

/* ---- connection lifecycle (pg_conn.c) ---- */

struct gx_pg_conn *gx_pg_conn_new(struct gx_pg_pool *pool, bool listener);
void gx_pg_conn_free(struct gx_pg_conn *c);
/* Start connecting (from DOWN); ends in gx_pg_conn_make_idle, or for the listener in gx_pg_listener_send. */
void gx_pg_conn_start(struct gx_pg_conn *c);
/* Drop the PGconn (and with it the statement cache); the connection stays in its state. */
void gx_pg_conn_drop(struct gx_pg_conn *c);
/* Drop the PGconn and try again after the backoff. */
void gx_pg_conn_reconnect(struct gx_pg_conn *c);
/* Watch c's socket for what, calling cb; -1 when there is no socket. */
int gx_pg_conn_arm(struct gx_pg_conn *c, short what, event_callback_fn cb);
/* The read callback of an idle connection (server-side close, notifications). */
void gx_pg_on_idle_ev(evutil_socket_t fd, short what, void *arg);
void gx_pg_dispatch_notifies(struct gx_pg_conn *c);
void gx_pg_notice_processor(void *arg, const char *message);
/* (Re)subscribe the listener connection to every channel of its pool. */
void gx_pg_listener_send(struct gx_pg_conn *c);

/* ---- the query engine (pg_exec.c) ---- */

/* Start op on c (c runs nothing). Failures complete the op and drop the connection. */
void gx_pg_conn_run(struct gx_pg_conn *c, struct gx_pg_op *op);
/* Send what libpq buffered and wait for results. */
void gx_pg_conn_flush(struct gx_pg_conn *c);
/* Hand the connection back after an op or a release: roll back a dirty transaction, else make it idle. */
void gx_pg_conn_after_use(struct gx_pg_conn *c);
/* An internal statement (ROLLBACK, LISTEN, DEALLOCATE) finished. */
void gx_pg_internal_done(struct gx_pg_conn *c, bool ok);
/* The connection broke (or the deadline passed): fail the running op, then reconnect or mark broken. */
void gx_pg_conn_lost(struct gx_pg_conn *c, enum gx_pg_err_kind kind, const char *msg);
/* Arm the query deadline of a busy connection. */
void gx_pg_arm_deadline(struct gx_pg_conn *c);

/* ---- prepared statements (pg_prep.c) ---- */

/* Queue stmts[i] of op (i < 0: the utility statement s) in the pipeline, preparing it first on its first use on
 * this connection. Returns libpq's 1/0. */
int gx_pg_send_stmt(struct gx_pg_conn *c, struct gx_pg_op *op, int i, const struct gx_pg_stmt_copy *s);
/* The server reported sqlstate for the statement of pipeline entry e (e may be NULL). */
void gx_pg_prep_failed(struct gx_pg_conn *c, const struct gx_pg_pipe_ent *e, const char *sqlstate);
/* Drop entries the server does not (or no longer usably) hold; all of them (the session ended) when all is set. */
void gx_pg_prep_prune(struct gx_pg_conn *c, bool all);
/* True when c holds statements it no longer uses: gx_pg_prep_send_deallocate releases them (c is idle, out of
 * pipeline mode; it becomes BUSY with IK_DEALLOCATE and ends in gx_pg_internal_done). */
bool gx_pg_prep_has_stale(const struct gx_pg_conn *c);
void gx_pg_prep_send_deallocate(struct gx_pg_conn *c);

/* ---- the pool (pg.c) ---- */

/* c is free: give it the oldest waiting op, else make it IDLE. */
void gx_pg_conn_make_idle(struct gx_pg_conn *c);

#endif
