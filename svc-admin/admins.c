/* POST /api/v1/admins (SUPER_ADMIN): appoint a registered, on-chain user as ADMIN (APPOINT_ADMIN). The projector
 * raises the profile's role when AdminAppointed arrives. Body {"userId"} (the original's "newAdminId" accepted).
 * An ADMIN target is 409 ALREADY_ADMIN; the caller itself and other SUPER_ADMINs are refused by rank (403). */
#include <stdlib.h>
#include <string.h>

#include "gx/http.h"
#include "gx/outbox_store.h"
#include "gx/rank.h"
#include "gx/valid.h"
#include "admin.h"

static struct gx_outbox_store_sql sql_user = {
	.tmpl = "SELECT p.\"profileId\", p.\"role\"::text AS \"role\", p.\"fabricUserId\", p.\"onchainStatus\","
		" %s AS \"pending\""
		" FROM \"UserProfile\" p WHERE p.\"tenantId\" = $1 AND p.\"profileId\" = $2 AND p.\"deletedAt\" IS NULL",
	.probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_IN_FLIGHT,
		      .tenant = "$1",
		      .types = "'APPOINT_ADMIN'",
		      .fields = { { "userId", "p.\"fabricUserId\"", false } } } }
};

struct appoint {
	struct gx_req *req;
	char *user_id;
};

static void appoint_free(void *p)
{
	struct appoint *a = p;

	free(a->user_id);
	free(a);
}

static void on_user(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct appoint *a = arg;
	struct gx_req *req = a->req;
	const char *role;
	cJSON *payload;

	if (!gx_svc_found(req, res, err, "USER_NOT_FOUND", "user %s was not found", a->user_id))
		return;
	role = gx_pg_val(res, 0, "role");
	/* never oneself, never a SUPER_ADMIN (that would be a demotion: docs/security.md "Ranks") */
	if (strcmp(role, "ADMIN") != 0 && gx_rank_require(req, a->user_id, role, false, "appoint as admin") < 0)
		return;
	if (strcmp(role, "ADMIN") == 0 || strcmp(role, "SUPER_ADMIN") == 0 || gx_svc_true(res, 0, "pending")) {
		gx_reply_error(req, 409, "ALREADY_ADMIN", "user %s is already %s", a->user_id,
			       gx_svc_true(res, 0, "pending") ? "being appointed" : role);
		return;
	}
	if (gx_pg_isnull(res, 0, "fabricUserId") || gx_pg_isnull(res, 0, "onchainStatus")) {
		gx_reply_error(req, 409, "USER_NOT_ON_CHAIN", "user %s is not registered on chain yet", a->user_id);
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "userId", gx_pg_val(res, 0, "fabricUserId"));
	adm_submit(req, "APPOINT_ADMIN", payload, "ADMIN_APPOINT", "USER", a->user_id);
	cJSON_Delete(payload);
}

void admins_appoint(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *field = cJSON_GetObjectItemCaseSensitive(body, "newAdminId") &&
					    !cJSON_GetObjectItemCaseSensitive(body, "userId")
				    ? "newAdminId"
				    : "userId";
	const char *id = gx_valid_str(body, field, true, 1, 64, v);
	struct appoint *a;
	const char *params[2];

	if (id && !gx_valid_id(id))
		gx_verr_add(v, field, "must be a profile id");
	if (gx_svc_invalid(req, v))
		return;
	a = gx_xcalloc(1, sizeof(*a));
	a->req = req;
	a->user_id = gx_xstrdup(id);
	gx_req_set_data(req, a, appoint_free);
	params[0] = app->tenant;
	params[1] = a->user_id;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_user), 2, params, on_user, a) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the user query");
}
