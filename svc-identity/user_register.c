/* Registration, POST /api/v1/users: profile + CREATE_USER command in one transaction; without nationality or date of
 * birth, which the chaincode needs, the profile alone. The password is hashed on the bcrypt pool. The original
 * backend's error texts come first.
 */
#include "identity.h"

#include "gx/log.h"
#include "gx/outbox.h"
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

#include <mbedtls/sha256.h>

static const char SQL_INSERT_PROFILE[] =
	"INSERT INTO \"UserProfile\" (\"profileId\", \"tenantId\", \"firstName\", \"lastName\", \"email\", \"phoneNum\","
	" \"identityNum\", \"biometricHash\", \"passwordHash\", \"nationalityCountryCode\", \"dateOfBirth\", \"status\","
	" \"role\", \"fabricUserId\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::date,"
	" 'PENDING_VERIFICATION', 'USER', $1)";

/* ---- POST /api/v1/users ---------------------------------------------------------------------------------- */

struct reg {
	struct gx_req *req;
	struct idy_hash_job *job;
	char profile_id[37];
	struct idy_fields f;
	char *nationality, *dob;
	char biometric[65];
	long long age;
};

static void reg_free(void *arg)
{
	struct reg *s = arg;

	idy_hash_cancel(s->job);
	idy_fields_release(&s->f);
	free(s->nationality);
	free(s->dob);
	free(s);
}

/* A profile registered without the on-chain fields: 202 in the original's shape, no command yet. */
static void reg_offchain_done(PGresult *res GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	struct reg *s = arg;
	cJSON *o;

	if (err) {
		idy_reply_profile_error(s->req, err, idy_profile_conflicts, idy_nprofile_conflicts);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddNullToObject(o, "commandId");
	cJSON_AddStringToObject(o, "status", "PROFILE_CREATED");
	cJSON_AddStringToObject(o, "message",
				"User registered. On-chain registration needs nationalityCountryCode "
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
	p[1] = gx_req_tenant(req);
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
	cmd = (struct gx_outbox_cmd){ .command_type = "CREATE_USER",
				      .aggregate_id = s->profile_id,
				      .payload = payload };
	gx_outbox_submit(req, &st, 1, &cmd, idy_profile_conflicts, idy_nprofile_conflicts);
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
	idy_read_credentials(body, true, v, &email, &pw);
	idy_read_names(body, true, v, &first, &last, &phone, &idn);
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
	idy_fields_set(&s->f, first, last, phone, idn, email, pw);
	s->nationality = nat ? gx_xstrdup(nat) : NULL;
	s->dob = dob ? gx_xstrdup(dob) : NULL;
	s->age = age;
	idy_email_account(s->f.email, account, sizeof(account));
	spec = (struct idy_hash_spec){ .op = IDY_HASH_MAKE,
				       .account = account,
				       .pw = s->f.password,
				       .email = s->f.email,
				       .first = s->f.first,
				       .last = s->f.last,
				       .check = true,
				       .cost = (int)app->cfg->bcrypt_cost };
	s->job = idy_hash_submit(gx_req_worker(req), &spec, reg_hashed, s, &why);
	if (!s->job)
		idy_reply_busy(req, why);
}
