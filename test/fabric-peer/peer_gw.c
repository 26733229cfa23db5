/* /gateway.Gateway methods of the Fabric peer stand-in: the concurrency limit and dispatch, ordering (Submit), commit
 * status and chaincode events; Evaluate and Endorse are in peer_endorse.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/sha256.h>

#include "common/common.pb-c.h"
#include "gateway/gateway.pb-c.h"
#include "gx/log.h"
#include "gx/util.h"
#include "peer/chaincode_event.pb-c.h"
#include "peer/proposal.pb-c.h"
#include "peer/proposal_response.pb-c.h"
#include "peer/transaction.pb-c.h"
#include "peer_fault.h"
#include "peer_gw.h"
#include "peer_ledger.h"
#include "peer_msp.h"
#include "peer_sign.h"
#include "peer_stub.h"

#define POLL_MS 100
/* CommitStatus waiters only poll to notice a cancelled call (a commit wakes them): thousands may wait at once */
#define COMMIT_POLL_MS 500

void peer_gw_txid(const void *a, size_t alen, const void *b, size_t blen, char out[65])
{
	mbedtls_sha256_context ctx;
	unsigned char h[32];

	mbedtls_sha256_init(&ctx);
	mbedtls_sha256_starts_ret(&ctx, 0);
	mbedtls_sha256_update_ret(&ctx, a, alen);
	mbedtls_sha256_update_ret(&ctx, b, blen);
	mbedtls_sha256_finish_ret(&ctx, h);
	mbedtls_sha256_free(&ctx);
	gx_hex_encode(h, 32, out);
}

/* Pack any protobuf-c message into a new heap buffer (caller frees). */
unsigned char *peer_gw_pack(const ProtobufCMessage *m, size_t *len)
{
	unsigned char *b = gx_xmalloc(protobuf_c_message_get_packed_size(m) + 1);

	*len = protobuf_c_message_pack(m, b);
	return b;
}

void peer_gw_log_reject(struct peer_call *c, const char *why)
{
	gx_log_kv(GX_LOG_INFO, GX_LOG_FIELDS(GX_LOG_STR("method", peer_rpc_method(c)), GX_LOG_STR("reason", why)),
		  "request rejected");
}

