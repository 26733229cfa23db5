/* Unit tests for the HTTP route matcher, percent-decoding, the error body and request-id sanitising. */
#include <stdlib.h>
#include <string.h>

#include "gx_test.h"
#include "../../common/src/http_int.h"

static void h_a(struct gx_req *req)
{
	(void)req;
}

static void h_b(struct gx_req *req)
{
	(void)req;
}

static const struct gx_route routes[] = {
	{ "GET", "/health", h_a, GX_AUTH_PUBLIC, 0 },
	{ "GET", "/api/v1/users/{id}", h_a, GX_AUTH_USER, 0 },
	{ "PATCH", "/api/v1/users/{id}", h_b, GX_AUTH_USER, 0 },
	{ "GET", "/api/v1/users/me", h_b, GX_AUTH_USER, 0 },
	{ "POST", "/api/v1/users/{id}/kyc/{docId}", h_b, GX_AUTH_USER, 0 },
	{ "GET", "/", h_b, GX_AUTH_PUBLIC, 0 },
};

static struct gx_http_router *router(void)
{
	return gx_http_router_new(routes, GX_ARRAY_LEN(routes));
}

GX_TEST(matches_literal_and_params)
{
	struct gx_http_router *r = router();
	struct gx_http_match m;

	GX_CHECK(r != NULL);
	GX_CHECK(gx_http_router_match(r, "GET", "/health", &m) == GX_HTTP_MATCH_OK);
	GX_CHECK(m.route == &routes[0]);
	GX_CHECK(m.nparams == 0);
	gx_http_match_release(&m);

	GX_CHECK(gx_http_router_match(r, "POST", "/api/v1/users/u1/kyc/d-9", &m) == GX_HTTP_MATCH_OK);
	GX_CHECK(m.route == &routes[4]);
	GX_CHECK(m.nparams == 2);
	GX_CHECK_STR(m.names[0], "id");
	GX_CHECK_STR(m.values[0], "u1");
	GX_CHECK_STR(m.names[1], "docId");
	GX_CHECK_STR(m.values[1], "d-9");
	gx_http_match_release(&m);

	GX_CHECK(gx_http_router_match(r, "GET", "/", &m) == GX_HTTP_MATCH_OK);
	GX_CHECK(m.route == &routes[5]);
	gx_http_match_release(&m);
	gx_http_router_free(r);
}

GX_TEST(literal_beats_param_whatever_the_order)
{
	struct gx_http_router *r = router();
	struct gx_http_match m;

	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users/me", &m) == GX_HTTP_MATCH_OK);
	GX_CHECK(m.route == &routes[3]);
	GX_CHECK(m.nparams == 0);
	gx_http_match_release(&m);
	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users/mee", &m) == GX_HTTP_MATCH_OK);
	GX_CHECK(m.route == &routes[1]);
	GX_CHECK_STR(m.values[0], "mee");
	gx_http_match_release(&m);
	gx_http_router_free(r);
}

GX_TEST(percent_decoding_of_params)
{
	struct gx_http_router *r = router();
	struct gx_http_match m;

	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users/a%20b%2Bc", &m) == GX_HTTP_MATCH_OK);
	GX_CHECK_STR(m.values[0], "a b+c");
	gx_http_match_release(&m);
	/* a literal segment may be escaped too */
	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/%75sers/x", &m) == GX_HTTP_MATCH_OK);
	GX_CHECK_STR(m.values[0], "x");
	gx_http_match_release(&m);
	/* an encoded slash inside a parameter, NUL, or a broken escape is refused */
	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users/a%2Fb", &m) == GX_HTTP_MATCH_BAD_PATH);
	GX_CHECK(m.nparams == 0);
	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users/a%00b", &m) == GX_HTTP_MATCH_BAD_PATH);
	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users/a%2", &m) == GX_HTTP_MATCH_BAD_PATH);
	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users/a%zz", &m) == GX_HTTP_MATCH_BAD_PATH);
	gx_http_router_free(r);
}

GX_TEST(not_found_versus_method_not_allowed)
{
	struct gx_http_router *r = router();
	struct gx_http_match m;

	GX_CHECK(gx_http_router_match(r, "GET", "/nope", &m) == GX_HTTP_MATCH_NOT_FOUND);
	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users/u1/kyc", &m) == GX_HTTP_MATCH_NOT_FOUND);
	GX_CHECK(gx_http_router_match(r, "DELETE", "/health", &m) == GX_HTTP_MATCH_BAD_METHOD);
	GX_CHECK_STR(m.allow, "GET, HEAD");
	GX_CHECK(gx_http_router_match(r, "DELETE", "/api/v1/users/u7", &m) == GX_HTTP_MATCH_BAD_METHOD);
	GX_CHECK_STR(m.allow, "GET, PATCH, HEAD");
	/* HEAD is served by the GET route */
	GX_CHECK(gx_http_router_match(r, "HEAD", "/health", &m) == GX_HTTP_MATCH_OK);
	gx_http_match_release(&m);
	gx_http_router_free(r);
}

GX_TEST(trailing_slash_and_empty_segments_are_strict)
{
	struct gx_http_router *r = router();
	struct gx_http_match m;

	GX_CHECK(gx_http_router_match(r, "GET", "/health/", &m) == GX_HTTP_MATCH_NOT_FOUND);
	GX_CHECK(gx_http_router_match(r, "GET", "//health", &m) == GX_HTTP_MATCH_NOT_FOUND);
	GX_CHECK(gx_http_router_match(r, "GET", "/api/v1/users//kyc/x", &m) == GX_HTTP_MATCH_NOT_FOUND);
	GX_CHECK(gx_http_router_match(r, "GET", "", &m) == GX_HTTP_MATCH_NOT_FOUND);
	gx_http_router_free(r);
}

