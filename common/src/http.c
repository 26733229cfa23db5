/* HTTP server: the port probe, worker threads with their own event_base/evhttp/SO_REUSEPORT listener, request
 * entry (request id, security headers, CORS, routing, body checks), and the SIGTERM drain. */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "gx/log.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/redis.h"
#include "gx/trace.h"
#include "gx/util.h"

/* evhttp answers bodies above its own cap with an HTML page before our callback runs (libevent 2.1 has no hook
 * between headers and body for server requests), so its cap is this multiple of max_body: bodies between the two
 * are read, then refused by us with 413 in our format while the connection stays usable. */
#define EVHTTP_CAP_FACTOR 4
#define BEAT_INTERVAL_MS 1000
#define DRAIN_POLL_MS 50
#define FLUSH_MS 100

_Atomic bool gx_http_draining_flag;
static struct http_server *running; /* for gx_http_workers_alive */

bool gx_http_draining(void)
{
	return atomic_load(&gx_http_draining_flag);
}

bool gx_http_workers_alive(int max_age_ms, char *reason, size_t reasonlen)
{
	struct http_server *srv = running;
	int64_t now = gx_mono_us();

	if (!srv)
		return true;
	for (int i = 0; i < srv->nworkers; i++) {
		int64_t age_ms = (now - atomic_load(&srv->workers[i].beat_us)) / 1000;
		if (age_ms > max_age_ms) {
			snprintf(reason, reasonlen, "worker %d loop stalled for %lld ms", i, (long long)age_ms);
			return false;
		}
	}
	return true;
}

/* ---- request entry: steps 1-4 ---- */

static void set_request_id(struct gx_req *req)
{
	const char *id = evhttp_find_header(evhttp_request_get_input_headers(req->ev), "X-Request-Id");

	if (gx_http_request_id_ok(id)) {
		snprintf(req->id, sizeof(req->id), "%s", id);
		return;
	}
	if (gx_uuid_v4(req->id) < 0)
		snprintf(req->id, sizeof(req->id), "req-%lld", (long long)gx_mono_us());
}

/* The W3C trace (gx/trace.h): the caller's when it sent one valid traceparent, else a new one; never refused. Two
 * traceparent headers are treated as an invalid one. */
static void set_trace(struct gx_req *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req->ev);
	const struct evkeyval *h;
	const char *tp = NULL;
	int n = 0;

	TAILQ_FOREACH(h, in, next)
	{
		if (strcasecmp(h->key, "traceparent") == 0) {
			tp = h->value;
			n++;
		}
	}
	/* on failure (logged) the request goes on without a trace */
	gx_trace_begin(n == 1 ? tp : NULL, &req->trace);
}

static bool in_list(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && strncmp(p, item, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* Client IP: the socket peer, or, when the peer is a trusted proxy, the right-most X-Forwarded-For entry that is
 * not itself a trusted proxy. */
static void set_client_ip(struct gx_req *req)
{
	const char *trusted = req->w->srv->opts->trusted_proxies;
	struct evhttp_connection *conn = evhttp_request_get_connection(req->ev);
	char *peer = NULL;
	ev_uint16_t port = 0;
	const char *xff;
	char *copy, *tok;

	if (conn)
		evhttp_connection_get_peer(conn, &peer, &port);
	snprintf(req->ip, sizeof(req->ip), "%s", peer ? peer : "unknown");
	if (!trusted || !*trusted || !in_list(trusted, req->ip))
		return;
	xff = evhttp_find_header(evhttp_request_get_input_headers(req->ev), "X-Forwarded-For");
	if (!xff)
		return;
	copy = gx_xstrdup(xff);
	for (;;) {
		char *comma = strrchr(copy, ',');
		unsigned char sa[sizeof(struct in6_addr)];

		tok = comma ? comma + 1 : copy;
		while (*tok == ' ')
			tok++;
		tok[strcspn(tok, " ")] = '\0';
		if (inet_pton(AF_INET, tok, sa) != 1 && inet_pton(AF_INET6, tok, sa) != 1)
			break;
		snprintf(req->ip, sizeof(req->ip), "%s", tok);
		if (!comma || !in_list(trusted, tok))
			break;
		*comma = '\0';
	}
	free(copy);
}

static void add_security_headers(struct gx_req *req)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req->ev);

	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "X-Frame-Options", "DENY");
	evhttp_add_header(out, "Referrer-Policy", "no-referrer");
	evhttp_add_header(out, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
	evhttp_add_header(out, "Cache-Control", "no-store");
	if (req->w->srv->opts->hsts)
		evhttp_add_header(out, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
}

/* CORS headers for an allowed Origin. Returns true when the request was a preflight and has been answered. */
static bool handle_cors(struct gx_req *req)
{
	const char *origins = req->w->srv->opts->cors_origins;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req->ev);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req->ev);
	const char *origin = evhttp_find_header(in, "Origin");
	bool any = origins && strcmp(origins, "*") == 0;

	if (!origin || !origins || !*origins || (!any && !in_list(origins, origin)))
		return false;
	evhttp_add_header(out, "Access-Control-Allow-Origin", any ? "*" : origin);
	if (!any)
		evhttp_add_header(out, "Vary", "Origin");
	evhttp_add_header(
		out, "Access-Control-Expose-Headers",
		"X-Request-Id, traceparent, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After");
	if (strcmp(req->method, "OPTIONS") != 0 || !evhttp_find_header(in, "Access-Control-Request-Method"))
		return false;
	evhttp_add_header(out, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
	evhttp_add_header(out, "Access-Control-Allow-Headers",
			  "Authorization, Content-Type, Idempotency-Key, X-Idempotency-Key, X-Request-Id, traceparent, "
			  "tracestate, Prefer");
	evhttp_add_header(out, "Access-Control-Max-Age", "600");
	gx_http_send(req, 204, NULL, NULL, 0);
	return true;
}

