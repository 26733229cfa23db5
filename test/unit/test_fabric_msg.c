/* Unit tests for gx/fabric_msg: every field of a built proposal and of each Gateway request, the tx id rule, the
 * signed digests, and decoding of hand-built Gateway responses (plus rejection of garbage). */
#include "gx/fabric_msg.h"
#include "gx/log.h"
#include "gx_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/common.pb-c.h"
#include "gateway/gateway.pb-c.h"
#include "msp/identities.pb-c.h"
#include "orderer/ab.pb-c.h"
#include "peer/chaincode.pb-c.h"
#include "peer/chaincode_event.pb-c.h"
#include "peer/proposal.pb-c.h"
#include "peer/proposal_response.pb-c.h"
#include "peer/transaction.pb-c.h"

static char dir[64];
static char *cert;
static size_t cert_len;
static struct gx_fabric_id *id;

static int setup(void)
{
	char cmd[1024], p[128];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/gx-fabric-msg-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem 2>/dev/null &&"
		 " openssl req -new -x509 -key key.pem -out cert.pem -days 2 -subj /CN=user1 2>/dev/null",
		 dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/cert.pem", dir);
	f = fopen(p, "rb");
	if (!f)
		return -1;
	cert = calloc(1, 65536);
	cert_len = fread(cert, 1, 65535, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/key.pem", dir);
	id = gx_fabric_id_load("Org1MSP", p, cmd);
	return id ? 0 : -1;
}

static bool verifies(const ProtobufCBinaryData *msg, const ProtobufCBinaryData *sig)
{
	return gx_fabric_id_verify((unsigned char *)cert, cert_len, msg->data, msg->len, sig->data, sig->len, NULL);
}

/* Decode a proposal completely and check every field we set. */
static void check_proposal(const struct gx_fabric_proposal *p, const char *fn, const char *a1, const char *a2)
{
	Protos__Proposal *prop = protos__proposal__unpack(NULL, p->bytes.len, p->bytes.data);
	Common__Header *hdr = NULL;
	Common__ChannelHeader *ch = NULL;
	Common__SignatureHeader *sh = NULL;
	Protos__ChaincodeHeaderExtension *ext = NULL;
	Protos__ChaincodeProposalPayload *cpp = NULL;
	Protos__ChaincodeInvocationSpec *cis = NULL;
	const unsigned char *creator;
	size_t creator_len;
	char tx[GX_FABRIC_TXID_SIZE];
	time_t now = time(NULL);

	GX_CHECK(prop != NULL);
	if (!prop)
		return;
	GX_CHECK(prop->extension.len == 0);
	hdr = common__header__unpack(NULL, prop->header.len, prop->header.data);
	GX_CHECK(hdr != NULL);
	ch = common__channel_header__unpack(NULL, hdr->channel_header.len, hdr->channel_header.data);
	sh = common__signature_header__unpack(NULL, hdr->signature_header.len, hdr->signature_header.data);
	GX_CHECK(ch && sh);
	GX_CHECK(ch->type == 3 && ch->version == 0 && ch->epoch == 0);
	GX_CHECK_STR(ch->channel_id, "gxchannel");
	GX_CHECK_STR(ch->tx_id, p->tx_id);
	GX_CHECK(ch->timestamp && ch->timestamp->seconds >= now - 5 && ch->timestamp->seconds <= now + 1);
	GX_CHECK(ch->tls_cert_hash.len == 0);
	ext = protos__chaincode_header_extension__unpack(NULL, ch->extension.len, ch->extension.data);
	GX_CHECK(ext && ext->chaincode_id);
	GX_CHECK_STR(ext->chaincode_id->name, "gxtv3");
	GX_CHECK(!*ext->chaincode_id->path && !*ext->chaincode_id->version);
	/* creator + nonce + tx id rule */
	creator = gx_fabric_id_creator(id, &creator_len);
	GX_CHECK(sh->creator.len == creator_len && memcmp(sh->creator.data, creator, creator_len) == 0);
	GX_CHECK(sh->nonce.len == GX_FABRIC_NONCE_LEN);
	gx_fabric_id_txid(sh->nonce.data, sh->nonce.len, sh->creator.data, sh->creator.len, tx);
	GX_CHECK_STR(tx, p->tx_id);
	/* payload */
	cpp = protos__chaincode_proposal_payload__unpack(NULL, prop->payload.len, prop->payload.data);
	GX_CHECK(cpp && cpp->n_transientmap == 0);
	cis = protos__chaincode_invocation_spec__unpack(NULL, cpp->input.len, cpp->input.data);
	GX_CHECK(cis && cis->chaincode_spec && cis->chaincode_spec->input && cis->chaincode_spec->chaincode_id);
	if (cis && cis->chaincode_spec && cis->chaincode_spec->input) {
		const Protos__ChaincodeInput *in = cis->chaincode_spec->input;
		GX_CHECK(cis->chaincode_spec->type == PROTOS__CHAINCODE_SPEC__TYPE__NODE);
		GX_CHECK_STR(cis->chaincode_spec->chaincode_id->name, "gxtv3");
		GX_CHECK(in->n_args == 3 && !in->is_init && in->n_decorations == 0);
		if (in->n_args == 3) {
			GX_CHECK(in->args[0].len == strlen(fn) && !memcmp(in->args[0].data, fn, strlen(fn)));
			GX_CHECK(in->args[1].len == strlen(a1) && !memcmp(in->args[1].data, a1, strlen(a1)));
			GX_CHECK(in->args[2].len == strlen(a2) &&
				 (!in->args[2].len || !memcmp(in->args[2].data, a2, strlen(a2))));
		}
	}
	protos__chaincode_invocation_spec__free_unpacked(cis, NULL);
	protos__chaincode_proposal_payload__free_unpacked(cpp, NULL);
	protos__chaincode_header_extension__free_unpacked(ext, NULL);
	common__signature_header__free_unpacked(sh, NULL);
	common__channel_header__free_unpacked(ch, NULL);
	common__header__free_unpacked(hdr, NULL);
	protos__proposal__free_unpacked(prop, NULL);
}

GX_TEST(proposal_fields_txid_and_signature)
{
	const char *args[] = { "wallet-1", "" };
	struct gx_fabric_proposal *p =
		gx_fabric_msg_proposal_new(id, "gxchannel", "gxtv3", "TokenomicsContract:Transfer", args, 2);
	struct gx_fabric_proposal *q = gx_fabric_msg_proposal_new(id, "gxchannel", "gxtv3", "A:b", args, 2);
	ProtobufCBinaryData b, s;

	GX_CHECK(p && q);
	if (!p || !q)
		goto out;
	check_proposal(p, "TokenomicsContract:Transfer", "wallet-1", "");
	GX_CHECK(strcmp(p->tx_id, q->tx_id) != 0);
	/* signature is over SHA-256(proposal_bytes) */
	b.data = p->bytes.data;
	b.len = p->bytes.len;
	s.data = p->signature.data;
	s.len = p->signature.len;
	GX_CHECK(verifies(&b, &s));
	b.len--;
	GX_CHECK(!verifies(&b, &s));
out:
	gx_fabric_msg_proposal_free(p);
	gx_fabric_msg_proposal_free(q);
	GX_CHECK(gx_fabric_msg_proposal_new(id, "", "gxtv3", "f", NULL, 0) == NULL);
	GX_CHECK(gx_fabric_msg_proposal_new(id, "gxchannel", "gxtv3", "", NULL, 0) == NULL);
}

GX_TEST(proposal_parse_round_trip)
{
	const char *args[] = { "x", "y" };
	struct gx_fabric_proposal *p = gx_fabric_msg_proposal_new(id, "gxchannel", "gxtv3", "C:f", args, 2), *q;
	struct gx_fabric_error err = { 0 };

	GX_CHECK(p != NULL);
	if (!p)
		return;
	q = gx_fabric_msg_proposal_parse(p->bytes.data, p->bytes.len, p->signature.data, p->signature.len, &err);
	GX_CHECK(q != NULL);
	if (q) {
		GX_CHECK_STR(q->tx_id, p->tx_id);
		GX_CHECK_STR(q->channel_id, "gxchannel");
		GX_CHECK_STR(q->chaincode_id, "gxtv3");
		GX_CHECK(q->bytes.len == p->bytes.len && !memcmp(q->bytes.data, p->bytes.data, p->bytes.len));
	}
	gx_fabric_msg_proposal_free(q);
	q = gx_fabric_msg_proposal_parse("\x0a\x03zzz", 5, "s", 1, &err);
	GX_CHECK(q == NULL && err.kind == GX_FABRIC_ERR_PROTOCOL);
	gx_fabric_error_release(&err);
	gx_fabric_msg_proposal_free(p);
}

GX_TEST(endorse_and_evaluate_requests)
{
	const char *args[] = { "a", "b" };
	struct gx_fabric_proposal *p = gx_fabric_msg_proposal_new(id, "gxchannel", "gxtv3", "C:f", args, 2);
	struct gx_fabric_msg_buf e = { 0 }, v = { 0 };
	Gateway__EndorseRequest *er;
	Gateway__EvaluateRequest *vr;

	GX_CHECK(p != NULL);
	if (!p)
		return;
	gx_fabric_msg_endorse_request(p, &e);
	gx_fabric_msg_evaluate_request(p, &v);
	er = gateway__endorse_request__unpack(NULL, e.len, e.data);
	vr = gateway__evaluate_request__unpack(NULL, v.len, v.data);
	GX_CHECK(er && vr);
	if (er && vr) {
		GX_CHECK_STR(er->transaction_id, p->tx_id);
		GX_CHECK_STR(er->channel_id, "gxchannel");
		GX_CHECK(er->n_endorsing_organizations == 0);
		GX_CHECK(er->proposed_transaction && er->proposed_transaction->proposal_bytes.len == p->bytes.len &&
			 !memcmp(er->proposed_transaction->proposal_bytes.data, p->bytes.data, p->bytes.len));
		GX_CHECK(verifies(&er->proposed_transaction->proposal_bytes, &er->proposed_transaction->signature));
		GX_CHECK_STR(vr->transaction_id, p->tx_id);
		GX_CHECK_STR(vr->channel_id, "gxchannel");
		GX_CHECK(vr->proposed_transaction &&
			 verifies(&vr->proposed_transaction->proposal_bytes, &vr->proposed_transaction->signature));
	}
	gateway__endorse_request__free_unpacked(er, NULL);
	gateway__evaluate_request__free_unpacked(vr, NULL);
	gx_fabric_msg_buf_release(&e);
	gx_fabric_msg_buf_release(&v);
	gx_fabric_msg_proposal_free(p);
}

GX_TEST(submit_commit_and_events_requests)
{
	static const unsigned char payload[] = { 0x0a, 0x02, 0x08, 0x03, 0x12, 0x01, 0x7f };
	struct gx_fabric_msg_buf s = { 0 }, c = { 0 }, ev = { 0 }, ev2 = { 0 };
	Gateway__SubmitRequest *sr;
	Gateway__SignedCommitStatusRequest *scr;
	Gateway__CommitStatusRequest *cr = NULL;
	Gateway__SignedChaincodeEventsRequest *ser;
	Gateway__ChaincodeEventsRequest *er = NULL;
	const unsigned char *creator;
	size_t creator_len;

	creator = gx_fabric_id_creator(id, &creator_len);
	GX_CHECK(gx_fabric_msg_submit_request(id, "tx1", "gxchannel", payload, sizeof(payload), &s) == 0);
	GX_CHECK(gx_fabric_msg_commit_status_request(id, "tx1", "gxchannel", &c) == 0);
	GX_CHECK(gx_fabric_msg_events_request(id, "gxchannel", "gxtv3", 42, "tx9", &ev) == 0);
	GX_CHECK(gx_fabric_msg_events_request(id, "gxchannel", "gxtv3", 0, NULL, &ev2) == 0);

	sr = gateway__submit_request__unpack(NULL, s.len, s.data);
	GX_CHECK(sr && sr->prepared_transaction);
	if (sr && sr->prepared_transaction) {
		GX_CHECK_STR(sr->transaction_id, "tx1");
		GX_CHECK_STR(sr->channel_id, "gxchannel");
		GX_CHECK(sr->prepared_transaction->payload.len == sizeof(payload) &&
			 !memcmp(sr->prepared_transaction->payload.data, payload, sizeof(payload)));
		GX_CHECK(verifies(&sr->prepared_transaction->payload, &sr->prepared_transaction->signature));
	}
	scr = gateway__signed_commit_status_request__unpack(NULL, c.len, c.data);
	GX_CHECK(scr && verifies(&scr->request, &scr->signature));
	if (scr)
		cr = gateway__commit_status_request__unpack(NULL, scr->request.len, scr->request.data);
	GX_CHECK(cr != NULL);
	if (cr) {
		GX_CHECK_STR(cr->transaction_id, "tx1");
		GX_CHECK_STR(cr->channel_id, "gxchannel");
		GX_CHECK(cr->identity.len == creator_len && !memcmp(cr->identity.data, creator, creator_len));
	}
	ser = gateway__signed_chaincode_events_request__unpack(NULL, ev.len, ev.data);
	GX_CHECK(ser && verifies(&ser->request, &ser->signature));
	if (ser)
		er = gateway__chaincode_events_request__unpack(NULL, ser->request.len, ser->request.data);
	GX_CHECK(er != NULL);
	if (er) {
		GX_CHECK_STR(er->channel_id, "gxchannel");
		GX_CHECK_STR(er->chaincode_id, "gxtv3");
		GX_CHECK_STR(er->after_transaction_id, "tx9");
		GX_CHECK(er->identity.len == creator_len && !memcmp(er->identity.data, creator, creator_len));
		GX_CHECK(er->start_position &&
			 er->start_position->type_case == ORDERER__SEEK_POSITION__TYPE_SPECIFIED &&
			 er->start_position->specified->number == 42);
		gateway__chaincode_events_request__free_unpacked(er, NULL);
	}
	gateway__signed_chaincode_events_request__free_unpacked(ser, NULL);
	/* block 0 is still an explicit "specified" position, never "unset" (= next commit) */
	ser = gateway__signed_chaincode_events_request__unpack(NULL, ev2.len, ev2.data);
	er = ser ? gateway__chaincode_events_request__unpack(NULL, ser->request.len, ser->request.data) : NULL;
	GX_CHECK(er && er->start_position && er->start_position->type_case == ORDERER__SEEK_POSITION__TYPE_SPECIFIED);
	GX_CHECK(er && !*er->after_transaction_id);
	if (er)
		gateway__chaincode_events_request__free_unpacked(er, NULL);
	if (ser)
		gateway__signed_chaincode_events_request__free_unpacked(ser, NULL);
	if (cr)
		gateway__commit_status_request__free_unpacked(cr, NULL);
	if (scr)
		gateway__signed_commit_status_request__free_unpacked(scr, NULL);
	if (sr)
		gateway__submit_request__free_unpacked(sr, NULL);
	gx_fabric_msg_buf_release(&s);
	gx_fabric_msg_buf_release(&c);
	gx_fabric_msg_buf_release(&ev);
	gx_fabric_msg_buf_release(&ev2);
}

static void pack_into(const ProtobufCMessage *m, ProtobufCBinaryData *out)
{
	out->len = protobuf_c_message_get_packed_size(m);
	out->data = malloc(out->len);
	protobuf_c_message_pack(m, out->data);
}

/* Build an EndorseResponse the way the gateway assembles a prepared transaction. */
static void build_endorse_response(const char *tx_id, int status, const char *payload, ProtobufCBinaryData *out)
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
	ProtobufCBinaryData ca_b, prp_b, cap_b, ch_b, tx_b, pl_b;

	resp.status = status;
	resp.message = (char *)"ok";
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = strlen(payload);
	ca.response = &resp;
	pack_into(&ca.base, &ca_b);
	prp.extension = ca_b;
	pack_into(&prp.base, &prp_b);
	cea.proposal_response_payload = prp_b;
	cap.action = &cea;
	pack_into(&cap.base, &cap_b);
	ta.payload = cap_b;
	tx.n_actions = 1;
	tx.actions = tas;
	pack_into(&tx.base, &tx_b);
	ch.type = 3;
	ch.channel_id = (char *)"gxchannel";
	ch.tx_id = (char *)tx_id;
	pack_into(&ch.base, &ch_b);
	hdr.channel_header = ch_b;
	pl.header = &hdr;
	pl.data = tx_b;
	pack_into(&pl.base, &pl_b);
	env.payload = pl_b;
	er.prepared_transaction = &env;
	pack_into(&er.base, out);
	free(ca_b.data);
	free(prp_b.data);
	free(cap_b.data);
	free(ch_b.data);
	free(tx_b.data);
	free(pl_b.data);
}

