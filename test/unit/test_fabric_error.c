/* Unit tests for gx/fabric_error: ErrorDetail decoding from a hand-built google.rpc.Status, descriptions, and the
 * retryable / permanent / duplicate classification. */
#include "gx/fabric_error.h"
#include "gx/log.h"
#include "gx_test.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/gateway.pb-c.h"
#include "google/rpc/status.pb-c.h"

static void pack_detail(Google__Protobuf__Any *any, const char *type_url, const char *addr, const char *msp,
			const char *msg)
{
	Gateway__ErrorDetail d = GATEWAY__ERROR_DETAIL__INIT;

	d.address = (char *)addr;
	d.msp_id = (char *)msp;
	d.message = (char *)msg;
	any->type_url = (char *)type_url;
	any->value.len = gateway__error_detail__get_packed_size(&d);
	any->value.data = malloc(any->value.len);
	gateway__error_detail__pack(&d, any->value.data);
}

/* google.rpc.Status with two ErrorDetails and one foreign detail in between. */
static unsigned char *status_bin(const char *detail_msg, size_t *len)
{
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT, b = GOOGLE__PROTOBUF__ANY__INIT,
			      x = GOOGLE__PROTOBUF__ANY__INIT;
	Google__Protobuf__Any *details[3] = { &a, &x, &b };
	unsigned char *out;

	pack_detail(&a, "type.googleapis.com/gateway.ErrorDetail", "peer0.org1:7051", "Org1MSP", detail_msg);
	pack_detail(&b, "type.googleapis.com/gateway.ErrorDetail", "orderer0:7050", "OrdererMSP", "timeout");
	x.type_url = (char *)"type.googleapis.com/google.rpc.DebugInfo";
	x.value.data = (uint8_t *)"\x0a\x01z";
	x.value.len = 3;
	st.code = 10;
	st.message = (char *)"failed to endorse transaction, see attached details for more info";
	st.n_details = 3;
	st.details = details;
	*len = google__rpc__status__get_packed_size(&st);
	out = malloc(*len);
	google__rpc__status__pack(&st, out);
	free(a.value.data);
	free(b.value.data);
	return out;
}

GX_TEST(decodes_error_details)
{
	struct gx_fabric_error e = { 0 }, copy;
	size_t len;
	unsigned char *bin = status_bin("chaincode response 400, insufficient funds", &len);
	char *d;

	GX_CHECK(gx_fabric_error_set_grpc(&e, 10, "failed to endorse transaction", bin, len) == 0);
	GX_CHECK(e.kind == GX_FABRIC_ERR_GRPC && e.grpc_code == 10);
	GX_CHECK(e.n_details == 2);
	if (e.n_details == 2) {
		GX_CHECK_STR(e.details[0].address, "peer0.org1:7051");
		GX_CHECK_STR(e.details[0].msp_id, "Org1MSP");
		GX_CHECK_STR(e.details[0].message, "chaincode response 400, insufficient funds");
		GX_CHECK_STR(e.details[1].msp_id, "OrdererMSP");
	}
	GX_CHECK(gx_fabric_error_chaincode_response(&e) == 400);
	GX_CHECK(!gx_fabric_error_retryable(&e));
	d = gx_fabric_error_describe(&e);
	GX_CHECK(strstr(d, "ABORTED: failed to endorse transaction") == d);
	GX_CHECK(strstr(d, "peer0.org1:7051 (Org1MSP): chaincode response 400, insufficient funds") != NULL);
	free(d);
	gx_fabric_error_copy(&copy, &e);
	gx_fabric_error_release(&e);
	GX_CHECK(copy.n_details == 2 && strcmp(copy.details[1].message, "timeout") == 0);
	gx_fabric_error_release(&copy);
	GX_CHECK(copy.kind == GX_FABRIC_ERR_NONE && copy.details == NULL);
	free(bin);

	/* garbage trailer: error kept, no details, -1 */
	GX_CHECK(gx_fabric_error_set_grpc(&e, 14, "down", "\xff\xff\xff", 3) < 0);
	GX_CHECK(e.kind == GX_FABRIC_ERR_GRPC && e.grpc_code == 14 && e.n_details == 0);
	GX_CHECK_STR(e.message, "down");
	gx_fabric_error_release(&e);
}

