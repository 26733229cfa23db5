/* Partner API keys in the request pipeline (gx/apikey.h, docs/partners.md): a request carrying X-API-Key is
 * authenticated by it instead of a Bearer token, as role PARTNER_API with exactly the key's scopes, and each such
 * request leaves one "AdminAuditLog" row (key id, operation, outcome).
 *
 * Per request: the revocation marker in Redis (gx:apikey:revoked:<id>, written by a revocation: effective at once
 * on every replica), then the key's row from PostgreSQL, remembered per worker thread for KEY_CACHE_TTL_MS. The
 * database is the truth: a revocation, an expiry moved by a rotation or a revocation whose marker never reached
 * Redis is seen by every replica within KEY_CACHE_TTL_MS, Redis or not. Degraded modes:
 *   - Redis down: the marker is skipped (counted in gx_redis_degraded_total{check="apikey"}); the cached row is at
 *     most KEY_CACHE_TTL_MS old, so a revoked key still fails within that time (fail closed); the per-key rate
 *     limit fails open as every limit does (gx_redis_degraded_total{check="ratelimit"});
 *   - PostgreSQL down: a key whose row is not in the thread's cache (or is older than KEY_CACHE_TTL_MS) is answered
 *     503 DB_UNAVAILABLE: never admitted on a stale answer.
 */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gx/apikey.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/pg.h"
#include "gx/redis.h"
#include "gx/util.h"

#define KEY_CACHE_SLOTS 256
#define KEY_CACHE_TTL_MS 1000

/* clang-format off */
static const char SQL_KEY[] =
	"SELECT \"tenantId\", \"secretHash\", \"scopes\"::text AS \"scopes\", \"profileId\", \"rateLimitPerMin\","
	" (extract(epoch FROM \"expiresAt\") * 1000)::bigint AS \"expiresMs\", \"revokedAt\" IS NOT NULL AS \"revoked\""
	" FROM \"PartnerApiKey\" WHERE \"id\" = $1";

static const char SQL_AUDIT[] =
	"INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	" \"targetId\", \"details\", \"requestId\", \"ipAddress\") VALUES ($1, $2, 'PARTNER_API', 'PARTNER_KEY_USE',"
	" 'OPERATION', $3, jsonb_build_object('outcome', $4::text, 'status', $5::int, 'method', $6::text,"
	" 'route', $7::text), $8, $9)";
/* clang-format on */

struct key_slot {
	char id[GX_APIKEY_ID_LEN + 1];
	bool found;
	char tenant[64];
	char hash[65];
	uint64_t scopes;
	char sub[64];
	long long rate;
	long long expires_ms;
	bool revoked;
	int64_t at_ms; /* when read; 0 = empty */
};

static _Thread_local struct key_slot key_cache[KEY_CACHE_SLOTS];

static struct gx_metric *m_uses, *m_audit_failed;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void metrics_register(void)
{
	static const char *const labels[] = { "outcome", NULL };

	m_uses = gx_metrics_counter("gx_apikey_requests_total", "Requests that presented a partner API key, by outcome",
				    labels);
	m_audit_failed = gx_metrics_counter("gx_apikey_audit_failed_total",
					    "Partner API key uses whose audit row could not be written", NULL);
}

static struct key_slot *slot_of(const char *id)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &key_cache[h % KEY_CACHE_SLOTS];
}

/* 401 in the one error body, the reason in details (as the Bearer refusals, gx/http.h). */
static void refuse(struct gx_req *req, const char *reason, const char *message)
{
	cJSON *details = cJSON_CreateArray();
	cJSON *d = cJSON_CreateObject();

	req->apikey_outcome = reason;
	cJSON_AddStringToObject(d, "field", "x-api-key");
	cJSON_AddStringToObject(d, "issue", reason);
	cJSON_AddItemToArray(details, d);
	evhttp_add_header(evhttp_request_get_output_headers(req->ev), "WWW-Authenticate",
			  "ApiKey header=\"" GX_APIKEY_HEADER "\"");
	gx_reply_json(req, 401, gx_http_error_body(401, "UNAUTHORIZED", message, req->id, details));
}

