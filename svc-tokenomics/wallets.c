/* Wallet resources: GET /wallets/{profileId}/balance and /transactions (the owner or an admin), POST
 * /wallets/{walletId}/freeze and /unfreeze (ADMIN, FREEZE_WALLET / UNFREEZE_WALLET through the outbox; never one's own
 * wallet nor one whose owner ranks equal or higher: docs/security.md "Ranks"). */
#include <stdlib.h>
#include <string.h>

#include "gx/http.h"
#include "gx/rank.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "tokenomics.h"

/* A profile's wallet: the oldest live one (a profile normally has exactly one). */
static const char SQL_BALANCE[] =
	"SELECT \"walletId\", \"profileId\", \"primaryAccountId\", \"balanceQirat\"::text AS \"balanceQirat\","
	" \"isFrozen\", " GX_SQL_ISO_TS("\"updatedAt\"") " AS \"updatedAt\""
	" FROM \"Wallet\" WHERE \"tenantId\" = $1 AND \"profileId\" = $2 AND \"deletedAt\" IS NULL"
	" ORDER BY \"createdAt\", \"walletId\" LIMIT 1";

/* One row per history entry of the page, or a single row with NULL entry columns when the page is empty; no row
 * when the profile has no wallet. */
static const char SQL_HISTORY[] =
	"WITH w AS (SELECT \"walletId\" FROM \"Wallet\" WHERE \"tenantId\" = $1 AND \"profileId\" = $2"
	"   AND \"deletedAt\" IS NULL ORDER BY \"createdAt\", \"walletId\" LIMIT 1)"
	" SELECT w.\"walletId\" AS \"wallet\","
	" (SELECT count(*) FROM \"Transaction\" c WHERE c.\"walletId\" = w.\"walletId\")::text AS \"total\","
	" t.\"offTxId\", t.\"onChainTxId\", t.\"type\"::text AS \"type\", t.\"counterparty\","
	" t.\"amountQirat\"::text AS \"amountQirat\", t.\"feeQirat\"::text AS \"feeQirat\", t.\"remark\","
	" " GX_SQL_ISO_TS("t.\"timestamp\"") " AS \"timestamp\", t.\"blockNumber\"::text AS \"blockNumber\""
	" FROM w LEFT JOIN LATERAL (SELECT * FROM \"Transaction\" x WHERE x.\"walletId\" = w.\"walletId\""
	"   ORDER BY x.\"timestamp\" DESC, x.\"offTxId\" LIMIT $3::int OFFSET $4::bigint) t ON true";

/* the wallet and its owner's role (every wallet has a profile), for the rank check of freeze/unfreeze */
static const char SQL_WALLET_BY_ID[] =
	"SELECT w.\"walletId\", w.\"primaryAccountId\", w.\"isFrozen\", w.\"profileId\", p.\"role\"::text AS \"role\""
	" FROM \"Wallet\" w JOIN \"UserProfile\" p ON p.\"profileId\" = w.\"profileId\""
	" WHERE w.\"tenantId\" = $1 AND w.\"walletId\" = $2 AND w.\"deletedAt\" IS NULL";

/* ---- balance ---------------------------------------------------------------------------------------------- */

/* 200 {"balance": {walletId, profileId, balance, updatedAt, accountId, balanceQirat, isFrozen}, walletId, profileId,
 * accountId, balanceQirat, isFrozen, updatedAt}: the original's wrapped object (balance a JSON number of coins) with
 * our keys inside it and, for the clients of our first version, beside it. */
static void on_balance(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	uint64_t balance;
	cJSON *top, *o;

	if (!gx_svc_found(req, res, err, "WALLET_NOT_FOUND", "Wallet not found"))
		return;
	if (command_balance(req, res, "wallet", &balance) < 0)
		return;
	top = cJSON_CreateObject();
	o = cJSON_AddObjectToObject(top, "balance");
	cJSON_AddStringToObject(o, "walletId", gx_pg_val(res, 0, "walletId"));
	cJSON_AddStringToObject(o, "profileId", gx_pg_val(res, 0, "profileId"));
	if (!o || command_add_coins(o, "balance", "balanceQirat", balance) < 0) {
		cJSON_Delete(top);
		gx_reply_error(req, 500, "INTERNAL", "out of memory building the balance");
		return;
	}
	cJSON_AddStringToObject(o, "updatedAt", gx_pg_val(res, 0, "updatedAt"));
	cJSON_AddStringToObject(o, "accountId", gx_pg_val(res, 0, "primaryAccountId"));
	cJSON_AddBoolToObject(o, "isFrozen", gx_svc_true(res, 0, "isFrozen"));
	cJSON_AddStringToObject(top, "walletId", gx_pg_val(res, 0, "walletId"));
	cJSON_AddStringToObject(top, "profileId", gx_pg_val(res, 0, "profileId"));
	cJSON_AddStringToObject(top, "accountId", gx_pg_val(res, 0, "primaryAccountId"));
	cJSON_AddStringToObject(top, "balanceQirat", cJSON_GetStringValue(cJSON_GetObjectItem(o, "balanceQirat")));
	cJSON_AddBoolToObject(top, "isFrozen", gx_svc_true(res, 0, "isFrozen"));
	cJSON_AddStringToObject(top, "updatedAt", gx_pg_val(res, 0, "updatedAt"));
	gx_reply_json(req, 200, top);
}

