/* GX chaincode model: results and errors, JSON state, accounts and transfers, supply, pause flag, parameters. */
#include "cc_int.h"
#include "gx/fee.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- results ------------------------------------------------------------------------------------------------ */

int cc_fail(struct cc_ctx *c, int status, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(c->message);
	c->message = gx_xstrdup(buf);
	return status;
}

int cc_ok(struct cc_ctx *c, cJSON *result)
{
	free(c->payload);
	c->payload = result ? cJSON_PrintUnformatted(result) : NULL;
	cJSON_Delete(result);
	return CC_OK;
}

void cc_emit(struct cc_ctx *c, const char *name, cJSON *payload)
{
	char *txt = cJSON_PrintUnformatted(payload);

	cc_set_event(c->stub, name, txt);
	free(txt);
	cJSON_Delete(payload);
}

/* ---- state ------------------------------------------------------------------------------------------------ */

char *cc_key(const char *kind, const char *id)
{
	return gx_xasprintf("%s~%s", kind, id);
}

cJSON *cc_load(struct cc_ctx *c, const char *kind, const char *id)
{
	char *key = cc_key(kind, id);
	size_t len = 0;
	const char *v = cc_get(c->stub, key, &len);
	cJSON *j = v ? cJSON_ParseWithLength(v, len) : NULL;

	free(key);
	return j;
}

void cc_store(struct cc_ctx *c, const char *kind, const char *id, const cJSON *v)
{
	char *key = cc_key(kind, id);
	char *txt = cJSON_PrintUnformatted(v);

	cc_put(c->stub, key, txt, strlen(txt));
	free(txt);
	free(key);
}

bool cc_exists(struct cc_ctx *c, const char *kind, const char *id)
{
	char *key = cc_key(kind, id);
	size_t len;
	bool found = cc_get(c->stub, key, &len) != NULL;

	free(key);
	return found;
}

const char *cc_jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : "";
}

uint64_t cc_ju64(const cJSON *o, const char *name)
{
	uint64_t v = 0;

	if (gx_fee_parse_u64(cc_jstr(o, name), &v) < 0)
		return 0;
	return v;
}

long long cc_jnum(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

void cc_jset_u64(cJSON *o, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	if (cJSON_GetObjectItemCaseSensitive(o, name))
		cJSON_ReplaceItemInObjectCaseSensitive(o, name, cJSON_CreateString(buf));
	else
		cJSON_AddStringToObject(o, name, buf);
}

/* ---- validation ------------------------------------------------------------------------------------------- */

int cc_check_id(struct cc_ctx *c, const char *what, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128) {
		cc_fail(c, CC_BAD, "%s must be 1..128 characters", what);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_' || ch == '.' || ch == ':')) {
			cc_fail(c, CC_BAD, "%s contains an invalid character", what);
			return -1;
		}
	}
	return 0;
}

int cc_check_amount(struct cc_ctx *c, const char *what, const char *s, uint64_t *out)
{
	if (gx_fee_parse_u64(s, out) < 0) {
		cc_fail(c, CC_BAD, "%s must be an integer number of Qirat", what);
		return -1;
	}
	if (*out == 0) {
		cc_fail(c, CC_BAD, "%s must be greater than 0", what);
		return -1;
	}
	return 0;
}

int cc_check_text(struct cc_ctx *c, const char *what, const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max) {
		cc_fail(c, CC_BAD, "%s must be %zu..%zu bytes", what, min, max);
		return -1;
	}
	return 0;
}

bool cc_is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

bool cc_is_country(const char *s)
{
	return strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

/* ---- accounts --------------------------------------------------------------------------------------------- */

int cc_account_load(struct cc_ctx *c, const char *id, struct cc_account *a)
{
	cJSON *j = cc_load(c, "acct", id);
	const cJSON *fr;

	memset(a, 0, sizeof(*a));
	if (!j)
		return -1;
	a->id = gx_xstrdup(id);
	snprintf(a->type, sizeof(a->type), "%s", cc_jstr(j, "type"));
	a->balance = cc_ju64(j, "balance");
	fr = cJSON_GetObjectItemCaseSensitive(j, "frozen");
	a->frozen = cJSON_IsTrue(fr);
	a->created_ms = cc_jnum(j, "createdAtMs");
	a->last_debit_ms = cc_jnum(j, "lastDebitMs");
	cJSON_Delete(j);
	return 0;
}

void cc_account_store(struct cc_ctx *c, const struct cc_account *a)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "accountID", a->id);
	cJSON_AddStringToObject(j, "type", a->type);
	cc_jset_u64(j, "balance", a->balance);
	cJSON_AddBoolToObject(j, "frozen", a->frozen);
	cJSON_AddNumberToObject(j, "createdAtMs", (double)a->created_ms);
	cJSON_AddNumberToObject(j, "lastDebitMs", (double)a->last_debit_ms);
	cc_store(c, "acct", a->id, j);
	cJSON_Delete(j);
}

