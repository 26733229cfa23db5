/* svc-tokenomics helpers shared by the resource files: read-model amount conversion and the on-chain write path
 * (gx_svc_submit with the wallet audit row). */
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

void command_add_amount(cJSON *obj, const char *name, const char *name_qirat, uint64_t qirat)
{
	char coins[GX_MONEY_FMT_LEN];
	char digits[24];

	gx_money_format(qirat, coins);
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)qirat);
	cJSON_AddStringToObject(obj, name, coins);
	if (name_qirat)
		cJSON_AddStringToObject(obj, name_qirat, digits);
}

void command_submit(struct gx_req *req, const char *type, const cJSON *payload, const char *audit_action,
		    const char *target_id)
{
	const struct tok_app *app = gx_req_app(req);
	const struct gx_svc_audit audit = { app->tenant, audit_action, "WALLET", target_id };

	gx_svc_submit(req, type, payload, audit_action ? &audit : NULL);
}
