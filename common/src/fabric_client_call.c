/* The operations of the asynchronous Fabric Gateway client and their call state machine (see
 * fabric_client_int.h): unary calls chained into the endorse/submit/commit pipeline, ChaincodeEvents streams with one
 * outstanding RECV_MESSAGE, and the public functions that start them.
 */
#include "fabric_client_int.h"

#include "gx/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

static void finish(struct gx_fabric_client_op *op);
static bool stream_recv(struct gx_fabric_client_op *op);

static struct gx_fabric_client_op *op_new(struct gx_fabric_client *c, enum gx_fabric_op kind, const char *tx_id)
{
	struct gx_fabric_client_op *op = gx_xcalloc(1, sizeof(*op));

	op->c = c;
	op->res.op = kind;
	if (tx_id)
		snprintf(op->res.tx_id, sizeof(op->res.tx_id), "%s", tx_id);
	op->t_unary = (struct gx_fabric_client_tag){ op, TAG_UNARY };
	op->t_recv = (struct gx_fabric_client_tag){ op, TAG_STREAM_RECV };
	op->t_status = (struct gx_fabric_client_tag){ op, TAG_STREAM_STATUS };
	return op;
}

/* Put op on the in-flight list; from now on it will complete through finish(). */
static void op_register(struct gx_fabric_client_op *op, uint64_t *op_id)
{
	struct gx_fabric_client *c = op->c;

	pthread_mutex_lock(&c->lock);
	op->id = c->next_id++;
	op->next = c->ops;
	if (c->ops)
		c->ops->prev = op;
	c->ops = op;
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->in_flight, 1);
	if (op_id)
		*op_id = op->id;
}

/* Take op off the in-flight list again (it never started: no callback). */
static void op_unregister(struct gx_fabric_client_op *op)
{
	pthread_mutex_lock(&op->c->lock);
	if (op->prev)
		op->prev->next = op->next;
	else
		op->c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	pthread_mutex_unlock(&op->c->lock);
	atomic_fetch_sub(&op->c->in_flight, 1);
}

static void op_free(struct gx_fabric_client_op *op)
{
	gx_fabric_msg_buf_release(&op->commit_req);
	gx_fabric_client_result_release(&op->res);
	free(op);
}

/* Release the per-call gRPC state of op (after its batches have completed). */
static void call_release(struct gx_fabric_client_op *op)
{
	struct gx_fabric_client *c = op->c;
	grpc_call *call;

	if (op->send)
		grpc_byte_buffer_destroy(op->send);
	if (op->recv)
		grpc_byte_buffer_destroy(op->recv);
	op->send = op->recv = NULL;
	grpc_slice_unref(op->details);
	op->details = grpc_empty_slice();
	grpc_metadata_array_destroy(&op->md_initial);
	grpc_metadata_array_destroy(&op->md_trailing);
	pthread_mutex_lock(&c->lock);
	call = op->call;
	op->call = NULL;
	pthread_mutex_unlock(&c->lock);
	if (call)
		grpc_call_unref(call);
}

/* Create op's call for method with a deadline (timeout_ms < 0: none) and its request buffer. Returns 0, or -1 with
 * op->res.err set (CANCELLED if op was cancelled meanwhile, LOCAL otherwise). */
static int call_create(struct gx_fabric_client_op *op, const char *method, const struct gx_fabric_msg_buf *req,
		       int timeout_ms)
{
	struct gx_fabric_client *c = op->c;
	gpr_timespec deadline;
	grpc_slice s;
	grpc_call *call;

	if (timeout_ms < 0)
		deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
	else
		deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
	grpc_metadata_array_init(&op->md_initial);
	grpc_metadata_array_init(&op->md_trailing);
	op->details = grpc_empty_slice();
	op->status = GRPC_STATUS_OK;
	s = grpc_slice_from_copied_buffer((const char *)req->data, req->len);
	op->send = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);

	pthread_mutex_lock(&c->lock);
	if (op->cancelled || c->closing) {
		pthread_mutex_unlock(&c->lock);
		gx_fabric_error_set_grpc(&op->res.err, GRPC_STATUS_CANCELLED, "operation cancelled", NULL, 0);
		return -1;
	}
	call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
					grpc_slice_from_static_string(method), NULL, deadline, NULL);
	op->call = call;
	pthread_mutex_unlock(&c->lock);
	if (!call) {
		gx_log_error("grpc_channel_create_call failed for %s", method);
		gx_fabric_error_set(&op->res.err, GX_FABRIC_ERR_LOCAL, "cannot create gRPC call %s", method);
		return -1;
	}
	return 0;
}

