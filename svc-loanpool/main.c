/* svc-loanpool daemon (loanpool: loan applications, approvals and repayments).
 * Wiring only: service state and the route table; configuration, serving and drain come from gx_api_main. */
#include <stdlib.h>

#include "gx/api.h"
#include "gx/util.h"
#include "loan.h"

extern const char gx_openapi_doc[];

static int loan_init(const struct gx_api_config *shared, void *cfg, void **out)
{
	struct loan_app *app = gx_xcalloc(1, sizeof(*app));

	(void)cfg;
	app->tenant = gx_xstrdup(shared->tenant_id && *shared->tenant_id ? shared->tenant_id : "default");
	*out = app;
	return 0;
}

static void loan_fini(void *p)
{
	struct loan_app *app = p;

	if (!app)
		return;
	free(app->tenant);
	free(app);
}

int main(int argc, char **argv)
{
	/* not static: the route count is a link-time constant; main's frame outlives the server */
	const struct gx_api_service svc = {
		.name = "svc-loanpool",
		.routes = loan_routes,
		.nroutes = loan_routes_len,
		.openapi_json = gx_openapi_doc,
		.init = loan_init,
		.fini = loan_fini,
	};

	return gx_api_main(argc, argv, &svc);
}
