/* Access and refresh token minting (decisions §4): HS256 via gx_jwt, access aud "gx-api" for 15 min, refresh aud
 * "gx-refresh" for 7 days carrying its family id. Refresh tokens are stored by jti with the hex SHA-256 of the jti
 * as "tokenHash" (the token itself is never stored).
 */
#include "identity.h"

#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/rand.h"
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

int idy_tokens_mint(const struct idy_app *app, const char *profile_id, const char *role, const char *family,
		    const char *refresh_jti, long long now, struct idy_tokens *out)
{
	const unsigned char *key = (const unsigned char *)app->shared->jwt_secret;
	size_t keylen = strlen(app->shared->jwt_secret);
	struct gx_jwt_claims c;

	memset(out, 0, sizeof(*out));
	fill_claims(&c, app, profile_id, role, now);
	snprintf(c.aud, sizeof(c.aud), "%s", IDY_ACCESS_AUD);
	c.exp = now + IDY_ACCESS_TTL_S;
	if (gx_uuid_v4(c.jti) < 0)
		goto fail;
	out->access = gx_jwt_sign(&c, key, keylen);
	if (!out->access)
		goto fail;

	fill_claims(&c, app, profile_id, role, now);
	snprintf(c.aud, sizeof(c.aud), "%s", IDY_REFRESH_AUD);
	snprintf(c.jti, sizeof(c.jti), "%s", refresh_jti);
	snprintf(c.fam, sizeof(c.fam), "%s", family);
	c.exp = now + IDY_REFRESH_TTL_S;
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
