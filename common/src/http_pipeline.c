/* Request pipeline after routing: bearer auth and role policy, access-token revocation (jti denylist and the
 * profile's token epoch), the forced password change, rate limits, idempotency, then the route's handler.
 * Asynchronous steps (Redis, PostgreSQL) continue from their callbacks. */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/sha256.h>

#include "gx/apikey.h"
#include "gx/idem.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/pg.h"
#include "gx/redis.h"
#include "gx/util.h"

#define ACCESS_AUDIENCE "gx-api"
#define JWT_LEEWAY_S 30
#define IDEM_KEY_MAX 128
/* PostgreSQL fallback of the token epoch (Redis down): answers remembered per worker thread this long */
#define EPOCH_CACHE_SLOTS 256
#define EPOCH_CACHE_TTL_S 5
/* lifetime of an epoch key written back from PostgreSQL: longer than an access token lives (15 min) */
#define EPOCH_KEY_TTL_S 960

static struct gx_metric *m_degraded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void metrics_register(void)
{
	static const char *const labels[] = { "check", NULL };
	m_degraded = gx_metrics_counter("gx_redis_degraded_total", "Requests served in Redis-degraded mode", labels);
}

static void count_degraded(const char *check)
{
	const char *v[] = { check };
	gx_metrics_add(m_degraded, v, 1);
}

void gx_http_count_degraded(const char *check)
{
	pthread_once(&once, metrics_register);
	count_degraded(check);
}

static void step_ratelimit(struct gx_req *req);
static void step_pwc(struct gx_req *req);
static void step_idempotency(struct gx_req *req);

bool gx_http_shutting_down(struct gx_req *req)
{
	if (!req->w->stopping)
		return false;
	gx_reply_error(req, 503, "SHUTTING_DOWN", "the server is shutting down, retry");
	return true;
}

/* ---- step 5: authentication and role policy ---- */

static int role_rank(const char *role)
{
	if (strcmp(role, "SUPER_ADMIN") == 0)
		return 3;
	if (strcmp(role, "ADMIN") == 0)
		return 2;
	if (strcmp(role, "PARTNER_API") == 0)
		return 1;
	return 0;
}

static bool policy_allows(enum gx_auth_policy p, const char *role)
{
	switch (p) {
	case GX_AUTH_PUBLIC:
	case GX_AUTH_USER:
		return true;
	case GX_AUTH_PARTNER:
		return role_rank(role) >= 1;
	case GX_AUTH_ADMIN:
		return role_rank(role) >= 2;
	case GX_AUTH_SUPER_ADMIN:
		return role_rank(role) == 3;
	}
	return false;
}

static void reply_unauthorized(struct gx_req *req, const char *reason, const char *message)
{
	cJSON *details = cJSON_CreateArray();
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "field", "authorization");
	cJSON_AddStringToObject(d, "issue", reason);
	cJSON_AddItemToArray(details, d);
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), "WWW-Authenticate",
			  "Bearer error=\"invalid_token\"");
	gx_reply_json(req, 401, gx_http_error_body(401, "UNAUTHORIZED", message, req->id, details));
}

/* During a cut-over (ORIGINAL_TOKENS_UNTIL), an access token the original backend issued with the same key: its
 * profile as a USER of this tenant (docs/compat.md). */
static bool original_token(const struct gx_http_opts *o, const char *token, struct gx_jwt_claims *c)
{
	long long now = (long long)time(NULL);
	const char *reason = NULL;

	if (o->original_tokens_until <= now ||
	    gx_jwt_verify_original(token, o->jwt_key, o->jwt_key_len, GX_JWT_ORIGINAL_ACCESS_AUD, now, JWT_LEEWAY_S, c,
				   &reason) < 0)
		return false;
	snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", o->tenant_id);
	return true;
}

/* Returns 0 to go on, -1 when the request was answered, 1 when the API key step took it over. */
static int step_auth(struct gx_req *req)
{
	const struct gx_http_opts *o = req->w->srv->opts;
	enum gx_auth_policy policy = req->route->auth;
	const char *h = gx_req_header(req, "Authorization");
	const char *key = gx_req_header(req, GX_APIKEY_HEADER);
	const char *reason = NULL;

	if (key) {
		/* a key is judged on every route, public ones included: its scopes are all it reaches */
		if (h && *h) {
			reply_unauthorized(req, "CREDENTIALS_CONFLICT",
					   "send either an API key or an Authorization header, not both");
			return -1;
		}
		gx_http_apikey_start(req, key);
		return 1;
	}
	if (!h || !*h) {
		if (policy == GX_AUTH_PUBLIC)
			return 0;
		reply_unauthorized(req, "TOKEN_MISSING", "No authorization header provided");
		return -1;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
		if (policy == GX_AUTH_PUBLIC)
			return 0;
		reply_unauthorized(req, "TOKEN_MALFORMED",
				   "Invalid authorization header format. Expected: Bearer <token>");
		return -1;
	}
	if (gx_jwt_verify(h + 7, o->jwt_key, o->jwt_key_len, o->jwt_issuer, ACCESS_AUDIENCE, (long long)time(NULL),
			  JWT_LEEWAY_S, &req->claims, &reason) < 0 &&
	    !original_token(o, h + 7, &req->claims)) {
		/* a public route works without a token, so a stale one must not break it */
		if (policy == GX_AUTH_PUBLIC)
			return 0;
		reply_unauthorized(req, reason, "Invalid or expired token");
		return -1;
	}
	req->has_claims = true;
	if (!policy_allows(policy, req->claims.role)) {
		gx_reply_error(req, 403, "FORBIDDEN", "Insufficient permissions to access this resource");
		return -1;
	}
	return 0;
}

