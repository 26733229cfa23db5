/* JSON-lines logging to stdout: one object per line with ts, level, service, msg, the request context (requestId,
 * traceId, spanId) and extra fields.
 *
 *   {"ts":"2026-11-22T10:00:00.123Z","level":"info","service":"svc-identity","msg":"listening","port":3001}
 *
 * The logger is one of the three process globals (with the metrics registry and the daemon's own state). It is
 * thread-safe: each line is built in a local buffer and written with one write(2). Levels: trace debug info warn
 * error fatal. gx_log_fatal logs only; the caller decides whether to exit.
 *
 * Fields: gx_log_kv() takes an array of typed fields ended by one whose key is NULL, best written with
 * GX_LOG_FIELDS(GX_LOG_INT("port", port), GX_LOG_STR("ip", ip)). A string is written as an escaped JSON string (a
 * NULL string leaves its field out), an integer or a number as a JSON number (a NaN or infinite number as null), a
 * bool as true/false. Never pass secrets (passwords, tokens, keys) as values.
 *
 * Context: the requestId, traceId and spanId of a line come from the ctx passed to gx_log_write (HTTP requests and
 * the workers' commands pass theirs), else from the context set for the thread (gx_log_set_ctx); empty or NULL
 * members are left out. design.md §8 lists what a line holds.
 */
#ifndef GX_LOG_H
#define GX_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include "gx/util.h"

enum gx_log_level {
	GX_LOG_TRACE,
	GX_LOG_DEBUG,
	GX_LOG_INFO,
	GX_LOG_WARN,
	GX_LOG_ERROR,
	GX_LOG_FATAL,
};

enum gx_log_type { GX_LOG_T_STR, GX_LOG_T_INT, GX_LOG_T_NUM, GX_LOG_T_BOOL };

/* One extra field of a line (all borrowed for the call). */
struct gx_log_field {
	const char *key; /* NULL ends the array */
	enum gx_log_type type;
	const char *s; /* GX_LOG_T_STR; NULL leaves the field out */
	long long i;   /* GX_LOG_T_INT */
	double d;      /* GX_LOG_T_NUM, written with up to 15 significant digits */
	bool b;        /* GX_LOG_T_BOOL */
};

#define GX_LOG_STR(k, v) \
	{ \
		.key = (k), .type = GX_LOG_T_STR, .s = (v) \
	}
#define GX_LOG_INT(k, v) \
	{ \
		.key = (k), .type = GX_LOG_T_INT, .i = (long long)(v) \
	}
#define GX_LOG_NUM(k, v) \
	{ \
		.key = (k), .type = GX_LOG_T_NUM, .d = (double)(v) \
	}
#define GX_LOG_BOOL(k, v) \
	{ \
		.key = (k), .type = GX_LOG_T_BOOL, .b = (v) \
	}
/* A field array for gx_log_kv/gx_log_write, ended for you (valid in the enclosing block). */
#define GX_LOG_FIELDS(...) ((const struct gx_log_field[]){ __VA_ARGS__, { .key = NULL } })

/* Whom a line is about: the request (X-Request-Id), its W3C trace and this hop's span. Any member may be NULL or
 * empty (left out). Borrowed for the call. */
struct gx_log_ctx {
	const char *request_id;
	const char *trace_id;
	const char *span_id;
};

/* Set the service name written on every line (borrowed: must outlive the process, e.g. a literal). */
void gx_log_init(const char *service);
void gx_log_set_level(enum gx_log_level level);
/* Parse "trace".."fatal" (case-insensitive). Returns 0, or -1 for an unknown name. */
int gx_log_level_parse(const char *name, enum gx_log_level *out);
bool gx_log_enabled(enum gx_log_level level);

/* Context of the lines this thread writes without one of their own (NULL clears). Copied into thread-local
 * storage. */
void gx_log_set_ctx(const struct gx_log_ctx *ctx);

/* Write one line: ctx NULL takes the thread's context; fields may be NULL. */
void gx_log_write(enum gx_log_level level, const struct gx_log_ctx *ctx, const struct gx_log_field *fields,
		  const char *fmt, ...) GX_PRINTF(4, 5);
void gx_log_vwrite(enum gx_log_level level, const struct gx_log_ctx *ctx, const struct gx_log_field *fields,
		   const char *fmt, va_list ap) GX_PRINTF(4, 0);

#define gx_log_trace(...) gx_log_write(GX_LOG_TRACE, NULL, NULL, __VA_ARGS__)
#define gx_log_debug(...) gx_log_write(GX_LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define gx_log_info(...) gx_log_write(GX_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define gx_log_warn(...) gx_log_write(GX_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define gx_log_error(...) gx_log_write(GX_LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define gx_log_fatal(...) gx_log_write(GX_LOG_FATAL, NULL, NULL, __VA_ARGS__)

/* Log with extra fields and the thread's context: fields is a GX_LOG_FIELDS(...) array. */
#define gx_log_kv(level, fields, ...) gx_log_write((level), NULL, (fields), __VA_ARGS__)

#endif
