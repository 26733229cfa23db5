/* outbox-submitter: claiming (submitter_int.h). One transaction claims a batch of due rows, maps each to its
 * chaincode call, persists each proposal (and so its tx id) before anything is sent, fails the rows that cannot be
 * mapped and defers the ones no proposal could be built for; after COMMIT the jobs are sent
 * (docs/outbox-submitter.md). Also the proposal's stored form and the session setup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <mbedtls/base64.h>

#include "gx/fabric_msg.h"
#include "gx/log.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/util.h"
#include "submitter_int.h"

/* A copy of msg fit for a TEXT column: control and non-ASCII bytes become '?', at most MSG_MAX bytes. */
char *sub_clean_msg(const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;
	char *out;

	if (n > MSG_MAX)
		n = MSG_MAX;
	out = gx_xstrndup(msg ? msg : "", n);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return out;
}

static char *b64(const struct gx_fabric_msg_buf *in)
{
	size_t cap = 4 * ((in->len + 2) / 3) + 1, olen = 0;
	char *out = gx_xmalloc(cap);

	if (mbedtls_base64_encode((unsigned char *)out, cap, &olen, in->data, in->len) != 0)
		out[0] = '\0';
	else
		out[olen] = '\0';
	return out;
}

/* Decode base64 text into a new buffer; NULL when malformed. */
static unsigned char *unb64(const char *in, size_t *len)
{
	size_t n = strlen(in), cap = n / 4 * 3 + 3;
	unsigned char *out = gx_xmalloc(cap);

	if (n == 0 || mbedtls_base64_decode(out, cap, len, (const unsigned char *)in, n) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The JSON stored as payload._submission for proposal p. Caller frees. */
char *sub_submission_json(const struct gx_fabric_proposal *p)
{
	char *prop = b64(&p->bytes), *sig = b64(&p->signature);
	char *out = gx_xasprintf("{\"txId\":\"%s\",\"proposal\":\"%s\",\"signature\":\"%s\"}", p->tx_id, prop, sig);

	free(prop);
	free(sig);
	return out;
}

/* Rebuild the stored proposal of a command; NULL when absent or unusable (a new one is then built). */
static struct gx_fabric_proposal *stored_proposal(const struct gx_log_ctx *ctx, const char *id, const char *prop_b64,
						  const char *sig_b64)
{
	struct gx_fabric_error err = { 0 };
	struct gx_fabric_proposal *p = NULL;
	unsigned char *bytes = NULL, *sig = NULL;
	size_t blen = 0, slen = 0;

	if (!*prop_b64 || !*sig_b64)
		return NULL;
	bytes = unb64(prop_b64, &blen);
	sig = unb64(sig_b64, &slen);
	if (bytes && sig)
		p = gx_fabric_msg_proposal_parse(bytes, blen, sig, slen, &err);
	if (!p)
		gx_log_write(GX_LOG_WARN, ctx, GX_LOG_FIELDS(GX_LOG_STR("commandId", id)),
			     "command %s: stored proposal unusable (%s); building a new one", id,
			     err.message ? err.message : "bad base64");
	gx_fabric_error_release(&err);
	free(bytes);
	free(sig);
	return p;
}

/* The columns of one claim transaction. */
struct claim_batch {
	struct gx_outbox_store_arr ids, txs, subs, aggs, incs; /* PERSIST: the commands about to be sent */
	struct gx_outbox_store_arr fids, fcodes, fmsgs;        /* FAIL: commands that cannot be mapped */
	struct gx_outbox_store_arr defer;                      /* DEFER: no proposal could be built now */
	struct job **jobs;                                     /* jobs[i] sends props[i] after COMMIT */
	struct gx_fabric_proposal **props;
	int n, nfail, ndefer;
};

static void batch_free(struct claim_batch *b)
{
	struct gx_outbox_store_arr *arrs[] = { &b->ids,  &b->txs,    &b->subs,  &b->aggs, &b->incs,
					       &b->fids, &b->fcodes, &b->fmsgs, &b->defer };

	for (size_t i = 0; i < GX_ARRAY_LEN(arrs); i++)
		gx_outbox_store_arr_free(arrs[i]);
	free(b->jobs);
	free(b->props);
}

static void add_unmappable(struct claim_batch *b, const struct gx_log_ctx *ctx, const char *id, const char *err)
{
	char *m = sub_clean_msg(err);

	gx_outbox_store_arr_add(&b->fids, id);
	gx_outbox_store_arr_add(&b->fcodes, "MAPPING_ERROR");
	gx_outbox_store_arr_add(&b->fmsgs, m);
	free(m);
	b->nfail++;
	gx_log_write(GX_LOG_WARN, ctx, GX_LOG_FIELDS(GX_LOG_STR("commandId", id)), "command %s cannot be mapped: %s",
		     id, err);
}

/* Map claimed row i to its chaincode call and its proposal (the stored one, else a new one) and list it in b. */
static void add_row(struct sub *s, struct claim_batch *b, const PGresult *r, int i)
{
	const struct sub_cfg *c = s->cfg;
	const char *id = gx_pg_val(r, i, "id");
	const struct gx_log_ctx ctx = { gx_pg_val(r, i, "rid"), gx_pg_val(r, i, "tid"), NULL };
	cJSON *payload = cJSON_Parse(gx_pg_val(r, i, "payload"));
	struct gx_cc_call call = { 0 };
	struct gx_fabric_proposal *p;
	struct job *j;
	char err[256], *subj = NULL;
	int rc = gx_chaincode_map(gx_pg_val(r, i, "ctype"), payload, &call, err, sizeof(err));

	cJSON_Delete(payload);
	if (rc < 0) {
		add_unmappable(b, &ctx, id, err);
		return;
	}
	p = stored_proposal(&ctx, id, gx_pg_val(r, i, "prop"), gx_pg_val(r, i, "sig"));
	if (!p) {
		p = gx_fabric_msg_proposal_new(s->ids[call.identity], c->fabric.channel, c->fabric.chaincode,
					       call.function, (const char *const *)call.argv, call.argc);
		if (!p) {
			gx_cc_call_release(&call);
			gx_outbox_store_arr_add(&b->defer, id);
			b->ndefer++;
			return;
		}
		subj = sub_submission_json(p);
	}
	j = sub_job_new(s, id, ctx.request_id, ctx.trace_id);
	j->call = call;
	j->attempts = atoi(gx_pg_val(r, i, "attempts")) + 1;
	j->created_ms = atoll(gx_pg_val(r, i, "created_ms"));
	memcpy(j->tx_id, p->tx_id, sizeof(j->tx_id));
	gx_outbox_store_arr_add(&b->ids, id);
	gx_outbox_store_arr_add(&b->txs, p->tx_id);
	gx_outbox_store_arr_add(&b->subs, subj);
	gx_outbox_store_arr_add(&b->aggs, call.aggregate);
	gx_outbox_store_arr_addll(&b->incs, 1);
	free(subj);
	b->jobs[b->n] = j;
	b->props[b->n++] = p;
}

/* Run one statement of the claim transaction; 0 or -1 (logged). */
static int exec_batch(struct sub *s, const char *what, size_t q, int n, const char *const *p)
{
	PGresult *u = gx_pgs_exec(s->db, what, q, n, p);

	PQclear(u);
	return u ? 0 : -1;
}

/* Write the batch inside the claim transaction: persist the proposals, fail the unmappable, defer the rest. */
static int write_batch(struct sub *s, struct claim_batch *b)
{
	char lease[24];

	snprintf(lease, sizeof(lease), "%lld", s->cfg->lease_ms);
	if (b->n > 0) {
		const char *p[] = { s->worker_id,
				    lease,
				    gx_outbox_store_arr_end(&b->ids),
				    gx_outbox_store_arr_end(&b->txs),
				    gx_outbox_store_arr_end(&b->subs),
				    gx_outbox_store_arr_end(&b->aggs),
				    gx_outbox_store_arr_end(&b->incs),
				    "true" };

		if (exec_batch(s, "persisting proposals", GX_OUTBOX_STORE_PERSIST, 8, p) < 0)
			return -1;
	}
	if (b->nfail > 0) {
		const char *p[] = { s->worker_id, gx_outbox_store_arr_end(&b->fids),
				    gx_outbox_store_arr_end(&b->fcodes), gx_outbox_store_arr_end(&b->fmsgs), "true" };

		if (exec_batch(s, "marking commands FAILED", GX_OUTBOX_STORE_FAIL, 5, p) < 0)
			return -1;
	}
	if (b->ndefer > 0) {
		const char *p[] = { gx_outbox_store_arr_end(&b->defer) };

		if (exec_batch(s, "deferring commands", GX_OUTBOX_STORE_DEFER, 1, p) < 0)
			return -1;
	}
	return 0;
}

/* Claim up to n commands, persist their proposals and send them. Returns the number of rows claimed, -1 on a
 * database failure. */
int sub_claim(struct sub *s, size_t n)
{
	struct claim_batch b = { 0 };
	char lim[24], cand[24];
	const char *p[] = { lim, cand };
	PGresult *r;
	int rows;

	snprintf(lim, sizeof(lim), "%zu", n);
	snprintf(cand, sizeof(cand), "%zu", n * 4);
	if (gx_pgs_begin(s->db) < 0)
		return -1;
	r = gx_pgs_exec(s->db, "claiming commands", GX_OUTBOX_STORE_CLAIM, 2, p);
	if (!r) {
		gx_pgs_rollback(s->db);
		return -1;
	}
	rows = PQntuples(r);
	b.jobs = gx_xcalloc((size_t)rows + 1, sizeof(*b.jobs));
	b.props = gx_xcalloc((size_t)rows + 1, sizeof(*b.props));
	for (int i = 0; i < rows; i++)
		add_row(s, &b, r, i);
	PQclear(r);
	if (write_batch(s, &b) < 0 || gx_pgs_commit(s->db) < 0) {
		gx_pgs_rollback(s->db);
		for (int i = 0; i < b.n; i++) {
			gx_fabric_msg_proposal_free(b.props[i]);
			sub_job_free(s, b.jobs[i]);
		}
		batch_free(&b);
		return -1;
	}
	sub_count("mapping_error", b.nfail);
	for (int i = 0; i < b.n; i++)
		sub_job_send(s, b.jobs[i], b.props[i]);
	batch_free(&b);
	return rows;
}

void sub_held_ids(const struct sub *s, struct gx_outbox_store_arr *a)
{
	for (size_t i = 0; i < s->njobs; i++)
		gx_outbox_store_arr_add(a, s->jobs[i]->id);
	gx_outbox_store_arr_end(a);
}

static void identity_state(struct sub *s, bool ok, const char *why)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->id_reason, sizeof(s->id_reason), "%s", ok ? "" : why);
	pthread_mutex_unlock(&s->lock);
	atomic_store(&s->id_ok, ok);
}