/* ---- step 5b: access-token revocation ----
 * One MGET reads the jti denylist (gx:revoked:jti:<jti>, written by logout) and the profile's token epoch
 * (gx:epoch:<sub>, written by a password change or reset): a denylisted token, or one issued before the epoch, is
 * refused. Redis down: the denylist fails open (as the rate limits); the epoch is read from PostgreSQL instead
 * ("UserProfile"."tokensValidAfter", remembered per worker thread for EPOCH_CACHE_TTL_S), and with PostgreSQL down
 * too the request fails closed (503): a revoked credential must not come back because a cache is down. Redis up
 * without the epoch key (never written, expired, or lost in a restart or failover) is answered the same way, and
 * PostgreSQL's value is written back (SET NX, EPOCH_KEY_TTL_S): one lookup per profile and key lifetime. */

static const char SQL_EPOCH[] =
	"SELECT COALESCE(extract(epoch FROM \"tokensValidAfter\")::bigint, 0) AS \"epoch\" FROM \"UserProfile\""
	" WHERE \"profileId\" = $1";

struct epoch_slot {
	char sub[64];
	long long epoch;
	long long at; /* when it was read (s); 0 = empty */
};

static _Thread_local struct epoch_slot epoch_cache[EPOCH_CACHE_SLOTS];

static struct epoch_slot *epoch_slot(const char *sub)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)sub; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &epoch_cache[h % EPOCH_CACHE_SLOTS];
}

static void reply_revoked(struct gx_req *req)
{
	reply_unauthorized(req, "TOKEN_REVOKED", "the access token has been revoked");
}

/* The token's verdict against epoch: refused when issued before it. */
static void judge_epoch(struct gx_req *req, long long epoch)
{
	if (req->claims.iat < epoch) {
		reply_revoked(req);
		return;
	}
	step_pwc(req);
}

static void on_epoch_written(const redisReply *reply GX_UNUSED, const char *err GX_UNUSED, void *arg GX_UNUSED)
{
	/* best effort: without the key the next request asks PostgreSQL again */
}

/* Give Redis the epoch PostgreSQL holds, unless a change wrote one meanwhile (NX): the key outlives every access
 * token it could refuse. */
static void epoch_write_back(struct gx_req *req, long long epoch)
{
	char key[96], val[24], ttl[16];
	const char *argv[6] = { "SET", key, val, "EX", ttl, "NX" };

	if (!req->w->redis || !gx_redis_ready(req->w->redis))
		return;
	snprintf(key, sizeof(key), "gx:epoch:%s", req->claims.sub);
	snprintf(val, sizeof(val), "%lld", epoch);
	snprintf(ttl, sizeof(ttl), "%d", EPOCH_KEY_TTL_S);
	(void)gx_redis_cmd(req->w->redis, on_epoch_written, NULL, 6, argv, NULL);
}

static void on_epoch_pg(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	long long epoch = 0;

	if (gx_http_shutting_down(req))
		return;
	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) == 1)
		epoch = strtoll(gx_pg_val(res, 0, "epoch"), NULL, 10);
	gx_http_epoch_note(req->claims.sub, epoch);
	epoch_write_back(req, epoch);
	judge_epoch(req, epoch);
}

void gx_http_epoch_note(const char *sub, long long epoch)
{
	struct epoch_slot *slot = epoch_slot(sub);

	snprintf(slot->sub, sizeof(slot->sub), "%s", sub);
	slot->epoch = epoch;
	slot->at = (long long)time(NULL);
}

