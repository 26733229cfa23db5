/* Schema migrations: apply the embedded common/sql files in order under an advisory lock, record and verify them. */
#include "gx/migrate.h"
#include "gx/log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/sha256.h>

const char GX_MIGRATE_VERSION_SQL[] = "SELECT COALESCE(max(version), 0) FROM \"_gx_migrations\"";

static const char SQL_QUIET[] = "SET client_min_messages = warning";
static const char SQL_LOCK[] = "SELECT pg_advisory_lock($1::bigint)";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock($1::bigint)";
static const char SQL_CREATE_RECORD[] =
	"CREATE TABLE IF NOT EXISTS \"_gx_migrations\" ("
	" version INTEGER NOT NULL PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" checksum TEXT NOT NULL,"
	" \"appliedAt\" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,"
	" \"durationMs\" BIGINT NOT NULL,"
	" baseline BOOLEAN NOT NULL DEFAULT false)";
static const char SQL_RECORD_EXISTS[] = "SELECT to_regclass('public.\"_gx_migrations\"') IS NOT NULL";
static const char SQL_APPLIED[] =
	"SELECT version, name, checksum,"
	" to_char(\"appliedAt\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), baseline"
	" FROM \"_gx_migrations\" ORDER BY version";
/* a database made by the original's Prisma migration: its tables exist but nothing of ours is recorded */
static const char SQL_IS_PRISMA_DB[] = "SELECT to_regclass('public.\"OutboxCommand\"') IS NOT NULL";
static const char SQL_RECORD[] =
	"INSERT INTO \"_gx_migrations\" (version, name, checksum, \"durationMs\", baseline)"
	" VALUES ($1::int, $2, $3, $4::bigint, $5::boolean)";

/* One row of "_gx_migrations". */
struct applied {
	int version;
	char *name;
	char *checksum;
	char *applied_at;
	bool baseline;
};

struct applied_set {
	struct applied *rows;
	int n;
};

const struct gx_migrate_file *gx_migrate_files(size_t *n)
{
	*n = gx_migrate_table_len;
	return gx_migrate_table;
}

int gx_migrate_expected_version(void)
{
	return gx_migrate_table_len ? gx_migrate_table[gx_migrate_table_len - 1].version : 0;
}

int gx_migrate_version_from_result(const PGresult *res, int *version)
{
	const char *state;
	char *end;
	long v;

	if (!res) {
		gx_log_error("schema version query: no result");
		return -1;
	}
	if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state && strcmp(state, "42P01") == 0) {
			*version = 0;
			return 0;
		}
		gx_log_error("schema version query failed: %s", PQresultErrorMessage(res));
		return -1;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 1) {
		gx_log_error("schema version query: unexpected result shape");
		return -1;
	}
	v = strtol(PQgetvalue(res, 0, 0), &end, 10);
	if (*end || v < 0 || v > 1000000) {
		gx_log_error("schema version query: bad version '%s'", PQgetvalue(res, 0, 0));
		return -1;
	}
	*version = (int)v;
	return 0;
}

void gx_migrate_checksum(const struct gx_migrate_file *f, char out[65])
{
	unsigned char digest[32];

	mbedtls_sha256_ret((const unsigned char *)f->sql, f->len, digest, 0);
	gx_hex_encode(digest, sizeof(digest), out);
}

/* Run one statement; NULL (logged with what) unless it succeeded. Caller owns the result. */
static PGresult *sql_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, const char *what)
{
	PGresult *res;
	ExecStatusType st;

	if (nparams)
		res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	else
		res = PQexec(conn, sql);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		gx_log_error("%s failed: %s", what, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
		PQclear(res);
		return NULL;
	}
	return res;
}

