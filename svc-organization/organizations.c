/* Organizations: the helpers of org.h, endorse (ENDORSE_MEMBERSHIP), activate (ACTIVATE_ORGANIZATION),
 * authorization rules (DEFINE_AUTH_RULE, in the original's {"rule": {...}} body and ours) and the organization read
 * model the projector keeps (GET: ours at the top level, the original's {"organization": {...}} beside it). The
 * orgId is the commands' aggregate. Checks against the read model are fast rejections; the chain decides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/pg.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "org.h"

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

struct orgop {
	struct gx_req *req;
	void (*step)(struct orgop *op, const PGresult *res);
	char *org_id;
	char caller[64];
	/* rules */
	long long required;
	uint64_t threshold;
	cJSON *approvers;
	char approvers_field[40]; /* as the client named it: "approverIds" or "rule.approverGroup" */
	char *approver_key;       /* a lowering: the approvers sorted and joined by ',' (owned) */
	int tries;                /* a lowering: runs of SQL_RULE_CHANGE */
};

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
		gx_reply_error(req, 404, "ORG_NOT_FOUND", ORG_NOT_FOUND_MSG);
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

/* Four eyes on the rules of an ACTIVE organization. A new rule replaces, for the amounts from its threshold up to the
 * next defined threshold, the defined rule with the greatest threshold <= its own (the chain keeps one rule per
 * threshold). It lowers that rule unless it keeps every approver of it and every group of approvers able to
 * approve under it could already approve under the old one: requiredApprovals >= the old requiredApprovals + the
 * number of approvers added. No defined rule at or below its threshold: nothing to lower (the chain's default
 * applies there). A lowering is recorded in "RuleChange" and submitted when a second, different stakeholder sends the
 * same rule within 24 hours (docs/svc-organization.md). */
static const char SQL_RULE_CHANGE[] =
	"WITH purge AS (DELETE FROM \"RuleChange\" WHERE \"tenantId\" = $1 AND \"orgId\" = $2 AND \"expiresAt\" <= now()"
	"  AND NOT (\"amountThreshold\" = $3::numeric AND \"requiredApprovals\" = $4::int AND \"approverKey\" = $5)),"
	" taken AS (DELETE FROM \"RuleChange\" WHERE \"tenantId\" = $1 AND \"orgId\" = $2 AND \"amountThreshold\" = $3::numeric"
	"  AND \"requiredApprovals\" = $4::int AND \"approverKey\" = $5 AND \"expiresAt\" > now() AND \"requestedBy\" <> $7"
	"  RETURNING \"requestedBy\"),"
	" ins AS (INSERT INTO \"RuleChange\" (\"tenantId\", \"orgId\", \"amountThreshold\", \"requiredApprovals\","
	"  \"approverKey\", \"approverIds\", \"requestedBy\", \"createdAt\", \"expiresAt\")"
	"  SELECT $1, $2, $3::numeric, $4::int, $5, $6::jsonb, $7, now(), now() + interval '24 hours'"
	"  WHERE NOT EXISTS (SELECT 1 FROM taken)"
	"  ON CONFLICT (\"tenantId\", \"orgId\", \"amountThreshold\", \"requiredApprovals\", \"approverKey\") DO UPDATE SET"
	"   \"requestedBy\" = CASE WHEN \"RuleChange\".\"expiresAt\" <= now() THEN EXCLUDED.\"requestedBy\""
	"    ELSE \"RuleChange\".\"requestedBy\" END,"
	"   \"approverIds\" = CASE WHEN \"RuleChange\".\"expiresAt\" <= now() THEN EXCLUDED.\"approverIds\""
	"    ELSE \"RuleChange\".\"approverIds\" END,"
	"   \"createdAt\" = CASE WHEN \"RuleChange\".\"expiresAt\" <= now() THEN now() ELSE \"RuleChange\".\"createdAt\" END,"
	"   \"expiresAt\" = CASE WHEN \"RuleChange\".\"expiresAt\" <= now() THEN EXCLUDED.\"expiresAt\""
	"    ELSE \"RuleChange\".\"expiresAt\" END"
	"  RETURNING \"requestedBy\", " ORG_TS("\"expiresAt\"") " AS \"expiresAt\")"
	" SELECT (SELECT \"requestedBy\" FROM taken LIMIT 1) AS \"confirms\", i.\"requestedBy\", i.\"expiresAt\""
	" FROM (SELECT 1) one LEFT JOIN ins i ON true";

