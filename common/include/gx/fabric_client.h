/* Asynchronous Fabric Gateway client over gRPC core: Evaluate, Endorse, Submit, CommitStatus, the whole
 * endorse -> sign -> submit -> commit-status pipeline ("transact"), and long-lived ChaincodeEvents streams.
 *
 * Model: one client = one gRPC channel (one peer endpoint, lazy connect, gRPC's reconnect with backoff) + one
 * completion queue. Operations can be started from any thread; each started operation (return 0) gets exactly one
 * completion callback (events streams: one callback per block and a final one), always on the thread that runs
 * gx_fabric_client_poll()/gx_fabric_client_run(). Exactly ONE thread may poll a client at a time. Thousands of
 * operations can be in flight; every call has a deadline (opts timeouts; streams: none, cancel them).
 *
 * Outbox-submitter style (a dedicated Fabric thread, the DB thread starts work):
 *
 *   struct gx_fabric_client_opts o = { .endpoint = "peer0:7051", .channel_id = "gxchannel",
 *                                      .chaincode_id = "gxtv3", .tls_ca_file = "tlsca.pem" };
 *   struct gx_fabric_client *c = gx_fabric_client_new(&o, id);
 *   pthread_create(&t, NULL, fabric_thread, c);          // fabric_thread: gx_fabric_client_run(c); return NULL;
 *
 *   // any thread: build + persist the proposal (tx id, bytes) first, then
 *   struct gx_fabric_proposal *p = gx_fabric_msg_proposal_new(id, "gxchannel", "gxtv3", "Contract:Fn", a, n);
 *   store(p->tx_id, p->bytes, p->signature);
 *   gx_fabric_client_transact(c, p, on_done, row);       // p may be freed right after the call returns
 *   gx_fabric_msg_proposal_free(p);
 *
 *   static void on_done(struct gx_fabric_result *r, void *arg)   // runs on the fabric thread
 *   {
 *           if (r->err.kind == GX_FABRIC_ERR_NONE)             committed valid in r->block
 *           else if (gx_fabric_error_is_duplicate(&r->err))    already submitted: gx_fabric_client_commit_status()
 *           else if (gx_fabric_error_needs_new_txid(&r->err))  MVCC conflict: new proposal, retry
 *           else if (gx_fabric_error_retryable(&r->err))       same proposal again later (r->stage tells where)
 *           else                                               permanent: gx_fabric_error_describe(&r->err)
 *   }
 *
 *   gx_fabric_client_stop(c); pthread_join(t, NULL); gx_fabric_client_free(c);
 *
 * Tools and tests can instead call the blocking wrappers (gx_fabric_client_transact_sync, ..._evaluate_sync), which
 * poll the client themselves; do not combine them with a running poll thread.
 */
#ifndef GX_FABRIC_CLIENT_H
#define GX_FABRIC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gx/fabric_error.h"
#include "gx/fabric_id.h"
#include "gx/fabric_msg.h"
#include "gx/util.h"

/* Connection options. Strings are borrowed for the duration of gx_fabric_client_new() only. */
struct gx_fabric_client_opts {
	const char *endpoint;      /* "host:port" (required) */
	const char *channel_id;    /* e.g. "gxchannel" (required) */
	const char *chaincode_id;  /* chaincode name, e.g. "gxtv3" (required) */
	const char *tls_ca_file;   /* PEM root certificate(s) of the peer's TLS CA; NULL = plaintext */
	const char *tls_cert_file; /* client TLS certificate for mutual TLS (with tls_key_file); NULL = none */
	const char *tls_key_file;
	const char *server_name; /* expected TLS server name (grpc.ssl_target_name_override); NULL = endpoint host */
	bool wait_for_ready;     /* while disconnected, queue calls until their deadline instead of failing fast */
	int keepalive_ms;        /* 0 = 60000; raised to 60000 (the peer's minimum ping interval) */
	int reconnect_max_ms;    /* maximum reconnect backoff; 0 = 30000 */
	int evaluate_timeout_ms; /* deadlines; 0 = 5000 */
	int endorse_timeout_ms;  /* 0 = 15000 */
	int submit_timeout_ms;   /* 0 = 5000 */
	int commit_timeout_ms;   /* CommitStatus blocks until commit; 0 = 60000 */
};

