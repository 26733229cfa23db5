/* Velocity tax: GET /velocity-tax/eligibility/{accountId} evaluates the chain's rule (docs/chaincode.md §6.7) on
 * the read model; POST /velocity-tax/apply (ADMIN) checks the same rule and enqueues APPLY_VELOCITY_TAX.
 *
 * Rule: only USER and ORG accounts (SYSTEM and treasury accounts are exempt); balance >= velocityTaxMinimumBalance;
 * no debit for velocityTaxDormancyDays whole days. The dormancy timer is the account's last debit (user wallet:
 * the newest SENT, FEE, TAX or LOAN_REPAYMENT history row; organization: the newest executed multi-signature
 * transfer), or the account's creation (organization: activation). Tax = floor(balance x velocityTaxRateBps /
 * 10000). The read model can lag the chain, which decides.
 *
 * The eligibility answer carries the original backend's keys (docs/compat.md, svc-tax): "eligible", "reason" in its
 * words where the case is the same, and "details" with its number keys; an unknown account (or a profile without a
 * wallet) is a 200 saying so, as in the original. */
#include <stdlib.h>
#include <string.h>

#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "tax.h"

#define DAYS_SINCE(x) "greatest(0, floor(extract(epoch FROM (now() - " x ")) / 86400))::bigint::text"

/* $1 tenant, $2 account id (or a user's profile id), $3 caller's profile id. At most one row per kind. */
static const char SQL_ACCOUNT[] =
	"WITH p AS (SELECT"
	"  (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1 AND \"paramKey\" = '"
	TAX_PARAM_RATE "') AS \"rate\","
	"  (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1 AND \"paramKey\" = '"
	TAX_PARAM_MIN_BALANCE "') AS \"minBalance\","
	"  (SELECT \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1 AND \"paramKey\" = '"
	TAX_PARAM_DORMANCY "') AS \"dormancy\"),"
	" w AS (SELECT x.*, (SELECT max(t.\"timestamp\") FROM \"Transaction\" t WHERE t.\"walletId\" = x.\"walletId\""
	"     AND t.\"type\" IN ('SENT', 'FEE', 'TAX', 'LOAN_REPAYMENT')) AS \"lastDebit\""
	"   FROM \"Wallet\" x WHERE x.\"tenantId\" = $1 AND x.\"deletedAt\" IS NULL"
	"   AND (x.\"primaryAccountId\" = $2 OR x.\"profileId\" = $2)"
	"   ORDER BY (x.\"primaryAccountId\" = $2) DESC, x.\"createdAt\", x.\"walletId\" LIMIT 1),"
	" o AS (SELECT y.*, (SELECT max(m.\"executedAt\") FROM \"MultiSigTransaction\" m WHERE m.\"orgId\" = y.\"orgId\""
	"     AND m.\"status\" = 'EXECUTED') AS \"lastDebit\""
	"   FROM \"Organization\" y WHERE y.\"tenantId\" = $1 AND y.\"orgId\" = $2),"
	" a AS ("
	"  SELECT 'USER' AS \"kind\", w.\"primaryAccountId\" AS \"accountId\", w.\"balanceQirat\","
	"   w.\"lastDebit\", coalesce(w.\"lastDebit\", w.\"createdAt\") AS \"since\", w.\"profileId\" = $3 AS \"mine\""
	"   FROM w"
	"  UNION ALL SELECT 'ORG', o.\"orgId\", o.\"balanceQirat\", o.\"lastDebit\","
	"   coalesce(o.\"lastDebit\", o.\"activatedAt\", o.\"createdAt\"),"
	"   jsonb_typeof(o.\"stakeholders\") = 'array' AND (o.\"stakeholders\" ? $3 OR EXISTS (SELECT 1 FROM \"Wallet\" c"
	"     WHERE c.\"tenantId\" = $1 AND c.\"profileId\" = $3 AND o.\"stakeholders\" ? c.\"primaryAccountId\"))"
	"   FROM o"
	"  UNION ALL SELECT 'TREASURY', r.\"accountId\", r.\"balanceQirat\", NULL, r.\"createdAt\", false"
	"   FROM \"TreasuryAccount\" r WHERE r.\"tenantId\" = $1 AND r.\"accountId\" = $2"
	"  UNION ALL SELECT 'SYSTEM', s.\"accountId\", s.\"balanceQirat\", NULL, s.\"createdAt\", false"
	"   FROM \"SystemAccount\" s WHERE s.\"tenantId\" = $1 AND s.\"accountId\" = $2"
	"  UNION ALL SELECT 'NOWALLET', u.\"profileId\", 0, NULL, now(), false"
	"   FROM \"UserProfile\" u WHERE u.\"tenantId\" = $1 AND u.\"profileId\" = $2 AND u.\"deletedAt\" IS NULL"
	"   AND NOT EXISTS (SELECT 1 FROM w))"
	" SELECT a.\"kind\", a.\"accountId\", a.\"balanceQirat\"::text AS \"balanceQirat\", a.\"mine\","
	" " GX_SQL_ISO_TS("a.\"lastDebit\"") " AS \"lastDebit\", " DAYS_SINCE("a.\"since\"") " AS \"dormantDays\","
	" p.\"rate\", p.\"minBalance\", p.\"dormancy\""
	" FROM a CROSS JOIN p LIMIT 1";

