/* Unit tests for gx/fee.h: the documented fee table, parameter parsing, overflow. */
#include "gx_test.h"
#include "gx/fee.h"
#include "gx/log.h"

#include <stdint.h>

struct row {
	uint64_t amount;
	uint64_t fee;
	const char *tier;
	uint32_t bps;
};

/* The examples of docs/chaincode.md §4 with the default parameters. */
GX_TEST(default_table)
{
	static const struct row rows[] = {
		{ 0, 0, "EXEMPT", 0 },
		{ 1, 0, "EXEMPT", 0 },
		{ 1000000, 0, "EXEMPT", 0 },
		{ 1000001, 1000, "STANDARD", 10 },
		{ 1009999, 1009, "STANDARD", 10 },
		{ 100000000, 100000, "STANDARD", 10 },
		{ 10000000000ULL, 10000000, "STANDARD", 10 },
		{ 10000000999ULL, 10000000, "STANDARD", 10 },
		{ 10000001000ULL, 10000000, "CAPPED", 10 },
		{ 20000000000ULL, 10000000, "CAPPED", 10 },
	};
	struct gx_fee_params p;
	struct gx_fee_result r;

	gx_fee_params_init(&p);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		GX_CHECK(gx_fee_compute(rows[i].amount, &p, &r) == 0);
		GX_CHECK(r.fee == rows[i].fee);
		GX_CHECK_STR(r.tier, rows[i].tier);
		GX_CHECK(r.bps_applied == rows[i].bps);
		GX_CHECK(r.total == rows[i].amount + rows[i].fee);
	}
}

GX_TEST(no_cap_and_full_rate)
{
	struct gx_fee_params p;
	struct gx_fee_result r;

	gx_fee_params_init(&p);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeMaxQirat", "0") == 0);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeBps", "50") == 0);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeThreshold", "0") == 0);
	GX_CHECK(gx_fee_compute(20000000000ULL, &p, &r) == 0);
	GX_CHECK(r.fee == 100000000ULL);
	GX_CHECK_STR(r.tier, "STANDARD");
	GX_CHECK(gx_fee_compute(199, &p, &r) == 0); /* 199 * 50 / 10000 = 0.995 -> 0, rounded down */
	GX_CHECK(r.fee == 0);
	GX_CHECK_STR(r.tier, "STANDARD");
	/* a huge amount must not overflow the multiplication */
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeBps", "10000") == 0);
	GX_CHECK(gx_fee_compute(UINT64_MAX / 2, &p, &r) == 0);
	GX_CHECK(r.fee == UINT64_MAX / 2);
	GX_CHECK(r.total == (UINT64_MAX / 2) * 2);
}

GX_TEST(total_overflow_fails)
{
	struct gx_fee_params p;
	struct gx_fee_result r;

	gx_fee_params_init(&p);
	GX_CHECK(gx_fee_compute(UINT64_MAX, &p, &r) == -1);
	GX_CHECK(gx_fee_compute(UINT64_MAX - 10000000, &p, &r) == 0);
	GX_CHECK(r.total == UINT64_MAX);
	p.bps = 10001;
	GX_CHECK(gx_fee_compute(5, &p, &r) == -1);
}

GX_TEST(params_set_validates)
{
	struct gx_fee_params p;

	gx_fee_params_init(&p);
	GX_CHECK(p.bps == 10 && p.threshold == 1000000 && p.max_fee == 10000000);
	GX_CHECK(gx_fee_param_known("transactionFeeBps"));
	GX_CHECK(!gx_fee_param_known("velocityTaxRateBps"));
	GX_CHECK(!gx_fee_param_known(NULL));
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeBps", "10001") == -1);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeBps", "-1") == -1);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeBps", "") == -1);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeBps", "05") == -1);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeBps", "1.5") == -1);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeThreshold", "18446744073709551616") == -1);
	GX_CHECK(gx_fee_params_set(&p, "nope", "1") == -1);
	GX_CHECK(p.bps == 10 && p.threshold == 1000000);
	GX_CHECK(gx_fee_params_set(&p, "transactionFeeThreshold", "18446744073709551615") == 0);
	GX_CHECK(p.threshold == UINT64_MAX);
}

GX_TEST(parse_u64)
{
	uint64_t v = 7;

	GX_CHECK(gx_fee_parse_u64("0", &v) == 0 && v == 0);
	GX_CHECK(gx_fee_parse_u64("123", &v) == 0 && v == 123);
	GX_CHECK(gx_fee_parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX);
	GX_CHECK(gx_fee_parse_u64("18446744073709551616", &v) == -1);
	GX_CHECK(gx_fee_parse_u64("99999999999999999999", &v) == -1);
	GX_CHECK(gx_fee_parse_u64("+1", &v) == -1);
	GX_CHECK(gx_fee_parse_u64(" 1", &v) == -1);
	GX_CHECK(gx_fee_parse_u64("1e3", &v) == -1);
	GX_CHECK(gx_fee_parse_u64("00", &v) == -1);
	GX_CHECK(gx_fee_parse_u64(NULL, &v) == -1);
}

int main(void)
{
	gx_log_init("test_fee");
	gx_log_set_level(GX_LOG_FATAL);
	GX_RUN(default_table);
	GX_RUN(no_cap_and_full_rate);
	GX_RUN(total_overflow_fails);
	GX_RUN(params_set_validates);
	GX_RUN(parse_u64);
	return gx_test_done();
}
