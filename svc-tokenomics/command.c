/* svc-tokenomics helpers shared by the resource files: read-model amount conversion and the on-chain write path
 * (chaincode mapping check, optional admin audit row, outbox). */
#include <stdlib.h>
#include <string.h>

#include "gx/chaincode.h"
#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/money.h"
#include "gx/outbox.h"
#include "tokenomics.h"

static const char SQL_AUDIT[] =
	"INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	" \"targetId\", \"details\", \"requestId\", \"ipAddress\") VALUES ($1, $2, $3, $4, 'WALLET', $5, $6::jsonb, $7, $8)";

int command_qirat(const PGresult *res, int row, const char *col, uint64_t *out)
{
	return gx_fee_parse_u64(gx_pg_val(res, row, col), out);
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

void command_add_text(cJSON *obj, const char *name, const PGresult *res, int row, const char *col)
{
	if (gx_pg_isnull(res, row, col))
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddStringToObject(obj, name, gx_pg_val(res, row, col));
}

void command_submit(struct gx_req *req, const char *type, const cJSON *payload, const char *audit_action,
		    const char *target_id)
{
	const struct tok_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	struct gx_cc_call call = { 0 };
	struct gx_outbox_cmd cmd;
	struct gx_pg_stmt audit;
	const char *params[8];
	char err[256];
	char *details = NULL;

	if (gx_chaincode_map(type, payload, &call, err, sizeof(err)) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "%s payload does not map: %s", type, err);
		goto out;
	}
	cmd.command_type = type;
	cmd.aggregate_id = call.aggregate;
	cmd.payload = payload;
	if (!audit_action || !cl) {
		gx_outbox_submit(req, NULL, 0, &cmd, NULL, 0);
		goto out;
	}
	details = cJSON_PrintUnformatted(payload);
	if (!details)
		abort(); /* cJSON only fails on OOM */
	params[0] = app->tenant;
	params[1] = cl->sub;
	params[2] = cl->role;
	params[3] = audit_action;
	params[4] = target_id;
	params[5] = details;
	params[6] = gx_req_id(req);
	params[7] = gx_req_client_ip(req);
	audit.sql = SQL_AUDIT;
	audit.nparams = 8;
	audit.params = params;
	gx_outbox_submit(req, &audit, 1, &cmd, NULL, 0);
out:
	free(details);
	gx_cc_call_release(&call);
}
