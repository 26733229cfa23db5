/* projector: the handlers' payload readers (payload.c): one event's parsing context, the typed field readers that
 * keep the first problem as the poison reason, and the statement list builder. handlers.c uses them; nothing else
 * does. */
#ifndef PROJECTOR_PAYLOAD_H
#define PROJECTOR_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "gx/util.h"
#include "projector.h"

/* Parsing context of one event: the first problem found is kept in why. */
struct prj_hctx {
	const struct prj_event *ev;
	struct prj_stmts *out;
	char *why;
	size_t whylen;
	bool bad;
	char bufs[24][32]; /* formatted integers, borrowed by statements until they are copied */
	int nbufs;
};

/* Keep the first problem of the event as its poison reason (later ones are dropped). */
void prj_p_fail(struct prj_hctx *h, const char *fmt, ...) GX_PRINTF(2, 3);
/* A field by its capital-ID name, else its camelCase spelling ("userID" -> "userId", "approverIDs" -> "approverIds").
 */
const cJSON *prj_p_field(const cJSON *obj, const char *key);
/* A non-empty string field; def when absent or null (NULL def = required). */
const char *prj_p_str(struct prj_hctx *h, const char *key, const char *def);
/* x as decimal text in the context's buffers (valid for the event). */
const char *prj_p_intbuf(struct prj_hctx *h, long long x);
/* Canonical Qirat: a decimal string of 1..20 digits without leading zero and within uint64, or a non-negative
 * integral JSON number up to 2^53. def when absent (NULL def = required). */
const char *prj_p_qirat(struct prj_hctx *h, const char *key, const char *def);
/* An integer field within [lo, hi]; def when absent (required when !has_def). */
long long prj_p_integer(struct prj_hctx *h, const char *key, bool has_def, long long def, long long lo, long long hi);
/* An array of non-empty strings, returned as compact JSON text (caller frees). */
char *prj_p_str_array(struct prj_hctx *h, const char *key, bool required);
/* Append statement q with n parameters (borrowed strings, copied; NULL = SQL NULL). */
void prj_p_add(struct prj_hctx *h, int q, bool expect, const char *what, int n, ...);
/* The event's chain time in ms as text. */
const char *prj_p_ms(struct prj_hctx *h);

#endif
