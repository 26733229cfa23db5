/* Users: registration (POST /api/v1/users: profile + CREATE_USER command in one transaction; without nationality
 * or date of birth, which the chaincode needs, the profile alone), profile read and update (GET/PATCH
 * /api/v1/users/{id}, self or admin). Passwords are hashed on the bcrypt pool. Bodies are the original backend's
 * ({"user": ...}, {"profile": ...}) with our flat profile keys beside the wrapper; its error texts come first.
 */
#include "identity.h"

#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/outbox.h"
#include "gx/password.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/rank.h"
#include "gx/util.h"
#include "gx/svc.h"
#include "gx/valid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/sha256.h>

static const char SQL_INSERT_PROFILE[] =
	"INSERT INTO \"UserProfile\" (\"profileId\", \"tenantId\", \"firstName\", \"lastName\", \"email\", \"phoneNum\","
	" \"identityNum\", \"biometricHash\", \"passwordHash\", \"nationalityCountryCode\", \"dateOfBirth\", \"status\","
	" \"role\", \"fabricUserId\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::date,"
	" 'PENDING_VERIFICATION', 'USER', $1)";

static const char SQL_GET_PROFILE[] =
	"SELECT " IDY_PROFILE_COLS " FROM \"UserProfile\" WHERE \"profileId\" = $1 AND \"tenantId\" = $2"
	" AND \"deletedAt\" IS NULL";

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
	" AND (\"profileId\" = $11 OR \"role\"::text = ANY($12::text[])) RETURNING " IDY_PROFILE_COLS ","
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

/* Registration and PATCH: the original answered a taken email with 400 and this text. */
static const struct gx_conflict profile_conflicts[] = {
	{ "UserProfile_email_lower_key", 400, "EMAIL_TAKEN", "User with this email already exists" },
	{ "UserProfile_email_key", 400, "EMAIL_TAKEN", "User with this email already exists" },
	{ "UserProfile_phoneNum_key", 409, "PHONE_TAKEN", "a user with this phone number already exists" },
	{ "UserProfile_biometricHash_key", 409, "BIOMETRIC_TAKEN", "this biometric hash is already registered" },
	{ "UserProfile_nationalityCountryCode_fkey", 400, "UNKNOWN_COUNTRY",
	  "nationalityCountryCode is not a known country" },
};


const char *idy_tenant(const struct gx_req *req)
{
	const struct idy_app *app = gx_req_app(req);

	return app->shared->tenant_id;
}

static cJSON *col_or_null(const PGresult *res, int r, const char *col)
{
	if (gx_pg_isnull(res, r, col))
		return cJSON_CreateNull();
	return cJSON_CreateString(gx_pg_val(res, r, col));
}

bool idy_truthy(const cJSON *body, const char *field)
{
	const cJSON *it = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, field) : NULL;

	if (!it || cJSON_IsNull(it) || cJSON_IsFalse(it))
		return false;
	if (cJSON_IsString(it))
		return it->valuestring[0] != '\0';
	if (cJSON_IsNumber(it))
		return it->valuedouble != 0;
	return true;
}

cJSON *idy_profile_json(const PGresult *res, int r)
{
	/* the original's S1 keys in its order, then ours */
	static const char *const cols[] = { "profileId", "email", "firstName", "lastName", "phoneNum", "identityNum",
					    "status", "nationalityCountryCode", "createdAt", "updatedAt", "dateOfBirth",
					    "role", "fabricUserId", "onchainStatus", "kycStatus" };
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; i < GX_ARRAY_LEN(cols); i++)
		cJSON_AddItemToObject(o, cols[i], col_or_null(res, r, cols[i]));
	return o;
}

cJSON *idy_wrap(const char *key, cJSON *inner)
{
	cJSON *o = cJSON_CreateObject(), *it;

	cJSON_AddItemToObject(o, key, inner);
	cJSON_ArrayForEach(it, inner) {
		cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, true));
	}
	return o;
}

