/* Organizations: propose (PROPOSE_ORGANIZATION), endorse (ENDORSE_MEMBERSHIP), activate (ACTIVATE_ORGANIZATION),
 * authorization rules (DEFINE_AUTH_RULE) and the organization read model the projector keeps. The orgId is made
 * here (UUID v4) and sent on chain; it is the command's aggregate, so the 202 answer's "aggregateId" is the orgId.
 * Checks against the read model are fast rejections; the chain decides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "org.h"

/* Each stakeholder id of the JSON array $2, in order, and whether it is a live profile registered on chain. */
static const char SQL_STAKEHOLDERS[] =
	"SELECT u.id, (p.\"profileId\" IS NOT NULL) AS found, (p.\"onchainStatus\" IS NOT NULL) AS onchain"
	" FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS u(id, n)"
	" LEFT JOIN \"UserProfile\" p ON p.\"profileId\" = u.id AND p.\"tenantId\" = $1 AND p.\"deletedAt\" IS NULL"
	" ORDER BY u.n";

/* The organization, plus whether a command of type $3 (for user $4 when not NULL) is accepted but not yet
 * projected: such a command counts as done for the "once" rules. */
static const char SQL_ORG[] =
	"SELECT \"orgId\", \"orgName\", \"orgType\", \"status\", \"stakeholders\"::text AS \"stakeholders\","
	" COALESCE(\"endorsers\", '[]')::text AS \"endorsers\", COALESCE(\"authRules\", '[]')::text AS \"authRules\","
	" \"balanceQirat\"::text AS \"balanceQirat\", " ORG_TS("\"createdAt\"") " AS \"createdAt\","
	" " ORG_TS("\"activatedAt\"") " AS \"activatedAt\", " ORG_TS("\"updatedAt\"") " AS \"updatedAt\","
	" EXISTS (SELECT 1 FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1 AND c.\"commandType\" = $3::\"CommandType\""
	"  AND c.\"payload\"->>'orgId' = $2 AND ($4::text IS NULL OR c.\"payload\"->>'userId' = $4)"
	"  AND c.\"status\" NOT IN ('FAILED', 'PROJECTED')) AS \"inflight\""
	" FROM \"Organization\" WHERE \"orgId\" = $2 AND \"tenantId\" = $1";

static const char *const ORG_TYPES_API[] = { "business", "nonprofit", "government", NULL };
static const char *const ORG_TYPES_CHAIN[] = { "BUSINESS", "NONPROFIT", "GOVERNMENT", NULL };

/* ---- helpers shared by the resource files (org.h) ---- */

const char *org_tenant(const struct gx_req *req)
{
	const struct org_app *app = gx_req_app(req);

	return app->tenant;
}

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

/* ---- POST /api/v1/organizations ---- */

struct propose {
	struct gx_req *req;
	char org_id[37];
	char *name;
	const char *type;     /* chain spelling, static */
	cJSON *stakeholders;  /* owned array of strings */
};

static void propose_free(void *p)
{
	struct propose *pr = p;

	free(pr->name);
	cJSON_Delete(pr->stakeholders);
	free(pr);
}

static void on_stakeholders(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct propose *pr = arg;
	struct gx_req *req = pr->req;
	struct gx_verr *v;
	cJSON *payload;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	v = gx_verr_new();
	for (int i = 0; i < PQntuples(res); i++) {
		char field[32];

		snprintf(field, sizeof(field), "stakeholderIds[%d]", i);
		if (!gx_svc_true(res, i, "found"))
			gx_verr_add(v, field, "user not found");
		else if (!gx_svc_true(res, i, "onchain"))
			gx_verr_add(v, field, "user is not registered on chain yet");
	}
	if (gx_svc_invalid(req, v))
		return;
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "orgId", pr->org_id);
	cJSON_AddStringToObject(payload, "orgName", pr->name);
	cJSON_AddStringToObject(payload, "orgType", pr->type);
	cJSON_AddItemReferenceToObject(payload, "stakeholderIds", pr->stakeholders);
	gx_svc_enqueue(req, "PROPOSE_ORGANIZATION", pr->org_id, payload);
}

/* The stakeholderIds array: 2..10 distinct ids. Returns a copy (caller owns) or NULL with issues added. */
static cJSON *read_ids(const cJSON *body, const char *field, int min, int max, struct gx_verr *v)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(body, field);
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