/* Sleep up to ms in small steps, returning early when the call is cancelled. */
void peer_gw_delay(struct peer_call *c, int ms)
{
	while (ms > 0 && !peer_rpc_cancelled(c)) {
		int step = ms < 20 ? ms : 20;
		struct timespec ts = { 0, step * 1000000L };

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* The committer's endorsement check: the endorser is this peer's identity, a valid member of the MSP, and its
 * signature over proposal response payload || endorser verifies (low-S enforced by peer_msp_verify). */
static bool endorsement_valid(struct peer *p, const Protos__ChaincodeEndorsedAction *ea)
{
	const Protos__Endorsement *e = ea->endorsements[0];
	const unsigned char *idb;
	size_t idl, n;
	unsigned char *msg;
	bool ok;

	idb = peer_sign_identity(p->signer, &idl);
	if (e->endorser.len != idl || memcmp(e->endorser.data, idb, idl) != 0)
		return false;
	n = ea->proposal_response_payload.len + e->endorser.len;
	msg = gx_xmalloc(n + 1);
	if (ea->proposal_response_payload.len)
		memcpy(msg, ea->proposal_response_payload.data, ea->proposal_response_payload.len);
	memcpy(msg + ea->proposal_response_payload.len, e->endorser.data, e->endorser.len);
	ok = peer_msp_verify(p->msp, e->endorser.data, e->endorser.len, msg, n, e->signature.data, e->signature.len,
			     NULL) == PEER_MSP_OK;
	free(msg);
	return ok;
}

/* What the committer would decide about an envelope's content before MVCC: a decoded transaction (its code set to
 * a TxValidationCode when invalid), or NULL when there is not even a tx id (the orderer's BAD_REQUEST). */
static struct peer_tx *decode_envelope(struct peer *p, const Common__Envelope *env, const Common__ChannelHeader *ch,
				       const Common__SignatureHeader *sh, const Common__Payload *pl)
{
	Protos__Transaction *tx = NULL;
	Protos__ChaincodeActionPayload *cap = NULL;
	Protos__ProposalResponsePayload *prp = NULL;
	Protos__ChaincodeAction *act = NULL;
	struct peer_tx *out = NULL;
	char txid[65];
	int code = 0;

	(void)env;
	peer_gw_txid(sh->nonce.data, sh->nonce.len, sh->creator.data, sh->creator.len, txid);
	tx = protos__transaction__unpack(NULL, pl->data.len, pl->data.data);
	if (tx && tx->n_actions == 1)
		cap = protos__chaincode_action_payload__unpack(NULL, tx->actions[0]->payload.len,
							       tx->actions[0]->payload.data);
	if (cap && cap->action)
		prp = protos__proposal_response_payload__unpack(NULL, cap->action->proposal_response_payload.len,
								cap->action->proposal_response_payload.data);
	if (prp)
		act = protos__chaincode_action__unpack(NULL, prp->extension.len, prp->extension.data);
	if (act)
		out = peer_stub_decode_results(act->results.data, act->results.len, ch->tx_id);
	if (!out) {
		out = gx_xcalloc(1, sizeof(*out));
		out->tx_id = gx_xstrdup(ch->tx_id);
		code = tx ? 21 : 2; /* BAD_RESPONSE_PAYLOAD, BAD_PAYLOAD */
		goto out;
	}
	if (strcmp(txid, ch->tx_id) != 0) {
		code = 8; /* BAD_PROPOSAL_TXID */
		goto out;
	}
	/* ENDORSEMENT_POLICY_FAILURE unless the one endorsement is this peer's and its signature verifies */
	code = cap->action->n_endorsements == 1 && endorsement_valid(p, cap->action) ? 0 : 10;
out:
	if (code != 0) {
		free(out->event_name);
		out->event_name = NULL;
	}
	out->code = code;
	protos__chaincode_action__free_unpacked(act, NULL);
	protos__proposal_response_payload__free_unpacked(prp, NULL);
	protos__chaincode_action_payload__free_unpacked(cap, NULL);
	protos__transaction__free_unpacked(tx, NULL);
	return out;
}

static void handle_submit(struct peer *p, struct peer_call *c)
{
	size_t len;
	const unsigned char *req = peer_rpc_request(c, &len);
	Gateway__SubmitRequest *sr = gateway__submit_request__unpack(NULL, len, req);
	Common__Payload *pl = NULL;
	Common__ChannelHeader *ch = NULL;
	Common__SignatureHeader *sh = NULL;
	enum peer_msp_result mr;
	struct peer_tx *tx;
	char *info = NULL;

	if (!sr || !sr->prepared_transaction || sr->prepared_transaction->payload.len == 0 ||
	    sr->prepared_transaction->signature.len == 0) {
		peer_gw_log_reject(c, "no signed envelope");
		peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "a signed prepared transaction is required", NULL, 0,
				NULL);
		goto out;
	}
	if (!sr->channel_id || strcmp(sr->channel_id, p->cfg.channel) != 0) {
		/* the gateway finds no orderers: it has no configuration for the channel */
		const char *ch_id = sr->channel_id ? sr->channel_id : "";

		info = gx_xasprintf("failed to get config for channel [%s]: could not get last config for channel %s",
				    ch_id, ch_id);
		peer_gw_log_reject(c, info);
		peer_rpc_finish(c, GRPC_STATUS_FAILED_PRECONDITION, info, NULL, 0, NULL);
		goto out;
	}
	pl = common__payload__unpack(NULL, sr->prepared_transaction->payload.len,
				     sr->prepared_transaction->payload.data);
	if (pl && pl->header) {
		ch = common__channel_header__unpack(NULL, pl->header->channel_header.len,
						    pl->header->channel_header.data);
		sh = common__signature_header__unpack(NULL, pl->header->signature_header.len,
						      pl->header->signature_header.data);
	}
	if (!ch || !sh || !ch->tx_id || !*ch->tx_id || ch->type != COMMON__HEADER_TYPE__ENDORSER_TRANSACTION ||
	    !ch->channel_id || strcmp(ch->channel_id, p->cfg.channel) != 0) {
		info = gx_xasprintf("received unsuccessful response from orderer: status=BAD_REQUEST, info=%s",
				    "envelope header is malformed or names another channel");
		peer_gw_log_reject(c, info);
		peer_rpc_finish(c, GRPC_STATUS_ABORTED, info, NULL, 0, info);
		goto out;
	}
	mr = peer_msp_verify(p->msp, sh->creator.data, sh->creator.len, sr->prepared_transaction->payload.data,
			     sr->prepared_transaction->payload.len, sr->prepared_transaction->signature.data,
			     sr->prepared_transaction->signature.len, NULL);
	if (mr != PEER_MSP_OK) {
		info = gx_xasprintf("received unsuccessful response from orderer: status=FORBIDDEN, info=%s",
				    peer_msp_result_str(mr));
		peer_gw_log_reject(c, info);
		peer_rpc_finish(c, GRPC_STATUS_ABORTED, info, NULL, 0, info);
		goto out;
	}
	tx = decode_envelope(p, sr->prepared_transaction, ch, sh, pl);
	peer_ledger_enqueue(p->ledger, tx);
	peer_rpc_finish(c, GRPC_STATUS_OK, "", "", 0, NULL);
out:
	free(info);
	common__signature_header__free_unpacked(sh, NULL);
	common__channel_header__free_unpacked(ch, NULL);
	common__payload__free_unpacked(pl, NULL);
	gateway__submit_request__free_unpacked(sr, NULL);
}

static bool call_stop(void *arg)
{
	return peer_rpc_cancelled(arg);
}

/* End a call whose wait was interrupted: by the client (status is moot) or by shutdown. */
static void finish_interrupted(struct peer *p, struct peer_call *c)
{
	if (atomic_load(&p->stopping))
		peer_rpc_finish(c, GRPC_STATUS_UNAVAILABLE, "peer is shutting down", NULL, 0, NULL);
	else
		peer_rpc_finish(c, GRPC_STATUS_CANCELLED, "call cancelled or deadline exceeded", NULL, 0, NULL);
}

/* CommitStatus and ChaincodeEvents check the caller against the channel's policy first: an unknown channel has
 * no policy manager. */
static void reject_channel(struct peer_call *c, const char *channel)
{
	char *m = gx_xasprintf("Failed to get policy manager for channel [%s]", channel);

	peer_gw_log_reject(c, m);
	peer_rpc_finish(c, GRPC_STATUS_PERMISSION_DENIED, m, NULL, 0, NULL);
	free(m);
}

static void handle_commit_status(struct peer *p, struct peer_call *c)
{
	size_t len;
	const unsigned char *req = peer_rpc_request(c, &len);
	Gateway__SignedCommitStatusRequest *sr = gateway__signed_commit_status_request__unpack(NULL, len, req);
	Gateway__CommitStatusRequest *r = NULL;
	enum peer_msp_result mr;
	int code;
	uint64_t block;

	if (sr && sr->request.len)
		r = gateway__commit_status_request__unpack(NULL, sr->request.len, sr->request.data);
	if (!r || !r->transaction_id || !*r->transaction_id || !r->channel_id || !*r->channel_id ||
	    r->identity.len == 0) {
		peer_gw_log_reject(c, "malformed commit status request");
		peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"a signed request with transaction id, channel and identity is required", NULL, 0,
				NULL);
		goto out;
	}
	if (strcmp(r->channel_id, p->cfg.channel) != 0) {
		reject_channel(c, r->channel_id);
		goto out;
	}
	mr = peer_msp_verify(p->msp, r->identity.data, r->identity.len, sr->request.data, sr->request.len,
			     sr->signature.data, sr->signature.len, NULL);
	if (mr != PEER_MSP_OK) {
		peer_gw_log_reject(c, peer_msp_result_str(mr));
		peer_rpc_finish(c, GRPC_STATUS_PERMISSION_DENIED, peer_msp_result_str(mr), NULL, 0, NULL);
		goto out;
	}
	if (peer_ledger_wait_tx(p->ledger, r->transaction_id, COMMIT_POLL_MS, call_stop, c, &code, &block) < 0) {
		finish_interrupted(p, c);
		goto out;
	}
	Gateway__CommitStatusResponse resp = GATEWAY__COMMIT_STATUS_RESPONSE__INIT;
	unsigned char *rb;
	size_t rl;

	resp.result = (Protos__TxValidationCode)code;
	resp.block_number = block;
	rb = peer_gw_pack(&resp.base, &rl);
	peer_rpc_finish(c, GRPC_STATUS_OK, "", rb, rl, NULL);
	free(rb);
out:
	gateway__commit_status_request__free_unpacked(r, NULL);
	gateway__signed_commit_status_request__free_unpacked(sr, NULL);
}

