/* svc-admin shared helpers: query parameters, read-model value conversion, the system-state query and the audited
 * on-chain write path (chaincode mapping check + "AdminAuditLog" row + outbox, one transaction). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/chaincode.h"
#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/outbox.h"
#include "gx/valid.h"
#include "admin.h"

static const char SQL_AUDIT[] =
	"INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	" \"targetId\", \"details\", \"requestId\", \"ipAddress\") VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)";

#define OPEN_STATES "('PENDING', 'LOCKED', 'SUBMITTED', 'COMMITTED')"

const char ADM_SQL_SYSTEM_STATE[] =
	"SELECT coalesce(p.\"eventName\" = 'SystemPaused', false) AS \"paused\","
	" CASE WHEN p.\"eventName\" = 'SystemPaused' THEN p.\"payload\"->>'reason' END AS \"pauseReason\","
	" " ADM_TS("p.\"txTimestamp\"") " AS \"pauseChangedAt\","
	" (SELECT c.\"commandType\"::text FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1"
	"   AND c.\"commandType\" IN ('PAUSE_SYSTEM', 'RESUME_SYSTEM') AND c.\"status\" IN " OPEN_STATES
	"   ORDER BY c.\"createdAt\" DESC, c.\"id\" DESC LIMIT 1) AS \"pendingChange\","
	" b.\"txTimestamp\" IS NOT NULL AS \"bootstrapped\", " ADM_TS("b.\"txTimestamp\"") " AS \"bootstrappedAt\","
	" EXISTS (SELECT 1 FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1"
	"   AND c.\"commandType\" = 'BOOTSTRAP_SYSTEM' AND c.\"status\" <> 'FAILED') AS \"bootstrapRequested\","
	" EXISTS (SELECT 1 FROM \"Country\" k WHERE k.\"initializedAt\" IS NOT NULL) AS \"countriesInitialized\","
	" EXISTS (SELECT 1 FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1"
	"   AND c.\"commandType\" IN ('INITIALIZE_COUNTRY_DATA', 'INITIALIZE_COUNTRY') AND c.\"status\" <> 'FAILED')"
	"   AS \"countriesRequested\","
	" " ADM_TS("greatest(p.\"txTimestamp\", b.\"txTimestamp\")") " AS \"lastUpdated\""
	" FROM (SELECT 1) one"
	" LEFT JOIN LATERAL (SELECT e.\"eventName\", e.\"payload\", e.\"txTimestamp\" FROM \"EventLog\" e"
	"   WHERE e.\"tenantId\" = $1 AND e.\"eventName\" IN ('SystemPaused', 'SystemResumed')"
	"   ORDER BY e.\"blockNumber\" DESC, e.\"eventIndex\" DESC LIMIT 1) p ON true"
	" LEFT JOIN LATERAL (SELECT e.\"txTimestamp\" FROM \"EventLog\" e"
	"   WHERE e.\"tenantId\" = $1 AND e.\"eventName\" = 'SystemBootstrapped'"
	"   ORDER BY e.\"blockNumber\", e.\"eventIndex\" LIMIT 1) b ON true";

long long adm_query_int(struct gx_req *req, const char *name, long long min, long long max, long long def,
			struct gx_verr *v)
{
	const char *s = gx_req_query(req, name);
	char *end;
	long long n;

	if (!s)
		return def;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (!*s || *end || errno || s[0] < '0' || s[0] > '9' || n < min || n > max) {
		gx_verr_add(v, name, "must be an integer from %lld to %lld", min, max);
		return def;
	}
	return n;
}

struct adm_page *adm_page_new(struct gx_req *req, long long max, long long def)
{
	struct gx_verr *v = gx_verr_new();
	long long limit = adm_query_int(req, "limit", 1, max, def, v);
	long long offset = adm_query_int(req, "offset", 0, 1000000000LL, 0, v);
	struct adm_page *pg;

	if (gx_verr_count(v) > 0) {
		gx_reply_verr(req, v);
		return NULL;
	}
	gx_verr_free(v);
	pg = gx_xcalloc(1, sizeof(*pg));
	pg->req = req;
	pg->limit = limit;
	pg->offset = offset;
	snprintf(pg->limit_s, sizeof(pg->limit_s), "%lld", limit);
	snprintf(pg->offset_s, sizeof(pg->offset_s), "%lld", offset);
	gx_req_set_data(req, pg, free);
	return pg;
}

void adm_add_text(cJSON *obj, const char *name, const PGresult *res, int row, const char *col)
{
	if (gx_pg_isnull(res, row, col))
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddStringToObject(obj, name, gx_pg_val(res, row, col));
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

int adm_add_amount(cJSON *obj, const char *name, const char *name_qirat, const PGresult *res, int row,
		   const char *col)
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

bool adm_true(const PGresult *res, int row, const char *col)
{
	return strcmp(gx_pg_val(res, row, col), "t") == 0;
}

void adm_submit(struct gx_req *req, const char *type, const cJSON *payload, const char *action,
		const char *target_type, const char *target_id)
{
	const struct adm_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	struct gx_cc_call call = { 0 };
	struct gx_outbox_cmd cmd;
	struct gx_pg_stmt audit;
	const char *params[9];
	char err[256];
	char *details = NULL;

	if (gx_chaincode_map(type, payload, &call, err, sizeof(err)) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "%s payload does not map: %s", type, err);
		goto out;
	}
	if (!cl) { /* every admin write route requires a token: reaching here without one is a routing bug */
		gx_reply_error(req, 500, "INTERNAL", "admin write without caller claims");
		goto out;
	}
	cmd.command_type = type;
	cmd.aggregate_id = call.aggregate;
	cmd.payload = payload;
	details = cJSON_PrintUnformatted(payload);
	if (!details)
		abort(); /* cJSON only fails on OOM */
	params[0] = app->tenant;
	params[1] = cl->sub;
	params[2] = cl->role;
	params[3] = action;
	params[4] = target_type;
	params[5] = target_id;
	params[6] = details;
	params[7] = gx_req_id(req);
	params[8] = gx_req_client_ip(req);
	audit.sql = SQL_AUDIT;
	audit.nparams = 9;
	audit.params = params;
	gx_outbox_submit(req, &audit, 1, &cmd, NULL, 0);
out:
	free(details);
	gx_cc_call_release(&call);
}
