/* Fabric Gateway error values: decoding google.rpc.Status ErrorDetails, descriptions and retry classification. */
#include "gx/fabric_error.h"
#include "gx/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway.pb-c.h"
#include "google/rpc/status.pb-c.h"

#define ERROR_DETAIL_TYPE "gateway.ErrorDetail"

/* gRPC status codes (same values as grpc_status_code; kept here so this module does not depend on grpc headers). */
enum {
	CODE_OK = 0,
	CODE_CANCELLED = 1,
	CODE_UNKNOWN = 2,
	CODE_INVALID_ARGUMENT = 3,
	CODE_DEADLINE_EXCEEDED = 4,
	CODE_NOT_FOUND = 5,
	CODE_ALREADY_EXISTS = 6,
	CODE_PERMISSION_DENIED = 7,
	CODE_RESOURCE_EXHAUSTED = 8,
	CODE_FAILED_PRECONDITION = 9,
	CODE_ABORTED = 10,
	CODE_OUT_OF_RANGE = 11,
	CODE_UNIMPLEMENTED = 12,
	CODE_INTERNAL = 13,
	CODE_UNAVAILABLE = 14,
	CODE_DATA_LOSS = 15,
	CODE_UNAUTHENTICATED = 16,
};

static const char *const grpc_names[] = {
	"OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
	"DATA_LOSS", "UNAUTHENTICATED",
};

static const char *const tx_names[] = {
	"VALID",
	"NIL_ENVELOPE",
	"BAD_PAYLOAD",
	"BAD_COMMON_HEADER",
	"BAD_CREATOR_SIGNATURE",
	"INVALID_ENDORSER_TRANSACTION",
	"INVALID_CONFIG_TRANSACTION",
	"UNSUPPORTED_TX_PAYLOAD",
	"BAD_PROPOSAL_TXID",
	"DUPLICATE_TXID",
	"ENDORSEMENT_POLICY_FAILURE",
	"MVCC_READ_CONFLICT",
	"PHANTOM_READ_CONFLICT",
	"UNKNOWN_TX_TYPE",
	"TARGET_CHAIN_NOT_FOUND",
	"MARSHAL_TX_ERROR",
	"NIL_TXACTION",
	"EXPIRED_CHAINCODE",
	"CHAINCODE_VERSION_CONFLICT",
	"BAD_HEADER_EXTENSION",
	"BAD_CHANNEL_HEADER",
	"BAD_RESPONSE_PAYLOAD",
	"BAD_RWSET",
	"ILLEGAL_WRITESET",
	"INVALID_WRITESET",
	"INVALID_CHAINCODE",
};

void gx_fabric_error_release(struct gx_fabric_error *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n_details; i++) {
		free(e->details[i].address);
		free(e->details[i].msp_id);
		free(e->details[i].message);
	}
	free(e->details);
	free(e->message);
	memset(e, 0, sizeof(*e));
}

static char *dup_or_null(const char *s)
{
	return s ? gx_xstrdup(s) : NULL;
}

void gx_fabric_error_copy(struct gx_fabric_error *dst, const struct gx_fabric_error *src)
{
	size_t i;

	*dst = *src;
	dst->message = dup_or_null(src->message);
	dst->details = src->n_details ? gx_xcalloc(src->n_details, sizeof(*dst->details)) : NULL;
	for (i = 0; i < src->n_details; i++) {
		dst->details[i].address = dup_or_null(src->details[i].address);
		dst->details[i].msp_id = dup_or_null(src->details[i].msp_id);
		dst->details[i].message = dup_or_null(src->details[i].message);
	}
}

/* The type URL's last path segment names the message type ("type.googleapis.com/gateway.ErrorDetail"). */
static bool is_error_detail(const char *type_url)
{
	const char *slash;

	if (!type_url)
		return false;
	slash = strrchr(type_url, '/');
	return strcmp(slash ? slash + 1 : type_url, ERROR_DETAIL_TYPE) == 0;
}

