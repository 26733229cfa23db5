/* Unit tests for gx/chaincode.h: every command maps from a valid payload; malformed payloads fail cleanly. */
#include "gx_test.h"
#include "gx/chaincode.h"
#include "gx/log.h"

#include <stdlib.h>

struct sample {
	const char *type;
	const char *payload;
	const char *function;
	enum gx_cc_identity identity;
	const char *aggregate;
	size_t argc;
	const char *args[GX_CHAINCODE_MAX_ARGS];
};

/* clang-format off */
static const struct sample samples[] = {
	{ "CREATE_USER", "{\"userId\":\"u1\",\"biometricHash\":\"ab\",\"nationality\":\"NG\",\"age\":34}",
	  "IdentityContract:CreateUser", GX_CC_ID_PARTNER, "wallet:u1", 4, { "u1", "ab", "NG", "34" } },
	{ "TRANSFER_TOKENS", "{\"fromUserId\":\"a\",\"toUserId\":\"b\",\"amount\":\"1500000\",\"remark\":\"rent\"}",
	  "TokenomicsContract:Transfer", GX_CC_ID_PARTNER, "wallet:a", 4, { "a", "b", "1500000", "rent" } },
	{ "TRANSFER_TOKENS", "{\"fromUserId\":\"a\",\"toUserId\":\"b\",\"amount\":\"1\",\"remark\":null}",
	  "TokenomicsContract:Transfer", GX_CC_ID_PARTNER, "wallet:a", 4, { "a", "b", "1", "" } },
	{ "DISTRIBUTE_GENESIS", "{\"userId\":\"u1\",\"userType\":\"individual\",\"countryCode\":\"NG\"}",
	  "TokenomicsContract:DistributeGenesis", GX_CC_ID_ADMIN, "wallet:u1", 3, { "u1", "individual", "NG" } },
	{ "FREEZE_WALLET", "{\"userId\":\"u1\",\"reason\":\"fraud check\"}", "TokenomicsContract:FreezeWallet",
	  GX_CC_ID_ADMIN, "wallet:u1", 2, { "u1", "fraud check" } },
	{ "UNFREEZE_WALLET", "{\"userId\":\"u1\"}", "TokenomicsContract:UnfreezeWallet", GX_CC_ID_ADMIN, "wallet:u1",
	  1, { "u1" } },
	{ "PROPOSE_ORGANIZATION",
	  "{\"orgId\":\"o1\",\"orgName\":\"Acme\",\"orgType\":\"BUSINESS\",\"stakeholderIds\":[\"a\",\"b\"]}",
	  "OrganizationContract:ProposeOrganization", GX_CC_ID_PARTNER, "org:o1", 4,
	  { "o1", "Acme", "BUSINESS", "[\"a\",\"b\"]" } },
	{ "ENDORSE_MEMBERSHIP", "{\"orgId\":\"o1\",\"userId\":\"a\"}", "OrganizationContract:EndorseMembership",
	  GX_CC_ID_PARTNER, "org:o1", 2, { "o1", "a" } },
	{ "ACTIVATE_ORGANIZATION", "{\"orgId\":\"o1\"}", "OrganizationContract:ActivateOrganization",
	  GX_CC_ID_PARTNER, "org:o1", 1, { "o1" } },
	{ "DEFINE_AUTH_RULE", "{\"orgId\":\"o1\",\"requiredApprovals\":2,\"approverIds\":[\"a\",\"b\"]}",
	  "OrganizationContract:DefineAuthRule", GX_CC_ID_PARTNER, "org:o1", 2,
	  { "o1", "{\"amountThreshold\":\"0\",\"requiredApprovals\":2,\"approverIDs\":[\"a\",\"b\"]}" } },
	{ "DEFINE_AUTH_RULE",
	  "{\"orgId\":\"o1\",\"amountThreshold\":\"500\",\"requiredApprovals\":1,\"approverIds\":[\"a\"]}",
	  "OrganizationContract:DefineAuthRule", GX_CC_ID_PARTNER, "org:o1", 2,
	  { "o1", "{\"amountThreshold\":\"500\",\"requiredApprovals\":1,\"approverIDs\":[\"a\"]}" } },
	{ "INITIATE_MULTISIG_TX",
	  "{\"pendingTxId\":\"t1\",\"orgId\":\"o1\",\"initiatorId\":\"a\",\"toUserId\":\"c\",\"amount\":\"7\"}",
	  "OrganizationContract:InitiateMultiSigTx", GX_CC_ID_PARTNER, "org:o1", 6, { "t1", "o1", "a", "c", "7", "" } },
	{ "APPROVE_MULTISIG_TX", "{\"pendingTxId\":\"t1\",\"userId\":\"b\"}", "OrganizationContract:ApproveMultiSigTx",
	  GX_CC_ID_PARTNER, "multisig:t1", 2, { "t1", "b" } },
	{ "APPLY_FOR_LOAN", "{\"loanId\":\"l1\",\"borrowerId\":\"a\",\"amount\":\"10000000\",\"collateralHash\":\"h\"}",
	  "LoanPoolContract:ApplyForLoan", GX_CC_ID_PARTNER, "loan:l1", 4, { "l1", "a", "10000000", "h" } },
	{ "APPROVE_LOAN", "{\"loanId\":\"l1\",\"approvedBy\":\"adm\"}", "LoanPoolContract:ApproveLoan", GX_CC_ID_ADMIN,
	  "loan:l1", 2, { "l1", "adm" } },
	{ "REPAY_LOAN", "{\"loanId\":\"l1\",\"borrowerId\":\"a\",\"amount\":\"5\"}", "LoanPoolContract:RepayLoan",
	  GX_CC_ID_PARTNER, "loan:l1", 3, { "l1", "a", "5" } },
	{ "SUBMIT_PROPOSAL",
	  "{\"proposalId\":\"p1\",\"proposerId\":\"a\",\"targetParam\":\"transactionFeeBps\",\"newValue\":\"20\","
	  "\"title\":\"Raise fee\",\"description\":\"because\"}",
	  "GovernanceContract:SubmitProposal", GX_CC_ID_PARTNER, "proposal:p1", 6,
	  { "p1", "a", "transactionFeeBps", "20", "Raise fee", "because" } },
	{ "CAST_VOTE", "{\"proposalId\":\"p1\",\"voterId\":\"a\",\"vote\":\"AGAINST\"}", "GovernanceContract:CastVote",
	  GX_CC_ID_PARTNER, "proposal:p1", 3, { "p1", "a", "AGAINST" } },
	{ "EXECUTE_PROPOSAL", "{\"proposalId\":\"p1\",\"executedBy\":\"adm\"}", "GovernanceContract:ExecuteProposal",
	  GX_CC_ID_ADMIN, "proposal:p1", 2, { "p1", "adm" } },
	{ "BOOTSTRAP_SYSTEM", "{}", "AdminContract:BootstrapSystem", GX_CC_ID_SUPER_ADMIN, "system", 0, { NULL } },
	{ "INITIALIZE_COUNTRY_DATA",
	  "{\"countriesData\":[{\"code\":\"IN\",\"name\":\"India\",\"percentage\":0.13464767},"
	  "{\"countryCode\":\"NG\",\"percentage\":\"0.5\"},{\"code\":\"US\",\"percentage\":\"1\"}]}",
	  "AdminContract:InitializeCountryData", GX_CC_ID_SUPER_ADMIN, "system", 1,
	  { "[{\"countryCode\":\"IN\",\"ppb\":134647670},{\"countryCode\":\"NG\",\"ppb\":500000000},"
	    "{\"countryCode\":\"US\",\"ppb\":1000000000}]" } },
	{ "UPDATE_SYSTEM_PARAMETER", "{\"paramKey\":\"transactionFeeBps\",\"paramValue\":\"20\"}",
	  "AdminContract:UpdateSystemParameter", GX_CC_ID_SUPER_ADMIN, "system", 2, { "transactionFeeBps", "20" } },
	{ "PAUSE_SYSTEM", "{\"reason\":\"maintenance window\"}", "AdminContract:PauseSystem", GX_CC_ID_SUPER_ADMIN,
	  "system", 1, { "maintenance window" } },
	{ "RESUME_SYSTEM", "{}", "AdminContract:ResumeSystem", GX_CC_ID_SUPER_ADMIN, "system", 0, { NULL } },
	{ "APPOINT_ADMIN", "{\"userId\":\"u9\"}", "AdminContract:AppointAdmin", GX_CC_ID_SUPER_ADMIN, "system", 1,
	  { "u9" } },
	{ "ACTIVATE_TREASURY", "{\"countryCode\":\"NG\"}", "AdminContract:ActivateTreasuryAccount", GX_CC_ID_ADMIN,
	  "system", 1, { "NG" } },
	{ "APPLY_VELOCITY_TAX", "{\"accountId\":\"u1\",\"taxRateBps\":300}", "TaxAndFeeContract:ApplyVelocityTax",
	  GX_CC_ID_ADMIN, "wallet:u1", 1, { "u1" } },
};
/* clang-format on */

