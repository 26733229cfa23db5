/* Partner API keys (ADMIN; docs/partners.md, gx/apikey.h): create (the key is answered once and stored only as a
 * hash), list without secrets, rotate with an overlap (the old key keeps working until the overlap ends), revoke
 * (the database first, then the Redis marker that every replica reads on each request). Each change writes an
 * "AdminAuditLog" row in the same statement. Keys are off-chain configuration: no outbox command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#include "gx/apikey.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/redis.h"
#include "gx/valid.h"
#include "admin.h"

#define DEFAULT_EXPIRES_S (90LL * 86400)
#define DEFAULT_RATE 60
#define DEFAULT_OVERLAP_S 86400LL
#define LIST_MAX 200
#define LIST_DEFAULT 50

/* clang-format off */
static const char SQL_LIST[] =
	"SELECT (SELECT count(*) FROM \"PartnerApiKey\" WHERE \"tenantId\" = $1) AS \"total\","
	" coalesce((SELECT json_agg(" GX_APIKEY_SQL_JSON("k") " ORDER BY k.\"createdAt\" DESC, k.\"id\")"
	"  FROM (SELECT * FROM \"PartnerApiKey\" WHERE \"tenantId\" = $1 ORDER BY \"createdAt\" DESC, \"id\""
	"   LIMIT $2::bigint OFFSET $3::bigint) k), '[]')::text AS \"items\"";

static const char SQL_PROFILE[] =
	"SELECT 1 FROM \"UserProfile\" WHERE \"tenantId\" = $1 AND \"profileId\" = $2 AND \"deletedAt\" IS NULL";

/* $1 tenant, $2 old id, $3 new id, $4 new hash, $5 overlap seconds, $6 lifetime seconds or NULL (the old key's),
 * $7 actor, $8 actor role, $9 request id, $10 IP. The old row is locked, so two rotations of one key serialise. */
static const char SQL_ROTATE[] =
	"WITH old AS (SELECT * FROM \"PartnerApiKey\" WHERE \"tenantId\" = $1 AND \"id\" = $2 FOR UPDATE),"
	" ok AS (SELECT * FROM old WHERE \"revokedAt\" IS NULL AND \"expiresAt\" > now()),"
	" upd AS (UPDATE \"PartnerApiKey\" k SET \"expiresAt\" = LEAST(k.\"expiresAt\","
	"  now() + make_interval(secs => $5::double precision)) FROM ok WHERE k.\"id\" = ok.\"id\" RETURNING k.*),"
	" ins AS (INSERT INTO \"PartnerApiKey\" (\"id\", \"tenantId\", \"name\", \"secretHash\", \"scopes\","
	"  \"profileId\", \"rateLimitPerMin\", \"expiresAt\", \"rotatedFrom\", \"createdBy\")"
	"  SELECT $3, ok.\"tenantId\", ok.\"name\", $4, ok.\"scopes\", ok.\"profileId\", ok.\"rateLimitPerMin\","
	"  now() + COALESCE(make_interval(secs => $6::double precision), ok.\"expiresAt\" - ok.\"createdAt\"),"
	"  ok.\"id\", $7 FROM ok RETURNING *),"
	" a AS (INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	"  \"targetId\", \"details\", \"requestId\", \"ipAddress\") SELECT ins.\"tenantId\", $7, $8,"
	"  'PARTNER_KEY_ROTATE', 'PARTNER_KEY', ins.\"id\", jsonb_build_object('rotatedFrom', ins.\"rotatedFrom\","
	"  'overlapSeconds', $5::bigint), $9, $10 FROM ins)"
	" SELECT (SELECT count(*) FROM old) AS \"found\","
	" (SELECT \"revokedAt\" IS NOT NULL FROM old) AS \"revoked\","
	" (SELECT " GX_APIKEY_SQL_JSON("ins") "::text FROM ins) AS \"key\","
	" (SELECT " GX_APIKEY_SQL_JSON("upd") "::text FROM upd) AS \"previous\"";
/* clang-format on */

/* A request's state: the new key's text lives here until the reply is built, zeroed when the request ends. */
struct pk {
	struct gx_req *req;
	char id[GX_APIKEY_ID_LEN + 1];
	char text[GX_APIKEY_TEXT_LEN + 1];
	char hash[65];
	char *scopes;  /* text[] literal (owned) */
	char *name;    /* owned */
	char *profile; /* owned, NULL when none */
	char rate[24], expires[24], overlap[24];
	bool expires_set;
};

static void pk_free(void *p)
{
	struct pk *k = p;

	mbedtls_platform_zeroize(k->text, sizeof(k->text));
	free(k->scopes);
	free(k->name);
	free(k->profile);
	free(k);
}

