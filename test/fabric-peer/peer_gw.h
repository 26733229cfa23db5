/* The five /gateway.Gateway methods of the Fabric peer stand-in: request validation (signatures, identities, tx
 * ids, channel and chaincode names), endorsement by simulation with the chaincode model, ordering into the ledger,
 * commit status and chaincode event streams, with Fabric's gRPC error model.
 */
#ifndef PEER_GW_H
#define PEER_GW_H

#include "peer.h"
#include "peer_rpc.h"

/* Handle one call (runs on the call's thread; ends it with peer_rpc_finish()). */
void peer_gw_handle(struct peer *p, struct peer_call *c);

#endif
