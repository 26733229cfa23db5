/* svc-tax daemon (tax: transaction fees and velocity tax).
 * Wiring only: configuration, service and per-worker state, the route table; serving and drain come from
 * gx_api_main. */
#include <stddef.h>
#include <stdlib.h>

#include "gx/api.h"
#include "gx/util.h"
#include "tax.h"

extern const char gx_openapi_doc[];

static struct tax_cfg cfg;

static const struct gx_cfg_key keys[] = {
	{ "FEE_PARAMS_CACHE", GX_CFG_MS, "5s", 0, 60000, offsetof(struct tax_cfg, fee_params_ttl_ms), 0, NULL,
	  "how long each worker reuses the fee parameters it read from SystemParameter (0: read every time)" },
};

static int tax_init(const struct gx_api_config *shared, void *c, void **out)
{
	const struct tax_cfg *tc = c;
	struct tax_app *app = gx_xcalloc(1, sizeof(*app));

	app->tenant = gx_xstrdup(shared->tenant_id && *shared->tenant_id ? shared->tenant_id : "default");
	app->fee_ttl_us = (int64_t)tc->fee_params_ttl_ms * 1000;
	*out = app;
	return 0;
}

static void tax_fini(void *p)
{
	struct tax_app *app = p;

	if (!app)
		return;
	free(app->tenant);
	free(app);
}

static void *tax_worker_init(void *app, struct event_base *base, struct gx_pg_pool *pg, struct gx_redis *redis)
{
	(void)app;
	(void)base;
	(void)pg;
	(void)redis;
	return gx_xcalloc(1, sizeof(struct tax_worker));
}

int main(int argc, char **argv)
{
	/* not static: the route count is a link-time constant; main's frame outlives the server */
	const struct gx_api_service svc = {
		.name = "svc-tax",
		.routes = tax_routes,
		.nroutes = tax_routes_len,
		.openapi_json = gx_openapi_doc,
		.keys = keys,
		.nkeys = GX_ARRAY_LEN(keys),
		.cfg = &cfg,
		.init = tax_init,
		.fini = tax_fini,
		.worker_init = tax_worker_init,
		.worker_free = free,
	};

	return gx_api_main(argc, argv, &svc);
}
