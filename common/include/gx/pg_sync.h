/* Blocking PostgreSQL sessions for worker threads (the outbox-submitter's database thread, the projector thread):
 * one libpq connection with reconnect backoff, the caller's statement table prepared once per connection, execution
 * with text parameters, transaction helpers. Every failure is logged once, where it is detected, prefixed with what
 * the caller was doing; a failure that broke the connection drops it, and the next gx_pgs_ensure() reconnects.
 *
 * Not thread-safe: one session belongs to one thread. Event-loop code uses the asynchronous pool (gx/pg.h).
 */
#ifndef GX_PG_SYNC_H
#define GX_PG_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

/* One statement of a caller's table: prepared under name on first use (or by gx_pgs_prepare_all) and run by its
 * index into the table. Both strings have static storage. */
struct gx_pgs_stmt {
	const char *name;
	const char *sql;
};

struct gx_pgs;

/* A session (not yet connected) for conninfo (copied) under application_name (copied), with the statement table
 * stmts[0..n) (borrowed; static storage). Reconnects back off from 200 ms, doubling up to backoff_max_ms. Caller
 * owns the result; gx_pgs_free() it. */
struct gx_pgs *gx_pgs_new(const char *conninfo, const char *application_name, const struct gx_pgs_stmt *stmts, size_t n,
			  long long backoff_max_ms);

/* Close the connection and free the session. NULL is a no-op. */
void gx_pgs_free(struct gx_pgs *db);

/* Connect unless connected. Returns 1 when a new session was just opened (the caller sets it up: LISTEN, SET ...),
 * 0 when already connected, -1 when there is no connection: the attempt failed (logged; the next attempt waits out
 * the backoff) or the backoff since the last failure has not run out yet (nothing logged). */
int gx_pgs_ensure(struct gx_pgs *db);

/* gx_pgs_ensure without waiting out the backoff (a last attempt at shutdown). Same returns. */
int gx_pgs_connect(struct gx_pgs *db);

/* Milliseconds of backoff the last failed connect set (0 after a success), for callers that sleep on it. */
long long gx_pgs_backoff_ms(const struct gx_pgs *db);

/* Close the connection (if any); the prepared statements go with it. */
void gx_pgs_drop(struct gx_pgs *db);

/* The connection, or NULL when there is none (borrowed; valid until the next call that may drop it). */
PGconn *gx_pgs_conn(const struct gx_pgs *db);

/* Prepare every statement of the table now (e.g. before pipeline mode, which runs them by name). Returns 0, or -1
 * (logged, connection dropped when broken). */
int gx_pgs_prepare_all(struct gx_pgs *db, const char *what);

/* Run statement stmt of the table with n text parameters (NULL entries are SQL NULL). Returns the result (caller
 * PQclear()s) or NULL (logged as "<what> failed: ..."; no connection, or the statement failed). */
PGresult *gx_pgs_exec(struct gx_pgs *db, const char *what, size_t stmt, int n, const char *const *params);

/* Run sql that is not in the table: n == 0 sends it as one simple-protocol message (BEGIN, LISTEN, SET, ...),
 * otherwise with text parameters. Same result and logging as gx_pgs_exec. */
PGresult *gx_pgs_exec_sql(struct gx_pgs *db, const char *what, const char *sql, int n, const char *const *params);

/* gx_pgs_exec_sql for a command without a result. Returns 0 or -1 (logged). */
int gx_pgs_command(struct gx_pgs *db, const char *sql);

/* Transaction helpers: BEGIN and COMMIT return 0/-1 (logged); rollback rolls back an open transaction, if any, and
 * is quiet when there is none or no connection. */
int gx_pgs_begin(struct gx_pgs *db);
int gx_pgs_commit(struct gx_pgs *db);
void gx_pgs_rollback(struct gx_pgs *db);

#endif
