/* Unit tests for gx/money.h: exact decimal parsing, JSON number recovery, formatting, basis-point multiplication. */
#include <math.h>
#include <stdint.h>

#include "gx/money.h"
#include "gx_test.h"

static uint64_t parse_ok(const char *s)
{
	const char *issue = NULL;
	uint64_t q = 0xdeadbeef;

	if (gx_money_parse(s, &q, &issue) != 0) {
		printf("#   unexpected parse failure for '%s': %s\n", s, issue);
		gx_t_cur_failed = 1;
	}
	return q;
}

static const char *parse_fail(const char *s)
{
	const char *issue = NULL;
	uint64_t q = 77;

	if (gx_money_parse(s, &q, &issue) == 0) {
		printf("#   '%s' parsed but should not have\n", s);
		gx_t_cur_failed = 1;
		return "";
	}
	GX_CHECK(q == 77);
	GX_CHECK(issue != NULL && issue[0] != '\0');
	return issue ? issue : "";
}

GX_TEST(parse_exactness_table)
{
	GX_CHECK(parse_ok("12") == 1200000);
	GX_CHECK(parse_ok("12.5") == 1250000);
	GX_CHECK(parse_ok("0.00001") == 1);
	GX_CHECK(parse_ok("0.1") == 10000);
	GX_CHECK(parse_ok("0") == 0);
	GX_CHECK(parse_ok("0.0") == 0);
	GX_CHECK(parse_ok("1.10000") == 110000);
	GX_CHECK(parse_ok("1000000000") == 100000000000000ULL); /* 1e9 coins */
	GX_CHECK(parse_ok("123456789.12345") == 12345678912345ULL);
	GX_CHECK(parse_ok("18446744073709.55161") == 1844674407370955161ULL);
	GX_CHECK(parse_ok("184467440737095.51615") == UINT64_MAX);
}

GX_TEST(parse_tiny_amounts_add_up_exactly)
{
	uint64_t sum = 0, one = parse_ok("0.00001");

	for (int i = 0; i < 100000; i++)
		sum += one;
	GX_CHECK(sum == parse_ok("1"));
	GX_CHECK(sum == GX_QIRAT_PER_COIN);
}

GX_TEST(parse_rejections)
{
	GX_CHECK_STR(parse_fail("184467440737095.51616"), "is too large");
	GX_CHECK_STR(parse_fail("999999999999999999999"), "is too large");
	GX_CHECK_STR(parse_fail("0.000001"), "must have at most 5 decimals");
	GX_CHECK_STR(parse_fail("-1"), "must not be negative");
	parse_fail("1e3");
	parse_fail("1E3");
	parse_fail("+1");
	parse_fail(" 1");
	parse_fail("1 ");
	parse_fail("");
	parse_fail(".5");
	parse_fail("5.");
	parse_fail("1.2.3");
	parse_fail("1,5");
	parse_fail("0x10");
	parse_fail("NaN");
	parse_fail("inf");
	parse_fail(NULL);
}

static int json_amount(const char *json, uint64_t *q, const char **issue)
{
	cJSON *v = cJSON_Parse(json);
	int rc;

	GX_CHECK(v != NULL);
	rc = gx_money_from_json(v, q, issue);
	cJSON_Delete(v);
	return rc;
}

GX_TEST(json_numbers_and_strings)
{
	const char *issue = NULL;
	uint64_t q = 0;

	GX_CHECK(json_amount("0.1", &q, &issue) == 0 && q == 10000);
	GX_CHECK(json_amount("0.00001", &q, &issue) == 0 && q == 1);
	GX_CHECK(json_amount("123456789.12345", &q, &issue) == 0 && q == 12345678912345ULL);
	GX_CHECK(json_amount("1e3", &q, &issue) == 0 && q == 100000000ULL); /* a JSON number may use an exponent */
	GX_CHECK(json_amount("1000000000", &q, &issue) == 0 && q == 100000000000000ULL);
	GX_CHECK(json_amount("2.50", &q, &issue) == 0 && q == 250000);
	GX_CHECK(json_amount("0", &q, &issue) == 0 && q == 0);
	GX_CHECK(json_amount("\"12.5\"", &q, &issue) == 0 && q == 1250000);
	GX_CHECK(json_amount("\"0.00001\"", &q, &issue) == 0 && q == 1);
}

