/* Unit tests for gx/valid.h: collector, predicates, JSON field getters, query parameters and paging. */
#include <limits.h>
#include <stdlib.h>

#include "gx/valid.h"
#include "gx_test.h"

GX_TEST(collector_details)
{
	struct gx_verr *v = gx_verr_new();
	cJSON *d;
	char *s;

	GX_CHECK(gx_verr_count(v) == 0);
	d = gx_verr_details_json(v);
	GX_CHECK(cJSON_IsArray(d) && cJSON_GetArraySize(d) == 0);
	cJSON_Delete(d);
	gx_verr_add(v, "amount", "must be > %d", 0);
	gx_verr_add(v, "email", "is required");
	GX_CHECK(gx_verr_count(v) == 2);
	GX_CHECK(gx_verr_has(v, "email"));
	GX_CHECK(!gx_verr_has(v, "phone"));
	d = gx_verr_details_json(v);
	s = cJSON_PrintUnformatted(d);
	GX_CHECK_STR(s,
		     "[{\"field\":\"amount\",\"issue\":\"must be > 0\"},"
		     "{\"field\":\"email\",\"issue\":\"is required\"}]");
	free(s);
	cJSON_Delete(d);
	for (int i = 0; i < 100; i++)
		gx_verr_add(v, "x", "bad %d", i);
	GX_CHECK(gx_verr_count(v) == 102);
	d = gx_verr_details_json(v);
	GX_CHECK(cJSON_GetArraySize(d) == 64);
	cJSON_Delete(d);
	gx_verr_free(v);
	gx_verr_free(NULL);
}

GX_TEST(email)
{
	GX_CHECK(gx_valid_email("a@b.co"));
	GX_CHECK(gx_valid_email("first.last+tag@mail.example.com"));
	GX_CHECK(gx_valid_email("o'neil@x-y.org"));
	GX_CHECK(!gx_valid_email(NULL));
	GX_CHECK(!gx_valid_email(""));
	GX_CHECK(!gx_valid_email("plain"));
	GX_CHECK(!gx_valid_email("a@b"));
	GX_CHECK(!gx_valid_email("a@@b.com"));
	GX_CHECK(!gx_valid_email("a@b@c.com"));
	GX_CHECK(!gx_valid_email(".a@b.com"));
	GX_CHECK(!gx_valid_email("a.@b.com"));
	GX_CHECK(!gx_valid_email("a..b@b.com"));
	GX_CHECK(!gx_valid_email("a b@b.com"));
	GX_CHECK(!gx_valid_email("a@-b.com"));
	GX_CHECK(!gx_valid_email("a@b-.com"));
	GX_CHECK(!gx_valid_email("a@b..com"));
	GX_CHECK(!gx_valid_email("a@b.com."));
	GX_CHECK(!gx_valid_email("a@1.2.3.4"));
	GX_CHECK(!gx_valid_email("a@b.c\xc3\xa9"));
	GX_CHECK(!gx_valid_email("a\n@b.com"));
	char local[80], longdom[300];
	memset(local, 'a', 65);
	strcpy(local + 65, "@b.com");
	GX_CHECK(!gx_valid_email(local));
	local[1] = '@';
	local[2] = '\0';
	strcat(local, "b.com");
	GX_CHECK(gx_valid_email(local));
	/* 250 bytes domain in 63-byte labels: 254 total would pass, 255 must not */
	strcpy(longdom, "a@");
	for (int i = 0; i < 3; i++) {
		memset(longdom + strlen(longdom), 'd', 63);
		longdom[2 + (i + 1) * 64 - 1] = '.';
		longdom[2 + (i + 1) * 64] = '\0';
	}
	memset(longdom + strlen(longdom), 'e', 60);
	longdom[2 + 3 * 64 + 60] = '\0';
	GX_CHECK(strlen(longdom) == 254);
	GX_CHECK(gx_valid_email(longdom));
	strcat(longdom, "e");
	GX_CHECK(!gx_valid_email(longdom));
}

