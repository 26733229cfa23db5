/* svc-organization route table (the original backend's paths, docs/compat.md; auth per design.md §4: reads are public
 * as in the original, every write needs an access token and the handlers check stakeholder/approver membership). */
#include "gx/api.h"
#include "org.h"

const struct gx_route org_routes[] = {
	{ "POST", "/api/v1/organizations", orgs_propose, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/organizations/{orgId}", orgs_get, GX_AUTH_PUBLIC, 0 },
	{ "POST", "/api/v1/organizations/{orgId}/endorse", orgs_endorse, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/organizations/{orgId}/activate", orgs_activate, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/organizations/{orgId}/rules", orgs_rules, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/organizations/{orgId}/transactions", multisig_initiate, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/organizations/{orgId}/transactions/pending", multisig_pending, GX_AUTH_PUBLIC, 0 },
	{ "POST", "/api/v1/transactions/{pendingTxId}/approve", multisig_approve, GX_AUTH_USER, 0 },
};

const size_t org_routes_len = GX_ARRAY_LEN(org_routes);
