/* The commandType -> Contract:Function mapping table and its argument builders (docs/chaincode.md). */
#include "gx/chaincode.h"
#include "gx/fee.h"
#include "gx/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How one positional argument is built from the payload. */
enum arg_kind {
	ARG_END,
	ARG_STR,       /* required non-empty string */
	ARG_STR_OPT,   /* optional string; missing or null -> "" */
	ARG_QIRAT,     /* required decimal string of integer Qirat */
	ARG_INT,       /* required JSON integer number -> decimal string */
	ARG_STR_LIST,  /* required array of non-empty strings -> JSON array text */
	ARG_RULE,      /* {amountThreshold?, requiredApprovals, approverIds} -> rule JSON text */
	ARG_COUNTRIES, /* countriesData[{code|countryCode, percentage}] -> [{"countryCode","ppb"}] JSON text */
};

struct arg_spec {
	enum arg_kind kind;
	const char *field;
};

struct cmd_row {
	const char *type;
	const char *function;
	enum gx_cc_identity identity;
	const char *agg_prefix; /* aggregate = agg_prefix + payload[agg_field], or agg_prefix alone */
	const char *agg_field;
	struct arg_spec args[GX_CHAINCODE_MAX_ARGS + 1];
};

/* clang-format off */
#define S(f) { ARG_STR, f }
#define SO(f) { ARG_STR_OPT, f }
#define Q(f) { ARG_QIRAT, f }
#define I(f) { ARG_INT, f }
#define END { ARG_END, NULL }

static const struct cmd_row rows[] = {
	{ "CREATE_USER", "IdentityContract:CreateUser", GX_CC_ID_PARTNER, "wallet:", "userId",
	  { S("userId"), S("biometricHash"), S("nationality"), I("age"), END } },
	{ "TRANSFER_TOKENS", "TokenomicsContract:Transfer", GX_CC_ID_PARTNER, "wallet:", "fromUserId",
	  { S("fromUserId"), S("toUserId"), Q("amount"), SO("remark"), END } },
	{ "DISTRIBUTE_GENESIS", "TokenomicsContract:DistributeGenesis", GX_CC_ID_ADMIN, "wallet:", "userId",
	  { S("userId"), S("userType"), S("countryCode"), END } },
	{ "FREEZE_WALLET", "TokenomicsContract:FreezeWallet", GX_CC_ID_ADMIN, "wallet:", "userId",
	  { S("userId"), S("reason"), END } },
	{ "UNFREEZE_WALLET", "TokenomicsContract:UnfreezeWallet", GX_CC_ID_ADMIN, "wallet:", "userId",
	  { S("userId"), END } },
	{ "PROPOSE_ORGANIZATION", "OrganizationContract:ProposeOrganization", GX_CC_ID_PARTNER, "org:", "orgId",
	  { S("orgId"), S("orgName"), S("orgType"), { ARG_STR_LIST, "stakeholderIds" }, END } },
	{ "ENDORSE_MEMBERSHIP", "OrganizationContract:EndorseMembership", GX_CC_ID_PARTNER, "org:", "orgId",
	  { S("orgId"), S("userId"), END } },
	{ "ACTIVATE_ORGANIZATION", "OrganizationContract:ActivateOrganization", GX_CC_ID_PARTNER, "org:", "orgId",
	  { S("orgId"), END } },
	{ "DEFINE_AUTH_RULE", "OrganizationContract:DefineAuthRule", GX_CC_ID_PARTNER, "org:", "orgId",
	  { S("orgId"), { ARG_RULE, NULL }, END } },
	{ "INITIATE_MULTISIG_TX", "OrganizationContract:InitiateMultiSigTx", GX_CC_ID_PARTNER, "org:", "orgId",
	  { S("pendingTxId"), S("orgId"), S("initiatorId"), S("toUserId"), Q("amount"), SO("remark") } },
	{ "APPROVE_MULTISIG_TX", "OrganizationContract:ApproveMultiSigTx", GX_CC_ID_PARTNER, "multisig:", "pendingTxId",
	  { S("pendingTxId"), S("userId"), END } },
	{ "APPLY_FOR_LOAN", "LoanPoolContract:ApplyForLoan", GX_CC_ID_PARTNER, "loan:", "loanId",
	  { S("loanId"), S("borrowerId"), Q("amount"), S("collateralHash"), END } },
	{ "APPROVE_LOAN", "LoanPoolContract:ApproveLoan", GX_CC_ID_ADMIN, "loan:", "loanId",
	  { S("loanId"), S("approvedBy"), END } },
	{ "REPAY_LOAN", "LoanPoolContract:RepayLoan", GX_CC_ID_PARTNER, "loan:", "loanId",
	  { S("loanId"), S("borrowerId"), Q("amount"), END } },
	{ "SUBMIT_PROPOSAL", "GovernanceContract:SubmitProposal", GX_CC_ID_PARTNER, "proposal:", "proposalId",
	  { S("proposalId"), S("proposerId"), S("targetParam"), S("newValue"), S("title"), SO("description") } },
	{ "CAST_VOTE", "GovernanceContract:CastVote", GX_CC_ID_PARTNER, "proposal:", "proposalId",
	  { S("proposalId"), S("voterId"), S("vote"), END } },
	{ "EXECUTE_PROPOSAL", "GovernanceContract:ExecuteProposal", GX_CC_ID_ADMIN, "proposal:", "proposalId",
	  { S("proposalId"), S("executedBy"), END } },
	{ "BOOTSTRAP_SYSTEM", "AdminContract:BootstrapSystem", GX_CC_ID_SUPER_ADMIN, "system", NULL, { END } },
	{ "INITIALIZE_COUNTRY_DATA", "AdminContract:InitializeCountryData", GX_CC_ID_SUPER_ADMIN, "system", NULL,
	  { { ARG_COUNTRIES, "countriesData" }, END } },
	{ "UPDATE_SYSTEM_PARAMETER", "AdminContract:UpdateSystemParameter", GX_CC_ID_SUPER_ADMIN, "system", NULL,
	  { S("paramKey"), S("paramValue"), END } },
	{ "PAUSE_SYSTEM", "AdminContract:PauseSystem", GX_CC_ID_SUPER_ADMIN, "system", NULL, { S("reason"), END } },
	{ "RESUME_SYSTEM", "AdminContract:ResumeSystem", GX_CC_ID_SUPER_ADMIN, "system", NULL, { END } },
	{ "APPOINT_ADMIN", "AdminContract:AppointAdmin", GX_CC_ID_SUPER_ADMIN, "system", NULL, { S("userId"), END } },
	{ "ACTIVATE_TREASURY", "AdminContract:ActivateTreasuryAccount", GX_CC_ID_ADMIN, "system", NULL,
	  { S("countryCode"), END } },
	{ "APPLY_VELOCITY_TAX", "TaxAndFeeContract:ApplyVelocityTax", GX_CC_ID_ADMIN, "wallet:", "accountId",
	  { S("accountId"), END } },
};

