/* Per-connection receive deadline: evhttp's timeout is an idle timeout, so a client trickling a byte now and then
 * could hold a connection forever. Each connection gets a timer, armed when it opens and again after each response;
 * when it fires while evhttp is still receiving the request, the connection is closed the way an idle timeout
 * closes it.
 *
 * libevent 2.1 has no hook for a new server connection, only evhttp_set_bevcb (which creates its bufferevent), so:
 *   - the bevcb creates the bufferevent as evhttp would (options 0) and a timer, activated at once: its first run
 *     (same loop pass, before any I/O) finds the evhttp_connection as the bufferevent's callback argument (evhttp
 *     sets it to the connection) and registers a close callback, which frees the tracking;
 *   - "receiving" is evhttp's own state seen through public calls: a read callback is set (evhttp_start_read_)
 *     and reading is enabled (evhttp disables it once the request is complete, and clears the read callback while it
 *     writes the response);
 *   - the output buffer draining to empty while not receiving means a response went out: the next request (keep-
 *     alive) starts now, so the deadline is armed again;
 *   - the close is bufferevent_trigger_event(READING|TIMEOUT): evhttp's own idle-timeout path frees the connection.
 */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/util.h"

struct http_conn {
	struct http_worker *w;
	struct bufferevent *bev;          /* evhttp's once attached; we hold a reference until then */
	struct event *timer;              /* owned */
	struct evbuffer_cb_entry *out_cb; /* on bev's output buffer, NULL until attached */
	struct http_conn *prev, *next;    /* worker's list */
	bool attached;                    /* close callback registered on the evhttp connection */
};

static struct gx_metric *m_deadline;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void metrics_register(void)
{
	m_deadline = gx_metrics_counter("gx_http_request_deadline_total",
					"Connections closed because a request was not received within REQUEST_TIMEOUT",
					NULL);
}

static void conn_unlink(struct http_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

/* Forget c; touch_bev is false once the bufferevent may be gone. */
static void conn_free(struct http_conn *c, bool touch_bev)
{
	conn_unlink(c);
	if (touch_bev && c->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	event_free(c->timer);
	free(c);
}

static bool receiving(struct bufferevent *bev)
{
	bufferevent_data_cb readcb = NULL;

	bufferevent_getcb(bev, &readcb, NULL, NULL, NULL);
	return readcb && (bufferevent_get_enabled(bev) & EV_READ);
}

static void arm(struct http_conn *c)
{
	int ms = c->w->srv->opts->request_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms > 0)
		evtimer_add(c->timer, &tv);
}

/* evhttp is freeing the connection (any reason, also evhttp_free): runs before the bufferevent is freed. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_free(arg, true);
}

static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;

	(void)buf;
	if (info->n_deleted == 0 || info->orig_size + info->n_added - info->n_deleted != 0)
		return;
	/* a "100 Continue" written while receiving does not start a new request */
	if (!receiving(c->bev))
		arm(c);
}

static void attach(struct http_conn *c)
{
	struct bufferevent *bev = c->bev;
	bufferevent_event_cb eventcb = NULL;
	void *evcon = NULL;

	bufferevent_getcb(bev, NULL, NULL, &eventcb, &evcon);
	if (!eventcb || !evcon) {
		/* evhttp gave up on the connection while setting it up and freed it (callbacks cleared) */
		conn_free(c, false);
		bufferevent_decref(bev);
		return;
	}
	evhttp_connection_set_closecb(evcon, on_close, c);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), on_output, c);
	c->attached = true;
	bufferevent_decref(bev);
	arm(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	(void)fd;
	(void)what;
	if (!c->attached) {
		attach(c);
		return;
	}
	if (!receiving(c->bev))
		return; /* in the handler or writing: armed again when the response has gone out */
	gx_log_kv(GX_LOG_DEBUG, GX_LOG_FIELDS(GX_LOG_INT("timeoutMs", c->w->srv->opts->request_timeout_ms)),
		  "request not received in time: closing the connection");
	gx_metrics_add(m_deadline, NULL, 1);
	/* evhttp frees the connection from here (on_close frees c): nothing may touch c after this call */
	bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

static struct bufferevent *on_new_connection(struct event_base *base, void *arg)
{
	struct http_worker *w = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
	struct http_conn *c;

	if (!bev) {
		gx_log_error("bufferevent_socket_new failed");
		return NULL; /* evhttp tries on its own, without a deadline */
	}
	c = gx_xcalloc(1, sizeof(*c));
	c->timer = evtimer_new(base, on_timer, c);
	if (!c->timer) {
		gx_log_error("cannot create a request deadline timer");
		free(c);
		return bev;
	}
	c->w = w;
	c->bev = bev;
	bufferevent_incref(bev); /* until attach(): evhttp may free it first */
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	event_active(c->timer, EV_TIMEOUT, 0);
	return bev;
}

void gx_http_conn_install(struct http_worker *w)
{
	pthread_once(&once, metrics_register);
	evhttp_set_bevcb(w->http, on_new_connection, w);
}

void gx_http_conn_release_all(struct http_worker *w)
{
	while (w->conns) {
		struct http_conn *c = w->conns;
		struct bufferevent *bev = c->attached ? NULL : c->bev;

		conn_free(c, false);
		if (bev)
			bufferevent_decref(bev);
	}
}
