/* Reconciliation readers: the entity table (what is compared, docs/reconcile.md §2), the ledger side through the
 * chaincode's paged and point read functions (docs/chaincode.md §6.8) and the read-model side in keyset pages,
 * both paced (gx/reconcile.h options). */
#include "reconcile_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gx/log.h"
#include "gx/util.h"

/* ---- records, pacing ------------------------------------------------------------------------------------- */

void rc_set_add(struct rc_set *s, const char *key, char **vals, int nvals)
{
	struct rc_rec *e;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = gx_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->key = gx_xstrdup(key);
	for (int i = 0; i < nvals; i++)
		e->vals[i] = vals[i];
}

void rc_set_release(struct rc_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].key);
		for (int j = 0; j < RC_MAXF; j++)
			free(s->v[i].vals[j]);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void rc_pace_wait(struct rc_pace *p)
{
	int64_t now = gx_mono_us();

	if (p->rate <= 0)
		return;
	if (p->next_us > now) {
		struct timespec ts = { (time_t)((p->next_us - now) / 1000000),
				       (long)((p->next_us - now) % 1000000) * 1000 };

		nanosleep(&ts, NULL);
		now = p->next_us;
	}
	p->next_us = now + (int64_t)(1e6 / p->rate);
}

static void fail(struct rc_run *r, const char *fmt, ...) GX_PRINTF(2, 3);
static void fail(struct rc_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
}

/* ---- ledger values ---------------------------------------------------------------------------------------- */

static char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(v))
		return gx_xstrdup(v->valuestring);
	if (cJSON_IsNumber(v))
		return gx_xasprintf("%.0f", v->valuedouble);
	if (cJSON_IsBool(v))
		return gx_xstrdup(cJSON_IsTrue(v) ? "true" : "false");
	return NULL;
}

static char *jlen(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return gx_xasprintf("%d", cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0);
}

static const char *key_of(const cJSON *rec, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, field);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *ledger_account(const cJSON *rec, char **vals)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(rec, "type");

	vals[0] = jstr(rec, "balance");
	vals[1] = jstr(rec, "frozen");
	if (!vals[1])
		vals[1] = gx_xstrdup("false");
	/* a user's wallet history must add up to its balance */
	vals[2] = cJSON_IsString(type) && !strcmp(type->valuestring, "USER") ? jstr(rec, "balance") : NULL;
	return key_of(rec, "accountID");
}

static const char *ledger_org(const cJSON *rec, char **vals)
{
	vals[0] = jstr(rec, "status");
	vals[1] = jlen(rec, "endorserIDs");
	vals[2] = jlen(rec, "rules");
	return key_of(rec, "orgID");
}

static const char *ledger_mstx(const cJSON *rec, char **vals)
{
	vals[0] = jstr(rec, "status");
	vals[1] = jlen(rec, "approvals");
	vals[2] = jstr(rec, "amount");
	vals[3] = jstr(rec, "toID");
	return key_of(rec, "pendingTxID");
}

static const char *ledger_loan(const cJSON *rec, char **vals)
{
	vals[0] = jstr(rec, "status");
	vals[1] = jstr(rec, "amount");
	vals[2] = jstr(rec, "outstanding");
	return key_of(rec, "loanID");
}

static const char *ledger_prop(const cJSON *rec, char **vals)
{
	const char *names[] = { "votesFor", "votesAgainst", "votesAbstain" };
	double total = 0;

	vals[0] = jstr(rec, "status");
	for (int i = 0; i < 3; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, names[i]);

		vals[1 + i] = jstr(rec, names[i]);
		total += cJSON_IsNumber(v) ? v->valuedouble : 0;
	}
	vals[4] = gx_xasprintf("%.0f", total);
	return key_of(rec, "proposalID");
}

/* GetSystemParameter's answer (point read); the list comes from GetSystemStatus.parameters. */
static const char *ledger_param(const cJSON *rec, char **vals)
{
	vals[0] = jstr(rec, "paramValue");
	return key_of(rec, "paramKey");
}

