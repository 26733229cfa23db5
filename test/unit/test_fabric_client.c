/* Unit tests for gx/fabric_client against a tiny in-process gRPC Gateway server (plaintext): evaluate, the full
 * transact pipeline (signatures checked server-side), endorsement failure with ErrorDetails, invalid commit codes,
 * deadlines, an events stream ending with UNAVAILABLE, and cancelling a stream. */
#include "gx/fabric_client.h"
#include "gx/log.h"
#include "gx_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "common/common.pb-c.h"
#include "gateway/gateway.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "peer/chaincode_event.pb-c.h"
#include "peer/proposal.pb-c.h"
#include "peer/proposal_response.pb-c.h"
#include "peer/transaction.pb-c.h"

enum mode { MODE_OK, MODE_ENDORSE_FAIL, MODE_MVCC, MODE_HANG, MODE_EVENTS_FOREVER };

static char dir[64];
static char *cert;
static size_t cert_len;
static struct gx_fabric_id *id;
static grpc_server *server;
static grpc_completion_queue *scq;
static pthread_t server_thread;
static char endpoint[64];
static atomic_int mode;
static atomic_int bad_signatures;
static grpc_call *hung[8];
static int n_hung;

#define TAG_NEW ((void *)1)
#define TAG_BATCH ((void *)2)
#define TAG_SHUTDOWN ((void *)3)

static bool sig_ok(const ProtobufCBinaryData *msg, const ProtobufCBinaryData *sig)
{
	return gx_fabric_id_verify((unsigned char *)cert, cert_len, msg->data, msg->len, sig->data, sig->len, NULL);
}

static void pack_into(const ProtobufCMessage *m, ProtobufCBinaryData *out)
{
	out->len = protobuf_c_message_get_packed_size(m);
	out->data = malloc(out->len);
	protobuf_c_message_pack(m, out->data);
}

/* Wait for TAG_BATCH on the server queue (the server handles one call at a time). */
static void wait_batch(void)
{
	grpc_event ev;

	do
		ev = grpc_completion_queue_next(scq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	while (ev.type == GRPC_OP_COMPLETE && ev.tag != TAG_BATCH);
}

static grpc_byte_buffer *bb(const ProtobufCBinaryData *b)
{
	grpc_slice s = grpc_slice_from_copied_buffer((const char *)b->data, b->len);
	grpc_byte_buffer *r = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return r;
}

/* Send one message (may be NULL) and/or the final status (code < 0: no status). */
static void reply(grpc_call *call, const ProtobufCBinaryData *msg, int code, const char *text,
		  const ProtobufCBinaryData *details)
{
	grpc_op ops[3];
	grpc_metadata md;
	grpc_slice text_s = grpc_slice_from_copied_string(text ? text : "");
	grpc_byte_buffer *m = msg ? bb(msg) : NULL;
	int cancelled = 0;
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	if (m) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = m;
	}
	if (code >= 0) {
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = (grpc_status_code)code;
		ops[n].data.send_status_from_server.status_details = &text_s;
		if (details) {
			md.key = grpc_slice_from_static_string("grpc-status-details-bin");
			md.value = grpc_slice_from_copied_buffer((const char *)details->data, details->len);
			ops[n].data.send_status_from_server.trailing_metadata = &md;
			ops[n].data.send_status_from_server.trailing_metadata_count = 1;
		}
		n++;
		ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
		ops[n++].data.recv_close_on_server.cancelled = &cancelled;
	}
	grpc_call_start_batch(call, ops, n, TAG_BATCH, NULL);
	wait_batch();
	if (m)
		grpc_byte_buffer_destroy(m);
	if (code >= 0 && details)
		grpc_slice_unref(md.value);
	grpc_slice_unref(text_s);
}

