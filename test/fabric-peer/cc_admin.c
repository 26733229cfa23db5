/* GX chaincode model: AdminContract (bootstrap, country treasuries, parameters, pause, admins) and
 * TaxAndFeeContract (velocity tax, fee quote). */
#include "cc_int.h"
#include "gx/fee.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PPB_ONE 1000000000ULL
#define MS_PER_DAY 86400000LL

/* BootstrapSystem(): mints the three pools once and creates the fee and tax pools. */
int cc_admin_bootstrap(struct cc_ctx *c)
{
	static const struct {
		const char *account;
		const char *param;
	} pools[] = {
		{ CC_USER_GENESIS_POOL, "genesisUserPoolAmount" },
		{ CC_GOVT_GENESIS_POOL, "genesisGovtPoolAmount" },
		{ CC_LOAN_POOL, "loanPoolAmount" },
	};
	cJSON *ev, *arr, *row, *mark;

	if (cc_bootstrapped(c))
		return cc_fail(c, CC_CONFLICT, "system already bootstrapped");
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < GX_ARRAY_LEN(pools); i++) {
		uint64_t amount = cc_param_u64(c, pools[i].param);

		if (cc_mint(c, pools[i].account, amount) < 0) {
			cJSON_Delete(arr);
			return CC_CONFLICT;
		}
		row = cJSON_CreateObject();
		cJSON_AddStringToObject(row, "accountID", pools[i].account);
		cc_jset_u64(row, "amount", amount);
		cJSON_AddItemToArray(arr, row);
	}
	if (!cc_exists(c, "acct", CC_FEE_POOL))
		cc_account_create(c, CC_FEE_POOL, "SYSTEM", 0);
	if (!cc_exists(c, "acct", CC_TAX_POOL))
		cc_account_create(c, CC_TAX_POOL, "SYSTEM", 0);
	mark = cJSON_CreateObject();
	cJSON_AddNumberToObject(mark, "bootstrappedAtMs", (double)c->now_ms);
	cc_store(c, "sys", "bootstrap", mark);
	cJSON_Delete(mark);
	ev = cJSON_CreateObject();
	cJSON_AddItemToObject(ev, "pools", arr);
	cJSON_AddStringToObject(ev, "feeAccountID", CC_FEE_POOL);
	cJSON_AddStringToObject(ev, "taxAccountID", CC_TAX_POOL);
	cc_jset_u64(ev, "totalSupply", cc_supply(c));
	cJSON_AddNumberToObject(ev, "bootstrappedAtMs", (double)c->now_ms);
	cc_emit(c, "SystemBootstrapped", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* floor(a * b / d) without overflow (d > 0, result <= a when b <= d). */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t d)
{
	return (uint64_t)((unsigned __int128)a * b / d);
}

/* Validate the country list: returns the parsed array (caller owns) and the ppb sum, or NULL with a 400. */
static cJSON *parse_countries(struct cc_ctx *c, uint64_t *sum)
{
	cJSON *arr = cJSON_Parse(c->args[0]), *it, *seen;
	int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;

	*sum = 0;
	if (n < 1 || n > 300) {
		cJSON_Delete(arr);
		cc_fail(c, CC_BAD, "countries must be a JSON array of 1..300 {\"countryCode\",\"ppb\"} objects");
		return NULL;
	}
	seen = cJSON_CreateObject();
	cJSON_ArrayForEach(it, arr) {
		const char *code = cc_jstr(it, "countryCode");
		const cJSON *ppb = cJSON_GetObjectItemCaseSensitive(it, "ppb");

		if (!cc_is_country(code) || !cJSON_IsNumber(ppb) || ppb->valuedouble < 0 ||
		    ppb->valuedouble > (double)PPB_ONE || ppb->valuedouble != (double)(uint64_t)ppb->valuedouble) {
			cc_fail(c, CC_BAD, "invalid country entry (countryCode ISO-2, ppb integer 0..1000000000)");
			goto fail;
		}
		if (cJSON_GetObjectItemCaseSensitive(seen, code)) {
			cc_fail(c, CC_BAD, "duplicate countryCode %s", code);
			goto fail;
		}
		cJSON_AddTrueToObject(seen, code);
		*sum += (uint64_t)ppb->valuedouble;
	}
	cJSON_Delete(seen);
	if (*sum < PPB_ONE * 9 / 10 || *sum > PPB_ONE * 11 / 10) {
		cJSON_Delete(arr);
		cc_fail(c, CC_BAD, "country shares must sum to 1 within 10%% (got %llu ppb)", (unsigned long long)*sum);
		return NULL;
	}
	return arr;
fail:
	cJSON_Delete(seen);
	cJSON_Delete(arr);
	return NULL;
}

