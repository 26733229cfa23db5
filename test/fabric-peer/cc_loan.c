/* GX chaincode model: LoanPoolContract (apply, approve = disburse from the loan pool, repay, read). */
#include "cc_int.h"
#include "gx/fee.h"

#include <stdlib.h>
#include <string.h>

/* ApplyForLoan(loanID, borrowerID, amount, collateralHash) */
int cc_loan_apply(struct cc_ctx *c)
{
	const char *id = c->args[0], *who = c->args[1], *hash = c->args[3];
	uint64_t amount, lo, hi;
	cJSON *loan;

	if (cc_check_id(c, "loanID", id) < 0 || cc_check_amount(c, "amount", c->args[2], &amount) < 0)
		return CC_BAD;
	if (!cc_is_hex64(hash))
		return cc_fail(c, CC_BAD, "collateralHash must be 64 lower-case hex characters (SHA-256)");
	lo = cc_param_u64(c, "loanMinimumAmount");
	hi = cc_param_u64(c, "loanMaximumAmount");
	if (amount < lo || amount > hi)
		return cc_fail(c, CC_BAD, "amount must be between loanMinimumAmount %llu and loanMaximumAmount %llu",
			       (unsigned long long)lo, (unsigned long long)hi);
	if (!cc_exists(c, "user", who))
		return cc_fail(c, CC_NOT_FOUND, "user not found: %s", who);
	if (cc_exists(c, "loan", id))
		return cc_fail(c, CC_CONFLICT, "loan already exists: %s", id);
	loan = cJSON_CreateObject();
	cJSON_AddStringToObject(loan, "loanID", id);
	cJSON_AddStringToObject(loan, "borrowerID", who);
	cc_jset_u64(loan, "amount", amount);
	cc_jset_u64(loan, "outstanding", amount);
	cJSON_AddStringToObject(loan, "collateralHash", hash);
	cJSON_AddStringToObject(loan, "status", "PENDING_APPROVAL");
	cJSON_AddNumberToObject(loan, "appliedAtMs", (double)c->now_ms);
	cc_store(c, "loan", id, loan);
	cc_emit(c, "LoanApplicationReceived", cJSON_Duplicate(loan, 1));
	return cc_ok(c, loan);
}

/* ApproveLoan(loanID, approvedBy): disburses the full amount from SYSTEM_LOAN_POOL to the borrower. */
int cc_loan_approve(struct cc_ctx *c)
{
	const char *id = c->args[0], *by = c->args[1];
	cJSON *loan = cc_load(c, "loan", id), *ev;
	const char *who;
	uint64_t amount;
	int st;

	if (!loan)
		return cc_fail(c, CC_NOT_FOUND, "loan not found: %s", id);
	if (cc_check_id(c, "approvedBy", by) < 0) {
		st = CC_BAD;
		goto out;
	}
	if (strcmp(cc_jstr(loan, "status"), "PENDING_APPROVAL") != 0) {
		st = cc_fail(c, CC_CONFLICT, "loan %s is %s, not PENDING_APPROVAL", id, cc_jstr(loan, "status"));
		goto out;
	}
	if (!cc_bootstrapped(c)) {
		st = cc_fail(c, CC_CONFLICT, "system is not bootstrapped");
		goto out;
	}
	who = cc_jstr(loan, "borrowerID");
	amount = cc_ju64(loan, "amount");
	st = cc_move(c, CC_LOAN_POOL, who, amount, 0, NULL, false);
	if (st != CC_OK)
		goto out;
	cJSON_ReplaceItemInObjectCaseSensitive(loan, "status", cJSON_CreateString("ACTIVE"));
	cJSON_AddStringToObject(loan, "approvedBy", by);
	cJSON_AddNumberToObject(loan, "approvedAtMs", (double)c->now_ms);
	cc_store(c, "loan", id, loan);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "loanID", id);
	cJSON_AddStringToObject(ev, "borrowerID", who);
	cc_jset_u64(ev, "amount", amount);
	cc_jset_u64(ev, "outstanding", amount);
	cJSON_AddStringToObject(ev, "approvedBy", by);
	cJSON_AddStringToObject(ev, "status", "ACTIVE");
	cJSON_AddStringToObject(ev, "poolID", CC_LOAN_POOL);
	cc_jset_u64(ev, "poolBalance", cc_balance(c, CC_LOAN_POOL));
	cc_jset_u64(ev, "borrowerBalance", cc_balance(c, who));
	cc_emit(c, "LoanApproved", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cJSON_Delete(loan);
	return st;
}

/* RepayLoan(loanID, borrowerID, amount): no interest, no fee; repaying the rest marks the loan REPAID. */
int cc_loan_repay(struct cc_ctx *c)
{
	const char *id = c->args[0], *who = c->args[1];
	cJSON *loan = NULL, *ev;
	uint64_t amount, outstanding;
	const char *status;
	int st;

	if (cc_check_amount(c, "amount", c->args[2], &amount) < 0)
		return CC_BAD;
	loan = cc_load(c, "loan", id);
	if (!loan)
		return cc_fail(c, CC_NOT_FOUND, "loan not found: %s", id);
	if (strcmp(cc_jstr(loan, "borrowerID"), who) != 0) {
		st = cc_fail(c, CC_FORBIDDEN, "only the borrower can repay loan %s", id);
		goto out;
	}
	if (strcmp(cc_jstr(loan, "status"), "ACTIVE") != 0) {
		st = cc_fail(c, CC_CONFLICT, "loan %s is %s, not ACTIVE", id, cc_jstr(loan, "status"));
		goto out;
	}
	outstanding = cc_ju64(loan, "outstanding");
	if (amount > outstanding) {
		st = cc_fail(c, CC_BAD, "amount %llu exceeds the outstanding %llu", (unsigned long long)amount,
			     (unsigned long long)outstanding);
		goto out;
	}
	st = cc_move(c, who, CC_LOAN_POOL, amount, 0, NULL, true);
	if (st != CC_OK)
		goto out;
	outstanding -= amount;
	status = outstanding == 0 ? "REPAID" : "ACTIVE";
	cc_jset_u64(loan, "outstanding", outstanding);
	cJSON_ReplaceItemInObjectCaseSensitive(loan, "status", cJSON_CreateString(status));
	if (outstanding == 0)
		cJSON_AddNumberToObject(loan, "repaidAtMs", (double)c->now_ms);
	cc_store(c, "loan", id, loan);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "loanID", id);
	cJSON_AddStringToObject(ev, "borrowerID", who);
	cc_jset_u64(ev, "amount", amount);
	cc_jset_u64(ev, "outstanding", outstanding);
	cJSON_AddStringToObject(ev, "status", status);
	cJSON_AddStringToObject(ev, "poolID", CC_LOAN_POOL);
	cc_jset_u64(ev, "poolBalance", cc_balance(c, CC_LOAN_POOL));
	cc_jset_u64(ev, "borrowerBalance", cc_balance(c, who));
	cc_emit(c, "LoanRepaid", cJSON_Duplicate(ev, 1));
	st = cc_ok(c, ev);
out:
	cJSON_Delete(loan);
	return st;
}

/* GetLoan(loanID) */
int cc_loan_get(struct cc_ctx *c)
{
	cJSON *loan = cc_load(c, "loan", c->args[0]);

	if (!loan)
		return cc_fail(c, CC_NOT_FOUND, "loan not found: %s", c->args[0]);
	return cc_ok(c, loan);
}
