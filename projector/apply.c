/* projector: apply one block in one database transaction on the session that holds the advisory lock.
 *
 *   BEGIN; check the checkpoint row (FOR UPDATE) is the one we resume from;
 *   fast path: every event's statements, then EventLog, PROJECTED marks and the checkpoint, in libpq pipeline mode
 *   (a few round trips per block), COMMIT;
 *   if an event fails (constraint, bad data, missing target row): ROLLBACK and redo the block with one SAVEPOINT per
 *   event, sending the failing ones to "EventDLQ" with the reason;
 *   "EventLog" rows for every event; OutboxCommand PROJECTED + NOTIFY gx_command_status; the checkpoint; COMMIT.
 *
 * So a crash at any point leaves either the whole block applied with its checkpoint, or nothing of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/chaincode.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/util.h"
#include "gx/valid.h"
#include "projector.h"

/* statements sent per pipeline sync: small enough that results never fill the socket while we still write */
#define PIPE_CHUNK 256

/* One event of the block being applied. */
struct bev {
	const struct gx_fabric_msg_event *src;
	cJSON *payload; /* parsed object, or NULL when unparseable */
	char *raw_json; /* JSON text stored in EventLog/DLQ (the payload, or a JSON string of the raw bytes) */
	int64_t time_ms;
	struct prj_stmts st;
	bool poison;
	bool invalid; /* poison before any statement ran: the event itself failed validation */
	char why[300];
	const char *label; /* metric label: the event name when known, else "unknown" */
};

/* Parse the payload and build its statements (or the poison reason). */
static void prepare_event(struct prj *p, struct bev *b, uint64_t block)
{
	const struct gx_fabric_msg_event *e = b->src;
	const char *name = e->event_name ? e->event_name : "";
	struct prj_event pe;

	b->label = gx_chaincode_known_event(name) ? name : "unknown";
	/* text for PostgreSQL: well-formed UTF-8 (gx/valid.h) without NUL bytes */
	if (!gx_valid_utf8_n(e->payload.data, e->payload.len) || memchr(e->payload.data, 0, e->payload.len)) {
		char *hex = gx_xmalloc(e->payload.len * 2 + 3);
		cJSON *s;

		hex[0] = '\\';
		hex[1] = 'x';
		gx_hex_encode(e->payload.data, e->payload.len, hex + 2);
		s = cJSON_CreateString(hex);
		b->raw_json = cJSON_PrintUnformatted(s);
		cJSON_Delete(s);
		free(hex);
		b->poison = b->invalid = true;
		snprintf(b->why, sizeof(b->why), "%.80s: payload is not valid UTF-8 text", name);
		return;
	}
	b->payload = cJSON_ParseWithLength((const char *)e->payload.data, e->payload.len);
	if (!b->payload) {
		cJSON *s = cJSON_CreateString("");
		char *txt = gx_xstrndup((const char *)e->payload.data, e->payload.len);

		cJSON_SetValuestring(s, txt);
		b->raw_json = cJSON_PrintUnformatted(s);
		cJSON_Delete(s);
		free(txt);
		b->poison = b->invalid = true;
		snprintf(b->why, sizeof(b->why), "%.80s: payload is not valid JSON", name);
		return;
	}
	b->raw_json = cJSON_PrintUnformatted(b->payload);
	pe = (struct prj_event){ .tenant = p->tenant,
				 .tx_id = e->tx_id ? e->tx_id : "",
				 .name = name,
				 .payload = b->payload,
				 .block = block,
				 .time_ms = b->time_ms };
	if (prj_handle_event(&pe, &b->st, b->why, sizeof(b->why)) < 0)
		b->poison = b->invalid = true;
}

static void bev_free(struct bev *b)
{
	cJSON_Delete(b->payload);
	free(b->raw_json);
	prj_stmts_free(&b->st);
}

/* SQLSTATE classes that make an event poison (its data, not the database): data exceptions and integrity
 * constraint violations. Anything else (connection, timeout, serialization) is retried with the whole block. */
