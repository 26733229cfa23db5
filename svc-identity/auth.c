/* Sessions: POST /api/v1/auth/login (design.md §4), and the helpers the session handlers share; refresh and logout
 * are in auth_session.c.
 *
 * Login answers an unknown email and a wrong password the same way (401 INVALID_CREDENTIALS) after the same work:
 * a bcrypt verify against the stored hash, or gx_password_burn for an unknown email, both on the bcrypt pool.
 * Failures are counted in Redis per (email, client IP) — key gx:login:fail:<sha256>, so an unknown email counts
 * like a known one and the lock reveals nothing; LOGIN_MAX_FAILURES within LOGIN_LOCKOUT answer 429 LOGIN_LOCKED
 * until the window ends. Redis down: the lock is not enforced (fails open, counted in gx_redis_degraded_total).
 */
#include "identity.h"

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
	"SELECT " IDY_PROFILE_COLS
	", \"passwordHash\", \"mustChangePassword\","
	" extract(epoch FROM \"tokensValidAfter\")::bigint AS \"validAfter\" FROM \"UserProfile\" WHERE lower(\"email\") = $1"
	" AND \"tenantId\" = $2 AND \"deletedAt\" IS NULL";

static const char SQL_STORE_REFRESH[] =
	"INSERT INTO \"RefreshToken\" (\"jti\", \"tenantId\", \"profileId\", \"familyId\", \"tokenHash\", \"expiresAt\","
	" \"userAgent\", \"ipAddress\") VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint), $7, $8)";

static const char SQL_LAST_LOGIN[] =
	"UPDATE \"UserProfile\" SET \"lastLoginAt\" = now() WHERE \"profileId\" = $1 AND \"tenantId\" = $2";

/* $1 old jti, $2 tenant, $3 new jti, $4 old hash, $5 family, $6 new hash, $7 new expiry (epoch s), $8 UA, $9 IP.
 * Rotates only a usable token of an active profile; the profile's role is read in the same snapshot. */
static const char LUA_LOCK_STATE[] =
	"local n = tonumber(redis.call('GET', KEYS[1]) or '0') return {n, redis.call('PTTL', KEYS[1])}";
static const char LUA_LOCK_FAIL[] =
	"local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";

bool idy_inactive(const char *status)
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

const char *idy_user_agent(const struct gx_req *req)
{
	const char *ua = gx_req_header(req, "User-Agent");

	return ua && strlen(ua) <= 512 ? ua : NULL;
}

/* JSON {accessToken, refreshToken, tokenType, expiresIn}; caller owns. */
cJSON *idy_tokens_json(const struct idy_tokens *t)
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
	char *email; /* lower-cased */
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
	body = idy_tokens_json(&s->tok);
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
	if (idy_inactive(s->status)) {
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
	p[1] = gx_req_tenant(req);
	p[2] = s->profile_id;
	p[3] = family;
	p[4] = s->tok.refresh_hash;
	p[5] = exp;
	p[6] = idy_user_agent(req);
	p[7] = gx_req_client_ip(req);
	lp[0] = s->profile_id;
	lp[1] = gx_req_tenant(req);
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
	const char *p[2] = { s->email, gx_req_tenant(s->req) };

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
