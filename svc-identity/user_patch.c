/* Profile update, PATCH /api/v1/users/{id} (self or admin, under the rank guard), with the password change it may
 * carry.
 */
#include "identity.h"

#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/pg.h"
#include "gx/rank.h"
#include "gx/util.h"
#include "gx/svc.h"
#include "gx/valid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* $9/$10 true: the body cleared phoneNum/identityNum with null (the original wrote the key when present) */
static const char SQL_PATCH_PROFILE[] =
	"UPDATE \"UserProfile\" SET \"firstName\" = COALESCE($3, \"firstName\"), \"lastName\" = COALESCE($4, \"lastName\"),"
	" \"phoneNum\" = CASE WHEN $9::boolean THEN NULL ELSE COALESCE($5, \"phoneNum\") END,"
	" \"identityNum\" = CASE WHEN $10::boolean THEN NULL ELSE COALESCE($6, \"identityNum\") END,"
	" \"email\" = COALESCE($7, \"email\"), \"passwordHash\" = COALESCE($8, \"passwordHash\"),"
	" \"mustChangePassword\" = ($8::text IS NULL AND \"mustChangePassword\"),"
	" \"tokensValidAfter\" = CASE WHEN $8::text IS NULL THEN \"tokensValidAfter\""
	"  ELSE GREATEST(to_timestamp($13::bigint), \"tokensValidAfter\" + interval '1 second') END,"
	" \"updatedAt\" = now()"
	" WHERE \"profileId\" = $1 AND \"tenantId\" = $2 AND \"deletedAt\" IS NULL"
	" AND (\"profileId\" = $11 OR \"role\"::text = ANY($12::text[])) RETURNING " IDY_PROFILE_COLS
	","
	" extract(epoch FROM \"tokensValidAfter\")::bigint AS \"validAfter\"";

/* the caller's own stored credentials, for a password change (the current password is verified against the hash;
 * the names and email feed the quality check) */
static const char SQL_OWN_CREDENTIALS[] =
	"SELECT \"passwordHash\", \"email\", \"firstName\", \"lastName\" FROM \"UserProfile\""
	" WHERE \"profileId\" = $1 AND \"tenantId\" = $2 AND \"deletedAt\" IS NULL";

/* the target's role, for the rank check of an admin changing someone else's profile */
static const char SQL_TARGET_ROLE[] =
	"SELECT \"role\"::text AS \"role\" FROM \"UserProfile\" WHERE \"profileId\" = $1 AND \"tenantId\" = $2"
	" AND \"deletedAt\" IS NULL";

/* a new password ends every session of the profile (under the same rank guard as the update: $3 caller, $4 the
 * roles below the caller's) */
static const char SQL_REVOKE_ALL[] =
	"UPDATE \"RefreshToken\" SET \"revoked\" = true, \"revokedAt\" = now(), \"revokedReason\" = 'password changed'"
	" WHERE \"profileId\" = $1 AND \"tenantId\" = $2 AND NOT \"revoked\" AND EXISTS (SELECT 1 FROM \"UserProfile\" u"
	" WHERE u.\"profileId\" = $1 AND (u.\"profileId\" = $3 OR u.\"role\"::text = ANY($4::text[])))";
/* ---- PATCH /api/v1/users/{id} -----------------------------------------------------------------------------
 * A new password needs the current one (own profile only; an admin resets another account's password with
 * POST /users/{id}/password-reset, credentials.c). One CHANGE job on the bcrypt pool verifies the current password,
 * checks the new one's quality and hashes it; one transaction then updates the profile (clearing
 * mustChangePassword, setting the token epoch) and revokes every refresh token; the epoch goes to Redis last. */

struct patch {
	struct gx_req *req;
	struct idy_hash_job *job;
	char *id;
	struct idy_fields f;
	char *current; /* currentPassword (secret) */
	bool clear_phone, clear_identity;
	long long epoch;
	cJSON *reply; /* the answer, kept until the epoch is published */
};

static void patch_free(void *arg)
{
	struct patch *s = arg;

	idy_hash_cancel(s->job);
	free(s->id);
	idy_fields_release(&s->f);
	idy_wipe_free(s->current);
	cJSON_Delete(s->reply);
	free(s);
}

