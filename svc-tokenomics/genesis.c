/* POST /api/v1/genesis (SUPER_ADMIN): distribute a user's genesis allocation, once per user. Refused with 409 when
 * the read model already shows the allocation or a DISTRIBUTE_GENESIS command for the user is pending or done;
 * the chain is the final guard. Enqueues DISTRIBUTE_GENESIS with an admin audit row. */
#include <stdlib.h>
#include <string.h>

#include "gx/http.h"
#include "gx/outbox_store.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "tokenomics.h"

static const char *const USER_TYPES[] = { "individual", "business", "government", "organization", NULL };

/* "pending": a DISTRIBUTE_GENESIS for the account that has not FAILED. Genesis happens once per account, so a PROJECTED
 * command counts too (GX_OUTBOX_STORE_LIVE), whatever the read model shows. */
static struct gx_outbox_store_sql sql_genesis_state = {
	.tmpl = "SELECT p.\"profileId\", coalesce(p.\"nationalityCountryCode\", '') AS \"nationality\","
		" w.\"walletId\", w.\"primaryAccountId\", w.\"isFrozen\","
		" EXISTS (SELECT 1 FROM \"Transaction\" t WHERE t.\"walletId\" = w.\"walletId\""
		"   AND t.\"type\" = 'GENESIS') AS \"projected\","
		" %s AS \"pending\""
		" FROM \"UserProfile\" p"
		" LEFT JOIN LATERAL (SELECT * FROM \"Wallet\" x WHERE x.\"tenantId\" = $1 AND x.\"profileId\" = p.\"profileId\""
		"   AND x.\"deletedAt\" IS NULL ORDER BY x.\"createdAt\", x.\"walletId\" LIMIT 1) w ON true"
		" WHERE p.\"tenantId\" = $1 AND p.\"profileId\" = $2 AND p.\"deletedAt\" IS NULL",
	.probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_LIVE,
		      .tenant = "$1",
		      .types = "'DISTRIBUTE_GENESIS'",
		      .fields = { { "userId", "w.\"primaryAccountId\"", false } } } }
};

struct genesis {
	struct gx_req *req;
	char *user_id; /* profile id */
	char *user_type;
	char country[3];
};

static void genesis_free(void *p)
{
	struct genesis *g = p;

	free(g->user_id);
	free(g->user_type);
	free(g);
}

static void on_state(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct genesis *g = arg;
	struct gx_req *req = g->req;
	const char *nat;
	cJSON *payload;

	if (!gx_svc_found(req, res, err, "USER_NOT_FOUND", "User not found"))
		return;
	if (gx_pg_isnull(res, 0, "walletId")) {
		gx_reply_error(req, 404, "WALLET_NOT_FOUND", "User wallet not found");
		return;
	}
	nat = gx_pg_val(res, 0, "nationality");
	if (*nat && strcmp(nat, g->country) != 0) {
		gx_svc_reply_invalid(req, "countryCode", "must equal the user's nationality (%s)", nat);
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "projected"), "t") == 0 || strcmp(gx_pg_val(res, 0, "pending"), "t") == 0) {
		gx_reply_error(req, 409, "GENESIS_ALREADY_DISTRIBUTED", "genesis was already %s for user %s",
			       strcmp(gx_pg_val(res, 0, "projected"), "t") == 0 ? "distributed" : "requested",
			       g->user_id);
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "isFrozen"), "t") == 0) {
		gx_reply_error(req, 409, "WALLET_FROZEN", "the wallet of user %s is frozen", g->user_id);
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "userId", gx_pg_val(res, 0, "primaryAccountId"));
	cJSON_AddStringToObject(payload, "userType", g->user_type);
	cJSON_AddStringToObject(payload, "countryCode", g->country);
	command_submit(req, "DISTRIBUTE_GENESIS", payload, "GENESIS_DISTRIBUTE", gx_pg_val(res, 0, "walletId"));
	cJSON_Delete(payload);
}

void genesis_create(struct gx_req *req)
{
	const struct tok_app *app = gx_req_app(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v;
	const char *user_id, *user_type, *country;
	struct genesis *g;
	const char *params[2];

	if (command_falsy(body, "userId") || command_falsy(body, "userType") || command_falsy(body, "countryCode")) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "userId, userType, and countryCode are required");
		return;
	}
	v = gx_verr_new();
	user_id = gx_valid_str(body, "userId", true, 1, 64, v);
	if (user_id && !gx_valid_id(user_id))
		gx_verr_add(v, "userId", "must be a profile id");
	user_type = gx_valid_str(body, "userType", true, 1, 32, v);
	if (user_type && !gx_valid_enum(user_type, USER_TYPES))
		gx_verr_add(v, "userType", "must be one of individual, business, government, organization");
	country = gx_valid_str(body, "countryCode", true, 2, 2, v);
	if (country && !gx_valid_iso2(country))
		gx_verr_add(v, "countryCode", "must be an ISO 3166-1 alpha-2 code (two upper-case letters)");
	if (gx_svc_invalid(req, v))
		return;
	g = gx_xcalloc(1, sizeof(*g));
	g->req = req;
	g->user_id = gx_xstrdup(user_id);
	g->user_type = gx_xstrdup(user_type);
	memcpy(g->country, country, 3);
	gx_req_set_data(req, g, genesis_free);
	params[0] = app->tenant;
	params[1] = g->user_id;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_genesis_state), 2, params, on_state, g) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the genesis query");
}
