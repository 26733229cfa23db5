/* svc-governance daemon (governance: parameter-change proposals, votes and execution).
 * Wiring only: service state and the route table; configuration, serving and drain come from gx_api_main. */
#include <stdlib.h>

#include "gx/api.h"
#include "gx/util.h"
#include "gov.h"

extern const char gx_openapi_doc[];

static int gov_init(const struct gx_api_config *shared, void *cfg, void **out)
{
	struct gov_app *app = gx_xcalloc(1, sizeof(*app));

	(void)cfg;
	app->tenant = gx_xstrdup(shared->tenant_id && *shared->tenant_id ? shared->tenant_id : "default");
	*out = app;
	return 0;
}

static void gov_fini(void *p)
{
	struct gov_app *app = p;

	if (!app)
		return;
	free(app->tenant);
	free(app);
}

int main(int argc, char **argv)
{
	/* not static: the route count is a link-time constant; main's frame outlives the server */
	const struct gx_api_service svc = {
		.name = "svc-governance",
		.routes = gov_routes,
		.nroutes = gov_routes_len,
		.openapi_json = gx_openapi_doc,
		.init = gov_init,
		.fini = gov_fini,
	};

	return gx_api_main(argc, argv, &svc);
}
