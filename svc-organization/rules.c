/* Authorization rules of an organization: POST /api/v1/organizations/{orgId}/rules (DEFINE_AUTH_RULE), in the
 * original's {"rule": {...}} body and ours, by a stakeholder of an ACTIVE organization; a lowering of a defined rule
 * waits for a second stakeholder ("RuleChange", docs/security.md "Four-eyes"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/money.h"
#include "gx/pg.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "org.h"

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
	"  RETURNING \"requestedBy\", " GX_SQL_ISO_TS("\"expiresAt\"") " AS \"expiresAt\")"
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
	org_submit(op, "DEFINE_AUTH_RULE", payload);
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
	cJSON_AddStringToObject(o, "message",
				"this rule lowers the organization's approval rule: it is submitted when "
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
	params[0] = gx_req_tenant(op->req);
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
	else if (!cJSON_IsNumber(in.required) ||
		 in.required->valuedouble != (double)(long long)in.required->valuedouble ||
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