struct stream_ctx {
	struct peer *p;
	struct peer_call *c;
	unsigned drop_gen;
};

static bool stream_stop(void *arg)
{
	struct stream_ctx *s = arg;

	return peer_rpc_cancelled(s->c) || peer_fault_drop_gen(s->p->fault) != s->drop_gen;
}

/* Send one block's matching events; updates *after (the after_transaction_id filter, NULL once passed). */
static int send_block(struct stream_ctx *s, uint64_t number, struct peer_event *ev, size_t n, char **after)
{
	Gateway__ChaincodeEventsResponse resp = GATEWAY__CHAINCODE_EVENTS_RESPONSE__INIT;
	Protos__ChaincodeEvent *evs = gx_xcalloc(n ? n : 1, sizeof(*evs));
	Protos__ChaincodeEvent **ptrs = gx_xcalloc(n ? n : 1, sizeof(*ptrs));
	unsigned char *rb;
	size_t rl, k = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (*after) {
			if (strcmp(*after, ev[i].tx_id) == 0) {
				free(*after);
				*after = NULL;
			}
			continue;
		}
		protos__chaincode_event__init(&evs[k]);
		evs[k].chaincode_id = (char *)s->p->cfg.chaincode;
		evs[k].tx_id = ev[i].tx_id;
		evs[k].event_name = ev[i].name;
		evs[k].payload.data = (unsigned char *)ev[i].payload;
		evs[k].payload.len = ev[i].len;
		ptrs[k] = &evs[k];
		k++;
	}
	if (k) {
		resp.n_events = k;
		resp.events = ptrs;
		resp.block_number = number;
		rb = peer_gw_pack(&resp.base, &rl);
		rc = peer_rpc_send(s->c, rb, rl);
		free(rb);
	}
	free(ptrs);
	free(evs);
	return rc;
}

