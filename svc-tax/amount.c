/* svc-tax amount formatting: coins and Qirat strings, Qirat and coins as the JSON numbers the original sent, coins
 * to 2 decimals as JavaScript's toFixed(2), basis points as exact percentages. */
#include <math.h>
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

void amount_add_qirat_number(cJSON *obj, const char *name, uint64_t qirat)
{
	char text[32];

	/* JavaScript prints an integer below 1e21 with all its digits; above 2^53 it is the nearest double's */
	snprintf(text, sizeof(text), "%.0f", (double)qirat);
	cJSON_AddRawToObject(obj, name, text);
}

void amount_add_qirat(cJSON *obj, const char *name, uint64_t qirat)
{
	char key[48], coins[GX_MONEY_FMT_LEN], digits[24];

	amount_add_qirat_number(obj, name, qirat);
	snprintf(digits, sizeof(digits), "%llu", (unsigned long long)qirat);
	snprintf(key, sizeof(key), "%sQirat", name);
	cJSON_AddStringToObject(obj, key, digits);
	gx_money_format(qirat, coins);
	snprintf(key, sizeof(key), "%sCoins", name);
	cJSON_AddStringToObject(obj, key, coins);
}

void amount_fixed2(uint64_t qirat, char *out, size_t outlen)
{
	/* toFixed(2) of the double x = qirat / 100000: the n with n / 100 - x nearest to zero, the larger on a tie.
	 * x * 100 is exact in long double (53 + 7 bits), so the rounding is the double's, as in JavaScript. */
	double x = (double)qirat / 100000.0;
	long double n = floorl((long double)x * 100.0L + 0.5L);
	unsigned long long c = (unsigned long long)n;

	snprintf(out, outlen, "%llu.%02llu", c / 100, c % 100);
}