const char *const gx_chaincode_command_types[] = {
	"CREATE_USER", "TRANSFER_TOKENS", "DISTRIBUTE_GENESIS", "FREEZE_WALLET", "UNFREEZE_WALLET",
	"PROPOSE_ORGANIZATION", "ENDORSE_MEMBERSHIP", "ACTIVATE_ORGANIZATION", "DEFINE_AUTH_RULE",
	"INITIATE_MULTISIG_TX", "APPROVE_MULTISIG_TX", "APPLY_FOR_LOAN", "APPROVE_LOAN", "REPAY_LOAN",
	"SUBMIT_PROPOSAL", "CAST_VOTE", "EXECUTE_PROPOSAL", "BOOTSTRAP_SYSTEM", "INITIALIZE_COUNTRY_DATA",
	"UPDATE_SYSTEM_PARAMETER", "PAUSE_SYSTEM", "RESUME_SYSTEM", "APPOINT_ADMIN", "ACTIVATE_TREASURY",
	"APPLY_VELOCITY_TAX", NULL,
};

const char *const gx_chaincode_event_names[] = {
	"UserCreated", "TransferCompleted", "GenesisDistributed", "WalletFrozen", "WalletUnfrozen",
	"OrganizationProposed", "MembershipEndorsed", "OrganizationActivated", "AuthRuleDefined",
	"MultiSigTxInitiated", "MultiSigTxApproved", "MultiSigTxExecuted", "LoanApplicationReceived", "LoanApproved",
	"LoanRepaid", "ProposalSubmitted", "VoteCast", "ProposalExecuted", "ProposalRejected", "SystemBootstrapped",
	"CountryDataInitialized", "SystemParameterUpdated", "SystemPaused", "SystemResumed", "AdminAppointed",
	"TreasuryActivated", "VelocityTaxApplied", NULL,
};
/* clang-format on */

/* Largest integer a double holds exactly; JSON integers beyond it cannot be trusted. */
#define MAX_EXACT_INT 9007199254740991.0
#define PPB_ONE 1000000000LL

