/* projector: one handler per chaincode event of docs/chaincode.md §6/§8. A handler reads the event payload
 * (capital-ID spelling, camelCase accepted), checks the fields it needs and appends the statements that bring the
 * read models to the state the event describes. It never touches the database itself. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/util.h"
#include "payload.h"
#include "projector.h"

/* Set an account's balance in whichever read model holds it (by the id conventions of docs/chaincode.md §1). */
static void balance(struct prj_hctx *h, const char *account, const char *bal)
{
	const char *t = h->ev->tenant;

	if (strncmp(account, "SYSTEM_", 7) == 0)
		prj_p_add(h, Q_BAL_SYSTEM, false, NULL, 4, t, account, bal, account + 7);
	else if (strncmp(account, "treasury_", 9) == 0)
		prj_p_add(h, Q_BAL_TREASURY, false, NULL, 3, t, account, bal);
	else
		prj_p_add(h, Q_BAL_ANY, false, NULL, 3, t, account, bal);
}

/* Transaction rows for up to two wallet sides (b_acct may be NULL). */
static void tx_rows(struct prj_hctx *h, const char *a_acct, const char *a_type, const char *a_cp, const char *a_amt,
		    const char *a_fee, const char *b_acct, const char *b_type, const char *b_cp, const char *b_amt,
		    const char *remark)
{
	const struct prj_event *e = h->ev;

	prj_p_add(h, Q_TX_ROWS, false, NULL, 15, e->tenant, e->tx_id, a_acct, a_type, a_cp, a_amt, a_fee, b_acct,
		  b_type, b_cp, b_amt, "0", remark, prj_p_ms(h), prj_p_intbuf(h, (long long)e->block));
}

static void h_user_created(struct prj_hctx *h)
{
	const char *user = prj_p_str(h, "userID", NULL), *acct = prj_p_str(h, "accountID", user);
	const char *status = prj_p_str(h, "status", "ACTIVE"), *bal = prj_p_qirat(h, "balance", "0");

	if (h->bad)
		return;
	prj_p_add(h, Q_USER_STATUS, true, "no UserProfile has this fabricUserId", 3, h->ev->tenant, user, status);
	prj_p_add(h, Q_WALLET_CREATE, true, "no UserProfile has this fabricUserId", 4, h->ev->tenant, user, acct, bal);
}

static void h_transfer(struct prj_hctx *h)
{
	const char *from = prj_p_str(h, "fromID", NULL), *to = prj_p_str(h, "toID", NULL);
	const char *amount = prj_p_qirat(h, "amount", NULL);
	const char *fee = prj_p_qirat(h, "fee", "0"), *fee_acct = prj_p_str(h, "feeAccountID", "SYSTEM_FEE_POOL");
	const char *from_bal = prj_p_qirat(h, "fromBalance", NULL), *to_bal = prj_p_qirat(h, "toBalance", NULL);
	const cJSON *fb = prj_p_field(h->ev->payload, "feeAccountBalance");
	const char *fee_bal = fb ? prj_p_qirat(h, "feeAccountBalance", NULL) : NULL;
	const char *remark = prj_p_str(h, "remark", "");

	if (h->bad)
		return;
	balance(h, from, from_bal);
	balance(h, to, to_bal);
	if (fee_bal)
		balance(h, fee_acct, fee_bal);
	tx_rows(h, from, "SENT", to, amount, fee, to, "RECEIVED", from, amount, remark[0] ? remark : NULL);
}

static void h_genesis(struct prj_hctx *h)
{
	const char *user = prj_p_str(h, "userID", NULL), *acct = prj_p_str(h, "accountID", user),
		   *amount = prj_p_qirat(h, "amount", NULL);
	const char *tier = prj_p_str(h, "tier", ""), *pool = prj_p_str(h, "poolID", "SYSTEM_USER_GENESIS_POOL");
	const cJSON *pb = prj_p_field(h->ev->payload, "poolBalance");
	const char *pool_bal = pb ? prj_p_qirat(h, "poolBalance", NULL) : NULL, *bal = prj_p_qirat(h, "balance", NULL);
	char remark[80];

	if (h->bad)
		return;
	snprintf(remark, sizeof(remark), "Genesis allocation%s%.40s", tier[0] ? ": " : "", tier);
	balance(h, acct, bal);
	if (pool_bal)
		balance(h, pool, pool_bal);
	tx_rows(h, acct, "GENESIS", pool, amount, "0", NULL, NULL, NULL, NULL, remark);
}