GX_TEST(json_rejections)
{
	const char *issue = NULL;
	uint64_t q = 0;

	GX_CHECK(json_amount("0.000001", &q, &issue) == -1);
	GX_CHECK_STR(issue, "must have at most 5 decimals");
	GX_CHECK(json_amount("0.30000000000000004", &q, &issue) == -1);
	GX_CHECK_STR(issue, "too many digits; send the amount as a string");
	GX_CHECK(json_amount("12345678901234567", &q, &issue) == -1);
	GX_CHECK_STR(issue, "too many digits; send the amount as a string");
	GX_CHECK(json_amount("-1", &q, &issue) == -1);
	GX_CHECK_STR(issue, "must not be negative");
	GX_CHECK(json_amount("1e300", &q, &issue) == -1);
	GX_CHECK_STR(issue, "is too large");
	GX_CHECK(json_amount("\"1e3\"", &q, &issue) == -1);
	GX_CHECK(json_amount("\"-1\"", &q, &issue) == -1);
	GX_CHECK(json_amount("true", &q, &issue) == -1);
	GX_CHECK(json_amount("null", &q, &issue) == -1);
	GX_CHECK(json_amount("[1]", &q, &issue) == -1);
}

GX_TEST(json_nan_and_infinity)
{
	const char *issue = NULL;
	uint64_t q = 0;
	cJSON *v = cJSON_CreateNumber(0);

	cJSON_SetNumberValue(v, INFINITY);
	GX_CHECK(gx_money_from_json(v, &q, &issue) == -1);
	cJSON_SetNumberValue(v, NAN);
	GX_CHECK(gx_money_from_json(v, &q, &issue) == -1);
	GX_CHECK(gx_money_from_json(NULL, &q, &issue) == -1);
	cJSON_Delete(v);
}

GX_TEST(format_canonical)
{
	char out[GX_MONEY_FMT_LEN];

	gx_money_format(1000000, out);
	GX_CHECK_STR(out, "10");
	gx_money_format(1, out);
	GX_CHECK_STR(out, "0.00001");
	gx_money_format(150000, out);
	GX_CHECK_STR(out, "1.5");
	gx_money_format(0, out);
	GX_CHECK_STR(out, "0");
	gx_money_format(12345678912345ULL, out);
	GX_CHECK_STR(out, "123456789.12345");
	gx_money_format(UINT64_MAX, out);
	GX_CHECK_STR(out, "184467440737095.51615");
	/* format and parse are inverse */
	for (uint64_t v = 0; v < 300000; v += 7919) {
		gx_money_format(v, out);
		GX_CHECK(parse_ok(out) == v);
	}
}

GX_TEST(mul_bps_exact)
{
	uint64_t out = 0;

	GX_CHECK(gx_money_mul_bps(10000000, 25, &out) == 0 && out == 25000); /* 0.25 % of 100 coins */
	GX_CHECK(gx_money_mul_bps(399, 25, &out) == 0 && out == 0);          /* rounds down */
	GX_CHECK(gx_money_mul_bps(400, 25, &out) == 0 && out == 1);
	GX_CHECK(gx_money_mul_bps(UINT64_MAX, 10000, &out) == 0 && out == UINT64_MAX);
	GX_CHECK(gx_money_mul_bps(UINT64_MAX, 5000, &out) == 0 && out == UINT64_MAX / 2);
	out = 42;
	GX_CHECK(gx_money_mul_bps(UINT64_MAX, 10001, &out) == -1 && out == 42);
	GX_CHECK(gx_money_mul_bps(UINT64_MAX / 2, UINT32_MAX, &out) == -1);
	GX_CHECK(gx_money_mul_bps(0, UINT32_MAX, &out) == 0 && out == 0);
}

/* The original's JSON number: the double nearest the exact decimal, printed as JS would print it. */
GX_TEST(add_number_as_the_original_sends_it)
{
	static const struct {
		uint64_t qirat;
		const char *json;
	} cases[] = {
		{ 0, "{\"b\":0}" },
		{ 125050000, "{\"b\":1250.5}" },
		{ 100000, "{\"b\":1}" },
		{ 12345, "{\"b\":0.12345}" },
		{ 9007199254740993ULL, "{\"b\":90071992547.40993}" },
		{ UINT64_MAX, "{\"b\":184467440737095.53}" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *o = cJSON_CreateObject();
		char *s;

		GX_CHECK(gx_money_add_number(o, "b", cases[i].qirat) == 0);
		s = cJSON_PrintUnformatted(o);
		GX_CHECK_STR(s, cases[i].json);
		cJSON_free(s);
		cJSON_Delete(o);
	}
}

int main(void)
{
	GX_RUN(parse_exactness_table);
	GX_RUN(parse_tiny_amounts_add_up_exactly);
	GX_RUN(parse_rejections);
	GX_RUN(json_numbers_and_strings);
	GX_RUN(json_rejections);
	GX_RUN(json_nan_and_infinity);
	GX_RUN(format_canonical);
	GX_RUN(mul_bps_exact);
	GX_RUN(add_number_as_the_original_sends_it);
	return gx_test_done();
}
