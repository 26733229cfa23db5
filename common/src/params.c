/* The table of changeable system parameters and their ranges (docs/chaincode.md §5). */
#include <string.h>

#include "gx/params.h"
#include "gx/util.h"

static const struct gx_params_rule RULES[] = {
	{ "transactionFeeBps", 0, 10000 },
	{ "transactionFeeThreshold", 0, UINT64_MAX },
	{ "transactionFeeMaxQirat", 0, UINT64_MAX },
	{ "velocityTaxRateBps", 0, 10000 },
	{ "velocityTaxMinimumBalance", 0, UINT64_MAX },
	{ "velocityTaxDormancyDays", 0, 36500 },
	{ "genesisTier1Amount", 0, UINT64_MAX },
	{ "genesisTier2Amount", 0, UINT64_MAX },
	{ "genesisTier3Amount", 0, UINT64_MAX },
	{ "loanMinimumAmount", 1, UINT64_MAX },
	{ "loanMaximumAmount", 1, UINT64_MAX },
	{ "governanceVotingPeriodSeconds", 1, 31536000 },
	{ "governanceQuorumPercentage", 0, 100 },
	{ "governanceApprovalThreshold", 1, 100 },
	{ "orgDefaultThreshold", 1, 20 },
	{ "genesisUserPoolAmount", 0, UINT64_MAX },
	{ "genesisGovtPoolAmount", 0, UINT64_MAX },
	{ "loanPoolAmount", 0, UINT64_MAX },
	{ "totalSupplyCap", 1, UINT64_MAX },
};

const struct gx_params_rule *gx_params_find(const char *key)
{
	for (size_t i = 0; key && i < GX_ARRAY_LEN(RULES); i++)
		if (strcmp(RULES[i].key, key) == 0)
			return &RULES[i];
	return NULL;
}
