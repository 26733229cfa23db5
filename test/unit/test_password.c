/* Unit tests for gx/password.h: bcrypt hash/verify, legacy prefixes, malformed hashes, burn timing, policy. */
#include <stdlib.h>

#include "gx/password.h"

#include <string.h>
#include "gx_test.h"

/* made with crypt_r("correct horse battery", "$2a$04$abcdefghijklmnopqrstuu") on this system */
static const char vec_2a[] = "$2a$04$abcdefghijklmnopqrstuuqREtd3VJD2QVZbuFskFSLk6eRIrQoOS";
static const char vec_2b[] = "$2b$04$abcdefghijklmnopqrstuuqREtd3VJD2QVZbuFskFSLk6eRIrQoOS";
static const char vec_2y[] = "$2y$04$abcdefghijklmnopqrstuuqREtd3VJD2QVZbuFskFSLk6eRIrQoOS";
/* the widely published OpenBSD bcrypt test vector for "U*U" */
static const char vec_openbsd[] = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

GX_TEST(known_vectors)
{
	GX_CHECK(gx_password_verify("correct horse battery", vec_2a));
	GX_CHECK(gx_password_verify("correct horse battery", vec_2b));
	GX_CHECK(gx_password_verify("correct horse battery", vec_2y));
	GX_CHECK(!gx_password_verify("correct horse batterz", vec_2a));
	GX_CHECK(!gx_password_verify("", vec_2a));
	GX_CHECK(gx_password_verify("U*U", vec_openbsd));
	GX_CHECK(!gx_password_verify("U*V", vec_openbsd));
}

GX_TEST(hash_round_trip)
{
	char *h1 = gx_password_hash("s3cret-pass", 4), *h2 = gx_password_hash("s3cret-pass", 4);

	GX_CHECK(h1 && h2);
	if (!h1 || !h2)
		goto out;
	GX_CHECK(strlen(h1) == 60);
	GX_CHECK(strncmp(h1, "$2b$04$", 7) == 0);
	GX_CHECK(strcmp(h1, h2) != 0); /* fresh salt each time */
	GX_CHECK(gx_password_verify("s3cret-pass", h1));
	GX_CHECK(gx_password_verify("s3cret-pass", h2));
	GX_CHECK(!gx_password_verify("s3cret-pasS", h1));
	GX_CHECK(!gx_password_verify(NULL, h1));
out:
	free(h1);
	free(h2);
}

GX_TEST(hash_cost_range)
{
	char *h = gx_password_hash("whatever1", 5);

	GX_CHECK(h && strncmp(h, "$2b$05$", 7) == 0);
	free(h);
	GX_CHECK(gx_password_hash("whatever1", 3) == NULL);
	GX_CHECK(gx_password_hash("whatever1", 32) == NULL);
}

GX_TEST(malformed_hashes_are_false)
{
	char h[61];

	GX_CHECK(!gx_password_verify("correct horse battery", NULL));
	GX_CHECK(!gx_password_verify("correct horse battery", ""));
	GX_CHECK(!gx_password_verify("correct horse battery", "*0"));
	GX_CHECK(!gx_password_verify("correct horse battery", "$2a$04$abc"));
	GX_CHECK(!gx_password_verify("correct horse battery", "$1$abcdefgh$abcdefghijklmnopqrstuv"));
	memcpy(h, vec_2a, sizeof(h));
	h[2] = 'x';
	GX_CHECK(!gx_password_verify("correct horse battery", h));
	memcpy(h, vec_2a, sizeof(h));
	h[4] = '0', h[5] = '3';
	GX_CHECK(!gx_password_verify("correct horse battery", h));
	memcpy(h, vec_2a, sizeof(h));
	h[30] = '!';
	GX_CHECK(!gx_password_verify("correct horse battery", h));
	/* one bit off in the hash part */
	memcpy(h, vec_2a, sizeof(h));
	h[59] = h[59] == 'S' ? 'T' : 'S';
	GX_CHECK(!gx_password_verify("correct horse battery", h));
}

GX_TEST(burn_spends_a_verify)
{
	int64_t t0, t1;

	GX_CHECK(gx_password_burn_init(3) == -1);
	GX_CHECK(gx_password_burn_init(8) == 0);
	t0 = gx_mono_us();
	gx_password_burn("anything");
	t1 = gx_mono_us();
	/* cost 8 is 256 rounds of expensive key setup: several milliseconds on any machine */
	GX_CHECK(t1 - t0 > 1000);
	gx_password_burn(NULL);
}

GX_TEST(policy)
{
	const char *issue = NULL;
	char long_pw[80];

	GX_CHECK(gx_password_acceptable("12345678", &issue));
	GX_CHECK(!gx_password_acceptable("1234567", &issue));
	GX_CHECK_STR(issue, "must be at least 8 characters long");
	GX_CHECK(!gx_password_acceptable("", &issue));
	GX_CHECK(!gx_password_acceptable(NULL, &issue));
	memset(long_pw, 'p', 72);
	long_pw[72] = '\0';
	GX_CHECK(gx_password_acceptable(long_pw, &issue));
	long_pw[72] = 'p';
	long_pw[73] = '\0';
	GX_CHECK(!gx_password_acceptable(long_pw, &issue));
	GX_CHECK_STR(issue, "must be at most 72 bytes long");
}

static void quality(void)
{
	char issue[160];

	GX_CHECK(gx_password_check("correct horse 1", "ada@example.com", "Ada", "Lovelace", issue, sizeof(issue)) ==
		 GX_PASSWORD_OK);
	GX_CHECK(gx_password_check("short", NULL, NULL, NULL, issue, sizeof(issue)) == GX_PASSWORD_BAD_LENGTH);
	GX_CHECK(gx_password_check("password", NULL, NULL, NULL, issue, sizeof(issue)) == GX_PASSWORD_WEAK);
	GX_CHECK(strstr(issue, "dictionary") != NULL);
	GX_CHECK(gx_password_check("12345678", NULL, NULL, NULL, issue, sizeof(issue)) == GX_PASSWORD_WEAK);
	GX_CHECK(gx_password_check("aaaaaaaa", NULL, NULL, NULL, issue, sizeof(issue)) == GX_PASSWORD_WEAK);
	GX_CHECK(gx_password_check("x-LOVELACE-9137", NULL, "Ada", "Lovelace", issue, sizeof(issue)) ==
		 GX_PASSWORD_WEAK);
	GX_CHECK_STR(issue, "must not contain the last name");
	GX_CHECK(gx_password_check("grace.hopper-77", "Grace.Hopper@example.com", NULL, NULL, issue, sizeof(issue)) ==
		 GX_PASSWORD_WEAK);
	GX_CHECK_STR(issue, "must not contain the email address's local part");
	/* a part under 3 bytes counts only when it is the whole password */
	GX_CHECK(gx_password_check("staple horse 42", NULL, "Al", "Li", issue, sizeof(issue)) == GX_PASSWORD_OK);
	GX_CHECK(gx_password_dict_init("/nonexistent/dict") < 0);
}

int main(void)
{
	GX_RUN(known_vectors);
	GX_RUN(quality);
	GX_RUN(hash_round_trip);
	GX_RUN(hash_cost_range);
	GX_RUN(malformed_hashes_are_false);
	GX_RUN(burn_spends_a_verify);
	GX_RUN(policy);
	return gx_test_done();
}
