/* Asynchronous PostgreSQL access for event-loop code: a pool of non-blocking libpq connections per event_base.
 *
 * Nothing here blocks the loop: connections are opened with PQconnectStart/PQconnectPoll, queries are sent in libpq
 * pipeline mode (parameterised only, never string-built SQL) and completed from socket events. Each connection
 * prepares every distinct DML text (SELECT/INSERT/UPDATE/DELETE/WITH/VALUES) once, in the same round trip as its
 * first use, and runs it by name afterwards (at most 256 per connection, the rest unprepared; forgotten on
 * reconnect); callers see the same results and errors either way. A pool belongs to one event_base and must only
 * be used from that base's thread.
 *
 * Failure handling: a broken connection (server restart, pg_terminate_backend) is dropped and re-opened with
 * exponential backoff; requests waiting for a connection queue up to a bound (queue full or no usable connection
 * within the acquire timeout -> callback with err->kind GX_PG_ERR_UNAVAILABLE, which handlers map to 503).
 *
 * Callbacks: every started operation calls its callback exactly once, on the pool's thread, never from inside the
 * starting call. Results passed to callbacks are BORROWED and cleared right after the callback returns: copy what
 * you keep. Text format: values come back as text (PQgetvalue), parameters are passed as text; NULL params are NULL.
 *
 * Workers that prefer blocking code in their own thread use libpq directly (see gx_pg_connect_blocking).
 */
#ifndef GX_PG_H
#define GX_PG_H

#include <stdbool.h>
#include <libpq-fe.h>

/* SQL text: expression x (any expression; it is parenthesised) as the ISO 8601 UTC timestamp with milliseconds that
 * every JSON body carries, "2026-01-02T03:04:05.678Z". The one spelling of it: statements use this, never a copy. */
#define GX_SQL_ISO_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

struct event_base;
struct gx_pg_pool;
struct gx_pg_conn;

enum gx_pg_err_kind {
	GX_PG_ERR_UNAVAILABLE, /* no connection could be had (down, queue full, acquire timeout): answer 503 */
	GX_PG_ERR_CONNECTION,  /* the connection broke while the query ran: outcome unknown for writes, answer 503 */
	GX_PG_ERR_QUERY,       /* the server rejected the statement: see sqlstate (23505 unique, 23503 fk, ...) */
	GX_PG_ERR_TIMEOUT,     /* statement_timeout or our own query deadline */
};

struct gx_pg_error {
	enum gx_pg_err_kind kind;
	char sqlstate[6];    /* "" when not from the server */
	char constraint[64]; /* violated constraint name when the server reports one, else "" */
	int stmt_index;      /* with gx_pg_txn: index of the failing statement, else 0 */
	char message[256];   /* server or client message, for logs (never shown raw to API clients) */
};

struct gx_pg_pool_opts {
	int size;                 /* connections in this pool (>= 1) */
	int max_waiters;          /* requests that may queue for a connection before UNAVAILABLE (default 1024) */
	int acquire_timeout_ms;   /* default 2000 */
	int connect_timeout_ms;   /* default 5000 */
	int statement_timeout_ms; /* sent as options=-c statement_timeout=..; default 10000 (0), negative: none */
	const char *application_name;
};

/* A statement with text parameters (params may contain NULL entries for SQL NULL). Borrowed by the call that
 * receives it until that call returns (the pool copies what it needs). */
struct gx_pg_stmt {
	const char *sql;
	int nparams;
	const char *const *params;
};

typedef void (*gx_pg_result_cb)(PGresult *res, const struct gx_pg_error *err, void *arg);
typedef void (*gx_pg_txn_cb)(PGresult *const *res, int nres, const struct gx_pg_error *err, void *arg);
typedef void (*gx_pg_conn_cb)(struct gx_pg_conn *conn, const struct gx_pg_error *err, void *arg);
typedef void (*gx_pg_notify_cb)(const char *channel, const char *payload, void *arg);