void cc_account_create(struct cc_ctx *c, const char *id, const char *type, uint64_t balance)
{
	struct cc_account a = { 0 };

	a.id = (char *)id;
	snprintf(a.type, sizeof(a.type), "%s", type);
	a.balance = balance;
	a.created_ms = c->now_ms;
	a.last_debit_ms = c->now_ms;
	cc_account_store(c, &a);
}

void cc_account_release(struct cc_account *a)
{
	free(a->id);
	a->id = NULL;
}

uint64_t cc_balance(struct cc_ctx *c, const char *id)
{
	struct cc_account a;
	uint64_t b = 0;

	if (cc_account_load(c, id, &a) == 0)
		b = a.balance;
	cc_account_release(&a);
	return b;
}

static int credit(struct cc_ctx *c, struct cc_account *a, uint64_t amount)
{
	if (__builtin_add_overflow(a->balance, amount, &a->balance))
		return cc_fail(c, CC_CONFLICT, "balance of account %s would overflow", a->id);
	return CC_OK;
}

int cc_move(struct cc_ctx *c, const char *from, const char *to, uint64_t amount, uint64_t fee, const char *fee_acct,
	    bool debit_is_activity)
{
	struct cc_account f = { 0 }, t = { 0 }, p = { 0 };
	uint64_t total;
	int st = CC_OK;

	if (cc_account_load(c, from, &f) < 0) {
		st = cc_fail(c, CC_NOT_FOUND, "account not found: %s", from);
		goto out;
	}
	if (cc_account_load(c, to, &t) < 0) {
		st = cc_fail(c, CC_NOT_FOUND, "account not found: %s", to);
		goto out;
	}
	if (fee > 0 && cc_account_load(c, fee_acct, &p) < 0) {
		/* the fee pool is created on first use so fees work before bootstrap */
		cc_account_create(c, fee_acct, "SYSTEM", 0);
		cc_account_load(c, fee_acct, &p);
	}
	if (f.frozen) {
		st = cc_fail(c, CC_CONFLICT, "account %s is frozen", from);
		goto out;
	}
	if (t.frozen) {
		st = cc_fail(c, CC_CONFLICT, "account %s is frozen", to);
		goto out;
	}
	if (__builtin_add_overflow(amount, fee, &total) || f.balance < total) {
		st = cc_fail(c, CC_CONFLICT, "insufficient balance in %s: available %llu, required %llu", from,
			     (unsigned long long)f.balance, (unsigned long long)(amount + fee));
		goto out;
	}
	f.balance -= total;
	if (debit_is_activity)
		f.last_debit_ms = c->now_ms;
	if ((st = credit(c, &t, amount)) != CC_OK)
		goto out;
	if (fee > 0 && (st = credit(c, &p, fee)) != CC_OK)
		goto out;
	cc_account_store(c, &f);
	cc_account_store(c, &t);
	if (fee > 0)
		cc_account_store(c, &p);
out:
	cc_account_release(&f);
	cc_account_release(&t);
	cc_account_release(&p);
	return st;
}

/* ---- system ----------------------------------------------------------------------------------------------- */

uint64_t cc_supply(struct cc_ctx *c)
{
	cJSON *j = cc_load(c, "sys", "supply");
	uint64_t v = cc_ju64(j, "totalSupply");

	cJSON_Delete(j);
	return v;
}

int cc_mint(struct cc_ctx *c, const char *account, uint64_t amount)
{
	struct cc_account a = { 0 };
	uint64_t supply = cc_supply(c), cap = cc_param_u64(c, "totalSupplyCap");
	cJSON *j;

	if (__builtin_add_overflow(supply, amount, &supply) || supply > cap) {
		cc_fail(c, CC_CONFLICT, "minting %llu would exceed totalSupplyCap", (unsigned long long)amount);
		return -1;
	}
	if (cc_account_load(c, account, &a) < 0)
		cc_account_create(c, account, "SYSTEM", amount);
	else {
		a.balance += amount; /* cannot overflow: balance <= supply <= cap */
		cc_account_store(c, &a);
	}
	cc_account_release(&a);
	j = cJSON_CreateObject();
	cc_jset_u64(j, "totalSupply", supply);
	cc_store(c, "sys", "supply", j);
	cJSON_Delete(j);
	return 0;
}

