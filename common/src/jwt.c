/* HS256 JSON Web Tokens: signing and strict verification with mbedTLS HMAC-SHA256 and cJSON, plus a small
 * per-thread cache of tokens already verified so a client's repeated requests skip the decode/HMAC/parse. */
#include "gx/jwt.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

#include "gx/http.h"
#include "gx/log.h"
#include "gx/valid.h"

#define JWT_MAC_LEN 32
/* Decoded parts are never larger than 3/4 of the whole token. */
#define JWT_PART_MAX (GX_JWT_MAX_LEN / 4 * 3 + 4)
/* RFC 7519 NumericDate beyond this is not a real time; keeps conversions to long long defined. */
#define JWT_TIME_MAX 1e15
/* Verified-token cache: slots per thread (a power of two), longest token kept, seconds an entry is trusted. */
#define JWT_CACHE_SLOTS 256
#define JWT_CACHE_TOKEN_MAX 768
#define JWT_CACHE_TTL_S 60

static const char *const jwt_roles[] = { "USER", "ADMIN", "SUPER_ADMIN", "PARTNER_API" };

bool gx_jwt_role_valid(const char *role)
{
	for (size_t i = 0; i < GX_ARRAY_LEN(jwt_roles); i++)
		if (strcmp(role, jwt_roles[i]) == 0)
			return true;
	return false;
}

/* ---- base64url (RFC 4648 §5, no padding) -------------------------------------------------------------------- */

/* Encode n bytes into a new heap string (caller frees). */
static char *b64url_encode(const unsigned char *in, size_t n)
{
	size_t cap = 4 * ((n + 2) / 3) + 1, olen = 0;
	char *out = gx_xmalloc(cap);

	if (mbedtls_base64_encode((unsigned char *)out, cap, &olen, in, n) != 0)
		olen = 0; /* cannot happen: cap is exact */
	while (olen > 0 && out[olen - 1] == '=')
		olen--;
	out[olen] = '\0';
	for (char *p = out; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	return out;
}

static bool is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Decode the n base64url chars at s into out (cap bytes). Only the canonical encoding is accepted (unused trailing
 * bits must be zero), so one token has exactly one spelling. Returns the decoded length, or -1. */
static long b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	char tmp[GX_JWT_MAX_LEN + 4];
	char *again;
	size_t olen = 0, i;
	bool canonical;

	if (n == 0 || n % 4 == 1 || n > GX_JWT_MAX_LEN)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_b64url(s[i]))
			return -1;
		tmp[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	}
	while (i % 4)
		tmp[i++] = '=';
	if (mbedtls_base64_decode(out, cap, &olen, (const unsigned char *)tmp, i) != 0)
		return -1;
	again = b64url_encode(out, olen);
	canonical = strlen(again) == n && memcmp(again, s, n) == 0;
	free(again);
	return canonical ? (long)olen : -1;
}

/* ---- signing ------------------------------------------------------------------------------------------------ */

static int jwt_mac(const unsigned char *key, size_t keylen, const char *input, size_t n, unsigned char mac[JWT_MAC_LEN])
{
	int rc = mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, keylen,
				 (const unsigned char *)input, n, mac);

	if (rc != 0) {
		gx_log_error("mbedtls_md_hmac failed: -0x%04x", (unsigned)-rc);
		return -1;
	}
	return 0;
}

static bool claims_signable(const struct gx_jwt_claims *c)
{
	/* claims that are not UTF-8 would make a token gx_jwt_verify refuses (JSON text is UTF-8) */
	return c->sub[0] && c->tenant_id[0] && c->jti[0] && c->iss[0] && c->aud[0] && gx_jwt_role_valid(c->role) &&
	       c->exp > c->iat && gx_valid_utf8(c->sub) && gx_valid_utf8(c->tenant_id) && gx_valid_utf8(c->jti) &&
	       gx_valid_utf8(c->fam) && gx_valid_utf8(c->iss) && gx_valid_utf8(c->aud);
}

