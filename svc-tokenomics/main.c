/* svc-tokenomics daemon (tokenomics: wallets, transfers and balances).
 * Wiring only: configuration, service state and the route table; serving and drain come from gx_api_main. */
#include <stddef.h>
#include <stdlib.h>

#include "gx/api.h"
#include "gx/money.h"
#include "gx/util.h"
#include "tokenomics.h"

extern const char gx_openapi_doc[];

static struct tok_cfg cfg;

static const struct gx_cfg_key keys[] = {
	{ "TRANSFER_MAX_COINS", GX_CFG_INT, "1000000000", 1, 100000000000000LL, offsetof(struct tok_cfg,
	  transfer_max_coins), 0, NULL, "largest single transfer in whole coins" },
};

static int tok_init(const struct gx_api_config *shared, void *c, void **out)
{
	const struct tok_cfg *tc = c;
	struct tok_app *app = gx_xcalloc(1, sizeof(*app));

	app->tenant = gx_xstrdup(shared->tenant_id && *shared->tenant_id ? shared->tenant_id : "default");
	app->transfer_max_qirat = (uint64_t)tc->transfer_max_coins * GX_QIRAT_PER_COIN;
	*out = app;
	return 0;
}

static void tok_fini(void *p)
{
	struct tok_app *app = p;

	if (!app)
		return;
	free(app->tenant);
	free(app);
}

int main(int argc, char **argv)
{
	/* not static: the route count is a link-time constant; main's frame outlives the server */
	const struct gx_api_service svc = {
		.name = "svc-tokenomics",
		.routes = tok_routes,
		.nroutes = tok_routes_len,
		.openapi_json = gx_openapi_doc,
		.keys = keys,
		.nkeys = GX_ARRAY_LEN(keys),
		.cfg = &cfg,
		.init = tok_init,
		.fini = tok_fini,
	};

	return gx_api_main(argc, argv, &svc);
}
