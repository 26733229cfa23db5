/* System parameters: POST /parameters (SUPER_ADMIN, UPDATE_SYSTEM_PARAMETER), GET /parameters and
 * GET /parameters/{paramId} (public, from the "SystemParameter" read model the projector keeps).
 * The keys and ranges are docs/chaincode.md §5; a value is a canonical non-negative integer (string, or a JSON
 * integer) within its key's range, so the chain never sees a value it would refuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/valid.h"
#include "admin.h"

#define U64_MAX_ 18446744073709551615ULL

static const struct param_rule {
	const char *key;
	unsigned long long min, max;
} RULES[] = {
	{ "transactionFeeBps", 0, 10000 },
	{ "transactionFeeThreshold", 0, U64_MAX_ },
	{ "transactionFeeMaxQirat", 0, U64_MAX_ },
	{ "velocityTaxRateBps", 0, 10000 },
	{ "velocityTaxMinimumBalance", 0, U64_MAX_ },
	{ "velocityTaxDormancyDays", 0, 36500 },
	{ "genesisTier1Amount", 0, U64_MAX_ },
	{ "genesisTier2Amount", 0, U64_MAX_ },
	{ "genesisTier3Amount", 0, U64_MAX_ },
	{ "loanMinimumAmount", 1, U64_MAX_ },
	{ "loanMaximumAmount", 1, U64_MAX_ },
	{ "governanceVotingPeriodSeconds", 1, 31536000 },
	{ "governanceQuorumPercentage", 0, 100 },
	{ "governanceApprovalThreshold", 1, 100 },
	{ "orgDefaultThreshold", 1, 20 },
	{ "genesisUserPoolAmount", 0, U64_MAX_ },
	{ "genesisGovtPoolAmount", 0, U64_MAX_ },
	{ "loanPoolAmount", 0, U64_MAX_ },
	{ "totalSupplyCap", 1, U64_MAX_ },
};

static const char SQL_LIST[] =
	"SELECT (SELECT count(*) FROM \"SystemParameter\" WHERE \"tenantId\" = $1) AS \"total\","
	" coalesce((SELECT json_agg(json_build_object('paramId', p.\"paramKey\", 'value', p.\"paramValue\","
	"   'description', p.\"description\", 'lastUpdated', " ADM_TS("p.\"updatedAt\"") ") ORDER BY p.\"paramKey\")"
	"  FROM (SELECT * FROM \"SystemParameter\" WHERE \"tenantId\" = $1 ORDER BY \"paramKey\""
	"   LIMIT $2::bigint OFFSET $3::bigint) p), '[]')::text AS \"items\"";

static const char SQL_ONE[] =
	"SELECT \"paramKey\", \"paramValue\", \"description\", " ADM_TS("\"updatedAt\"") " AS \"updatedAt\""
	" FROM \"SystemParameter\" WHERE \"tenantId\" = $1 AND \"paramKey\" = $2";

static const struct param_rule *rule_of(const char *key)
{
	for (size_t i = 0; key && i < GX_ARRAY_LEN(RULES); i++)
		if (strcmp(RULES[i].key, key) == 0)
			return &RULES[i];
	return NULL;
}

/* First present of two accepted spellings of a field (the original used paramId/newValue). */
static const cJSON *either(const cJSON *body, const char *a, const char *b, const char **used)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(body, a);

	*used = a;
	if (x && !cJSON_IsNull(x))
		return x;
	*used = b;
	return cJSON_GetObjectItemCaseSensitive(body, b);
}

void parameters_update(struct gx_req *req)
{
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *kf, *vf, *key = NULL;
	const struct param_rule *rule = NULL;
	const cJSON *k, *val;
	char value[32] = "";
	uint64_t n = 0;
	cJSON *payload;

	k = either(body, "paramKey", "paramId", &kf);
	val = either(body, "paramValue", "newValue", &vf);
	if (!cJSON_IsString(k))
		gx_verr_add(v, "paramKey", "is required: the name of a system parameter");
	else if (!(rule = rule_of(key = k->valuestring)))
		gx_verr_add(v, kf, "unknown parameter '%.64s'", key);
	if (cJSON_IsString(val) && strlen(val->valuestring) < sizeof(value))
		snprintf(value, sizeof(value), "%s", val->valuestring);
	else if (cJSON_IsNumber(val) && val->valuedouble >= 0 && val->valuedouble <= 9007199254740991.0 &&
		 val->valuedouble == (double)(unsigned long long)val->valuedouble)
		snprintf(value, sizeof(value), "%llu", (unsigned long long)val->valuedouble);
	if (!val || cJSON_IsNull(val))
		gx_verr_add(v, "paramValue", "is required: the new value as a non-negative integer");
	else if (!*value || gx_fee_parse_u64(value, &n) < 0)
		gx_verr_add(v, vf, "must be a non-negative integer without sign, decimals or leading zeros");
	else if (rule && (n < rule->min || n > rule->max))
		gx_verr_add(v, vf, "out of range for %s: %llu..%llu", rule->key, rule->min, rule->max);
	if (gx_verr_count(v) > 0) {
		gx_reply_verr(req, v);
		return;
	}
	gx_verr_free(v);
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "paramKey", key);
	cJSON_AddStringToObject(payload, "paramValue", value);
	adm_submit(req, "UPDATE_SYSTEM_PARAMETER", payload, "PARAMETER_UPDATE", "PARAMETER", key);
	cJSON_Delete(payload);
}

static void on_list(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct adm_page *pg = arg;
	struct gx_req *req = pg->req;
	cJSON *o, *items;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	items = cJSON_Parse(gx_pg_val(res, 0, "items"));
	if (!items) {
		gx_reply_error(req, 500, "INTERNAL", "parameter list is not JSON");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "items", items);
	adm_add_int(o, "total", res, 0, "total");
	cJSON_AddNumberToObject(o, "limit", (double)pg->limit);
	cJSON_AddNumberToObject(o, "offset", (double)pg->offset);
	gx_reply_json(req, 200, o);
}

void parameters_list(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	struct adm_page *pg = adm_page_new(req, 100, 20);
	const char *params[3];

	if (!pg)
		return;
	params[0] = app->tenant;
	params[1] = pg->limit_s;
	params[2] = pg->offset_s;
	if (gx_pg_query(gx_req_pg(req), SQL_LIST, 3, params, on_list, pg) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the parameter list query");
}

static void on_one(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	cJSON *o;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) == 0) {
		gx_reply_error(req, 404, "PARAMETER_NOT_FOUND", "no system parameter %s", gx_req_param(req, "paramId"));
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "paramId", gx_pg_val(res, 0, "paramKey"));
	cJSON_AddStringToObject(o, "value", gx_pg_val(res, 0, "paramValue"));
	adm_add_text(o, "description", res, 0, "description");
	cJSON_AddStringToObject(o, "lastUpdated", gx_pg_val(res, 0, "updatedAt"));
	gx_reply_json(req, 200, o);
}

void parameters_get(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const char *id = gx_req_param(req, "paramId");
	const char *params[2] = { app->tenant, id };

	if (!gx_valid_id(id)) {
		struct gx_verr *v = gx_verr_new();

		gx_verr_add(v, "paramId", "must be a parameter name");
		gx_reply_verr(req, v);
		return;
	}
	if (gx_pg_query(gx_req_pg(req), SQL_ONE, 2, params, on_one, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the parameter query");
}
