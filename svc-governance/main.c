/* svc-governance daemon (governance: parameter-change proposals, votes and execution): its row of the service table.
 * The state is the tenant alone (struct gov_app, built by gx_api_main); configuration, serving and drain come from
 * gx_api_main too. */
#include "gx/api.h"
#include "gov.h"

int main(int argc, char **argv)
{
	const struct gx_api_service svc = {
		.name = "svc-governance",
		.routes = gov_routes,
		.nroutes = gov_routes_len,
		.openapi_json = gx_openapi_doc,
		.app_size = sizeof(struct gov_app),
	};

	return gx_api_main(argc, argv, &svc);
}
