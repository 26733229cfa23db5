/* /gateway.Gateway methods of the Fabric peer stand-in: validation, endorsement, ordering, status and events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

#include "common/common.pb-c.h"
#include "gateway/gateway.pb-c.h"
#include "gx/log.h"
#include "gx/util.h"
#include "msp/identities.pb-c.h"
#include "peer/chaincode_event.pb-c.h"
#include "peer/proposal.pb-c.h"
#include "peer/proposal_response.pb-c.h"
#include "peer/transaction.pb-c.h"
#include "peer_fault.h"
#include "peer_gw.h"
#include "peer_ledger.h"
#include "peer_msp.h"
#include "peer_stub.h"

#define POLL_MS 100
/* CommitStatus waiters only poll to notice a cancelled call (a commit wakes them): thousands may wait at once */
#define COMMIT_POLL_MS 500
#define ENDORSE_FAILED "failed to endorse transaction, see attached details for more info"

/* A decoded and checked SignedProposal. All pointers are owned (free with proposal_release()). */
struct proposal {
	Protos__Proposal *prop;
	Common__Header *hdr;
	Common__ChannelHeader *ch;
	Common__SignatureHeader *sh;
	Protos__ChaincodeHeaderExtension *ext;
	Protos__ChaincodeProposalPayload *cpp;
	Protos__ChaincodeInvocationSpec *cis;
	struct peer_msp_ident ident;
	char err[512]; /* Fabric-like reason when the proposal is rejected */
};

static void proposal_release(struct proposal *pr)
{
	protos__chaincode_invocation_spec__free_unpacked(pr->cis, NULL);
	protos__chaincode_proposal_payload__free_unpacked(pr->cpp, NULL);
	protos__chaincode_header_extension__free_unpacked(pr->ext, NULL);
	common__signature_header__free_unpacked(pr->sh, NULL);
	common__channel_header__free_unpacked(pr->ch, NULL);
	common__header__free_unpacked(pr->hdr, NULL);
	protos__proposal__free_unpacked(pr->prop, NULL);
}

static void sha256_hex(const void *a, size_t alen, const void *b, size_t blen, char out[65])
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

/* Decode and check a signed proposal as the endorser does (msgvalidation), then the duplicate tx id rule.
 * Returns 0, or -1 with pr->err set. */
