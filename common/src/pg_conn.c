/* Connection lifecycle of the asynchronous PostgreSQL pool (see pg_int.h): creating a connection, connecting it
 * with PQconnectStart/PQconnectPoll from its timer, exponential backoff after failures, watching an idle connection
 * for server-side closes and notifications, and the pool's dedicated LISTEN connection.
 */
#include "pg_int.h"

#include "gx/log.h"
#include "gx/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int backoff_jitter(int ms)
{
	/* +-25 % so that many workers do not reconnect in lockstep */
	int64_t r = gx_mono_us();
	int span = ms / 2 + 1;
	return ms - ms / 4 + (int)((r ^ (r >> 17)) % span);
}

int gx_pg_conn_arm(struct gx_pg_conn *c, short what, event_callback_fn cb)
{
	evutil_socket_t fd = PQsocket(c->pg);

	event_del(c->ev);
	if (fd < 0)
		return -1;
	event_assign(c->ev, c->pool->base, fd, what, cb, c);
	if (event_add(c->ev, NULL) < 0)
		return -1;
	return 0;
}

void gx_pg_conn_drop(struct gx_pg_conn *c)
{
	event_del(c->ev);
	evtimer_del(c->timer);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	gx_pg_prep_prune(c, true); /* the statements lived in that session */
	c->flushing = false;
	c->internal = IK_NONE;
}

void gx_pg_conn_reconnect(struct gx_pg_conn *c)
{
	struct timeval tv;

	gx_pg_conn_drop(c);
	c->state = CS_DOWN;
	if (c->pool->closing)
		return;
	tv = gx_pg_ms_tv(backoff_jitter(c->backoff_ms));
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	evtimer_add(c->timer, &tv);
}

static void conn_connect_failed(struct gx_pg_conn *c, const char *why)
{
	if (!c->fail_logged) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", why ? why : "unknown error");
		msg[strcspn(msg, "\n")] = '\0';
		gx_log_warn("postgres connect failed, retrying with backoff: %s", msg);
		c->fail_logged = true;
	}
	gx_pg_conn_reconnect(c);
}

void gx_pg_notice_processor(void *arg GX_UNUSED, const char *message)
{
	gx_log_debug("postgres notice: %.*s", (int)strcspn(message, "\n"), message);
}

void gx_pg_dispatch_notifies(struct gx_pg_conn *c)
{
	PGnotify *n;

	while ((n = PQnotifies(c->pg)) != NULL) {
		if (c->listener) {
			for (struct gx_pg_listen_sub *s = c->pool->subs; s; s = s->next)
				if (strcmp(s->channel, n->relname) == 0)
					s->cb(n->relname, n->extra ? n->extra : "", s->arg);
		}
		PQfreemem(n);
		if (!c->pg) /* a callback cannot drop the connection, but stay defensive */
			return;
	}
}

static void on_connect_ev(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_conn *c = arg;
	PostgresPollingStatusType st = PQconnectPoll(c->pg);

	switch (st) {
	case PGRES_POLLING_READING:
		if (gx_pg_conn_arm(c, EV_READ, on_connect_ev) < 0)
			conn_connect_failed(c, "no socket while connecting");
		return;
	case PGRES_POLLING_WRITING:
		if (gx_pg_conn_arm(c, EV_WRITE, on_connect_ev) < 0)
			conn_connect_failed(c, "no socket while connecting");
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	evtimer_del(c->timer);
	event_del(c->ev);
	if (PQsetnonblocking(c->pg, 1) != 0) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->fail_logged || c->backoff_ms > BACKOFF_MIN_MS)
		gx_log_info("postgres connection established");
	c->fail_logged = false;
	c->backoff_ms = BACKOFF_MIN_MS;
	if (c->listener) {
		c->pool->listen_dirty = true;
		c->state = CS_BUSY;
		gx_pg_listener_send(c);
		return;
	}
	gx_pg_conn_make_idle(c);
}

