/* Fabric Gateway errors: one struct for every way a Gateway operation can fail (gRPC status with the peer's
 * ErrorDetails, a committed-but-invalid transaction, a chaincode error response, an undecodable answer, a local
 * failure), the transaction validation codes, and the retry classification the outbox-submitter relies on.
 *
 * Classification (gx_fabric_error_retryable):
 *   retryable: gRPC UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, CANCELLED, INTERNAL; UNKNOWN and ABORTED
 *              unless a chaincode response ("chaincode response NNN") or a duplicate tx id is reported;
 *              validation codes MVCC_READ_CONFLICT and PHANTOM_READ_CONFLICT (these need a NEW proposal, see
 *              gx_fabric_error_needs_new_txid).
 *   permanent: INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION, OUT_OF_RANGE,
 *              UNIMPLEMENTED, UNAUTHENTICATED, DATA_LOSS; any chaincode 4xx/5xx response; every other validation
 *              code; undecodable responses and local failures.
 *   duplicate: the transaction id is already on the ledger (validation code DUPLICATE_TXID or "duplicate
 *              transaction found" from an endorser). Not retryable; for a tx id we submitted ourselves it means
 *              "already submitted": ask CommitStatus for the first occurrence (gx_fabric_error_is_duplicate).
 */
#ifndef GX_FABRIC_ERROR_H
#define GX_FABRIC_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gx/util.h"

/* protos.TxValidationCode: result of validating a committed transaction. */
enum gx_fabric_tx_code {
	GX_FABRIC_TX_VALID = 0,
	GX_FABRIC_TX_NIL_ENVELOPE = 1,
	GX_FABRIC_TX_BAD_PAYLOAD = 2,
	GX_FABRIC_TX_BAD_COMMON_HEADER = 3,
	GX_FABRIC_TX_BAD_CREATOR_SIGNATURE = 4,
	GX_FABRIC_TX_INVALID_ENDORSER_TRANSACTION = 5,
	GX_FABRIC_TX_INVALID_CONFIG_TRANSACTION = 6,
	GX_FABRIC_TX_UNSUPPORTED_TX_PAYLOAD = 7,
	GX_FABRIC_TX_BAD_PROPOSAL_TXID = 8,
	GX_FABRIC_TX_DUPLICATE_TXID = 9,
	GX_FABRIC_TX_ENDORSEMENT_POLICY_FAILURE = 10,
	GX_FABRIC_TX_MVCC_READ_CONFLICT = 11,
	GX_FABRIC_TX_PHANTOM_READ_CONFLICT = 12,
	GX_FABRIC_TX_UNKNOWN_TX_TYPE = 13,
	GX_FABRIC_TX_TARGET_CHAIN_NOT_FOUND = 14,
	GX_FABRIC_TX_MARSHAL_TX_ERROR = 15,
	GX_FABRIC_TX_NIL_TXACTION = 16,
	GX_FABRIC_TX_EXPIRED_CHAINCODE = 17,
	GX_FABRIC_TX_CHAINCODE_VERSION_CONFLICT = 18,
	GX_FABRIC_TX_BAD_HEADER_EXTENSION = 19,
	GX_FABRIC_TX_BAD_CHANNEL_HEADER = 20,
	GX_FABRIC_TX_BAD_RESPONSE_PAYLOAD = 21,
	GX_FABRIC_TX_BAD_RWSET = 22,
	GX_FABRIC_TX_ILLEGAL_WRITESET = 23,
	GX_FABRIC_TX_INVALID_WRITESET = 24,
	GX_FABRIC_TX_INVALID_CHAINCODE = 25,
	GX_FABRIC_TX_NOT_VALIDATED = 254,
	GX_FABRIC_TX_INVALID_OTHER_REASON = 255,
};

