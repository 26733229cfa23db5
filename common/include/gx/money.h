/* Exact conversion between decimal coin amounts and integer Qirat (design.md §5).
 *
 * 1 coin = 100,000 Qirat, stored as uint64_t. APIs accept coins as decimal strings ("12", "12.5", "0.00001") or
 * JSON numbers with at most 5 decimals; nothing here goes through floating-point arithmetic except recovering the
 * literal a JSON number was written as. Zero is a valid amount here: whether 0 is allowed is the caller's rule.
 *
 * Every failure sets *issue to a static, client-safe sentence suitable for a VALIDATION_FAILED details entry
 * ("must have at most 5 decimals"); these functions do not log, since bad input is the client's error.
 */
#ifndef GX_MONEY_H
#define GX_MONEY_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "gx/util.h"

#define GX_QIRAT_PER_COIN 100000ULL
#define GX_MONEY_DECIMALS 5
/* Room for the longest formatted amount ("184467440737095.51615") plus NUL, rounded up. */
#define GX_MONEY_FMT_LEN 32

/* Parse the exact decimal s (borrowed): digits, optionally '.' and 1..5 more digits. Rejected: empty, sign,
 * exponent, whitespace, a leading or trailing '.', more than 5 decimals, a value above UINT64_MAX Qirat.
 * Returns 0 with *qirat set, or -1 with *issue set (static string). */
int gx_money_parse(const char *s, uint64_t *qirat, const char **issue) GX_MUSTCHECK;

/* Convert a JSON value (borrowed) to Qirat. A string is parsed exactly as gx_money_parse. A number is taken as the
 * shortest decimal literal that reads back as the same double, which must have at most 15 significant digits
 * (otherwise the issue is "too many digits; send the amount as a string") and at most 5 decimals. Negative, NaN,
 * infinite, and non-string non-number values are rejected. Returns 0 or -1 with *issue set (static string). */
int gx_money_from_json(const cJSON *v, uint64_t *qirat, const char **issue) GX_MUSTCHECK;

/* Canonical decimal coin string of qirat into out: no exponent, no trailing zeros, no trailing '.'
 * (100000 -> "1", 150000 -> "1.5", 1 -> "0.00001", 0 -> "0"). */
void gx_money_format(uint64_t qirat, char out[GX_MONEY_FMT_LEN]);

/* The coin amount as the original backend sent it: a JSON number, the double nearest to the exact decimal (what JS
 * Number() of the canonical text gives; exact up to 2^53 Qirat, rounded beyond). Clients that need every digit read
 * the exact integer-Qirat string sent beside it. Adds obj[name] as raw JSON text (for replies; obj borrowed).
 * Returns 0, or -1 when cJSON is out of memory (logged). */
int gx_money_add_number(cJSON *obj, const char *name, uint64_t qirat);

/* *out = floor(amount * bps / 10000), computed exactly with a 128-bit intermediate (1 bps = 0.01 %).
 * The result is rounded down, so a fee never exceeds its exact rate. Returns 0, or -1 when the result does not
 * fit in uint64_t (*out untouched). Does not log. */
int gx_money_mul_bps(uint64_t amount, uint32_t bps, uint64_t *out) GX_MUSTCHECK;

#endif
