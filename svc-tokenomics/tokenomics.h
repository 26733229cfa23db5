/* svc-tokenomics private declarations: service state, configuration, handlers and the helpers the resource files
 * share (read-model value conversion and the outbox write path). */
#ifndef TOKENOMICS_H
#define TOKENOMICS_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/api.h"
#include "gx/pg.h"

/* Configuration rows of svc-tokenomics (main.c). */
struct tok_cfg {
	long long transfer_max_coins; /* TRANSFER_MAX_COINS: largest single transfer, in whole coins */
};

/* Service state, read-only once serving (gx_req_app). */
struct tok_app {
	const char *tenant;          /* TENANT_ID (first member: gx_api_main sets it, gx/api.h) */
	uint64_t transfer_max_qirat; /* TRANSFER_MAX_COINS in Qirat */
};

/* transfers.c: POST /api/v1/transfers */
void transfers_create(struct gx_req *req);
/* genesis.c: POST /api/v1/genesis (SUPER_ADMIN) */
void genesis_create(struct gx_req *req);
/* wallets.c: GET /wallets/{profileId}/balance, GET /wallets/{profileId}/transactions,
 * POST /wallets/{walletId}/freeze and /unfreeze (ADMIN) */
void wallets_balance(struct gx_req *req);
void wallets_transactions(struct gx_req *req);
void wallets_freeze(struct gx_req *req);
void wallets_unfreeze(struct gx_req *req);
/* treasury.c: GET /api/v1/treasury/{countryCode}/balance (public) */
void treasury_balance(struct gx_req *req);

/* routes.c */
extern const struct gx_route tok_routes[];
extern const size_t tok_routes_len;

/* command.c */

/* Qirat column col of row (NUMERIC(20,0) as text) into *out. Returns 0, or -1 when the read model holds a value
 * no u64 chain amount can have (not logged: the caller answers 500, which logs). */
int command_qirat(const PGresult *res, int row, const char *col, uint64_t *out);
/* The "balanceQirat" column of row 0 into *out: 0, or -1 after answering 500 naming what ("wallet") (ends req). */
int command_balance(struct gx_req *req, const PGresult *res, const char *what, uint64_t *out);
/* True when body's field is what JavaScript calls falsy (absent, null, false, 0, ""): the original backend's test
 * for a missing required field, answered with its own 400 text before our field checks. */
bool command_falsy(const cJSON *body, const char *field);
/* Add the amount as the original backend sent it, a JSON number of coins, under name, and the exact integer-Qirat
 * string under name_qirat. Returns 0, or -1 when cJSON is out of memory (logged). */
int command_add_coins(cJSON *obj, const char *name, const char *name_qirat, uint64_t qirat);

/* Enqueue an on-chain command and answer the request (ends req). payload (borrowed) must match the
 * docs/chaincode.md row of type: it is mapped with gx_chaincode_map first, which also gives the aggregate id;
 * a payload that does not map is a programming error and answers 500. When audit_action is not NULL an
 * "AdminAuditLog" row (actor = caller, target wallet target_id, details = payload) is written in the same
 * transaction. */
void command_submit(struct gx_req *req, const char *type, const cJSON *payload, const char *audit_action,
		    const char *target_id);

#endif
