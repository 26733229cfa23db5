/* Loans: apply (APPLY_FOR_LOAN; the loanId is made here and is the command's aggregate, so the 202 answer's
 * "aggregateId" is the loanId), approve (APPROVE_LOAN, admin, only from PENDING_APPROVAL), repay (REPAY_LOAN, the
 * borrower, only while ACTIVE) and the "Loan" read model. Statuses are the chain's and the projector's:
 * PENDING_APPROVAL -> ACTIVE -> REPAID (docs/chaincode.md §6.4). Read-model checks are fast rejections; the chain
 * decides. Bodies, statuses and messages follow the original backend (docs/compat.md, svc-loanpool): a loan is
 * {"loan": S3} with amounts as JSON numbers in coins and the exact integer-Qirat strings beside them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/rank.h"
#include "gx/rand.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "loan.h"

#define LOAN_COLS \
	"l.\"loanId\", l.\"borrowerId\", l.\"amountQirat\"::text AS \"amountQirat\"," \
	" l.\"repaidQirat\"::text AS \"repaidQirat\", l.\"status\", l.\"collateralHash\", l.\"approvedBy\"," \
	" " GX_SQL_ISO_TS("l.\"approvedAt\"") " AS \"approvedAt\", " GX_SQL_ISO_TS("l.\"disbursedAt\"") " AS \"disbursedAt\"," \
	" " GX_SQL_ISO_TS("l.\"repaidAt\"") " AS \"repaidAt\", " GX_SQL_ISO_TS("l.\"appliedAt\"") " AS \"appliedAt\"," \
	" " GX_SQL_ISO_TS("l.\"createdAt\"") " AS \"createdAt\", " GX_SQL_ISO_TS("l.\"updatedAt\"") " AS \"updatedAt\""

/* Defaults of docs/chaincode.md §5 when the read model has no row. */
#define LOAN_MIN_DEFAULT 10000000ULL
#define LOAN_MAX_DEFAULT 100000000000ULL

/* The borrower ("borrower" NULL: no live profile; f: not on chain yet) and the loan bounds. */
static const char SQL_APPLY[] =
	"SELECT (SELECT \"onchainStatus\" IS NOT NULL FROM \"UserProfile\" WHERE \"profileId\" = $2 AND \"tenantId\" = $1"
	"  AND \"deletedAt\" IS NULL) AS \"borrower\","
	" (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1 AND \"paramKey\" = 'loanMinimumAmount')"
	"  AS \"min\","
	" (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1 AND \"paramKey\" = 'loanMaximumAmount')"
	"  AS \"max\"";

/* One loan, whether a command of type $3 for it is accepted but not yet projected, the borrower's balance and role. */
static struct gx_outbox_store_sql sql_loan = {
	.tmpl = "SELECT " LOAN_COLS
		","
		" (SELECT p.\"role\"::text FROM \"UserProfile\" p WHERE p.\"profileId\" = l.\"borrowerId\") AS \"borrowerRole\","
		" %s AS \"inflight\","
		" (SELECT w.\"balanceQirat\"::text FROM \"Wallet\" w WHERE w.\"tenantId\" = $1 AND w.\"profileId\" = l.\"borrowerId\""
		"  AND w.\"deletedAt\" IS NULL ORDER BY w.\"createdAt\", w.\"walletId\" LIMIT 1) AS \"walletQirat\""
		" FROM \"Loan\" l WHERE l.\"loanId\" = $2 AND l.\"tenantId\" = $1",
	.probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_IN_FLIGHT,
		      .tenant = "$1",
		      .types = "$3::\"CommandType\"",
		      .fields = { { "loanId", "$2", false } } } }
};

/* One page of a borrower's loans, newest first; "total" on every row (the page may be empty: then loanId is
 * NULL on the one row). */