static void refuse_scope(struct gx_req *req)
{
	cJSON *details = cJSON_CreateArray();
	cJSON *d = cJSON_CreateObject();
	const char *scope = req->apikey_scope >= 0 ? gx_apikey_scopes[req->apikey_scope].name : NULL;
	char msg[192];

	req->apikey_outcome = "INSUFFICIENT_SCOPE";
	cJSON_AddStringToObject(d, "field", "scope");
	cJSON_AddStringToObject(d, "issue", scope ? scope : "NOT_A_PARTNER_OPERATION");
	cJSON_AddItemToArray(details, d);
	if (scope)
		snprintf(msg, sizeof(msg), "this API key lacks the scope %s", scope);
	else
		snprintf(msg, sizeof(msg), "%s %s is not an operation an API key may call", req->method,
			 req->route->path);
	gx_reply_json(req, 403, gx_http_error_body(403, "INSUFFICIENT_SCOPE", msg, req->id, details));
}

/* The key's verdict from its row (borrowed slot): on success the request runs as PARTNER_API. */
static void judge(struct gx_req *req, const struct key_slot *s)
{
	const struct gx_http_opts *o = req->w->srv->opts;
	int64_t now = gx_now_ms();

	if (!s->found || strcmp(s->tenant, o->tenant_id) != 0 || !gx_apikey_hash_matches(s->hash, req->apikey_digest)) {
		refuse(req, "API_KEY_INVALID", "Invalid API key");
		return;
	}
	if (s->revoked) {
		refuse(req, "API_KEY_REVOKED", "the API key has been revoked");
		return;
	}
	if (s->expires_ms <= now) {
		refuse(req, "API_KEY_EXPIRED", "the API key has expired");
		return;
	}
	if (req->apikey_scope < 0 || !(s->scopes & ((uint64_t)1 << req->apikey_scope)) ||
	    req->route->auth > GX_AUTH_PARTNER) {
		refuse_scope(req);
		return;
	}
	memset(&req->claims, 0, sizeof(req->claims));
	snprintf(req->claims.sub, sizeof(req->claims.sub), "%s", s->sub);
	snprintf(req->claims.role, sizeof(req->claims.role), "PARTNER_API");
	snprintf(req->claims.tenant_id, sizeof(req->claims.tenant_id), "%s", s->tenant);
	snprintf(req->claims.iss, sizeof(req->claims.iss), "%s", o->jwt_issuer ? o->jwt_issuer : "");
	snprintf(req->claims.aud, sizeof(req->claims.aud), "gx-api");
	req->claims.iat = (long long)(now / 1000);
	req->claims.exp = s->expires_ms / 1000;
	req->has_claims = true;
	req->apikey_rate = s->rate;
	req->apikey_outcome = "AUTHENTICATED";
	gx_http_pipeline_after_auth(req);
}

static void on_key(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	struct key_slot *s;

	if (gx_http_shutting_down(req))
		return;
	if (err) {
		/* fail closed: without the row the key cannot be judged */
		gx_reply_pg_error(req, err);
		return;
	}
	s = slot_of(req->apikey_id);
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", req->apikey_id);
	s->at_ms = gx_now_ms();
	if (PQntuples(res) == 1) {
		s->found = true;
		snprintf(s->tenant, sizeof(s->tenant), "%s", gx_pg_val(res, 0, "tenantId"));
		snprintf(s->hash, sizeof(s->hash), "%s", gx_pg_val(res, 0, "secretHash"));
		s->scopes = gx_apikey_scopes_from_pg(gx_pg_val(res, 0, "scopes"));
		snprintf(s->sub, sizeof(s->sub), "%s",
			 gx_pg_isnull(res, 0, "profileId") ? req->apikey_id : gx_pg_val(res, 0, "profileId"));
		s->rate = strtoll(gx_pg_val(res, 0, "rateLimitPerMin"), NULL, 10);
		s->expires_ms = strtoll(gx_pg_val(res, 0, "expiresMs"), NULL, 10);
		s->revoked = strcmp(gx_pg_val(res, 0, "revoked"), "t") == 0;
	}
	judge(req, s);
}

