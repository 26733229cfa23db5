/* projector: one handler per chaincode event of docs/chaincode.md §6/§8. A handler reads the event payload
 * (capital-ID spelling, camelCase accepted), checks the fields it needs and appends the statements that bring the
 * read models to the state the event describes. It never touches the database itself. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/util.h"
#include "projector.h"

/* Parsing context of one event: the first problem found is kept in why. */
struct hctx {
	const struct prj_event *ev;
	struct prj_stmts *out;
	char *why;
	size_t whylen;
	bool bad;
	char bufs[24][32]; /* formatted integers, borrowed by statements until they are copied */
	int nbufs;
};

void prj_stmts_free(struct prj_stmts *s)
{
	for (size_t i = 0; i < s->n; i++)
		for (int j = 0; j < s->v[i].nparams; j++)
			free(s->v[i].params[j]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void fail(struct hctx *h, const char *fmt, ...) GX_PRINTF(2, 3);
static void fail(struct hctx *h, const char *fmt, ...)
{
	va_list ap;

	if (h->bad)
		return;
	h->bad = true;
	va_start(ap, fmt);
	vsnprintf(h->why, h->whylen, fmt, ap);
	va_end(ap);
}

/* A field by its capital-ID name, else its camelCase spelling ("userID" -> "userId", "approverIDs" -> "approverIds"). */
static const cJSON *field(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char alt[64];
	size_t n = strlen(key);
	bool changed = false;

	if (v || n >= sizeof(alt))
		return v;
	memcpy(alt, key, n + 1);
	for (size_t i = 1; i + 1 < n + 1; i++) {
		if (alt[i] == 'I' && alt[i + 1] == 'D' && (alt[i + 2] == '\0' || (alt[i + 2] == 's' && alt[i + 3] == '\0'))) {
			alt[i + 1] = 'd';
			changed = true;
		}
	}
	return changed ? cJSON_GetObjectItemCaseSensitive(obj, alt) : NULL;
}

/* A non-empty string field; def when absent or null (NULL def = required). */
static const char *str(struct hctx *h, const char *key, const char *def)
{
	const cJSON *v = field(h->ev->payload, key);

	if (!v || cJSON_IsNull(v)) {
		if (!def)
			fail(h, "%s: field '%s' is missing", h->ev->name, key);
		return def ? def : "";
	}
	if (!cJSON_IsString(v) || (!def && v->valuestring[0] == '\0')) {
		fail(h, "%s: field '%s' must be a non-empty string", h->ev->name, key);
		return "";
	}
	return v->valuestring;
}

static const char *intbuf(struct hctx *h, long long x)
{
	char *b;

	if (h->nbufs >= (int)GX_ARRAY_LEN(h->bufs)) {
		fail(h, "%s: too many numeric fields", h->ev->name);
		return "0";
	}
	b = h->bufs[h->nbufs++];
	snprintf(b, sizeof(h->bufs[0]), "%lld", x);
	return b;
}

/* Canonical Qirat: a decimal string of 1..20 digits without leading zero and within uint64, or a non-negative
 * integral JSON number up to 2^53. def when absent (NULL def = required). */
static const char *qirat(struct hctx *h, const char *key, const char *def)
{
	const cJSON *v = field(h->ev->payload, key);

	if (!v || cJSON_IsNull(v)) {
		if (!def)
			fail(h, "%s: field '%s' is missing", h->ev->name, key);
		return def ? def : "0";
	}
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (d >= 0 && d <= 9007199254740992.0 && d == (double)(long long)d)
			return intbuf(h, (long long)d);
	} else if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		size_t n = strlen(s);
		bool ok = n >= 1 && n <= 20 && (n == 1 || s[0] != '0');

		for (size_t i = 0; ok && i < n; i++)
			ok = s[i] >= '0' && s[i] <= '9';
		if (ok && n == 20)
			ok = strcmp(s, "18446744073709551615") <= 0;
		if (ok)
			return s;
	}
	fail(h, "%s: field '%s' must be a decimal string of integer Qirat", h->ev->name, key);
	return "0";
}

