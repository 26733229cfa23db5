/* Partner API keys: key text and hash, the scope table, the shared create/revoke SQL (see gx/apikey.h). */
#include "gx/apikey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/sha256.h>
#include <mbedtls/platform_util.h>

#include "gx/rand.h"

/* One row per partner operation (docs/partners.md "Scopes"). The names are resource.action; a service's rows are
 * checked against its route table when it starts (gx_api_main), so a renamed route cannot leave a dead scope. */
const struct gx_apikey_scope gx_apikey_scopes[] = {
	/* every API: the status of a command the key created */
	{ "commands.get", "*", "GET", "/api/v1/commands/{commandId}" },
	/* svc-admin: public system state */
	{ "system.status", "svc-admin", "GET", "/api/v1/system/status" },
	{ "countries.list", "svc-admin", "GET", "/api/v1/countries" },
	{ "countries.stats", "svc-admin", "GET", "/api/v1/countries/{countryCode}/stats" },
	{ "parameters.list", "svc-admin", "GET", "/api/v1/parameters" },
	{ "parameters.get", "svc-admin", "GET", "/api/v1/parameters/{paramId}" },
	/* svc-identity: the profile the key acts for (no credential routes: login, refresh, logout, register, PATCH) */
	{ "users.get", "svc-identity", "GET", "/api/v1/users/{id}" },
	{ "kyc.submit", "svc-identity", "POST", "/api/v1/users/{id}/kyc" },
	{ "kyc.get", "svc-identity", "GET", "/api/v1/users/{id}/kyc" },
	{ "users.onchain", "svc-identity", "POST", "/api/v1/users/{id}/onchain" },
	/* svc-tokenomics */
	{ "transfers.create", "svc-tokenomics", "POST", "/api/v1/transfers" },
	{ "wallets.balance", "svc-tokenomics", "GET", "/api/v1/wallets/{profileId}/balance" },
	{ "wallets.transactions", "svc-tokenomics", "GET", "/api/v1/wallets/{profileId}/transactions" },
	{ "treasury.balance", "svc-tokenomics", "GET", "/api/v1/treasury/{countryCode}/balance" },
	/* svc-organization */
	{ "organizations.propose", "svc-organization", "POST", "/api/v1/organizations" },
	{ "organizations.get", "svc-organization", "GET", "/api/v1/organizations/{orgId}" },
	{ "organizations.endorse", "svc-organization", "POST", "/api/v1/organizations/{orgId}/endorse" },
	{ "organizations.activate", "svc-organization", "POST", "/api/v1/organizations/{orgId}/activate" },
	{ "organizations.rules", "svc-organization", "POST", "/api/v1/organizations/{orgId}/rules" },
	{ "multisig.initiate", "svc-organization", "POST", "/api/v1/organizations/{orgId}/transactions" },
	{ "multisig.pending", "svc-organization", "GET", "/api/v1/organizations/{orgId}/transactions/pending" },
	{ "multisig.approve", "svc-organization", "POST", "/api/v1/transactions/{pendingTxId}/approve" },
	/* svc-loanpool */
	{ "loans.apply", "svc-loanpool", "POST", "/api/v1/loans" },
	{ "loans.get", "svc-loanpool", "GET", "/api/v1/loans/{loanId}" },
	{ "loans.repay", "svc-loanpool", "POST", "/api/v1/loans/{loanId}/repay" },
	{ "loans.list", "svc-loanpool", "GET", "/api/v1/users/{borrowerId}/loans" },
	/* svc-governance */
	{ "proposals.submit", "svc-governance", "POST", "/api/v1/proposals" },
	{ "proposals.list", "svc-governance", "GET", "/api/v1/proposals" },
	{ "proposals.get", "svc-governance", "GET", "/api/v1/proposals/{proposalId}" },
	{ "proposals.vote", "svc-governance", "POST", "/api/v1/proposals/{proposalId}/vote" },
	/* svc-tax */
	{ "fees.calculate", "svc-tax", "POST", "/api/v1/fees/calculate" },
	{ "velocityTax.eligibility", "svc-tax", "GET", "/api/v1/velocity-tax/eligibility/{accountId}" },
};
const size_t gx_apikey_scopes_len = GX_ARRAY_LEN(gx_apikey_scopes);

_Static_assert(GX_ARRAY_LEN(gx_apikey_scopes) <= 64, "a key's scopes are a 64-bit set");

/* clang-format off */
const char GX_APIKEY_SQL_CREATE[] =
	"WITH k AS (INSERT INTO \"PartnerApiKey\" (\"id\", \"tenantId\", \"name\", \"secretHash\", \"scopes\","
	" \"profileId\", \"rateLimitPerMin\", \"expiresAt\", \"createdBy\") VALUES ($1, $2, $3, $4, $5::text[], $6,"
	" $7::int, now() + make_interval(secs => $8::double precision), $9) RETURNING *),"
	" a AS (INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	" \"targetId\", \"details\", \"requestId\", \"ipAddress\") SELECT k.\"tenantId\", $9, $10, 'PARTNER_KEY_CREATE',"
	" 'PARTNER_KEY', k.\"id\", jsonb_build_object('name', k.\"name\", 'scopes', to_jsonb(k.\"scopes\"),"
	" 'rateLimitPerMinute', k.\"rateLimitPerMin\", 'profileId', k.\"profileId\"), $11, $12 FROM k)"
	" SELECT " GX_APIKEY_SQL_JSON("k") "::text AS \"key\" FROM k";

