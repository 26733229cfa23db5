/* projector: the handlers' payload readers (payload.h): fields by their capital-ID or camelCase spelling, typed
 * and checked (Qirat amounts, bounded integers, string arrays), and the statement list a handler appends to. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/util.h"
#include "payload.h"

void prj_stmts_free(struct prj_stmts *s)
{
	for (size_t i = 0; i < s->n; i++)
		for (int j = 0; j < s->v[i].nparams; j++)
			free(s->v[i].params[j]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void prj_p_fail(struct prj_hctx *h, const char *fmt, ...) GX_PRINTF(2, 3);
void prj_p_fail(struct prj_hctx *h, const char *fmt, ...)
{
	va_list ap;

	if (h->bad)
		return;
	h->bad = true;
	va_start(ap, fmt);
	vsnprintf(h->why, h->whylen, fmt, ap);
	va_end(ap);
}

/* A field by its capital-ID name, else its camelCase spelling ("userID" -> "userId", "approverIDs" -> "approverIds").
 */
const cJSON *prj_p_field(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char alt[64];
	size_t n = strlen(key);
	bool changed = false;

	if (v || n >= sizeof(alt))
		return v;
	memcpy(alt, key, n + 1);
	for (size_t i = 1; i + 1 < n + 1; i++) {
		if (alt[i] == 'I' && alt[i + 1] == 'D' &&
		    (alt[i + 2] == '\0' || (alt[i + 2] == 's' && alt[i + 3] == '\0'))) {
			alt[i + 1] = 'd';
			changed = true;
		}
	}
	return changed ? cJSON_GetObjectItemCaseSensitive(obj, alt) : NULL;
}

/* A non-empty string field; def when absent or null (NULL def = required). */
const char *prj_p_str(struct prj_hctx *h, const char *key, const char *def)
{
	const cJSON *v = prj_p_field(h->ev->payload, key);

	if (!v || cJSON_IsNull(v)) {
		if (!def)
			prj_p_fail(h, "%s: field '%s' is missing", h->ev->name, key);
		return def ? def : "";
	}
	if (!cJSON_IsString(v) || (!def && v->valuestring[0] == '\0')) {
		prj_p_fail(h, "%s: field '%s' must be a non-empty string", h->ev->name, key);
		return "";
	}
	return v->valuestring;
}

const char *prj_p_intbuf(struct prj_hctx *h, long long x)
{
	char *b;

	if (h->nbufs >= (int)GX_ARRAY_LEN(h->bufs)) {
		prj_p_fail(h, "%s: too many numeric fields", h->ev->name);
		return "0";
	}
	b = h->bufs[h->nbufs++];
	snprintf(b, sizeof(h->bufs[0]), "%lld", x);
	return b;
}

/* Canonical Qirat: a decimal string of 1..20 digits without leading zero and within uint64, or a non-negative
 * integral JSON number up to 2^53. def when absent (NULL def = required). */
const char *prj_p_qirat(struct prj_hctx *h, const char *key, const char *def)
{
	const cJSON *v = prj_p_field(h->ev->payload, key);

	if (!v || cJSON_IsNull(v)) {
		if (!def)
			prj_p_fail(h, "%s: field '%s' is missing", h->ev->name, key);
		return def ? def : "0";
	}
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (d >= 0 && d <= 9007199254740992.0 && d == (double)(long long)d)
			return prj_p_intbuf(h, (long long)d);
	} else if (cJSON_IsString(v)) {
		const char *s = v->valuestring;
		size_t n = strlen(s);
		bool ok = n >= 1 && n <= 20 && (n == 1 || s[0] != '0');

		for (size_t i = 0; ok && i < n; i++)
			ok = s[i] >= '0' && s[i] <= '9';
		if (ok && n == 20)
			ok = strcmp(s, "18446744073709551615") <= 0;
		if (ok)
			return s;
	}
	prj_p_fail(h, "%s: field '%s' must be a decimal string of integer Qirat", h->ev->name, key);
	return "0";
}

/* An integer field within [lo, hi]; def when absent (required when !has_def). */
long long prj_p_integer(struct prj_hctx *h, const char *key, bool has_def, long long def, long long lo, long long hi)
{
	const cJSON *v = prj_p_field(h->ev->payload, key);

	if (!v || cJSON_IsNull(v)) {
		if (!has_def)
			prj_p_fail(h, "%s: field '%s' is missing", h->ev->name, key);
		return def;
	}
	if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble && v->valuedouble >= (double)lo &&
	    v->valuedouble <= (double)hi)
		return (long long)v->valuedouble;
	prj_p_fail(h, "%s: field '%s' must be an integer in %lld..%lld", h->ev->name, key, lo, hi);
	return def;
}

/* An array of non-empty strings, returned as compact JSON text (caller frees). */
char *prj_p_str_array(struct prj_hctx *h, const char *key, bool required)
{
	const cJSON *v = prj_p_field(h->ev->payload, key);
	const cJSON *it;

	if (!v || cJSON_IsNull(v)) {
		if (required)
			prj_p_fail(h, "%s: field '%s' is missing", h->ev->name, key);
		return gx_xstrdup("[]");
	}
	if (!cJSON_IsArray(v))
		goto bad;
	cJSON_ArrayForEach(it, v)
		if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
			goto bad;
	return cJSON_PrintUnformatted(v);
bad:
	prj_p_fail(h, "%s: field '%s' must be an array of strings", h->ev->name, key);
	return gx_xstrdup("[]");
}

/* Append statement q with n parameters (borrowed strings, copied; NULL = SQL NULL). */
void prj_p_add(struct prj_hctx *h, int q, bool expect, const char *what, int n, ...)
{
	struct prj_stmts *o = h->out;
	struct prj_stmt *s;
	va_list ap;

	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 8;
		o->v = gx_xrealloc(o->v, o->cap * sizeof(*o->v));
	}
	s = &o->v[o->n++];
	memset(s, 0, sizeof(*s));
	s->q = q;
	s->nparams = n;
	s->expect_row = expect;
	s->expect_what = what;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *p = va_arg(ap, const char *);

		s->params[i] = p ? gx_xstrdup(p) : NULL;
	}
	va_end(ap);
}

const char *prj_p_ms(struct prj_hctx *h)
{
	return prj_p_intbuf(h, h->ev->time_ms);
}
