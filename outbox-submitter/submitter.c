/* outbox-submitter engine: the database thread's loop (claim when there is room, settle, renew leases, gauges, the
 * peer probe), the drain, and the lifecycle behind submitter.h. Claiming, delivery and settlement live in claim.c,
 * deliver.c and settle.c (submitter_int.h); docs/outbox-submitter.md describes the protocol. Everything that decides
 * or writes runs on the database thread; Fabric callbacks only queue their result. */
#include "submitter_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/fabric_client.h"
#include "gx/fabric_error.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/outbox_store.h"
#include "gx/rollwin.h"
#include "gx/util.h"

#define GAUGE_EVERY_MS 2000
#define PROBE_OK_EVERY_MS 5000
#define PROBE_DOWN_EVERY_MS 1000
#define HEARTBEAT_MAX_MS 30000
#define CONNECT_BACKOFF_MAX_MS 5000
#define CANCEL_GRACE_MS 1500

struct sub_metrics sub_m;

/* The original's status word for one of our outcomes: an attempt that failed and will be retried is "failed", a
 * command given up for good is "max_retries"; a released lease is no outcome. */
static const char *orig_status(const char *outcome)
{
	if (strcmp(outcome, "committed") == 0)
		return "success";
	if (strcmp(outcome, "retry") == 0 || strcmp(outcome, "conflict") == 0)
		return "failed";
	if (strcmp(outcome, "failed") == 0 || strcmp(outcome, "mapping_error") == 0)
		return "max_retries";
	return NULL;
}

void sub_count(const char *outcome, double n)
{
	const char *v[] = { outcome };
	const char *ov[] = { orig_status(outcome) };

	if (n <= 0)
		return;
	gx_metrics_add(sub_m.processed, v, n);
	if (ov[0])
		gx_metrics_add(sub_m.orig_processed, ov, n);
}

static void metrics_init(void)
{
	static const char *const outcome[] = { "outcome", NULL };
	static const char *const status[] = { "status", NULL };
	static const double commit_buckets[] = { 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600 };
	static const double orig_buckets[] = { 0.1, 0.5, 1, 2, 5, 10, 30 };

	sub_m.processed =
		gx_metrics_counter("gx_outbox_processed_total",
				   "commands settled by outcome: committed, failed, mapping_error, retry, conflict, "
				   "released",
				   outcome);
	sub_m.depth = gx_metrics_gauge("gx_outbox_queue_depth", "PENDING commands in the outbox (all replicas)", NULL);
	sub_m.inflight =
		gx_metrics_gauge("gx_outbox_in_flight", "commands this replica has claimed and not settled", NULL);
	sub_m.oldest = gx_metrics_gauge("gx_outbox_oldest_pending_seconds", "age of the oldest PENDING command", NULL);
	sub_m.submit = gx_metrics_histogram("gx_outbox_submit_seconds",
					    "one Fabric round trip: endorse, submit and commit status of one send",
					    NULL, commit_buckets, GX_ARRAY_LEN(commit_buckets));
	sub_m.commit = gx_metrics_histogram("gx_outbox_commit_seconds", "command creation to COMMITTED", NULL,
					    commit_buckets, GX_ARRAY_LEN(commit_buckets));
	sub_m.orig_processed =
		gx_metrics_counter("outbox_commands_processed_total",
				   "commands processed by status: success, failed (will retry), max_retries "
				   "(given up)",
				   status);
	sub_m.orig_depth =
		gx_metrics_gauge("outbox_queue_depth", "PENDING commands in the outbox (all replicas)", NULL);
	sub_m.orig_duration =
		gx_metrics_histogram("outbox_processing_duration_seconds",
				     "one Fabric round trip: endorse, submit and commit status of one send", NULL,
				     orig_buckets, GX_ARRAY_LEN(orig_buckets));
	sub_m.orig_status = gx_metrics_gauge("outbox_worker_status", "1 while the submitter loop runs", NULL);
	sub_m.no_plan =
		gx_metrics_gauge("gx_outbox_peer_no_endorsers",
				 "1 while the peer answers FAILED_PRECONDITION for FABRIC_CHANNEL/FABRIC_CHAINCODE "
				 "(unknown to it, or no endorsing peers)",
				 NULL);
}

void sub_wake(struct sub *s)
{
	uint64_t one = 1;
	ssize_t rc;

	rc = write(s->efd, &one, sizeof(one));
	(void)rc; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
}

