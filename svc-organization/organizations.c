/* Organizations: the helpers of org.h, the organization-level operation (load, then one step; rules.c uses it too),
 * endorse (ENDORSE_MEMBERSHIP), activate (ACTIVATE_ORGANIZATION) and the organization read model the projector keeps
 * (GET: ours at the top level, the original's {"organization": {...}} beside it). The orgId is the commands' aggregate.
 * Checks against the read model are fast rejections; the chain decides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "org.h"

/* The organization, plus whether a command of type $3 (for user $4 when not NULL) is accepted but not yet
 * projected: such a command counts as done for the "once" rules. */
static struct gx_outbox_store_sql sql_org = { .tmpl =
	"SELECT \"orgId\", \"orgName\", \"orgType\", \"status\", \"stakeholders\"::text AS \"stakeholders\","
	" COALESCE(\"endorsers\", '[]')::text AS \"endorsers\", COALESCE(\"authRules\", '[]')::text AS \"authRules\","
	" \"balanceQirat\"::text AS \"balanceQirat\", " GX_SQL_ISO_TS("\"createdAt\"") " AS \"createdAt\","
	" " GX_SQL_ISO_TS("\"activatedAt\"") " AS \"activatedAt\", " GX_SQL_ISO_TS("\"updatedAt\"") " AS \"updatedAt\","
	" %s AS \"inflight\""
	" FROM \"Organization\" WHERE \"orgId\" = $2 AND \"tenantId\" = $1",
	.probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_IN_FLIGHT,
		      .tenant = "$1",
		      .types = "$3::\"CommandType\"",
		      .fields = { { "orgId", "$2", false }, { "userId", "$4", true } } } } };

static const char *const ORG_TYPES_API[] = { "business", "nonprofit", "government", NULL };
static const char *const ORG_TYPES_CHAIN[] = { "BUSINESS", "NONPROFIT", "GOVERNMENT", NULL };

/* ---- helpers shared by the resource files (org.h) ---- */

cJSON *org_json_col(const char *text)
{
	cJSON *a = text && *text ? cJSON_Parse(text) : NULL;

	if (!cJSON_IsArray(a)) {
		cJSON_Delete(a);
		a = cJSON_CreateArray();
	}
	return a;
}

bool org_json_has(const cJSON *arr, const char *s)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, arr)
		if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
			return true;
	return false;
}

int org_add_coins(cJSON *obj, const char *name, const char *qirat)
{
	char coins[GX_MONEY_FMT_LEN];
	uint64_t q;

	if (gx_fee_parse_u64(qirat, &q) < 0)
		return -1;
	gx_money_format(q, coins);
	cJSON_AddStringToObject(obj, name, coins);
	return 0;
}

bool org_truthy(const cJSON *x)
{
	if (!x || cJSON_IsNull(x) || cJSON_IsFalse(x))
		return false;
	if (cJSON_IsNumber(x))
		return x->valuedouble != 0; /* cJSON never holds NaN */
	if (cJSON_IsString(x))
		return x->valuestring[0] != '\0';
	return true;
}

cJSON *org_read_ids(const cJSON *a, const char *field, int min, int max, struct gx_verr *v)
{
	const cJSON *e;
	cJSON *out;
	int n, i = 0;

	if (!a || cJSON_IsNull(a)) {
		gx_verr_add(v, field, "is required");
		return NULL;
	}
	n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
	if (n < min || n > max) {
		gx_verr_add(v, field, "must be an array of %d to %d user ids", min, max);
		return NULL;
	}
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(e, a) {
		char f[48];

		snprintf(f, sizeof(f), "%s[%d]", field, i++);
		if (!cJSON_IsString(e) || !gx_valid_id(e->valuestring))
			gx_verr_add(v, f, "must be a user id");
		else if (org_json_has(out, e->valuestring))
			gx_verr_add(v, f, "is listed twice");
		else
			cJSON_AddItemToArray(out, cJSON_CreateString(e->valuestring));
	}
	if (cJSON_GetArraySize(out) != n) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

/* ---- organization-level operations: load the organization, then one step ---- */

static void orgop_free(void *p)
{
	struct orgop *op = p;

	free(op->org_id);
	cJSON_Delete(op->approvers);
	free(op->approver_key);
	free(op);
}

static void on_org(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct orgop *op = arg;

	if (!gx_svc_found(op->req, res, err, "ORG_NOT_FOUND", ORG_NOT_FOUND_MSG))
		return;
	op->step(op, res);
}

void org_load(struct gx_req *req, struct orgop *op, const char *inflight_type, const char *inflight_user)
{
	const char *id = gx_req_param(req, "orgId");
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const char *params[4];

	op->req = req;
	if (cl)
		snprintf(op->caller, sizeof(op->caller), "%s", cl->sub);
	gx_req_set_data(req, op, orgop_free);
	if (!gx_valid_id(id)) {
		gx_reply_error(req, 404, "ORG_NOT_FOUND", ORG_NOT_FOUND_MSG);
		return;
	}
	op->org_id = gx_xstrdup(id);
	params[0] = gx_req_tenant(req);
	params[1] = op->org_id;
	params[2] = inflight_type;
	params[3] = inflight_user;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_org), 4, params, on_org, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the organization query");
}

