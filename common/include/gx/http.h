/* HTTP API server on libevent's evhttp: route table, request context, the one JSON error format, and the request
 * pipeline every API daemon shares.
 *
 * Invariant: every request gets exactly one reply, even when the client has gone away; the reply functions
 * (gx_reply_*) send it, record the access log line and metrics, and free the request context. After calling one,
 * the handler must not touch req again.
 *
 * Threads: the server runs `threads` worker threads, each with its own event_base, evhttp, listening socket (all
 * bound with SO_REUSEPORT to the same port; unless share_port is set, a port another process already listens on
 * stops the start, see gx_http_run), PostgreSQL pool and Redis client. A handler runs on its worker's
 * thread and uses that worker's pool (gx_req_pg) and Redis (gx_req_redis); everything it starts completes on the
 * same thread. Service state (gx_req_app) is shared read-only across workers; mutable service state must be per
 * worker (see gx_http_def.worker_init).
 *
 * Pipeline per request, in order (each step may answer and end the request):
 *   1. request id: X-Request-Id from the client if sane (<= 64 chars of [A-Za-z0-9._-]), else a new UUID v4;
 *      echoed on every response and set as the logger's request id while the handler runs;
 *   2. security headers (nosniff, frame deny, no-store for API paths, HSTS when configured) and CORS from config
 *      (preflight OPTIONS answered here);
 *   3. route match: unknown path -> 404 NOT_FOUND, known path with other method -> 405 METHOD_NOT_ALLOWED + Allow;
 *   4. body: > max_body -> 413 PAYLOAD_TOO_LARGE; for POST/PUT/PATCH with a body, Content-Type must be JSON and the
 *      body (exactly Content-Length bytes) a JSON object: valid UTF-8, nesting depth <= 32, no raw byte < 0x20 but
 *      whitespace between tokens, none inside strings, no \u0000 escape (it would truncate C strings), only
 *      whitespace after the value -> else 400 INVALID_JSON / 415 UNSUPPORTED_MEDIA_TYPE;
 *   5. auth per route policy: Bearer access token (gx_jwt, HS256, iss/aud/exp) -> 401 UNAUTHORIZED with reason code,
 *      role below the policy -> 403 FORBIDDEN; access-token revocation (jti denylist in Redis);
 *   6. rate limit (Redis GCRA, per client IP — X-Forwarded-For only from trusted proxies — and per user; routes with
 *      GX_ROUTE_STRICT_RL use the strict limits) -> 429 RATE_LIMITED with Retry-After and RateLimit-* headers;
 *   7. idempotency for POST/PATCH carrying Idempotency-Key (or X-Idempotency-Key): same key + same body replays the
 *      stored response byte for byte; different body -> 422 IDEMPOTENCY_KEY_REUSED; still in flight -> 409
 *      IDEMPOTENCY_IN_PROGRESS (design.md §3);
 *   8. the handler.
 * Error body, a superset of the original backend's flat one (docs/compat.md): {"error":<HTTP reason phrase>,
 *   "message","code","statusCode","requestId","details"?:[{"field","issue"}]}; an unknown route adds "path", a 429
 *   "retryAfter" (seconds).
 *
 * Policies worth knowing:
 *   - paths match strictly: no trailing-slash redirect ("/a/" is 404 when the route is "/a"), empty segments never
 *     match; literal segments win over {params} ("/users/me" before "/users/{id}") whatever the table order; HEAD
 *     runs the GET route; params are percent-decoded, and one that decodes to '/' or NUL answers 400 INVALID_PATH;
 *   - bodies up to max_body are accepted; up to 4 x max_body they are read and refused with our 413; beyond that
 *     (and for methods outside GET POST PUT PATCH DELETE OPTIONS HEAD) libevent answers with its own page, since
 *     libevent 2.1 has no hook between the headers and the body of a server request;
 *   - 401 answers carry details [{"field":"authorization","issue":<reason>}] with the gx_jwt reason code or
 *     TOKEN_MISSING / TOKEN_REVOKED; a public route ignores an invalid token (the request runs anonymously);
 *   - token epoch: an access token whose iat is before its profile's epoch (a password change or reset; Redis
 *     gx:epoch:<sub>, read with the jti denylist in one MGET) is refused 401 TOKEN_REVOKED. Redis down: the epoch
 *     comes from "UserProfile"."tokensValidAfter" (cached per worker thread for 5 s); PostgreSQL down as well:
 *     503 DB_UNAVAILABLE (fails closed). A token with "pwc": true reaches only GX_ROUTE_PWC_OK routes (403
 *     PASSWORD_CHANGE_REQUIRED);
 *   - Redis down: rate limits and the jti denylist fail open, counted in gx_redis_degraded_total;
 *   - rate-limit keys: gx:rl:ip:<ip>, gx:rl:user:<sub> (gx:rl:strict:ip:..., gx:rl:strict:user:... for
 *     GX_ROUTE_STRICT_RL), GCRA, per minute; RateLimit-* headers on every limited response, Retry-After on 429;
 *   - idempotency: scoped key <tenant>:<sub or "anon">:<service>:<header> (header <= 128 printable ASCII chars, else
 *     400 INVALID_IDEMPOTENCY_KEY); replies 2xx-4xx are stored before they are sent, 5xx drop the record; a replay
 *     carries Idempotent-Replayed: true;
 *   - a handler that never replies is answered 503 SHUTTING_DOWN when the server stops;
 *   - slow clients: request_timeout_ms is both evhttp's idle timeout (no byte read or written for that long) and a
 *     deadline per request: a request must be received completely (headers and body) within request_timeout_ms of
 *     the connection opening or of the previous response on it, else the connection is closed without an answer
 *     (counted in gx_http_request_deadline_total), so a client trickling bytes cannot hold a connection. Time
 *     spent in the handler and writing the response does not count.
 */