static void check_sample(const struct sample *s)
{
	struct gx_cc_call call;
	char err[256];
	cJSON *p = cJSON_Parse(s->payload);
	int rc;

	GX_CHECK(p != NULL);
	rc = gx_chaincode_map(s->type, p, &call, err, sizeof(err));
	if (rc != 0)
		printf("#   %s: %s\n", s->type, err);
	GX_CHECK(rc == 0);
	if (rc == 0) {
		GX_CHECK_STR(call.function, s->function);
		GX_CHECK(call.identity == s->identity);
		GX_CHECK_STR(call.aggregate, s->aggregate);
		GX_CHECK(call.argc == s->argc);
		for (size_t i = 0; i < s->argc && i < call.argc; i++)
			GX_CHECK_STR(call.argv[i], s->args[i]);
	}
	gx_cc_call_release(&call);
	gx_cc_call_release(&call); /* idempotent */
	cJSON_Delete(p);
}

GX_TEST(every_command_maps)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		check_sample(&samples[i]);
}

/* Every listed command type has a sample above, and every sample type is listed. */
GX_TEST(command_list_complete)
{
	size_t n = 0;

	for (size_t i = 0; gx_chaincode_command_types[i]; i++, n++) {
		bool found = false;

		GX_CHECK(gx_chaincode_known_command(gx_chaincode_command_types[i]));
		for (size_t j = 0; j < sizeof(samples) / sizeof(samples[0]); j++)
			if (!strcmp(samples[j].type, gx_chaincode_command_types[i]))
				found = true;
		if (!found)
			printf("#   no sample for %s\n", gx_chaincode_command_types[i]);
		GX_CHECK(found);
	}
	GX_CHECK(n == 25);
	GX_CHECK(!gx_chaincode_known_command("EXECUTE_MULTISIG_TX"));
	GX_CHECK(!gx_chaincode_known_command("VOTE_ON_PROPOSAL"));
	GX_CHECK(!gx_chaincode_known_command(NULL));
}