static void endorse_response(const char *tx_id, ProtobufCBinaryData *out)
{
	Protos__Response resp = PROTOS__RESPONSE__INIT;
	Protos__ChaincodeAction ca = PROTOS__CHAINCODE_ACTION__INIT;
	Protos__ProposalResponsePayload prp = PROTOS__PROPOSAL_RESPONSE_PAYLOAD__INIT;
	Protos__ChaincodeEndorsedAction cea = PROTOS__CHAINCODE_ENDORSED_ACTION__INIT;
	Protos__ChaincodeActionPayload cap = PROTOS__CHAINCODE_ACTION_PAYLOAD__INIT;
	Protos__TransactionAction ta = PROTOS__TRANSACTION_ACTION__INIT, *tas[1] = { &ta };
	Protos__Transaction tx = PROTOS__TRANSACTION__INIT;
	Common__ChannelHeader ch = COMMON__CHANNEL_HEADER__INIT;
	Common__Header hdr = COMMON__HEADER__INIT;
	Common__Payload pl = COMMON__PAYLOAD__INIT;
	Common__Envelope env = COMMON__ENVELOPE__INIT;
	Gateway__EndorseResponse er = GATEWAY__ENDORSE_RESPONSE__INIT;
	ProtobufCBinaryData b[6];

	resp.status = 200;
	resp.payload.data = (uint8_t *)"done";
	resp.payload.len = 4;
	ca.response = &resp;
	pack_into(&ca.base, &b[0]);
	prp.extension = b[0];
	pack_into(&prp.base, &b[1]);
	cea.proposal_response_payload = b[1];
	cap.action = &cea;
	pack_into(&cap.base, &b[2]);
	ta.payload = b[2];
	tx.n_actions = 1;
	tx.actions = tas;
	pack_into(&tx.base, &b[3]);
	ch.type = 3;
	ch.channel_id = (char *)"gxchannel";
	ch.tx_id = (char *)tx_id;
	pack_into(&ch.base, &b[4]);
	hdr.channel_header = b[4];
	pl.header = &hdr;
	pl.data = b[3];
	pack_into(&pl.base, &b[5]);
	env.payload = b[5];
	er.prepared_transaction = &env;
	pack_into(&er.base, out);
	for (int i = 0; i < 6; i++)
		free(b[i].data);
}

static void error_details(ProtobufCBinaryData *out)
{
	Gateway__ErrorDetail d = GATEWAY__ERROR_DETAIL__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT, *anys[1] = { &any };
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;

	d.address = (char *)"peer0:7051";
	d.msp_id = (char *)"Org1MSP";
	d.message = (char *)"chaincode response 400, insufficient funds";
	any.type_url = (char *)"type.googleapis.com/gateway.ErrorDetail";
	pack_into(&d.base, &any.value);
	st.code = 10;
	st.message = (char *)"failed to endorse transaction";
	st.n_details = 1;
	st.details = anys;
	pack_into(&st.base, out);
	free(any.value.data);
}