void idy_lower_ascii(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

void idy_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void idy_reply_busy(struct gx_req *req, enum idy_hash_refusal why)
{
	gx_reply_header(req, "Retry-After", "1");
	if (why == IDY_HASH_ACCOUNT_BUSY)
		gx_reply_error(req, 503, "BUSY", "another password operation of this account is in progress, retry");
	else
		gx_reply_error(req, 503, "BUSY", "too many password operations in progress, retry");
}

void idy_reply_weak(struct gx_req *req, const struct idy_hash_result *r)
{
	struct gx_verr *v;

	switch (r->verdict) {
	case GX_PASSWORD_WEAK:
		gx_reply_error(req, 400, "WEAK_PASSWORD", "password %s", r->issue);
		return;
	case GX_PASSWORD_BAD_LENGTH:
		v = gx_verr_new();
		gx_verr_add(v, "password", "%s", r->issue);
		gx_reply_verr(req, v);
		return;
	default:
		gx_reply_error(req, 500, "INTERNAL", "cannot check the password");
		return;
	}
}

void idy_email_account(const char *email, char *out, size_t n)
{
	snprintf(out, n, "email:%s", email);
	idy_lower_ascii(out);
}

static char *dup_or_null(const char *s)
{
	return s ? gx_xstrdup(s) : NULL;
}

/* The profile fields a registration or an update carries; each owned, NULL when absent. */
struct fields {
	char *first, *last, *phone, *identity, *email, *password;
};

/* Copy the given fields (borrowed, may be NULL); the email is stored in lower case. */
static void fields_set(struct fields *f, const char *first, const char *last, const char *phone, const char *idn,
		       const char *email, const char *pw)
{
	f->first = dup_or_null(first);
	f->last = dup_or_null(last);
	f->phone = dup_or_null(phone);
	f->identity = dup_or_null(idn);
	f->email = dup_or_null(email);
	if (f->email)
		idy_lower_ascii(f->email);
	f->password = dup_or_null(pw);
}

/* email and password of body (borrowed from it; NULL when absent or invalid, with issues added to v). */
static void read_credentials(const cJSON *body, bool required, struct gx_verr *v, const char **email, const char **pw)
{
	const char *issue;

	*email = gx_valid_str(body, "email", required, 3, 254, v);
	if (*email && !gx_valid_email(*email))
		gx_verr_add(v, "email", "must be a valid email address");
	*pw = gx_valid_str(body, "password", required, 1, 200, v);
	if (*pw && !gx_password_acceptable(*pw, &issue))
		gx_verr_add(v, "password", "%s", issue);
}

/* An optional string field the original turned into null when falsy: "" and null both count as absent. */
static const char *optional_str(const cJSON *body, const char *field, size_t min, size_t max, struct gx_verr *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(body, field);

	if (cJSON_IsString(it) && !it->valuestring[0])
		return NULL;
	return gx_valid_str(body, field, false, min, max, v);
}

/* firstName, lastName (required or not), phoneNum and identityNum (optional) of body, like read_credentials. */
static void read_names(const cJSON *body, bool required, struct gx_verr *v, const char **first, const char **last,
		       const char **phone, const char **idn)
{
	*first = gx_valid_str(body, "firstName", required, 1, 50, v);
	if (*first && !gx_valid_name(*first, 1, 50))
		gx_verr_add(v, "firstName", "must be 1..50 characters without control characters");
	*last = gx_valid_str(body, "lastName", required, 1, 50, v);
	if (*last && !gx_valid_name(*last, 1, 50))
		gx_verr_add(v, "lastName", "must be 1..50 characters without control characters");
	*phone = optional_str(body, "phoneNum", 1, 16, v);
	if (*phone && !gx_valid_e164(*phone))
		gx_verr_add(v, "phoneNum", "must be an E.164 number such as +14155550123");
	*idn = optional_str(body, "identityNum", 1, 64, v);
}

static void fields_release(struct fields *f)
{
	free(f->first);
	free(f->last);
	free(f->phone);
	free(f->identity);
	free(f->email);
	idy_wipe_free(f->password);
}

/* ---- POST /api/v1/users ---------------------------------------------------------------------------------- */

struct reg {
	struct gx_req *req;
	struct idy_hash_job *job;
	char profile_id[37];
	struct fields f;
	char *nationality, *dob;
	char biometric[65];
	long long age;
};

static void reg_free(void *arg)
{
	struct reg *s = arg;

	idy_hash_cancel(s->job);
	fields_release(&s->f);
	free(s->nationality);
	free(s->dob);
	free(s);
}

/* Answer a database failure of a profile write, mapping the unique and foreign keys of conflicts. */
static void reply_profile_error(struct gx_req *req, const struct gx_pg_error *err, const struct gx_conflict *conflicts,
				size_t n)
{
	if (err->kind == GX_PG_ERR_QUERY && (strcmp(err->sqlstate, "23505") == 0 || strcmp(err->sqlstate, "23503") == 0)) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(err->constraint, conflicts[i].constraint) == 0) {
				gx_reply_error(req, conflicts[i].status, conflicts[i].code, "%s", conflicts[i].message);
				return;
			}
		}
	}
	gx_reply_pg_error(req, err);
}