static int decode_details(struct gx_fabric_error *e, const void *bin, size_t len)
{
	Google__Rpc__Status *st;
	Gateway__ErrorDetail *d;
	size_t i;

	st = google__rpc__status__unpack(NULL, len, bin);
	if (!st)
		return -1;
	if (st->n_details)
		e->details = gx_xcalloc(st->n_details, sizeof(*e->details));
	for (i = 0; i < st->n_details; i++) {
		if (!is_error_detail(st->details[i]->type_url))
			continue;
		d = gateway__error_detail__unpack(NULL, st->details[i]->value.len, st->details[i]->value.data);
		if (!d)
			continue;
		e->details[e->n_details].address = gx_xstrdup(d->address);
		e->details[e->n_details].msp_id = gx_xstrdup(d->msp_id);
		e->details[e->n_details].message = gx_xstrdup(d->message);
		e->n_details++;
		gateway__error_detail__free_unpacked(d, NULL);
	}
	if (!e->n_details) {
		free(e->details);
		e->details = NULL;
	}
	/* The trailer's message is the same text as the status message; keep ours unless we have none. */
	if (!e->message && st->message && *st->message)
		e->message = gx_xstrdup(st->message);
	google__rpc__status__free_unpacked(st, NULL);
	return 0;
}

int gx_fabric_error_set_grpc(struct gx_fabric_error *e, int grpc_code, const char *message, const void *status_bin,
			     size_t status_len)
{
	memset(e, 0, sizeof(*e));
	e->kind = GX_FABRIC_ERR_GRPC;
	e->grpc_code = grpc_code;
	e->message = message && *message ? gx_xstrdup(message) : NULL;
	if (status_bin && status_len)
		return decode_details(e, status_bin, status_len);
	return 0;
}

void gx_fabric_error_set(struct gx_fabric_error *e, enum gx_fabric_error_kind kind, const char *fmt, ...)
{
	va_list ap;
	int n;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	e->message = gx_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(e->message, (size_t)n + 1, fmt, ap);
	va_end(ap);
}

/* True when needle occurs (case-insensitively) in the message or in any detail message. */
static bool mentions(const struct gx_fabric_error *e, const char *needle)
{
	size_t i;

	if (e->message && strcasestr(e->message, needle))
		return true;
	for (i = 0; i < e->n_details; i++)
		if (e->details[i].message && strcasestr(e->details[i].message, needle))
			return true;
	return false;
}