static bool poison_state(const PGresult *r)
{
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return s && (strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0);
}

static PGresult *exec_stmt(PGconn *c, const struct prj_stmt *s)
{
	return PQexecPrepared(c, prj_sql[s->q].name, s->nparams, (const char *const *)s->params, NULL, NULL, 0);
}

static bool simple(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		gx_log_error("projector: %s failed: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return ok;
}

/* The commands a block marked PROJECTED (the rows of the outbox store's statement), for the lines written about
 * them once the block is committed. */
struct mark {
	char *id, *tx, *rid, *tid; /* command id, its fabricTxId, X-Request-Id and trace id ("" when unknown) */
};

struct marks {
	struct mark *v;
	size_t n;
};

static void marks_take(struct marks *m, const PGresult *r)
{
	int rows = PQntuples(r);

	if (rows <= 0 || PQnfields(r) < 4)
		return;
	m->v = gx_xrealloc(m->v, (m->n + (size_t)rows) * sizeof(*m->v));
	for (int i = 0; i < rows; i++)
		m->v[m->n++] = (struct mark){ gx_xstrdup(PQgetvalue(r, i, 0)), gx_xstrdup(PQgetvalue(r, i, 1)),
					      gx_xstrdup(PQgetvalue(r, i, 2)), gx_xstrdup(PQgetvalue(r, i, 3)) };
}

static void marks_free(struct marks *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].id);
		free(m->v[i].tx);
		free(m->v[i].rid);
		free(m->v[i].tid);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* The command whose transaction tx is, or NULL (not ours). */
static const struct mark *marks_find(const struct marks *m, const char *tx)
{
	for (size_t i = 0; tx && i < m->n; i++)
		if (strcmp(m->v[i].tx, tx) == 0)
			return &m->v[i];
	return NULL;
}

enum fast_rc { FAST_OK, FAST_POISON, FAST_DB_ERROR };

static bool is_balance(int q)
{
	return q == Q_BAL_ANY || q == Q_BAL_SYSTEM || q == Q_BAL_TREASURY;
}

/* Balances are absolute, so within a block only the last balance statement of an account matters: mark the earlier
 * ones skipped (skip[k] for the k-th statement in block order). Saves updating a hot row (the fee pool) once per
 * event. Only for the fast path, where every event of the block is applied. */
static void dedupe_balances(struct bev *evs, size_t n, size_t nflat, bool *skip)
{
	size_t cap = 64, k = nflat;
	const char **set;

	while (cap < nflat * 2)
		cap *= 2;
	set = gx_xcalloc(cap, sizeof(*set));
	for (size_t i = n; i-- > 0;) {
		for (size_t j = evs[i].st.n; j-- > 0;) {
			const struct prj_stmt *st = &evs[i].st.v[j];
			const char *acct;
			uint32_t h = 2166136261u;
			size_t at;

			k--;
			if (!is_balance(st->q) || !st->params[1])
				continue;
			acct = st->params[1];
			for (const char *c = acct; *c; c++)
				h = (h ^ (unsigned char)*c) * 16777619u;
			for (at = h & (cap - 1); set[at]; at = (at + 1) & (cap - 1))
				if (strcmp(set[at], acct) == 0)
					break;
			if (set[at])
				skip[k] = true;
			else
				set[at] = acct;
		}
	}
	free(set);
}

/* Run every event's statements, then the ntail block-level statements of tail, in pipeline mode; the commands
 * marked PROJECTED go to marks. FAST_POISON: some event failed in a way that makes it poison (the transaction is
 * aborted; the caller rolls back and takes the slow path). */
