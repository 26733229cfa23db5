/* The query engine of the asynchronous PostgreSQL pool (see pg_int.h): an op is sent in libpq pipeline mode (a
 * single statement is "stmt, sync"; a transaction is "BEGIN, stmts, COMMIT, sync"; pg_prep.c decides what is sent
 * prepared), its results are read from socket events and matched to its pipeline entries, and the connection is
 * handed back afterwards (rolled back when released inside a transaction). A query deadline drops the connection.
 */
#include "pg_int.h"

#include "gx/log.h"
#include "gx/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_busy_ev(evutil_socket_t fd, short what, void *arg);

void gx_pg_arm_deadline(struct gx_pg_conn *c)
{
	int st = c->pool->o.statement_timeout_ms;
	struct timeval tv = gx_pg_ms_tv(st > 0 ? st + QUERY_DEADLINE_SLACK_MS : QUERY_DEADLINE_NO_TIMEOUT_MS);

	evtimer_add(c->timer, &tv);
}

void gx_pg_conn_run(struct gx_pg_conn *c, struct gx_pg_op *op)
{
	static const struct gx_pg_stmt_copy begin = { (char *)"BEGIN", 0, NULL };
	static const struct gx_pg_stmt_copy commit = { (char *)"COMMIT", 0, NULL };
	bool txn = op->kind == OP_TXN;

	c->state = CS_BUSY;
	c->op = op;
	event_del(c->ev);
	free(op->pipe);
	op->pipe = gx_xcalloc((size_t)op->nstmts * 2 + 2, sizeof(*op->pipe));
	op->npipe = 0;
	op->cur = 0;
	if (!PQenterPipelineMode(c->pg) || (txn && !gx_pg_send_stmt(c, op, -1, &begin)))
		goto fail;
	for (int i = 0; i < op->nstmts; i++)
		if (!gx_pg_send_stmt(c, op, i, &op->stmts[i]))
			goto fail;
	if ((txn && !gx_pg_send_stmt(c, op, -1, &commit)) || !PQpipelineSync(c->pg))
		goto fail;
	gx_pg_arm_deadline(c);
	gx_pg_conn_flush(c);
	return;
fail:
	gx_log_error("postgres send failed: %.*s", (int)strcspn(PQerrorMessage(c->pg), "\n"), PQerrorMessage(c->pg));
	gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
}

void gx_pg_conn_flush(struct gx_pg_conn *c)
{
	int r = PQflush(c->pg);

	if (r < 0) {
		gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	c->flushing = r > 0;
	if (gx_pg_conn_arm(c, c->flushing ? EV_READ | EV_WRITE : EV_READ, on_busy_ev) < 0)
		gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, "socket closed");
}

void gx_pg_conn_after_use(struct gx_pg_conn *c)
{
	PGTransactionStatusType ts;

	c->checked_out = false;
	if (c->broken || !c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		c->broken = false;
		c->backoff_ms = BACKOFF_MIN_MS;
		gx_pg_conn_reconnect(c);
		return;
	}
	ts = PQtransactionStatus(c->pg);
	if (ts == PQTRANS_IDLE) {
		gx_pg_conn_make_idle(c);
		return;
	}
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
		c->state = CS_BUSY;
		c->internal = IK_ROLLBACK;
		if (!PQsendQuery(c->pg, "ROLLBACK")) {
			gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
			return;
		}
		gx_pg_arm_deadline(c);
		gx_pg_conn_flush(c);
		return;
	}
	gx_log_warn("postgres connection released in state %d, reconnecting", (int)ts);
	c->backoff_ms = BACKOFF_MIN_MS;
	gx_pg_conn_reconnect(c);
}

static void op_done_on_conn(struct gx_pg_conn *c)
{
	struct gx_pg_op *op = c->op;

	c->op = NULL;
	evtimer_del(c->timer);
	event_del(c->ev);
	gx_pg_prep_prune(c, false); /* prepares that failed or were skipped by an aborted pipeline */
	if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c->pg)) {
		gx_log_error("postgres: cannot leave pipeline mode: %.*s", (int)strcspn(PQerrorMessage(c->pg), "\n"),
			     PQerrorMessage(c->pg));
		c->broken = true;
	}
	gx_pg_op_complete(op);
	if (op->kind == OP_CONN_QUERY)
		return; /* stays checked out */
	gx_pg_conn_after_use(c);
}