static const struct cmd_row *find_row(const char *type)
{
	if (!type)
		return NULL;
	for (size_t i = 0; i < GX_ARRAY_LEN(rows); i++)
		if (!strcmp(rows[i].type, type))
			return &rows[i];
	return NULL;
}

bool gx_chaincode_known_command(const char *command_type)
{
	return find_row(command_type) != NULL;
}

bool gx_chaincode_known_event(const char *name)
{
	if (!name)
		return false;
	for (size_t i = 0; gx_chaincode_event_names[i]; i++)
		if (!strcmp(gx_chaincode_event_names[i], name))
			return true;
	return false;
}

const char *gx_chaincode_identity_role(enum gx_cc_identity id)
{
	switch (id) {
	case GX_CC_ID_SUPER_ADMIN:
		return "gx_super_admin";
	case GX_CC_ID_ADMIN:
		return "gx_admin";
	case GX_CC_ID_PARTNER:
		return "gx_partner_api";
	}
	return "";
}

void gx_cc_call_release(struct gx_cc_call *c)
{
	if (!c)
		return;
	free(c->function);
	for (size_t i = 0; i < GX_CHAINCODE_MAX_ARGS; i++)
		free(c->argv[i]);
	free(c->aggregate);
	memset(c, 0, sizeof(*c));
}

static int fail(char *err, size_t errlen, const char *type, const char *fmt, ...) GX_PRINTF(4, 5);

static int fail(char *err, size_t errlen, const char *type, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return -1;
	n = snprintf(err, errlen, "%s payload: ", type);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Exact integer value of a JSON number, or false when it is not an integer within +-2^53. */
static bool json_exact_int(const cJSON *v, long long *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || fabs(d) > MAX_EXACT_INT)
		return false;
	*out = (long long)d;
	return true;
}

static bool is_qirat_string(const cJSON *v)
{
	uint64_t q;

	return cJSON_IsString(v) && gx_fee_parse_u64(v->valuestring, &q) == 0;
}

/* Non-empty strings only; returns a JSON array text or NULL. */
static char *string_list_json(const cJSON *arr)
{
	cJSON *out, *it;
	char *txt;

	if (!cJSON_IsArray(arr))
		return NULL;
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it) || !it->valuestring[0]) {
			cJSON_Delete(out);
			return NULL;
		}
		cJSON_AddItemToArray(out, cJSON_CreateString(it->valuestring));
	}
	txt = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	return txt;
}

static char *build_rule(const cJSON *p, const char *type, char *err, size_t errlen)
{
	const cJSON *thr = cJSON_GetObjectItemCaseSensitive(p, "amountThreshold");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(p, "requiredApprovals");
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(p, "approverIds");
	cJSON *rule;
	char *list, *txt;
	long long n;

	if (thr && !cJSON_IsNull(thr) && !is_qirat_string(thr)) {
		fail(err, errlen, type, "field 'amountThreshold' must be a decimal string of integer Qirat");
		return NULL;
	}
	if (!json_exact_int(req, &n)) {
		fail(err, errlen, type, "field 'requiredApprovals' must be an integer");
		return NULL;
	}
	list = string_list_json(ids);
	if (!list) {
		fail(err, errlen, type, "field 'approverIds' must be an array of non-empty strings");
		return NULL;
	}
	rule = cJSON_CreateObject();
	cJSON_AddStringToObject(rule, "amountThreshold", cJSON_IsString(thr) ? thr->valuestring : "0");
	cJSON_AddNumberToObject(rule, "requiredApprovals", (double)n);
	cJSON_AddItemToObject(rule, "approverIDs", cJSON_Parse(list));
	free(list);
	txt = cJSON_PrintUnformatted(rule);
	cJSON_Delete(rule);
	return txt;
}

/* "0.13464767" or "1" -> parts per billion; at most 9 decimals, value 0..1. */
static bool decimal_fraction_ppb(const char *s, long long *out)
{
	long long ip = 0, frac = 0;
	int digits = 0;

	if (!s || (s[0] != '0' && s[0] != '1'))
		return false;
	ip = s[0] - '0';
	s++;
	if (*s == '.') {
		s++;
		if (!*s)
			return false;
		for (; *s; s++) {
			if (*s < '0' || *s > '9' || digits == 9)
				return false;
			frac = frac * 10 + (*s - '0');
			digits++;
		}
	} else if (*s) {
		return false;
	}
	for (; digits < 9; digits++)
		frac *= 10;
	*out = ip * PPB_ONE + frac;
	return *out <= PPB_ONE;
}

