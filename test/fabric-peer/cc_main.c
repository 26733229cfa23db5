/* GX chaincode model entry point: the function table, argument counts, role levels and the pause gate. */
#include "cc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Role levels: a creator at level L may call every function requiring a level <= L. */
enum cc_level {
	CC_ANY,     /* read-only functions: any identity of the channel */
	CC_PARTNER, /* gx_partner_api, gx_admin, gx_super_admin */
	CC_ADMIN,   /* gx_admin, gx_super_admin */
	CC_SUPER,   /* gx_super_admin */
};

enum cc_flags {
	CC_PAUSABLE = 1 << 0, /* refused with 423 while the system is paused */
};

struct cc_fn {
	const char *name;
	int (*fn)(struct cc_ctx *c);
	int nargs;
	enum cc_level level;
	unsigned flags;
};

static const struct cc_fn fns[] = {
	{ "IdentityContract:CreateUser", cc_identity_create_user, 4, CC_PARTNER, CC_PAUSABLE },
	{ "IdentityContract:GetUser", cc_identity_get_user, 1, CC_ANY, 0 },
	{ "TokenomicsContract:Transfer", cc_token_transfer, 4, CC_PARTNER, CC_PAUSABLE },
	{ "TokenomicsContract:DistributeGenesis", cc_token_distribute_genesis, 3, CC_ADMIN, CC_PAUSABLE },
	{ "TokenomicsContract:FreezeWallet", cc_token_freeze, 2, CC_ADMIN, CC_PAUSABLE },
	{ "TokenomicsContract:UnfreezeWallet", cc_token_unfreeze, 1, CC_ADMIN, CC_PAUSABLE },
	{ "TokenomicsContract:GetBalance", cc_token_get_balance, 1, CC_ANY, 0 },
	{ "OrganizationContract:ProposeOrganization", cc_org_propose, 4, CC_PARTNER, CC_PAUSABLE },
	{ "OrganizationContract:EndorseMembership", cc_org_endorse, 2, CC_PARTNER, CC_PAUSABLE },
	{ "OrganizationContract:ActivateOrganization", cc_org_activate, 1, CC_PARTNER, CC_PAUSABLE },
	{ "OrganizationContract:DefineAuthRule", cc_org_define_rule, 2, CC_PARTNER, CC_PAUSABLE },
	{ "OrganizationContract:InitiateMultiSigTx", cc_org_initiate_tx, 6, CC_PARTNER, CC_PAUSABLE },
	{ "OrganizationContract:ApproveMultiSigTx", cc_org_approve_tx, 2, CC_PARTNER, CC_PAUSABLE },
	{ "OrganizationContract:GetOrganization", cc_org_get, 1, CC_ANY, 0 },
	{ "OrganizationContract:GetMultiSigTx", cc_org_get_tx, 1, CC_ANY, 0 },
	{ "LoanPoolContract:ApplyForLoan", cc_loan_apply, 4, CC_PARTNER, CC_PAUSABLE },
	{ "LoanPoolContract:ApproveLoan", cc_loan_approve, 2, CC_ADMIN, CC_PAUSABLE },
	{ "LoanPoolContract:RepayLoan", cc_loan_repay, 3, CC_PARTNER, CC_PAUSABLE },
	{ "LoanPoolContract:GetLoan", cc_loan_get, 1, CC_ANY, 0 },
	{ "GovernanceContract:SubmitProposal", cc_gov_submit, 6, CC_PARTNER, CC_PAUSABLE },
	{ "GovernanceContract:CastVote", cc_gov_vote, 3, CC_PARTNER, CC_PAUSABLE },
	{ "GovernanceContract:ExecuteProposal", cc_gov_execute, 2, CC_ADMIN, CC_PAUSABLE },
	{ "GovernanceContract:GetProposal", cc_gov_get, 1, CC_ANY, 0 },
	{ "AdminContract:BootstrapSystem", cc_admin_bootstrap, 0, CC_SUPER, 0 },
	{ "AdminContract:InitializeCountryData", cc_admin_init_countries, 1, CC_SUPER, 0 },
	{ "AdminContract:UpdateSystemParameter", cc_admin_update_param, 2, CC_SUPER, 0 },
	{ "AdminContract:PauseSystem", cc_admin_pause, 1, CC_SUPER, 0 },
	{ "AdminContract:ResumeSystem", cc_admin_resume, 0, CC_SUPER, 0 },
	{ "AdminContract:AppointAdmin", cc_admin_appoint, 1, CC_SUPER, 0 },
	{ "AdminContract:ActivateTreasuryAccount", cc_admin_activate_treasury, 1, CC_ADMIN, 0 },
	{ "AdminContract:GetSystemStatus", cc_admin_status, 0, CC_ANY, 0 },
	{ "AdminContract:GetSystemParameter", cc_admin_get_param, 1, CC_ANY, 0 },
	{ "AdminContract:GetCountry", cc_admin_get_country, 1, CC_ANY, 0 },
	{ "TaxAndFeeContract:ApplyVelocityTax", cc_tax_velocity, 1, CC_ADMIN, CC_PAUSABLE },
	{ "TaxAndFeeContract:CalculateFee", cc_tax_calculate_fee, 1, CC_ANY, 0 },
	{ "TokenomicsContract:ListAccounts", cc_token_list_accounts, 2, CC_ANY, 0 },
	{ "OrganizationContract:ListOrganizations", cc_org_list, 2, CC_ANY, 0 },
	{ "OrganizationContract:ListMultiSigTxs", cc_org_list_tx, 2, CC_ANY, 0 },
	{ "LoanPoolContract:ListLoans", cc_loan_list, 2, CC_ANY, 0 },
	{ "GovernanceContract:ListProposals", cc_gov_list, 2, CC_ANY, 0 },
};

