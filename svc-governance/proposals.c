/* Proposals: submit (SUBMIT_PROPOSAL; the proposalId is made here and is the command's aggregate, so the 202
 * answer's "aggregateId" is the proposalId), list and get from the "Proposal" read model (statuses ACTIVE,
 * EXECUTED, REJECTED as the projector writes them), and execute (EXECUTE_PROPOSAL, admin, only when the voting
 * window is over and the votes pass the quorum and approval rules of docs/chaincode.md §5). A proposal changes one
 * system parameter; the target and value are checked against the parameter table of docs/chaincode.md §5 so the
 * chain never sees a proposal it would refuse. Bodies, statuses and messages follow the original backend
 * (docs/compat.md, svc-governance): its body {targetParam, newValue, proposerId} is enough (title made here when
 * absent), and a proposal is sent as {"proposal": {...}} with its forVotes / againstVotes beside ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/outbox_store.h"
#include "gx/params.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "gov.h"

#define PROPOSAL_COLS \
	"p.\"proposalId\", p.\"title\", p.\"description\", p.\"proposalType\", p.\"status\", p.\"proposerId\"," \
	" p.\"targetParam\", p.\"newValue\", p.\"votesFor\", p.\"votesAgainst\", p.\"votesAbstain\"," \
	" (p.\"status\" = 'ACTIVE' AND (p.\"votingEndsAt\" IS NULL OR p.\"votingEndsAt\" > now())) AS \"votingOpen\"," \
	" " GX_SQL_ISO_TS("p.\"createdAt\"") " AS \"createdAt\", " GX_SQL_ISO_TS("p.\"votingEndsAt\"") " AS \"votingEndsAt\"," \
	" " GX_SQL_ISO_TS("p.\"executedAt\"") " AS \"executedAt\", " GX_SQL_ISO_TS("p.\"updatedAt\"") " AS \"updatedAt\""

static const char SQL_ONE[] =
	"SELECT " PROPOSAL_COLS " FROM \"Proposal\" p WHERE p.\"proposalId\" = $2 AND p.\"tenantId\" = $1";

/* One page (oldest first, as the original listed them) with the total on every row; an empty page is one row
 * with proposalId NULL. */
static const char SQL_LIST[] =
	"SELECT x.\"total\", p.* FROM (SELECT count(*) AS \"total\" FROM \"Proposal\" WHERE \"tenantId\" = $1"
	"  AND ($2::text IS NULL OR \"status\" = $2)) x"
	" LEFT JOIN LATERAL (SELECT " PROPOSAL_COLS
	" FROM \"Proposal\" p WHERE p.\"tenantId\" = $1"
	"  AND ($2::text IS NULL OR p.\"status\" = $2) ORDER BY p.\"createdAt\", p.\"proposalId\""
	"  LIMIT $3::bigint OFFSET $4::bigint) p ON true";

/* What execution needs: the proposer, the tallies, whether the window is over, the decision parameters, the number of
 * users registered on chain, and whether an execution is accepted but not yet projected. */
static struct gx_outbox_store_sql sql_execute = {
	.tmpl = "SELECT p.\"status\", p.\"proposerId\", p.\"votesFor\", p.\"votesAgainst\", p.\"votesAbstain\","
		" (p.\"votingEndsAt\" IS NULL OR p.\"votingEndsAt\" <= now()) AS \"ended\","
		" (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1"
		"  AND \"paramKey\" = 'governanceQuorumPercentage') AS \"quorum\","
		" (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1"
		"  AND \"paramKey\" = 'governanceApprovalThreshold') AS \"approval\","
		" (SELECT count(*) FROM \"UserProfile\" WHERE \"tenantId\" = $1 AND \"onchainStatus\" IS NOT NULL) AS \"users\","
		" %s AS \"inflight\""
		" FROM \"Proposal\" p WHERE p.\"proposalId\" = $2 AND p.\"tenantId\" = $1",
	.probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_IN_FLIGHT,
		      .tenant = "$1",
		      .types = "'EXECUTE_PROPOSAL'",
		      .fields = { { "proposalId", "$2", false } } } }
};

static const char *const TYPES[] = { "PARAMETER_CHANGE", "FEATURE_ADDITION", "SYSTEM_UPGRADE", "POLICY_CHANGE", NULL };
/* PASSED: the original OpenAPI's name for proposals that passed, which are EXECUTED here. */
static const char *const STATUSES[] = { "ACTIVE", "EXECUTED", "PASSED", "REJECTED", "ALL", NULL };