char *gx_jwt_sign(const struct gx_jwt_claims *c, const unsigned char *key, size_t keylen)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[JWT_MAC_LEN];
	char *hdr = NULL, *json = NULL, *body = NULL, *input = NULL, *sig = NULL, *token = NULL;
	cJSON *p = NULL;

	if (keylen < GX_JWT_MIN_KEY_LEN) {
		gx_log_error("jwt sign: key is %zu bytes, need at least %d", keylen, GX_JWT_MIN_KEY_LEN);
		goto out;
	}
	if (!claims_signable(c)) {
		gx_log_error("jwt sign: incomplete claims for sub '%s' role '%s'", c->sub, c->role);
		goto out;
	}
	p = cJSON_CreateObject();
	/* profileId repeats sub under the original backend's claim name, for clients that decode their token */
	if (!p || !cJSON_AddStringToObject(p, "sub", c->sub) || !cJSON_AddStringToObject(p, "profileId", c->sub) ||
	    !cJSON_AddStringToObject(p, "role", c->role) || !cJSON_AddStringToObject(p, "tenantId", c->tenant_id) ||
	    !cJSON_AddStringToObject(p, "jti", c->jti) || (c->fam[0] && !cJSON_AddStringToObject(p, "fam", c->fam)) ||
	    !cJSON_AddStringToObject(p, "iss", c->iss) || !cJSON_AddStringToObject(p, "aud", c->aud) ||
	    !cJSON_AddNumberToObject(p, "iat", (double)c->iat) || !cJSON_AddNumberToObject(p, "exp", (double)c->exp) ||
	    (c->pwc && !cJSON_AddTrueToObject(p, "pwc")) || !(json = cJSON_PrintUnformatted(p))) {
		gx_log_error("jwt sign: out of memory building the payload");
		goto out;
	}
	hdr = b64url_encode((const unsigned char *)header, sizeof(header) - 1);
	body = b64url_encode((const unsigned char *)json, strlen(json));
	input = gx_xasprintf("%s.%s", hdr, body);
	if (jwt_mac(key, keylen, input, strlen(input), mac) < 0)
		goto out;
	sig = b64url_encode(mac, sizeof(mac));
	token = gx_xasprintf("%s.%s", input, sig);
out:
	cJSON_Delete(p);
	free(json);
	free(hdr);
	free(body);
	free(input);
	free(sig);
	return token;
}

/* ---- verification ------------------------------------------------------------------------------------------- */

/* Decode one part and parse it as a JSON object; NULL when it is not one. Caller frees with cJSON_Delete. */
static cJSON *part_json(const char *s, size_t n)
{
	unsigned char buf[JWT_PART_MAX + 1];
	long len = b64url_decode(s, n, buf, JWT_PART_MAX);
	cJSON *j;

	if (len < 0 || memchr(buf, '\0', (size_t)len) || !gx_http_json_text_ok(buf, (size_t)len))
		return NULL;
	buf[len] = '\0';
	j = cJSON_ParseWithOpts((const char *)buf, NULL, true);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static const char *check_header(const cJSON *h)
{
	const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");

	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0)
		return "TOKEN_ALG_NOT_ALLOWED";
	/* we understand no extensions, so any critical one must be refused (RFC 7515 §4.1.11) */
	if (cJSON_GetObjectItemCaseSensitive(h, "crit"))
		return "TOKEN_ALG_NOT_ALLOWED";
	if (typ && (!cJSON_IsString(typ) || strcasecmp(typ->valuestring, "JWT") != 0))
		return "TOKEN_MALFORMED";
	return NULL;
}

/* Copy string claim name into dst. NULL on success, else the reason. */
static const char *get_str(const cJSON *p, const char *name, char *dst, size_t cap, bool required)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(p, name);

	if (!it || (cJSON_IsString(it) && it->valuestring[0] == '\0'))
		return required ? "TOKEN_MISSING_CLAIM" : NULL;
	if (!cJSON_IsString(it) || strlen(it->valuestring) >= cap)
		return "TOKEN_MALFORMED";
	memcpy(dst, it->valuestring, strlen(it->valuestring) + 1);
	return NULL;
}

static const char *get_time(const cJSON *p, const char *name, long long *dst, bool required, bool *present)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(p, name);

	if (present)
		*present = it != NULL;
	if (!it)
		return required ? "TOKEN_MISSING_CLAIM" : NULL;
	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || fabs(it->valuedouble) > JWT_TIME_MAX)
		return "TOKEN_MALFORMED";
	*dst = (long long)floor(it->valuedouble);
	return NULL;
}

/* aud is a string or an array of strings (RFC 7519 §4.1.3); for an array out->aud receives want (or the first
 * element when want is NULL). */