static const char *level_role(enum cc_level l)
{
	switch (l) {
	case CC_SUPER:
		return "gx_super_admin";
	case CC_ADMIN:
		return "gx_admin";
	case CC_PARTNER:
		return "gx_partner_api";
	case CC_ANY:
		break;
	}
	return "";
}

static enum cc_level creator_level(const char *role)
{
	if (!role)
		return CC_ANY;
	if (!strcmp(role, "gx_super_admin"))
		return CC_SUPER;
	if (!strcmp(role, "gx_admin"))
		return CC_ADMIN;
	if (!strcmp(role, "gx_partner_api"))
		return CC_PARTNER;
	return CC_ANY;
}

static int dispatch(struct cc_ctx *c, const char *name, const char *role)
{
	const struct cc_fn *f = NULL;
	char *reason = NULL;
	int st;

	for (size_t i = 0; i < GX_ARRAY_LEN(fns); i++)
		if (!strcmp(fns[i].name, name))
			f = &fns[i];
	if (!f)
		return cc_fail(c, CC_BAD, "unknown function '%s'", name);
	if (c->nargs != f->nargs)
		return cc_fail(c, CC_BAD, "%s expects %d arguments, got %d", name, f->nargs, c->nargs);
	if (creator_level(role) < f->level)
		return cc_fail(c, CC_FORBIDDEN, "%s requires role %s, caller has '%s'", name, level_role(f->level),
			       role ? role : "");
	if ((f->flags & CC_PAUSABLE) && cc_paused(c, &reason)) {
		st = cc_fail(c, CC_PAUSED, "system is paused: %s", reason ? reason : "");
		free(reason);
		return st;
	}
	return f->fn(c);
}

int cc_invoke(struct cc_stub *s, int argc, const char *const *argv, char **payload, char **message)
{
	struct cc_ctx c = { 0 };
	int st;

	*payload = NULL;
	*message = NULL;
	if (argc < 1 || !argv || !argv[0]) {
		*message = gx_xstrdup("missing function name");
		return CC_BAD;
	}
	for (int i = 1; i < argc; i++) {
		if (!argv[i]) {
			*message = gx_xstrdup("argument is NULL");
			return CC_BAD;
		}
	}
	c.stub = s;
	c.nargs = argc - 1;
	c.args = argv + 1;
	c.now_ms = cc_tx_time_ms(s);
	st = dispatch(&c, argv[0], cc_creator_role(s));
	if (st == CC_OK) {
		*payload = c.payload;
		free(c.message);
	} else {
		if (!c.message)
			c.message = gx_xstrdup("chaincode error");
		*message = c.message;
		free(c.payload);
	}
	return st;
}