GX_TEST(phone_country_hex)
{
	GX_CHECK(gx_valid_e164("+971501234567"));
	GX_CHECK(gx_valid_e164("+12345678"));
	GX_CHECK(gx_valid_e164("+123456789012345"));
	GX_CHECK(!gx_valid_e164("+1234567"));
	GX_CHECK(!gx_valid_e164("+1234567890123456"));
	GX_CHECK(!gx_valid_e164("971501234567"));
	GX_CHECK(!gx_valid_e164("+0971501234"));
	GX_CHECK(!gx_valid_e164("+97150 123456"));
	GX_CHECK(!gx_valid_e164("+"));
	GX_CHECK(!gx_valid_e164(NULL));

	GX_CHECK(gx_valid_iso2("AE"));
	GX_CHECK(!gx_valid_iso2("ae"));
	GX_CHECK(!gx_valid_iso2("A"));
	GX_CHECK(!gx_valid_iso2("ARE"));
	GX_CHECK(!gx_valid_iso2("A1"));
	GX_CHECK(!gx_valid_iso2(NULL));

	GX_CHECK(gx_valid_hex64("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	GX_CHECK(gx_valid_hex64("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	GX_CHECK(!gx_valid_hex64("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
	GX_CHECK(!gx_valid_hex64("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"));
	GX_CHECK(!gx_valid_hex64("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	GX_CHECK(!gx_valid_hex64(NULL));
}

GX_TEST(utf8_and_names)
{
	GX_CHECK(gx_valid_utf8(""));
	GX_CHECK(gx_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	GX_CHECK(!gx_valid_utf8("\xc0\xaf"));         /* overlong '/' */
	GX_CHECK(!gx_valid_utf8("\xe0\x80\xaf"));     /* overlong */
	GX_CHECK(!gx_valid_utf8("\xed\xa0\x80"));     /* surrogate */
	GX_CHECK(!gx_valid_utf8("\xf4\x90\x80\x80")); /* > U+10FFFF */
	GX_CHECK(!gx_valid_utf8("\xc3"));             /* truncated */
	GX_CHECK(!gx_valid_utf8("\x80"));
	GX_CHECK(!gx_valid_utf8(NULL));

	GX_CHECK(gx_valid_name("Ann", 1, 50));
	GX_CHECK(gx_valid_name("Jos\xc3\xa9 O'Neil-Smith", 1, 50));
	GX_CHECK(gx_valid_name("\xd9\x85\xd8\xad\xd9\x85\xd8\xaf", 1, 4)); /* 4 Arabic letters = 4 code points */
	GX_CHECK(!gx_valid_name("\xd9\x85\xd8\xad\xd9\x85\xd8\xaf", 1, 3));
	GX_CHECK(!gx_valid_name("", 1, 50));
	GX_CHECK(!gx_valid_name("   ", 1, 50));
	GX_CHECK(!gx_valid_name("a\tb", 1, 50));
	GX_CHECK(!gx_valid_name("a\x7f", 1, 50));
	GX_CHECK(!gx_valid_name("a\xc2\x85", 1, 50)); /* C1 NEL */
	GX_CHECK(!gx_valid_name("a\xe2\x80\xa8", 1, 50));
	GX_CHECK(!gx_valid_name("\xff", 1, 50));
	char fifty[52];
	memset(fifty, 'x', 51);
	fifty[51] = '\0';
	GX_CHECK(!gx_valid_name(fifty, 1, 50));
	fifty[50] = '\0';
	GX_CHECK(gx_valid_name(fifty, 1, 50));
}

/* The length-bounded form used for request bodies and chaincode event payloads: the same RFC 3629 rules, never
 * reading past n (the buffers are not NUL-terminated). */
GX_TEST(utf8_bounded)
{
	static const struct {
		const char *s;
		size_t n;
		bool ok;
	} cases[] = {
		{ "", 0, true },
		{ "caf\xc3\xa9", 5, true },
		{ "\xef\xbf\xbd", 3, true },      /* U+FFFD */
		{ "\xf4\x8f\xbf\xbf", 4, true },  /* U+10FFFF */
		{ "a\0b", 3, true },              /* U+0000 is well-formed; callers that store text reject it */
		{ "\xc0\xaf", 2, false },         /* overlong '/' (2 bytes) */
		{ "\xe0\x80\xaf", 3, false },     /* overlong '/' (3 bytes) */
		{ "\xf0\x80\x80\xaf", 4, false }, /* overlong '/' (4 bytes) */
		{ "\xed\xa0\x80", 3, false },     /* U+D800, a surrogate */
		{ "\xed\xbf\xbf", 3, false },     /* U+DFFF, a surrogate */
		{ "\xf4\x90\x80\x80", 4, false }, /* above U+10FFFF */
		{ "\xf5\x80\x80\x80", 4, false },
		{ "\xe2\x82\xac", 2, false }, /* euro sign cut by n */
		{ "\xc3", 1, false },
		{ "\x80", 1, false },
		{ "\xfe", 1, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (gx_valid_utf8_n((const unsigned char *)cases[i].s, cases[i].n) != cases[i].ok) {
			printf("#   %s:%d: case %zu\n", __FILE__, __LINE__, i);
			gx_t_cur_failed = 1;
		}
	}
	GX_CHECK(gx_valid_utf8_n(NULL, 0));
	GX_CHECK(!gx_valid_utf8_n((const unsigned char *)"\xed\xa0\x80", 3));
}

GX_TEST(dates_and_age)
{
	int y = 0, m = 0, d = 0;
	struct tm tm = { 0 };
	time_t now;

	GX_CHECK(gx_valid_date("2000-02-29", &y, &m, &d) && y == 2000 && m == 2 && d == 29);
	GX_CHECK(gx_valid_date("2024-12-31", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("1900-02-29", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("2023-02-29", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("2023-04-31", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("2023-13-01", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("2023-00-10", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("2023-01-00", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("0000-01-01", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("2023-1-01", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("2023/01/01", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("2023-01-01T00:00:00Z", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date("+023-01-01", NULL, NULL, NULL));
	GX_CHECK(!gx_valid_date(NULL, NULL, NULL, NULL));

	tm.tm_year = 2024 - 1900, tm.tm_mon = 5, tm.tm_mday = 15, tm.tm_hour = 12; /* 2024-06-15 */
	now = timegm(&tm);
	GX_CHECK(gx_valid_age_years(2006, 6, 15, now) == 18);
	GX_CHECK(gx_valid_age_years(2006, 6, 16, now) == 17);
	GX_CHECK(gx_valid_age_years(2006, 5, 31, now) == 18);
	GX_CHECK(gx_valid_age_years(2024, 6, 15, now) == 0);
	GX_CHECK(gx_valid_age_years(2024, 6, 16, now) == -1);
	GX_CHECK(gx_valid_age_years(2030, 1, 1, now) == -1);
	tm.tm_year = 2023 - 1900, tm.tm_mon = 1, tm.tm_mday = 28; /* 2023-02-28 */
	now = timegm(&tm);
	GX_CHECK(gx_valid_age_years(2004, 2, 29, now) == 18);
	tm.tm_mon = 2, tm.tm_mday = 1;
	now = timegm(&tm);
	GX_CHECK(gx_valid_age_years(2004, 2, 29, now) == 19);
}

GX_TEST(enum_and_id)
{
	static const char *const votes[] = { "FOR", "AGAINST", "ABSTAIN", NULL };

	GX_CHECK(gx_valid_enum("FOR", votes));
	GX_CHECK(gx_valid_enum("ABSTAIN", votes));
	GX_CHECK(!gx_valid_enum("for", votes));
	GX_CHECK(!gx_valid_enum("", votes));
	GX_CHECK(!gx_valid_enum(NULL, votes));

	GX_CHECK(gx_valid_id("123e4567-e89b-42d3-a456-426614174000"));
	GX_CHECK(gx_valid_id("loan_1.v2:a"));
	GX_CHECK(!gx_valid_id(""));
	GX_CHECK(!gx_valid_id("../etc"));
	GX_CHECK(!gx_valid_id("a..b"));
	GX_CHECK(!gx_valid_id("a/b"));
	GX_CHECK(!gx_valid_id("a%2Fb"));
	GX_CHECK(!gx_valid_id("a b"));
	GX_CHECK(!gx_valid_id(NULL));
	char id[66];
	memset(id, 'a', 65);
	id[65] = '\0';
	GX_CHECK(!gx_valid_id(id));
	id[64] = '\0';
	GX_CHECK(gx_valid_id(id));
}

GX_TEST(json_getters)
{
	cJSON *o = cJSON_Parse(
		"{\"name\":\"Ann\",\"num\":42,\"frac\":1.5,\"big\":1e20,\"s\":\"7\",\"t\":true,"
		"\"nul\":null,\"long\":\"abcdef\",\"amt\":\"12.5\",\"zero\":0,\"neg\":\"-1\","
		"\"utf\":\"\xc3\xa9\xc3\xa9\"}");
	struct gx_verr *v = gx_verr_new();
	uint64_t q = 99;
	cJSON *d;
	char *s;

	GX_CHECK(o != NULL);
	GX_CHECK_STR(gx_valid_str(o, "name", true, 1, 50, v), "Ann");
	GX_CHECK_STR(gx_valid_str(o, "utf", true, 2, 2, v), "\xc3\xa9\xc3\xa9"); /* counted in code points */
	GX_CHECK(gx_valid_int(o, "num", true, 0, 100, -1, v) == 42);
	GX_CHECK(gx_valid_bool(o, "t", true, false, v) == true);
	GX_CHECK(gx_valid_amount(o, "amt", true, &q, v) && q == 1250000);
	GX_CHECK(gx_valid_str(o, "missing", false, 1, 5, v) == NULL);
	GX_CHECK(gx_valid_int(o, "missing", false, 0, 5, 3, v) == 3);
	GX_CHECK(gx_valid_bool(o, "nul", false, true, v) == true);
	GX_CHECK(gx_verr_count(v) == 0);

	GX_CHECK(gx_valid_str(o, "missing", true, 1, 5, v) == NULL);
	GX_CHECK(gx_valid_str(o, "num", true, 1, 5, v) == NULL);
	GX_CHECK(gx_valid_str(o, "long", true, 1, 5, v) == NULL);
	GX_CHECK(gx_valid_int(o, "frac", true, 0, 5, -1, v) == -1);
	GX_CHECK(gx_valid_int(o, "big", true, 0, 5, -1, v) == -1);
	GX_CHECK(gx_valid_int(o, "s", true, 0, 50, -1, v) == -1);
	GX_CHECK(gx_valid_int(o, "num", true, 0, 41, -1, v) == -1);
	GX_CHECK(gx_valid_bool(o, "num", true, false, v) == false);
	GX_CHECK(!gx_valid_amount(o, "zero", true, &q, v) && q == 0);
	GX_CHECK(!gx_valid_amount(o, "neg", true, &q, v));
	GX_CHECK(!gx_valid_amount(o, "nul", true, &q, v));
	GX_CHECK(gx_verr_count(v) == 11);
	d = gx_verr_details_json(v);
	s = cJSON_PrintUnformatted(d);
	GX_CHECK_STR(s,
		     "[{\"field\":\"missing\",\"issue\":\"is required\"},"
		     "{\"field\":\"num\",\"issue\":\"must be a string\"},"
		     "{\"field\":\"long\",\"issue\":\"must be 1..5 characters long\"},"
		     "{\"field\":\"frac\",\"issue\":\"must be an integer\"},"
		     "{\"field\":\"big\",\"issue\":\"must be an integer\"},"
		     "{\"field\":\"s\",\"issue\":\"must be an integer\"},"
		     "{\"field\":\"num\",\"issue\":\"must be between 0 and 41\"},"
		     "{\"field\":\"num\",\"issue\":\"must be true or false\"},"
		     "{\"field\":\"zero\",\"issue\":\"must be > 0\"},"
		     "{\"field\":\"neg\",\"issue\":\"must not be negative\"},"
		     "{\"field\":\"nul\",\"issue\":\"is required\"}]");
	free(s);
	cJSON_Delete(d);
	/* a non-object body means every field is missing */
	GX_CHECK(gx_valid_str(NULL, "a", true, 1, 2, v) == NULL);
	GX_CHECK(gx_verr_count(v) == 12);
	gx_verr_free(v);
	cJSON_Delete(o);
}

GX_TEST(either_spelling)
{
	cJSON *o = cJSON_Parse("{\"b\":1,\"c\":null,\"d\":2,\"e\":\"x\"}");
	cJSON *arr = cJSON_Parse("[1,2]");
	const cJSON *it;
	const char *used = NULL;

	GX_CHECK(o != NULL && arr != NULL);
	/* only b present: b, named b */
	it = gx_valid_either(o, "a", "b", &used);
	GX_CHECK(cJSON_IsNumber(it) && it->valueint == 1);
	GX_CHECK_STR(used, "b");
	/* both present: a wins, named a */
	it = gx_valid_either(o, "d", "b", &used);
	GX_CHECK(cJSON_IsNumber(it) && it->valueint == 2);
	GX_CHECK_STR(used, "d");
	it = gx_valid_either(o, "e", "d", &used);
	GX_CHECK(cJSON_IsString(it));
	GX_CHECK_STR(used, "e");
	/* neither present: NULL, named a */
	used = NULL;
	GX_CHECK(gx_valid_either(o, "a", "z", &used) == NULL);
	GX_CHECK_STR(used, "a");
	/* JSON null in a counts as absent: b is taken */
	it = gx_valid_either(o, "c", "b", &used);
	GX_CHECK(cJSON_IsNumber(it) && it->valueint == 1);
	GX_CHECK_STR(used, "b");
	/* only a JSON null b: null comes back, but the issue names a */
	it = gx_valid_either(o, "a", "c", &used);
	GX_CHECK(cJSON_IsNull(it));
	GX_CHECK_STR(used, "a");
	/* names are case-sensitive */
	GX_CHECK(gx_valid_either(o, "B", "D", &used) == NULL);
	GX_CHECK_STR(used, "B");
	/* a NULL or non-object body has no fields */
	used = NULL;
	GX_CHECK(gx_valid_either(NULL, "a", "b", &used) == NULL);
	GX_CHECK_STR(used, "a");
	GX_CHECK(gx_valid_either(arr, "a", "b", &used) == NULL);
	GX_CHECK_STR(used, "a");
	cJSON_Delete(arr);
	cJSON_Delete(o);
}

/* gx_valid_query_int(s, "n", min, max, def) on a fresh collector: the value, and whether an issue was added. */
static long long qint(const char *s, long long min, long long max, long long def, size_t *issues)
{
	struct gx_verr *v = gx_verr_new();
	long long n = gx_valid_query_int(s, "n", min, max, def, v);

	*issues = gx_verr_count(v);
	gx_verr_free(v);
	return n;
}

GX_TEST(query_int)
{
	struct gx_verr *v = gx_verr_new();
	size_t e;
	cJSON *d;
	char *s;

	/* absent: the default, silently (even a default outside the range is the caller's business) */
	GX_CHECK(qint(NULL, 0, 5, 3, &e) == 3 && e == 0);
	GX_CHECK(qint(NULL, 1, 5, -7, &e) == -7 && e == 0);
	/* in range, both ends inclusive */
	GX_CHECK(qint("4", 0, 5, 3, &e) == 4 && e == 0);
	GX_CHECK(qint("0", 0, 5, 3, &e) == 0 && e == 0);
	GX_CHECK(qint("5", 0, 5, 3, &e) == 5 && e == 0);
	GX_CHECK(qint("007", 0, 10, 3, &e) == 7 && e == 0); /* leading zeros are still plain digits */
	/* out of range */
	GX_CHECK(qint("6", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("0", 1, 5, 3, &e) == 3 && e == 1);
	/* signs, even when the value would be in range */
	GX_CHECK(qint("-1", -5, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("+1", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("-0", 0, 5, 3, &e) == 3 && e == 1);
	/* not a plain decimal */
	GX_CHECK(qint("", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint(" 1", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("1 ", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("1a", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("a1", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("0x1", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("1.0", 0, 5, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("1e1", 0, 100, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("\xd9\xa1", 0, 5, 3, &e) == 3 && e == 1); /* ARABIC-INDIC DIGIT ONE */
	/* overflow of long long is refused, not clamped */
	GX_CHECK(qint("99999999999999999999", 0, LLONG_MAX, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("9223372036854775808", 0, LLONG_MAX, 3, &e) == 3 && e == 1);
	GX_CHECK(qint("9223372036854775807", 0, LLONG_MAX, 3, &e) == LLONG_MAX && e == 0);
	GX_CHECK(qint("18446744073709551621", 0, LLONG_MAX, 3, &e) == 3 && e == 1); /* wraps to 5 as unsigned */

	/* the issue names the parameter and the range; issues accumulate */
	GX_CHECK(gx_valid_query_int("x", "page", 1, 50, 1, v) == 1);
	GX_CHECK(gx_valid_query_int("-3", "days", -10, 10, 0, v) == 0);
	GX_CHECK(gx_valid_query_int("2", "ok", 1, 50, 1, v) == 2);
	GX_CHECK(gx_verr_count(v) == 2 && gx_verr_has(v, "page") && gx_verr_has(v, "days") && !gx_verr_has(v, "ok"));
	d = gx_verr_details_json(v);
	s = cJSON_PrintUnformatted(d);
	GX_CHECK_STR(s,
		     "[{\"field\":\"page\",\"issue\":\"must be an integer from 1 to 50\"},"
		     "{\"field\":\"days\",\"issue\":\"must be an integer from -10 to 10\"}]");
	free(s);
	cJSON_Delete(d);
	gx_verr_free(v);
}

GX_TEST(paging)
{
	struct gx_verr *v = gx_verr_new();
	struct gx_valid_page pg;

	/* absent: the defaults, as numbers and as SQL text */
	memset(&pg, 0x55, sizeof(pg));
	GX_CHECK(gx_valid_paging(NULL, NULL, 100, 20, &pg, v) == 0);
	GX_CHECK(pg.limit == 20 && pg.offset == 0);
	GX_CHECK_STR(pg.limit_s, "20");
	GX_CHECK_STR(pg.offset_s, "0");
	GX_CHECK(gx_verr_count(v) == 0);
	/* bounds: limit 1..max, offset 0..GX_VALID_OFFSET_MAX */
	GX_CHECK(gx_valid_paging("1", "0", 100, 20, &pg, v) == 0 && pg.limit == 1 && pg.offset == 0);
	GX_CHECK(gx_valid_paging("100", "1000000000", 100, 20, &pg, v) == 0);
	GX_CHECK(pg.limit == 100 && pg.offset == GX_VALID_OFFSET_MAX);
	GX_CHECK_STR(pg.limit_s, "100");
	GX_CHECK_STR(pg.offset_s, "1000000000");
	GX_CHECK(gx_verr_count(v) == 0);

	/* limit 0: -1, limit falls back to the default, the good offset is kept */
	GX_CHECK(gx_valid_paging("0", "7", 100, 20, &pg, v) == -1);
	GX_CHECK(pg.limit == 20 && pg.offset == 7);
	GX_CHECK_STR(pg.limit_s, "20");
	GX_CHECK_STR(pg.offset_s, "7");
	GX_CHECK(gx_verr_count(v) == 1 && gx_verr_has(v, "limit") && !gx_verr_has(v, "offset"));
	gx_verr_free(v);

	/* one past max and one past the offset cap: both reported, both defaulted */
	v = gx_verr_new();
	GX_CHECK(gx_valid_paging("101", "1000000001", 100, 20, &pg, v) == -1);
	GX_CHECK(pg.limit == 20 && pg.offset == 0);
	GX_CHECK_STR(pg.offset_s, "0");
	GX_CHECK(gx_verr_count(v) == 2 && gx_verr_has(v, "limit") && gx_verr_has(v, "offset"));
	gx_verr_free(v);

	/* malformed and overflowing values */
	v = gx_verr_new();
	GX_CHECK(gx_valid_paging("", "-1", 100, 20, &pg, v) == -1);
	GX_CHECK(gx_verr_count(v) == 2);
	GX_CHECK(gx_valid_paging("99999999999999999999", "99999999999999999999", 100, 20, &pg, v) == -1);
	GX_CHECK(pg.limit == 20 && pg.offset == 0 && gx_verr_count(v) == 4);
	GX_CHECK(gx_valid_paging("+5", "5", 100, 20, &pg, v) == -1 && pg.limit == 20 && pg.offset == 5);
	gx_verr_free(v);

	/* -1 means "this call added issues": earlier issues in v do not make a good paging fail */
	v = gx_verr_new();
	gx_verr_add(v, "status", "bad");
	GX_CHECK(gx_valid_paging("5", "10", 100, 20, &pg, v) == 0 && pg.limit == 5 && pg.offset == 10);
	GX_CHECK_STR(pg.limit_s, "5");
	GX_CHECK_STR(pg.offset_s, "10");
	GX_CHECK(gx_verr_count(v) == 1);
	gx_verr_free(v);
}

int main(void)
{
	GX_RUN(collector_details);
	GX_RUN(email);
	GX_RUN(phone_country_hex);
	GX_RUN(utf8_and_names);
	GX_RUN(utf8_bounded);
	GX_RUN(dates_and_age);
	GX_RUN(enum_and_id);
	GX_RUN(json_getters);
	GX_RUN(either_spelling);
	GX_RUN(query_int);
	GX_RUN(paging);
	return gx_test_done();
}
