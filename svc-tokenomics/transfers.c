/* POST /api/v1/transfers: the caller sends coins from their own wallet. Checks against the read model (receiver
 * exists and is not frozen, the sender's balance covers amount + fee by the shared fee rule) are a fast pre-check;
 * the chain decides. Enqueues TRANSFER_TOKENS. */
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "tokenomics.h"

/* Both parties' wallets (the oldest live wallet of each profile) and the fee parameters. */
static const char SQL_PARTIES[] =
	"SELECT DISTINCT ON (w.\"profileId\") w.\"profileId\", w.\"walletId\", w.\"primaryAccountId\","
	" w.\"balanceQirat\"::text AS \"balanceQirat\", w.\"isFrozen\","
	" (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1"
	"   AND \"paramKey\" = 'transactionFeeBps') AS \"transactionFeeBps\","
	" (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1"
	"   AND \"paramKey\" = 'transactionFeeThreshold') AS \"transactionFeeThreshold\","
	" (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1"
	"   AND \"paramKey\" = 'transactionFeeMaxQirat') AS \"transactionFeeMaxQirat\""
	" FROM \"Wallet\" w WHERE w.\"tenantId\" = $1 AND w.\"deletedAt\" IS NULL AND w.\"profileId\" IN ($2, $3)"
	" ORDER BY w.\"profileId\", w.\"createdAt\", w.\"walletId\"";

struct transfer {
	struct gx_req *req;
	char from[64];    /* caller's profile id */
	char *to;         /* receiver's profile id */
	char *remark;     /* "" when absent */
	uint64_t amount;  /* Qirat */
};

static void transfer_free(void *p)
{
	struct transfer *t = p;

	free(t->to);
	free(t->remark);
	free(t);
}

static int find_row(const PGresult *res, const char *profile_id)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(gx_pg_val(res, i, "profileId"), profile_id) == 0)
			return i;
	return -1;
}

/* Fee parameters from the query's columns; a missing row keeps the documented default. */
static int load_fee_params(const PGresult *res, struct gx_fee_params *p)
{
	static const char *const names[] = { GX_FEE_PARAM_BPS, GX_FEE_PARAM_THRESHOLD, GX_FEE_PARAM_MAX };

	gx_fee_params_init(p);
	for (size_t i = 0; i < GX_ARRAY_LEN(names); i++)
		if (!gx_pg_isnull(res, 0, names[i]) && gx_fee_params_set(p, names[i], gx_pg_val(res, 0, names[i])) < 0)
			return -1;
	return 0;
}

static void on_parties(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct transfer *t = arg;
	struct gx_req *req = t->req;
	struct gx_fee_params fp;
	struct gx_fee_result fr;
	uint64_t balance;
	char have[GX_MONEY_FMT_LEN], need[GX_MONEY_FMT_LEN];
	cJSON *payload;
	int s, r;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	s = find_row(res, t->from);
	r = find_row(res, t->to);
	if (s < 0) {
		gx_reply_error(req, 404, "WALLET_NOT_FOUND", "your wallet was not found (not yet created on chain?)");
		return;
	}
	if (r < 0) {
		gx_reply_error(req, 404, "RECEIVER_NOT_FOUND", "the receiver's wallet was not found");
		return;
	}
	if (strcmp(gx_pg_val(res, s, "isFrozen"), "t") == 0) {
		gx_reply_error(req, 409, "WALLET_FROZEN", "your wallet is frozen");
		return;
	}
	if (strcmp(gx_pg_val(res, r, "isFrozen"), "t") == 0) {
		gx_reply_error(req, 409, "RECEIVER_FROZEN", "the receiver's wallet is frozen");
		return;
	}
	if (load_fee_params(res, &fp) < 0 || command_qirat(res, s, "balanceQirat", &balance) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "the read model holds an invalid balance or fee parameter");
		return;
	}
	if (gx_fee_compute(t->amount, &fp, &fr) < 0) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "amount plus fee is out of range");
		return;
	}
	if (balance < fr.total) {
		gx_money_format(balance, have);
		gx_money_format(fr.total, need);
		gx_reply_error(req, 409, "INSUFFICIENT_BALANCE", "insufficient balance: available %s, required %s "
			       "(amount plus fee)", have, need);
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "fromUserId", gx_pg_val(res, s, "primaryAccountId"));
	cJSON_AddStringToObject(payload, "toUserId", gx_pg_val(res, r, "primaryAccountId"));
	{
		char q[24];

		snprintf(q, sizeof(q), "%llu", (unsigned long long)t->amount);
		cJSON_AddStringToObject(payload, "amount", q);
	}
	cJSON_AddStringToObject(payload, "remark", t->remark);
	command_submit(req, "TRANSFER_TOKENS", payload, NULL, NULL);
	cJSON_Delete(payload);
}

void transfers_create(struct gx_req *req)
{
	const struct tok_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *from, *to, *remark;
	struct transfer *t;
	uint64_t amount = 0;
	const char *params[3];

	from = gx_valid_str(body, "fromUserId", false, 1, 64, v);
	to = gx_valid_str(body, "toUserId", true, 1, 64, v);
	if (to && !gx_valid_id(to))
		gx_verr_add(v, "toUserId", "must be a profile id");
	else if (to && strcmp(to, cl->sub) == 0)
		gx_verr_add(v, "toUserId", "must differ from the sender");
	if (gx_valid_amount(body, "amount", true, &amount, v) && amount > app->transfer_max_qirat) {
		char max[GX_MONEY_FMT_LEN];

		gx_money_format(app->transfer_max_qirat, max);
		gx_verr_add(v, "amount", "must be at most %s", max);
	}
	remark = gx_valid_str(body, "remark", false, 0, 200, v);
	if (remark && strlen(remark) > 500)
		gx_verr_add(v, "remark", "must be at most 500 bytes");
	if (gx_svc_invalid(req, v))
		return;
	if (from && strcmp(from, cl->sub) != 0) {
		gx_reply_error(req, 403, "FORBIDDEN", "you can only transfer from your own wallet");
		return;
	}
	t = gx_xcalloc(1, sizeof(*t));
	t->req = req;
	snprintf(t->from, sizeof(t->from), "%s", cl->sub);
	t->to = gx_xstrdup(to);
	t->remark = gx_xstrdup(remark ? remark : "");
	t->amount = amount;
	gx_req_set_data(req, t, transfer_free);
	params[0] = app->tenant;
	params[1] = t->from;
	params[2] = t->to;
	if (gx_pg_query(gx_req_pg(req), SQL_PARTIES, 3, params, on_parties, t) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the wallet query");
}
