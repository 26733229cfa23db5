/* Multi-signature organization transfers: initiate (INITIATE_MULTISIG_TX; the pendingTxId is made here and is the
 * command's aggregate, so the 202 answer's "aggregateId" and "pendingTxId" name it), approve (APPROVE_MULTISIG_TX,
 * once per listed approver and never by the initiator: four eyes; the approval that reaches the threshold executes
 * the transfer on chain) and the pending list from the
 * "MultiSigTransaction" read model (status PENDING | EXECUTED as the projector writes it), with the original's item
 * keys (txId, amount as a JSON number) beside ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/outbox_store.h"
#include "gx/svc.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/valid.h"
#include "org.h"

/* The organization and the receiver ($3): "receiver" is NULL when no live profile has that id. */
static const char SQL_INITIATE[] =
	"SELECT o.\"status\", o.\"stakeholders\"::text AS \"stakeholders\", o.\"balanceQirat\"::text AS \"balanceQirat\","
	" (SELECT p.\"onchainStatus\" IS NOT NULL FROM \"UserProfile\" p WHERE p.\"profileId\" = $3"
	"  AND p.\"tenantId\" = $1 AND p.\"deletedAt\" IS NULL) AS \"receiver\""
	" FROM \"Organization\" o WHERE o.\"orgId\" = $2 AND o.\"tenantId\" = $1";

/* The pending transaction (its initiator, listed approvers and recorded approvals), and whether caller $3 has an
 * approval accepted but not yet projected. */
static struct gx_outbox_store_sql sql_approve = {
	.tmpl = "SELECT m.\"status\", m.\"proposerId\", m.\"params\"->'approverIDs' AS \"approverIds\","
		" COALESCE(m.\"approvers\", '[]')::text AS \"approvals\","
		" %s AS \"inflight\""
		" FROM \"MultiSigTransaction\" m WHERE m.\"txId\" = $2 AND m.\"tenantId\" = $1",
	.probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_IN_FLIGHT,
		      .tenant = "$1",
		      .types = "'APPROVE_MULTISIG_TX'",
		      .fields = { { "pendingTxId", "$2", false }, { "userId", "$3", false } } } }
};

/* One page of the organization's PENDING transactions (newest first) with the total; the first row carries
 * "org" (does the organization exist) and "total" even when the page is empty (then "txId" is NULL). */
static const char SQL_PENDING[] =
	"SELECT x.\"org\", x.\"total\", m.* FROM (SELECT EXISTS (SELECT 1 FROM \"Organization\" WHERE \"orgId\" = $2"
	"  AND \"tenantId\" = $1) AS \"org\", (SELECT count(*) FROM \"MultiSigTransaction\" WHERE \"orgId\" = $2"
	"  AND \"tenantId\" = $1 AND \"status\" = 'PENDING') AS \"total\") x"
	" LEFT JOIN LATERAL (SELECT \"txId\", \"orgId\", \"proposerId\", \"toId\", \"amountQirat\"::text AS \"amountQirat\","
	"  \"remark\", \"status\", \"requiredSignatures\", \"currentSignatures\","
	"  COALESCE(\"params\"->'approverIDs', '[]')::text AS \"approverIds\","
	"  COALESCE(\"approvers\", '[]')::text AS \"approvals\", " GX_SQL_ISO_TS("\"createdAt\"") " AS \"createdAt\""
	"  FROM \"MultiSigTransaction\" WHERE \"orgId\" = $2 AND \"tenantId\" = $1 AND \"status\" = 'PENDING'"
	"  ORDER BY \"createdAt\" DESC, \"txId\" LIMIT $3::bigint OFFSET $4::bigint) m ON true";

struct msop {
	struct gx_req *req;
	char tx_id[37]; /* initiate: the new pendingTxId */
	char *id;       /* orgId (initiate, pending) or pendingTxId (approve) */
	char caller[64];
	char *to;
	char *remark;
	uint64_t amount;
	struct gx_valid_page page;
};

static void msop_free(void *p)
{
	struct msop *op = p;

	free(op->id);
	free(op->to);
	free(op->remark);
	free(op);
}

static struct msop *msop_new(struct gx_req *req, const char *id)
{
	struct msop *op = gx_xcalloc(1, sizeof(*op));
	const struct gx_jwt_claims *cl = gx_req_claims(req);

	op->req = req;
	op->id = gx_xstrdup(id ? id : "");
	if (cl)
		snprintf(op->caller, sizeof(op->caller), "%s", cl->sub);
	gx_req_set_data(req, op, msop_free);
	return op;
}

/* ---- POST /api/v1/organizations/{orgId}/transactions ---- */

