/* Countries and treasuries: POST /countries/initialize (SUPER_ADMIN, once, INITIALIZE_COUNTRY_DATA), GET /countries
 * and GET /countries/{countryCode}/stats (public, read models), POST /treasury/activate (ADMIN, ACTIVATE_TREASURY).
 * The reads carry the original's keys beside ours: list items have countryCode/countryName as well as code/name,
 * and stats add the raw country row {countryCode, countryName, region} under "stats".
 *
 * Initialization input (the shape of countries-init.json): {"countriesData":[{"code"|"countryCode","name"?,
 * "percentage"}]} with 1..300 entries, each code a known ISO 3166-1 alpha-2 code ("Country" row), no code twice,
 * percentage a fraction 0..1 (JSON number, rounded to 9 decimals, or decimal string with at most 9 decimals, exact),
 * and the sum within ADM_COUNTRY_SUM_TOLERANCE_PPB of 1. The payload carries each percentage as a canonical
 * 9-decimal string so the chain gets exactly the parts per billion validated here. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/http.h"
#include "gx/outbox_store.h"
#include "gx/valid.h"
#include "admin.h"

#define MAX_COUNTRIES 300
/* The original's text for an unknown country in GET /countries/{countryCode}/stats. */
#define STATS_NOT_FOUND "Country stats not found"
#define PPB 1000000000LL

static const char SQL_INIT_STATE[] =
	"WITH s AS (%s) SELECT s.*, (SELECT coalesce(string_agg(c, ',' ORDER BY c), '') FROM unnest($2::text[]) c"
	" WHERE NOT EXISTS (SELECT 1 FROM \"Country\" k WHERE k.\"countryCode\" = c)) AS \"unknown\" FROM s";

static const char SQL_LIST[] =
	"SELECT (SELECT count(*) FROM \"Country\") AS \"total\","
	" coalesce((SELECT json_agg(json_build_object('countryCode', k.\"countryCode\", 'countryName', k.\"countryName\","
	"   'region', k.\"region\", 'code', k.\"countryCode\", 'name', k.\"countryName\", 'alpha3', k.\"alpha3\", 'allocationPercentage', k.\"allocationPercentage\"::text,"
	"   'initializedAt', " GX_SQL_ISO_TS("k.\"initializedAt\"") ", 'treasuryStatus', t.\"status\")"
	"   ORDER BY k.\"countryCode\")"
	"  FROM (SELECT * FROM \"Country\" ORDER BY \"countryCode\" LIMIT $2::bigint OFFSET $3::bigint) k"
	"  LEFT JOIN \"TreasuryAccount\" t ON t.\"tenantId\" = $1 AND t.\"countryCode\" = k.\"countryCode\"),"
	"  '[]')::text AS \"items\"";

static const char SQL_STATS[] =
	"SELECT k.\"countryCode\", k.\"countryName\", k.\"region\", k.\"allocationPercentage\"::text AS \"allocation\","
	" " GX_SQL_ISO_TS("k.\"initializedAt\"") " AS \"initializedAt\","
	" (SELECT count(*) FROM \"UserProfile\" p WHERE p.\"tenantId\" = $1 AND p.\"nationalityCountryCode\" = $2"
	"   AND p.\"deletedAt\" IS NULL) AS \"userCount\","
	" (SELECT coalesce(sum(w.\"balanceQirat\"), 0) FROM \"Wallet\" w JOIN \"UserProfile\" p"
	"   ON p.\"profileId\" = w.\"profileId\" WHERE w.\"tenantId\" = $1 AND p.\"nationalityCountryCode\" = $2)::text"
	"   AS \"walletBalance\","
	" t.\"accountId\", t.\"status\" AS \"treasuryStatus\", coalesce(t.\"balanceQirat\", 0)::text AS \"treasuryBalance\","
	" " GX_SQL_ISO_TS("t.\"activatedAt\"") " AS \"activatedAt\","
	" (coalesce(t.\"balanceQirat\", 0) + (SELECT coalesce(sum(w.\"balanceQirat\"), 0) FROM \"Wallet\" w"
	"   JOIN \"UserProfile\" p ON p.\"profileId\" = w.\"profileId\" WHERE w.\"tenantId\" = $1"
	"   AND p.\"nationalityCountryCode\" = $2))::text AS \"totalSupply\""
	" FROM \"Country\" k LEFT JOIN \"TreasuryAccount\" t ON t.\"tenantId\" = $1 AND t.\"countryCode\" = k.\"countryCode\""
	" WHERE k.\"countryCode\" = $2";

