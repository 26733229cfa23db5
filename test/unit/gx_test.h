/* Minimal unit-test harness: TAP-style lines ("ok 3 - name" / "not ok 3 - name"), one summary line at the end.
 *
 *   GX_TEST(parses_money) { GX_CHECK(x == 1); GX_CHECK_STR(s, "a"); }
 *   int main(void) { GX_RUN(parses_money); return gx_test_done(); }
 *
 * A failing check prints its file:line and expression and marks the current test failed; the test goes on.
 * gx_test_done() prints "# N passed, N failed" and returns the exit status. The runner counts ok/not ok lines.
 */
#ifndef GX_TEST_H
#define GX_TEST_H

#include <stdio.h>
#include <string.h>

static int gx_t_num, gx_t_pass, gx_t_fail, gx_t_cur_failed;

#define GX_TEST(name) static void name(void)
#define GX_RUN(name) \
	do { \
		gx_t_cur_failed = 0; \
		name(); \
		gx_t_num++; \
		if (gx_t_cur_failed) { \
			gx_t_fail++; \
			printf("not ok %d - %s\n", gx_t_num, #name); \
		} else { \
			gx_t_pass++; \
			printf("ok %d - %s\n", gx_t_num, #name); \
		} \
		fflush(stdout); \
	} while (0)
#define GX_CHECK(cond) \
	do { \
		if (!(cond)) { \
			printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			gx_t_cur_failed = 1; \
		} \
	} while (0)
#define GX_CHECK_STR(a, b) \
	do { \
		const char *gx_a_ = (a), *gx_b_ = (b); \
		if (!gx_a_ || !gx_b_ || strcmp(gx_a_, gx_b_) != 0) { \
			printf("#   %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, gx_a_ ? gx_a_ : "(null)", \
			       gx_b_ ? gx_b_ : "(null)"); \
			gx_t_cur_failed = 1; \
		} \
	} while (0)

static inline int gx_test_done(void)
{
	printf("# %d passed, %d failed\n", gx_t_pass, gx_t_fail);
	return gx_t_fail ? 1 : 0;
}

#endif
