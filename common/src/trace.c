/* W3C traceparent parsing, new trace and span ids, and the answered header (gx/trace.h). */
#include "gx/trace.h"

#include <stdio.h>
#include <string.h>

#include "gx/rand.h"
#include "gx/util.h"

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool all_zero(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '0')
			return false;
	return true;
}

static unsigned hex_val(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'a' + 10);
}

int gx_trace_parse(const char *v, struct gx_trace *out)
{
	size_t n = v ? strlen(v) : 0;

	memset(out, 0, sizeof(*out));
	if (n < GX_TRACEPARENT_LEN || !lower_hex(v, 2) || strncmp(v, "ff", 2) == 0)
		return -1;
	/* version 00 is exactly 55 characters; a later version may append fields after a '-' */
	if (strncmp(v, "00", 2) == 0 ? n != GX_TRACEPARENT_LEN : (n > GX_TRACEPARENT_LEN && v[55] != '-'))
		return -1;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -1;
	if (!lower_hex(v + 3, 32) || all_zero(v + 3, 32) || !lower_hex(v + 36, 16) || all_zero(v + 36, 16) ||
	    !lower_hex(v + 53, 2))
		return -1;
	memcpy(out->trace_id, v + 3, 32);
	memcpy(out->parent_id, v + 36, 16);
	out->flags = (unsigned char)(hex_val(v[53]) << 4 | hex_val(v[54]));
	return 0;
}

/* n random bytes (not all zero) as 2n lowercase hex digits into out (2n + 1 bytes). */
static int random_hex(char *out, size_t n)
{
	unsigned char b[16];

	for (;;) {
		bool zero = true;

		if (gx_rand_bytes(b, n) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			zero = zero && b[i] == 0;
		if (!zero)
			break;
	}
	gx_hex_encode(b, n, out);
	return 0;
}

int gx_trace_begin(const char *traceparent, struct gx_trace *out)
{
	if (gx_trace_parse(traceparent, out) < 0) {
		out->flags = 0x01;
		if (random_hex(out->trace_id, 16) < 0)
			goto fail;
	}
	if (random_hex(out->span_id, 8) < 0)
		goto fail;
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return -1;
}

void gx_trace_format(const struct gx_trace *t, char *out)
{
	if (!t->trace_id[0] || !t->span_id[0]) {
		out[0] = '\0';
		return;
	}
	snprintf(out, GX_TRACEPARENT_LEN + 1, "00-%s-%s-%02x", t->trace_id, t->span_id, t->flags & 0x01u);
}
