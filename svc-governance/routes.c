/* svc-governance route table (the original backend's paths, docs/compat.md; auth per design.md §4: reads are public as
 * in the original, votes need an access token, execution needs an admin). */
#include "gx/api.h"
#include "gov.h"

const struct gx_route gov_routes[] = {
	{ "POST", "/api/v1/proposals", proposals_submit, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/proposals", proposals_list, GX_AUTH_PUBLIC, 0 },
	{ "GET", "/api/v1/proposals/{proposalId}", proposals_get, GX_AUTH_PUBLIC, 0 },
	{ "POST", "/api/v1/proposals/{proposalId}/vote", votes_cast, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/proposals/{proposalId}/execute", proposals_execute, GX_AUTH_ADMIN, 0 },
};

const size_t gov_routes_len = GX_ARRAY_LEN(gov_routes);
