/* Sessions: POST /api/v1/auth/login, /auth/refresh, /auth/logout (design.md §4).
 *
 * Login answers an unknown email and a wrong password the same way (401 INVALID_CREDENTIALS) after the same work:
 * a bcrypt verify against the stored hash, or gx_password_burn for an unknown email, both on the bcrypt pool.
 * Failures are counted in Redis per (email, client IP) — key gx:login:fail:<sha256>, so an unknown email counts
 * like a known one and the lock reveals nothing; LOGIN_MAX_FAILURES within LOGIN_LOCKOUT answer 429 LOGIN_LOCKED
 * until the window ends. Redis down: the lock is not enforced (fails open, counted in gx_redis_degraded_total).
 *
 * Refresh rotates: one statement marks the presented token rotated, reads the profile's current role and status
 * and stores the successor in the same family. A token that was already rotated is looked at with its successor:
 *   - presented again within REFRESH_REUSE_GRACE of its rotation, its successor not yet used: the same pair again
 *     (minting is deterministic), so a client retrying or racing two refreshes keeps its session;
 *   - the family's login token, its successor never used (a client that does not store rotated tokens, as the
 *     original backend's clients do not: it never rotated): a new access token and the same successor, for the
 *     login token's whole life;
 *   - anything else (an older ancestor, a token with a parent outside the window): reuse, the whole family is
 *     revoked and the answer is 401 TOKEN_REUSED.
 * Every refresh failure carries the original's message text. Logout revokes the refresh family and denylists the
 * caller's access token jti in Redis (gx:revoked:jti:<jti>, TTL = its remaining lifetime), which the HTTP pipeline
 * checks.
 */
#include "identity.h"

#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/redis.h"
#include "gx/svc.h"
#include "gx/util.h"
#include "gx/valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/sha256.h>

static const char SQL_LOGIN_LOOKUP[] =
	"SELECT " IDY_PROFILE_COLS ", \"passwordHash\", \"mustChangePassword\","
	" extract(epoch FROM \"tokensValidAfter\")::bigint AS \"validAfter\" FROM \"UserProfile\" WHERE lower(\"email\") = $1"
	" AND \"tenantId\" = $2 AND \"deletedAt\" IS NULL";

static const char SQL_STORE_REFRESH[] =
	"INSERT INTO \"RefreshToken\" (\"jti\", \"tenantId\", \"profileId\", \"familyId\", \"tokenHash\", \"expiresAt\","
	" \"userAgent\", \"ipAddress\") VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint), $7, $8)";

static const char SQL_LAST_LOGIN[] =
	"UPDATE \"UserProfile\" SET \"lastLoginAt\" = now() WHERE \"profileId\" = $1 AND \"tenantId\" = $2";

/* $1 old jti, $2 tenant, $3 new jti, $4 old hash, $5 family, $6 new hash, $7 new expiry (epoch s), $8 UA, $9 IP.
 * Rotates only a usable token of an active profile; the profile's role is read in the same snapshot. */
static const char SQL_ROTATE[] =
	"WITH rot AS (UPDATE \"RefreshToken\" t SET \"rotatedAt\" = now(), \"replacedBy\" = $3"
	"  WHERE t.\"jti\" = $1 AND t.\"tenantId\" = $2 AND t.\"tokenHash\" = $4 AND t.\"familyId\" = $5"
	"  AND t.\"rotatedAt\" IS NULL AND NOT t.\"revoked\" AND t.\"expiresAt\" > now()"
	"  AND EXISTS (SELECT 1 FROM \"UserProfile\" p WHERE p.\"profileId\" = t.\"profileId\""
	"   AND p.\"tenantId\" = t.\"tenantId\" AND p.\"deletedAt\" IS NULL AND p.\"status\" NOT IN ('SUSPENDED', 'CLOSED'))"
	"  RETURNING t.\"profileId\", t.\"familyId\"),"
	" ins AS (INSERT INTO \"RefreshToken\" (\"jti\", \"tenantId\", \"profileId\", \"familyId\", \"tokenHash\","
	"  \"expiresAt\", \"userAgent\", \"ipAddress\")"
	"  SELECT $3, $2, rot.\"profileId\", rot.\"familyId\", $6, to_timestamp($7::bigint), $8, $9 FROM rot"
	"  RETURNING \"jti\")"
	" SELECT p.\"profileId\", p.\"role\"::text AS \"role\", (SELECT count(*) FROM ins) AS \"issued\","
	" p.\"mustChangePassword\", extract(epoch FROM p.\"tokensValidAfter\")::bigint AS \"validAfter\""
	" FROM rot JOIN \"UserProfile\" p ON p.\"profileId\" = rot.\"profileId\"";