static void h_freeze(struct prj_hctx *h, bool frozen)
{
	const char *user = prj_p_str(h, "userID", NULL), *acct = prj_p_str(h, "accountID", user);
	const char *reason = frozen ? prj_p_str(h, "reason", "") : NULL;

	if (h->bad)
		return;
	prj_p_add(h, Q_WALLET_FREEZE, false, NULL, 4, h->ev->tenant, acct, frozen ? "true" : "false",
		  frozen && reason[0] ? reason : NULL);
}

static void h_org_proposed(struct prj_hctx *h)
{
	const char *org = prj_p_str(h, "orgID", NULL), *name = prj_p_str(h, "orgName", NULL);
	const char *type = prj_p_str(h, "orgType", NULL);
	const char *status = prj_p_str(h, "status", "PROPOSED");
	char *stake = prj_p_str_array(h, "stakeholderIDs", true);

	if (!h->bad)
		prj_p_add(h, Q_ORG_UPSERT, false, NULL, 6, h->ev->tenant, org, name, type, status, stake);
	free(stake);
}

static void h_endorsed(struct prj_hctx *h)
{
	const char *org = prj_p_str(h, "orgID", NULL), *user = prj_p_str(h, "userID", NULL);

	if (!h->bad)
		prj_p_add(h, Q_ORG_ENDORSE, true, "organization not found", 3, h->ev->tenant, org, user);
}

static void h_org_activated(struct prj_hctx *h)
{
	const char *org = prj_p_str(h, "orgID", NULL), *status = prj_p_str(h, "status", "ACTIVE");

	if (!h->bad)
		prj_p_add(h, Q_ORG_ACTIVATE, true, "organization not found", 4, h->ev->tenant, org, status,
			  prj_p_ms(h));
}

static void h_auth_rule(struct prj_hctx *h)
{
	const char *org = prj_p_str(h, "orgID", NULL), *thr = prj_p_qirat(h, "amountThreshold", "0");
	long long req = prj_p_integer(h, "requiredApprovals", false, 0, 1, 1000);
	char *approvers = prj_p_str_array(h, "approverIDs", true), *rule;

	if (!h->bad) {
		rule = gx_xasprintf("{\"amountThreshold\":\"%s\",\"requiredApprovals\":%lld,\"approverIDs\":%s}", thr,
				    req, approvers);
		prj_p_add(h, Q_ORG_RULE, true, "organization not found", 4, h->ev->tenant, org, thr, rule);
		free(rule);
	}
	free(approvers);
}

static void h_mstx_initiated(struct prj_hctx *h)
{
	const char *id = prj_p_str(h, "pendingTxID", NULL), *org = prj_p_str(h, "orgID", NULL);
	const char *init = prj_p_str(h, "initiatorID", NULL);
	const char *to = prj_p_str(h, "toID", NULL), *amount = prj_p_qirat(h, "amount", NULL);
	const char *remark = prj_p_str(h, "remark", "");
	const char *status = prj_p_str(h, "status", "PENDING");
	long long req = prj_p_integer(h, "requiredApprovals", false, 0, 0, 1000);
	char *approvers = prj_p_str_array(h, "approverIDs", false), *approvals = prj_p_str_array(h, "approvals", false);
	cJSON *params, *ap;
	char *pj;

	if (h->bad)
		goto out;
	ap = cJSON_Parse(approvers);
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "toID", to);
	cJSON_AddStringToObject(params, "amount", amount);
	cJSON_AddStringToObject(params, "remark", remark);
	cJSON_AddItemToObject(params, "approverIDs", ap ? ap : cJSON_CreateArray());
	pj = cJSON_PrintUnformatted(params);
	cJSON_Delete(params);
	{
		cJSON *a = cJSON_Parse(approvals);
		int n = a ? cJSON_GetArraySize(a) : 0;

		cJSON_Delete(a);
		prj_p_add(h, Q_MSTX_UPSERT, false, NULL, 12, h->ev->tenant, id, org, init, pj, status,
			  prj_p_intbuf(h, req), prj_p_intbuf(h, n), approvals, to, amount, remark[0] ? remark : NULL);
	}
	free(pj);
out:
	free(approvers);
	free(approvals);
}

