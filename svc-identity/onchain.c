/* POST /api/v1/users/{id}/onchain: brings a profile that was registered without its on-chain fields (the original's
 * clients send no date of birth) onto the chain. The body fills what the profile lacks (nationalityCountryCode,
 * dateOfBirth); one transaction stores them and enqueues CREATE_USER, as registration does when it has both.
 * Self, or an admin of higher rank (docs/security.md "Ranks"). */
#include "identity.h"
#include "gx/outbox.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/rank.h"
#include "gx/svc.h"
#include "gx/util.h"
#include "gx/valid.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The profile's on-chain fields, and whether it is on chain or on its way there (an open CREATE_USER). */
static struct gx_outbox_store_sql sql_state = {
	.tmpl = "SELECT \"nationalityCountryCode\", to_char(\"dateOfBirth\", 'YYYY-MM-DD') AS \"dateOfBirth\","
		" \"biometricHash\", \"role\"::text AS \"role\", \"onchainStatus\" IS NOT NULL OR %s AS \"registered\""
		" FROM \"UserProfile\" WHERE \"profileId\" = $1 AND \"tenantId\" = $2 AND \"deletedAt\" IS NULL",
	.probes = { { .ask = GX_OUTBOX_STORE_EXISTS,
		      .rule = GX_OUTBOX_STORE_LIVE,
		      .tenant = "$2",
		      .types = "'CREATE_USER'",
		      .aggregate = "$1" } }
};

static const char SQL_FILL[] =
	"UPDATE \"UserProfile\" SET \"nationalityCountryCode\" = $3, \"dateOfBirth\" = $4::date, \"updatedAt\" = now()"
	" WHERE \"profileId\" = $1 AND \"tenantId\" = $2";

static const struct gx_conflict onchain_conflicts[] = {
	{ "UserProfile_nationalityCountryCode_fkey", 400, "UNKNOWN_COUNTRY",
	  "nationalityCountryCode is not a known country" },
};

struct onchain {
	struct gx_req *req;
	char *id;
	char *nat, *dob; /* from the body, NULL when absent */
	long long age;
};

static void onchain_free(void *arg)
{
	struct onchain *s = arg;

	free(s->id);
	free(s->nat);
	free(s->dob);
	free(s);
}

/* The value to send: the stored one, or the body's when none is stored. A body value that contradicts a stored one
 * is refused (the profile's on-chain fields are written once). */
static const char *pick(const PGresult *res, const char *col, const char *given, struct gx_verr *v)
{
	const char *stored = gx_pg_isnull(res, 0, col) ? NULL : gx_pg_val(res, 0, col);

	if (stored && given && strcmp(stored, given) != 0)
		gx_verr_add(v, col, "is already set and cannot be changed");
	else if (!stored && !given)
		gx_verr_add(v, col, "is required to register on chain");
	return stored ? stored : given;
}

static void on_state(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct onchain *s = arg;
	struct gx_req *req = s->req;
	struct gx_verr *v;
	const char *nat, *dob, *p[4];
	struct gx_pg_stmt st;
	struct gx_outbox_cmd cmd;
	cJSON *payload;
	long long age = s->age;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) != 1) {
		gx_reply_error(req, 404, "NOT_FOUND", "User not found");
		return;
	}
	if (gx_rank_require(req, s->id, gx_pg_val(res, 0, "role"), true, "register on chain") < 0)
		return;
	if (strcmp(gx_pg_val(res, 0, "registered"), "t") == 0) {
		gx_reply_error(req, 409, "ALREADY_ON_CHAIN", "this user is already registered on chain");
		return;
	}
	v = gx_verr_new();
	nat = pick(res, "nationalityCountryCode", s->nat, v);
	dob = pick(res, "dateOfBirth", s->dob, v);
	if (gx_svc_invalid(req, v))
		return;
	if (!s->dob) {
		int y, m, d;

		/* the stored date was validated when it was written */
		age = gx_valid_date(dob, &y, &m, &d) ? gx_valid_age_years(y, m, d, time(NULL)) : -1;
		if (age < 0) {
			gx_reply_error(req, 500, "INTERNAL", "the stored date of birth is not usable");
			return;
		}
	}
	p[0] = s->id;
	p[1] = gx_req_tenant(req);
	p[2] = nat;
	p[3] = dob;
	st = (struct gx_pg_stmt){ SQL_FILL, 4, p };
	/* exactly the CREATE_USER fields of docs/chaincode.md, as registration sends them */
	payload = cJSON_CreateObject();
	cJSON_AddStringToObject(payload, "userId", s->id);
	cJSON_AddStringToObject(payload, "biometricHash", gx_pg_val(res, 0, "biometricHash"));
	cJSON_AddStringToObject(payload, "nationality", nat);
	cJSON_AddNumberToObject(payload, "age", (double)age);
	cmd = (struct gx_outbox_cmd){ .command_type = "CREATE_USER", .aggregate_id = s->id, .payload = payload };
	gx_outbox_submit(req, &st, 1, &cmd, onchain_conflicts, GX_ARRAY_LEN(onchain_conflicts));
	cJSON_Delete(payload);
}

void idy_users_onchain(struct gx_req *req)
{
	const char *id = idy_profile_param(req, "You can only register your own profile on chain");
	const char *nat, *dob, *p[2];
	struct gx_verr *v;
	struct onchain *s;
	long long age;

	if (!id)
		return;
	v = gx_verr_new();
	idy_read_onchain_fields(gx_req_body(req), v, &nat, &dob, &age); /* req is ours until it is answered */
	if (gx_svc_invalid(req, v))
		return;
	s = gx_xcalloc(1, sizeof(*s));
	s->req = req;
	s->id = gx_xstrdup(id);
	s->nat = nat ? gx_xstrdup(nat) : NULL;
	s->dob = dob ? gx_xstrdup(dob) : NULL;
	s->age = age;
	gx_req_set_data(req, s, onchain_free);
	p[0] = s->id;
	p[1] = gx_req_tenant(req);
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_state), 2, p, on_state, s) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the profile query");
}