/* Create a pool on base for conninfo (libpq keyword/value string or URI; borrowed, copied). Starts connecting at
 * once; never fails because the server is down (it keeps retrying). Caller owns; free with gx_pg_pool_free(),
 * which closes connections and fails queued requests with GX_PG_ERR_UNAVAILABLE (their callbacks run inside it).
 * Call it outside pool callbacks, after every checked-out connection was released. */
struct gx_pg_pool *gx_pg_pool_new(struct event_base *base, const char *conninfo, const struct gx_pg_pool_opts *o);
void gx_pg_pool_free(struct gx_pg_pool *pool);

/* True when at least one connection is established and healthy. */
bool gx_pg_pool_ready(const struct gx_pg_pool *pool);
/* Counters for metrics: connections open, busy, requests waiting. */
void gx_pg_pool_stats(const struct gx_pg_pool *pool, int *open, int *busy, int *waiting);

/* Run one statement on any connection (acquire, run, release). Returns 0 when started (cb will run), -1 only on
 * programming errors (logged). */
int gx_pg_query(struct gx_pg_pool *pool, const char *sql, int nparams, const char *const *params, gx_pg_result_cb cb,
		void *arg);

/* Run stmts[0..n-1] in ONE transaction (BEGIN ... COMMIT, sent in libpq pipeline mode: one round trip). On success
 * cb gets every statement's result (res[i] for stmts[i]); on the first failure the transaction is rolled back and
 * cb gets err with stmt_index set (res NULL). */
int gx_pg_txn(struct gx_pg_pool *pool, const struct gx_pg_stmt *stmts, int n, gx_pg_txn_cb cb, void *arg);

/* Multi-step work that needs results between steps: check a connection out, run queries on it in sequence
 * (your own BEGIN/COMMIT), give it back. gx_pg_release() on a connection left inside a transaction rolls it back
 * (or drops the connection) before reuse. */
void gx_pg_acquire(struct gx_pg_pool *pool, gx_pg_conn_cb cb, void *arg);
int gx_pg_conn_query(struct gx_pg_conn *conn, const char *sql, int nparams, const char *const *params,
		     gx_pg_result_cb cb, void *arg);
void gx_pg_release(struct gx_pg_conn *conn);

/* LISTEN on channel over a dedicated connection of this pool's base; cb runs for every NOTIFY (payload borrowed).
 * Re-subscribes after reconnect. Returns 0/-1. */
int gx_pg_listen(struct gx_pg_pool *pool, const char *channel, gx_pg_notify_cb cb, void *arg);

/* True once the LISTEN connection is established and subscribed to every channel given so far (tests, readiness). */
bool gx_pg_listen_ready(const struct gx_pg_pool *pool);

/* Per-pool attachments for modules built on the pool (e.g. the outbox's command-status waiters): one value per key
 * (any unique address, e.g. of a static variable). The pool owns val after set and calls free_fn(val) (may be NULL)
 * when it is freed. Setting an existing key again adds a shadowing entry; get returns the newest, or NULL. */
void *gx_pg_pool_ext_get(const struct gx_pg_pool *pool, const void *key);
void gx_pg_pool_ext_set(struct gx_pg_pool *pool, const void *key, void *val, void (*free_fn)(void *));
/* The event_base the pool runs on (borrowed). */
struct event_base *gx_pg_pool_base(const struct gx_pg_pool *pool);

/* Result helpers: value of row r, column by name ("" for NULL or a missing column, never NULL); true if NULL. */
const char *gx_pg_val(const PGresult *res, int row, const char *col);
bool gx_pg_isnull(const PGresult *res, int row, const char *col);

/* Blocking connect for worker threads and tools: connects with conninfo, sets application_name, returns the
 * connection or NULL (error logged). Caller owns; PQfinish() it. */
PGconn *gx_pg_connect_blocking(const char *conninfo, const char *application_name);

#endif
