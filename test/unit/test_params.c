/* Unit tests for gx/params.h: the changeable system parameters and their ranges, checked against the table of
 * docs/chaincode.md §5 and against the defaults the migrations seed. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include "gx/fee.h"
#include "gx/migrate.h"
#include "gx/params.h"
#include "gx_test.h"

/* docs/chaincode.md §5, row by row: key, documented default, range ("0.." means up to UINT64_MAX). */
static const struct {
	const char *key;
	uint64_t def, min, max;
} DOC[] = {
	{ "transactionFeeBps", 10, 0, 10000 },
	{ "transactionFeeThreshold", 1000000, 0, UINT64_MAX },
	{ "transactionFeeMaxQirat", 10000000, 0, UINT64_MAX },
	{ "velocityTaxRateBps", 300, 0, 10000 },
	{ "velocityTaxMinimumBalance", 10000000, 0, UINT64_MAX },
	{ "velocityTaxDormancyDays", 360, 0, 36500 },
	{ "genesisTier1Amount", 10000000, 0, UINT64_MAX },
	{ "genesisTier2Amount", 50000000, 0, UINT64_MAX },
	{ "genesisTier3Amount", 100000000, 0, UINT64_MAX },
	{ "loanMinimumAmount", 10000000, 1, UINT64_MAX },
	{ "loanMaximumAmount", 100000000000ULL, 1, UINT64_MAX },
	{ "governanceVotingPeriodSeconds", 1209600, 1, 31536000 },
	{ "governanceQuorumPercentage", 10, 0, 100 },
	{ "governanceApprovalThreshold", 66, 1, 100 },
	{ "orgDefaultThreshold", 2, 1, 20 },
	{ "genesisUserPoolAmount", 5000000000000000ULL, 0, UINT64_MAX },
	{ "genesisGovtPoolAmount", 5000000000000000ULL, 0, UINT64_MAX },
	{ "loanPoolAmount", 1000000000000000ULL, 0, UINT64_MAX },
	{ "totalSupplyCap", 21000000000000000ULL, 1, UINT64_MAX },
};
#define NDOC (sizeof(DOC) / sizeof(DOC[0]))

/* The check svc-admin and svc-governance apply to a value: canonical unsigned decimal within the key's range. */
static bool value_ok(const char *key, const char *value)
{
	const struct gx_params_rule *r = gx_params_find(key);
	uint64_t n;

	return r && gx_fee_parse_u64(value, &n) == 0 && n >= r->min && n <= r->max;
}

GX_TEST(documented_ranges)
{
	for (size_t i = 0; i < NDOC; i++) {
		const struct gx_params_rule *r = gx_params_find(DOC[i].key);

		GX_CHECK(r != NULL);
		if (!r) {
			printf("#   missing key %s\n", DOC[i].key);
			continue;
		}
		GX_CHECK_STR(r->key, DOC[i].key);
		if (r->min != DOC[i].min || r->max != DOC[i].max) {
			printf("#   %s: %" PRIu64 "..%" PRIu64 ", documented %" PRIu64 "..%" PRIu64 "\n", r->key,
			       r->min, r->max, DOC[i].min, DOC[i].max);
			GX_CHECK(r->min == DOC[i].min && r->max == DOC[i].max);
		}
		GX_CHECK(r->min <= DOC[i].def && DOC[i].def <= r->max);
		GX_CHECK(r == gx_params_find(DOC[i].key)); /* static storage: the same row each time */
	}
	/* spot checks spelled out, so a wrong table row and a wrong DOC row cannot agree by accident */
	GX_CHECK(gx_params_find("transactionFeeBps")->max == 10000);
	GX_CHECK(gx_params_find("velocityTaxDormancyDays")->max == 36500);
	GX_CHECK(gx_params_find("governanceVotingPeriodSeconds")->min == 1);
	GX_CHECK(gx_params_find("governanceVotingPeriodSeconds")->max == 365ULL * 24 * 3600);
	GX_CHECK(gx_params_find("governanceQuorumPercentage")->min == 0);
	GX_CHECK(gx_params_find("governanceApprovalThreshold")->min == 1);
	GX_CHECK(gx_params_find("orgDefaultThreshold")->max == 20);
	GX_CHECK(gx_params_find("totalSupplyCap")->min == 1 && gx_params_find("totalSupplyCap")->max == UINT64_MAX);
}

GX_TEST(unknown_keys)
{
	GX_CHECK(gx_params_find(NULL) == NULL);
	GX_CHECK(gx_params_find("") == NULL);
	GX_CHECK(gx_params_find("nope") == NULL);
	GX_CHECK(gx_params_find("transactionfeebps") == NULL); /* case-sensitive */
	GX_CHECK(gx_params_find("TransactionFeeBps") == NULL);
	GX_CHECK(gx_params_find("transactionFee") == NULL);     /* a prefix is not a key */
	GX_CHECK(gx_params_find("transactionFeeBpsX") == NULL); /* nor a longer name */
	GX_CHECK(gx_params_find("transactionFeeBps ") == NULL);
	GX_CHECK(gx_params_find(" transactionFeeBps") == NULL);
	GX_CHECK(gx_params_find("paramKey") == NULL);
	GX_CHECK(gx_params_find("systemPaused") == NULL); /* chain state, not a changeable parameter */
}