struct propop {
	struct gx_req *req;
	char id[65];
	char caller[64];
	struct gx_valid_page page;
	char *status;
};

static void propop_free(void *p)
{
	struct propop *op = p;

	free(op->status);
	free(op);
}

static struct propop *propop_new(struct gx_req *req)
{
	struct propop *op = gx_xcalloc(1, sizeof(*op));
	const struct gx_jwt_claims *cl = gx_req_claims(req);

	op->req = req;
	snprintf(op->caller, sizeof(op->caller), "%s", cl ? cl->sub : "");
	gx_req_set_data(req, op, propop_free);
	return op;
}

/* ---- POST /api/v1/proposals ---- */

/* The proposed value: a canonical non-negative integer (string, or a JSON integer) within the rule's range.
 * Writes its canonical text to out; returns 0 or -1 with an issue added. */
static int read_value(const cJSON *val, const char *field, const struct gx_params_rule *rule, char out[24],
		      struct gx_verr *v)
{
	uint64_t n;

	if (!val || cJSON_IsNull(val)) {
		gx_verr_add(v, field, "is required");
		return -1;
	}
	if (cJSON_IsNumber(val)) {
		double d = val->valuedouble;

		if (d < 0 || d > 9007199254740991.0 || d != (double)(uint64_t)d) {
			gx_verr_add(v, field, "must be a non-negative integer (send large values as a string)");
			return -1;
		}
		n = (uint64_t)d;
	} else if (!cJSON_IsString(val) || gx_fee_parse_u64(val->valuestring, &n) < 0) {
		gx_verr_add(v, field, "must be a non-negative integer without sign or leading zeros");
		return -1;
	}
	if (rule && (n < rule->min || n > rule->max)) {
		gx_verr_add(v, field, "must be between %llu and %llu for %s", (unsigned long long)rule->min,
			    (unsigned long long)rule->max, rule->key);
		return -1;
	}
	snprintf(out, 24, "%llu", (unsigned long long)n);
	return 0;
}

/* The original's "required" test of a field (either spelling): absent, null, false or "". A JSON 0 is left to the
 * value check (0 is a valid parameter value for our clients). */
static bool missing(const cJSON *v)
{
	return !v || cJSON_IsNull(v) || cJSON_IsFalse(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0');
}

void proposals_submit(struct gx_req *req)
{
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const cJSON *body = gx_req_body(req);
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "proposerId");
	struct gx_verr *v;
	const char *title, *desc, *type, *proposer, *tf, *vf;
	const struct gx_params_rule *rule = NULL;
	const cJSON *target, *val;
	char id[37], value[24], made_title[128];
	cJSON *payload;

	target = gx_valid_either(body, "targetParameter", "targetParam", &tf);
	val = gx_valid_either(body, "proposedValue", "newValue", &vf);
	if (missing(target) || missing(val) || (p && missing(p))) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "targetParam, newValue, and proposerId are required");
		return;
	}
	v = gx_verr_new();
	proposer = gx_valid_str(body, "proposerId", false, 1, 64, v);
	if (gx_verr_count(v) == 0 && proposer && strcmp(proposer, cl->sub) != 0) {
		gx_verr_free(v);
		gx_reply_error(req, 403, "FORBIDDEN", "You can only submit proposals as yourself");
		return;
	}
	title = gx_valid_str(body, "title", false, 10, 200, v);
	if (title && strlen(title) > 200)
		gx_verr_add(v, "title", "must be at most 200 bytes");
	desc = gx_valid_str(body, "description", false, 50, 2000, v);
	if (desc && strlen(desc) > 2000)
		gx_verr_add(v, "description", "must be at most 2000 bytes");
	type = gx_valid_str(body, "proposalType", false, 1, 32, v);
	if (type && !gx_valid_enum(type, TYPES))
		gx_verr_add(v, "proposalType",
			    "must be one of PARAMETER_CHANGE, FEATURE_ADDITION, SYSTEM_UPGRADE, "
			    "POLICY_CHANGE");
	else if (type && strcmp(type, "PARAMETER_CHANGE") != 0)
		gx_verr_add(v, "proposalType", "only PARAMETER_CHANGE proposals can be executed on chain");
	if (!cJSON_IsString(target))
		gx_verr_add(v, tf, "must be a string");
	else if (!(rule = gx_params_find(target->valuestring)))
		gx_verr_add(v, tf, "unknown parameter");
	read_value(val, vf, rule, value, v);
	if (gx_svc_invalid(req, v))
		return;
	if (gx_uuid_v4(id) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate a proposal id");
		return;
	}
	if (!title) { /* the original's body has no title; the chain needs one */
		snprintf(made_title, sizeof(made_title), "Set %s to %s", rule->key, value);
		title = made_title;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "proposalId", id);
	cJSON_AddStringToObject(payload, "proposerId", cl->sub);
	cJSON_AddStringToObject(payload, "targetParam", rule->key);
	cJSON_AddStringToObject(payload, "newValue", value);
	cJSON_AddStringToObject(payload, "title", title);
	if (desc)
		cJSON_AddStringToObject(payload, "description", desc);
	gx_svc_enqueue(req, "SUBMIT_PROPOSAL", id, payload);
}

