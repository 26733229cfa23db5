/* Request context: accessors, the reply functions (one reply per request), error bodies, access log and metrics. */
#include "http_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <event2/buffer.h>

#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/pg.h"
#include "gx/util.h"
#include "gx/valid.h"

#define JSON_CT "application/json; charset=utf-8"

static struct gx_metric *m_requests, *m_duration, *m_inflight, *m_gone;
/* the original backend's request metrics (docs/compat.md), so its dashboards keep working */
static struct gx_metric *m_orig_requests, *m_orig_duration;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_register(void)
{
	static const char *const rms[] = { "route", "method", "status", NULL };
	static const char *const rm[] = { "route", "method", NULL };

	static const double orig_buckets[] = { 0.1, 0.5, 1, 1.5, 2, 3, 5, 10 };

	m_requests = gx_metrics_counter("gx_http_requests_total", "HTTP requests answered", rms);
	m_duration = gx_metrics_histogram("gx_http_request_duration_seconds", "HTTP request duration in seconds", rm,
					  NULL, 0);
	m_inflight = gx_metrics_gauge("gx_http_in_flight", "HTTP requests received and not yet answered", NULL);
	m_gone = gx_metrics_counter("gx_http_client_gone_total", "Replies dropped because the client had gone", NULL);
	m_orig_requests = gx_metrics_counter("http_http_requests_total",
					     "Counter for total requests received "
					     "(the original backend's name)",
					     rms);
	m_orig_duration = gx_metrics_histogram("http_http_request_duration_seconds",
					       "Duration of HTTP requests in "
					       "seconds (the original backend's name)",
					       rms, orig_buckets, GX_ARRAY_LEN(orig_buckets));
}

/* The original's route label: the route template with every {param} segment as "#val" (the original replaced
 * value-looking segments; a template keeps the label set bounded), "unmatched" without a route. */
static void orig_route(const struct gx_req *req, char *out, size_t outlen)
{
	const char *p = req->route ? req->route->path : "unmatched";
	size_t n = 0;

	while (*p && n + 5 < outlen) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			memcpy(out + n, "#val", 4);
			n += 4;
			p = end ? end + 1 : p + strlen(p);
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
}

/* ---- request id, error body ---- */