/* A profile registered without the on-chain fields: 202 in the original's shape, no command yet. */
static void reg_offchain_done(PGresult *res GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	struct reg *s = arg;
	cJSON *o;

	if (err) {
		reply_profile_error(s->req, err, profile_conflicts, GX_ARRAY_LEN(profile_conflicts));
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddNullToObject(o, "commandId");
	cJSON_AddStringToObject(o, "status", "PROFILE_CREATED");
	cJSON_AddStringToObject(o, "message", "User registered. On-chain registration needs nationalityCountryCode "
				"and dateOfBirth: POST /api/v1/users/{id}/onchain.");
	cJSON_AddStringToObject(o, "aggregateId", s->profile_id);
	gx_reply_json(s->req, 202, o);
}

static void reg_hashed(const struct idy_hash_result *r, void *arg)
{
	struct reg *s = arg;
	struct gx_req *req = s->req;
	const char *p[11], *hash = r->hash;
	struct gx_pg_stmt st;
	struct gx_outbox_cmd cmd;
	cJSON *payload;

	s->job = NULL;
	if (r->verdict != GX_PASSWORD_OK) {
		idy_reply_weak(req, r);
		return;
	}
	if (!hash) {
		gx_reply_error(req, 500, "INTERNAL", "cannot hash the password");
		return;
	}
	p[0] = s->profile_id;
	p[1] = idy_tenant(req);
	p[2] = s->f.first;
	p[3] = s->f.last;
	p[4] = s->f.email;
	p[5] = s->f.phone;
	p[6] = s->f.identity;
	p[7] = s->biometric;
	p[8] = hash;
	p[9] = s->nationality;
	p[10] = s->dob;
	st = (struct gx_pg_stmt){ SQL_INSERT_PROFILE, 11, p };
	if (!s->nationality || !s->dob) {
		/* CreateUser needs both: the profile alone, on chain once they are known (docs/svc-identity.md) */
		if (gx_pg_query(gx_req_pg(req), SQL_INSERT_PROFILE, 11, p, reg_offchain_done, s) < 0)
			gx_reply_error(req, 500, "INTERNAL", "cannot start the registration");
		return;
	}

	/* exactly the CREATE_USER fields of docs/chaincode.md: on-chain data only, no PII */
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "userId", s->profile_id);
	cJSON_AddStringToObject(payload, "biometricHash", s->biometric);
	cJSON_AddStringToObject(payload, "nationality", s->nationality);
	cJSON_AddNumberToObject(payload, "age", (double)s->age);
	cmd = (struct gx_outbox_cmd){ .command_type = "CREATE_USER", .aggregate_id = s->profile_id,
				      .payload = payload };
	gx_outbox_submit(req, &st, 1, &cmd, profile_conflicts, GX_ARRAY_LEN(profile_conflicts));
	cJSON_Delete(payload);
}

/* The biometric hash sent on chain when the client gives none: SHA-256 of 32 random bytes (unlinkable to PII). */
static int random_biometric(char out[65])
{
	unsigned char rnd[32], h[32];

	if (gx_rand_bytes(rnd, sizeof(rnd)) < 0)
		return -1;
	if (mbedtls_sha256_ret(rnd, sizeof(rnd), h, 0) != 0) {
		gx_log_error("sha256 failed");
		return -1;
	}
	gx_hex_encode(h, sizeof(h), out);
	return 0;
}

void idy_read_onchain_fields(const cJSON *body, struct gx_verr *v, const char **nat, const char **dob,
			     long long *age)
{
	int y = 0, m = 0, d = 0;

	*age = -1;
	*nat = optional_str(body, "nationalityCountryCode", 2, 2, v);
	if (*nat && !gx_valid_iso2(*nat))
		gx_verr_add(v, "nationalityCountryCode", "must be an ISO 3166-1 alpha-2 code in upper case");
	*dob = optional_str(body, "dateOfBirth", 10, 10, v);
	if (*dob) {
		if (!gx_valid_date(*dob, &y, &m, &d) || y < 1900)
			gx_verr_add(v, "dateOfBirth", "must be a date YYYY-MM-DD after 1900-01-01");
		else if ((*age = gx_valid_age_years(y, m, d, time(NULL))) < 0)
			gx_verr_add(v, "dateOfBirth", "must not be in the future");
	}
}