/* An integer field within [lo, hi]; def when absent (required when !has_def). */
static long long integer(struct hctx *h, const char *key, bool has_def, long long def, long long lo, long long hi)
{
	const cJSON *v = field(h->ev->payload, key);

	if (!v || cJSON_IsNull(v)) {
		if (!has_def)
			fail(h, "%s: field '%s' is missing", h->ev->name, key);
		return def;
	}
	if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble && v->valuedouble >= (double)lo &&
	    v->valuedouble <= (double)hi)
		return (long long)v->valuedouble;
	fail(h, "%s: field '%s' must be an integer in %lld..%lld", h->ev->name, key, lo, hi);
	return def;
}

/* An array of non-empty strings, returned as compact JSON text (caller frees). */
static char *str_array(struct hctx *h, const char *key, bool required)
{
	const cJSON *v = field(h->ev->payload, key);
	const cJSON *it;

	if (!v || cJSON_IsNull(v)) {
		if (required)
			fail(h, "%s: field '%s' is missing", h->ev->name, key);
		return gx_xstrdup("[]");
	}
	if (!cJSON_IsArray(v))
		goto bad;
	cJSON_ArrayForEach(it, v)
		if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
			goto bad;
	return cJSON_PrintUnformatted(v);
bad:
	fail(h, "%s: field '%s' must be an array of strings", h->ev->name, key);
	return gx_xstrdup("[]");
}

/* Append statement q with n parameters (borrowed strings, copied; NULL = SQL NULL). */
static void add(struct hctx *h, int q, bool expect, const char *what, int n, ...)
{
	struct prj_stmts *o = h->out;
	struct prj_stmt *s;
	va_list ap;

	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 8;
		o->v = gx_xrealloc(o->v, o->cap * sizeof(*o->v));
	}
	s = &o->v[o->n++];
	memset(s, 0, sizeof(*s));
	s->q = q;
	s->nparams = n;
	s->expect_row = expect;
	s->expect_what = what;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *p = va_arg(ap, const char *);

		s->params[i] = p ? gx_xstrdup(p) : NULL;
	}
	va_end(ap);
}

static const char *ms(struct hctx *h)
{
	return intbuf(h, h->ev->time_ms);
}

/* Set an account's balance in whichever read model holds it (by the id conventions of docs/chaincode.md §1). */
static void balance(struct hctx *h, const char *account, const char *bal)
{
	const char *t = h->ev->tenant;

	if (strncmp(account, "SYSTEM_", 7) == 0)
		add(h, Q_BAL_SYSTEM, false, NULL, 4, t, account, bal, account + 7);
	else if (strncmp(account, "treasury_", 9) == 0)
		add(h, Q_BAL_TREASURY, false, NULL, 3, t, account, bal);
	else
		add(h, Q_BAL_ANY, false, NULL, 3, t, account, bal);
}

/* Transaction rows for up to two wallet sides (b_acct may be NULL). */
static void tx_rows(struct hctx *h, const char *a_acct, const char *a_type, const char *a_cp, const char *a_amt,
		    const char *a_fee, const char *b_acct, const char *b_type, const char *b_cp, const char *b_amt,
		    const char *remark)
{
	const struct prj_event *e = h->ev;

	add(h, Q_TX_ROWS, false, NULL, 15, e->tenant, e->tx_id, a_acct, a_type, a_cp, a_amt, a_fee, b_acct, b_type,
	    b_cp, b_amt, "0", remark, ms(h), intbuf(h, (long long)e->block));
}

static void h_user_created(struct hctx *h)
{
	const char *user = str(h, "userID", NULL), *acct = str(h, "accountID", user);
	const char *status = str(h, "status", "ACTIVE"), *bal = qirat(h, "balance", "0");

	if (h->bad)
		return;
	add(h, Q_USER_STATUS, true, "no UserProfile has this fabricUserId", 3, h->ev->tenant, user, status);
	add(h, Q_WALLET_CREATE, true, "no UserProfile has this fabricUserId", 4, h->ev->tenant, user, acct, bal);
}

