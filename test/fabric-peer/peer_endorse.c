/* Evaluate and Endorse of the Fabric peer stand-in: proposal checks in the gateway's and endorser's order, the
 * configured simulation latency, simulation with the chaincode model and the endorsed, signed prepared transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "common/common.pb-c.h"
#include "gateway/gateway.pb-c.h"
#include "gx/log.h"
#include "gx/rand.h"
#include "gx/util.h"
#include "peer/chaincode_event.pb-c.h"
#include "peer/proposal.pb-c.h"
#include "peer/proposal_response.pb-c.h"
#include "peer/transaction.pb-c.h"
#include "peer_buf.h"
#include "peer_gw.h"
#include "peer_ledger.h"
#include "peer_msp.h"
#include "peer_sign.h"
#include "peer_stub.h"

#define ENDORSE_FAILED "failed to endorse transaction, see attached details for more info"
#define EVALUATE_ERROR "evaluate call to endorser returned error: "

/* How a proposal fails: before endorsement (the gateway cannot plan it), or at the endorser. */
enum proposal_fail {
	PF_NONE,
	PF_MALFORMED,    /* cannot be unpacked: INVALID_ARGUMENT */
	PF_NO_CHANNEL,   /* unknown channel: the gateway has no configuration for it */
	PF_NO_CHAINCODE, /* chaincode not defined on the channel: no endorsement plan */
	PF_ENDORSER,     /* refused by the endorser's checks (signature, creator, tx id, duplicate) */
};

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
	enum proposal_fail fail;
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

/* Decode a signed proposal, plan it as the gateway does (channel and chaincode known: Endorse asks for an
 * endorsement plan, Evaluate for the channel's configuration and an evaluator), then check it as the endorser does
 * (msgvalidation) and apply the duplicate tx id rule. Returns 0, or -1 with pr->fail and pr->err (the real peer's
 * message) set. */
