/* gxctl seed: idempotent reference data. Country rows for every ISO 3166-1 entry of the iso-codes JSON. */
#include "gxctl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "gx/log.h"
#include "gx/migrate.h"
#include "gx/util.h"

#define SEED_ISO_DEFAULT "/usr/share/iso-codes/json/iso_3166-1.json"
#define SEED_MAX_FILE (16 << 20)

/* Insert missing countries; fill alpha3/numericCode when empty. Existing names and regions are the operator's and
 * stay. RETURNING tells inserted (xmax = 0) from updated; no row back means unchanged. */
static const char SQL_UPSERT_COUNTRY[] =
	"INSERT INTO \"Country\" (\"countryCode\", \"countryName\", \"alpha3\", \"numericCode\")"
	" VALUES ($1, $2, $3, $4)"
	" ON CONFLICT (\"countryCode\") DO UPDATE SET"
	"  \"alpha3\" = COALESCE(\"Country\".\"alpha3\", EXCLUDED.\"alpha3\"),"
	"  \"numericCode\" = COALESCE(\"Country\".\"numericCode\", EXCLUDED.\"numericCode\")"
	" WHERE (\"Country\".\"alpha3\" IS NULL AND EXCLUDED.\"alpha3\" IS NOT NULL)"
	"  OR (\"Country\".\"numericCode\" IS NULL AND EXCLUDED.\"numericCode\" IS NOT NULL)"
	" RETURNING (xmax = 0)";

struct seed_counts {
	int inserted;
	int updated;
	int unchanged;
};

static void seed_usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl seed\n"
		"\n"
		"Inserts a Country row for every ISO 3166-1 country of the iso-codes JSON (path from GX_ISO3166_JSON,\n"
		"default " SEED_ISO_DEFAULT
		"). Existing rows keep their name and region; missing alpha-3 and\n"
		"numeric codes are filled in. Safe to repeat. The schema must be migrated first (gxctl migrate up);\n"
		"default system parameters come with the migrations.\n\n%s",
		GXCTL_DB_HELP);
}

/* Read the whole file (caller owns the result), or NULL (logged). */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, n;

	if (!f) {
		gx_log_error("cannot open '%s': %m", path);
		return NULL;
	}
	buf = gx_xmalloc(SEED_MAX_FILE + 1);
	while ((n = fread(buf + len, 1, SEED_MAX_FILE - len, f)) > 0)
		len += n;
	if (ferror(f) || len == SEED_MAX_FILE) {
		gx_log_error("cannot read '%s': %s", path, ferror(f) ? "read error" : "file too large");
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static bool is_upper_code(const char *s, size_t n, int (*cls)(int))
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!cls((unsigned char)s[i]))
			return false;
	return true;
}

static int is_upper_alpha(int c)
{
	return c >= 'A' && c <= 'Z';
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Upsert one country; counts the outcome. Returns 0, or -1 (logged). */
static int seed_country(PGconn *conn, const cJSON *c, struct seed_counts *counts)
{
	const char *code = json_str(c, "alpha_2"), *alpha3 = json_str(c, "alpha_3"), *num = json_str(c, "numeric");
	const char *name = json_str(c, "common_name");
	const char *params[4];
	PGresult *res;

	if (!name)
		name = json_str(c, "name");
	if (!is_upper_code(code, 2, is_upper_alpha) || !name || !*name) {
		gx_log_error("bad ISO 3166-1 entry (alpha_2 '%s'): need a two-letter code and a name",
			     code ? code : "");
		return -1;
	}
	params[0] = code;
	params[1] = name;
	params[2] = is_upper_code(alpha3, 3, is_upper_alpha) ? alpha3 : NULL;
	params[3] = is_upper_code(num, 3, isdigit) ? num : NULL;
	res = PQexecParams(conn, SQL_UPSERT_COUNTRY, 4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		gx_log_error("inserting country %s failed: %s", code, PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	if (PQntuples(res) == 0)
		counts->unchanged++;
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		counts->inserted++;
	else
		counts->updated++;
	PQclear(res);
	return 0;
}

/* All countries in one transaction. Returns 0, or -1 (logged, rolled back). */
static int seed_countries(PGconn *conn, const cJSON *list, struct seed_counts *counts)
{
	const cJSON *c;
	PGresult *res;

	res = PQexec(conn, "BEGIN");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		gx_log_error("BEGIN failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	cJSON_ArrayForEach(c, list) {
		if (seed_country(conn, c, counts) < 0)
			goto fail;
	}
	res = PQexec(conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		gx_log_error("COMMIT failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
fail:
	PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

/* The schema must be at least at this binary's version. Returns 0, or -1 (logged). */
static int check_schema(PGconn *conn)
{
	PGresult *res = PQexec(conn, GX_MIGRATE_VERSION_SQL);
	int at = 0, rc;

	rc = gx_migrate_version_from_result(res, &at);
	PQclear(res);
	if (rc < 0)
		return -1;
	if (at < gx_migrate_expected_version()) {
		gx_log_error("schema behind: at %d, need %d; run gxctl migrate up first", at,
			     gx_migrate_expected_version());
		return -1;
	}
	return 0;
}

int gxctl_seed(int argc, char **argv)
{
	const char *path = getenv("GX_ISO3166_JSON");
	struct seed_counts counts = { 0, 0, 0 };
	cJSON *root = NULL;
	const cJSON *list;
	PGconn *conn = NULL;
	char *text = NULL;
	int rc = GXCTL_FAIL;

	if (gxctl_wants_help(argc, argv)) {
		seed_usage(stdout);
		return GXCTL_OK;
	}
	if (argc != 1) {
		seed_usage(stderr);
		return GXCTL_USAGE;
	}
	if (!path || !*path)
		path = SEED_ISO_DEFAULT;
	text = read_file(path);
	if (!text)
		goto out;
	root = cJSON_Parse(text);
	list = cJSON_GetObjectItemCaseSensitive(root, "3166-1");
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
		gx_log_error("'%s' is not an iso-codes ISO 3166-1 file (no \"3166-1\" array)", path);
		goto out;
	}
	conn = gxctl_connect(&rc);
	if (!conn)
		goto out;
	rc = GXCTL_FAIL;
	if (check_schema(conn) < 0 || seed_countries(conn, list, &counts) < 0)
		goto out;
	gx_log_kv(GX_LOG_INFO,
		  GX_LOG_FIELDS(GX_LOG_INT("inserted", counts.inserted), GX_LOG_INT("updated", counts.updated),
				GX_LOG_INT("unchanged", counts.unchanged), GX_LOG_STR("source", path)),
		  "seeded countries");
	printf("countries: %d inserted, %d updated, %d unchanged\n", counts.inserted, counts.updated, counts.unchanged);
	rc = GXCTL_OK;
out:
	if (conn)
		PQfinish(conn);
	cJSON_Delete(root);
	free(text);
	return rc;
}