bool gx_http_request_id_ok(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char c = id[n];
		if (n == 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				 c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

const char *gx_http_reason_phrase(int status)
{
	/* clang-format off */
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return status >= 500 ? "Internal Server Error" : "Bad Request";
	}
	/* clang-format on */
}

cJSON *gx_http_error_body(int status, const char *code, const char *message, const char *request_id, cJSON *details)
{
	cJSON *root = cJSON_CreateObject();

	/* the original backend's two keys first (its clients read error + message), then ours */
	cJSON_AddStringToObject(root, "error", gx_http_reason_phrase(status));
	cJSON_AddStringToObject(root, "message", message);
	cJSON_AddStringToObject(root, "code", code);
	cJSON_AddNumberToObject(root, "statusCode", status);
	cJSON_AddStringToObject(root, "requestId", request_id ? request_id : "");
	if (details)
		cJSON_AddItemToObject(root, "details", details);
	return root;
}

/* ---- context lifetime ---- */

struct gx_req *gx_http_req_new(struct http_worker *w, struct evhttp_request *ev)
{
	struct gx_req *req = gx_xcalloc(1, sizeof(*req));

	pthread_once(&metrics_once, metrics_register);
	req->ev = ev;
	req->w = w;
	req->start_us = gx_mono_us();
	req->log = (struct gx_log_ctx){ req->id, req->trace.trace_id, req->trace.span_id };
	TAILQ_INIT(&req->query);
	req->next = w->live;
	if (w->live)
		w->live->prev = req;
	w->live = req;
	gx_metrics_set(m_inflight, NULL, atomic_fetch_add(&w->srv->inflight, 1) + 1);
	return req;
}

static void req_free(struct gx_req *req)
{
	struct http_worker *w = req->w;

	if (req->prev)
		req->prev->next = req->next;
	else
		w->live = req->next;
	if (req->next)
		req->next->prev = req->prev;
	if (req->data_free)
		req->data_free(req->data);
	gx_http_match_release(&req->match);
	evhttp_clear_headers(&req->query);
	cJSON_Delete(req->body);
	cJSON_Delete(req->reply_headers);
	free(req->idem_key);
	free(req->path);
	free(req->raw_path);
	free(req);
	gx_metrics_set(m_inflight, NULL, atomic_fetch_sub(&w->srv->inflight, 1) - 1);
	gx_log_set_ctx(NULL);
}

static void access_log(const struct gx_req *req, int status, size_t bytes, double secs)
{
	const char *route = req->route ? req->route->path : "unmatched";
	char st[8];
	const char *labels[] = { route, req->method, st };
	enum gx_log_level level = GX_LOG_INFO;

	snprintf(st, sizeof(st), "%d", status);
	gx_metrics_add(m_requests, labels, 1);
	gx_metrics_observe(m_duration, labels, secs);
	if (!req->route || strcmp(req->route->path, "/metrics") != 0) {
		char oroute[256],
			ost[4] = { status >= 200 && status < 500 ? (char)('0' + status / 100) : '5', 'X', 'X' };
		const char *olabels[] = { oroute, req->method, ost };

		orig_route(req, oroute, sizeof(oroute));
		gx_metrics_add(m_orig_requests, olabels, 1);
		gx_metrics_observe(m_orig_duration, olabels, secs);
	}
	if (req->route && (req->route->flags & GX_ROUTE_QUIET) && status < 400)
		level = GX_LOG_DEBUG;
	/* durationMs in microsecond steps; parentSpanId is the caller's span when it sent a traceparent */
	if (gx_log_enabled(level))
		gx_log_write(level, &req->log,
			     GX_LOG_FIELDS(GX_LOG_STR("method", req->method),
					   GX_LOG_STR("path", req->raw_path ? req->raw_path : ""),
					   GX_LOG_STR("route", route), GX_LOG_INT("status", status),
					   GX_LOG_NUM("durationMs", round(secs * 1e6) / 1e3),
					   GX_LOG_INT("bytes", bytes), GX_LOG_STR("ip", req->ip),
					   GX_LOG_STR("parentSpanId",
						      req->trace.parent_id[0] ? req->trace.parent_id : NULL)),
			     "request");
}

/* Hand the reply to evhttp and end the request. */
static void send_now(struct gx_req *req, int status, struct evbuffer *buf, size_t len)
{
	struct evhttp_request *ev = req->ev;
	bool gone = evhttp_request_get_connection(ev) == NULL;

	/* also when the client has gone: evhttp then only frees the detached request */
	evhttp_send_reply(ev, status, NULL, buf);
	evbuffer_free(buf);
	req->ev = NULL;
	if (gone)
		gx_metrics_add(m_gone, NULL, 1);
	gx_http_apikey_audit(req, status);
	access_log(req, status, len, (double)(gx_mono_us() - req->start_us) / 1e6);
	req_free(req);
}

void gx_http_send_held(struct gx_req *req)
{
	struct evbuffer *buf = req->held;

	req->held = NULL;
	send_now(req, req->held_status, buf, req->held_len);
}

/* The idempotency record of a held reply is written (or its write failed, logged by idem): send the reply. */
static void on_idem_written(const struct gx_pg_error *err GX_UNUSED, void *arg)
{
	gx_http_send_held(arg);
}

void gx_http_send(struct gx_req *req, int status, const char *content_type, const void *body, size_t len)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req->ev);
	struct evbuffer *buf = evbuffer_new();

	if (!buf) {
		gx_log_error("evbuffer_new failed");
		abort();
	}
	if (content_type)
		evhttp_add_header(out, "Content-Type", content_type);
	if (req->id[0])
		evhttp_add_header(out, "X-Request-Id", req->id);
	if (req->trace.trace_id[0]) {
		char tp[GX_TRACEPARENT_LEN + 1];

		gx_trace_format(&req->trace, tp);
		evhttp_add_header(out, "traceparent", tp);
	}
	if (req->close_after || atomic_load(&gx_http_draining_flag))
		evhttp_add_header(out, "Connection", "close");
	if (len)
		evbuffer_add(buf, body, len);
	req->replied = true;
	if (gx_http_idem_holds_reply(req)) {
		req->held = buf;
		req->held_status = status;
		req->held_len = len;
		if (gx_http_idem_finish(req, status, content_type, body, len, on_idem_written, req) == 0)
			return; /* sent by on_idem_written */
		req->held = NULL;
	}
	send_now(req, status, buf, len);
}

/* ---- accessors ---- */

const char *gx_req_method(const struct gx_req *req)
{
	return req->method;
}

const char *gx_req_path(const struct gx_req *req)
{
	return req->path ? req->path : "";
}

const char *gx_req_param(const struct gx_req *req, const char *name)
{
	for (size_t i = 0; i < req->match.nparams; i++)
		if (strcmp(req->match.names[i], name) == 0)
			return req->match.values[i];
	return NULL;
}

const char *gx_req_query(const struct gx_req *req, const char *name)
{
	return evhttp_find_header(&req->query, name);
}

