/* outbox-submitter: settlement (submitter_int.h). Every outcome a job can reach is written in one batch statement
 * per loop: a row of the table below names the outcomes it settles, the outbox store statement, the leading
 * parameters, how one job fills the array columns, and what is done with the jobs once the statement succeeded
 * (metrics, freeing, or sending again). docs/outbox-submitter.md describes the outcomes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "gx/fabric_msg.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/util.h"
#include "submitter_int.h"

#define FLUSH_RETRY_MS 1000
#define MAX_COLS 5

struct settle_row {
	enum job_outcome a, b; /* the outcomes this row settles (b == a for one) */
	size_t stmt;           /* enum gx_outbox_store_sub_q */
	const char *what;      /* for the error line */
	bool worker, lease;    /* leading parameters: the worker id, then the lease in ms */
	int ncols;             /* array columns after them */
	const char *tail;      /* trailing parameter ("false": not inside the claim transaction), or NULL */
	/* one job's element of each column */
	void (*fill)(const struct job *j, struct gx_outbox_store_arr *cols);
	/* after the statement succeeded: metrics, and every job of the row freed or sent again */
	void (*done)(struct sub *s, const struct settle_row *row, PGresult *r, int n);
};

static bool settles(const struct settle_row *row, const struct job *j)
{
	return j->outcome == row->a || j->outcome == row->b;
}

static void free_settled(struct sub *s, const struct settle_row *row)
{
	for (size_t i = s->njobs; i-- > 0;)
		if (settles(row, s->jobs[i]))
			sub_job_free(s, s->jobs[i]);
}

static void fill_committed(const struct job *j, struct gx_outbox_store_arr *c)
{
	gx_outbox_store_arr_add(&c[0], j->id);
	gx_outbox_store_arr_addll(&c[1], (long long)j->block);
}

static void done_committed(struct sub *s, const struct settle_row *row, PGresult *r, int n GX_UNUSED)
{
	for (int i = 0; i < PQntuples(r); i++)
		gx_metrics_observe(sub_m.commit, NULL, atof(gx_pg_val(r, i, "age")));
	for (size_t i = 0; i < s->njobs; i++) {
		const struct job *j = s->jobs[i];

		if (settles(row, j))
			gx_log_write(GX_LOG_INFO, &j->log,
				     GX_LOG_FIELDS(GX_LOG_STR("commandId", j->id), GX_LOG_STR("txId", j->tx_id),
						   GX_LOG_INT("block", j->block), GX_LOG_INT("attempts", j->attempts)),
				     "command %s committed in block %llu", j->id, (unsigned long long)j->block);
	}
	sub_count("committed", PQntuples(r)); /* rows this replica moved to COMMITTED */
	free_settled(s, row);
}

static void fill_failed(const struct job *j, struct gx_outbox_store_arr *c)
{
	gx_outbox_store_arr_add(&c[0], j->id);
	gx_outbox_store_arr_add(&c[1], j->code);
	gx_outbox_store_arr_add(&c[2], j->msg);
	sub_job_log(GX_LOG_WARN, j, "command %s FAILED: %s %s", j->id, j->code, j->msg ? j->msg : "");
}

static void done_failed(struct sub *s, const struct settle_row *row, PGresult *r GX_UNUSED, int n)
{
	sub_count("failed", n);
	free_settled(s, row);
}

/* Retry after the job's delay, or (release on drain) at once, taking back the attempt the send counted. */
static void fill_retry(const struct job *j, struct gx_outbox_store_arr *c)
{
	bool retry = j->outcome == OUT_RETRY;

	gx_outbox_store_arr_add(&c[0], j->id);
	gx_outbox_store_arr_addll(&c[1], retry ? j->delay_ms : 0);
	gx_outbox_store_arr_add(&c[2], j->code);
	gx_outbox_store_arr_add(&c[3], j->msg);
	gx_outbox_store_arr_addll(&c[4], retry ? j->uncount : 1);
	if (retry)
		sub_job_log(GX_LOG_DEBUG, j, "command %s: retry in %lld ms after %s %s", j->id, j->delay_ms, j->code,
			    j->msg ? j->msg : "");
}

