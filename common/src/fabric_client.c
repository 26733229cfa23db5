/* Asynchronous Fabric Gateway client: gRPC core channel + completion queue, unary calls chained into the
 * endorse/submit/commit pipeline, and ChaincodeEvents streams with one outstanding RECV_MESSAGE. */
#include "gx/fabric_client.h"
#include "gx/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#define M_ENDORSE "/gateway.Gateway/Endorse"
#define M_SUBMIT "/gateway.Gateway/Submit"
#define M_COMMIT "/gateway.Gateway/CommitStatus"
#define M_EVALUATE "/gateway.Gateway/Evaluate"
#define M_EVENTS "/gateway.Gateway/ChaincodeEvents"
#define STATUS_DETAILS_KEY "grpc-status-details-bin"
#define MAX_MESSAGE (100 * 1024 * 1024)
#define MIN_KEEPALIVE_MS 60000
#define TLS_FILE_MAX (1024 * 1024)

/* What a completion-queue tag stands for. */
enum tag_kind {
	TAG_UNARY,	  /* the single batch of a unary call */
	TAG_STREAM_RECV,  /* one RECV_MESSAGE */
	TAG_STREAM_STATUS, /* request out + RECV_STATUS_ON_CLIENT: completes when the stream ends */
};

struct op;

struct tag {
	struct op *op;
	enum tag_kind kind;
};

/* One operation in flight. Created by a start function, freed by finish() on the poll thread. */
struct op {
	struct gx_fabric_client *c;
	uint64_t id;
	bool is_stream;
	bool cancelled;	      /* guarded by c->lock */
	grpc_call *call;      /* guarded by c->lock (set/cleared), used freely by the poll thread */
	struct tag t_unary, t_recv, t_status;
	int pending;	      /* stream batches not yet completed (poll thread only) */
	grpc_metadata_array md_initial, md_trailing;
	grpc_byte_buffer *send, *recv;
	grpc_status_code status;
	grpc_slice details;
	struct gx_fabric_msg_buf commit_req; /* TRANSACT: prepared before Submit */
	struct gx_fabric_result res;
	gx_fabric_client_cb cb;
	gx_fabric_client_events_cb ecb;
	void *arg;
	struct op *prev, *next;
};

struct gx_fabric_client {
	struct gx_fabric_id *id; /* borrowed */
	char *channel_id;
	char *chaincode_id;
	grpc_channel *channel;
	grpc_completion_queue *cq;
	bool wait_for_ready;
	int timeout_ms[GX_FABRIC_STAGE_COMMIT + 1]; /* by enum gx_fabric_stage */
	pthread_mutex_t lock;			    /* guards ops, next_id, op->call, op->cancelled */
	struct op *ops;
	uint64_t next_id;
	atomic_size_t in_flight;
	atomic_bool stop;
	bool closing; /* guarded by lock: gx_fabric_client_free() runs, no new calls */
};

static void finish(struct op *op);
static void stream_recv(struct op *op);

void gx_fabric_client_result_release(struct gx_fabric_result *r)
{
	if (!r)
		return;
	gx_fabric_error_release(&r->err);
	gx_fabric_msg_response_release(&r->response);
	gx_fabric_msg_buf_release(&r->prepared);
	memset(r, 0, sizeof(*r));
}