/* clang-format off */
/* Sums of the wallet history: credits add the amount, debits subtract amount + fee (docs/projector.md rows). */
#define RC_HISTORY_SUM \
	"(SELECT COALESCE(sum(CASE WHEN t.\"type\" IN ('RECEIVED', 'GENESIS', 'LOAN_DISBURSEMENT', 'MINT')" \
	" THEN t.\"amountQirat\" WHEN t.\"type\" IN ('SENT', 'LOAN_REPAYMENT', 'TAX', 'FEE')" \
	" THEN -(t.\"amountQirat\" + t.\"feeQirat\") ELSE 0 END), 0)::text FROM \"Transaction\" t" \
	" WHERE t.\"walletId\" = s.wid)"

const struct rc_kind rc_kinds[] = {
	{ "account", "TokenomicsContract:ListAccounts", "TokenomicsContract:GetBalance", 3,
	  { { "balance", "0", false }, { "frozen", "false", false }, { "history", NULL, true } }, ledger_account,
	  "SELECT s.k, s.b, s.f, CASE WHEN s.wid IS NULL THEN NULL ELSE " RC_HISTORY_SUM " END FROM ("
	  " SELECT \"primaryAccountId\" AS k, \"balanceQirat\"::text AS b, \"isFrozen\"::text AS f, \"walletId\" AS wid"
	  " FROM \"Wallet\" WHERE \"tenantId\" = $1 AND \"deletedAt\" IS NULL"
	  " UNION ALL SELECT \"orgId\", \"balanceQirat\"::text, 'false', NULL FROM \"Organization\""
	  " WHERE \"tenantId\" = $1 AND \"status\" = 'ACTIVE'"
	  " UNION ALL SELECT \"accountId\", \"balanceQirat\"::text, 'false', NULL FROM \"SystemAccount\" WHERE \"tenantId\" = $1"
	  " UNION ALL SELECT \"accountId\", \"balanceQirat\"::text, 'false', NULL FROM \"TreasuryAccount\""
	  " WHERE \"tenantId\" = $1) s", false },
	{ "organization", "OrganizationContract:ListOrganizations", "OrganizationContract:GetOrganization", 3,
	  { { "status", NULL, false }, { "endorsements", NULL, false }, { "authRules", NULL, false } }, ledger_org,
	  "SELECT s.* FROM (SELECT \"orgId\" AS k, \"status\", COALESCE(jsonb_array_length(\"endorsers\"), 0)::text,"
	  " COALESCE(jsonb_array_length(\"authRules\"), 0)::text FROM \"Organization\" WHERE \"tenantId\" = $1) s", false },
	{ "multisig", "OrganizationContract:ListMultiSigTxs", "OrganizationContract:GetMultiSigTx", 4,
	  { { "status", NULL, false }, { "approvals", NULL, false }, { "amount", NULL, false }, { "toID", NULL, false } },
	  ledger_mstx,
	  "SELECT s.* FROM (SELECT \"txId\" AS k, \"status\", \"currentSignatures\"::text, \"amountQirat\"::text, \"toId\""
	  " FROM \"MultiSigTransaction\" WHERE \"tenantId\" = $1) s", false },
	{ "loan", "LoanPoolContract:ListLoans", "LoanPoolContract:GetLoan", 3,
	  { { "status", NULL, false }, { "amount", NULL, false }, { "outstanding", NULL, false } }, ledger_loan,
	  "SELECT s.* FROM (SELECT \"loanId\" AS k, \"status\", \"amountQirat\"::text,"
	  " (\"amountQirat\" - \"repaidQirat\")::text FROM \"Loan\" WHERE \"tenantId\" = $1) s", false },
	{ "proposal", "GovernanceContract:ListProposals", "GovernanceContract:GetProposal", 5,
	  { { "status", NULL, false }, { "votesFor", NULL, false }, { "votesAgainst", NULL, false },
	    { "votesAbstain", NULL, false }, { "votes", NULL, false } }, ledger_prop,
	  "SELECT s.* FROM (SELECT p.\"proposalId\" AS k, p.\"status\", p.\"votesFor\"::text, p.\"votesAgainst\"::text,"
	  " p.\"votesAbstain\"::text, (SELECT count(*) FROM \"ProposalVote\" v WHERE v.\"proposalId\" = p.\"proposalId\""
	  " AND v.\"confirmedAt\" IS NOT NULL)::text FROM \"Proposal\" p WHERE p.\"tenantId\" = $1) s", false },
	{ "parameter", NULL, "AdminContract:GetSystemParameter", 1, { { "value", NULL, false } }, ledger_param,
	  "SELECT s.* FROM (SELECT \"paramKey\" AS k, \"paramValue\" FROM \"SystemParameter\" WHERE \"tenantId\" = $1) s",
	  true },
};
/* clang-format on */