static void h_transfer(struct hctx *h)
{
	const char *from = str(h, "fromID", NULL), *to = str(h, "toID", NULL), *amount = qirat(h, "amount", NULL);
	const char *fee = qirat(h, "fee", "0"), *fee_acct = str(h, "feeAccountID", "SYSTEM_FEE_POOL");
	const char *from_bal = qirat(h, "fromBalance", NULL), *to_bal = qirat(h, "toBalance", NULL);
	const cJSON *fb = field(h->ev->payload, "feeAccountBalance");
	const char *fee_bal = fb ? qirat(h, "feeAccountBalance", NULL) : NULL;
	const char *remark = str(h, "remark", "");

	if (h->bad)
		return;
	balance(h, from, from_bal);
	balance(h, to, to_bal);
	if (fee_bal)
		balance(h, fee_acct, fee_bal);
	tx_rows(h, from, "SENT", to, amount, fee, to, "RECEIVED", from, amount, remark[0] ? remark : NULL);
}

static void h_genesis(struct hctx *h)
{
	const char *user = str(h, "userID", NULL), *acct = str(h, "accountID", user), *amount = qirat(h, "amount", NULL);
	const char *tier = str(h, "tier", ""), *pool = str(h, "poolID", "SYSTEM_USER_GENESIS_POOL");
	const cJSON *pb = field(h->ev->payload, "poolBalance");
	const char *pool_bal = pb ? qirat(h, "poolBalance", NULL) : NULL, *bal = qirat(h, "balance", NULL);
	char remark[80];

	if (h->bad)
		return;
	snprintf(remark, sizeof(remark), "Genesis allocation%s%.40s", tier[0] ? ": " : "", tier);
	balance(h, acct, bal);
	if (pool_bal)
		balance(h, pool, pool_bal);
	tx_rows(h, acct, "GENESIS", pool, amount, "0", NULL, NULL, NULL, NULL, remark);
}

static void h_freeze(struct hctx *h, bool frozen)
{
	const char *user = str(h, "userID", NULL), *acct = str(h, "accountID", user);
	const char *reason = frozen ? str(h, "reason", "") : NULL;

	if (h->bad)
		return;
	add(h, Q_WALLET_FREEZE, false, NULL, 4, h->ev->tenant, acct, frozen ? "true" : "false",
	    frozen && reason[0] ? reason : NULL);
}

static void h_org_proposed(struct hctx *h)
{
	const char *org = str(h, "orgID", NULL), *name = str(h, "orgName", NULL), *type = str(h, "orgType", NULL);
	const char *status = str(h, "status", "PROPOSED");
	char *stake = str_array(h, "stakeholderIDs", true);

	if (!h->bad)
		add(h, Q_ORG_UPSERT, false, NULL, 6, h->ev->tenant, org, name, type, status, stake);
	free(stake);
}

static void h_endorsed(struct hctx *h)
{
	const char *org = str(h, "orgID", NULL), *user = str(h, "userID", NULL);

	if (!h->bad)
		add(h, Q_ORG_ENDORSE, true, "organization not found", 3, h->ev->tenant, org, user);
}

static void h_org_activated(struct hctx *h)
{
	const char *org = str(h, "orgID", NULL), *status = str(h, "status", "ACTIVE");

	if (!h->bad)
		add(h, Q_ORG_ACTIVATE, true, "organization not found", 4, h->ev->tenant, org, status, ms(h));
}

static void h_auth_rule(struct hctx *h)
{
	const char *org = str(h, "orgID", NULL), *thr = qirat(h, "amountThreshold", "0");
	long long req = integer(h, "requiredApprovals", false, 0, 1, 1000);
	char *approvers = str_array(h, "approverIDs", true), *rule;

	if (!h->bad) {
		rule = gx_xasprintf("{\"amountThreshold\":\"%s\",\"requiredApprovals\":%lld,\"approverIDs\":%s}", thr, req,
				    approvers);
		add(h, Q_ORG_RULE, true, "organization not found", 4, h->ev->tenant, org, thr, rule);
		free(rule);
	}
	free(approvers);
}

