/* GX chaincode model: OrganizationContract (propose, endorse, activate, approval rules, multi-signature transfers). */
#include "cc_int.h"
#include "gx/fee.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool str_in(const cJSON *arr, const char *s)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && !strcmp(it->valuestring, s))
			return true;
	return false;
}

/* ProposeOrganization(orgID, orgName, orgType, stakeholderIDsJSON) */
int cc_org_propose(struct cc_ctx *c)
{
	const char *id = c->args[0], *name = c->args[1], *type = c->args[2];
	cJSON *ids = NULL, *org, *ev, *it, *seen;
	int n, st;

	if (cc_check_id(c, "orgID", id) < 0 || cc_check_text(c, "orgName", name, 1, 100) < 0)
		return CC_BAD;
	if (!strncmp(id, "SYSTEM_", 7) || !strncmp(id, "treasury_", 9))
		return cc_fail(c, CC_BAD, "orgID uses a reserved prefix");
	if (strcmp(type, "BUSINESS") && strcmp(type, "NONPROFIT") && strcmp(type, "GOVERNMENT"))
		return cc_fail(c, CC_BAD, "orgType must be BUSINESS, NONPROFIT or GOVERNMENT");
	ids = cJSON_Parse(c->args[3]);
	n = cJSON_IsArray(ids) ? cJSON_GetArraySize(ids) : -1;
	if (n < 2 || n > 10) {
		cJSON_Delete(ids);
		return cc_fail(c, CC_BAD, "stakeholderIDs must be a JSON array of 2..10 user ids");
	}
	seen = cJSON_CreateArray();
	st = CC_OK;
	cJSON_ArrayForEach(it, ids) {
		if (!cJSON_IsString(it)) {
			st = cc_fail(c, CC_BAD, "stakeholderIDs must contain strings");
			break;
		}
		if (str_in(seen, it->valuestring)) {
			st = cc_fail(c, CC_BAD, "duplicate stakeholder: %s", it->valuestring);
			break;
		}
		if (!cc_exists(c, "user", it->valuestring)) {
			st = cc_fail(c, CC_NOT_FOUND, "user not found: %s", it->valuestring);
			break;
		}
		cJSON_AddItemToArray(seen, cJSON_CreateString(it->valuestring));
	}
	cJSON_Delete(seen);
	if (st != CC_OK) {
		cJSON_Delete(ids);
		return st;
	}
	if (cc_exists(c, "org", id) || cc_exists(c, "acct", id)) {
		cJSON_Delete(ids);
		return cc_fail(c, CC_CONFLICT, "organization already exists: %s", id);
	}
	org = cJSON_CreateObject();
	cJSON_AddStringToObject(org, "orgID", id);
	cJSON_AddStringToObject(org, "orgName", name);
	cJSON_AddStringToObject(org, "orgType", type);
	cJSON_AddStringToObject(org, "status", "PROPOSED");
	cJSON_AddItemToObject(org, "stakeholderIDs", ids);
	cJSON_AddItemToObject(org, "endorserIDs", cJSON_CreateArray());
	cJSON_AddItemToObject(org, "rules", cJSON_CreateArray());
	cJSON_AddNumberToObject(org, "createdAtMs", (double)c->now_ms);
	cc_store(c, "org", id, org);

	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "orgID", id);
	cJSON_AddStringToObject(ev, "orgName", name);
	cJSON_AddStringToObject(ev, "orgType", type);
	cJSON_AddItemToObject(ev, "stakeholderIDs", cJSON_Duplicate(ids, 1));
	cJSON_AddStringToObject(ev, "status", "PROPOSED");
	cJSON_Delete(org);
	cc_emit(c, "OrganizationProposed", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* EndorseMembership(orgID, userID) */
int cc_org_endorse(struct cc_ctx *c)
{
	const char *id = c->args[0], *user = c->args[1];
	cJSON *org = cc_load(c, "org", id), *ends, *ev;
	int n, m, st;

	if (!org)
		return cc_fail(c, CC_NOT_FOUND, "organization not found: %s", id);
	ends = cJSON_GetObjectItemCaseSensitive(org, "endorserIDs");
	if (strcmp(cc_jstr(org, "status"), "PROPOSED") != 0) {
		st = cc_fail(c, CC_CONFLICT, "organization %s is not PROPOSED", id);
		goto out;
	}
	if (!str_in(cJSON_GetObjectItemCaseSensitive(org, "stakeholderIDs"), user)) {
		st = cc_fail(c, CC_FORBIDDEN, "user %s is not a stakeholder of %s", user, id);
		goto out;
	}
	if (str_in(ends, user)) {
		st = cc_fail(c, CC_CONFLICT, "user %s has already endorsed %s", user, id);
		goto out;
	}
	cJSON_AddItemToArray(ends, cJSON_CreateString(user));
	cc_store(c, "org", id, org);
	n = cJSON_GetArraySize(ends);
	m = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(org, "stakeholderIDs"));
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "orgID", id);
	cJSON_AddStringToObject(ev, "userID", user);
	cJSON_AddNumberToObject(ev, "endorsements", n);
	cJSON_AddNumberToObject(ev, "requiredEndorsements", m);
	cJSON_AddBoolToObject(ev, "allEndorsed", n == m);
	cc_emit(c, "MembershipEndorsed", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cJSON_Delete(org);
	return st;
}

