/* Rolling ten-second success/failure counts (see gx/rollwin.h). */
#include "gx/rollwin.h"

void gx_rollwin_note(struct gx_rollwin *w, bool ok, int64_t now_ms)
{
	int64_t s = now_ms / 1000;
	int i = (int)(s % GX_ROLLWIN_SECONDS);

	if (atomic_load(&w->sec[i]) != s) {
		atomic_store(&w->ok[i], 0);
		atomic_store(&w->fail[i], 0);
		atomic_store(&w->sec[i], s);
	}
	atomic_fetch_add(ok ? &w->ok[i] : &w->fail[i], 1);
}

void gx_rollwin_counts(struct gx_rollwin *w, int64_t now_ms, uint32_t *ok, uint32_t *fail)
{
	int64_t s = now_ms / 1000;

	*ok = *fail = 0;
	for (int i = 0; i < GX_ROLLWIN_SECONDS; i++) {
		int64_t at = atomic_load(&w->sec[i]);

		if (at > s - GX_ROLLWIN_SECONDS && at <= s) {
			*ok += atomic_load(&w->ok[i]);
			*fail += atomic_load(&w->fail[i]);
		}
	}
}