static void h_mstx_initiated(struct hctx *h)
{
	const char *id = str(h, "pendingTxID", NULL), *org = str(h, "orgID", NULL), *init = str(h, "initiatorID", NULL);
	const char *to = str(h, "toID", NULL), *amount = qirat(h, "amount", NULL), *remark = str(h, "remark", "");
	const char *status = str(h, "status", "PENDING");
	long long req = integer(h, "requiredApprovals", false, 0, 0, 1000);
	char *approvers = str_array(h, "approverIDs", false), *approvals = str_array(h, "approvals", false);
	cJSON *params, *ap;
	char *pj;

	if (h->bad)
		goto out;
	ap = cJSON_Parse(approvers);
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "toID", to);
	cJSON_AddStringToObject(params, "amount", amount);
	cJSON_AddStringToObject(params, "remark", remark);
	cJSON_AddItemToObject(params, "approverIDs", ap ? ap : cJSON_CreateArray());
	pj = cJSON_PrintUnformatted(params);
	cJSON_Delete(params);
	{
		cJSON *a = cJSON_Parse(approvals);
		int n = a ? cJSON_GetArraySize(a) : 0;

		cJSON_Delete(a);
		add(h, Q_MSTX_UPSERT, false, NULL, 12, h->ev->tenant, id, org, init, pj, status, intbuf(h, req),
		    intbuf(h, n), approvals, to, amount, remark[0] ? remark : NULL);
	}
	free(pj);
out:
	free(approvers);
	free(approvals);
}

static void h_mstx_approved(struct hctx *h, bool executed)
{
	const char *id = str(h, "pendingTxID", NULL), *approver = str(h, "approverID", NULL);
	long long n = integer(h, "approvals", false, 0, 0, 1000);
	const char *status = str(h, "status", executed ? "EXECUTED" : "PENDING");
	const char *org = NULL, *to = NULL, *amount = NULL, *fee_acct = NULL;
	const char *from_bal = NULL, *to_bal = NULL, *fee_bal = NULL;

	if (executed) {
		org = str(h, "orgID", NULL);
		to = str(h, "toID", NULL);
		amount = qirat(h, "amount", NULL);
		qirat(h, "fee", "0"); /* validated; the fee is in the fee pool's balance */
		fee_acct = str(h, "feeAccountID", "SYSTEM_FEE_POOL");
		from_bal = qirat(h, "fromBalance", NULL);
		to_bal = qirat(h, "toBalance", NULL);
		if (field(h->ev->payload, "feeAccountBalance"))
			fee_bal = qirat(h, "feeAccountBalance", NULL);
	}
	if (h->bad)
		return;
	add(h, Q_MSTX_APPROVE, true, "multi-signature transaction not found", 6, h->ev->tenant, id, approver,
	    intbuf(h, n), status, ms(h));
	if (!executed)
		return;
	balance(h, org, from_bal);
	balance(h, to, to_bal);
	if (fee_bal)
		balance(h, fee_acct, fee_bal);
	tx_rows(h, to, "RECEIVED", org, amount, "0", NULL, NULL, NULL, NULL, NULL);
}

static void h_loan_applied(struct hctx *h)
{
	const char *loan = str(h, "loanID", NULL), *borrower = str(h, "borrowerID", NULL);
	const char *amount = qirat(h, "amount", NULL), *out = qirat(h, "outstanding", amount);
	const char *coll = str(h, "collateralHash", ""), *status = str(h, "status", "PENDING_APPROVAL");
	long long at = integer(h, "appliedAtMs", true, h->ev->time_ms, 0, 4102444800000LL);

	if (!h->bad)
		add(h, Q_LOAN_UPSERT, false, NULL, 8, h->ev->tenant, loan, borrower, coll[0] ? coll : NULL, intbuf(h, at),
		    status, amount, out);
}

static void h_loan_approved(struct hctx *h)
{
	const char *loan = str(h, "loanID", NULL), *borrower = str(h, "borrowerID", NULL);
	const char *amount = qirat(h, "amount", NULL), *out = qirat(h, "outstanding", amount);
	const char *by = str(h, "approvedBy", ""), *status = str(h, "status", "ACTIVE");
	const char *pool = str(h, "poolID", "SYSTEM_LOAN_POOL"), *pool_bal = qirat(h, "poolBalance", NULL);
	const char *bal = qirat(h, "borrowerBalance", NULL);

	if (h->bad)
		return;
	add(h, Q_LOAN_APPROVE, true, "loan not found", 6, h->ev->tenant, loan, status, by[0] ? by : NULL, ms(h), out);
	balance(h, pool, pool_bal);
	balance(h, borrower, bal);
	tx_rows(h, borrower, "LOAN_DISBURSEMENT", pool, amount, "0", NULL, NULL, NULL, NULL, "Loan disbursement");
}