static void h_mstx_approved(struct prj_hctx *h, bool executed)
{
	const char *id = prj_p_str(h, "pendingTxID", NULL), *approver = prj_p_str(h, "approverID", NULL);
	long long n = prj_p_integer(h, "approvals", false, 0, 0, 1000);
	const char *status = prj_p_str(h, "status", executed ? "EXECUTED" : "PENDING");
	const char *org = NULL, *to = NULL, *amount = NULL, *fee_acct = NULL;
	const char *from_bal = NULL, *to_bal = NULL, *fee_bal = NULL;

	if (executed) {
		org = prj_p_str(h, "orgID", NULL);
		to = prj_p_str(h, "toID", NULL);
		amount = prj_p_qirat(h, "amount", NULL);
		prj_p_qirat(h, "fee", "0"); /* validated; the fee is in the fee pool's balance */
		fee_acct = prj_p_str(h, "feeAccountID", "SYSTEM_FEE_POOL");
		from_bal = prj_p_qirat(h, "fromBalance", NULL);
		to_bal = prj_p_qirat(h, "toBalance", NULL);
		if (prj_p_field(h->ev->payload, "feeAccountBalance"))
			fee_bal = prj_p_qirat(h, "feeAccountBalance", NULL);
	}
	if (h->bad)
		return;
	prj_p_add(h, Q_MSTX_APPROVE, true, "multi-signature transaction not found", 6, h->ev->tenant, id, approver,
		  prj_p_intbuf(h, n), status, prj_p_ms(h));
	if (!executed)
		return;
	balance(h, org, from_bal);
	balance(h, to, to_bal);
	if (fee_bal)
		balance(h, fee_acct, fee_bal);
	tx_rows(h, to, "RECEIVED", org, amount, "0", NULL, NULL, NULL, NULL, NULL);
}

static void h_loan_applied(struct prj_hctx *h)
{
	const char *loan = prj_p_str(h, "loanID", NULL), *borrower = prj_p_str(h, "borrowerID", NULL);
	const char *amount = prj_p_qirat(h, "amount", NULL), *out = prj_p_qirat(h, "outstanding", amount);
	const char *coll = prj_p_str(h, "collateralHash", ""), *status = prj_p_str(h, "status", "PENDING_APPROVAL");
	long long at = prj_p_integer(h, "appliedAtMs", true, h->ev->time_ms, 0, 4102444800000LL);

	if (!h->bad)
		prj_p_add(h, Q_LOAN_UPSERT, false, NULL, 8, h->ev->tenant, loan, borrower, coll[0] ? coll : NULL,
			  prj_p_intbuf(h, at), status, amount, out);
}

static void h_loan_approved(struct prj_hctx *h)
{
	const char *loan = prj_p_str(h, "loanID", NULL), *borrower = prj_p_str(h, "borrowerID", NULL);
	const char *amount = prj_p_qirat(h, "amount", NULL), *out = prj_p_qirat(h, "outstanding", amount);
	const char *by = prj_p_str(h, "approvedBy", ""), *status = prj_p_str(h, "status", "ACTIVE");
	const char *pool = prj_p_str(h, "poolID", "SYSTEM_LOAN_POOL"), *pool_bal = prj_p_qirat(h, "poolBalance", NULL);
	const char *bal = prj_p_qirat(h, "borrowerBalance", NULL);

	if (h->bad)
		return;
	prj_p_add(h, Q_LOAN_APPROVE, true, "loan not found", 6, h->ev->tenant, loan, status, by[0] ? by : NULL,
		  prj_p_ms(h), out);
	balance(h, pool, pool_bal);
	balance(h, borrower, bal);
	tx_rows(h, borrower, "LOAN_DISBURSEMENT", pool, amount, "0", NULL, NULL, NULL, NULL, "Loan disbursement");
}

static void h_loan_repaid(struct prj_hctx *h)
{
	const char *loan = prj_p_str(h, "loanID", NULL), *borrower = prj_p_str(h, "borrowerID", NULL);
	const char *amount = prj_p_qirat(h, "amount", NULL), *out = prj_p_qirat(h, "outstanding", NULL);
	const char *status = prj_p_str(h, "status", NULL);
	const char *pool = prj_p_str(h, "poolID", "SYSTEM_LOAN_POOL"), *pool_bal = prj_p_qirat(h, "poolBalance", NULL);
	const char *bal = prj_p_qirat(h, "borrowerBalance", NULL);

	if (h->bad)
		return;
	prj_p_add(h, Q_LOAN_REPAY, true, "loan not found", 5, h->ev->tenant, loan, status, out, prj_p_ms(h));
	balance(h, pool, pool_bal);
	balance(h, borrower, bal);
	tx_rows(h, borrower, "LOAN_REPAYMENT", pool, amount, "0", NULL, NULL, NULL, NULL, "Loan repayment");
}