/* Redis could not answer: the epoch from PostgreSQL (or the thread's recent answer). */
static void epoch_from_pg(struct gx_req *req)
{
	struct epoch_slot *slot = epoch_slot(req->claims.sub);
	long long now = (long long)time(NULL);
	const char *p[1] = { req->claims.sub };

	if (slot->at && now - slot->at < EPOCH_CACHE_TTL_S && strcmp(slot->sub, req->claims.sub) == 0) {
		judge_epoch(req, slot->epoch);
		return;
	}
	if (!req->w->pg) {
		step_pwc(req);
		return;
	}
	if (gx_pg_query(req->w->pg, SQL_EPOCH, 1, p, on_epoch_pg, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "the revocation check could not start");
}

static void on_revoked(const redisReply *reply, const char *err, void *arg)
{
	struct gx_req *req = arg;
	const redisReply *epoch;

	if (gx_http_shutting_down(req))
		return;
	if (err || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
		count_degraded("revocation");
		gx_log_write(GX_LOG_WARN, &req->log, NULL, "revocation check from postgresql: redis %s",
			     err ? err : "bad reply");
		epoch_from_pg(req);
		return;
	}
	if (reply->element[0]->type == REDIS_REPLY_STRING) {
		reply_revoked(req);
		return;
	}
	epoch = reply->element[1];
	if (epoch->type != REDIS_REPLY_STRING) {
		/* no key: never written, expired, or lost with a Redis restart or failover. PostgreSQL knows (and the
		 * answer is written back), so a revocation never comes back to life with an empty Redis */
		epoch_from_pg(req);
		return;
	}
	judge_epoch(req, strtoll(epoch->str, NULL, 10));
}

static void step_revocation(struct gx_req *req)
{
	char key[96], ekey[96];
	const char *argv[3] = { "MGET", key, ekey };

	if (!req->has_claims || !req->claims.jti[0]) {
		step_pwc(req);
		return;
	}
	if (!req->w->redis) {
		epoch_from_pg(req);
		return;
	}
	snprintf(key, sizeof(key), "gx:revoked:jti:%s", req->claims.jti);
	snprintf(ekey, sizeof(ekey), "gx:epoch:%s", req->claims.sub);
	if (gx_redis_cmd(req->w->redis, on_revoked, req, 3, argv, NULL) < 0)
		return; /* the callback still runs (from a timer) with err set */
}

/* ---- step 5c: a password an admin reset must be changed before anything else ---- */

void gx_http_pipeline_after_auth(struct gx_req *req)
{
	step_pwc(req);
}

static void step_pwc(struct gx_req *req)
{
	if (req->has_claims && req->claims.pwc && !(req->route->flags & GX_ROUTE_PWC_OK)) {
		if (req->route->auth != GX_AUTH_PUBLIC) {
			gx_reply_error(req, 403, "PASSWORD_CHANGE_REQUIRED",
				       "the password must be changed first: PATCH your profile with password and "
				       "currentPassword");
			return;
		}
		/* a public route works without a token: it runs anonymously */
		req->has_claims = false;
		memset(&req->claims, 0, sizeof(req->claims));
	}
	step_ratelimit(req);
}

/* ---- step 6: rate limits (per client IP, then per user) ---- */

static void add_rl_headers(struct gx_req *req, const struct gx_ratelimit_result *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req->ev);
	char v[32];

	/* straight to evhttp: these must not be stored with an idempotent response and replayed later */
	evhttp_remove_header(out, "RateLimit-Limit");
	evhttp_remove_header(out, "RateLimit-Remaining");
	evhttp_remove_header(out, "RateLimit-Reset");
	snprintf(v, sizeof(v), "%lld", r->limit);
	evhttp_add_header(out, "RateLimit-Limit", v);
	snprintf(v, sizeof(v), "%lld", r->remaining < 0 ? 0 : r->remaining);
	evhttp_add_header(out, "RateLimit-Remaining", v);
	snprintf(v, sizeof(v), "%lld", r->reset_s < 0 ? 0 : r->reset_s);
	evhttp_add_header(out, "RateLimit-Reset", v);
}

static bool rl_verdict(struct gx_req *req, const struct gx_ratelimit_result *r)
{
	char v[32];

	if (r->degraded) {
		count_degraded("ratelimit");
		return true;
	}
	add_rl_headers(req, r);
	if (r->allowed)
		return true;
	snprintf(v, sizeof(v), "%lld", r->retry_after_s > 0 ? r->retry_after_s : 1);
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), "Retry-After", v);
	{
		long long after = r->retry_after_s > 0 ? r->retry_after_s : 1;
		char msg[96];

		snprintf(msg, sizeof(msg), "Too many requests, please try again later (retry in %lld s).", after);
		gx_http_reply_error_with(req, 429, "RATE_LIMITED", msg, "retryAfter",
					 cJSON_CreateNumber((double)after));
	}
	return false;
}

/* The strict limits for this request: the route's flag, or a credential field in the body of a
 * GX_ROUTE_STRICT_RL_CREDENTIALS route. */