static void h_loan_repaid(struct hctx *h)
{
	const char *loan = str(h, "loanID", NULL), *borrower = str(h, "borrowerID", NULL);
	const char *amount = qirat(h, "amount", NULL), *out = qirat(h, "outstanding", NULL);
	const char *status = str(h, "status", NULL);
	const char *pool = str(h, "poolID", "SYSTEM_LOAN_POOL"), *pool_bal = qirat(h, "poolBalance", NULL);
	const char *bal = qirat(h, "borrowerBalance", NULL);

	if (h->bad)
		return;
	add(h, Q_LOAN_REPAY, true, "loan not found", 5, h->ev->tenant, loan, status, out, ms(h));
	balance(h, pool, pool_bal);
	balance(h, borrower, bal);
	tx_rows(h, borrower, "LOAN_REPAYMENT", pool, amount, "0", NULL, NULL, NULL, NULL, "Loan repayment");
}

static void votes(struct hctx *h, const char **f, const char **a, const char **ab)
{
	*f = intbuf(h, integer(h, "votesFor", true, 0, 0, 2147483647));
	*a = intbuf(h, integer(h, "votesAgainst", true, 0, 0, 2147483647));
	*ab = intbuf(h, integer(h, "votesAbstain", true, 0, 0, 2147483647));
}

static void h_prop_submitted(struct hctx *h)
{
	const char *id = str(h, "proposalID", NULL), *proposer = str(h, "proposerID", NULL);
	const char *type = str(h, "proposalType", "PARAMETER_CHANGE"), *target = str(h, "targetParam", "");
	const char *nv = str(h, "newValue", ""), *title = str(h, "title", ""), *desc = str(h, "description", "");
	const char *status = str(h, "status", "ACTIVE"), *f, *a, *ab;
	long long start = integer(h, "votingStartsAtMs", true, h->ev->time_ms, 0, 4102444800000LL);
	long long end = integer(h, "votingEndsAtMs", true, h->ev->time_ms, 0, 9999999999999LL);

	votes(h, &f, &a, &ab);
	if (!h->bad)
		add(h, Q_PROP_UPSERT, false, NULL, 14, h->ev->tenant, id, title, desc, proposer, type, status, f, a, ab,
		    target[0] ? target : NULL, target[0] ? nv : NULL, intbuf(h, end), intbuf(h, start));
}

static void h_vote(struct hctx *h)
{
	const char *id = str(h, "proposalID", NULL), *voter = str(h, "voterID", NULL), *vote = str(h, "vote", NULL);
	const char *f, *a, *ab;

	votes(h, &f, &a, &ab);
	if (h->bad)
		return;
	add(h, Q_PROP_VOTE, true, "proposal not found", 6, h->ev->tenant, id, voter, f, a, ab);
	add(h, Q_VOTE_UPSERT, false, NULL, 6, h->ev->tenant, id, voter, vote, h->ev->tx_id, ms(h));
}

static void h_prop_decided(struct hctx *h, bool executed)
{
	const char *id = str(h, "proposalID", NULL), *status = str(h, "status", executed ? "EXECUTED" : "REJECTED");
	const char *target = executed ? str(h, "targetParam", NULL) : NULL;
	const char *nv = executed ? str(h, "newValue", NULL) : NULL;
	const char *f, *a, *ab;

	votes(h, &f, &a, &ab);
	if (h->bad)
		return;
	add(h, Q_PROP_DECIDE, true, "proposal not found", 7, h->ev->tenant, id, status, f, a, ab, ms(h));
	if (executed)
		add(h, Q_PARAM_SET, false, NULL, 3, h->ev->tenant, target, nv);
}

