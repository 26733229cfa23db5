/* Unit tests for gx/rollwin.h: counts within the ten-second window, slots reused after it, empty windows. */
#include <string.h>

#include "gx/rollwin.h"
#include "gx_test.h"

static void counts(struct gx_rollwin *w, int64_t now_ms, uint32_t ok, uint32_t fail)
{
	uint32_t o = 99, f = 99;

	gx_rollwin_counts(w, now_ms, &o, &f);
	GX_CHECK(o == ok && f == fail);
	if (o != ok || f != fail)
		printf("#   at %lld: ok %u fail %u, want %u %u\n", (long long)now_ms, o, f, ok, fail);
}

GX_TEST(counts_inside_the_window)
{
	struct gx_rollwin w;
	int64_t t = 1700000000000LL;

	memset(&w, 0, sizeof(w));
	counts(&w, t, 0, 0);
	gx_rollwin_note(&w, true, t);
	gx_rollwin_note(&w, true, t + 999);
	gx_rollwin_note(&w, false, t + 3000);
	counts(&w, t + 3000, 2, 1);
	counts(&w, t + 9999, 2, 1);
	counts(&w, t + 10000, 0, 1); /* the first second has left the window */
	counts(&w, t + 13000, 0, 0);
}

GX_TEST(slot_reused_after_the_window)
{
	struct gx_rollwin w;
	int64_t t = 1700000000000LL;

	memset(&w, 0, sizeof(w));
	for (int i = 0; i < 5; i++)
		gx_rollwin_note(&w, false, t);
	gx_rollwin_note(&w, true, t + 10000); /* same slot, ten seconds later: the old failures are gone */
	counts(&w, t + 10000, 1, 0);
	counts(&w, t, 0, 0); /* the old second was overwritten; a reader behind the clock counts no future slot */
}

int main(void)
{
	GX_RUN(counts_inside_the_window);
	GX_RUN(slot_reused_after_the_window);
	return gx_test_done();
}
