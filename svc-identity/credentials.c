/* Credentials: the per-profile token epoch (set by a password change or reset, copied to Redis, checked by the HTTP
 * pipeline on every request) and the admin's password reset, POST /api/v1/users/{id}/password-reset
 * (docs/security.md "Credentials").
 *
 * A reset is for an ADMIN or SUPER_ADMIN on an account of lower rank (gx_rank, never their own): the temporary
 * password (the body's temporaryPassword, or one generated here and shown once in the answer) passes the same
 * quality check as any new password and is hashed on the bcrypt pool; one statement then stores it with
 * mustChangePassword = true and the token epoch, revokes every refresh token and writes the "AdminAuditLog" row
 * (actor, target, time, request id, IP), under the same rank guard. The next login's access token carries
 * "pwc": true, which the pipeline lets reach only the password change (gx/http.h GX_ROUTE_PWC_OK).
 */
#include "identity.h"

#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/rank.h"
#include "gx/redis.h"
#include "gx/svc.h"
#include "gx/util.h"
#include "gx/valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- token epoch ---------------------------------------------------------------------------------------- */

long long idy_epoch_next(void)
{
	return (long long)time(NULL) + 1;
}

long long idy_epoch_iat(long long now, const char *epoch)
{
	long long e = epoch && *epoch ? strtoll(epoch, NULL, 10) : 0;

	return e > now ? e : now;
}

struct publish {
	char profile_id[64];
	void (*done)(void *arg);
	void *arg;
};

static void on_published(const redisReply *reply, const char *err, void *arg)
{
	static const char *const labels[] = { "check", NULL };
	static const char *const vals[] = { "token_epoch_write" };
	struct publish *p = arg;

	if (err || !reply || reply->type != REDIS_REPLY_STATUS) {
		/* the database holds the epoch: the pipeline's PostgreSQL fallback sees it while Redis is down */
		gx_log_warn("token epoch of profile %s not copied to redis: %s", p->profile_id,
			    err ? err : "bad reply");
		gx_metrics_add(gx_metrics_counter("gx_redis_degraded_total", "requests served in Redis-degraded mode",
						  labels),
			       vals, 1);
	}
	p->done(p->arg);
	free(p);
}

void idy_epoch_publish(struct gx_req *req, const char *profile_id, long long epoch, void (*done)(void *arg), void *arg)
{
	struct publish *p = gx_xcalloc(1, sizeof(*p));
	char key[96], val[24], ttl[24];
	const char *argv[5] = { "SET", key, val, "EX", ttl };

	gx_http_epoch_note(profile_id, epoch);
	snprintf(p->profile_id, sizeof(p->profile_id), "%s", profile_id);
	p->done = done;
	p->arg = arg;
	snprintf(key, sizeof(key), "gx:epoch:%s", profile_id);
	snprintf(val, sizeof(val), "%lld", epoch);
	snprintf(ttl, sizeof(ttl), "%d", IDY_EPOCH_TTL_S);
	/* on a disconnected client the callback still runs (with err) */
	gx_redis_cmd(gx_req_redis(req), on_published, p, 5, argv, NULL);
}

/* ---- POST /api/v1/users/{id}/password-reset ------------------------------------------------------------ */

static const char SQL_RESET_TARGET[] =
	"SELECT \"role\"::text AS \"role\", \"email\", \"firstName\", \"lastName\" FROM \"UserProfile\""
	" WHERE \"profileId\" = $1 AND \"tenantId\" = $2 AND \"deletedAt\" IS NULL";

/* $1 target, $2 tenant, $3 hash, $4 epoch, $5 roles below the actor's, $6 actor, $7 actor role, $8 generated,
 * $9 request id, $10 IP: store, revoke and audit in one statement, under the rank guard */
static const char SQL_RESET[] =
	"WITH u AS (UPDATE \"UserProfile\" SET \"passwordHash\" = $3, \"mustChangePassword\" = true,"
	"  \"tokensValidAfter\" = GREATEST(to_timestamp($4::bigint), \"tokensValidAfter\" + interval '1 second'),"
	"  \"updatedAt\" = now()"
	"  WHERE \"profileId\" = $1 AND \"tenantId\" = $2 AND \"deletedAt\" IS NULL AND \"profileId\" <> $6"
	"  AND \"role\"::text = ANY($5::text[])"
	"  RETURNING \"profileId\", extract(epoch FROM \"tokensValidAfter\")::bigint AS \"epoch\"),"
	" r AS (UPDATE \"RefreshToken\" SET \"revoked\" = true, \"revokedAt\" = now(), \"revokedReason\" = 'password reset'"
	"  WHERE \"profileId\" IN (SELECT \"profileId\" FROM u) AND \"tenantId\" = $2 AND NOT \"revoked\" RETURNING 1)"
	" INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\", \"targetId\","
	"  \"details\", \"requestId\", \"ipAddress\")"
	" SELECT $2, $6, $7, 'PASSWORD_RESET', 'USER', u.\"profileId\", jsonb_build_object('generated', $8::boolean,"
	"  'tokensValidAfter', u.\"epoch\", 'refreshTokensRevoked', (SELECT count(*) FROM r)), $9, $10 FROM u"
	" RETURNING " GX_SQL_ISO_TS("\"createdAt\"") " AS \"at\", (\"details\"->>'tokensValidAfter')::bigint AS \"epoch\"";

struct reset {
	struct gx_req *req;
	struct idy_hash_job *job;
	char id[64];
	char *temp;     /* the temporary password (secret) */
	bool generated; /* made here: shown once in the answer */
	long long epoch;
	char at[40];
};