GX_TEST(parses_endorse_response)
{
	ProtobufCBinaryData b;
	struct gx_fabric_msg_endorsed e = { 0 };
	struct gx_fabric_error err = { 0 };
	Gateway__EndorseResponse *er;

	build_endorse_response("abc", 200, "{\"ok\":true}", &b);
	GX_CHECK(gx_fabric_msg_parse_endorse(b.data, b.len, &e, &err) == 0);
	GX_CHECK_STR(e.tx_id, "abc");
	GX_CHECK_STR(e.channel_id, "gxchannel");
	GX_CHECK(e.result.status == 200);
	GX_CHECK(e.result.payload.len == 11 && !memcmp(e.result.payload.data, "{\"ok\":true}", 11));
	/* payload kept byte-for-byte */
	er = gateway__endorse_response__unpack(NULL, b.len, b.data);
	GX_CHECK(er && er->prepared_transaction->payload.len == e.payload.len &&
		 !memcmp(er->prepared_transaction->payload.data, e.payload.data, e.payload.len));
	gateway__endorse_response__free_unpacked(er, NULL);
	gx_fabric_msg_endorsed_release(&e);
	/* truncated */
	GX_CHECK(gx_fabric_msg_parse_endorse(b.data, b.len - 3, &e, &err) < 0);
	GX_CHECK(err.kind == GX_FABRIC_ERR_PROTOCOL && e.payload.data == NULL);
	gx_fabric_error_release(&err);
	/* an empty response has no prepared transaction */
	GX_CHECK(gx_fabric_msg_parse_endorse("", 0, &e, &err) < 0);
	gx_fabric_error_release(&err);
	free(b.data);
}

