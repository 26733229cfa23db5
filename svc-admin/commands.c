/* Outbox operations for admins (design.md §7): list commands by status/type/age/error with paging, inspect one
 * (payload, error, lease, audit history), re-queue one FAILED command or a filtered batch of them.
 *
 * Only a failure the submitter would itself retry may be re-queued (transport, timeouts, outages, MVCC conflicts);
 * a business refusal of the chain is final (409 NOT_REQUEUEABLE). The rule and the one re-queue statement are in
 * gx/requeue.h, shared with `gxctl commands requeue`; list and show report it per command ("requeueable"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/outbox_store.h"
#include "gx/requeue.h"
#include "gx/valid.h"
#include "admin.h"

/* [A-Z0-9_]{1,64}: the shape of command types and error codes. */
static bool upper_word(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n >= 1 && n <= 64;
}

/* The filter of a list or batch; strings point into the request (query or body). */
struct filter {
	const char *status, *type, *error_code;
	char older[24], newer[24];
	bool has_older, has_newer;
};

/* Set the age bounds of f from the parsed values (-1: no bound). */
static void filter_ages(struct filter *f, long long older, long long newer)
{
	if ((f->has_older = older >= 0))
		snprintf(f->older, sizeof(f->older), "%lld", older);
	if ((f->has_newer = newer >= 0))
		snprintf(f->newer, sizeof(f->newer), "%lld", newer);
}

static void filter_params(const struct filter *f, const char **params)
{
	params[1] = f->status;
	params[2] = f->type;
	params[3] = f->has_older ? f->older : NULL;
	params[4] = f->has_newer ? f->newer : NULL;
	params[5] = f->error_code;
}

void commands_list(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	struct gx_verr *v = gx_verr_new();
	struct filter f = { 0 };
	struct adm_page *pg;
	const char *params[GX_OUTBOX_STORE_LIST_NPARAMS];
	long long older, newer;

	f.status = gx_req_query(req, "status");
	if (f.status && !gx_valid_enum(f.status, gx_outbox_store_status_names))
		gx_verr_add(v, "status", "must be one of PENDING, LOCKED, SUBMITTED, COMMITTED, PROJECTED, FAILED");
	f.type = gx_req_query(req, "type");
	if (f.type && !upper_word(f.type))
		gx_verr_add(v, "type", "must be a command type such as TRANSFER_TOKENS");
	f.error_code = gx_req_query(req, "errorCode");
	if (f.error_code && !upper_word(f.error_code))
		gx_verr_add(v, "errorCode", "must be an error code such as CHAINCODE_423");
	older = gx_svc_query_int(req, "olderThanSeconds", 0, 3153600000LL, -1, v);
	newer = gx_svc_query_int(req, "newerThanSeconds", 0, 3153600000LL, -1, v);
	if (gx_svc_invalid(req, v))
		return;
	filter_ages(&f, older, newer);
	if (!(pg = adm_page_new(req, 100, 20, "items")))
		return;
	params[0] = app->tenant;
	filter_params(&f, params);
	params[6] = pg->page.limit_s;
	params[7] = pg->page.offset_s;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_list_sql, GX_OUTBOX_STORE_LIST_NPARAMS, params, adm_on_page,
			pg) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the command list query");
}

static bool bad_command_id(struct gx_req *req, const char *id)
{
	if (gx_valid_id(id))
		return false;
	gx_svc_reply_invalid(req, "commandId", "must be a command id");
	return true;
}

static void on_show(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	cJSON *doc;

	if (!gx_svc_found(req, res, err, "COMMAND_NOT_FOUND", "no command %s", gx_req_param(req, "commandId")))
		return;
	doc = cJSON_Parse(gx_pg_val(res, 0, "doc"));
	if (!doc) {
		gx_reply_error(req, 500, "INTERNAL", "command document is not JSON");
		return;
	}
	gx_reply_json(req, 200, doc);
}

void commands_show(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const char *id = gx_req_param(req, "commandId");
	const char *params[2] = { app->tenant, id };

	if (bad_command_id(req, id))
		return;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_show_sql, 2, params, on_show, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the command query");
}

/* State of a re-queue (its parameters must live until the statement ran); freed with the request. */
struct rq_op {
	struct gx_req *req;
	char *ids;         /* text[] literal of the one id, or NULL (batch) */
	char *filter_json; /* batch filter for the audit record, or NULL (one command) */
};

static void rq_free(void *p)
{
	struct rq_op *op = p;

	free(op->ids);
	free(op->filter_json);
	free(op);
}

/* Attach a new rq_op to req and fill the parameters the one re-queue statement shares (gx/requeue.h). */
static struct rq_op *rq_start(struct gx_req *req, const char **params)
{
	const struct adm_app *app = gx_req_app(req);
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	struct rq_op *op = gx_xcalloc(1, sizeof(*op));

	op->req = req;
	gx_req_set_data(req, op, rq_free);
	for (int i = 0; i < GX_REQUEUE_NPARAMS; i++)
		params[i] = NULL;
	params[0] = app->tenant;
	params[7] = cl ? cl->sub : "";
	params[8] = cl ? cl->role : "";
	params[9] = gx_req_id(req);
	params[10] = gx_req_client_ip(req);
	return op;
}

