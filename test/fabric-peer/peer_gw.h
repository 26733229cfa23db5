/* The five /gateway.Gateway methods of the Fabric peer stand-in: request validation (signatures, identities, tx
 * ids, channel and chaincode names), endorsement by simulation with the chaincode model, ordering into the ledger,
 * commit status and chaincode event streams, with the gRPC statuses, messages and ErrorDetails of a Fabric 2.5
 * gateway:
 *   - at most cfg.gateway_concurrency calls at once (every method, open ChaincodeEvents streams included); the
 *     excess gets UNKNOWN "too many requests for /gateway.Gateway, exceeding concurrency limit (N)", no details,
 *     and a warn log line; counters in struct peer (gw_active, gw_peak, gw_calls, gw_refused);
 *   - Endorse/Evaluate of an unknown chaincode (or Endorse on an unknown channel): FAILED_PRECONDITION with the
 *     gateway's planning message; Evaluate on an unknown channel: UNAVAILABLE (no channel configuration); Submit on
 *     one: FAILED_PRECONDITION; CommitStatus and ChaincodeEvents on one: PERMISSION_DENIED (no policy manager);
 *   - a chaincode error: Endorse ABORTED "failed to endorse transaction, see attached details for more info",
 *     Evaluate UNKNOWN "evaluate call to endorser returned error: <detail>", with one ErrorDetail{address, mspId,
 *     "chaincode response <status>, <message>"}; status 500 for every error (a Go contractapi chaincode) unless
 *     cfg.error_status_http keeps the model's 400/403/404/409/423;
 *   - every simulation waits cfg.endorse_latency_ms plus a random 0..cfg.endorse_jitter_ms;
 *   - endorsements are ECDSA signatures of the peer identity (peer_sign.h), verified again at commit.
 */
#ifndef PEER_GW_H
#define PEER_GW_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "peer.h"
#include "peer_rpc.h"

/* Handle one call (runs on the call's thread; ends it with peer_rpc_finish()). */
void peer_gw_handle(struct peer *p, struct peer_call *c);

/* Evaluate (endorse false) or Endorse (peer_endorse.c). */
void peer_endorse_handle(struct peer *p, struct peer_call *c, bool endorse);

/* Helpers shared by the gateway's modules. */
/* hex(SHA-256(a || b)): a tx id from nonce and creator. */
void peer_gw_txid(const void *a, size_t alen, const void *b, size_t blen, char out[65]);
/* Pack any protobuf-c message into a new heap buffer (caller frees). */
unsigned char *peer_gw_pack(const ProtobufCMessage *m, size_t *len);
/* Log a refused request at info level (the client's error, not the peer's). */
void peer_gw_log_reject(struct peer_call *c, const char *why);
/* Sleep up to ms in small steps, returning early when the call is cancelled. */
void peer_gw_delay(struct peer_call *c, int ms);

#endif