static void h_bootstrapped(struct hctx *h)
{
	const cJSON *pools = field(h->ev->payload, "pools"), *it;
	const char *fee = str(h, "feeAccountID", "SYSTEM_FEE_POOL"), *tax = str(h, "taxAccountID", "SYSTEM_TAX_POOL");

	if (!cJSON_IsArray(pools)) {
		fail(h, "SystemBootstrapped: field 'pools' must be an array");
		return;
	}
	cJSON_ArrayForEach(it, pools) {
		const cJSON *id = field(it, "accountID"), *amt = field(it, "amount");

		if (!cJSON_IsString(id) || strncmp(id->valuestring, "SYSTEM_", 7) != 0 || !cJSON_IsString(amt)) {
			fail(h, "SystemBootstrapped: pools[] needs a SYSTEM_ accountID and an amount string");
			return;
		}
	}
	if (h->bad || strncmp(fee, "SYSTEM_", 7) != 0 || strncmp(tax, "SYSTEM_", 7) != 0) {
		fail(h, "SystemBootstrapped: fee and tax accounts must be SYSTEM_ accounts");
		return;
	}
	cJSON_ArrayForEach(it, pools) {
		const char *id = field(it, "accountID")->valuestring;
		struct prj_event sub = *h->ev;
		const struct prj_event *saved = h->ev;
		const char *amt;

		sub.payload = it;
		h->ev = &sub;
		amt = qirat(h, "amount", NULL);
		h->ev = saved;
		if (h->bad)
			return;
		add(h, Q_BAL_SYSTEM, false, NULL, 4, h->ev->tenant, id, amt, id + 7);
	}
	add(h, Q_SYSTEM_ENSURE, false, NULL, 3, h->ev->tenant, fee, fee + 7);
	add(h, Q_SYSTEM_ENSURE, false, NULL, 3, h->ev->tenant, tax, tax + 7);
}

static void h_countries(struct hctx *h)
{
	const cJSON *list = field(h->ev->payload, "countries"), *it;
	const char *pool = str(h, "poolID", "SYSTEM_GOVT_GENESIS_POOL");
	const cJSON *pb = field(h->ev->payload, "poolBalance");
	const char *pool_bal = pb ? qirat(h, "poolBalance", NULL) : NULL;
	cJSON *norm;
	char *text;

	if (!cJSON_IsArray(list)) {
		fail(h, "CountryDataInitialized: field 'countries' must be an array");
		return;
	}
	norm = cJSON_CreateArray();
	cJSON_ArrayForEach(it, list) {
		struct prj_event sub = *h->ev;
		const struct prj_event *saved = h->ev;
		const char *cc, *tid, *alloc;
		long long ppb;
		cJSON *o;

		sub.payload = it;
		h->ev = &sub;
		cc = str(h, "countryCode", NULL);
		tid = str(h, "treasuryID", NULL);
		alloc = qirat(h, "allocation", NULL);
		ppb = integer(h, "ppb", false, 0, 0, 1000000000);
		h->ev = saved;
		if (h->bad)
			break;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "countryCode", cc);
		cJSON_AddStringToObject(o, "treasuryID", tid);
		cJSON_AddNumberToObject(o, "ppb", (double)ppb);
		cJSON_AddStringToObject(o, "allocation", alloc);
		cJSON_AddItemToArray(norm, o);
	}
	if (!h->bad) {
		text = cJSON_PrintUnformatted(norm);
		add(h, Q_COUNTRIES, false, NULL, 4, h->ev->tenant, text, ms(h), h->ev->tx_id);
		free(text);
		if (pool_bal)
			balance(h, pool, pool_bal);
	}
	cJSON_Delete(norm);
}

static void h_param(struct hctx *h)
{
	const char *k = str(h, "paramKey", NULL), *v = str(h, "paramValue", NULL);

	if (!h->bad)
		add(h, Q_PARAM_SET, false, NULL, 3, h->ev->tenant, k, v);
}

static void h_admin(struct hctx *h)
{
	const char *user = str(h, "userID", NULL);

	if (!h->bad)
		add(h, Q_ADMIN_APPOINT, false, NULL, 2, h->ev->tenant, user);
}

static void h_treasury(struct hctx *h)
{
	const char *cc = str(h, "countryCode", NULL), *tid = str(h, "treasuryID", NULL), *bal = qirat(h, "balance", "0");

	if (!h->bad)
		add(h, Q_TREASURY_ACTIVATE, false, NULL, 6, h->ev->tenant, tid, cc, bal, ms(h), h->ev->tx_id);
}

