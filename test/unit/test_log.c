/* Unit tests for the JSON-lines logger: line shape, typed fields (numbers as JSON numbers, strings escaped), level
 * filtering and the request context. */
#include "gx/log.h"
#include "gx_test.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

/* Run fn with stdout redirected into buf; returns the bytes captured. */
static size_t capture(void (*fn)(void), char *buf, size_t cap)
{
	int fds[2], saved;
	ssize_t n;

	if (pipe(fds) != 0)
		return 0;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fds[1], STDOUT_FILENO);
	fn();
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, cap - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void log_with_fields(void)
{
	gx_log_init("svc-test");
	gx_log_set_level(GX_LOG_INFO);
	gx_log_set_ctx(NULL);
	gx_log_kv(GX_LOG_INFO,
		  GX_LOG_FIELDS(GX_LOG_INT("port", 3001), GX_LOG_STR("q", "a\"b\\c"), GX_LOG_STR("digits", "0042"),
				GX_LOG_NUM("durationMs", 1.25), GX_LOG_INT("big", 9223372036854775807LL),
				GX_LOG_INT("neg", -7), GX_LOG_BOOL("tls", true), GX_LOG_STR("absent", NULL),
				GX_LOG_STR("empty", ""), GX_LOG_NUM("nan", NAN), GX_LOG_STR("ctl", "x\001y")),
		  "listening on %d\nnext", 3001);
}

GX_TEST(line_is_json_with_fields)
{
	char buf[4096];
	cJSON *j;

	capture(log_with_fields, buf, sizeof(buf));
	GX_CHECK(buf[strlen(buf) - 1] == '\n');
	j = cJSON_Parse(buf);
	GX_CHECK(j != NULL);
	if (!j)
		return;
	GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "level")), "info");
	GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "service")), "svc-test");
	GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "msg")), "listening on 3001\nnext");
	GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "q")), "a\"b\\c");
	GX_CHECK(cJSON_GetObjectItem(j, "ts") != NULL);
	GX_CHECK(cJSON_GetObjectItem(j, "requestId") == NULL);
	GX_CHECK(cJSON_GetObjectItem(j, "traceId") == NULL);
	/* numbers are JSON numbers, text that looks like one stays a string */
	GX_CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "port")) && cJSON_GetObjectItem(j, "port")->valueint == 3001);
	GX_CHECK(strstr(buf, "\"port\":3001,") != NULL);
	GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "digits")), "0042");
	GX_CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "durationMs")) &&
		 cJSON_GetObjectItem(j, "durationMs")->valuedouble == 1.25);
	GX_CHECK(strstr(buf, "\"big\":9223372036854775807,") != NULL);
	GX_CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "neg")) && cJSON_GetObjectItem(j, "neg")->valueint == -7);
	GX_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "tls")));
	GX_CHECK(cJSON_GetObjectItem(j, "absent") == NULL);
	GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "empty")), "");
	GX_CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "nan")));
	GX_CHECK(strstr(buf, "\"ctl\":\"x\\u0001y\"") != NULL);
	cJSON_Delete(j);
}

static void log_with_ctx(void)
{
	const struct gx_log_ctx thread = { "req-7", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7" };
	const struct gx_log_ctx own = { "req-\"8", "", NULL };

	gx_log_set_level(GX_LOG_INFO);
	gx_log_set_ctx(&thread);
	gx_log_info("from the thread");
	gx_log_write(GX_LOG_INFO, &own, GX_LOG_FIELDS(GX_LOG_STR("commandId", "c-1")), "own context");
	gx_log_set_ctx(NULL);
	gx_log_info("cleared");
}

GX_TEST(request_context)
{
	char buf[4096], *l2, *l3;
	cJSON *a, *b, *c;

	capture(log_with_ctx, buf, sizeof(buf));
	l2 = strchr(buf, '\n');
	GX_CHECK(l2 != NULL);
	if (!l2)
		return;
	*l2++ = '\0';
	l3 = strchr(l2, '\n');
	GX_CHECK(l3 != NULL);
	if (!l3)
		return;
	*l3++ = '\0';
	a = cJSON_Parse(buf);
	b = cJSON_Parse(l2);
	c = cJSON_Parse(l3);
	GX_CHECK(a && b && c);
	if (a && b && c) {
		GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "requestId")), "req-7");
		GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "traceId")),
			     "4bf92f3577b34da6a3ce929d0e0e4736");
		GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "spanId")), "00f067aa0ba902b7");
		/* a line's own context replaces the thread's; empty members are left out */
		GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "requestId")), "req-\"8");
		GX_CHECK(cJSON_GetObjectItem(b, "traceId") == NULL && cJSON_GetObjectItem(b, "spanId") == NULL);
		GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "commandId")), "c-1");
		GX_CHECK(cJSON_GetObjectItem(c, "requestId") == NULL && cJSON_GetObjectItem(c, "traceId") == NULL);
	}
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
}

static void log_filtered(void)
{
	gx_log_set_level(GX_LOG_WARN);
	gx_log_info("dropped");
	gx_log_set_ctx(&(const struct gx_log_ctx){ .request_id = "req-42" });
	gx_log_error("kept");
	gx_log_set_ctx(NULL);
	gx_log_set_level(GX_LOG_INFO);
}

GX_TEST(level_filter_and_request_id)
{
	char buf[4096];
	cJSON *j;

	capture(log_filtered, buf, sizeof(buf));
	GX_CHECK(strstr(buf, "dropped") == NULL);
	j = cJSON_Parse(buf);
	GX_CHECK(j != NULL);
	if (!j)
		return;
	GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "requestId")), "req-42");
	GX_CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "level")), "error");
	cJSON_Delete(j);
}

static void log_huge(void)
{
	char *big = malloc(20000);
	memset(big, 'x', 19999);
	big[19999] = '\0';
	gx_log_info("%s", big);
	free(big);
}

GX_TEST(oversized_message_is_truncated_but_valid)
{
	static char buf[65536];
	cJSON *j;

	capture(log_huge, buf, sizeof(buf));
	j = cJSON_Parse(buf);
	GX_CHECK(j != NULL);
	cJSON_Delete(j);
}

GX_TEST(level_names_parse)
{
	enum gx_log_level l;
	GX_CHECK(gx_log_level_parse("TRACE", &l) == 0 && l == GX_LOG_TRACE);
	GX_CHECK(gx_log_level_parse("fatal", &l) == 0 && l == GX_LOG_FATAL);
	GX_CHECK(gx_log_level_parse("verbose", &l) == -1);
}

int main(void)
{
	GX_RUN(line_is_json_with_fields);
	GX_RUN(request_context);
	GX_RUN(level_filter_and_request_id);
	GX_RUN(oversized_message_is_truncated_but_valid);
	GX_RUN(level_names_parse);
	return gx_test_done();
}