static void votes(struct prj_hctx *h, const char **f, const char **a, const char **ab)
{
	*f = prj_p_intbuf(h, prj_p_integer(h, "votesFor", true, 0, 0, 2147483647));
	*a = prj_p_intbuf(h, prj_p_integer(h, "votesAgainst", true, 0, 0, 2147483647));
	*ab = prj_p_intbuf(h, prj_p_integer(h, "votesAbstain", true, 0, 0, 2147483647));
}

static void h_prop_submitted(struct prj_hctx *h)
{
	const char *id = prj_p_str(h, "proposalID", NULL), *proposer = prj_p_str(h, "proposerID", NULL);
	const char *type = prj_p_str(h, "proposalType", "PARAMETER_CHANGE"), *target = prj_p_str(h, "targetParam", "");
	const char *nv = prj_p_str(h, "newValue", ""), *title = prj_p_str(h, "title", "");
	const char *desc = prj_p_str(h, "description", "");
	const char *status = prj_p_str(h, "status", "ACTIVE"), *f, *a, *ab;
	long long start = prj_p_integer(h, "votingStartsAtMs", true, h->ev->time_ms, 0, 4102444800000LL);
	long long end = prj_p_integer(h, "votingEndsAtMs", true, h->ev->time_ms, 0, 9999999999999LL);

	votes(h, &f, &a, &ab);
	if (!h->bad)
		prj_p_add(h, Q_PROP_UPSERT, false, NULL, 14, h->ev->tenant, id, title, desc, proposer, type, status, f,
			  a, ab, target[0] ? target : NULL, target[0] ? nv : NULL, prj_p_intbuf(h, end),
			  prj_p_intbuf(h, start));
}

static void h_vote(struct prj_hctx *h)
{
	const char *id = prj_p_str(h, "proposalID", NULL), *voter = prj_p_str(h, "voterID", NULL);
	const char *vote = prj_p_str(h, "vote", NULL);
	const char *f, *a, *ab;

	votes(h, &f, &a, &ab);
	if (h->bad)
		return;
	prj_p_add(h, Q_PROP_VOTE, true, "proposal not found", 6, h->ev->tenant, id, voter, f, a, ab);
	prj_p_add(h, Q_VOTE_UPSERT, false, NULL, 6, h->ev->tenant, id, voter, vote, h->ev->tx_id, prj_p_ms(h));
}

static void h_prop_decided(struct prj_hctx *h, bool executed)
{
	const char *id = prj_p_str(h, "proposalID", NULL),
		   *status = prj_p_str(h, "status", executed ? "EXECUTED" : "REJECTED");
	const char *target = executed ? prj_p_str(h, "targetParam", NULL) : NULL;
	const char *nv = executed ? prj_p_str(h, "newValue", NULL) : NULL;
	const char *f, *a, *ab;

	votes(h, &f, &a, &ab);
	if (h->bad)
		return;
	prj_p_add(h, Q_PROP_DECIDE, true, "proposal not found", 7, h->ev->tenant, id, status, f, a, ab, prj_p_ms(h));
	if (executed)
		prj_p_add(h, Q_PARAM_SET, false, NULL, 3, h->ev->tenant, target, nv);
}