static void on_initiate(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct msop *op = arg;
	struct gx_req *req = op->req;
	cJSON *stake, *payload;
	uint64_t balance;
	bool member;
	char q[24];

	if (!gx_svc_found(req, res, err, "ORG_NOT_FOUND", ORG_NOT_FOUND_MSG))
		return;
	stake = org_json_col(gx_pg_val(res, 0, "stakeholders"));
	member = org_json_has(stake, op->caller);
	cJSON_Delete(stake);
	if (!member) {
		gx_reply_error(req, 403, "FORBIDDEN",
			       "only a stakeholder can initiate a transaction of this organization");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "status"), "ACTIVE") != 0) {
		gx_reply_error(req, 409, "ORG_NOT_ACTIVE",
			       "organization is %s; transactions need an ACTIVE organization",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	if (gx_pg_isnull(res, 0, "receiver")) {
		gx_reply_error(req, 404, "RECEIVER_NOT_FOUND", "the receiver was not found");
		return;
	}
	if (!gx_svc_true(res, 0, "receiver")) {
		gx_reply_error(req, 409, "RECEIVER_NOT_ON_CHAIN", "the receiver is not registered on chain yet");
		return;
	}
	if (gx_fee_parse_u64(gx_pg_val(res, 0, "balanceQirat"), &balance) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "the organization read model holds an invalid balance");
		return;
	}
	if (balance < op->amount) {
		char have[GX_MONEY_FMT_LEN];

		gx_money_format(balance, have);
		gx_reply_error(req, 409, "INSUFFICIENT_BALANCE", "the organization's balance is %s", have);
		return;
	}
	if (gx_uuid_v4(op->tx_id) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate a transaction id");
		return;
	}
	snprintf(q, sizeof(q), "%llu", (unsigned long long)op->amount);
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "pendingTxId", op->tx_id);
	cJSON_AddStringToObject(payload, "orgId", op->id);
	cJSON_AddStringToObject(payload, "initiatorId", op->caller);
	cJSON_AddStringToObject(payload, "toUserId", op->to);
	cJSON_AddStringToObject(payload, "amount", q);
	cJSON_AddStringToObject(payload, "remark", op->remark);
	gx_svc_enqueue(req, "INITIATE_MULTISIG_TX", op->tx_id, payload);
}

/* The original's "amount <= 0": a number or a numeric string (JS compares both as numbers) that is not above 0. */
static bool not_positive(const cJSON *a)
{
	char *end;
	double d;

	if (cJSON_IsNumber(a))
		return a->valuedouble <= 0;
	if (!cJSON_IsString(a) || !a->valuestring[0])
		return false;
	d = strtod(a->valuestring, &end);
	return *end == '\0' && d <= 0;
}