static const char *get_aud(const cJSON *p, const char *want, struct gx_jwt_claims *out)
{
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(p, "aud"), *e;
	const char *first = NULL, *pick;
	bool match = false;

	if (cJSON_IsArray(aud)) {
		if (cJSON_GetArraySize(aud) == 0)
			return "TOKEN_MISSING_CLAIM";
		cJSON_ArrayForEach(e, aud) {
			if (!cJSON_IsString(e))
				return "TOKEN_MALFORMED";
			if (!first)
				first = e->valuestring;
			if (want && strcmp(e->valuestring, want) == 0)
				match = true;
		}
		if (want && !match)
			return "TOKEN_WRONG_AUDIENCE";
		pick = want ? want : first;
		if (!pick || strlen(pick) >= sizeof(out->aud))
			return "TOKEN_MALFORMED";
		snprintf(out->aud, sizeof(out->aud), "%s", pick);
		return NULL;
	}
	return get_str(p, "aud", out->aud, sizeof(out->aud), true);
}

/* The only checks whose answer changes with the clock; run on every verification, cached or not. nbf is LLONG_MIN
 * when the token has none. */
static const char *check_times(const struct gx_jwt_claims *c, long long nbf, long long now, long long leeway)
{
	if (now >= c->exp + leeway)
		return "TOKEN_EXPIRED";
	if (c->iat > now + leeway || (nbf != LLONG_MIN && nbf > now + leeway))
		return "TOKEN_NOT_YET_VALID";
	return NULL;
}

static const char *check_claims(const cJSON *p, const char *want_iss, const char *want_aud, long long now,
				long long leeway, struct gx_jwt_claims *out, long long *nbf_out)
{
	const char *r;
	long long nbf = 0;
	bool has_nbf = false;

	if ((r = get_str(p, "sub", out->sub, sizeof(out->sub), true)) ||
	    (r = get_str(p, "role", out->role, sizeof(out->role), true)) ||
	    (r = get_str(p, "tenantId", out->tenant_id, sizeof(out->tenant_id), true)) ||
	    (r = get_str(p, "jti", out->jti, sizeof(out->jti), true)) ||
	    (r = get_str(p, "fam", out->fam, sizeof(out->fam), false)) ||
	    (r = get_str(p, "iss", out->iss, sizeof(out->iss), true)) || (r = get_aud(p, want_aud, out)) ||
	    (r = get_time(p, "iat", &out->iat, true, NULL)) || (r = get_time(p, "exp", &out->exp, true, NULL)) ||
	    (r = get_time(p, "nbf", &nbf, false, &has_nbf)))
		return r;
	if (!gx_jwt_role_valid(out->role))
		return "TOKEN_MALFORMED";
	{
		const cJSON *pwc = cJSON_GetObjectItemCaseSensitive(p, "pwc");
		if (pwc && !cJSON_IsBool(pwc))
			return "TOKEN_MALFORMED";
		out->pwc = cJSON_IsTrue(pwc);
	}
	if (want_iss && strcmp(out->iss, want_iss) != 0)
		return "TOKEN_WRONG_ISSUER";
	if (want_aud && strcmp(out->aud, want_aud) != 0)
		return "TOKEN_WRONG_AUDIENCE";
	*nbf_out = has_nbf ? nbf : LLONG_MIN;
	return check_times(out, *nbf_out, now, leeway);
}

/* ---- verified-token cache ----------------------------------------------------------------------------------
 * Direct-mapped, one per thread (no locks; an evhttp worker keeps its own). A slot holds a token that verified
 * successfully, compared by its full text in constant time, under the fingerprint of the configuration that
 * verified it (key, issuer, audience), so a token never hits for another key or issuer/audience. The clock checks
 * (exp, iat, nbf) run again on every hit; an entry is trusted for JWT_CACHE_TTL_S at most. Only successes are
 * stored; a colliding token replaces the slot. */

struct jwt_cache_slot {
	size_t len; /* 0: empty */
	unsigned char cfg[32];
	long long fresh_until, nbf;
	struct gx_jwt_claims claims;
	char token[JWT_CACHE_TOKEN_MAX];
};

struct jwt_cache {
	struct jwt_cache_slot slot[JWT_CACHE_SLOTS];
	struct gx_jwt_cache_stats stats;
};

static _Thread_local struct jwt_cache jwt_cache;

void gx_jwt_cache_stats(struct gx_jwt_cache_stats *out)
{
	*out = jwt_cache.stats;
}

void gx_jwt_cache_clear(void)
{
	memset(&jwt_cache, 0, sizeof(jwt_cache));
}

