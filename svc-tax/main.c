/* svc-tax daemon (tax: transaction fees and velocity tax): its configuration row, its row of the service table and
 * its per-worker state; the state (struct tax_app) is built by gx_api_main, serving and drain come from it too. */
#include <stddef.h>
#include <stdlib.h>

#include "gx/api.h"
#include "gx/util.h"
#include "tax.h"

static struct tax_cfg cfg;

static const struct gx_cfg_key keys[] = {
	{ "FEE_PARAMS_CACHE", GX_CFG_MS, "5s", 0, 60000, offsetof(struct tax_cfg, fee_params_ttl_ms), 0, NULL,
	  "how long each worker reuses the fee parameters it read from SystemParameter (0: read every time)" },
};

static int tax_init(const struct gx_api_config *shared GX_UNUSED, void *c, void **app)
{
	struct tax_app *a = *app;

	a->fee_ttl_us = (int64_t)((const struct tax_cfg *)c)->fee_params_ttl_ms * 1000;
	return 0;
}

static void *tax_worker_init(void *app GX_UNUSED, struct event_base *base GX_UNUSED, struct gx_pg_pool *pg GX_UNUSED,
			     struct gx_redis *redis GX_UNUSED)
{
	return gx_xcalloc(1, sizeof(struct tax_worker));
}

int main(int argc, char **argv)
{
	const struct gx_api_service svc = {
		.name = "svc-tax",
		.routes = tax_routes,
		.nroutes = tax_routes_len,
		.openapi_json = gx_openapi_doc,
		.keys = keys,
		.nkeys = GX_ARRAY_LEN(keys),
		.cfg = &cfg,
		.app_size = sizeof(struct tax_app),
		.init = tax_init,
		.worker_init = tax_worker_init,
		.worker_free = free,
	};

	return gx_api_main(argc, argv, &svc);
}