const char *gx_req_header(const struct gx_req *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

const char *gx_req_id(const struct gx_req *req)
{
	return req->id;
}

const char *gx_req_trace_id(const struct gx_req *req)
{
	return req->trace.trace_id;
}

const char *gx_req_client_ip(const struct gx_req *req)
{
	return req->ip;
}

cJSON *gx_req_body(const struct gx_req *req)
{
	return req->body;
}

const unsigned char *gx_req_raw_body(const struct gx_req *req, size_t *len)
{
	if (len)
		*len = req->raw_len;
	return req->raw;
}

const struct gx_jwt_claims *gx_req_claims(const struct gx_req *req)
{
	return req->has_claims ? &req->claims : NULL;
}

bool gx_req_is_admin(const struct gx_req *req)
{
	return req->has_claims &&
	       (strcmp(req->claims.role, "ADMIN") == 0 || strcmp(req->claims.role, "SUPER_ADMIN") == 0);
}

bool gx_req_may_access(const struct gx_req *req, const char *profile_id)
{
	if (!req->has_claims)
		return false;
	return gx_req_is_admin(req) || (profile_id && strcmp(req->claims.sub, profile_id) == 0);
}

struct gx_pg_pool *gx_req_pg(const struct gx_req *req)
{
	return req->w->pg;
}

struct gx_redis *gx_req_redis(const struct gx_req *req)
{
	return req->w->redis;
}

void *gx_req_app(const struct gx_req *req)
{
	return req->w->srv->def->app;
}

const char *gx_req_tenant(const struct gx_req *req)
{
	return req->w->srv->opts->tenant_id;
}

void *gx_req_worker(const struct gx_req *req)
{
	return req->w->state;
}

struct event_base *gx_req_base(const struct gx_req *req)
{
	return req->w->base;
}

const struct gx_http_def *gx_req_def(const struct gx_req *req)
{
	return req->w->srv->def;
}

const char *gx_req_idempotency_key(const struct gx_req *req)
{
	return req->idem_key;
}

void gx_req_set_data(struct gx_req *req, void *data, void (*free_fn)(void *))
{
	req->data = data;
	req->data_free = free_fn;
}

void *gx_req_data(const struct gx_req *req)
{
	return req->data;
}

/* ---- replies ---- */

void gx_reply_header(struct gx_req *req, const char *name, const char *value)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req->ev);

	while (evhttp_remove_header(out, name) == 0)
		;
	if (evhttp_add_header(out, name, value) < 0) {
		gx_log_error("cannot add response header '%s': invalid characters", name);
		return;
	}
	if (!req->reply_headers)
		req->reply_headers = cJSON_CreateObject();
	cJSON_DeleteItemFromObjectCaseSensitive(req->reply_headers, name);
	cJSON_AddStringToObject(req->reply_headers, name, value);
}

void gx_reply_raw(struct gx_req *req, int status, const char *content_type, const void *body, size_t len)
{
	gx_http_send(req, status, content_type, body, len);
}

void gx_reply_json(struct gx_req *req, int status, cJSON *body)
{
	char *text;

	if (!body) {
		gx_http_send(req, status, NULL, NULL, 0);
		return;
	}
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text) {
		gx_log_error("cJSON_PrintUnformatted failed: out of memory");
		abort();
	}
	gx_http_send(req, status, JSON_CT, text, strlen(text));
	cJSON_free(text);
}

/* 5xx answers are logged here, once, with the cause (which may say more than the client is told). */
static void reply_error_details(struct gx_req *req, int status, const char *code, const char *msg, cJSON *details,
				const char *cause, const char *sqlstate)
{
	if (status >= 500) {
		gx_log_write(GX_LOG_ERROR, &req->log,
			     GX_LOG_FIELDS(GX_LOG_STR("route", req->route ? req->route->path : "unmatched"),
					   GX_LOG_STR("method", req->method), GX_LOG_STR("code", code),
					   GX_LOG_STR("sqlstate", sqlstate)),
			     "%s", cause ? cause : msg);
	}
	gx_reply_json(req, status, gx_http_error_body(status, code, msg, req->id, details));
}

void gx_http_reply_error_with(struct gx_req *req, int status, const char *code, const char *msg, const char *key,
			      cJSON *value)
{
	cJSON *body = gx_http_error_body(status, code, msg, req->id, NULL);

	cJSON_AddItemToObject(body, key, value);
	gx_reply_json(req, status, body);
}

void gx_reply_error(struct gx_req *req, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_error_details(req, status, code, msg, NULL, NULL, NULL);
}

void gx_reply_verr(struct gx_req *req, struct gx_verr *v)
{
	cJSON *details = gx_verr_details_json(v);

	gx_verr_free(v);
	reply_error_details(req, 400, "VALIDATION_FAILED", "request validation failed", details, NULL, NULL);
}

void gx_reply_pg_error(struct gx_req *req, const struct gx_pg_error *err)
{
	char cause[320];

	/* the server's message goes to the log only, never to the client */
	snprintf(cause, sizeof(cause), "database error: %s", err->message);
	switch (err->kind) {
	case GX_PG_ERR_UNAVAILABLE:
	case GX_PG_ERR_CONNECTION:
	case GX_PG_ERR_TIMEOUT:
		reply_error_details(req, 503, "DB_UNAVAILABLE", "the database is unavailable, retry later", NULL, cause,
				    err->sqlstate);
		break;
	case GX_PG_ERR_QUERY:
	default:
		reply_error_details(req, 500, "INTERNAL", "internal error", NULL, cause, err->sqlstate);
		break;
	}
}