static const char *method_name(enum evhttp_cmd_type t)
{
	/* clang-format off */
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "OTHER";
	}
	/* clang-format on */
}

/* Step 4. Returns 0 to go on, -1 when answered. */
static int check_body(struct gx_req *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req->ev);
	struct evbuffer *buf = evhttp_request_get_input_buffer(req->ev);
	size_t len = evbuffer_get_length(buf);
	const char *ct;
	const char *why = NULL;

	if (len > req->w->srv->opts->max_body) {
		gx_reply_error(req, 413, "PAYLOAD_TOO_LARGE", "the request body exceeds %zu bytes",
			       req->w->srv->opts->max_body);
		return -1;
	}
	if (len == 0)
		return 0;
	req->raw = evbuffer_pullup(buf, -1);
	req->raw_len = len;
	if ((req->route->flags & GX_ROUTE_RAW_BODY) ||
	    !(strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0))
		return 0;
	ct = evhttp_find_header(in, "Content-Type");
	if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		gx_reply_error(req, 415, "UNSUPPORTED_MEDIA_TYPE", "the request body must be application/json");
		return -1;
	}
	req->body = gx_http_json_parse_body(req->raw, len, &why);
	if (!req->body) {
		gx_reply_error(req, 400, "INVALID_JSON", "%s", why);
		return -1;
	}
	return 0;
}

/* Unknown path: the original's 404 text and its "path" key (the path without the query string). */
static void reply_no_route(struct gx_req *req)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "Route %s %.512s not found", req->method, req->raw_path);
	gx_http_reply_error_with(req, 404, "NOT_FOUND", msg, "path", cJSON_CreateString(req->raw_path));
}

/* Route match (step 3). Returns 0 to go on, -1 when answered. */
static int route_request(struct gx_req *req)
{
	const struct gx_http_router *router = req->w->srv->router;

	switch (gx_http_router_match(router, req->method, req->raw_path, &req->match)) {
	case GX_HTTP_MATCH_OK:
		req->route = req->match.route;
		return 0;
	case GX_HTTP_MATCH_BAD_METHOD:
		evhttp_add_header(evhttp_request_get_output_headers(req->ev), "Allow", req->match.allow);
		gx_reply_error(req, 405, "METHOD_NOT_ALLOWED", "method %s is not allowed here (allowed: %s)",
			       req->method, req->match.allow);
		return -1;
	case GX_HTTP_MATCH_BAD_PATH:
		gx_reply_error(req, 400, "INVALID_PATH", "the path contains a malformed or forbidden escape");
		return -1;
	case GX_HTTP_MATCH_NOT_FOUND:
	default:
		reply_no_route(req);
		return -1;
	}
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct http_worker *w = arg;
	struct gx_req *req = gx_http_req_new(w, ev);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;

	snprintf(req->method, sizeof(req->method), "%s", method_name(evhttp_request_get_command(ev)));
	set_request_id(req);
	set_trace(req);
	set_client_ip(req);
	req->raw_path = gx_xstrdup(path && *path ? path : "/");
	add_security_headers(req);
	if (handle_cors(req))
		return;
	if (route_request(req) < 0)
		return;
	req->path = gx_http_pct_decode(req->raw_path, strlen(req->raw_path));
	if (!req->path || (query && evhttp_parse_query_str(query, &req->query) < 0)) {
		gx_reply_error(req, 400, "INVALID_QUERY", "the path or query string is malformed");
		return;
	}
	if (check_body(req) < 0)
		return;
	gx_http_pipeline_start(req);
}