static int proposal_check(struct peer *p, const Protos__SignedProposal *sp, struct proposal *pr)
{
	char txid[65];
	enum peer_msp_result mr;

	memset(pr, 0, sizeof(*pr));
	if (!sp || sp->proposal_bytes.len == 0) {
		snprintf(pr->err, sizeof(pr->err), "proposal is empty");
		return -1;
	}
	pr->prop = protos__proposal__unpack(NULL, sp->proposal_bytes.len, sp->proposal_bytes.data);
	if (pr->prop)
		pr->hdr = common__header__unpack(NULL, pr->prop->header.len, pr->prop->header.data);
	if (pr->hdr) {
		pr->ch =
			common__channel_header__unpack(NULL, pr->hdr->channel_header.len, pr->hdr->channel_header.data);
		pr->sh = common__signature_header__unpack(NULL, pr->hdr->signature_header.len,
							  pr->hdr->signature_header.data);
	}
	if (pr->ch)
		pr->ext =
			protos__chaincode_header_extension__unpack(NULL, pr->ch->extension.len, pr->ch->extension.data);
	if (pr->prop)
		pr->cpp =
			protos__chaincode_proposal_payload__unpack(NULL, pr->prop->payload.len, pr->prop->payload.data);
	if (pr->cpp)
		pr->cis = protos__chaincode_invocation_spec__unpack(NULL, pr->cpp->input.len, pr->cpp->input.data);
	if (!pr->prop || !pr->hdr || !pr->ch || !pr->sh || !pr->ext || !pr->cpp || !pr->cis) {
		snprintf(pr->err, sizeof(pr->err), "error unmarshalling the proposal: a nested message is malformed");
		return -1;
	}
	if (pr->ch->type != COMMON__HEADER_TYPE__ENDORSER_TRANSACTION) {
		snprintf(pr->err, sizeof(pr->err), "invalid header type %d", pr->ch->type);
		return -1;
	}
	if (pr->ch->epoch != 0) {
		snprintf(pr->err, sizeof(pr->err), "invalid epoch in ChannelHeader. Expected 0, got [%llu]",
			 (unsigned long long)pr->ch->epoch);
		return -1;
	}
	if (!pr->ch->channel_id || strcmp(pr->ch->channel_id, p->cfg.channel) != 0) {
		snprintf(pr->err, sizeof(pr->err), "channel '%s' not found",
			 pr->ch->channel_id ? pr->ch->channel_id : "");
		return -1;
	}
	if (!pr->ext->chaincode_id || !pr->ext->chaincode_id->name || !*pr->ext->chaincode_id->name) {
		snprintf(pr->err, sizeof(pr->err), "ChaincodeHeaderExtension.ChaincodeId.Name is empty");
		return -1;
	}
	if (strcmp(pr->ext->chaincode_id->name, p->cfg.chaincode) != 0) {
		snprintf(pr->err, sizeof(pr->err),
			 "make sure the chaincode %s has been successfully defined on channel %s and try again: "
			 "chaincode %s not found",
			 pr->ext->chaincode_id->name, p->cfg.channel, pr->ext->chaincode_id->name);
		return -1;
	}
	if (!pr->cis->chaincode_spec || !pr->cis->chaincode_spec->input ||
	    pr->cis->chaincode_spec->input->n_args == 0) {
		snprintf(pr->err, sizeof(pr->err), "chaincode invocation spec has no input arguments");
		return -1;
	}
	if (pr->sh->nonce.len == 0 || pr->sh->creator.len == 0) {
		snprintf(pr->err, sizeof(pr->err), "%s is empty", pr->sh->nonce.len == 0 ? "nonce" : "creator");
		return -1;
	}
	sha256_hex(pr->sh->nonce.data, pr->sh->nonce.len, pr->sh->creator.data, pr->sh->creator.len, txid);
	if (!pr->ch->tx_id || strcmp(txid, pr->ch->tx_id) != 0) {
		snprintf(pr->err, sizeof(pr->err), "incorrectly computed txid: got [%s], expected [%s]",
			 pr->ch->tx_id ? pr->ch->tx_id : "", txid);
		return -1;
	}
	mr = peer_msp_verify(p->msp, pr->sh->creator.data, pr->sh->creator.len, sp->proposal_bytes.data,
			     sp->proposal_bytes.len, sp->signature.data, sp->signature.len, &pr->ident);
	if (mr != PEER_MSP_OK) {
		snprintf(pr->err, sizeof(pr->err), "%s", peer_msp_result_str(mr));
		return -1;
	}
	if (peer_ledger_has_tx(p->ledger, pr->ch->tx_id)) {
		snprintf(pr->err, sizeof(pr->err), "duplicate transaction found [%s]. Creator [%s]", pr->ch->tx_id,
			 pr->ident.subject);
		return -1;
	}
	return 0;
}

/* Run the chaincode model. Returns its status; fills the stub, *payload or *message (caller frees). */
static int simulate(struct peer *p, struct proposal *pr, struct cc_stub *stub, char **payload, char **message)
{
	Protos__ChaincodeInput *in = pr->cis->chaincode_spec->input;
	char **argv = gx_xcalloc(in->n_args + 1, sizeof(*argv));
	long long ts = 0;
	int st;

	for (size_t i = 0; i < in->n_args; i++) {
		argv[i] = gx_xmalloc(in->args[i].len + 1);
		if (in->args[i].len)
			memcpy(argv[i], in->args[i].data, in->args[i].len);
		argv[i][in->args[i].len] = '\0';
	}
	if (pr->ch->timestamp)
		ts = (long long)pr->ch->timestamp->seconds * 1000 + pr->ch->timestamp->nanos / 1000000;
	*payload = *message = NULL;
	peer_ledger_lock(p->ledger);
	peer_stub_init(stub, p->ledger, pr->ch->tx_id, ts, pr->ident.msp_id, pr->ident.role);
	st = cc_invoke(stub, (int)in->n_args, (const char *const *)argv, payload, message);
	peer_ledger_unlock(p->ledger);
	for (size_t i = 0; i < in->n_args; i++)
		free(argv[i]);
	free(argv);
	return st;
}

