/* Unit tests for the GX chaincode model (test/fabric-peer/cc_*.c) against an in-memory stub with Fabric-like
 * transaction semantics: writes are buffered and applied only when the invocation returns 200. */
#include "gx_test.h"
#include "gx/fee.h"
#include "gx/log.h"

#include "../fabric-peer/cc_state.c"
#include "../fabric-peer/cc_main.c"
#include "../fabric-peer/cc_token.c"
#include "../fabric-peer/cc_org.c"
#include "../fabric-peer/cc_loan.c"
#include "../fabric-peer/cc_gov.c"
#include "../fabric-peer/cc_admin.c"
#include "../fabric-peer/cc_list.c"

#include <stdarg.h>

#define MAX_KV 4096

struct kv {
	char *key;
	char *val; /* NULL = deleted (in the write buffer) */
	size_t len;
};

struct cc_stub {
	struct kv state[MAX_KV];
	int nstate;
	struct kv writes[MAX_KV];
	int nwrites;
	const char *role;
	long long now_ms;
	char *ev_name;
	char *ev_payload;
};

static struct cc_stub stub;
static int last_status;
static cJSON *last; /* parsed result payload of the last call, or NULL */
static char *last_msg;
static char last_event[64];
static cJSON *last_ev;

static struct kv *find(struct kv *arr, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(arr[i].key, key))
			return &arr[i];
	return NULL;
}

const char *cc_get(struct cc_stub *s, const char *key, size_t *len)
{
	struct kv *e = find(s->writes, s->nwrites, key);

	if (!e)
		e = find(s->state, s->nstate, key);
	if (!e || !e->val)
		return NULL;
	*len = e->len;
	return e->val;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp((*(struct kv *const *)a)->key, (*(struct kv *const *)b)->key);
}

/* Committed state only, in byte order (as the peer's range read). */
size_t cc_range(struct cc_stub *s, const char *start, const char *end, size_t limit,
		void (*cb)(const char *key, const char *val, size_t len, void *arg), void *arg, char **next)
{
	struct kv *hit[MAX_KV];
	size_t n = 0, visited;

	for (int i = 0; i < s->nstate; i++)
		if (s->state[i].val && strcmp(s->state[i].key, start) >= 0 && strcmp(s->state[i].key, end) < 0)
			hit[n++] = &s->state[i];
	qsort(hit, n, sizeof(hit[0]), kv_cmp);
	visited = n < limit ? n : limit;
	for (size_t i = 0; i < visited; i++)
		cb(hit[i]->key, hit[i]->val, hit[i]->len, arg);
	*next = n > limit ? gx_xstrdup(hit[limit]->key) : NULL;
	return visited;
}

static void set_kv(struct kv *arr, int *n, const char *key, const char *val, size_t len)
{
	struct kv *e = find(arr, *n, key);

	if (!e) {
		if (*n >= MAX_KV)
			abort();
		e = &arr[(*n)++];
		e->key = gx_xstrdup(key);
		e->val = NULL;
	}
	free(e->val);
	e->val = val ? gx_xstrndup(val, len) : NULL;
	e->len = len;
}

void cc_put(struct cc_stub *s, const char *key, const char *val, size_t len)
{
	set_kv(s->writes, &s->nwrites, key, val, len);
}

void cc_del(struct cc_stub *s, const char *key)
{
	set_kv(s->writes, &s->nwrites, key, NULL, 0);
}

void cc_set_event(struct cc_stub *s, const char *name, const char *payload_json)
{
	free(s->ev_name);
	free(s->ev_payload);
	s->ev_name = gx_xstrdup(name);
	s->ev_payload = gx_xstrdup(payload_json);
}

const char *cc_tx_id(struct cc_stub *s)
{
	GX_UNUSED struct cc_stub *unused = s;
	return "00";
}

long long cc_tx_time_ms(struct cc_stub *s)
{
	return s->now_ms;
}

const char *cc_creator_msp(struct cc_stub *s)
{
	GX_UNUSED struct cc_stub *unused = s;
	return "Org1MSP";
}

const char *cc_creator_role(struct cc_stub *s)
{
	return s->role;
}

static void clear_writes(void)
{
	for (int i = 0; i < stub.nwrites; i++) {
		free(stub.writes[i].key);
		free(stub.writes[i].val);
	}
	stub.nwrites = 0;
}

static void reset(void)
{
	clear_writes();
	for (int i = 0; i < stub.nstate; i++) {
		free(stub.state[i].key);
		free(stub.state[i].val);
	}
	stub.nstate = 0;
	stub.now_ms = 1700000000000LL;
}

#define SUPER "gx_super_admin"
#define ADMIN "gx_admin"
#define PARTNER "gx_partner_api"

