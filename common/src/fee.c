/* The transaction-fee rule of docs/chaincode.md: threshold exemption, basis points, optional cap, exact integers. */
#include "gx/fee.h"
#include "gx/log.h"
#include "gx/money.h"

#include <string.h>

void gx_fee_params_init(struct gx_fee_params *p)
{
	p->bps = GX_FEE_DEFAULT_BPS;
	p->threshold = GX_FEE_DEFAULT_THRESHOLD;
	p->max_fee = GX_FEE_DEFAULT_MAX;
}

bool gx_fee_param_known(const char *name)
{
	return name && (!strcmp(name, GX_FEE_PARAM_BPS) || !strcmp(name, GX_FEE_PARAM_THRESHOLD) ||
			!strcmp(name, GX_FEE_PARAM_MAX));
}

int gx_fee_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n;

	if (!s)
		return -1;
	n = strlen(s);
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int gx_fee_params_set(struct gx_fee_params *p, const char *name, const char *value)
{
	uint64_t v;

	if (!gx_fee_param_known(name)) {
		gx_log_error("unknown fee parameter '%s'", name ? name : "(null)");
		return -1;
	}
	if (gx_fee_parse_u64(value, &v) < 0 || (!strcmp(name, GX_FEE_PARAM_BPS) && v > GX_FEE_MAX_BPS)) {
		gx_log_error("invalid value for fee parameter '%s'", name);
		return -1;
	}
	if (!strcmp(name, GX_FEE_PARAM_BPS))
		p->bps = (uint32_t)v;
	else if (!strcmp(name, GX_FEE_PARAM_THRESHOLD))
		p->threshold = v;
	else
		p->max_fee = v;
	return 0;
}

int gx_fee_compute(uint64_t amount_qirat, const struct gx_fee_params *p, struct gx_fee_result *out)
{
	uint64_t fee;

	if (p->bps > GX_FEE_MAX_BPS)
		return -1;
	if (amount_qirat <= p->threshold) {
		out->fee = 0;
		out->tier = "EXEMPT";
		out->bps_applied = 0;
	} else {
		/* bps <= 10000, so the quotient is at most amount and always fits */
		if (gx_money_mul_bps(amount_qirat, p->bps, &fee) < 0)
			return -1;
		out->tier = "STANDARD";
		out->bps_applied = p->bps;
		if (p->max_fee > 0 && fee > p->max_fee) {
			fee = p->max_fee;
			out->tier = "CAPPED";
		}
		out->fee = fee;
	}
	if (__builtin_add_overflow(amount_qirat, out->fee, &out->total))
		return -1;
	return 0;
}