static void endorsement_mac(const struct peer *p, const void *prp, size_t prp_len, const void *endorser,
			    size_t endorser_len, unsigned char out[32])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_md_context_t ctx;

	mbedtls_md_init(&ctx);
	mbedtls_md_setup(&ctx, md, 1);
	mbedtls_md_hmac_starts(&ctx, p->endorse_key, sizeof(p->endorse_key));
	mbedtls_md_hmac_update(&ctx, prp, prp_len);
	mbedtls_md_hmac_update(&ctx, endorser, endorser_len);
	mbedtls_md_hmac_finish(&ctx, out);
	mbedtls_md_free(&ctx);
}

/* Pack any protobuf-c message into a new heap buffer (caller frees). */
static unsigned char *pack(const ProtobufCMessage *m, size_t *len)
{
	unsigned char *b = gx_xmalloc(protobuf_c_message_get_packed_size(m) + 1);

	*len = protobuf_c_message_pack(m, b);
	return b;
}

/* Build the prepared transaction Envelope (unsigned) as the gateway assembles it. Caller frees the result. */
static unsigned char *prepare_envelope(struct peer *p, struct proposal *pr, struct cc_stub *stub, const char *payload,
				       size_t *env_len)
{
	Protos__ChaincodeEvent ev = PROTOS__CHAINCODE_EVENT__INIT;
	Protos__ChaincodeID ccid = PROTOS__CHAINCODE_ID__INIT;
	Protos__Response resp = PROTOS__RESPONSE__INIT;
	Protos__ChaincodeAction act = PROTOS__CHAINCODE_ACTION__INIT;
	Protos__ProposalResponsePayload prp = PROTOS__PROPOSAL_RESPONSE_PAYLOAD__INIT;
	Protos__ChaincodeProposalPayload cpp = PROTOS__CHAINCODE_PROPOSAL_PAYLOAD__INIT;
	Msp__SerializedIdentity endorser = MSP__SERIALIZED_IDENTITY__INIT;
	Protos__Endorsement en = PROTOS__ENDORSEMENT__INIT, *ens[1] = { &en };
	Protos__ChaincodeEndorsedAction ea = PROTOS__CHAINCODE_ENDORSED_ACTION__INIT;
	Protos__ChaincodeActionPayload cap = PROTOS__CHAINCODE_ACTION_PAYLOAD__INIT;
	Protos__TransactionAction ta = PROTOS__TRANSACTION_ACTION__INIT, *tas[1] = { &ta };
	Protos__Transaction tx = PROTOS__TRANSACTION__INIT;
	Common__Payload pl = COMMON__PAYLOAD__INIT;
	Common__Envelope env = COMMON__ENVELOPE__INIT;
	struct peer_buf results = { 0 };
	unsigned char *evb = NULL, *actb, *cppb, *prpb, *endb, *capb, *txb, *plb, *envb;
	size_t evl = 0, actl, cppl, prpl, endl, capl, txl, pll;
	unsigned char mac[32], hash[32];
	mbedtls_sha256_context sh;

	peer_stub_encode_results(stub, &results);
	ccid.name = (char *)p->cfg.chaincode;
	if (stub->event_name) {
		ev.chaincode_id = (char *)p->cfg.chaincode;
		ev.tx_id = pr->ch->tx_id;
		ev.event_name = stub->event_name;
		ev.payload.data = (unsigned char *)stub->event_payload;
		ev.payload.len = strlen(stub->event_payload);
		evb = pack(&ev.base, &evl);
	}
	resp.status = 200;
	resp.message = (char *)"";
	resp.payload.data = (unsigned char *)payload;
	resp.payload.len = payload ? strlen(payload) : 0;
	act.results.data = results.data;
	act.results.len = results.len;
	act.events.data = evb;
	act.events.len = evl;
	act.response = &resp;
	act.chaincode_id = &ccid;
	actb = pack(&act.base, &actl);

	/* the proposal payload without its transient map, as endorsers hash it and the gateway embeds it */
	cpp.input = pr->cpp->input;
	cppb = pack(&cpp.base, &cppl);
	mbedtls_sha256_init(&sh);
	mbedtls_sha256_starts_ret(&sh, 0);
	mbedtls_sha256_update_ret(&sh, pr->hdr->channel_header.data, pr->hdr->channel_header.len);
	mbedtls_sha256_update_ret(&sh, pr->hdr->signature_header.data, pr->hdr->signature_header.len);
	mbedtls_sha256_update_ret(&sh, cppb, cppl);
	mbedtls_sha256_finish_ret(&sh, hash);
	mbedtls_sha256_free(&sh);
	prp.proposal_hash.data = hash;
	prp.proposal_hash.len = 32;
	prp.extension.data = actb;
	prp.extension.len = actl;
	prpb = pack(&prp.base, &prpl);

	endorser.mspid = (char *)p->cfg.msp_id;
	endorser.id_bytes.data = (unsigned char *)p->address;
	endorser.id_bytes.len = strlen(p->address);
	endb = pack(&endorser.base, &endl);
	endorsement_mac(p, prpb, prpl, endb, endl, mac);
	en.endorser.data = endb;
	en.endorser.len = endl;
	en.signature.data = mac;
	en.signature.len = sizeof(mac);
	ea.proposal_response_payload.data = prpb;
	ea.proposal_response_payload.len = prpl;
	ea.n_endorsements = 1;
	ea.endorsements = ens;
	cap.chaincode_proposal_payload.data = cppb;
	cap.chaincode_proposal_payload.len = cppl;
	cap.action = &ea;
	capb = pack(&cap.base, &capl);
	ta.header = pr->hdr->signature_header;
	ta.payload.data = capb;
	ta.payload.len = capl;
	tx.n_actions = 1;
	tx.actions = tas;
	txb = pack(&tx.base, &txl);
	pl.header = pr->hdr;
	pl.data.data = txb;
	pl.data.len = txl;
	plb = pack(&pl.base, &pll);
	env.payload.data = plb;
	env.payload.len = pll;
	envb = pack(&env.base, env_len);

	free(plb);
	free(txb);
	free(capb);
	free(endb);
	free(prpb);
	free(cppb);
	free(actb);
	free(evb);
	peer_buf_release(&results);
	return envb;
}