static void h_bootstrapped(struct prj_hctx *h)
{
	const cJSON *pools = prj_p_field(h->ev->payload, "pools"), *it;
	const char *fee = prj_p_str(h, "feeAccountID", "SYSTEM_FEE_POOL");
	const char *tax = prj_p_str(h, "taxAccountID", "SYSTEM_TAX_POOL");

	if (!cJSON_IsArray(pools)) {
		prj_p_fail(h, "SystemBootstrapped: field 'pools' must be an array");
		return;
	}
	cJSON_ArrayForEach(it, pools) {
		const cJSON *id = prj_p_field(it, "accountID"), *amt = prj_p_field(it, "amount");

		if (!cJSON_IsString(id) || strncmp(id->valuestring, "SYSTEM_", 7) != 0 || !cJSON_IsString(amt)) {
			prj_p_fail(h, "SystemBootstrapped: pools[] needs a SYSTEM_ accountID and an amount string");
			return;
		}
	}
	if (h->bad || strncmp(fee, "SYSTEM_", 7) != 0 || strncmp(tax, "SYSTEM_", 7) != 0) {
		prj_p_fail(h, "SystemBootstrapped: fee and tax accounts must be SYSTEM_ accounts");
		return;
	}
	cJSON_ArrayForEach(it, pools) {
		const char *id = prj_p_field(it, "accountID")->valuestring;
		struct prj_event sub = *h->ev;
		const struct prj_event *saved = h->ev;
		const char *amt;

		sub.payload = it;
		h->ev = &sub;
		amt = prj_p_qirat(h, "amount", NULL);
		h->ev = saved;
		if (h->bad)
			return;
		prj_p_add(h, Q_BAL_SYSTEM, false, NULL, 4, h->ev->tenant, id, amt, id + 7);
	}
	prj_p_add(h, Q_SYSTEM_ENSURE, false, NULL, 3, h->ev->tenant, fee, fee + 7);
	prj_p_add(h, Q_SYSTEM_ENSURE, false, NULL, 3, h->ev->tenant, tax, tax + 7);
}

static void h_countries(struct prj_hctx *h)
{
	const cJSON *list = prj_p_field(h->ev->payload, "countries"), *it;
	const char *pool = prj_p_str(h, "poolID", "SYSTEM_GOVT_GENESIS_POOL");
	const cJSON *pb = prj_p_field(h->ev->payload, "poolBalance");
	const char *pool_bal = pb ? prj_p_qirat(h, "poolBalance", NULL) : NULL;
	cJSON *norm;
	char *text;

	if (!cJSON_IsArray(list)) {
		prj_p_fail(h, "CountryDataInitialized: field 'countries' must be an array");
		return;
	}
	norm = cJSON_CreateArray();
	cJSON_ArrayForEach(it, list) {
		struct prj_event sub = *h->ev;
		const struct prj_event *saved = h->ev;
		const char *cc, *tid, *alloc;
		long long ppb;
		cJSON *o;

		sub.payload = it;
		h->ev = &sub;
		cc = prj_p_str(h, "countryCode", NULL);
		tid = prj_p_str(h, "treasuryID", NULL);
		alloc = prj_p_qirat(h, "allocation", NULL);
		ppb = prj_p_integer(h, "ppb", false, 0, 0, 1000000000);
		h->ev = saved;
		if (h->bad)
			break;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "countryCode", cc);
		cJSON_AddStringToObject(o, "treasuryID", tid);
		cJSON_AddNumberToObject(o, "ppb", (double)ppb);
		cJSON_AddStringToObject(o, "allocation", alloc);
		cJSON_AddItemToArray(norm, o);
	}
	if (!h->bad) {
		text = cJSON_PrintUnformatted(norm);
		prj_p_add(h, Q_COUNTRIES, false, NULL, 4, h->ev->tenant, text, prj_p_ms(h), h->ev->tx_id);
		free(text);
		if (pool_bal)
			balance(h, pool, pool_bal);
	}
	cJSON_Delete(norm);
}

static void h_param(struct prj_hctx *h)
{
	const char *k = prj_p_str(h, "paramKey", NULL), *v = prj_p_str(h, "paramValue", NULL);

	if (!h->bad)
		prj_p_add(h, Q_PARAM_SET, false, NULL, 3, h->ev->tenant, k, v);
}

static void h_admin(struct prj_hctx *h)
{
	const char *user = prj_p_str(h, "userID", NULL);

	if (!h->bad)
		prj_p_add(h, Q_ADMIN_APPOINT, false, NULL, 2, h->ev->tenant, user);
}

static void h_treasury(struct prj_hctx *h)
{
	const char *cc = prj_p_str(h, "countryCode", NULL), *tid = prj_p_str(h, "treasuryID", NULL),
		   *bal = prj_p_qirat(h, "balance", "0");

	if (!h->bad)
		prj_p_add(h, Q_TREASURY_ACTIVATE, false, NULL, 6, h->ev->tenant, tid, cc, bal, prj_p_ms(h),
			  h->ev->tx_id);
}

