/* JSON-lines logging to stdout: one object per line with ts, level, service, msg, requestId and extra fields.
 *
 *   {"ts":"2026-11-22T10:00:00.123Z","level":"info","service":"svc-identity","msg":"listening","port":3001}
 *
 * The logger is one of the three process globals (with the metrics registry and the daemon's own state). It is
 * thread-safe: each line is built in a local buffer and written with one write(2). Levels: trace debug info warn
 * error fatal. gx_log_fatal logs only; the caller decides whether to exit.
 *
 * Fields: gx_log_kv() takes a NULL-terminated list of key/value string pairs, emitted as JSON strings. Values are
 * escaped; never pass secrets (passwords, tokens, keys) as values.
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

/* Set the service name written on every line (borrowed: must outlive the process, e.g. a literal). */
void gx_log_init(const char *service);
void gx_log_set_level(enum gx_log_level level);
/* Parse "trace".."fatal" (case-insensitive). Returns 0, or -1 for an unknown name. */
int gx_log_level_parse(const char *name, enum gx_log_level *out);
bool gx_log_enabled(enum gx_log_level level);

/* Request id for log lines written by this thread (NULL clears). Borrowed: copied into thread-local storage. */
void gx_log_set_request_id(const char *request_id);

void gx_log_write(enum gx_log_level level, const char *request_id, const char *const *kv, const char *fmt, ...)
	GX_PRINTF(4, 5);
void gx_log_vwrite(enum gx_log_level level, const char *request_id, const char *const *kv, const char *fmt, va_list ap)
	GX_PRINTF(4, 0);

#define gx_log_trace(...) gx_log_write(GX_LOG_TRACE, NULL, NULL, __VA_ARGS__)
#define gx_log_debug(...) gx_log_write(GX_LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define gx_log_info(...) gx_log_write(GX_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define gx_log_warn(...) gx_log_write(GX_LOG_WARN, NULL, NULL, __VA_ARGS__)
#define gx_log_error(...) gx_log_write(GX_LOG_ERROR, NULL, NULL, __VA_ARGS__)
#define gx_log_fatal(...) gx_log_write(GX_LOG_FATAL, NULL, NULL, __VA_ARGS__)

/* Log with extra string fields: kv is {"key1","val1","key2","val2",NULL}. */
#define gx_log_kv(level, kv, ...) gx_log_write((level), NULL, (kv), __VA_ARGS__)

#endif
