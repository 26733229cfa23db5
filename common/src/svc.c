/* Handler helpers shared by the API services: query input, read-model columns as JSON, the list reply and the
 * outbox write paths (see gx/svc.h). */
#include "gx/svc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/chaincode.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/outbox.h"
#include "gx/pg.h"

static const char SQL_AUDIT[] =
	"INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	" \"targetId\", \"details\", \"requestId\", \"ipAddress\") VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)";

/* ---- request input ---- */

long long gx_svc_query_int(const struct gx_req *req, const char *name, long long min, long long max, long long def,
			   struct gx_verr *v)
{
	return gx_valid_query_int(gx_req_query(req, name), name, min, max, def, v);
}

int gx_svc_paging(const struct gx_req *req, long long max, long long def, struct gx_valid_page *pg, struct gx_verr *v)
{
	return gx_valid_paging(gx_req_query(req, "limit"), gx_req_query(req, "offset"), max, def, pg, v);
}

bool gx_svc_invalid(struct gx_req *req, struct gx_verr *v)
{
	if (gx_verr_count(v) > 0) {
		gx_reply_verr(req, v);
		return true;
	}
	gx_verr_free(v);
	return false;
}

void gx_svc_reply_invalid(struct gx_req *req, const char *field, const char *fmt, ...)
{
	struct gx_verr *v = gx_verr_new();
	char issue[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(issue, sizeof(issue), fmt, ap);
	va_end(ap);
	gx_verr_add(v, field, "%s", issue);
	gx_reply_verr(req, v);
}

/* ---- read-model columns ---- */

bool gx_svc_found(struct gx_req *req, const PGresult *res, const struct gx_pg_error *err, const char *code,
		  const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (err) {
		gx_reply_pg_error(req, err);
		return false;
	}
	if (PQntuples(res) > 0)
		return true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gx_reply_error(req, 404, code, "%s", msg);
	return false;
}

void gx_svc_add_text(cJSON *obj, const char *name, const PGresult *res, int row, const char *col)
{
	if (gx_pg_isnull(res, row, col))
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddStringToObject(obj, name, gx_pg_val(res, row, col));
}

bool gx_svc_true(const PGresult *res, int row, const char *col)
{
	return strcmp(gx_pg_val(res, row, col), "t") == 0;
}

long long gx_svc_total(const PGresult *res)
{
	const char *s;
	char *end;
	long long n;

	if (PQntuples(res) == 0 || gx_pg_isnull(res, 0, "total"))
		return 0;
	s = gx_pg_val(res, 0, "total");
	errno = 0;
	n = strtoll(s, &end, 10);
	return (!*s || *end || errno) ? 0 : n;
}

void gx_svc_reply_list(struct gx_req *req, const char *field, cJSON *items, long long total,
		       const struct gx_valid_page *pg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, field, items);
	cJSON_AddNumberToObject(o, "total", (double)total);
	cJSON_AddNumberToObject(o, "limit", (double)pg->limit);
	cJSON_AddNumberToObject(o, "offset", (double)pg->offset);
	gx_reply_json(req, 200, o);
}

/* ---- on-chain writes ---- */

void gx_svc_enqueue(struct gx_req *req, const char *type, const char *aggregate_id, cJSON *payload)
{
	struct gx_outbox_cmd cmd = { .command_type = type, .aggregate_id = aggregate_id, .payload = payload };

	gx_outbox_submit(req, NULL, 0, &cmd, NULL, 0);
	cJSON_Delete(payload);
}

void gx_svc_submit(struct gx_req *req, const char *type, const cJSON *payload, const struct gx_svc_audit *audit)
{
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	struct gx_cc_call call = { 0 };
	struct gx_outbox_cmd cmd;
	struct gx_pg_stmt stmt;
	const char *params[9];
	char err[256];
	char *details = NULL;

	if (gx_chaincode_map(type, payload, &call, err, sizeof(err)) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "%s payload does not map: %s", type, err);
		goto out;
	}
	cmd.command_type = type;
	cmd.aggregate_id = call.aggregate;
	cmd.payload = payload;
	if (!audit) {
		gx_outbox_submit(req, NULL, 0, &cmd, NULL, 0);
		goto out;
	}
	if (!cl) { /* audited writes sit on authenticated routes: reaching here without claims is a routing bug */
		gx_reply_error(req, 500, "INTERNAL", "audited write without caller claims");
		goto out;
	}
	details = cJSON_PrintUnformatted(payload);
	if (!details)
		abort(); /* cJSON only fails on OOM */
	params[0] = audit->tenant;
	params[1] = cl->sub;
	params[2] = cl->role;
	params[3] = audit->action;
	params[4] = audit->target_type;
	params[5] = audit->target_id;
	params[6] = details;
	params[7] = gx_req_id(req);
	params[8] = gx_req_client_ip(req);
	stmt.sql = SQL_AUDIT;
	stmt.nparams = 9;
	stmt.params = params;
	gx_outbox_submit(req, &stmt, 1, &cmd, NULL, 0);
out:
	free(details);
	gx_cc_call_release(&call);
}
