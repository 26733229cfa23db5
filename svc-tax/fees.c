/* POST /api/v1/fees/calculate (public, rate limited): the fee of a transaction by the one fee rule
 * (gx_fee_compute, docs/chaincode.md §4) with the parameters from "SystemParameter", which each worker caches for
 * FEE_PARAMS_CACHE. Loan repayments pay no fee.
 *
 * Units are the original backend's (docs/compat.md, svc-tax): "amount" is a JSON integer in Qirat and the answer's
 * "fee" a JSON number in Qirat. New clients send the exact "amountQirat" (integer string) or "amountCoins" (coins,
 * as everywhere else in this API) instead, and read the exact strings "...Qirat" / "...Coins" of the answer. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gx/money.h"

#include "gx/http.h"
#include "gx/svc.h"
#include "gx/util.h"
#include "gx/valid.h"
#include "tax.h"

static const char SQL_FEE_PARAMS[] =
	"SELECT \"paramKey\", \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1"
	" AND \"paramKey\" IN ('" GX_FEE_PARAM_BPS "', '" GX_FEE_PARAM_THRESHOLD "', '" GX_FEE_PARAM_MAX "')";

static const char *const TX_TYPES[] = { "TRANSFER", "MULTISIG", "LOAN_REPAYMENT", NULL };

struct quote {
	struct gx_req *req;
	uint64_t amount;     /* Qirat */
	const char *tx_type; /* one of TX_TYPES (static) */
};

static void reply_quote(struct gx_req *req, uint64_t amount, const char *tx_type, const struct gx_fee_params *p)
{
	struct gx_fee_result r;
	char pct[16];
	cJSON *o;

	if (strcmp(tx_type, "LOAN_REPAYMENT") == 0) {
		/* docs/chaincode.md §4: loan repayments pay no fee */
		r.fee = 0;
		r.total = amount;
		r.tier = "EXEMPT";
		r.bps_applied = 0;
	} else if (gx_fee_compute(amount, p, &r) < 0) {
		gx_svc_reply_invalid(req, "amount", "amount plus fee exceeds the largest representable amount");
		return;
	}
	amount_percent(r.bps_applied, pct, sizeof(pct));
	o = cJSON_CreateObject();
	amount_add_qirat(o, "fee", r.fee);
	amount_add_qirat(o, "amount", amount);
	cJSON_AddStringToObject(o, "feePercentage", pct);
	cJSON_AddNumberToObject(o, "feeBps", r.bps_applied);
	amount_add_qirat(o, "total", r.total);
	cJSON_AddStringToObject(o, "tier", r.tier);
	cJSON_AddStringToObject(o, "transactionType", tx_type);
	gx_reply_json(req, 200, o);
}

static void on_params(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct quote *q = arg;
	struct gx_req *req = q->req;
	struct tax_worker *w = gx_req_worker(req);
	struct gx_fee_params p;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	gx_fee_params_init(&p);
	for (int i = 0; i < PQntuples(res); i++) {
		if (gx_fee_params_set(&p, gx_pg_val(res, i, "paramKey"), gx_pg_val(res, i, "paramValue")) < 0) {
			gx_reply_error(req, 500, "INTERNAL", "system parameter %s holds an invalid value",
				       gx_pg_val(res, i, "paramKey"));
			return;
		}
	}
	w->fee = p;
	w->fee_loaded_us = gx_mono_us();
	w->fee_valid = true;
	reply_quote(req, q->amount, q->tx_type, &p);
}

/* The largest integer a JSON number carries exactly (2^53 - 1); larger amounts go in amountQirat. */
#define EXACT_NUMBER_MAX 9007199254740991.0

/* One amount of the request into *q (true), or false with the reply sent. The original's "amount" (JSON integer,
 * Qirat) with its two messages, or our exact "amountQirat" / "amountCoins"; when several are sent they must agree. */
static bool read_amount(struct gx_req *req, const cJSON *body, uint64_t *q)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(body, "amount");
	const cJSON *aq = cJSON_GetObjectItemCaseSensitive(body, "amountQirat");
	const cJSON *ac = cJSON_GetObjectItemCaseSensitive(body, "amountCoins");
	const char *issue;
	uint64_t v;
	int n = 0;

	if (a && ((cJSON_IsNumber(a) && a->valuedouble < 0) ||
		  (cJSON_IsString(a) && a->valuestring[0] == '-' && strtod(a->valuestring, NULL) < 0))) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Transaction amount cannot be negative");
		return false;
	}
	if (a || (!aq && !ac)) {
		if (cJSON_IsNumber(a) && a->valuedouble > EXACT_NUMBER_MAX) { /* every such double is an integer */
			gx_svc_reply_invalid(req, "amount",
					     "must be at most 9007199254740991 as a JSON number; send larger "
					     "amounts as amountQirat (a string)");
			return false;
		}
		if (!cJSON_IsNumber(a) || a->valuedouble != floor(a->valuedouble)) {
			gx_reply_error(req, 400, "VALIDATION_FAILED", "Transaction amount must be an integer (Qirat)");
			return false;
		}
		*q = (uint64_t)a->valuedouble;
		n++;
	}
	if (aq) {
		if (!cJSON_IsString(aq) || gx_fee_parse_u64(aq->valuestring, &v) < 0) {
			gx_svc_reply_invalid(req, "amountQirat", "must be integer Qirat as a decimal string");
			return false;
		}
		if (n++ && v != *q) {
			gx_svc_reply_invalid(req, "amountQirat", "must equal amount");
			return false;
		}
		*q = v;
	}
	if (ac) {
		if (gx_money_from_json(ac, &v, &issue) < 0) {
			gx_svc_reply_invalid(req, "amountCoins", "%s", issue);
			return false;
		}
		if (n++ && v != *q) {
			gx_svc_reply_invalid(req, "amountCoins", "must equal %s", aq ? "amountQirat" : "amount");
			return false;
		}
		*q = v;
	}
	return true;
}

void fees_calculate(struct gx_req *req)
{
	const struct tax_app *app = gx_req_app(req);
	const struct tax_worker *w = gx_req_worker(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v;
	const char *tx_type;
	uint64_t amount = 0;
	struct quote *q;
	const char *params[1];

	if (!read_amount(req, body, &amount))
		return;
	v = gx_verr_new();
	tx_type = gx_valid_str(body, "transactionType", false, 1, 32, v);
	if (tx_type && !gx_valid_enum(tx_type, TX_TYPES))
		gx_verr_add(v, "transactionType", "must be one of TRANSFER, MULTISIG, LOAN_REPAYMENT");
	if (gx_svc_invalid(req, v))
		return;
	/* the static spelling, so the quote outlives the body */
	for (size_t i = 0; TX_TYPES[i]; i++)
		if (tx_type && strcmp(tx_type, TX_TYPES[i]) == 0)
			tx_type = TX_TYPES[i];
	if (!tx_type)
		tx_type = TX_TYPES[0];
	if (w->fee_valid && app->fee_ttl_us > 0 && gx_mono_us() - w->fee_loaded_us < app->fee_ttl_us) {
		reply_quote(req, amount, tx_type, &w->fee);
		return;
	}
	q = gx_xcalloc(1, sizeof(*q));
	q->req = req;
	q->amount = amount;
	q->tx_type = tx_type;
	gx_req_set_data(req, q, free);
	params[0] = app->tenant;
	if (gx_pg_query(gx_req_pg(req), SQL_FEE_PARAMS, 1, params, on_params, q) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the parameter query");
}
