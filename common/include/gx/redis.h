/* Asynchronous Redis client for event-loop code (hiredis + its libevent adapter), one per event_base.
 *
 * The client reconnects with exponential backoff after any failure. While disconnected, commands fail at once with
 * a non-NULL err (callers apply the documented degraded behaviour: rate limits fail open and count a metric,
 * token-revocation checks fail closed for refresh and open for access tokens, caches are bypassed).
 * Callbacks run exactly once on the base's thread; the reply is BORROWED (freed by hiredis after the callback).
 */
#ifndef GX_REDIS_H
#define GX_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>

struct event_base;
struct gx_redis;

typedef void (*gx_redis_cb)(const redisReply *reply, const char *err, void *arg);

/* url: redis://[:password@]host:port[/db] or unix:///path. Borrowed. Caller owns the client; gx_redis_free() fails
 * pending callbacks with err "shutdown". */
struct gx_redis *gx_redis_new(struct event_base *base, const char *url);
void gx_redis_free(struct gx_redis *r);
bool gx_redis_ready(const struct gx_redis *r);

/* Send a command given as argv (binary safe). 0 when started (cb will run), -1 when not connected: cb is then still
 * called, with err "redis unavailable", from a zero-delay timer. */
int gx_redis_cmd(struct gx_redis *r, gx_redis_cb cb, void *arg, int argc, const char **argv, const size_t *argvlen);

/* GCRA rate limiter (one Lua script, atomic; shared by all replicas). Allows `burst` requests at once and `rate`
 * per `period_ms` sustained, for key. */
struct gx_ratelimit_result {
	bool allowed;
	bool degraded;           /* Redis unavailable: the request was allowed (fail open) */
	long long limit;         /* for RateLimit-Limit */
	long long remaining;     /* for RateLimit-Remaining */
	long long reset_s;       /* for RateLimit-Reset */
	long long retry_after_s; /* for Retry-After when !allowed */
};
typedef void (*gx_ratelimit_cb)(const struct gx_ratelimit_result *res, void *arg);
void gx_redis_ratelimit(struct gx_redis *r, const char *key, long long burst, long long rate, long long period_ms,
			gx_ratelimit_cb cb, void *arg);

#endif
