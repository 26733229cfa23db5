/* POST /api/v1/fees/calculate (public, rate limited): the fee of a transaction by the one fee rule
 * (gx_fee_compute, docs/chaincode.md §4) with the parameters from "SystemParameter", which each worker caches for
 * FEE_PARAMS_CACHE. Loan repayments pay no fee. */
#include <stdlib.h>
#include <string.h>

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
	uint64_t amount;      /* Qirat */
	const char *tx_type;  /* one of TX_TYPES (static) */
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
	amount_add(o, "amount", "amountQirat", amount);
	amount_add(o, "fee", "feeQirat", r.fee);
	cJSON_AddStringToObject(o, "feePercentage", pct);
	cJSON_AddNumberToObject(o, "feeBps", r.bps_applied);
	amount_add(o, "total", "totalQirat", r.total);
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

void fees_calculate(struct gx_req *req)
{
	const struct tax_app *app = gx_req_app(req);
	const struct tax_worker *w = gx_req_worker(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *tx_type;
	uint64_t amount = 0;
	struct quote *q;
	const char *params[1];

	gx_valid_amount(body, "amount", true, &amount, v);
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