void sub_peer_state(struct sub *s, bool ok, const char *why)
{
	pthread_mutex_lock(&s->lock);
	if (ok)
		s->peer_reason[0] = '\0';
	else
		snprintf(s->peer_reason, sizeof(s->peer_reason), "peer unreachable: %s", why ? why : "?");
	pthread_mutex_unlock(&s->lock);
	atomic_store(&s->peer_ok, ok);
}

static void on_probe(struct gx_fabric_result *r, void *arg)
{
	struct probe *pr = arg;
	const struct gx_fabric_error *e = &r->err;
	bool ok = e->kind == GX_FABRIC_ERR_NONE || gx_fabric_error_chaincode_response(e) > 0;

	bool no_plan = e->kind == GX_FABRIC_ERR_GRPC && e->grpc_code == 9 /* FAILED_PRECONDITION */;
	struct sub *s = pr->s;

	if (ok) {
		sub_peer_state(s, true, NULL);
	} else if (no_plan) {
		/* the peer serves no endorsers for our channel and chaincode: misconfiguration, or every endorsing peer
		 * is down; either way nothing is claimed until it answers, so no command is burned */
		char *d = gx_fabric_error_describe(e);
		char *why = gx_xasprintf("FABRIC_CHANNEL '%s' / FABRIC_CHAINCODE '%s' not served by the peer: %s",
					 s->cfg->fabric.channel, s->cfg->fabric.chaincode, d);

		if (!atomic_exchange(&s->no_plan, true))
			gx_log_error(
				"%s; not claiming until the peer serves them (check FABRIC_CHANNEL and "
				"FABRIC_CHAINCODE)",
				why);
		pthread_mutex_lock(&s->lock);
		snprintf(s->peer_reason, sizeof(s->peer_reason), "%s", why);
		pthread_mutex_unlock(&s->lock);
		atomic_store(&s->peer_ok, false);
		free(why);
		free(d);
	} else {
		char *d = gx_fabric_error_describe(e);

		sub_peer_state(s, false, d);
		free(d);
	}
	if (!no_plan && atomic_exchange(&s->no_plan, false))
		gx_log_info("the peer serves FABRIC_CHANNEL '%s' / FABRIC_CHAINCODE '%s' again", s->cfg->fabric.channel,
			    s->cfg->fabric.chaincode);
	gx_metrics_set(sub_m.no_plan, NULL, atomic_load(&s->no_plan) ? 1 : 0);
	atomic_store(&pr->active, false);
	sub_wake(pr->s);
}

static void probe_peer(struct sub *s)
{
	struct gx_fabric_client *c = s->clients[GX_CC_ID_PARTNER];
	struct gx_fabric_proposal *p;

	if (atomic_load(&s->probe.active))
		return;
	p = gx_fabric_msg_proposal_new(s->ids[GX_CC_ID_PARTNER], s->cfg->fabric.channel, s->cfg->fabric.chaincode,
				       "AdminContract:GetSystemStatus", NULL, 0);
	if (!p)
		return;
	atomic_store(&s->probe.active, true);
	if (gx_fabric_client_evaluate(c, p, on_probe, &s->probe, NULL) < 0)
		atomic_store(&s->probe.active, false);
	gx_fabric_msg_proposal_free(p);
}

static void periodic(struct sub *s, int64_t now)
{
	if (now >= s->next_probe_ms) {
		probe_peer(s);
		s->next_probe_ms = now + (atomic_load(&s->peer_ok) ? PROBE_OK_EVERY_MS : PROBE_DOWN_EVERY_MS);
	}
	if (!gx_pgs_conn(s->db))
		return;
	if (now >= s->next_renew_ms) {
		struct gx_outbox_store_arr held = { 0 };
		char lease[24];
		const char *p[] = { s->worker_id, lease, NULL };

		snprintf(lease, sizeof(lease), "%lld", s->cfg->lease_ms);
		if (s->njobs > 0) {
			sub_held_ids(s, &held);
			p[2] = held.p;
			PQclear(gx_pgs_exec(s->db, "renewing leases", GX_OUTBOX_STORE_RENEW, 3, p));
			gx_outbox_store_arr_free(&held);
		}
		s->next_renew_ms = now + s->cfg->lease_ms / 3;
	}
	if (gx_pgs_conn(s->db) && now >= s->next_gauge_ms) {
		PGresult *r = gx_pgs_exec(s->db, "reading queue depth", GX_OUTBOX_STORE_GAUGES, 0, NULL);

		if (r && PQntuples(r) == 1) {
			gx_metrics_set(sub_m.depth, NULL, atof(PQgetvalue(r, 0, 0)));
			gx_metrics_set(sub_m.orig_depth, NULL, atof(PQgetvalue(r, 0, 0)));
			atomic_store(&s->queue_depth, atoll(PQgetvalue(r, 0, 0)));
			gx_metrics_set(sub_m.oldest, NULL, atof(PQgetvalue(r, 0, 1)));
		}
		PQclear(r);
		s->next_gauge_ms = now + GAUGE_EVERY_MS;
	}
}

