/* Fabric Gateway messages: building signed proposals and Gateway requests, and decoding Gateway responses.
 * Pure functions over bytes (no network); gx/fabric_client.h sends what this module builds.
 *
 *   struct gx_fabric_proposal *p = gx_fabric_msg_proposal_new(id, "gxchannel", "gxtv3",
 *                                                             "TokenomicsContract:Transfer", args, nargs);
 *   struct gx_fabric_msg_buf req = { 0 };
 *   gx_fabric_msg_endorse_request(p, &req);      ... send req.data/req.len to /gateway.Gateway/Endorse ...
 *   gx_fabric_msg_buf_release(&req);
 *   gx_fabric_msg_proposal_free(p);
 *
 * Decoders never log: they return -1 and set err (kind GX_FABRIC_ERR_PROTOCOL) so the caller reports once. They are
 * safe on arbitrary input (fuzzed by test/fuzz/fuzz_fabric_decode.c).
 */
#ifndef GX_FABRIC_MSG_H
#define GX_FABRIC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "gx/fabric_error.h"
#include "gx/fabric_id.h"
#include "gx/util.h"

/* Channel header type of transaction proposals (common.HeaderType ENDORSER_TRANSACTION). */
#define GX_FABRIC_HEADER_ENDORSER_TRANSACTION 3

/* An owned byte string. A zeroed struct is empty. */
struct gx_fabric_msg_buf {
	unsigned char *data;
	size_t len;
};

/* Free b's data and zero it. NULL is a no-op. */
void gx_fabric_msg_buf_release(struct gx_fabric_msg_buf *b);

/* A signed proposal ready for Endorse or Evaluate. Everything is owned by the struct. bytes and signature can be
 * stored and turned back into a proposal with gx_fabric_msg_proposal_parse() (same tx id, re-sendable as is). */
struct gx_fabric_proposal {
	char tx_id[GX_FABRIC_TXID_SIZE];
	char *channel_id;
	char *chaincode_id;
	struct gx_fabric_msg_buf bytes;     /* serialized protos.Proposal (proposal_bytes) */
	struct gx_fabric_msg_buf signature; /* DER low-S ECDSA over SHA-256(bytes) */
};

/* Build and sign a proposal: header type ENDORSER_TRANSACTION, version 0, epoch 0, timestamp now, fresh 24-byte
 * nonce, tx id = hex(SHA-256(nonce || creator)), ChaincodeHeaderExtension{chaincode name}, ChaincodeInvocationSpec
 * with spec type NODE (as the Node client sends) and input args = [function, args...] (function is
 * "Contract:Function"; args are NUL-terminated strings, all borrowed). Returns NULL (logged) on failure. Caller owns;
 * free with gx_fabric_msg_proposal_free(). */
struct gx_fabric_proposal *gx_fabric_msg_proposal_new(struct gx_fabric_id *id, const char *channel_id,
						      const char *chaincode_id, const char *function,
						      const char *const *args, size_t nargs) GX_MUSTCHECK;

/* Rebuild a proposal from stored proposal_bytes and signature (borrowed, copied): tx id, channel and chaincode are
 * read back from the bytes. Returns NULL and sets err when the bytes are not a proposal. Caller owns the result. */
struct gx_fabric_proposal *gx_fabric_msg_proposal_parse(const void *bytes, size_t len, const void *sig, size_t sig_len,
							struct gx_fabric_error *err) GX_MUSTCHECK;

/* Free a proposal; NULL is a no-op. */
void gx_fabric_msg_proposal_free(struct gx_fabric_proposal *p);

/* Pack gateway.EndorseRequest{tx id, channel, SignedProposal} (no endorsing organisations) into out (caller owns;
 * release with gx_fabric_msg_buf_release()). */
void gx_fabric_msg_endorse_request(const struct gx_fabric_proposal *p, struct gx_fabric_msg_buf *out);

/* Pack gateway.EvaluateRequest{tx id, channel, SignedProposal} into out (caller owns). */
void gx_fabric_msg_evaluate_request(const struct gx_fabric_proposal *p, struct gx_fabric_msg_buf *out);

