/* GX chaincode model: IdentityContract (users) and TokenomicsContract (transfers, genesis, freeze, balances). */
#include "cc_int.h"
#include "gx/fee.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserved_id(const char *id)
{
	return !strncmp(id, "SYSTEM_", 7) || !strncmp(id, "treasury_", 9);
}

/* Accounts a transfer may credit: users, organisations and treasuries (never system pools). */
static bool creditable(const struct cc_account *a)
{
	return !strcmp(a->type, "USER") || !strcmp(a->type, "ORG") || !strcmp(a->type, "TREASURY");
}

static void bump_user_count(struct cc_ctx *c)
{
	cJSON *j = cc_load(c, "sys", "users");
	long long n = cc_jnum(j, "count") + 1;

	cJSON_Delete(j);
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "count", (double)n);
	cc_store(c, "sys", "users", j);
	cJSON_Delete(j);
}

/* CreateUser(userID, biometricHash, nationality, age) */
int cc_identity_create_user(struct cc_ctx *c)
{
	const char *id = c->args[0], *bio = c->args[1], *nat = c->args[2], *age_s = c->args[3];
	uint64_t age;
	cJSON *u, *ev;

	if (cc_check_id(c, "userID", id) < 0)
		return CC_BAD;
	if (reserved_id(id))
		return cc_fail(c, CC_BAD, "userID uses a reserved prefix");
	if (!cc_is_hex64(bio))
		return cc_fail(c, CC_BAD, "biometricHash must be 64 lower-case hex characters (SHA-256)");
	if (!cc_is_country(nat))
		return cc_fail(c, CC_BAD, "nationality must be an ISO 3166-1 alpha-2 code");
	if (gx_fee_parse_u64(age_s, &age) < 0 || age > 150)
		return cc_fail(c, CC_BAD, "age must be an integer 0..150");
	if (cc_exists(c, "user", id) || cc_exists(c, "acct", id))
		return cc_fail(c, CC_CONFLICT, "user already exists: %s", id);
	if (cc_exists(c, "bio", bio))
		return cc_fail(c, CC_CONFLICT, "biometric hash already registered");
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "userID", id);
	cJSON_AddStringToObject(u, "biometricHash", bio);
	cJSON_AddStringToObject(u, "nationality", nat);
	cJSON_AddNumberToObject(u, "age", (double)age);
	cJSON_AddStringToObject(u, "status", "ACTIVE");
	cJSON_AddNumberToObject(u, "createdAtMs", (double)c->now_ms);
	cc_store(c, "user", id, u);
	cJSON_Delete(u);
	u = cJSON_CreateString(id);
	cc_store(c, "bio", bio, u);
	cJSON_Delete(u);
	cc_account_create(c, id, "USER", 0);
	bump_user_count(c);

	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "userID", id);
	cJSON_AddStringToObject(ev, "accountID", id);
	cJSON_AddStringToObject(ev, "biometricHash", bio);
	cJSON_AddStringToObject(ev, "nationality", nat);
	cJSON_AddNumberToObject(ev, "age", (double)age);
	cJSON_AddStringToObject(ev, "status", "ACTIVE");
	cJSON_AddStringToObject(ev, "balance", "0");
	cJSON_AddNumberToObject(ev, "createdAtMs", (double)c->now_ms);
	cc_emit(c, "UserCreated", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* GetUser(userID) */
int cc_identity_get_user(struct cc_ctx *c)
{
	cJSON *u = cc_load(c, "user", c->args[0]);

	if (!u)
		return cc_fail(c, CC_NOT_FOUND, "user not found: %s", c->args[0]);
	cJSON_AddBoolToObject(u, "isAdmin", cc_exists(c, "admin", c->args[0]));
	cJSON_AddBoolToObject(u, "genesisReceived", cc_exists(c, "genesis", c->args[0]));
	return cc_ok(c, u);
}

static cJSON *balance_json(struct cc_ctx *c, const char *id)
{
	struct cc_account a;
	cJSON *j;

	if (cc_account_load(c, id, &a) < 0)
		return NULL;
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "accountID", a.id);
	cJSON_AddStringToObject(j, "type", a.type);
	cc_jset_u64(j, "balance", a.balance);
	cJSON_AddBoolToObject(j, "frozen", a.frozen);
	cJSON_AddNumberToObject(j, "lastDebitMs", (double)a.last_debit_ms);
	cc_account_release(&a);
	return j;
}

/* Transfer(fromID, toID, amount, remark) */
int cc_token_transfer(struct cc_ctx *c)
{
	const char *from = c->args[0], *to = c->args[1], *remark = c->args[3];
	struct cc_account f = { 0 }, t = { 0 };
	struct gx_fee_result fee;
	uint64_t amount;
	cJSON *ev;
	int st;

	if (cc_check_amount(c, "amount", c->args[2], &amount) < 0 || cc_check_text(c, "remark", remark, 0, 500) < 0)
		return CC_BAD;
	if (!strcmp(from, to))
		return cc_fail(c, CC_BAD, "fromID and toID must differ");
	if (cc_account_load(c, from, &f) < 0) {
		st = cc_fail(c, CC_NOT_FOUND, "account not found: %s", from);
		goto out;
	}
	if (cc_account_load(c, to, &t) < 0) {
		st = cc_fail(c, CC_NOT_FOUND, "account not found: %s", to);
		goto out;
	}
	if (strcmp(f.type, "USER") != 0) {
		st = cc_fail(c, CC_BAD, "Transfer can only debit a user account; %s is %s", from, f.type);
		goto out;
	}
	if (!creditable(&t)) {
		st = cc_fail(c, CC_BAD, "Transfer cannot credit system account %s", to);
		goto out;
	}
	if (cc_fee(c, amount, &fee) < 0) {
		st = CC_BAD;
		goto out;
	}
	st = cc_move(c, from, to, amount, fee.fee, CC_FEE_POOL, true);
	if (st != CC_OK)
		goto out;
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "fromID", from);
	cJSON_AddStringToObject(ev, "toID", to);
	cc_jset_u64(ev, "amount", amount);
	cc_jset_u64(ev, "fee", fee.fee);
	cJSON_AddStringToObject(ev, "feeAccountID", CC_FEE_POOL);
	cJSON_AddStringToObject(ev, "feeTier", fee.tier);
	cJSON_AddNumberToObject(ev, "feeBps", fee.bps_applied);
	cc_jset_u64(ev, "fromBalance", cc_balance(c, from));
	cc_jset_u64(ev, "toBalance", cc_balance(c, to));
	cc_jset_u64(ev, "feeAccountBalance", cc_balance(c, CC_FEE_POOL));
	cJSON_AddStringToObject(ev, "remark", remark);
	cc_emit(c, "TransferCompleted", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cc_account_release(&f);
	cc_account_release(&t);
	return st;
}

