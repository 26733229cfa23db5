/* Internals shared by the GX chaincode model files (cc_*.c): invocation context, state, accounts, parameters.
 * Not part of the peer interface (that is cc.h). Keys: "<kind>~<id>", values JSON text (docs/chaincode.md §9).
 */
#ifndef GX_FABRIC_PEER_CC_INT_H
#define GX_FABRIC_PEER_CC_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "cc.h"
#include "gx/util.h"

#define CC_OK 200
#define CC_BAD 400
#define CC_FORBIDDEN 403
#define CC_NOT_FOUND 404
#define CC_CONFLICT 409
#define CC_PAUSED 423

/* Well-known system accounts. */
#define CC_USER_GENESIS_POOL "SYSTEM_USER_GENESIS_POOL"
#define CC_GOVT_GENESIS_POOL "SYSTEM_GOVT_GENESIS_POOL"
#define CC_LOAN_POOL "SYSTEM_LOAN_POOL"
#define CC_FEE_POOL "SYSTEM_FEE_POOL"
#define CC_TAX_POOL "SYSTEM_TAX_POOL"

/* One invocation. args point into the caller's argv (borrowed for the call). */
struct cc_ctx {
	struct cc_stub *stub;
	int nargs;               /* number of function arguments (argv[1..]) */
	const char *const *args; /* function arguments */
	long long now_ms;        /* transaction time */
	char *payload;           /* result JSON on success (owned until handed to the peer) */
	char *message;           /* error text on failure */
};

/* Record an error message and return status. */
int cc_fail(struct cc_ctx *c, int status, const char *fmt, ...) GX_PRINTF(3, 4);
/* Set the result (takes ownership of result, may be NULL) and return 200. */
int cc_ok(struct cc_ctx *c, cJSON *result);
/* Emit the transaction's event (takes ownership of payload). */
void cc_emit(struct cc_ctx *c, const char *name, cJSON *payload);

/* "<kind>~<id>" (caller frees). */
char *cc_key(const char *kind, const char *id);
/* Parsed state value of key (caller owns), NULL when absent or not JSON. */
cJSON *cc_load(struct cc_ctx *c, const char *kind, const char *id);
/* Store v (borrowed) under kind~id. */
void cc_store(struct cc_ctx *c, const char *kind, const char *id, const cJSON *v);
bool cc_exists(struct cc_ctx *c, const char *kind, const char *id);

/* JSON field helpers: string field or "" ; uint64 decimal-string field (0 when absent/bad); number field. */
const char *cc_jstr(const cJSON *o, const char *name);
uint64_t cc_ju64(const cJSON *o, const char *name);
long long cc_jnum(const cJSON *o, const char *name);
void cc_jset_u64(cJSON *o, const char *name, uint64_t v);

/* Argument validation; each returns 0 or records a 400 and returns -1. */
int cc_check_id(struct cc_ctx *c, const char *what, const char *s);
int cc_check_amount(struct cc_ctx *c, const char *what, const char *s, uint64_t *out);
int cc_check_text(struct cc_ctx *c, const char *what, const char *s, size_t min, size_t max);
bool cc_is_hex64(const char *s);
bool cc_is_country(const char *s);

/* Accounts: {"accountID","type","balance","frozen","createdAtMs","lastDebitMs"}. */
struct cc_account {
	char *id;
	char type[16]; /* USER, ORG, TREASURY, SYSTEM */
	uint64_t balance;
	bool frozen;
	long long created_ms;
	long long last_debit_ms; /* last time the account sent funds (velocity-tax timer) */
};
/* Load an account; returns 0, or -1 (not recorded as an error) when it does not exist. Free with
 * cc_account_release. */
int cc_account_load(struct cc_ctx *c, const char *id, struct cc_account *a);
void cc_account_store(struct cc_ctx *c, const struct cc_account *a);
void cc_account_create(struct cc_ctx *c, const char *id, const char *type, uint64_t balance);
void cc_account_release(struct cc_account *a);
/* Balance of an account, 0 when it does not exist. */
uint64_t cc_balance(struct cc_ctx *c, const char *id);
/* Move amount from -> to and fee from -> fee_acct (fee may be 0, fee_acct NULL then). Checks both exist (404),
 * neither frozen (409), from balance >= amount + fee (409); stores all accounts. Returns CC_OK or the error. */