/* Wait for a NOTIFY, a Fabric result or the timeout. */
static void wait_events(struct sub *s, int timeout_ms)
{
	struct pollfd fds[2] = { { .fd = s->efd, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
	uint64_t v;

	if (gx_pgs_conn(s->db))
		fds[1].fd = PQsocket(gx_pgs_conn(s->db));
	if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
		gx_log_error("poll failed: %s", strerror(errno));
	if (fds[0].revents & POLLIN) {
		ssize_t rc = read(s->efd, &v, sizeof(v));

		(void)rc;
	}
	if (gx_pgs_conn(s->db) && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
		PGnotify *n;

		if (!PQconsumeInput(gx_pgs_conn(s->db))) {
			gx_log_error("database connection lost: %s", PQerrorMessage(gx_pgs_conn(s->db)));
			gx_pgs_drop(s->db);
			return;
		}
		while ((n = PQnotifies(gx_pgs_conn(s->db))) != NULL) {
			s->wake = true;
			PQfreemem(n);
		}
	}
}

static void cancel_all(struct sub *s)
{
	for (size_t i = 0; i < s->njobs; i++)
		if (s->jobs[i]->op_active)
			gx_fabric_client_cancel(s->clients[s->jobs[i]->call.identity], s->jobs[i]->op_id);
}

static void *db_main(void *arg)
{
	struct sub *s = arg;
	const struct sub_cfg *c = s->cfg;

	gx_metrics_set(sub_m.orig_status, NULL, 1);
	while (true) {
		int64_t now = gx_now_ms();
		bool draining = atomic_load(&s->draining);
		size_t room;
		int timeout;

		atomic_store(&s->heartbeat_ms, now);
		sub_db_connect(s, false);
		sub_take_done(s);
		sub_status_due(s, now);
		sub_flush(s);
		periodic(s, now);
		room = s->njobs < (size_t)s->window ? (size_t)s->window - s->njobs : 0;
		if (draining) {
			int64_t deadline = atomic_load(&s->drain_start_ms) + s->drain_ms;

			if (s->njobs == 0)
				break;
			if (!s->cancelled && now >= deadline) {
				gx_log_info("drain deadline reached with %zu commands in flight; cancelling", s->njobs);
				cancel_all(s);
				s->cancelled = true;
			}
			if (now >= deadline + CANCEL_GRACE_MS)
				break;
		} else if (gx_pgs_conn(s->db) && atomic_load(&s->peer_ok) && room > 0 &&
			   (s->wake || now >= s->next_poll_ms)) {
			size_t want = room < (size_t)c->batch_size ? room : (size_t)c->batch_size;
			int got;

			s->wake = false;
			s->next_poll_ms = now + c->poll_ms;
			got = sub_claim(s, want);
			if (got > 0 && (size_t)got == want)
				s->wake = true; /* more may be due */
			if (got > 0)
				gx_log_debug("claimed %d commands (%zu in flight)", got, s->njobs);
		}
		gx_metrics_set(sub_m.inflight, NULL, (double)s->njobs);
		room = s->njobs < (size_t)s->window ? (size_t)s->window - s->njobs : 0;
		if (!draining && s->wake && room > 0 && gx_pgs_conn(s->db) && atomic_load(&s->peer_ok))
			timeout = 0;
		else if (draining)
			timeout = 100;
		else
			timeout = (int)(s->next_poll_ms > now ? s->next_poll_ms - now : 0) + 1;
		if (timeout > 500)
			timeout = 500;
		wait_events(s, timeout);
	}
	/* anything still leased by us goes back to PENDING with its stored proposal (same tx id on the next send) */
	sub_take_done(s);
	s->next_flush_ms = 0;
	sub_flush(s);
	sub_db_connect(s, true);
	if (gx_pgs_conn(s->db)) {
		const char *p[] = { s->worker_id, "{}" };
		PGresult *r = gx_pgs_exec(s->db, "releasing leases", GX_OUTBOX_STORE_RELEASE, 2, p);

		if (r && PQntuples(r) > 0)
			gx_log_info("released %d leased commands", PQntuples(r));
		PQclear(r);
	}
	gx_metrics_set(sub_m.inflight, NULL, 0);
	gx_metrics_set(sub_m.orig_status, NULL, 0);
	gx_pgs_drop(s->db);
	gx_log_info("submitter loop stopped");
	return NULL;
}

static void *fabric_main(void *arg)
{
	gx_fabric_client_run(arg);
	return NULL;
}

/* The worker's name (design.md §7): WORKER_ID, else the host name, which is the pod name on Kubernetes and so the
 * same after a restart in the pod; the database thread takes it (or a free suffix) at every connect. */
static void default_worker_id(struct sub *s)
{
	char host[128];

	s->id_slot = 1;
	atomic_store(&s->id_ok, true);
	if (s->cfg->worker_id && *s->cfg->worker_id) {
		s->id_base = gx_xstrdup(s->cfg->worker_id);
		s->id_fixed = true;
	} else {
		if (gethostname(host, sizeof(host)) != 0 || !host[0])
			snprintf(host, sizeof(host), "submitter");
		host[sizeof(host) - 1] = '\0';
		s->id_base = gx_xstrdup(host);
	}
	s->worker_id = gx_xstrdup(s->id_base);
}

struct sub *sub_start(const struct sub_cfg *cfg, const char *conninfo, long long drain_ms)
{
	static const char *const id_names[SUB_NIDS] = { "super admin", "admin", "partner" };
	struct sub *s = gx_xcalloc(1, sizeof(*s));
	int rc;

	s->cfg = cfg;
	{
		char *ci = gx_xasprintf("%s connect_timeout=5 options='-c statement_timeout=30000'", conninfo);

		s->db = gx_pgs_new(ci, "outbox-submitter", gx_outbox_store_sub_stmts, GX_OUTBOX_STORE_NSUB,
				   CONNECT_BACKOFF_MAX_MS);
		free(ci);
	}
	s->drain_ms = drain_ms;
	s->window = (double)cfg->max_in_flight;
	s->efd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->done_tail = &s->done_head;
	s->probe.s = s;
	snprintf(s->peer_reason, sizeof(s->peer_reason), "peer not probed yet");
	atomic_store(&s->heartbeat_ms, gx_now_ms());
	default_worker_id(s);
	metrics_init();
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		gx_log_error("eventfd failed: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < SUB_NIDS; i++) {
		struct gx_fabric_client_opts o = {
			.endpoint = cfg->fabric.peer_endpoint,
			.channel_id = cfg->fabric.channel,
			.chaincode_id = cfg->fabric.chaincode,
			.tls_ca_file = *cfg->fabric.tls_ca_file ? cfg->fabric.tls_ca_file : NULL,
			.tls_cert_file = *cfg->fabric.tls_cert_file ? cfg->fabric.tls_cert_file : NULL,
			.tls_key_file = *cfg->fabric.tls_key_file ? cfg->fabric.tls_key_file : NULL,
			.server_name = *cfg->fabric.tls_server_name ? cfg->fabric.tls_server_name : NULL,
			.wait_for_ready = false,
			.reconnect_max_ms = 5000,
			.endorse_timeout_ms = (int)cfg->endorse_timeout_ms,
			.commit_timeout_ms = (int)cfg->commit_timeout_ms,
		};

		s->ids[i] = gx_fabric_id_load(cfg->fabric.msp_id, cfg->fabric.cert[i], cfg->fabric.key[i]);
		if (!s->ids[i]) {
			gx_log_error("cannot load the %s identity (%s, %s)", id_names[i], cfg->fabric.cert[i],
				     cfg->fabric.key[i]);
			goto fail;
		}
		s->clients[i] = gx_fabric_client_new(&o, s->ids[i]);
		if (!s->clients[i])
			goto fail;
	}
	for (int i = 0; i < SUB_NIDS; i++) {
		rc = pthread_create(&s->fab_threads[i], NULL, fabric_main, s->clients[i]);
		if (rc != 0) {
			gx_log_error("pthread_create failed: %s", strerror(rc));
			goto fail;
		}
		s->fab_started[i] = true;
	}
	rc = pthread_create(&s->db_thread, NULL, db_main, s);
	if (rc != 0) {
		gx_log_error("pthread_create failed: %s", strerror(rc));
		goto fail;
	}
	s->db_started = true;
	gx_log_info("submitter %s started: peer %s, channel %s, chaincode %s, batch %lld, max in flight %lld",
		    s->worker_id, cfg->fabric.peer_endpoint, cfg->fabric.channel, cfg->fabric.chaincode,
		    cfg->batch_size, cfg->max_in_flight);
	return s;
fail:
	sub_free(s);
	return NULL;
}

void sub_drain(struct sub *s)
{
	if (!s || atomic_exchange(&s->draining, true))
		return;
	atomic_store(&s->drain_start_ms, gx_now_ms());
	gx_log_info("draining: no new claims; finishing in-flight commands within %lld ms", s->drain_ms);
	sub_wake(s);
}

void sub_free(struct sub *s)
{
	if (!s)
		return;
	sub_drain(s);
	if (s->db_started)
		pthread_join(s->db_thread, NULL);
	for (int i = 0; i < SUB_NIDS; i++) {
		if (s->fab_started[i]) {
			gx_fabric_client_stop(s->clients[i]);
			pthread_join(s->fab_threads[i], NULL);
		}
	}
	/* late callbacks (cancelled operations) run inside free and only queue their job */
	for (int i = 0; i < SUB_NIDS; i++)
		gx_fabric_client_free(s->clients[i]);
	while (s->njobs > 0)
		sub_job_free(s, s->jobs[s->njobs - 1]);
	free(s->jobs);
	for (int i = 0; i < SUB_NIDS; i++)
		gx_fabric_id_free(s->ids[i]);
	if (s->efd >= 0)
		close(s->efd);
	gx_pgs_free(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s->worker_id);
	free(s->id_base);
	free(s);
}

bool sub_ready(struct sub *s, char *reason, size_t reasonlen)
{
	int64_t age;

	if (!s) {
		snprintf(reason, reasonlen, "submitter not started");
		return false;
	}
	age = gx_now_ms() - atomic_load(&s->heartbeat_ms);
	if (age > HEARTBEAT_MAX_MS) {
		snprintf(reason, reasonlen, "submitter loop stalled for %lld ms", (long long)age);
		return false;
	}
	if (!atomic_load(&s->id_ok)) {
		pthread_mutex_lock(&s->lock);
		snprintf(reason, reasonlen, "%s", s->id_reason);
		pthread_mutex_unlock(&s->lock);
		return false;
	}
	if (!atomic_load(&s->peer_ok)) {
		pthread_mutex_lock(&s->lock);
		snprintf(reason, reasonlen, "%s", s->peer_reason[0] ? s->peer_reason : "peer unreachable");
		pthread_mutex_unlock(&s->lock);
		return false;
	}
	return true;
}

/* The original's breaker names for our three identities, in SUB_NIDS order. */
static const char *const breaker_names[SUB_NIDS] = { "org1-super-admin", "org1-admin", "org1-partner-api" };

void sub_health(struct sub *s, cJSON *body)
{
	cJSON *breakers = cJSON_CreateObject();
	bool up = s && atomic_load(&s->peer_ok);
	const char *state = up ? "CLOSED" : s && atomic_load(&s->probe.active) ? "HALF_OPEN" : "OPEN";
	int64_t now = gx_now_ms();

	/* the engine stops sending while the peer is unreachable and probes it: an open breaker, half open while a
	 * probe is out */
	for (int i = 0; i < SUB_NIDS; i++) {
		cJSON *b = cJSON_CreateObject();
		uint32_t ok = 0, fail = 0;

		if (s)
			gx_rollwin_counts(&s->calls[i], now, &ok, &fail);
		cJSON_AddStringToObject(b, "state", state);
		cJSON_AddNumberToObject(b, "successes", ok);
		cJSON_AddNumberToObject(b, "failures", fail);
		cJSON_AddNumberToObject(b, "openCount", 0);
		cJSON_AddItemToObject(breakers, breaker_names[i], b);
	}
	cJSON_AddNumberToObject(body, "fabricClientsConnected", up ? SUB_NIDS : 0);
	cJSON_AddItemToObject(body, "fabricCircuitBreakers", breakers);
	cJSON_AddNumberToObject(body, "queueDepth", s ? (double)atomic_load(&s->queue_depth) : 0);
}
