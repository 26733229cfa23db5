/* POST /api/v1/transfers: the caller sends coins from their own wallet to a user's wallet or to an organization
 * (toUserId = its orgId, as the original's clients address it). The original's body and checks come first, with its
 * texts; then ours. Checks against the read model (the receiver exists, is not frozen or is an ACTIVE organization,
 * the sender's balance covers amount + fee by the shared fee rule) are a fast pre-check; the chain decides. Enqueues
 * TRANSFER_TOKENS. */
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "tokenomics.h"

/* The sender's wallet and the receiver: a wallet (the oldest live wallet of each profile) or, when toUserId names
 * no profile with a wallet, an organization (its on-chain account is its orgId, docs/chaincode.md §1). Every row
 * carries the fee parameters; no row at all when neither party exists. */
static const char SQL_PARTIES[] =
	"WITH fp AS (SELECT"
	"   max(\"paramValue\") FILTER (WHERE \"paramKey\" = 'transactionFeeBps') AS \"transactionFeeBps\","
	"   max(\"paramValue\") FILTER (WHERE \"paramKey\" = 'transactionFeeThreshold') AS \"transactionFeeThreshold\","
	"   max(\"paramValue\") FILTER (WHERE \"paramKey\" = 'transactionFeeMaxQirat') AS \"transactionFeeMaxQirat\""
	"   FROM \"SystemParameter\" WHERE \"tenantId\" = $1),"
	" w AS (SELECT DISTINCT ON (x.\"profileId\") 'WALLET'::text AS \"kind\", x.\"profileId\" AS \"id\","
	"   x.\"primaryAccountId\" AS \"accountId\", x.\"balanceQirat\"::text AS \"balanceQirat\", x.\"isFrozen\","
	"   NULL::text AS \"status\""
	"   FROM \"Wallet\" x WHERE x.\"tenantId\" = $1 AND x.\"deletedAt\" IS NULL AND x.\"profileId\" IN ($2, $3)"
	"   ORDER BY x.\"profileId\", x.\"createdAt\", x.\"walletId\"),"
	" o AS (SELECT 'ORGANIZATION'::text, g.\"orgId\", g.\"orgId\", g.\"balanceQirat\"::text, false, g.\"status\""
	"   FROM \"Organization\" g WHERE g.\"tenantId\" = $1 AND g.\"orgId\" = $3)"
	" SELECT p.*, fp.* FROM (SELECT * FROM w UNION ALL SELECT * FROM o) p CROSS JOIN fp";

struct transfer {
	struct gx_req *req;
	char from[64];   /* caller's profile id */
	char *to;        /* receiver's profile id or organization id */
	char *remark;    /* "" when absent */
	uint64_t amount; /* Qirat */
};

static void transfer_free(void *p)
{
	struct transfer *t = p;

	free(t->to);
	free(t->remark);
	free(t);
}

static int find_row(const PGresult *res, const char *kind, const char *id)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(gx_pg_val(res, i, "kind"), kind) == 0 && strcmp(gx_pg_val(res, i, "id"), id) == 0)
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

/* The sender's side, in the original's order (wallet, then balance); ours in between: a frozen wallet. Returns 0,
 * or -1 when req was answered. */
static int check_sender(struct transfer *t, const PGresult *res, int s)
{
	struct gx_req *req = t->req;
	struct gx_fee_params fp;
	struct gx_fee_result fr;
	uint64_t balance;
	char have[GX_MONEY_FMT_LEN], need[GX_MONEY_FMT_LEN];

	if (s < 0) {
		gx_reply_error(req, 404, "WALLET_NOT_FOUND", "Sender wallet not found");
		return -1;
	}
	if (gx_svc_true(res, s, "isFrozen")) {
		gx_reply_error(req, 409, "WALLET_FROZEN", "your wallet is frozen");
		return -1;
	}
	if (load_fee_params(res, &fp) < 0 || command_qirat(res, s, "balanceQirat", &balance) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "the read model holds an invalid balance or fee parameter");
		return -1;
	}
	if (gx_fee_compute(t->amount, &fp, &fr) < 0) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "amount plus fee is out of range");
		return -1;
	}
	if (balance < fr.total) {
		gx_money_format(balance, have);
		gx_money_format(fr.total, need);
		gx_reply_error(req, 409, "INSUFFICIENT_BALANCE", "Insufficient balance. Available: %s, Required: %s",
			       have, need);
		return -1;
	}
	return 0;
}