static void lookup(struct gx_req *req)
{
	const struct key_slot *s = slot_of(req->apikey_id);
	const char *p[1] = { req->apikey_id };

	if (s->at_ms && gx_now_ms() - s->at_ms < KEY_CACHE_TTL_MS && strcmp(s->id, req->apikey_id) == 0) {
		judge(req, s);
		return;
	}
	if (!req->w->pg) {
		gx_reply_error(req, 503, "DB_UNAVAILABLE", "API keys cannot be checked without the database");
		return;
	}
	if (gx_pg_query(req->w->pg, SQL_KEY, 1, p, on_key, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "the API key lookup could not start");
}

static void on_marker(const redisReply *reply, const char *err, void *arg)
{
	struct gx_req *req = arg;

	if (gx_http_shutting_down(req))
		return;
	if (err || !reply || (reply->type != REDIS_REPLY_NIL && reply->type != REDIS_REPLY_STRING)) {
		/* the database answers within KEY_CACHE_TTL_MS: see the file comment */
		gx_http_count_degraded("apikey");
		lookup(req);
		return;
	}
	if (reply->type == REDIS_REPLY_STRING) {
		refuse(req, "API_KEY_REVOKED", "the API key has been revoked");
		return;
	}
	lookup(req);
}

void gx_http_apikey_start(struct gx_req *req, const char *text)
{
	char key[96];
	const char *argv[2] = { "GET", key };

	pthread_once(&once, metrics_register);
	req->apikey = true;
	req->apikey_outcome = "ERROR";
	req->apikey_scope = gx_apikey_scope_of_route(req->w->srv->def->service, req->route->method, req->route->path);
	if (gx_apikey_parse(text, req->apikey_id, req->apikey_digest) < 0) {
		refuse(req, "API_KEY_MALFORMED", "Invalid API key format. Expected: gxk_<id>_<secret>");
		return;
	}
	if (!req->w->redis) {
		lookup(req);
		return;
	}
	snprintf(key, sizeof(key), GX_APIKEY_REVOKED_FMT, req->apikey_id);
	(void)gx_redis_cmd(req->w->redis, on_marker, req, 2, argv, NULL); /* on failure the callback runs with err */
}

static void on_audit(PGresult *res GX_UNUSED, const struct gx_pg_error *err, void *arg GX_UNUSED)
{
	if (!err)
		return;
	gx_metrics_add(m_audit_failed, NULL, 1);
	gx_log_warn("partner key audit row not written: %s", err->message);
}

void gx_http_apikey_audit(struct gx_req *req, int status)
{
	const char *outcome = req->apikey_outcome ? req->apikey_outcome : "ERROR";
	const char *labels[1];
	char st[8], op[256];
	const char *p[9];

	if (!req->apikey)
		return;
	if (strcmp(outcome, "AUTHENTICATED") == 0)
		outcome = status == 429 ? "RATE_LIMITED" : "ALLOWED";
	labels[0] = outcome;
	gx_metrics_add(m_uses, labels, 1);
	/* a text that is no key's shape names no key: counted, not audited */
	if (!req->apikey_id[0])
		return;
	if (!req->w->pg || req->w->stopping) { /* the loop is gone: nothing would run the insert */
		gx_metrics_add(m_audit_failed, NULL, 1);
		return;
	}
	if (req->apikey_scope >= 0)
		snprintf(op, sizeof(op), "%s", gx_apikey_scopes[req->apikey_scope].name);
	else
		snprintf(op, sizeof(op), "%s %s", req->method, req->route ? req->route->path : "");
	snprintf(st, sizeof(st), "%d", status);
	p[0] = req->w->srv->opts->tenant_id;
	p[1] = req->apikey_id;
	p[2] = op;
	p[3] = outcome;
	p[4] = st;
	p[5] = req->method;
	p[6] = req->route ? req->route->path : "";
	p[7] = req->id;
	p[8] = req->ip;
	if (gx_pg_query(req->w->pg, SQL_AUDIT, 9, p, on_audit, NULL) < 0)
		gx_metrics_add(m_audit_failed, NULL, 1);
}