static void log_reject(struct peer_call *c, const char *why)
{
	gx_log_kv(GX_LOG_INFO, GX_LOG_FIELDS(GX_LOG_STR("method", peer_rpc_method(c)), GX_LOG_STR("reason", why)),
		  "request rejected");
}

/* Endorse and Evaluate share everything up to the answer. */
static void handle_proposal(struct peer *p, struct peer_call *c, bool endorse)
{
	size_t len;
	const unsigned char *req = peer_rpc_request(c, &len);
	Gateway__EndorseRequest *er = NULL;
	Gateway__EvaluateRequest *vr = NULL;
	const Protos__SignedProposal *sp;
	struct proposal pr;
	struct cc_stub stub;
	char *payload = NULL, *message = NULL, *detail = NULL;
	int st;

	memset(&stub, 0, sizeof(stub));
	if (endorse) {
		er = gateway__endorse_request__unpack(NULL, len, req);
		sp = er ? er->proposed_transaction : NULL;
	} else {
		vr = gateway__evaluate_request__unpack(NULL, len, req);
		sp = vr ? vr->proposed_transaction : NULL;
	}
	if (!sp) {
		log_reject(c, "no signed proposal");
		peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "a signed proposal is required", NULL, 0, NULL);
		goto out_req;
	}
	if (proposal_check(p, sp, &pr) < 0) {
		log_reject(c, pr.err);
		if (endorse)
			peer_rpc_finish(c, GRPC_STATUS_ABORTED, ENDORSE_FAILED, NULL, 0, pr.err);
		else {
			detail = gx_xasprintf("evaluate call to endorser returned error: %s", pr.err);
			peer_rpc_finish(c, GRPC_STATUS_UNKNOWN, detail, NULL, 0, pr.err);
		}
		goto out;
	}
	st = simulate(p, &pr, &stub, &payload, &message);
	if (endorse && stub.paged && st >= 200 && st < 400) {
		/* Fabric serves paginated range queries only to read-only (evaluated) transactions */
		st = 500;
		free(message);
		message = gx_xstrdup("paginated queries are supported only in read-only transactions (evaluate)");
	}
	if (st < 200 || st >= 400) {
		detail = gx_xasprintf("chaincode response %d, %s", st, message ? message : "");
		log_reject(c, detail);
		if (endorse) {
			peer_rpc_finish(c, GRPC_STATUS_ABORTED, ENDORSE_FAILED, NULL, 0, detail);
		} else {
			char *m = gx_xasprintf("evaluate call to endorser returned error: %s", detail);

			peer_rpc_finish(c, GRPC_STATUS_UNKNOWN, m, NULL, 0, detail);
			free(m);
		}
		goto out;
	}
	if (endorse) {
		Gateway__EndorseResponse resp = GATEWAY__ENDORSE_RESPONSE__INIT;
		size_t envl, rl;
		unsigned char *envb = prepare_envelope(p, &pr, &stub, payload, &envl);
		Common__Envelope *env = common__envelope__unpack(NULL, envl, envb);
		unsigned char *rb;

		resp.prepared_transaction = env;
		rb = pack(&resp.base, &rl);
		peer_rpc_finish(c, GRPC_STATUS_OK, "", rb, rl, NULL);
		free(rb);
		common__envelope__free_unpacked(env, NULL);
		free(envb);
	} else {
		Gateway__EvaluateResponse resp = GATEWAY__EVALUATE_RESPONSE__INIT;
		Protos__Response r = PROTOS__RESPONSE__INIT;
		size_t rl;
		unsigned char *rb;

		r.status = st;
		r.message = (char *)"";
		r.payload.data = (unsigned char *)payload;
		r.payload.len = payload ? strlen(payload) : 0;
		resp.result = &r;
		rb = pack(&resp.base, &rl);
		peer_rpc_finish(c, GRPC_STATUS_OK, "", rb, rl, NULL);
		free(rb);
	}