#ifndef GX_HTTP_H
#define GX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

struct event_base;
struct gx_req;
struct gx_pg_pool;
struct gx_redis;
struct gx_verr;
struct gx_jwt_claims;

typedef void (*gx_http_handler)(struct gx_req *req);

enum gx_auth_policy {
	GX_AUTH_PUBLIC,      /* no token needed (a valid token is still parsed if present) */
	GX_AUTH_USER,        /* any valid access token */
	GX_AUTH_PARTNER,     /* PARTNER_API, ADMIN or SUPER_ADMIN */
	GX_AUTH_ADMIN,       /* ADMIN or SUPER_ADMIN */
	GX_AUTH_SUPER_ADMIN, /* SUPER_ADMIN only */
};

enum gx_route_flags {
	GX_ROUTE_STRICT_RL = 1 << 0, /* login/register-class rate limits */
	GX_ROUTE_NO_IDEMP = 1 << 1,  /* POST/PATCH that must not be replayed from the idempotency store (e.g. login) */
	GX_ROUTE_RAW_BODY = 1 << 2,  /* do not parse the body as JSON */
	GX_ROUTE_NO_RL = 1 << 3,     /* no rate limit (health, metrics: probes must never see 429) */
	GX_ROUTE_QUIET = 1 << 4,     /* access log at debug instead of info for non-error answers (probes) */
	GX_ROUTE_OUTBOX_WRITE = 1 << 5, /* writes only via gx_outbox_submit: idempotency claim in its txn (gx/idem.h) */
	/* the strict limits (as GX_ROUTE_STRICT_RL) when the JSON body carries one of the credential fields "email",
	 * "phoneNum" or "password" (whatever their value), the ordinary ones otherwise */
	GX_ROUTE_STRICT_RL_CREDENTIALS = 1 << 6,
	/* open to an access token with "pwc": true (an admin reset the password; it must be changed first). Other
	 * routes answer such a token 403 PASSWORD_CHANGE_REQUIRED; a public route runs without its claims. */
	GX_ROUTE_PWC_OK = 1 << 7,
};

/* One row of a service's route table. Paths are literal segments and {name} parameters, e.g.
 * "/api/v1/users/{id}/kyc". Borrowed: the table must outlive the server (static const). */
