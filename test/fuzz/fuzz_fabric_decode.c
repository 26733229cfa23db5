/* libFuzzer target for Fabric Gateway response decoding: the first input byte selects the decoder (EndorseResponse,
 * EvaluateResponse, CommitStatusResponse, ChaincodeEventsResponse, google.rpc.Status details), the rest is the
 * message. Every decoder must either succeed or fail cleanly, without leaks or out-of-bounds reads. */
#include "gx/fabric_error.h"
#include "gx/fabric_msg.h"
#include "gx/log.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gx_fabric_msg_endorsed e = { 0 };
	struct gx_fabric_msg_response r = { 0 };
	struct gx_fabric_msg_events ev = { 0 };
	struct gx_fabric_error err = { 0 };
	uint64_t block;
	int code;
	char *d;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		if (gx_fabric_msg_parse_endorse(data + 1, size - 1, &e, &err) == 0)
			gx_fabric_msg_endorsed_release(&e);
		break;
	case 1:
		if (gx_fabric_msg_parse_evaluate(data + 1, size - 1, &r, &err) == 0)
			gx_fabric_msg_response_release(&r);
		break;
	case 2:
		(void)gx_fabric_msg_parse_commit_status(data + 1, size - 1, &code, &block, &err);
		break;
	case 3:
		if (gx_fabric_msg_parse_events(data + 1, size - 1, &ev, &err) == 0)
			gx_fabric_msg_events_release(&ev);
		break;
	default:
		(void)gx_fabric_error_set_grpc(&err, 10, "fuzz", data + 1, size - 1);
		d = gx_fabric_error_describe(&err);
		(void)gx_fabric_error_retryable(&err);
		(void)gx_fabric_error_is_duplicate(&err);
		free(d);
		break;
	}
	gx_fabric_error_release(&err);
	return 0;
}