void gx_pg_conn_start(struct gx_pg_conn *c)
{
	struct gx_pg_pool *pool = c->pool;
	const char *keys[] = { "dbname", "options", "application_name", NULL };
	const char *vals[] = { pool->conninfo, pool->options, pool->appname, NULL };
	struct timeval tv = gx_pg_ms_tv(pool->o.connect_timeout_ms);

	c->pg = PQconnectStartParams(keys, vals, 1);
	c->state = CS_CONNECTING;
	evtimer_add(c->timer, &tv);
	if (!c->pg) {
		conn_connect_failed(c, "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	PQsetNoticeProcessor(c->pg, gx_pg_notice_processor, NULL);
	if (gx_pg_conn_arm(c, EV_WRITE, on_connect_ev) < 0)
		conn_connect_failed(c, "no socket while connecting");
}

static void on_timer(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_conn *c = arg;

	switch (c->state) {
	case CS_DOWN:
		gx_pg_conn_start(c);
		break;
	case CS_CONNECTING:
		conn_connect_failed(c, "connect timeout");
		break;
	case CS_BUSY:
		gx_log_warn("postgres query deadline passed, dropping the connection");
		gx_pg_conn_lost(c, GX_PG_ERR_TIMEOUT, "query deadline passed");
		break;
	case CS_IDLE:
		break;
	}
}

void gx_pg_on_idle_ev(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct gx_pg_conn *c = arg;

	if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c->pg));
		msg[strcspn(msg, "\n")] = '\0';
		gx_log_warn("postgres idle connection lost: %s", msg);
		c->backoff_ms = BACKOFF_MIN_MS;
		gx_pg_conn_reconnect(c);
		return;
	}
	gx_pg_dispatch_notifies(c);
	/* stray results on an idle connection (should not happen): drain them */
	while (!PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (!r)
			break;
		PQclear(r);
	}
	if (gx_pg_conn_arm(c, EV_READ, gx_pg_on_idle_ev) < 0)
		gx_pg_conn_reconnect(c);
}

/* ---- listener ------------------------------------------------------------------------------------------- */

void gx_pg_listener_send(struct gx_pg_conn *c)
{
	size_t cap = 64, len = 0;
	char *sql = gx_xmalloc(cap);

	sql[0] = '\0';
	c->pool->listen_dirty = false;
	for (struct gx_pg_listen_sub *s = c->pool->subs; s; s = s->next) {
		char *id = PQescapeIdentifier(c->pg, s->channel, strlen(s->channel));
		size_t need;
		if (!id) {
			free(sql);
			gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
			return;
		}
		need = len + strlen(id) + 10;
		if (need > cap) {
			cap = need * 2;
			sql = gx_xrealloc(sql, cap);
		}
		len += (size_t)sprintf(sql + len, "LISTEN %s;", id);
		PQfreemem(id);
	}
	c->state = CS_BUSY;
	c->internal = IK_LISTEN;
	if (len == 0) {
		free(sql);
		gx_pg_internal_done(c, true);
		return;
	}
	if (!PQsendQuery(c->pg, sql)) {
		free(sql);
		gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	free(sql);
	gx_pg_arm_deadline(c);
	gx_pg_conn_flush(c);
}

struct gx_pg_conn *gx_pg_conn_new(struct gx_pg_pool *pool, bool listener)
{
	struct gx_pg_conn *c = gx_xcalloc(1, sizeof(*c));

	c->pool = pool;
	c->listener = listener;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->ev = event_new(pool->base, -1, 0, gx_pg_on_idle_ev, c);
	c->timer = evtimer_new(pool->base, on_timer, c);
	if (!c->ev || !c->timer) {
		gx_log_fatal("postgres pool: cannot create events");
		abort();
	}
	c->state = CS_DOWN;
	return c;
}

void gx_pg_conn_free(struct gx_pg_conn *c)
{
	if (!c)
		return;
	gx_pg_conn_drop(c);
	event_free(c->ev);
	event_free(c->timer);
	free(c);
}