static enum fast_rc run_fast(PGconn *c, struct bev *evs, size_t n, const struct prj_stmt *tail, size_t ntail,
			     struct marks *marks)
{
	const struct prj_stmt **flat = NULL;
	size_t nflat = 0, cap = 0;
	bool *skip = NULL;
	enum fast_rc rc = FAST_OK;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < evs[i].st.n; j++) {
			if (nflat == cap) {
				cap = cap ? cap * 2 : 64;
				flat = gx_xrealloc(flat, cap * sizeof(*flat));
			}
			flat[nflat++] = &evs[i].st.v[j];
		}
	}
	if (nflat + ntail == 0)
		goto out;
	skip = gx_xcalloc(nflat ? nflat : 1, sizeof(*skip));
	if (nflat)
		dedupe_balances(evs, n, nflat, skip);
	{
		size_t m = 0;

		for (size_t k = 0; k < nflat; k++)
			if (!skip[k])
				flat[m++] = flat[k];
		nflat = m;
	}
	if (nflat + ntail > cap)
		flat = gx_xrealloc(flat, (nflat + ntail) * sizeof(*flat));
	for (size_t k = 0; k < ntail; k++)
		flat[nflat++] = &tail[k];
	if (!PQenterPipelineMode(c)) {
		gx_log_error("projector: cannot enter pipeline mode: %s", PQerrorMessage(c));
		rc = FAST_DB_ERROR;
		goto out;
	}
	for (size_t at = 0; at < nflat && rc == FAST_OK; at += PIPE_CHUNK) {
		size_t end = at + PIPE_CHUNK < nflat ? at + PIPE_CHUNK : nflat;
		PGresult *r;

		for (size_t k = at; k < end; k++) {
			const struct prj_stmt *s = flat[k];

			if (!PQsendQueryPrepared(c, prj_sql[s->q].name, s->nparams, (const char *const *)s->params,
						 NULL, NULL, 0)) {
				gx_log_error("projector: pipeline send failed: %s", PQerrorMessage(c));
				rc = FAST_DB_ERROR;
				goto out_pipe;
			}
		}
		if (!PQpipelineSync(c)) {
			gx_log_error("projector: pipeline sync failed: %s", PQerrorMessage(c));
			rc = FAST_DB_ERROR;
			goto out_pipe;
		}
		for (size_t k = at; k < end; k++) {
			r = PQgetResult(c);
			if (!r) {
				gx_log_error("projector: pipeline ended early: %s", PQerrorMessage(c));
				rc = FAST_DB_ERROR;
				goto out_pipe;
			}
			switch (PQresultStatus(r)) {
			case PGRES_COMMAND_OK:
			case PGRES_TUPLES_OK:
				if (flat[k]->expect_row && PQntuples(r) == 0 && rc == FAST_OK)
					rc = FAST_POISON;
				if (flat[k]->q == Q_OUTBOX)
					marks_take(marks, r);
				break;
			case PGRES_PIPELINE_ABORTED:
				break;
			default:
				if (rc == FAST_OK)
					rc = poison_state(r) ? FAST_POISON : FAST_DB_ERROR;
				if (rc == FAST_DB_ERROR)
					gx_log_error("projector: statement %s failed: %s", prj_sql[flat[k]->q].name,
						     PQresultErrorMessage(r));
				break;
			}
			PQclear(r);
			/* the NULL that ends this statement's results */
			while ((r = PQgetResult(c)) != NULL)
				PQclear(r);
			if (PQstatus(c) != CONNECTION_OK) {
				rc = FAST_DB_ERROR;
				goto out_pipe;
			}
		}
		r = PQgetResult(c);
		if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
			gx_log_error("projector: pipeline out of step: %s", PQerrorMessage(c));
			PQclear(r);
			rc = FAST_DB_ERROR;
			goto out_pipe;
		}
		PQclear(r);
	}
out_pipe:
	if (rc != FAST_DB_ERROR && !PQexitPipelineMode(c)) {
		gx_log_error("projector: cannot leave pipeline mode: %s", PQerrorMessage(c));
		rc = FAST_DB_ERROR;
	}
out:
	free(skip);
	free(flat);
	return rc;
}