static char *build_countries(const cJSON *arr, const char *type, char *err, size_t errlen)
{
	cJSON *out, *it;
	char *txt;
	size_t i = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
		fail(err, errlen, type, "field 'countriesData' must be a non-empty array");
		return NULL;
	}
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(it, arr) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(it, "countryCode");
		const cJSON *pct = cJSON_GetObjectItemCaseSensitive(it, "percentage");
		long long ppb = -1;
		cJSON *row;

		if (!code)
			code = cJSON_GetObjectItemCaseSensitive(it, "code");
		if (!cJSON_IsObject(it) || !cJSON_IsString(code) || !code->valuestring[0]) {
			fail(err, errlen, type, "countriesData[%zu]: 'countryCode' (or 'code') must be a string", i);
			goto fail;
		}
		if (cJSON_IsString(pct)) {
			if (!decimal_fraction_ppb(pct->valuestring, &ppb))
				ppb = -1;
		} else if (cJSON_IsNumber(pct) && isfinite(pct->valuedouble) && pct->valuedouble >= 0 &&
			   pct->valuedouble <= 1) {
			ppb = llround(pct->valuedouble * (double)PPB_ONE);
		}
		if (ppb < 0) {
			fail(err, errlen, type, "countriesData[%zu]: 'percentage' must be a fraction between 0 and 1",
			     i);
			goto fail;
		}
		row = cJSON_CreateObject();
		cJSON_AddStringToObject(row, "countryCode", code->valuestring);
		cJSON_AddNumberToObject(row, "ppb", (double)ppb);
		cJSON_AddItemToArray(out, row);
		i++;
	}
	txt = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	return txt;
fail:
	cJSON_Delete(out);
	return NULL;
}

/* Build one argument; NULL with err filled on failure. */
static char *build_arg(const struct arg_spec *a, const cJSON *p, const char *type, char *err, size_t errlen)
{
	const cJSON *v = a->field ? cJSON_GetObjectItemCaseSensitive(p, a->field) : NULL;
	long long n;
	char *txt;

	switch (a->kind) {
	case ARG_STR:
		if (!cJSON_IsString(v) || !v->valuestring[0]) {
			fail(err, errlen, type, "field '%s' must be a non-empty string", a->field);
			return NULL;
		}
		return gx_xstrdup(v->valuestring);
	case ARG_STR_OPT:
		if (!v || cJSON_IsNull(v))
			return gx_xstrdup("");
		if (!cJSON_IsString(v)) {
			fail(err, errlen, type, "field '%s' must be a string", a->field);
			return NULL;
		}
		return gx_xstrdup(v->valuestring);
	case ARG_QIRAT:
		if (!is_qirat_string(v)) {
			fail(err, errlen, type, "field '%s' must be a decimal string of integer Qirat", a->field);
			return NULL;
		}
		return gx_xstrdup(v->valuestring);
	case ARG_INT:
		if (!json_exact_int(v, &n)) {
			fail(err, errlen, type, "field '%s' must be an integer", a->field);
			return NULL;
		}
		return gx_xasprintf("%lld", n);
	case ARG_STR_LIST:
		txt = string_list_json(v);
		if (!txt)
			fail(err, errlen, type, "field '%s' must be an array of non-empty strings", a->field);
		return txt;
	case ARG_RULE:
		return build_rule(p, type, err, errlen);
	case ARG_COUNTRIES:
		return build_countries(v, type, err, errlen);
	case ARG_END:
		break;
	}
	return NULL;
}

int gx_chaincode_map(const char *command_type, const cJSON *payload, struct gx_cc_call *out, char *err, size_t errlen)
{
	const struct cmd_row *row = find_row(command_type);
	const cJSON *agg;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!row) {
		if (err && errlen)
			snprintf(err, errlen, "unknown command type '%s'", command_type ? command_type : "(null)");
		return -1;
	}
	if (!cJSON_IsObject(payload))
		return fail(err, errlen, row->type, "must be a JSON object");
	for (size_t i = 0; i < GX_CHAINCODE_MAX_ARGS && row->args[i].kind != ARG_END; i++) {
		out->argv[i] = build_arg(&row->args[i], payload, row->type, err, errlen);
		if (!out->argv[i])
			goto fail;
		out->argc = i + 1;
	}
	if (row->agg_field) {
		agg = cJSON_GetObjectItemCaseSensitive(payload, row->agg_field);
		/* every aggregate field is also a required string argument, so it was checked above */
		out->aggregate = gx_xasprintf("%s%s", row->agg_prefix, agg->valuestring);
	} else {
		out->aggregate = gx_xstrdup(row->agg_prefix);
	}
	out->function = gx_xstrdup(row->function);
	out->identity = row->identity;
	return 0;
fail:
	gx_cc_call_release(out);
	return -1;
}