/* Sign the prepared transaction's payload bytes exactly as received from Endorse and pack
 * gateway.SubmitRequest{tx id, channel, Envelope{payload, signature}} into out (caller owns). Returns 0 or -1
 * (logged). */
int gx_fabric_msg_submit_request(struct gx_fabric_id *id, const char *tx_id, const char *channel_id,
				 const void *payload, size_t payload_len, struct gx_fabric_msg_buf *out) GX_MUSTCHECK;

/* Pack gateway.SignedCommitStatusRequest{request = CommitStatusRequest{tx id, channel, identity = creator},
 * signature} into out (caller owns). Returns 0 or -1 (logged). */
int gx_fabric_msg_commit_status_request(struct gx_fabric_id *id, const char *tx_id, const char *channel_id,
					struct gx_fabric_msg_buf *out) GX_MUSTCHECK;

/* Pack gateway.SignedChaincodeEventsRequest for events of chaincode_id on channel_id starting at start_block
 * (SeekPosition specified) and, when after_tx_id is non-NULL and non-empty, after that transaction (it must be the
 * tx id of an event actually received). Caller owns out. Returns 0 or -1 (logged). */
int gx_fabric_msg_events_request(struct gx_fabric_id *id, const char *channel_id, const char *chaincode_id,
				 uint64_t start_block, const char *after_tx_id,
				 struct gx_fabric_msg_buf *out) GX_MUSTCHECK;

/* A chaincode response (protos.Response). Owned by the struct. */
struct gx_fabric_msg_response {
	int status; /* 200 OK; 4xx/5xx chaincode error */
	char *message;
	struct gx_fabric_msg_buf payload;
};

void gx_fabric_msg_response_release(struct gx_fabric_msg_response *r);

/* Decode gateway.EvaluateResponse into out (must be zeroed; caller releases). Returns 0, or -1 with err set. */
int gx_fabric_msg_parse_evaluate(const void *buf, size_t len, struct gx_fabric_msg_response *out,
				 struct gx_fabric_error *err) GX_MUSTCHECK;

/* Decoded gateway.EndorseResponse. Owned by the struct. */
struct gx_fabric_msg_endorsed {
	struct gx_fabric_msg_buf payload;     /* prepared_transaction.payload exactly as received: sign these bytes */
	char *channel_id;                     /* from the payload's channel header */
	char *tx_id;                          /* idem */
	struct gx_fabric_msg_response result; /* the chaincode's response inside the endorsed transaction */
};

void gx_fabric_msg_endorsed_release(struct gx_fabric_msg_endorsed *e);

/* Decode gateway.EndorseResponse and dig out channel, tx id and chaincode response (Payload.data -> Transaction ->
 * ChaincodeActionPayload -> ProposalResponsePayload -> ChaincodeAction.response). out must be zeroed; caller
 * releases. Returns 0, or -1 with err set. */
int gx_fabric_msg_parse_endorse(const void *buf, size_t len, struct gx_fabric_msg_endorsed *out,
				struct gx_fabric_error *err) GX_MUSTCHECK;

/* Decode gateway.CommitStatusResponse: validation code (enum gx_fabric_tx_code) and block number. Returns 0, or -1
 * with err set. */
int gx_fabric_msg_parse_commit_status(const void *buf, size_t len, int *tx_code, uint64_t *block,
				      struct gx_fabric_error *err) GX_MUSTCHECK;

/* One chaincode event. Owned by the enclosing gx_fabric_msg_events. */
struct gx_fabric_msg_event {
	char *tx_id;
	char *chaincode_id;
	char *event_name;
	struct gx_fabric_msg_buf payload;
};

/* gateway.ChaincodeEventsResponse: all events of one block, in transaction order. */
struct gx_fabric_msg_events {
	uint64_t block;
	size_t n_events;
	struct gx_fabric_msg_event *events;
};

void gx_fabric_msg_events_release(struct gx_fabric_msg_events *ev);

/* Decode gateway.ChaincodeEventsResponse into out (must be zeroed; caller releases). Returns 0, or -1 with err. */
int gx_fabric_msg_parse_events(const void *buf, size_t len, struct gx_fabric_msg_events *out,
			       struct gx_fabric_error *err) GX_MUSTCHECK;

#endif