/* ActivateOrganization(orgID) */
int cc_org_activate(struct cc_ctx *c)
{
	const char *id = c->args[0];
	cJSON *org = cc_load(c, "org", id), *ev;
	int n, m, st;

	if (!org)
		return cc_fail(c, CC_NOT_FOUND, "organization not found: %s", id);
	if (strcmp(cc_jstr(org, "status"), "PROPOSED") != 0) {
		st = cc_fail(c, CC_CONFLICT, "organization %s is not PROPOSED", id);
		goto out;
	}
	n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(org, "endorserIDs"));
	m = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(org, "stakeholderIDs"));
	if (n < m) {
		st = cc_fail(c, CC_CONFLICT, "not all stakeholders have endorsed %s (%d of %d)", id, n, m);
		goto out;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(org, "status", cJSON_CreateString("ACTIVE"));
	cJSON_AddNumberToObject(org, "activatedAtMs", (double)c->now_ms);
	cc_store(c, "org", id, org);
	cc_account_create(c, id, "ORG", 0);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "orgID", id);
	cJSON_AddStringToObject(ev, "accountID", id);
	cJSON_AddStringToObject(ev, "status", "ACTIVE");
	cJSON_AddNumberToObject(ev, "activatedAtMs", (double)c->now_ms);
	cc_emit(c, "OrganizationActivated", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cJSON_Delete(org);
	return st;
}

/* DefineAuthRule(orgID, ruleJSON {"amountThreshold","requiredApprovals","approverIDs"}) */
int cc_org_define_rule(struct cc_ctx *c)
{
	const char *id = c->args[0];
	cJSON *org = cc_load(c, "org", id), *rule = cJSON_Parse(c->args[1]), *rules, *it, *clean = NULL, *ev;
	const cJSON *req, *ids, *stake;
	uint64_t thr;
	int st, n, i;

	if (!org) {
		st = cc_fail(c, CC_NOT_FOUND, "organization not found: %s", id);
		goto out;
	}
	req = cJSON_GetObjectItemCaseSensitive(rule, "requiredApprovals");
	ids = cJSON_GetObjectItemCaseSensitive(rule, "approverIDs");
	if (!cJSON_IsObject(rule) || gx_fee_parse_u64(cc_jstr(rule, "amountThreshold"), &thr) < 0 ||
	    !cJSON_IsNumber(req) || !cJSON_IsArray(ids)) {
		st = cc_fail(c, CC_BAD,
			     "rule must be {\"amountThreshold\":\"<qirat>\",\"requiredApprovals\":n,"
			     "\"approverIDs\":[...]}");
		goto out;
	}
	n = cJSON_GetArraySize(ids);
	if (req->valuedouble < 1 || req->valuedouble > n || req->valuedouble != (int)req->valuedouble) {
		st = cc_fail(c, CC_BAD, "requiredApprovals must be an integer 1..number of approvers (%d)", n);
		goto out;
	}
	if (strcmp(cc_jstr(org, "status"), "ACTIVE") != 0) {
		st = cc_fail(c, CC_CONFLICT, "organization %s is not ACTIVE", id);
		goto out;
	}
	stake = cJSON_GetObjectItemCaseSensitive(org, "stakeholderIDs");
	clean = cJSON_CreateArray();
	cJSON_ArrayForEach(it, ids) {
		if (!cJSON_IsString(it) || !str_in(stake, it->valuestring) || str_in(clean, it->valuestring)) {
			st = cc_fail(c, CC_BAD, "approverIDs must be distinct stakeholders of %s", id);
			goto out;
		}
		cJSON_AddItemToArray(clean, cJSON_CreateString(it->valuestring));
	}
	/* a rule is identified by its threshold: defining the same threshold again replaces it */
	rules = cJSON_GetObjectItemCaseSensitive(org, "rules");
	for (i = cJSON_GetArraySize(rules) - 1; i >= 0; i--)
		if (cc_ju64(cJSON_GetArrayItem(rules, i), "amountThreshold") == thr)
			cJSON_DeleteItemFromArray(rules, i);
	it = cJSON_CreateObject();
	cc_jset_u64(it, "amountThreshold", thr);
	cJSON_AddNumberToObject(it, "requiredApprovals", req->valuedouble);
	cJSON_AddItemToObject(it, "approverIDs", cJSON_Duplicate(clean, 1));
	cJSON_AddItemToArray(rules, it);
	cc_store(c, "org", id, org);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "orgID", id);
	cc_jset_u64(ev, "amountThreshold", thr);
	cJSON_AddNumberToObject(ev, "requiredApprovals", req->valuedouble);
	cJSON_AddItemToObject(ev, "approverIDs", cJSON_Duplicate(clean, 1));
	cJSON_AddNumberToObject(ev, "ruleCount", cJSON_GetArraySize(rules));
	cc_emit(c, "AuthRuleDefined", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cJSON_Delete(clean);
	cJSON_Delete(rule);
	cJSON_Delete(org);
	return st;
}

