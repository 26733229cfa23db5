/* svc-identity private declarations: configuration, service state, the bcrypt thread pool, token minting and the
 * route handlers. Nothing here is used outside svc-identity/.
 */
#ifndef IDENTITY_H
#define IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/api.h"
#include "gx/http.h"
#include "gx/outbox.h"
#include "gx/password.h"

struct event_base;

/* Token lifetimes (design.md §4). */
#define IDY_ACCESS_TTL_S (15 * 60)
#define IDY_REFRESH_TTL_S (7 * 24 * 60 * 60)
#define IDY_ACCESS_AUD "gx-api"
#define IDY_REFRESH_AUD "gx-refresh"

/* The service's own configuration rows (main.c). */
struct idy_cfg {
	long long bcrypt_cost;        /* BCRYPT_COST */
	long long bcrypt_threads;     /* BCRYPT_THREADS, 0 = number of CPUs */
	long long bcrypt_queue;       /* BCRYPT_QUEUE: jobs waiting before 503 BUSY */
	long long login_max_failures; /* LOGIN_MAX_FAILURES per account + client IP */
	long long login_lockout_ms;   /* LOGIN_LOCKOUT: failure window and lock duration */
	long long refresh_grace_ms;   /* REFRESH_REUSE_GRACE: a just-rotated token still gets its successor */
	char *password_dict;          /* PASSWORD_DICTIONARY: cracklib's packed dictionary (path prefix) */
};

/* Process-wide service state (gx_req_app), read-only while serving. */
struct idy_app {
	const struct idy_cfg *cfg;          /* borrowed */
	const struct gx_api_config *shared; /* borrowed: jwt secret and issuer, tenant */
	struct idy_hashpool *pool;          /* owned */
};

/* ---- bcrypt thread pool (hashpool.c) ------------------------------------------------------------------------
 * bcrypt takes tens to hundreds of ms, so it never runs on an event loop. One pool of threads per process; each
 * HTTP worker has a completion queue (struct idy_hashq, its gx_req_worker state) on whose event_base results are
 * delivered. Jobs are cancellable from the worker thread (the request ended first); their callback then never
 * runs. Passwords copied into jobs are wiped when the job is freed. */
struct idy_hashpool;
struct idy_hashq;
struct idy_hash_job;

enum idy_hash_op {
	IDY_HASH_MAKE,   /* (quality check when asked, then) hash pw at cost: result is the new hash */
	IDY_HASH_VERIFY, /* pw against hash: matched */
	IDY_HASH_BURN,   /* spend one verify's time on pw (unknown account): matched is false */
	IDY_HASH_CHANGE, /* current against hash; when it matches, as MAKE for pw */
};

/* What to run. Strings borrowed for the call (copied). account: the isolation key (profile id, or
 * "email:<lower-cased address>" when no profile is known); pw: the password (the new one for MAKE/CHANGE);
 * current: CHANGE's current password; hash: the stored hash (VERIFY, CHANGE); check: MAKE/CHANGE run
 * gx_password_check(pw, email, first, last) first (all three may be NULL). */
struct idy_hash_spec {
	enum idy_hash_op op;
	const char *account;
	const char *pw, *current, *hash;
	const char *email, *first, *last;
	bool check;
	int cost;
};

/* The outcome, borrowed during the callback. matched: VERIFY/CHANGE's password matched. verdict: the quality
 * check's (GX_PASSWORD_OK when not asked), issue its sentence. hash: the new hash (MAKE/CHANGE), NULL when none was
 * made (weak password, current password wrong, or hashing failed). */
struct idy_hash_result {
	bool matched;
	enum gx_password_verdict verdict;
	const char *issue;
	const char *hash;
};

/* Why idy_hash_submit refused a job. */
enum idy_hash_refusal {
	IDY_HASH_FULL,         /* BCRYPT_QUEUE jobs already wait (or the pool stops) */
	IDY_HASH_ACCOUNT_BUSY, /* this account already has a job waiting or running */
};

/* Runs on the worker thread. */
typedef void (*idy_hash_cb)(const struct idy_hash_result *r, void *arg);

/* threads >= 1 workers, at most max_queue jobs waiting. Returns the pool (caller owns) or NULL (logged). */
struct idy_hashpool *idy_hashpool_new(int threads, int max_queue);
/* Stop and join the threads; drops jobs not yet run. Call after every queue was freed. NULL is a no-op. */
void idy_hashpool_free(struct idy_hashpool *p);
/* Completion queue on base (worker thread). Caller owns; free with idy_hashq_free on the same thread after its
 * loop ended. Returns NULL (logged) on failure. */
