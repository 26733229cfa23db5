/* libFuzzer target for JWT verification (gx_jwt_verify, RFC 8725 checks). Byte 0 picks the mode:
 *   0: the input is the token as sent in the Authorization header;
 *   1: the input is "<header JSON> 0xff <payload JSON>", encoded and correctly signed with the key, so the fuzzer
 *      reaches the header and claim checks behind the signature; an accepted token must carry a valid role,
 *      the wanted iss/aud, NUL-terminated claims and an unexpired exp;
 *   2: the input fills the claims of gx_jwt_sign; a token it signs must verify to the same claims. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>

#include "gx/jwt.h"
#include "gx/log.h"

#define NOW 1700000000LL
#define ISS "gx-backend"
#define AUD "gx-api"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;
static const unsigned char key[] = "fuzz-key-0123456789abcdefghijklmnopqrstuvwxyz";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gx_log_set_level(GX_LOG_FATAL);
	return 0;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void check_accepted(const struct gx_jwt_claims *c)
{
	if (!terminated(c->sub, sizeof(c->sub)) || !terminated(c->role, sizeof(c->role)) ||
	    !terminated(c->tenant_id, sizeof(c->tenant_id)) || !terminated(c->jti, sizeof(c->jti)) ||
	    !terminated(c->fam, sizeof(c->fam)) || !terminated(c->iss, sizeof(c->iss)) ||
	    !terminated(c->aud, sizeof(c->aud)))
		abort();
	if (!gx_jwt_role_valid(c->role) || strcmp(c->iss, ISS) != 0 || strcmp(c->aud, AUD) != 0)
		abort();
	if (!c->sub[0] || !c->tenant_id[0] || !c->jti[0] || c->exp + 60 < NOW)
		abort();
}

static int verify(const char *tok, struct gx_jwt_claims *out)
{
	const char *reason = NULL;
	int rc = gx_jwt_verify(tok, key, sizeof(key) - 1, ISS, AUD, NOW, 60, out, &reason);

	if (rc == 0)
		check_accepted(out);
	else if (!reason || !reason[0])
		abort();
	return rc;
}

/* base64url without padding of in[0..n) appended at out (room for 4 * (n / 3 + 1) + 1 bytes). */
static size_t b64url(const unsigned char *in, size_t n, char *out)
{
	size_t olen = 0, k = 0;

	if (mbedtls_base64_encode((unsigned char *)out, 4 * (n / 3 + 1) + 1, &olen, in, n) != 0)
		abort();
	for (size_t i = 0; i < olen && out[i] != '='; i++, k++)
		out[k] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	out[k] = '\0';
	return k;
}

static void signed_token(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 0xff, size);
	size_t hn = sep ? (size_t)(sep - data) : size / 2;
	const uint8_t *p = sep ? sep + 1 : data + hn;
	size_t pn = size - (size_t)(p - data);
	char *tok = malloc(4 * (size / 3 + 2) + 64 + 8);
	unsigned char mac[32];
	struct gx_jwt_claims out;
	size_t n;

	if (!tok)
		return;
	n = b64url(data, hn, tok);
	tok[n++] = '.';
	n += b64url(p, pn, tok + n);
	if (mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, sizeof(key) - 1,
			    (const unsigned char *)tok, n, mac) != 0)
		abort();
	tok[n++] = '.';
	b64url(mac, sizeof(mac), tok + n);
	sink += (size_t)verify(tok, &out);
	free(tok);
}

static void take(const uint8_t **d, size_t *n, char *dst, size_t cap)
{
	size_t k = *n ? (**d % cap) : 0;

	if (*n)
		(*d)++, (*n)--;
	if (k > *n)
		k = *n;
	memcpy(dst, *d, k);
	dst[k] = '\0';
	*d += k;
	*n -= k;
}

static void sign_roundtrip(const uint8_t *data, size_t size)
{
	static const char *const roles[] = { "USER", "ADMIN", "SUPER_ADMIN", "PARTNER_API" };
	struct gx_jwt_claims c, out;
	char *tok;

	memset(&c, 0, sizeof(c));
	take(&data, &size, c.sub, sizeof(c.sub));
	take(&data, &size, c.tenant_id, sizeof(c.tenant_id));
	take(&data, &size, c.jti, sizeof(c.jti));
	strcpy(c.role, roles[size ? data[0] % 4 : 0]);
	strcpy(c.iss, ISS);
	strcpy(c.aud, AUD);
	c.iat = NOW - 10;
	c.exp = NOW + 900;
	tok = gx_jwt_sign(&c, key, sizeof(key) - 1);
	if (!tok)
		return;
	if (verify(tok, &out) != 0 || strcmp(out.sub, c.sub) != 0 || strcmp(out.tenant_id, c.tenant_id) != 0 ||
	    strcmp(out.jti, c.jti) != 0 || strcmp(out.role, c.role) != 0 || out.exp != c.exp)
		abort();
	free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gx_jwt_claims out;
	char *tok;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		tok = malloc(size);
		if (!tok)
			return 0;
		memcpy(tok, data + 1, size - 1);
		tok[size - 1] = '\0';
		sink += (size_t)verify(tok, &out);
		free(tok);
		break;
	case 1:
		signed_token(data + 1, size - 1);
		break;
	default:
		sign_roundtrip(data + 1, size - 1);
		break;
	}
	return 0;
}
