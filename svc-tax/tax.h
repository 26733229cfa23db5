/* svc-tax private declarations: configuration, service and per-worker state, handlers and shared helpers. */
#ifndef TAX_H
#define TAX_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "gx/api.h"
#include "gx/fee.h"
#include "gx/pg.h"

/* Velocity-tax parameters (docs/chaincode.md §5): names in "SystemParameter" and their defaults. */
#define TAX_PARAM_RATE "velocityTaxRateBps"
#define TAX_PARAM_MIN_BALANCE "velocityTaxMinimumBalance"
#define TAX_PARAM_DORMANCY "velocityTaxDormancyDays"
#define TAX_DEFAULT_RATE_BPS 300u
#define TAX_DEFAULT_MIN_BALANCE 10000000u
#define TAX_DEFAULT_DORMANCY_DAYS 360u
#define TAX_MAX_DORMANCY_DAYS 36500u

/* Configuration rows of svc-tax (main.c). */
struct tax_cfg {
	long long fee_params_ttl_ms; /* FEE_PARAMS_CACHE: how long a worker reuses the fee parameters it loaded */
};

/* Service state, read-only once serving (gx_req_app). */
struct tax_app {
	const char *tenant; /* TENANT_ID (first member: gx_api_main sets it, gx/api.h) */
	int64_t fee_ttl_us; /* FEE_PARAMS_CACHE in microseconds; 0 = load on every request */
};

/* Per-worker state (gx_req_worker): the fee parameters last loaded from "SystemParameter". */
struct tax_worker {
	struct gx_fee_params fee;
	int64_t fee_loaded_us; /* gx_mono_us() of the load; meaningful when fee_valid */
	bool fee_valid;
};

/* fees.c: POST /api/v1/fees/calculate (public, rate limited) */
void fees_calculate(struct gx_req *req);

/* velocity.c: GET /api/v1/velocity-tax/eligibility/{accountId}, POST /api/v1/velocity-tax/apply (ADMIN) */
void velocity_eligibility(struct gx_req *req);
void velocity_apply(struct gx_req *req);

/* routes.c */
extern const struct gx_route tax_routes[];
extern const size_t tax_routes_len;

/* amount.c */

/* Add qirat as a coin decimal string under name and, when name_qirat is not NULL, as an integer string under
 * name_qirat. */
void amount_add(cJSON *obj, const char *name, const char *name_qirat, uint64_t qirat);
/* Add qirat as the JSON number JavaScript prints for it under name (the original's unit for fees). */
void amount_add_qirat_number(cJSON *obj, const char *name, uint64_t qirat);
/* Add name: qirat as a JSON number (amount_add_qirat_number), nameQirat: the exact integer string, nameCoins: the
 * exact coin string. */
void amount_add_qirat(cJSON *obj, const char *name, uint64_t qirat);
/* The coin amount qirat / 100000 to 2 decimals exactly as JavaScript's Number.prototype.toFixed(2) prints it.
 * out >= 32 bytes. */
void amount_fixed2(uint64_t qirat, char *out, size_t outlen);
/* Basis points as an exact percent string: 10 -> "0.1", 300 -> "3", 0 -> "0", 1234 -> "12.34". out >= 16 bytes. */
void amount_percent(uint32_t bps, char *out, size_t outlen);

#endif
