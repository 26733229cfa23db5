/* Votes: POST /api/v1/proposals/{proposalId}/vote enqueues CAST_VOTE (FOR | AGAINST | ABSTAIN) for the caller.
 * The vote is "FOR", "AGAINST" or "ABSTAIN", or the original backend's boolean (true = FOR, false = AGAINST).
 * One vote per voter and proposal: a vote confirmed by the projector, or one whose command is accepted and has not
 * FAILED, makes a second vote 409 ALREADY_VOTED. The API records the vote in "ProposalVote" (unconfirmed) in the
 * same transaction as the command, so two concurrent votes of one voter cannot both be accepted; an unconfirmed row
 * whose command FAILED on chain is removed first, so the voter may vote again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/outbox.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "gov.h"

/* A CAST_VOTE command of voter $3 for proposal $2 that has not failed ($1 is the tenant): a vote counts once. */
#define LIVE_VOTE_COMMAND \
	{ \
		.ask = GX_OUTBOX_STORE_EXISTS, .rule = GX_OUTBOX_STORE_LIVE, .tenant = "$1", .types = "'CAST_VOTE'", \
		.fields = { \
			{ "proposalId", "$2", false }, \
			{ "voterId", "$3", false } \
		} \
	}

static struct gx_outbox_store_sql sql_precheck = {
	.tmpl = "SELECT p.\"status\", (p.\"votingEndsAt\" IS NULL OR p.\"votingEndsAt\" > now()) AS \"open\","
		" (SELECT u.\"onchainStatus\" IS NOT NULL FROM \"UserProfile\" u WHERE u.\"profileId\" = $3"
		"  AND u.\"tenantId\" = $1 AND u.\"deletedAt\" IS NULL) AS \"voter\","
		" (EXISTS (SELECT 1 FROM \"ProposalVote\" v WHERE v.\"proposalId\" = $2 AND v.\"voterId\" = $3"
		"   AND v.\"confirmedAt\" IS NOT NULL) OR %s) AS \"voted\""
		" FROM \"Proposal\" p WHERE p.\"proposalId\" = $2 AND p.\"tenantId\" = $1",
	.probes = { LIVE_VOTE_COMMAND }
};

/* In the command's transaction: drop a stale unconfirmed vote (its command failed), then record this one. */
static struct gx_outbox_store_sql sql_drop_stale = {
	.tmpl = "DELETE FROM \"ProposalVote\" v WHERE v.\"proposalId\" = $2 AND v.\"voterId\" = $3"
		" AND v.\"confirmedAt\" IS NULL AND NOT %s",
	.probes = { LIVE_VOTE_COMMAND }
};
static const char SQL_RECORD[] =
	"INSERT INTO \"ProposalVote\" (\"tenantId\", \"proposalId\", \"voterId\", \"vote\")"
	" VALUES ($1, $2, $3, $4::\"VoteChoice\")";

static const char *const CHOICES[] = { "FOR", "AGAINST", "ABSTAIN", NULL };

static const struct gx_conflict vote_conflicts[] = {
	{ "ProposalVote_proposalId_voterId_key", 409, "ALREADY_VOTED", "you have already voted on this proposal" },
	{ "ProposalVote_proposalId_fkey", 404, "PROPOSAL_NOT_FOUND", "Proposal not found" },
};

struct vote {
	struct gx_req *req;
	char proposal[65];
	char voter[64];
	const char *choice; /* static */
};

static void on_precheck(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct vote *vt = arg;
	struct gx_req *req = vt->req;
	const char *params[4] = { gx_req_tenant(req), vt->proposal, vt->voter, vt->choice };
	struct gx_pg_stmt stmts[2] = { { gx_outbox_store_sql_text(&sql_drop_stale), 3, params },
				       { SQL_RECORD, 4, params } };
	struct gx_outbox_cmd cmd;
	cJSON *payload;

	if (!gx_svc_found(req, res, err, "PROPOSAL_NOT_FOUND", "Proposal not found"))
		return;
	if (strcmp(gx_pg_val(res, 0, "status"), "ACTIVE") != 0) {
		gx_reply_error(req, 409, "PROPOSAL_NOT_ACTIVE", "proposal is %s; votes are only taken while ACTIVE",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "open"), "t") != 0) {
		gx_reply_error(req, 409, "VOTING_CLOSED", "the voting period of this proposal has ended");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "voted"), "t") == 0) {
		gx_reply_error(req, 409, "ALREADY_VOTED", "you have already voted on this proposal");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "voter"), "t") != 0) {
		gx_reply_error(req, 409, "VOTER_NOT_ON_CHAIN", "your profile is not registered on chain yet");
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "proposalId", vt->proposal);
	cJSON_AddStringToObject(payload, "voterId", vt->voter);
	cJSON_AddStringToObject(payload, "vote", vt->choice);
	cmd = (struct gx_outbox_cmd){ .command_type = "CAST_VOTE", .aggregate_id = vt->proposal, .payload = payload };
	gx_outbox_submit(req, stmts, 2, &cmd, vote_conflicts, GX_ARRAY_LEN(vote_conflicts));
	cJSON_Delete(payload);
}

void votes_cast(struct gx_req *req)
{
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const char *id = gx_req_param(req, "proposalId");
	const cJSON *body = gx_req_body(req);
	const cJSON *vote;
	struct gx_verr *v;
	const char *choice;
	struct vote *vt;
	const char *params[3];

	if (!gx_valid_id(id)) {
		gx_reply_error(req, 404, "PROPOSAL_NOT_FOUND", "Proposal not found");
		return;
	}
	vote = cJSON_GetObjectItemCaseSensitive(body, "vote");
	if (!vote) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "proposalId and vote are required");
		return;
	}
	v = gx_verr_new();
	if (cJSON_IsBool(vote)) {
		choice = cJSON_IsTrue(vote) ? "FOR" : "AGAINST";
	} else {
		choice = cJSON_IsString(vote) ? vote->valuestring : NULL;
		if (!choice || !gx_valid_enum(choice, CHOICES))
			gx_verr_add(v, "vote", "must be true (FOR), false (AGAINST), FOR, AGAINST or ABSTAIN");
	}
	gx_valid_str(body, "reason", false, 0, 500, v);
	if (gx_svc_invalid(req, v))
		return;
	vt = gx_xcalloc(1, sizeof(*vt));
	vt->req = req;
	snprintf(vt->proposal, sizeof(vt->proposal), "%s", id);
	snprintf(vt->voter, sizeof(vt->voter), "%s", cl->sub);
	for (size_t i = 0; CHOICES[i]; i++)
		if (strcmp(choice, CHOICES[i]) == 0)
			vt->choice = CHOICES[i];
	gx_req_set_data(req, vt, free);
	params[0] = gx_req_tenant(req);
	params[1] = vt->proposal;
	params[2] = vt->voter;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_precheck), 3, params, on_precheck, vt) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the proposal query");
}
