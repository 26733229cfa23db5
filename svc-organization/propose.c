/* POST /api/v1/organizations (PROPOSE_ORGANIZATION): the original client's body {orgId, orgName, orgType
 * (BUSINESS|NGO|GOVERNMENT), stakeholderIds} and ours (no orgId: the server makes a UUID v4; orgType
 * business|nonprofit|government). The orgId is the command's aggregate, so the 202 answer's "aggregateId" and
 * "orgId" name it. Checks against the read models are fast rejections; the chain decides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/svc.h"
#include "gx/valid.h"
#include "org.h"

/* Each stakeholder id of the JSON array $2, in order, whether it is a live profile registered on chain, and
 * whether the orgId $3 is taken: an organization, a user or account id (the chain keeps one namespace of account
 * ids), or a proposal accepted and not FAILED. */
static struct gx_outbox_store_sql sql_stakeholders = {
	.tmpl = "SELECT u.id, (p.\"profileId\" IS NOT NULL) AS found, (p.\"onchainStatus\" IS NOT NULL) AS onchain,"
		" (EXISTS (SELECT 1 FROM \"Organization\" WHERE \"orgId\" = $3 AND \"tenantId\" = $1)"
		"  OR EXISTS (SELECT 1 FROM \"UserProfile\" WHERE \"profileId\" = $3 AND \"tenantId\" = $1)"
		"  OR EXISTS (SELECT 1 FROM \"Wallet\" WHERE \"primaryAccountId\" = $3 AND \"tenantId\" = $1)"
		"  OR %s) AS taken"
		" FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS u(id, n)"
		" LEFT JOIN \"UserProfile\" p ON p.\"profileId\" = u.id AND p.\"tenantId\" = $1 AND p.\"deletedAt\" IS NULL"
		" ORDER BY u.n",
	.probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_LIVE,
		      .tenant = "$1",
		      .types = "'PROPOSE_ORGANIZATION'",
		      .fields = { { "orgId", "$3", false } } } }
};

/* orgType spellings: ours (lower case), the chain's, and the original's DTO (NGO); any case. */
static const struct {
	const char *in, *chain;
} ORG_TYPES[] = {
	{ "business", "BUSINESS" },
	{ "nonprofit", "NONPROFIT" },
	{ "ngo", "NONPROFIT" },
	{ "government", "GOVERNMENT" },
};

struct propose {
	struct gx_req *req;
	char org_id[65];
	char *name;
	const char *type;    /* chain spelling, static */
	cJSON *stakeholders; /* owned array of strings */
};

static void propose_free(void *p)
{
	struct propose *pr = p;

	free(pr->name);
	cJSON_Delete(pr->stakeholders);
	free(pr);
}

static void on_stakeholders(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct propose *pr = arg;
	struct gx_req *req = pr->req;
	struct gx_verr *v;
	cJSON *payload;
	/* at most 10 checked ids of <= 64 bytes, ", " between them */
	char missing[10 * 66 + 1];
	size_t used = 0;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	missing[0] = '\0';
	for (int i = 0; i < PQntuples(res); i++) {
		int n;

		if (gx_svc_true(res, i, "found"))
			continue;
		n = snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "", gx_pg_val(res, i, "id"));
		if (n < 0 || (size_t)n >= sizeof(missing) - used)
			break;
		used += (size_t)n;
	}
	if (missing[0]) {
		/* the original's text */
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Some stakeholders not found: %s", missing);
		return;
	}
	v = gx_verr_new();
	for (int i = 0; i < PQntuples(res); i++) {
		char field[32];

		snprintf(field, sizeof(field), "stakeholderIds[%d]", i);
		if (!gx_svc_true(res, i, "onchain"))
			gx_verr_add(v, field, "user is not registered on chain yet");
	}
	if (gx_svc_invalid(req, v))
		return;
	if (PQntuples(res) > 0 && gx_svc_true(res, 0, "taken")) {
		gx_reply_error(req, 409, "ORG_EXISTS", "an organization or account with id %s already exists",
			       pr->org_id);
		return;
	}
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "orgId", pr->org_id);
	cJSON_AddStringToObject(payload, "orgName", pr->name);
	cJSON_AddStringToObject(payload, "orgType", pr->type);
	cJSON_AddItemReferenceToObject(payload, "stakeholderIds", pr->stakeholders);
	gx_svc_enqueue(req, "PROPOSE_ORGANIZATION", pr->org_id, payload);
}