const size_t rc_nkinds = GX_ARRAY_LEN(rc_kinds);

/* ---- ledger side ------------------------------------------------------------------------------------------ */

static bool not_found(const struct gx_fabric_error *e)
{
	if (e->kind == GX_FABRIC_ERR_CHAINCODE)
		return e->chaincode_status == 404;
	if (e->message && strstr(e->message, "chaincode response 404"))
		return true;
	for (size_t i = 0; i < e->n_details; i++)
		if (e->details[i].message && strstr(e->details[i].message, "chaincode response 404"))
			return true;
	return false;
}

/* Evaluate fn(args); *out the parsed payload (caller owns). 1 = found, 0 = 404 (when allowed), -1 = error. */
static int evaluate(struct rc_run *r, const char *fn, const char *const *args, size_t nargs, bool allow_404,
		    cJSON **out)
{
	struct gx_fabric_result res = { 0 };
	int rc = -1;

	*out = NULL;
	rc_pace_wait(&r->peer);
	r->ledger_calls++;
	if (gx_fabric_client_evaluate_sync(r->fc, fn, args, nargs, &res) < 0) {
		if (allow_404 && not_found(&res.err)) {
			rc = 0;
		} else {
			char *why = gx_fabric_error_describe(&res.err);

			fail(r, "ledger read %s failed: %s", fn, why);
			free(why);
		}
		goto out;
	}
	*out = cJSON_ParseWithLength((const char *)res.response.payload.data, res.response.payload.len);
	if (!*out) {
		fail(r, "ledger read %s: the answer is not JSON", fn);
		goto out;
	}
	rc = 1;
out:
	gx_fabric_client_result_release(&res);
	return rc;
}

static void add_ledger(const struct rc_kind *k, const cJSON *rec, struct rc_set *out)
{
	char *vals[RC_MAXF] = { 0 };
	const char *key = k->ledger(rec, vals);

	if (key)
		rc_set_add(out, key, vals, k->nfields);
	else
		for (int i = 0; i < RC_MAXF; i++)
			free(vals[i]);
}

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct rc_rec *)a)->key, ((const struct rc_rec *)b)->key);
}

static int read_params(struct rc_run *r, const struct rc_kind *k, struct rc_set *out)
{
	cJSON *st;
	const cJSON *params, *it;

	if (evaluate(r, "AdminContract:GetSystemStatus", NULL, 0, false, &st) < 0)
		return -1;
	params = cJSON_GetObjectItemCaseSensitive(st, "parameters");
	cJSON_ArrayForEach(it, params) {
		cJSON *rec = cJSON_CreateObject();

		cJSON_AddStringToObject(rec, "paramKey", it->string);
		cJSON_AddItemToObject(rec, "paramValue", cJSON_Duplicate(it, 1));
		add_ledger(k, rec, out);
		cJSON_Delete(rec);
	}
	cJSON_Delete(st);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_rec);
	return 0;
}

int rc_read_ledger(struct rc_run *r, const struct rc_kind *k, struct rc_set *out)
{
	char size[16], *bookmark;
	int rc = -1;

	if (!k->list_fn)
		return read_params(r, k, out);
	bookmark = gx_xstrdup("");
	snprintf(size, sizeof(size), "%d", r->o->page_size);
	for (;;) {
		const char *args[2] = { size, bookmark };
		const cJSON *recs, *it, *bm;
		cJSON *page;

		if (evaluate(r, k->list_fn, args, 2, false, &page) < 0)
			goto out;
		recs = cJSON_GetObjectItemCaseSensitive(page, "records");
		bm = cJSON_GetObjectItemCaseSensitive(page, "bookmark");
		if (!cJSON_IsArray(recs) || !cJSON_IsString(bm)) {
			fail(r, "ledger read %s: no records/bookmark in the answer", k->list_fn);
			cJSON_Delete(page);
			goto out;
		}
		cJSON_ArrayForEach(it, recs)
			add_ledger(k, it, out);
		free(bookmark);
		bookmark = gx_xstrdup(bm->valuestring);
		cJSON_Delete(page);
		if (r->o->progress)
			r->o->progress(r->o->arg);
		if (!*bookmark)
			break;
	}
	/* the chaincode pages in byte order already; sorting keeps the merge right whatever the peer does */
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_rec);
	rc = 0;