enum gx_fabric_op {
	GX_FABRIC_OP_EVALUATE = 1,
	GX_FABRIC_OP_ENDORSE,
	GX_FABRIC_OP_SUBMIT,
	GX_FABRIC_OP_COMMIT_STATUS,
	GX_FABRIC_OP_TRANSACT,       /* endorse + submit + commit status */
	GX_FABRIC_OP_ENDORSE_SUBMIT, /* endorse + submit: the commit is learnt from an events stream */
};

/* The RPC an operation was in when it ended (for TRANSACT: ENDORSE failures mean nothing was sent to ordering;
 * SUBMIT DEADLINE_EXCEEDED is ambiguous; COMMIT failures mean the transaction was accepted by ordering). */
enum gx_fabric_stage {
	GX_FABRIC_STAGE_EVALUATE = 1,
	GX_FABRIC_STAGE_ENDORSE,
	GX_FABRIC_STAGE_SUBMIT,
	GX_FABRIC_STAGE_COMMIT,
};

/* Result of one operation. Owned by the client during the callback; the callback may take ownership of any owned
 * member by moving it out and zeroing it. Filled members by op:
 *   EVALUATE      response (chaincode status/message/payload); err CHAINCODE when response.status >= 400
 *   ENDORSE       response (endorsed chaincode response), prepared (unsigned envelope payload for submit)
 *   SUBMIT        nothing besides err
 *   COMMIT_STATUS tx_code, block; err TX_INVALID when tx_code != VALID
 *   TRANSACT      all of the above that were reached; stage = last RPC started */
struct gx_fabric_result {
	enum gx_fabric_op op;
	enum gx_fabric_stage stage;
	char tx_id[GX_FABRIC_TXID_SIZE];
	struct gx_fabric_error err; /* kind GX_FABRIC_ERR_NONE on success */
	struct gx_fabric_msg_response response;
	struct gx_fabric_msg_buf prepared;
	int tx_code;
	uint64_t block;
};

/* Free what r owns and zero it. NULL is a no-op. */
void gx_fabric_client_result_release(struct gx_fabric_result *r);

typedef void (*gx_fabric_client_cb)(struct gx_fabric_result *res, void *arg);

/* Events stream callback: ev != NULL for each block with events (borrowed, valid during the call); the next block is
 * requested when the callback returns (a slow callback is back-pressure, one message at a time). The last call has
 * ev == NULL and end set (borrowed): CANCELLED after gx_fabric_client_cancel(), UNAVAILABLE "event stream closed by
 * the peer" when the peer ended the stream with OK, the peer's status otherwise, or PROTOCOL for an undecodable
 * message. After the last call the stream id is dead. */
typedef void (*gx_fabric_client_events_cb)(const struct gx_fabric_msg_events *ev, const struct gx_fabric_error *end,
					   void *arg);

struct gx_fabric_client;

/* Create a client (calls grpc_init()). The identity is borrowed and must outlive the client. Returns NULL (logged)
 * on bad options or unreadable TLS files. Caller owns; free with gx_fabric_client_free(). */
struct gx_fabric_client *gx_fabric_client_new(const struct gx_fabric_client_opts *opts,
					      struct gx_fabric_id *id) GX_MUSTCHECK;

/* Cancel every operation in flight, run their callbacks (with CANCELLED) on the calling thread, and free the client.
 * The poll thread must have stopped. NULL is a no-op. */
void gx_fabric_client_free(struct gx_fabric_client *c);

/* The identity the client signs with (borrowed). */
struct gx_fabric_id *gx_fabric_client_id(struct gx_fabric_client *c);

/* Start operations. Thread-safe. The proposal and buffers are borrowed only during the call. On success return 0,
 * store the operation id in *op_id when op_id is not NULL, and call cb exactly once later on the poll thread. On
 * failure return -1 (logged) and never call cb. */