/* The original's checks, in its order, with its texts: the four required fields truthy, the email's shape, the
 * password's length. Returns its message when one fails, else NULL (ours follow). */
static const char *original_register_check(const cJSON *body)
{
	const cJSON *email = cJSON_GetObjectItemCaseSensitive(body, "email");
	const cJSON *pw = cJSON_GetObjectItemCaseSensitive(body, "password");

	if (!idy_truthy(body, "email") || !idy_truthy(body, "password") || !idy_truthy(body, "firstName") ||
	    !idy_truthy(body, "lastName"))
		return "Email, password, firstName, and lastName are required";
	if (!cJSON_IsString(email) || !gx_valid_email(email->valuestring))
		return "Invalid email format";
	if (cJSON_IsString(pw) && strlen(pw->valuestring) < 8)
		return "Password must be at least 8 characters long";
	return NULL;
}

void idy_users_create(struct gx_req *req)
{
	const struct idy_app *app = gx_req_app(req);
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v;
	const char *email, *pw, *first, *last, *phone, *idn, *nat, *dob, *bio, *orig;
	long long age = -1;
	struct reg *s;
	struct idy_hash_spec spec;
	enum idy_hash_refusal why;
	char account[300];

	orig = original_register_check(body);
	if (orig) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "%s", orig);
		return;
	}
	v = gx_verr_new();
	read_credentials(body, true, v, &email, &pw);
	read_names(body, true, v, &first, &last, &phone, &idn);
	idy_read_onchain_fields(body, v, &nat, &dob, &age);
	bio = gx_valid_str(body, "biometricHash", false, 64, 64, v);
	if (bio && !gx_valid_hex64(bio))
		gx_verr_add(v, "biometricHash", "must be 64 hex digits (SHA-256)");
	if (gx_svc_invalid(req, v))
		return;

	s = gx_xcalloc(1, sizeof(*s));
	s->req = req;
	gx_req_set_data(req, s, reg_free);
	if (gx_uuid_v4(s->profile_id) < 0 || (!bio && random_biometric(s->biometric) < 0)) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate identifiers");
		return;
	}
	if (bio) {
		snprintf(s->biometric, sizeof(s->biometric), "%s", bio);
		idy_lower_ascii(s->biometric);
	}
	fields_set(&s->f, first, last, phone, idn, email, pw);
	s->nationality = nat ? gx_xstrdup(nat) : NULL;
	s->dob = dob ? gx_xstrdup(dob) : NULL;
	s->age = age;
	idy_email_account(s->f.email, account, sizeof(account));
	spec = (struct idy_hash_spec){ .op = IDY_HASH_MAKE, .account = account, .pw = s->f.password,
				       .email = s->f.email, .first = s->f.first, .last = s->f.last, .check = true,
				       .cost = (int)app->cfg->bcrypt_cost };
	s->job = idy_hash_submit(gx_req_worker(req), &spec, reg_hashed, s, &why);
	if (!s->job)
		idy_reply_busy(req, why);
}

/* ---- GET /api/v1/users/{id} ------------------------------------------------------------------------------- */

/* Answer {key: profile, ...profile} for the one row of res (a SELECT or UPDATE ... RETURNING), or 404 when it
 * matched none. */
static void reply_profile(struct gx_req *req, const PGresult *res, const char *key)
{
	if (PQntuples(res) != 1)
		gx_reply_error(req, 404, "NOT_FOUND", "User not found");
	else
		gx_reply_json(req, 200, idy_wrap(key, idy_profile_json(res, 0)));
}

static void on_profile(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;

	if (err)
		gx_reply_pg_error(req, err);
	else
		reply_profile(req, res, "user");
}

/* Object-level check shared by the /users/{id} routes: 403 (with the original's text, forbidden) for someone
 * else's profile, 404 for a malformed id. Returns the id, or NULL after replying. */
const char *idy_profile_param(struct gx_req *req, const char *forbidden)
{
	const char *id = gx_req_param(req, "id");

	if (!id || !gx_req_may_access(req, id)) {
		gx_reply_error(req, 403, "FORBIDDEN", "%s", forbidden);
		return NULL;
	}
	if (!gx_uuid_valid(id)) {
		gx_reply_error(req, 404, "NOT_FOUND", "User not found");
		return NULL;
	}
	return id;
}