struct gx_route {
	const char *method; /* "GET", "POST", "PATCH", "PUT", "DELETE" */
	const char *path;
	gx_http_handler handler;
	enum gx_auth_policy auth;
	unsigned flags; /* enum gx_route_flags */
};

/* Readiness check a service adds to /readyz (beyond DB, schema and Redis). Fill reason and return false when not
 * ready. Runs on a worker thread; must not block. */
typedef bool (*gx_http_ready_fn)(void *app, char *reason, size_t reasonlen);
/* Per-worker hook, called on each worker thread before it serves: create per-worker state, return it (or NULL).
 * Freed with worker_free after the loop ends. */
typedef void *(*gx_http_worker_init_fn)(void *app, struct event_base *base, struct gx_pg_pool *pg,
					struct gx_redis *redis);
typedef void (*gx_http_worker_free_fn)(void *worker_state);

/* What a daemon hands to gx_http_run. All pointers borrowed for the server's lifetime. */
struct gx_http_def {
	const char *service; /* "svc-identity" */
	const struct gx_route *routes;
	size_t nroutes;
	void *app;                          /* service state, read-only once serving */
	gx_http_ready_fn ready;             /* may be NULL */
	gx_http_worker_init_fn worker_init; /* may be NULL */
	gx_http_worker_free_fn worker_free; /* may be NULL */
	bool needs_pg;                      /* false for workers' metrics/health servers */
	bool needs_redis;
	void (*on_drain)(void *app); /* may be NULL: called once on the main thread when SIGTERM starts the drain */
};

/* Runtime settings (from the daemon's config table, see gx/api.h). */
struct gx_http_opts {
	const char *bind; /* "0.0.0.0" */
	int port;
	int threads;                 /* worker threads (default: number of CPUs) */
	size_t max_body;             /* bytes, default 1 MiB */
	int request_timeout_ms;      /* idle timeout and per-request receive deadline (see slow clients above) */
	int drain_timeout_ms;        /* SIGTERM: finish in-flight requests within this, then exit */
	int drain_delay_ms;          /* SIGTERM: keep serving with /readyz 503 this long before closing listeners */
	const char *cors_origins;    /* comma list or "*" or "" (off) */
	const char *trusted_proxies; /* comma list of IPs whose X-Forwarded-For is trusted */
	const char *pg_conninfo;
	int pg_pool_size; /* per worker */
	const char *redis_url;
	const unsigned char *jwt_key; /* JWT_SECRET bytes */
	size_t jwt_key_len;
	const char *jwt_issuer;
	long long rl_rate, rl_burst; /* per IP / per user, per minute */
	long long rl_strict_rate, rl_strict_burst;
	bool hsts;
	bool share_port; /* SHARE_PORT: join another process's listeners on the port instead of refusing to start */
	const char *tenant_id;           /* TENANT_ID (never NULL or empty): first part of scoped idempotency keys */
	long long original_tokens_until; /* ORIGINAL_TOKENS_UNTIL: Unix time until which the original backend's
					  * access tokens are accepted (role USER); 0 = never */
};

/* Run the server until SIGTERM/SIGINT and a completed drain: installs signal handling, starts the workers, blocks.
 * Returns the process exit code (0 after a clean drain, 1 when the listener could not be bound or, unless
 * opts->share_port, another process already listens on the port: logged). */
int gx_http_run(const struct gx_http_def *def, const struct gx_http_opts *opts);