/* Invoke fn as role with a NULL-terminated argument list; commits on 200. Returns the status. */
static int call(const char *role, const char *fn, ...)
{
	const char *argv[16];
	char *payload = NULL, *message = NULL;
	va_list ap;
	int argc = 1;

	argv[0] = fn;
	va_start(ap, fn);
	while (argc < 16 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	stub.role = role;
	free(stub.ev_name);
	free(stub.ev_payload);
	stub.ev_name = stub.ev_payload = NULL;
	cJSON_Delete(last);
	cJSON_Delete(last_ev);
	free(last_msg);
	last = last_ev = NULL;
	last_msg = NULL;
	last_event[0] = '\0';
	last_status = cc_invoke(&stub, argc, argv, &payload, &message);
	if (last_status == 200) {
		for (int i = 0; i < stub.nwrites; i++)
			set_kv(stub.state, &stub.nstate, stub.writes[i].key, stub.writes[i].val, stub.writes[i].len);
		last = payload ? cJSON_Parse(payload) : NULL;
		if (stub.ev_name) {
			snprintf(last_event, sizeof(last_event), "%s", stub.ev_name);
			last_ev = cJSON_Parse(stub.ev_payload);
		}
		GX_CHECK(message == NULL);
	} else {
		last_msg = message ? gx_xstrdup(message) : NULL;
		GX_CHECK(message != NULL && payload == NULL);
	}
	clear_writes();
	free(payload);
	free(message);
	stub.now_ms += 1000;
	return last_status;
}

static const char *ev_str(const char *field)
{
	return cc_jstr(last_ev, field);
}

static bool msg_has(const char *s)
{
	bool ok = last_msg && strstr(last_msg, s);

	if (!ok)
		printf("#   message '%s' lacks '%s'\n", last_msg ? last_msg : "(null)", s);
	return ok;
}

static uint64_t balance(const char *id)
{
	uint64_t b = UINT64_MAX;

	if (call("", "TokenomicsContract:GetBalance", id, NULL) == 200)
		b = cc_ju64(last, "balance");
	return b;
}

/* Sum of every account balance in committed state. */
static uint64_t sum_balances(void)
{
	uint64_t sum = 0;

	for (int i = 0; i < stub.nstate; i++) {
		if (strncmp(stub.state[i].key, "acct~", 5) != 0)
			continue;
		cJSON *j = cJSON_ParseWithLength(stub.state[i].val, stub.state[i].len);
		sum += cc_ju64(j, "balance");
		cJSON_Delete(j);
	}
	return sum;
}

static uint64_t supply(void)
{
	call("", "AdminContract:GetSystemStatus", NULL);
	return cc_ju64(last, "totalSupply");
}

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HASH_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* Bootstrapped system with users alice, bob (NG) and carol (GH), alice and bob with individual genesis. */
static void setup(void)
{
	reset();
	GX_CHECK(call(SUPER, "AdminContract:BootstrapSystem", NULL) == 200);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "alice", HASH_A, "NG", "30", NULL) == 200);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "bob", HASH_B, "NG", "40", NULL) == 200);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "carol", HASH_C, "GH", "50", NULL) == 200);
	GX_CHECK(call(ADMIN, "TokenomicsContract:DistributeGenesis", "alice", "individual", "NG", NULL) == 200);
	GX_CHECK(call(ADMIN, "TokenomicsContract:DistributeGenesis", "bob", "individual", "NG", NULL) == 200);
}

GX_TEST(dispatch_and_roles)
{
	reset();
	GX_CHECK(call(SUPER, "NoContract:Nothing", NULL) == 400 && msg_has("unknown function"));
	GX_CHECK(call(SUPER, "AdminContract:BootstrapSystem", "extra", NULL) == 400 && msg_has("expects 0 arguments"));
	GX_CHECK(call(PARTNER, "AdminContract:BootstrapSystem", NULL) == 403 &&
		 msg_has("requires role gx_super_admin"));
	GX_CHECK(call(ADMIN, "AdminContract:BootstrapSystem", NULL) == 403);
	GX_CHECK(call("", "IdentityContract:CreateUser", "u", HASH_A, "NG", "1", NULL) == 403);
	GX_CHECK(call("gx_unknown", "IdentityContract:CreateUser", "u", HASH_A, "NG", "1", NULL) == 403);
	GX_CHECK(call(PARTNER, "TokenomicsContract:DistributeGenesis", "u", "individual", "NG", NULL) == 403);
	/* higher roles may call lower-level functions */
	GX_CHECK(call(SUPER, "IdentityContract:CreateUser", "u", HASH_A, "NG", "1", NULL) == 200);
	GX_CHECK(call(SUPER, "AdminContract:BootstrapSystem", NULL) == 200);
	GX_CHECK_STR(last_event, "SystemBootstrapped");
	GX_CHECK(call(SUPER, "AdminContract:BootstrapSystem", NULL) == 409 && msg_has("already bootstrapped"));
	GX_CHECK(supply() == 11000000000000000ULL);
	GX_CHECK(sum_balances() == supply());
	GX_CHECK(balance(CC_LOAN_POOL) == 1000000000000000ULL);
	GX_CHECK(balance(CC_FEE_POOL) == 0);
}

GX_TEST(create_user)
{
	reset();
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u1", HASH_A, "NG", "34", NULL) == 200);
	GX_CHECK_STR(last_event, "UserCreated");
	GX_CHECK_STR(ev_str("userID"), "u1");
	GX_CHECK_STR(ev_str("accountID"), "u1");
	GX_CHECK_STR(ev_str("balance"), "0");
	GX_CHECK(cc_jnum(last_ev, "age") == 34);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u1", HASH_B, "NG", "34", NULL) == 409 &&
		 msg_has("user already exists"));
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u2", HASH_A, "NG", "34", NULL) == 409 &&
		 msg_has("biometric hash already registered"));
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u2", "$2b$10$abc", "NG", "34", NULL) == 400 &&
		 msg_has("biometricHash"));
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u2", HASH_B, "Nigeria", "34", NULL) == 400);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u2", HASH_B, "NG", "151", NULL) == 400);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u2", HASH_B, "NG", "x", NULL) == 400);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "SYSTEM_X", HASH_B, "NG", "3", NULL) == 400);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "a~b", HASH_B, "NG", "3", NULL) == 400);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u2", HASH_B, "NG", NULL) == 400);
	GX_CHECK(call("", "IdentityContract:GetUser", "u1", NULL) == 200);
	GX_CHECK_STR(cc_jstr(last, "nationality"), "NG");
	GX_CHECK(call("", "IdentityContract:GetUser", "nobody", NULL) == 404);
}

