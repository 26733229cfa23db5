/* Blocking PostgreSQL sessions for worker threads (gx/pg_sync.h): connect with backoff, a statement table prepared
 * once per connection, exec with text parameters, one error line per failure. */
#include "gx/pg_sync.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gx/log.h"
#include "gx/pg.h"
#include "gx/util.h"

#define BACKOFF_FIRST_MS 200

struct gx_pgs {
	char *conninfo;
	char *app;
	const struct gx_pgs_stmt *stmts;
	size_t nstmts;
	bool *prepared; /* prepared[i]: stmts[i] exists on pg; cleared with the connection */
	PGconn *pg;
	long long backoff_ms, backoff_max_ms;
	int64_t next_connect_ms;
};

struct gx_pgs *gx_pgs_new(const char *conninfo, const char *application_name, const struct gx_pgs_stmt *stmts, size_t n,
			  long long backoff_max_ms)
{
	struct gx_pgs *db = gx_xcalloc(1, sizeof(*db));

	db->conninfo = gx_xstrdup(conninfo ? conninfo : "");
	db->app = gx_xstrdup(application_name ? application_name : "gx-backend");
	db->stmts = stmts;
	db->nstmts = n;
	db->prepared = gx_xcalloc(n ? n : 1, sizeof(*db->prepared));
	db->backoff_max_ms = backoff_max_ms > BACKOFF_FIRST_MS ? backoff_max_ms : BACKOFF_FIRST_MS;
	return db;
}

void gx_pgs_drop(struct gx_pgs *db)
{
	if (db->pg)
		PQfinish(db->pg);
	db->pg = NULL;
	memset(db->prepared, 0, (db->nstmts ? db->nstmts : 1) * sizeof(*db->prepared));
}

void gx_pgs_free(struct gx_pgs *db)
{
	if (!db)
		return;
	gx_pgs_drop(db);
	free(db->prepared);
	free(db->conninfo);
	free(db->app);
	free(db);
}

int gx_pgs_ensure(struct gx_pgs *db)
{
	if (db->pg)
		return 0;
	if (gx_now_ms() < db->next_connect_ms)
		return -1;
	return gx_pgs_connect(db);
}

int gx_pgs_connect(struct gx_pgs *db)
{
	int64_t now = gx_now_ms();

	if (db->pg)
		return 0;
	db->pg = gx_pg_connect_blocking(db->conninfo, db->app); /* logs its failure */
	if (!db->pg) {
		db->backoff_ms = db->backoff_ms ? db->backoff_ms * 2 : BACKOFF_FIRST_MS;
		if (db->backoff_ms > db->backoff_max_ms)
			db->backoff_ms = db->backoff_max_ms;
		db->next_connect_ms = now + db->backoff_ms;
		return -1;
	}
	PQsetnonblocking(db->pg, 0);
	db->backoff_ms = 0;
	db->next_connect_ms = 0;
	return 1;
}

long long gx_pgs_backoff_ms(const struct gx_pgs *db)
{
	return db->backoff_ms;
}

PGconn *gx_pgs_conn(const struct gx_pgs *db)
{
	return db->pg;
}

/* Log a failed result once and drop the connection when the failure broke it. */
static void failed(struct gx_pgs *db, const char *what, const char *detail, PGresult *r)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(db->pg);

	if (detail)
		gx_log_error("%s: %s failed: %.*s", what, detail, (int)strcspn(m, "\n"), m);
	else
		gx_log_error("%s failed: %.*s", what, (int)strcspn(m, "\n"), m);
	PQclear(r);
	if (PQstatus(db->pg) != CONNECTION_OK)
		gx_pgs_drop(db);
}

static int prepare(struct gx_pgs *db, const char *what, size_t i)
{
	PGresult *r;
	char detail[128];

	if (db->prepared[i])
		return 0;
	r = PQprepare(db->pg, db->stmts[i].name, db->stmts[i].sql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(detail, sizeof(detail), "preparing %s", db->stmts[i].name);
		failed(db, what, detail, r);
		return -1;
	}
	PQclear(r);
	db->prepared[i] = true;
	return 0;
}

int gx_pgs_prepare_all(struct gx_pgs *db, const char *what)
{
	if (!db->pg) {
		gx_log_error("%s: no database connection", what);
		return -1;
	}
	for (size_t i = 0; i < db->nstmts; i++)
		if (prepare(db, what, i) < 0)
			return -1;
	return 0;
}

/* The result when it succeeded, else NULL (logged). */
static PGresult *checked(struct gx_pgs *db, const char *what, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	failed(db, what, NULL, r);
	return NULL;
}

PGresult *gx_pgs_exec(struct gx_pgs *db, const char *what, size_t stmt, int n, const char *const *params)
{
	if (!db->pg || stmt >= db->nstmts)
		return NULL;
	if (prepare(db, what, stmt) < 0)
		return NULL;
	return checked(db, what, PQexecPrepared(db->pg, db->stmts[stmt].name, n, params, NULL, NULL, 0));
}

PGresult *gx_pgs_exec_sql(struct gx_pgs *db, const char *what, const char *sql, int n, const char *const *params)
{
	if (!db->pg)
		return NULL;
	if (n == 0)
		return checked(db, what, PQexec(db->pg, sql));
	return checked(db, what, PQexecParams(db->pg, sql, n, NULL, params, NULL, NULL, 0));
}

int gx_pgs_command(struct gx_pgs *db, const char *sql)
{
	PGresult *r = gx_pgs_exec_sql(db, sql, sql, 0, NULL);

	PQclear(r);
	return r ? 0 : -1;
}

int gx_pgs_begin(struct gx_pgs *db)
{
	return gx_pgs_command(db, "BEGIN");
}

int gx_pgs_commit(struct gx_pgs *db)
{
	return gx_pgs_command(db, "COMMIT");
}

void gx_pgs_rollback(struct gx_pgs *db)
{
	if (db->pg && PQtransactionStatus(db->pg) != PQTRANS_IDLE)
		(void)gx_pgs_command(db, "ROLLBACK");
}