static void sha_update(mbedtls_sha256_context *ctx, const void *p, size_t n)
{
	/* cannot fail for the software implementation; a failure would only make the fingerprint miss */
	(void)mbedtls_sha256_update_ret(ctx, p, n);
}

/* SHA-256 over the verify configuration. Lengths and presence are encoded so no two configurations share an input. */
static int cache_fingerprint(const unsigned char *key, size_t keylen, const char *iss, const char *aud,
			     unsigned char out[32])
{
	const char *strs[2] = { iss, aud };
	unsigned long long n = keylen;
	mbedtls_sha256_context ctx;
	int rc;

	mbedtls_sha256_init(&ctx);
	rc = mbedtls_sha256_starts_ret(&ctx, 0);
	sha_update(&ctx, &n, sizeof(n));
	sha_update(&ctx, key, keylen);
	for (size_t i = 0; i < GX_ARRAY_LEN(strs); i++) {
		n = strs[i] ? strlen(strs[i]) : ULLONG_MAX;
		sha_update(&ctx, &n, sizeof(n));
		if (strs[i])
			sha_update(&ctx, strs[i], strlen(strs[i]));
	}
	if (rc == 0)
		rc = mbedtls_sha256_finish_ret(&ctx, out);
	mbedtls_sha256_free(&ctx);
	return rc == 0 ? 0 : -1;
}

static struct jwt_cache_slot *cache_slot(const char *token, size_t len)
{
	unsigned long long h = 14695981039346656037ULL; /* FNV-1a picks the slot only; the text is compared */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)token[i]) * 1099511628211ULL;
	return &jwt_cache.slot[(h ^ (h >> 32)) & (JWT_CACHE_SLOTS - 1)];
}

/* Fill *out from the cache when token is there for this configuration and still passes the clock checks. */
static bool cache_lookup(const char *token, size_t len, const unsigned char cfg[32], long long now, long long leeway,
			 struct gx_jwt_claims *out)
{
	struct jwt_cache_slot *s = cache_slot(token, len);

	if (s->len != len || !gx_ct_equal(s->cfg, cfg, sizeof(s->cfg)) || !gx_ct_equal(s->token, token, len)) {
		jwt_cache.stats.misses++;
		return false;
	}
	if (now >= s->fresh_until || now < s->fresh_until - JWT_CACHE_TTL_S ||
	    check_times(&s->claims, s->nbf, now, leeway)) {
		/* stale, or the clock says no: drop it and let the full verification give the answer */
		s->len = 0;
		jwt_cache.stats.misses++;
		return false;
	}
	*out = s->claims;
	jwt_cache.stats.hits++;
	return true;
}

static void cache_store(const char *token, size_t len, const unsigned char cfg[32], long long now, long long nbf,
			const struct gx_jwt_claims *c)
{
	struct jwt_cache_slot *s = cache_slot(token, len);

	s->len = len;
	memcpy(s->cfg, cfg, sizeof(s->cfg));
	s->fresh_until = now < LLONG_MAX - JWT_CACHE_TTL_S ? now + JWT_CACHE_TTL_S : LLONG_MAX;
	s->nbf = nbf;
	s->claims = *c;
	memcpy(s->token, token, len);
	jwt_cache.stats.stores++;
}

/* The checks every signed token passes, ours or the original backend's: three parts, the header, the HMAC in
 * constant time, a JSON object payload (*pay, caller frees). Returns NULL or the reason. */
static const char *signed_payload(const char *token, size_t len, const unsigned char *key, size_t keylen, cJSON **pay)
{
	unsigned char mac[JWT_MAC_LEN], sig[JWT_PART_MAX];
	const char *d1, *d2, *r = "TOKEN_MALFORMED";
	cJSON *hdr = NULL;
	long siglen;

	*pay = NULL;
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		goto out;
	if (!(hdr = part_json(token, (size_t)(d1 - token))))
		goto out;
	if ((r = check_header(hdr)))
		goto out;
	r = "TOKEN_MALFORMED";
	siglen = b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), sig, sizeof(sig));
	if (siglen < 0)
		goto out;
	r = "TOKEN_BAD_SIGNATURE";
	if (keylen < GX_JWT_MIN_KEY_LEN) {
		gx_log_error("jwt verify: key is %zu bytes, need at least %d", keylen, GX_JWT_MIN_KEY_LEN);
		goto out;
	}
	if (siglen != JWT_MAC_LEN || jwt_mac(key, keylen, token, (size_t)(d2 - token), mac) < 0 ||
	    !gx_ct_equal(mac, sig, JWT_MAC_LEN))
		goto out;
	r = "TOKEN_MALFORMED";
	if (!(*pay = part_json(d1 + 1, (size_t)(d2 - d1 - 1))))
		goto out;
	r = NULL;