out:
	free(bookmark);
	return rc;
}

int rc_get_ledger(struct rc_run *r, const struct rc_kind *k, const char *key, bool *found, char **vals)
{
	const char *args[1] = { key };
	cJSON *rec;
	int rc = evaluate(r, k->get_fn, args, 1, true, &rec);

	*found = rc == 1;
	if (rc == 1) {
		k->ledger(rec, vals);
		cJSON_Delete(rec);
	}
	return rc < 0 ? -1 : 0;
}

/* ---- read-model side -------------------------------------------------------------------------------------- */

static PGresult *query(struct rc_run *r, const char *sql, int n, const char *const *params)
{
	PGresult *res;

	rc_pace_wait(&r->db);
	r->db_pages++;
	res = PQexecParams(r->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fail(r, "read-model query failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	return res;
}

static void add_rows(const struct rc_kind *k, PGresult *res, struct rc_set *out)
{
	for (int i = 0; i < PQntuples(res); i++) {
		char *vals[RC_MAXF] = { 0 };

		for (int f = 0; f < k->nfields; f++)
			vals[f] = PQgetisnull(res, i, f + 1) ? NULL : gx_xstrdup(PQgetvalue(res, i, f + 1));
		rc_set_add(out, PQgetvalue(res, i, 0), vals, k->nfields);
	}
}

int rc_read_db(struct rc_run *r, const struct rc_kind *k, struct rc_set *out)
{
	char *sql =
		gx_xasprintf("SELECT * FROM (%s) p WHERE p.k COLLATE \"C\" > $2 ORDER BY p.k COLLATE \"C\" LIMIT $3",
			     k->sql);
	char limit[16], *after = gx_xstrdup("");
	int rc = -1;

	snprintf(limit, sizeof(limit), "%d", r->o->db_page_size);
	for (;;) {
		const char *params[3] = { r->o->tenant, after, limit };
		PGresult *res = query(r, sql, 3, params);
		int n;

		if (!res)
			goto out;
		add_rows(k, res, out);
		n = PQntuples(res);
		if (n) {
			free(after);
			after = gx_xstrdup(PQgetvalue(res, n - 1, 0));
		}
		PQclear(res);
		if (r->o->progress)
			r->o->progress(r->o->arg);
		if (n < r->o->db_page_size)
			break;
	}
	rc = 0;
out:
	free(after);
	free(sql);
	return rc;
}

int rc_get_db(struct rc_run *r, const struct rc_kind *k, const char *key, bool *found, char **vals)
{
	char *sql = gx_xasprintf("SELECT * FROM (%s) p WHERE p.k = $2", k->sql);
	const char *params[2] = { r->o->tenant, key };
	PGresult *res = query(r, sql, 2, params);

	free(sql);
	*found = false;
	if (!res)
		return -1;
	if (PQntuples(res) > 0) {
		*found = true;
		for (int f = 0; f < k->nfields; f++)
			vals[f] = PQgetisnull(res, 0, f + 1) ? NULL : gx_xstrdup(PQgetvalue(res, 0, f + 1));
	}
	PQclear(res);
	return 0;
}

long long rc_last_block(struct rc_run *r, const char *key)
{
	/* ids are [A-Za-z0-9._:-] (docs/chaincode.md §1): a quoted occurrence in the payload text names the key */
	static const char sql[] =
		"SELECT max(\"blockNumber\")::text FROM \"EventLog\" WHERE \"tenantId\" = $1"
		" AND strpos(\"payload\"::text, '\"' || $2 || '\"') > 0";
	const char *params[2] = { r->o->tenant, key };
	PGresult *res = query(r, sql, 2, params);
	long long b = -1;

	if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		b = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return b;
}

long long rc_checkpoint(struct rc_run *r)
{
	static const char sql[] = "SELECT max(\"lastBlock\")::text FROM \"ProjectorState\" WHERE \"tenantId\" = $1";
	const char *params[1] = { r->o->tenant };
	PGresult *res = query(r, sql, 1, params);
	long long b = -1;

	if (!res)
		return -2;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		b = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return b;
}
