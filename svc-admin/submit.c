/* svc-admin shared helpers: list paging, read-model value conversion, the system-state query and the audited
 * on-chain write path (gx_svc_submit with the admin's "AdminAuditLog" row). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/money.h"
#include "gx/outbox_store.h"
#include "gx/valid.h"
#include "admin.h"

static struct gx_outbox_store_sql sql_system_state = { .tmpl =
	"SELECT coalesce(p.\"eventName\" = 'SystemPaused', false) AS \"paused\","
	" CASE WHEN p.\"eventName\" = 'SystemPaused' THEN p.\"payload\"->>'reason' END AS \"pauseReason\","
	" " GX_SQL_ISO_TS("p.\"txTimestamp\"") " AS \"pauseChangedAt\","
	" %s AS \"pendingChange\","
	" b.\"txTimestamp\" IS NOT NULL AS \"bootstrapped\", " GX_SQL_ISO_TS("b.\"txTimestamp\"") " AS \"bootstrappedAt\","
	" %s AS \"bootstrapRequested\","
	" EXISTS (SELECT 1 FROM \"Country\" k WHERE k.\"initializedAt\" IS NOT NULL) AS \"countriesInitialized\","
	" %s AS \"countriesRequested\","
	" " GX_SQL_ISO_TS("greatest(p.\"txTimestamp\", b.\"txTimestamp\")") " AS \"lastUpdated\","
	" " GX_SQL_ISO_TS("coalesce(greatest(p.\"txTimestamp\", b.\"txTimestamp\"), now())") " AS \"statusUpdatedAt\""
	" FROM (SELECT 1) one"
	" LEFT JOIN LATERAL (SELECT e.\"eventName\", e.\"payload\", e.\"txTimestamp\" FROM \"EventLog\" e"
	"   WHERE e.\"tenantId\" = $1 AND e.\"eventName\" IN ('SystemPaused', 'SystemResumed')"
	"   ORDER BY e.\"blockNumber\" DESC, e.\"eventIndex\" DESC LIMIT 1) p ON true"
	" LEFT JOIN LATERAL (SELECT e.\"txTimestamp\" FROM \"EventLog\" e"
	"   WHERE e.\"tenantId\" = $1 AND e.\"eventName\" = 'SystemBootstrapped'"
	"   ORDER BY e.\"blockNumber\", e.\"eventIndex\" LIMIT 1) b ON true",
	.probes = { { .ask = GX_OUTBOX_STORE_NEWEST,
		      .rule = GX_OUTBOX_STORE_IN_FLIGHT,
		      .tenant = "$1",
		      .types = "'PAUSE_SYSTEM', 'RESUME_SYSTEM'" },
		    { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_LIVE,
		      .tenant = "$1",
		      .types = "'BOOTSTRAP_SYSTEM'" },
		    { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_LIVE,
		      .tenant = "$1",
		      .types = "'INITIALIZE_COUNTRY_DATA', 'INITIALIZE_COUNTRY'" } } };

const char *adm_sql_system_state(void)
{
	return gx_outbox_store_sql_text(&sql_system_state);
}

struct adm_page *adm_page_new(struct gx_req *req, long long max, long long def, const char *field)
{
	struct gx_verr *v = gx_verr_new();
	struct gx_valid_page page;
	struct adm_page *pg;

	if (gx_svc_paging(req, max, def, &page, v) < 0) {
		gx_reply_verr(req, v);
		return NULL;
	}
	gx_verr_free(v);
	pg = gx_xcalloc(1, sizeof(*pg));
	pg->req = req;
	pg->page = page;
	pg->field = field;
	gx_req_set_data(req, pg, free);
	return pg;
}

void adm_list(struct gx_req *req, const char *sql, long long max, long long def, const char *field)
{
	const struct adm_app *app = gx_req_app(req);
	struct adm_page *pg = adm_page_new(req, max, def, field);
	const char *params[3];

	if (!pg)
		return;
	params[0] = app->tenant;
	params[1] = pg->page.limit_s;
	params[2] = pg->page.offset_s;
	if (gx_pg_query(gx_req_pg(req), sql, 3, params, adm_on_page, pg) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the %s list query", field);
}

void adm_on_page(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct adm_page *pg = arg;
	cJSON *items;

	if (err) {
		gx_reply_pg_error(pg->req, err);
		return;
	}
	items = cJSON_Parse(gx_pg_val(res, 0, "items"));
	if (!items) {
		gx_reply_error(pg->req, 500, "INTERNAL", "the %s list is not JSON", pg->field);
		return;
	}
	gx_svc_reply_list(pg->req, pg->field, items, gx_svc_total(res), &pg->page);
}

void adm_add_int(cJSON *obj, const char *name, const PGresult *res, int row, const char *col)
{
	const char *s = gx_pg_val(res, row, col);
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (gx_pg_isnull(res, row, col) || !*s || *end || errno)
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddNumberToObject(obj, name, (double)n);
}

int adm_add_amount(cJSON *obj, const char *name, const char *name_qirat, const PGresult *res, int row, const char *col)
{
	char coins[GX_MONEY_FMT_LEN];
	char digits[24];
	uint64_t q;

	if (gx_fee_parse_u64(gx_pg_val(res, row, col), &q) < 0)
		return -1;
	gx_money_format(q, coins);
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)q);
	cJSON_AddStringToObject(obj, name, coins);
	if (name_qirat)
		cJSON_AddStringToObject(obj, name_qirat, digits);
	return 0;
}

cJSON *adm_add_param_row(cJSON *obj, const char *name, const char *tenant, const char *key, const char *value,
			 const char *updated_at)
{
	cJSON *row = cJSON_AddObjectToObject(obj, name);

	cJSON_AddStringToObject(row, "tenantId", tenant);
	cJSON_AddStringToObject(row, "paramKey", key);
	cJSON_AddStringToObject(row, "paramValue", value);
	cJSON_AddStringToObject(row, "updatedAt", updated_at);
	return row;
}

void adm_submit(struct gx_req *req, const char *type, const cJSON *payload, const char *action, const char *target_type,
		const char *target_id)
{
	const struct adm_app *app = gx_req_app(req);
	const struct gx_svc_audit audit = { app->tenant, action, target_type, target_id };

	gx_svc_submit(req, type, payload, &audit);
}
