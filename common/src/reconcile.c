/* Reconciliation driver (gx/reconcile.h, docs/reconcile.md): ledger read, one read-model snapshot, merge by key,
 * re-check of the candidates with point reads, the report; the repair (projector rebuild) and the Fabric client. */
#include "reconcile_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gx/log.h"
#include "gx/projector_rebuild.h"
#include "gx/util.h"

/* One field of one entity that differs. */
struct rc_cand {
	const struct rc_kind *kind;
	char *key;
	int field;
	char *ledger, *db; /* NULL = absent */
	bool settled;      /* equal on re-check */
};

struct rc_cands {
	struct rc_cand *v;
	size_t n, cap;
};

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void cand_add(struct rc_cands *c, const struct rc_kind *k, const char *key, int field, const char *l,
		     const char *d)
{
	struct rc_cand *e;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 32;
		c->v = gx_xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	e = &c->v[c->n++];
	e->kind = k;
	e->key = gx_xstrdup(key);
	e->field = field;
	e->ledger = l ? gx_xstrdup(l) : NULL;
	e->db = d ? gx_xstrdup(d) : NULL;
	e->settled = false;
}

static void cands_release(struct rc_cands *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].ledger);
		free(c->v[i].db);
	}
	free(c->v);
}

/* Value of field f of a record, or the field's absent value when the side has no record. */
static const char *val(const struct rc_kind *k, const struct rc_rec *rec, int f)
{
	return rec ? rec->vals[f] : k->fields[f].absent;
}

/* Compare one key's two sides; each differing field becomes a candidate. */
static void compare(struct rc_cands *c, const struct rc_kind *k, const char *key, const struct rc_rec *l,
		    const struct rc_rec *d)
{
	if (!l && k->ledger_keys_only)
		return;
	for (int f = 0; f < k->nfields; f++) {
		const char *lv = val(k, l, f), *dv = val(k, d, f);

		if (k->fields[f].optional && (!lv || !dv))
			continue;
		if (!same(lv, dv))
			cand_add(c, k, key, f, lv, dv);
	}
}

static void merge(struct rc_cands *c, const struct rc_kind *k, const struct rc_set *l, const struct rc_set *d)
{
	size_t i = 0, j = 0;

	while (i < l->n || j < d->n) {
		int cmp = i == l->n ? 1 : j == d->n ? -1 : strcmp(l->v[i].key, d->v[j].key);

		if (cmp == 0) {
			compare(c, k, l->v[i].key, &l->v[i], &d->v[j]);
			i++, j++;
		} else if (cmp < 0) {
			compare(c, k, l->v[i].key, &l->v[i], NULL);
			i++;
		} else {
			compare(c, k, d->v[j].key, NULL, &d->v[j]);
			j++;
		}
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Re-read each unsettled candidate on both sides; a candidate whose sides now agree is settled, else its figures
 * are the newest ones. Candidates of one key share the point reads. */
static int recheck(struct rc_run *r, struct rc_cands *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct rc_cand *e = &c->v[i];
		char *lv[RC_MAXF] = { 0 }, *dv[RC_MAXF] = { 0 };
		bool lf, df;
		int rc;

		if (e->settled || (i > 0 && c->v[i - 1].kind == e->kind && !strcmp(c->v[i - 1].key, e->key)))
			continue;
		rc = rc_get_ledger(r, e->kind, e->key, &lf, lv);
		if (rc == 0)
			rc = rc_get_db(r, e->kind, e->key, &df, dv);
		for (size_t j = i; rc == 0 && j < c->n && c->v[j].kind == e->kind && !strcmp(c->v[j].key, e->key);
		     j++) {
			struct rc_cand *x = &c->v[j];
			const char *nl = lf ? lv[x->field] : e->kind->fields[x->field].absent;
			const char *nd = df ? dv[x->field] : e->kind->fields[x->field].absent;

			if (same(nl, nd) || (e->kind->fields[x->field].optional && (!nl || !nd))) {
				x->settled = true;
				continue;
			}
			free(x->ledger);
			free(x->db);
			x->ledger = nl ? gx_xstrdup(nl) : NULL;
			x->db = nd ? gx_xstrdup(nd) : NULL;
		}
		for (int f = 0; f < RC_MAXF; f++) {
			free(lv[f]);
			free(dv[f]);
		}
		if (rc < 0)
			return -1;
	}
	if (r->o->progress)
		r->o->progress(r->o->arg);
	return 0;
}

static size_t unsettled(const struct rc_cands *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n; i++)
		n += !c->v[i].settled;
	return n;
}

static cJSON *entry(const struct rc_cand *e, long long last_block)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "entity", e->kind->entity);
	cJSON_AddStringToObject(o, "key", e->key);
	cJSON_AddStringToObject(o, "field", e->kind->fields[e->field].name);
	if (e->ledger)
		cJSON_AddStringToObject(o, "ledger", e->ledger);
	else
		cJSON_AddNullToObject(o, "ledger");
	if (e->db)
		cJSON_AddStringToObject(o, "readModel", e->db);
	else
		cJSON_AddNullToObject(o, "readModel");
	if (last_block >= 0)
		cJSON_AddNumberToObject(o, "lastBlock", (double)last_block);
	else
		cJSON_AddNullToObject(o, "lastBlock");
	return o;
}