/* One event at a time under a SAVEPOINT; failing events become poison. Returns false on database failure. */
static bool run_slow(PGconn *c, struct bev *evs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct bev *b = &evs[i];

		if (b->poison || b->st.n == 0)
			continue;
		if (!simple(c, "SAVEPOINT prj_ev"))
			return false;
		for (size_t j = 0; j < b->st.n && !b->poison; j++) {
			const struct prj_stmt *s = &b->st.v[j];
			PGresult *r = exec_stmt(c, s);
			ExecStatusType st = PQresultStatus(r);

			if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
				if (s->expect_row && PQntuples(r) == 0) {
					b->poison = true;
					snprintf(b->why, sizeof(b->why), "%.80s: %s", b->src->event_name,
						 s->expect_what);
				}
			} else if (poison_state(r)) {
				b->poison = true;
				snprintf(b->why, sizeof(b->why), "%.80s: %s", b->src->event_name,
					 PQresultErrorMessage(r));
				b->why[strcspn(b->why, "\n")] = '\0';
			} else {
				gx_log_error("projector: statement %s failed: %s", prj_sql[s->q].name,
					     PQresultErrorMessage(r));
				PQclear(r);
				return false;
			}
			PQclear(r);
		}
		if (!simple(c, b->poison ? "ROLLBACK TO SAVEPOINT prj_ev" : "RELEASE SAVEPOINT prj_ev"))
			return false;
	}
	return true;
}

static bool exec_ok(PGconn *c, PGresult *r, const char *what)
{
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return true;
	gx_log_error("projector: %s failed: %s", what, PQerrorMessage(c));
	return false;
}

/* BEGIN and check the checkpoint. Returns 1 when the block is to be applied, 0 when it was already applied (the
 * transaction is rolled back), -1 on database failure, -2 when the checkpoint moved. */
static int begin_block(struct prj *p, PGconn *c, uint64_t block, int64_t last_block)
{
	const char *params[3] = { p->tenant, p->cfg->name, p->cfg->fabric.channel };
	PGresult *r;
	int64_t db_last = -1;

	if (!simple(c, "BEGIN"))
		return -1;
	r = PQexecPrepared(c, prj_sql[Q_CKPT_LOCK].name, 3, params, NULL, NULL, 0);
	if (!exec_ok(c, r, "reading the checkpoint")) {
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) > 0)
		db_last = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (db_last != last_block) {
		gx_log_warn(
			"projector: checkpoint moved from block %lld to %lld (rebuild?): resuming from the database",
			(long long)last_block, (long long)db_last);
		simple(c, "ROLLBACK");
		return -2;
	}
	if ((int64_t)block <= db_last) {
		simple(c, "ROLLBACK");
		return 0;
	}
	return 1;
}

static char *eventlog_json(const struct prj *p, struct bev *evs, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char *s;

	for (size_t i = 0; i < n; i++) {
		const struct gx_fabric_msg_event *e = evs[i].src;
		cJSON *o = cJSON_CreateObject();
		cJSON *pl = cJSON_Parse(evs[i].raw_json);

		cJSON_AddStringToObject(o, "tx", e->tx_id ? e->tx_id : "");
		cJSON_AddStringToObject(o, "cc",
					e->chaincode_id && e->chaincode_id[0] ? e->chaincode_id
									      : p->cfg->fabric.chaincode);
		cJSON_AddStringToObject(o, "name", e->event_name ? e->event_name : "");
		cJSON_AddNumberToObject(o, "idx", (double)i);
		cJSON_AddNumberToObject(o, "ms", (double)evs[i].time_ms);
		cJSON_AddItemToObject(o, "payload", pl ? pl : cJSON_CreateNull());
		cJSON_AddItemToArray(arr, o);
	}
	s = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return s;
}

