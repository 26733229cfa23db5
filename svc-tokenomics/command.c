/* svc-tokenomics helpers shared by the resource files: read-model amount conversion (coins as the original's JSON
 * numbers beside the exact Qirat string) and the on-chain write path (gx_svc_submit with the wallet audit row). */
#include <stdio.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/money.h"
#include "gx/svc.h"
#include "tokenomics.h"

int command_qirat(const PGresult *res, int row, const char *col, uint64_t *out)
{
	return gx_fee_parse_u64(gx_pg_val(res, row, col), out);
}

int command_balance(struct gx_req *req, const PGresult *res, const char *what, uint64_t *out)
{
	if (command_qirat(res, 0, "balanceQirat", out) == 0)
		return 0;
	gx_reply_error(req, 500, "INTERNAL", "%s balance '%.40s' is not a Qirat amount", what,
		       gx_pg_val(res, 0, "balanceQirat"));
	return -1;
}

bool command_falsy(const cJSON *body, const char *field)
{
	const cJSON *v = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, field) : NULL;

	if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return true;
	if (cJSON_IsNumber(v))
		return v->valuedouble == 0;
	return cJSON_IsString(v) && v->valuestring[0] == '\0';
}

int command_add_coins(cJSON *obj, const char *name, const char *name_qirat, uint64_t qirat)
{
	char digits[24];

	if (gx_money_add_number(obj, name, qirat) < 0)
		return -1;
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)qirat);
	cJSON_AddStringToObject(obj, name_qirat, digits);
	return 0;
}

void command_submit(struct gx_req *req, const char *type, const cJSON *payload, const char *audit_action,
		    const char *target_id)
{
	const struct tok_app *app = gx_req_app(req);
	const struct gx_svc_audit audit = { app->tenant, audit_action, "WALLET", target_id };

	gx_svc_submit(req, type, payload, audit_action ? &audit : NULL);
}
