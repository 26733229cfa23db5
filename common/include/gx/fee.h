/* The one transaction-fee rule (docs/chaincode.md "Fee rule"), shared by svc-tax and the chaincode model.
 *
 * All amounts are integer Qirat (1 coin = 100,000 Qirat). With amount A and parameters
 * transactionFeeBps B, transactionFeeThreshold T, transactionFeeMaxQirat M:
 *   A <= T            -> fee 0, tier "EXEMPT", bps applied 0
 *   otherwise          -> fee = floor(A * B / 10000), tier "STANDARD", bps applied B
 *   M > 0 and fee > M -> fee = M, tier "CAPPED"
 *   total = A + fee (the sender pays the fee on top of the amount).
 * Math is exact 128-bit integer arithmetic; total overflowing uint64 is an error.
 */
#ifndef GX_FEE_H
#define GX_FEE_H

#include <stdbool.h>
#include <stdint.h>

/* Defaults, used when no SystemParameter row / chain parameter overrides them. */
#define GX_FEE_DEFAULT_BPS 10u
#define GX_FEE_DEFAULT_THRESHOLD 1000000u
#define GX_FEE_DEFAULT_MAX 10000000u
#define GX_FEE_MAX_BPS 10000u

/* Parameter names as stored in SystemParameter."paramKey" and in chain state. */
#define GX_FEE_PARAM_BPS "transactionFeeBps"
#define GX_FEE_PARAM_THRESHOLD "transactionFeeThreshold"
#define GX_FEE_PARAM_MAX "transactionFeeMaxQirat"

struct gx_fee_params {
	uint32_t bps;       /* basis points, 0..10000 */
	uint64_t threshold; /* amounts <= threshold pay no fee */
	uint64_t max_fee;   /* cap on the fee; 0 = no cap */
};

struct gx_fee_result {
	uint64_t fee;
	uint64_t total;       /* amount + fee */
	const char *tier;     /* "EXEMPT", "STANDARD" or "CAPPED"; static string */
	uint32_t bps_applied; /* 0 when EXEMPT, else the bps parameter */
};

/* Fill p with the documented defaults. */
void gx_fee_params_init(struct gx_fee_params *p);

/* True when name is one of the fee parameter names above (callers loading SystemParameter rows skip the others). */
bool gx_fee_param_known(const char *name);

/* Set one parameter from its stored decimal string (digits only, range-checked: bps 0..10000, the others uint64).
 * Returns 0, or -1 (logged) for an unknown name or an invalid value; p is unchanged then. Borrowed arguments. */
int gx_fee_params_set(struct gx_fee_params *p, const char *name, const char *value);

/* Parse a canonical unsigned decimal ("0" or no leading zero, 1..20 digits, <= UINT64_MAX). Returns 0 or -1 (not
 * logged: callers turn it into their own 400). */
int gx_fee_parse_u64(const char *s, uint64_t *out);

/* Compute the fee for amount_qirat. Returns 0, or -1 (not logged, input error) when amount + fee overflows uint64
 * or the parameters are out of range. out->tier points to a static string. */
int gx_fee_compute(uint64_t amount_qirat, const struct gx_fee_params *p, struct gx_fee_result *out);

#endif