/* "{a,b}" of the block's tx ids (hex ids only; anything else cannot be ours). */
static char *txid_array(struct bev *evs, size_t n)
{
	size_t cap = 3, len = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		cap += (evs[i].src->tx_id ? strlen(evs[i].src->tx_id) : 0) + 1;
	s = gx_xmalloc(cap);
	s[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		const char *t = evs[i].src->tx_id;

		if (!t || !t[0] || strspn(t, "0123456789abcdefABCDEF") != strlen(t))
			continue;
		if (len > 1)
			s[len++] = ',';
		memcpy(s + len, t, strlen(t));
		len += strlen(t);
	}
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

/* The block-level statements: EventLog rows, PROJECTED marks, checkpoint (in this order, EventLog's "ingestedAt"
 * being taken just before COMMIT). Strings owned by the struct (tail_release). */
struct tail {
	char sblock[24], sidx[16], sheight[24], sms[24];
	char *log, *txids;
	struct prj_stmt st[3];
};

static void tail_build(struct tail *t, const struct prj *p, uint64_t block, struct bev *evs, size_t n, int64_t block_ms,
		       int64_t height)
{
	const char *lp[4] = { p->tenant, t->sblock, p->cfg->fabric.channel, NULL };
	const char *op[2] = { NULL, t->sblock };
	const char *cp[7] = { p->tenant, p->cfg->name, p->cfg->fabric.channel, t->sblock, t->sidx, t->sheight, t->sms };

	memset(t, 0, sizeof(*t));
	snprintf(t->sblock, sizeof(t->sblock), "%llu", (unsigned long long)block);
	snprintf(t->sidx, sizeof(t->sidx), "%d", n ? (int)n - 1 : 0);
	snprintf(t->sheight, sizeof(t->sheight), "%lld",
		 (long long)(height > (int64_t)block ? height : (int64_t)block));
	snprintf(t->sms, sizeof(t->sms), "%lld", (long long)block_ms);
	t->log = eventlog_json(p, evs, n);
	t->txids = txid_array(evs, n);
	lp[3] = t->log;
	op[0] = t->txids;
	t->st[0].q = Q_EVENTLOG;
	t->st[0].nparams = 4;
	for (int i = 0; i < 4; i++)
		t->st[0].params[i] = (char *)lp[i];
	t->st[1].q = Q_OUTBOX;
	t->st[1].nparams = 2;
	for (int i = 0; i < 2; i++)
		t->st[1].params[i] = (char *)op[i];
	t->st[2].q = Q_CKPT_SAVE;
	t->st[2].nparams = 7;
	for (int i = 0; i < 7; i++)
		t->st[2].params[i] = (char *)cp[i];
}

static void tail_release(struct tail *t)
{
	free(t->log);
	free(t->txids);
	t->log = t->txids = NULL;
}

/* Slow path end: DLQ rows, then the block-level statements one by one (the commands marked PROJECTED go to m),
 * COMMIT. */
static bool finish_block(struct prj *p, PGconn *c, struct bev *evs, size_t n, const struct tail *t, struct marks *m)
{
	char sev[24];
	PGresult *r;
	bool ok = false;

	for (size_t i = 0; i < n; i++) {
		const struct gx_fabric_msg_event *e = evs[i].src;
		const char *dp[9];

		if (!evs[i].poison)
			continue;
		snprintf(sev, sizeof(sev), "%zu", i);
		dp[0] = p->tenant;
		dp[1] = evs[i].why;
		dp[2] = evs[i].raw_json;
		dp[3] = e->tx_id;
		dp[4] = t->sblock;
		dp[5] = p->cfg->fabric.channel;
		dp[6] = e->chaincode_id && e->chaincode_id[0] ? e->chaincode_id : p->cfg->fabric.chaincode;
		dp[7] = e->event_name;
		dp[8] = sev;
		r = PQexecPrepared(c, prj_sql[Q_DLQ].name, 9, dp, NULL, NULL, 0);
		if (!exec_ok(c, r, "writing EventDLQ")) {
			PQclear(r);
			goto out;
		}
		PQclear(r);
	}
	for (size_t k = 0; k < GX_ARRAY_LEN(t->st); k++) {
		r = exec_stmt(c, &t->st[k]);
		if (!exec_ok(c, r, prj_sql[t->st[k].q].name)) {
			PQclear(r);
			goto out;
		}
		if (t->st[k].q == Q_OUTBOX)
			marks_take(m, r);
		PQclear(r);
	}
	ok = simple(c, "COMMIT");
out:
	return ok;
}

/* The lines about a committed block's commands: each one PROJECTED, each poison event sent to EventDLQ (with the
 * command of its transaction when it is ours), under the command's request id and trace id (design.md §8). */
static void log_committed(uint64_t block, const struct bev *evs, size_t n, const struct marks *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct mark *k = &m->v[i];
		const struct gx_log_ctx ctx = { k->rid, k->tid, NULL };

		gx_log_write(GX_LOG_INFO, &ctx,
			     GX_LOG_FIELDS(GX_LOG_STR("commandId", k->id), GX_LOG_STR("txId", k->tx),
					   GX_LOG_INT("block", block)),
			     "projector: command %s projected in block %llu", k->id, (unsigned long long)block);
	}
	for (size_t i = 0; i < n; i++) {
		const struct gx_fabric_msg_event *e = evs[i].src;
		const struct mark *k = marks_find(m, e->tx_id);
		const struct gx_log_ctx ctx = { k ? k->rid : NULL, k ? k->tid : NULL, NULL };

		if (!evs[i].poison)
			continue;
		gx_log_write(GX_LOG_WARN, &ctx,
			     GX_LOG_FIELDS(GX_LOG_STR("commandId", k ? k->id : NULL), GX_LOG_STR("txId", e->tx_id),
					   GX_LOG_INT("block", block), GX_LOG_INT("index", i)),
			     "projector: poison event block=%llu index=%zu tx=%s sent to EventDLQ: %s",
			     (unsigned long long)block, i, e->tx_id ? e->tx_id : "", evs[i].why);
	}
}

