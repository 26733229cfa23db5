/* echod: a test-only API daemon that mounts a few routes on the real gx http server (gx_api_main, the whole request
 * pipeline: routing, body checks, auth, rate limits, idempotency, drain), so the pipeline and hostile-input tests
 * can exercise it without a real service. It registers as "svc-tax" (gx_api_main only runs daemons of the table),
 * so it reads that daemon's configuration; run it on its own PORT.
 *
 * Routes:
 *   POST /api/v1/echo              USER    echoes the body plus sub, a random nonce and the scoped idempotency key
 *   POST /api/v1/open              PUBLIC  strict rate limit; same answer as /echo
 *   GET  /api/v1/admin             ADMIN   same answer as /echo
 *   GET  /api/v1/things/{id}       PUBLIC  echoes the decoded id, query q, path and client ip
 *   GET  /api/v1/items/{id}        PUBLIC  id checked with gx_valid_id (400), then looked up in echod_exec (404/200)
 *   POST /api/v1/transfers         USER    {"to": id, "amount": coins, "memo"?: name}: validated, then one row
 *                                          inserted into echod_exec after a 300 ms pg_sleep (a slow write); 201
 *   POST /api/v1/fail              PUBLIC  always 500 (5xx answers are not stored for idempotency)
 *   GET  /api/v1/slow              PUBLIC  answers after 2 s (drain, client-gone and slowloris tests)
 * The tests create the table first:
 *   CREATE TABLE echod_exec (id bigserial PRIMARY KEY, sub text, to_id text, amount bigint, memo text);
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "gx/api.h"
#include "gx/jwt.h"
#include "gx/money.h"
#include "gx/pg.h"
#include "gx/valid.h"

static void add_nonce(cJSON *b)
{
	cJSON_AddNumberToObject(b, "nonce", rand());
}

static void h_echo(struct gx_req *req)
{
	const struct gx_jwt_claims *c = gx_req_claims(req);
	const char *idem = gx_req_idempotency_key(req);
	cJSON *b = gx_req_body(req) ? cJSON_Duplicate(gx_req_body(req), 1) : NULL;

	if (!b)
		b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "sub", c ? c->sub : "");
	add_nonce(b);
	cJSON_AddStringToObject(b, "idem", idem ? idem : "");
	gx_reply_header(req, "Location", "/x/1");
	gx_reply_json(req, 201, b);
}

static void h_things(struct gx_req *req)
{
	const char *q = gx_req_query(req, "q");
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "id", gx_req_param(req, "id"));
	cJSON_AddStringToObject(b, "q", q ? q : "");
	cJSON_AddStringToObject(b, "path", gx_req_path(req));
	cJSON_AddStringToObject(b, "ip", gx_req_client_ip(req));
	gx_reply_json(req, 200, b);
}

static void on_item(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	cJSON *b;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (atoll(gx_pg_val(res, 0, "n")) == 0) {
		gx_reply_error(req, 404, "NOT_FOUND", "no transfer to this id");
		return;
	}
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "id", gx_req_param(req, "id"));
	cJSON_AddNumberToObject(b, "count", (double)atoll(gx_pg_val(res, 0, "n")));
	cJSON_AddStringToObject(b, "memo", gx_pg_val(res, 0, "memo"));
	gx_reply_json(req, 200, b);
}

static void h_items(struct gx_req *req)
{
	const char *id = gx_req_param(req, "id");
	const char *params[1] = { id };

	if (!gx_valid_id(id)) {
		struct gx_verr *v = gx_verr_new();

		gx_verr_add(v, "id", "must be 1..64 characters of A-Z a-z 0-9 _ . : -");
		gx_reply_verr(req, v);
		return;
	}
	if (gx_pg_query(gx_req_pg(req), "SELECT count(*) AS n, max(memo) AS memo FROM echod_exec WHERE to_id = $1", 1,
			params, on_item, req) != 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the query");
}

static void on_transfer(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	cJSON *in = gx_req_body(req);
	char coins[GX_MONEY_FMT_LEN];
	cJSON *b;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	gx_money_format(strtoull(gx_pg_val(res, 0, "amount"), NULL, 10), coins);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "executionId", gx_pg_val(res, 0, "id"));
	cJSON_AddStringToObject(b, "to", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "to")));
	cJSON_AddStringToObject(b, "amount", coins);
	cJSON_AddStringToObject(b, "memo", gx_pg_val(res, 0, "memo"));
	add_nonce(b);
	gx_reply_json(req, 201, b);
}

static void h_transfers(struct gx_req *req)
{
	static const char sql[] =
		"INSERT INTO echod_exec (sub, to_id, amount, memo) "
		"SELECT $1, $2, $3::bigint, $4 FROM pg_sleep(0.3) "
		"RETURNING id, memo, amount";
	const cJSON *body = gx_req_body(req);
	struct gx_verr *v = gx_verr_new();
	const char *to = gx_valid_str(body, "to", true, 1, 64, v);
	const char *memo = gx_valid_str(body, "memo", false, 1, 100, v);
	uint64_t qirat = 0;
	char amount[24];
	const char *params[4];

	if (to && !gx_valid_id(to))
		gx_verr_add(v, "to", "must be 1..64 characters of A-Z a-z 0-9 _ . : -");
	if (memo && !gx_valid_name(memo, 1, 100))
		gx_verr_add(v, "memo", "must be printable text without control characters");
	(void)gx_valid_amount(body, "amount", true, &qirat, v);
	if (qirat > INT64_MAX)
		gx_verr_add(v, "amount", "is too large");
	if (gx_verr_count(v) > 0) {
		gx_reply_verr(req, v);
		return;
	}
	gx_verr_free(v);
	snprintf(amount, sizeof(amount), "%llu", (unsigned long long)qirat);
	params[0] = gx_req_claims(req)->sub;
	params[1] = to;
	params[2] = amount;
	params[3] = memo;
	if (gx_pg_query(gx_req_pg(req), sql, 4, params, on_transfer, req) != 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the query");
}

static void h_fail(struct gx_req *req)
{
	gx_reply_error(req, 500, "INTERNAL", "boom");
}

static void on_slow(evutil_socket_t fd, short what, void *arg)
{
	struct gx_req *req = arg;

	(void)fd;
	(void)what;
	/* the timer stays attached and is freed with the request, after this callback */
	gx_reply_json(req, 200, cJSON_CreateString("slow done"));
}

