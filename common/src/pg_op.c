/* Operations of the asynchronous PostgreSQL pool: their lifetime, the mapping of libpq and server errors to
 * struct gx_pg_error (gx/pg.h), and the deferred delivery that runs every user callback from the pool's zero-delay
 * "done" timer, never from inside the call that started the operation (see pg_int.h).
 */
#include "pg_int.h"

#include "gx/log.h"
#include "gx/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- error mapping -------------------------------------------------------------------------------------- */

void gx_pg_set_err(struct gx_pg_error *e, enum gx_pg_err_kind kind, const char *msg)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->message, sizeof(e->message), "%s", msg ? msg : "");
	/* libpq messages end with a newline; keep log lines on one line */
	size_t n = strlen(e->message);
	while (n && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
		e->message[--n] = '\0';
}

void gx_pg_set_err_from_result(struct gx_pg_error *e, const PGresult *r, int stmt_index)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	enum gx_pg_err_kind kind = GX_PG_ERR_QUERY;

	if (state && strcmp(state, "57014") == 0)
		kind = GX_PG_ERR_TIMEOUT;
	else if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))
		kind = GX_PG_ERR_CONNECTION;
	gx_pg_set_err(e, kind, msg ? msg : PQresultErrorMessage(r));
	snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state ? state : "");
	snprintf(e->constraint, sizeof(e->constraint), "%s", cons ? cons : "");
	e->stmt_index = stmt_index;
}

/* ---- operations ---------------------------------------------------------------------------------------- */

void gx_pg_stmt_copy_init(struct gx_pg_stmt_copy *d, const char *sql, int nparams, const char *const *params)
{
	d->sql = gx_xstrdup(sql);
	d->nparams = nparams;
	d->params = nparams ? gx_xcalloc((size_t)nparams, sizeof(char *)) : NULL;
	for (int i = 0; i < nparams; i++)
		d->params[i] = params[i] ? gx_xstrdup(params[i]) : NULL;
}

struct gx_pg_op *gx_pg_op_new(struct gx_pg_pool *pool, enum op_kind kind, int nstmts, void *arg)
{
	struct gx_pg_op *op = gx_xcalloc(1, sizeof(*op));

	op->pool = pool;
	op->kind = kind;
	op->arg = arg;
	op->nstmts = nstmts;
	if (nstmts) {
		op->stmts = gx_xcalloc((size_t)nstmts, sizeof(*op->stmts));
		op->res = gx_xcalloc((size_t)nstmts, sizeof(PGresult *));
	}
	return op;
}

static void op_free(struct gx_pg_op *op)
{
	for (int i = 0; i < op->nstmts; i++) {
		free(op->stmts[i].sql);
		for (int j = 0; j < op->stmts[i].nparams; j++)
			free(op->stmts[i].params[j]);
		free(op->stmts[i].params);
		if (op->res[i])
			PQclear(op->res[i]);
	}
	free(op->stmts);
	free(op->res);
	free(op->pipe);
	free(op);
}

void gx_pg_op_fail(struct gx_pg_op *op, enum gx_pg_err_kind kind, const char *msg)
{
	if (op->failed)
		return;
	op->failed = true;
	gx_pg_set_err(&op->err, kind, msg);
}

/* ---- deferred delivery ---------------------------------------------------------------------------------- */

void gx_pg_op_deliver(struct gx_pg_op *op)
{
	const struct gx_pg_error *err = op->failed ? &op->err : NULL;

	switch (op->kind) {
	case OP_ACQUIRE:
		op->ccb(err ? NULL : op->conn, err, op->arg);
		break;
	case OP_QUERY:
	case OP_CONN_QUERY:
		op->rcb(err ? NULL : op->res[0], err, op->arg);
		break;
	case OP_TXN:
		op->tcb(err ? NULL : op->res, err ? 0 : op->nstmts, err, op->arg);
		break;
	}
	op_free(op);
}

void gx_pg_on_done_ev(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_pool *pool = arg;
	struct gx_pg_op *op = pool->done_head;

	pool->done_head = pool->done_tail = NULL;
	while (op) {
		struct gx_pg_op *next = op->next;
		gx_pg_op_deliver(op);
		op = next;
	}
}

/* Queue op's callback for the next loop iteration. */
void gx_pg_op_complete(struct gx_pg_op *op)
{
	struct gx_pg_pool *pool = op->pool;
	struct timeval zero = { 0, 0 };

	if (op->kind != OP_ACQUIRE && !op->failed && op->nstmts && !op->res[op->nstmts - 1])
		gx_pg_op_fail(op, GX_PG_ERR_QUERY, "statement returned no result");
	op->next = NULL;
	if (pool->done_tail)
		pool->done_tail->next = op;
	else
		pool->done_head = op;
	pool->done_tail = op;
	evtimer_add(pool->done_ev, &zero);
}