int cc_move(struct cc_ctx *c, const char *from, const char *to, uint64_t amount, uint64_t fee, const char *fee_acct,
	    bool debit_is_activity);

/* System state. */
uint64_t cc_supply(struct cc_ctx *c);
int cc_mint(struct cc_ctx *c, const char *account, uint64_t amount); /* 0 or records 409 on overflow/cap */
bool cc_bootstrapped(struct cc_ctx *c);
bool cc_paused(struct cc_ctx *c, char **reason); /* *reason caller frees when non-NULL */

/* Parameters: effective value (state, else documented default). */
bool cc_param_known(const char *name);
/* 0 when value is valid for name, else -1 with *why set to a static string. */
int cc_param_validate(const char *name, const char *value, const char **why);
/* Effective value as string (caller frees). */
char *cc_param_str(struct cc_ctx *c, const char *name);
uint64_t cc_param_u64(struct cc_ctx *c, const char *name);
/* cJSON object of every parameter name -> effective value (caller owns). */
cJSON *cc_param_all(struct cc_ctx *c);
/* Fee for amount with the current parameters; 0 or records 400 (overflow). */
struct gx_fee_result;
int cc_fee(struct cc_ctx *c, uint64_t amount, struct gx_fee_result *out);

/* Contract handlers. Each returns CC_OK or an error status recorded with cc_fail. */
int cc_identity_create_user(struct cc_ctx *c);
int cc_identity_get_user(struct cc_ctx *c);
int cc_token_transfer(struct cc_ctx *c);
int cc_token_distribute_genesis(struct cc_ctx *c);
int cc_token_freeze(struct cc_ctx *c);
int cc_token_unfreeze(struct cc_ctx *c);
int cc_token_get_balance(struct cc_ctx *c);
int cc_org_propose(struct cc_ctx *c);
int cc_org_endorse(struct cc_ctx *c);
int cc_org_activate(struct cc_ctx *c);
int cc_org_define_rule(struct cc_ctx *c);
int cc_org_initiate_tx(struct cc_ctx *c);
int cc_org_approve_tx(struct cc_ctx *c);
int cc_org_get(struct cc_ctx *c);
int cc_org_get_tx(struct cc_ctx *c);
int cc_loan_apply(struct cc_ctx *c);
int cc_loan_approve(struct cc_ctx *c);
int cc_loan_repay(struct cc_ctx *c);
int cc_loan_get(struct cc_ctx *c);
int cc_gov_submit(struct cc_ctx *c);
int cc_gov_vote(struct cc_ctx *c);
int cc_gov_execute(struct cc_ctx *c);
int cc_gov_get(struct cc_ctx *c);
int cc_admin_bootstrap(struct cc_ctx *c);
int cc_admin_init_countries(struct cc_ctx *c);
int cc_admin_update_param(struct cc_ctx *c);
int cc_admin_pause(struct cc_ctx *c);
int cc_admin_resume(struct cc_ctx *c);
int cc_admin_appoint(struct cc_ctx *c);
int cc_admin_activate_treasury(struct cc_ctx *c);
int cc_admin_status(struct cc_ctx *c);
int cc_admin_get_param(struct cc_ctx *c);
int cc_admin_get_country(struct cc_ctx *c);
int cc_tax_velocity(struct cc_ctx *c);
int cc_tax_calculate_fee(struct cc_ctx *c);
/* cc_list.c: paged reads, List*(pageSize, bookmark) */
int cc_token_list_accounts(struct cc_ctx *c);
int cc_org_list(struct cc_ctx *c);
int cc_org_list_tx(struct cc_ctx *c);
int cc_loan_list(struct cc_ctx *c);
int cc_gov_list(struct cc_ctx *c);

#endif