static const char SQL_LIST[] =
	"SELECT x.\"total\", l.* FROM (SELECT count(*) AS \"total\" FROM \"Loan\" WHERE \"tenantId\" = $1"
	"  AND \"borrowerId\" = $2 AND ($3::text IS NULL OR \"status\" = $3)) x"
	" LEFT JOIN LATERAL (SELECT " LOAN_COLS
	" FROM \"Loan\" l WHERE l.\"tenantId\" = $1 AND l.\"borrowerId\" = $2"
	"  AND ($3::text IS NULL OR l.\"status\" = $3) ORDER BY l.\"appliedAt\" DESC, l.\"loanId\""
	"  LIMIT $4::bigint OFFSET $5::bigint) l ON true";

static const char *const STATUSES[] = { "PENDING_APPROVAL", "ACTIVE", "REPAID", "DEFAULTED", "REJECTED", NULL };

struct loanop {
	struct gx_req *req;
	void (*step)(struct loanop *op, const PGresult *res);
	char loan_id[65];
	char caller[64];
	uint64_t amount; /* apply: requested; repay: requested (0 = the whole outstanding) */
	char *collateral;
	char *status; /* list filter or NULL */
	struct gx_valid_page page;
};

static void loanop_free(void *p)
{
	struct loanop *op = p;

	free(op->collateral);
	free(op->status);
	free(op);
}

static struct loanop *loanop_new(struct gx_req *req)
{
	struct loanop *op = gx_xcalloc(1, sizeof(*op));
	const struct gx_jwt_claims *cl = gx_req_claims(req);

	op->req = req;
	snprintf(op->caller, sizeof(op->caller), "%s", cl ? cl->sub : "");
	gx_req_set_data(req, op, loanop_free);
	return op;
}

/* name: the coin amount as a JSON number (as the original sent Loan.amount); name + "Qirat": the exact integer
 * string. -1 when cJSON is out of memory (logged). */
static int add_amount(cJSON *o, const char *name, uint64_t q)
{
	char key[32], digits[24];

	snprintf(key, sizeof(key), "%sQirat", name);
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)q);
	if (gx_money_add_number(o, name, q) < 0 || !cJSON_AddStringToObject(o, key, digits))
		return -1;
	return 0;
}

/* The Loan document of row: the original's S3 keys (collateralHash "" when null, approvedAt absent when null) and
 * ours. NULL when the read model holds an invalid amount. */
static cJSON *loan_json(const PGresult *res, int row)
{
	uint64_t amount, repaid;
	cJSON *o;

	if (gx_fee_parse_u64(gx_pg_val(res, row, "amountQirat"), &amount) < 0 ||
	    gx_fee_parse_u64(gx_pg_val(res, row, "repaidQirat"), &repaid) < 0 || repaid > amount)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "loanId", gx_pg_val(res, row, "loanId"));
	cJSON_AddStringToObject(o, "borrowerId", gx_pg_val(res, row, "borrowerId"));
	if (add_amount(o, "amount", amount) < 0 || add_amount(o, "repaid", repaid) < 0 ||
	    add_amount(o, "outstanding", amount - repaid) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddStringToObject(o, "status", gx_pg_val(res, row, "status"));
	cJSON_AddStringToObject(o, "collateralHash",
				gx_pg_isnull(res, row, "collateralHash") ? "" : gx_pg_val(res, row, "collateralHash"));
	gx_svc_add_text(o, "approvedBy", res, row, "approvedBy");
	if (!gx_pg_isnull(res, row, "approvedAt"))
		cJSON_AddStringToObject(o, "approvedAt", gx_pg_val(res, row, "approvedAt"));
	gx_svc_add_text(o, "disbursedAt", res, row, "disbursedAt");
	gx_svc_add_text(o, "repaidAt", res, row, "repaidAt");
	gx_svc_add_text(o, "appliedAt", res, row, "appliedAt");
	gx_svc_add_text(o, "createdAt", res, row, "createdAt");
	gx_svc_add_text(o, "updatedAt", res, row, "updatedAt");
	return o;
}

/* The payload start of APPLY_FOR_LOAN and REPAY_LOAN: the loan, the caller as borrower and op->amount in Qirat.
 * Caller owns. */
