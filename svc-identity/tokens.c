/* Access and refresh token minting (design.md §4): HS256 via gx_jwt, access aud "gx-api" for 15 min, refresh aud
 * "gx-refresh" for 7 days carrying its family id. Refresh tokens are stored by jti with the hex SHA-256 of the jti
 * as "tokenHash" (the token itself is never stored). Minting is deterministic (the access jti is derived from the
 * refresh jti and the issue time), so a stored refresh row is enough to hand out the same pair again.
 */
#include "identity.h"

#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

int idy_refresh_hash(const char *jti, char out[65])
{
	unsigned char h[32];

	if (mbedtls_sha256_ret((const unsigned char *)jti, strlen(jti), h, 0) != 0) {
		gx_log_error("sha256 failed");
		out[0] = '\0';
		return -1;
	}
	gx_hex_encode(h, sizeof(h), out);
	return 0;
}

static void fill_claims(struct gx_jwt_claims *c, const struct idy_app *app, const char *profile_id, const char *role,
			long long now)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sub, sizeof(c->sub), "%s", profile_id);
	snprintf(c->role, sizeof(c->role), "%s", role);
	snprintf(c->tenant_id, sizeof(c->tenant_id), "%s", app->shared->tenant_id);
	snprintf(c->iss, sizeof(c->iss), "%s", app->shared->jwt_issuer);
	c->iat = now;
}

/* The access token's jti: SHA-256 of "access|<refresh jti>|<iat>" shaped as a UUID v4 (version and variant bits
 * set). Unique because refresh jtis are random UUIDs; it reveals nothing about the refresh jti. */
static int access_jti(const char *refresh_jti, long long iat, char out[37])
{
	unsigned char h[32];
	char *material = gx_xasprintf("access|%s|%lld", refresh_jti, iat);
	int rc = mbedtls_sha256_ret((const unsigned char *)material, strlen(material), h, 0);

	free(material);
	if (rc != 0) {
		gx_log_error("sha256 failed");
		return -1;
	}
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2],
		 h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
	return 0;
}

int idy_tokens_mint(const struct idy_app *app, const char *profile_id, const char *role, bool pwc, const char *family,
		    const char *refresh_jti, long long refresh_iat, long long access_iat, struct idy_tokens *out)
{
	const unsigned char *key = (const unsigned char *)app->shared->jwt_secret;
	size_t keylen = strlen(app->shared->jwt_secret);
	struct gx_jwt_claims c;

	memset(out, 0, sizeof(*out));
	fill_claims(&c, app, profile_id, role, access_iat);
	snprintf(c.aud, sizeof(c.aud), "%s", IDY_ACCESS_AUD);
	c.exp = access_iat + IDY_ACCESS_TTL_S;
	c.pwc = pwc;
	if (access_jti(refresh_jti, access_iat, c.jti) < 0)
		goto fail;
	out->access = gx_jwt_sign(&c, key, keylen);
	if (!out->access)
		goto fail;

	fill_claims(&c, app, profile_id, role, refresh_iat);
	snprintf(c.aud, sizeof(c.aud), "%s", IDY_REFRESH_AUD);
	snprintf(c.jti, sizeof(c.jti), "%s", refresh_jti);
	snprintf(c.fam, sizeof(c.fam), "%s", family);
	c.exp = refresh_iat + IDY_REFRESH_TTL_S;
	out->refresh = gx_jwt_sign(&c, key, keylen);
	if (!out->refresh)
		goto fail;
	snprintf(out->refresh_jti, sizeof(out->refresh_jti), "%s", refresh_jti);
	out->refresh_exp = c.exp;
	if (idy_refresh_hash(refresh_jti, out->refresh_hash) < 0)
		goto fail;
	return 0;
fail:
	idy_tokens_release(out);
	return -1;
}

void idy_tokens_release(struct idy_tokens *t)
{
	free(t->access);
	free(t->refresh);
	memset(t, 0, sizeof(*t));
}