/* "chaincode response 400, ..." -> 400 (first occurrence in s), 0 when absent or not an error status. */
static int parse_cc_status(const char *s)
{
	const char *p;
	int v = 0, digits = 0;

	if (!s || !(p = strcasestr(s, "chaincode response ")))
		return 0;
	for (p += strlen("chaincode response "); *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
		v = v * 10 + (*p - '0');
	return digits == 3 && v >= 400 && v <= 599 ? v : 0;
}

int gx_fabric_error_chaincode_response(const struct gx_fabric_error *e)
{
	size_t i;
	int v;

	if (!e)
		return 0;
	if (e->kind == GX_FABRIC_ERR_CHAINCODE)
		return e->chaincode_status;
	if (e->kind != GX_FABRIC_ERR_GRPC)
		return 0;
	if ((v = parse_cc_status(e->message)) != 0)
		return v;
	for (i = 0; i < e->n_details; i++)
		if ((v = parse_cc_status(e->details[i].message)) != 0)
			return v;
	return 0;
}

bool gx_fabric_error_is_duplicate(const struct gx_fabric_error *e)
{
	if (!e)
		return false;
	if (e->kind == GX_FABRIC_ERR_TX_INVALID)
		return e->tx_code == GX_FABRIC_TX_DUPLICATE_TXID;
	if (e->kind == GX_FABRIC_ERR_GRPC)
		return mentions(e, "duplicate transaction found");
	return false;
}

bool gx_fabric_error_needs_new_txid(const struct gx_fabric_error *e)
{
	return e && e->kind == GX_FABRIC_ERR_TX_INVALID &&
	       (e->tx_code == GX_FABRIC_TX_MVCC_READ_CONFLICT || e->tx_code == GX_FABRIC_TX_PHANTOM_READ_CONFLICT);
}

static bool grpc_retryable(const struct gx_fabric_error *e)
{
	switch (e->grpc_code) {
	case CODE_CANCELLED:
	case CODE_DEADLINE_EXCEEDED:
	case CODE_RESOURCE_EXHAUSTED:
	case CODE_INTERNAL:
	case CODE_UNAVAILABLE:
		return true;
	case CODE_UNKNOWN:
		/* "too many requests ... concurrency limit" and other peer-side failures; a chaincode error is final */
		if (mentions(e, "too many requests"))
			return true;
		return gx_fabric_error_chaincode_response(e) == 0 && !gx_fabric_error_is_duplicate(e);
	case CODE_ABORTED:
		/* peer-side aborts (container died, orderer hiccup) retry; chaincode rejections do not */
		return gx_fabric_error_chaincode_response(e) == 0 && !gx_fabric_error_is_duplicate(e);
	default:
		return false;
	}
}

bool gx_fabric_error_retryable(const struct gx_fabric_error *e)
{
	if (!e)
		return false;
	switch (e->kind) {
	case GX_FABRIC_ERR_GRPC:
		return grpc_retryable(e);
	case GX_FABRIC_ERR_TX_INVALID:
		return gx_fabric_error_needs_new_txid(e);
	default:
		return false;
	}
}

const char *gx_fabric_error_grpc_name(int grpc_code)
{
	if (grpc_code >= 0 && (size_t)grpc_code < GX_ARRAY_LEN(grpc_names))
		return grpc_names[grpc_code];
	return "UNRECOGNISED_CODE";
}

const char *gx_fabric_error_tx_name(int tx_code)
{
	if (tx_code >= 0 && (size_t)tx_code < GX_ARRAY_LEN(tx_names))
		return tx_names[tx_code];
	if (tx_code == GX_FABRIC_TX_NOT_VALIDATED)
		return "NOT_VALIDATED";
	if (tx_code == GX_FABRIC_TX_INVALID_OTHER_REASON)
		return "INVALID_OTHER_REASON";
	return "UNKNOWN_CODE";
}

/* Append printf output to a heap string. */
static char *append(char *s, const char *fmt, ...) GX_PRINTF(2, 3);
static char *append(char *s, const char *fmt, ...)
{
	size_t old = strlen(s);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return s;
	s = gx_xrealloc(s, old + (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s + old, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

char *gx_fabric_error_describe(const struct gx_fabric_error *e)
{
	const char *msg = e->message ? e->message : "";
	char *s;
	size_t i;

	switch (e->kind) {
	case GX_FABRIC_ERR_NONE:
		return gx_xstrdup("ok");
	case GX_FABRIC_ERR_GRPC:
		s = gx_xasprintf("%s: %s", gx_fabric_error_grpc_name(e->grpc_code), msg);
		break;
	case GX_FABRIC_ERR_TX_INVALID:
		return gx_xasprintf("transaction invalid in block %llu: %s", (unsigned long long)e->block,
				    gx_fabric_error_tx_name(e->tx_code));
	case GX_FABRIC_ERR_CHAINCODE:
		return gx_xasprintf("chaincode response %d: %s", e->chaincode_status, msg);
	case GX_FABRIC_ERR_PROTOCOL:
		return gx_xasprintf("bad response from peer: %s", msg);
	default:
		return gx_xasprintf("%s", msg);
	}
	for (i = 0; i < e->n_details; i++) {
		const struct gx_fabric_error_detail *d = &e->details[i];
		s = append(s, "%s%s (%s): %s", i ? "; " : " [", d->address ? d->address : "",
			   d->msp_id ? d->msp_id : "", d->message ? d->message : "");
	}
	if (e->n_details)
		s = append(s, "]");
	return s;
}
