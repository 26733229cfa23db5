/* Asynchronous Redis client on libevent (contract in gx/redis.h) and the GCRA rate limiter.
 *
 * One hiredis async context per client. Connecting happens from a timer with exponential backoff; AUTH/SELECT (from
 * the URL) and SCRIPT LOAD of the rate-limit script are the first commands on every new connection. hiredis 0.14 has
 * no command timeout, so a watchdog drops the connection when a reply is overdue (a frozen server must not hang
 * requests); dropping fails every pending command, which callers treat as "Redis unavailable".
 */
#include "gx/redis.h"
#include "gx/log.h"
#include "gx/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include <mbedtls/sha1.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 2000
#define CMD_TIMEOUT_MS 2000
#define WATCHDOG_MS 250

/* GCRA: KEYS[1] = key, ARGV = burst, rate, period_ms. The key holds the theoretical arrival time (ms). Returns
 * {allowed, remaining, retry_after_ms, reset_after_ms}. Time comes from the server so replicas agree. */
static const char GCRA_LUA[] =
	"local burst = tonumber(ARGV[1])\n"
	"local rate = tonumber(ARGV[2])\n"
	"local period = tonumber(ARGV[3])\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"local interval = period / rate\n"
	"local tolerance = interval * burst\n"
	"local tat = tonumber(redis.call('GET', KEYS[1])) or now\n"
	"if tat < now then tat = now end\n"
	"local new_tat = tat + interval\n"
	"local diff = now - (new_tat - tolerance)\n"
	"if diff < 0 then\n"
	"  return {0, 0, math.ceil(-diff), math.ceil(tat - now)}\n"
	"end\n"
	"local reset = math.ceil(new_tat - now)\n"
	"redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', reset)\n"
	"return {1, math.floor(diff / interval), 0, reset}\n";

struct rcmd {
	struct rcmd *prev, *next; /* pending list (sent, waiting for a reply) or deferred list */
	struct gx_redis *r;
	gx_redis_cb cb;
	void *arg;
	int64_t sent_us;
	const char *err; /* deferred failures */
};

struct gx_redis {
	struct event_base *base;
	char *host; /* NULL for unix sockets */
	int port;
	char *path; /* unix socket path */
	char *user;
	char *password;
	int db;
	redisAsyncContext *ac;
	bool connected;
	bool closing;
	bool dropping; /* the watchdog is freeing the context: it schedules the reconnect itself */
	int backoff_ms;
	bool fail_logged;
	int64_t connect_started_us;
	struct event *timer;    /* reconnect backoff */
	struct event *watchdog; /* connect timeout and overdue replies */
	struct event *defer_ev; /* zero-delay delivery of failures */
	struct rcmd pending;    /* list heads (sentinels) */
	struct rcmd deferred;
	char script_sha[41];
};

static void redis_connect(struct gx_redis *r);

static void list_init(struct rcmd *h)
{
	h->next = h->prev = h;
}

static void list_add_tail(struct rcmd *h, struct rcmd *c)
{
	c->prev = h->prev;
	c->next = h;
	h->prev->next = c;
	h->prev = c;
}

static void list_del(struct rcmd *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->next = c->prev = c;
}

static void schedule_reconnect(struct gx_redis *r)
{
	int64_t j = gx_mono_us();
	int ms = r->backoff_ms - r->backoff_ms / 4 + (int)((j ^ (j >> 13)) % (r->backoff_ms / 2 + 1));
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (r->closing)
		return;
	r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
	evtimer_add(r->timer, &tv);
}

static void on_defer_ev(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_redis *r = arg;
	struct rcmd head;

	/* detach the list first: callbacks may queue more */
	list_init(&head);
	if (r->deferred.next != &r->deferred) {
		head.next = r->deferred.next;
		head.prev = r->deferred.prev;
		head.next->prev = &head;
		head.prev->next = &head;
		list_init(&r->deferred);
	}
	while (head.next != &head) {
		struct rcmd *c = head.next;
		list_del(c);
		c->cb(NULL, c->err, c->arg);
		free(c);
	}
}

static void defer_fail(struct gx_redis *r, gx_redis_cb cb, void *arg, const char *err)
{
	struct rcmd *c = gx_xcalloc(1, sizeof(*c));
	struct timeval zero = { 0, 0 };

	c->r = r;
	c->cb = cb;
	c->arg = arg;
	c->err = err;
	list_add_tail(&r->deferred, c);
	evtimer_add(r->defer_ev, &zero);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rcmd *c = privdata;
	const redisReply *rep = reply;
	const char *err = NULL;

	list_del(c);
	if (!rep)
		err = c->r->closing ? "shutdown" : (ac->errstr[0] ? ac->errstr : "redis connection lost");
	else if (rep->type == REDIS_REPLY_ERROR)
		err = rep->str;
	c->cb(rep, err, c->arg);
	free(c);
}