static cJSON *amount_payload(const struct loanop *op)
{
	cJSON *payload = cJSON_CreateObject();
	char q[24];

	snprintf(q, sizeof(q), "%llu", (unsigned long long)op->amount);
	cJSON_AddStringToObject(payload, "loanId", op->loan_id);
	cJSON_AddStringToObject(payload, "borrowerId", op->caller);
	cJSON_AddStringToObject(payload, "amount", q);
	return payload;
}

static void submit(struct loanop *op, const char *type, cJSON *payload)
{
	gx_svc_enqueue(op->req, type, op->loan_id, payload);
}

/* ---- POST /api/v1/loans ---- */

static void on_apply(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct loanop *op = arg;
	struct gx_req *req = op->req;
	uint64_t min = LOAN_MIN_DEFAULT, max = LOAN_MAX_DEFAULT;
	cJSON *payload;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (gx_pg_isnull(res, 0, "borrower")) {
		gx_reply_error(req, 400, "BORROWER_NOT_FOUND", "Borrower not found");
		return;
	}
	if (!gx_svc_true(res, 0, "borrower")) {
		gx_reply_error(req, 409, "BORROWER_NOT_ON_CHAIN", "the borrower is not registered on chain yet");
		return;
	}
	if ((!gx_pg_isnull(res, 0, "min") && gx_fee_parse_u64(gx_pg_val(res, 0, "min"), &min) < 0) ||
	    (!gx_pg_isnull(res, 0, "max") && gx_fee_parse_u64(gx_pg_val(res, 0, "max"), &max) < 0)) {
		gx_reply_error(req, 500, "INTERNAL", "the loan bounds in SystemParameter are invalid");
		return;
	}
	if (op->amount < min || op->amount > max) {
		char lo[GX_MONEY_FMT_LEN], hi[GX_MONEY_FMT_LEN];

		gx_money_format(min, lo);
		gx_money_format(max, hi);
		gx_svc_reply_invalid(req, "amount", "must be between %s and %s", lo, hi);
		return;
	}
	if (gx_uuid_v4(op->loan_id) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate a loan id");
		return;
	}
	payload = amount_payload(op);
	cJSON_AddStringToObject(payload, "collateralHash", op->collateral);
	submit(op, "APPLY_FOR_LOAN", payload);
}

static bool lower_hex64(const char *s)
{
	if (!gx_valid_hex64(s))
		return false;
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return false;
	return true;
}

/* JavaScript falsiness of a body field, the original's "required" test: absent, null, false, 0 or "". */
static bool falsy(const cJSON *v)
{
	return !v || cJSON_IsNull(v) || cJSON_IsFalse(v) || (cJSON_IsNumber(v) && v->valuedouble == 0) ||
	       (cJSON_IsString(v) && v->valuestring[0] == '\0');
}

/* A negative amount, as the original's "amount <= 0" saw it: a negative number or a numeric string with a sign. */
static bool negative(const cJSON *v)
{
	return (cJSON_IsNumber(v) && v->valuedouble < 0) || (cJSON_IsString(v) && v->valuestring[0] == '-');
}

