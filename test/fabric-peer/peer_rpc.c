/* gRPC core server for the Fabric peer stand-in: accepts calls on a _for_next queue and hands each to a thread.
 * Threads that finished a call wait IDLE_KEEP_MS for the next one before exiting, so a busy peer does not create
 * (and tear down) a thread for every Endorse/Submit/CommitStatus. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "gateway/gateway.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "gx/log.h"
#include "gx/util.h"
#include "peer_gw.h"
#include "peer_rpc.h"

#define ACCEPT_SLOTS 64
#define CALL_STACK (1024 * 1024)
#define IDLE_KEEP_MS 2000

struct peer_rpc {
	grpc_server *server;
	grpc_completion_queue *cq; /* _for_next: new calls and the shutdown notification */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int active;              /* calls being handled */
	int threads;             /* call threads alive (handling or idle) */
	int nidle;               /* threads waiting for a call and not yet handed one */
	struct peer_call *queue; /* calls handed to idle threads, not yet taken */
	pthread_cond_t work;     /* queue grew, or quitting */
	pthread_cond_t gone;     /* threads reached 0 */
	bool quit;               /* idle threads exit */
	bool shutdown_requested;
	int shutdown_tag; /* address used as the shutdown tag */
};

struct peer_call {
	struct peer *peer;
	struct peer_rpc *rpc;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_completion_queue *cq; /* pluck queue bound to this call */
	unsigned char *req;
	size_t req_len;
	char method[64];
	int cancelled; /* out-param of RECV_CLOSE_ON_SERVER */
	bool closed;   /* RECV_CLOSE_ON_SERVER completed */
	bool finished;
	int tag_io, tag_close;  /* addresses used as tags */
	struct peer_call *next; /* hand-off queue link */
};

static struct peer_call *call_new(struct peer *p)
{
	struct peer_call *c = gx_xcalloc(1, sizeof(*c));

	c->peer = p;
	c->rpc = p->rpc;
	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->md);
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	return c;
}

static void call_free(struct peer_call *c)
{
	if (c->call)
		grpc_call_unref(c->call);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->md);
	grpc_completion_queue_shutdown(c->cq);
	(void)grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	grpc_completion_queue_destroy(c->cq);
	free(c->req);
	free(c);
}