/* Take the worker's name for this session (design.md §7): the one it had (or, at the first connect, the first)
 * and, unless WORKER_ID fixes it, the next free suffix after it. 0 when held; -1 when the session failed or no
 * name is free (the session is then dropped and the next connect tries again). */
static int take_identity(struct sub *s)
{
	char why[200];

	for (int slot = s->id_slot; slot <= SUB_MAX_ID_SLOTS; slot++) {
		char *name = slot == 1 ? gx_xstrdup(s->id_base) : gx_xasprintf("%s-%d", s->id_base, slot);
		const char *p[] = { name };
		PGresult *r = gx_pgs_exec(s->db, "taking the worker name", GX_OUTBOX_STORE_IDENTITY, 1, p);
		bool held = r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;

		PQclear(r);
		if (!r) {
			free(name);
			return -1;
		}
		if (held) {
			if (strcmp(s->worker_id, name) != 0)
				gx_log_warn("worker name %s is held by another live process; this one is now %s",
					    s->worker_id, name);
			free(s->worker_id);
			s->worker_id = name;
			s->id_slot = slot;
			identity_state(s, true, NULL);
			return 0;
		}
		free(name);
		if (s->id_fixed)
			break;
	}
	if (s->id_fixed)
		snprintf(why, sizeof(why), "WORKER_ID %.120s is held by another live submitter", s->id_base);
	else
		snprintf(why, sizeof(why), "no free worker name %.120s-<n> up to %d", s->id_base, SUB_MAX_ID_SLOTS);
	if (atomic_load(&s->id_ok))
		gx_log_error("%s; not claiming until it is free", why);
	identity_state(s, false, why);
	gx_pgs_drop(s->db);
	return -1;
}