/* The original's checks in its order (required, self, amount > 0), then ours (amount format, collateral hash). */
void loans_apply(struct gx_req *req)
{
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const cJSON *body = gx_req_body(req);
	const cJSON *b = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, "borrowerId") : NULL;
	struct gx_verr *v;
	const char *borrower, *coll;
	uint64_t amount = 0;
	struct loanop *op;
	const char *params[2];

	if ((b && falsy(b)) || falsy(cJSON_GetObjectItemCaseSensitive(body, "amount")) ||
	    falsy(cJSON_GetObjectItemCaseSensitive(body, "collateralHash"))) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "borrowerId, amount, and collateralHash are required");
		return;
	}
	v = gx_verr_new();
	borrower = gx_valid_str(body, "borrowerId", false, 1, 64, v);
	if (gx_verr_count(v) == 0 && borrower && strcmp(borrower, cl->sub) != 0) {
		gx_verr_free(v);
		gx_reply_error(req, 403, "FORBIDDEN", "You can only apply for loans for yourself");
		return;
	}
	if (negative(cJSON_GetObjectItemCaseSensitive(body, "amount"))) {
		gx_verr_free(v);
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Amount must be greater than 0");
		return;
	}
	gx_valid_amount(body, "amount", true, &amount, v);
	coll = gx_valid_str(body, "collateralHash", true, 64, 64, v);
	if (coll && !lower_hex64(coll))
		gx_verr_add(v, "collateralHash", "must be 64 lower-case hex characters (SHA-256)");
	if (gx_svc_invalid(req, v))
		return;
	op = loanop_new(req);
	op->amount = amount;
	op->collateral = gx_xstrdup(coll);
	params[0] = gx_req_tenant(req);
	params[1] = op->caller;
	if (gx_pg_query(gx_req_pg(req), SQL_APPLY, 2, params, on_apply, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the borrower query");
}

/* ---- one loan: load it, then a step ---- */

static void on_loan(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct loanop *op = arg;

	if (!gx_svc_found(op->req, res, err, "LOAN_NOT_FOUND", "Loan not found"))
		return;
	op->step(op, res);
}

static void loan_load(struct gx_req *req, struct loanop *op, const char *inflight_type)
{
	const char *id = gx_req_param(req, "loanId");
	const char *params[3];

	if (!gx_valid_id(id)) {
		gx_reply_error(req, 404, "LOAN_NOT_FOUND", "Loan not found");
		return;
	}
	snprintf(op->loan_id, sizeof(op->loan_id), "%s", id);
	params[0] = gx_req_tenant(req);
	params[1] = op->loan_id;
	params[2] = inflight_type;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_loan), 3, params, on_loan, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the loan query");
}

/* ---- GET /api/v1/loans/{loanId} ---- */

static void get_step(struct loanop *op, const PGresult *res)
{
	cJSON *o, *body;

	if (!gx_req_may_access(op->req, gx_pg_val(res, 0, "borrowerId"))) {
		gx_reply_error(op->req, 403, "FORBIDDEN", "You can only view your own loans");
		return;
	}
	o = loan_json(res, 0);
	if (!o) {
		gx_reply_error(op->req, 500, "INTERNAL", "the loan read model holds an invalid amount");
		return;
	}
	body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "loan", o);
	gx_reply_json(op->req, 200, body);
}

void loans_get(struct gx_req *req)
{
	struct loanop *op = loanop_new(req);

	op->step = get_step;
	loan_load(req, op, "APPLY_FOR_LOAN");
}

/* ---- POST /api/v1/loans/{loanId}/approve ---- */

static void approve_step(struct loanop *op, const PGresult *res)
{
	cJSON *payload;

	if (strcmp(gx_pg_val(res, 0, "status"), "PENDING_APPROVAL") != 0) {
		gx_reply_error(op->req, 400, "LOAN_NOT_PENDING", "Loan cannot be approved. Current status: %s",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	if (gx_svc_true(res, 0, "inflight")) {
		gx_reply_error(op->req, 409, "APPROVAL_IN_PROGRESS", "an approval of this loan is in progress");
		return;
	}
	/* four eyes: the borrower never approves their own loan, whatever their role */
	if (strcmp(gx_pg_val(res, 0, "borrowerId"), op->caller) == 0) {
		gx_reply_error(op->req, 403, "SELF_APPROVAL", "a loan cannot be approved by its borrower");
		return;
	}
	/* rank: an admin's loan is decided by a SUPER_ADMIN (docs/security.md "Ranks") */
	if (gx_rank_require(op->req, gx_pg_val(res, 0, "borrowerId"),
			    gx_pg_isnull(res, 0, "borrowerRole") ? NULL : gx_pg_val(res, 0, "borrowerRole"), false,
			    "approve the loan of") < 0)
		return;
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "loanId", op->loan_id);
	cJSON_AddStringToObject(payload, "approvedBy", op->caller);
	submit(op, "APPROVE_LOAN", payload);
}

void loans_approve(struct gx_req *req)
{
	struct loanop *op = loanop_new(req);

	op->step = approve_step;
	loan_load(req, op, "APPROVE_LOAN");
}

/* ---- POST /api/v1/loans/{loanId}/repay ---- */

static void repay_step(struct loanop *op, const PGresult *res)
{
	uint64_t amount, repaid, outstanding, balance = 0;
	char c[GX_MONEY_FMT_LEN];

	if (strcmp(gx_pg_val(res, 0, "borrowerId"), op->caller) != 0) {
		gx_reply_error(op->req, 403, "FORBIDDEN", "only the borrower can repay this loan");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "status"), "ACTIVE") != 0) {
		gx_reply_error(op->req, 409, "LOAN_NOT_ACTIVE", "loan is %s; only an ACTIVE loan can be repaid",
			       gx_pg_val(res, 0, "status"));
		return;
	}
	if (gx_fee_parse_u64(gx_pg_val(res, 0, "amountQirat"), &amount) < 0 ||
	    gx_fee_parse_u64(gx_pg_val(res, 0, "repaidQirat"), &repaid) < 0 || repaid > amount ||
	    (!gx_pg_isnull(res, 0, "walletQirat") &&
	     gx_fee_parse_u64(gx_pg_val(res, 0, "walletQirat"), &balance) < 0)) {
		gx_reply_error(op->req, 500, "INTERNAL", "the loan read model holds an invalid amount");
		return;
	}
	outstanding = amount - repaid;
	if (op->amount == 0)
		op->amount = outstanding;
	if (op->amount > outstanding) {
		gx_money_format(outstanding, c);
		gx_svc_reply_invalid(op->req, "amount", "must not exceed the outstanding %s", c);
		return;
	}
	if (balance < op->amount) {
		gx_money_format(balance, c);
		gx_reply_error(op->req, 409, "INSUFFICIENT_BALANCE", "insufficient balance: available %s", c);
		return;
	}
	submit(op, "REPAY_LOAN", amount_payload(op));
}

