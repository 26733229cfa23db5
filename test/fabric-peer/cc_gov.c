/* GX chaincode model: GovernanceContract (parameter-change proposals, one vote per voter, execution). */
#include "cc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SubmitProposal(proposalID, proposerID, targetParam, newValue, title, description) */
int cc_gov_submit(struct cc_ctx *c)
{
	const char *id = c->args[0], *who = c->args[1], *param = c->args[2], *value = c->args[3];
	const char *title = c->args[4], *desc = c->args[5], *why = NULL;
	long long ends;
	cJSON *p;

	if (cc_check_id(c, "proposalID", id) < 0 || cc_check_text(c, "title", title, 1, 200) < 0 ||
	    cc_check_text(c, "description", desc, 0, 2000) < 0)
		return CC_BAD;
	if (cc_param_validate(param, value, &why) < 0)
		return cc_fail(c, CC_BAD, "invalid proposal for %s: %s", param, why);
	if (!cc_exists(c, "user", who))
		return cc_fail(c, CC_NOT_FOUND, "user not found: %s", who);
	if (cc_exists(c, "prop", id))
		return cc_fail(c, CC_CONFLICT, "proposal already exists: %s", id);
	ends = c->now_ms + (long long)cc_param_u64(c, "governanceVotingPeriodSeconds") * 1000;
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "proposalID", id);
	cJSON_AddStringToObject(p, "proposerID", who);
	cJSON_AddStringToObject(p, "proposalType", "PARAMETER_CHANGE");
	cJSON_AddStringToObject(p, "targetParam", param);
	cJSON_AddStringToObject(p, "newValue", value);
	cJSON_AddStringToObject(p, "title", title);
	cJSON_AddStringToObject(p, "description", desc);
	cJSON_AddStringToObject(p, "status", "ACTIVE");
	cJSON_AddNumberToObject(p, "votesFor", 0);
	cJSON_AddNumberToObject(p, "votesAgainst", 0);
	cJSON_AddNumberToObject(p, "votesAbstain", 0);
	cJSON_AddNumberToObject(p, "votingStartsAtMs", (double)c->now_ms);
	cJSON_AddNumberToObject(p, "votingEndsAtMs", (double)ends);
	cc_store(c, "prop", id, p);
	cc_emit(c, "ProposalSubmitted", cJSON_Duplicate(p, 1));
	return cc_ok(c, p);
}

static void bump(cJSON *p, const char *field)
{
	cJSON_ReplaceItemInObjectCaseSensitive(p, field, cJSON_CreateNumber((double)(cc_jnum(p, field) + 1)));
}

/* CastVote(proposalID, voterID, vote FOR|AGAINST|ABSTAIN) */
int cc_gov_vote(struct cc_ctx *c)
{
	const char *id = c->args[0], *who = c->args[1], *vote = c->args[2];
	cJSON *p = NULL, *v, *ev;
	char *vkey;
	int st;

	if (strcmp(vote, "FOR") && strcmp(vote, "AGAINST") && strcmp(vote, "ABSTAIN"))
		return cc_fail(c, CC_BAD, "vote must be FOR, AGAINST or ABSTAIN");
	p = cc_load(c, "prop", id);
	if (!p)
		return cc_fail(c, CC_NOT_FOUND, "proposal not found: %s", id);
	if (!cc_exists(c, "user", who)) {
		st = cc_fail(c, CC_NOT_FOUND, "user not found: %s", who);
		goto out;
	}
	if (strcmp(cc_jstr(p, "status"), "ACTIVE") != 0) {
		st = cc_fail(c, CC_CONFLICT, "proposal %s is %s, not ACTIVE", id, cc_jstr(p, "status"));
		goto out;
	}
	if (c->now_ms >= cc_jnum(p, "votingEndsAtMs")) {
		st = cc_fail(c, CC_CONFLICT, "voting period of proposal %s has ended", id);
		goto out;
	}
	vkey = gx_xasprintf("%s~%s", id, who);
	if (cc_exists(c, "vote", vkey)) {
		free(vkey);
		st = cc_fail(c, CC_CONFLICT, "voter %s has already voted on %s", who, id);
		goto out;
	}
	v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "vote", vote);
	cJSON_AddNumberToObject(v, "castAtMs", (double)c->now_ms);
	cc_store(c, "vote", vkey, v);
	cJSON_Delete(v);
	free(vkey);
	bump(p, !strcmp(vote, "FOR") ? "votesFor" : !strcmp(vote, "AGAINST") ? "votesAgainst" : "votesAbstain");
	cc_store(c, "prop", id, p);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "proposalID", id);
	cJSON_AddStringToObject(ev, "voterID", who);
	cJSON_AddStringToObject(ev, "vote", vote);
	cJSON_AddNumberToObject(ev, "votesFor", (double)cc_jnum(p, "votesFor"));
	cJSON_AddNumberToObject(ev, "votesAgainst", (double)cc_jnum(p, "votesAgainst"));
	cJSON_AddNumberToObject(ev, "votesAbstain", (double)cc_jnum(p, "votesAbstain"));
	cc_emit(c, "VoteCast", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cJSON_Delete(p);
	return st;
}

