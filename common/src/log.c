/* JSON-lines logger: formats one line per call into a stack buffer and writes it with a single write(2). */
#include "gx/log.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192

static const char *log_service = "gx";
static enum gx_log_level log_level = GX_LOG_INFO;
/* the thread's context (gx_log_set_ctx) */
static _Thread_local char tl_request_id[72], tl_trace_id[33], tl_span_id[17];

static const char *const level_names[] = { "trace", "debug", "info", "warn", "error", "fatal" };

void gx_log_init(const char *service)
{
	log_service = service;
}

void gx_log_set_level(enum gx_log_level level)
{
	log_level = level;
}

int gx_log_level_parse(const char *name, enum gx_log_level *out)
{
	for (size_t i = 0; i < GX_ARRAY_LEN(level_names); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum gx_log_level)i;
			return 0;
		}
	}
	return -1;
}

bool gx_log_enabled(enum gx_log_level level)
{
	return level >= log_level;
}

void gx_log_set_ctx(const struct gx_log_ctx *ctx)
{
	snprintf(tl_request_id, sizeof(tl_request_id), "%s", ctx && ctx->request_id ? ctx->request_id : "");
	snprintf(tl_trace_id, sizeof(tl_trace_id), "%s", ctx && ctx->trace_id ? ctx->trace_id : "");
	snprintf(tl_span_id, sizeof(tl_span_id), "%s", ctx && ctx->span_id ? ctx->span_id : "");
}

/* Append s as JSON string contents (without quotes), truncating when the buffer is full. */
static size_t put_escaped(char *buf, size_t pos, size_t cap, const char *s)
{
	for (; *s && pos + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)c;
		} else if (c == '\n') {
			buf[pos++] = '\\';
			buf[pos++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", c);
		} else {
			buf[pos++] = (char)c;
		}
	}
	return pos;
}

static size_t put_raw(char *buf, size_t pos, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (pos + 1 >= cap)
		return pos;
	if (pos + n >= cap)
		n = cap - pos - 1;
	memcpy(buf + pos, s, n);
	return pos + n;
}

/* ,"key": */
static size_t put_key(char *buf, size_t pos, size_t cap, const char *key)
{
	pos = put_raw(buf, pos, cap, ",\"");
	pos = put_escaped(buf, pos, cap, key);
	return put_raw(buf, pos, cap, "\":");
}

/* ,"key":"value" with the value escaped. */
static size_t put_str(char *buf, size_t pos, size_t cap, const char *key, const char *v)
{
	pos = put_key(buf, pos, cap, key);
	pos = put_raw(buf, pos, cap, "\"");
	pos = put_escaped(buf, pos, cap, v);
	return put_raw(buf, pos, cap, "\"");
}

/* ,"key":<value> of one typed field (a NULL string: nothing). */
static size_t put_field(char *buf, size_t pos, size_t cap, const struct gx_log_field *f)
{
	char num[40];

	switch (f->type) {
	case GX_LOG_T_STR:
		return f->s ? put_str(buf, pos, cap, f->key, f->s) : pos;
	case GX_LOG_T_INT:
		snprintf(num, sizeof(num), "%lld", f->i);
		break;
	case GX_LOG_T_NUM:
		/* JSON has no NaN or Infinity */
		if (isfinite(f->d))
			snprintf(num, sizeof(num), "%.15g", f->d);
		else
			snprintf(num, sizeof(num), "null");
		break;
	case GX_LOG_T_BOOL:
	default:
		snprintf(num, sizeof(num), "%s", f->b ? "true" : "false");
		break;
	}
	pos = put_key(buf, pos, cap, f->key);
	return put_raw(buf, pos, cap, num);
}

void gx_log_vwrite(enum gx_log_level level, const struct gx_log_ctx *ctx, const struct gx_log_field *fields,
		   const char *fmt, va_list ap)
{
	char line[LINE_MAX_BYTES], msg[4096], ts[96];
	struct timespec now;
	struct tm tm;
	size_t pos = 0, cap = sizeof(line) - 2;
	const struct gx_log_ctx tl = { tl_request_id, tl_trace_id, tl_span_id };

	if (!gx_log_enabled(level))
		return;
	if (!ctx)
		ctx = &tl;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	vsnprintf(msg, sizeof(msg), fmt, ap);

	pos = put_raw(line, pos, cap, "{\"ts\":\"");
	pos = put_raw(line, pos, cap, ts);
	pos = put_raw(line, pos, cap, "\",\"level\":\"");
	pos = put_raw(line, pos, cap, level_names[level]);
	pos = put_raw(line, pos, cap, "\",\"service\":\"");
	pos = put_escaped(line, pos, cap, log_service);
	pos = put_raw(line, pos, cap, "\",\"msg\":\"");
	pos = put_escaped(line, pos, cap, msg);
	pos = put_raw(line, pos, cap, "\"");
	if (ctx->request_id && ctx->request_id[0])
		pos = put_str(line, pos, cap, "requestId", ctx->request_id);
	if (ctx->trace_id && ctx->trace_id[0])
		pos = put_str(line, pos, cap, "traceId", ctx->trace_id);
	if (ctx->span_id && ctx->span_id[0])
		pos = put_str(line, pos, cap, "spanId", ctx->span_id);
	for (; fields && fields->key; fields++)
		pos = put_field(line, pos, cap, fields);
	/* cap leaves two bytes spare for the closing brace and the newline */
	line[pos++] = '}';
	line[pos++] = '\n';
	/* one write per line keeps lines from different threads whole */
	if (write(STDOUT_FILENO, line, pos) < 0)
		return;
}

void gx_log_write(enum gx_log_level level, const struct gx_log_ctx *ctx, const struct gx_log_field *fields,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gx_log_vwrite(level, ctx, fields, fmt, ap);
	va_end(ap);
}