static const char SQL_TREASURY_STATE[] =
	"WITH s AS (%s) SELECT s.*, EXISTS (SELECT 1 FROM \"Country\" WHERE \"countryCode\" = $2) AS \"known\","
	" (SELECT \"status\" FROM \"TreasuryAccount\" WHERE \"tenantId\" = $1 AND \"countryCode\" = $2) AS \"status\","
	" %s AS \"requested\" FROM s";
static const struct gx_outbox_store_probe TREASURY_REQUESTED = { .ask = GX_OUTBOX_STORE_EXISTS,
								 .rule = GX_OUTBOX_STORE_LIVE,
								 .tenant = "$1",
								 .types = "'ACTIVATE_TREASURY'",
								 .fields = { { "countryCode", "$2", false } } };

/* The statements above embed the system state (adm_sql_system_state()) and a probe; built once on first use
 * (handlers run on several threads, so under a once-guard). */
static char *sql_init_state, *sql_treasury_state;
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;

static void build_sql(void)
{
	char *requested = gx_outbox_store_probe_sql(&TREASURY_REQUESTED);

	sql_init_state = gx_xasprintf(SQL_INIT_STATE, adm_sql_system_state());
	sql_treasury_state = gx_xasprintf(SQL_TREASURY_STATE, adm_sql_system_state(), requested);
	free(requested);
}

/* Parse a fraction 0..1 given as a decimal string with at most 9 decimals into parts per billion. */
static int parse_fraction(const char *s, long long *ppb)
{
	long long ip = 0, frac = 0;
	int nd = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		ip = ip * 10 + (*p - '0');
		if (ip > 1)
			return -1;
		p++;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9') {
			if (++nd > 9)
				return -1;
			frac = frac * 10 + (*p - '0');
			p++;
		}
	}
	if (*p)
		return -1;
	for (int i = nd; i < 9; i++)
		frac *= 10;
	*ppb = ip * PPB + frac;
	return *ppb <= PPB ? 0 : -1;
}

struct init_op {
	struct gx_req *req;
	cJSON *payload;    /* {"countriesData":[{"countryCode","percentage"}]} */
	char *codes_array; /* PostgreSQL text[] literal of the codes */
};

static void init_op_free(void *p)
{
	struct init_op *op = p;

	cJSON_Delete(op->payload);
	free(op->codes_array);
	free(op);
}

static void on_init_state(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct init_op *op = arg;
	struct gx_req *req = op->req;
	const char *unknown;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	unknown = gx_pg_val(res, 0, "unknown");
	if (*unknown) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(op->payload, "countriesData");
		struct gx_verr *v = gx_verr_new();
		int i = 0;
		const cJSON *e;

		cJSON_ArrayForEach(e, list) {
			const char *cc = cJSON_GetObjectItemCaseSensitive(e, "countryCode")->valuestring;
			char field[48];

			if (strstr(unknown, cc)) {
				snprintf(field, sizeof(field), "countriesData[%d].code", i);
				gx_verr_add(v, field, "unknown country code %s", cc);
			}
			i++;
		}
		gx_reply_verr(req, v);
		return;
	}
	if (!gx_svc_true(res, 0, "bootstrapped") && !gx_svc_true(res, 0, "bootstrapRequested")) {
		gx_reply_error(req, 409, "SYSTEM_NOT_BOOTSTRAPPED",
			       "bootstrap the system before initializing countries");
		return;
	}
	if (gx_svc_true(res, 0, "countriesInitialized") || gx_svc_true(res, 0, "countriesRequested")) {
		gx_reply_error(req, 409, "COUNTRIES_ALREADY_INITIALIZED", "country data is already %s",
			       gx_svc_true(res, 0, "countriesInitialized") ? "initialized" : "being initialized");
		return;
	}
	adm_submit(req, "INITIALIZE_COUNTRY_DATA", op->payload, "COUNTRIES_INITIALIZE", "COUNTRY", NULL);
}