static void expect_fail(const char *type, const char *payload, const char *want)
{
	struct gx_cc_call call;
	char err[256];
	cJSON *p = payload ? cJSON_Parse(payload) : NULL;

	GX_CHECK(gx_chaincode_map(type, p, &call, err, sizeof(err)) == -1);
	GX_CHECK(call.function == NULL && call.argc == 0 && call.aggregate == NULL);
	if (!strstr(err, want))
		printf("#   '%s' does not contain '%s'\n", err, want);
	GX_CHECK(strstr(err, want) != NULL);
	gx_cc_call_release(&call);
	cJSON_Delete(p);
}

GX_TEST(malformed_payloads_fail_cleanly)
{
	expect_fail("NO_SUCH_COMMAND", "{}", "unknown command type 'NO_SUCH_COMMAND'");
	expect_fail(NULL, "{}", "unknown command type");
	expect_fail("CREATE_USER", NULL, "CREATE_USER payload: must be a JSON object");
	expect_fail("CREATE_USER", "[1]", "must be a JSON object");
	/* the original's defect: no age */
	expect_fail("CREATE_USER", "{\"userId\":\"u1\",\"biometricHash\":\"ab\",\"nationality\":\"NG\"}",
		    "field 'age' must be an integer");
	expect_fail("CREATE_USER", "{\"userId\":\"u1\",\"biometricHash\":\"ab\",\"nationality\":\"NG\",\"age\":3.5}",
		    "field 'age' must be an integer");
	expect_fail("CREATE_USER", "{\"userId\":\"u1\",\"biometricHash\":\"ab\",\"nationality\":\"NG\",\"age\":\"3\"}",
		    "field 'age' must be an integer");
	expect_fail("CREATE_USER", "{\"userId\":\"\",\"biometricHash\":\"ab\",\"nationality\":\"NG\",\"age\":3}",
		    "field 'userId' must be a non-empty string");
	expect_fail("TRANSFER_TOKENS", "{\"fromUserId\":\"a\",\"toUserId\":\"b\",\"amount\":15}",
		    "field 'amount' must be a decimal string of integer Qirat");
	expect_fail("TRANSFER_TOKENS", "{\"fromUserId\":\"a\",\"toUserId\":\"b\",\"amount\":\"1.5\"}",
		    "field 'amount' must be a decimal string");
	expect_fail("TRANSFER_TOKENS", "{\"fromUserId\":\"a\",\"toUserId\":\"b\",\"amount\":\"-1\"}", "'amount'");
	expect_fail("TRANSFER_TOKENS", "{\"fromUserId\":\"a\",\"toUserId\":\"b\",\"amount\":\"1\",\"remark\":5}",
		    "field 'remark' must be a string");
	expect_fail("DISTRIBUTE_GENESIS", "{\"userId\":\"u1\",\"userType\":\"individual\"}", "'countryCode'");
	expect_fail("PROPOSE_ORGANIZATION",
		    "{\"orgId\":\"o\",\"orgName\":\"n\",\"orgType\":\"BUSINESS\","
		    "\"stakeholderIds\":\"a,b\"}",
		    "field 'stakeholderIds' must be an array");
	expect_fail("PROPOSE_ORGANIZATION",
		    "{\"orgId\":\"o\",\"orgName\":\"n\",\"orgType\":\"BUSINESS\","
		    "\"stakeholderIds\":[\"a\",1]}",
		    "field 'stakeholderIds' must be an array");
	expect_fail("DEFINE_AUTH_RULE", "{\"orgId\":\"o\",\"rule\":{}}", "field 'requiredApprovals'");
	expect_fail("DEFINE_AUTH_RULE", "{\"orgId\":\"o\",\"requiredApprovals\":1}", "field 'approverIds'");
	expect_fail("DEFINE_AUTH_RULE",
		    "{\"orgId\":\"o\",\"requiredApprovals\":1,\"approverIds\":[\"a\"],\"amountThreshold\":1}",
		    "field 'amountThreshold'");
	expect_fail("CAST_VOTE", "{\"proposalId\":\"p\",\"voterId\":\"v\",\"vote\":true}", "field 'vote'");
	expect_fail("INITIALIZE_COUNTRY_DATA", "{}", "field 'countriesData' must be a non-empty array");
	expect_fail("INITIALIZE_COUNTRY_DATA", "{\"countriesData\":[]}", "non-empty array");
	expect_fail("INITIALIZE_COUNTRY_DATA", "{\"countriesData\":[{\"code\":\"IN\"}]}", "countriesData[0]");
	expect_fail("INITIALIZE_COUNTRY_DATA", "{\"countriesData\":[{\"code\":\"IN\",\"percentage\":1.5}]}",
		    "fraction between 0 and 1");
	expect_fail("INITIALIZE_COUNTRY_DATA",
		    "{\"countriesData\":[{\"code\":\"IN\",\"percentage\":\"0.5\"},{\"percentage\":\"0.5\"}]}",
		    "countriesData[1]: 'countryCode'");
	expect_fail("INITIALIZE_COUNTRY_DATA",
		    "{\"countriesData\":[{\"code\":\"IN\",\"percentage\":\"0.1234567891\"}]}",
		    "fraction between 0 and 1");
	expect_fail("INITIALIZE_COUNTRY_DATA", "{\"countriesData\":[\"IN\"]}", "countriesData[0]");
	expect_fail("UPDATE_SYSTEM_PARAMETER", "{\"paramId\":\"x\",\"newValue\":\"1\"}", "field 'paramKey'");
}

