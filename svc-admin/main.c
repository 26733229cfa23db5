/* svc-admin daemon (admin: system administration and operator endpoints): its row of the service table. The state is
 * the tenant alone (struct adm_app, built by gx_api_main); configuration, serving and drain come from gx_api_main
 * too. */
#include "gx/api.h"
#include "admin.h"

int main(int argc, char **argv)
{
	const struct gx_api_service svc = {
		.name = "svc-admin",
		.routes = adm_routes,
		.nroutes = adm_routes_len,
		.openapi_json = gx_openapi_doc,
		.app_size = sizeof(struct adm_app),
	};

	return gx_api_main(argc, argv, &svc);
}