static uint32_t initial_md_flags(const struct gx_fabric_client *c)
{
	if (!c->wait_for_ready)
		return 0;
	return GRPC_INITIAL_METADATA_WAIT_FOR_READY | GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET;
}

/* Start one unary RPC for op: all six ops in one batch. Returns 0, or -1 with op->res.err set and state released. */
static int unary_start(struct gx_fabric_client_op *op, enum gx_fabric_stage stage, const char *method,
		       const struct gx_fabric_msg_buf *req, int timeout_ms)
{
	grpc_op ops[6];
	grpc_call_error rc;

	op->res.stage = stage;
	if (call_create(op, method, req, timeout_ms) < 0) {
		call_release(op);
		return -1;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].flags = initial_md_flags(op->c);
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = op->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &op->md_initial;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &op->recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &op->md_trailing;
	ops[5].data.recv_status_on_client.status = &op->status;
	ops[5].data.recv_status_on_client.status_details = &op->details;
	rc = grpc_call_start_batch(op->call, ops, GX_ARRAY_LEN(ops), &op->t_unary, NULL);
	if (rc != GRPC_CALL_OK) {
		gx_log_error("grpc_call_start_batch failed for %s: %d", method, (int)rc);
		gx_fabric_error_set(&op->res.err, GX_FABRIC_ERR_LOCAL, "cannot start gRPC call %s", method);
		call_release(op);
		return -1;
	}
	return 0;
}

/* Turn a finished call's non-OK status into op->res.err (with ErrorDetails from the trailer). */

static int transact_next(struct gx_fabric_client_op *op)
{
	struct gx_fabric_client *c = op->c;
	struct gx_fabric_msg_buf req = { 0 };
	int rc;

	switch (op->res.stage) {
	case GX_FABRIC_STAGE_ENDORSE:
		if (gx_fabric_msg_submit_request(c->id, op->res.tx_id, c->channel_id, op->res.prepared.data,
						 op->res.prepared.len, &req) < 0) {
			gx_fabric_error_set(&op->res.err, GX_FABRIC_ERR_LOCAL, "cannot sign prepared transaction");
			return -1;
		}
		rc = unary_start(op, GX_FABRIC_STAGE_SUBMIT, M_SUBMIT, &req, c->timeout_ms[GX_FABRIC_STAGE_SUBMIT]);
		gx_fabric_msg_buf_release(&req);
		return rc;
	case GX_FABRIC_STAGE_SUBMIT:
		if (op->res.op == GX_FABRIC_OP_ENDORSE_SUBMIT)
			return 1; /* the caller learns the outcome elsewhere (an events stream) */
		return unary_start(op, GX_FABRIC_STAGE_COMMIT, M_COMMIT, &op->commit_req,
				   c->timeout_ms[GX_FABRIC_STAGE_COMMIT]);
	default:
		return 1;
	}
}

void gx_fabric_client_unary_done(struct gx_fabric_client_op *op, bool ok)
{
	struct gx_fabric_msg_buf msg = { 0 };
	int failed = 0;

	if (!ok) {
		gx_fabric_error_set(&op->res.err, GX_FABRIC_ERR_LOCAL, "gRPC batch failed");
		failed = 1;
	} else if (op->status != GRPC_STATUS_OK) {
		gx_fabric_client_status_to_error(op);
		failed = 1;
	} else if (op->res.stage != GX_FABRIC_STAGE_SUBMIT && gx_fabric_client_take_message(op, &msg) < 0) {
		failed = 1;
	}
	call_release(op);
	if (!failed)
		failed = gx_fabric_client_unary_decode(op, &msg) < 0;
	gx_fabric_msg_buf_release(&msg);
	if (!failed && (op->res.op == GX_FABRIC_OP_TRANSACT || op->res.op == GX_FABRIC_OP_ENDORSE_SUBMIT) &&
	    transact_next(op) == 0)
		return;
	finish(op);
}

