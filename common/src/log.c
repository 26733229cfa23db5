/* JSON-lines logger: formats one line per call into a stack buffer and writes it with a single write(2). */
#include "gx/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192

static const char *log_service = "gx";
static enum gx_log_level log_level = GX_LOG_INFO;
static _Thread_local char log_request_id[72];

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

void gx_log_set_request_id(const char *request_id)
{
	if (!request_id) {
		log_request_id[0] = '\0';
		return;
	}
	snprintf(log_request_id, sizeof(log_request_id), "%s", request_id);
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

void gx_log_vwrite(enum gx_log_level level, const char *request_id, const char *const *kv, const char *fmt, va_list ap)
{
	char line[LINE_MAX_BYTES], msg[4096], ts[96];
	struct timespec now;
	struct tm tm;
	size_t pos = 0, cap = sizeof(line) - 2;
	const char *rid = request_id ? request_id : log_request_id;

	if (!gx_log_enabled(level))
		return;
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
	if (rid && rid[0]) {
		pos = put_raw(line, pos, cap, ",\"requestId\":\"");
		pos = put_escaped(line, pos, cap, rid);
		pos = put_raw(line, pos, cap, "\"");
	}
	for (; kv && kv[0] && kv[1]; kv += 2) {
		pos = put_raw(line, pos, cap, ",\"");
		pos = put_escaped(line, pos, cap, kv[0]);
		pos = put_raw(line, pos, cap, "\":\"");
		pos = put_escaped(line, pos, cap, kv[1]);
		pos = put_raw(line, pos, cap, "\"");
	}
	/* cap leaves two bytes spare for the closing brace and the newline */
	line[pos++] = '}';
	line[pos++] = '\n';
	/* one write per line keeps lines from different threads whole */
	if (write(STDOUT_FILENO, line, pos) < 0)
		return;
}

void gx_log_write(enum gx_log_level level, const char *request_id, const char *const *kv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	gx_log_vwrite(level, request_id, kv, fmt, ap);
	va_end(ap);
}