struct idy_hashq *idy_hashq_new(struct idy_hashpool *p, struct event_base *base);
void idy_hashq_free(struct idy_hashq *q);
/* Queue a job (worker thread). Returns the job handle (owned by the queue; valid until its callback ran or it was
 * cancelled), or NULL with *why set when the pool's queue is full, the account already has a job in flight, or q is
 * NULL (its creation failed: IDY_HASH_FULL). */
struct idy_hash_job *idy_hash_submit(struct idy_hashq *q, const struct idy_hash_spec *spec, idy_hash_cb cb, void *arg,
				     enum idy_hash_refusal *why);
/* Forget the job's callback (worker thread, before it ran). */
void idy_hash_cancel(struct idy_hash_job *job);

/* ---- tokens (tokens.c) --------------------------------------------------------------------------------------- */

/* A freshly minted access + refresh pair. Strings owned by the struct; release with idy_tokens_release. */
struct idy_tokens {
	char *access;
	char *refresh;
	char refresh_jti[37];
	char refresh_hash[65]; /* idy_refresh_hash(refresh_jti) */
	long long refresh_exp;
};

/* Mint the pair for profile_id with role (pwc: the access token carries "pwc": true, the password must be changed
 * first); family is the refresh family (a new login passes a new UUID).
 * refresh_jti must be a UUID chosen by the caller (it may already be stored); the refresh token is issued at
 * refresh_iat, the access token at access_iat. Minting is deterministic: the access token's jti is derived from
 * (refresh_jti, access_iat), so the same arguments give byte-identical tokens (a refresh retried within the grace
 * window gets exactly the pair it was first given). Returns 0, or -1 (logged). */
int idy_tokens_mint(const struct idy_app *app, const char *profile_id, const char *role, bool pwc, const char *family,
		    const char *refresh_jti, long long refresh_iat, long long access_iat, struct idy_tokens *out);
void idy_tokens_release(struct idy_tokens *t);
/* Hex SHA-256 of a refresh token's jti: the "tokenHash" stored for it. out holds 65 bytes. Returns 0/-1. */
int idy_refresh_hash(const char *jti, char out[65]);

/* ---- token epoch (credentials.c) ---------------------------------------------------------------------------
 * A password change or reset sets "UserProfile"."tokensValidAfter" to E = now + 1 s (whole seconds; at least the
 * previous epoch + 1 s, so a token minted at the previous epoch ends too) in the same transaction, then copies E to
 * Redis (gx:epoch:<profileId>, TTL IDY_EPOCH_TTL_S, after which every older access token has expired anyway). The HTTP
 * pipeline refuses an access token whose iat is before E (docs/security.md "Credentials"). Tokens minted later carry
 * iat >= E (idy_epoch_iat), so a login in the same second still works. */
#define IDY_EPOCH_TTL_S (IDY_ACCESS_TTL_S + 60)
/* The epoch a change made now asks for (the statement may raise it, see above). */
long long idy_epoch_next(void);
/* The iat of an access token minted at now for a profile whose epoch is the text epoch (NULL/"" = none). */
long long idy_epoch_iat(long long now, const char *epoch);
/* Copy epoch E of profile_id to Redis, then call done(arg) (on success or failure: the database already holds
 * it; a failure is logged and counted). */
void idy_epoch_publish(struct gx_req *req, const char *profile_id, long long epoch, void (*done)(void *arg), void *arg);

/* ---- shared handler helpers (users.c) ---------------------------------------------------------------------- */

/* SQL: a UTC timestamp column as ISO 8601 with milliseconds. */
/* The "UserProfile" columns every profile read selects (a SQL fragment for SELECT/RETURNING from "UserProfile",
 * aliases as the JSON names, plus the newest KYC status). */
#define IDY_PROFILE_COLS \
	"\"profileId\", \"email\", \"firstName\", \"lastName\", \"phoneNum\", \"identityNum\"," \
	" \"status\"::text AS \"status\", \"nationalityCountryCode\"," \
	" to_char(\"dateOfBirth\", 'YYYY-MM-DD') AS \"dateOfBirth\", \"role\"::text AS \"role\"," \
	" \"fabricUserId\", \"onchainStatus\"," \
	" (SELECT k.\"status\"::text FROM \"KYCVerification\" k WHERE k.\"profileId\" = \"UserProfile\".\"profileId\"" \
	" ORDER BY k.\"createdAt\" DESC, k.\"kycId\" LIMIT 1) AS \"kycStatus\"," \
	" " GX_SQL_ISO_TS("\"createdAt\"") " AS \"createdAt\", " GX_SQL_ISO_TS("\"updatedAt\"") " AS \"updatedAt\""