static void handle_events(struct peer *p, struct peer_call *c)
{
	size_t len;
	const unsigned char *req = peer_rpc_request(c, &len);
	Gateway__SignedChaincodeEventsRequest *sr = gateway__signed_chaincode_events_request__unpack(NULL, len, req);
	Gateway__ChaincodeEventsRequest *r = NULL;
	struct stream_ctx s = { p, c, peer_fault_drop_gen(p->fault) };
	enum peer_msp_result mr;
	uint64_t next;
	char *after = NULL;
	bool ours;

	if (sr && sr->request.len)
		r = gateway__chaincode_events_request__unpack(NULL, sr->request.len, sr->request.data);
	if (!r || !r->channel_id || !r->chaincode_id || r->identity.len == 0) {
		peer_gw_log_reject(c, "malformed chaincode events request");
		peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "a signed chaincode events request is required", NULL,
				0, NULL);
		goto out;
	}
	if (strcmp(r->channel_id, p->cfg.channel) != 0) {
		reject_channel(c, r->channel_id);
		goto out;
	}
	mr = peer_msp_verify(p->msp, r->identity.data, r->identity.len, sr->request.data, sr->request.len,
			     sr->signature.data, sr->signature.len, NULL);
	if (mr != PEER_MSP_OK) {
		peer_gw_log_reject(c, peer_msp_result_str(mr));
		peer_rpc_finish(c, GRPC_STATUS_PERMISSION_DENIED, peer_msp_result_str(mr), NULL, 0, NULL);
		goto out;
	}
	next = peer_ledger_height(p->ledger);
	if (r->start_position) {
		switch (r->start_position->type_case) {
		case ORDERER__SEEK_POSITION__TYPE_SPECIFIED:
			next = r->start_position->specified ? r->start_position->specified->number : 0;
			break;
		case ORDERER__SEEK_POSITION__TYPE_NEXT_COMMIT:
		case ORDERER__SEEK_POSITION__TYPE__NOT_SET:
			break;
		default:
			peer_gw_log_reject(c, "unsupported start position");
			peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
					"invalid start position type: only specified and next_commit are supported",
					NULL, 0, NULL);
			goto out;
		}
	}
	if (r->after_transaction_id && *r->after_transaction_id) {
		uint64_t b;

		after = gx_xstrdup(r->after_transaction_id);
		if (peer_ledger_find_tx(p->ledger, after, &b) == 0)
			next = b;
	}
	ours = strcmp(r->chaincode_id, p->cfg.chaincode) == 0;
	for (;; next++) {
		struct peer_event *ev;
		size_t n;

		if (peer_ledger_block_events(p->ledger, next, POLL_MS, stream_stop, &s, &ev, &n) < 0)
			break;
		int rc = ours ? send_block(&s, next, ev, n, &after) : 0;

		peer_event_free_all(ev, n);
		if (rc < 0)
			break;
	}
	if (peer_fault_drop_gen(p->fault) != s.drop_gen && !peer_rpc_cancelled(c))
		peer_rpc_finish(c, GRPC_STATUS_UNAVAILABLE, "event stream dropped by the peer (fault injection)", NULL,
				0, NULL);
	else
		finish_interrupted(p, c);