/* Send argv on the live connection; the reply (or failure) reaches cb. Returns -1 when not possible. */
static int send_argv(struct gx_redis *r, gx_redis_cb cb, void *arg, int argc, const char **argv, const size_t *lens)
{
	struct rcmd *c;

	if (!r->ac || !r->connected || r->closing)
		return -1;
	c = gx_xcalloc(1, sizeof(*c));
	c->r = r;
	c->cb = cb;
	c->arg = arg;
	c->sent_us = gx_mono_us();
	list_add_tail(&r->pending, c);
	if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, lens) != REDIS_OK) {
		list_del(c);
		free(c);
		return -1;
	}
	return 0;
}

static void on_setup_reply(const redisReply *reply, const char *err, void *arg)
{
	struct gx_redis *r = arg;

	/* reply NULL: the connection failed, which is logged where it is detected */
	if (err && reply && !r->closing) {
		gx_log_error("redis connection setup failed: %s", err);
		/* a wrong password or db: drop and retry later rather than serving on a half-set-up connection */
		if (r->ac)
			redisAsyncDisconnect(r->ac);
	}
}

static void on_connect(const redisAsyncContext *ac GX_UNUSED, int status)
{
	struct gx_redis *r = ac->data;

	if (status != REDIS_OK) {
		if (!r->fail_logged)
			gx_log_warn("redis connect failed, retrying with backoff: %s", ac->errstr);
		r->fail_logged = true;
		r->ac = NULL; /* hiredis frees the context after this callback */
		schedule_reconnect(r);
		return;
	}
	if (r->fail_logged)
		gx_log_info("redis connection established");
	r->fail_logged = false;
	r->connected = true;
	r->backoff_ms = BACKOFF_MIN_MS;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct gx_redis *r = ac->data;

	r->ac = NULL;
	r->connected = false;
	if (r->closing || r->dropping)
		return;
	if (status != REDIS_OK)
		gx_log_warn("redis connection lost: %s", ac->errstr);
	r->fail_logged = true;
	schedule_reconnect(r);
}

static void queue_setup(struct gx_redis *r)
{
	/* queued before the connection completes: hiredis buffers them and sends them first */
	struct rcmd *c;
	const char *argv[3];
	int argc = 0;

	if (r->password) {
		argv[argc++] = "AUTH";
		if (r->user)
			argv[argc++] = r->user;
		argv[argc++] = r->password;
		c = gx_xcalloc(1, sizeof(*c));
		c->r = r;
		c->cb = on_setup_reply;
		c->arg = r;
		c->sent_us = gx_mono_us();
		list_add_tail(&r->pending, c);
		redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, NULL);
	}
	if (r->db) {
		char dbs[16];
		snprintf(dbs, sizeof(dbs), "%d", r->db);
		argv[0] = "SELECT";
		argv[1] = dbs;
		c = gx_xcalloc(1, sizeof(*c));
		c->r = r;
		c->cb = on_setup_reply;
		c->arg = r;
		c->sent_us = gx_mono_us();
		list_add_tail(&r->pending, c);
		redisAsyncCommandArgv(r->ac, on_reply, c, 2, argv, NULL);
	}
	argv[0] = "SCRIPT";
	argv[1] = "LOAD";
	argv[2] = GCRA_LUA;
	c = gx_xcalloc(1, sizeof(*c));
	c->r = r;
	c->cb = on_setup_reply;
	c->arg = r;
	c->sent_us = gx_mono_us();
	list_add_tail(&r->pending, c);
	redisAsyncCommandArgv(r->ac, on_reply, c, 3, argv, NULL);
}

static void redis_connect(struct gx_redis *r)
{
	redisAsyncContext *ac = r->host ? redisAsyncConnect(r->host, r->port) : redisAsyncConnectUnix(r->path);

	if (!ac || ac->err) {
		if (!r->fail_logged)
			gx_log_warn("redis connect failed, retrying with backoff: %s",
				    ac ? ac->errstr : "out of memory");
		r->fail_logged = true;
		if (ac)
			redisAsyncFree(ac);
		schedule_reconnect(r);
		return;
	}
	ac->data = r;
	r->ac = ac;
	r->connected = false;
	r->connect_started_us = gx_mono_us();
	if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
		gx_log_error("redis: cannot attach to the event loop");
		r->ac = NULL;
		redisAsyncFree(ac);
		schedule_reconnect(r);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	queue_setup(r);
}