GX_TEST(parses_evaluate_commit_and_events)
{
	Protos__Response resp = PROTOS__RESPONSE__INIT;
	Gateway__EvaluateResponse vr = GATEWAY__EVALUATE_RESPONSE__INIT;
	Gateway__CommitStatusResponse cs = GATEWAY__COMMIT_STATUS_RESPONSE__INIT;
	Protos__ChaincodeEvent e1 = PROTOS__CHAINCODE_EVENT__INIT, e2 = PROTOS__CHAINCODE_EVENT__INIT;
	Protos__ChaincodeEvent *evs[2] = { &e1, &e2 };
	Gateway__ChaincodeEventsResponse er = GATEWAY__CHAINCODE_EVENTS_RESPONSE__INIT;
	struct gx_fabric_msg_response r = { 0 };
	struct gx_fabric_msg_events ev = { 0 };
	struct gx_fabric_error err = { 0 };
	ProtobufCBinaryData b;
	uint64_t block = 0;
	int code = -1;

	resp.status = 404;
	resp.message = (char *)"no such wallet";
	vr.result = &resp;
	pack_into(&vr.base, &b);
	GX_CHECK(gx_fabric_msg_parse_evaluate(b.data, b.len, &r, &err) == 0);
	GX_CHECK(r.status == 404);
	GX_CHECK_STR(r.message, "no such wallet");
	gx_fabric_msg_response_release(&r);
	free(b.data);
	GX_CHECK(gx_fabric_msg_parse_evaluate("", 0, &r, &err) < 0); /* no result */
	gx_fabric_error_release(&err);

	cs.result = PROTOS__TX_VALIDATION_CODE__MVCC_READ_CONFLICT;
	cs.block_number = 77;
	pack_into(&cs.base, &b);
	GX_CHECK(gx_fabric_msg_parse_commit_status(b.data, b.len, &code, &block, &err) == 0);
	GX_CHECK(code == GX_FABRIC_TX_MVCC_READ_CONFLICT && block == 77);
	free(b.data);

	e1.tx_id = (char *)"t1";
	e1.chaincode_id = (char *)"gxtv3";
	e1.event_name = (char *)"TransferCompleted";
	e1.payload.data = (uint8_t *)"{}";
	e1.payload.len = 2;
	e2.tx_id = (char *)"t2";
	e2.chaincode_id = (char *)"gxtv3";
	e2.event_name = (char *)"UserCreated";
	er.n_events = 2;
	er.events = evs;
	er.block_number = 9;
	pack_into(&er.base, &b);
	GX_CHECK(gx_fabric_msg_parse_events(b.data, b.len, &ev, &err) == 0);
	GX_CHECK(ev.block == 9 && ev.n_events == 2);
	if (ev.n_events == 2) {
		GX_CHECK_STR(ev.events[0].tx_id, "t1");
		GX_CHECK_STR(ev.events[0].event_name, "TransferCompleted");
		GX_CHECK_STR(ev.events[0].chaincode_id, "gxtv3");
		GX_CHECK(ev.events[0].payload.len == 2 && !memcmp(ev.events[0].payload.data, "{}", 2));
		GX_CHECK_STR(ev.events[1].tx_id, "t2");
		GX_CHECK(ev.events[1].payload.len == 0);
	}
	gx_fabric_msg_events_release(&ev);
	GX_CHECK(gx_fabric_msg_parse_events(b.data, b.len - 1, &ev, &err) < 0 && err.kind == GX_FABRIC_ERR_PROTOCOL);
	gx_fabric_error_release(&err);
	free(b.data);
}

int main(void)
{
	char cmd[128];
	int rc;

	gx_log_init("test_fabric_msg");
	gx_log_set_level(GX_LOG_FATAL);
	if (setup() != 0) {
		printf("not ok 1 - cannot create a test identity with openssl\n");
		return 1;
	}
	GX_RUN(proposal_fields_txid_and_signature);
	GX_RUN(proposal_parse_round_trip);
	GX_RUN(endorse_and_evaluate_requests);
	GX_RUN(submit_commit_and_events_requests);
	GX_RUN(parses_endorse_response);
	GX_RUN(parses_evaluate_commit_and_events);
	rc = gx_test_done();
	gx_fabric_id_free(id);
	free(cert);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