/* Remove op from the in-flight list, run its callback, free it. */
static void finish(struct gx_fabric_client_op *op)
{
	struct gx_fabric_client *c = op->c;

	pthread_mutex_lock(&c->lock);
	if (op->prev)
		op->prev->next = op->next;
	else
		c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	pthread_mutex_unlock(&c->lock);
	if (op->is_stream) {
		if (op->res.err.kind == GX_FABRIC_ERR_NONE)
			gx_fabric_error_set_grpc(&op->res.err, GRPC_STATUS_UNAVAILABLE,
						 "event stream closed by the peer", NULL, 0);
		op->ecb(NULL, &op->res.err, op->arg);
	} else {
		op->cb(&op->res, op->arg);
	}
	atomic_fetch_sub(&c->in_flight, 1);
	op_free(op);
}

/* Common start path for unary operations. Takes ownership of op. */
static int unary_begin(struct gx_fabric_client_op *op, enum gx_fabric_stage stage, const char *method,
		       const struct gx_fabric_msg_buf *req, int timeout_ms, uint64_t *op_id)
{
	op_register(op, op_id);
	if (unary_start(op, stage, method, req, timeout_ms) < 0) {
		/* not started: undo registration, the caller gets -1 and no callback */
		if (op->res.err.kind == GX_FABRIC_ERR_GRPC)
			gx_log_error("fabric client is shutting down, %s not started", method);
		op_unregister(op);
		op_free(op);
		return -1;
	}
	return 0;
}

static bool proposal_ok(struct gx_fabric_client *c, const struct gx_fabric_proposal *p)
{
	if (strcmp(p->channel_id, c->channel_id) != 0) {
		gx_log_error("proposal for channel '%s' sent to a client of channel '%s'", p->channel_id,
			     c->channel_id);
		return false;
	}
	return true;
}

int gx_fabric_client_evaluate(struct gx_fabric_client *c, const struct gx_fabric_proposal *p, gx_fabric_client_cb cb,
			      void *arg, uint64_t *op_id)
{
	struct gx_fabric_msg_buf req = { 0 };
	struct gx_fabric_client_op *op;
	int rc;

	if (!proposal_ok(c, p))
		return -1;
	op = op_new(c, GX_FABRIC_OP_EVALUATE, p->tx_id);
	op->cb = cb;
	op->arg = arg;
	gx_fabric_msg_evaluate_request(p, &req);
	rc = unary_begin(op, GX_FABRIC_STAGE_EVALUATE, M_EVALUATE, &req, c->timeout_ms[GX_FABRIC_STAGE_EVALUATE],
			 op_id);
	gx_fabric_msg_buf_release(&req);
	return rc;
}

static int endorse_like(struct gx_fabric_client *c, enum gx_fabric_op kind, const struct gx_fabric_proposal *p,
			gx_fabric_client_cb cb, void *arg, uint64_t *op_id)
{
	struct gx_fabric_msg_buf req = { 0 };
	struct gx_fabric_client_op *op;
	int rc;

	if (!proposal_ok(c, p))
		return -1;
	op = op_new(c, kind, p->tx_id);
	op->cb = cb;
	op->arg = arg;
	/* the CommitStatus request is ready before anything is submitted, so nothing can fail after Submit */
	if (kind == GX_FABRIC_OP_TRANSACT &&
	    gx_fabric_msg_commit_status_request(c->id, p->tx_id, c->channel_id, &op->commit_req) < 0) {
		op_free(op);
		return -1;
	}
	gx_fabric_msg_endorse_request(p, &req);
	rc = unary_begin(op, GX_FABRIC_STAGE_ENDORSE, M_ENDORSE, &req, c->timeout_ms[GX_FABRIC_STAGE_ENDORSE], op_id);
	gx_fabric_msg_buf_release(&req);
	return rc;
}

