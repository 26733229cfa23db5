/* svc-loanpool private declarations: service state and handlers. */
#ifndef LOAN_H
#define LOAN_H

#include "gx/api.h"

/* Service state, read-only once serving (gx_req_app). */
struct loan_app {
	const char *tenant; /* TENANT_ID (first member: gx_api_main sets it, gx/api.h) */
};

/* loans.c */
void loans_apply(struct gx_req *req);   /* POST /api/v1/loans */
void loans_get(struct gx_req *req);     /* GET  /api/v1/loans/{loanId} (borrower or admin) */
void loans_approve(struct gx_req *req); /* POST /api/v1/loans/{loanId}/approve (ADMIN) */
void loans_repay(struct gx_req *req);   /* POST /api/v1/loans/{loanId}/repay (borrower) */
void loans_list(struct gx_req *req);    /* GET  /api/v1/users/{borrowerId}/loans (self or admin) */

/* routes.c */
extern const struct gx_route loan_routes[];
extern const size_t loan_routes_len;

#endif