static struct pk *pk_new(struct gx_req *req)
{
	struct pk *k = gx_xcalloc(1, sizeof(*k));

	k->req = req;
	gx_req_set_data(req, k, pk_free);
	return k;
}

/* Parse the "key" JSON column (and "previous" when prev_col is given) and answer status with the new key's text
 * under "apiKey". */
static void reply_key(struct gx_req *req, int status, const PGresult *res, const char *text, const char *prev_col)
{
	cJSON *body = cJSON_Parse(gx_pg_val(res, 0, "key"));

	if (!cJSON_IsObject(body)) {
		cJSON_Delete(body);
		gx_reply_error(req, 500, "INTERNAL", "the key row is not JSON");
		return;
	}
	if (text)
		cJSON_AddStringToObject(body, "apiKey", text);
	if (prev_col) {
		cJSON *prev = cJSON_Parse(gx_pg_val(res, 0, prev_col));

		cJSON_AddItemToObject(body, "previous", prev ? prev : cJSON_CreateNull());
	}
	gx_reply_json(req, status, body);
}

/* ---- create ---- */

static void on_created(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct pk *k = arg;

	if (err) {
		gx_reply_pg_error(k->req, err);
		return;
	}
	reply_key(k->req, 201, res, k->text, NULL);
}

static void create_insert(struct pk *k)
{
	struct gx_req *req = k->req;
	const struct adm_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const char *p[12];

	if (gx_apikey_generate(k->id, k->text, k->hash) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "no random bytes for the key");
		return;
	}
	p[0] = k->id;
	p[1] = app->tenant;
	p[2] = k->name;
	p[3] = k->hash;
	p[4] = k->scopes;
	p[5] = k->profile;
	p[6] = k->rate;
	p[7] = k->expires;
	p[8] = cl->sub;
	p[9] = cl->role;
	p[10] = gx_req_id(req);
	p[11] = gx_req_client_ip(req);
	if (gx_pg_query(gx_req_pg(req), GX_APIKEY_SQL_CREATE, 12, p, on_created, k) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the key insert");
}

static void on_profile(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct pk *k = arg;

	if (!gx_svc_found(k->req, res, err, "USER_NOT_FOUND", "user %s was not found", k->profile))
		return;
	create_insert(k);
}

/* The "scopes" array of body into a text[] literal; issues go to v. */
static char *body_scopes(const cJSON *body, struct gx_verr *v)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "scopes");
	const char *names[64];
	size_t n = 0;
	const cJSON *it;
	char buf[160];
	const char *why = NULL;
	char *literal = NULL;

	if (!cJSON_IsArray(arr)) {
		gx_verr_add(v, "scopes", "is required: an array of scope names");
		return NULL;
	}
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) || n == GX_ARRAY_LEN(names)) {
			gx_verr_add(v, "scopes", "must be at most %zu scope names (strings)", GX_ARRAY_LEN(names));
			return NULL;
		}
		names[n++] = it->valuestring;
	}
	if (gx_apikey_scopes_check(names, n, &literal, buf, sizeof(buf), &why) < 0) {
		gx_verr_add(v, "scopes", "%s", why);
		return NULL;
	}
	return literal;
}

void partner_keys_create(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *name = gx_valid_str(body, "name", true, 1, GX_APIKEY_NAME_MAX, v);
	const char *profile = gx_valid_str(body, "profileId", false, 1, 64, v);
	long long rate = gx_valid_int(body, "rateLimitPerMinute", false, 1, GX_APIKEY_RATE_MAX, DEFAULT_RATE, v);
	long long exp = gx_valid_int(body, "expiresInSeconds", false, 1, GX_APIKEY_EXPIRES_MAX, DEFAULT_EXPIRES_S, v);
	char *scopes = body_scopes(body, v);
	struct pk *k;
	const char *p[2];

	if (profile && !gx_valid_id(profile))
		gx_verr_add(v, "profileId", "must be a profile id");
	if (gx_svc_invalid(req, v)) {
		free(scopes);
		return;
	}
	k = pk_new(req);
	k->scopes = scopes;
	k->name = gx_xstrdup(name);
	k->profile = profile ? gx_xstrdup(profile) : NULL;
	snprintf(k->rate, sizeof(k->rate), "%lld", rate);
	snprintf(k->expires, sizeof(k->expires), "%lld", exp);
	if (!k->profile) {
		create_insert(k);
		return;
	}
	p[0] = app->tenant;
	p[1] = k->profile;
	if (gx_pg_query(gx_req_pg(req), SQL_PROFILE, 2, p, on_profile, k) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the profile query");
}

/* ---- list ---- */

void partner_keys_list(struct gx_req *req)
{
	adm_list(req, SQL_LIST, LIST_MAX, LIST_DEFAULT, "keys");
}

/* ---- rotate ---- */

static void on_rotated(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct pk *k = arg;
	struct gx_req *req = k->req;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "found"), "0") == 0) {
		gx_reply_error(req, 404, "PARTNER_KEY_NOT_FOUND", "API key %s was not found",
			       gx_req_param(req, "keyId"));
		return;
	}
	if (gx_pg_isnull(res, 0, "key")) {
		gx_reply_error(req, 409, "PARTNER_KEY_INACTIVE", "API key %s is %s: only an active key can be rotated",
			       gx_req_param(req, "keyId"), gx_svc_true(res, 0, "revoked") ? "revoked" : "expired");
		return;
	}
	reply_key(req, 201, res, k->text, "previous");
}