static int exec_ok(PGconn *conn, const char *sql, int nparams, const char *const *params, const char *what)
{
	PGresult *res = sql_exec(conn, sql, nparams, params, what);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

/* Single boolean query. Returns 0 and sets *out, or -1 (logged). */
static int query_bool(PGconn *conn, const char *sql, const char *what, bool *out)
{
	PGresult *res = sql_exec(conn, sql, 0, NULL, what);

	if (!res)
		return -1;
	*out = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

static void notice_ignore(void *arg GX_UNUSED, const char *message GX_UNUSED)
{
}

static void applied_free(struct applied_set *set)
{
	for (int i = 0; i < set->n; i++) {
		free(set->rows[i].name);
		free(set->rows[i].checksum);
		free(set->rows[i].applied_at);
	}
	free(set->rows);
	set->rows = NULL;
	set->n = 0;
}

/* Load "_gx_migrations" (which must exist) into set. Returns 0 or -1 (logged). */
static int applied_load(PGconn *conn, struct applied_set *set)
{
	PGresult *res = sql_exec(conn, SQL_APPLIED, 0, NULL, "reading \"_gx_migrations\"");
	int n;

	set->rows = NULL;
	set->n = 0;
	if (!res)
		return -1;
	n = PQntuples(res);
	set->rows = gx_xcalloc((size_t)n, sizeof(*set->rows));
	for (int i = 0; i < n; i++) {
		struct applied *a = &set->rows[i];

		a->version = atoi(PQgetvalue(res, i, 0));
		a->name = gx_xstrdup(PQgetvalue(res, i, 1));
		a->checksum = gx_xstrdup(PQgetvalue(res, i, 2));
		a->applied_at = gx_xstrdup(PQgetvalue(res, i, 3));
		a->baseline = strcmp(PQgetvalue(res, i, 4), "t") == 0;
	}
	set->n = n;
	PQclear(res);
	return 0;
}

static const struct applied *applied_find(const struct applied_set *set, int version)
{
	for (int i = 0; i < set->n; i++)
		if (set->rows[i].version == version)
			return &set->rows[i];
	return NULL;
}

static const struct gx_migrate_file *file_find(int version)
{
	for (size_t i = 0; i < gx_migrate_table_len; i++)
		if (gx_migrate_table[i].version == version)
			return &gx_migrate_table[i];
	return NULL;
}

/* Every applied file must still have the checksum it was applied with. Returns 0, or -1 naming the first
 * changed file. Recorded versions without an embedded file only get a warning (a newer binary's migrations). */
static int verify_applied(const struct applied_set *set)
{
	char sum[65];

	for (int i = 0; i < set->n; i++) {
		const struct applied *a = &set->rows[i];
		const struct gx_migrate_file *f = file_find(a->version);

		if (!f) {
			gx_log_warn("recorded migration %d '%s' is not known to this binary", a->version, a->name);
			continue;
		}
		gx_migrate_checksum(f, sum);
		if (strcmp(sum, a->checksum) != 0) {
			gx_log_error(
				"migration %s was changed after it was applied (recorded sha256 %s, now %s): "
				"refusing to migrate; restore the file and add a new migration instead",
				f->name, a->checksum, sum);
			return -1;
		}
	}
	return 0;
}

static int record(PGconn *conn, const struct gx_migrate_file *f, int64_t duration_ms, bool baseline)
{
	char version[16], duration[24], sum[65];
	const char *params[5];

	snprintf(version, sizeof(version), "%d", f->version);
	snprintf(duration, sizeof(duration), "%" PRId64, duration_ms);
	gx_migrate_checksum(f, sum);
	params[0] = version;
	params[1] = f->name;
	params[2] = sum;
	params[3] = duration;
	params[4] = baseline ? "true" : "false";
	return exec_ok(conn, SQL_RECORD, 5, params, "recording migration");
}

/* Apply one file and its record in one transaction. Returns 0, or -1 (logged, rolled back). */
static int apply_one(PGconn *conn, const struct gx_migrate_file *f)
{
	int64_t start = gx_mono_us(), ms;
	PGresult *res;

	if (exec_ok(conn, "BEGIN", 0, NULL, "BEGIN") < 0)
		return -1;
	res = PQexec(conn, f->sql);
	if (!res || PQresultStatus(res) == PGRES_FATAL_ERROR || PQresultStatus(res) == PGRES_NONFATAL_ERROR) {
		gx_log_error("migration %s failed, rolled back: %s", f->name,
			     res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		gx_log_error("migration %s ended the migration's transaction (it must not contain BEGIN/COMMIT)",
			     f->name);
		goto fail;
	}
	ms = (gx_mono_us() - start) / 1000;
	if (record(conn, f, ms, false) < 0 || exec_ok(conn, "COMMIT", 0, NULL, "COMMIT") < 0)
		goto fail;
	gx_log_kv(GX_LOG_INFO,
		  GX_LOG_FIELDS(GX_LOG_INT("version", f->version), GX_LOG_STR("file", f->name),
				GX_LOG_INT("durationMs", ms)),
		  "applied migration %s", f->name);
	return 0;
fail:
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

/* A Prisma-made database with nothing recorded: record 0001 as a baseline (see 0002's header). */
static int maybe_baseline(PGconn *conn, struct applied_set *set)
{
	bool prisma;

	if (set->n > 0 || gx_migrate_table_len == 0 || gx_migrate_table[0].version != 1)
		return 0;
	if (query_bool(conn, SQL_IS_PRISMA_DB, "probing for an original schema", &prisma) < 0)
		return -1;
	if (!prisma)
		return 0;
	if (record(conn, &gx_migrate_table[0], 0, true) < 0)
		return -1;
	gx_log_info("database was created by the original system: %s recorded as baseline, not run",
		    gx_migrate_table[0].name);
	applied_free(set);
	return applied_load(conn, set);
}

int gx_migrate_up(PGconn *conn, int *applied)
{
	char key[24];
	const char *params[1] = { key };
	struct applied_set set = { NULL, 0 };
	bool locked = false;
	int count = 0, rc = -1;

	if (applied)
		*applied = 0;
	if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) {
		gx_log_error("migrate: connection not usable (%s)", PQerrorMessage(conn));
		return -1;
	}
	PQsetNoticeProcessor(conn, notice_ignore, NULL);
	snprintf(key, sizeof(key), "%lld", GX_MIGRATE_LOCK_KEY);
	if (exec_ok(conn, SQL_QUIET, 0, NULL, "SET client_min_messages") < 0)
		return -1;
	if (exec_ok(conn, SQL_LOCK, 1, params, "taking the migration lock") < 0)
		return -1;
	locked = true;
	if (exec_ok(conn, SQL_CREATE_RECORD, 0, NULL, "creating \"_gx_migrations\"") < 0)
		goto out;
	if (applied_load(conn, &set) < 0 || verify_applied(&set) < 0)
		goto out;
	if (maybe_baseline(conn, &set) < 0)
		goto out;
	for (size_t i = 0; i < gx_migrate_table_len; i++) {
		const struct gx_migrate_file *f = &gx_migrate_table[i];

		if (applied_find(&set, f->version))
			continue;
		if (apply_one(conn, f) < 0)
			goto out;
		count++;
	}
	rc = 0;
	gx_log_kv(GX_LOG_INFO,
		  GX_LOG_FIELDS(GX_LOG_INT("applied", count), GX_LOG_INT("version", gx_migrate_expected_version())),
		  count ? "schema migrated" : "schema up to date, nothing to apply");
out:
	if (locked && PQstatus(conn) == CONNECTION_OK)
		(void)exec_ok(conn, SQL_UNLOCK, 1, params, "releasing the migration lock");
	applied_free(&set);
	if (applied)
		*applied = count;
	return rc;
}

int gx_migrate_status(PGconn *conn, FILE *out, int *pending, int *changed)
{
	struct applied_set set = { NULL, 0 };
	bool exists;
	int npending = 0, nchanged = 0, at = 0;
	char sum[65];

	if (query_bool(conn, SQL_RECORD_EXISTS, "probing \"_gx_migrations\"", &exists) < 0)
		return -1;
	if (exists && applied_load(conn, &set) < 0)
		return -1;
	fprintf(out, "%-8s %-32s %-22s %s\n", "VERSION", "NAME", "APPLIED", "CHECKSUM");
	for (size_t i = 0; i < gx_migrate_table_len; i++) {
		const struct gx_migrate_file *f = &gx_migrate_table[i];
		const struct applied *a = applied_find(&set, f->version);
		const char *state = "-";

		if (a) {
			gx_migrate_checksum(f, sum);
			state = strcmp(sum, a->checksum) == 0 ? "ok" : "CHANGED";
			if (*state == 'C')
				nchanged++;
		} else {
			npending++;
		}
		fprintf(out, "%04d     %-32s %-22s %s%s\n", f->version, f->name, a ? a->applied_at : "pending", state,
			a && a->baseline ? " (baseline)" : "");
	}
	for (int i = 0; i < set.n; i++) {
		if (set.rows[i].version > at)
			at = set.rows[i].version;
		if (!file_find(set.rows[i].version))
			fprintf(out, "%04d     %-32s %-22s unknown\n", set.rows[i].version, set.rows[i].name,
				set.rows[i].applied_at);
	}
	fprintf(out, "schema at version %d, this binary needs %d: %d pending, %d changed\n", at,
		gx_migrate_expected_version(), npending, nchanged);
	applied_free(&set);
	if (pending)
		*pending = npending;
	if (changed)
		*changed = nchanged;
	return 0;
}
