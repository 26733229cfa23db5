/* Unit tests for the JSON-lines logger: line shape, escaping, level filtering and request ids. */
#include "gx/log.h"
#include "gx_test.h"

#include <cjson/cJSON.h>
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
	const char *kv[] = { "port", "3001", "q", "a\"b\\c", NULL };
	gx_log_init("svc-test");
	gx_log_set_level(GX_LOG_INFO);
	gx_log_set_request_id(NULL);
	gx_log_kv(GX_LOG_INFO, kv, "listening on %d\nnext", 3001);
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
	cJSON_Delete(j);
}

static void log_filtered(void)
{
	gx_log_set_level(GX_LOG_WARN);
	gx_log_info("dropped");
	gx_log_set_request_id("req-42");
	gx_log_error("kept");
	gx_log_set_request_id(NULL);
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
	GX_RUN(level_filter_and_request_id);
	GX_RUN(oversized_message_is_truncated_but_valid);
	GX_RUN(level_names_parse);
	return gx_test_done();
}