/* orgType in the API's lower case (the chain's upper case is accepted too); chain spelling or NULL. */
static const char *org_type_chain(const char *s)
{
	for (size_t i = 0; s && ORG_TYPES_API[i]; i++)
		if (strcmp(s, ORG_TYPES_API[i]) == 0 || strcmp(s, ORG_TYPES_CHAIN[i]) == 0)
			return ORG_TYPES_CHAIN[i];
	return NULL;
}

void orgs_propose(struct gx_req *req)
{
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *name, *type_s, *type = NULL;
	struct propose *pr;
	cJSON *ids;
	char *json;
	const char *params[2];

	if (cJSON_GetObjectItemCaseSensitive(body, "orgId"))
		gx_verr_add(v, "orgId", "is assigned by the server; do not send it");
	name = gx_valid_str(body, "orgName", true, 3, 100, v);
	if (name && strlen(name) > 100)
		gx_verr_add(v, "orgName", "must be at most 100 bytes");
	type_s = gx_valid_str(body, "orgType", true, 1, 32, v);
	if (type_s && !(type = org_type_chain(type_s)))
		gx_verr_add(v, "orgType", "must be one of business, nonprofit, government");
	ids = read_ids(body, "stakeholderIds", 2, 10, v);
	if (gx_verr_count(v) > 0) {
		cJSON_Delete(ids);
		gx_reply_verr(req, v);
		return;
	}
	gx_verr_free(v);
	if (!org_json_has(ids, cl->sub)) {
		cJSON_Delete(ids);
		gx_reply_error(req, 403, "FORBIDDEN", "you must be one of the stakeholders to propose an organization");
		return;
	}
	pr = gx_xcalloc(1, sizeof(*pr));
	pr->req = req;
	pr->name = gx_xstrdup(name);
	pr->type = type;
	pr->stakeholders = ids;
	gx_req_set_data(req, pr, propose_free);
	if (gx_uuid_v4(pr->org_id) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate an organization id");
		return;
	}
	json = cJSON_PrintUnformatted(ids);
	if (!json)
		abort(); /* cJSON only fails on OOM */
	params[0] = org_tenant(req);
	params[1] = json;
	if (gx_pg_query(gx_req_pg(req), SQL_STAKEHOLDERS, 2, params, on_stakeholders, pr) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the stakeholder query");
	free(json);
}

/* ---- organization-level operations: load the organization, then one step ---- */

struct orgop {
	struct gx_req *req;
	void (*step)(struct orgop *op, const PGresult *res);
	char *org_id;
	char caller[64];
	/* rules */
	long long required;
	uint64_t threshold;
	cJSON *approvers;
};

static void orgop_free(void *p)
{
	struct orgop *op = p;

	free(op->org_id);
	cJSON_Delete(op->approvers);
	free(op);
}

static void on_org(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct orgop *op = arg;

	if (!gx_svc_found(op->req, res, err, "ORG_NOT_FOUND", "organization not found"))
		return;
	op->step(op, res);
}

/* Start loading the organization of the {orgId} path parameter; inflight_type/inflight_user select the in-flight
 * command check (user may be NULL). Takes ownership of op (attached to req). */
static void org_load(struct gx_req *req, struct orgop *op, const char *inflight_type, const char *inflight_user)
{
	const char *id = gx_req_param(req, "orgId");
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const char *params[4];

	op->req = req;
	if (cl)
		snprintf(op->caller, sizeof(op->caller), "%s", cl->sub);
	gx_req_set_data(req, op, orgop_free);
	if (!gx_valid_id(id)) {
		gx_reply_error(req, 404, "ORG_NOT_FOUND", "organization not found");
		return;
	}
	op->org_id = gx_xstrdup(id);
	params[0] = org_tenant(req);
	params[1] = op->org_id;
	params[2] = inflight_type;
	params[3] = inflight_user;
	if (gx_pg_query(gx_req_pg(req), SQL_ORG, 4, params, on_org, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the organization query");
}

static void submit_org(struct orgop *op, const char *type, cJSON *payload)
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
	const cJSON *r;
	bool bad = false;

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
		gx_reply_error(op->req, 500, "INTERNAL", "the organization read model holds an invalid rule or balance");
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
		gx_reply_error(op->req, 409, "ORG_NOT_PROPOSED", "organization is %s; only a PROPOSED organization takes "
			       "endorsements", gx_pg_val(res, 0, "status"));
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
	submit_org(op, "ENDORSE_MEMBERSHIP", payload);
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
		gx_reply_error(op->req, 403, "FORBIDDEN", "only a stakeholder or an admin can activate this organization");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "status"), "PROPOSED") != 0) {
		gx_reply_error(op->req, 409, "ORG_NOT_PROPOSED", "organization is %s, not PROPOSED",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	if (gx_svc_true(res, 0, "inflight")) {
		gx_reply_error(op->req, 409, "ACTIVATION_IN_PROGRESS", "an activation of this organization is in progress");
		return;
	}
	if (missing > 0) {
		gx_reply_error(op->req, 422, "NOT_ALL_ENDORSED", "%d stakeholder(s) have not endorsed the organization yet",
			       missing);
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "orgId", op->org_id);
	submit_org(op, "ACTIVATE_ORGANIZATION", payload);
}

void orgs_activate(struct gx_req *req)
{
	struct orgop *op = gx_xcalloc(1, sizeof(*op));

	op->step = activate_step;
	org_load(req, op, "ACTIVATE_ORGANIZATION", NULL);
}

/* ---- POST /api/v1/organizations/{orgId}/rules ---- */

static void rules_step(struct orgop *op, const PGresult *res)
{
	cJSON *stake = org_json_col(gx_pg_val(res, 0, "stakeholders"));
	bool member = org_json_has(stake, op->caller);
	struct gx_verr *v;
	const cJSON *a;
	cJSON *payload;
	char thr[24];
	int i = 0;

	if (!member) {
		cJSON_Delete(stake);
		gx_reply_error(op->req, 403, "FORBIDDEN", "only a stakeholder can define this organization's rules");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "status"), "ACTIVE") != 0) {
		cJSON_Delete(stake);
		gx_reply_error(op->req, 409, "ORG_NOT_ACTIVE", "organization is %s; rules need an ACTIVE organization",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	v = gx_verr_new();
	cJSON_ArrayForEach(a, op->approvers) {
		char f[40];

		snprintf(f, sizeof(f), "approverIds[%d]", i++);
		if (!org_json_has(stake, a->valuestring))
			gx_verr_add(v, f, "is not a stakeholder of the organization");
	}
	cJSON_Delete(stake);
	if (gx_svc_invalid(op->req, v))
		return;
	snprintf(thr, sizeof(thr), "%llu", (unsigned long long)op->threshold);
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "orgId", op->org_id);
	cJSON_AddStringToObject(payload, "amountThreshold", thr);
	cJSON_AddNumberToObject(payload, "requiredApprovals", (double)op->required);
	cJSON_AddItemReferenceToObject(payload, "approverIds", op->approvers);
	submit_org(op, "DEFINE_AUTH_RULE", payload);
}