static void free_event(void *ev)
{
	event_free(ev);
}

static void h_slow(struct gx_req *req)
{
	struct timeval tv = { 2, 0 };
	struct event *ev = evtimer_new(gx_req_base(req), on_slow, req);

	if (!ev) {
		gx_reply_error(req, 500, "INTERNAL", "no timer");
		return;
	}
	/* the request owns the timer: if the server answers 503 at shutdown first, the timer is freed with it */
	gx_req_set_data(req, ev, free_event);
	evtimer_add(ev, &tv);
}

static const struct gx_route routes[] = {
	{ "POST", "/api/v1/echo", h_echo, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/open", h_echo, GX_AUTH_PUBLIC, GX_ROUTE_STRICT_RL },
	{ "GET", "/api/v1/admin", h_echo, GX_AUTH_ADMIN, 0 },
	{ "GET", "/api/v1/things/{id}", h_things, GX_AUTH_PUBLIC, 0 },
	{ "GET", "/api/v1/items/{id}", h_items, GX_AUTH_PUBLIC, 0 },
	{ "POST", "/api/v1/transfers", h_transfers, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/fail", h_fail, GX_AUTH_PUBLIC, 0 },
	{ "GET", "/api/v1/slow", h_slow, GX_AUTH_PUBLIC, GX_ROUTE_NO_RL },
};

static const struct gx_api_service svc = {
	.name = "svc-tax",
	.routes = routes,
	.nroutes = GX_ARRAY_LEN(routes),
	.openapi_json = "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"echod\",\"version\":\"0\"},\"paths\":{}}",
};

int main(int argc, char **argv)
{
	return gx_api_main(argc, argv, &svc);
}