enum gx_fabric_error_kind {
	GX_FABRIC_ERR_NONE = 0,   /* success */
	GX_FABRIC_ERR_GRPC,       /* the call ended with a non-OK gRPC status (grpc_code, message, details) */
	GX_FABRIC_ERR_TX_INVALID, /* committed in block `block` but invalid: tx_code != VALID */
	GX_FABRIC_ERR_CHAINCODE,  /* gRPC OK but the chaincode answered status >= 400 (chaincode_status, message) */
	GX_FABRIC_ERR_PROTOCOL,   /* the peer's answer could not be decoded or does not match the request */
	GX_FABRIC_ERR_LOCAL,      /* building, signing or starting the call failed on our side */
};

/* One google.rpc.Status detail of type gateway.ErrorDetail: a remote endpoint that failed. Strings owned. */
struct gx_fabric_error_detail {
	char *address;
	char *msp_id;
	char *message;
};

/* Plain data; a zeroed struct means "no error". Strings and the details array are owned by the struct and freed by
 * gx_fabric_error_release(). */
struct gx_fabric_error {
	enum gx_fabric_error_kind kind;
	int grpc_code;        /* grpc_status_code for GX_FABRIC_ERR_GRPC, else 0 */
	int tx_code;          /* enum gx_fabric_tx_code for GX_FABRIC_ERR_TX_INVALID, else 0 */
	int chaincode_status; /* for GX_FABRIC_ERR_CHAINCODE, else 0 */
	uint64_t block;       /* block of an invalid transaction */
	char *message;        /* gRPC status message or a description; may be NULL */
	size_t n_details;
	struct gx_fabric_error_detail *details;
};

/* Free what e owns and zero it (kind becomes NONE). NULL is a no-op. */
void gx_fabric_error_release(struct gx_fabric_error *e);

/* Deep-copy src into dst (dst is overwritten, not released first). */
void gx_fabric_error_copy(struct gx_fabric_error *dst, const struct gx_fabric_error *src);

/* Set e to a gRPC failure: code, message (borrowed, copied; may be NULL) and the serialized google.rpc.Status from
 * the grpc-status-details-bin trailer (borrowed; NULL/0 when absent). Details that are not gateway.ErrorDetail are
 * skipped. Returns 0, or -1 when the trailer cannot be decoded (e is still set, without details; not logged: the
 * caller decides). e must be released or zeroed before. */
int gx_fabric_error_set_grpc(struct gx_fabric_error *e, int grpc_code, const char *message, const void *status_bin,
			     size_t status_len);

/* Set e to kind with a printf-formatted message (kinds other than GRPC). e must be released or zeroed before. */
void gx_fabric_error_set(struct gx_fabric_error *e, enum gx_fabric_error_kind kind, const char *fmt, ...)
	GX_PRINTF(3, 4);

/* True when the operation may succeed if tried again (see the classification above). False for NONE. */
bool gx_fabric_error_retryable(const struct gx_fabric_error *e);

/* True when a retry must build a new proposal (new nonce, new tx id): MVCC/phantom read conflicts. */
bool gx_fabric_error_needs_new_txid(const struct gx_fabric_error *e);

/* True when the peer reports that the transaction id is already on the ledger. */
bool gx_fabric_error_is_duplicate(const struct gx_fabric_error *e);

/* The chaincode's status (400..599) when the failure is a chaincode response: GX_FABRIC_ERR_CHAINCODE, or a gRPC
 * error whose message or details contain "chaincode response NNN". Returns 0 when there is none. */
int gx_fabric_error_chaincode_response(const struct gx_fabric_error *e);

/* One-line description, e.g. "ABORTED: failed to endorse transaction [peer0:7051 (Org1MSP): chaincode response 400,
 * insufficient funds]". Caller owns; free(). */
char *gx_fabric_error_describe(const struct gx_fabric_error *e);

/* Name of a gRPC status code ("UNAVAILABLE"), or "UNRECOGNISED_CODE" (static storage). */
const char *gx_fabric_error_grpc_name(int grpc_code);

/* Name of a validation code ("MVCC_READ_CONFLICT"), or "UNKNOWN_CODE" (static storage). */
const char *gx_fabric_error_tx_name(int tx_code);

#endif
