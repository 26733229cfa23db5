/* Result and error mapping of the asynchronous Fabric Gateway client (see fabric_client_int.h): a finished call's
 * gRPC status and details as gx_fabric_error, and its response message decoded into the operation's result.
 */
#include "fabric_client_int.h"

#include "gx/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

void gx_fabric_client_status_to_error(struct gx_fabric_client_op *op)
{
	const void *bin = NULL;
	size_t bin_len = 0, i;
	char *msg = grpc_slice_to_c_string(op->details);

	for (i = 0; i < op->md_trailing.count; i++) {
		if (grpc_slice_str_cmp(op->md_trailing.metadata[i].key, STATUS_DETAILS_KEY) == 0) {
			bin = GRPC_SLICE_START_PTR(op->md_trailing.metadata[i].value);
			bin_len = GRPC_SLICE_LENGTH(op->md_trailing.metadata[i].value);
			break;
		}
	}
	if (gx_fabric_error_set_grpc(&op->res.err, (int)op->status, msg, bin, bin_len) < 0)
		gx_log_warn("undecodable %s trailer from fabric peer (%zu bytes)", STATUS_DETAILS_KEY, bin_len);
	gpr_free(msg);
}

/* Copy the received message into out (owned). Returns 0, or -1 with err PROTOCOL when there is none. */
int gx_fabric_client_take_message(struct gx_fabric_client_op *op, struct gx_fabric_msg_buf *out)
{
	grpc_byte_buffer_reader reader;
	grpc_slice s;

	if (!op->recv || !grpc_byte_buffer_reader_init(&reader, op->recv)) {
		gx_fabric_error_set(&op->res.err, GX_FABRIC_ERR_PROTOCOL, "peer answered OK without a message");
		return -1;
	}
	s = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	out->len = GRPC_SLICE_LENGTH(s);
	out->data = gx_xmalloc(out->len);
	if (out->len)
		memcpy(out->data, GRPC_SLICE_START_PTR(s), out->len);
	grpc_slice_unref(s);
	return 0;
}

/* Decode the answer of the stage just completed into op->res. Returns 0 to continue, -1 when op->res.err is set. */
int gx_fabric_client_unary_decode(struct gx_fabric_client_op *op, const struct gx_fabric_msg_buf *msg)
{
	struct gx_fabric_result *r = &op->res;
	struct gx_fabric_msg_endorsed e = { 0 };

	switch (r->stage) {
	case GX_FABRIC_STAGE_EVALUATE:
		if (gx_fabric_msg_parse_evaluate(msg->data, msg->len, &r->response, &r->err) < 0)
			return -1;
		if (r->response.status >= 400) {
			gx_fabric_error_set(&r->err, GX_FABRIC_ERR_CHAINCODE, "%s", r->response.message);
			r->err.chaincode_status = r->response.status;
			return -1;
		}
		return 0;
	case GX_FABRIC_STAGE_ENDORSE:
		if (gx_fabric_msg_parse_endorse(msg->data, msg->len, &e, &r->err) < 0)
			return -1;
		if (strcmp(e.tx_id, r->tx_id) != 0) {
			gx_fabric_error_set(&r->err, GX_FABRIC_ERR_PROTOCOL,
					    "prepared transaction has tx id '%s', expected '%s'", e.tx_id, r->tx_id);
			gx_fabric_msg_endorsed_release(&e);
			return -1;
		}
		r->response = e.result;
		r->prepared = e.payload;
		memset(&e.result, 0, sizeof(e.result));
		memset(&e.payload, 0, sizeof(e.payload));
		gx_fabric_msg_endorsed_release(&e);
		return 0;
	case GX_FABRIC_STAGE_SUBMIT:
		return 0;
	case GX_FABRIC_STAGE_COMMIT:
		if (gx_fabric_msg_parse_commit_status(msg->data, msg->len, &r->tx_code, &r->block, &r->err) < 0)
			return -1;
		if (r->tx_code != GX_FABRIC_TX_VALID) {
			gx_fabric_error_set(&r->err, GX_FABRIC_ERR_TX_INVALID, "%s",
					    gx_fabric_error_tx_name(r->tx_code));
			r->err.tx_code = r->tx_code;
			r->err.block = r->block;
			return -1;
		}
		return 0;
	}
	return 0;
}

/* TRANSACT: start the stage after the one that just succeeded. Returns 0 if started, 1 when the pipeline is done,
 * -1 when starting failed (op->res.err set). */