out:
	cJSON_Delete(hdr);
	return r;
}

int gx_jwt_verify(const char *token, const unsigned char *key, size_t keylen, const char *want_iss,
		  const char *want_aud, long long now, long long leeway_s, struct gx_jwt_claims *out,
		  const char **reason)
{
	unsigned char cfg[32];
	const char *r = "TOKEN_MALFORMED";
	cJSON *pay = NULL;
	size_t len;
	long long nbf = LLONG_MIN;
	bool cacheable;

	memset(out, 0, sizeof(*out));
	if (!token || (len = strnlen(token, GX_JWT_MAX_LEN + 1)) > GX_JWT_MAX_LEN)
		goto out;
	cacheable = len > 0 && len <= JWT_CACHE_TOKEN_MAX && keylen >= GX_JWT_MIN_KEY_LEN &&
		    cache_fingerprint(key, keylen, want_iss, want_aud, cfg) == 0;
	if (cacheable && cache_lookup(token, len, cfg, now, leeway_s, out)) {
		*reason = NULL;
		return 0;
	}
	if ((r = signed_payload(token, len, key, keylen, &pay)))
		goto out;
	r = check_claims(pay, want_iss, want_aud, now, leeway_s, out, &nbf);
	if (!r && cacheable)
		cache_store(token, len, cfg, now, nbf, out);
out:
	cJSON_Delete(pay);
	if (r) {
		memset(out, 0, sizeof(*out));
		*reason = r;
		return -1;
	}
	*reason = NULL;
	return 0;
}

/* A UUID-shaped id derived from what and the token's signature part: stable for one token, unlinkable to others. */
static const char *derived_id(const char *what, const char *token, size_t len, char out[40])
{
	const char *sig = memrchr(token, '.', len);
	unsigned char h[32];
	char *material;
	int rc;

	if (!sig)
		return "TOKEN_MALFORMED";
	material = gx_xasprintf("%s|%.*s", what, (int)(len - (size_t)(sig + 1 - token)), sig + 1);
	rc = mbedtls_sha256_ret((const unsigned char *)material, strlen(material), h, 0);
	free(material);
	if (rc != 0) {
		gx_log_error("sha256 failed");
		return "TOKEN_MALFORMED";
	}
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2],
		 h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
	return NULL;
}

int gx_jwt_verify_original(const char *token, const unsigned char *key, size_t keylen, const char *want_aud,
			   long long now, long long leeway_s, struct gx_jwt_claims *out, const char **reason)
{
	const char *r = "TOKEN_MALFORMED";
	cJSON *pay = NULL;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!token || (len = strnlen(token, GX_JWT_MAX_LEN + 1)) > GX_JWT_MAX_LEN)
		goto out;
	if ((r = signed_payload(token, len, key, keylen, &pay)))
		goto out;
	/* the original's claims: profileId, email, status, iat, exp, aud, iss; exp is required here (the original
	 * let a token without one live for ever) */
	if ((r = get_str(pay, "profileId", out->sub, sizeof(out->sub), true)) ||
	    (r = get_str(pay, "iss", out->iss, sizeof(out->iss), true)) || (r = get_aud(pay, want_aud, out)) ||
	    (r = get_time(pay, "iat", &out->iat, true, NULL)) || (r = get_time(pay, "exp", &out->exp, true, NULL)))
		goto out;
	if (strcmp(out->iss, GX_JWT_ORIGINAL_ISSUER) != 0) {
		r = "TOKEN_WRONG_ISSUER";
		goto out;
	}
	if (want_aud && strcmp(out->aud, want_aud) != 0) {
		r = "TOKEN_WRONG_AUDIENCE";
		goto out;
	}
	snprintf(out->role, sizeof(out->role), "USER");
	if ((r = derived_id("original", token, len, out->jti)) || (r = derived_id("family", token, len, out->fam)))
		goto out;
	r = check_times(out, LLONG_MIN, now, leeway_s);
out:
	cJSON_Delete(pay);
	if (r) {
		memset(out, 0, sizeof(*out));
		*reason = r;
		return -1;
	}
	*reason = NULL;
	return 0;
}