GX_TEST(genesis)
{
	reset();
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "u1", HASH_A, "NG", "34", NULL) == 200);
	GX_CHECK(call(ADMIN, "TokenomicsContract:DistributeGenesis", "u1", "individual", "NG", NULL) == 409 &&
		 msg_has("not bootstrapped"));
	GX_CHECK(call(SUPER, "AdminContract:BootstrapSystem", NULL) == 200);
	GX_CHECK(call(ADMIN, "TokenomicsContract:DistributeGenesis", "u1", "alien", "NG", NULL) == 400);
	GX_CHECK(call(ADMIN, "TokenomicsContract:DistributeGenesis", "u1", "individual", "GH", NULL) == 400 &&
		 msg_has("nationality"));
	GX_CHECK(call(ADMIN, "TokenomicsContract:DistributeGenesis", "zz", "individual", "NG", NULL) == 404);
	GX_CHECK(call(ADMIN, "TokenomicsContract:DistributeGenesis", "u1", "government", "NG", NULL) == 200);
	GX_CHECK_STR(last_event, "GenesisDistributed");
	GX_CHECK_STR(ev_str("amount"), "100000000");
	GX_CHECK_STR(ev_str("tier"), "TIER3");
	GX_CHECK_STR(ev_str("balance"), "100000000");
	GX_CHECK_STR(ev_str("poolBalance"), "4999999900000000");
	GX_CHECK(call(ADMIN, "TokenomicsContract:DistributeGenesis", "u1", "individual", "NG", NULL) == 409 &&
		 msg_has("genesis already distributed"));
	GX_CHECK(balance("u1") == 100000000);
	GX_CHECK(sum_balances() == supply());
}

GX_TEST(transfers_fees_conservation)
{
	struct gx_fee_params fp;
	struct gx_fee_result fr;
	uint64_t a0, b0;

	setup();
	a0 = balance("alice");
	b0 = balance("bob");
	GX_CHECK(a0 == 10000000 && b0 == 10000000);
	/* exempt amount */
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "1000000", "lunch", NULL) == 200);
	GX_CHECK_STR(last_event, "TransferCompleted");
	GX_CHECK_STR(ev_str("fee"), "0");
	GX_CHECK_STR(ev_str("feeTier"), "EXEMPT");
	GX_CHECK_STR(ev_str("fromBalance"), "9000000");
	GX_CHECK_STR(ev_str("toBalance"), "11000000");
	GX_CHECK_STR(ev_str("feeAccountID"), "SYSTEM_FEE_POOL");
	GX_CHECK_STR(ev_str("remark"), "lunch");
	/* fee-paying amount: same rule as gx_fee */
	gx_fee_params_init(&fp);
	GX_CHECK(gx_fee_compute(5000000, &fp, &fr) == 0);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "bob", "alice", "5000000", "", NULL) == 200);
	GX_CHECK(cc_ju64(last_ev, "fee") == fr.fee && fr.fee == 5000);
	GX_CHECK(cc_ju64(last_ev, "fromBalance") == 11000000 - 5000000 - 5000);
	GX_CHECK(cc_ju64(last_ev, "feeAccountBalance") == 5000);
	GX_CHECK(balance("bob") == 11000000 - 5005000);
	GX_CHECK(balance(CC_FEE_POOL) == 5000);
	GX_CHECK(sum_balances() == supply());
	/* errors */
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "0", "", NULL) == 400);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "1.5", "", NULL) == 400);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "alice", "1", "", NULL) == 400);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "nobody", "1", "", NULL) == 404);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "nobody", "alice", "1", "", NULL) == 404);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", CC_FEE_POOL, "1", "", NULL) == 400);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", CC_LOAN_POOL, "alice", "1", "", NULL) == 400);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "carol", "alice", "1", "", NULL) == 409 &&
		 msg_has("insufficient balance"));
	/* an amount whose fee makes the total exceed the balance */
	a0 = balance("alice");
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "14000000", "", NULL) == 409 &&
		 msg_has("required 14014000"));
	GX_CHECK(balance("alice") == a0);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "18446744073709551615", "", NULL) == 400);
	/* many transfers keep the total supply */
	for (int i = 0; i < 20; i++)
		GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", i % 2 ? "alice" : "bob", i % 2 ? "bob" : "alice",
			      i % 3 ? "1234567" : "7", "", NULL) == 200);
	GX_CHECK(sum_balances() == supply());
	GX_CHECK(balance(CC_FEE_POOL) > 5000);
}

GX_TEST(freeze_and_pause)
{
	setup();
	GX_CHECK(call(PARTNER, "TokenomicsContract:FreezeWallet", "alice", "fraud review", NULL) == 403);
	GX_CHECK(call(ADMIN, "TokenomicsContract:FreezeWallet", "alice", "", NULL) == 400);
	GX_CHECK(call(ADMIN, "TokenomicsContract:FreezeWallet", "nobody", "fraud review", NULL) == 404);
	GX_CHECK(call(ADMIN, "TokenomicsContract:FreezeWallet", "alice", "fraud review", NULL) == 200);
	GX_CHECK_STR(last_event, "WalletFrozen");
	GX_CHECK_STR(ev_str("reason"), "fraud review");
	GX_CHECK(call(ADMIN, "TokenomicsContract:FreezeWallet", "alice", "again", NULL) == 409);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "5", "", NULL) == 409 &&
		 msg_has("alice is frozen"));
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "bob", "alice", "5", "", NULL) == 409);
	GX_CHECK(call(ADMIN, "TokenomicsContract:UnfreezeWallet", "alice", NULL) == 200);
	GX_CHECK_STR(last_event, "WalletUnfrozen");
	GX_CHECK(call(ADMIN, "TokenomicsContract:UnfreezeWallet", "alice", NULL) == 409);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "5", "", NULL) == 200);

	GX_CHECK(call(ADMIN, "AdminContract:PauseSystem", "maintenance", NULL) == 403);
	GX_CHECK(call(SUPER, "AdminContract:ResumeSystem", NULL) == 409 && msg_has("not paused"));
	GX_CHECK(call(SUPER, "AdminContract:PauseSystem", "maintenance", NULL) == 200);
	GX_CHECK_STR(last_event, "SystemPaused");
	GX_CHECK_STR(ev_str("reason"), "maintenance");
	GX_CHECK(call(SUPER, "AdminContract:PauseSystem", "again", NULL) == 409);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "5", "", NULL) == 423 &&
		 msg_has("system is paused: maintenance"));
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "dave", HASH_A, "NG", "3", NULL) == 423);
	/* role is checked before pause */
	GX_CHECK(call(PARTNER, "TokenomicsContract:FreezeWallet", "alice", "x", NULL) == 403);
	/* reads and admin functions still work */
	GX_CHECK(call("", "TokenomicsContract:GetBalance", "alice", NULL) == 200);
	GX_CHECK(call("", "AdminContract:GetSystemStatus", NULL) == 200);
	GX_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(last, "paused")));
	GX_CHECK_STR(cc_jstr(last, "pauseReason"), "maintenance");
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "transactionFeeBps", "20", NULL) == 200);
	GX_CHECK(call(SUPER, "AdminContract:ResumeSystem", NULL) == 200);
	GX_CHECK_STR(last_event, "SystemResumed");
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "bob", "5000000", "", NULL) == 200);
	GX_CHECK_STR(ev_str("fee"), "10000");
}

