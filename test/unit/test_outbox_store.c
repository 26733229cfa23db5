/* Unit tests for the pure parts of gx/outbox_store.h: status names and the subqueries of probes (the statements
 * themselves run in test/integration). */
#include <stdlib.h>

#include "gx/outbox_store.h"
#include "gx/valid.h"
#include "gx_test.h"

GX_TEST(status_names)
{
	GX_CHECK(gx_valid_enum("LOCKED", gx_outbox_store_status_names));
	GX_CHECK(!gx_valid_enum("ACCEPTED", gx_outbox_store_status_names));
	GX_CHECK_STR(gx_outbox_store_status_names[GX_OUTBOX_FAILED], "FAILED");
	GX_CHECK_STR(gx_outbox_store_public_status("LOCKED"), "PENDING");
	GX_CHECK_STR(gx_outbox_store_public_status("COMMITTED"), "COMMITTED");
	GX_CHECK(gx_outbox_store_status_final("PROJECTED") && gx_outbox_store_status_final("FAILED"));
	GX_CHECK(!gx_outbox_store_status_final("COMMITTED") && !gx_outbox_store_status_final("LOCKED"));
}

/* In flight: accepted and not yet projected (the read model answers once PROJECTED). */
GX_TEST(probe_in_flight)
{
	const struct gx_outbox_store_probe p = { .ask = GX_OUTBOX_STORE_EXISTS,
						 .rule = GX_OUTBOX_STORE_IN_FLIGHT,
						 .tenant = "$1",
						 .types = "$3::\"CommandType\"",
						 .fields = { { "orgId", "$2", false }, { "userId", "$4", true } } };
	char *s = gx_outbox_store_probe_sql(&p);

	GX_CHECK_STR(s,
		     "EXISTS (SELECT 1 FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1 AND c.\"commandType\" IN"
		     " ($3::\"CommandType\") AND c.\"payload\"->>'orgId' = $2 AND ($4::text IS NULL OR"
		     " c.\"payload\"->>'userId' = $4) AND c.\"status\" NOT IN ('FAILED', 'PROJECTED'))");
	free(s);
}

/* Live: genesis (and the other once-only commands) counts a PROJECTED command too, only FAILED frees the target. */
GX_TEST(probe_live_genesis)
{
	const struct gx_outbox_store_probe p = { .ask = GX_OUTBOX_STORE_EXISTS,
						 .rule = GX_OUTBOX_STORE_LIVE,
						 .tenant = "$1",
						 .types = "'DISTRIBUTE_GENESIS'",
						 .fields = { { "userId", "w.\"primaryAccountId\"", false } } };
	char *s = gx_outbox_store_probe_sql(&p);

	GX_CHECK_STR(s,
		     "EXISTS (SELECT 1 FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1 AND c.\"commandType\" IN"
		     " ('DISTRIBUTE_GENESIS') AND c.\"payload\"->>'userId' = w.\"primaryAccountId\""
		     " AND c.\"status\" <> 'FAILED')");
	free(s);
}

GX_TEST(probe_newest_aggregate_counts)
{
	const struct gx_outbox_store_probe newest = { .ask = GX_OUTBOX_STORE_NEWEST,
						      .rule = GX_OUTBOX_STORE_IN_FLIGHT,
						      .tenant = "$1",
						      .types = "'PAUSE_SYSTEM', 'RESUME_SYSTEM'" };
	const struct gx_outbox_store_probe agg = { .ask = GX_OUTBOX_STORE_EXISTS,
						   .rule = GX_OUTBOX_STORE_LIVE,
						   .tenant = "$2",
						   .types = "'CREATE_USER'",
						   .aggregate = "$1" };
	const struct gx_outbox_store_probe counts = { .ask = GX_OUTBOX_STORE_COUNTS,
						      .rule = GX_OUTBOX_STORE_LIVE,
						      .tenant = "$1" };
	char *s = gx_outbox_store_probe_sql(&newest);

	GX_CHECK_STR(s,
		     "(SELECT c.\"commandType\"::text FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1 AND"
		     " c.\"commandType\" IN ('PAUSE_SYSTEM', 'RESUME_SYSTEM') AND c.\"status\" NOT IN ('FAILED',"
		     " 'PROJECTED') ORDER BY c.\"createdAt\" DESC, c.\"id\" DESC LIMIT 1)");
	free(s);
	s = gx_outbox_store_probe_sql(&agg);
	GX_CHECK_STR(s,
		     "EXISTS (SELECT 1 FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $2 AND c.\"commandType\" IN"
		     " ('CREATE_USER') AND c.\"aggregateId\" = $1 AND c.\"status\" <> 'FAILED')");
	free(s);
	s = gx_outbox_store_probe_sql(&counts);
	GX_CHECK(strstr(s, "json_object_agg") && strstr(s, "\"tenantId\" = $1 GROUP BY 1"));
	free(s);
}

GX_TEST(statement_template)
{
	static struct gx_outbox_store_sql sql = { .tmpl = "SELECT %s AS a, %s AS b, 1",
						  .probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
								.rule = GX_OUTBOX_STORE_LIVE,
								.tenant = "$1",
								.types = "'CAST_VOTE'" },
							      { .ask = GX_OUTBOX_STORE_EXISTS,
								.rule = GX_OUTBOX_STORE_IN_FLIGHT,
								.tenant = "$1",
								.types = "'APPROVE_LOAN'" } } };
	const char *t = gx_outbox_store_sql_text(&sql);

	GX_CHECK_STR(t,
		     "SELECT EXISTS (SELECT 1 FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1 AND c.\"commandType\""
		     " IN ('CAST_VOTE') AND c.\"status\" <> 'FAILED') AS a, EXISTS (SELECT 1 FROM \"OutboxCommand\" c"
		     " WHERE c.\"tenantId\" = $1 AND c.\"commandType\" IN ('APPROVE_LOAN') AND c.\"status\" NOT IN"
		     " ('FAILED', 'PROJECTED')) AS b, 1");
	GX_CHECK(gx_outbox_store_sql_text(&sql) == t); /* built once */
}

int main(void)
{
	GX_RUN(status_names);
	GX_RUN(probe_in_flight);
	GX_RUN(probe_live_genesis);
	GX_RUN(probe_newest_aggregate_counts);
	GX_RUN(statement_template);
	return gx_test_done();
}