/* $1 jti, $2 tenant, $3 hash, $4 family: a token that could not be rotated, its successor, whether it has a parent
 * (it is not its family's login token), and the profile. */
static const char SQL_INSPECT[] =
	"SELECT t.\"revoked\", (t.\"expiresAt\" <= now()) AS \"expired\", (t.\"rotatedAt\" IS NOT NULL) AS \"rotated\","
	" (extract(epoch FROM now() - t.\"rotatedAt\") * 1000)::bigint AS \"rotatedMs\","
	" EXISTS (SELECT 1 FROM \"RefreshToken\" a WHERE a.\"familyId\" = t.\"familyId\" AND a.\"tenantId\" = t.\"tenantId\""
	"  AND a.\"replacedBy\" = t.\"jti\") AS \"hasParent\","
	" n.\"jti\" AS \"succJti\", (n.\"rotatedAt\" IS NOT NULL) AS \"succRotated\", n.\"revoked\" AS \"succRevoked\","
	" extract(epoch FROM n.\"expiresAt\")::bigint AS \"succExp\","
	" p.\"profileId\", p.\"role\"::text AS \"role\", p.\"status\"::text AS \"status\","
	" p.\"mustChangePassword\", extract(epoch FROM p.\"tokensValidAfter\")::bigint AS \"validAfter\""
	" FROM \"RefreshToken\" t"
	" LEFT JOIN \"RefreshToken\" n ON n.\"jti\" = t.\"replacedBy\" AND n.\"tenantId\" = t.\"tenantId\""
	"  AND n.\"familyId\" = t.\"familyId\""
	" LEFT JOIN \"UserProfile\" p ON p.\"profileId\" = t.\"profileId\" AND p.\"tenantId\" = t.\"tenantId\""
	"  AND p.\"deletedAt\" IS NULL"
	" WHERE t.\"jti\" = $1 AND t.\"tenantId\" = $2 AND t.\"tokenHash\" = $3 AND t.\"familyId\" = $4";

/* $1 jti, $2 tenant, $3 profile, $4 family, $5 hash, $6 expiry, $7 issue time (epoch s): a refresh token the
 * original backend issued, adopted as the login token of its own family the first time it is presented (cut-over,
 * ORIGINAL_TOKENS_UNTIL); a profile that does not exist here adopts nothing */
static const char SQL_ADOPT_ORIGINAL[] =
	"INSERT INTO \"RefreshToken\" (\"jti\", \"tenantId\", \"profileId\", \"familyId\", \"tokenHash\", \"expiresAt\","
	" \"issuedAt\") SELECT $1, $2, p.\"profileId\", $4, $5, to_timestamp($6::bigint), to_timestamp($7::bigint)"
	" FROM \"UserProfile\" p WHERE p.\"profileId\" = $3 AND p.\"tenantId\" = $2 AND p.\"deletedAt\" IS NULL"
	" ON CONFLICT (\"jti\") DO NOTHING";

static const char SQL_REVOKE_FAMILY[] =
	"UPDATE \"RefreshToken\" SET \"revoked\" = true, \"revokedAt\" = now(), \"revokedReason\" = $3"
	" WHERE \"familyId\" = $1 AND \"tenantId\" = $2 AND NOT \"revoked\"";