void orgs_rules(struct gx_req *req)
{
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	struct orgop *op;
	long long required;
	uint64_t thr = 0;
	cJSON *approvers;
	const cJSON *t;
	const char *issue;

	required = gx_valid_int(body, "requiredApprovals", true, 1, 10, 0, v);
	approvers = read_ids(body, "approverIds", 1, 10, v);
	if (approvers && required > cJSON_GetArraySize(approvers) && !gx_verr_has(v, "requiredApprovals"))
		gx_verr_add(v, "requiredApprovals", "must not exceed the number of approvers (%d)",
			    cJSON_GetArraySize(approvers));
	t = cJSON_GetObjectItemCaseSensitive(body, "amountThreshold");
	if (t && !cJSON_IsNull(t) && gx_money_from_json(t, &thr, &issue) < 0)
		gx_verr_add(v, "amountThreshold", "%s", issue);
	if (gx_verr_count(v) > 0) {
		cJSON_Delete(approvers);
		gx_reply_verr(req, v);
		return;
	}
	gx_verr_free(v);
	op = gx_xcalloc(1, sizeof(*op));
	op->step = rules_step;
	op->required = required;
	op->threshold = thr;
	op->approvers = approvers;
	org_load(req, op, "DEFINE_AUTH_RULE", NULL);
}