GX_TEST(value_bounds)
{
	/* inclusive at both ends, one past each end refused */
	GX_CHECK(value_ok("transactionFeeBps", "0"));
	GX_CHECK(value_ok("transactionFeeBps", "10000"));
	GX_CHECK(!value_ok("transactionFeeBps", "10001"));
	GX_CHECK(value_ok("velocityTaxDormancyDays", "36500"));
	GX_CHECK(!value_ok("velocityTaxDormancyDays", "36501"));
	GX_CHECK(!value_ok("governanceVotingPeriodSeconds", "0"));
	GX_CHECK(value_ok("governanceVotingPeriodSeconds", "1"));
	GX_CHECK(value_ok("governanceVotingPeriodSeconds", "31536000"));
	GX_CHECK(!value_ok("governanceVotingPeriodSeconds", "31536001"));
	GX_CHECK(value_ok("governanceQuorumPercentage", "0"));
	GX_CHECK(value_ok("governanceQuorumPercentage", "100"));
	GX_CHECK(!value_ok("governanceQuorumPercentage", "101"));
	GX_CHECK(!value_ok("governanceApprovalThreshold", "0"));
	GX_CHECK(value_ok("governanceApprovalThreshold", "1"));
	GX_CHECK(!value_ok("orgDefaultThreshold", "0"));
	GX_CHECK(value_ok("orgDefaultThreshold", "20"));
	GX_CHECK(!value_ok("orgDefaultThreshold", "21"));
	GX_CHECK(!value_ok("loanMinimumAmount", "0"));
	GX_CHECK(!value_ok("totalSupplyCap", "0"));
	/* the open-ended ranges reach exactly UINT64_MAX and no further */
	GX_CHECK(value_ok("totalSupplyCap", "18446744073709551615"));
	GX_CHECK(value_ok("loanPoolAmount", "18446744073709551615"));
	GX_CHECK(!value_ok("loanPoolAmount", "18446744073709551616"));
	GX_CHECK(!value_ok("loanPoolAmount", "99999999999999999999"));
	/* not canonical: sign, blanks, leading zero, decimals, empty */
	GX_CHECK(!value_ok("transactionFeeBps", "-1"));
	GX_CHECK(!value_ok("transactionFeeBps", "+1"));
	GX_CHECK(!value_ok("transactionFeeBps", " 1"));
	GX_CHECK(!value_ok("transactionFeeBps", "01"));
	GX_CHECK(!value_ok("transactionFeeBps", "1.0"));
	GX_CHECK(!value_ok("transactionFeeBps", ""));
	/* a good value for an unknown key */
	GX_CHECK(!value_ok("nope", "1"));
}

/* The next quoted string of s after p (copied into out, at most n-1 bytes), or NULL when there is none. */
static const char *next_quoted(const char *p, char *out, size_t n)
{
	const char *a = strchr(p, '\''), *b;

	if (!a || !(b = strchr(a + 1, '\'')) || (size_t)(b - a - 1) >= n)
		return NULL;
	memcpy(out, a + 1, (size_t)(b - a - 1));
	out[b - a - 1] = '\0';
	return b + 1;
}

GX_TEST(seeded_defaults_in_range)
{
	size_t nfiles, seeded = 0;
	const struct gx_migrate_file *f = gx_migrate_files(&nfiles);
	const char *sql = NULL, *p;
	char key[64], value[32];
	uint64_t n;

	for (size_t i = 0; i < nfiles; i++)
		if (strstr(f[i].name, "system_parameters"))
			sql = f[i].sql;
	GX_CHECK(sql != NULL);
	if (!sql)
		return;
	/* rows look like ('default', 'key', 'value', 'description') */
	for (p = strstr(sql, "('default', "); p; p = strstr(p, "('default', ")) {
		p += strlen("('default',");
		if (!(p = next_quoted(p, key, sizeof(key))) || !(p = next_quoted(p, value, sizeof(value)))) {
			GX_CHECK(!"malformed seed row");
			break;
		}
		seeded++;
		if (!value_ok(key, value)) {
			printf("#   seeded %s = %s is not a valid value\n", key, value);
			GX_CHECK(value_ok(key, value));
		}
		for (size_t i = 0; i < NDOC; i++)
			if (strcmp(DOC[i].key, key) == 0)
				GX_CHECK(gx_fee_parse_u64(value, &n) == 0 && n == DOC[i].def);
	}
	GX_CHECK(seeded == NDOC);
}

int main(void)
{
	GX_RUN(documented_ranges);
	GX_RUN(unknown_keys);
	GX_RUN(value_bounds);
	GX_RUN(seeded_defaults_in_range);
	return gx_test_done();
}