static void done_retry(struct sub *s, const struct settle_row *row, PGresult *r GX_UNUSED, int n GX_UNUSED)
{
	int nretry = 0, nrel = 0;

	for (size_t i = 0; i < s->njobs; i++) {
		nretry += s->jobs[i]->outcome == OUT_RETRY;
		nrel += s->jobs[i]->outcome == OUT_RELEASE;
	}
	sub_count("retry", nretry);
	sub_count("released", nrel);
	free_settled(s, row);
}

/* An MVCC conflict: the new proposal is persisted (attempts unchanged), then sent. */
static void fill_resend(const struct job *j, struct gx_outbox_store_arr *c)
{
	char *subj = sub_submission_json(j->prop);

	gx_outbox_store_arr_add(&c[0], j->id);
	gx_outbox_store_arr_add(&c[1], j->prop->tx_id);
	gx_outbox_store_arr_add(&c[2], subj);
	gx_outbox_store_arr_add(&c[3], j->call.aggregate);
	gx_outbox_store_arr_addll(&c[4], 0);
	free(subj);
}

/* Send the rows still ours (PERSIST returned them); the others were taken over by another replica. */
static void done_resend(struct sub *s, const struct settle_row *row, PGresult *r, int n GX_UNUSED)
{
	for (size_t i = s->njobs; i-- > 0;) {
		struct job *j = s->jobs[i];
		bool ours = false;

		if (!settles(row, j))
			continue;
		for (int k = 0; k < PQntuples(r) && !ours; k++)
			ours = strcmp(PQgetvalue(r, k, 0), j->id) == 0;
		if (ours) {
			struct gx_fabric_proposal *p = j->prop;

			j->prop = NULL;
			sub_job_send(s, j, p);
		} else {
			sub_job_log(GX_LOG_WARN, j,
				    "command %s: lease lost before re-endorsing; leaving it to its new owner", j->id);
			sub_job_free(s, j);
		}
	}
}

static const struct settle_row settle_rows[] = {
	{ OUT_COMMITTED, OUT_COMMITTED, GX_OUTBOX_STORE_COMMIT, "marking commands COMMITTED", false, false, 2, NULL,
	  fill_committed, done_committed },
	{ OUT_FAILED, OUT_FAILED, GX_OUTBOX_STORE_FAIL, "marking commands FAILED", true, false, 3, "false", fill_failed,
	  done_failed },
	{ OUT_RETRY, OUT_RELEASE, GX_OUTBOX_STORE_RETRY, "rescheduling commands", true, false, 5, NULL, fill_retry,
	  done_retry },
	{ OUT_RESEND, OUT_RESEND, GX_OUTBOX_STORE_PERSIST, "persisting re-endorsed proposals", true, true, 5, "false",
	  fill_resend, done_resend },
};

/* Write one row's outcomes. Returns 0 (also when there was nothing to write), or -1 (logged). */
static int settle(struct sub *s, const struct settle_row *row)
{
	struct gx_outbox_store_arr cols[MAX_COLS] = { 0 };
	const char *p[2 + MAX_COLS + 1];
	char lease[24];
	PGresult *r;
	int n = 0, np = 0;

	for (size_t i = 0; i < s->njobs; i++) {
		if (!settles(row, s->jobs[i]))
			continue;
		row->fill(s->jobs[i], cols);
		n++;
	}
	if (n == 0)
		return 0;
	snprintf(lease, sizeof(lease), "%lld", s->cfg->lease_ms);
	if (row->worker)
		p[np++] = s->worker_id;
	if (row->lease)
		p[np++] = lease;
	for (int c = 0; c < row->ncols; c++)
		p[np++] = gx_outbox_store_arr_end(&cols[c]);
	if (row->tail)
		p[np++] = row->tail;
	r = gx_pgs_exec(s->db, row->what, row->stmt, np, p);
	for (int c = 0; c < MAX_COLS; c++)
		gx_outbox_store_arr_free(&cols[c]);
	if (!r)
		return -1;
	row->done(s, row, r, n);
	PQclear(r);
	return 0;
}

void sub_flush(struct sub *s)
{
	int64_t now = gx_now_ms();

	if (!gx_pgs_conn(s->db) || now < s->next_flush_ms)
		return;
	for (size_t i = 0; i < GX_ARRAY_LEN(settle_rows); i++) {
		if (settle(s, &settle_rows[i]) < 0) {
			s->next_flush_ms = now + FLUSH_RETRY_MS;
			return;
		}
	}
}
