/* projector: the projector thread. One database session holds pg_try_advisory_lock(LOCK_KEY) (standby replicas
 * retry every STANDBY_POLL_MS); the active one reads the checkpoint, opens a ChaincodeEvents stream from the next
 * block and applies each block as it arrives (the stream callback runs on this thread; a slow apply is
 * back-pressure). A second stream, whose callback only notes block numbers, runs ahead to the chain head and gives
 * the chain height. Stream failures reconnect with exponential backoff from the last checkpoint; database failures
 * drop the session (and with it the lock) and start over. While no block arrives the checkpoint is re-read every
 * CHECK_MS, so a `projector rebuild` is noticed on an idle chain too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gx/fabric_client.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/pg_sync.h"
#include "gx/util.h"
#include "projector.h"

#define CHECK_MS 1000 /* checkpoint check (and session ping) while no block arrives */

struct run {
	struct prj *p;
	struct gx_pgs *db; /* the session (gx/pg_sync.h): prj_sql prepared on it */
	struct gx_fabric_id *id;
	struct gx_fabric_client *fc;
	int64_t last_block; /* checkpoint this session resumes from */
	uint64_t main_id, height_id;
	bool main_open, height_open;
	bool main_failed; /* the main stream ended (reconnect after backoff) */
	bool db_failed;   /* drop the session */
	bool restart;     /* checkpoint moved: reopen the stream from the database's checkpoint */
	int backoff_ms;
	int64_t retry_at_ms; /* when to reopen the main stream */
	int64_t height_retry_at_ms;
	int64_t last_ping_ms;
};

static struct gx_metric *m_last, *m_height, *m_behind, *m_lag, *m_active, *m_reconnects, *m_apply;
/* the original projector's names beside ours (docs/compat.md) */
static struct gx_metric *m_orig_height, *m_orig_behind, *m_orig_duration, *m_orig_status;

static const char *const event_labels[] = { "event", "outcome", NULL };

