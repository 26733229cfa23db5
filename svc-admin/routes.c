/* svc-admin route table (the original backend's paths, docs/compat.md, plus the outbox operations of design.md §7; auth
 * per design.md §4 and the identity column of docs/chaincode.md: super-admin chaincode functions need SUPER_ADMIN,
 * treasury activation and outbox operations ADMIN; reads of public system state are public). */
#include "gx/api.h"
#include "admin.h"

const struct gx_route adm_routes[] = {
	{ "POST", "/api/v1/bootstrap", system_bootstrap, GX_AUTH_SUPER_ADMIN, 0 },
	{ "POST", "/api/v1/system/pause", system_pause, GX_AUTH_SUPER_ADMIN, 0 },
	{ "POST", "/api/v1/system/resume", system_resume, GX_AUTH_SUPER_ADMIN, 0 },
	{ "GET", "/api/v1/system/status", system_status, GX_AUTH_PUBLIC, 0 },
	{ "POST", "/api/v1/countries/initialize", countries_initialize, GX_AUTH_SUPER_ADMIN, 0 },
	{ "GET", "/api/v1/countries", countries_list, GX_AUTH_PUBLIC, 0 },
	{ "GET", "/api/v1/countries/{countryCode}/stats", countries_stats, GX_AUTH_PUBLIC, 0 },
	{ "POST", "/api/v1/parameters", parameters_update, GX_AUTH_SUPER_ADMIN, 0 },
	{ "GET", "/api/v1/parameters", parameters_list, GX_AUTH_PUBLIC, 0 },
	{ "GET", "/api/v1/parameters/{paramId}", parameters_get, GX_AUTH_PUBLIC, 0 },
	{ "POST", "/api/v1/admins", admins_appoint, GX_AUTH_SUPER_ADMIN, 0 },
	{ "POST", "/api/v1/treasury/activate", treasury_activate, GX_AUTH_ADMIN, 0 },
	{ "GET", "/api/v1/counters", system_counters, GX_AUTH_ADMIN, 0 },
	{ "GET", "/api/v1/admin/commands", commands_list, GX_AUTH_ADMIN, 0 },
	{ "GET", "/api/v1/admin/commands/{commandId}", commands_show, GX_AUTH_ADMIN, 0 },
	{ "POST", "/api/v1/admin/commands/{commandId}/requeue", commands_requeue, GX_AUTH_ADMIN, 0 },
	{ "POST", "/api/v1/admin/commands/requeue", commands_requeue_batch, GX_AUTH_ADMIN, 0 },
	/* partner API keys (partner_keys.c): answers holding a new key are never stored for replay */
	{ "POST", "/api/v1/partner-keys", partner_keys_create, GX_AUTH_ADMIN, GX_ROUTE_NO_IDEMP },
	{ "GET", "/api/v1/partner-keys", partner_keys_list, GX_AUTH_ADMIN, 0 },
	{ "POST", "/api/v1/partner-keys/{keyId}/rotate", partner_keys_rotate, GX_AUTH_ADMIN, GX_ROUTE_NO_IDEMP },
	{ "POST", "/api/v1/partner-keys/{keyId}/revoke", partner_keys_revoke, GX_AUTH_ADMIN, 0 },
	/* reconcile.c (docs/reconcile.md); a repair additionally needs SUPER_ADMIN */
	{ "POST", "/api/v1/admin/reconcile", reconcile_start, GX_AUTH_ADMIN, 0 },
	{ "GET", "/api/v1/admin/reconcile/{runId}", reconcile_show, GX_AUTH_ADMIN, 0 },
};

const size_t adm_routes_len = GX_ARRAY_LEN(adm_routes);