GX_TEST(organization_multisig)
{
	setup();
	GX_CHECK(call(PARTNER, "OrganizationContract:ProposeOrganization", "org1", "Acme", "BUSINESS", "[\"alice\"]",
		      NULL) == 400);
	GX_CHECK(call(PARTNER, "OrganizationContract:ProposeOrganization", "org1", "Acme", "business",
		      "[\"alice\",\"bob\"]", NULL) == 400);
	GX_CHECK(call(PARTNER, "OrganizationContract:ProposeOrganization", "org1", "Acme", "BUSINESS",
		      "[\"alice\",\"zed\"]", NULL) == 404);
	GX_CHECK(call(PARTNER, "OrganizationContract:ProposeOrganization", "org1", "Acme", "BUSINESS",
		      "[\"alice\",\"alice\"]", NULL) == 400);
	GX_CHECK(call(PARTNER, "OrganizationContract:ProposeOrganization", "org1", "Acme", "BUSINESS",
		      "[\"alice\",\"bob\"]", NULL) == 200);
	GX_CHECK_STR(last_event, "OrganizationProposed");
	GX_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(last_ev, "stakeholderIDs")) == 2);
	GX_CHECK(call(PARTNER, "OrganizationContract:ProposeOrganization", "org1", "Acme", "BUSINESS",
		      "[\"alice\",\"bob\"]", NULL) == 409);
	GX_CHECK(call(PARTNER, "OrganizationContract:EndorseMembership", "org1", "carol", NULL) == 403);
	GX_CHECK(call(PARTNER, "OrganizationContract:EndorseMembership", "org1", "alice", NULL) == 200);
	GX_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(last_ev, "allEndorsed")));
	GX_CHECK(call(PARTNER, "OrganizationContract:EndorseMembership", "org1", "alice", NULL) == 409);
	GX_CHECK(call(PARTNER, "OrganizationContract:ActivateOrganization", "org1", NULL) == 409 && msg_has("1 of 2"));
	GX_CHECK(call(PARTNER, "OrganizationContract:EndorseMembership", "org1", "bob", NULL) == 200);
	GX_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(last_ev, "allEndorsed")));
	GX_CHECK(call(PARTNER, "OrganizationContract:DefineAuthRule", "org1",
		      "{\"amountThreshold\":\"0\",\"requiredApprovals\":1,\"approverIDs\":[\"alice\"]}", NULL) == 409);
	GX_CHECK(call(PARTNER, "OrganizationContract:ActivateOrganization", "org1", NULL) == 200);
	GX_CHECK_STR(last_event, "OrganizationActivated");
	GX_CHECK(call(PARTNER, "OrganizationContract:ActivateOrganization", "org1", NULL) == 409);
	GX_CHECK(balance("org1") == 0);
	/* fund the org */
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "alice", "org1", "5000000", "", NULL) == 200);
	/* rules: big amounts need both */
	GX_CHECK(call(PARTNER, "OrganizationContract:DefineAuthRule", "org1",
		      "{\"amountThreshold\":\"0\",\"requiredApprovals\":3,\"approverIDs\":[\"alice\",\"bob\"]}",
		      NULL) == 400);
	GX_CHECK(call(PARTNER, "OrganizationContract:DefineAuthRule", "org1",
		      "{\"amountThreshold\":\"0\",\"requiredApprovals\":1,\"approverIDs\":[\"carol\"]}", NULL) == 400);
	GX_CHECK(call(PARTNER, "OrganizationContract:DefineAuthRule", "org1", "not json", NULL) == 400);
	GX_CHECK(call(PARTNER, "OrganizationContract:DefineAuthRule", "org1",
		      "{\"amountThreshold\":\"0\",\"requiredApprovals\":1,\"approverIDs\":[\"alice\"]}", NULL) == 200);
	GX_CHECK_STR(last_event, "AuthRuleDefined");
	GX_CHECK(call(PARTNER, "OrganizationContract:DefineAuthRule", "org1",
		      "{\"amountThreshold\":\"2000000\",\"requiredApprovals\":2,\"approverIDs\":[\"alice\",\"bob\"]}",
		      NULL) == 200);
	GX_CHECK(cc_jnum(last_ev, "ruleCount") == 2);
	/* small amount: one approval by alice */
	GX_CHECK(call(PARTNER, "OrganizationContract:InitiateMultiSigTx", "tx1", "org1", "bob", "carol", "100", "",
		      NULL) == 200);
	GX_CHECK_STR(last_event, "MultiSigTxInitiated");
	GX_CHECK(cc_jnum(last_ev, "requiredApprovals") == 1);
	GX_CHECK(call(PARTNER, "OrganizationContract:InitiateMultiSigTx", "tx1", "org1", "bob", "carol", "100", "",
		      NULL) == 409);
	GX_CHECK(call(PARTNER, "OrganizationContract:ApproveMultiSigTx", "tx1", "bob", NULL) == 403);
	GX_CHECK(call(PARTNER, "OrganizationContract:ApproveMultiSigTx", "tx1", "alice", NULL) == 200);
	GX_CHECK_STR(last_event, "MultiSigTxExecuted");
	GX_CHECK_STR(ev_str("toBalance"), "100");
	GX_CHECK(call(PARTNER, "OrganizationContract:ApproveMultiSigTx", "tx1", "alice", NULL) == 409);
	/* large amount: two approvals, fee applies */
	GX_CHECK(call(PARTNER, "OrganizationContract:InitiateMultiSigTx", "tx2", "org1", "carol", "carol", "3000000",
		      "", NULL) == 403);
	GX_CHECK(call(PARTNER, "OrganizationContract:InitiateMultiSigTx", "tx2", "org1", "alice", CC_FEE_POOL,
		      "3000000", "", NULL) == 400);
	GX_CHECK(call(PARTNER, "OrganizationContract:InitiateMultiSigTx", "tx2", "org1", "alice", "carol", "3000000",
		      "supplies", NULL) == 200);
	GX_CHECK(cc_jnum(last_ev, "requiredApprovals") == 2);
	GX_CHECK(call(PARTNER, "OrganizationContract:ApproveMultiSigTx", "tx2", "bob", NULL) == 200);
	GX_CHECK_STR(last_event, "MultiSigTxApproved");
	GX_CHECK(cc_jnum(last_ev, "approvals") == 1);
	GX_CHECK(call(PARTNER, "OrganizationContract:ApproveMultiSigTx", "tx2", "bob", NULL) == 409);
	GX_CHECK(call(PARTNER, "OrganizationContract:ApproveMultiSigTx", "tx2", "alice", NULL) == 200);
	GX_CHECK_STR(last_event, "MultiSigTxExecuted");
	GX_CHECK_STR(ev_str("fee"), "3000");
	GX_CHECK(balance("org1") == 5000000 - 100 - 3000000 - 3000);
	GX_CHECK(balance("carol") == 3000100);
	/* an execution the org cannot pay fails and records nothing */
	GX_CHECK(call(PARTNER, "OrganizationContract:InitiateMultiSigTx", "tx3", "org1", "alice", "carol", "4000000",
		      "", NULL) == 200);
	GX_CHECK(call(PARTNER, "OrganizationContract:ApproveMultiSigTx", "tx3", "alice", NULL) == 200);
	GX_CHECK(call(PARTNER, "OrganizationContract:ApproveMultiSigTx", "tx3", "bob", NULL) == 409 &&
		 msg_has("insufficient balance"));
	GX_CHECK(call("", "OrganizationContract:GetMultiSigTx", "tx3", NULL) == 200);
	GX_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(last, "approvals")) == 1);
	GX_CHECK_STR(cc_jstr(last, "status"), "PENDING");
	GX_CHECK(sum_balances() == supply());
}

