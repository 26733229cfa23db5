/* svc-admin daemon (admin: system administration and operator endpoints).
 * Wiring only: service state and the route table; configuration, serving and drain come from gx_api_main. */
#include <stdlib.h>

#include "gx/api.h"
#include "gx/util.h"
#include "admin.h"

extern const char gx_openapi_doc[];

static int adm_init(const struct gx_api_config *shared, void *cfg GX_UNUSED, void **out)
{
	struct adm_app *app = gx_xcalloc(1, sizeof(*app));

	app->tenant = gx_xstrdup(shared->tenant_id && *shared->tenant_id ? shared->tenant_id : "default");
	*out = app;
	return 0;
}

static void adm_fini(void *p)
{
	struct adm_app *app = p;

	if (!app)
		return;
	free(app->tenant);
	free(app);
}

int main(int argc, char **argv)
{
	/* not static: the route count is a link-time constant; main's frame outlives the server */
	const struct gx_api_service svc = {
		.name = "svc-admin",
		.routes = adm_routes,
		.nroutes = adm_routes_len,
		.openapi_json = gx_openapi_doc,
		.init = adm_init,
		.fini = adm_fini,
	};

	return gx_api_main(argc, argv, &svc);
}