void org_submit(struct orgop *op, const char *type, cJSON *payload)
{
	gx_svc_enqueue(op->req, type, op->org_id, payload);
}

/* ---- GET /api/v1/organizations/{orgId} ---- */

static const char *org_type_api(const char *chain)
{
	for (size_t i = 0; ORG_TYPES_CHAIN[i]; i++)
		if (strcasecmp(chain, ORG_TYPES_CHAIN[i]) == 0)
			return ORG_TYPES_API[i];
	return strcasecmp(chain, "NGO") == 0 ? "nonprofit" : "business";
}

static void get_step(struct orgop *op, const PGresult *res)
{
	cJSON *o = cJSON_CreateObject(), *rules = cJSON_CreateArray();
	cJSON *stake = org_json_col(gx_pg_val(res, 0, "stakeholders"));
	cJSON *endorsers = org_json_col(gx_pg_val(res, 0, "endorsers"));
	cJSON *raw_rules = org_json_col(gx_pg_val(res, 0, "authRules"));
	cJSON *orig = cJSON_AddObjectToObject(o, "organization");
	const cJSON *r;
	bool bad = false;

	/* the original's five keys, in its order; "stakeholders" is the stored array */
	cJSON_AddStringToObject(orig, "orgId", gx_pg_val(res, 0, "orgId"));
	cJSON_AddStringToObject(orig, "orgName", gx_pg_val(res, 0, "orgName"));
	cJSON_AddStringToObject(orig, "status", gx_pg_val(res, 0, "status"));
	cJSON_AddItemToObject(orig, "stakeholders", cJSON_Duplicate(stake, true));
	gx_svc_add_text(orig, "createdAt", res, 0, "createdAt");
	/* ours */
	cJSON_AddStringToObject(o, "orgId", gx_pg_val(res, 0, "orgId"));
	cJSON_AddStringToObject(o, "orgName", gx_pg_val(res, 0, "orgName"));
	cJSON_AddStringToObject(o, "orgType", org_type_api(gx_pg_val(res, 0, "orgType")));
	cJSON_AddStringToObject(o, "status", gx_pg_val(res, 0, "status"));
	cJSON_AddNumberToObject(o, "requiredEndorsements", cJSON_GetArraySize(stake));
	cJSON_AddNumberToObject(o, "endorsementCount", cJSON_GetArraySize(endorsers));
	cJSON_AddItemToObject(o, "stakeholderIds", stake);
	cJSON_AddItemToObject(o, "endorsements", endorsers);
	cJSON_ArrayForEach(r, raw_rules) {
		const cJSON *thr = cJSON_GetObjectItemCaseSensitive(r, "amountThreshold");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(r, "requiredApprovals");
		const cJSON *ap = cJSON_GetObjectItemCaseSensitive(r, "approverIDs");
		cJSON *x = cJSON_CreateObject();

		cJSON_AddItemToArray(rules, x);
		if (!cJSON_IsString(thr) || org_add_coins(x, "amountThreshold", thr->valuestring) < 0 ||
		    !cJSON_IsNumber(n) || !cJSON_IsArray(ap)) {
			bad = true;
			break;
		}
		cJSON_AddNumberToObject(x, "requiredApprovals", n->valuedouble);
		cJSON_AddItemToObject(x, "approverIds", cJSON_Duplicate(ap, true));
	}
	cJSON_Delete(raw_rules);
	cJSON_AddItemToObject(o, "rules", rules);
	if (bad || org_add_coins(o, "balance", gx_pg_val(res, 0, "balanceQirat")) < 0) {
		cJSON_Delete(o);
		/* the original's text (the reply logs it with the request id) */
		gx_reply_error(op->req, 500, "INTERNAL", "Failed to fetch organization");
		return;
	}
	gx_svc_add_text(o, "createdAt", res, 0, "createdAt");
	gx_svc_add_text(o, "activatedAt", res, 0, "activatedAt");
	gx_svc_add_text(o, "updatedAt", res, 0, "updatedAt");
	gx_reply_json(op->req, 200, o);
}