static bool grpc_retryable(int code, const char *msg, const char *detail)
{
	struct gx_fabric_error e = { 0 };
	unsigned char *bin = NULL;
	size_t len = 0;
	bool r;

	if (detail)
		bin = status_bin(detail, &len);
	gx_fabric_error_set_grpc(&e, code, msg, bin, len);
	r = gx_fabric_error_retryable(&e);
	gx_fabric_error_release(&e);
	free(bin);
	return r;
}

GX_TEST(classifies_grpc_errors)
{
	GX_CHECK(grpc_retryable(14, "no connection", NULL)); /* UNAVAILABLE */
	GX_CHECK(grpc_retryable(4, "deadline", NULL));       /* DEADLINE_EXCEEDED */
	GX_CHECK(grpc_retryable(8, "exhausted", NULL));      /* RESOURCE_EXHAUSTED */
	GX_CHECK(grpc_retryable(2, "too many requests for /gateway.Gateway, exceeding concurrency limit (500)", NULL));
	GX_CHECK(grpc_retryable(10, "failed to endorse transaction", "stream terminated"));
	GX_CHECK(!grpc_retryable(10, "failed to endorse transaction", "chaincode response 500, boom"));
	GX_CHECK(!grpc_retryable(2, "evaluate call to endorser returned error: chaincode response 404, nope", NULL));
	GX_CHECK(!grpc_retryable(3, "bad proposal", NULL));  /* INVALID_ARGUMENT */
	GX_CHECK(!grpc_retryable(7, "access denied", NULL)); /* PERMISSION_DENIED */
	GX_CHECK(!grpc_retryable(9, "no plan", NULL));       /* FAILED_PRECONDITION */
	GX_CHECK(!grpc_retryable(10, "failed to endorse", "duplicate transaction found [abc]"));
}

GX_TEST(classifies_validation_codes_and_duplicates)
{
	struct gx_fabric_error e = { 0 };
	int code;

	for (code = 0; code <= 255; code++) {
		bool want = code == GX_FABRIC_TX_MVCC_READ_CONFLICT || code == GX_FABRIC_TX_PHANTOM_READ_CONFLICT;
		gx_fabric_error_set(&e, GX_FABRIC_ERR_TX_INVALID, "x");
		e.tx_code = code;
		if (gx_fabric_error_retryable(&e) != want || gx_fabric_error_needs_new_txid(&e) != want ||
		    gx_fabric_error_is_duplicate(&e) != (code == GX_FABRIC_TX_DUPLICATE_TXID)) {
			printf("#   validation code %d misclassified\n", code);
			gx_t_cur_failed = 1;
		}
		gx_fabric_error_release(&e);
	}
	gx_fabric_error_set_grpc(&e, 10, "failed to endorse transaction", NULL, 0);
	GX_CHECK(!gx_fabric_error_is_duplicate(&e));
	gx_fabric_error_release(&e);
	gx_fabric_error_set_grpc(&e, 9, "duplicate transaction found [deadbeef]", NULL, 0);
	GX_CHECK(gx_fabric_error_is_duplicate(&e) && !gx_fabric_error_retryable(&e));
	gx_fabric_error_release(&e);
	gx_fabric_error_set(&e, GX_FABRIC_ERR_CHAINCODE, "insufficient funds");
	e.chaincode_status = 400;
	GX_CHECK(!gx_fabric_error_retryable(&e) && gx_fabric_error_chaincode_response(&e) == 400);
	gx_fabric_error_release(&e);
	gx_fabric_error_set(&e, GX_FABRIC_ERR_PROTOCOL, "garbled");
	GX_CHECK(!gx_fabric_error_retryable(&e));
	gx_fabric_error_release(&e);
	GX_CHECK(!gx_fabric_error_retryable(&e)); /* NONE */
	GX_CHECK_STR(gx_fabric_error_tx_name(11), "MVCC_READ_CONFLICT");
	GX_CHECK_STR(gx_fabric_error_tx_name(255), "INVALID_OTHER_REASON");
	GX_CHECK_STR(gx_fabric_error_grpc_name(14), "UNAVAILABLE");
	GX_CHECK_STR(gx_fabric_error_grpc_name(99), "UNRECOGNISED_CODE");
}

int main(void)
{
	gx_log_init("test_fabric_error");
	gx_log_set_level(GX_LOG_FATAL);
	GX_RUN(decodes_error_details);
	GX_RUN(classifies_grpc_errors);
	GX_RUN(classifies_validation_codes_and_duplicates);
	return gx_test_done();
}