static void handle(grpc_call *call, const char *method, const ProtobufCBinaryData *req)
{
	ProtobufCBinaryData out = { 0, NULL }, det;
	int m = atomic_load(&mode);

	if (!strcmp(method, "/gateway.Gateway/Evaluate")) {
		Gateway__EvaluateRequest *r = gateway__evaluate_request__unpack(NULL, req->len, req->data);
		Protos__Response resp = PROTOS__RESPONSE__INIT;
		Gateway__EvaluateResponse er = GATEWAY__EVALUATE_RESPONSE__INIT;
		if (!r || !r->proposed_transaction ||
		    !sig_ok(&r->proposed_transaction->proposal_bytes, &r->proposed_transaction->signature))
			atomic_fetch_add(&bad_signatures, 1);
		resp.status = 200;
		resp.payload.data = (uint8_t *)"42";
		resp.payload.len = 2;
		er.result = &resp;
		pack_into(&er.base, &out);
		reply(call, &out, 0, "", NULL);
		gateway__evaluate_request__free_unpacked(r, NULL);
	} else if (!strcmp(method, "/gateway.Gateway/Endorse")) {
		Gateway__EndorseRequest *r = gateway__endorse_request__unpack(NULL, req->len, req->data);
		if (!r || !r->proposed_transaction ||
		    !sig_ok(&r->proposed_transaction->proposal_bytes, &r->proposed_transaction->signature))
			atomic_fetch_add(&bad_signatures, 1);
		if (m == MODE_ENDORSE_FAIL) {
			error_details(&det);
			reply(call, NULL, GRPC_STATUS_ABORTED, "failed to endorse transaction", &det);
			free(det.data);
		} else {
			endorse_response(r ? r->transaction_id : "", &out);
			reply(call, &out, 0, "", NULL);
		}
		gateway__endorse_request__free_unpacked(r, NULL);
	} else if (!strcmp(method, "/gateway.Gateway/Submit")) {
		Gateway__SubmitRequest *r = gateway__submit_request__unpack(NULL, req->len, req->data);
		if (!r || !r->prepared_transaction ||
		    !sig_ok(&r->prepared_transaction->payload, &r->prepared_transaction->signature))
			atomic_fetch_add(&bad_signatures, 1);
		out.data = malloc(1);
		reply(call, &out, 0, "", NULL);
		gateway__submit_request__free_unpacked(r, NULL);
	} else if (!strcmp(method, "/gateway.Gateway/CommitStatus")) {
		Gateway__SignedCommitStatusRequest *r =
			gateway__signed_commit_status_request__unpack(NULL, req->len, req->data);
		Gateway__CommitStatusResponse cs = GATEWAY__COMMIT_STATUS_RESPONSE__INIT;
		if (!r || !sig_ok(&r->request, &r->signature))
			atomic_fetch_add(&bad_signatures, 1);
		gateway__signed_commit_status_request__free_unpacked(r, NULL);
		if (m == MODE_HANG) {
			hung[n_hung++] = call;
			return;
		}
		cs.result = m == MODE_MVCC ? PROTOS__TX_VALIDATION_CODE__MVCC_READ_CONFLICT
					   : PROTOS__TX_VALIDATION_CODE__VALID;
		cs.block_number = 5;
		pack_into(&cs.base, &out);
		reply(call, &out, 0, "", NULL);
	} else if (!strcmp(method, "/gateway.Gateway/ChaincodeEvents")) {
		Protos__ChaincodeEvent e = PROTOS__CHAINCODE_EVENT__INIT, *es[1] = { &e };
		Gateway__ChaincodeEventsResponse r = GATEWAY__CHAINCODE_EVENTS_RESPONSE__INIT;
		e.tx_id = (char *)"t1";
		e.chaincode_id = (char *)"gxtv3";
		e.event_name = (char *)"Ev";
		r.n_events = 1;
		r.events = es;
		for (int i = 0; i < 3; i++) {
			r.block_number = 10 + (uint64_t)i;
			pack_into(&r.base, &out);
			reply(call, &out, -1, NULL, NULL);
			free(out.data);
		}
		out.data = NULL;
		if (m == MODE_EVENTS_FOREVER) {
			hung[n_hung++] = call;
			return;
		}
		reply(call, NULL, GRPC_STATUS_UNAVAILABLE, "peer shutting down", NULL);
	} else {
		reply(call, NULL, GRPC_STATUS_UNIMPLEMENTED, "no such method", NULL);
	}
	free(out.data);
	grpc_call_unref(call);
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		grpc_call *call = NULL;
		grpc_call_details details;
		grpc_metadata_array md;
		grpc_byte_buffer *msg = NULL;
		grpc_op ops[2];
		grpc_event ev;
		char *method;

		grpc_call_details_init(&details);
		grpc_metadata_array_init(&md);
		grpc_server_request_call(server, &call, &details, &md, scq, scq, TAG_NEW);
		ev = grpc_completion_queue_next(scq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.tag != TAG_NEW || !ev.success) {
			grpc_call_details_destroy(&details);
			grpc_metadata_array_destroy(&md);
			while (ev.tag != TAG_SHUTDOWN)
				ev = grpc_completion_queue_next(scq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
			return NULL;
		}
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
		ops[1].op = GRPC_OP_RECV_MESSAGE;
		ops[1].data.recv_message.recv_message = &msg;
		grpc_call_start_batch(call, ops, 2, TAG_BATCH, NULL);
		wait_batch();
		method = grpc_slice_to_c_string(details.method);
		if (msg) {
			grpc_byte_buffer_reader r;
			grpc_slice s;
			ProtobufCBinaryData req;
			grpc_byte_buffer_reader_init(&r, msg);
			s = grpc_byte_buffer_reader_readall(&r);
			req.data = GRPC_SLICE_START_PTR(s);
			req.len = GRPC_SLICE_LENGTH(s);
			handle(call, method, &req);
			grpc_slice_unref(s);
			grpc_byte_buffer_reader_destroy(&r);
			grpc_byte_buffer_destroy(msg);
		} else {
			grpc_call_unref(call);
		}
		gpr_free(method);
		grpc_call_details_destroy(&details);
		grpc_metadata_array_destroy(&md);
	}
}