static int proposal_check(struct peer *p, const Protos__SignedProposal *sp, struct proposal *pr, bool endorse)
{
	char txid[65];
	enum peer_msp_result mr;
	const char *cc;

	memset(pr, 0, sizeof(*pr));
	pr->fail = PF_MALFORMED;
	if (!sp || sp->proposal_bytes.len == 0) {
		snprintf(pr->err, sizeof(pr->err), "the proposed transaction must contain a signed proposal");
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
	cc = pr->cis->chaincode_spec && pr->cis->chaincode_spec->chaincode_id
		     ? pr->cis->chaincode_spec->chaincode_id->name
		     : NULL;
	if (!pr->ch->channel_id || !*pr->ch->channel_id || !cc || !*cc) {
		snprintf(pr->err, sizeof(pr->err), "%s",
			 !pr->ch->channel_id || !*pr->ch->channel_id ? "no channel id provided"
								     : "no chaincode name is provided");
		return -1;
	}
	/* the gateway's endorsement plan (Endorse) or evaluator (Evaluate) */
	if (strcmp(pr->ch->channel_id, p->cfg.channel) != 0 && !endorse) {
		pr->fail = PF_NO_CHANNEL;
		snprintf(pr->err, sizeof(pr->err),
			 "failed to get config for channel [%s]: could not get last config for channel %s",
			 pr->ch->channel_id, pr->ch->channel_id);
		return -1;
	}
	if (strcmp(pr->ch->channel_id, p->cfg.channel) != 0 || strcmp(cc, p->cfg.chaincode) != 0) {
		pr->fail = PF_NO_CHAINCODE;
		if (endorse)
			snprintf(pr->err, sizeof(pr->err),
				 "no combination of peers can be derived which satisfy the endorsement policy: "
				 "No metadata was found for chaincode %s in channel %s",
				 cc, pr->ch->channel_id);
		else
			snprintf(pr->err, sizeof(pr->err), "no peers available to evaluate chaincode %s in channel %s",
				 cc, pr->ch->channel_id);
		return -1;
	}
	pr->fail = PF_ENDORSER;
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
	peer_gw_txid(pr->sh->nonce.data, pr->sh->nonce.len, pr->sh->creator.data, pr->sh->creator.len, txid);
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

/* Build the prepared transaction Envelope (unsigned) as the gateway assembles it, endorsed and signed by this
 * peer's identity. Caller frees the result; NULL (logged) when signing fails. */
static unsigned char *prepare_envelope(struct peer *p, struct proposal *pr, struct cc_stub *stub, const char *payload,
				       size_t *env_len)
{
	Protos__ChaincodeEvent ev = PROTOS__CHAINCODE_EVENT__INIT;
	Protos__ChaincodeID ccid = PROTOS__CHAINCODE_ID__INIT;
	Protos__Response resp = PROTOS__RESPONSE__INIT;
	Protos__ChaincodeAction act = PROTOS__CHAINCODE_ACTION__INIT;
	Protos__ProposalResponsePayload prp = PROTOS__PROPOSAL_RESPONSE_PAYLOAD__INIT;
	Protos__ChaincodeProposalPayload cpp = PROTOS__CHAINCODE_PROPOSAL_PAYLOAD__INIT;
	Protos__Endorsement en = PROTOS__ENDORSEMENT__INIT, *ens[1] = { &en };
	Protos__ChaincodeEndorsedAction ea = PROTOS__CHAINCODE_ENDORSED_ACTION__INIT;
	Protos__ChaincodeActionPayload cap = PROTOS__CHAINCODE_ACTION_PAYLOAD__INIT;
	Protos__TransactionAction ta = PROTOS__TRANSACTION_ACTION__INIT, *tas[1] = { &ta };
	Protos__Transaction tx = PROTOS__TRANSACTION__INIT;
	Common__Payload pl = COMMON__PAYLOAD__INIT;
	Common__Envelope env = COMMON__ENVELOPE__INIT;
	struct peer_buf results = { 0 };
	unsigned char *evb = NULL, *actb, *cppb, *prpb, *endb, *capb = NULL, *txb = NULL, *plb = NULL, *envb;
	size_t evl = 0, actl, cppl, prpl, endl, capl, txl, pll;
	unsigned char sig[PEER_SIGN_MAX], hash[32];
	size_t sigl;
	const unsigned char *idb;
	size_t idl;
	mbedtls_sha256_context sh;

	peer_stub_encode_results(stub, &results);
	ccid.name = (char *)p->cfg.chaincode;
	if (stub->event_name) {
		ev.chaincode_id = (char *)p->cfg.chaincode;
		ev.tx_id = pr->ch->tx_id;
		ev.event_name = stub->event_name;
		ev.payload.data = (unsigned char *)stub->event_payload;
		ev.payload.len = strlen(stub->event_payload);
		evb = peer_gw_pack(&ev.base, &evl);
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
	actb = peer_gw_pack(&act.base, &actl);

	/* the proposal payload without its transient map, as endorsers hash it and the gateway embeds it */
	cpp.input = pr->cpp->input;
	cppb = peer_gw_pack(&cpp.base, &cppl);
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
	prpb = peer_gw_pack(&prp.base, &prpl);

	/* the endorser is the peer's serialized identity; it signs proposal response payload || endorser */
	idb = peer_sign_identity(p->signer, &idl);
	endb = gx_xmalloc(idl + 1);
	memcpy(endb, idb, idl);
	endl = idl;
	if (peer_sign_sign(p->signer, prpb, prpl, endb, endl, sig, &sigl) < 0) {
		envb = NULL;
		goto out;
	}
	en.endorser.data = endb;
	en.endorser.len = endl;
	en.signature.data = sig;
	en.signature.len = sigl;
	ea.proposal_response_payload.data = prpb;
	ea.proposal_response_payload.len = prpl;
	ea.n_endorsements = 1;
	ea.endorsements = ens;
	cap.chaincode_proposal_payload.data = cppb;
	cap.chaincode_proposal_payload.len = cppl;
	cap.action = &ea;
	capb = peer_gw_pack(&cap.base, &capl);
	ta.header = pr->hdr->signature_header;
	ta.payload.data = capb;
	ta.payload.len = capl;
	tx.n_actions = 1;
	tx.actions = tas;
	txb = peer_gw_pack(&tx.base, &txl);
	pl.header = pr->hdr;
	pl.data.data = txb;
	pl.data.len = txl;
	plb = peer_gw_pack(&pl.base, &pll);
	env.payload.data = plb;
	env.payload.len = pll;
	envb = peer_gw_pack(&env.base, env_len);
	free(plb);
	free(txb);
	free(capb);
out:
	free(endb);
	free(prpb);
	free(cppb);
	free(actb);
	free(evb);
	peer_buf_release(&results);
	return envb;
}

/* Answer a proposal that failed proposal_check() as the gateway does for each stage. */
static void reject_proposal(struct peer_call *c, struct proposal *pr, bool endorse)
{
	char *m;

	peer_gw_log_reject(c, pr->err);
	switch (pr->fail) {
	case PF_MALFORMED:
		m = gx_xasprintf("%s%s", endorse ? "" : "failed to unpack transaction proposal: ", pr->err);
		peer_rpc_finish(c, GRPC_STATUS_INVALID_ARGUMENT, m, NULL, 0, NULL);
		free(m);
		break;
	case PF_NO_CHANNEL: /* Evaluate only: the channel's configuration is not available */
		peer_rpc_finish(c, GRPC_STATUS_UNAVAILABLE, pr->err, NULL, 0, NULL);
		break;
	case PF_NO_CHAINCODE:
		peer_rpc_finish(c, GRPC_STATUS_FAILED_PRECONDITION, pr->err, NULL, 0, NULL);
		break;
	case PF_NONE:
	case PF_ENDORSER:
		/* the local endorser returns its error with the response: the gateway does not retry elsewhere */
		if (endorse) {
			peer_rpc_finish(c, GRPC_STATUS_ABORTED, ENDORSE_FAILED, NULL, 0, pr->err);
		} else {
			m = gx_xasprintf("%s%s", EVALUATE_ERROR, pr->err);
			peer_rpc_finish(c, GRPC_STATUS_FAILED_PRECONDITION, m, NULL, 0, pr->err);
			free(m);
		}
		break;
	}
}

/* The configured simulation time (latency plus random jitter), cut short when the call is cancelled. */
static void endorse_delay(struct peer *p, struct peer_call *c)
{
	int ms = p->cfg.endorse_latency_ms;
	uint32_t r = 0;

	if (p->cfg.endorse_jitter_ms > 0 && gx_rand_bytes(&r, sizeof(r)) == 0)
		ms += (int)(r % (uint32_t)(p->cfg.endorse_jitter_ms + 1));
	peer_gw_delay(c, ms);
}

/* Endorse and Evaluate share everything up to the answer. */
void peer_endorse_handle(struct peer *p, struct peer_call *c, bool endorse)
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
	if (proposal_check(p, sp, &pr, endorse) < 0) {
		reject_proposal(c, &pr, endorse);
		goto out;
	}
	endorse_delay(p, c);
	st = simulate(p, &pr, &stub, &payload, &message);
	if (endorse && stub.paged && st >= 200 && st < 400) {
		/* Fabric serves paginated range queries only to read-only (evaluated) transactions */
		st = 500;
		free(message);
		message = gx_xstrdup("paginated queries are supported only in read-only transactions (evaluate)");
	}
	if (st < 200 || st >= 400) {
		/* a Go contractapi chaincode answers every error with shim.Error: status 500, the message as is */
		detail = gx_xasprintf("chaincode response %d, %s", p->cfg.error_status_http ? st : 500,
				      message ? message : "");
		peer_gw_log_reject(c, detail);
		if (endorse) {
			peer_rpc_finish(c, GRPC_STATUS_ABORTED, ENDORSE_FAILED, NULL, 0, detail);
		} else {
			char *m = gx_xasprintf("%s%s", EVALUATE_ERROR, detail);

			peer_rpc_finish(c, GRPC_STATUS_UNKNOWN, m, NULL, 0, detail);
			free(m);
		}
		goto out;
	}
	if (endorse) {
		Gateway__EndorseResponse resp = GATEWAY__ENDORSE_RESPONSE__INIT;
		size_t envl, rl;
		unsigned char *envb = prepare_envelope(p, &pr, &stub, payload, &envl);
		Common__Envelope *env;
		unsigned char *rb;

		if (!envb) {
			peer_rpc_finish(c, GRPC_STATUS_INTERNAL, "failed to sign the endorsement", NULL, 0, NULL);
			goto out;
		}
		env = common__envelope__unpack(NULL, envl, envb);
		resp.prepared_transaction = env;
		rb = peer_gw_pack(&resp.base, &rl);
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
		rb = peer_gw_pack(&resp.base, &rl);
		peer_rpc_finish(c, GRPC_STATUS_OK, "", rb, rl, NULL);
		free(rb);
	}
out:
	proposal_release(&pr);
	peer_stub_release(&stub);
	free(payload);
	free(message);
	free(detail);
	gateway__endorse_request__free_unpacked(er, NULL);
	gateway__evaluate_request__free_unpacked(vr, NULL);
}