/* The {profileId} parameter after the object-level check (forbidden: the original's 403 text for this read); NULL
 * when an answer was sent. */
static const char *owned_profile(struct gx_req *req, const char *forbidden)
{
	const char *pid = gx_req_param(req, "profileId");

	if (!gx_valid_id(pid)) {
		gx_svc_reply_invalid(req, "profileId", "must be a profile id");
		return NULL;
	}
	if (!gx_req_may_access(req, pid)) {
		gx_reply_error(req, 403, "FORBIDDEN", "%s", forbidden);
		return NULL;
	}
	return pid;
}

void wallets_balance(struct gx_req *req)
{
	const struct tok_app *app = gx_req_app(req);
	const char *params[2];

	if (!(params[1] = owned_profile(req, "You can only view your own balance")))
		return;
	params[0] = app->tenant;
	if (gx_pg_query(gx_req_pg(req), SQL_BALANCE, 2, params, on_balance, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the balance query");
}

/* ---- transactions ----------------------------------------------------------------------------------------- */

struct page {
	struct gx_req *req;
	struct gx_valid_page page;
};

/* One S6 item: the original's keys (amount and fee as JSON numbers of coins, type the database enum, blockNumber a
 * JSON number or null) plus the exact amountQirat and feeQirat. NULL when a stored amount is not a Qirat amount or
 * cJSON is out of memory. */
static cJSON *history_item(const PGresult *res, int i)
{
	cJSON *o = cJSON_CreateObject();
	uint64_t amount, fee;
	const char *block;

	cJSON_AddStringToObject(o, "offTxId", gx_pg_val(res, i, "offTxId"));
	gx_svc_add_text(o, "onChainTxId", res, i, "onChainTxId");
	cJSON_AddStringToObject(o, "walletId", gx_pg_val(res, i, "wallet"));
	cJSON_AddStringToObject(o, "type", gx_pg_val(res, i, "type"));
	cJSON_AddStringToObject(o, "counterparty", gx_pg_val(res, i, "counterparty"));
	if (command_qirat(res, i, "amountQirat", &amount) < 0 || command_qirat(res, i, "feeQirat", &fee) < 0 ||
	    command_add_coins(o, "amount", "amountQirat", amount) < 0 ||
	    command_add_coins(o, "fee", "feeQirat", fee) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	gx_svc_add_text(o, "remark", res, i, "remark");
	cJSON_AddStringToObject(o, "timestamp", gx_pg_val(res, i, "timestamp"));
	block = gx_pg_val(res, i, "blockNumber");
	if (gx_pg_isnull(res, i, "blockNumber"))
		cJSON_AddNullToObject(o, "blockNumber");
	else
		cJSON_AddNumberToObject(o, "blockNumber", (double)strtoll(block, NULL, 10)); /* BIGINT, < 2^53 */
	return o;
}

static void on_history(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct page *pg = arg;
	struct gx_req *req = pg->req;
	cJSON *items, *item;

	if (!gx_svc_found(req, res, err, "WALLET_NOT_FOUND", "Wallet not found"))
		return;
	items = cJSON_CreateArray();
	for (int i = 0; i < PQntuples(res); i++) {
		if (gx_pg_isnull(res, i, "offTxId"))
			continue;
		if (!(item = history_item(res, i))) {
			cJSON_Delete(items);
			gx_reply_error(req, 500, "INTERNAL", "a history amount of wallet %s is not a Qirat amount",
				       gx_pg_val(res, i, "wallet"));
			return;
		}
		cJSON_AddItemToArray(items, item);
	}
	gx_svc_reply_list(req, "transactions", items, gx_svc_total(res), &pg->page);
}

/* History paging: the original's default of 50 rows; a larger limit than ours is served as HISTORY_MAX rows (the
 * original had no bound, and the reply's "limit" says what was applied). */
#define HISTORY_DEFAULT 50
#define HISTORY_MAX 100
#define HISTORY_TEXT_(x) #x
#define HISTORY_TEXT(x) HISTORY_TEXT_(x)

/* The ?limit value to validate: s itself, or the text of HISTORY_MAX when s is a plain number above it. */
static const char *history_limit(const char *s)
{
	size_t n = s ? strspn(s, "0123456789") : 0;

	if (n == 0 || s[n] != '\0')
		return s;
	while (*s == '0' && n > 1) {
		s++;
		n--;
	}
	return n > 3 || strtol(s, NULL, 10) > HISTORY_MAX ? HISTORY_TEXT(HISTORY_MAX) : s;
}

void wallets_transactions(struct gx_req *req)
{
	const struct tok_app *app = gx_req_app(req);
	struct gx_verr *v = gx_verr_new();
	struct gx_valid_page page;
	struct page *pg;
	const char *params[4];

	if (gx_valid_paging(history_limit(gx_req_query(req, "limit")), gx_req_query(req, "offset"), HISTORY_MAX,
			    HISTORY_DEFAULT, &page, v) < 0) {
		gx_reply_verr(req, v);
		return;
	}
	gx_verr_free(v);
	if (!(params[1] = owned_profile(req, "You can only view your own transactions")))
		return;
	pg = gx_xcalloc(1, sizeof(*pg));
	pg->req = req;
	pg->page = page;
	gx_req_set_data(req, pg, free);
	params[0] = app->tenant;
	params[2] = pg->page.limit_s;
	params[3] = pg->page.offset_s;
	if (gx_pg_query(gx_req_pg(req), SQL_HISTORY, 4, params, on_history, pg) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the history query");
}

/* ---- freeze / unfreeze ------------------------------------------------------------------------------------ */

struct freeze {
	struct gx_req *req;
	bool freeze;
	char *reason; /* freeze only */
};

static void freeze_free(void *p)
{
	struct freeze *f = p;

	free(f->reason);
	free(f);
}

static void on_wallet(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct freeze *f = arg;
	struct gx_req *req = f->req;
	bool frozen;
	cJSON *payload;

	if (!gx_svc_found(req, res, err, "WALLET_NOT_FOUND", "Wallet not found"))
		return;
	/* nobody freezes or unfreezes their own wallet, or one of an equal or higher rank */
	if (gx_rank_require(req, gx_pg_val(res, 0, "profileId"), gx_pg_val(res, 0, "role"), false,
			    f->freeze ? "freeze the wallet of" : "unfreeze the wallet of") < 0)
		return;
	frozen = gx_svc_true(res, 0, "isFrozen");
	if (f->freeze && frozen) {
		gx_reply_error(req, 409, "WALLET_ALREADY_FROZEN", "the wallet is already frozen");
		return;
	}
	if (!f->freeze && !frozen) {
		gx_reply_error(req, 409, "WALLET_NOT_FROZEN", "the wallet is not frozen");
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "userId", gx_pg_val(res, 0, "primaryAccountId"));
	if (f->freeze)
		cJSON_AddStringToObject(payload, "reason", f->reason);
	command_submit(req, f->freeze ? "FREEZE_WALLET" : "UNFREEZE_WALLET", payload,
		       f->freeze ? "WALLET_FREEZE" : "WALLET_UNFREEZE", gx_pg_val(res, 0, "walletId"));
	cJSON_Delete(payload);
}

static void freeze_common(struct gx_req *req, bool freeze)
{
	const struct tok_app *app = gx_req_app(req);
	const char *wid = gx_req_param(req, "walletId");
	struct gx_verr *v;
	const char *reason = NULL;
	struct freeze *f;
	const char *params[2];

	if (freeze && command_falsy(gx_req_body(req), "reason")) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Reason is required");
		return;
	}
	v = gx_verr_new();
	if (!gx_valid_id(wid))
		gx_verr_add(v, "walletId", "must be a wallet id");
	if (freeze) {
		reason = gx_valid_str(gx_req_body(req), "reason", true, 1, 500, v);
		if (reason && strlen(reason) > 500)
			gx_verr_add(v, "reason", "must be at most 500 bytes");
	}
	if (gx_svc_invalid(req, v))
		return;
	f = gx_xcalloc(1, sizeof(*f));
	f->req = req;
	f->freeze = freeze;
	f->reason = reason ? gx_xstrdup(reason) : NULL;
	gx_req_set_data(req, f, freeze_free);
	params[0] = app->tenant;
	params[1] = wid;
	if (gx_pg_query(gx_req_pg(req), SQL_WALLET_BY_ID, 2, params, on_wallet, f) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the wallet query");
}

void wallets_freeze(struct gx_req *req)
{
	freeze_common(req, true);
}

void wallets_unfreeze(struct gx_req *req)
{
	freeze_common(req, false);
}