static bool rl_strict(const struct gx_req *req)
{
	static const char *const fields[] = { "email", "phoneNum", "password" };

	if (req->route->flags & GX_ROUTE_STRICT_RL)
		return true;
	if (!(req->route->flags & GX_ROUTE_STRICT_RL_CREDENTIALS) || !cJSON_IsObject(req->body))
		return false;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(req->body, fields[i]))
			return true;
	return false;
}

static void on_rl_user(const struct gx_ratelimit_result *r, void *arg)
{
	struct gx_req *req = arg;

	if (gx_http_shutting_down(req) || !rl_verdict(req, r))
		return;
	step_idempotency(req);
}

static void on_rl_ip(const struct gx_ratelimit_result *r, void *arg)
{
	struct gx_req *req = arg;
	const struct gx_http_opts *o = req->w->srv->opts;
	bool strict = rl_strict(req);
	char key[128];

	if (gx_http_shutting_down(req) || !rl_verdict(req, r))
		return;
	if (!req->has_claims) {
		step_idempotency(req);
		return;
	}
	snprintf(key, sizeof(key), "gx:rl:%suser:%s", strict ? "strict:" : "", req->claims.sub);
	gx_redis_ratelimit(req->w->redis, key, strict ? o->rl_strict_burst : o->rl_burst,
			   strict ? o->rl_strict_rate : o->rl_rate, 60000, on_rl_user, req);
}

static void step_ratelimit(struct gx_req *req)
{
	const struct gx_http_opts *o = req->w->srv->opts;
	bool strict = rl_strict(req);
	char key[128];

	if (req->apikey && req->w->redis) {
		/* a partner key has its own limit instead of the per-IP and per-user ones (docs/partners.md) */
		snprintf(key, sizeof(key), "gx:rl:key:%s", req->apikey_id);
		gx_redis_ratelimit(req->w->redis, key, req->apikey_rate, req->apikey_rate, 60000, on_rl_user, req);
		return;
	}
	if (!req->w->redis || (req->route->flags & GX_ROUTE_NO_RL) || (strict ? o->rl_strict_rate : o->rl_rate) <= 0) {
		step_idempotency(req);
		return;
	}
	snprintf(key, sizeof(key), "gx:rl:%sip:%s", strict ? "strict:" : "", req->ip);
	gx_redis_ratelimit(req->w->redis, key, strict ? o->rl_strict_burst : o->rl_burst,
			   strict ? o->rl_strict_rate : o->rl_rate, 60000, on_rl_ip, req);
}

/* ---- step 7: idempotency (the key here; the record and the request's idempotency state in http_idem.c) ---- */

/* Validate the Idempotency-Key header and build the scoped key. Returns 0 (req->idem_key set, or NULL when the
 * request carries no key or the step does not apply), -1 when answered (bad key). */
static int idem_prepare(struct gx_req *req)
{
	const char *key = gx_req_header(req, "Idempotency-Key");
	const char *tenant;
	unsigned char digest[32];

	if (!key)
		key = gx_req_header(req, "X-Idempotency-Key");
	if (!key || (req->route->flags & GX_ROUTE_NO_IDEMP) ||
	    !(strcmp(req->method, "POST") == 0 || strcmp(req->method, "PATCH") == 0))
		return 0;
	if (!*key || strlen(key) > IDEM_KEY_MAX) {
		gx_reply_error(req, 400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1..%d characters",
			       IDEM_KEY_MAX);
		return -1;
	}
	for (const char *p = key; *p; p++) {
		if (*p < 0x21 || *p > 0x7e) {
			gx_reply_error(req, 400, "INVALID_IDEMPOTENCY_KEY",
				       "Idempotency-Key must be printable ASCII without spaces");
			return -1;
		}
	}
	tenant = req->w->srv->opts->tenant_id;
	req->idem_key = gx_xasprintf("%s:%s:%s:%s", tenant, req->has_claims ? req->claims.sub : "anon",
				     req->w->srv->def->service, key);
	mbedtls_sha256_ret(req->raw ? req->raw : (const unsigned char *)"", req->raw_len, digest, 0);
	gx_hex_encode(digest, sizeof(digest), req->body_sha256);
	return 0;
}

static void step_idempotency(struct gx_req *req)
{
	if (idem_prepare(req) < 0)
		return;
	gx_http_idem_start(req);
}

/* ---- step 8 ---- */

void gx_http_run_handler(struct gx_req *req)
{
	gx_log_set_ctx(&req->log);
	req->route->handler(req);
	/* req may be gone now */
	gx_log_set_ctx(NULL);
}

void gx_http_pipeline_start(struct gx_req *req)
{
	pthread_once(&once, metrics_register);
	if (step_auth(req) != 0)
		return;
	step_revocation(req);
}