GX_TEST(invalid_tables_are_refused)
{
	static const struct gx_route dup[] = {
		{ "GET", "/a/{x}", h_a, GX_AUTH_PUBLIC, 0 },
		{ "GET", "/a/{y}", h_b, GX_AUTH_PUBLIC, 0 },
	};
	static const struct gx_route bad_method[] = { { "FETCH", "/a", h_a, GX_AUTH_PUBLIC, 0 } };
	static const struct gx_route bad_param[] = { { "GET", "/a/{x-y}", h_a, GX_AUTH_PUBLIC, 0 } };
	static const struct gx_route mixed[] = { { "GET", "/a/b{x}", h_a, GX_AUTH_PUBLIC, 0 } };
	static const struct gx_route relative[] = { { "GET", "a", h_a, GX_AUTH_PUBLIC, 0 } };
	static const struct gx_route same_path_other_method[] = {
		{ "GET", "/a/{x}", h_a, GX_AUTH_PUBLIC, 0 },
		{ "POST", "/a/{y}", h_b, GX_AUTH_PUBLIC, 0 },
	};
	struct gx_http_router *ok;

	GX_CHECK(gx_http_router_new(dup, 2) == NULL);
	GX_CHECK(gx_http_router_new(bad_method, 1) == NULL);
	GX_CHECK(gx_http_router_new(bad_param, 1) == NULL);
	GX_CHECK(gx_http_router_new(mixed, 1) == NULL);
	GX_CHECK(gx_http_router_new(relative, 1) == NULL);
	ok = gx_http_router_new(same_path_other_method, 2);
	GX_CHECK(ok != NULL);
	gx_http_router_free(ok);
}

GX_TEST(pct_decode)
{
	char *s = gx_http_pct_decode("a%41%c3%a9+", 11);

	GX_CHECK_STR(s, "aA\xc3\xa9+");
	free(s);
	GX_CHECK(gx_http_pct_decode("%4", 2) == NULL);
	GX_CHECK(gx_http_pct_decode("%", 1) == NULL);
	GX_CHECK(gx_http_pct_decode("%00", 3) == NULL);
	s = gx_http_pct_decode("", 0);
	GX_CHECK_STR(s, "");
	free(s);
}

GX_TEST(error_body_format)
{
	cJSON *details = cJSON_CreateArray();
	cJSON *d = cJSON_CreateObject();
	cJSON *body;
	char *text;

	cJSON_AddStringToObject(d, "field", "amount");
	cJSON_AddStringToObject(d, "issue", "must be > 0");
	cJSON_AddItemToArray(details, d);
	body = gx_http_error_body(400, "VALIDATION_FAILED", "bad \"input\"", "rid-1", details);
	text = cJSON_PrintUnformatted(body);
	GX_CHECK_STR(text,
		     "{\"error\":\"Bad Request\",\"message\":\"bad \\\"input\\\"\","
		     "\"code\":\"VALIDATION_FAILED\",\"statusCode\":400,\"requestId\":\"rid-1\","
		     "\"details\":[{\"field\":\"amount\",\"issue\":\"must be > 0\"}]}");
	cJSON_free(text);
	cJSON_Delete(body);

	body = gx_http_error_body(404, "NOT_FOUND", "no route", "r", NULL);
	text = cJSON_PrintUnformatted(body);
	GX_CHECK_STR(text,
		     "{\"error\":\"Not Found\",\"message\":\"no route\",\"code\":\"NOT_FOUND\","
		     "\"statusCode\":404,\"requestId\":\"r\"}");
	cJSON_free(text);
	cJSON_Delete(body);
}

GX_TEST(request_id_sanitising)
{
	char long_id[80];

	GX_CHECK(gx_http_request_id_ok("abc-DEF_123.x"));
	GX_CHECK(gx_http_request_id_ok("0f8fad5b-d9cb-469f-a165-70867728950e"));
	GX_CHECK(!gx_http_request_id_ok(NULL));
	GX_CHECK(!gx_http_request_id_ok(""));
	GX_CHECK(!gx_http_request_id_ok("has space"));
	GX_CHECK(!gx_http_request_id_ok("quote\""));
	GX_CHECK(!gx_http_request_id_ok("new\nline"));
	GX_CHECK(!gx_http_request_id_ok("\xc3\xa9"));
	memset(long_id, 'a', sizeof(long_id));
	long_id[64] = '\0';
	GX_CHECK(gx_http_request_id_ok(long_id));
	long_id[64] = 'a';
	long_id[65] = '\0';
	GX_CHECK(!gx_http_request_id_ok(long_id));
}

int main(void)
{
	GX_RUN(matches_literal_and_params);
	GX_RUN(literal_beats_param_whatever_the_order);
	GX_RUN(percent_decoding_of_params);
	GX_RUN(not_found_versus_method_not_allowed);
	GX_RUN(trailing_slash_and_empty_segments_are_strict);
	GX_RUN(invalid_tables_are_refused);
	GX_RUN(pct_decode);
	GX_RUN(error_body_format);
	GX_RUN(request_id_sanitising);
	return gx_test_done();
}