static void submit_rule(struct orgop *op)
{
	cJSON *payload = cJSON_CreateObject();
	char thr[24];

	snprintf(thr, sizeof(thr), "%llu", (unsigned long long)op->threshold);
	cJSON_AddStringToObject(payload, "orgId", op->org_id);
	cJSON_AddStringToObject(payload, "amountThreshold", thr);
	cJSON_AddNumberToObject(payload, "requiredApprovals", (double)op->required);
	cJSON_AddItemReferenceToObject(payload, "approverIds", op->approvers);
	submit_org(op, "DEFINE_AUTH_RULE", payload);
}

/* Does the rule of op lower the defined rule it replaces for its amounts (auth_rules: the read model's array)? */
static bool rule_lowers(const struct orgop *op, const cJSON *auth_rules)
{
	const cJSON *r, *best = NULL, *ap, *n, *a;
	uint64_t best_thr = 0, t;
	int added = 0;

	cJSON_ArrayForEach(r, auth_rules) {
		const cJSON *thr = cJSON_GetObjectItemCaseSensitive(r, "amountThreshold");

		if (!cJSON_IsString(thr) || gx_fee_parse_u64(thr->valuestring, &t) < 0 || t > op->threshold)
			continue;
		if (!best || t > best_thr) {
			best = r;
			best_thr = t;
		}
	}
	if (!best)
		return false;
	n = cJSON_GetObjectItemCaseSensitive(best, "requiredApprovals");
	ap = cJSON_GetObjectItemCaseSensitive(best, "approverIDs");
	if (!cJSON_IsNumber(n) || !cJSON_IsArray(ap))
		return true; /* an unreadable rule: the safe side */
	cJSON_ArrayForEach(a, ap)
		if (!cJSON_IsString(a) || !org_json_has(op->approvers, a->valuestring))
			return true; /* an approver removed */
	cJSON_ArrayForEach(a, op->approvers)
		if (!org_json_has(ap, a->valuestring))
			added++;
	return (double)op->required < n->valuedouble + added;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The approvers of op sorted and joined by ',' (caller owns). */
static char *approver_key(const cJSON *approvers)
{
	int n = cJSON_GetArraySize(approvers), i = 0;
	const char **ids = gx_xcalloc((size_t)n + 1, sizeof(*ids));
	const cJSON *a;
	size_t len = 1;
	char *key;

	cJSON_ArrayForEach(a, approvers) {
		ids[i++] = a->valuestring;
		len += strlen(a->valuestring) + 1;
	}
	qsort(ids, (size_t)n, sizeof(*ids), cmp_str);
	key = gx_xcalloc(1, len);
	for (i = 0; i < n; i++) {
		if (i)
			strcat(key, ",");
		strcat(key, ids[i]);
	}
	free(ids);
	return key;
}

static void rule_change_run(struct orgop *op);

static void on_rule_change(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct orgop *op = arg;
	const char *by;
	cJSON *o, *rule;

	if (err) {
		gx_reply_pg_error(op->req, err);
		return;
	}
	if (PQntuples(res) != 1 || (gx_pg_isnull(res, 0, "confirms") && gx_pg_isnull(res, 0, "requestedBy"))) {
		gx_reply_error(op->req, 500, "INTERNAL", "the rule change was not recorded");
		return;
	}
	if (!gx_pg_isnull(res, 0, "confirms")) {
		/* a second, different stakeholder: the rule goes to the chain */
		submit_rule(op);
		return;
	}
	by = gx_pg_val(res, 0, "requestedBy");
	if (strcmp(by, op->caller) != 0 && op->tries < 2) {
		/* another stakeholder's request for the same rule was recorded at the same moment: now it is theirs */
		rule_change_run(op);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", "AWAITING_SECOND_STAKEHOLDER");
	cJSON_AddStringToObject(o, "message", "this rule lowers the organization's approval rule: it is submitted when "
				"another stakeholder sends the same rule before expiresAt");
	cJSON_AddStringToObject(o, "orgId", op->org_id);
	rule = cJSON_AddObjectToObject(o, "rule");
	{
		char coins[GX_MONEY_FMT_LEN];

		gx_money_format(op->threshold, coins);
		cJSON_AddStringToObject(rule, "amountThreshold", coins);
	}
	cJSON_AddNumberToObject(rule, "requiredApprovals", (double)op->required);
	cJSON_AddItemToObject(rule, "approverIds", cJSON_Duplicate(op->approvers, true));
	cJSON_AddStringToObject(o, "requestedBy", by);
	cJSON_AddStringToObject(o, "expiresAt", gx_pg_val(res, 0, "expiresAt"));
	gx_reply_json(op->req, 202, o);
}

static void rule_change_run(struct orgop *op)
{
	char thr[24], req_s[24];
	char *ids = cJSON_PrintUnformatted(op->approvers);
	const char *params[7];

	op->tries++;
	snprintf(thr, sizeof(thr), "%llu", (unsigned long long)op->threshold);
	snprintf(req_s, sizeof(req_s), "%lld", op->required);
	params[0] = org_tenant(op->req);
	params[1] = op->org_id;
	params[2] = thr;
	params[3] = req_s;
	params[4] = op->approver_key;
	params[5] = ids;
	params[6] = op->caller;
	if (gx_pg_query(gx_req_pg(op->req), SQL_RULE_CHANGE, 7, params, on_rule_change, op) < 0)
		gx_reply_error(op->req, 500, "INTERNAL", "could not start the rule-change query");
	free(ids);
}

static void rules_step(struct orgop *op, const PGresult *res)
{
	cJSON *stake = org_json_col(gx_pg_val(res, 0, "stakeholders"));
	bool member = org_json_has(stake, op->caller), lowers;
	struct gx_verr *v;
	const cJSON *a;
	cJSON *rules;
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
		char f[56];

		snprintf(f, sizeof(f), "%s[%d]", op->approvers_field, i++);
		if (!org_json_has(stake, a->valuestring))
			gx_verr_add(v, f, "is not a stakeholder of the organization");
	}
	cJSON_Delete(stake);
	if (gx_svc_invalid(op->req, v))
		return;
	rules = org_json_col(gx_pg_val(res, 0, "authRules"));
	lowers = rule_lowers(op, rules);
	cJSON_Delete(rules);
	if (!lowers) {
		submit_rule(op);
		return;
	}
	/* four eyes: a lowering needs a second stakeholder */
	op->approver_key = approver_key(op->approvers);
	rule_change_run(op);
}

/* The rule's fields: in the original's body {"rule": {"amountThreshold", "requiredApprovers", "approverGroup"}} or
 * in ours at the top level ({"requiredApprovals", "approverIds", "amountThreshold"}, recognised by either of the
 * first two); both spellings are read in both places. Issues are named as sent ("rule.approverGroup[1]"). */
struct rule_in {
	const cJSON *src;      /* the rule object (borrowed) */
	bool wrapped;          /* the original's "rule" wrapper */
	const cJSON *required; /* may be NULL */
	const cJSON *approvers;
	char required_field[40], approvers_field[40];
};

/* Where the rule is: 0, or -1 when the request is answered (the original's "required" text, or not an object). */
static int rule_locate(struct gx_req *req, const cJSON *body, struct rule_in *in)
{
	const cJSON *rule = cJSON_GetObjectItemCaseSensitive(body, "rule");
	const char *pre = "", *nname, *aname;

	in->src = body;
	if (rule && !cJSON_IsNull(rule)) {
		if (!org_truthy(rule)) {
			gx_reply_error(req, 400, "VALIDATION_FAILED", "orgId and rule are required");
			return -1;
		}
		if (!cJSON_IsObject(rule)) {
			gx_svc_reply_invalid(req, "rule", "must be an object");
			return -1;
		}
		in->src = rule;
		in->wrapped = true;
		pre = "rule.";
	} else if (!cJSON_GetObjectItemCaseSensitive(body, "requiredApprovals") &&
		   !cJSON_GetObjectItemCaseSensitive(body, "approverIds")) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "orgId and rule are required");
		return -1;
	}
	in->required = gx_valid_either(in->src, "requiredApprovals", "requiredApprovers", &nname);
	in->approvers = gx_valid_either(in->src, "approverIds", "approverGroup", &aname);
	if (in->wrapped) {
		/* name the original's fields in issues unless ours were sent */
		nname = in->required && !cJSON_IsNull(in->required) ? nname : "requiredApprovers";
		aname = in->approvers && !cJSON_IsNull(in->approvers) ? aname : "approverGroup";
	}
	snprintf(in->required_field, sizeof(in->required_field), "%s%s", pre, nname);
	snprintf(in->approvers_field, sizeof(in->approvers_field), "%s%s", pre, aname);
	return 0;
}