static void h_tax(struct prj_hctx *h)
{
	const char *acct = prj_p_str(h, "accountID", NULL), *amount = prj_p_qirat(h, "taxAmount", NULL);
	const char *tax_acct = prj_p_str(h, "taxAccountID", "SYSTEM_TAX_POOL"), *bal = prj_p_qirat(h, "balance", NULL);
	const cJSON *tb = prj_p_field(h->ev->payload, "taxAccountBalance");
	const char *tax_bal = tb ? prj_p_qirat(h, "taxAccountBalance", NULL) : NULL;

	if (h->bad)
		return;
	balance(h, acct, bal);
	if (tax_bal)
		balance(h, tax_acct, tax_bal);
	tx_rows(h, acct, "TAX", tax_acct, amount, "0", NULL, NULL, NULL, NULL, "Velocity tax");
}

/* SystemPaused / SystemResumed: the EventLog row is the read model (docs/projector.md). */
static void h_log_only(struct prj_hctx *h GX_UNUSED)
{
}

static void h_user_frozen(struct prj_hctx *h)
{
	h_freeze(h, true);
}

static void h_user_unfrozen(struct prj_hctx *h)
{
	h_freeze(h, false);
}

static void h_mstx_approved1(struct prj_hctx *h)
{
	h_mstx_approved(h, false);
}

static void h_mstx_executed(struct prj_hctx *h)
{
	h_mstx_approved(h, true);
}

static void h_prop_executed(struct prj_hctx *h)
{
	h_prop_decided(h, true);
}

static void h_prop_rejected(struct prj_hctx *h)
{
	h_prop_decided(h, false);
}

static const struct {
	const char *name;
	void (*fn)(struct prj_hctx *h);
} handlers[] = {
	{ "UserCreated", h_user_created },
	{ "TransferCompleted", h_transfer },
	{ "GenesisDistributed", h_genesis },
	{ "WalletFrozen", h_user_frozen },
	{ "WalletUnfrozen", h_user_unfrozen },
	{ "OrganizationProposed", h_org_proposed },
	{ "MembershipEndorsed", h_endorsed },
	{ "OrganizationActivated", h_org_activated },
	{ "AuthRuleDefined", h_auth_rule },
	{ "MultiSigTxInitiated", h_mstx_initiated },
	{ "MultiSigTxApproved", h_mstx_approved1 },
	{ "MultiSigTxExecuted", h_mstx_executed },
	{ "LoanApplicationReceived", h_loan_applied },
	{ "LoanApproved", h_loan_approved },
	{ "LoanRepaid", h_loan_repaid },
	{ "ProposalSubmitted", h_prop_submitted },
	{ "VoteCast", h_vote },
	{ "ProposalExecuted", h_prop_executed },
	{ "ProposalRejected", h_prop_rejected },
	{ "SystemBootstrapped", h_bootstrapped },
	{ "CountryDataInitialized", h_countries },
	{ "SystemParameterUpdated", h_param },
	{ "SystemPaused", h_log_only },
	{ "SystemResumed", h_log_only },
	{ "AdminAppointed", h_admin },
	{ "TreasuryActivated", h_treasury },
	{ "VelocityTaxApplied", h_tax },
};

int prj_handle_event(const struct prj_event *ev, struct prj_stmts *out, char *why, size_t whylen)
{
	struct prj_hctx h = { .ev = ev, .out = out, .why = why, .whylen = whylen };
	size_t before = out->n;

	if (!cJSON_IsObject(ev->payload)) {
		snprintf(why, whylen, "%s: payload is not a JSON object", ev->name);
		return -1;
	}
	for (size_t i = 0; i < GX_ARRAY_LEN(handlers); i++) {
		if (strcmp(handlers[i].name, ev->name) != 0)
			continue;
		handlers[i].fn(&h);
		if (!h.bad)
			return 0;
		/* drop what a failing handler appended */
		for (size_t k = before; k < out->n; k++)
			for (int j = 0; j < out->v[k].nparams; j++)
				free(out->v[k].params[j]);
		out->n = before;
		return -1;
	}
	snprintf(why, whylen, "unknown event '%.80s'", ev->name);
	return -1;
}

int64_t prj_event_time_ms(const cJSON *payload)
{
	static const char *const keys[] = { "txTimeMs",    "timestampMs",      "createdAtMs",  "activatedAtMs",
					    "appliedAtMs", "votingStartsAtMs", "executedAtMs", "bootstrappedAtMs",
					    "pausedAtMs",  "resumedAtMs" };

	if (!cJSON_IsObject(payload))
		return 0;
	for (size_t i = 0; i < GX_ARRAY_LEN(keys); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(payload, keys[i]);

		if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 9.0e15)
			return (int64_t)v->valuedouble;
	}
	return 0;
}