/* ---- the port probe ---- */

static int listen_addr(const struct gx_http_opts *o, struct sockaddr_storage *ss, int *sslen, char *addr,
		       size_t addrlen)
{
	snprintf(addr, addrlen, strchr(o->bind, ':') ? "[%s]:%d" : "%s:%d", o->bind, o->port);
	*sslen = sizeof(*ss);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, sslen) < 0) {
		gx_log_error("cannot parse listen address '%s'", addr);
		return -1;
	}
	return 0;
}

/* Unless SHARE_PORT is set, make sure no other process listens on the port: the workers' SO_REUSEPORT listeners
 * would silently share it with that process (design.md §8). A probe bound without SO_REUSEPORT fails with EADDRINUSE
 * exactly when someone listens there (SO_REUSEADDR keeps sockets left in TIME_WAIT from counting). Returns 0 when the
 * port is ours to bind, -1 (logged) otherwise. */
static int probe_port(const struct gx_http_opts *o)
{
	struct sockaddr_storage ss;
	int sslen, fd, one = 1, rc = -1;
	char addr[80];

	if (o->share_port)
		return 0;
	if (listen_addr(o, &ss, &sslen, addr, sizeof(addr)) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		gx_log_error("cannot create a socket for %s: %s", addr, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		gx_log_error("cannot set SO_REUSEADDR on %s: %s", addr, strerror(errno));
	else if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == 0)
		rc = 0;
	else if (errno == EADDRINUSE)
		gx_log_error(
			"port %d on %s is already served by another process: exiting (set SHARE_PORT=true to "
			"share it, e.g. for a zero-downtime restart)",
			o->port, o->bind);
	else
		gx_log_error("cannot listen on %s: %s", addr, strerror(errno));
	close(fd);
	return rc;
}

/* ---- workers ---- */

static void on_beat(evutil_socket_t fd, short what, void *arg)
{
	struct http_worker *w = arg;
	(void)fd;
	(void)what;
	atomic_store(&w->beat_us, gx_mono_us());
}

static void on_close_listener(evutil_socket_t fd, short what, void *arg)
{
	struct http_worker *w = arg;
	(void)fd;
	(void)what;
	if (w->bound) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct http_worker *w = arg;
	(void)fd;
	(void)what;
	event_base_loopexit(w->base, NULL);
}

static int worker_setup(struct http_worker *w)
{
	const struct gx_http_opts *o = w->srv->opts;
	struct evconnlistener *lis;
	struct sockaddr_storage ss;
	int sslen;
	char addr[80];
	struct timeval tv = { o->request_timeout_ms / 1000, (o->request_timeout_ms % 1000) * 1000 };
	struct timeval beat = { BEAT_INTERVAL_MS / 1000, 0 };

	w->base = event_base_new();
	w->http = w->base ? evhttp_new(w->base) : NULL;
	if (!w->http) {
		gx_log_error("cannot create event base or evhttp for worker %d", w->index);
		return -1;
	}
	if (listen_addr(o, &ss, &sslen, addr, sizeof(addr)) < 0)
		return -1;
	lis = evconnlistener_new_bind(w->base, NULL, NULL,
				      LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
					      LEV_OPT_CLOSE_ON_EXEC,
				      1024, (struct sockaddr *)&ss, sslen);
	if (!lis) {
		gx_log_error("cannot listen on %s: %s", addr, strerror(errno));
		return -1;
	}
	w->bound = evhttp_bind_listener(w->http, lis);
	if (!w->bound) {
		evconnlistener_free(lis);
		gx_log_error("evhttp_bind_listener failed on %s", addr);
		return -1;
	}
	evhttp_set_gencb(w->http, on_request, w);
	gx_http_conn_install(w);
	evhttp_set_max_body_size(w->http, (ev_ssize_t)(o->max_body * EVHTTP_CAP_FACTOR));
	evhttp_set_max_headers_size(w->http, 64 * 1024);
	evhttp_set_timeout_tv(w->http, &tv);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	w->ev_close = event_new(w->base, -1, 0, on_close_listener, w);
	w->ev_stop = event_new(w->base, -1, 0, on_stop, w);
	w->ev_beat = event_new(w->base, -1, EV_PERSIST, on_beat, w);
	if (!w->ev_close || !w->ev_stop || !w->ev_beat || event_add(w->ev_beat, &beat) < 0) {
		gx_log_error("cannot create worker %d events", w->index);
		return -1;
	}
	atomic_store(&w->beat_us, gx_mono_us());
	return 0;
}

/* Answer whatever the handlers never answered (their callbacks can no longer run), so evhttp_free finds no
 * request of ours and no context leaks. */
static void answer_leftovers(struct http_worker *w)
{
	struct timeval flush = { 0, FLUSH_MS * 1000 };

	if (!w->live)
		return;
	while (w->live) {
		struct gx_req *req = w->live;

		if (req->held) { /* answered, waiting for its idempotency record */
			gx_http_send_held(req);
			continue;
		}
		req->close_after = true;
		gx_reply_error(req, 503, "SHUTTING_DOWN", "the server shut down before the request completed");
	}
	/* give the answers a moment to reach the sockets */
	event_base_loopexit(w->base, &flush);
	event_base_dispatch(w->base);
}

static void *worker_main(void *arg)
{
	struct http_worker *w = arg;
	const struct gx_http_def *def = w->srv->def;
	const struct gx_http_opts *o = w->srv->opts;
	struct gx_redis *redis;
	struct gx_pg_pool *pg;

	if (def->needs_pg) {
		struct gx_pg_pool_opts po = { .size = o->pg_pool_size > 0 ? o->pg_pool_size : 4,
					      .application_name = def->service };
		w->pg = gx_pg_pool_new(w->base, o->pg_conninfo, &po);
	}
	if (def->needs_redis)
		w->redis = gx_redis_new(w->base, o->redis_url);
	if (def->worker_init)
		w->state = def->worker_init(def->app, w->base, w->pg, w->redis);
	event_base_dispatch(w->base);

	w->stopping = true;
	/* Redis first: its failed callbacks may continue into handlers that still need the pool */
	redis = w->redis;
	w->redis = NULL;
	gx_redis_free(redis);
	pg = w->pg;
	gx_pg_pool_free(pg);
	w->pg = NULL;
	answer_leftovers(w);
	if (def->worker_free)
		def->worker_free(w->state);
	w->state = NULL;
	return NULL;
}

static void worker_release(struct http_worker *w)
{
	if (w->ev_close)
		event_free(w->ev_close);
	if (w->ev_stop)
		event_free(w->ev_stop);
	if (w->ev_beat)
		event_free(w->ev_beat);
	if (w->http)
		evhttp_free(w->http);
	gx_http_conn_release_all(w);
	if (w->base)
		event_base_free(w->base);
}

/* ---- main thread: signals and drain ---- */

struct drain {
	struct http_server *srv;
	struct event *ev_term, *ev_int, *ev_timer;
	int phase; /* 0 serving, 1 drain delay, 2 waiting for in-flight requests */
	int64_t deadline_us;
};

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct drain *d = arg;
	struct http_server *srv = d->srv;
	struct timeval poll = { 0, DRAIN_POLL_MS * 1000 };
	int inflight = atomic_load(&srv->inflight);

	(void)fd;
	(void)what;
	if (d->phase == 1) {
		gx_log_info("drain: closing listeners, %d requests in flight", inflight);
		for (int i = 0; i < srv->nworkers; i++)
			event_active(srv->workers[i].ev_close, 0, 0);
		d->phase = 2;
		d->deadline_us = gx_mono_us() + (int64_t)srv->opts->drain_timeout_ms * 1000;
		evtimer_add(d->ev_timer, &poll);
		return;
	}
	if (inflight > 0 && gx_mono_us() < d->deadline_us) {
		evtimer_add(d->ev_timer, &poll);
		return;
	}
	if (inflight > 0)
		gx_log_warn("drain timeout: stopping with %d requests in flight", inflight);
	for (int i = 0; i < srv->nworkers; i++)
		event_active(srv->workers[i].ev_stop, 0, 0);
	event_base_loopbreak(srv->main_base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct drain *d = arg;
	struct timeval delay = { d->srv->opts->drain_delay_ms / 1000, (d->srv->opts->drain_delay_ms % 1000) * 1000 };

	(void)what;
	if (d->phase != 0) {
		gx_log_warn("second signal %d: exiting now", (int)sig);
		_exit(1);
	}
	gx_log_info("signal %d: draining (readyz 503), closing listeners in %d ms", (int)sig,
		    d->srv->opts->drain_delay_ms);
	atomic_store(&gx_http_draining_flag, true);
	if (d->srv->def->on_drain)
		d->srv->def->on_drain(d->srv->def->app);
	d->phase = 1;
	evtimer_add(d->ev_timer, &delay);
}

static int start_workers(struct http_server *srv)
{
	for (int i = 0; i < srv->nworkers; i++) {
		struct http_worker *w = &srv->workers[i];
		int rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0) {
			gx_log_error("pthread_create failed: %s", strerror(rc));
			return -1;
		}
		w->thread_started = true;
	}
	return 0;
}