GX_TEST(loans)
{
	setup();
	GX_CHECK(call(PARTNER, "LoanPoolContract:ApplyForLoan", "loan1", "alice", "100", HASH_A, NULL) == 400 &&
		 msg_has("loanMinimumAmount"));
	GX_CHECK(call(PARTNER, "LoanPoolContract:ApplyForLoan", "loan1", "alice", "20000000", "xyz", NULL) == 400);
	GX_CHECK(call(PARTNER, "LoanPoolContract:ApplyForLoan", "loan1", "zed", "20000000", HASH_A, NULL) == 404);
	GX_CHECK(call(PARTNER, "LoanPoolContract:ApplyForLoan", "loan1", "alice", "20000000", HASH_A, NULL) == 200);
	GX_CHECK_STR(last_event, "LoanApplicationReceived");
	GX_CHECK_STR(ev_str("status"), "PENDING_APPROVAL");
	GX_CHECK(call(PARTNER, "LoanPoolContract:ApplyForLoan", "loan1", "alice", "20000000", HASH_A, NULL) == 409);
	GX_CHECK(call(PARTNER, "LoanPoolContract:RepayLoan", "loan1", "alice", "1", NULL) == 409);
	GX_CHECK(call(PARTNER, "LoanPoolContract:ApproveLoan", "loan1", "adm", NULL) == 403);
	GX_CHECK(call(ADMIN, "LoanPoolContract:ApproveLoan", "nope", "adm", NULL) == 404);
	GX_CHECK(call(ADMIN, "LoanPoolContract:ApproveLoan", "loan1", "adm", NULL) == 200);
	GX_CHECK_STR(last_event, "LoanApproved");
	GX_CHECK_STR(ev_str("borrowerBalance"), "30000000");
	GX_CHECK_STR(ev_str("approvedBy"), "adm");
	GX_CHECK(call(ADMIN, "LoanPoolContract:ApproveLoan", "loan1", "adm", NULL) == 409);
	GX_CHECK(call(PARTNER, "LoanPoolContract:RepayLoan", "loan1", "bob", "1", NULL) == 403);
	GX_CHECK(call(PARTNER, "LoanPoolContract:RepayLoan", "loan1", "alice", "20000001", NULL) == 400);
	GX_CHECK(call(PARTNER, "LoanPoolContract:RepayLoan", "loan1", "alice", "5000000", NULL) == 200);
	GX_CHECK_STR(last_event, "LoanRepaid");
	GX_CHECK_STR(ev_str("outstanding"), "15000000");
	GX_CHECK_STR(ev_str("status"), "ACTIVE");
	GX_CHECK(call(PARTNER, "LoanPoolContract:RepayLoan", "loan1", "alice", "15000000", NULL) == 200);
	GX_CHECK_STR(ev_str("status"), "REPAID");
	GX_CHECK_STR(ev_str("borrowerBalance"), "10000000");
	GX_CHECK(call(PARTNER, "LoanPoolContract:RepayLoan", "loan1", "alice", "1", NULL) == 409);
	GX_CHECK(balance(CC_LOAN_POOL) == 1000000000000000ULL);
	GX_CHECK(call("", "LoanPoolContract:GetLoan", "loan1", NULL) == 200);
	GX_CHECK_STR(cc_jstr(last, "status"), "REPAID");
	GX_CHECK(sum_balances() == supply());
}

