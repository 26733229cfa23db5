/* Sessions: POST /api/v1/auth/refresh and /auth/logout (design.md §4; login is in auth.c).
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

	gx_metrics_add(gx_metrics_counter("gx_identity_refresh_total", "refresh requests by outcome", labels), vals, 1);
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
	gx_reply_json(s->req, 200, idy_tokens_json(&t));
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
	const char *p[3] = { s->old.fam, gx_req_tenant(s->req), "reuse detected" };

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
	if (gx_pg_isnull(res, 0, "status") || idy_inactive(gx_pg_val(res, 0, "status"))) {
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
		p[1] = gx_req_tenant(req);
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
	p[1] = gx_req_tenant(req);
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
	p[1] = gx_req_tenant(req);
	p[2] = s->new_jti;
	p[3] = s->old_hash;
	p[4] = s->old.fam;
	p[5] = s->new_hash;
	p[6] = exp;
	p[7] = idy_user_agent(req);
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
	p[1] = gx_req_tenant(req);
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