static void stop_workers(struct http_server *srv)
{
	for (int i = 0; i < srv->nworkers; i++) {
		struct http_worker *w = &srv->workers[i];
		if (!w->thread_started)
			continue;
		if (w->ev_stop)
			event_active(w->ev_stop, 0, 0);
		pthread_join(w->thread, NULL);
		w->thread_started = false;
	}
}

int gx_http_run(const struct gx_http_def *def, const struct gx_http_opts *opts)
{
	struct http_server srv = { .def = def, .opts = opts };
	struct drain d = { .srv = &srv };
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() < 0) {
		gx_log_error("evthread_use_pthreads failed");
		return 1;
	}
	srv.router = gx_http_router_new(def->routes, def->nroutes);
	if (!srv.router)
		return 1;
	srv.nworkers = opts->threads > 0 ? opts->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (srv.nworkers < 1)
		srv.nworkers = 1;
	srv.workers = gx_xcalloc((size_t)srv.nworkers, sizeof(*srv.workers));
	if (probe_port(opts) < 0)
		goto out;
	srv.main_base = event_base_new();
	if (!srv.main_base) {
		gx_log_error("cannot create the main event base");
		goto out;
	}
	for (int i = 0; i < srv.nworkers; i++) {
		srv.workers[i].srv = &srv;
		srv.workers[i].index = i;
		if (worker_setup(&srv.workers[i]) < 0)
			goto out;
	}
	d.ev_term = evsignal_new(srv.main_base, SIGTERM, on_signal, &d);
	d.ev_int = evsignal_new(srv.main_base, SIGINT, on_signal, &d);
	d.ev_timer = evtimer_new(srv.main_base, drain_tick, &d);
	if (!d.ev_term || !d.ev_int || !d.ev_timer || evsignal_add(d.ev_term, NULL) < 0 ||
	    evsignal_add(d.ev_int, NULL) < 0) {
		gx_log_error("cannot install signal handlers");
		goto out;
	}
	atomic_store(&gx_http_draining_flag, false);
	running = &srv;
	if (start_workers(&srv) < 0)
		goto out;
	gx_log_kv(GX_LOG_INFO, GX_LOG_FIELDS(GX_LOG_INT("port", opts->port), GX_LOG_INT("threads", srv.nworkers)),
		  "listening");
	event_base_dispatch(srv.main_base);
	rc = 0;
out:
	stop_workers(&srv);
	running = NULL;
	for (int i = 0; i < srv.nworkers; i++)
		worker_release(&srv.workers[i]);
	if (d.ev_term)
		event_free(d.ev_term);
	if (d.ev_int)
		event_free(d.ev_int);
	if (d.ev_timer)
		event_free(d.ev_timer);
	if (srv.main_base)
		event_base_free(srv.main_base);
	free(srv.workers);
	gx_http_router_free(srv.router);
	if (rc == 0)
		gx_log_info("stopped");
	return rc;
}
