/* svc-tax route table (the original backend's paths, docs/compat.md; auth per design.md §4). */
#include "gx/api.h"
#include "tax.h"

const struct gx_route tax_routes[] = {
	{ "POST", "/api/v1/fees/calculate", fees_calculate, GX_AUTH_PUBLIC, 0 },
	{ "GET", "/api/v1/velocity-tax/eligibility/{accountId}", velocity_eligibility, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/velocity-tax/apply", velocity_apply, GX_AUTH_ADMIN, 0 },
};

const size_t tax_routes_len = GX_ARRAY_LEN(tax_routes);