/* Read a PEM file into a NUL-terminated heap string (caller frees). NULL (logged) on failure. */
static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f) {
		gx_log_error("cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	buf = gx_xmalloc(TLS_FILE_MAX + 1);
	n = fread(buf, 1, TLS_FILE_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > TLS_FILE_MAX) {
		gx_log_error("cannot read '%s': empty or larger than %d bytes", path, TLS_FILE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static grpc_channel_credentials *make_creds(const struct gx_fabric_client_opts *o)
{
	grpc_channel_credentials *creds = NULL;
	grpc_ssl_pem_key_cert_pair pair;
	char *ca = NULL, *cert = NULL, *key = NULL;

	if (!o->tls_ca_file) {
		if (o->tls_cert_file || o->tls_key_file) {
			gx_log_error("fabric client TLS certificate/key given without a TLS CA file");
			return NULL;
		}
		return grpc_insecure_credentials_create();
	}
	if (!o->tls_cert_file != !o->tls_key_file) {
		gx_log_error("fabric client mutual TLS needs both a certificate and a key file");
		return NULL;
	}
	if (!(ca = read_pem(o->tls_ca_file)))
		goto out;
	if (o->tls_cert_file && (!(cert = read_pem(o->tls_cert_file)) || !(key = read_pem(o->tls_key_file))))
		goto out;
	pair.private_key = key;
	pair.cert_chain = cert;
	creds = grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
	if (!creds)
		gx_log_error("grpc_ssl_credentials_create failed for CA '%s'", o->tls_ca_file);
out:
	free(ca);
	free(cert);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	return creds;
}

static grpc_arg int_arg(const char *key, int value)
{
	grpc_arg a;

	a.type = GRPC_ARG_INTEGER;
	a.key = (char *)key;
	a.value.integer = value;
	return a;
}

static int or_default(int v, int def)
{
	return v > 0 ? v : def;
}

struct gx_fabric_client *gx_fabric_client_new(const struct gx_fabric_client_opts *o, struct gx_fabric_id *id)
{
	struct gx_fabric_client *c;
	grpc_channel_credentials *creds;
	grpc_arg args[12];
	grpc_channel_args chargs;
	size_t n = 0;
	int keepalive = or_default(o->keepalive_ms, MIN_KEEPALIVE_MS);
	int backoff_max = or_default(o->reconnect_max_ms, 30000);

	if (!o->endpoint || !*o->endpoint || !o->channel_id || !*o->channel_id || !o->chaincode_id ||
	    !*o->chaincode_id || !id) {
		gx_log_error("fabric client needs an endpoint, a channel, a chaincode and an identity");
		return NULL;
	}
	grpc_init();
	creds = make_creds(o);
	if (!creds) {
		grpc_shutdown();
		return NULL;
	}
	if (keepalive < MIN_KEEPALIVE_MS)
		keepalive = MIN_KEEPALIVE_MS;
	args[n++] = int_arg(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive);
	args[n++] = int_arg(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
	args[n++] = int_arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
	args[n++] = int_arg(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
	args[n++] = int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, MAX_MESSAGE);
	args[n++] = int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, MAX_MESSAGE);
	args[n++] = int_arg(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, backoff_max < 1000 ? backoff_max : 1000);
	args[n++] = int_arg(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, backoff_max < 1000 ? backoff_max : 1000);
	args[n++] = int_arg(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, backoff_max);
	if (o->server_name && *o->server_name) {
		args[n].type = GRPC_ARG_STRING;
		args[n].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
		args[n].value.string = (char *)o->server_name;
		n++;
	}
	chargs.num_args = n;
	chargs.args = args;

	c = gx_xcalloc(1, sizeof(*c));
	c->id = id;
	c->channel_id = gx_xstrdup(o->channel_id);
	c->chaincode_id = gx_xstrdup(o->chaincode_id);
	c->wait_for_ready = o->wait_for_ready;
	c->timeout_ms[GX_FABRIC_STAGE_EVALUATE] = or_default(o->evaluate_timeout_ms, 5000);
	c->timeout_ms[GX_FABRIC_STAGE_ENDORSE] = or_default(o->endorse_timeout_ms, 15000);
	c->timeout_ms[GX_FABRIC_STAGE_SUBMIT] = or_default(o->submit_timeout_ms, 5000);
	c->timeout_ms[GX_FABRIC_STAGE_COMMIT] = or_default(o->commit_timeout_ms, 60000);
	pthread_mutex_init(&c->lock, NULL);
	atomic_init(&c->in_flight, 0);
	atomic_init(&c->stop, false);
	c->next_id = 1;
	c->channel = grpc_channel_create(o->endpoint, creds, &chargs);
	grpc_channel_credentials_release(creds);
	c->cq = grpc_completion_queue_create_for_next(NULL);
	return c;
}

struct gx_fabric_id *gx_fabric_client_id(struct gx_fabric_client *c)
{
	return c->id;
}

size_t gx_fabric_client_in_flight(struct gx_fabric_client *c)
{
	return atomic_load(&c->in_flight);
}

static struct op *op_new(struct gx_fabric_client *c, enum gx_fabric_op kind, const char *tx_id)
{
	struct op *op = gx_xcalloc(1, sizeof(*op));

	op->c = c;
	op->res.op = kind;
	if (tx_id)
		snprintf(op->res.tx_id, sizeof(op->res.tx_id), "%s", tx_id);
	op->t_unary = (struct tag){ op, TAG_UNARY };
	op->t_recv = (struct tag){ op, TAG_STREAM_RECV };
	op->t_status = (struct tag){ op, TAG_STREAM_STATUS };
	return op;
}

/* Put op on the in-flight list; from now on it will complete through finish(). */
static void op_register(struct op *op, uint64_t *op_id)
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

static void op_free(struct op *op)
{
	gx_fabric_msg_buf_release(&op->commit_req);
	gx_fabric_client_result_release(&op->res);
	free(op);
}

/* Release the per-call gRPC state of op (after its batches have completed). */
static void call_release(struct op *op)
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
static int call_create(struct op *op, const char *method, const struct gx_fabric_msg_buf *req, int timeout_ms)
{
	struct gx_fabric_client *c = op->c;
	gpr_timespec deadline;
	grpc_slice s;
	grpc_call *call;

	if (timeout_ms < 0)
		deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
	else
		deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
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
static int unary_start(struct op *op, enum gx_fabric_stage stage, const char *method,
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
static void status_to_error(struct op *op)
{
	const void *bin = NULL;
	size_t bin_len = 0, i;
	char *msg = grpc_slice_to_c_string(op->details);

	for (i = 0; i < op->md_trailing.count; i++) {
		if (grpc_slice_str_cmp(op->md_trailing.metadata[i].key, STATUS_DETAILS_KEY) == 0) {
			bin = GRPC_SLICE_START_PTR(op->md_trailing.metadata[i].value);
			bin_len = GRPC_SLICE_LENGTH(op->md_trailing.metadata[i].value);
			break;
		}
	}
	if (gx_fabric_error_set_grpc(&op->res.err, (int)op->status, msg, bin, bin_len) < 0)
		gx_log_warn("undecodable %s trailer from fabric peer (%zu bytes)", STATUS_DETAILS_KEY, bin_len);
	gpr_free(msg);
}

/* Copy the received message into out (owned). Returns 0, or -1 with err PROTOCOL when there is none. */
static int take_message(struct op *op, struct gx_fabric_msg_buf *out)
{
	grpc_byte_buffer_reader reader;
	grpc_slice s;

	if (!op->recv || !grpc_byte_buffer_reader_init(&reader, op->recv)) {
		gx_fabric_error_set(&op->res.err, GX_FABRIC_ERR_PROTOCOL, "peer answered OK without a message");
		return -1;
	}
	s = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	out->len = GRPC_SLICE_LENGTH(s);
	out->data = gx_xmalloc(out->len);
	if (out->len)
		memcpy(out->data, GRPC_SLICE_START_PTR(s), out->len);
	grpc_slice_unref(s);
	return 0;
}

/* Decode the answer of the stage just completed into op->res. Returns 0 to continue, -1 when op->res.err is set. */
static int unary_decode(struct op *op, const struct gx_fabric_msg_buf *msg)
{
	struct gx_fabric_result *r = &op->res;
	struct gx_fabric_msg_endorsed e = { 0 };

	switch (r->stage) {
	case GX_FABRIC_STAGE_EVALUATE:
		if (gx_fabric_msg_parse_evaluate(msg->data, msg->len, &r->response, &r->err) < 0)
			return -1;
		if (r->response.status >= 400) {
			gx_fabric_error_set(&r->err, GX_FABRIC_ERR_CHAINCODE, "%s", r->response.message);
			r->err.chaincode_status = r->response.status;
			return -1;
		}
		return 0;
	case GX_FABRIC_STAGE_ENDORSE:
		if (gx_fabric_msg_parse_endorse(msg->data, msg->len, &e, &r->err) < 0)
			return -1;
		if (strcmp(e.tx_id, r->tx_id) != 0) {
			gx_fabric_error_set(&r->err, GX_FABRIC_ERR_PROTOCOL,
					    "prepared transaction has tx id '%s', expected '%s'", e.tx_id, r->tx_id);
			gx_fabric_msg_endorsed_release(&e);
			return -1;
		}
		r->response = e.result;
		r->prepared = e.payload;
		memset(&e.result, 0, sizeof(e.result));
		memset(&e.payload, 0, sizeof(e.payload));
		gx_fabric_msg_endorsed_release(&e);
		return 0;
	case GX_FABRIC_STAGE_SUBMIT:
		return 0;
	case GX_FABRIC_STAGE_COMMIT:
		if (gx_fabric_msg_parse_commit_status(msg->data, msg->len, &r->tx_code, &r->block, &r->err) < 0)
			return -1;
		if (r->tx_code != GX_FABRIC_TX_VALID) {
			gx_fabric_error_set(&r->err, GX_FABRIC_ERR_TX_INVALID, "%s",
					    gx_fabric_error_tx_name(r->tx_code));
			r->err.tx_code = r->tx_code;
			r->err.block = r->block;
			return -1;
		}
		return 0;
	}
	return 0;
}

/* TRANSACT: start the stage after the one that just succeeded. Returns 0 if started, 1 when the pipeline is done,
 * -1 when starting failed (op->res.err set). */
static int transact_next(struct op *op)
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
		return unary_start(op, GX_FABRIC_STAGE_COMMIT, M_COMMIT, &op->commit_req,
				   c->timeout_ms[GX_FABRIC_STAGE_COMMIT]);
	default:
		return 1;
	}
}

static void unary_done(struct op *op, bool ok)
{
	struct gx_fabric_msg_buf msg = { 0 };
	int failed = 0;

	if (!ok) {
		gx_fabric_error_set(&op->res.err, GX_FABRIC_ERR_LOCAL, "gRPC batch failed");
		failed = 1;
	} else if (op->status != GRPC_STATUS_OK) {
		status_to_error(op);
		failed = 1;
	} else if (op->res.stage != GX_FABRIC_STAGE_SUBMIT && take_message(op, &msg) < 0) {
		failed = 1;
	}
	call_release(op);
	if (!failed)
		failed = unary_decode(op, &msg) < 0;
	gx_fabric_msg_buf_release(&msg);
	if (!failed && op->res.op == GX_FABRIC_OP_TRANSACT && transact_next(op) == 0)
		return;
	finish(op);
}

/* Remove op from the in-flight list, run its callback, free it. */
static void finish(struct op *op)
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
			gx_fabric_error_set_grpc(&op->res.err, GRPC_STATUS_UNAVAILABLE, "event stream closed by the peer",
						 NULL, 0);
		op->ecb(NULL, &op->res.err, op->arg);
	} else {
		op->cb(&op->res, op->arg);
	}
	atomic_fetch_sub(&c->in_flight, 1);
	op_free(op);
}

/* Common start path for unary operations. Takes ownership of op. */
static int unary_begin(struct op *op, enum gx_fabric_stage stage, const char *method,
		       const struct gx_fabric_msg_buf *req, int timeout_ms, uint64_t *op_id)
{
	op_register(op, op_id);
	if (unary_start(op, stage, method, req, timeout_ms) < 0) {
		/* not started: undo registration, the caller gets -1 and no callback */
		if (op->res.err.kind == GX_FABRIC_ERR_GRPC)
			gx_log_error("fabric client is shutting down, %s not started", method);
		pthread_mutex_lock(&op->c->lock);
		if (op->prev)
			op->prev->next = op->next;
		else
			op->c->ops = op->next;
		if (op->next)
			op->next->prev = op->prev;
		pthread_mutex_unlock(&op->c->lock);
		atomic_fetch_sub(&op->c->in_flight, 1);
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
	struct op *op;
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
	struct op *op;
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

int gx_fabric_client_submit(struct gx_fabric_client *c, const char *tx_id, const void *payload, size_t payload_len,
			    gx_fabric_client_cb cb, void *arg, uint64_t *op_id)
{
	struct gx_fabric_msg_buf req = { 0 };
	struct op *op;
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
	struct op *op;
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

static void stream_recv(struct op *op)
{
	grpc_op gop;

	memset(&gop, 0, sizeof(gop));
	gop.op = GRPC_OP_RECV_MESSAGE;
	gop.data.recv_message.recv_message = &op->recv;
	if (grpc_call_start_batch(op->call, &gop, 1, &op->t_recv, NULL) == GRPC_CALL_OK) {
		op->pending++;
		return;
	}
	/* cannot read on: end the call; RECV_STATUS reports how it ended */
	gx_log_error("grpc_call_start_batch(RECV_MESSAGE) failed on events stream %llu", (unsigned long long)op->id);
	grpc_call_cancel(op->call, NULL);
}

int gx_fabric_client_events(struct gx_fabric_client *c, uint64_t start_block, const char *after_tx_id,
			    gx_fabric_client_events_cb cb, void *arg, uint64_t *stream_id)
{
	struct gx_fabric_msg_buf req = { 0 };
	grpc_op ops[5];
	struct op *op;
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
	if (grpc_call_start_batch(op->call, ops, GX_ARRAY_LEN(ops), &op->t_status, NULL) != GRPC_CALL_OK) {
		gx_log_error("grpc_call_start_batch failed for %s", M_EVENTS);
		goto fail;
	}
	op->pending = 1;
	op_register(op, stream_id);
	stream_recv(op);
	return 0;
fail:
	call_release(op);
	op_free(op);
	return -1;
}

/* One message (or end of stream) arrived. */
static void stream_message(struct op *op, bool ok)
{
	struct gx_fabric_msg_buf msg = { 0 };
	struct gx_fabric_msg_events ev = { 0 };
	struct gx_fabric_error err = { 0 };
	int rc;

	if (!ok || !op->recv)
		return; /* end of stream: the status batch finishes the op */
	rc = take_message(op, &msg);
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

static void stream_done(struct tag *t, bool ok)
{
	struct op *op = t->op;

	op->pending--;
	if (t->kind == TAG_STREAM_RECV)
		stream_message(op, ok);
	else if (t->kind == TAG_STREAM_STATUS && op->res.err.kind == GX_FABRIC_ERR_NONE &&
		 op->status != GRPC_STATUS_OK)
		status_to_error(op);
	if (op->pending > 0)
		return;
	call_release(op);
	finish(op);
}

/* --- polling, cancel, teardown ------------------------------------------------------------------------------ */

void gx_fabric_client_cancel(struct gx_fabric_client *c, uint64_t op_id)
{
	struct op *op;

	pthread_mutex_lock(&c->lock);
	for (op = c->ops; op; op = op->next) {
		if (op->id != op_id)
			continue;
		op->cancelled = true;
		if (op->call)
			grpc_call_cancel(op->call, NULL);
		break;
	}
	pthread_mutex_unlock(&c->lock);
}

int gx_fabric_client_poll(struct gx_fabric_client *c, int timeout_ms)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					     gpr_time_from_millis(timeout_ms > 0 ? timeout_ms : 0, GPR_TIMESPAN));
	grpc_event ev;
	struct tag *t;
	int n = 0;

	for (;;) {
		ev = grpc_completion_queue_next(c->cq, deadline, NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			return n;
		t = ev.tag;
		if (t->kind == TAG_UNARY)
			unary_done(t->op, ev.success != 0);
		else
			stream_done(t, ev.success != 0);
		n++;
		/* after the first completion only drain what is already there */
		deadline = gpr_inf_past(GPR_CLOCK_MONOTONIC);
	}
}

void gx_fabric_client_run(struct gx_fabric_client *c)
{
	while (!atomic_load(&c->stop))
		gx_fabric_client_poll(c, 200);
}

void gx_fabric_client_stop(struct gx_fabric_client *c)
{
	atomic_store(&c->stop, true);
}

void gx_fabric_client_free(struct gx_fabric_client *c)
{
	struct op *op;
	grpc_event ev;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->closing = true;
	for (op = c->ops; op; op = op->next) {
		op->cancelled = true;
		if (op->call)
			grpc_call_cancel(op->call, NULL);
	}
	pthread_mutex_unlock(&c->lock);
	while (atomic_load(&c->in_flight) > 0)
		gx_fabric_client_poll(c, 100);
	grpc_completion_queue_shutdown(c->cq);
	do
		ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
	while (ev.type != GRPC_QUEUE_SHUTDOWN);
	grpc_completion_queue_destroy(c->cq);
	grpc_channel_destroy(c->channel);
	pthread_mutex_destroy(&c->lock);
	free(c->channel_id);
	free(c->chaincode_id);
	free(c);
	grpc_shutdown();
}

/* --- blocking wrappers -------------------------------------------------------------------------------------- */

struct sync_wait {
	bool done;
	struct gx_fabric_result *out;
};

static void sync_cb(struct gx_fabric_result *res, void *arg)
{
	struct sync_wait *w = arg;

	*w->out = *res;
	memset(res, 0, sizeof(*res));
	w->done = true;
}

static int sync_wait(struct gx_fabric_client *c, struct sync_wait *w)
{
	while (!w->done)
		gx_fabric_client_poll(c, 100);
	return w->out->err.kind == GX_FABRIC_ERR_NONE ? 0 : -1;
}

static int sync_proposal_op(struct gx_fabric_client *c, enum gx_fabric_op kind, const char *function,
			    const char *const *args, size_t nargs, struct gx_fabric_result *out)
{
	struct sync_wait w = { false, out };
	struct gx_fabric_proposal *p;
	int rc;

	memset(out, 0, sizeof(*out));
	out->op = kind;
	p = gx_fabric_msg_proposal_new(c->id, c->channel_id, c->chaincode_id, function, args, nargs);
	if (!p) {
		gx_fabric_error_set(&out->err, GX_FABRIC_ERR_LOCAL, "cannot build proposal for '%s'", function);
		return -1;
	}
	if (kind == GX_FABRIC_OP_TRANSACT)
		rc = gx_fabric_client_transact(c, p, sync_cb, &w, NULL);
	else
		rc = gx_fabric_client_evaluate(c, p, sync_cb, &w, NULL);
	if (rc < 0) {
		snprintf(out->tx_id, sizeof(out->tx_id), "%s", p->tx_id);
		gx_fabric_error_set(&out->err, GX_FABRIC_ERR_LOCAL, "cannot start '%s'", function);
		gx_fabric_msg_proposal_free(p);
		return -1;
	}
	gx_fabric_msg_proposal_free(p);
	return sync_wait(c, &w);
}

int gx_fabric_client_transact_sync(struct gx_fabric_client *c, const char *function, const char *const *args,
				   size_t nargs, struct gx_fabric_result *out)
{
	return sync_proposal_op(c, GX_FABRIC_OP_TRANSACT, function, args, nargs, out);
}

int gx_fabric_client_evaluate_sync(struct gx_fabric_client *c, const char *function, const char *const *args,
				   size_t nargs, struct gx_fabric_result *out)
{
	return sync_proposal_op(c, GX_FABRIC_OP_EVALUATE, function, args, nargs, out);
}

int gx_fabric_client_commit_status_sync(struct gx_fabric_client *c, const char *tx_id, int timeout_ms,
					struct gx_fabric_result *out)
{
	struct sync_wait w = { false, out };

	memset(out, 0, sizeof(*out));
	out->op = GX_FABRIC_OP_COMMIT_STATUS;
	if (gx_fabric_client_commit_status(c, tx_id, timeout_ms, sync_cb, &w, NULL) < 0) {
		gx_fabric_error_set(&out->err, GX_FABRIC_ERR_LOCAL, "cannot start CommitStatus");
		return -1;
	}
	return sync_wait(c, &w);
}