GX_TEST(governance)
{
	setup();
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "governanceVotingPeriodSeconds", "60", NULL) ==
		 200);
	GX_CHECK(call(PARTNER, "GovernanceContract:SubmitProposal", "p1", "alice", "noSuchParam", "1", "t", "", NULL) ==
		 400);
	GX_CHECK(call(PARTNER, "GovernanceContract:SubmitProposal", "p1", "alice", "transactionFeeBps", "10001", "t",
		      "", NULL) == 400 &&
		 msg_has("out of range"));
	GX_CHECK(call(PARTNER, "GovernanceContract:SubmitProposal", "p1", "alice", "transactionFeeBps", "25", "", "",
		      NULL) == 400);
	GX_CHECK(call(PARTNER, "GovernanceContract:SubmitProposal", "p1", "zed", "transactionFeeBps", "25", "t", "",
		      NULL) == 404);
	GX_CHECK(call(PARTNER, "GovernanceContract:SubmitProposal", "p1", "alice", "transactionFeeBps", "25",
		      "Raise fee", "Fund the fee pool", NULL) == 200);
	GX_CHECK_STR(last_event, "ProposalSubmitted");
	GX_CHECK(cc_jnum(last_ev, "votingEndsAtMs") - cc_jnum(last_ev, "votingStartsAtMs") == 60000);
	GX_CHECK(call(PARTNER, "GovernanceContract:SubmitProposal", "p1", "alice", "transactionFeeBps", "25", "t", "",
		      NULL) == 409);
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p1", "alice", "true", NULL) == 400);
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p1", "zed", "FOR", NULL) == 404);
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p1", "alice", "FOR", NULL) == 200);
	GX_CHECK_STR(last_event, "VoteCast");
	GX_CHECK(cc_jnum(last_ev, "votesFor") == 1);
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p1", "alice", "AGAINST", NULL) == 409 &&
		 msg_has("already voted"));
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p1", "bob", "ABSTAIN", NULL) == 200);
	GX_CHECK(cc_jnum(last_ev, "votesAbstain") == 1 && cc_jnum(last_ev, "votesFor") == 1);
	GX_CHECK(call(PARTNER, "GovernanceContract:ExecuteProposal", "p1", "adm", NULL) == 403);
	GX_CHECK(call(ADMIN, "GovernanceContract:ExecuteProposal", "p1", "adm", NULL) == 409 &&
		 msg_has("has not ended"));
	stub.now_ms += 60000;
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p1", "carol", "FOR", NULL) == 409 && msg_has("ended"));
	GX_CHECK(call(ADMIN, "GovernanceContract:ExecuteProposal", "p1", "adm", NULL) == 200);
	GX_CHECK_STR(last_event, "ProposalExecuted");
	GX_CHECK_STR(ev_str("previousValue"), "10");
	GX_CHECK_STR(ev_str("newValue"), "25");
	GX_CHECK(call(ADMIN, "GovernanceContract:ExecuteProposal", "p1", "adm", NULL) == 409);
	GX_CHECK(call("", "AdminContract:GetSystemParameter", "transactionFeeBps", NULL) == 200);
	GX_CHECK_STR(cc_jstr(last, "paramValue"), "25");
	GX_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(last, "isDefault")));
	/* the new fee applies */
	GX_CHECK(call("", "TaxAndFeeContract:CalculateFee", "2000000", NULL) == 200);
	GX_CHECK_STR(cc_jstr(last, "fee"), "5000");
	/* a rejected proposal: AGAINST wins */
	GX_CHECK(call(PARTNER, "GovernanceContract:SubmitProposal", "p2", "bob", "orgDefaultThreshold", "3", "t", "",
		      NULL) == 200);
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p2", "alice", "AGAINST", NULL) == 200);
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p2", "bob", "FOR", NULL) == 200);
	stub.now_ms += 60000;
	GX_CHECK(call(ADMIN, "GovernanceContract:ExecuteProposal", "p2", "adm", NULL) == 200);
	GX_CHECK_STR(last_event, "ProposalRejected");
	GX_CHECK_STR(ev_str("reason"), "approval threshold not reached");
	GX_CHECK(call("", "AdminContract:GetSystemParameter", "orgDefaultThreshold", NULL) == 200);
	GX_CHECK_STR(cc_jstr(last, "paramValue"), "2");
	/* quorum: 100% of 3 users needed, 1 vote cast */
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "governanceQuorumPercentage", "100", NULL) == 200);
	GX_CHECK(call(PARTNER, "GovernanceContract:SubmitProposal", "p3", "bob", "orgDefaultThreshold", "3", "t", "",
		      NULL) == 200);
	GX_CHECK(call(PARTNER, "GovernanceContract:CastVote", "p3", "alice", "FOR", NULL) == 200);
	stub.now_ms += 60000;
	GX_CHECK(call(ADMIN, "GovernanceContract:ExecuteProposal", "p3", "adm", NULL) == 200);
	GX_CHECK_STR(ev_str("reason"), "quorum not reached");
}