enum prj_apply_rc prj_apply_block(struct prj *p, PGconn *c, const struct gx_fabric_msg_events *ev, int64_t *last_block,
				  int64_t recv_ms)
{
	static struct gx_metric *m_events, *m_dlq, *m_orig_events, *m_ckpt;
	size_t n = ev->n_events;
	struct bev *evs = gx_xcalloc(n ? n : 1, sizeof(*evs));
	enum prj_apply_rc rc = PRJ_APPLY_DB_ERROR;
	int64_t block_ms = 0, height;
	struct tail tail = { 0 };
	struct marks marks = { 0 };
	bool any_poison = false;
	int b;

	if (!m_events) {
		static const char *const lbl[] = { "event", "outcome", NULL };

		m_events = gx_metrics_counter("gx_projector_events_total",
					      "Chaincode events handled, by event name and outcome (applied|dlq)", lbl);
		m_dlq = gx_metrics_counter("gx_projector_dlq_total", "Poison events sent to EventDLQ", NULL);
		static const char *const olbl[] = PRJ_ORIG_EVENT_LABELS;

		m_orig_events = gx_metrics_counter("projector_events_processed_total", PRJ_ORIG_EVENTS_HELP, olbl);
		m_ckpt = gx_metrics_counter("projector_checkpoints_saved_total", PRJ_ORIG_CKPT_HELP, NULL);
	}
	/* chain time: the event's own time, else the latest time any event of the block carries, else arrival */
	for (size_t i = 0; i < n; i++) {
		cJSON *pl = cJSON_ParseWithLength((const char *)ev->events[i].payload.data, ev->events[i].payload.len);

		evs[i].time_ms = prj_event_time_ms(pl);
		if (evs[i].time_ms > block_ms)
			block_ms = evs[i].time_ms;
		cJSON_Delete(pl);
	}
	if (block_ms == 0)
		block_ms = recv_ms;
	for (size_t i = 0; i < n; i++) {
		evs[i].src = &ev->events[i];
		if (evs[i].time_ms == 0)
			evs[i].time_ms = block_ms;
		prepare_event(p, &evs[i], ev->block);
	}
	pthread_mutex_lock(&p->mu);
	height = p->chain_height;
	pthread_mutex_unlock(&p->mu);

	b = begin_block(p, c, ev->block, *last_block);
	if (b == -2) {
		rc = PRJ_APPLY_MOVED;
		goto out;
	}
	if (b < 0)
		goto out;
	if (b == 0) {
		gx_log_debug("projector: block %llu already applied", (unsigned long long)ev->block);
		rc = PRJ_APPLY_OK;
		goto out;
	}
	tail_build(&tail, p, ev->block, evs, n, block_ms, height);
	for (size_t i = 0; i < n; i++)
		any_poison = any_poison || evs[i].poison;
	/* with a poison event known in advance the DLQ rows go first: the tail is left to finish_block */
	switch (run_fast(c, evs, n, tail.st, any_poison ? 0 : GX_ARRAY_LEN(tail.st), &marks)) {
	case FAST_OK:
		if (!any_poison) {
			if (!simple(c, "COMMIT"))
				goto out;
			goto committed;
		}
		break;
	case FAST_DB_ERROR:
		goto out;
	case FAST_POISON:
		gx_log_info("projector: block %llu has a failing event: applying it event by event",
			    (unsigned long long)ev->block);
		marks_free(&marks); /* rolled back */
		if (!simple(c, "ROLLBACK"))
			goto out;
		b = begin_block(p, c, ev->block, *last_block);
		if (b != 1) {
			rc = b == -2 ? PRJ_APPLY_MOVED : PRJ_APPLY_DB_ERROR;
			goto out;
		}
		if (!run_slow(c, evs, n))
			goto out;
		break;
	}
	if (!finish_block(p, c, evs, n, &tail, &marks))
		goto out;
committed:
	*last_block = (int64_t)ev->block;
	log_committed(ev->block, evs, n, &marks);
	for (size_t i = 0; i < n; i++) {
		const char *lv[2] = { evs[i].label, evs[i].poison ? "dlq" : "applied" };
		const char *ov[2] = { evs[i].label, !evs[i].poison   ? "success"
						    : evs[i].invalid ? "validation_failed"
								     : "processing_failed" };

		gx_metrics_add(m_events, lv, 1);
		gx_metrics_add(m_orig_events, ov, 1);
		if (evs[i].poison)
			gx_metrics_add(m_dlq, NULL, 1);
	}
	gx_metrics_add(m_ckpt, NULL, 1); /* the block's transaction saved the checkpoint */
	pthread_mutex_lock(&p->mu);
	p->last_block = (int64_t)ev->block;
	p->last_block_time_ms = block_ms;
	p->events_seen += n;
	pthread_mutex_unlock(&p->mu);
	rc = PRJ_APPLY_OK;
out:
	if (rc == PRJ_APPLY_DB_ERROR && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		simple(c, "ROLLBACK");
	for (size_t i = 0; i < n; i++)
		bev_free(&evs[i]);
	free(evs);
	tail_release(&tail);
	marks_free(&marks);
	return rc;
}

int prj_load_checkpoint(struct prj *p, PGconn *c, int64_t *last_block, int64_t *last_time_ms)
{
	const char *params[3] = { p->tenant, p->cfg->name, p->cfg->fabric.channel };
	PGresult *r =
		PQexecParams(c,
			     "SELECT \"lastBlock\", COALESCE((extract(epoch FROM \"lastBlockTime\") * 1000)::bigint, 0)"
			     " FROM \"ProjectorState\" WHERE \"tenantId\" = $1 AND \"projectorName\" = $2"
			     " AND \"channel\" = $3",
			     3, NULL, params, NULL, NULL, 0);

	if (!exec_ok(c, r, "loading the checkpoint")) {
		PQclear(r);
		return -1;
	}
	*last_block = -1;
	*last_time_ms = 0;
	if (PQntuples(r) > 0) {
		*last_block = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		*last_time_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return 0;
}
