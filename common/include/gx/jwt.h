/* JSON Web Tokens, HS256 only (RFC 7519, checked per RFC 8725 and design.md §4).
 *
 * Tokens carry the claims in struct gx_jwt_claims as JSON members sub, role, tenantId, jti, fam (refresh tokens
 * only), iss, aud, iat, exp, pwc (optional boolean); signed tokens also repeat sub as profileId (the original backend's
 * claim name). Access and refresh tokens differ in aud, so verifying with the access audience rejects a refresh token
 * and the reverse. The header is always {"alg":"HS256","typ":"JWT"}; on verification anything but alg exactly "HS256"
 * is refused before the signature is looked at, and a "crit" header is refused outright.
 *
 * gx_jwt_sign and gx_jwt_verify are safe from any thread. They do not log: failures are the client's. gx_jwt_sign
 * is pure; gx_jwt_verify keeps a small cache of tokens it verified, one per thread (see below), and is otherwise
 * pure.
 */
#ifndef GX_JWT_H
#define GX_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include "gx/util.h"

/* Tokens longer than this are rejected unparsed (TOKEN_MALFORMED). */
#define GX_JWT_MAX_LEN 4096
/* Shortest HMAC key accepted (design.md §4: JWT_SECRET must be at least 32 bytes). */
#define GX_JWT_MIN_KEY_LEN 32

struct gx_jwt_claims {
	char sub[64];       /* profile id */
	char role[16];      /* USER | ADMIN | SUPER_ADMIN | PARTNER_API */
	char tenant_id[64]; /* JSON member "tenantId" */
	char jti[40];       /* token id (UUID), the revocation handle */
	char fam[40];       /* refresh-token family id; empty for access tokens (member omitted) */
	char iss[64];
	char aud[32];
	long long iat, exp; /* seconds since the epoch */
	bool pwc; /* "pwc": true: the password must be changed first (an admin reset it); omitted when false */
};

/* Sign claims c (borrowed) with key (borrowed, keylen bytes). Returns "header.payload.signature" (caller owns, free
 * with free()), or NULL when the key is shorter than GX_JWT_MIN_KEY_LEN or a claim is unusable (empty
 * sub/tenant_id/jti/iss/aud, a string claim not valid UTF-8, unknown role, exp <= iat); that is a programming error
 * and is logged. */
char *gx_jwt_sign(const struct gx_jwt_claims *c, const unsigned char *key, size_t keylen);

/* Verify token (borrowed) and fill *out. Checks, in order: size and shape (three base64url parts, no padding),
 * header (alg == "HS256" exactly, no crit), HMAC-SHA256 signature in constant time, payload JSON and claim types,
 * presence of sub/role/tenantId/jti/iss/aud/iat/exp, role value, iss == want_iss, aud == want_aud (a string, or an
 * array containing it), exp, nbf and iat against now with leeway_s seconds of clock skew.
 * want_iss/want_aud may be NULL to skip that comparison.
 * Returns 0, or -1 with *reason set to a static UPPER_SNAKE code: TOKEN_MALFORMED, TOKEN_ALG_NOT_ALLOWED,
 * TOKEN_BAD_SIGNATURE, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, TOKEN_WRONG_ISSUER, TOKEN_WRONG_AUDIENCE,
 * TOKEN_MISSING_CLAIM. A claim of the wrong JSON type, too long for its field, or an unknown role is
 * TOKEN_MALFORMED; an empty string claim counts as missing. A key shorter than GX_JWT_MIN_KEY_LEN fails every token
 * with TOKEN_BAD_SIGNATURE (and logs, as that is a server misconfiguration). *out is zeroed on failure.
 *
 * Cache: a token that verified is remembered by the calling thread (256 slots, tokens up to 768 chars) for at most
 * 60 s, under a fingerprint of key, want_iss and want_aud. A later call with the same text and configuration skips
 * decoding, HMAC and JSON parsing but still checks exp, iat and nbf against its own now and leeway_s, so the result
 * is the one a fresh verification would give. Anything else (revocation, the account's state) is the caller's to
 * check on every request, cached or not. */
int gx_jwt_verify(const char *token, const unsigned char *key, size_t keylen, const char *want_iss,
		  const char *want_aud, long long now, long long leeway_s, struct gx_jwt_claims *out,
		  const char **reason) GX_MUSTCHECK;

/* Counters of the calling thread's verified-token cache, since the thread started or the last clear. */
struct gx_jwt_cache_stats {
	unsigned long long hits;   /* answered from the cache */
	unsigned long long misses; /* looked up and not found (or found stale) */
	unsigned long long stores; /* verified tokens remembered */
};

/* Copy the calling thread's cache counters into *out. */
void gx_jwt_cache_stats(struct gx_jwt_cache_stats *out);

/* Forget every token cached by the calling thread and zero its counters. */
void gx_jwt_cache_clear(void);

/* True when role is one of the four roles a token may carry. */
bool gx_jwt_role_valid(const char *role);

/* The original backend's issuer and audiences (its tokens, accepted during a cut-over). */
#define GX_JWT_ORIGINAL_ISSUER "gx-identity-service"
#define GX_JWT_ORIGINAL_ACCESS_AUD "gx-api"
#define GX_JWT_ORIGINAL_REFRESH_AUD "gx-api-refresh"

/* Verify a token the original backend issued with the same key: HS256 and signature as gx_jwt_verify, then its
 * claims: profileId (into sub), iss == GX_JWT_ORIGINAL_ISSUER, aud == want_aud (NULL: any), iat, and exp, which is
 * required here (the original accepted tokens without one). The original's tokens carry no role, tenant or id:
 * role is "USER" (an admin logs in again), tenant_id is left empty for the caller, jti and fam are UUID-shaped ids
 * derived from the token's signature, stable for one token (so it can be revoked and adopted into a family).
 * Not cached. Returns 0, or -1 with *reason as gx_jwt_verify. */
int gx_jwt_verify_original(const char *token, const unsigned char *key, size_t keylen, const char *want_aud,
			   long long now, long long leeway_s, struct gx_jwt_claims *out, const char **reason);

#endif
