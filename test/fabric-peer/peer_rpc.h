/* gRPC core server of the Fabric peer stand-in: one thread per call, each with its own pluck completion queue, so
 * blocking CommitStatus calls and never-ending ChaincodeEvents streams run beside Endorse/Submit traffic. The main
 * thread only accepts calls. A handler receives the request bytes, may stream messages, and ends the call exactly
 * once with peer_rpc_finish().
 */
#ifndef PEER_RPC_H
#define PEER_RPC_H

#include <stdbool.h>
#include <stddef.h>

#include <grpc/status.h>

#include "peer.h"

struct peer_call;

/* Serve until peer_rpc_stop() is called (from any thread), then cancel calls, wait for handlers, return.
 * Binds cfg.listen, logs {"msg":"listening","port":N} and stores the bound address in p->address.
 * Returns 0, or -1 (logged) when the server cannot start. */
int peer_rpc_serve(struct peer *p);
/* Ask peer_rpc_serve() to return. Not async-signal-safe: call from a normal thread while it runs. */
void peer_rpc_stop(struct peer *p);

/* The request message (borrowed, valid until the call ends). */
const unsigned char *peer_rpc_request(struct peer_call *c, size_t *len);
/* Short method name: "Endorse", "Submit", ... (borrowed). */
const char *peer_rpc_method(struct peer_call *c);
/* True once the client cancelled or the deadline passed (or the server is stopping). */
bool peer_rpc_cancelled(struct peer_call *c);
/* Send one message of a server stream. Returns 0, or -1 when the call is gone. */
int peer_rpc_send(struct peer_call *c, const void *msg, size_t len);
/* End the call: optional response message (resp may be NULL), status code and message, and when detail is not
 * NULL a grpc-status-details-bin google.rpc.Status carrying one gateway.ErrorDetail{address, msp_id, detail}. */
void peer_rpc_finish(struct peer_call *c, grpc_status_code code, const char *msg, const void *resp, size_t resp_len,
		     const char *detail);

#endif