bool cc_bootstrapped(struct cc_ctx *c)
{
	return cc_exists(c, "sys", "bootstrap");
}

bool cc_paused(struct cc_ctx *c, char **reason)
{
	cJSON *j = cc_load(c, "sys", "pause");
	bool paused = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "paused"));

	if (reason)
		*reason = paused ? gx_xstrdup(cc_jstr(j, "reason")) : NULL;
	cJSON_Delete(j);
	return paused;
}

/* ---- parameters ------------------------------------------------------------------------------------------- */

struct cc_param {
	const char *name;
	const char *def;
	uint64_t min;
	uint64_t max;
};

static const struct cc_param params[] = {
	{ "transactionFeeBps", "10", 0, 10000 },
	{ "transactionFeeThreshold", "1000000", 0, UINT64_MAX },
	{ "transactionFeeMaxQirat", "10000000", 0, UINT64_MAX },
	{ "velocityTaxRateBps", "300", 0, 10000 },
	{ "velocityTaxMinimumBalance", "10000000", 0, UINT64_MAX },
	{ "velocityTaxDormancyDays", "360", 0, 36500 },
	{ "genesisTier1Amount", "10000000", 0, UINT64_MAX },
	{ "genesisTier2Amount", "50000000", 0, UINT64_MAX },
	{ "genesisTier3Amount", "100000000", 0, UINT64_MAX },
	{ "loanMinimumAmount", "10000000", 1, UINT64_MAX },
	{ "loanMaximumAmount", "100000000000", 1, UINT64_MAX },
	{ "governanceVotingPeriodSeconds", "1209600", 1, 31536000 },
	{ "governanceQuorumPercentage", "10", 0, 100 },
	{ "governanceApprovalThreshold", "66", 1, 100 },
	{ "orgDefaultThreshold", "2", 1, 20 },
	{ "genesisUserPoolAmount", "5000000000000000", 0, UINT64_MAX },
	{ "genesisGovtPoolAmount", "5000000000000000", 0, UINT64_MAX },
	{ "loanPoolAmount", "1000000000000000", 0, UINT64_MAX },
	{ "totalSupplyCap", "21000000000000000", 1, UINT64_MAX },
};

static const struct cc_param *param_find(const char *name)
{
	for (size_t i = 0; i < GX_ARRAY_LEN(params); i++)
		if (!strcmp(params[i].name, name))
			return &params[i];
	return NULL;
}

bool cc_param_known(const char *name)
{
	return param_find(name) != NULL;
}

int cc_param_validate(const char *name, const char *value, const char **why)
{
	const struct cc_param *p = param_find(name);
	uint64_t v;

	if (!p) {
		*why = "unknown parameter";
		return -1;
	}
	if (gx_fee_parse_u64(value, &v) < 0) {
		*why = "value must be a non-negative integer without leading zeros";
		return -1;
	}
	if (v < p->min || v > p->max) {
		*why = "value out of range";
		return -1;
	}
	return 0;
}

char *cc_param_str(struct cc_ctx *c, const char *name)
{
	const struct cc_param *p = param_find(name);
	cJSON *j = cc_load(c, "param", name);
	char *v;

	if (j && cJSON_IsString(j))
		v = gx_xstrdup(j->valuestring);
	else
		v = gx_xstrdup(p ? p->def : "0");
	cJSON_Delete(j);
	return v;
}

uint64_t cc_param_u64(struct cc_ctx *c, const char *name)
{
	char *s = cc_param_str(c, name);
	uint64_t v = 0;

	if (gx_fee_parse_u64(s, &v) < 0)
		v = 0;
	free(s);
	return v;
}

cJSON *cc_param_all(struct cc_ctx *c)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; i < GX_ARRAY_LEN(params); i++) {
		char *v = cc_param_str(c, params[i].name);

		cJSON_AddStringToObject(o, params[i].name, v);
		free(v);
	}
	return o;
}

int cc_fee(struct cc_ctx *c, uint64_t amount, struct gx_fee_result *out)
{
	struct gx_fee_params fp;

	fp.bps = (uint32_t)cc_param_u64(c, GX_FEE_PARAM_BPS);
	fp.threshold = cc_param_u64(c, GX_FEE_PARAM_THRESHOLD);
	fp.max_fee = cc_param_u64(c, GX_FEE_PARAM_MAX);
	if (gx_fee_compute(amount, &fp, out) < 0) {
		cc_fail(c, CC_BAD, "amount plus fee overflows");
		return -1;
	}
	return 0;
}