static void on_timer(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_redis *r = arg;

	if (!r->ac && !r->closing)
		redis_connect(r);
}

/* Drops a connection whose connect or oldest reply is overdue; redisAsyncFree fails every pending command. */
static void on_watchdog(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_redis *r = arg;
	int64_t now = gx_mono_us();
	const char *why = NULL;

	if (!r->ac)
		return;
	if (!r->connected && now - r->connect_started_us > (int64_t)CONNECT_TIMEOUT_MS * 1000)
		why = "connect timeout";
	else if (r->pending.next != &r->pending && now - r->pending.next->sent_us > (int64_t)CMD_TIMEOUT_MS * 1000)
		why = "reply overdue";
	if (!why)
		return;
	gx_log_warn("redis %s, dropping the connection", why);
	redisAsyncContext *ac = r->ac;
	r->ac = NULL;
	r->connected = false;
	r->fail_logged = true;
	r->dropping = true;
	redisAsyncFree(ac); /* calls on_reply(NULL) for pending commands, and on_disconnect when it was connected */
	r->dropping = false;
	schedule_reconnect(r);
}

static int pct_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			unsigned char b;
			if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) ||
			    gx_hex_decode(s + 1, 1, &b) < 0)
				return -1;
			*o++ = (char)b;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

static int parse_url(struct gx_redis *r, const char *url)
{
	char *u, *rest, *at, *slash, *colon;
	int ret = -1;

	if (strncmp(url, "unix://", 7) == 0) {
		if (!url[7])
			return -1;
		r->path = gx_xstrdup(url + 7);
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	u = gx_xstrdup(url + 8);
	rest = u;
	at = strrchr(rest, '@');
	if (at) {
		*at = '\0';
		colon = strchr(rest, ':');
		if (colon) {
			*colon = '\0';
			if (*rest)
				r->user = gx_xstrdup(rest);
			r->password = gx_xstrdup(colon + 1);
		} else {
			r->password = gx_xstrdup(rest);
		}
		if ((r->user && pct_decode(r->user) < 0) || pct_decode(r->password) < 0)
			goto out;
		rest = at + 1;
	}
	slash = strchr(rest, '/');
	if (slash) {
		char *end;
		*slash = '\0';
		if (slash[1]) {
			long db = strtol(slash + 1, &end, 10);
			if (*end || db < 0 || db > 1000)
				goto out;
			r->db = (int)db;
		}
	}
	colon = strrchr(rest, ':');
	r->port = 6379;
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		*colon = '\0';
		if (*end || p < 1 || p > 65535)
			goto out;
		r->port = (int)p;
	}
	if (!*rest)
		goto out;
	r->host = gx_xstrdup(rest);
	ret = 0;
out:
	free(u);
	return ret;
}

struct gx_redis *gx_redis_new(struct event_base *base, const char *url)
{
	struct gx_redis *r = gx_xcalloc(1, sizeof(*r));
	unsigned char sha[20];
	struct timeval wd = { 0, WATCHDOG_MS * 1000 };

	r->base = base;
	r->backoff_ms = BACKOFF_MIN_MS;
	list_init(&r->pending);
	list_init(&r->deferred);
	if (!base || !url || parse_url(r, url) < 0) {
		gx_log_error("redis: invalid URL (want redis://[[user]:password@]host[:port][/db] or unix:///path)");
		goto fail;
	}
	if (mbedtls_sha1_ret((const unsigned char *)GCRA_LUA, sizeof(GCRA_LUA) - 1, sha) != 0) {
		gx_log_error("redis: cannot hash the rate-limit script");
		goto fail;
	}
	gx_hex_encode(sha, sizeof(sha), r->script_sha);
	r->timer = evtimer_new(base, on_timer, r);
	r->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, r);
	r->defer_ev = evtimer_new(base, on_defer_ev, r);
	if (!r->timer || !r->watchdog || !r->defer_ev) {
		gx_log_error("redis: cannot create events");
		goto fail;
	}
	event_add(r->watchdog, &wd);
	redis_connect(r);
	return r;
fail:
	if (r->timer)
		event_free(r->timer);
	if (r->watchdog)
		event_free(r->watchdog);
	if (r->defer_ev)
		event_free(r->defer_ev);
	free(r->host);
	free(r->path);
	free(r->user);
	free(r->password);
	free(r);
	return NULL;
}