static void opts_defaults(struct gx_reconcile_opts *o)
{
	if (o->page_size <= 0)
		o->page_size = 200;
	if (o->page_size > GX_RECONCILE_PAGE_MAX)
		o->page_size = GX_RECONCILE_PAGE_MAX;
	if (o->peer_rate == 0)
		o->peer_rate = 20;
	if (o->db_page_size <= 0)
		o->db_page_size = 500;
	if (o->db_page_size > GX_RECONCILE_DB_PAGE_MAX)
		o->db_page_size = GX_RECONCILE_DB_PAGE_MAX;
	if (o->db_rate == 0)
		o->db_rate = 20;
	if (o->recheck_rounds < 0)
		o->recheck_rounds = 0;
	if (o->recheck_rounds > 20)
		o->recheck_rounds = 20;
	if (o->recheck_interval_ms <= 0)
		o->recheck_interval_ms = 1000;
	if (o->max_report <= 0)
		o->max_report = 1000;
}

static bool exec_ok(struct rc_run *r, const char *sql)
{
	PGresult *res = PQexec(r->conn, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		snprintf(r->err, r->errlen, "read-model query failed: %s", PQresultErrorMessage(res));
	PQclear(res);
	return ok;
}

/* Phases 1-2: the ledger, then every read model at one snapshot (a read-only repeatable-read transaction: it takes
 * no locks a writer waits for). Counts go into counts. */
static int read_all(struct rc_run *r, struct rc_cands *c, cJSON *counts, long long *checkpoint)
{
	struct rc_set *led = gx_xcalloc(rc_nkinds, sizeof(*led));
	int rc = -1;

	for (size_t i = 0; i < rc_nkinds; i++)
		if (rc_read_ledger(r, &rc_kinds[i], &led[i]) < 0)
			goto out;
	if (!exec_ok(r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
		goto out;
	*checkpoint = rc_checkpoint(r);
	if (*checkpoint < -1)
		goto rollback;
	for (size_t i = 0; i < rc_nkinds; i++) {
		struct rc_set db = { 0 };
		cJSON *n = cJSON_AddObjectToObject(counts, rc_kinds[i].entity);

		if (rc_read_db(r, &rc_kinds[i], &db) < 0) {
			rc_set_release(&db);
			goto rollback;
		}
		cJSON_AddNumberToObject(n, "ledger", (double)led[i].n);
		cJSON_AddNumberToObject(n, "readModel", (double)db.n);
		merge(c, &rc_kinds[i], &led[i], &db);
		rc_set_release(&db);
	}
	rc = exec_ok(r, "COMMIT") ? 0 : -1;
	goto out;
rollback:
	PQclear(PQexec(r->conn, "ROLLBACK"));
out:
	for (size_t i = 0; i < rc_nkinds; i++)
		rc_set_release(&led[i]);
	free(led);
	return rc;
}

enum gx_reconcile_outcome gx_reconcile_run(PGconn *conn, struct gx_fabric_client *fc,
					   const struct gx_reconcile_opts *opts, cJSON **report, char *err,
					   size_t errlen)
{
	struct gx_reconcile_opts o = *opts;
	struct rc_run r = { .conn = conn, .fc = fc, .o = &o, .err = err, .errlen = errlen };
	struct rc_cands c = { 0 };
	int64_t t0 = gx_mono_us();
	long long checkpoint = -1, after;
	cJSON *rep = cJSON_CreateObject(), *counts, *diffs, *flight;
	size_t ndiff = 0, nflight = 0, first;
	enum gx_reconcile_outcome out = GX_RECONCILE_FAILED;

	*report = NULL;
	opts_defaults(&o);
	r.peer.rate = o.peer_rate;
	r.db.rate = o.db_rate;
	cJSON_AddStringToObject(rep, "tenant", o.tenant);
	counts = cJSON_CreateObject();
	if (read_all(&r, &c, counts, &checkpoint) < 0) {
		cJSON_Delete(counts);
		goto out;
	}
	first = c.n;
	/* Phase 3: what differed may have been in flight (written on the ledger while the run read, not yet
	 * projected, or projected after its ledger page was read): re-read those keys until they agree or the rounds
	 * are used up. */
	for (int round = 0; round < o.recheck_rounds && unsettled(&c); round++) {
		sleep_ms(o.recheck_interval_ms);
		if (recheck(&r, &c) < 0) {
			cJSON_Delete(counts);
			goto out;
		}
	}
	after = rc_checkpoint(&r);
	/* Phase 4: an entity still differing that a block after the snapshot touched is still being written (in
	 * flight); any other is a difference. */
	diffs = cJSON_CreateArray();
	flight = cJSON_CreateArray();
	for (size_t i = 0; i < c.n; i++) {
		long long last;
		bool busy;

		if (c.v[i].settled)
			continue;
		last = rc_last_block(&r, c.v[i].key);
		busy = last > checkpoint && checkpoint >= 0;
		if (busy ? nflight++ < (size_t)o.max_report : ndiff++ < (size_t)o.max_report)
			cJSON_AddItemToArray(busy ? flight : diffs, entry(&c.v[i], last));
	}
	out = ndiff ? GX_RECONCILE_DIFFERENCES : nflight ? GX_RECONCILE_IN_FLIGHT : GX_RECONCILE_CLEAN;
	cJSON_AddStringToObject(rep, "outcome",
				out == GX_RECONCILE_CLEAN ? "clean"
				: ndiff                   ? "differences"
							  : "in_flight");
	cJSON_AddNumberToObject(rep, "checkpoint", (double)checkpoint);
	cJSON_AddNumberToObject(rep, "checkpointAfter", (double)(after < -1 ? -1 : after));
	cJSON_AddItemToObject(rep, "counts", counts);
	cJSON_AddNumberToObject(rep, "differenceCount", (double)ndiff);
	cJSON_AddNumberToObject(rep, "inFlightCount", (double)nflight);
	cJSON_AddNumberToObject(rep, "resolvedOnRecheck", (double)(first - ndiff - nflight));
	cJSON_AddItemToObject(rep, "differences", diffs);
	cJSON_AddItemToObject(rep, "inFlight", flight);
	cJSON_AddNumberToObject(rep, "ledgerCalls", (double)r.ledger_calls);
	cJSON_AddNumberToObject(rep, "dbPages", (double)r.db_pages);
	cJSON_AddNumberToObject(rep, "durationMs", (double)((gx_mono_us() - t0) / 1000));
	*report = rep;
	rep = NULL;
out:
	cands_release(&c);
	cJSON_Delete(rep);
	return out;
}

/* ---- repair ----------------------------------------------------------------------------------------------- */

/* clang-format off */
static const char SQL_REBUILD[] = "BEGIN;SET LOCAL lock_timeout = '30s';" GX_PROJECTOR_REBUILD_SQL;
static const char SQL_AUDIT[] =
	"INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\", \"details\")"
	" VALUES ($1, $2, 'OPERATOR', 'PROJECTOR_REBUILD', 'PROJECTOR', jsonb_build_object('reason', 'reconcile'))";
/* clang-format on */

int gx_reconcile_repair(PGconn *conn, const char *tenant, const char *actor, int timeout_ms, char *err, size_t errlen)
{
	struct gx_reconcile_opts o = { .tenant = tenant };
	struct rc_run r = { .conn = conn, .o = &o, .err = err, .errlen = errlen };
	const char *params[2] = { tenant, actor };
	long long before = rc_checkpoint(&r), now;
	int64_t deadline;
	PGresult *res;

	if (before < -1)
		return -1;
	if (!exec_ok(&r, SQL_REBUILD))
		goto rollback;
	res = PQexecParams(conn, SQL_AUDIT, 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "rebuild audit failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	if (!exec_ok(&r, "COMMIT"))
		goto rollback;
	gx_log_info("reconcile repair: read models cleared, the projector replays from block 0 (checkpoint was %lld)",
		    before);
	deadline = gx_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		now = rc_checkpoint(&r);
		if (now < -1)
			return -1;
		if (now >= before)
			return 0;
		if (gx_mono_us() > deadline) {
			snprintf(err, errlen, "the projector replayed to block %lld of %lld within %d ms", now, before,
				 timeout_ms);
			return -1;
		}
		sleep_ms(200);
	}
rollback:
	PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

/* ---- Fabric client ---------------------------------------------------------------------------------------- */

struct gx_fabric_client *gx_reconcile_client_new(const struct gx_fabric_cfg *cfg, struct gx_fabric_id **id)
{
	struct gx_fabric_client_opts o = {
		.endpoint = cfg->peer_endpoint,
		.channel_id = cfg->channel,
		.chaincode_id = cfg->chaincode,
		.tls_ca_file = cfg->tls_ca_file[0] ? cfg->tls_ca_file : NULL,
		.tls_cert_file = cfg->tls_cert_file[0] ? cfg->tls_cert_file : NULL,
		.tls_key_file = cfg->tls_key_file[0] ? cfg->tls_key_file : NULL,
		.server_name = cfg->tls_server_name[0] ? cfg->tls_server_name : NULL,
	};
	struct gx_fabric_client *c;

	*id = gx_fabric_id_load(cfg->msp_id, cfg->cert[GX_FABRIC_CFG_PARTNER], cfg->key[GX_FABRIC_CFG_PARTNER]);
	if (!*id)
		return NULL;
	c = gx_fabric_client_new(&o, *id);
	if (!c) {
		gx_fabric_id_free(*id);
		*id = NULL;
	}
	return c;
}
