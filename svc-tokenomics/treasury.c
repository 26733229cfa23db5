/* GET /api/v1/treasury/{countryCode}/balance (public): a national treasury's balance, account treasury_<CC>. */
#include <stdio.h>
#include <string.h>

#include "gx/http.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "tokenomics.h"

static const char SQL_TREASURY[] =
	"SELECT \"accountId\", \"countryCode\", \"status\", \"balanceQirat\"::text AS \"balanceQirat\","
	" " GX_SQL_ISO_TS("\"updatedAt\"") " AS \"updatedAt\""
	" FROM \"TreasuryAccount\" WHERE \"tenantId\" = $1 AND \"accountId\" = $2";

/* 200 {"balance": {countryCode, balance, updatedAt, accountId, balanceQirat, status}, countryCode, accountId,
 * balanceQirat, status, updatedAt}: the original's wrapped object (balance a JSON number of coins) with our keys
 * inside it and beside it. */
static void on_treasury(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	uint64_t balance;
	cJSON *top, *o;

	if (!gx_svc_found(req, res, err, "TREASURY_NOT_FOUND", "Treasury wallet not found for country: %s",
			  gx_req_param(req, "countryCode")))
		return;
	if (command_balance(req, res, "treasury", &balance) < 0)
		return;
	top = cJSON_CreateObject();
	o = cJSON_AddObjectToObject(top, "balance");
	cJSON_AddStringToObject(o, "countryCode", gx_pg_val(res, 0, "countryCode"));
	if (!o || command_add_coins(o, "balance", "balanceQirat", balance) < 0) {
		cJSON_Delete(top);
		gx_reply_error(req, 500, "INTERNAL", "out of memory building the treasury balance");
		return;
	}
	cJSON_AddStringToObject(o, "updatedAt", gx_pg_val(res, 0, "updatedAt"));
	cJSON_AddStringToObject(o, "accountId", gx_pg_val(res, 0, "accountId"));
	cJSON_AddStringToObject(o, "status", gx_pg_val(res, 0, "status"));
	cJSON_AddStringToObject(top, "countryCode", gx_pg_val(res, 0, "countryCode"));
	cJSON_AddStringToObject(top, "accountId", gx_pg_val(res, 0, "accountId"));
	cJSON_AddStringToObject(top, "balanceQirat", cJSON_GetStringValue(cJSON_GetObjectItem(o, "balanceQirat")));
	cJSON_AddStringToObject(top, "status", gx_pg_val(res, 0, "status"));
	cJSON_AddStringToObject(top, "updatedAt", gx_pg_val(res, 0, "updatedAt"));
	gx_reply_json(req, 200, top);
}

void treasury_balance(struct gx_req *req)
{
	const struct tok_app *app = gx_req_app(req);
	const char *cc = gx_req_param(req, "countryCode");
	char account[16];
	const char *params[2];

	if (!gx_valid_iso2(cc)) {
		gx_svc_reply_invalid(req, "countryCode", "must be an ISO 3166-1 alpha-2 code (two upper-case letters)");
		return;
	}
	snprintf(account, sizeof(account), "treasury_%s", cc);
	params[0] = app->tenant;
	params[1] = account;
	if (gx_pg_query(gx_req_pg(req), SQL_TREASURY, 2, params, on_treasury, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the treasury query");
}