/* orgType in any spelling of ORG_TYPES; the chain spelling or NULL. */
static const char *org_type_chain(const char *s)
{
	for (size_t i = 0; s && i < GX_ARRAY_LEN(ORG_TYPES); i++)
		if (strcasecmp(s, ORG_TYPES[i].in) == 0)
			return ORG_TYPES[i].chain;
	return NULL;
}

/* The client's orgId (original body) into org_id, or none: 0 (org_id stays empty), or -1 with an issue added. */
static int read_org_id(const cJSON *body, char org_id[65], struct gx_verr *v)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "orgId");

	if (!id || cJSON_IsNull(id))
		return 0;
	if (!cJSON_IsString(id) || !gx_valid_id(id->valuestring)) {
		gx_verr_add(v, "orgId", "must be 1 to 64 characters of A-Z a-z 0-9 _ . : - (or left out)");
		return -1;
	}
	if (strncmp(id->valuestring, "SYSTEM_", 7) == 0 || strncmp(id->valuestring, "treasury_", 9) == 0) {
		gx_verr_add(v, "orgId", "uses a reserved prefix (SYSTEM_, treasury_)");
		return -1;
	}
	snprintf(org_id, 65, "%s", id->valuestring);
	return 0;
}

void orgs_propose(struct gx_req *req)
{
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	const cJSON *body = gx_req_body(req);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "orgId");
	struct gx_verr *v;
	const char *name, *type_s, *type = NULL;
	struct propose *pr;
	cJSON *ids;
	char *json;
	const char *params[3];

	/* the original's first check: every field it needs is truthy (our orgId may be left out, not sent falsy) */
	if ((id && !cJSON_IsNull(id) && !org_truthy(id)) ||
	    !org_truthy(cJSON_GetObjectItemCaseSensitive(body, "orgName")) ||
	    !org_truthy(cJSON_GetObjectItemCaseSensitive(body, "orgType")) ||
	    !org_truthy(cJSON_GetObjectItemCaseSensitive(body, "stakeholderIds"))) {
		gx_reply_error(req, 400, "VALIDATION_FAILED",
			       "orgId, orgName, orgType, and stakeholderIds are required");
		return;
	}
	pr = gx_xcalloc(1, sizeof(*pr));
	pr->req = req;
	gx_req_set_data(req, pr, propose_free);
	v = gx_verr_new();
	read_org_id(body, pr->org_id, v);
	name = gx_valid_str(body, "orgName", true, 1, 100, v);
	if (name && strlen(name) > 100)
		gx_verr_add(v, "orgName", "must be at most 100 bytes");
	type_s = gx_valid_str(body, "orgType", true, 1, 32, v);
	if (type_s && !(type = org_type_chain(type_s)))
		gx_verr_add(v, "orgType",
			    "must be one of BUSINESS, NGO, GOVERNMENT (or business, nonprofit, government)");
	ids = org_read_ids(cJSON_GetObjectItemCaseSensitive(body, "stakeholderIds"), "stakeholderIds", 2, 10, v);
	if (gx_svc_invalid(req, v)) {
		cJSON_Delete(ids);
		return;
	}
	pr->stakeholders = ids;
	if (!org_json_has(ids, cl->sub)) {
		gx_reply_error(req, 403, "FORBIDDEN", "You must be a stakeholder to propose an organization");
		return;
	}
	pr->name = gx_xstrdup(name);
	pr->type = type;
	if (!pr->org_id[0] && gx_uuid_v4(pr->org_id) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate an organization id");
		return;
	}
	json = cJSON_PrintUnformatted(ids);
	if (!json)
		abort(); /* cJSON only fails on OOM */
	params[0] = gx_req_tenant(req);
	params[1] = json;
	params[2] = pr->org_id;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_stakeholders), 3, params, on_stakeholders, pr) <
	    0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the stakeholder query");
	free(json);
}