/* The rule with the greatest threshold <= amount, else the default: orgDefaultThreshold approvals (at most the
 * number of stakeholders) from any stakeholder. Returns the approvers (caller owns) and sets *required. */
static cJSON *pick_rule(struct cc_ctx *c, const cJSON *org, uint64_t amount, int *required)
{
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(org, "rules"), *best = NULL, *it;
	const cJSON *stake = cJSON_GetObjectItemCaseSensitive(org, "stakeholderIDs");
	uint64_t def;

	cJSON_ArrayForEach(it, rules) {
		uint64_t t = cc_ju64(it, "amountThreshold");

		if (t <= amount && (!best || t > cc_ju64(best, "amountThreshold")))
			best = it;
	}
	if (best) {
		*required = (int)cc_jnum(best, "requiredApprovals");
		return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(best, "approverIDs"), 1);
	}
	def = cc_param_u64(c, "orgDefaultThreshold");
	*required = (int)(def < (uint64_t)cJSON_GetArraySize(stake) ? def : (uint64_t)cJSON_GetArraySize(stake));
	return cJSON_Duplicate(stake, 1);
}

/* InitiateMultiSigTx(pendingTxID, orgID, initiatorID, toID, amount, remark) */
int cc_org_initiate_tx(struct cc_ctx *c)
{
	const char *txid = c->args[0], *id = c->args[1], *init = c->args[2], *to = c->args[3], *remark = c->args[5];
	cJSON *org = NULL, *approvers = NULL, *tx;
	struct cc_account t = { 0 };
	uint64_t amount;
	int st, required;

	if (cc_check_id(c, "pendingTxID", txid) < 0 || cc_check_amount(c, "amount", c->args[4], &amount) < 0 ||
	    cc_check_text(c, "remark", remark, 0, 500) < 0)
		return CC_BAD;
	if (cc_exists(c, "mstx", txid))
		return cc_fail(c, CC_CONFLICT, "multi-signature transaction already exists: %s", txid);
	org = cc_load(c, "org", id);
	if (!org)
		return cc_fail(c, CC_NOT_FOUND, "organization not found: %s", id);
	if (strcmp(cc_jstr(org, "status"), "ACTIVE") != 0) {
		st = cc_fail(c, CC_CONFLICT, "organization %s is not ACTIVE", id);
		goto out;
	}
	if (!str_in(cJSON_GetObjectItemCaseSensitive(org, "stakeholderIDs"), init)) {
		st = cc_fail(c, CC_FORBIDDEN, "user %s is not a stakeholder of %s", init, id);
		goto out;
	}
	if (cc_account_load(c, to, &t) < 0) {
		st = cc_fail(c, CC_NOT_FOUND, "account not found: %s", to);
		goto out;
	}
	if (!strcmp(t.type, "SYSTEM") || !strcmp(to, id)) {
		st = cc_fail(c, CC_BAD, "toID must be another user, organization or treasury account");
		goto out;
	}
	approvers = pick_rule(c, org, amount, &required);
	tx = cJSON_CreateObject();
	cJSON_AddStringToObject(tx, "pendingTxID", txid);
	cJSON_AddStringToObject(tx, "orgID", id);
	cJSON_AddStringToObject(tx, "initiatorID", init);
	cJSON_AddStringToObject(tx, "toID", to);
	cc_jset_u64(tx, "amount", amount);
	cJSON_AddStringToObject(tx, "remark", remark);
	cJSON_AddNumberToObject(tx, "requiredApprovals", required);
	cJSON_AddItemToObject(tx, "approverIDs", cJSON_Duplicate(approvers, 1));
	cJSON_AddItemToObject(tx, "approvals", cJSON_CreateArray());
	cJSON_AddStringToObject(tx, "status", "PENDING");
	cJSON_AddNumberToObject(tx, "createdAtMs", (double)c->now_ms);
	cc_store(c, "mstx", txid, tx);
	cJSON_DeleteItemFromObjectCaseSensitive(tx, "createdAtMs");
	cc_emit(c, "MultiSigTxInitiated", cJSON_Duplicate(tx, 1));
	st = cc_ok(c, tx);
out:
	cc_account_release(&t);
	cJSON_Delete(approvers);
	cJSON_Delete(org);
	return st;
}

