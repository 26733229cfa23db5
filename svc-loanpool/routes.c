/* svc-loanpool route table (the original backend's paths, docs/compat.md, plus repay; auth per design.md §4: the
 * handlers check that a user only reads or acts on their own loans, admins approve). */
#include "gx/api.h"
#include "loan.h"

const struct gx_route loan_routes[] = {
	{ "POST", "/api/v1/loans", loans_apply, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/loans/{loanId}", loans_get, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/loans/{loanId}/approve", loans_approve, GX_AUTH_ADMIN, 0 },
	{ "POST", "/api/v1/loans/{loanId}/repay", loans_repay, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/users/{borrowerId}/loans", loans_list, GX_AUTH_USER, 0 },
};

const size_t loan_routes_len = GX_ARRAY_LEN(loan_routes);