/* Redis: current failure count and remaining window (ms) of a lock key; and the counting increment. */
static const char LUA_LOCK_STATE[] =
	"local n = tonumber(redis.call('GET', KEYS[1]) or '0') return {n, redis.call('PTTL', KEYS[1])}";
static const char LUA_LOCK_FAIL[] =
	"local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";

static bool inactive(const char *status)
{
	return strcmp(status, "SUSPENDED") == 0 || strcmp(status, "CLOSED") == 0;
}

static void count_login(const char *result)
{
	static const char *const labels[] = { "result", NULL };
	const char *vals[1] = { result };

	gx_metrics_add(gx_metrics_counter("gx_identity_logins_total", "login attempts by outcome", labels), vals, 1);
}

static void count_degraded(void)
{
	static const char *const labels[] = { "check", NULL };
	const char *vals[1] = { "login_lockout" };

	gx_metrics_add(gx_metrics_counter("gx_redis_degraded_total", "requests served in Redis-degraded mode", labels),
		       vals, 1);
}

static void ignore_reply(const redisReply *reply GX_UNUSED, const char *err GX_UNUSED, void *arg GX_UNUSED)
{
}

static const char *user_agent(const struct gx_req *req)
{
	const char *ua = gx_req_header(req, "User-Agent");

	return ua && strlen(ua) <= 512 ? ua : NULL;
}

/* JSON {accessToken, refreshToken, tokenType, expiresIn}; caller owns. */
static cJSON *tokens_json(const struct idy_tokens *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "accessToken", t->access);
	cJSON_AddStringToObject(o, "refreshToken", t->refresh);
	cJSON_AddStringToObject(o, "tokenType", "Bearer");
	cJSON_AddNumberToObject(o, "expiresIn", IDY_ACCESS_TTL_S);
	return o;
}

/* ---- login ---------------------------------------------------------------------------------------------- */

struct login {
	struct gx_req *req;
	struct idy_hash_job *job;
	char *email;    /* lower-cased */
	char *password;
	char lock_key[80];
	char profile_id[64];
	char role[16];
	char status[32];
	char valid_after[24]; /* the profile's token epoch, "" when none */
	bool pwc;             /* mustChangePassword */
	cJSON *user;
	struct idy_tokens tok;
};

static void login_free(void *arg)
{
	struct login *s = arg;

	idy_hash_cancel(s->job);
	free(s->email);
	idy_wipe_free(s->password);
	cJSON_Delete(s->user);
	idy_tokens_release(&s->tok);
	free(s);
}

static void login_stored(PGresult *const *res GX_UNUSED, int nres GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	struct login *s = arg;
	cJSON *body;

	if (err) {
		gx_reply_pg_error(s->req, err);
		return;
	}
	body = tokens_json(&s->tok);
	cJSON_AddItemToObject(body, "user", s->user);
	s->user = NULL;
	cJSON_AddBoolToObject(body, "mustChangePassword", s->pwc);
	count_login("success");
	gx_reply_json(s->req, 200, body);
}

/* A token epoch younger than the tokens it revokes is written to Redis again at login: a change made while Redis
 * was down (or lost by a Redis restart) is back in Redis once the user logs in with the new password, which they
 * must, as their tokens were revoked. Fire and forget. */
static void republish_epoch(const struct login *s, long long now)
{
	long long e = s->valid_after[0] ? strtoll(s->valid_after, NULL, 10) : 0;
	char key[96], ttl[24];
	const char *argv[5] = { "SET", key, s->valid_after, "EX", ttl };

	if (e <= 0 || e + IDY_EPOCH_TTL_S <= now)
		return;
	snprintf(key, sizeof(key), "gx:epoch:%s", s->profile_id);
	snprintf(ttl, sizeof(ttl), "%lld", e + IDY_EPOCH_TTL_S - now);
	gx_redis_cmd(gx_req_redis(s->req), ignore_reply, NULL, 5, argv, NULL);
}

