/* Unit tests for gx_pgs without a server: a refused connection backs off (200 ms, doubling, capped), nothing runs
 * without a connection, and the helpers are quiet no-ops then. The connected paths run in test_submitter.py and
 * test_projector.py (both workers' sessions are gx_pgs ones). */
#include "gx/log.h"
#include "gx/pg_sync.h"
#include "gx_test.h"

static const struct gx_pgs_stmt stmts[] = {
	{ "t_one", "SELECT 1" },
};

GX_TEST(refused_connect_backs_off)
{
	struct gx_pgs *db = gx_pgs_new("host=127.0.0.1 port=1 connect_timeout=2", "test", stmts, 1, 300);

	GX_CHECK(gx_pgs_conn(db) == NULL);
	GX_CHECK(gx_pgs_backoff_ms(db) == 0);
	GX_CHECK(gx_pgs_ensure(db) == -1);
	GX_CHECK(gx_pgs_backoff_ms(db) == 200);
	GX_CHECK(gx_pgs_ensure(db) == -1); /* within the backoff: not even tried */
	GX_CHECK(gx_pgs_backoff_ms(db) == 200);
	GX_CHECK(gx_pgs_connect(db) == -1); /* tried at once, capped at backoff_max_ms */
	GX_CHECK(gx_pgs_backoff_ms(db) == 300);
	gx_pgs_free(db);
}

GX_TEST(nothing_runs_without_a_connection)
{
	struct gx_pgs *db = gx_pgs_new("host=127.0.0.1 port=1", "test", stmts, 1, 5000);
	const char *p[] = { "x" };

	GX_CHECK(gx_pgs_exec(db, "t", 0, 0, NULL) == NULL);
	GX_CHECK(gx_pgs_exec_sql(db, "t", "SELECT $1", 1, p) == NULL);
	GX_CHECK(gx_pgs_begin(db) == -1);
	GX_CHECK(gx_pgs_commit(db) == -1);
	GX_CHECK(gx_pgs_prepare_all(db, "t") == -1);
	gx_pgs_rollback(db);
	gx_pgs_drop(db);
	gx_pgs_free(db);
	gx_pgs_free(NULL);
}

int main(void)
{
	gx_log_init("test_pg_sync");
	gx_log_set_level(GX_LOG_FATAL);
	GX_RUN(refused_connect_backs_off);
	GX_RUN(nothing_runs_without_a_connection);
	return gx_test_done();
}
