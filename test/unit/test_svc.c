/* Unit tests for gx/svc.h: the read-model column helpers, on results built in memory with libpq's
 * PQmakeEmptyPGresult/PQsetResultAttrs/PQsetvalue (no server). The request-bound helpers (query, paging, replies,
 * outbox writes) need a live request and are covered by the integration tests; their parsing is gx_valid_query_int
 * and gx_valid_paging, tested in test_valid.c. */
#include <stdlib.h>

#include "gx/svc.h"
#include "gx_test.h"

/* A one-column result named col with the given rows (NULL = SQL NULL); caller owns, free with PQclear. */
static PGresult *result1(const char *col, const char *const *rows, int nrows)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att = { .name = (char *)col, .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1 };

	if (!res || !PQsetResultAttrs(res, 1, &att)) {
		printf("#   cannot build a PGresult\n");
		abort();
	}
	for (int i = 0; i < nrows; i++)
		if (!PQsetvalue(res, i, 0, (char *)rows[i], rows[i] ? (int)strlen(rows[i]) : -1))
			abort();
	return res;
}

static long long total_of(const char *col, const char *value, int nrows)
{
	const char *rows[1] = { value };
	PGresult *res = result1(col, rows, nrows);
	long long n = gx_svc_total(res);

	PQclear(res);
	return n;
}

GX_TEST(total)
{
	GX_CHECK(total_of("total", "42", 1) == 42);
	GX_CHECK(total_of("total", "0", 1) == 0);
	GX_CHECK(total_of("total", "9223372036854775807", 1) == 9223372036854775807LL);
	GX_CHECK(total_of("total", "42", 0) == 0); /* no row */
	GX_CHECK(total_of("total", NULL, 1) == 0); /* SQL NULL */
	GX_CHECK(total_of("count", "42", 1) == 0); /* no "total" column */
	GX_CHECK(total_of("total", "", 1) == 0);   /* not an integer */
	GX_CHECK(total_of("total", "12abc", 1) == 0);
	GX_CHECK(total_of("total", "1.5", 1) == 0);
	GX_CHECK(total_of("total", "99999999999999999999", 1) == 0); /* overflow is not clamped */
}

GX_TEST(add_text)
{
	const char *rows[] = { "Ann", NULL, "" };
	PGresult *res = result1("name", rows, 3);
	cJSON *o = cJSON_CreateObject();
	char *s;

	gx_svc_add_text(o, "a", res, 0, "name");
	gx_svc_add_text(o, "b", res, 1, "name");    /* SQL NULL -> null */
	gx_svc_add_text(o, "c", res, 2, "name");    /* empty text stays a string */
	gx_svc_add_text(o, "d", res, 0, "missing"); /* no such column -> null */
	gx_svc_add_text(o, "e", res, 3, "name");    /* no such row -> null */
	s = cJSON_PrintUnformatted(o);
	GX_CHECK_STR(s, "{\"a\":\"Ann\",\"b\":null,\"c\":\"\",\"d\":null,\"e\":null}");
	free(s);
	cJSON_Delete(o);
	PQclear(res);
}

GX_TEST(true_column)
{
	const char *rows[] = { "t", "f", NULL, "true", "T", "" };
	PGresult *res = result1("frozen", rows, 6);

	GX_CHECK(gx_svc_true(res, 0, "frozen"));
	GX_CHECK(!gx_svc_true(res, 1, "frozen"));
	GX_CHECK(!gx_svc_true(res, 2, "frozen")); /* SQL NULL */
	GX_CHECK(!gx_svc_true(res, 3, "frozen")); /* only PostgreSQL's text form "t" */
	GX_CHECK(!gx_svc_true(res, 4, "frozen"));
	GX_CHECK(!gx_svc_true(res, 5, "frozen"));
	GX_CHECK(!gx_svc_true(res, 6, "frozen")); /* no such row */
	GX_CHECK(!gx_svc_true(res, 0, "other"));  /* no such column */
	PQclear(res);
}

int main(void)
{
	GX_RUN(total);
	GX_RUN(add_text);
	GX_RUN(true_column);
	return gx_test_done();
}