GX_TEST(admin_countries_params)
{
	uint64_t total;

	reset();
	GX_CHECK(call(SUPER, "AdminContract:InitializeCountryData", "[{\"countryCode\":\"NG\",\"ppb\":1000000000}]",
		      NULL) == 409 &&
		 msg_has("not bootstrapped"));
	GX_CHECK(call(SUPER, "AdminContract:BootstrapSystem", NULL) == 200);
	GX_CHECK(call(ADMIN, "AdminContract:InitializeCountryData", "[]", NULL) == 403);
	GX_CHECK(call(SUPER, "AdminContract:InitializeCountryData", "[]", NULL) == 400);
	GX_CHECK(call(SUPER, "AdminContract:InitializeCountryData",
		      "[{\"countryCode\":\"NG\",\"ppb\":500000000},{\"countryCode\":\"NG\",\"ppb\":500000000}]",
		      NULL) == 400 &&
		 msg_has("duplicate"));
	GX_CHECK(call(SUPER, "AdminContract:InitializeCountryData", "[{\"countryCode\":\"NG\",\"ppb\":500000000}]",
		      NULL) == 400 &&
		 msg_has("sum"));
	GX_CHECK(call(SUPER, "AdminContract:InitializeCountryData", "[{\"countryCode\":\"ng\",\"ppb\":1000000000}]",
		      NULL) == 400);
	GX_CHECK(call(SUPER, "AdminContract:InitializeCountryData",
		      "[{\"countryCode\":\"NG\",\"ppb\":333333333},{\"countryCode\":\"GH\",\"ppb\":333333333},"
		      "{\"countryCode\":\"IN\",\"ppb\":333333334}]",
		      NULL) == 200);
	GX_CHECK_STR(last_event, "CountryDataInitialized");
	GX_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(last_ev, "countries")) == 3);
	total = cc_ju64(last_ev, "totalAllocated");
	GX_CHECK(balance("treasury_NG") == 1666666665000000ULL);
	GX_CHECK(balance("treasury_IN") == 1666666670000000ULL);
	GX_CHECK(total == 1666666665000000ULL * 2 + 1666666670000000ULL);
	GX_CHECK(balance(CC_GOVT_GENESIS_POOL) == 5000000000000000ULL - total);
	GX_CHECK(sum_balances() == supply());
	GX_CHECK(call(SUPER, "AdminContract:InitializeCountryData", "[{\"countryCode\":\"NG\",\"ppb\":1000000000}]",
		      NULL) == 409);
	GX_CHECK(call(ADMIN, "AdminContract:ActivateTreasuryAccount", "US", NULL) == 404);
	GX_CHECK(call(ADMIN, "AdminContract:ActivateTreasuryAccount", "NG", NULL) == 200);
	GX_CHECK_STR(last_event, "TreasuryActivated");
	GX_CHECK_STR(ev_str("treasuryID"), "treasury_NG");
	GX_CHECK(call(ADMIN, "AdminContract:ActivateTreasuryAccount", "NG", NULL) == 409);
	GX_CHECK(call("", "AdminContract:GetCountry", "NG", NULL) == 200);
	GX_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(last, "treasuryActive")));
	/* parameters */
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "bogus", "1", NULL) == 400);
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "transactionFeeBps", "abc", NULL) == 400);
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "loanMinimumAmount", "0", NULL) == 400);
	GX_CHECK(call(ADMIN, "AdminContract:UpdateSystemParameter", "transactionFeeBps", "5", NULL) == 403);
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "transactionFeeBps", "5", NULL) == 200);
	GX_CHECK_STR(last_event, "SystemParameterUpdated");
	GX_CHECK_STR(ev_str("previousValue"), "10");
	GX_CHECK(call("", "AdminContract:GetSystemParameter", "nope", NULL) == 404);
	/* admins */
	GX_CHECK(call(SUPER, "AdminContract:AppointAdmin", "zed", NULL) == 404);
	GX_CHECK(call(PARTNER, "IdentityContract:CreateUser", "zed", HASH_A, "NG", "3", NULL) == 200);
	GX_CHECK(call(ADMIN, "AdminContract:AppointAdmin", "zed", NULL) == 403);
	GX_CHECK(call(SUPER, "AdminContract:AppointAdmin", "zed", NULL) == 200);
	GX_CHECK_STR(last_event, "AdminAppointed");
	GX_CHECK(call(SUPER, "AdminContract:AppointAdmin", "zed", NULL) == 409);
	/* supply cap */
	reset();
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "totalSupplyCap", "100", NULL) == 200);
	GX_CHECK(call(SUPER, "AdminContract:BootstrapSystem", NULL) == 409 && msg_has("totalSupplyCap"));
	GX_CHECK(call("", "AdminContract:GetSystemStatus", NULL) == 200);
	GX_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(last, "bootstrapped")));
	GX_CHECK_STR(cc_jstr(last, "totalSupply"), "0");
}

GX_TEST(velocity_tax)
{
	setup();
	GX_CHECK(call(ADMIN, "TaxAndFeeContract:ApplyVelocityTax", "nobody", NULL) == 404);
	GX_CHECK(call(ADMIN, "TaxAndFeeContract:ApplyVelocityTax", CC_LOAN_POOL, NULL) == 409 && msg_has("exempt"));
	GX_CHECK(call(ADMIN, "TaxAndFeeContract:ApplyVelocityTax", "alice", NULL) == 409 && msg_has("dormant"));
	GX_CHECK(call(ADMIN, "TaxAndFeeContract:ApplyVelocityTax", "carol", NULL) == 409 && msg_has("balance below"));
	GX_CHECK(call(PARTNER, "TaxAndFeeContract:ApplyVelocityTax", "alice", NULL) == 403);
	stub.now_ms += 361LL * 86400000;
	GX_CHECK(call(ADMIN, "TaxAndFeeContract:ApplyVelocityTax", "alice", NULL) == 200);
	GX_CHECK_STR(last_event, "VelocityTaxApplied");
	GX_CHECK_STR(ev_str("taxAmount"), "300000");
	GX_CHECK_STR(ev_str("balance"), "9700000");
	GX_CHECK(cc_jnum(last_ev, "dormantDays") == 361);
	GX_CHECK(balance(CC_TAX_POOL) == 300000);
	/* the timer restarted */
	GX_CHECK(call(ADMIN, "TaxAndFeeContract:ApplyVelocityTax", "alice", NULL) == 409);
	/* sending restarts the timer too */
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "velocityTaxMinimumBalance", "1000000", NULL) ==
		 200);
	GX_CHECK(call(PARTNER, "TokenomicsContract:Transfer", "bob", "carol", "1", "", NULL) == 200);
	GX_CHECK(call(ADMIN, "TaxAndFeeContract:ApplyVelocityTax", "bob", NULL) == 409 && msg_has("dormant 0"));
	GX_CHECK(call(SUPER, "AdminContract:UpdateSystemParameter", "velocityTaxDormancyDays", "0", NULL) == 200);
	GX_CHECK(call(ADMIN, "TaxAndFeeContract:ApplyVelocityTax", "bob", NULL) == 200);
	GX_CHECK(sum_balances() == supply());
}

