/* Unit tests for gx_migrate: the embedded migration table, checksums and the schema-version result parser. */
#include "gx/log.h"
#include "gx/migrate.h"
#include "gx_test.h"

#include <ctype.h>

GX_TEST(table_is_ordered_and_consistent)
{
	size_t n;
	const struct gx_migrate_file *f = gx_migrate_files(&n);
	char prefix[8];

	GX_CHECK(n >= 2);
	GX_CHECK(f[0].version == 1);
	GX_CHECK_STR(f[0].name, "0001_init.sql");
	for (size_t i = 0; i < n; i++) {
		snprintf(prefix, sizeof(prefix), "%04d_", f[i].version);
		GX_CHECK(strncmp(f[i].name, prefix, 5) == 0);
		GX_CHECK(strlen(f[i].sql) == f[i].len);
		GX_CHECK(f[i].len > 0);
		if (i > 0)
			GX_CHECK(f[i].version > f[i - 1].version);
	}
	GX_CHECK(gx_migrate_expected_version() == f[n - 1].version);
	GX_CHECK(strstr(f[0].sql, "CREATE TABLE \"OutboxCommand\"") != NULL);
}

GX_TEST(checksum_is_sha256_hex)
{
	struct gx_migrate_file abc = { 1, "0001_x.sql", "abc", 3 };
	size_t n;
	const struct gx_migrate_file *f = gx_migrate_files(&n);
	char a[65], b[65];

	gx_migrate_checksum(&abc, a);
	GX_CHECK_STR(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	gx_migrate_checksum(&f[0], a);
	gx_migrate_checksum(&f[0], b);
	GX_CHECK_STR(a, b);
	GX_CHECK(strlen(a) == 64);
	for (int i = 0; i < 64; i++)
		GX_CHECK(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
	gx_migrate_checksum(&f[1], b);
	GX_CHECK(strcmp(a, b) != 0);
}

GX_TEST(version_result_rejects_bad_shapes)
{
	PGresult *res;
	int v = 42;

	GX_CHECK(gx_migrate_version_from_result(NULL, &v) == -1);
	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	GX_CHECK(gx_migrate_version_from_result(res, &v) == -1); /* no rows */
	PQclear(res);
	res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	GX_CHECK(gx_migrate_version_from_result(res, &v) == -1); /* an error other than undefined_table */
	PQclear(res);
	GX_CHECK(v == 42);
}

GX_TEST(version_result_reads_the_number)
{
	PGresAttDesc col = { .name = (char *)"coalesce", .format = 0, .typid = 23, .typlen = 4, .atttypmod = -1 };
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int v = -1;

	GX_CHECK(PQsetResultAttrs(res, 1, &col) != 0);
	GX_CHECK(PQsetvalue(res, 0, 0, (char *)"3", 1) != 0);
	GX_CHECK(gx_migrate_version_from_result(res, &v) == 0);
	GX_CHECK(v == 3);
	GX_CHECK(PQsetvalue(res, 0, 0, (char *)"3x", 2) != 0);
	GX_CHECK(gx_migrate_version_from_result(res, &v) == -1);
	PQclear(res);
}

int main(void)
{
	gx_log_init("test_migrate");
	gx_log_set_level(GX_LOG_FATAL);
	GX_RUN(table_is_ordered_and_consistent);
	GX_RUN(checksum_is_sha256_hex);
	GX_RUN(version_result_rejects_bad_shapes);
	GX_RUN(version_result_reads_the_number);
	return gx_test_done();
}