int gx_fabric_client_endorse(struct gx_fabric_client *c, const struct gx_fabric_proposal *p, gx_fabric_client_cb cb,
			     void *arg, uint64_t *op_id)
{
	return endorse_like(c, GX_FABRIC_OP_ENDORSE, p, cb, arg, op_id);
}

int gx_fabric_client_transact(struct gx_fabric_client *c, const struct gx_fabric_proposal *p, gx_fabric_client_cb cb,
			      void *arg, uint64_t *op_id)
{
	return endorse_like(c, GX_FABRIC_OP_TRANSACT, p, cb, arg, op_id);
}

int gx_fabric_client_endorse_submit(struct gx_fabric_client *c, const struct gx_fabric_proposal *p,
				    gx_fabric_client_cb cb, void *arg, uint64_t *op_id)
{
	return endorse_like(c, GX_FABRIC_OP_ENDORSE_SUBMIT, p, cb, arg, op_id);
}

int gx_fabric_client_submit(struct gx_fabric_client *c, const char *tx_id, const void *payload, size_t payload_len,
			    gx_fabric_client_cb cb, void *arg, uint64_t *op_id)
{
	struct gx_fabric_msg_buf req = { 0 };
	struct gx_fabric_client_op *op;
	int rc;

	if (gx_fabric_msg_submit_request(c->id, tx_id, c->channel_id, payload, payload_len, &req) < 0)
		return -1;
	op = op_new(c, GX_FABRIC_OP_SUBMIT, tx_id);
	op->cb = cb;
	op->arg = arg;
	rc = unary_begin(op, GX_FABRIC_STAGE_SUBMIT, M_SUBMIT, &req, c->timeout_ms[GX_FABRIC_STAGE_SUBMIT], op_id);
	gx_fabric_msg_buf_release(&req);
	return rc;
}

int gx_fabric_client_commit_status(struct gx_fabric_client *c, const char *tx_id, int timeout_ms,
				   gx_fabric_client_cb cb, void *arg, uint64_t *op_id)
{
	struct gx_fabric_msg_buf req = { 0 };
	struct gx_fabric_client_op *op;
	int rc;

	if (gx_fabric_msg_commit_status_request(c->id, tx_id, c->channel_id, &req) < 0)
		return -1;
	op = op_new(c, GX_FABRIC_OP_COMMIT_STATUS, tx_id);
	op->cb = cb;
	op->arg = arg;
	rc = unary_begin(op, GX_FABRIC_STAGE_COMMIT, M_COMMIT, &req,
			 timeout_ms > 0 ? timeout_ms : c->timeout_ms[GX_FABRIC_STAGE_COMMIT], op_id);
	gx_fabric_msg_buf_release(&req);
	return rc;
}

/* --- events streams ----------------------------------------------------------------------------------------- */

/* Start one RECV_MESSAGE of the stream; false when it cannot be started. */
static bool start_recv(struct gx_fabric_client_op *op)
{
	grpc_op gop;

	memset(&gop, 0, sizeof(gop));
	gop.op = GRPC_OP_RECV_MESSAGE;
	gop.data.recv_message.recv_message = &op->recv;
	if (grpc_call_start_batch(op->call, &gop, 1, &op->t_recv, NULL) == GRPC_CALL_OK)
		return true;
	/* cannot read on: end the call; RECV_STATUS reports how it ended */
	gx_log_error("grpc_call_start_batch(RECV_MESSAGE) failed on events stream %llu", (unsigned long long)op->id);
	grpc_call_cancel(op->call, NULL);
	return false;
}

/* The next read, from the poll thread (which also handles its completion later). Returns whether it started. */
static bool stream_recv(struct gx_fabric_client_op *op)
{
	atomic_fetch_add(&op->pending, 1);
	if (start_recv(op))
		return true;
	atomic_fetch_sub(&op->pending, 1);
	return false;
}