void orgs_rules(struct gx_req *req)
{
	const cJSON *body = gx_req_body(req);
	struct rule_in in = { 0 };
	struct gx_verr *v;
	struct orgop *op;
	long long required = 0;
	uint64_t thr = 0;
	cJSON *approvers;
	const cJSON *t;
	const char *issue;
	char f[48];

	if (rule_locate(req, body, &in) < 0)
		return;
	/* the original's two checks, with its texts, on its body */
	if (in.wrapped && cJSON_IsNumber(in.required) && in.required->valuedouble < 1) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "requiredApprovers must be at least 1");
		return;
	}
	if (in.wrapped && cJSON_IsNumber(in.required) && cJSON_IsArray(in.approvers) &&
	    cJSON_GetArraySize(in.approvers) < in.required->valuedouble) {
		gx_reply_error(req, 400, "VALIDATION_FAILED",
			       "approverGroup must have at least as many members as requiredApprovers");
		return;
	}
	v = gx_verr_new();
	if (!in.required || cJSON_IsNull(in.required))
		gx_verr_add(v, in.required_field, "is required");
	else if (!cJSON_IsNumber(in.required) || in.required->valuedouble != (double)(long long)in.required->valuedouble ||
		 in.required->valuedouble < 1 || in.required->valuedouble > 10)
		gx_verr_add(v, in.required_field, "must be an integer from 1 to 10");
	else
		required = (long long)in.required->valuedouble;
	approvers = org_read_ids(in.approvers, in.approvers_field, 1, 10, v);
	if (approvers && required > cJSON_GetArraySize(approvers))
		gx_verr_add(v, in.required_field, "must not exceed the number of approvers (%d)",
			    cJSON_GetArraySize(approvers));
	t = cJSON_GetObjectItemCaseSensitive(in.src, "amountThreshold");
	snprintf(f, sizeof(f), "%samountThreshold", in.wrapped ? "rule." : "");
	if (t && !cJSON_IsNull(t) && gx_money_from_json(t, &thr, &issue) < 0)
		gx_verr_add(v, f, "%s", issue);
	if (gx_svc_invalid(req, v)) {
		cJSON_Delete(approvers);
		return;
	}
	op = gx_xcalloc(1, sizeof(*op));
	op->step = rules_step;
	op->required = required;
	op->threshold = thr;
	op->approvers = approvers;
	snprintf(op->approvers_field, sizeof(op->approvers_field), "%s", in.approvers_field);
	org_load(req, op, "DEFINE_AUTH_RULE", NULL);
}
