/* Unit tests for gx/apikey.h: key generation and parsing, the constant-time hash check, the scope table and the
 * scope lists of requests and of PostgreSQL. */
#include <stdlib.h>
#include <string.h>
#include <mbedtls/sha256.h>

#include "gx/apikey.h"
#include "gx_test.h"

GX_TEST(generated_key_parses_to_its_hash)
{
	char id[GX_APIKEY_ID_LEN + 1], text[GX_APIKEY_TEXT_LEN + 1], hash[65], id2[GX_APIKEY_ID_LEN + 1];
	char text2[GX_APIKEY_TEXT_LEN + 1], hash2[65];
	unsigned char digest[32], want[32];

	GX_CHECK(gx_apikey_generate(id, text, hash) == 0);
	GX_CHECK(strlen(text) == GX_APIKEY_TEXT_LEN && strncmp(text, "gxk_", 4) == 0);
	GX_CHECK(strlen(id) == GX_APIKEY_ID_LEN && memcmp(text + 4, id, GX_APIKEY_ID_LEN) == 0);
	GX_CHECK(gx_apikey_parse(text, id2, digest) == 0);
	GX_CHECK_STR(id2, id);
	GX_CHECK(gx_apikey_hash_matches(hash, digest));
	/* the stored hash is SHA-256 of the secret's text, nothing else */
	mbedtls_sha256_ret((const unsigned char *)text + 4 + GX_APIKEY_ID_LEN + 1, GX_APIKEY_SECRET_LEN, want, 0);
	GX_CHECK(memcmp(digest, want, 32) == 0);
	/* the secret is not in the hash or the id */
	GX_CHECK(strstr(hash, text + 4 + GX_APIKEY_ID_LEN + 1) == NULL);
	/* two keys never share id or secret */
	GX_CHECK(gx_apikey_generate(id2, text2, hash2) == 0);
	GX_CHECK(strcmp(id, id2) != 0 && strcmp(text, text2) != 0 && strcmp(hash, hash2) != 0);
	GX_CHECK(!gx_apikey_hash_matches(hash2, digest));
}

GX_TEST(malformed_keys_are_refused)
{
	static const char good_id[] = "0123456789abcdef0123456789abcdef";
	static const char good_sec[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char id[GX_APIKEY_ID_LEN + 1], buf[256];
	unsigned char d[32];

	snprintf(buf, sizeof(buf), "gxk_%s_%s", good_id, good_sec);
	GX_CHECK(gx_apikey_parse(buf, id, d) == 0);
	GX_CHECK(gx_apikey_parse(NULL, id, d) < 0 && id[0] == '\0');
	GX_CHECK(gx_apikey_parse("", id, d) < 0);
	snprintf(buf, sizeof(buf), "gxK_%s_%s", good_id, good_sec);
	GX_CHECK(gx_apikey_parse(buf, id, d) < 0);
	snprintf(buf, sizeof(buf), "gxk_%s-%s", good_id, good_sec);
	GX_CHECK(gx_apikey_parse(buf, id, d) < 0);
	snprintf(buf, sizeof(buf), "gxk_%s_%s0", good_id, good_sec);
	GX_CHECK(gx_apikey_parse(buf, id, d) < 0);
	snprintf(buf, sizeof(buf), "gxk_%s_%.63sG", good_id, good_sec);
	GX_CHECK(gx_apikey_parse(buf, id, d) < 0);
	snprintf(buf, sizeof(buf), "gxk_0123456789ABCDEF0123456789abcdef_%s", good_sec);
	GX_CHECK(gx_apikey_parse(buf, id, d) < 0 && id[0] == '\0');
	GX_CHECK(!gx_apikey_hash_matches(NULL, d));
	GX_CHECK(!gx_apikey_hash_matches("abc", d));
	GX_CHECK(!gx_apikey_hash_matches("zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", d));
}

GX_TEST(scope_table_is_sane)
{
	GX_CHECK(gx_apikey_scopes_len > 0 && gx_apikey_scopes_len <= 64);
	for (size_t i = 0; i < gx_apikey_scopes_len; i++) {
		const struct gx_apikey_scope *s = &gx_apikey_scopes[i];

		GX_CHECK(gx_apikey_scope_index(s->name) == (int)i); /* names are unique */
		GX_CHECK(gx_apikey_scope_of_route(strcmp(s->service, "*") == 0 ? "svc-tax" : s->service, s->method,
						  s->path) == (int)i);
		for (const char *p = s->name; *p; p++)
			GX_CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '.');
	}
	GX_CHECK(gx_apikey_scope_of_route("svc-admin", "GET", "/api/v1/partner-keys") < 0);
	GX_CHECK(gx_apikey_scope_of_route("svc-admin", "POST", "/api/v1/countries") < 0);
	GX_CHECK(gx_apikey_scope_of_route("svc-tax", "GET", "/api/v1/countries") < 0);
	GX_CHECK(gx_apikey_scope_index("nope") < 0 && gx_apikey_scope_index(NULL) < 0);
}

GX_TEST(scope_lists)
{
	const char *ok[] = { "countries.list", "transfers.create" };
	const char *dup[] = { "countries.list", "countries.list" };
	const char *unknown[] = { "countries.list", "root" };
	char *lit = NULL, buf[160];
	const char *why = NULL;
	uint64_t set;

	GX_CHECK(gx_apikey_scopes_check(ok, 2, &lit, buf, sizeof(buf), &why) == 0);
	GX_CHECK_STR(lit, "{countries.list,transfers.create}");
	set = gx_apikey_scopes_from_pg(lit);
	GX_CHECK(set == (((uint64_t)1 << gx_apikey_scope_index("countries.list")) |
			 ((uint64_t)1 << gx_apikey_scope_index("transfers.create"))));
	free(lit);
	GX_CHECK(gx_apikey_scopes_check(dup, 2, &lit, buf, sizeof(buf), &why) < 0 && !lit && strstr(why, "repeated"));
	GX_CHECK(gx_apikey_scopes_check(unknown, 2, &lit, buf, sizeof(buf), &why) < 0 && strstr(why, "'root'"));
	GX_CHECK(gx_apikey_scopes_check(ok, 0, &lit, buf, sizeof(buf), &why) < 0);
	/* names this binary does not know are skipped, not fatal */
	GX_CHECK(gx_apikey_scopes_from_pg("{future.scope,countries.list}") ==
		 (uint64_t)1 << gx_apikey_scope_index("countries.list"));
	GX_CHECK(gx_apikey_scopes_from_pg("{}") == 0 && gx_apikey_scopes_from_pg(NULL) == 0 &&
		 gx_apikey_scopes_from_pg("x") == 0);
}

int main(void)
{
	GX_RUN(generated_key_parses_to_its_hash);
	GX_RUN(malformed_keys_are_refused);
	GX_RUN(scope_table_is_sane);
	GX_RUN(scope_lists);
	return gx_test_done();
}
