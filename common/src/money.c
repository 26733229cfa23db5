/* Decimal coin amounts <-> integer Qirat, exactly: string parsing, JSON number literal recovery, formatting. */
#include "gx/money.h"
#include "gx/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest number of significant digits a double carries exactly through a decimal round trip. */
#define MONEY_MAX_SIG_DIGITS 15

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* acc = acc * 10 + d, or false on overflow. */
static bool mul10_add(uint64_t *acc, unsigned d)
{
	if (*acc > (UINT64_MAX - d) / 10)
		return false;
	*acc = *acc * 10 + d;
	return true;
}

int gx_money_parse(const char *s, uint64_t *qirat, const char **issue)
{
	uint64_t v = 0;
	size_t i = 0, ndec = 0;

	if (!s || !*s) {
		*issue = "must be a non-empty decimal amount";
		return -1;
	}
	if (*s == '-') {
		*issue = "must not be negative";
		return -1;
	}
	if (!is_digit(*s)) {
		*issue = "must be a plain decimal number such as \"12.5\"";
		return -1;
	}
	for (; is_digit(s[i]); i++) {
		if (!mul10_add(&v, (unsigned)(s[i] - '0')))
			goto too_large;
	}
	if (s[i] == '.') {
		i++;
		if (!is_digit(s[i])) {
			*issue = "must have digits after the decimal point";
			return -1;
		}
		for (; is_digit(s[i]); i++, ndec++) {
			if (ndec == GX_MONEY_DECIMALS) {
				*issue = "must have at most 5 decimals";
				return -1;
			}
			if (!mul10_add(&v, (unsigned)(s[i] - '0')))
				goto too_large;
		}
	}
	if (s[i] != '\0') {
		*issue = "must be a plain decimal number such as \"12.5\"";
		return -1;
	}
	for (; ndec < GX_MONEY_DECIMALS; ndec++) {
		if (!mul10_add(&v, 0))
			goto too_large;
	}
	*qirat = v;
	return 0;
too_large:
	*issue = "is too large";
	return -1;
}

/* Qirat value of D * 10^exp10 coins, where D is the decimal digit string digits (at most 17 digits). */
static int money_from_scaled(const char *digits, int exp10, uint64_t *qirat, const char **issue)
{
	uint64_t d = 0;
	size_t nd = strlen(digits);
	int k;

	/* trailing zeros of the mantissa move into the exponent so "1.50000e+00" is not mistaken for 5 decimals */
	while (nd > 1 && digits[nd - 1] == '0') {
		nd--;
		exp10++;
	}
	for (size_t i = 0; i < nd; i++)
		d = d * 10 + (uint64_t)(digits[i] - '0');
	if (d == 0) {
		*qirat = 0;
		return 0;
	}
	k = exp10 + GX_MONEY_DECIMALS;
	if (k < 0) {
		*issue = "must have at most 5 decimals";
		return -1;
	}
	for (; k > 0; k--) {
		if (!mul10_add(&d, 0)) {
			*issue = "is too large";
			return -1;
		}
	}
	*qirat = d;
	return 0;
}

/* The shortest "%.*e" rendering of x that strtod reads back as x: that is the literal the client most likely
 * wrote. Splits it into its significant digits and the power of ten of the last digit. Returns the digit count
 * (1..17), or -1 if the rendering is not the expected "d.ddde[+-]XX". */
static int money_shortest_literal(double x, char digits[24], int *exp10)
{
	char buf[40] = "";
	int prec, e, n = 0;
	char *p;

	/* 17 significant digits (precision 16) always round-trip a double */
	for (prec = 0; prec <= 16; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	for (p = buf; *p && *p != 'e' && n < 23; p++) {
		if (is_digit(*p))
			digits[n++] = *p;
	}
	digits[n] = '\0';
	if (*p != 'e' || n == 0)
		return -1;
	e = (int)strtol(p + 1, NULL, 10);
	*exp10 = e - (n - 1);
	return n;
}

int gx_money_from_json(const cJSON *v, uint64_t *qirat, const char **issue)
{
	char digits[24];
	int exp10, ndig;
	double x;

	if (cJSON_IsString(v))
		return gx_money_parse(v->valuestring, qirat, issue);
	if (!cJSON_IsNumber(v)) {
		*issue = "must be a decimal string or a number";
		return -1;
	}
	x = v->valuedouble;
	if (!isfinite(x)) {
		*issue = "must be a finite number";
		return -1;
	}
	if (signbit(x) && x != 0) {
		*issue = "must not be negative";
		return -1;
	}
	if (x == 0) {
		*qirat = 0;
		return 0;
	}
	ndig = money_shortest_literal(x, digits, &exp10);
	if (ndig < 0) {
		*issue = "must be a plain decimal number such as \"12.5\"";
		return -1;
	}
	if (ndig > MONEY_MAX_SIG_DIGITS) {
		*issue = "too many digits; send the amount as a string";
		return -1;
	}
	return money_from_scaled(digits, exp10, qirat, issue);
}

void gx_money_format(uint64_t qirat, char out[GX_MONEY_FMT_LEN])
{
	uint64_t whole = qirat / GX_QIRAT_PER_COIN, frac = qirat % GX_QIRAT_PER_COIN;
	int n;

	if (frac == 0) {
		snprintf(out, GX_MONEY_FMT_LEN, "%llu", (unsigned long long)whole);
		return;
	}
	n = snprintf(out, GX_MONEY_FMT_LEN, "%llu.%05llu", (unsigned long long)whole, (unsigned long long)frac);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
}

/* Significant digits of a canonical coin string (no sign, no exponent). */
static int significant_digits(const char *s)
{
	int n = 0;

	while (*s == '0' || *s == '.')
		s++;
	for (; *s; s++)
		if (*s != '.')
			n++;
	return n;
}

int gx_money_add_number(cJSON *obj, const char *name, uint64_t qirat)
{
	char coins[GX_MONEY_FMT_LEN], shortest[40];
	double d;

	gx_money_format(qirat, coins);
	d = strtod(coins, NULL);
	/* Up to 15 significant digits the decimal survives the double, so its text is JS's shortest text too;
	 * beyond, print the fewest digits that read back as the same double, as JS does. */
	if (significant_digits(coins) <= 15) {
		snprintf(shortest, sizeof(shortest), "%s", coins);
	} else {
		for (int prec = 16; prec <= 17; prec++) {
			snprintf(shortest, sizeof(shortest), "%.*g", prec, d);
			if (strtod(shortest, NULL) == d)
				break;
		}
	}
	if (!cJSON_AddRawToObject(obj, name, shortest)) {
		gx_log_error("money: out of memory adding %s", name);
		return -1;
	}
	return 0;
}

int gx_money_mul_bps(uint64_t amount, uint32_t bps, uint64_t *out)
{
	__extension__ unsigned __int128 r = (unsigned __int128)amount * bps / 10000u;

	if (r > UINT64_MAX)
		return -1;
	*out = (uint64_t)r;
	return 0;
}
