/* svc-organization daemon (organization: multi-signature organisations): its row of the service table. The state is
 * the tenant alone (struct org_app, built by gx_api_main); configuration, serving and drain come from gx_api_main
 * too. */
#include "gx/api.h"
#include "org.h"

int main(int argc, char **argv)
{
	const struct gx_api_service svc = {
		.name = "svc-organization",
		.routes = org_routes,
		.nroutes = org_routes_len,
		.openapi_json = gx_openapi_doc,
		.app_size = sizeof(struct org_app),
	};

	return gx_api_main(argc, argv, &svc);
}
