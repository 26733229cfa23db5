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
	const char *peer_cert;  /* the peer's own MSP identity (PEM), signs endorsements (peer_sign.h) */
	const char *peer_key;
	int gateway_concurrency; /* concurrent /gateway.Gateway calls allowed, 0 = no limit (peer_gw.h) */
	int endorse_latency_ms;  /* added to every chaincode simulation (Evaluate, Endorse) */
	int endorse_jitter_ms;   /* plus a uniform random 0..jitter */
	bool error_status_http;  /* answer chaincode errors with the model's 4xx instead of contractapi's 500 */
	const char *stats_file;  /* JSON counters rewritten every second and at exit, NULL for none */
	char *owned[2];          /* default peer_cert/peer_key paths computed at start (freed at exit) */
};

struct peer {
	struct peer_cfg cfg;
	char *address; /* host:bound-port, reported in ErrorDetail.address */
	struct peer_msp *msp;
	struct peer_ledger *ledger;
	struct peer_fault *fault;
	struct peer_sign *signer; /* the peer identity that signs endorsements */
	struct peer_rpc *rpc;     /* the gRPC server while peer_rpc_serve() runs */
	atomic_bool stopping;     /* set on SIGTERM: waits and streams end */
	/* Gateway call counters (peer_gw.c), written by call threads */
	atomic_int gw_active;     /* calls holding a slot of the concurrency limit */
	atomic_int gw_peak;       /* highest gw_active seen */
	atomic_ullong gw_calls;   /* calls admitted */
	atomic_ullong gw_refused; /* calls refused by the limit */
};

#endif
