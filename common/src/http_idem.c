/* The request's side of the idempotency store (gx/idem.h): look the key up or claim it, replay a stored response,
 * and the one state a request has with its key (enum gx_req_idem in http_int.h), which changes here only:
 *   NONE -> CLAIMED   the key was claimed (an IN_FLIGHT record is ours): the reply waits until the record is
 *                     completed (or dropped on 5xx, gx_http_idem_finish);
 *   NONE -> DEFERRED  a GX_ROUTE_OUTBOX_WRITE route looked the key up only: the outbox transaction writes the record
 *                     (gx_req_idem_claim_stmts), else it is stored before the reply goes out;
 *   CLAIMED/DEFERRED -> RECORDED  the handler's own transaction wrote the response (gx_req_idem_recorded);
 *   DEFERRED -> NONE  the deferred claim lost the race on the record (gx_req_idem_resolve);
 *   CLAIMED/DEFERRED -> NONE  the record's write for the reply started (gx_http_idem_finish).
 */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gx/idem.h"
#include "gx/util.h"

/* Send a stored response again, byte for byte, with the stored headers. */
static void idem_replay(struct gx_req *req, const struct gx_idem_hit *hit)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req->ev);
	cJSON *headers = cJSON_Parse(hit->headers_json ? hit->headers_json : "{}");
	char *ctype = NULL;
	const cJSON *h;

	cJSON_ArrayForEach(h, headers) {
		if (!cJSON_IsString(h))
			continue;
		if (strcasecmp(h->string, "Content-Type") == 0) {
			free(ctype);
			ctype = gx_xstrdup(h->valuestring);
			continue;
		}
		evhttp_remove_header(out, h->string);
		evhttp_add_header(out, h->string, h->valuestring);
	}
	cJSON_Delete(headers);
	evhttp_add_header(out, "Idempotent-Replayed", "true");
	gx_http_send(req, hit->status, ctype, hit->body, hit->body_len);
	free(ctype);
}

static void on_idem(const struct gx_idem_hit *hit, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;

	if (gx_http_shutting_down(req))
		return;
	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	switch (hit->state) {
	case GX_IDEM_NEW:
		/* DEFERRED: looked up only, the outbox transaction writes the record; CLAIMED: the IN_FLIGHT record is
		 * ours */
		req->idem = (req->route->flags & GX_ROUTE_OUTBOX_WRITE) ? GX_REQ_IDEM_DEFERRED : GX_REQ_IDEM_CLAIMED;
		gx_http_run_handler(req);
		break;
	case GX_IDEM_REPLAY:
		idem_replay(req, hit);
		break;
	case GX_IDEM_MISMATCH:
		gx_reply_error(req, 422, "IDEMPOTENCY_KEY_REUSED",
			       "this Idempotency-Key was used for a different request");
		break;
	case GX_IDEM_IN_FLIGHT:
	default:
		gx_reply_error(req, 409, "IDEMPOTENCY_IN_PROGRESS",
			       "a request with this Idempotency-Key is still being processed");
		break;
	}
}

void gx_http_idem_start(struct gx_req *req)
{
	if (!req->idem_key || !req->w->pg) {
		gx_http_run_handler(req);
		return;
	}
	if ((req->route->flags & GX_ROUTE_OUTBOX_WRITE)
		    ? gx_idem_lookup(req->w->pg, req->idem_key, req->method, gx_req_path(req), req->body_sha256,
				     on_idem, req) < 0
		    : gx_idem_begin(req->w->pg, req->idem_key, req->method, gx_req_path(req), req->body_sha256, on_idem,
				    req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "idempotency check could not start");
}

/* After a deferred claim lost the race: answer from what the winner stored. */
static void on_idem_resolve(const struct gx_idem_hit *hit, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;

	if (gx_http_shutting_down(req))
		return;
	if (hit && hit->state == GX_IDEM_NEW) {
		/* the winner's record is gone again (expired or dropped): let the client retry */
		gx_reply_error(req, 409, "IDEMPOTENCY_IN_PROGRESS",
			       "a request with this Idempotency-Key is still being processed");
		return;
	}
	on_idem(hit, err, arg);
}

bool gx_req_idem_deferred(const struct gx_req *req)
{
	return req->idem == GX_REQ_IDEM_DEFERRED;
}

void gx_req_idem_recorded(struct gx_req *req)
{
	if (req->idem_key)
		req->idem = GX_REQ_IDEM_RECORDED;
}

bool gx_http_idem_holds_reply(const struct gx_req *req)
{
	return req->idem == GX_REQ_IDEM_CLAIMED || req->idem == GX_REQ_IDEM_DEFERRED;
}

void gx_req_idem_claim_stmts(const struct gx_req *req, struct gx_idem_claim *s, int status, const char *headers_json,
			     const void *body, size_t len, const char *command_id)
{
	gx_idem_claim_stmts(s, req->idem_key, req->method, gx_req_path(req), req->body_sha256, status, headers_json,
			    body, len, command_id);
}

void gx_req_idem_resolve(struct gx_req *req)
{
	req->idem = GX_REQ_IDEM_NONE; /* nothing of ours to store */
	if (gx_http_shutting_down(req))
		return;
	if (gx_idem_lookup(req->w->pg, req->idem_key, req->method, gx_req_path(req), req->body_sha256, on_idem_resolve,
			   req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "idempotency check could not start");
}

int gx_http_idem_finish(struct gx_req *req, int status, const char *content_type, const void *body, size_t len,
			gx_idem_done_cb done, void *arg)
{
	bool deferred = req->idem == GX_REQ_IDEM_DEFERRED;
	cJSON *headers;
	char *json;
	int rc;

	req->idem = GX_REQ_IDEM_NONE;
	/* while the worker tears down, the pool is being freed: the IN_FLIGHT record is taken over after 60 s */
	if (req->w->stopping || !req->w->pg)
		return -1;
	if (status >= 500) /* a deferred claim wrote nothing */
		return deferred ? -1 : gx_idem_abort(req->w->pg, req->idem_key, done, arg);
	headers = req->reply_headers ? cJSON_Duplicate(req->reply_headers, true) : cJSON_CreateObject();
	if (content_type)
		cJSON_AddStringToObject(headers, "Content-Type", content_type);
	json = cJSON_PrintUnformatted(headers);
	cJSON_Delete(headers);
	if (deferred)
		rc = gx_idem_store(req->w->pg, req->idem_key, req->method, gx_req_path(req), req->body_sha256, status,
				   json, body, len, done, arg);
	else
		rc = gx_idem_complete(req->w->pg, req->idem_key, status, json, body, len, done, arg);
	cJSON_free(json);
	return rc;
}