/* InitializeCountryData(countriesJSON [{"countryCode","ppb"}]): splits the government genesis pool among the
 * countries' treasuries in proportion to ppb / sum(ppb), once. */
int cc_admin_init_countries(struct cc_ctx *c)
{
	cJSON *arr, *it, *ev, *out, *row, *country;
	uint64_t sum, pool, total = 0;
	struct cc_account p;

	if (!cc_bootstrapped(c))
		return cc_fail(c, CC_CONFLICT, "system is not bootstrapped");
	if (cc_exists(c, "sys", "countries"))
		return cc_fail(c, CC_CONFLICT, "country data already initialized");
	arr = parse_countries(c, &sum);
	if (!arr)
		return CC_BAD;
	pool = cc_balance(c, CC_GOVT_GENESIS_POOL);
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(it, arr) {
		const char *code = cc_jstr(it, "countryCode");
		uint64_t ppb = (uint64_t)cJSON_GetObjectItemCaseSensitive(it, "ppb")->valuedouble;
		uint64_t amount = muldiv(pool, ppb, sum);
		char *tid = gx_xasprintf("treasury_%s", code);

		total += amount;
		if (!cc_exists(c, "acct", tid))
			cc_account_create(c, tid, "TREASURY", amount);
		country = cJSON_CreateObject();
		cJSON_AddStringToObject(country, "countryCode", code);
		cJSON_AddStringToObject(country, "treasuryID", tid);
		cJSON_AddNumberToObject(country, "ppb", (double)ppb);
		cc_jset_u64(country, "allocation", amount);
		cJSON_AddBoolToObject(country, "treasuryActive", false);
		cc_store(c, "country", code, country);
		cJSON_DeleteItemFromObjectCaseSensitive(country, "treasuryActive");
		cJSON_AddItemToArray(out, country);
		row = NULL;
		free(tid);
	}
	(void)row;
	cJSON_Delete(arr);
	/* sum of floor(pool * ppb_i / sum) <= pool, so the debit cannot underflow */
	cc_account_load(c, CC_GOVT_GENESIS_POOL, &p);
	p.balance -= total;
	cc_account_store(c, &p);
	cc_account_release(&p);
	row = cJSON_CreateObject();
	cJSON_AddNumberToObject(row, "count", cJSON_GetArraySize(out));
	cc_store(c, "sys", "countries", row);
	cJSON_Delete(row);
	ev = cJSON_CreateObject();
	cJSON_AddItemToObject(ev, "countries", out);
	cc_jset_u64(ev, "totalAllocated", total);
	cJSON_AddStringToObject(ev, "poolID", CC_GOVT_GENESIS_POOL);
	cc_jset_u64(ev, "poolBalance", cc_balance(c, CC_GOVT_GENESIS_POOL));
	cc_emit(c, "CountryDataInitialized", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* UpdateSystemParameter(paramKey, paramValue) */
int cc_admin_update_param(struct cc_ctx *c)
{
	const char *key = c->args[0], *value = c->args[1], *why = NULL;
	cJSON *ev, *v;
	char *prev;

	if (cc_param_validate(key, value, &why) < 0)
		return cc_fail(c, CC_BAD, "invalid parameter %s: %s", key, why);
	prev = cc_param_str(c, key);
	v = cJSON_CreateString(value);
	cc_store(c, "param", key, v);
	cJSON_Delete(v);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "paramKey", key);
	cJSON_AddStringToObject(ev, "paramValue", value);
	cJSON_AddStringToObject(ev, "previousValue", prev);
	free(prev);
	cc_emit(c, "SystemParameterUpdated", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* PauseSystem(reason) */
int cc_admin_pause(struct cc_ctx *c)
{
	cJSON *st, *ev;

	if (cc_check_text(c, "reason", c->args[0], 1, 500) < 0)
		return CC_BAD;
	if (cc_paused(c, NULL))
		return cc_fail(c, CC_CONFLICT, "system is already paused");
	st = cJSON_CreateObject();
	cJSON_AddBoolToObject(st, "paused", true);
	cJSON_AddStringToObject(st, "reason", c->args[0]);
	cJSON_AddNumberToObject(st, "pausedAtMs", (double)c->now_ms);
	cc_store(c, "sys", "pause", st);
	cJSON_Delete(st);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "reason", c->args[0]);
	cJSON_AddNumberToObject(ev, "pausedAtMs", (double)c->now_ms);
	cc_emit(c, "SystemPaused", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* ResumeSystem() */
int cc_admin_resume(struct cc_ctx *c)
{
	cJSON *st, *ev;

	if (!cc_paused(c, NULL))
		return cc_fail(c, CC_CONFLICT, "system is not paused");
	st = cJSON_CreateObject();
	cJSON_AddBoolToObject(st, "paused", false);
	cJSON_AddNumberToObject(st, "resumedAtMs", (double)c->now_ms);
	cc_store(c, "sys", "pause", st);
	cJSON_Delete(st);
	ev = cJSON_CreateObject();
	cJSON_AddNumberToObject(ev, "resumedAtMs", (double)c->now_ms);
	cc_emit(c, "SystemResumed", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* AppointAdmin(userID) */
int cc_admin_appoint(struct cc_ctx *c)
{
	const char *id = c->args[0];
	cJSON *a, *ev;

	if (!cc_exists(c, "user", id))
		return cc_fail(c, CC_NOT_FOUND, "user not found: %s", id);
	if (cc_exists(c, "admin", id))
		return cc_fail(c, CC_CONFLICT, "user %s is already an admin", id);
	a = cJSON_CreateObject();
	cJSON_AddNumberToObject(a, "appointedAtMs", (double)c->now_ms);
	cc_store(c, "admin", id, a);
	cJSON_Delete(a);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "userID", id);
	cJSON_AddStringToObject(ev, "role", "ADMIN");
	cc_emit(c, "AdminAppointed", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* ActivateTreasuryAccount(countryCode) */
int cc_admin_activate_treasury(struct cc_ctx *c)
{
	const char *code = c->args[0];
	cJSON *country, *ev;
	int st;

	if (!cc_is_country(code))
		return cc_fail(c, CC_BAD, "countryCode must be an ISO 3166-1 alpha-2 code");
	country = cc_load(c, "country", code);
	if (!country)
		return cc_fail(c, CC_NOT_FOUND, "country not initialized: %s", code);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(country, "treasuryActive"))) {
		st = cc_fail(c, CC_CONFLICT, "treasury of %s is already active", code);
		goto out;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(country, "treasuryActive", cJSON_CreateTrue());
	cc_store(c, "country", code, country);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "countryCode", code);
	cJSON_AddStringToObject(ev, "treasuryID", cc_jstr(country, "treasuryID"));
	cc_jset_u64(ev, "balance", cc_balance(c, cc_jstr(country, "treasuryID")));
	cc_emit(c, "TreasuryActivated", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cJSON_Delete(country);
	return st;
}

/* GetSystemStatus() */
int cc_admin_status(struct cc_ctx *c)
{
	cJSON *j = cJSON_CreateObject(), *u = cc_load(c, "sys", "users"), *n = cc_load(c, "sys", "countries");
	char *reason = NULL;
	bool paused = cc_paused(c, &reason);

	cJSON_AddBoolToObject(j, "bootstrapped", cc_bootstrapped(c));
	cJSON_AddBoolToObject(j, "paused", paused);
	if (paused)
		cJSON_AddStringToObject(j, "pauseReason", reason);
	else
		cJSON_AddNullToObject(j, "pauseReason");
	cc_jset_u64(j, "totalSupply", cc_supply(c));
	cJSON_AddNumberToObject(j, "userCount", (double)cc_jnum(u, "count"));
	cJSON_AddNumberToObject(j, "countryCount", (double)cc_jnum(n, "count"));
	cJSON_AddItemToObject(j, "parameters", cc_param_all(c));
	free(reason);
	cJSON_Delete(u);
	cJSON_Delete(n);
	return cc_ok(c, j);
}

/* GetSystemParameter(paramKey) */
int cc_admin_get_param(struct cc_ctx *c)
{
	cJSON *j;
	char *v;

	if (!cc_param_known(c->args[0]))
		return cc_fail(c, CC_NOT_FOUND, "unknown parameter: %s", c->args[0]);
	v = cc_param_str(c, c->args[0]);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "paramKey", c->args[0]);
	cJSON_AddStringToObject(j, "paramValue", v);
	cJSON_AddBoolToObject(j, "isDefault", !cc_exists(c, "param", c->args[0]));
	free(v);
	return cc_ok(c, j);
}

/* GetCountry(countryCode) */
int cc_admin_get_country(struct cc_ctx *c)
{
	cJSON *country = cc_load(c, "country", c->args[0]);

	if (!country)
		return cc_fail(c, CC_NOT_FOUND, "country not initialized: %s", c->args[0]);
	cc_jset_u64(country, "balance", cc_balance(c, cc_jstr(country, "treasuryID")));
	return cc_ok(c, country);
}

/* ApplyVelocityTax(accountID): a user or organisation account holding at least velocityTaxMinimumBalance that has
 * sent nothing for velocityTaxDormancyDays pays velocityTaxRateBps of its balance to SYSTEM_TAX_POOL; the dormancy
 * timer restarts. */
int cc_tax_velocity(struct cc_ctx *c)
{
	const char *id = c->args[0];
	struct cc_account a = { 0 };
	uint64_t min = cc_param_u64(c, "velocityTaxMinimumBalance"), rate = cc_param_u64(c, "velocityTaxRateBps");
	long long days = (long long)cc_param_u64(c, "velocityTaxDormancyDays"), dormant;
	uint64_t tax;
	cJSON *ev;
	int st;

	if (cc_account_load(c, id, &a) < 0)
		return cc_fail(c, CC_NOT_FOUND, "account not found: %s", id);
	dormant = (c->now_ms - a.last_debit_ms) / MS_PER_DAY;
	if (strcmp(a.type, "USER") != 0 && strcmp(a.type, "ORG") != 0) {
		st = cc_fail(c, CC_CONFLICT, "account %s is not eligible for velocity tax: %s accounts are exempt", id,
			     a.type);
		goto out;
	}
	if (a.balance < min) {
		st = cc_fail(c, CC_CONFLICT, "account %s is not eligible for velocity tax: balance below %llu", id,
			     (unsigned long long)min);
		goto out;
	}
	if (c->now_ms - a.last_debit_ms < days * MS_PER_DAY) {
		st = cc_fail(c, CC_CONFLICT, "account %s is not eligible for velocity tax: dormant %lld of %lld days",
			     id, dormant, days);
		goto out;
	}
	tax = muldiv(a.balance, rate, GX_FEE_MAX_BPS);
	if (!cc_exists(c, "acct", CC_TAX_POOL))
		cc_account_create(c, CC_TAX_POOL, "SYSTEM", 0);
	if (tax > 0 && (st = cc_move(c, id, CC_TAX_POOL, tax, 0, NULL, false)) != CC_OK)
		goto out;
	/* restart the timer so the tax applies at most once per dormancy period */
	cc_account_release(&a);
	cc_account_load(c, id, &a);
	a.last_debit_ms = c->now_ms;
	cc_account_store(c, &a);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "accountID", id);
	cJSON_AddStringToObject(ev, "accountType", a.type);
	cc_jset_u64(ev, "taxAmount", tax);
	cJSON_AddNumberToObject(ev, "taxRateBps", (double)rate);
	cJSON_AddStringToObject(ev, "taxAccountID", CC_TAX_POOL);
	cc_jset_u64(ev, "balance", a.balance);
	cc_jset_u64(ev, "taxAccountBalance", cc_balance(c, CC_TAX_POOL));
	cJSON_AddNumberToObject(ev, "dormantDays", (double)dormant);
	cc_emit(c, "VelocityTaxApplied", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cc_account_release(&a);
	return st;
}

/* CalculateFee(amount): the fee rule with the current parameters (read-only). */
int cc_tax_calculate_fee(struct cc_ctx *c)
{
	struct gx_fee_result r;
	uint64_t amount;
	cJSON *j;

	if (gx_fee_parse_u64(c->args[0], &amount) < 0)
		return cc_fail(c, CC_BAD, "amount must be an integer number of Qirat");
	if (cc_fee(c, amount, &r) < 0)
		return CC_BAD;
	j = cJSON_CreateObject();
	cc_jset_u64(j, "amount", amount);
	cc_jset_u64(j, "fee", r.fee);
	cc_jset_u64(j, "total", r.total);
	cJSON_AddStringToObject(j, "tier", r.tier);
	cJSON_AddNumberToObject(j, "bps", r.bps_applied);
	return cc_ok(c, j);
}
