/* Unit tests for the W3C traceparent rules (gx/trace.h): what is accepted, what starts a new trace, the answer. */
#include "gx/trace.h"
#include "gx_test.h"

#include <string.h>

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

GX_TEST(valid_headers_parse)
{
	struct gx_trace t;

	GX_CHECK(gx_trace_parse("00-" TID "-" PID "-01", &t) == 0);
	GX_CHECK_STR(t.trace_id, TID);
	GX_CHECK_STR(t.parent_id, PID);
	GX_CHECK(t.flags == 0x01 && t.span_id[0] == '\0');
	GX_CHECK(gx_trace_parse("00-" TID "-" PID "-00", &t) == 0 && t.flags == 0);
	GX_CHECK(gx_trace_parse("00-" TID "-" PID "-ff", &t) == 0 && t.flags == 0xff);
	/* a later version may carry more after a '-' */
	GX_CHECK(gx_trace_parse("01-" TID "-" PID "-01-what-comes-next", &t) == 0);
	GX_CHECK(gx_trace_parse("cc-" TID "-" PID "-01", &t) == 0);
}

GX_TEST(invalid_headers_refused)
{
	static const char *const bad[] = {
		"",
		"00",
		"00-" TID "-" PID "-01-",                         /* version 00 is exactly 55 characters */
		"00-" TID "-" PID "-1",                           /* short flags */
		"ff-" TID "-" PID "-01",                          /* version ff is invalid */
		"0g-" TID "-" PID "-01",                          /* version not hex */
		"01-" TID "-" PID "-01x",                         /* later version: extra without '-' */
		"00-00000000000000000000000000000000-" PID "-01", /* all-zero trace id */
		"00-" TID "-0000000000000000-01",                 /* all-zero parent id */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", /* uppercase */
		"00-" TID "-00F067AA0BA902B7-01",
		"00-" TID "-" PID "-0G",
		"00_" TID "-" PID "-01",
		"00-" TID "_" PID "-01",
		"00-" TID "-" PID "_01",
		"00-" TID "x" PID "01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", /* misplaced dash */
	};
	struct gx_trace t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		GX_CHECK(gx_trace_parse(bad[i], &t) == -1);
		GX_CHECK(t.trace_id[0] == '\0');
	}
	GX_CHECK(gx_trace_parse(NULL, &t) == -1);
}

static bool hex_nonzero(const char *s, size_t n)
{
	bool nz = false;

	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		nz = nz || s[i] != '0';
	}
	return nz;
}

GX_TEST(begin_continues_or_starts)
{
	struct gx_trace a, b, c;
	char out[GX_TRACEPARENT_LEN + 1];

	/* continued: same trace, the caller's span is the parent, a new span of ours */
	GX_CHECK(gx_trace_begin("00-" TID "-" PID "-00", &a) == 0);
	GX_CHECK_STR(a.trace_id, TID);
	GX_CHECK_STR(a.parent_id, PID);
	GX_CHECK(hex_nonzero(a.span_id, 16) && strcmp(a.span_id, PID) != 0);
	gx_trace_format(&a, out);
	GX_CHECK(strlen(out) == GX_TRACEPARENT_LEN && strncmp(out, "00-" TID "-", 36) == 0);
	GX_CHECK(strcmp(out + 36, a.span_id) != 0 && strncmp(out + 36, a.span_id, 16) == 0);
	GX_CHECK_STR(out + 52, "-00");
	/* only the sampled flag is answered */
	GX_CHECK(gx_trace_begin("00-" TID "-" PID "-ff", &a) == 0);
	gx_trace_format(&a, out);
	GX_CHECK_STR(out + 52, "-01");
	/* a later version is answered as 00 */
	GX_CHECK(gx_trace_begin("05-" TID "-" PID "-01-x", &a) == 0);
	gx_trace_format(&a, out);
	GX_CHECK(strncmp(out, "00-" TID "-", 36) == 0);

	/* invalid or missing: a new trace, sampled, two of them differ */
	GX_CHECK(gx_trace_begin("00-00000000000000000000000000000000-" PID "-01", &b) == 0);
	GX_CHECK(hex_nonzero(b.trace_id, 32) && strcmp(b.trace_id, TID) != 0);
	GX_CHECK(b.parent_id[0] == '\0' && hex_nonzero(b.span_id, 16) && b.flags == 0x01);
	GX_CHECK(gx_trace_begin(NULL, &c) == 0);
	GX_CHECK(hex_nonzero(c.trace_id, 32) && strcmp(c.trace_id, b.trace_id) != 0);
	gx_trace_format(&c, out);
	GX_CHECK(gx_trace_parse(out, &a) == 0);
	GX_CHECK_STR(a.trace_id, c.trace_id);
	GX_CHECK_STR(a.parent_id, c.span_id);

	/* no trace: nothing to answer */
	memset(&c, 0, sizeof(c));
	gx_trace_format(&c, out);
	GX_CHECK_STR(out, "");
}

int main(void)
{
	GX_RUN(valid_headers_parse);
	GX_RUN(invalid_headers_refused);
	GX_RUN(begin_continues_or_starts);
	return gx_test_done();
}
