/* outbox-submitter: commit outcomes from the chaincode events stream, and the budget of concurrent Gateway calls
 * (submitter_int.h, docs/outbox-submitter.md "Calls and commit outcomes").
 *
 * A command is sent with Endorse + Submit only; no call waits for its block. One ChaincodeEvents stream (on the
 * partner client) reports every valid transaction of the chaincode with its block, and each sent command is found
 * by its tx id in a hash table: seen means COMMITTED. A command the stream has not shown after
 * FABRIC_COMMIT_FALLBACK_MS, or after two newer blocks, or while the stream is down, is asked with CommitStatus
 * (which also reports an invalid transaction, e.g. an MVCC conflict). The stream opens at the block of the first
 * commit learnt (so nothing is read from before this process) and reopens at the newest block it saw.
 *
 * Every Gateway call this process makes takes one unit of FABRIC_MAX_CALLS first (the probe and the stream take
 * theirs unconditionally): a send that finds none waits in a first-in first-out queue, so at any backlog the peer
 * never sees more calls than the budget. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/util.h"
#include "submitter_int.h"

#define REOPEN_MS 1000
#define NEWER_BLOCKS 2
#define FALLBACK_SCAN_MS 50

/* ---- tx id -> job ---- */

static size_t bucket(const struct sub *s, const char *tx)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const char *p = tx; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)(h & (s->watch.nbuckets - 1));
}

void sub_watch_add(struct sub *s, struct job *j)
{
	size_t b;

	if (!s->watch.buckets) {
		size_t n = 1024;

		while (n < (size_t)s->cfg->max_in_flight * 2)
			n *= 2;
		s->watch.nbuckets = n;
		s->watch.buckets = gx_xcalloc(n, sizeof(*s->watch.buckets));
	}
	if (j->hashed)
		return;
	b = bucket(s, j->tx_id);
	j->hnext = s->watch.buckets[b];
	s->watch.buckets[b] = j;
	j->hashed = true;
}

void sub_watch_remove(struct sub *s, struct job *j)
{
	struct job **pp;

	if (!j->hashed)
		return;
	for (pp = &s->watch.buckets[bucket(s, j->tx_id)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == j) {
			*pp = j->hnext;
			break;
		}
	}
	j->hnext = NULL;
	j->hashed = false;
}

static struct job *find(struct sub *s, const char *tx)
{
	if (!s->watch.buckets)
		return NULL;
	for (struct job *j = s->watch.buckets[bucket(s, tx)]; j; j = j->hnext)
		if (strcmp(j->tx_id, tx) == 0)
			return j;
	return NULL;
}

/* ---- the call budget ---- */

bool sub_call_take(struct sub *s, bool must)
{
	int n = atomic_fetch_add(&s->ncalls, 1) + 1;

	if (!must && n > (int)s->cfg->max_calls) {
		atomic_fetch_sub(&s->ncalls, 1);
		return false;
	}
	if (n > atomic_load(&s->ncalls_peak)) {
		atomic_store(&s->ncalls_peak, n);
		gx_metrics_set(sub_m.calls_peak, NULL, n);
	}
	return true;
}

void sub_call_give(struct sub *s)
{
	atomic_fetch_sub(&s->ncalls, 1);
}

void sub_park(struct sub *s, struct job *j, struct gx_fabric_proposal *p)
{
	j->parked = p;
	j->pnext = NULL;
	*s->watch.park_tail = j;
	s->watch.park_tail = &j->pnext;
	s->watch.nparked++;
}

static void unpark(struct sub *s, struct job *j)
{
	struct job **pp;

	for (pp = &s->watch.park_head; *pp; pp = &(*pp)->pnext) {
		if (*pp == j) {
			*pp = j->pnext;
			if (!*pp)
				s->watch.park_tail = pp;
			break;
		}
	}
	j->pnext = NULL;
	s->watch.nparked--;
}

void sub_unpark(struct sub *s, struct job *j)
{
	if (!j->parked)
		return;
	unpark(s, j);
	gx_fabric_msg_proposal_free(j->parked);
	j->parked = NULL;
}

/* ---- the stream (callbacks run on the partner client's poll thread) ---- */

static void on_events(const struct gx_fabric_msg_events *ev, const struct gx_fabric_error *end, void *arg)
{
	struct sub *s = arg;
	struct sub_watch *w = &s->watch;
	struct watch_block *b;

	if (!ev) {
		char *d = gx_fabric_error_describe(end);

		if (!atomic_load(&s->draining))
			gx_log_warn("commit events stream ended (%s); CommitStatus until it is back", d);
		free(d);
		sub_call_give(s);
		atomic_store(&w->open, false);
		sub_wake(s);
		return;
	}
	b = gx_xcalloc(1, sizeof(*b) + ev->n_events * GX_FABRIC_TXID_SIZE);
	b->block = ev->block;
	b->n = ev->n_events;
	for (size_t i = 0; i < ev->n_events; i++)
		snprintf(b->tx + i * GX_FABRIC_TXID_SIZE, GX_FABRIC_TXID_SIZE, "%s",
			 ev->events[i].tx_id ? ev->events[i].tx_id : "");
	pthread_mutex_lock(&s->lock);
	*w->tail = b;
	w->tail = &b->next;
	pthread_mutex_unlock(&s->lock);
	sub_wake(s);
}

