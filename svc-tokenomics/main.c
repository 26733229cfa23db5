/* svc-tokenomics daemon (tokenomics: wallets, transfers and balances): its configuration row and its row of the
 * service table; the state (struct tok_app) is built by gx_api_main, serving and drain come from it too. */
#include <stddef.h>

#include "gx/api.h"
#include "gx/money.h"
#include "gx/util.h"
#include "tokenomics.h"

static struct tok_cfg cfg;

static const struct gx_cfg_key keys[] = {
	{ "TRANSFER_MAX_COINS", GX_CFG_INT, "1000000000", 1, 100000000000000LL,
	  offsetof(struct tok_cfg, transfer_max_coins), 0, NULL, "largest single transfer in whole coins" },
};

static int tok_init(const struct gx_api_config *shared GX_UNUSED, void *c, void **app)
{
	struct tok_app *a = *app;

	a->transfer_max_qirat = (uint64_t)((const struct tok_cfg *)c)->transfer_max_coins * GX_QIRAT_PER_COIN;
	return 0;
}

int main(int argc, char **argv)
{
	const struct gx_api_service svc = {
		.name = "svc-tokenomics",
		.routes = tok_routes,
		.nroutes = tok_routes_len,
		.openapi_json = gx_openapi_doc,
		.keys = keys,
		.nkeys = GX_ARRAY_LEN(keys),
		.cfg = &cfg,
		.app_size = sizeof(struct tok_app),
		.init = tok_init,
	};

	return gx_api_main(argc, argv, &svc);
}