void gx_redis_free(struct gx_redis *r)
{
	if (!r)
		return;
	r->closing = true;
	if (r->ac) {
		redisAsyncContext *ac = r->ac;
		r->ac = NULL;
		redisAsyncFree(ac); /* pending callbacks get err "shutdown" */
	}
	while (r->deferred.next != &r->deferred) {
		struct rcmd *c = r->deferred.next;
		list_del(c);
		c->cb(NULL, "shutdown", c->arg);
		free(c);
	}
	event_free(r->timer);
	event_free(r->watchdog);
	event_free(r->defer_ev);
	free(r->host);
	free(r->path);
	free(r->user);
	free(r->password);
	free(r);
}

bool gx_redis_ready(const struct gx_redis *r)
{
	return r && r->ac && r->connected;
}

int gx_redis_cmd(struct gx_redis *r, gx_redis_cb cb, void *arg, int argc, const char **argv, const size_t *argvlen)
{
	if (argc < 1 || !argv || !cb) {
		gx_log_error("gx_redis_cmd: bad arguments");
		return -1;
	}
	if (send_argv(r, cb, arg, argc, argv, argvlen) == 0)
		return 0;
	defer_fail(r, cb, arg, "redis unavailable");
	return -1;
}

/* ---- rate limiter --------------------------------------------------------------------------------------- */

struct rl_call {
	struct gx_redis *r;
	char *key;
	long long burst, rate, period_ms;
	gx_ratelimit_cb cb;
	void *arg;
	bool tried_eval;
};

static void rl_finish(struct rl_call *c, const struct gx_ratelimit_result *res)
{
	c->cb(res, c->arg);
	free(c->key);
	free(c);
}

static void rl_degraded(struct rl_call *c, const char *why)
{
	struct gx_ratelimit_result res = { 0 };

	gx_log_debug("rate limit degraded (allowing): %s", why);
	res.allowed = true;
	res.degraded = true;
	res.limit = c->burst;
	res.remaining = c->burst;
	rl_finish(c, &res);
}

static int rl_send(struct rl_call *c, bool eval);

static void rl_reply(const redisReply *reply, const char *err, void *arg)
{
	struct rl_call *c = arg;
	struct gx_ratelimit_result res = { 0 };
	long long v[4];

	if (err) {
		if (reply && strncmp(err, "NOSCRIPT", 8) == 0 && !c->tried_eval) {
			c->tried_eval = true;
			if (rl_send(c, true) == 0)
				return;
			rl_degraded(c, "redis unavailable");
			return;
		}
		rl_degraded(c, err);
		return;
	}
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
		rl_degraded(c, "unexpected rate-limit script reply");
		return;
	}
	for (int i = 0; i < 4; i++) {
		if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
			rl_degraded(c, "unexpected rate-limit script reply");
			return;
		}
		v[i] = reply->element[i]->integer;
	}
	res.allowed = v[0] == 1;
	res.limit = c->burst;
	res.remaining = v[1] < 0 ? 0 : v[1];
	res.retry_after_s = res.allowed ? 0 : (v[2] + 999) / 1000;
	if (!res.allowed && res.retry_after_s < 1)
		res.retry_after_s = 1;
	res.reset_s = (v[3] + 999) / 1000;
	rl_finish(c, &res);
}

static int rl_send(struct rl_call *c, bool eval)
{
	char b[24], rt[24], p[24];
	const char *argv[7];

	snprintf(b, sizeof(b), "%lld", c->burst);
	snprintf(rt, sizeof(rt), "%lld", c->rate);
	snprintf(p, sizeof(p), "%lld", c->period_ms);
	argv[0] = eval ? "EVAL" : "EVALSHA";
	argv[1] = eval ? GCRA_LUA : c->r->script_sha;
	argv[2] = "1";
	argv[3] = c->key;
	argv[4] = b;
	argv[5] = rt;
	argv[6] = p;
	return send_argv(c->r, rl_reply, c, 7, argv, NULL);
}

static void rl_unavailable(const redisReply *reply GX_UNUSED, const char *err, void *arg)
{
	rl_degraded(arg, err ? err : "redis unavailable");
}

void gx_redis_ratelimit(struct gx_redis *r, const char *key, long long burst, long long rate, long long period_ms,
			gx_ratelimit_cb cb, void *arg)
{
	struct rl_call *c = gx_xcalloc(1, sizeof(*c));

	c->r = r;
	c->key = gx_xstrdup(key);
	c->burst = burst < 1 ? 1 : burst;
	c->rate = rate < 1 ? 1 : rate;
	c->period_ms = period_ms < 1 ? 1 : period_ms;
	c->cb = cb;
	c->arg = arg;
	if (rl_send(c, false) < 0)
		defer_fail(r, rl_unavailable, c, "redis unavailable");
}
