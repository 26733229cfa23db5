/* W3C Trace Context: the traceparent header an API takes from a request and answers (design.md §8).
 *
 *   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 *                version-trace id (32 hex)-parent id (16 hex)-flags (2 hex)
 *
 * A valid header continues the caller's trace: the trace id is kept, the caller's span becomes this hop's parent
 * and this hop gets a new span id. A missing or invalid one starts a new trace (never a 4xx). The answer is
 * version 00 with the trace id, this hop's span id and the sampled flag (the caller's; set on a new trace, since
 * every request is logged). Random ids come from gx_rand_bytes. No tracestate: nothing is called downstream.
 */
#ifndef GX_TRACE_H
#define GX_TRACE_H

#include <stdbool.h>

#define GX_TRACEPARENT_LEN 55 /* "00-" 32 "-" 16 "-" 2 */

struct gx_trace {
	char trace_id[33];  /* 32 lowercase hex, "" when none could be made */
	char parent_id[17]; /* the caller's span id, "" when the trace started here */
	char span_id[17];   /* this hop's span id */
	unsigned char flags;
};

/* Parse a traceparent value (borrowed, may be NULL) by the Trace Context rules: a version of two lowercase hex
 * digits other than ff; for version 00 exactly 55 characters, for a later version at least 55 with a '-' after
 * them; a 32-hex trace id and a 16-hex parent id (lowercase), neither all zeros; two hex digits of flags. Returns 0
 * with trace_id, parent_id and flags set (span_id ""), or -1 when invalid (*out is then zeroed). */
int gx_trace_parse(const char *value, struct gx_trace *out);

/* This hop's trace for an incoming traceparent value (NULL or invalid: a new trace with a new trace id). Returns 0,
 * or -1 (logged by gx_rand) when no random bytes are available: *out is then all empty (no trace). */
int gx_trace_begin(const char *traceparent, struct gx_trace *out);

/* The traceparent to answer: "00-<trace id>-<span id>-<flags & 01>" (out: GX_TRACEPARENT_LEN + 1 bytes), or ""
 * when t has no trace. */
void gx_trace_format(const struct gx_trace *t, char *out);

#endif