static void on_patched(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;

	if (err)
		idy_reply_profile_error(req, err, idy_profile_conflicts, idy_nprofile_conflicts);
	else
		idy_reply_profile(req, res, "profile");
}

static void patch_published(void *arg)
{
	struct patch *s = arg;

	cJSON *o = s->reply;

	s->reply = NULL;
	gx_reply_json(s->req, 200, o);
}

static void on_patched_txn(PGresult *const *res, int nres, const struct gx_pg_error *err, void *arg)
{
	struct patch *s = arg;

	if (err || nres < 1) {
		on_patched(NULL, err, s->req);
		return;
	}
	if (PQntuples(res[0]) != 1) {
		idy_reply_profile(s->req, res[0], "profile");
		return;
	}
	/* the caller's tokens end too: every token issued before the epoch is refused from now on */
	s->reply = idy_wrap("profile", idy_profile_json(res[0], 0));
	s->epoch = strtoll(gx_pg_val(res[0], 0, "validAfter"), NULL, 10);
	idy_epoch_publish(s->req, s->id, s->epoch, patch_published, s);
}

static void patch_run(struct patch *s, const char *hash)
{
	struct gx_req *req = s->req;
	const struct gx_jwt_claims *c = gx_req_claims(req);
	const char *below = gx_rank_below(c->role);
	char epoch[24];
	const char *p[13] = { s->id,
			      gx_req_tenant(req),
			      s->f.first,
			      s->f.last,
			      s->f.phone,
			      s->f.identity,
			      s->f.email,
			      hash,
			      s->clear_phone ? "true" : "false",
			      s->clear_identity ? "true" : "false",
			      c->sub,
			      below,
			      epoch };
	const char *rp[4] = { s->id, gx_req_tenant(req), c->sub, below };

	s->epoch = idy_epoch_next();
	snprintf(epoch, sizeof(epoch), "%lld", s->epoch);
	if (hash) {
		struct gx_pg_stmt st[2] = { { SQL_PATCH_PROFILE, 13, p }, { SQL_REVOKE_ALL, 4, rp } };
		if (gx_pg_txn(gx_req_pg(req), st, 2, on_patched_txn, s) < 0)
			gx_reply_error(req, 500, "INTERNAL", "cannot start the profile update");
		return;
	}
	if (gx_pg_query(gx_req_pg(req), SQL_PATCH_PROFILE, 13, p, on_patched, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the profile update");
}

static void patch_hashed(const struct idy_hash_result *r, void *arg)
{
	struct patch *s = arg;

	s->job = NULL;
	if (!r->matched) {
		gx_reply_error(s->req, 403, "CURRENT_PASSWORD_INVALID", "the current password is not correct");
		return;
	}
	if (r->verdict != GX_PASSWORD_OK) {
		idy_reply_weak(s->req, r);
		return;
	}
	if (!r->hash) {
		gx_reply_error(s->req, 500, "INTERNAL", "cannot hash the password");
		return;
	}
	patch_run(s, r->hash);
}

/* The caller's stored hash and names: verify the current password and hash the new one (CHANGE job). */
static void on_own_credentials(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct patch *s = arg;
	const struct idy_app *app = gx_req_app(s->req);
	struct idy_hash_spec spec;
	enum idy_hash_refusal why;

	if (!gx_svc_found(s->req, res, err, "NOT_FOUND", "User not found"))
		return;
	spec = (struct idy_hash_spec){ .op = IDY_HASH_CHANGE,
				       .account = s->id,
				       .pw = s->f.password,
				       .current = s->current,
				       .hash = gx_pg_val(res, 0, "passwordHash"),
				       .email = s->f.email ? s->f.email : gx_pg_val(res, 0, "email"),
				       .first = s->f.first ? s->f.first : gx_pg_val(res, 0, "firstName"),
				       .last = s->f.last ? s->f.last : gx_pg_val(res, 0, "lastName"),
				       .check = true,
				       .cost = (int)app->cfg->bcrypt_cost };
	s->job = idy_hash_submit(gx_req_worker(s->req), &spec, patch_hashed, s, &why);
	if (!s->job)
		idy_reply_busy(s->req, why);
}

/* A new password (own profile): look the stored credentials up first; else update at once. */
static void patch_start(struct patch *s)
{
	const char *p[2] = { s->id, gx_req_tenant(s->req) };

	if (!s->f.password) {
		patch_run(s, NULL);
		return;
	}
	if (gx_pg_query(gx_req_pg(s->req), SQL_OWN_CREDENTIALS, 2, p, on_own_credentials, s) < 0)
		gx_reply_error(s->req, 500, "INTERNAL", "cannot start the profile query");
}

/* An admin changing someone else's profile: only one of lower rank (docs/security.md "Ranks"). */
static void on_target_role(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct patch *s = arg;

	if (!gx_svc_found(s->req, res, err, "NOT_FOUND", "User not found"))
		return;
	if (gx_rank_require(s->req, s->id, gx_pg_val(res, 0, "role"), true, "change the profile of") < 0)
		return;
	if (s->f.password) {
		gx_reply_error(s->req, 403, "FORBIDDEN",
			       "another account's password is reset with POST "
			       "/api/v1/users/{id}/password-reset, not changed");
		return;
	}
	patch_start(s);
}

/* The body sets field to null or "": the original wrote that, we clear the column. */
static bool clears(const cJSON *body, const char *field)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(body, field);

	return cJSON_IsNull(it) || (cJSON_IsString(it) && !it->valuestring[0]);
}

/* The password rules of a PATCH before any work: a token that must change its password first changes its own; a
 * new password of one's own profile comes with the current one (someone else's password is refused after the rank
 * check, on_target_role: it is reset through its own route). Returns 0, or -1 after replying. */
static int patch_password_rules(struct gx_req *req, const char *id, const char *pw, const char *current)
{
	const struct gx_jwt_claims *c = gx_req_claims(req);
	bool self = strcmp(c->sub, id) == 0;
	struct gx_verr *v;

	if (c->pwc && (!pw || !self)) {
		gx_reply_error(
			req, 403, "PASSWORD_CHANGE_REQUIRED",
			"the password must be changed first: PATCH your profile with password and currentPassword");
		return -1;
	}
	if (pw && self && !current) {
		v = gx_verr_new();
		gx_verr_add(v, "currentPassword", "is required to change the password");
		gx_reply_verr(req, v);
		return -1;
	}
	return 0;
}

void idy_users_patch(struct gx_req *req)
{
	static const char *const fields[] = { "firstName", "lastName", "phoneNum", "identityNum", "email", "password" };
	const cJSON *body = gx_req_body(req);
	const char *id = idy_profile_param(req, "You can only update your own profile");
	const char *first, *last, *phone, *idn, *email, *pw, *current, *p[2];
	bool any = false;
	struct gx_verr *v;
	struct patch *s;

	if (!id)
		return;
	/* other keys (nationalityCountryCode, dateOfBirth, role, ...) are ignored, as the original ignored them */
	for (size_t i = 0; i < GX_ARRAY_LEN(fields); i++)
		any = any || idy_truthy(body, fields[i]);
	if (!any) {
		if (gx_req_claims(req)->pwc)
			patch_password_rules(req, id, NULL, NULL);
		else
			gx_reply_error(req, 400, "VALIDATION_FAILED", "At least one field must be provided for update");
		return;
	}
	v = gx_verr_new();
	idy_read_names(body, false, v, &first, &last, &phone, &idn);
	idy_read_credentials(body, false, v, &email, &pw);
	current = gx_valid_str(body, "currentPassword", false, 1, 1024, v);
	if (gx_svc_invalid(req, v))
		return;
	if (patch_password_rules(req, id, pw, current) < 0)
		return;

	s = gx_xcalloc(1, sizeof(*s));
	s->req = req;
	gx_req_set_data(req, s, patch_free);
	s->id = gx_xstrdup(id);
	idy_fields_set(&s->f, first, last, phone, idn, email, pw);
	s->current = current ? gx_xstrdup(current) : NULL;
	s->clear_phone = clears(body, "phoneNum");
	s->clear_identity = clears(body, "identityNum");
	if (strcmp(gx_req_claims(req)->sub, id) == 0) {
		patch_start(s);
		return;
	}
	p[0] = s->id;
	p[1] = gx_req_tenant(req);
	if (gx_pg_query(gx_req_pg(req), SQL_TARGET_ROLE, 2, p, on_target_role, s) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the profile query");
}