void gx_pg_internal_done(struct gx_pg_conn *c, bool ok)
{
	enum conn_internal what = c->internal;

	c->internal = IK_NONE;
	evtimer_del(c->timer);
	event_del(c->ev);
	if (what == IK_LISTEN) {
		if (!ok) {
			gx_pg_conn_lost(c, GX_PG_ERR_QUERY, "LISTEN failed");
			return;
		}
		if (c->pool->listen_dirty) {
			gx_pg_listener_send(c);
			return;
		}
		c->state = CS_IDLE;
		if (gx_pg_conn_arm(c, EV_READ, gx_pg_on_idle_ev) < 0)
			gx_pg_conn_reconnect(c);
		return;
	}
	/* IK_ROLLBACK, IK_DEALLOCATE: a failure reconnects (the new session holds no statement) */
	if (!ok || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		c->backoff_ms = BACKOFF_MIN_MS;
		gx_pg_conn_reconnect(c);
		return;
	}
	gx_pg_conn_make_idle(c);
}

/* One result of op's pipeline (see pipe_ent); r == NULL ends one entry, the sync result ends the op. */
static bool handle_op_result(struct gx_pg_conn *c, struct gx_pg_op *op, PGresult *r, ExecStatusType st, bool is_err)
{
	const struct gx_pg_pipe_ent *e = op->cur < op->npipe ? &op->pipe[op->cur] : NULL;

	if (!r) {
		if (PQstatus(c->pg) == CONNECTION_BAD)
			return true; /* the caller notices and fails the op */
		if (++op->cur > op->npipe) {
			gx_pg_op_fail(op, GX_PG_ERR_CONNECTION, "postgres pipeline out of step");
			c->broken = true;
			return true;
		}
		return false;
	}
	if (st == PGRES_PIPELINE_SYNC) {
		PQclear(r);
		return true;
	}
	if (is_err && !op->failed) {
		/* a failed BEGIN counts as the first statement, a failed COMMIT as the last */
		int idx = !e ? op->nstmts - 1 : e->kind != PK_UTIL ? e->stmt : op->cur == 0 ? 0 : op->nstmts - 1;
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		op->failed = true;
		gx_pg_set_err_from_result(&op->err, r, idx);
		gx_pg_prep_failed(c, e, state);
	} else if (e && e->kind == PK_PREPARE && st == PGRES_COMMAND_OK) {
		e->prep->ready = true;
	} else if (e && e->kind == PK_STMT && !is_err && st != PGRES_PIPELINE_ABORTED) {
		if (op->res[e->stmt])
			PQclear(op->res[e->stmt]);
		op->res[e->stmt] = r;
		return false;
	}
	PQclear(r);
	return false;
}

static const char *internal_name(enum conn_internal what)
{
	switch (what) {
	case IK_LISTEN:
		return "LISTEN";
	case IK_DEALLOCATE:
		return "DEALLOCATE";
	case IK_ROLLBACK:
	case IK_NONE:
		break;
	}
	return "ROLLBACK";
}

/* One result of the running query or internal statement; r == NULL ends one pipeline entry / the query. Returns
 * true when the whole operation is finished. */
static bool handle_result(struct gx_pg_conn *c, PGresult *r)
{
	struct gx_pg_op *op = c->op;
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_EMPTY_QUERY;
	bool is_err = r && (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR);

	if (!op) { /* internal statement: the caller notes failures */
		if (!r)
			return true;
		if (is_err) {
			const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			gx_log_error("postgres %s failed: %s", internal_name(c->internal), m ? m : "unknown error");
		}
		PQclear(r);
		return false;
	}
	return handle_op_result(c, op, r, st, is_err);
}

static void on_busy_ev(evutil_socket_t fd GX_UNUSED, short what, void *arg)
{
	struct gx_pg_conn *c = arg;
	bool internal_failed = false;

	if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
		gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	if (c->flushing) {
		gx_pg_conn_flush(c);
		if (!c->pg || c->flushing)
			return;
	}
	gx_pg_dispatch_notifies(c);
	for (;;) {
		PGresult *r;
		if (PQisBusy(c->pg)) {
			if (gx_pg_conn_arm(c, EV_READ, on_busy_ev) < 0)
				gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, "socket closed");
			return;
		}
		r = PQgetResult(c->pg);
		if (!c->op && r && (PQresultStatus(r) == PGRES_FATAL_ERROR))
			internal_failed = true;
		if (handle_result(c, r))
			break;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	if (c->op)
		op_done_on_conn(c);
	else
		gx_pg_internal_done(c, !internal_failed);
}

void gx_pg_conn_lost(struct gx_pg_conn *c, enum gx_pg_err_kind kind, const char *msg)
{
	struct gx_pg_op *op = c->op;
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", msg && *msg ? msg : "connection lost");
	buf[strcspn(buf, "\n")] = '\0';
	c->op = NULL;
	if (op) {
		gx_pg_op_fail(op, kind, buf); /* keeps an earlier server error (e.g. the failing statement of a txn) */
		gx_pg_op_complete(op);
	}
	c->backoff_ms = BACKOFF_MIN_MS;
	if (c->checked_out) {
		gx_pg_conn_drop(c);
		c->broken = true;
		return;
	}
	if (!op)
		gx_log_warn("postgres connection lost: %s", buf);
	gx_pg_conn_reconnect(c);
}
