/* svc-admin daemon (admin: system administration and operator endpoints): its row of the service table. The state is
 * the tenant, the configuration and the reconcile runner (struct adm_app, built by gx_api_main and filled by
 * init); configuration, serving and drain come from gx_api_main too. */
#include "gx/api.h"
#include "admin.h"

static struct adm_cfg cfg;
static struct gx_cfg_key keys[ADM_CFG_MAX_ROWS];

static int init(const struct gx_api_config *shared, void *c, void **app)
{
	struct adm_app *a = *app;

	a->cfg = c;
	a->conninfo = shared->pg_conninfo;
	return adm_reconcile_init(a);
}

static void fini(void *app)
{
	adm_reconcile_fini(app);
}

int main(int argc, char **argv)
{
	const struct gx_api_service svc = {
		.name = "svc-admin",
		.routes = adm_routes,
		.nroutes = adm_routes_len,
		.openapi_json = gx_openapi_doc,
		.keys = keys,
		.nkeys = adm_cfg_rows(keys),
		.cfg = &cfg,
		.app_size = sizeof(struct adm_app),
		.init = init,
		.fini = fini,
	};

	return gx_api_main(argc, argv, &svc);
}