void loans_repay(struct gx_req *req)
{
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	uint64_t amount = 0;
	struct loanop *op;

	gx_valid_amount(body, "amount", false, &amount, v);
	if (gx_svc_invalid(req, v))
		return;
	op = loanop_new(req);
	op->step = repay_step;
	op->amount = amount;
	loan_load(req, op, "REPAY_LOAN");
}

/* ---- GET /api/v1/users/{borrowerId}/loans ---- */

static void on_list(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct loanop *op = arg;
	cJSON *items;

	if (err) {
		gx_reply_pg_error(op->req, err);
		return;
	}
	items = cJSON_CreateArray();
	for (int i = 0; i < PQntuples(res) && !gx_pg_isnull(res, i, "loanId"); i++) {
		cJSON *l = loan_json(res, i);

		if (!l) {
			cJSON_Delete(items);
			gx_reply_error(op->req, 500, "INTERNAL", "the loan read model holds an invalid amount");
			return;
		}
		cJSON_AddItemToArray(items, l);
	}
	gx_svc_reply_list(op->req, "loans", items, gx_svc_total(res), &op->page);
}

void loans_list(struct gx_req *req)
{
	const char *borrower = gx_req_param(req, "borrowerId"), *status = gx_req_query(req, "status");
	struct gx_verr *v = gx_verr_new();
	struct gx_valid_page page;
	struct loanop *op;
	const char *params[5];

	gx_svc_paging(req, 100, 20, &page, v);
	if (status && !gx_valid_enum(status, STATUSES))
		gx_verr_add(v, "status", "must be one of PENDING_APPROVAL, ACTIVE, REPAID, DEFAULTED, REJECTED");
	if (gx_svc_invalid(req, v))
		return;
	if (!gx_req_may_access(req, borrower)) {
		gx_reply_error(req, 403, "FORBIDDEN", "You can only view your own loans");
		return;
	}
	op = loanop_new(req);
	op->page = page;
	op->status = status ? gx_xstrdup(status) : NULL;
	snprintf(op->loan_id, sizeof(op->loan_id), "%s", borrower);
	params[0] = gx_req_tenant(req);
	params[1] = op->loan_id;
	params[2] = op->status;
	params[3] = op->page.limit_s;
	params[4] = op->page.offset_s;
	if (gx_pg_query(gx_req_pg(req), SQL_LIST, 5, params, on_list, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the loan list query");
}