int gx_fabric_client_evaluate(struct gx_fabric_client *c, const struct gx_fabric_proposal *p, gx_fabric_client_cb cb,
			      void *arg, uint64_t *op_id) GX_MUSTCHECK;
int gx_fabric_client_endorse(struct gx_fabric_client *c, const struct gx_fabric_proposal *p, gx_fabric_client_cb cb,
			     void *arg, uint64_t *op_id) GX_MUSTCHECK;
/* Sign payload (the prepared transaction from Endorse, as received) and submit it. */
int gx_fabric_client_submit(struct gx_fabric_client *c, const char *tx_id, const void *payload, size_t payload_len,
			    gx_fabric_client_cb cb, void *arg, uint64_t *op_id) GX_MUSTCHECK;
/* Ask for the commit status of tx_id, waiting up to timeout_ms (0 = opts.commit_timeout_ms) for the commit. */
int gx_fabric_client_commit_status(struct gx_fabric_client *c, const char *tx_id, int timeout_ms,
				   gx_fabric_client_cb cb, void *arg, uint64_t *op_id) GX_MUSTCHECK;
/* Endorse, sign, submit and wait for the commit status; the CommitStatus request is built before Submit. */
int gx_fabric_client_transact(struct gx_fabric_client *c, const struct gx_fabric_proposal *p, gx_fabric_client_cb cb,
			      void *arg, uint64_t *op_id) GX_MUSTCHECK;

/* Endorse, sign and submit, without waiting for the commit (one Gateway call at a time, none held for the block):
 * success means the orderer accepted the transaction; learn its outcome from a ChaincodeEvents stream, or ask
 * gx_fabric_client_commit_status(). */
int gx_fabric_client_endorse_submit(struct gx_fabric_client *c, const struct gx_fabric_proposal *p,
				    gx_fabric_client_cb cb, void *arg, uint64_t *op_id) GX_MUSTCHECK;
/* Open a ChaincodeEvents stream for the client's chaincode from start_block (and after after_tx_id when non-empty;
 * borrowed). No deadline: stop it with gx_fabric_client_cancel(). Same start/cb contract as above. */
int gx_fabric_client_events(struct gx_fabric_client *c, uint64_t start_block, const char *after_tx_id,
			    gx_fabric_client_events_cb cb, void *arg, uint64_t *stream_id) GX_MUSTCHECK;

/* Cancel an operation or stream by id (thread-safe; unknown or finished ids are ignored). Its callback still runs,
 * with a CANCELLED error unless it had already completed. */
void gx_fabric_client_cancel(struct gx_fabric_client *c, uint64_t op_id);

/* Wait up to timeout_ms for completions and run their callbacks; returns how many were handled. */
int gx_fabric_client_poll(struct gx_fabric_client *c, int timeout_ms);

/* Poll until gx_fabric_client_stop() is called (from any thread, or from a callback). */
void gx_fabric_client_run(struct gx_fabric_client *c);
void gx_fabric_client_stop(struct gx_fabric_client *c);

/* Number of operations and streams whose callback has not run yet. Thread-safe. */
size_t gx_fabric_client_in_flight(struct gx_fabric_client *c);

/* Blocking wrappers for tools and tests: build a proposal for function/args (borrowed), run the operation, poll until
 * it completes. out (caller releases with gx_fabric_client_result_release()) receives the result; when the
 * proposal cannot be built out->err is LOCAL. Returns 0 when out->err.kind is NONE, else -1 (not logged: the error
 * is in out->err). */
int gx_fabric_client_transact_sync(struct gx_fabric_client *c, const char *function, const char *const *args,
				   size_t nargs, struct gx_fabric_result *out);
int gx_fabric_client_evaluate_sync(struct gx_fabric_client *c, const char *function, const char *const *args,
				   size_t nargs, struct gx_fabric_result *out);
/* Same for an existing tx id's commit status. */
int gx_fabric_client_commit_status_sync(struct gx_fabric_client *c, const char *tx_id, int timeout_ms,
					struct gx_fabric_result *out);

#endif