/* Validate one countriesData entry; on success append {"countryCode","percentage"} to out and return its ppb. */
static long long parse_entry(const cJSON *e, int i, cJSON *out, char seen[26][26], struct gx_verr *v)
{
	char field[48];
	const char *code;
	const cJSON *pct, *name;
	long long ppb = -1;
	struct gx_verr *ev = v;
	cJSON *o;
	char buf[24];

	if (!cJSON_IsObject(e)) {
		snprintf(field, sizeof(field), "countriesData[%d]", i);
		gx_verr_add(v, field, "must be an object {code, name, percentage}");
		return -1;
	}
	snprintf(field, sizeof(field), "countriesData[%d].code", i);
	code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
	if (!code)
		code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "countryCode"));
	if (!gx_valid_iso2(code)) {
		gx_verr_add(ev, field, "must be an ISO 3166-1 alpha-2 code (two upper-case letters)");
		code = NULL;
	} else if (seen[code[0] - 'A'][code[1] - 'A']) {
		gx_verr_add(ev, field, "country %s appears more than once", code);
		code = NULL;
	} else {
		seen[code[0] - 'A'][code[1] - 'A'] = 1;
	}
	snprintf(field, sizeof(field), "countriesData[%d].name", i);
	name = cJSON_GetObjectItemCaseSensitive(e, "name");
	if (name && !cJSON_IsNull(name) && (!cJSON_IsString(name) || !gx_valid_name(name->valuestring, 1, 100)))
		gx_verr_add(v, field, "must be a name of 1..100 characters");
	snprintf(field, sizeof(field), "countriesData[%d].percentage", i);
	pct = cJSON_GetObjectItemCaseSensitive(e, "percentage");
	if (cJSON_IsNumber(pct) && isfinite(pct->valuedouble) && pct->valuedouble >= 0 && pct->valuedouble <= 1)
		ppb = llround(pct->valuedouble * (double)PPB);
	else if (cJSON_IsString(pct) && parse_fraction(pct->valuestring, &ppb) == 0)
		;
	else {
		gx_verr_add(v, field,
			    "must be a fraction from 0 to 1 (number, or decimal string with at most 9 decimals)");
		ppb = -1;
	}
	if (!code || ppb < 0)
		return -1;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "countryCode", code);
	snprintf(buf, sizeof(buf), "%lld.%09lld", ppb / PPB, ppb % PPB);
	cJSON_AddStringToObject(o, "percentage", buf);
	cJSON_AddItemToArray(out, o);
	return ppb;
}

