/* svc-tokenomics route table (the original backend's paths, docs/compat.md; auth per design.md §4). */
#include "gx/api.h"
#include "tokenomics.h"

const struct gx_route tok_routes[] = {
	{ "POST", "/api/v1/transfers", transfers_create, GX_AUTH_USER, GX_ROUTE_OUTBOX_WRITE },
	{ "POST", "/api/v1/genesis", genesis_create, GX_AUTH_SUPER_ADMIN, 0 },
	{ "GET", "/api/v1/wallets/{profileId}/balance", wallets_balance, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/wallets/{profileId}/transactions", wallets_transactions, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/wallets/{walletId}/freeze", wallets_freeze, GX_AUTH_ADMIN, 0 },
	{ "POST", "/api/v1/wallets/{walletId}/unfreeze", wallets_unfreeze, GX_AUTH_ADMIN, 0 },
	{ "GET", "/api/v1/treasury/{countryCode}/balance", treasury_balance, GX_AUTH_PUBLIC, 0 },
};

const size_t tok_routes_len = GX_ARRAY_LEN(tok_routes);
