/* Internals shared by the http*.c files: the server, its workers, the request context and the route matcher.
 * Not a public header: only common/src/http*.c and the http unit tests include it.
 */
#ifndef GX_HTTP_INT_H
#define GX_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "gx/http.h"
#include "gx/idem.h"
#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/trace.h"

/* A request's state with its Idempotency-Key; the transitions are in http_idem.c. */
enum gx_req_idem {
	GX_REQ_IDEM_NONE,     /* no key, the step does not apply, or the record's business is settled */
	GX_REQ_IDEM_CLAIMED,  /* we hold the IN_FLIGHT record: complete it (drop it on 5xx), then reply */
	GX_REQ_IDEM_DEFERRED, /* looked up NEW, nothing written: claim in the outbox transaction or store after reply */
	GX_REQ_IDEM_RECORDED, /* the handler's own transaction stored the response: reply directly */
};

/* ---- route matching (http_route.c) ---- */

#define GX_HTTP_MAX_PARAMS 8
#define GX_HTTP_MAX_SEGMENTS 24

enum gx_http_match_result {
	GX_HTTP_MATCH_OK,
	GX_HTTP_MATCH_NOT_FOUND,  /* no route has this path */
	GX_HTTP_MATCH_BAD_METHOD, /* a route has this path, none with this method: m->allow lists the methods */
	GX_HTTP_MATCH_BAD_PATH,   /* bad percent-encoding, or a decoded parameter holding '/' or NUL */
};

struct gx_http_match {
	const struct gx_route *route; /* borrowed from the table */
	size_t nparams;
	const char *names[GX_HTTP_MAX_PARAMS]; /* borrowed from the compiled router */
	char *values[GX_HTTP_MAX_PARAMS];      /* owned: decoded values, freed by gx_http_match_release */
	char allow[64];                        /* for 405: "GET, POST" */
};

struct gx_http_router;

/* Compile a route table (borrowed: must outlive the router). Returns NULL (logged) when a row is invalid: path not
 * starting with '/', a malformed {param}, too many segments or params, an unknown method, or a duplicate
 * method + path. Caller owns; free with gx_http_router_free(). */
struct gx_http_router *gx_http_router_new(const struct gx_route *routes, size_t n);
void gx_http_router_free(struct gx_http_router *r);

/* Match method ("HEAD" is matched as "GET") and raw_path (percent-encoded, without the query string; borrowed).
 * Trailing-slash policy: strict, "/a/b/" does not match "/a/b" (404), empty segments never match. Literal segments
 * beat {params} at the first position where two routes differ, whatever the table order. On GX_HTTP_MATCH_OK the
 * caller owns m's values; release with gx_http_match_release() (also safe after any other result). */
enum gx_http_match_result gx_http_router_match(const struct gx_http_router *r, const char *method, const char *raw_path,
					       struct gx_http_match *m);
void gx_http_match_release(struct gx_http_match *m);

/* Percent-decode n bytes of s into a new string (caller owns). Returns NULL when an escape is malformed or the
 * result contains NUL. '+' is kept as is (path semantics). */
char *gx_http_pct_decode(const char *s, size_t n);

/* ---- JSON request bodies (http_json.c) ---- */

/* Parse exactly n bytes of s (need not be NUL-terminated; borrowed) as a request body: well-formed UTF-8, no raw
 * byte below 0x20 but JSON whitespace outside strings and none inside, no \u0000 escape, one JSON value with only
 * whitespace after it, an object nested at most 32 deep. Returns the object (caller owns, cJSON_Delete) and sets
 * *why to NULL, or returns NULL with *why the client-facing reason (static text) for 400 INVALID_JSON. */
cJSON *gx_http_json_parse_body(const unsigned char *s, size_t n, const char **why);

/* ---- request id and error body (http_req.c) ---- */

/* True when id (borrowed, may be NULL) is a sane client request id: 1..64 chars of [A-Za-z0-9._-]. */
bool gx_http_request_id_ok(const char *id);
/* The one error body (see gx/http.h); details may be NULL (takes ownership). Caller owns the result. */
cJSON *gx_http_error_body(int status, const char *code, const char *message, const char *request_id, cJSON *details);
/* The HTTP reason phrase of status ("Not Found"), the original backend's "error" value. Static text. */
const char *gx_http_reason_phrase(int status);
/* gx_reply_error with one more top-level key (the original's "path" on 404, "retryAfter" on 429); takes value. */
void gx_http_reply_error_with(struct gx_req *req, int status, const char *code, const char *msg, const char *key,
			      cJSON *value);

/* ---- server, workers, request context ---- */

struct http_server;

struct http_worker {
	struct http_server *srv;
	int index;
	pthread_t thread;
	bool thread_started;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound; /* NULL once the listener is closed */
	struct gx_pg_pool *pg;
	struct gx_redis *redis;
	void *state;            /* from def->worker_init */
	struct event *ev_close; /* activated by the main thread: close the listener */
	struct event *ev_stop;  /* activated by the main thread: leave the loop */
	struct event *ev_beat;  /* heartbeat for /livez */
	_Atomic int64_t beat_us;
	bool stopping;           /* loop left: pipeline continuations answer 503 */
	struct gx_req *live;     /* requests not yet answered (doubly linked) */
	struct http_conn *conns; /* open connections with a receive deadline (http_conn.c) */
};