static void reset_free(void *arg)
{
	struct reset *s = arg;

	idy_hash_cancel(s->job);
	idy_wipe_free(s->temp);
	free(s);
}

/* A temporary password of 4 groups of 5 unambiguous letters and digits (about 114 bits), e.g. "k7Qm2-...". */
static char *generate_password(void)
{
	static const char alpha[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[20];
	char *out = gx_xcalloc(1, 24);
	size_t o = 0;

	if (gx_rand_bytes(rnd, sizeof(rnd)) < 0) {
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		if (i && i % 5 == 0)
			out[o++] = '-';
		out[o++] = alpha[rnd[i] % (sizeof(alpha) - 1)];
	}
	explicit_bzero(rnd, sizeof(rnd));
	return out;
}

static void reset_published(void *arg)
{
	struct reset *s = arg;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "profileId", s->id);
	cJSON_AddBoolToObject(o, "mustChangePassword", true);
	if (s->generated)
		cJSON_AddStringToObject(o, "temporaryPassword", s->temp);
	else
		cJSON_AddNullToObject(o, "temporaryPassword");
	cJSON_AddStringToObject(o, "resetAt", s->at);
	cJSON_AddStringToObject(o, "message",
				"Password reset. Every session of the account has ended; the user must "
				"change the password at the next login.");
	gx_reply_header(s->req, "Cache-Control", "no-store");
	gx_reply_json(s->req, 200, o);
}

static void on_reset(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct reset *s = arg;
	const struct gx_jwt_claims *c = gx_req_claims(s->req);

	/* no row: the account went away or rose in rank since it was read */
	if (!gx_svc_found(s->req, res, err, "NOT_FOUND", "User not found"))
		return;
	snprintf(s->at, sizeof(s->at), "%s", gx_pg_val(res, 0, "at"));
	s->epoch = strtoll(gx_pg_val(res, 0, "epoch"), NULL, 10);
	gx_log_info("password reset: %s %s reset the password of profile %s (%s)", c->role, c->sub, s->id,
		    s->generated ? "generated" : "given");
	idy_epoch_publish(s->req, s->id, s->epoch, reset_published, s);
}

static void reset_hashed(const struct idy_hash_result *r, void *arg)
{
	struct reset *s = arg;
	struct gx_req *req = s->req;
	const struct gx_jwt_claims *c = gx_req_claims(req);
	char epoch[24];
	const char *p[10];

	s->job = NULL;
	if (r->verdict != GX_PASSWORD_OK) {
		idy_reply_weak(req, r);
		return;
	}
	if (!r->hash) {
		gx_reply_error(req, 500, "INTERNAL", "cannot hash the password");
		return;
	}
	snprintf(epoch, sizeof(epoch), "%lld", idy_epoch_next());
	p[0] = s->id;
	p[1] = gx_req_tenant(req);
	p[2] = r->hash;
	p[3] = epoch;
	p[4] = gx_rank_below(c->role);
	p[5] = c->sub;
	p[6] = c->role;
	p[7] = s->generated ? "true" : "false";
	p[8] = gx_req_id(req);
	p[9] = gx_req_client_ip(req);
	if (gx_pg_query(gx_req_pg(req), SQL_RESET, 10, p, on_reset, s) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the password reset");
}

static void on_reset_target(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct reset *s = arg;
	const struct idy_app *app = gx_req_app(s->req);
	struct idy_hash_spec spec;
	enum idy_hash_refusal why;

	if (!gx_svc_found(s->req, res, err, "NOT_FOUND", "User not found"))
		return;
	if (gx_rank_require(s->req, s->id, gx_pg_val(res, 0, "role"), false, "reset the password of") < 0)
		return;
	/* a generated password is random: it may contain a name's letters by chance (e.g. "ada") without being
	 * derived from it, so only a given one is held against the profile's names and email */
	spec = (struct idy_hash_spec){ .op = IDY_HASH_MAKE,
				       .account = s->id,
				       .pw = s->temp,
				       .email = s->generated ? NULL : gx_pg_val(res, 0, "email"),
				       .first = s->generated ? NULL : gx_pg_val(res, 0, "firstName"),
				       .last = s->generated ? NULL : gx_pg_val(res, 0, "lastName"),
				       .check = true,
				       .cost = (int)app->cfg->bcrypt_cost };
	s->job = idy_hash_submit(gx_req_worker(s->req), &spec, reset_hashed, s, &why);
	if (!s->job)
		idy_reply_busy(s->req, why);
}

void idy_users_password_reset(struct gx_req *req)
{
	const char *id = idy_profile_param(req, "Insufficient permissions to access this resource");
	const cJSON *body = gx_req_body(req);
	const char *temp, *issue, *p[2];
	struct gx_verr *v;
	struct reset *s;

	if (!id)
		return;
	v = gx_verr_new();
	temp = cJSON_IsObject(body) ? gx_valid_str(body, "temporaryPassword", false, 1, 200, v) : NULL;
	if (temp && !gx_password_acceptable(temp, &issue))
		gx_verr_add(v, "temporaryPassword", "%s", issue);
	if (gx_svc_invalid(req, v))
		return;
	s = gx_xcalloc(1, sizeof(*s));
	s->req = req;
	gx_req_set_data(req, s, reset_free);
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->generated = !temp;
	s->temp = temp ? gx_xstrdup(temp) : generate_password();
	if (!s->temp) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate a password");
		return;
	}
	p[0] = s->id;
	p[1] = gx_req_tenant(req);
	if (gx_pg_query(gx_req_pg(req), SQL_RESET_TARGET, 2, p, on_reset_target, s) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the profile query");
}
