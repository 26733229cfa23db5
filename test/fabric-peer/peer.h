/* The Fabric peer stand-in (gx-fabric-peer): configuration and the one process state shared by its modules.
 * Created in main() and read-only after start except for the fields marked otherwise.
 */
#ifndef PEER_H
#define PEER_H

#include <stdatomic.h>
#include <stdbool.h>

struct peer_cfg {
	const char *listen; /* host:port; port 0 picks a free one */
	const char *ledger_dir;
	const char *ca_cert;  /* MSP CA, PEM */
	const char *tls_cert; /* server TLS certificate and key (PEM); both NULL for plaintext */
	const char *tls_key;
	const char *tls_client_ca; /* when set, clients must present a certificate from this CA (mTLS) */
	int block_size;
	int block_timeout_ms;
	const char *msp_id;
	const char *channel;
	const char *chaincode;
	const char *fault_file; /* control file of peer_fault.h, NULL for none */
};

struct peer {
	struct peer_cfg cfg;
	char *address; /* host:bound-port, reported in ErrorDetail.address */
	struct peer_msp *msp;
	struct peer_ledger *ledger;
	struct peer_fault *fault;
	unsigned char endorse_key[32]; /* HMAC key of this peer's endorsements (persisted in the ledger dir) */
	struct peer_rpc *rpc;          /* the gRPC server while peer_rpc_serve() runs */
	atomic_bool stopping;          /* set on SIGTERM: waits and streams end */
};

#endif