out:
	free(after);
	gateway__chaincode_events_request__free_unpacked(r, NULL);
	gateway__signed_chaincode_events_request__free_unpacked(sr, NULL);
}

/* Take a slot of the Gateway concurrency limit, as the peer's gRPC interceptor does for every /gateway.Gateway
 * call (unary calls and open streams alike). Returns false when the limit is reached. */
static bool gw_acquire(struct peer *p)
{
	int n = atomic_fetch_add(&p->gw_active, 1) + 1, peak;

	if (p->cfg.gateway_concurrency > 0 && n > p->cfg.gateway_concurrency) {
		atomic_fetch_sub(&p->gw_active, 1);
		atomic_fetch_add(&p->gw_refused, 1);
		return false;
	}
	atomic_fetch_add(&p->gw_calls, 1);
	peak = atomic_load(&p->gw_peak);
	while (n > peak && !atomic_compare_exchange_weak(&p->gw_peak, &peak, n))
		;
	return true;
}

/* The peer's answer beyond the limit: a plain error, which gRPC reports as UNKNOWN, no details. */
static void refuse_too_many(struct peer *p, struct peer_call *c, bool log)
{
	char *m = gx_xasprintf("too many requests for /gateway.Gateway, exceeding concurrency limit (%d)",
			       p->cfg.gateway_concurrency > 0 ? p->cfg.gateway_concurrency : 500);

	if (log)
		gx_log_kv(GX_LOG_WARN, GX_LOG_FIELDS(GX_LOG_STR("method", peer_rpc_method(c))), "%s", m);
	peer_rpc_finish(c, GRPC_STATUS_UNKNOWN, m, NULL, 0, NULL);
	free(m);
}

static void dispatch(struct peer *p, struct peer_call *c)
{
	const char *m = peer_rpc_method(c);
	int delay;
	enum peer_fault_kind f = peer_fault_take(p->fault, m, &delay);

	if (delay > 0)
		peer_gw_delay(c, delay);
	if (f == PEER_FAULT_UNAVAILABLE) {
		peer_rpc_finish(c, GRPC_STATUS_UNAVAILABLE, "peer unavailable (fault injection)", NULL, 0,
				"peer unavailable (fault injection)");
		return;
	}
	if (f == PEER_FAULT_TOO_MANY) {
		refuse_too_many(p, c, false);
		return;
	}
	if (f == PEER_FAULT_NO_PLAN) {
		peer_rpc_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"no peers available to evaluate chaincode gxtv3 in channel gxchannel (fault injection)",
				NULL, 0, NULL);
		return;
	}
	if (strcmp(m, "Endorse") == 0)
		peer_endorse_handle(p, c, true);
	else if (strcmp(m, "Evaluate") == 0)
		peer_endorse_handle(p, c, false);
	else if (strcmp(m, "Submit") == 0)
		handle_submit(p, c);
	else if (strcmp(m, "CommitStatus") == 0)
		handle_commit_status(p, c);
	else if (strcmp(m, "ChaincodeEvents") == 0)
		handle_events(p, c);
	else
		peer_rpc_finish(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method", NULL, 0, NULL);
}

void peer_gw_handle(struct peer *p, struct peer_call *c)
{
	if (!gw_acquire(p)) {
		refuse_too_many(p, c, true);
		return;
	}
	dispatch(p, c);
	atomic_fetch_sub(&p->gw_active, 1);
}