/* What the rule says about one account. */
struct verdict {
	const char *kind; /* USER, ORG, TREASURY, SYSTEM */
	const char *code; /* ELIGIBLE, SYSTEM_ACCOUNT, TREASURY_ACCOUNT, BALANCE_BELOW_MINIMUM, NOT_DORMANT */
	char reason[160];
	bool eligible;
	uint64_t balance, min_balance, tax;
	uint32_t rate_bps;
	long long dormant_days, dormancy_days;
};

struct vt {
	struct gx_req *req;
	char *account; /* as asked */
	bool apply;
};

static void vt_free(void *p)
{
	struct vt *t = p;

	free(t->account);
	free(t);
}

/* A parameter column: its stored value within [0, max], or def when the row is missing. -1 when invalid. */
static int param(const PGresult *res, const char *col, uint64_t max, uint64_t def, uint64_t *out)
{
	if (gx_pg_isnull(res, 0, col)) {
		*out = def;
		return 0;
	}
	if (gx_fee_parse_u64(gx_pg_val(res, 0, col), out) < 0 || *out > max)
		return -1;
	return 0;
}

static int judge(const PGresult *res, struct verdict *vd)
{
	uint64_t rate, days;
	char have[GX_MONEY_FMT_LEN], need[GX_MONEY_FMT_LEN];

	memset(vd, 0, sizeof(*vd));
	vd->kind = strcmp(gx_pg_val(res, 0, "kind"), "USER") == 0       ? "USER"
		   : strcmp(gx_pg_val(res, 0, "kind"), "ORG") == 0      ? "ORG"
		   : strcmp(gx_pg_val(res, 0, "kind"), "TREASURY") == 0 ? "TREASURY"
									: "SYSTEM";
	if (param(res, "rate", GX_FEE_MAX_BPS, TAX_DEFAULT_RATE_BPS, &rate) < 0 ||
	    param(res, "minBalance", UINT64_MAX, TAX_DEFAULT_MIN_BALANCE, &vd->min_balance) < 0 ||
	    param(res, "dormancy", TAX_MAX_DORMANCY_DAYS, TAX_DEFAULT_DORMANCY_DAYS, &days) < 0 ||
	    gx_fee_parse_u64(gx_pg_val(res, 0, "balanceQirat"), &vd->balance) < 0)
		return -1;
	vd->rate_bps = (uint32_t)rate;
	vd->dormancy_days = (long long)days;
	vd->dormant_days = strtoll(gx_pg_val(res, 0, "dormantDays"), NULL, 10);
	gx_money_format(vd->balance, have);
	gx_money_format(vd->min_balance, need); /* JavaScript prints these coin numbers the same way */
	if (strcmp(vd->kind, "SYSTEM") == 0) {
		vd->code = "SYSTEM_ACCOUNT";
		snprintf(vd->reason, sizeof(vd->reason), "System pool accounts are exempt from velocity tax");
	} else if (strcmp(vd->kind, "TREASURY") == 0) {
		vd->code = "TREASURY_ACCOUNT";
		snprintf(vd->reason, sizeof(vd->reason), "Treasury accounts are exempt from velocity tax");
	} else if (vd->balance < vd->min_balance) {
		char fixed[32];

		vd->code = "BALANCE_BELOW_MINIMUM";
		amount_fixed2(vd->balance, fixed, sizeof(fixed));
		snprintf(vd->reason, sizeof(vd->reason), "Balance below threshold (%s coins < %s coins)", fixed, need);
	} else if (vd->dormant_days < vd->dormancy_days) {
		vd->code = "NOT_DORMANT";
		snprintf(vd->reason, sizeof(vd->reason), "dormant %lld of %lld days", vd->dormant_days,
			 vd->dormancy_days);
	} else {
		vd->code = "ELIGIBLE";
		vd->eligible = true;
		snprintf(vd->reason, sizeof(vd->reason), "dormant %lld days with balance %s", vd->dormant_days, have);
		if (gx_money_mul_bps(vd->balance, vd->rate_bps, &vd->tax) < 0)
			return -1; /* cannot happen: rate <= 10000 */
	}
	return 0;
}