void sub_watch_block(struct sub *s, uint64_t block)
{
	struct sub_watch *w = &s->watch;

	if (!w->have_block || block > w->last_block) {
		w->last_block = block;
		w->have_block = true;
	}
}

static void open_stream(struct sub *s, int64_t now)
{
	struct sub_watch *w = &s->watch;

	if (atomic_load(&w->open) || !w->have_block || now < w->reopen_at_ms || atomic_load(&s->draining))
		return;
	sub_call_take(s, true);
	atomic_store(&w->open, true);
	if (gx_fabric_client_events(s->clients[GX_CC_ID_PARTNER], w->last_block, NULL, on_events, s, &w->stream_id) <
	    0) {
		atomic_store(&w->open, false);
		sub_call_give(s);
		w->reopen_at_ms = now + REOPEN_MS;
		return;
	}
	w->reopen_at_ms = now + REOPEN_MS; /* after an end, not sooner than this */
	gx_log_debug("commit events stream open from block %llu", (unsigned long long)w->last_block);
}

/* A job the stream showed: committed at block (now, or when its running call ends). */
static void seen(struct sub *s, struct job *j, uint64_t block)
{
	j->seen_block = block;
	j->seen = true;
	if (j->op_active)
		return;
	if (j->status_wait) {
		j->status_wait = false;
		s->nstatus_wait--;
	}
	sub_unpark(s, j); /* an earlier copy of the same tx id (a re-send) was the one ordered */
	/* valid on the ledger: that outweighs a retry or release decided before the block was seen */
	if (j->awaiting || j->outcome == OUT_NONE || j->outcome == OUT_RETRY || j->outcome == OUT_RELEASE) {
		j->awaiting = false;
		sub_job_committed(s, j, block, "events");
	}
}

void sub_watch_poll(struct sub *s, int64_t now)
{
	struct sub_watch *w = &s->watch;
	struct watch_block *head;
	bool up;

	pthread_mutex_lock(&s->lock);
	head = w->head;
	w->head = NULL;
	w->tail = &w->head;
	pthread_mutex_unlock(&s->lock);
	while (head) {
		struct watch_block *b = head;

		head = b->next;
		sub_watch_block(s, b->block);
		for (size_t i = 0; i < b->n; i++) {
			struct job *j = find(s, b->tx + i * GX_FABRIC_TXID_SIZE);

			if (j && !j->seen)
				seen(s, j, b->block);
		}
		free(b);
	}
	open_stream(s, now);
	up = atomic_load(&w->open);
	/* the fallback: CommitStatus for what the stream has not shown in time (looked at every FALLBACK_SCAN_MS) */
	for (size_t i = 0; now >= w->next_scan_ms && i < s->njobs; i++) {
		struct job *j = s->jobs[i];

		if (!j->awaiting)
			continue;
		if (up && now - j->await_ms < s->cfg->commit_fallback_ms &&
		    (!w->have_block || w->last_block < j->await_block + NEWER_BLOCKS))
			continue;
		if (!sub_call_take(s, false))
			break;
		j->awaiting = false;
		sub_job_ask_status(s, j);
	}
	if (now >= w->next_scan_ms)
		w->next_scan_ms = now + FALLBACK_SCAN_MS;
	/* parked sends, first in first out, while the budget allows */
	while (s->watch.park_head) {
		struct job *j = s->watch.park_head;
		struct gx_fabric_proposal *p = j->parked;

		if (atomic_load(&s->draining)) {
			unpark(s, j);
			j->parked = NULL;
			gx_fabric_msg_proposal_free(p);
			sub_job_release(j);
			continue;
		}
		if (!sub_call_take(s, false))
			break;
		unpark(s, j);
		j->parked = NULL;
		sub_job_start(s, j, p);
	}
	gx_metrics_set(sub_m.calls, NULL, atomic_load(&s->ncalls));
}

void sub_watch_stop(struct sub *s)
{
	struct sub_watch *w = &s->watch;

	if (atomic_load(&w->open))
		gx_fabric_client_cancel(s->clients[GX_CC_ID_PARTNER], w->stream_id);
}

void sub_watch_free(struct sub *s)
{
	struct watch_block *b = s->watch.head;

	while (b) {
		struct watch_block *n = b->next;

		free(b);
		b = n;
	}
	free(s->watch.buckets);
}