static void login_checked(const struct idy_hash_result *r, void *arg)
{
	struct login *s = arg;
	struct gx_req *req = s->req;
	const struct idy_app *app = gx_req_app(req);
	const struct idy_cfg *cfg = app->cfg;
	char family[37], jti[37], exp[24];
	const char *p[8], *lp[2];
	struct gx_pg_stmt st[2];
	long long now = (long long)time(NULL);

	s->job = NULL;
	if (!r->matched) {
		char ttl[24];
		const char *argv[5] = { "EVAL", LUA_LOCK_FAIL, "1", s->lock_key, ttl };
		snprintf(ttl, sizeof(ttl), "%lld", cfg->login_lockout_ms);
		gx_redis_cmd(gx_req_redis(req), ignore_reply, NULL, 5, argv, NULL);
		count_login("failure");
		gx_reply_error(req, 401, "INVALID_CREDENTIALS", "Invalid email or password");
		return;
	}
	if (inactive(s->status)) {
		count_login("inactive");
		gx_reply_error(req, 401, "ACCOUNT_INACTIVE", "Account is inactive. Please contact support.");
		return;
	}
	{
		const char *argv[2] = { "DEL", s->lock_key };
		gx_redis_cmd(gx_req_redis(req), ignore_reply, NULL, 2, argv, NULL);
	}
	republish_epoch(s, now);
	if (gx_uuid_v4(family) < 0 || gx_uuid_v4(jti) < 0 ||
	    idy_tokens_mint(app, s->profile_id, s->role, s->pwc, family, jti, now, idy_epoch_iat(now, s->valid_after),
			    &s->tok) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot issue tokens");
		return;
	}
	snprintf(exp, sizeof(exp), "%lld", s->tok.refresh_exp);
	p[0] = s->tok.refresh_jti;
	p[1] = idy_tenant(req);
	p[2] = s->profile_id;
	p[3] = family;
	p[4] = s->tok.refresh_hash;
	p[5] = exp;
	p[6] = user_agent(req);
	p[7] = gx_req_client_ip(req);
	lp[0] = s->profile_id;
	lp[1] = idy_tenant(req);
	st[0] = (struct gx_pg_stmt){ SQL_STORE_REFRESH, 8, p };
	st[1] = (struct gx_pg_stmt){ SQL_LAST_LOGIN, 2, lp };
	if (gx_pg_txn(gx_req_pg(req), st, 2, login_stored, s) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the session transaction");
}

static void login_found(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct login *s = arg;
	struct gx_req *req = s->req;
	const struct idy_app *app = gx_req_app(req);
	struct idy_hash_spec spec = { .pw = s->password, .cost = (int)app->cfg->bcrypt_cost };
	enum idy_hash_refusal why;
	char account[300];

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) == 1) {
		snprintf(s->profile_id, sizeof(s->profile_id), "%s", gx_pg_val(res, 0, "profileId"));
		snprintf(s->role, sizeof(s->role), "%s", gx_pg_val(res, 0, "role"));
		snprintf(s->status, sizeof(s->status), "%s", gx_pg_val(res, 0, "status"));
		snprintf(s->valid_after, sizeof(s->valid_after), "%s", gx_pg_val(res, 0, "validAfter"));
		s->pwc = gx_svc_true(res, 0, "mustChangePassword");
		s->user = idy_profile_json(res, 0);
		spec.op = IDY_HASH_VERIFY;
		spec.account = s->profile_id;
		spec.hash = gx_pg_val(res, 0, "passwordHash");
	} else {
		idy_email_account(s->email, account, sizeof(account));
		spec.op = IDY_HASH_BURN;
		spec.account = account;
	}
	s->job = idy_hash_submit(gx_req_worker(req), &spec, login_checked, s, &why);
	if (!s->job)
		idy_reply_busy(req, why);
}

static void login_lookup(struct login *s)
{
	const char *p[2] = { s->email, idy_tenant(s->req) };

	if (gx_pg_query(gx_req_pg(s->req), SQL_LOGIN_LOOKUP, 2, p, login_found, s) < 0)
		gx_reply_error(s->req, 500, "INTERNAL", "cannot start the login query");
}