/* The original's "details" of a user or organization account: balances as JSON numbers (Qirat and coins). */
static cJSON *details_json(const struct verdict *vd)
{
	cJSON *d = cJSON_CreateObject();

	amount_add_qirat_number(d, "currentBalance", vd->balance);
	amount_add_qirat_number(d, "minimumBalance", vd->min_balance);
	gx_money_add_number(d, "balanceInCoins", vd->balance);
	gx_money_add_number(d, "minimumInCoins", vd->min_balance);
	return d;
}

/* The answer for an account the rule cannot judge: no such account (code ACCOUNT_NOT_FOUND) or a profile without
 * a wallet (WALLET_NOT_FOUND), in the original's words. */
static cJSON *unknown_json(const char *account, const char *code, const char *reason)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "eligible", false);
	cJSON_AddStringToObject(o, "reason", reason);
	cJSON_AddStringToObject(o, "accountId", account);
	cJSON_AddBoolToObject(o, "isEligible", false);
	cJSON_AddStringToObject(o, "reasonCode", code);
	return o;
}

static cJSON *verdict_json(const PGresult *res, const struct verdict *vd)
{
	cJSON *o = cJSON_CreateObject();
	char pct[16];

	cJSON_AddBoolToObject(o, "eligible", vd->eligible);
	cJSON_AddStringToObject(o, "reason", vd->reason);
	if (strcmp(vd->kind, "USER") == 0 || strcmp(vd->kind, "ORG") == 0)
		cJSON_AddItemToObject(o, "details", details_json(vd));
	cJSON_AddStringToObject(o, "accountId", gx_pg_val(res, 0, "accountId"));
	cJSON_AddStringToObject(o, "accountType", vd->kind);
	cJSON_AddBoolToObject(o, "isEligible", vd->eligible);
	cJSON_AddStringToObject(o, "reasonCode", vd->code);
	amount_add(o, "balance", "balanceQirat", vd->balance);
	amount_add(o, "minimumBalance", NULL, vd->min_balance);
	gx_svc_add_text(o, "lastTransactionDate", res, 0, "lastDebit");
	cJSON_AddNumberToObject(o, "dormantDays", (double)vd->dormant_days);
	cJSON_AddNumberToObject(o, "dormancyDaysRequired", (double)vd->dormancy_days);
	amount_add(o, "estimatedTax", "estimatedTaxQirat", vd->tax);
	amount_percent(vd->rate_bps, pct, sizeof(pct));
	cJSON_AddStringToObject(o, "taxRate", pct);
	cJSON_AddNumberToObject(o, "taxRateBps", vd->rate_bps);
	return o;
}