/* The UserProfile JSON object of row r of res (see openapi.json "UserProfile"). Caller owns. */
cJSON *idy_profile_json(const PGresult *res, int r);
/* JavaScript truthiness of body's field (the original's "required" test): false when missing, null, false, 0, ""
 * (or body is not an object); any other value, including [] and {}, is truthy. */
bool idy_truthy(const cJSON *body, const char *field);
/* {key: inner, ...a copy of inner's members}: the original's wrapper with our flat keys beside it. Takes ownership
 * of inner; caller owns the result. */
cJSON *idy_wrap(const char *key, cJSON *inner);
/* Lower-case the ASCII letters of s in place (emails are stored and looked up in lower case). */
void idy_lower_ascii(char *s);
/* Overwrite the secret s with zeros, then free it; NULL is a no-op. */
void idy_wipe_free(char *s);
/* Answer 503 BUSY with Retry-After: 1 when idy_hash_submit refused a job, the message saying why (ends req). */
void idy_reply_busy(struct gx_req *req, enum idy_hash_refusal why);
/* Answer a quality refusal of a new password: 400 WEAK_PASSWORD naming the reason, 400 VALIDATION_FAILED for the
 * length, 500 when the dictionary failed (ends req). */
void idy_reply_weak(struct gx_req *req, const struct idy_hash_result *r);
/* The isolation key of an email (lower-cased) before a profile is known: "email:<email>" into out (n bytes). */
void idy_email_account(const char *email, char *out, size_t n);

/* The on-chain fields of a body: nationalityCountryCode and dateOfBirth, both optional (NULL when absent), with
 * the age in whole years from the date (-1 when absent). Problems go to v. Pointers borrow from body. */
void idy_read_onchain_fields(const cJSON *body, struct gx_verr *v, const char **nat, const char **dob, long long *age);
/* The profile fields a registration or an update carries; each owned, NULL when absent. */
struct idy_fields {
	char *first, *last, *phone, *identity, *email, *password;
};
/* Copy the given fields (borrowed, may be NULL); the email is stored in lower case. Release with
 * idy_fields_release. */
void idy_fields_set(struct idy_fields *f, const char *first, const char *last, const char *phone, const char *idn,
		    const char *email, const char *pw);
void idy_fields_release(struct idy_fields *f);
/* email and password of body (borrowed from it; NULL when absent or invalid, with issues added to v). */
void idy_read_credentials(const cJSON *body, bool required, struct gx_verr *v, const char **email, const char **pw);
/* firstName, lastName (required or not), phoneNum and identityNum (optional) of body, like idy_read_credentials. */
void idy_read_names(const cJSON *body, bool required, struct gx_verr *v, const char **first, const char **last,
		    const char **phone, const char **idn);
/* Registration and PATCH: the unique and foreign keys of "UserProfile" and how each is answered. */
extern const struct gx_conflict idy_profile_conflicts[];
extern const size_t idy_nprofile_conflicts;
/* Answer a database failure of a profile write, mapping the unique and foreign keys of conflicts (ends req). */
void idy_reply_profile_error(struct gx_req *req, const struct gx_pg_error *err, const struct gx_conflict *conflicts,
			     size_t n);
/* Answer {key: profile, ...profile} for the one row of res (a SELECT or UPDATE ... RETURNING), or 404 when it
 * matched none (ends req). */
void idy_reply_profile(struct gx_req *req, const PGresult *res, const char *key);
/* The session handlers' shared helpers (auth.c): a profile status that may not log in or refresh (SUSPENDED,
 * CLOSED); the request's User-Agent when it is at most 512 bytes, else NULL (borrowed from req); the JSON
 * {accessToken, refreshToken, tokenType, expiresIn} of t (caller owns). */
bool idy_inactive(const char *status);
const char *idy_user_agent(const struct gx_req *req);
cJSON *idy_tokens_json(const struct idy_tokens *t);
/* Object-level check of the /users/{id} routes: 403 with the text forbidden for someone else's profile, 404 for a
 * malformed id. Returns the id (borrowed from req), or NULL after replying. */
const char *idy_profile_param(struct gx_req *req, const char *forbidden);

/* ---- handlers ---- */
void idy_auth_login(struct gx_req *req);
void idy_auth_refresh(struct gx_req *req);
void idy_auth_logout(struct gx_req *req);
void idy_users_create(struct gx_req *req);
void idy_users_get(struct gx_req *req);
void idy_users_patch(struct gx_req *req);
void idy_kyc_submit(struct gx_req *req);
void idy_kyc_get(struct gx_req *req);
void idy_kyc_review(struct gx_req *req);
void idy_users_onchain(struct gx_req *req);
void idy_users_password_reset(struct gx_req *req);

/* The route table (routes.c). */
extern const struct gx_route idy_routes[];
extern const size_t idy_nroutes;

#endif
