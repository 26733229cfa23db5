/* Asynchronous Fabric Gateway client (contract in gx/fabric_client.h; internals in fabric_client_int.h): the gRPC
 * core channel and its credentials, the completion queue and its poll loop, cancellation, shutdown, and the blocking
 * wrappers for tools and tests.
 */
#include "fabric_client_int.h"

#include "gx/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

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

void gx_fabric_client_cancel(struct gx_fabric_client *c, uint64_t op_id)
{
	struct gx_fabric_client_op *op;

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
	struct gx_fabric_client_tag *t;
	int n = 0;

	for (;;) {
		ev = grpc_completion_queue_next(c->cq, deadline, NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			return n;
		t = ev.tag;
		if (t->kind == TAG_UNARY)
			gx_fabric_client_unary_done(t->op, ev.success != 0);
		else
			gx_fabric_client_stream_done(t, ev.success != 0);
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
	struct gx_fabric_client_op *op;
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