GX_TEST(error_buffer_is_safe)
{
	struct gx_cc_call call;
	char small[8];
	cJSON *p = cJSON_Parse("{}");

	GX_CHECK(gx_chaincode_map("CREATE_USER", p, &call, small, sizeof(small)) == -1);
	GX_CHECK(strlen(small) < sizeof(small));
	GX_CHECK(gx_chaincode_map("CREATE_USER", p, &call, NULL, 0) == -1);
	cJSON_Delete(p);
}

GX_TEST(event_names_and_roles)
{
	size_t n = 0;

	for (; gx_chaincode_event_names[n]; n++)
		GX_CHECK(gx_chaincode_known_event(gx_chaincode_event_names[n]));
	GX_CHECK(n == 27);
	GX_CHECK(gx_chaincode_known_event("TransferCompleted"));
	GX_CHECK(gx_chaincode_known_event("LoanRepaid"));
	GX_CHECK(!gx_chaincode_known_event("WalletCreated"));
	GX_CHECK(!gx_chaincode_known_event(NULL));
	GX_CHECK_STR(gx_chaincode_identity_role(GX_CC_ID_SUPER_ADMIN), "gx_super_admin");
	GX_CHECK_STR(gx_chaincode_identity_role(GX_CC_ID_ADMIN), "gx_admin");
	GX_CHECK_STR(gx_chaincode_identity_role(GX_CC_ID_PARTNER), "gx_partner_api");
	GX_CHECK_STR(GX_CHAINCODE_CHANNEL, "gxchannel");
	GX_CHECK_STR(GX_CHAINCODE_NAME, "gxtv3");
}

int main(void)
{
	gx_log_init("test_chaincode");
	gx_log_set_level(GX_LOG_FATAL);
	GX_RUN(every_command_maps);
	GX_RUN(command_list_complete);
	GX_RUN(malformed_payloads_fail_cleanly);
	GX_RUN(error_buffer_is_safe);
	GX_RUN(event_names_and_roles);
	return gx_test_done();
}