/* Why a closed proposal did not pass, or NULL when it passed. */
static const char *failed_rule(struct cc_ctx *c, const cJSON *p)
{
	long long f = cc_jnum(p, "votesFor"), a = cc_jnum(p, "votesAgainst"), ab = cc_jnum(p, "votesAbstain");
	cJSON *u = cc_load(c, "sys", "users");
	long long users = cc_jnum(u, "count");
	uint64_t quorum = cc_param_u64(c, "governanceQuorumPercentage");
	uint64_t approval = cc_param_u64(c, "governanceApprovalThreshold");

	cJSON_Delete(u);
	if ((unsigned long long)(f + a + ab) * 100 < quorum * (unsigned long long)users)
		return "quorum not reached";
	if (f == 0 || (unsigned long long)f * 100 < approval * (unsigned long long)(f + a))
		return "approval threshold not reached";
	return NULL;
}

/* ExecuteProposal(proposalID, executedBy): after the window, applies a passed proposal or rejects it. */
int cc_gov_execute(struct cc_ctx *c)
{
	const char *id = c->args[0], *by = c->args[1], *why = NULL, *reason;
	cJSON *p = cc_load(c, "prop", id), *ev, *val;
	char *prev = NULL;
	int st;

	if (!p)
		return cc_fail(c, CC_NOT_FOUND, "proposal not found: %s", id);
	if (cc_check_id(c, "executedBy", by) < 0) {
		st = CC_BAD;
		goto out;
	}
	if (strcmp(cc_jstr(p, "status"), "ACTIVE") != 0) {
		st = cc_fail(c, CC_CONFLICT, "proposal %s is %s, not ACTIVE", id, cc_jstr(p, "status"));
		goto out;
	}
	if (c->now_ms < cc_jnum(p, "votingEndsAtMs")) {
		st = cc_fail(c, CC_CONFLICT, "voting period of proposal %s has not ended", id);
		goto out;
	}
	reason = failed_rule(c, p);
	/* parameters may have changed bounds meaning since submission; re-check before applying */
	if (!reason && cc_param_validate(cc_jstr(p, "targetParam"), cc_jstr(p, "newValue"), &why) < 0)
		reason = why;
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "proposalID", id);
	cJSON_AddStringToObject(ev, "status", reason ? "REJECTED" : "EXECUTED");
	cJSON_AddStringToObject(ev, "targetParam", cc_jstr(p, "targetParam"));
	cJSON_AddStringToObject(ev, "newValue", cc_jstr(p, "newValue"));
	cJSON_AddNumberToObject(ev, "votesFor", (double)cc_jnum(p, "votesFor"));
	cJSON_AddNumberToObject(ev, "votesAgainst", (double)cc_jnum(p, "votesAgainst"));
	cJSON_AddNumberToObject(ev, "votesAbstain", (double)cc_jnum(p, "votesAbstain"));
	cJSON_AddStringToObject(ev, "executedBy", by);
	cJSON_AddNumberToObject(ev, "executedAtMs", (double)c->now_ms);
	if (reason) {
		cJSON_AddStringToObject(ev, "reason", reason);
	} else {
		prev = cc_param_str(c, cc_jstr(p, "targetParam"));
		cJSON_AddStringToObject(ev, "previousValue", prev);
		val = cJSON_CreateString(cc_jstr(p, "newValue"));
		cc_store(c, "param", cc_jstr(p, "targetParam"), val);
		cJSON_Delete(val);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(p, "status", cJSON_CreateString(reason ? "REJECTED" : "EXECUTED"));
	cJSON_AddStringToObject(p, "executedBy", by);
	cJSON_AddNumberToObject(p, "executedAtMs", (double)c->now_ms);
	cc_store(c, "prop", id, p);
	cc_emit(c, reason ? "ProposalRejected" : "ProposalExecuted", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	free(prev);
	cJSON_Delete(p);
	return st;
}

/* GetProposal(proposalID) */
int cc_gov_get(struct cc_ctx *c)
{
	cJSON *p = cc_load(c, "prop", c->args[0]);

	if (!p)
		return cc_fail(c, CC_NOT_FOUND, "proposal not found: %s", c->args[0]);
	return cc_ok(c, p);
}