void multisig_initiate(struct gx_req *req)
{
	const char *org = gx_req_param(req, "orgId");
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v;
	const char *to, *remark;
	uint64_t amount = 0;
	struct msop *op;
	const char *params[3];

	if (!gx_valid_id(org)) {
		gx_reply_error(req, 404, "ORG_NOT_FOUND", ORG_NOT_FOUND_MSG);
		return;
	}
	/* the original's two checks, with its texts */
	if (!org_truthy(cJSON_GetObjectItemCaseSensitive(body, "toUserId")) ||
	    !org_truthy(cJSON_GetObjectItemCaseSensitive(body, "amount"))) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "orgId, toUserId, and amount are required");
		return;
	}
	if (not_positive(cJSON_GetObjectItemCaseSensitive(body, "amount"))) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Amount must be greater than 0");
		return;
	}
	v = gx_verr_new();
	to = gx_valid_str(body, "toUserId", true, 1, 64, v);
	if (to && !gx_valid_id(to))
		gx_verr_add(v, "toUserId", "must be a user id");
	else if (to && strcmp(to, org) == 0)
		gx_verr_add(v, "toUserId", "must differ from the organization");
	gx_valid_amount(body, "amount", true, &amount, v);
	remark = gx_valid_str(body, "remark", false, 0, 200, v);
	if (remark && strlen(remark) > 500)
		gx_verr_add(v, "remark", "must be at most 500 bytes");
	if (gx_svc_invalid(req, v))
		return;
	op = msop_new(req, org);
	op->to = gx_xstrdup(to);
	op->remark = gx_xstrdup(remark ? remark : "");
	op->amount = amount;
	params[0] = gx_req_tenant(req);
	params[1] = op->id;
	params[2] = op->to;
	if (gx_pg_query(gx_req_pg(req), SQL_INITIATE, 3, params, on_initiate, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the organization query");
}

/* ---- POST /api/v1/transactions/{pendingTxId}/approve ---- */

static void on_approve(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct msop *op = arg;
	struct gx_req *req = op->req;
	cJSON *approvers, *approvals, *payload;
	bool allowed, done;

	if (!gx_svc_found(req, res, err, "TRANSACTION_NOT_FOUND", "multi-signature transaction not found"))
		return;
	if (strcmp(gx_pg_val(res, 0, "status"), "PENDING") != 0) {
		gx_reply_error(req, 409, "TRANSACTION_NOT_PENDING", "transaction is %s, not PENDING",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	/* four eyes: the initiator never approves their own transaction (their request is not an approval either,
	 * as on chain: every one of the requiredApprovals comes from another listed approver) */
	if (strcmp(gx_pg_val(res, 0, "proposerId"), op->caller) == 0) {
		gx_reply_error(req, 403, "SELF_APPROVAL", "a transaction cannot be approved by its initiator");
		return;
	}
	/* only a listed approver of this transaction counts, whatever their role or stake in the organization */
	approvers = org_json_col(gx_pg_val(res, 0, "approverIds"));
	approvals = org_json_col(gx_pg_val(res, 0, "approvals"));
	allowed = org_json_has(approvers, op->caller);
	done = org_json_has(approvals, op->caller) || gx_svc_true(res, 0, "inflight");
	cJSON_Delete(approvers);
	cJSON_Delete(approvals);
	if (!allowed) {
		gx_reply_error(req, 403, "FORBIDDEN", "you are not an approver of this transaction");
		return;
	}
	/* once: a recorded approval or one in flight; the chain refuses a duplicate that races past this check */
	if (done) {
		gx_reply_error(req, 409, "ALREADY_APPROVED", "you have already approved this transaction");
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "pendingTxId", op->id);
	cJSON_AddStringToObject(payload, "userId", op->caller);
	gx_svc_enqueue(req, "APPROVE_MULTISIG_TX", op->id, payload);
}

void multisig_approve(struct gx_req *req)
{
	const char *id = gx_req_param(req, "pendingTxId");
	struct msop *op;
	const char *params[3];

	if (!gx_valid_id(id)) {
		gx_reply_error(req, 404, "TRANSACTION_NOT_FOUND", "multi-signature transaction not found");
		return;
	}
	op = msop_new(req, id);
	params[0] = gx_req_tenant(req);
	params[1] = op->id;
	params[2] = op->caller;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_approve), 3, params, on_approve, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the transaction query");
}

/* ---- GET /api/v1/organizations/{orgId}/transactions/pending ---- */

static void on_pending(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct msop *op = arg;
	struct gx_req *req = op->req;
	cJSON *items;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) == 0 || !gx_svc_true(res, 0, "org")) {
		gx_reply_error(req, 404, "ORG_NOT_FOUND", ORG_NOT_FOUND_MSG);
		return;
	}
	items = cJSON_CreateArray();
	for (int i = 0; i < PQntuples(res); i++) {
		uint64_t q;
		cJSON *t;

		if (gx_pg_isnull(res, i, "txId"))
			break;
		t = cJSON_CreateObject();
		cJSON_AddItemToArray(items, t);
		/* the original's keys: txId, orgId, amount (a JSON number of coins), remark, status */
		cJSON_AddStringToObject(t, "txId", gx_pg_val(res, i, "txId"));
		cJSON_AddStringToObject(t, "orgId", gx_pg_val(res, i, "orgId"));
		if (gx_fee_parse_u64(gx_pg_val(res, i, "amountQirat"), &q) < 0 ||
		    gx_money_add_number(t, "amount", q) < 0) {
			cJSON_Delete(items);
			/* the original's text (the reply logs it with the request id) */
			gx_reply_error(req, 500, "INTERNAL", "Failed to fetch pending transactions");
			return;
		}
		/* ours */
		cJSON_AddStringToObject(t, "amountQirat", gx_pg_val(res, i, "amountQirat"));
		cJSON_AddStringToObject(t, "pendingTxId", gx_pg_val(res, i, "txId"));
		cJSON_AddStringToObject(t, "initiatorId", gx_pg_val(res, i, "proposerId"));
		cJSON_AddStringToObject(t, "toUserId", gx_pg_val(res, i, "toId"));
		cJSON_AddStringToObject(t, "remark", gx_pg_val(res, i, "remark"));
		cJSON_AddNumberToObject(t, "approvalCount", atoi(gx_pg_val(res, i, "currentSignatures")));
		cJSON_AddNumberToObject(t, "requiredApprovals", atoi(gx_pg_val(res, i, "requiredSignatures")));
		cJSON_AddItemToObject(t, "approverIds", org_json_col(gx_pg_val(res, i, "approverIds")));
		cJSON_AddItemToObject(t, "approvals", org_json_col(gx_pg_val(res, i, "approvals")));
		cJSON_AddStringToObject(t, "status", gx_pg_val(res, i, "status"));
		cJSON_AddStringToObject(t, "createdAt", gx_pg_val(res, i, "createdAt"));
	}
	gx_svc_reply_list(req, "pendingTransactions", items, gx_svc_total(res), &op->page);
}

void multisig_pending(struct gx_req *req)
{
	const char *org = gx_req_param(req, "orgId");
	struct gx_verr *v = gx_verr_new();
	struct gx_valid_page page;
	struct msop *op;
	const char *params[4];

	if (gx_svc_paging(req, 100, 20, &page, v) < 0) {
		gx_reply_verr(req, v);
		return;
	}
	gx_verr_free(v);
	if (!gx_valid_id(org)) {
		gx_reply_error(req, 404, "ORG_NOT_FOUND", ORG_NOT_FOUND_MSG);
		return;
	}
	op = msop_new(req, org);
	op->page = page;
	params[0] = gx_req_tenant(req);
	params[1] = op->id;
	params[2] = op->page.limit_s;
	params[3] = op->page.offset_s;
	if (gx_pg_query(gx_req_pg(req), SQL_PENDING, 4, params, on_pending, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the pending-transactions query");
}
