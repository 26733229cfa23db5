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

struct event_base;

/* Token lifetimes (decisions §4). */
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
	IDY_HASH_MAKE,   /* hash pw at cost: result is the new hash */
	IDY_HASH_VERIFY, /* pw against hash: ok */
	IDY_HASH_BURN,   /* spend one verify's time on pw (unknown account): ok is false */
};

/* Runs on the worker thread. ok: verify matched / hash made. hash: the new hash for IDY_HASH_MAKE (borrowed, valid
 * during the call), else NULL. */
typedef void (*idy_hash_cb)(bool ok, const char *hash, void *arg);

/* threads >= 1 workers, at most max_queue jobs waiting. Returns the pool (caller owns) or NULL (logged). */
struct idy_hashpool *idy_hashpool_new(int threads, int max_queue);
/* Stop and join the threads; drops jobs not yet run. Call after every queue was freed. NULL is a no-op. */
void idy_hashpool_free(struct idy_hashpool *p);
/* Completion queue on base (worker thread). Caller owns; free with idy_hashq_free on the same thread after its
 * loop ended. Returns NULL (logged) on failure. */
struct idy_hashq *idy_hashq_new(struct idy_hashpool *p, struct event_base *base);
void idy_hashq_free(struct idy_hashq *q);
/* Queue a job (worker thread). pw and hash are copied (hash may be NULL except for VERIFY). Returns the job handle
 * (owned by the queue; valid until its callback ran or it was cancelled), or NULL when the pool's queue is full
 * or q is NULL (its creation failed). */
struct idy_hash_job *idy_hash_submit(struct idy_hashq *q, enum idy_hash_op op, const char *pw, const char *hash,
				     int cost, idy_hash_cb cb, void *arg);
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

/* Mint the pair for profile_id with role; family is the refresh family (a new login passes a new UUID).
 * refresh_jti must be a UUID chosen by the caller (it may already be stored); the refresh token is issued at
 * refresh_iat, the access token at access_iat. Minting is deterministic: the access token's jti is derived from
 * (refresh_jti, access_iat), so the same arguments give byte-identical tokens (a refresh retried within the grace
 * window gets exactly the pair it was first given). Returns 0, or -1 (logged). */
int idy_tokens_mint(const struct idy_app *app, const char *profile_id, const char *role, const char *family,
		    const char *refresh_jti, long long refresh_iat, long long access_iat, struct idy_tokens *out);
void idy_tokens_release(struct idy_tokens *t);
/* Hex SHA-256 of a refresh token's jti: the "tokenHash" stored for it. out holds 65 bytes. Returns 0/-1. */
int idy_refresh_hash(const char *jti, char out[65]);

/* ---- shared handler helpers (users.c) ---------------------------------------------------------------------- */

/* SQL: a UTC timestamp column as ISO 8601 with milliseconds. */
#define IDY_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* The "UserProfile" columns every profile read selects (a SQL fragment for SELECT/RETURNING from "UserProfile",
 * aliases as the JSON names, plus the newest KYC status). */
#define IDY_PROFILE_COLS                                                                                          \
	"\"profileId\", \"email\", \"firstName\", \"lastName\", \"phoneNum\", \"identityNum\","                 \
	" \"status\"::text AS \"status\", \"nationalityCountryCode\","                                            \
	" to_char(\"dateOfBirth\", 'YYYY-MM-DD') AS \"dateOfBirth\", \"role\"::text AS \"role\","                  \
	" \"fabricUserId\", \"onchainStatus\","                                                                   \
	" (SELECT k.\"status\"::text FROM \"KYCVerification\" k WHERE k.\"profileId\" = \"UserProfile\".\"profileId\"" \
	" ORDER BY k.\"createdAt\" DESC, k.\"kycId\" LIMIT 1) AS \"kycStatus\","                                  \
	" " IDY_TS("\"createdAt\"") " AS \"createdAt\", " IDY_TS("\"updatedAt\"") " AS \"updatedAt\""
/* The UserProfile JSON object of row r of res (see openapi.json "UserProfile"). Caller owns. */
cJSON *idy_profile_json(const PGresult *res, int r);
/* JavaScript truthiness of body's field (the original's "required" test): false when missing, null, false, 0, ""
 * (or body is not an object); any other value, including [] and {}, is truthy. */
bool idy_truthy(const cJSON *body, const char *field);
/* {key: inner, ...a copy of inner's members}: the original's wrapper with our flat keys beside it. Takes ownership
 * of inner; caller owns the result. */
cJSON *idy_wrap(const char *key, cJSON *inner);
/* The tenant of this deployment (TENANT_ID). */
const char *idy_tenant(const struct gx_req *req);
/* Lower-case the ASCII letters of s in place (emails are stored and looked up in lower case). */
void idy_lower_ascii(char *s);
/* Overwrite the secret s with zeros, then free it; NULL is a no-op. */
void idy_wipe_free(char *s);
/* Answer 503 BUSY with Retry-After: 1 when idy_hash_submit refused a job (ends req). */
void idy_reply_busy(struct gx_req *req);

/* The on-chain fields of a body: nationalityCountryCode and dateOfBirth, both optional (NULL when absent), with
 * the age in whole years from the date (-1 when absent). Problems go to v. Pointers borrow from body. */
void idy_read_onchain_fields(const cJSON *body, struct gx_verr *v, const char **nat, const char **dob,
			     long long *age);
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

/* The route table (routes.c). */
extern const struct gx_route idy_routes[];
extern const size_t idy_nroutes;

#endif
