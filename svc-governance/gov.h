/* svc-governance private declarations: service state, handlers and the proposal document shared by the resource
 * files. */
#ifndef GOV_H
#define GOV_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/api.h"

/* Service state, read-only once serving (gx_req_app). */
struct gov_app {
	const char *tenant; /* TENANT_ID (first member: gx_api_main sets it, gx/api.h) */
};

/* proposals.c */
void proposals_submit(struct gx_req *req);  /* POST /api/v1/proposals */
void proposals_list(struct gx_req *req);    /* GET  /api/v1/proposals (public) */
void proposals_get(struct gx_req *req);     /* GET  /api/v1/proposals/{proposalId} (public) */
void proposals_execute(struct gx_req *req); /* POST /api/v1/proposals/{proposalId}/execute (ADMIN) */

/* votes.c */
void votes_cast(struct gx_req *req); /* POST /api/v1/proposals/{proposalId}/vote */

/* routes.c */
extern const struct gx_route gov_routes[];
extern const size_t gov_routes_len;

#endif