out:
	proposal_release(&pr);
out_req:
	peer_stub_release(&stub);
	free(payload);
	free(message);
	free(detail);
	gateway__endorse_request__free_unpacked(er, NULL);
	gateway__evaluate_request__free_unpacked(vr, NULL);
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
	unsigned char mac[32];
	int code = 0;

	(void)env;
	sha256_hex(sh->nonce.data, sh->nonce.len, sh->creator.data, sh->creator.len, txid);
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
	code = 10; /* ENDORSEMENT_POLICY_FAILURE unless our endorsement verifies */
	if (cap->action->n_endorsements == 1) {
		const Protos__Endorsement *e = cap->action->endorsements[0];

		endorsement_mac(p, cap->action->proposal_response_payload.data,
				cap->action->proposal_response_payload.len, e->endorser.data, e->endorser.len, mac);
		if (e->signature.len == 32 && gx_ct_equal(mac, e->signature.data, 32))
			code = 0;
	}
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
		log_reject(c, "no signed envelope");
		peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "a signed prepared transaction is required", NULL, 0,
				NULL);
		goto out;
	}
	if (!sr->channel_id || strcmp(sr->channel_id, p->cfg.channel) != 0) {
		log_reject(c, "unknown channel");
		info = gx_xasprintf("channel '%s' is not known to the gateway", sr->channel_id ? sr->channel_id : "");
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
		log_reject(c, info);
		peer_rpc_finish(c, GRPC_STATUS_ABORTED, info, NULL, 0, info);
		goto out;
	}
	mr = peer_msp_verify(p->msp, sh->creator.data, sh->creator.len, sr->prepared_transaction->payload.data,
			     sr->prepared_transaction->payload.len, sr->prepared_transaction->signature.data,
			     sr->prepared_transaction->signature.len, NULL);
	if (mr != PEER_MSP_OK) {
		info = gx_xasprintf("received unsuccessful response from orderer: status=FORBIDDEN, info=%s",
				    peer_msp_result_str(mr));
		log_reject(c, info);
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
		log_reject(c, "malformed commit status request");
		peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"a signed request with transaction id, channel and identity is required", NULL, 0,
				NULL);
		goto out;
	}
	mr = peer_msp_verify(p->msp, r->identity.data, r->identity.len, sr->request.data, sr->request.len,
			     sr->signature.data, sr->signature.len, NULL);
	if (mr != PEER_MSP_OK) {
		log_reject(c, peer_msp_result_str(mr));
		peer_rpc_finish(c, GRPC_STATUS_PERMISSION_DENIED, peer_msp_result_str(mr), NULL, 0, NULL);
		goto out;
	}
	if (strcmp(r->channel_id, p->cfg.channel) != 0) {
		peer_rpc_finish(c, GRPC_STATUS_NOT_FOUND, "channel not found", NULL, 0, NULL);
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
	rb = pack(&resp.base, &rl);
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
		rb = pack(&resp.base, &rl);
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
		log_reject(c, "malformed chaincode events request");
		peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "a signed chaincode events request is required", NULL,
				0, NULL);
		goto out;
	}
	mr = peer_msp_verify(p->msp, r->identity.data, r->identity.len, sr->request.data, sr->request.len,
			     sr->signature.data, sr->signature.len, NULL);
	if (mr != PEER_MSP_OK) {
		log_reject(c, peer_msp_result_str(mr));
		peer_rpc_finish(c, GRPC_STATUS_PERMISSION_DENIED, peer_msp_result_str(mr), NULL, 0, NULL);
		goto out;
	}
	if (strcmp(r->channel_id, p->cfg.channel) != 0) {
		peer_rpc_finish(c, GRPC_STATUS_NOT_FOUND, "channel not found", NULL, 0, NULL);
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
			log_reject(c, "unsupported start position");
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

/* Sleep up to ms in small steps, returning early when the call is cancelled. */
static void fault_delay(struct peer_call *c, int ms)
{
	for (int waited = 0; waited < ms && !peer_rpc_cancelled(c); waited += 20) {
		struct timespec ts = { 0, 20 * 1000000L };

		nanosleep(&ts, NULL);
	}
}

void peer_gw_handle(struct peer *p, struct peer_call *c)
{
	const char *m = peer_rpc_method(c);
	int delay;
	enum peer_fault_kind f = peer_fault_take(p->fault, m, &delay);

	if (delay > 0)
		fault_delay(c, delay);
	if (f == PEER_FAULT_UNAVAILABLE) {
		peer_rpc_finish(c, GRPC_STATUS_UNAVAILABLE, "peer unavailable (fault injection)", NULL, 0,
				"peer unavailable (fault injection)");
		return;
	}
	if (f == PEER_FAULT_TOO_MANY) {
		peer_rpc_finish(c, GRPC_STATUS_UNKNOWN,
				"too many requests for /gateway.Gateway, exceeding concurrency limit (500)", NULL, 0,
				NULL);
		return;
	}
	if (f == PEER_FAULT_NO_PLAN) {
		peer_rpc_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"no peers available to evaluate chaincode gxtv3 in channel gxchannel (fault injection)",
				NULL, 0, NULL);
		return;
	}
	if (strcmp(m, "Endorse") == 0)
		handle_proposal(p, c, true);
	else if (strcmp(m, "Evaluate") == 0)
		handle_proposal(p, c, false);
	else if (strcmp(m, "Submit") == 0)
		handle_submit(p, c);
	else if (strcmp(m, "CommitStatus") == 0)
		handle_commit_status(p, c);
	else if (strcmp(m, "ChaincodeEvents") == 0)
		handle_events(p, c);
	else
		peer_rpc_finish(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method", NULL, 0, NULL);
}
