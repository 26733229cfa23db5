/* System parameters: POST /parameters (SUPER_ADMIN, UPDATE_SYSTEM_PARAMETER), GET /parameters and
 * GET /parameters/{paramId} (public, from the "SystemParameter" read model the projector keeps; one parameter also
 * carries the original's answer, the raw row under "parameter").
 * The keys and ranges are docs/chaincode.md §5; a value is a canonical non-negative integer (string, or a JSON
 * integer) within its key's range, so the chain never sees a value it would refuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/params.h"
#include "gx/valid.h"
#include "admin.h"

/* The original's text for an unknown parameter. */
#define NOT_FOUND "System parameter not found"

static const char SQL_LIST[] =
	"SELECT (SELECT count(*) FROM \"SystemParameter\" WHERE \"tenantId\" = $1) AS \"total\","
	" coalesce((SELECT json_agg(json_build_object('paramId', p.\"paramKey\", 'value', p.\"paramValue\","
	"   'description', p.\"description\", 'lastUpdated', " GX_SQL_ISO_TS("p.\"updatedAt\"") ") ORDER BY p.\"paramKey\")"
	"  FROM (SELECT * FROM \"SystemParameter\" WHERE \"tenantId\" = $1 ORDER BY \"paramKey\""
	"   LIMIT $2::bigint OFFSET $3::bigint) p), '[]')::text AS \"items\"";

static const char SQL_ONE[] =
	"SELECT \"paramKey\", \"paramValue\", \"description\", " GX_SQL_ISO_TS("\"updatedAt\"") " AS \"updatedAt\""
	" FROM \"SystemParameter\" WHERE \"tenantId\" = $1 AND \"paramKey\" = $2";

void parameters_update(struct gx_req *req)
{
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *kf, *vf, *key = NULL;
	const struct gx_params_rule *rule = NULL;
	const cJSON *k, *val;
	char value[32] = "";
	uint64_t n = 0;
	cJSON *payload;

	k = gx_valid_either(body, "paramKey", "paramId", &kf);
	val = gx_valid_either(body, "paramValue", "newValue", &vf);
	if (!cJSON_IsString(k))
		gx_verr_add(v, "paramKey", "is required: the name of a system parameter");
	else if (!(rule = gx_params_find(key = k->valuestring)))
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
		gx_verr_add(v, vf, "out of range for %s: %llu..%llu", rule->key, (unsigned long long)rule->min,
			    (unsigned long long)rule->max);
	if (gx_svc_invalid(req, v))
		return;
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "paramKey", key);
	cJSON_AddStringToObject(payload, "paramValue", value);
	adm_submit(req, "UPDATE_SYSTEM_PARAMETER", payload, "PARAMETER_UPDATE", "PARAMETER", key);
	cJSON_Delete(payload);
}

void parameters_list(struct gx_req *req)
{
	adm_list(req, SQL_LIST, 100, 20, "items");
}

static void on_one(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	const struct adm_app *app = gx_req_app(req);
	cJSON *o;

	if (!gx_svc_found(req, res, err, "PARAMETER_NOT_FOUND", NOT_FOUND))
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "paramId", gx_pg_val(res, 0, "paramKey"));
	cJSON_AddStringToObject(o, "value", gx_pg_val(res, 0, "paramValue"));
	gx_svc_add_text(o, "description", res, 0, "description");
	cJSON_AddStringToObject(o, "lastUpdated", gx_pg_val(res, 0, "updatedAt"));
	adm_add_param_row(o, "parameter", app->tenant, gx_pg_val(res, 0, "paramKey"), gx_pg_val(res, 0, "paramValue"),
			  gx_pg_val(res, 0, "updatedAt"));
	gx_reply_json(req, 200, o);
}

void parameters_get(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const char *id = gx_req_param(req, "paramId");
	const char *params[2] = { app->tenant, id };

	if (!gx_valid_id(id)) { /* no such name can exist: the original's 404 */
		gx_reply_error(req, 404, "PARAMETER_NOT_FOUND", NOT_FOUND);
		return;
	}
	if (gx_pg_query(gx_req_pg(req), SQL_ONE, 2, params, on_one, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the parameter query");
}
