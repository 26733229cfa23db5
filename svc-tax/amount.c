/* svc-tax amount formatting: coins and Qirat strings, basis points as exact percentages (no floating point). */
#include <stdio.h>
#include <string.h>

#include "gx/money.h"
#include "tax.h"

void amount_add(cJSON *obj, const char *name, const char *name_qirat, uint64_t qirat)
{
	char coins[GX_MONEY_FMT_LEN];
	char digits[24];

	gx_money_format(qirat, coins);
	cJSON_AddStringToObject(obj, name, coins);
	if (name_qirat) {
		snprintf(digits, sizeof(digits), "%llu", (unsigned long long)qirat);
		cJSON_AddStringToObject(obj, name_qirat, digits);
	}
}

void amount_percent(uint32_t bps, char *out, size_t outlen)
{
	size_t n;

	snprintf(out, outlen, "%u.%02u", bps / 100, bps % 100);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
}