/* Connect when due (now: without waiting out the backoff) and set the new session up: the worker's name, LISTEN
 * gx_outbox, and the release of every row leased under the name that this process does not hold: an earlier
 * process's (a restart), or a claim whose COMMIT answer was lost with the connection. */
void sub_db_connect(struct sub *s, bool now)
{
	struct gx_outbox_store_arr held = { 0 };
	PGresult *r;

	if ((now ? gx_pgs_connect(s->db) : gx_pgs_ensure(s->db)) != 1)
		return;
	if (take_identity(s) < 0)
		return;
	if (gx_pgs_command(s->db, "LISTEN gx_outbox") < 0) {
		gx_pgs_drop(s->db);
		return;
	}
	s->wake = true;
	gx_log_info("database connected; worker %s listening on gx_outbox", s->worker_id);
	sub_held_ids(s, &held);
	{
		const char *p[] = { s->worker_id, held.p };

		r = gx_pgs_exec(s->db, "releasing leases this process does not hold", GX_OUTBOX_STORE_RELEASE, 2, p);
	}
	if (r && PQntuples(r) > 0)
		gx_log_info("released %d commands leased under worker %s that this process does not hold (first %s)",
			    PQntuples(r), s->worker_id, PQgetvalue(r, 0, 0));
	PQclear(r);
	gx_outbox_store_arr_free(&held);
}