static void h_tax(struct hctx *h)
{
	const char *acct = str(h, "accountID", NULL), *amount = qirat(h, "taxAmount", NULL);
	const char *tax_acct = str(h, "taxAccountID", "SYSTEM_TAX_POOL"), *bal = qirat(h, "balance", NULL);
	const cJSON *tb = field(h->ev->payload, "taxAccountBalance");
	const char *tax_bal = tb ? qirat(h, "taxAccountBalance", NULL) : NULL;

	if (h->bad)
		return;
	balance(h, acct, bal);
	if (tax_bal)
		balance(h, tax_acct, tax_bal);
	tx_rows(h, acct, "TAX", tax_acct, amount, "0", NULL, NULL, NULL, NULL, "Velocity tax");
}

/* SystemPaused / SystemResumed: the EventLog row is the read model (docs/projector.md). */
static void h_log_only(struct hctx *h GX_UNUSED)
{
}

static void h_user_frozen(struct hctx *h)
{
	h_freeze(h, true);
}

static void h_user_unfrozen(struct hctx *h)
{
	h_freeze(h, false);
}

static void h_mstx_approved1(struct hctx *h)
{
	h_mstx_approved(h, false);
}

static void h_mstx_executed(struct hctx *h)
{
	h_mstx_approved(h, true);
}

static void h_prop_executed(struct hctx *h)
{
	h_prop_decided(h, true);
}

static void h_prop_rejected(struct hctx *h)
{
	h_prop_decided(h, false);
}

static const struct {
	const char *name;
	void (*fn)(struct hctx *h);
} handlers[] = {
	{ "UserCreated", h_user_created },
	{ "TransferCompleted", h_transfer },
	{ "GenesisDistributed", h_genesis },
	{ "WalletFrozen", h_user_frozen },
	{ "WalletUnfrozen", h_user_unfrozen },
	{ "OrganizationProposed", h_org_proposed },
	{ "MembershipEndorsed", h_endorsed },
	{ "OrganizationActivated", h_org_activated },
	{ "AuthRuleDefined", h_auth_rule },
	{ "MultiSigTxInitiated", h_mstx_initiated },
	{ "MultiSigTxApproved", h_mstx_approved1 },
	{ "MultiSigTxExecuted", h_mstx_executed },
	{ "LoanApplicationReceived", h_loan_applied },
	{ "LoanApproved", h_loan_approved },
	{ "LoanRepaid", h_loan_repaid },
	{ "ProposalSubmitted", h_prop_submitted },
	{ "VoteCast", h_vote },
	{ "ProposalExecuted", h_prop_executed },
	{ "ProposalRejected", h_prop_rejected },
	{ "SystemBootstrapped", h_bootstrapped },
	{ "CountryDataInitialized", h_countries },
	{ "SystemParameterUpdated", h_param },
	{ "SystemPaused", h_log_only },
	{ "SystemResumed", h_log_only },
	{ "AdminAppointed", h_admin },
	{ "TreasuryActivated", h_treasury },
	{ "VelocityTaxApplied", h_tax },
};

int prj_handle_event(const struct prj_event *ev, struct prj_stmts *out, char *why, size_t whylen)
{
	struct hctx h = { .ev = ev, .out = out, .why = why, .whylen = whylen };
	size_t before = out->n;

	if (!cJSON_IsObject(ev->payload)) {
		snprintf(why, whylen, "%s: payload is not a JSON object", ev->name);
		return -1;
	}
	for (size_t i = 0; i < GX_ARRAY_LEN(handlers); i++) {
		if (strcmp(handlers[i].name, ev->name) != 0)
			continue;
		handlers[i].fn(&h);
		if (!h.bad)
			return 0;
		/* drop what a failing handler appended */
		for (size_t k = before; k < out->n; k++)
			for (int j = 0; j < out->v[k].nparams; j++)
				free(out->v[k].params[j]);
		out->n = before;
		return -1;
	}
	snprintf(why, whylen, "unknown event '%.80s'", ev->name);
	return -1;
}

int64_t prj_event_time_ms(const cJSON *payload)
{
	static const char *const keys[] = { "txTimeMs", "timestampMs", "createdAtMs", "activatedAtMs", "appliedAtMs",
					    "votingStartsAtMs", "executedAtMs", "bootstrappedAtMs", "pausedAtMs",
					    "resumedAtMs" };

	if (!cJSON_IsObject(payload))
		return 0;
	for (size_t i = 0; i < GX_ARRAY_LEN(keys); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, keys[i]);

		if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 9.0e15)
			return (int64_t)v->valuedouble;
	}
	return 0;
}