void orgs_get(struct gx_req *req)
{
	struct orgop *op = gx_xcalloc(1, sizeof(*op));

	op->step = get_step;
	org_load(req, op, "PROPOSE_ORGANIZATION", NULL);
}

/* ---- POST /api/v1/organizations/{orgId}/endorse ---- */

static void endorse_step(struct orgop *op, const PGresult *res)
{
	cJSON *stake = org_json_col(gx_pg_val(res, 0, "stakeholders"));
	cJSON *endorsers = org_json_col(gx_pg_val(res, 0, "endorsers"));
	bool member = org_json_has(stake, op->caller), done = org_json_has(endorsers, op->caller);
	cJSON *payload;

	cJSON_Delete(stake);
	cJSON_Delete(endorsers);
	if (strcmp(gx_pg_val(res, 0, "status"), "PROPOSED") != 0) {
		gx_reply_error(op->req, 409, "ORG_NOT_PROPOSED",
			       "organization is %s; only a PROPOSED organization takes "
			       "endorsements",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	if (!member) {
		gx_reply_error(op->req, 403, "FORBIDDEN", "you are not a stakeholder of this organization");
		return;
	}
	if (done || gx_svc_true(res, 0, "inflight")) {
		gx_reply_error(op->req, 409, "ALREADY_ENDORSED", "you have already endorsed this organization");
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "orgId", op->org_id);
	cJSON_AddStringToObject(payload, "userId", op->caller);
	org_submit(op, "ENDORSE_MEMBERSHIP", payload);
}

void orgs_endorse(struct gx_req *req)
{
	struct orgop *op = gx_xcalloc(1, sizeof(*op));
	const struct gx_jwt_claims *cl = gx_req_claims(req);

	op->step = endorse_step;
	org_load(req, op, "ENDORSE_MEMBERSHIP", cl->sub);
}

/* ---- POST /api/v1/organizations/{orgId}/activate ---- */

static void activate_step(struct orgop *op, const PGresult *res)
{
	cJSON *stake = org_json_col(gx_pg_val(res, 0, "stakeholders"));
	cJSON *endorsers = org_json_col(gx_pg_val(res, 0, "endorsers"));
	bool member = org_json_has(stake, op->caller);
	int missing = 0;
	const cJSON *s;
	cJSON *payload;

	cJSON_ArrayForEach(s, stake)
		if (cJSON_IsString(s) && !org_json_has(endorsers, s->valuestring))
			missing++;
	cJSON_Delete(stake);
	cJSON_Delete(endorsers);
	if (!member && !gx_req_is_admin(op->req)) {
		gx_reply_error(op->req, 403, "FORBIDDEN",
			       "only a stakeholder or an admin can activate this organization");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "status"), "PROPOSED") != 0) {
		gx_reply_error(op->req, 409, "ORG_NOT_PROPOSED", "organization is %s, not PROPOSED",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	if (gx_svc_true(res, 0, "inflight")) {
		gx_reply_error(op->req, 409, "ACTIVATION_IN_PROGRESS",
			       "an activation of this organization is in progress");
		return;
	}
	if (missing > 0) {
		gx_reply_error(op->req, 422, "NOT_ALL_ENDORSED",
			       "%d stakeholder(s) have not endorsed the organization yet", missing);
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "orgId", op->org_id);
	org_submit(op, "ACTIVATE_ORGANIZATION", payload);
}

void orgs_activate(struct gx_req *req)
{
	struct orgop *op = gx_xcalloc(1, sizeof(*op));

	op->step = activate_step;
	org_load(req, op, "ACTIVATE_ORGANIZATION", NULL);
}