static void metrics_init(void)
{
	static const double buckets[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
	static const double orig_buckets[] = { 0.01, 0.05, 0.1, 0.5, 1, 2, 5 };
	static const char *const orig_event_labels[] = PRJ_ORIG_EVENT_LABELS;

	m_last = gx_metrics_gauge("gx_projector_last_block", "Last block fully applied (checkpoint)", NULL);
	m_height = gx_metrics_gauge("gx_projector_chain_height", "Highest block with events seen on the event stream",
				    NULL);
	m_behind = gx_metrics_gauge("gx_projector_blocks_behind", "chain_height - last_block", NULL);
	m_lag = gx_metrics_gauge("gx_projector_lag_seconds",
				 "Now minus the chain time of the last applied block (0 when caught up)", NULL);
	m_active = gx_metrics_gauge("gx_projector_active", "1 while this replica holds the lock and projects", NULL);
	m_reconnects = gx_metrics_counter("gx_projector_stream_reconnects_total",
					  "Event stream (re)opens after a failure", NULL);
	m_apply = gx_metrics_histogram("gx_projector_block_apply_seconds", "Time to apply one block", NULL, buckets,
				       GX_ARRAY_LEN(buckets));
	gx_metrics_counter("gx_projector_events_total",
			   "Chaincode events handled, by event name and outcome (applied|dlq)", event_labels);
	gx_metrics_counter("gx_projector_dlq_total", "Poison events sent to EventDLQ", NULL);
	m_orig_height = gx_metrics_gauge("projector_blockchain_height", "Highest block seen on the event stream", NULL);
	m_orig_behind = gx_metrics_gauge("projector_lag_blocks", "Blocks seen and not yet applied", NULL);
	m_orig_duration = gx_metrics_histogram("projector_processing_duration_seconds", "Time to apply one block", NULL,
					       orig_buckets, GX_ARRAY_LEN(orig_buckets));
	m_orig_status = gx_metrics_gauge("projector_worker_status", "1 while this replica projects or stands by", NULL);
	gx_metrics_counter("projector_events_processed_total", PRJ_ORIG_EVENTS_HELP, orig_event_labels);
	gx_metrics_counter("projector_checkpoints_saved_total", PRJ_ORIG_CKPT_HELP, NULL);
}

/* Publish the lag gauges from the shared state. */
static void publish(struct prj *p)
{
	int64_t last, height, t, behind;
	double lag = 0;

	pthread_mutex_lock(&p->mu);
	last = p->last_block;
	height = p->chain_height;
	t = p->last_block_time_ms;
	pthread_mutex_unlock(&p->mu);
	behind = height > last ? height - last : 0;
	if (behind > 0 && t > 0)
		lag = (double)(gx_now_ms() - t) / 1000.0;
	if (lag < 0)
		lag = 0;
	gx_metrics_set(m_last, NULL, (double)last);
	gx_metrics_set(m_height, NULL, (double)(height > last ? height : last));
	gx_metrics_set(m_behind, NULL, (double)behind);
	gx_metrics_set(m_lag, NULL, lag);
	gx_metrics_set(m_orig_height, NULL, (double)(height > last ? height : last));
	gx_metrics_set(m_orig_behind, NULL, (double)behind);
}

static void set_role(struct prj *p, enum prj_role r)
{
	pthread_mutex_lock(&p->mu);
	p->role = r;
	if (r != PRJ_ROLE_ACTIVE)
		p->stream_up = false;
	pthread_mutex_unlock(&p->mu);
	gx_metrics_set(m_active, NULL, r == PRJ_ROLE_ACTIVE ? 1 : 0);
	gx_metrics_set(m_orig_status, NULL, r == PRJ_ROLE_ACTIVE || r == PRJ_ROLE_STANDBY ? 1 : 0);
}

static void nap(struct prj *p, long ms)
{
	while (ms > 0 && !atomic_load(&p->stop)) {
		long step = ms > 100 ? 100 : ms;
		struct timespec ts = { 0, step * 1000000L };

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static void note_height(struct prj *p, uint64_t block)
{
	pthread_mutex_lock(&p->mu);
	if ((int64_t)block > p->chain_height)
		p->chain_height = (int64_t)block;
	pthread_mutex_unlock(&p->mu);
}

static void on_height(const struct gx_fabric_msg_events *ev, const struct gx_fabric_error *end, void *arg)
{
	struct run *r = arg;

	if (ev) {
		note_height(r->p, ev->block);
		return;
	}
	r->height_open = false;
	if (end->kind != GX_FABRIC_ERR_NONE && !(end->kind == GX_FABRIC_ERR_GRPC && end->grpc_code == 1))
		r->height_retry_at_ms = gx_now_ms() + 1000;
}

static void on_block(const struct gx_fabric_msg_events *ev, const struct gx_fabric_error *end, void *arg)
{
	struct run *r = arg;
	struct prj *p = r->p;
	int64_t t0;
	double secs;
	enum prj_apply_rc rc;

	if (!ev) {
		r->main_open = false;
		pthread_mutex_lock(&p->mu);
		p->stream_up = false;
		pthread_mutex_unlock(&p->mu);
		if (!r->db_failed && !r->restart && !atomic_load(&p->stop)) {
			char *d = gx_fabric_error_describe(end);

			gx_rollwin_note(&p->stream, false, gx_now_ms());
			gx_log_warn("projector: event stream ended: %s; reconnecting in %d ms from block %lld", d,
				    r->backoff_ms, (long long)(r->last_block + 1));
			free(d);
			r->main_failed = true;
			r->retry_at_ms = gx_now_ms() + r->backoff_ms;
			r->backoff_ms = r->backoff_ms * 2 > p->cfg->reconnect_max_ms ? (int)p->cfg->reconnect_max_ms
										     : r->backoff_ms * 2;
		}
		return;
	}
	if (r->db_failed || r->restart)
		return; /* cancelling: ignore what is still queued */
	note_height(p, ev->block);
	pthread_mutex_lock(&p->mu);
	p->stream_up = true;
	pthread_mutex_unlock(&p->mu);
	t0 = gx_mono_us();
	rc = prj_apply_block(p, gx_pgs_conn(r->db), ev, &r->last_block, gx_now_ms());
	secs = (double)(gx_mono_us() - t0) / 1e6;
	gx_metrics_observe(m_apply, NULL, secs);
	gx_metrics_observe(m_orig_duration, NULL, secs);
	gx_rollwin_note(&p->stream, rc != PRJ_APPLY_DB_ERROR, gx_now_ms());
	switch (rc) {
	case PRJ_APPLY_OK:
		r->backoff_ms = 200;
		r->last_ping_ms = gx_now_ms();
		gx_log_debug("projector: applied block %llu (%zu events)", (unsigned long long)ev->block, ev->n_events);
		break;
	case PRJ_APPLY_MOVED:
		r->restart = true;
		gx_fabric_client_cancel(r->fc, r->main_id);
		break;
	case PRJ_APPLY_DB_ERROR:
		r->db_failed = true;
		gx_fabric_client_cancel(r->fc, r->main_id);
		break;
	}
	publish(p);
}

static bool open_main(struct run *r)
{
	uint64_t start = (uint64_t)(r->last_block + 1);

	r->main_failed = false;
	r->restart = false;
	if (gx_fabric_client_events(r->fc, start, NULL, on_block, r, &r->main_id) < 0) {
		r->main_failed = true;
		r->retry_at_ms = gx_now_ms() + r->backoff_ms;
		return false;
	}
	r->main_open = true;
	gx_log_info("projector: streaming events from block %llu", (unsigned long long)start);
	gx_metrics_add(m_reconnects, NULL, 1);
	return true;
}

static void open_height(struct run *r)
{
	int64_t h;

	pthread_mutex_lock(&r->p->mu);
	h = r->p->chain_height;
	pthread_mutex_unlock(&r->p->mu);
	if (h < r->last_block + 1)
		h = r->last_block + 1;
	if (gx_fabric_client_events(r->fc, (uint64_t)h, NULL, on_height, r, &r->height_id) == 0)
		r->height_open = true;
	else
		r->height_retry_at_ms = gx_now_ms() + 1000;
}

/* Cancel both streams and run their final callbacks. */
static void close_streams(struct run *r)
{
	if (!r->fc)
		return;
	if (r->main_open)
		gx_fabric_client_cancel(r->fc, r->main_id);
	if (r->height_open)
		gx_fabric_client_cancel(r->fc, r->height_id);
	while (gx_fabric_client_in_flight(r->fc) > 0)
		gx_fabric_client_poll(r->fc, 100);
	r->main_open = r->height_open = false;
}

static void drop_db(struct run *r)
{
	close_streams(r);
	gx_pgs_drop(r->db);
	r->db_failed = false;
	set_role(r->p, PRJ_ROLE_NO_DB);
}

/* Run every CHECK_MS while no block arrives: proves the session is alive and notices a checkpoint that moved under
 * us (`projector rebuild` deleted it) on an idle chain, where no block would reveal it. A moved checkpoint restarts
 * the stream from the database's checkpoint, as PRJ_APPLY_MOVED does. Returns false when the session failed. */
static bool check_checkpoint(struct run *r)
{
	int64_t db_last, t;

	if (prj_load_checkpoint(r->p, gx_pgs_conn(r->db), &db_last, &t) < 0)
		return false;
	if (db_last == r->last_block || r->restart)
		return true;
	gx_log_info("projector: checkpoint moved from block %lld to %lld (projector rebuild?); streaming again from it",
		    (long long)r->last_block, (long long)db_last);
	r->restart = true;
	if (r->main_open)
		gx_fabric_client_cancel(r->fc, r->main_id);
	return true;
}

/* Try to become the active replica. Returns 1 when the lock is ours, 0 when another replica has it, -1 on failure. */
static int try_lock(struct run *r)
{
	char key[24];
	const char *params[1] = { key };
	PGresult *res;
	int got;

	snprintf(key, sizeof(key), "%lld", r->p->cfg->lock_key);
	res = gx_pgs_exec_sql(r->db, "projector: pg_try_advisory_lock", "SELECT pg_try_advisory_lock($1::bigint)", 1,
			      params);
	if (!res)
		return -1;
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return got;
}

/* Block transactions need not wait for their WAL flush: each carries its own checkpoint, so a crash can only lose
 * the last few blocks together with their checkpoint, and they are replayed from the chain (idempotent statements).
 * Saves one fsync per block, which dominates small blocks. */
static bool async_commit(struct run *r)
{
	return gx_pgs_command(r->db, "SET synchronous_commit = off") == 0;
}

static bool become_active(struct run *r)
{
	struct prj *p = r->p;
	int64_t t;

	if (!async_commit(r) || gx_pgs_prepare_all(r->db, "projector") < 0 ||
	    prj_load_checkpoint(p, gx_pgs_conn(r->db), &r->last_block, &t) < 0)
		return false;
	pthread_mutex_lock(&p->mu);
	p->last_block = r->last_block;
	p->last_block_time_ms = t;
	pthread_mutex_unlock(&p->mu);
	set_role(p, PRJ_ROLE_ACTIVE);
	gx_log_info("projector: active (holds lock %lld), checkpoint block %lld", p->cfg->lock_key,
		    (long long)r->last_block);
	r->backoff_ms = 200;
	r->main_failed = false;
	r->retry_at_ms = 0;
	return true;
}

static int make_client(struct run *r)
{
	struct prj_cfg *c = r->p->cfg;
	struct gx_fabric_client_opts o = {
		.endpoint = c->fabric.peer_endpoint,
		.channel_id = c->fabric.channel,
		.chaincode_id = c->fabric.chaincode,
		.tls_ca_file = c->fabric.tls_ca_file[0] ? c->fabric.tls_ca_file : NULL,
		.tls_cert_file = c->fabric.tls_cert_file[0] ? c->fabric.tls_cert_file : NULL,
		.tls_key_file = c->fabric.tls_key_file[0] ? c->fabric.tls_key_file : NULL,
		.server_name = c->fabric.tls_server_name[0] ? c->fabric.tls_server_name : NULL,
		.reconnect_max_ms = (int)c->reconnect_max_ms,
	};

	r->id = gx_fabric_id_load(c->fabric.msp_id, c->fabric.cert[GX_FABRIC_CFG_PARTNER],
				  c->fabric.key[GX_FABRIC_CFG_PARTNER]);
	if (!r->id)
		return -1;
	r->fc = gx_fabric_client_new(&o, r->id);
	return r->fc ? 0 : -1;
}

/* One active period: stream and apply until stop, a database failure or a lost session. */
static void active_loop(struct run *r)
{
	struct prj *p = r->p;

	open_main(r);
	open_height(r);
	while (!atomic_load(&p->stop) && !r->db_failed) {
		int64_t now;

		gx_fabric_client_poll(r->fc, 200);
		now = gx_now_ms();
		if (r->restart && !r->main_open) {
			int64_t t;

			if (prj_load_checkpoint(p, gx_pgs_conn(r->db), &r->last_block, &t) < 0) {
				r->db_failed = true;
				break;
			}
			pthread_mutex_lock(&p->mu);
			p->last_block = r->last_block;
			p->last_block_time_ms = t;
			pthread_mutex_unlock(&p->mu);
			open_main(r);
		} else if (r->main_failed && !r->main_open && now >= r->retry_at_ms) {
			open_main(r);
		}
		if (!r->height_open && now >= r->height_retry_at_ms)
			open_height(r);
		if (now - r->last_ping_ms >= CHECK_MS) {
			r->last_ping_ms = now;
			if (!check_checkpoint(r))
				r->db_failed = true;
		}
		publish(p);
	}
}

void *prj_thread_main(void *arg)
{
	struct prj *p = arg;
	struct run r = { .p = p, .backoff_ms = 200 };

	r.db = gx_pgs_new(p->conninfo, "projector", prj_sql, Q_COUNT, 5000);
	metrics_init();
	publish(p);
	if (make_client(&r) < 0) {
		gx_log_fatal("projector: cannot create the Fabric client; check the FABRIC_* settings");
		set_role(p, PRJ_ROLE_NO_DB);
		goto out;
	}
	while (!atomic_load(&p->stop)) {
		int got;

		if (!gx_pgs_conn(r.db)) {
			if (gx_pgs_connect(r.db) < 0) {
				set_role(p, PRJ_ROLE_NO_DB);
				nap(p, (long)gx_pgs_backoff_ms(r.db));
				continue;
			}
			set_role(p, PRJ_ROLE_STANDBY);
		}
		got = try_lock(&r);
		if (got < 0) {
			drop_db(&r);
			continue;
		}
		if (got == 0) {
			set_role(p, PRJ_ROLE_STANDBY);
			gx_log_debug("projector: standby: lock %lld is held by another replica", p->cfg->lock_key);
			nap(p, (long)p->cfg->standby_poll_ms);
			continue;
		}
		if (!become_active(&r)) {
			drop_db(&r);
			continue;
		}
		r.last_ping_ms = gx_now_ms();
		active_loop(&r);
		/* stop, or the session failed: closing the session releases the lock */
		drop_db(&r);
		if (!atomic_load(&p->stop))
			gx_log_warn("projector: gave up the active role after a database failure; reconnecting");
	}
out:
	close_streams(&r);
	gx_pgs_free(r.db);
	gx_fabric_client_free(r.fc);
	gx_fabric_id_free(r.id);
	return NULL;
}
