/* Users: the helpers every svc-identity handler shares (tenant, profile JSON, wrappers, secrets, busy and weak
 * password answers), the profile fields a registration or an update reads, and the profile read (GET
 * /api/v1/users/{id}, self or admin). Registration is in user_register.c, the update in user_patch.c. Bodies are the
 * original backend's ({"user": ...}, {"profile": ...}) with our flat profile keys beside the wrapper.
 */
#include "identity.h"

#include "gx/log.h"
#include "gx/password.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/util.h"
#include "gx/svc.h"
#include "gx/valid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char SQL_GET_PROFILE[] = "SELECT " IDY_PROFILE_COLS
				      " FROM \"UserProfile\" WHERE \"profileId\" = $1 AND \"tenantId\" = $2"
				      " AND \"deletedAt\" IS NULL";

/* Registration and PATCH: the original answered a taken email with 400 and this text. */
const struct gx_conflict idy_profile_conflicts[] = {
	{ "UserProfile_email_lower_key", 400, "EMAIL_TAKEN", "User with this email already exists" },
	{ "UserProfile_email_key", 400, "EMAIL_TAKEN", "User with this email already exists" },
	{ "UserProfile_phoneNum_key", 409, "PHONE_TAKEN", "a user with this phone number already exists" },
	{ "UserProfile_biometricHash_key", 409, "BIOMETRIC_TAKEN", "this biometric hash is already registered" },
	{ "UserProfile_nationalityCountryCode_fkey", 400, "UNKNOWN_COUNTRY",
	  "nationalityCountryCode is not a known country" },
};

const size_t idy_nprofile_conflicts = GX_ARRAY_LEN(idy_profile_conflicts);

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
	static const char *const cols[] = { "profileId",    "email",         "firstName",   "lastName",
					    "phoneNum",     "identityNum",   "status",      "nationalityCountryCode",
					    "createdAt",    "updatedAt",     "dateOfBirth", "role",
					    "fabricUserId", "onchainStatus", "kycStatus" };
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

/* Copy the given fields (borrowed, may be NULL); the email is stored in lower case. */
void idy_fields_set(struct idy_fields *f, const char *first, const char *last, const char *phone, const char *idn,
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
void idy_read_credentials(const cJSON *body, bool required, struct gx_verr *v, const char **email, const char **pw)
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
void idy_read_names(const cJSON *body, bool required, struct gx_verr *v, const char **first, const char **last,
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

void idy_fields_release(struct idy_fields *f)
{
	free(f->first);
	free(f->last);
	free(f->phone);
	free(f->identity);
	free(f->email);
	idy_wipe_free(f->password);
}

/* Answer a database failure of a profile write, mapping the unique and foreign keys of conflicts. */
void idy_reply_profile_error(struct gx_req *req, const struct gx_pg_error *err, const struct gx_conflict *conflicts,
			     size_t n)
{
	if (err->kind == GX_PG_ERR_QUERY &&
	    (strcmp(err->sqlstate, "23505") == 0 || strcmp(err->sqlstate, "23503") == 0)) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(err->constraint, conflicts[i].constraint) == 0) {
				gx_reply_error(req, conflicts[i].status, conflicts[i].code, "%s", conflicts[i].message);
				return;
			}
		}
	}
	gx_reply_pg_error(req, err);
}

void idy_read_onchain_fields(const cJSON *body, struct gx_verr *v, const char **nat, const char **dob, long long *age)
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

/* ---- GET /api/v1/users/{id} ------------------------------------------------------------------------------- */

/* Answer {key: profile, ...profile} for the one row of res (a SELECT or UPDATE ... RETURNING), or 404 when it
 * matched none. */
void idy_reply_profile(struct gx_req *req, const PGresult *res, const char *key)
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
		idy_reply_profile(req, res, "user");
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
	p[1] = gx_req_tenant(req);
	if (gx_pg_query(gx_req_pg(req), SQL_GET_PROFILE, 2, p, on_profile, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the profile query");
}
