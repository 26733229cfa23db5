/* Counts of successes and failures over the last GX_ROLLWIN_SECONDS seconds, as a circuit breaker reports them
 * (the workers' /health fabricCircuitBreaker objects).
 *
 * One slot per second in a ring; a slot older than the window is reset when its second comes round again. One
 * thread notes (the owner's loop), any thread reads: every field is atomic, so a reader sees each slot either
 * before or after an update, never torn. The struct is the caller's (embed it, zero-initialised); nothing is
 * allocated, nothing logs.
 */
#ifndef GX_ROLLWIN_H
#define GX_ROLLWIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GX_ROLLWIN_SECONDS 10

struct gx_rollwin {
	_Atomic int64_t sec[GX_ROLLWIN_SECONDS]; /* the Unix second each slot counts, 0 = never used */
	_Atomic uint32_t ok[GX_ROLLWIN_SECONDS];
	_Atomic uint32_t fail[GX_ROLLWIN_SECONDS];
};

/* Count one success (ok) or failure at now_ms (wall clock, milliseconds). Single writer. */
void gx_rollwin_note(struct gx_rollwin *w, bool ok, int64_t now_ms);

/* Sums over the window ending at now_ms. */
void gx_rollwin_counts(struct gx_rollwin *w, int64_t now_ms, uint32_t *ok, uint32_t *fail);

#endif
