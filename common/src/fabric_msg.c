/* Fabric Gateway messages: signed proposals, Gateway request packing and response decoding (protobuf-c). */
#include "gx/fabric_msg.h"
#include "gx/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.pb-c.h"
#include "gateway/gateway.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "orderer/ab.pb-c.h"
#include "peer/chaincode.pb-c.h"
#include "peer/proposal.pb-c.h"
#include "peer/proposal_response.pb-c.h"
#include "peer/transaction.pb-c.h"

void gx_fabric_msg_buf_release(struct gx_fabric_msg_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static void pack(const ProtobufCMessage *m, struct gx_fabric_msg_buf *out)
{
	out->len = protobuf_c_message_get_packed_size(m);
	out->data = gx_xmalloc(out->len);
	protobuf_c_message_pack(m, out->data);
}

static void buf_copy(struct gx_fabric_msg_buf *dst, const void *data, size_t len)
{
	dst->data = gx_xmalloc(len);
	if (len)
		memcpy(dst->data, data, len);
	dst->len = len;
}

/* Serialized common.Header of a proposal: channel header + signature header {creator, nonce}. */
static void proposal_header(struct gx_fabric_id *id, const char *channel_id, const char *chaincode_id,
			    const unsigned char *nonce, const char *tx_id, struct gx_fabric_msg_buf *out)
{
	Protos__ChaincodeID ccid = PROTOS__CHAINCODE_ID__INIT;
	Protos__ChaincodeHeaderExtension ext = PROTOS__CHAINCODE_HEADER_EXTENSION__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Common__ChannelHeader ch = COMMON__CHANNEL_HEADER__INIT;
	Common__SignatureHeader sh = COMMON__SIGNATURE_HEADER__INIT;
	Common__Header hdr = COMMON__HEADER__INIT;
	struct gx_fabric_msg_buf ext_b = { 0 }, ch_b = { 0 }, sh_b = { 0 };
	struct timespec now;
	size_t creator_len;

	ccid.name = (char *)chaincode_id;
	ext.chaincode_id = &ccid;
	pack(&ext.base, &ext_b);

	clock_gettime(CLOCK_REALTIME, &now);
	ts.seconds = now.tv_sec;
	ts.nanos = (int32_t)now.tv_nsec;
	ch.type = GX_FABRIC_HEADER_ENDORSER_TRANSACTION;
	ch.version = 0;
	ch.timestamp = &ts;
	ch.channel_id = (char *)channel_id;
	ch.tx_id = (char *)tx_id;
	ch.epoch = 0;
	ch.extension.data = ext_b.data;
	ch.extension.len = ext_b.len;
	pack(&ch.base, &ch_b);

	sh.creator.data = (uint8_t *)gx_fabric_id_creator(id, &creator_len);
	sh.creator.len = creator_len;
	sh.nonce.data = (uint8_t *)nonce;
	sh.nonce.len = GX_FABRIC_NONCE_LEN;
	pack(&sh.base, &sh_b);

	hdr.channel_header.data = ch_b.data;
	hdr.channel_header.len = ch_b.len;
	hdr.signature_header.data = sh_b.data;
	hdr.signature_header.len = sh_b.len;
	pack(&hdr.base, out);

	gx_fabric_msg_buf_release(&ext_b);
	gx_fabric_msg_buf_release(&ch_b);
	gx_fabric_msg_buf_release(&sh_b);
}

/* Serialized ChaincodeProposalPayload{input = ChaincodeInvocationSpec{spec}} (no transient data). */
static void proposal_payload(const char *chaincode_id, const char *function, const char *const *args, size_t nargs,
			     struct gx_fabric_msg_buf *out)
{
	Protos__ChaincodeID ccid = PROTOS__CHAINCODE_ID__INIT;
	Protos__ChaincodeInput input = PROTOS__CHAINCODE_INPUT__INIT;
	Protos__ChaincodeSpec spec = PROTOS__CHAINCODE_SPEC__INIT;
	Protos__ChaincodeInvocationSpec cis = PROTOS__CHAINCODE_INVOCATION_SPEC__INIT;
	Protos__ChaincodeProposalPayload cpp = PROTOS__CHAINCODE_PROPOSAL_PAYLOAD__INIT;
	struct gx_fabric_msg_buf cis_b = { 0 };
	ProtobufCBinaryData *argv;
	size_t i;

	argv = gx_xcalloc(nargs + 1, sizeof(*argv));
	argv[0].data = (uint8_t *)function;
	argv[0].len = strlen(function);
	for (i = 0; i < nargs; i++) {
		argv[i + 1].data = (uint8_t *)args[i];
		argv[i + 1].len = strlen(args[i]);
	}
	input.args = argv;
	input.n_args = nargs + 1;
	ccid.name = (char *)chaincode_id;
	spec.type = PROTOS__CHAINCODE_SPEC__TYPE__NODE;
	spec.chaincode_id = &ccid;
	spec.input = &input;
	cis.chaincode_spec = &spec;
	pack(&cis.base, &cis_b);

	cpp.input.data = cis_b.data;
	cpp.input.len = cis_b.len;
	pack(&cpp.base, out);

	gx_fabric_msg_buf_release(&cis_b);
	free(argv);
}

struct gx_fabric_proposal *gx_fabric_msg_proposal_new(struct gx_fabric_id *id, const char *channel_id,
						      const char *chaincode_id, const char *function,
						      const char *const *args, size_t nargs)
{
	Protos__Proposal prop = PROTOS__PROPOSAL__INIT;
	struct gx_fabric_msg_buf hdr_b = { 0 }, pl_b = { 0 };
	struct gx_fabric_proposal *p;
	unsigned char nonce[GX_FABRIC_NONCE_LEN], sig[GX_FABRIC_SIG_MAX];
	const unsigned char *creator;
	size_t creator_len, sig_len;

	if (!channel_id || !*channel_id || !chaincode_id || !*chaincode_id || !function || !*function) {
		gx_log_error("fabric proposal needs a channel, a chaincode and a function name");
		return NULL;
	}
	if (gx_fabric_id_nonce(id, nonce) < 0)
		return NULL;
	p = gx_xcalloc(1, sizeof(*p));
	creator = gx_fabric_id_creator(id, &creator_len);
	gx_fabric_id_txid(nonce, sizeof(nonce), creator, creator_len, p->tx_id);
	p->channel_id = gx_xstrdup(channel_id);
	p->chaincode_id = gx_xstrdup(chaincode_id);

	proposal_header(id, channel_id, chaincode_id, nonce, p->tx_id, &hdr_b);
	proposal_payload(chaincode_id, function, args, nargs, &pl_b);
	prop.header.data = hdr_b.data;
	prop.header.len = hdr_b.len;
	prop.payload.data = pl_b.data;
	prop.payload.len = pl_b.len;
	pack(&prop.base, &p->bytes);
	gx_fabric_msg_buf_release(&hdr_b);
	gx_fabric_msg_buf_release(&pl_b);

	if (gx_fabric_id_sign(id, p->bytes.data, p->bytes.len, sig, &sig_len) < 0) {
		gx_fabric_msg_proposal_free(p);
		return NULL;
	}
	buf_copy(&p->signature, sig, sig_len);
	return p;
}

void gx_fabric_msg_proposal_free(struct gx_fabric_proposal *p)
{
	if (!p)
		return;
	gx_fabric_msg_buf_release(&p->bytes);
	gx_fabric_msg_buf_release(&p->signature);
	free(p->channel_id);
	free(p->chaincode_id);
	free(p);
}

static int protocol_error(struct gx_fabric_error *err, const char *what)
{
	gx_fabric_error_set(err, GX_FABRIC_ERR_PROTOCOL, "%s", what);
	return -1;
}

struct gx_fabric_proposal *gx_fabric_msg_proposal_parse(const void *bytes, size_t len, const void *sig, size_t sig_len,
							struct gx_fabric_error *err)
{
	Protos__Proposal *prop = NULL;
	Common__Header *hdr = NULL;
	Common__ChannelHeader *ch = NULL;
	Protos__ChaincodeHeaderExtension *ext = NULL;
	struct gx_fabric_proposal *p = NULL;

	prop = protos__proposal__unpack(NULL, len, bytes);
	if (!prop || !(hdr = common__header__unpack(NULL, prop->header.len, prop->header.data)) ||
	    !(ch = common__channel_header__unpack(NULL, hdr->channel_header.len, hdr->channel_header.data)) ||
	    !(ext = protos__chaincode_header_extension__unpack(NULL, ch->extension.len, ch->extension.data))) {
		protocol_error(err, "stored proposal does not decode");
		goto out;
	}
	if (strlen(ch->tx_id) != GX_FABRIC_TXID_SIZE - 1 || !*ch->channel_id || !ext->chaincode_id ||
	    !*ext->chaincode_id->name || !sig_len) {
		protocol_error(err, "stored proposal lacks tx id, channel, chaincode or signature");
		goto out;
	}
	p = gx_xcalloc(1, sizeof(*p));
	memcpy(p->tx_id, ch->tx_id, GX_FABRIC_TXID_SIZE);
	p->channel_id = gx_xstrdup(ch->channel_id);
	p->chaincode_id = gx_xstrdup(ext->chaincode_id->name);
	buf_copy(&p->bytes, bytes, len);
	buf_copy(&p->signature, sig, sig_len);
out:
	if (ext)
		protos__chaincode_header_extension__free_unpacked(ext, NULL);
	if (ch)
		common__channel_header__free_unpacked(ch, NULL);
	if (hdr)
		common__header__free_unpacked(hdr, NULL);
	if (prop)
		protos__proposal__free_unpacked(prop, NULL);
	return p;
}

void gx_fabric_msg_endorse_request(const struct gx_fabric_proposal *p, struct gx_fabric_msg_buf *out)
{
	Gateway__EndorseRequest req = GATEWAY__ENDORSE_REQUEST__INIT;
	Protos__SignedProposal sp = PROTOS__SIGNED_PROPOSAL__INIT;

	sp.proposal_bytes.data = p->bytes.data;
	sp.proposal_bytes.len = p->bytes.len;
	sp.signature.data = p->signature.data;
	sp.signature.len = p->signature.len;
	req.transaction_id = (char *)p->tx_id;
	req.channel_id = p->channel_id;
	req.proposed_transaction = &sp;
	pack(&req.base, out);
}

void gx_fabric_msg_evaluate_request(const struct gx_fabric_proposal *p, struct gx_fabric_msg_buf *out)
{
	Gateway__EvaluateRequest req = GATEWAY__EVALUATE_REQUEST__INIT;
	Protos__SignedProposal sp = PROTOS__SIGNED_PROPOSAL__INIT;

	sp.proposal_bytes.data = p->bytes.data;
	sp.proposal_bytes.len = p->bytes.len;
	sp.signature.data = p->signature.data;
	sp.signature.len = p->signature.len;
	req.transaction_id = (char *)p->tx_id;
	req.channel_id = p->channel_id;
	req.proposed_transaction = &sp;
	pack(&req.base, out);
}

int gx_fabric_msg_submit_request(struct gx_fabric_id *id, const char *tx_id, const char *channel_id,
				 const void *payload, size_t payload_len, struct gx_fabric_msg_buf *out)
{
	Gateway__SubmitRequest req = GATEWAY__SUBMIT_REQUEST__INIT;
	Common__Envelope env = COMMON__ENVELOPE__INIT;
	unsigned char sig[GX_FABRIC_SIG_MAX];
	size_t sig_len;

	if (gx_fabric_id_sign(id, payload, payload_len, sig, &sig_len) < 0)
		return -1;
	env.payload.data = (uint8_t *)payload;
	env.payload.len = payload_len;
	env.signature.data = sig;
	env.signature.len = sig_len;
	req.transaction_id = (char *)tx_id;
	req.channel_id = (char *)channel_id;
	req.prepared_transaction = &env;
	pack(&req.base, out);
	return 0;
}

/* Pack {request bytes, signature over them} of the Signed*Request shape shared by CommitStatus and events. */
static int sign_request(struct gx_fabric_id *id, struct gx_fabric_msg_buf *inner, ProtobufCBinaryData *req_field,
			ProtobufCBinaryData *sig_field, const ProtobufCMessage *outer, struct gx_fabric_msg_buf *out)
{
	unsigned char sig[GX_FABRIC_SIG_MAX];
	size_t sig_len;

	if (gx_fabric_id_sign(id, inner->data, inner->len, sig, &sig_len) < 0)
		return -1;
	req_field->data = inner->data;
	req_field->len = inner->len;
	sig_field->data = sig;
	sig_field->len = sig_len;
	pack(outer, out);
	return 0;
}

int gx_fabric_msg_commit_status_request(struct gx_fabric_id *id, const char *tx_id, const char *channel_id,
					struct gx_fabric_msg_buf *out)
{
	Gateway__CommitStatusRequest req = GATEWAY__COMMIT_STATUS_REQUEST__INIT;
	Gateway__SignedCommitStatusRequest sreq = GATEWAY__SIGNED_COMMIT_STATUS_REQUEST__INIT;
	struct gx_fabric_msg_buf inner = { 0 };
	size_t creator_len;
	int rc;

	req.transaction_id = (char *)tx_id;
	req.channel_id = (char *)channel_id;
	req.identity.data = (uint8_t *)gx_fabric_id_creator(id, &creator_len);
	req.identity.len = creator_len;
	pack(&req.base, &inner);
	rc = sign_request(id, &inner, &sreq.request, &sreq.signature, &sreq.base, out);
	gx_fabric_msg_buf_release(&inner);
	return rc;
}

int gx_fabric_msg_events_request(struct gx_fabric_id *id, const char *channel_id, const char *chaincode_id,
				 uint64_t start_block, const char *after_tx_id, struct gx_fabric_msg_buf *out)
{
	Gateway__ChaincodeEventsRequest req = GATEWAY__CHAINCODE_EVENTS_REQUEST__INIT;
	Gateway__SignedChaincodeEventsRequest sreq = GATEWAY__SIGNED_CHAINCODE_EVENTS_REQUEST__INIT;
	Orderer__SeekPosition pos = ORDERER__SEEK_POSITION__INIT;
	Orderer__SeekSpecified spec = ORDERER__SEEK_SPECIFIED__INIT;
	struct gx_fabric_msg_buf inner = { 0 };
	size_t creator_len;
	int rc;

	spec.number = start_block;
	pos.type_case = ORDERER__SEEK_POSITION__TYPE_SPECIFIED;
	pos.specified = &spec;
	req.channel_id = (char *)channel_id;
	req.chaincode_id = (char *)chaincode_id;
	req.identity.data = (uint8_t *)gx_fabric_id_creator(id, &creator_len);
	req.identity.len = creator_len;
	req.start_position = &pos;
	if (after_tx_id && *after_tx_id)
		req.after_transaction_id = (char *)after_tx_id;
	pack(&req.base, &inner);
	rc = sign_request(id, &inner, &sreq.request, &sreq.signature, &sreq.base, out);
	gx_fabric_msg_buf_release(&inner);
	return rc;
}

void gx_fabric_msg_response_release(struct gx_fabric_msg_response *r)
{
	if (!r)
		return;
	free(r->message);
	gx_fabric_msg_buf_release(&r->payload);
	memset(r, 0, sizeof(*r));
}

static void response_copy(struct gx_fabric_msg_response *dst, const Protos__Response *src)
{
	dst->status = src->status;
	dst->message = gx_xstrdup(src->message ? src->message : "");
	buf_copy(&dst->payload, src->payload.data, src->payload.len);
}

int gx_fabric_msg_parse_evaluate(const void *buf, size_t len, struct gx_fabric_msg_response *out,
				 struct gx_fabric_error *err)
{
	Gateway__EvaluateResponse *r = gateway__evaluate_response__unpack(NULL, len, buf);

	if (!r)
		return protocol_error(err, "EvaluateResponse does not decode");
	if (!r->result) {
		gateway__evaluate_response__free_unpacked(r, NULL);
		return protocol_error(err, "EvaluateResponse has no result");
	}
	response_copy(out, r->result);
	gateway__evaluate_response__free_unpacked(r, NULL);
	return 0;
}

void gx_fabric_msg_endorsed_release(struct gx_fabric_msg_endorsed *e)
{
	if (!e)
		return;
	gx_fabric_msg_buf_release(&e->payload);
	free(e->channel_id);
	free(e->tx_id);
	gx_fabric_msg_response_release(&e->result);
	memset(e, 0, sizeof(*e));
}

/* Transaction bytes -> chaincode response of its first action. Returns 0 or -1 with err set. */
static int endorsed_result(const ProtobufCBinaryData *data, struct gx_fabric_msg_response *out,
			   struct gx_fabric_error *err)
{
	Protos__Transaction *tx = NULL;
	Protos__ChaincodeActionPayload *cap = NULL;
	Protos__ProposalResponsePayload *prp = NULL;
	Protos__ChaincodeAction *ca = NULL;
	int rc = -1;

	tx = protos__transaction__unpack(NULL, data->len, data->data);
	if (!tx || tx->n_actions == 0) {
		protocol_error(err, "prepared transaction has no actions");
		goto out;
	}
	cap = protos__chaincode_action_payload__unpack(NULL, tx->actions[0]->payload.len, tx->actions[0]->payload.data);
	if (!cap || !cap->action) {
		protocol_error(err, "prepared transaction has no endorsed action");
		goto out;
	}
	prp = protos__proposal_response_payload__unpack(NULL, cap->action->proposal_response_payload.len,
							cap->action->proposal_response_payload.data);
	if (!prp || !(ca = protos__chaincode_action__unpack(NULL, prp->extension.len, prp->extension.data))) {
		protocol_error(err, "prepared transaction has no chaincode action");
		goto out;
	}
	if (ca->response)
		response_copy(out, ca->response);
	else
		out->message = gx_xstrdup("");
	rc = 0;
out:
	if (ca)
		protos__chaincode_action__free_unpacked(ca, NULL);
	if (prp)
		protos__proposal_response_payload__free_unpacked(prp, NULL);
	if (cap)
		protos__chaincode_action_payload__free_unpacked(cap, NULL);
	if (tx)
		protos__transaction__free_unpacked(tx, NULL);
	return rc;
}

int gx_fabric_msg_parse_endorse(const void *buf, size_t len, struct gx_fabric_msg_endorsed *out,
				struct gx_fabric_error *err)
{
	Gateway__EndorseResponse *r = NULL;
	Common__Payload *pl = NULL;
	Common__ChannelHeader *ch = NULL;
	int rc = -1;

	r = gateway__endorse_response__unpack(NULL, len, buf);
	if (!r || !r->prepared_transaction) {
		protocol_error(err, "EndorseResponse does not decode or has no prepared transaction");
		goto out;
	}
	pl = common__payload__unpack(NULL, r->prepared_transaction->payload.len, r->prepared_transaction->payload.data);
	if (!pl || !pl->header) {
		protocol_error(err, "prepared transaction payload does not decode");
		goto out;
	}
	ch = common__channel_header__unpack(NULL, pl->header->channel_header.len, pl->header->channel_header.data);
	if (!ch) {
		protocol_error(err, "prepared transaction channel header does not decode");
		goto out;
	}
	if (endorsed_result(&pl->data, &out->result, err) < 0)
		goto out;
	buf_copy(&out->payload, r->prepared_transaction->payload.data, r->prepared_transaction->payload.len);
	out->channel_id = gx_xstrdup(ch->channel_id);
	out->tx_id = gx_xstrdup(ch->tx_id);
	rc = 0;
out:
	if (ch)
		common__channel_header__free_unpacked(ch, NULL);
	if (pl)
		common__payload__free_unpacked(pl, NULL);
	if (r)
		gateway__endorse_response__free_unpacked(r, NULL);
	if (rc < 0)
		gx_fabric_msg_endorsed_release(out);
	return rc;
}

int gx_fabric_msg_parse_commit_status(const void *buf, size_t len, int *tx_code, uint64_t *block,
				      struct gx_fabric_error *err)
{
	Gateway__CommitStatusResponse *r = gateway__commit_status_response__unpack(NULL, len, buf);

	if (!r)
		return protocol_error(err, "CommitStatusResponse does not decode");
	*tx_code = (int)r->result;
	*block = r->block_number;
	gateway__commit_status_response__free_unpacked(r, NULL);
	return 0;
}

void gx_fabric_msg_events_release(struct gx_fabric_msg_events *ev)
{
	size_t i;

	if (!ev)
		return;
	for (i = 0; i < ev->n_events; i++) {
		free(ev->events[i].tx_id);
		free(ev->events[i].chaincode_id);
		free(ev->events[i].event_name);
		gx_fabric_msg_buf_release(&ev->events[i].payload);
	}
	free(ev->events);
	memset(ev, 0, sizeof(*ev));
}

int gx_fabric_msg_parse_events(const void *buf, size_t len, struct gx_fabric_msg_events *out,
			       struct gx_fabric_error *err)
{
	Gateway__ChaincodeEventsResponse *r = gateway__chaincode_events_response__unpack(NULL, len, buf);
	size_t i;

	if (!r)
		return protocol_error(err, "ChaincodeEventsResponse does not decode");
	out->block = r->block_number;
	out->n_events = r->n_events;
	out->events = r->n_events ? gx_xcalloc(r->n_events, sizeof(*out->events)) : NULL;
	for (i = 0; i < r->n_events; i++) {
		const Protos__ChaincodeEvent *e = r->events[i];
		out->events[i].tx_id = gx_xstrdup(e->tx_id);
		out->events[i].chaincode_id = gx_xstrdup(e->chaincode_id);
		out->events[i].event_name = gx_xstrdup(e->event_name);
		buf_copy(&out->events[i].payload, e->payload.data, e->payload.len);
	}
	gateway__chaincode_events_response__free_unpacked(r, NULL);
	return 0;
}