void partner_keys_rotate(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const cJSON *body = gx_req_body(req);
	const char *id = gx_req_param(req, "keyId");
	struct gx_verr *v = gx_verr_new();
	long long overlap = gx_valid_int(body, "overlapSeconds", false, 0, GX_APIKEY_OVERLAP_MAX, DEFAULT_OVERLAP_S, v);
	long long exp = gx_valid_int(body, "expiresInSeconds", false, 1, GX_APIKEY_EXPIRES_MAX, 0, v);
	struct pk *k;
	const char *p[10];

	if (gx_svc_invalid(req, v))
		return;
	k = pk_new(req);
	snprintf(k->overlap, sizeof(k->overlap), "%lld", overlap);
	k->expires_set = exp > 0;
	snprintf(k->expires, sizeof(k->expires), "%lld", exp);
	if (gx_apikey_generate(k->id, k->text, k->hash) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "no random bytes for the key");
		return;
	}
	p[0] = app->tenant;
	p[1] = id;
	p[2] = k->id;
	p[3] = k->hash;
	p[4] = k->overlap;
	p[5] = k->expires_set ? k->expires : NULL;
	p[6] = cl->sub;
	p[7] = cl->role;
	p[8] = gx_req_id(req);
	p[9] = gx_req_client_ip(req);
	if (gx_pg_query(gx_req_pg(req), SQL_ROTATE, 10, p, on_rotated, k) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the rotation");
}

/* ---- revoke ---- */

struct revoke {
	struct gx_req *req;
	cJSON *body; /* the answer, sent once the marker was written or refused */
};

static void revoke_free(void *p)
{
	struct revoke *r = p;

	cJSON_Delete(r->body);
	free(r);
}

static void on_marker(const redisReply *reply, const char *err, void *arg)
{
	struct revoke *r = arg;
	cJSON *body = r->body;

	if (err || !reply || reply->type == REDIS_REPLY_ERROR)
		/* the database holds the revocation: every replica refuses the key within a second anyway
		 * (docs/partners.md "Revocation") */
		gx_log_warn("partner key revoked without its redis marker: %s", err ? err : "redis error reply");
	r->body = NULL;
	gx_reply_json(r->req, 200, body);
}

static void on_revoked(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct revoke *r = arg;
	struct gx_req *req = r->req;
	struct gx_redis *redis = gx_req_redis(req);
	char key[96], ttl[24];
	const char *argv[5] = { "SET", key, "1", "EX", ttl };

	if (!gx_svc_found(req, res, err, "PARTNER_KEY_NOT_FOUND", "API key %s was not found",
			  gx_req_param(req, "keyId")))
		return;
	r->body = cJSON_Parse(gx_pg_val(res, 0, "key"));
	if (!r->body) {
		gx_reply_error(req, 500, "INTERNAL", "the key row is not JSON");
		return;
	}
	if (!redis) {
		on_marker(NULL, "no redis client", r);
		return;
	}
	snprintf(key, sizeof(key), GX_APIKEY_REVOKED_FMT, gx_req_param(req, "keyId"));
	snprintf(ttl, sizeof(ttl), "%s", gx_pg_val(res, 0, "markerTtl"));
	(void)gx_redis_cmd(redis, on_marker, r, 5, argv, NULL); /* on failure the callback runs with err */
}

void partner_keys_revoke(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	struct revoke *r = gx_xcalloc(1, sizeof(*r));
	const char *p[6];

	r->req = req;
	gx_req_set_data(req, r, revoke_free);
	p[0] = app->tenant;
	p[1] = gx_req_param(req, "keyId");
	p[2] = cl->sub;
	p[3] = cl->role;
	p[4] = gx_req_id(req);
	p[5] = gx_req_client_ip(req);
	if (gx_pg_query(gx_req_pg(req), GX_APIKEY_SQL_REVOKE, 6, p, on_revoked, r) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the revocation");
}