int gx_fabric_client_events(struct gx_fabric_client *c, uint64_t start_block, const char *after_tx_id,
			    gx_fabric_client_events_cb cb, void *arg, uint64_t *stream_id)
{
	struct gx_fabric_msg_buf req = { 0 };
	grpc_op ops[5];
	struct gx_fabric_client_op *op;
	int rc;

	if (gx_fabric_msg_events_request(c->id, c->channel_id, c->chaincode_id, start_block, after_tx_id, &req) < 0)
		return -1;
	op = op_new(c, 0, NULL); /* streams have no gx_fabric_result */
	op->is_stream = true;
	op->ecb = cb;
	op->arg = arg;
	rc = call_create(op, M_EVENTS, &req, -1);
	gx_fabric_msg_buf_release(&req);
	if (rc < 0) {
		if (op->res.err.kind == GX_FABRIC_ERR_GRPC)
			gx_log_error("fabric client is shutting down, %s not started", M_EVENTS);
		goto fail;
	}
	/* request out + status in one batch (it completes when the stream ends); messages are read one by one */
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].flags = initial_md_flags(c);
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = op->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &op->md_initial;
	ops[4].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[4].data.recv_status_on_client.trailing_metadata = &op->md_trailing;
	ops[4].data.recv_status_on_client.status = &op->status;
	ops[4].data.recv_status_on_client.status_details = &op->details;
	/* any thread may start a stream while the poll thread completes its batches: the op is listed and both
	 * batches are counted before the first can complete, and whichever side brings the count to 0 finishes it */
	atomic_store(&op->pending, 2);
	op_register(op, stream_id);
	if (grpc_call_start_batch(op->call, ops, GX_ARRAY_LEN(ops), &op->t_status, NULL) != GRPC_CALL_OK) {
		gx_log_error("grpc_call_start_batch failed for %s", M_EVENTS);
		op_unregister(op);
		goto fail;
	}
	if (!start_recv(op) && atomic_fetch_sub(&op->pending, 1) == 1) {
		call_release(op);
		finish(op);
	}
	return 0;
fail:
	call_release(op);
	op_free(op);
	return -1;
}

/* One message (or end of stream) arrived. */
static void stream_message(struct gx_fabric_client_op *op, bool ok)
{
	struct gx_fabric_msg_buf msg = { 0 };
	struct gx_fabric_msg_events ev = { 0 };
	struct gx_fabric_error err = { 0 };
	int rc;

	if (!ok || !op->recv)
		return; /* end of stream: the status batch finishes the op */
	rc = gx_fabric_client_take_message(op, &msg);
	/* free the buffer before the next RECV_MESSAGE may write op->recv again */
	grpc_byte_buffer_destroy(op->recv);
	op->recv = NULL;
	if (rc < 0 || gx_fabric_msg_parse_events(msg.data, msg.len, &ev, &err) < 0) {
		if (op->res.err.kind == GX_FABRIC_ERR_NONE)
			op->res.err = err;
		else
			gx_fabric_error_release(&err);
		grpc_call_cancel(op->call, NULL);
	} else {
		op->ecb(&ev, NULL, op->arg);
		pthread_mutex_lock(&op->c->lock);
		ok = !op->cancelled;
		pthread_mutex_unlock(&op->c->lock);
		if (ok)
			stream_recv(op);
	}
	gx_fabric_msg_events_release(&ev);
	gx_fabric_msg_buf_release(&msg);
}

void gx_fabric_client_stream_done(struct gx_fabric_client_tag *t, bool ok)
{
	struct gx_fabric_client_op *op = t->op;

	if (t->kind == TAG_STREAM_RECV)
		stream_message(op, ok); /* a new read counts itself before this one is taken off below */
	else if (t->kind == TAG_STREAM_STATUS && op->res.err.kind == GX_FABRIC_ERR_NONE && op->status != GRPC_STATUS_OK)
		gx_fabric_client_status_to_error(op);
	if (atomic_fetch_sub(&op->pending, 1) > 1)
		return;
	call_release(op);
	finish(op);
}

/* --- polling, cancel, teardown ------------------------------------------------------------------------------ */