/* ApproveMultiSigTx(pendingTxID, approverID); the approval that reaches the threshold executes the transfer. */
int cc_org_approve_tx(struct cc_ctx *c)
{
	const char *txid = c->args[0], *user = c->args[1];
	cJSON *tx = cc_load(c, "mstx", txid), *apps, *ev;
	struct gx_fee_result fee;
	const char *org, *to;
	uint64_t amount;
	int n, required, st;

	if (!tx)
		return cc_fail(c, CC_NOT_FOUND, "multi-signature transaction not found: %s", txid);
	apps = cJSON_GetObjectItemCaseSensitive(tx, "approvals");
	org = cc_jstr(tx, "orgID");
	to = cc_jstr(tx, "toID");
	amount = cc_ju64(tx, "amount");
	required = (int)cc_jnum(tx, "requiredApprovals");
	if (strcmp(cc_jstr(tx, "status"), "PENDING") != 0) {
		st = cc_fail(c, CC_CONFLICT, "transaction %s is %s, not PENDING", txid, cc_jstr(tx, "status"));
		goto out;
	}
	if (!str_in(cJSON_GetObjectItemCaseSensitive(tx, "approverIDs"), user)) {
		st = cc_fail(c, CC_FORBIDDEN, "user %s is not an approver of %s", user, txid);
		goto out;
	}
	if (str_in(apps, user)) {
		st = cc_fail(c, CC_CONFLICT, "user %s has already approved %s", user, txid);
		goto out;
	}
	cJSON_AddItemToArray(apps, cJSON_CreateString(user));
	n = cJSON_GetArraySize(apps);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "pendingTxID", txid);
	cJSON_AddStringToObject(ev, "orgID", org);
	cJSON_AddStringToObject(ev, "approverID", user);
	cJSON_AddNumberToObject(ev, "approvals", n);
	cJSON_AddNumberToObject(ev, "requiredApprovals", required);
	if (n < required) {
		cc_store(c, "mstx", txid, tx);
		cJSON_AddStringToObject(ev, "status", "PENDING");
		cc_emit(c, "MultiSigTxApproved", cJSON_Duplicate(ev, 1));
		st = cc_ok(c, ev);
		goto out;
	}
	st = cc_fee(c, amount, &fee) < 0 ? CC_BAD : cc_move(c, org, to, amount, fee.fee, CC_FEE_POOL, true);
	if (st != CC_OK) {
		cJSON_Delete(ev);
		goto out;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(tx, "status", cJSON_CreateString("EXECUTED"));
	cJSON_AddNumberToObject(tx, "executedAtMs", (double)c->now_ms);
	cc_store(c, "mstx", txid, tx);
	cJSON_AddStringToObject(ev, "toID", to);
	cc_jset_u64(ev, "amount", amount);
	cc_jset_u64(ev, "fee", fee.fee);
	cJSON_AddStringToObject(ev, "feeAccountID", CC_FEE_POOL);
	cc_jset_u64(ev, "fromBalance", cc_balance(c, org));
	cc_jset_u64(ev, "toBalance", cc_balance(c, to));
	cc_jset_u64(ev, "feeAccountBalance", cc_balance(c, CC_FEE_POOL));
	cJSON_AddStringToObject(ev, "status", "EXECUTED");
	cc_emit(c, "MultiSigTxExecuted", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cJSON_Delete(tx);
	return st;
}

/* GetOrganization(orgID) */
int cc_org_get(struct cc_ctx *c)
{
	cJSON *org = cc_load(c, "org", c->args[0]);

	if (!org)
		return cc_fail(c, CC_NOT_FOUND, "organization not found: %s", c->args[0]);
	return cc_ok(c, org);
}

/* GetMultiSigTx(pendingTxID) */
int cc_org_get_tx(struct cc_ctx *c)
{
	cJSON *tx = cc_load(c, "mstx", c->args[0]);

	if (!tx)
		return cc_fail(c, CC_NOT_FOUND, "multi-signature transaction not found: %s", c->args[0]);
	return cc_ok(c, tx);
}