void countries_initialize(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(gx_req_body(req), "countriesData");
	struct gx_verr *v = gx_verr_new();
	char seen[26][26] = { { 0 } };
	long long sum = 0;
	struct init_op *op;
	cJSON *entries, *e;
	const char *params[2];
	size_t cap, len = 0;
	int i = 0, n;

	n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1;
	if (n < 1 || n > MAX_COUNTRIES) {
		gx_verr_add(v, "countriesData", "must be an array of 1..%d entries {code, name, percentage}",
			    MAX_COUNTRIES);
		gx_reply_verr(req, v);
		return;
	}
	op = gx_xcalloc(1, sizeof(*op));
	op->req = req;
	op->payload = cJSON_CreateObject();
	gx_req_set_data(req, op, init_op_free);
	entries = cJSON_AddArrayToObject(op->payload, "countriesData");
	cJSON_ArrayForEach(e, list) {
		long long ppb = parse_entry(e, i++, entries, seen, v);

		if (ppb >= 0)
			sum += ppb;
	}
	if (gx_verr_count(v) == 0 && llabs(sum - PPB) > ADM_COUNTRY_SUM_TOLERANCE_PPB)
		gx_verr_add(v, "countriesData", "percentages must sum to 1 within %.4f (they sum to %lld.%09lld)",
			    (double)ADM_COUNTRY_SUM_TOLERANCE_PPB / PPB, sum / PPB, sum % PPB);
	if (gx_svc_invalid(req, v))
		return;
	cap = (size_t)n * 3 + 3;
	op->codes_array = gx_xmalloc(cap);
	op->codes_array[len++] = '{';
	cJSON_ArrayForEach(e, entries) {
		if (len > 1)
			op->codes_array[len++] = ',';
		memcpy(op->codes_array + len, cJSON_GetObjectItemCaseSensitive(e, "countryCode")->valuestring, 2);
		len += 2;
	}
	op->codes_array[len++] = '}';
	op->codes_array[len] = '\0';
	pthread_once(&sql_once, build_sql);
	params[0] = app->tenant;
	params[1] = op->codes_array;
	if (gx_pg_query(gx_req_pg(req), sql_init_state, 2, params, on_init_state, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the country check");
}

void countries_list(struct gx_req *req)
{
	adm_list(req, SQL_LIST, MAX_COUNTRIES, MAX_COUNTRIES, "countries");
}

static void on_stats(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	cJSON *o, *t;

	if (!gx_svc_found(req, res, err, "COUNTRY_NOT_FOUND", STATS_NOT_FOUND))
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "countryCode", gx_pg_val(res, 0, "countryCode"));
	cJSON_AddStringToObject(o, "countryName", gx_pg_val(res, 0, "countryName"));
	gx_svc_add_text(o, "region", res, 0, "region");
	gx_svc_add_text(o, "allocationPercentage", res, 0, "allocation");
	gx_svc_add_text(o, "initializedAt", res, 0, "initializedAt");
	adm_add_int(o, "userCount", res, 0, "userCount");
	if (adm_add_amount(o, "walletBalance", "walletBalanceQirat", res, 0, "walletBalance") < 0 ||
	    adm_add_amount(o, "totalSupply", "totalSupplyQirat", res, 0, "totalSupply") < 0)
		goto bad;
	if (gx_pg_isnull(res, 0, "accountId")) {
		cJSON_AddNullToObject(o, "treasury");
	} else {
		t = cJSON_AddObjectToObject(o, "treasury");
		cJSON_AddStringToObject(t, "accountId", gx_pg_val(res, 0, "accountId"));
		cJSON_AddStringToObject(t, "status", gx_pg_val(res, 0, "treasuryStatus"));
		if (adm_add_amount(t, "balance", "balanceQirat", res, 0, "treasuryBalance") < 0)
			goto bad;
		gx_svc_add_text(t, "activatedAt", res, 0, "activatedAt");
	}
	/* the original's answer: the raw country row */
	t = cJSON_AddObjectToObject(o, "stats");
	cJSON_AddStringToObject(t, "countryCode", gx_pg_val(res, 0, "countryCode"));
	cJSON_AddStringToObject(t, "countryName", gx_pg_val(res, 0, "countryName"));
	gx_svc_add_text(t, "region", res, 0, "region");
	gx_reply_json(req, 200, o);
	return;
bad:
	cJSON_Delete(o);
	gx_reply_error(req, 500, "INTERNAL", "country balances out of range");
}

void countries_stats(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const char *cc = gx_req_param(req, "countryCode");
	const char *params[2] = { app->tenant, cc };

	if (!gx_valid_iso2(cc)) { /* no such code can exist: the original's 404 */
		gx_reply_error(req, 404, "COUNTRY_NOT_FOUND", STATS_NOT_FOUND);
		return;
	}
	if (gx_pg_query(gx_req_pg(req), SQL_STATS, 2, params, on_stats, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the country stats query");
}

struct treasury_op {
	struct gx_req *req;
	char cc[3];
};

static void on_treasury_state(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct treasury_op *op = arg;
	struct gx_req *req = op->req;
	cJSON *payload;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (!gx_svc_true(res, 0, "known")) {
		gx_reply_error(req, 404, "COUNTRY_NOT_FOUND", "no country with code %s", op->cc);
		return;
	}
	if (gx_pg_isnull(res, 0, "status") && !gx_svc_true(res, 0, "countriesRequested")) {
		gx_reply_error(req, 409, "COUNTRY_NOT_INITIALIZED",
			       "country %s has no treasury yet: initialize countries first", op->cc);
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "status"), "ACTIVE") == 0 || gx_svc_true(res, 0, "requested")) {
		gx_reply_error(req, 409, "TREASURY_ALREADY_ACTIVE", "the treasury of %s is already %s", op->cc,
			       gx_svc_true(res, 0, "requested") && strcmp(gx_pg_val(res, 0, "status"), "ACTIVE") != 0
				       ? "being activated"
				       : "active");
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "countryCode", op->cc);
	adm_submit(req, "ACTIVATE_TREASURY", payload, "TREASURY_ACTIVATE", "COUNTRY", op->cc);
	cJSON_Delete(payload);
}

void treasury_activate(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	struct gx_verr *v = gx_verr_new();
	const char *cc = gx_valid_str(gx_req_body(req), "countryCode", true, 2, 2, v);
	struct treasury_op *op;
	const char *params[2];

	if (cc && !gx_valid_iso2(cc))
		gx_verr_add(v, "countryCode", "must be an ISO 3166-1 alpha-2 code (two upper-case letters)");
	if (gx_svc_invalid(req, v))
		return;
	op = gx_xcalloc(1, sizeof(*op));
	op->req = req;
	memcpy(op->cc, cc, 3);
	gx_req_set_data(req, op, free);
	pthread_once(&sql_once, build_sql);
	params[0] = app->tenant;
	params[1] = op->cc;
	if (gx_pg_query(gx_req_pg(req), sql_treasury_state, 2, params, on_treasury_state, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the treasury check");
}