static void login_lock_state(const redisReply *reply, const char *err, void *arg)
{
	struct login *s = arg;
	const struct idy_app *app = gx_req_app(s->req);

	if (err || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_INTEGER) {
		count_degraded();
		login_lookup(s);
		return;
	}
	if (reply->element[0]->integer >= app->cfg->login_max_failures) {
		long long ms = reply->element[1]->integer;
		char ra[24];
		snprintf(ra, sizeof(ra), "%lld", ms > 0 ? (ms + 999) / 1000 : 1);
		gx_reply_header(s->req, "Retry-After", ra);
		count_login("locked");
		gx_reply_error(s->req, 429, "LOGIN_LOCKED", "too many failed logins; try again later");
		return;
	}
	login_lookup(s);
}

void idy_auth_login(struct gx_req *req)
{
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *email, *pw, *ip = gx_req_client_ip(req);
	unsigned char h[32];
	char hex[65], *material;
	struct login *s;

	if (!idy_truthy(body, "email") || !idy_truthy(body, "password")) {
		gx_verr_free(v);
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Email and password are required");
		return;
	}
	email = gx_valid_str(body, "email", true, 1, 254, v);
	pw = gx_valid_str(body, "password", true, 1, 1024, v);
	if (gx_svc_invalid(req, v))
		return;
	s = gx_xcalloc(1, sizeof(*s));
	s->req = req;
	gx_req_set_data(req, s, login_free);
	s->email = gx_xstrdup(email);
	idy_lower_ascii(s->email);
	s->password = gx_xstrdup(pw);

	material = gx_xasprintf("%s|%s", s->email, ip ? ip : "");
	if (mbedtls_sha256_ret((const unsigned char *)material, strlen(material), h, 0) != 0) {
		free(material);
		gx_log_error("sha256 failed");
		gx_reply_error(req, 500, "INTERNAL", "cannot derive the lockout key");
		return;
	}
	free(material);
	gx_hex_encode(h, sizeof(h), hex);
	snprintf(s->lock_key, sizeof(s->lock_key), "gx:login:fail:%s", hex);
	{
		const char *argv[4] = { "EVAL", LUA_LOCK_STATE, "1", s->lock_key };
		/* on a disconnected client the callback still runs (with err): no return value to check */
		gx_redis_cmd(gx_req_redis(req), login_lock_state, s, 4, argv, NULL);
	}
}

/* ---- refresh -------------------------------------------------------------------------------------------- */

/* The original's one text for every refresh failure (its clients show or match it). */
#define REFRESH_FAILED "Invalid or expired refresh token"

struct refresh {
	struct gx_req *req;
	struct gx_jwt_claims old;
	char old_hash[65];
	char new_jti[37];
	char new_hash[65];
	long long now;
};

static void count_refresh(const char *result)
{
	static const char *const labels[] = { "result", NULL };
	const char *vals[1] = { result };

	gx_metrics_add(gx_metrics_counter("gx_identity_refresh_total", "refresh requests by outcome", labels), vals,
		       1);
}

/* Verify the body's refreshToken into *c, accepting tokens expired up to leeway_s ago; during a cut-over also one
 * the original backend issued (*original set). Returns 0, or -1 after replying (400 or 401). */