/* ---- reads ---- */

/* The proposal document: the original's keys (proposalId, proposerId, status, forVotes, againstVotes) and ours. */
static cJSON *proposal_json(const PGresult *res, int row)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "proposalId", gx_pg_val(res, row, "proposalId"));
	cJSON_AddStringToObject(o, "title", gx_pg_val(res, row, "title"));
	cJSON_AddStringToObject(o, "description", gx_pg_val(res, row, "description"));
	cJSON_AddStringToObject(o, "proposalType", gx_pg_val(res, row, "proposalType"));
	cJSON_AddStringToObject(o, "status", gx_pg_val(res, row, "status"));
	cJSON_AddStringToObject(o, "proposerId", gx_pg_val(res, row, "proposerId"));
	gx_svc_add_text(o, "targetParameter", res, row, "targetParam");
	gx_svc_add_text(o, "proposedValue", res, row, "newValue");
	cJSON_AddNumberToObject(o, "forVotes", atoi(gx_pg_val(res, row, "votesFor")));
	cJSON_AddNumberToObject(o, "againstVotes", atoi(gx_pg_val(res, row, "votesAgainst")));
	cJSON_AddNumberToObject(o, "votesFor", atoi(gx_pg_val(res, row, "votesFor")));
	cJSON_AddNumberToObject(o, "votesAgainst", atoi(gx_pg_val(res, row, "votesAgainst")));
	cJSON_AddNumberToObject(o, "votesAbstain", atoi(gx_pg_val(res, row, "votesAbstain")));
	cJSON_AddBoolToObject(o, "votingOpen", gx_svc_true(res, row, "votingOpen"));
	gx_svc_add_text(o, "votingStartedAt", res, row, "createdAt");
	gx_svc_add_text(o, "votingEndsAt", res, row, "votingEndsAt");
	gx_svc_add_text(o, "executedAt", res, row, "executedAt");
	gx_svc_add_text(o, "createdAt", res, row, "createdAt");
	gx_svc_add_text(o, "updatedAt", res, row, "updatedAt");
	return o;
}

static void on_one(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct propop *op = arg;
	cJSON *body;

	if (!gx_svc_found(op->req, res, err, "PROPOSAL_NOT_FOUND", "Proposal not found"))
		return;
	body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "proposal", proposal_json(res, 0));
	gx_reply_json(op->req, 200, body);
}

