/* Partner API keys (docs/partners.md): the key text, its hash, the scope table and the SQL that svc-admin and gxctl
 * share to create and revoke keys. The request-side check (X-API-Key on every API) is the HTTP pipeline's
 * (common/src/http_apikey.c, gx/http.h).
 *
 * A key is "gxk_" + id (32 lowercase hex digits, 128 random bits) + "_" + secret (64 lowercase hex digits, 256
 * random bits). The id is public (listed, audited, named in URLs); only SHA-256 of the secret is stored
 * ("PartnerApiKey"."secretHash"), so a database dump yields no usable key. A request's secret is hashed and
 * compared with the stored hash in constant time.
 *
 * Scopes: a scope is one operation a partner may call, one row of the table below per route of the services' route
 * tables (every route a PARTNER_API caller may reach by policy, except the credential routes of svc-identity). A key
 * reaches exactly the operations of its scopes, public routes included; every other route answers a key 403
 * INSUFFICIENT_SCOPE.
 *
 * Everything here is pure or static data and safe from any thread.
 */
#ifndef GX_APIKEY_H
#define GX_APIKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gx/pg.h" /* GX_SQL_ISO_TS */
#include "gx/util.h"

/* The request header that carries a key (declared as the apiKey security scheme "partnerKey" in the OpenAPI
 * documents). */
#define GX_APIKEY_HEADER "X-API-Key"
#define GX_APIKEY_PREFIX "gxk_"
#define GX_APIKEY_ID_LEN 32     /* hex digits */
#define GX_APIKEY_SECRET_LEN 64 /* hex digits */
/* strlen of a key: prefix, id, '_', secret */
#define GX_APIKEY_TEXT_LEN (4 + GX_APIKEY_ID_LEN + 1 + GX_APIKEY_SECRET_LEN)
/* Bounds of a key's settings (svc-admin and gxctl check them the same way). */
#define GX_APIKEY_NAME_MAX 100
#define GX_APIKEY_RATE_MAX 100000                 /* requests per minute */
#define GX_APIKEY_EXPIRES_MAX (2LL * 366 * 86400) /* seconds: at most about two years ahead */
#define GX_APIKEY_OVERLAP_MAX (30LL * 86400)      /* rotation overlap, seconds */
/* Redis key of the revocation marker of key id (a format with one %s). */
#define GX_APIKEY_REVOKED_FMT "gx:apikey:revoked:%s"

/* A new key: fills id (GX_APIKEY_ID_LEN + 1 bytes), text (GX_APIKEY_TEXT_LEN + 1 bytes; the key shown once) and
 * hash_hex (65 bytes: SHA-256 of the secret, hex). Returns 0, or -1 (logged) when no random bytes are available;
 * the buffers are then empty. */
int gx_apikey_generate(char *id, char *text, char *hash_hex) GX_MUSTCHECK;

/* Split key text (borrowed, may be NULL) into its id (GX_APIKEY_ID_LEN + 1 bytes) and the SHA-256 of its secret
 * (32 bytes). Returns 0, or -1 when the text is not a key's shape (id is then ""). */
int gx_apikey_parse(const char *text, char *id, unsigned char digest[32]);

/* True when the stored hex hash hash_hex (borrowed) is the digest; constant time in the digest. */
bool gx_apikey_hash_matches(const char *hash_hex, const unsigned char digest[32]);

/* One operation a key may be given: scope name, the service that serves it ("*": every API, the shared routes),
 * method and path template as in that service's route table. */
struct gx_apikey_scope {
	const char *name;
	const char *service;
	const char *method;
	const char *path;
};

/* The scope table (static storage), at most 64 rows: a key's scopes fit a uint64_t bit set (bit i = row i). */
extern const struct gx_apikey_scope gx_apikey_scopes[];
extern const size_t gx_apikey_scopes_len;

/* Index of the scope called name (borrowed), or -1. */
int gx_apikey_scope_index(const char *name);

/* Index of the scope of route method + path (borrowed) of service, or -1 when the route is no partner operation. */
int gx_apikey_scope_of_route(const char *service, const char *method, const char *path);

/* Bit set of the scopes named in a PostgreSQL text[] literal (borrowed, e.g. "{wallets.balance,transfers.create}");
 * names the table does not know are skipped (a key stored by a newer binary keeps what this one knows). */
uint64_t gx_apikey_scopes_from_pg(const char *literal);

/* Check a requested list of n scope names (borrowed): each known, none twice, n >= 1. Returns 0, or -1 with why
 * (static text, or the first bad name copied into buf of buflen bytes) set. On success, writes the PostgreSQL
 * text[] literal of the list into a new string *literal (caller frees). */
int gx_apikey_scopes_check(const char *const *names, size_t n, char **literal, char *buf, size_t buflen,
			   const char **why);

/* SQL shared by svc-admin and gxctl (docs/partners.md). Both write an "AdminAuditLog" row in the same statement.
 * GX_APIKEY_SQL_CREATE: $1 id, $2 tenant, $3 name, $4 secret hash, $5 scopes (text[] literal), $6 profileId or
 *   NULL, $7 rate limit per minute, $8 seconds until expiry, $9 actor id, $10 actor role, $11 request id or NULL,
 *   $12 client IP or NULL. One row: "key", the key's JSON object (GX_APIKEY_SQL_JSON; no secret).
 * GX_APIKEY_SQL_REVOKE: $1 tenant, $2 id, $3 actor id, $4 actor role, $5 request id or NULL, $6 client IP or NULL.
 *   No row when the key does not exist; else "key" (JSON object, as above) and "markerTtl" (seconds the Redis
 *   revocation marker must live: past the key's expiry). Revoking a revoked key keeps its first revocation time. */
extern const char GX_APIKEY_SQL_CREATE[];
extern const char GX_APIKEY_SQL_REVOKE[];

/* SQL text: the JSON object of "PartnerApiKey" row alias k (a string literal, e.g. "k") as every answer shows it:
 * id, name, scopes, profileId, rateLimitPerMinute, expiresAt, revokedAt, rotatedFrom, createdBy, createdAt and
 * status (ACTIVE | EXPIRED | REVOKED). Never the hash. */
/* clang-format off */
#define GX_APIKEY_SQL_JSON(k)                                                                                         \
	"json_build_object('id', " k ".\"id\", 'name', " k ".\"name\", 'scopes', to_json(" k ".\"scopes\"),"         \
	" 'profileId', " k ".\"profileId\", 'rateLimitPerMinute', " k ".\"rateLimitPerMin\","                        \
	" 'expiresAt', " GX_SQL_ISO_TS(k ".\"expiresAt\"") ", 'revokedAt', " GX_SQL_ISO_TS(k ".\"revokedAt\"") ","    \
	" 'rotatedFrom', " k ".\"rotatedFrom\", 'createdBy', " k ".\"createdBy\","                                    \
	" 'createdAt', " GX_SQL_ISO_TS(k ".\"createdAt\"") ","                                                       \
	" 'status', CASE WHEN " k ".\"revokedAt\" IS NOT NULL THEN 'REVOKED' WHEN " k ".\"expiresAt\" <= now()"      \
	" THEN 'EXPIRED' ELSE 'ACTIVE' END)"
/* clang-format on */

#endif