static int read_refresh_token(struct gx_req *req, long long leeway_s, struct gx_jwt_claims *c, bool *original)
{
	const struct idy_app *app = gx_req_app(req);
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(gx_req_body(req), "refreshToken");
	struct gx_verr *v;
	const char *tok, *reason = NULL;

	if (!item || cJSON_IsNull(item) || (cJSON_IsString(item) && !item->valuestring[0])) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Refresh token is required");
		return -1;
	}
	v = gx_verr_new();
	tok = gx_valid_str(gx_req_body(req), "refreshToken", true, 1, GX_JWT_MAX_LEN, v);
	if (gx_svc_invalid(req, v))
		return -1;
	*original = false;
	if (gx_jwt_verify(tok, (const unsigned char *)app->shared->jwt_secret, strlen(app->shared->jwt_secret),
			  app->shared->jwt_issuer, IDY_REFRESH_AUD, (long long)time(NULL), leeway_s, c, &reason) < 0 &&
	    app->shared->original_tokens_until > (long long)time(NULL) &&
	    gx_jwt_verify_original(tok, (const unsigned char *)app->shared->jwt_secret, strlen(app->shared->jwt_secret),
				   GX_JWT_ORIGINAL_REFRESH_AUD, (long long)time(NULL), leeway_s, c, &reason) == 0) {
		snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", app->shared->tenant_id);
		*original = true;
	}
	if (reason || !c->fam[0] || strcmp(c->tenant_id, app->shared->tenant_id) != 0) {
		gx_log_debug("refresh token refused: %s", reason ? reason : "TOKEN_MALFORMED");
		gx_reply_error(req, 401, "INVALID_REFRESH_TOKEN", REFRESH_FAILED);
		return -1;
	}
	return 0;
}

/* Answer 200 with the pair for the successor succ_jti, its refresh token issued at refresh_iat; the profile's
 * mustChangePassword and token epoch come from row r of res. */
static void refresh_reply(struct refresh *s, const PGresult *res, const char *succ_jti, long long refresh_iat,
			  long long access_iat)
{
	const struct idy_app *app = gx_req_app(s->req);
	struct idy_tokens t;

	if (idy_tokens_mint(app, gx_pg_val(res, 0, "profileId"), gx_pg_val(res, 0, "role"),
			    gx_svc_true(res, 0, "mustChangePassword"), s->old.fam, succ_jti, refresh_iat,
			    idy_epoch_iat(access_iat, gx_pg_val(res, 0, "validAfter")), &t) < 0) {
		gx_reply_error(s->req, 500, "INTERNAL", "cannot issue tokens");
		return;
	}
	gx_reply_json(s->req, 200, tokens_json(&t));
	idy_tokens_release(&t);
}

static void refresh_family_revoked(PGresult *res GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	struct refresh *s = arg;

	if (err) {
		gx_reply_pg_error(s->req, err);
		return;
	}
	gx_log_warn("refresh token reuse detected: family revoked (profile %s)", s->old.sub);
	count_refresh("reuse_revoked");
	gx_reply_error(s->req, 401, "TOKEN_REUSED", REFRESH_FAILED);
}

static void revoke_family(struct refresh *s)
{
	const char *p[3] = { s->old.fam, idy_tenant(s->req), "reuse detected" };

	if (gx_pg_query(gx_req_pg(s->req), SQL_REVOKE_FAMILY, 3, p, refresh_family_revoked, s) < 0)
		gx_reply_error(s->req, 500, "INTERNAL", "cannot start the family revocation");
}

/* The presented token could not be rotated: decide from its row and its successor's (SQL_INSPECT). */
static void refresh_inspected(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct refresh *s = arg;
	const struct idy_app *app = gx_req_app(s->req);
	long long succ_iat;

	if (err) {
		gx_reply_pg_error(s->req, err);
		return;
	}
	if (PQntuples(res) != 1 || gx_svc_true(res, 0, "expired")) {
		gx_reply_error(s->req, 401, "INVALID_REFRESH_TOKEN", REFRESH_FAILED);
		return;
	}
	if (gx_svc_true(res, 0, "revoked")) {
		gx_reply_error(s->req, 401, "TOKEN_REVOKED", REFRESH_FAILED);
		return;
	}
	if (gx_pg_isnull(res, 0, "status") || inactive(gx_pg_val(res, 0, "status"))) {
		count_refresh("inactive");
		gx_reply_error(s->req, 401, "ACCOUNT_INACTIVE", REFRESH_FAILED);
		return;
	}
	if (!gx_svc_true(res, 0, "rotated") || gx_pg_isnull(res, 0, "succJti")) {
		/* usable but not rotated: it raced with a revocation or the profile changed; the client logs in */
		gx_reply_error(s->req, 401, "INVALID_REFRESH_TOKEN", REFRESH_FAILED);
		return;
	}
	/* an ancestor older than the successor's parent, or a successor already revoked: reuse as before */
	if (gx_svc_true(res, 0, "succRotated") || gx_svc_true(res, 0, "succRevoked")) {
		revoke_family(s);
		return;
	}
	succ_iat = strtoll(gx_pg_val(res, 0, "succExp"), NULL, 10) - IDY_REFRESH_TTL_S;
	if (strtoll(gx_pg_val(res, 0, "rotatedMs"), NULL, 10) <= app->cfg->refresh_grace_ms) {
		/* a retry within the grace window: the same pair again, byte for byte */
		count_refresh("grace");
		refresh_reply(s, res, gx_pg_val(res, 0, "succJti"), succ_iat, succ_iat);
		return;
	}
	if (!gx_svc_true(res, 0, "hasParent")) {
		/* the family's login token, its successor never presented: a client that does not store rotated
		 * tokens (the original backend never rotated). A new access token, the same successor. */
		count_refresh("unrotated_client");
		refresh_reply(s, res, gx_pg_val(res, 0, "succJti"), succ_iat, s->now);
		return;
	}
	revoke_family(s);
}

