/* gxctl token mint: sign an access token for local development and tests (any subject, any role). Refused when
 * GX_ENV is "production": there, tokens come from svc-identity's login only. */
#include "gxctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gx/jwt.h"
#include "gx/rand.h"
#include "gx/valid.h"

#define TOKEN_AUDIENCE "gx-api" /* the access-token audience every API verifies */
#define TOKEN_MAX_TTL (30LL * 86400)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl token mint --sub PROFILE_ID --role ROLE [--ttl SECONDS]\n"
		"\n"
		"Prints an HS256 access token (aud \"" TOKEN_AUDIENCE
		"\") for local development. ROLE is USER, ADMIN,\n"
		"SUPER_ADMIN or PARTNER_API; --ttl 1..%lld, default 900. Environment: JWT_SECRET (required, >= %d bytes),\n"
		"JWT_ISSUER (default gx-backend), TENANT_ID (default \"default\"). Refused (exit 1) when GX_ENV is\n"
		"production. The subject is not checked against the database.\n",
		TOKEN_MAX_TTL, GX_JWT_MIN_KEY_LEN);
}

int gxctl_token(int argc, char **argv)
{
	const char *sub = NULL, *role = NULL, *ttl_s = NULL;
	const char *env = getenv("GX_ENV"), *secret = getenv("JWT_SECRET"), *iss = getenv("JWT_ISSUER");
	const char *tenant = gx_api_tenant_env();
	struct gx_jwt_claims c = { 0 };
	long long ttl = 900;
	char *tok, *end;

	if (gxctl_wants_help(argc, argv)) {
		usage(stdout);
		return GXCTL_OK;
	}
	if (argc < 2 || strcmp(argv[1], "mint") != 0) {
		usage(stderr);
		return GXCTL_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		const char **dst = strcmp(argv[i], "--sub") == 0    ? &sub
				   : strcmp(argv[i], "--role") == 0 ? &role
				   : strcmp(argv[i], "--ttl") == 0  ? &ttl_s
								    : NULL;

		if (!dst || i + 1 >= argc) {
			fprintf(stderr, "gxctl: token mint: %s '%s' (see --help)\n",
				dst ? "missing value for" : "unknown argument", argv[i]);
			return GXCTL_USAGE;
		}
		*dst = argv[++i];
	}
	if (env && strcmp(env, "production") == 0) {
		fprintf(stderr,
			"gxctl: token mint is for local development only and refuses to run with GX_ENV=production\n");
		return GXCTL_FAIL;
	}
	if (!sub || !gx_valid_id(sub) || strlen(sub) >= sizeof(c.sub)) {
		fprintf(stderr, "gxctl: token mint: --sub must be a profile id (1..63 of [A-Za-z0-9_.:-])\n");
		return GXCTL_USAGE;
	}
	if (!role || !gx_jwt_role_valid(role)) {
		fprintf(stderr, "gxctl: token mint: --role must be USER, ADMIN, SUPER_ADMIN or PARTNER_API\n");
		return GXCTL_USAGE;
	}
	if (ttl_s) {
		errno = 0;
		ttl = strtoll(ttl_s, &end, 10);
		if (!*ttl_s || *end || errno || ttl < 1 || ttl > TOKEN_MAX_TTL) {
			fprintf(stderr, "gxctl: token mint: --ttl must be 1..%lld seconds\n", TOKEN_MAX_TTL);
			return GXCTL_USAGE;
		}
	}
	if (!secret || strlen(secret) < GX_JWT_MIN_KEY_LEN) {
		fprintf(stderr, "gxctl: token mint: JWT_SECRET must be set to at least %d bytes\n", GX_JWT_MIN_KEY_LEN);
		return GXCTL_USAGE;
	}
	iss = iss && *iss ? iss : "gx-backend";
	if (strlen(iss) >= sizeof(c.iss) || strlen(tenant) >= sizeof(c.tenant_id)) {
		fprintf(stderr, "gxctl: token mint: JWT_ISSUER or TENANT_ID is too long\n");
		return GXCTL_USAGE;
	}
	snprintf(c.sub, sizeof(c.sub), "%s", sub);
	snprintf(c.role, sizeof(c.role), "%s", role);
	snprintf(c.tenant_id, sizeof(c.tenant_id), "%s", tenant);
	snprintf(c.iss, sizeof(c.iss), "%s", iss);
	snprintf(c.aud, sizeof(c.aud), "%s", TOKEN_AUDIENCE);
	if (gx_uuid_v4(c.jti) < 0) {
		fprintf(stderr, "gxctl: token mint: no random bytes for the token id\n");
		return GXCTL_FAIL;
	}
	c.iat = (long long)time(NULL);
	c.exp = c.iat + ttl;
	tok = gx_jwt_sign(&c, (const unsigned char *)secret, strlen(secret));
	if (!tok) {
		fprintf(stderr, "gxctl: token mint: signing failed\n");
		return GXCTL_FAIL;
	}
	printf("%s\n", tok);
	free(tok);
	return GXCTL_OK;
}