struct http_server {
	const struct gx_http_def *def;
	const struct gx_http_opts *opts;
	struct gx_http_router *router;
	struct http_worker *workers;
	int nworkers;
	struct event_base *main_base;
	_Atomic int inflight;
};

struct gx_req {
	struct evhttp_request *ev; /* valid until the reply (evhttp keeps a detached request alive) */
	struct http_worker *w;
	struct gx_req *prev, *next;   /* worker's live list */
	const struct gx_route *route; /* NULL until matched */
	struct gx_http_match match;
	char method[8];
	char *path;     /* decoded path (owned) */
	char *raw_path; /* encoded path without query (owned) */
	struct evkeyvalq query;
	bool query_parsed;
	char id[72];
	struct gx_trace trace; /* W3C trace of the request and this hop's span (gx/trace.h) */
	struct gx_log_ctx log; /* id and trace for log lines about the request (points into this struct) */
	char ip[64];
	cJSON *body;              /* owned */
	const unsigned char *raw; /* borrowed from evhttp's input buffer (pulled up) */
	size_t raw_len;
	struct gx_jwt_claims claims;
	bool has_claims;
	/* partner API key (http_apikey.c): set when the request presented X-API-Key */
	bool apikey;
	char apikey_id[33];              /* the key id from the text, "" when it is no key's shape */
	unsigned char apikey_digest[32]; /* SHA-256 of the presented secret */
	int apikey_scope;                /* gx_apikey_scopes index of the route, -1 when none */
	long long apikey_rate;           /* the key's requests per minute, once authenticated */
	const char *apikey_outcome;      /* static: refusal code, "AUTHENTICATED" or "ERROR" (for the audit row) */
	char *idem_key;                  /* scoped key (owned), NULL without Idempotency-Key */
	char body_sha256[65];
	enum gx_req_idem idem; /* where the request stands with its key (changed in http_idem.c only) */
	bool close_after;      /* send Connection: close (unread oversize body, draining) */
	cJSON *reply_headers;  /* handler-set headers {name: value}, stored with idempotent replies */
	bool replied;
	struct evbuffer *held; /* the reply body while its idempotency record is written (owned) */
	int held_status;
	size_t held_len;
	int64_t start_us;
	void *data;
	void (*data_free)(void *);
};

/* Per-connection receive deadline (http_conn.c, see "slow clients" in gx/http.h): install on w->http before it
 * serves; after evhttp_free(w->http), release what evhttp never reported closed. */
void gx_http_conn_install(struct http_worker *w);
void gx_http_conn_release_all(struct http_worker *w);

/* Global drain flag (set on the main thread, read anywhere). */
extern _Atomic bool gx_http_draining_flag;

/* Entry point of the pipeline after routing and body checks (http_pipeline.c): auth, revocation, rate limit,
 * idempotency, then the handler. */
void gx_http_pipeline_start(struct gx_req *req);

/* The pipeline after authentication (http_pipeline.c): forced password change, rate limits, idempotency, handler. */
void gx_http_pipeline_after_auth(struct gx_req *req);
/* Count one request served in a Redis-degraded mode under check (gx_redis_degraded_total{check}). */
void gx_http_count_degraded(const char *check);

/* Partner API keys (http_apikey.c): authenticate req by the key text (borrowed) of its X-API-Key header, then go on
 * with gx_http_pipeline_after_auth or answer (401, 403 INSUFFICIENT_SCOPE, 503). */
void gx_http_apikey_start(struct gx_req *req, const char *text);
/* The reply of a request that presented a key has status: write its audit row (asynchronous, best effort: a failure
 * is logged and counted). No-op for other requests. */
void gx_http_apikey_audit(struct gx_req *req, int status);

/* The idempotency step after the key was validated (http_idem.c): without a key run the handler, else look the key
 * up (GX_ROUTE_OUTBOX_WRITE) or claim it, then run the handler or answer from the record. */
void gx_http_idem_start(struct gx_req *req);
/* True while the reply must wait for the request's idempotency record (CLAIMED or DEFERRED). */
bool gx_http_idem_holds_reply(const struct gx_req *req);

/* The pipeline's last step, the route's handler (http_pipeline.c); req may be gone afterwards. */
void gx_http_run_handler(struct gx_req *req);
/* A continuation after the worker left its loop (shutdown): answers 503 and returns true; the rest of the pipeline
 * must not run (http_pipeline.c). */
bool gx_http_shutting_down(struct gx_req *req);

/* After an idempotent request's reply is built: store it (2xx-4xx) or drop the record (5xx) (http_idem.c).
 * Returns 0 when a write started (done(arg) runs once it ended, success or not: only then may the reply go out, so
 * that a client retrying after the answer finds the record), -1 when there is nothing to wait for. */
int gx_http_idem_finish(struct gx_req *req, int status, const char *content_type, const void *body, size_t len,
			gx_idem_done_cb done, void *arg);

/* Send a reply held for its idempotency record now (the record's write ended, or the worker shuts down). */
void gx_http_send_held(struct gx_req *req);

/* Core reply used by every gx_reply_* (http_req.c). */
void gx_http_send(struct gx_req *req, int status, const char *content_type, const void *body, size_t len);

/* Allocate the request context for ev on worker w and link it (http_req.c). */
struct gx_req *gx_http_req_new(struct http_worker *w, struct evhttp_request *ev);

#endif
