/* Internals shared by the fabric_client*.c files, the asynchronous Fabric Gateway client (contract in
 * gx/fabric_client.h). Not a public header: only common/src/fabric_client*.c include it.
 *
 * fabric_client.c owns the channel, the completion queue and its poll loop, and the blocking wrappers;
 * fabric_client_call.c the operations and their call state machine (unary calls chained into endorse/submit/commit,
 * ChaincodeEvents streams); fabric_client_result.c maps a finished call's status and message to the result.
 */
#ifndef GX_FABRIC_CLIENT_INT_H
#define GX_FABRIC_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "gx/fabric_client.h"

#define M_ENDORSE "/gateway.Gateway/Endorse"
#define M_SUBMIT "/gateway.Gateway/Submit"
#define M_COMMIT "/gateway.Gateway/CommitStatus"
#define M_EVALUATE "/gateway.Gateway/Evaluate"
#define M_EVENTS "/gateway.Gateway/ChaincodeEvents"
#define STATUS_DETAILS_KEY "grpc-status-details-bin"
#define MAX_MESSAGE (100 * 1024 * 1024)
#define MIN_KEEPALIVE_MS 60000
#define TLS_FILE_MAX (1024 * 1024)

/* What a completion-queue tag stands for. */
enum tag_kind {
	TAG_UNARY,         /* the single batch of a unary call */
	TAG_STREAM_RECV,   /* one RECV_MESSAGE */
	TAG_STREAM_STATUS, /* request out + RECV_STATUS_ON_CLIENT: completes when the stream ends */
};

struct gx_fabric_client_op;

struct gx_fabric_client_tag {
	struct gx_fabric_client_op *op;
	enum tag_kind kind;
};

/* One operation in flight. Created by a start function, freed by finish() on the poll thread. */
struct gx_fabric_client_op {
	struct gx_fabric_client *c;
	uint64_t id;
	bool is_stream;
	bool cancelled;  /* guarded by c->lock */
	grpc_call *call; /* guarded by c->lock (set/cleared), used freely by the poll thread */
	struct gx_fabric_client_tag t_unary, t_recv, t_status;
	atomic_int pending; /* stream batches not yet completed (the start path may run on another thread) */
	grpc_metadata_array md_initial, md_trailing;
	grpc_byte_buffer *send, *recv;
	grpc_status_code status;
	grpc_slice details;
	struct gx_fabric_msg_buf commit_req; /* TRANSACT: prepared before Submit */
	struct gx_fabric_result res;
	gx_fabric_client_cb cb;
	gx_fabric_client_events_cb ecb;
	void *arg;
	struct gx_fabric_client_op *prev, *next;
};

struct gx_fabric_client {
	struct gx_fabric_id *id; /* borrowed */
	char *channel_id;
	char *chaincode_id;
	grpc_channel *channel;
	grpc_completion_queue *cq;
	bool wait_for_ready;
	int timeout_ms[GX_FABRIC_STAGE_COMMIT + 1]; /* by enum gx_fabric_stage */
	pthread_mutex_t lock;                       /* guards ops, next_id, op->call, op->cancelled */
	struct gx_fabric_client_op *ops;
	uint64_t next_id;
	atomic_size_t in_flight;
	atomic_bool stop;
	bool closing; /* guarded by lock: gx_fabric_client_free() runs, no new calls */
};

/* ---- the call state machine (fabric_client_call.c), driven by gx_fabric_client_poll ---- */

/* The single batch of a unary call completed (ok: the batch succeeded). */
void gx_fabric_client_unary_done(struct gx_fabric_client_op *op, bool ok);
/* A stream batch (t: receive or status) completed. */
void gx_fabric_client_stream_done(struct gx_fabric_client_tag *t, bool ok);

/* ---- result and error mapping (fabric_client_result.c) ---- */

/* op->res.err from the call's status, details and grpc-status-details-bin trailer. */
void gx_fabric_client_status_to_error(struct gx_fabric_client_op *op);
/* Move the received message of op into out (caller releases). 0, or -1 when there is none or it cannot be read. */
int gx_fabric_client_take_message(struct gx_fabric_client_op *op, struct gx_fabric_msg_buf *out);
/* Decode the response msg of op's current stage into op->res. 0, or -1 with op->res.err set. */
int gx_fabric_client_unary_decode(struct gx_fabric_client_op *op, const struct gx_fabric_msg_buf *msg);

#endif