static void on_requeue_one(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct rq_op *op = arg;
	struct gx_req *req = op->req;
	const char *id = gx_req_param(req, "commandId");
	const char *prev;
	cJSON *o;

	if (!gx_svc_found(req, res, err, "COMMAND_NOT_FOUND", "no command %s", id))
		return;
	prev = gx_pg_val(res, 0, "previousStatus");
	if (strcmp(gx_pg_val(res, 0, "requeued"), "t") != 0) {
		if (strcmp(prev, "FAILED") != 0 || !*gx_pg_val(res, 0, "refusal"))
			gx_reply_error(req, 409, "COMMAND_NOT_FAILED",
				       "command %s is %s: only FAILED commands can be re-queued", id,
				       strcmp(prev, "FAILED") ? prev : "no longer FAILED");
		else
			gx_reply_error(req, 409, "NOT_REQUEUEABLE",
				       "command %s failed with %s: %s; it is not re-queued", id,
				       *gx_pg_val(res, 0, "errorCode") ? gx_pg_val(res, 0, "errorCode")
								       : "no error code",
				       gx_pg_val(res, 0, "refusal"));
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "commandId", id);
	cJSON_AddStringToObject(o, "status", "PENDING");
	cJSON_AddStringToObject(o, "previousStatus", prev);
	cJSON_AddNumberToObject(o, "attempts", 0);
	gx_reply_json(req, 200, o);
}

void commands_requeue(struct gx_req *req)
{
	const char *id = gx_req_param(req, "commandId");
	const char *params[GX_REQUEUE_NPARAMS];
	struct rq_op *op;

	if (bad_command_id(req, id))
		return;
	op = rq_start(req, params);
	op->ids = gx_xasprintf("{\"%s\"}", id); /* gx_valid_id: no quote or backslash */
	params[1] = op->ids;
	params[6] = "1";
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_requeue_sql, GX_REQUEUE_NPARAMS, params, on_requeue_one, op) <
	    0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the re-queue");
}

static void on_requeue_batch(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct rq_op *op = arg;
	struct gx_req *req = op->req;
	cJSON *o, *ids, *skipped;
	int n;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	ids = cJSON_CreateArray();
	skipped = cJSON_CreateArray();
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		cJSON *s;

		if (strcmp(gx_pg_val(res, i, "requeued"), "t") == 0) {
			cJSON_AddItemToArray(ids, cJSON_CreateString(gx_pg_val(res, i, "id")));
			continue;
		}
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "commandId", gx_pg_val(res, i, "id"));
		if (*gx_pg_val(res, i, "errorCode"))
			cJSON_AddStringToObject(s, "errorCode", gx_pg_val(res, i, "errorCode"));
		else
			cJSON_AddNullToObject(s, "errorCode");
		cJSON_AddStringToObject(s, "reason", gx_pg_val(res, i, "refusal"));
		cJSON_AddItemToArray(skipped, s);
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "requeued", cJSON_GetArraySize(ids));
	cJSON_AddItemToObject(o, "commandIds", ids);
	cJSON_AddItemToObject(o, "skipped", skipped);
	gx_reply_json(req, 200, o);
}

/* Optional string filter field of the batch body that must be an upper_word. */
static const char *body_word(const cJSON *body, const char *name, struct gx_verr *v)
{
	const char *s = gx_valid_str(body, name, false, 1, 64, v);

	if (s && !upper_word(s)) {
		gx_verr_add(v, name, "must be upper-case letters, digits and '_'");
		return NULL;
	}
	return s;
}

void commands_requeue_batch(struct gx_req *req)
{
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	struct filter f = { .status = "FAILED" };
	struct rq_op *op;
	long long older, newer, limit;
	char lim[24];
	const char *params[GX_REQUEUE_NPARAMS];
	cJSON *fj;

	f.type = body_word(body, "commandType", v);
	f.error_code = body_word(body, "errorCode", v);
	older = gx_valid_int(body, "olderThanSeconds", false, 0, 3153600000LL, -1, v);
	newer = gx_valid_int(body, "newerThanSeconds", false, 0, 3153600000LL, -1, v);
	limit = gx_valid_int(body, "limit", false, 1, ADM_REQUEUE_MAX, 100, v);
	if (gx_svc_invalid(req, v))
		return;
	filter_ages(&f, older, newer);
	snprintf(lim, sizeof(lim), "%lld", limit);
	fj = cJSON_CreateObject();
	cJSON_AddItemToObject(fj, "commandType", f.type ? cJSON_CreateString(f.type) : cJSON_CreateNull());
	cJSON_AddItemToObject(fj, "errorCode", f.error_code ? cJSON_CreateString(f.error_code) : cJSON_CreateNull());
	cJSON_AddItemToObject(fj, "olderThanSeconds",
			      older >= 0 ? cJSON_CreateNumber((double)older) : cJSON_CreateNull());
	cJSON_AddItemToObject(fj, "newerThanSeconds",
			      newer >= 0 ? cJSON_CreateNumber((double)newer) : cJSON_CreateNull());
	cJSON_AddNumberToObject(fj, "limit", (double)limit);
	op = rq_start(req, params);
	op->filter_json = cJSON_PrintUnformatted(fj);
	cJSON_Delete(fj);
	if (!op->filter_json)
		abort(); /* cJSON only fails on OOM */
	params[2] = f.type;
	params[3] = f.error_code;
	params[4] = f.has_older ? f.older : NULL;
	params[5] = f.has_newer ? f.newer : NULL;
	params[6] = lim;
	params[11] = op->filter_json;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_requeue_sql, GX_REQUEUE_NPARAMS, params, on_requeue_batch, op) <
	    0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the batch re-queue");
}