/* Run sql ($1 tenant, $2 the {proposalId} of the path) with cb; an id that cannot exist answers 404. */
static void proposal_query(struct gx_req *req, const char *sql, gx_pg_result_cb cb)
{
	const char *id = gx_req_param(req, "proposalId");
	struct propop *op;
	const char *params[2];

	if (!gx_valid_id(id)) {
		gx_reply_error(req, 404, "PROPOSAL_NOT_FOUND", "Proposal not found");
		return;
	}
	op = propop_new(req);
	snprintf(op->id, sizeof(op->id), "%s", id);
	params[0] = gx_req_tenant(req);
	params[1] = op->id;
	if (gx_pg_query(gx_req_pg(req), sql, 2, params, cb, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the proposal query");
}

void proposals_get(struct gx_req *req)
{
	proposal_query(req, SQL_ONE, on_one);
}

static void on_list(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct propop *op = arg;
	cJSON *items;

	if (err) {
		gx_reply_pg_error(op->req, err);
		return;
	}
	items = cJSON_CreateArray();
	for (int i = 0; i < PQntuples(res) && !gx_pg_isnull(res, i, "proposalId"); i++)
		cJSON_AddItemToArray(items, proposal_json(res, i));
	gx_svc_reply_list(op->req, "proposals", items, gx_svc_total(res), &op->page);
}

void proposals_list(struct gx_req *req)
{
	const char *status = gx_req_query(req, "status");
	struct gx_verr *v = gx_verr_new();
	struct gx_valid_page page;
	struct propop *op;
	const char *params[4];

	gx_svc_paging(req, 100, 20, &page, v);
	if (status && !gx_valid_enum(status, STATUSES))
		gx_verr_add(v, "status", "must be one of ACTIVE, EXECUTED, PASSED, REJECTED, ALL");
	if (gx_svc_invalid(req, v))
		return;
	op = propop_new(req);
	op->page = page;
	if (!status)
		status = "ACTIVE";
	if (strcmp(status, "PASSED") == 0)
		status = "EXECUTED";
	op->status = strcmp(status, "ALL") == 0 ? NULL : gx_xstrdup(status);
	params[0] = gx_req_tenant(req);
	params[1] = op->status;
	params[2] = op->page.limit_s;
	params[3] = op->page.offset_s;
	if (gx_pg_query(gx_req_pg(req), SQL_LIST, 4, params, on_list, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the proposal list query");
}

/* ---- POST /api/v1/proposals/{proposalId}/execute ---- */

/* Parameter column as a number in [0, 100], def when the read model has no row. -1 when invalid. */
static long long pct(const PGresult *res, const char *col, long long def)
{
	uint64_t n;

	if (gx_pg_isnull(res, 0, col))
		return def;
	if (gx_fee_parse_u64(gx_pg_val(res, 0, col), &n) < 0 || n > 100)
		return -1;
	return (long long)n;
}

static void on_execute(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct propop *op = arg;
	struct gx_req *req = op->req;
	long long f, a, ab, users, quorum, approval;
	cJSON *payload;

	if (!gx_svc_found(req, res, err, "PROPOSAL_NOT_FOUND", "Proposal not found"))
		return;
	if (strcmp(gx_pg_val(res, 0, "status"), "ACTIVE") != 0) {
		gx_reply_error(req, 409, "PROPOSAL_NOT_ACTIVE", "proposal is %s, not ACTIVE",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	/* four eyes: the proposer never executes their own proposal, whatever their role */
	if (strcmp(gx_pg_val(res, 0, "proposerId"), op->caller) == 0) {
		gx_reply_error(req, 403, "SELF_APPROVAL", "a proposal cannot be executed by its proposer");
		return;
	}
	if (!gx_svc_true(res, 0, "ended")) {
		gx_reply_error(req, 409, "VOTING_NOT_ENDED", "the voting period of this proposal has not ended");
		return;
	}
	if (gx_svc_true(res, 0, "inflight")) {
		gx_reply_error(req, 409, "EXECUTION_IN_PROGRESS", "an execution of this proposal is in progress");
		return;
	}
	f = atoll(gx_pg_val(res, 0, "votesFor"));
	a = atoll(gx_pg_val(res, 0, "votesAgainst"));
	ab = atoll(gx_pg_val(res, 0, "votesAbstain"));
	users = atoll(gx_pg_val(res, 0, "users"));
	quorum = pct(res, "quorum", 10);
	approval = pct(res, "approval", 66);
	if (quorum < 0 || approval < 0) {
		gx_reply_error(req, 500, "INTERNAL", "the governance parameters in SystemParameter are invalid");
		return;
	}
	if ((f + a + ab) * 100 < quorum * users) {
		gx_reply_error(req, 422, "PROPOSAL_NOT_PASSED",
			       "quorum not reached: %lld of %lld registered users voted, "
			       "%lld%% needed",
			       f + a + ab, users, quorum);
		return;
	}
	if (f < 1 || f * 100 < approval * (f + a)) {
		gx_reply_error(req, 422, "PROPOSAL_NOT_PASSED",
			       "approval threshold not reached: %lld for, %lld against, "
			       "%lld%% needed",
			       f, a, approval);
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "proposalId", op->id);
	cJSON_AddStringToObject(payload, "executedBy", op->caller);
	gx_svc_enqueue(req, "EXECUTE_PROPOSAL", op->id, payload);
}

void proposals_execute(struct gx_req *req)
{
	proposal_query(req, gx_outbox_store_sql_text(&sql_execute), on_execute);
}