static void submit(struct gx_req *req, const PGresult *res)
{
	const struct tax_app *app = gx_req_app(req);
	const char *account = gx_pg_val(res, 0, "accountId");
	const struct gx_svc_audit audit = { app->tenant, "VELOCITY_TAX_APPLY", "ACCOUNT", account };
	cJSON *payload = cJSON_CreateObject();

	cJSON_AddStringToObject(payload, "accountId", account);
	gx_svc_submit(req, "APPLY_VELOCITY_TAX", payload, &audit);
	cJSON_Delete(payload);
}

static void on_account(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct vt *t = arg;
	struct gx_req *req = t->req;
	struct verdict vd;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) == 0 || strcmp(gx_pg_val(res, 0, "kind"), "NOWALLET") == 0) {
		bool none = PQntuples(res) == 0;

		if (t->apply)
			gx_reply_error(req, 404, "ACCOUNT_NOT_FOUND",
				       none ? "account %s was not found" : "account %s has no wallet", t->account);
		else
			gx_reply_json(req, 200,
				      unknown_json(t->account, none ? "ACCOUNT_NOT_FOUND" : "WALLET_NOT_FOUND",
						   none ? "Account does not exist" : "Wallet not found for account"));
		return;
	}
	if (!gx_req_is_admin(req) &&
	    (strcmp(gx_pg_val(res, 0, "kind"), "USER") == 0 || strcmp(gx_pg_val(res, 0, "kind"), "ORG") == 0) &&
	    !gx_svc_true(res, 0, "mine")) {
		gx_reply_error(req, 403, "FORBIDDEN", "you can only check your own or your organization's account");
		return;
	}
	if (judge(res, &vd) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "account %s or a velocity-tax parameter holds an invalid value",
			       t->account);
		return;
	}
	if (!t->apply) {
		gx_reply_json(req, 200, verdict_json(res, &vd));
		return;
	}
	if (!vd.eligible) {
		gx_reply_error(req, 409, "VELOCITY_TAX_NOT_ELIGIBLE", "account %s is not eligible: %s", t->account,
			       vd.reason);
		return;
	}
	submit(req, res);
}

static void start(struct gx_req *req, const char *account, bool apply)
{
	const struct tax_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	struct vt *t = gx_xcalloc(1, sizeof(*t));
	const char *params[3];

	t->req = req;
	t->account = gx_xstrdup(account);
	t->apply = apply;
	gx_req_set_data(req, t, vt_free);
	params[0] = app->tenant;
	params[1] = t->account;
	params[2] = cl ? cl->sub : "";
	if (gx_pg_query(gx_req_pg(req), SQL_ACCOUNT, 3, params, on_account, t) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the account query");
}

void velocity_eligibility(struct gx_req *req)
{
	const char *account = gx_req_param(req, "accountId");

	if (!gx_valid_id(account)) {
		gx_svc_reply_invalid(req, "accountId", "must be an account id");
		return;
	}
	start(req, account, false);
}

/* The original's body {accountId, taxRateBps}: the rate a caller sends is checked for shape and not used (the rate
 * is the velocityTaxRateBps parameter, as on chain). */
void velocity_apply(struct gx_req *req)
{
	struct gx_verr *v = gx_verr_new();
	const char *account = gx_valid_str(gx_req_body(req), "accountId", true, 1, 64, v);

	if (account && !gx_valid_id(account))
		gx_verr_add(v, "accountId", "must be an account id");
	gx_valid_int(gx_req_body(req), "taxRateBps", false, 0, GX_FEE_MAX_BPS, 0, v);
	if (gx_svc_invalid(req, v))
		return;
	start(req, account, true);
}