static int setup(void)
{
	char cmd[1024], c[128], k[128];
	grpc_server_credentials *creds;
	FILE *f;
	int port;

	snprintf(dir, sizeof(dir), "/tmp/gx-fabric-client-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem 2>/dev/null &&"
		 " openssl req -new -x509 -key key.pem -out cert.pem -days 2 -subj /CN=user1 2>/dev/null",
		 dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(c, sizeof(c), "%s/cert.pem", dir);
	snprintf(k, sizeof(k), "%s/key.pem", dir);
	f = fopen(c, "rb");
	if (!f)
		return -1;
	cert = calloc(1, 65536);
	cert_len = fread(cert, 1, 65535, f);
	fclose(f);
	id = gx_fabric_id_load("Org1MSP", c, k);
	if (!id)
		return -1;
	grpc_init();
	server = grpc_server_create(NULL, NULL);
	scq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(server, scq, NULL);
	creds = grpc_insecure_server_credentials_create();
	port = grpc_server_add_http2_port(server, "127.0.0.1:0", creds);
	grpc_server_credentials_release(creds);
	if (port <= 0)
		return -1;
	snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", port);
	grpc_server_start(server);
	return pthread_create(&server_thread, NULL, serve, NULL);
}

static void teardown(void)
{
	grpc_event ev;
	int i;

	grpc_server_shutdown_and_notify(server, scq, TAG_SHUTDOWN);
	grpc_server_cancel_all_calls(server);
	pthread_join(server_thread, NULL);
	for (i = 0; i < n_hung; i++)
		grpc_call_unref(hung[i]);
	grpc_server_destroy(server);
	grpc_completion_queue_shutdown(scq);
	do
		ev = grpc_completion_queue_next(scq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	while (ev.type != GRPC_QUEUE_SHUTDOWN);
	grpc_completion_queue_destroy(scq);
	grpc_shutdown();
}

static struct gx_fabric_client *client(void)
{
	struct gx_fabric_client_opts o = { 0 };

	o.endpoint = endpoint;
	o.channel_id = "gxchannel";
	o.chaincode_id = "gxtv3";
	o.wait_for_ready = true;
	o.commit_timeout_ms = 300;
	return gx_fabric_client_new(&o, id);
}

GX_TEST(evaluate_and_transact)
{
	struct gx_fabric_client *c = client();
	struct gx_fabric_result r;
	const char *args[] = { "w1" };

	GX_CHECK(c != NULL);
	if (!c)
		return;
	atomic_store(&mode, MODE_OK);
	GX_CHECK(gx_fabric_client_evaluate_sync(c, "C:get", args, 1, &r) == 0);
	GX_CHECK(r.response.status == 200 && r.response.payload.len == 2 && !memcmp(r.response.payload.data, "42", 2));
	gx_fabric_client_result_release(&r);
	GX_CHECK(gx_fabric_client_transact_sync(c, "C:put", args, 1, &r) == 0);
	GX_CHECK(r.err.kind == GX_FABRIC_ERR_NONE && r.stage == GX_FABRIC_STAGE_COMMIT);
	GX_CHECK(r.tx_code == GX_FABRIC_TX_VALID && r.block == 5 && strlen(r.tx_id) == 64);
	GX_CHECK(r.response.payload.len == 4 && !memcmp(r.response.payload.data, "done", 4));
	gx_fabric_client_result_release(&r);
	GX_CHECK(atomic_load(&bad_signatures) == 0);
	GX_CHECK(gx_fabric_client_in_flight(c) == 0);
	gx_fabric_client_free(c);
}

GX_TEST(failures_are_classified)
{
	struct gx_fabric_client *c = client();
	struct gx_fabric_result r;
	const char *args[] = { "w1" };

	if (!c) {
		GX_CHECK(c != NULL);
		return;
	}
	atomic_store(&mode, MODE_ENDORSE_FAIL);
	GX_CHECK(gx_fabric_client_transact_sync(c, "C:put", args, 1, &r) < 0);
	GX_CHECK(r.stage == GX_FABRIC_STAGE_ENDORSE && r.err.kind == GX_FABRIC_ERR_GRPC && r.err.grpc_code == 10);
	GX_CHECK(r.err.n_details == 1 && r.err.details && !strcmp(r.err.details[0].msp_id, "Org1MSP"));
	GX_CHECK(gx_fabric_error_chaincode_response(&r.err) == 400 && !gx_fabric_error_retryable(&r.err));
	gx_fabric_client_result_release(&r);

	atomic_store(&mode, MODE_MVCC);
	GX_CHECK(gx_fabric_client_transact_sync(c, "C:put", args, 1, &r) < 0);
	GX_CHECK(r.stage == GX_FABRIC_STAGE_COMMIT && r.err.kind == GX_FABRIC_ERR_TX_INVALID && r.block == 5);
	GX_CHECK(gx_fabric_error_retryable(&r.err) && gx_fabric_error_needs_new_txid(&r.err));
	gx_fabric_client_result_release(&r);

	atomic_store(&mode, MODE_HANG);
	GX_CHECK(gx_fabric_client_commit_status_sync(c, "abc", 200, &r) < 0);
	GX_CHECK(r.err.kind == GX_FABRIC_ERR_GRPC && r.err.grpc_code == GRPC_STATUS_DEADLINE_EXCEEDED);
	GX_CHECK(gx_fabric_error_retryable(&r.err));
	gx_fabric_client_result_release(&r);
	gx_fabric_client_free(c);
	GX_CHECK(atomic_load(&bad_signatures) == 0);
}

struct ev_state {
	int blocks;
	uint64_t last_block;
	int ended;
	int end_code;
	struct gx_fabric_client *c;
	uint64_t id;
	bool cancel_after_two;
};

static void on_events(const struct gx_fabric_msg_events *ev, const struct gx_fabric_error *end, void *arg)
{
	struct ev_state *s = arg;

	if (ev) {
		s->blocks++;
		s->last_block = ev->block;
		if (s->cancel_after_two && s->blocks == 2)
			gx_fabric_client_cancel(s->c, s->id);
		return;
	}
	s->ended++;
	s->end_code = end->grpc_code;
}

GX_TEST(events_stream_and_cancel)
{
	struct gx_fabric_client *c = client();
	struct ev_state s = { 0 };
	int i;

	if (!c) {
		GX_CHECK(c != NULL);
		return;
	}
	atomic_store(&mode, MODE_OK);
	GX_CHECK(gx_fabric_client_events(c, 10, NULL, on_events, &s, &s.id) == 0);
	for (i = 0; i < 100 && !s.ended; i++)
		gx_fabric_client_poll(c, 50);
	GX_CHECK(s.blocks == 3 && s.last_block == 12 && s.ended == 1 && s.end_code == GRPC_STATUS_UNAVAILABLE);

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.cancel_after_two = true;
	atomic_store(&mode, MODE_EVENTS_FOREVER);
	GX_CHECK(gx_fabric_client_events(c, 10, "t0", on_events, &s, &s.id) == 0);
	for (i = 0; i < 100 && !s.ended; i++)
		gx_fabric_client_poll(c, 50);
	GX_CHECK(s.blocks == 2 && s.ended == 1 && s.end_code == GRPC_STATUS_CANCELLED);
	GX_CHECK(gx_fabric_client_in_flight(c) == 0);
	gx_fabric_client_free(c);
}

int main(void)
{
	char cmd[128];
	int rc;

	gx_log_init("test_fabric_client");
	gx_log_set_level(GX_LOG_FATAL);
	if (setup() != 0) {
		printf("not ok 1 - cannot set up identity or test server\n");
		return 1;
	}
	GX_RUN(evaluate_and_transact);
	GX_RUN(failures_are_classified);
	GX_RUN(events_stream_and_cancel);
	rc = gx_test_done();
	teardown();
	gx_fabric_id_free(id);
	free(cert);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