GX_TEST(fee_parity)
{
	static const char *amounts[] = { "0",
					 "1",
					 "999999",
					 "1000000",
					 "1000001",
					 "123456789",
					 "10000000000",
					 "99999999999999",
					 "18446744073699551615" };
	struct gx_fee_params fp;
	struct gx_fee_result fr;

	reset();
	gx_fee_params_init(&fp);
	for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
		uint64_t a;

		GX_CHECK(gx_fee_parse_u64(amounts[i], &a) == 0);
		GX_CHECK(gx_fee_compute(a, &fp, &fr) == 0);
		GX_CHECK(call("", "TaxAndFeeContract:CalculateFee", amounts[i], NULL) == 200);
		GX_CHECK(cc_ju64(last, "fee") == fr.fee);
		GX_CHECK(cc_ju64(last, "total") == fr.total);
		GX_CHECK_STR(cc_jstr(last, "tier"), fr.tier);
	}
	/* the model's defaults are gx_fee's defaults */
	GX_CHECK(call("", "AdminContract:GetSystemParameter", GX_FEE_PARAM_BPS, NULL) == 200);
	GX_CHECK(cc_ju64(last, "paramValue") == GX_FEE_DEFAULT_BPS);
	GX_CHECK(call("", "AdminContract:GetSystemParameter", GX_FEE_PARAM_THRESHOLD, NULL) == 200);
	GX_CHECK(cc_ju64(last, "paramValue") == GX_FEE_DEFAULT_THRESHOLD);
	GX_CHECK(call("", "AdminContract:GetSystemParameter", GX_FEE_PARAM_MAX, NULL) == 200);
	GX_CHECK(cc_ju64(last, "paramValue") == GX_FEE_DEFAULT_MAX);
	GX_CHECK(call("", "TaxAndFeeContract:CalculateFee", "18446744073709551615", NULL) == 400);
	GX_CHECK(call("", "TaxAndFeeContract:CalculateFee", "-5", NULL) == 400);
}

/* List*(pageSize, bookmark): byte order of ids, pages joined without gaps or repeats, bookmark "" at the end. */
GX_TEST(paged_lists)
{
	const char *want[] = { "SYSTEM_FEE_POOL",
			       "SYSTEM_GOVT_GENESIS_POOL",
			       "SYSTEM_LOAN_POOL",
			       "SYSTEM_TAX_POOL",
			       "SYSTEM_USER_GENESIS_POOL",
			       "alice",
			       "bob",
			       "carol" };
	char bookmark[160] = "";
	size_t seen = 0;

	reset();
	setup();
	GX_CHECK(call("", "TokenomicsContract:ListAccounts", "0", "", NULL) == 400 && msg_has("pageSize"));
	GX_CHECK(call("", "TokenomicsContract:ListAccounts", "1001", "", NULL) == 400);
	GX_CHECK(call("", "TokenomicsContract:ListAccounts", "3", "bad id!", NULL) == 400 && msg_has("bookmark"));
	GX_CHECK(call("", "TokenomicsContract:ListAccounts", "3", NULL) == 400 && msg_has("expects 2 arguments"));
	for (int round = 0; round < 5; round++) {
		const cJSON *recs, *it;

		GX_CHECK(call("", "TokenomicsContract:ListAccounts", "3", bookmark, NULL) == 200);
		recs = cJSON_GetObjectItemCaseSensitive(last, "records");
		GX_CHECK(cc_jnum(last, "fetchedRecordsCount") == cJSON_GetArraySize(recs));
		cJSON_ArrayForEach(it, recs) {
			GX_CHECK(seen < GX_ARRAY_LEN(want) && !strcmp(cc_jstr(it, "accountID"), want[seen]));
			seen++;
		}
		snprintf(bookmark, sizeof(bookmark), "%s", cc_jstr(last, "bookmark"));
		if (!*bookmark)
			break;
	}
	GX_CHECK(seen == GX_ARRAY_LEN(want));
	GX_CHECK(call("", "LoanPoolContract:ListLoans", "10", "", NULL) == 200);
	GX_CHECK(cc_jnum(last, "fetchedRecordsCount") == 0 && !strcmp(cc_jstr(last, "bookmark"), ""));
	GX_CHECK(call(PARTNER, "OrganizationContract:ProposeOrganization", "org1", "Org", "BUSINESS",
		      "[\"alice\",\"bob\"]", NULL) == 200);
	GX_CHECK(call("", "OrganizationContract:ListOrganizations", "1", "", NULL) == 200);
	GX_CHECK(!strcmp(cc_jstr(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(last, "records"), 0), "orgID"),
			 "org1"));
	GX_CHECK(call("", "OrganizationContract:ListMultiSigTxs", "5", "", NULL) == 200);
	GX_CHECK(call("", "GovernanceContract:ListProposals", "5", "", NULL) == 200);
}

int main(void)
{
	gx_log_init("test_cc_model");
	gx_log_set_level(GX_LOG_FATAL);
	GX_RUN(dispatch_and_roles);
	GX_RUN(create_user);
	GX_RUN(genesis);
	GX_RUN(transfers_fees_conservation);
	GX_RUN(freeze_and_pause);
	GX_RUN(organization_multisig);
	GX_RUN(loans);
	GX_RUN(governance);
	GX_RUN(admin_countries_params);
	GX_RUN(velocity_tax);
	GX_RUN(fee_parity);
	GX_RUN(paged_lists);
	reset();
	cJSON_Delete(last);
	cJSON_Delete(last_ev);
	free(last_msg);
	free(stub.ev_name);
	free(stub.ev_payload);
	return gx_test_done();
}