static void refresh_rotated(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct refresh *s = arg;
	struct gx_req *req = s->req;
	const char *p[4];

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) != 1 || strcmp(gx_pg_val(res, 0, "issued"), "1") != 0) {
		p[0] = s->old.jti;
		p[1] = idy_tenant(req);
		p[2] = s->old_hash;
		p[3] = s->old.fam;
		if (gx_pg_query(gx_req_pg(req), SQL_INSPECT, 4, p, refresh_inspected, s) < 0)
			gx_reply_error(req, 500, "INTERNAL", "cannot start the token inspection");
		return;
	}
	count_refresh("rotated");
	refresh_reply(s, res, s->new_jti, s->now, s->now);
}

/* An adopted original token was rotated in the same transaction: the rotation's result decides. */
static void refresh_adopted(PGresult *const *res, int nres GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	refresh_rotated(res ? res[1] : NULL, err, arg);
}

/* The statement adopting an original refresh token c (its row's hash in hash, text buffers in exp and iat). */
static struct gx_pg_stmt adopt_stmt(const struct gx_req *req, const struct gx_jwt_claims *c, const char *hash,
				    char exp[24], char iat[24], const char *p[7])
{
	snprintf(exp, 24, "%lld", c->exp);
	snprintf(iat, 24, "%lld", c->iat);
	p[0] = c->jti;
	p[1] = idy_tenant(req);
	p[2] = c->sub;
	p[3] = c->fam;
	p[4] = hash;
	p[5] = exp;
	p[6] = iat;
	return (struct gx_pg_stmt){ SQL_ADOPT_ORIGINAL, 7, p };
}

void idy_auth_refresh(struct gx_req *req)
{
	struct refresh *s = gx_xcalloc(1, sizeof(*s));
	char exp[24], oexp[24], oiat[24];
	const char *p[9], *ap[7];
	struct gx_pg_stmt st[2];
	bool original;

	gx_req_set_data(req, s, free);
	s->req = req;
	if (read_refresh_token(req, 30, &s->old, &original) < 0)
		return;
	s->now = (long long)time(NULL);
	if (gx_uuid_v4(s->new_jti) < 0 || idy_refresh_hash(s->new_jti, s->new_hash) < 0 ||
	    idy_refresh_hash(s->old.jti, s->old_hash) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate token identifiers");
		return;
	}
	snprintf(exp, sizeof(exp), "%lld", s->now + IDY_REFRESH_TTL_S);
	p[0] = s->old.jti;
	p[1] = idy_tenant(req);
	p[2] = s->new_jti;
	p[3] = s->old_hash;
	p[4] = s->old.fam;
	p[5] = s->new_hash;
	p[6] = exp;
	p[7] = user_agent(req);
	p[8] = gx_req_client_ip(req);
	if (original) {
		count_refresh("original_token");
		st[0] = adopt_stmt(req, &s->old, s->old_hash, oexp, oiat, ap);
		st[1] = (struct gx_pg_stmt){ SQL_ROTATE, 9, p };
		if (gx_pg_txn(gx_req_pg(req), st, 2, refresh_adopted, s) < 0)
			gx_reply_error(req, 500, "INTERNAL", "cannot start the token rotation");
		return;
	}
	if (gx_pg_query(gx_req_pg(req), SQL_ROTATE, 9, p, refresh_rotated, s) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the token rotation");
}

/* ---- logout --------------------------------------------------------------------------------------------- */

struct logout {
	struct gx_req *req;
	struct gx_jwt_claims refresh;
	char access_jti[40];
	long long access_exp;
};

static void logout_reply(struct logout *s, bool access_revoked)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "message", "Logout successful");
	cJSON_AddBoolToObject(o, "accessTokenRevoked", access_revoked);
	gx_reply_json(s->req, 200, o);
}