void idy_users_get(struct gx_req *req)
{
	const char *id = idy_profile_param(req, "You can only view your own profile");
	const char *p[2];

	if (!id)
		return;
	p[0] = id;
	p[1] = idy_tenant(req);
	if (gx_pg_query(gx_req_pg(req), SQL_GET_PROFILE, 2, p, on_profile, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the profile query");
}

/* ---- PATCH /api/v1/users/{id} -----------------------------------------------------------------------------
 * A new password needs the current one (own profile only; an admin resets another account's password with
 * POST /users/{id}/password-reset, credentials.c). One CHANGE job on the bcrypt pool verifies the current password,
 * checks the new one's quality and hashes it; one transaction then updates the profile (clearing
 * mustChangePassword, setting the token epoch) and revokes every refresh token; the epoch goes to Redis last. */

struct patch {
	struct gx_req *req;
	struct idy_hash_job *job;
	char *id;
	struct fields f;
	char *current; /* currentPassword (secret) */
	bool clear_phone, clear_identity;
	long long epoch;
	cJSON *reply;  /* the answer, kept until the epoch is published */
};

static void patch_free(void *arg)
{
	struct patch *s = arg;

	idy_hash_cancel(s->job);
	free(s->id);
	fields_release(&s->f);
	idy_wipe_free(s->current);
	cJSON_Delete(s->reply);
	free(s);
}

static void on_patched(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;

	if (err)
		reply_profile_error(req, err, profile_conflicts, GX_ARRAY_LEN(profile_conflicts));
	else
		reply_profile(req, res, "profile");
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
		reply_profile(s->req, res[0], "profile");
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
	const char *p[13] = { s->id, idy_tenant(req), s->f.first, s->f.last, s->f.phone, s->f.identity, s->f.email, hash,
			      s->clear_phone ? "true" : "false", s->clear_identity ? "true" : "false", c->sub, below,
			      epoch };
	const char *rp[4] = { s->id, idy_tenant(req), c->sub, below };

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
	spec = (struct idy_hash_spec){ .op = IDY_HASH_CHANGE, .account = s->id, .pw = s->f.password,
				       .current = s->current, .hash = gx_pg_val(res, 0, "passwordHash"),
				       .email = s->f.email ? s->f.email : gx_pg_val(res, 0, "email"),
				       .first = s->f.first ? s->f.first : gx_pg_val(res, 0, "firstName"),
				       .last = s->f.last ? s->f.last : gx_pg_val(res, 0, "lastName"), .check = true,
				       .cost = (int)app->cfg->bcrypt_cost };
	s->job = idy_hash_submit(gx_req_worker(s->req), &spec, patch_hashed, s, &why);
	if (!s->job)
		idy_reply_busy(s->req, why);
}

/* A new password (own profile): look the stored credentials up first; else update at once. */
static void patch_start(struct patch *s)
{
	const char *p[2] = { s->id, idy_tenant(s->req) };

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
		gx_reply_error(s->req, 403, "FORBIDDEN", "another account's password is reset with POST "
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
		gx_reply_error(req, 403, "PASSWORD_CHANGE_REQUIRED",
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
	read_names(body, false, v, &first, &last, &phone, &idn);
	read_credentials(body, false, v, &email, &pw);
	current = gx_valid_str(body, "currentPassword", false, 1, 1024, v);
	if (gx_svc_invalid(req, v))
		return;
	if (patch_password_rules(req, id, pw, current) < 0)
		return;

	s = gx_xcalloc(1, sizeof(*s));
	s->req = req;
	gx_req_set_data(req, s, patch_free);
	s->id = gx_xstrdup(id);
	fields_set(&s->f, first, last, phone, idn, email, pw);
	s->current = current ? gx_xstrdup(current) : NULL;
	s->clear_phone = clears(body, "phoneNum");
	s->clear_identity = clears(body, "identityNum");
	if (strcmp(gx_req_claims(req)->sub, id) == 0) {
		patch_start(s);
		return;
	}
	p[0] = s->id;
	p[1] = idy_tenant(req);
	if (gx_pg_query(gx_req_pg(req), SQL_TARGET_ROLE, 2, p, on_target_role, s) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the profile query");
}