/* DistributeGenesis(userID, userType, countryCode) */
int cc_token_distribute_genesis(struct cc_ctx *c)
{
	const char *id = c->args[0], *type = c->args[1], *cc = c->args[2];
	const char *tier, *param;
	uint64_t amount;
	cJSON *u, *ev, *mark;
	int st;

	if (!strcmp(type, "individual")) {
		tier = "TIER1";
		param = "genesisTier1Amount";
	} else if (!strcmp(type, "business") || !strcmp(type, "organization")) {
		tier = "TIER2";
		param = "genesisTier2Amount";
	} else if (!strcmp(type, "government")) {
		tier = "TIER3";
		param = "genesisTier3Amount";
	} else {
		return cc_fail(c, CC_BAD, "userType must be individual, business, organization or government");
	}
	if (!cc_is_country(cc))
		return cc_fail(c, CC_BAD, "countryCode must be an ISO 3166-1 alpha-2 code");
	if (!cc_bootstrapped(c))
		return cc_fail(c, CC_CONFLICT, "system is not bootstrapped");
	u = cc_load(c, "user", id);
	if (!u)
		return cc_fail(c, CC_NOT_FOUND, "user not found: %s", id);
	if (strcmp(cc_jstr(u, "nationality"), cc) != 0) {
		cJSON_Delete(u);
		return cc_fail(c, CC_BAD, "countryCode %s does not match the user's nationality", cc);
	}
	cJSON_Delete(u);
	if (cc_exists(c, "genesis", id))
		return cc_fail(c, CC_CONFLICT, "genesis already distributed to user %s", id);
	amount = cc_param_u64(c, param);
	if (amount == 0)
		return cc_fail(c, CC_CONFLICT, "genesis amount for %s is 0", tier);
	st = cc_move(c, CC_USER_GENESIS_POOL, id, amount, 0, NULL, false);
	if (st != CC_OK)
		return st;
	mark = cJSON_CreateObject();
	cJSON_AddStringToObject(mark, "tier", tier);
	cc_jset_u64(mark, "amount", amount);
	cc_store(c, "genesis", id, mark);
	cJSON_Delete(mark);

	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "userID", id);
	cJSON_AddStringToObject(ev, "accountID", id);
	cc_jset_u64(ev, "amount", amount);
	cJSON_AddStringToObject(ev, "tier", tier);
	cJSON_AddStringToObject(ev, "userType", type);
	cJSON_AddStringToObject(ev, "countryCode", cc);
	cJSON_AddStringToObject(ev, "poolID", CC_USER_GENESIS_POOL);
	cc_jset_u64(ev, "poolBalance", cc_balance(c, CC_USER_GENESIS_POOL));
	cc_jset_u64(ev, "balance", cc_balance(c, id));
	cc_emit(c, "GenesisDistributed", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

static int set_frozen(struct cc_ctx *c, const char *id, bool frozen, const char *reason)
{
	struct cc_account a;
	cJSON *ev;

	if (!cc_exists(c, "user", id))
		return cc_fail(c, CC_NOT_FOUND, "user not found: %s", id);
	if (cc_account_load(c, id, &a) < 0)
		return cc_fail(c, CC_NOT_FOUND, "account not found: %s", id);
	if (a.frozen == frozen) {
		cc_account_release(&a);
		return cc_fail(c, CC_CONFLICT, "account %s is already %s", id, frozen ? "frozen" : "not frozen");
	}
	a.frozen = frozen;
	cc_account_store(c, &a);
	cc_account_release(&a);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "userID", id);
	cJSON_AddStringToObject(ev, "accountID", id);
	if (reason)
		cJSON_AddStringToObject(ev, "reason", reason);
	cc_emit(c, frozen ? "WalletFrozen" : "WalletUnfrozen", cJSON_Duplicate(ev, 1));
	return cc_ok(c, ev);
}

/* FreezeWallet(userID, reason) */
int cc_token_freeze(struct cc_ctx *c)
{
	if (cc_check_text(c, "reason", c->args[1], 1, 500) < 0)
		return CC_BAD;
	return set_frozen(c, c->args[0], true, c->args[1]);
}

/* UnfreezeWallet(userID) */
int cc_token_unfreeze(struct cc_ctx *c)
{
	return set_frozen(c, c->args[0], false, NULL);
}

/* GetBalance(accountID) */
int cc_token_get_balance(struct cc_ctx *c)
{
	cJSON *j = balance_json(c, c->args[0]);

	if (!j)
		return cc_fail(c, CC_NOT_FOUND, "account not found: %s", c->args[0]);
	return cc_ok(c, j);
}