/* ---- request accessors (all borrowed, valid until the reply) ---- */
const char *gx_req_method(const struct gx_req *req);
const char *gx_req_path(const struct gx_req *req);                    /* decoded path without query */
const char *gx_req_param(const struct gx_req *req, const char *name); /* {name} from the route, NULL if absent */
const char *gx_req_query(const struct gx_req *req, const char *name); /* decoded query value, NULL if absent */
const char *gx_req_header(const struct gx_req *req, const char *name);
const char *gx_req_id(const struct gx_req *req);
/* The request's W3C trace id (32 hex; continued from its traceparent or new), "" when none could be made. */
const char *gx_req_trace_id(const struct gx_req *req);
const char *gx_req_client_ip(const struct gx_req *req);
cJSON *gx_req_body(const struct gx_req *req); /* parsed JSON object, NULL when no body */
const unsigned char *gx_req_raw_body(const struct gx_req *req, size_t *len);
/* Claims of the verified access token, NULL on a public route without token. */
const struct gx_jwt_claims *gx_req_claims(const struct gx_req *req);
bool gx_req_is_admin(const struct gx_req *req); /* ADMIN or SUPER_ADMIN */
/* True when the caller is profile_id itself or an admin (object-level check, design.md §4). */
bool gx_req_may_access(const struct gx_req *req, const char *profile_id);
struct gx_pg_pool *gx_req_pg(const struct gx_req *req);
struct gx_redis *gx_req_redis(const struct gx_req *req);
void *gx_req_app(const struct gx_req *req);
/* The tenant of this deployment (gx_http_opts.tenant_id: TENANT_ID, never empty). */
const char *gx_req_tenant(const struct gx_req *req);
void *gx_req_worker(const struct gx_req *req); /* per-worker state from worker_init */
struct event_base *gx_req_base(const struct gx_req *req);
/* Idempotency key of this request after scoping (tenant + caller + key), or NULL; used to derive outbox requestId. */
const char *gx_req_idempotency_key(const struct gx_req *req);

/* The def the server runs (borrowed), e.g. for the shared health routes to reach def->ready and def->service. */
const struct gx_http_def *gx_req_def(const struct gx_req *req);

/* Attach handler state to the request; free_fn (may be NULL) runs when the request is finished. */
void gx_req_set_data(struct gx_req *req, void *data, void (*free_fn)(void *));
void *gx_req_data(const struct gx_req *req);

/* ---- replies: each ends the request ---- */
/* Response header for the coming reply (copied); replaces every header of that name set before, e.g. the default
 * Cache-Control or Content-Security-Policy every answer starts with. */
void gx_reply_header(struct gx_req *req, const char *name, const char *value);
/* JSON reply; takes ownership of body (may be NULL for an empty body). */
void gx_reply_json(struct gx_req *req, int status, cJSON *body);
/* Pre-serialised body with a content type (copied). */
void gx_reply_raw(struct gx_req *req, int status, const char *content_type, const void *body, size_t len);
/* Error in the one format; message is a printf format. 5xx errors are logged at error level with the request id. */
void gx_reply_error(struct gx_req *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* 400 VALIDATION_FAILED with the collector's details; takes ownership of v. */
void gx_reply_verr(struct gx_req *req, struct gx_verr *v);
/* Map a gx_pg failure to the right answer (503 DB_UNAVAILABLE for UNAVAILABLE/CONNECTION/TIMEOUT, 500 INTERNAL
 * otherwise) and log it. */
struct gx_pg_error;
void gx_reply_pg_error(struct gx_req *req, const struct gx_pg_error *err);

/* True when n bytes of s (borrowed, need not be NUL-terminated) are JSON text the body step would parse: valid
 * UTF-8, no raw control character but whitespace between tokens, no \u0000 escape. The grammar is cJSON's to check.
 * Shared with gx_jwt for token parts. */
bool gx_http_json_text_ok(const unsigned char *s, size_t n);

/* A handler changed the token epoch of profile sub (Unix seconds): the calling worker thread's cache of the
 * PostgreSQL fallback (see "token epoch" above) holds the new value at once. Other threads and processes see it
 * within 5 s while Redis is down, at once through Redis otherwise. */
void gx_http_epoch_note(const char *sub, long long epoch);

/* Is the server draining (SIGTERM received)? Workers' /readyz answer 503 then. */
bool gx_http_draining(void);

/* /livez: true when every worker's event loop ran its heartbeat within max_age_ms; else false with the first
 * stale worker named in reason. Safe from any thread. */
bool gx_http_workers_alive(int max_age_ms, char *reason, size_t reasonlen);

#endif