static void logout_denylisted(const redisReply *reply, const char *err, void *arg)
{
	struct logout *s = arg;
	bool ok = !err && reply && reply->type == REDIS_REPLY_STATUS;

	if (!ok)
		gx_log_warn("access token %s could not be denylisted: %s", s->access_jti, err ? err : "bad reply");
	logout_reply(s, ok);
}

static void logout_revoked(PGresult *res GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	struct logout *s = arg;
	long long ttl = s->access_exp - (long long)time(NULL);
	char key[80], ttl_s[24];
	const char *argv[5];

	if (err) {
		gx_reply_pg_error(s->req, err);
		return;
	}
	if (!s->access_jti[0]) {
		logout_reply(s, false);
		return;
	}
	if (ttl <= 0) { /* already expired: nothing to denylist */
		logout_reply(s, true);
		return;
	}
	snprintf(key, sizeof(key), "gx:revoked:jti:%s", s->access_jti);
	snprintf(ttl_s, sizeof(ttl_s), "%lld", ttl + 30); /* + the verifier's clock-skew leeway */
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = "1";
	argv[3] = "EX";
	argv[4] = ttl_s;
	gx_redis_cmd(gx_req_redis(s->req), logout_denylisted, s, 5, argv, NULL);
}

/* An original token adopted and its family revoked in one transaction. */
static void logout_adopted(PGresult *const *res, int nres GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	logout_revoked(res ? res[1] : NULL, err, arg);
}

void idy_auth_logout(struct gx_req *req)
{
	struct logout *s = gx_xcalloc(1, sizeof(*s));
	const struct gx_jwt_claims *access = gx_req_claims(req);
	const char *p[3], *ap[7];
	char hash[65], oexp[24], oiat[24];
	struct gx_pg_stmt st[2];
	bool original;

	gx_req_set_data(req, s, free);
	s->req = req;
	/* an expired (but genuine) refresh token still ends its family: the client is logging out either way */
	if (read_refresh_token(req, IDY_REFRESH_TTL_S, &s->refresh, &original) < 0)
		return;
	if (access) {
		snprintf(s->access_jti, sizeof(s->access_jti), "%s", access->jti);
		s->access_exp = access->exp;
	}
	p[0] = s->refresh.fam;
	p[1] = idy_tenant(req);
	p[2] = "logout";
	if (original) {
		/* adopted first, so the token cannot be exchanged after the logout */
		if (idy_refresh_hash(s->refresh.jti, hash) < 0) {
			gx_reply_error(req, 500, "INTERNAL", "cannot hash the token id");
			return;
		}
		st[0] = adopt_stmt(req, &s->refresh, hash, oexp, oiat, ap);
		st[1] = (struct gx_pg_stmt){ SQL_REVOKE_FAMILY, 3, p };
		if (gx_pg_txn(gx_req_pg(req), st, 2, logout_adopted, s) < 0)
			gx_reply_error(req, 500, "INTERNAL", "cannot start the logout");
		return;
	}
	if (gx_pg_query(gx_req_pg(req), SQL_REVOKE_FAMILY, 3, p, logout_revoked, s) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the logout");
}