/* The receiver: a wallet that is not frozen, or an ACTIVE organization (a proposed one has no account on chain
 * yet). Returns 0, or -1 when req was answered. */
static int check_receiver(struct gx_req *req, const PGresult *res, int r)
{
	if (r < 0) {
		gx_reply_error(req, 404, "RECEIVER_NOT_FOUND", "Receiver wallet not found");
		return -1;
	}
	if (gx_svc_true(res, r, "isFrozen")) {
		gx_reply_error(req, 409, "RECEIVER_FROZEN", "the receiver's wallet is frozen");
		return -1;
	}
	if (strcmp(gx_pg_val(res, r, "kind"), "ORGANIZATION") == 0 &&
	    strcmp(gx_pg_val(res, r, "status"), "ACTIVE") != 0) {
		gx_reply_error(req, 409, "RECEIVER_NOT_ACTIVE",
			       "the receiving organization is %.20s, not ACTIVE: it can "
			       "receive coins once it is activated",
			       gx_pg_val(res, r, "status"));
		return -1;
	}
	return 0;
}

static void on_parties(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct transfer *t = arg;
	struct gx_req *req = t->req;
	cJSON *payload;
	char q[24];
	int r;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (check_sender(t, res, find_row(res, "WALLET", t->from)) < 0)
		return;
	r = find_row(res, "WALLET", t->to);
	if (r < 0)
		r = find_row(res, "ORGANIZATION", t->to);
	if (check_receiver(req, res, r) < 0)
		return;
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "fromUserId", gx_pg_val(res, find_row(res, "WALLET", t->from), "accountId"));
	cJSON_AddStringToObject(payload, "toUserId", gx_pg_val(res, r, "accountId"));
	snprintf(q, sizeof(q), "%llu", (unsigned long long)t->amount);
	cJSON_AddStringToObject(payload, "amount", q);
	cJSON_AddStringToObject(payload, "remark", t->remark);
	command_submit(req, "TRANSFER_TOKENS", payload, NULL, NULL);
	cJSON_Delete(payload);
}

/* The original's amount test after its "required" one: a number, or a string JavaScript reads as a number, that is
 * <= 0. Anything else goes on to our field checks. */
static bool amount_not_positive(const cJSON *a)
{
	char *end;
	double d;

	if (cJSON_IsNumber(a))
		return a->valuedouble <= 0;
	if (!cJSON_IsString(a))
		return false;
	d = strtod(a->valuestring, &end);
	if (end == a->valuestring)
		return false;
	end += strspn(end, " \t\r\n");
	return *end == '\0' && d <= 0;
}

/* The original's checks that come before ours, with its texts: 400 when toUserId or amount is missing (JavaScript
 * falsy), 403 when fromUserId is given and is not the caller, 400 when amount is <= 0. Returns 0, or -1 when req
 * was answered. */
static int original_checks(struct gx_req *req, const cJSON *body, const char *caller)
{
	const cJSON *from = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, "fromUserId") : NULL;

	if (command_falsy(body, "toUserId") || command_falsy(body, "amount")) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "fromUserId, toUserId, and amount are required");
		return -1;
	}
	if (from && !cJSON_IsNull(from) && (!cJSON_IsString(from) || strcmp(from->valuestring, caller) != 0)) {
		gx_reply_error(req, 403, "FORBIDDEN", "You can only transfer from your own wallet");
		return -1;
	}
	if (amount_not_positive(cJSON_GetObjectItemCaseSensitive(body, "amount"))) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Amount must be greater than 0");
		return -1;
	}
	return 0;
}

void transfers_create(struct gx_req *req)
{
	const struct tok_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v;
	const char *to, *remark;
	struct transfer *t;
	uint64_t amount = 0;
	const char *params[3];

	if (original_checks(req, body, cl->sub) < 0)
		return;
	v = gx_verr_new();
	to = gx_valid_str(body, "toUserId", true, 1, 64, v);
	if (to && !gx_valid_id(to))
		gx_verr_add(v, "toUserId", "must be a profile or organization id");
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