const char GX_APIKEY_SQL_REVOKE[] =
	"WITH k AS (UPDATE \"PartnerApiKey\" SET \"revokedAt\" = COALESCE(\"revokedAt\", now())"
	" WHERE \"tenantId\" = $1 AND \"id\" = $2 RETURNING *),"
	" a AS (INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	" \"targetId\", \"requestId\", \"ipAddress\") SELECT k.\"tenantId\", $3, $4, 'PARTNER_KEY_REVOKE', 'PARTNER_KEY',"
	" k.\"id\", $5, $6 FROM k)"
	" SELECT " GX_APIKEY_SQL_JSON("k") "::text AS \"key\","
	" GREATEST(60, ceil(extract(epoch FROM k.\"expiresAt\" - now()))::bigint + 60) AS \"markerTtl\" FROM k";
/* clang-format on */

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int gx_apikey_generate(char *id, char *text, char *hash_hex)
{
	unsigned char idb[GX_APIKEY_ID_LEN / 2], secret[GX_APIKEY_SECRET_LEN / 2], digest[32];
	char sec_hex[GX_APIKEY_SECRET_LEN + 1];

	id[0] = text[0] = hash_hex[0] = '\0';
	if (gx_rand_bytes(idb, sizeof(idb)) < 0 || gx_rand_bytes(secret, sizeof(secret)) < 0)
		return -1;
	gx_hex_encode(idb, sizeof(idb), id);
	gx_hex_encode(secret, sizeof(secret), sec_hex);
	/* the digest of the secret's text, as a request presents it (gx_apikey_parse) */
	mbedtls_sha256_ret((const unsigned char *)sec_hex, GX_APIKEY_SECRET_LEN, digest, 0);
	gx_hex_encode(digest, sizeof(digest), hash_hex);
	snprintf(text, GX_APIKEY_TEXT_LEN + 1, "%s%s_%s", GX_APIKEY_PREFIX, id, sec_hex);
	mbedtls_platform_zeroize(secret, sizeof(secret));
	mbedtls_platform_zeroize(sec_hex, sizeof(sec_hex));
	return 0;
}

int gx_apikey_parse(const char *text, char *id, unsigned char digest[32])
{
	const char *idp, *sec;

	id[0] = '\0';
	if (!text || strlen(text) != GX_APIKEY_TEXT_LEN || strncmp(text, GX_APIKEY_PREFIX, 4) != 0)
		return -1;
	idp = text + 4;
	sec = idp + GX_APIKEY_ID_LEN + 1;
	if (idp[GX_APIKEY_ID_LEN] != '_' || !is_lower_hex(idp, GX_APIKEY_ID_LEN) ||
	    !is_lower_hex(sec, GX_APIKEY_SECRET_LEN))
		return -1;
	memcpy(id, idp, GX_APIKEY_ID_LEN);
	id[GX_APIKEY_ID_LEN] = '\0';
	mbedtls_sha256_ret((const unsigned char *)sec, GX_APIKEY_SECRET_LEN, digest, 0);
	return 0;
}

bool gx_apikey_hash_matches(const char *hash_hex, const unsigned char digest[32])
{
	unsigned char stored[32];

	if (!hash_hex || strlen(hash_hex) != 64 || gx_hex_decode(hash_hex, 32, stored) < 0)
		return false;
	return gx_ct_equal(stored, digest, sizeof(stored));
}

int gx_apikey_scope_index(const char *name)
{
	for (size_t i = 0; name && i < gx_apikey_scopes_len; i++)
		if (strcmp(gx_apikey_scopes[i].name, name) == 0)
			return (int)i;
	return -1;
}

int gx_apikey_scope_of_route(const char *service, const char *method, const char *path)
{
	for (size_t i = 0; i < gx_apikey_scopes_len; i++) {
		const struct gx_apikey_scope *s = &gx_apikey_scopes[i];

		if ((strcmp(s->service, "*") == 0 || strcmp(s->service, service) == 0) &&
		    strcmp(s->method, method) == 0 && strcmp(s->path, path) == 0)
			return (int)i;
	}
	return -1;
}

uint64_t gx_apikey_scopes_from_pg(const char *literal)
{
	uint64_t set = 0;
	char name[64];
	size_t n = 0;

	if (!literal || *literal != '{')
		return 0;
	/* scope names are [A-Za-z.]: PostgreSQL writes them unquoted, separated by commas */
	for (const char *p = literal + 1; *p; p++) {
		if (*p == ',' || *p == '}') {
			int i;

			name[n] = '\0';
			i = gx_apikey_scope_index(name);
			if (i >= 0)
				set |= (uint64_t)1 << i;
			n = 0;
			if (*p == '}')
				break;
		} else if (n + 1 < sizeof(name)) {
			name[n++] = *p;
		}
	}
	return set;
}

int gx_apikey_scopes_check(const char *const *names, size_t n, char **literal, char *buf, size_t buflen,
			   const char **why)
{
	uint64_t seen = 0;
	size_t len = 3;
	char *out;

	*literal = NULL;
	if (n == 0) {
		*why = "must name at least one scope";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int k = gx_apikey_scope_index(names[i]);

		if (k < 0 || seen & ((uint64_t)1 << k)) {
			snprintf(buf, buflen, "%s scope '%.64s' (docs/partners.md lists the scopes)",
				 k < 0 ? "unknown" : "repeated", names[i] ? names[i] : "");
			*why = buf;
			return -1;
		}
		seen |= (uint64_t)1 << k;
		len += strlen(names[i]) + 1;
	}
	out = gx_xmalloc(len);
	strcpy(out, "{");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, names[i]);
	}
	strcat(out, "}");
	*literal = out;
	return 0;
}