static bool run_batch(struct peer_call *c, const grpc_op *ops, size_t n)
{
	grpc_event ev;

	if (grpc_call_start_batch(c->call, ops, n, &c->tag_io, NULL) != GRPC_CALL_OK) {
		gx_log_error("grpc_call_start_batch failed for %s", c->method);
		return false;
	}
	ev = grpc_completion_queue_pluck(c->cq, &c->tag_io, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

const unsigned char *peer_rpc_request(struct peer_call *c, size_t *len)
{
	*len = c->req_len;
	return c->req;
}

const char *peer_rpc_method(struct peer_call *c)
{
	return c->method;
}

bool peer_rpc_cancelled(struct peer_call *c)
{
	if (!c->closed) {
		grpc_event ev =
			grpc_completion_queue_pluck(c->cq, &c->tag_close, gpr_time_0(GPR_CLOCK_MONOTONIC), NULL);

		if (ev.type == GRPC_OP_COMPLETE)
			c->closed = true;
	}
	return c->closed || atomic_load(&c->peer->stopping);
}

int peer_rpc_send(struct peer_call *c, const void *msg, size_t len)
{
	grpc_slice s = grpc_slice_from_copied_buffer(msg, len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_op op;
	bool ok;

	grpc_slice_unref(s);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = bb;
	ok = run_batch(c, &op, 1);
	grpc_byte_buffer_destroy(bb);
	return ok ? 0 : -1;
}

/* google.rpc.Status{code, message, details = [Any{gateway.ErrorDetail}]} */
static grpc_slice status_details(struct peer_call *c, grpc_status_code code, const char *msg, const char *detail)
{
	Gateway__ErrorDetail ed = GATEWAY__ERROR_DETAIL__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	Google__Protobuf__Any *anys[1] = { &any };
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	unsigned char *edb, *stb;
	size_t n;
	grpc_slice out;

	ed.address = c->peer->address ? c->peer->address : (char *)"";
	ed.msp_id = (char *)c->peer->cfg.msp_id;
	ed.message = (char *)detail;
	edb = gx_xmalloc(gateway__error_detail__get_packed_size(&ed) + 1);
	n = gateway__error_detail__pack(&ed, edb);
	any.type_url = (char *)"type.googleapis.com/gateway.ErrorDetail";
	any.value.data = edb;
	any.value.len = n;
	st.code = (int32_t)code;
	st.message = (char *)msg;
	st.n_details = 1;
	st.details = anys;
	stb = gx_xmalloc(google__rpc__status__get_packed_size(&st) + 1);
	n = google__rpc__status__pack(&st, stb);
	out = grpc_slice_from_copied_buffer((const char *)stb, n);
	free(edb);
	free(stb);
	return out;
}

void peer_rpc_finish(struct peer_call *c, grpc_status_code code, const char *msg, const void *resp, size_t resp_len,
		     const char *detail)
{
	grpc_op ops[2];
	grpc_metadata md;
	grpc_slice msg_slice;
	grpc_byte_buffer *bb = NULL;
	size_t n = 0;

	if (c->finished)
		return;
	c->finished = true;
	msg_slice = grpc_slice_from_copied_string(msg ? msg : "");
	memset(ops, 0, sizeof(ops));
	memset(&md, 0, sizeof(md));
	if (resp) {
		grpc_slice s = grpc_slice_from_copied_buffer(resp, resp_len);

		bb = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = bb;
		n++;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	ops[n].data.send_status_from_server.status_details = &msg_slice;
	if (detail) {
		md.key = grpc_slice_from_static_string("grpc-status-details-bin");
		md.value = status_details(c, code, msg ? msg : "", detail);
		ops[n].data.send_status_from_server.trailing_metadata_count = 1;
		ops[n].data.send_status_from_server.trailing_metadata = &md;
	}
	n++;
	(void)run_batch(c, ops, n);
	if (detail)
		grpc_slice_unref(md.value);
	grpc_slice_unref(msg_slice);
	if (bb)
		grpc_byte_buffer_destroy(bb);
}

static void read_request(struct peer_call *c, grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader r;
	grpc_slice s;

	if (!bb || !grpc_byte_buffer_reader_init(&r, bb))
		return;
	s = grpc_byte_buffer_reader_readall(&r);
	c->req_len = GRPC_SLICE_LENGTH(s);
	c->req = gx_xmalloc(c->req_len + 1);
	memcpy(c->req, GRPC_SLICE_START_PTR(s), c->req_len);
	grpc_slice_unref(s);
	grpc_byte_buffer_reader_destroy(&r);
}

static void handle_call(struct peer_call *c)
{
	struct peer_rpc *rpc = c->rpc;
	grpc_byte_buffer *bb = NULL;
	grpc_op ops[2];
	size_t mlen = GRPC_SLICE_LENGTH(c->details.method);
	const char *m = (const char *)GRPC_SLICE_START_PTR(c->details.method);
	bool ok;

	if (mlen > 17 && memcmp(m, "/gateway.Gateway/", 17) == 0 && mlen - 17 < sizeof(c->method))
		memcpy(c->method, m + 17, mlen - 17);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_RECV_MESSAGE;
	ops[1].data.recv_message.recv_message = &bb;
	ok = run_batch(c, ops, 2);
	read_request(c, bb);
	if (bb)
		grpc_byte_buffer_destroy(bb);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[0].data.recv_close_on_server.cancelled = &c->cancelled;
	if (grpc_call_start_batch(c->call, ops, 1, &c->tag_close, NULL) != GRPC_CALL_OK) {
		gx_log_error("cannot start RECV_CLOSE_ON_SERVER for %s", c->method);
		c->closed = true;
	}
	if (!ok)
		peer_rpc_finish(c, GRPC_STATUS_CANCELLED, "call ended before its request arrived", NULL, 0, NULL);
	else if (!c->method[0])
		peer_rpc_finish(c, GRPC_STATUS_UNIMPLEMENTED, "unknown service", NULL, 0, NULL);
	else
		peer_gw_handle(c->peer, c);
	peer_rpc_finish(c, GRPC_STATUS_INTERNAL, "handler ended without a status", NULL, 0, NULL);
	if (!c->closed)
		(void)grpc_completion_queue_pluck(c->cq, &c->tag_close, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	call_free(c);
	pthread_mutex_lock(&rpc->lock);
	if (--rpc->active == 0)
		pthread_cond_broadcast(&rpc->idle);
	pthread_mutex_unlock(&rpc->lock);
}

/* Thread body: handle the first call, then whatever is handed over while idle; exit after IDLE_KEEP_MS idle. */
static void *call_main(void *arg)
{
	struct peer_call *c = arg;
	struct peer_rpc *rpc = c->rpc;

	while (c) {
		struct timespec ts;

		handle_call(c);
		c = NULL;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += IDLE_KEEP_MS / 1000;
		ts.tv_nsec += (long)(IDLE_KEEP_MS % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&rpc->lock);
		rpc->nidle++;
		while (!rpc->queue && !rpc->quit)
			if (pthread_cond_timedwait(&rpc->work, &rpc->lock, &ts) != 0)
				break;
		if (rpc->queue) { /* the acceptor counted us out of idle when it queued this */
			c = rpc->queue;
			rpc->queue = c->next;
		} else {
			rpc->nidle--;
		}
		if (!c && --rpc->threads == 0)
			pthread_cond_broadcast(&rpc->gone);
		pthread_mutex_unlock(&rpc->lock);
	}
	return NULL;
}

static int request_slot(struct peer *p)
{
	struct peer_call *c = call_new(p);

	if (grpc_server_request_call(p->rpc->server, &c->call, &c->details, &c->md, c->cq, p->rpc->cq, c) !=
	    GRPC_CALL_OK) {
		gx_log_error("grpc_server_request_call failed");
		call_free(c);
		return -1;
	}
	return 0;
}

static grpc_server_credentials *server_creds(const struct peer_cfg *cfg)
{
	grpc_ssl_pem_key_cert_pair pair;
	char *cert = NULL, *key = NULL, *ca = NULL;
	grpc_server_credentials *creds = NULL;
	FILE *f;

	if (!cfg->tls_cert)
		return grpc_insecure_server_credentials_create();
	const char *paths[3] = { cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca };
	char **outs[3] = { &cert, &key, &ca };
	for (int i = 0; i < 3; i++) {
		long n;

		if (!paths[i])
			continue;
		f = fopen(paths[i], "rb");
		if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
			gx_log_error("cannot read '%s'", paths[i]);
			if (f)
				fclose(f);
			goto out;
		}
		*outs[i] = gx_xcalloc(1, (size_t)n + 1);
		if (fread(*outs[i], 1, (size_t)n, f) != (size_t)n) {
			gx_log_error("cannot read '%s'", paths[i]);
			fclose(f);
			goto out;
		}
		fclose(f);
	}
	pair.private_key = key;
	pair.cert_chain = cert;
	creds = grpc_ssl_server_credentials_create_ex(ca, &pair, 1,
						      ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
							 : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
						      NULL);
	if (!creds)
		gx_log_error("cannot create TLS server credentials");
out:
	free(cert);
	free(key);
	free(ca);
	return creds;
}

void peer_rpc_stop(struct peer *p)
{
	struct peer_rpc *rpc = p->rpc;

	atomic_store(&p->stopping, true);
	pthread_mutex_lock(&rpc->lock);
	if (!rpc->shutdown_requested) {
		rpc->shutdown_requested = true;
		grpc_server_shutdown_and_notify(rpc->server, rpc->cq, &rpc->shutdown_tag);
		grpc_server_cancel_all_calls(rpc->server);
	}
	pthread_mutex_unlock(&rpc->lock);
}

static void accept_loop(struct peer *p)
{
	struct peer_rpc *rpc = p->rpc;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CALL_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(rpc->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		pthread_t t;

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE || ev.tag == &rpc->shutdown_tag) {
			if (ev.tag == &rpc->shutdown_tag)
				grpc_completion_queue_shutdown(rpc->cq);
			continue;
		}
		struct peer_call *c = ev.tag;

		if (!ev.success) { /* the server is shutting down: the slot is not refilled */
			call_free(c);
			continue;
		}
		pthread_mutex_lock(&rpc->lock);
		rpc->active++;
		bool stopping = rpc->shutdown_requested;
		bool handed = false;

		if (rpc->nidle > 0) { /* LIFO is fine: calls are independent */
			rpc->nidle--;
			c->next = rpc->queue;
			rpc->queue = c;
			pthread_cond_signal(&rpc->work);
			handed = true;
		} else {
			rpc->threads++;
		}
		pthread_mutex_unlock(&rpc->lock);
		if (!handed && pthread_create(&t, &attr, call_main, c) != 0) {
			gx_log_error("cannot create a call thread");
			pthread_mutex_lock(&rpc->lock);
			rpc->active--;
			rpc->threads--;
			pthread_mutex_unlock(&rpc->lock);
			grpc_call_cancel(c->call, NULL);
			call_free(c);
		}
		if (!stopping)
			(void)request_slot(p);
	}
	pthread_attr_destroy(&attr);
}

int peer_rpc_serve(struct peer *p)
{
	struct peer_rpc rpc;
	grpc_arg args[4];
	grpc_channel_args chargs = { GX_ARRAY_LEN(args), args };
	grpc_server_credentials *creds;
	int port, rc = -1;

	memset(&rpc, 0, sizeof(rpc));
	pthread_mutex_init(&rpc.lock, NULL);
	pthread_cond_init(&rpc.idle, NULL);
	pthread_cond_init(&rpc.work, NULL);
	pthread_cond_init(&rpc.gone, NULL);
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = 100 * 1024 * 1024;
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
	args[1].value.integer = 100 * 1024 * 1024;
	args[2].type = GRPC_ARG_INTEGER; /* the peer's keepalive enforcement: client pings >= 60 s apart */
	args[2].key = (char *)GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS;
	args[2].value.integer = 60000;
	args[3].type = GRPC_ARG_INTEGER;
	args[3].key = (char *)GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
	args[3].value.integer = 1;
	rpc.server = grpc_server_create(&chargs, NULL);
	rpc.cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(rpc.server, rpc.cq, NULL);
	p->rpc = &rpc;
	creds = server_creds(&p->cfg);
	if (!creds)
		goto out_destroy;
	port = grpc_server_add_http2_port(rpc.server, p->cfg.listen, creds);
	grpc_server_credentials_release(creds);
	if (port <= 0) {
		gx_log_error("cannot listen on '%s'", p->cfg.listen);
		goto out_destroy;
	}
	const char *colon = strrchr(p->cfg.listen, ':');
	p->address = gx_xasprintf("%.*s:%d", colon ? (int)(colon - p->cfg.listen) : 0, p->cfg.listen, port);
	grpc_server_start(rpc.server);
	for (int i = 0; i < ACCEPT_SLOTS; i++)
		if (request_slot(p) < 0)
			goto out_stop;
	gx_log_kv(GX_LOG_INFO,
		  GX_LOG_FIELDS(GX_LOG_INT("port", port), GX_LOG_STR("address", p->address),
				GX_LOG_BOOL("tls", p->cfg.tls_cert != NULL)),
		  "listening");
	accept_loop(p);
	rc = 0;
	goto out_wait;
out_stop:
	peer_rpc_stop(p);
	accept_loop(p);
out_wait:
	pthread_mutex_lock(&rpc.lock);
	while (rpc.active > 0)
		pthread_cond_wait(&rpc.idle, &rpc.lock);
	rpc.quit = true; /* idle threads leave; rpc lives on this stack */
	pthread_cond_broadcast(&rpc.work);
	while (rpc.threads > 0)
		pthread_cond_wait(&rpc.gone, &rpc.lock);
	pthread_mutex_unlock(&rpc.lock);
	grpc_server_destroy(rpc.server);
	grpc_completion_queue_destroy(rpc.cq);
	goto out;
out_destroy:
	grpc_server_destroy(rpc.server);
	grpc_completion_queue_shutdown(rpc.cq);
	while (grpc_completion_queue_next(rpc.cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(rpc.cq);
out:
	pthread_mutex_lock(&rpc.lock);
	p->rpc = NULL;
	pthread_mutex_unlock(&rpc.lock);
	pthread_cond_destroy(&rpc.idle);
	pthread_cond_destroy(&rpc.work);
	pthread_cond_destroy(&rpc.gone);
	pthread_mutex_destroy(&rpc.lock);
	return rc;
}
