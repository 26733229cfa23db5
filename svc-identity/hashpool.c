/* bcrypt off the event loop: a process-wide pool of threads running gx_password_* and per-worker completion queues
 * that deliver results on the worker's event_base (an event made active from the pool thread; libevent is set up
 * for threads by the HTTP server).
 *
 * Isolation: at most one job per account (a profile id, or "email:<address>" before one is known) is waiting or
 * running at a time, and at most max_queue jobs wait overall; idy_hash_submit refuses the rest at once (the caller
 * answers 503 BUSY), so one account hammering password operations holds at most one thread and others' logins wait
 * behind at most one of its hashes.
 *
 * Lifetime: a queue is reference counted (its owner plus one per outstanding job) because a pool thread may finish
 * a job after the worker's loop ended. The owner marks it dead in idy_hashq_free; whoever drops the last reference
 * frees it. Jobs of a dead queue are dropped without running their callback.
 */
#include "identity.h"

#include "gx/log.h"
#include "gx/password.h"
#include "gx/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct idy_hash_job {
	struct idy_hash_job *next;          /* pool queue, then the completion list */
	struct idy_hash_job *iprev, *inext; /* the pool's in-flight list (submitted, not yet finished) */
	struct idy_hashq *q;
	enum idy_hash_op op;
	char *account;
	char *pw, *current; /* secrets, wiped */
	char *hash;         /* VERIFY/CHANGE input */
	char *email, *first, *last;
	bool check;
	int cost;
	struct idy_hash_result res;
	char *result; /* the new hash */
	char issue[160];
	idy_hash_cb cb; /* NULL once cancelled (worker thread only) */
	void *arg;
};

struct idy_hashq {
	pthread_mutex_t mu;
	struct event *ev;
	struct idy_hash_job *done_head, *done_tail; /* under mu */
	int refs;                                   /* under mu */
	bool dead;                                  /* under mu */
	struct idy_hashpool *pool;
};

struct idy_hashpool {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct idy_hash_job *head, *tail; /* waiting jobs, under mu */
	struct idy_hash_job *inflight;    /* waiting or running jobs, under mu: one per account */
	int waiting, max_queue;
	bool stop;
	pthread_t *threads;
	int nthreads;
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void job_free(struct idy_hash_job *j)
{
	wipe_free(j->pw);
	wipe_free(j->current);
	free(j->account);
	free(j->hash);
	free(j->email);
	free(j->first);
	free(j->last);
	free(j->result);
	free(j);
}

/* pool mu held */
static void inflight_remove(struct idy_hashpool *p, struct idy_hash_job *j)
{
	if (j->iprev)
		j->iprev->inext = j->inext;
	else if (p->inflight == j)
		p->inflight = j->inext;
	if (j->inext)
		j->inext->iprev = j->iprev;
	j->iprev = j->inext = NULL;
}

/* pool mu held */
static bool account_busy(const struct idy_hashpool *p, const char *account)
{
	for (const struct idy_hash_job *j = p->inflight; j; j = j->inext)
		if (strcmp(j->account, account) == 0)
			return true;
	return false;
}

/* Drop n references of q (mu held by the caller); returns true when q must be freed after unlocking. */
static bool q_unref_locked(struct idy_hashq *q, int n)
{
	q->refs -= n;
	return q->refs == 0 && q->dead;
}

static void q_destroy(struct idy_hashq *q)
{
	pthread_mutex_destroy(&q->mu);
	free(q);
}

/* A pool thread finished j: hand it to its queue, or drop it when the queue is dead. */
static void deliver(struct idy_hash_job *j)
{
	struct idy_hashq *q = j->q;
	bool destroy = false;

	pthread_mutex_lock(&q->mu);
	if (q->dead) {
		destroy = q_unref_locked(q, 1);
		pthread_mutex_unlock(&q->mu);
		job_free(j);
		if (destroy)
			q_destroy(q);
		return;
	}
	j->next = NULL;
	if (q->done_tail)
		q->done_tail->next = j;
	else
		q->done_head = j;
	q->done_tail = j;
	event_active(q->ev, EV_READ, 0);
	pthread_mutex_unlock(&q->mu);
}

/* The quality check (when asked), then the new hash. */
static void make_hash(struct idy_hash_job *j)
{
	j->res.verdict = j->check ? gx_password_check(j->pw, j->email, j->first, j->last, j->issue, sizeof(j->issue))
				  : GX_PASSWORD_OK;
	if (j->res.verdict != GX_PASSWORD_OK) {
		j->res.issue = j->issue;
		return;
	}
	j->result = gx_password_hash(j->pw, j->cost);
	j->res.hash = j->result;
}

static void run_job(struct idy_hash_job *j)
{
	switch (j->op) {
	case IDY_HASH_MAKE:
		make_hash(j);
		break;
	case IDY_HASH_VERIFY:
		j->res.matched = gx_password_verify(j->pw, j->hash);
		break;
	case IDY_HASH_BURN:
		gx_password_burn(j->pw);
		break;
	case IDY_HASH_CHANGE:
		j->res.matched = gx_password_verify(j->current, j->hash);
		if (j->res.matched)
			make_hash(j);
		break;
	}
}

static void *pool_thread(void *arg)
{
	struct idy_hashpool *p = arg;

	for (;;) {
		struct idy_hash_job *j;

		pthread_mutex_lock(&p->mu);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->waiting--;
		pthread_mutex_unlock(&p->mu);
		run_job(j);
		pthread_mutex_lock(&p->mu);
		inflight_remove(p, j);
		pthread_mutex_unlock(&p->mu);
		deliver(j);
	}
}

struct idy_hashpool *idy_hashpool_new(int threads, int max_queue)
{
	struct idy_hashpool *p = gx_xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->max_queue = max_queue > 0 ? max_queue : 1;
	p->threads = gx_xcalloc((size_t)(threads > 0 ? threads : 1), sizeof(*p->threads));
	for (int i = 0; i < (threads > 0 ? threads : 1); i++) {
		if (pthread_create(&p->threads[i], NULL, pool_thread, p) != 0) {
			gx_log_error("cannot start bcrypt thread %d", i);
			idy_hashpool_free(p);
			return NULL;
		}
		p->nthreads++;
	}
	return p;
}

void idy_hashpool_free(struct idy_hashpool *p)
{
	struct idy_hash_job *j;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while ((j = p->head)) {
		struct idy_hashq *q = j->q;
		bool destroy;

		p->head = j->next;
		pthread_mutex_lock(&q->mu);
		destroy = q_unref_locked(q, 1);
		pthread_mutex_unlock(&q->mu);
		job_free(j);
		if (destroy)
			q_destroy(q);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

/* Worker thread: run the callbacks of finished jobs. */
static void on_done(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct idy_hashq *q = arg;
	struct idy_hash_job *list, *j;
	int n = 0;

	pthread_mutex_lock(&q->mu);
	list = q->done_head;
	q->done_head = q->done_tail = NULL;
	for (j = list; j; j = j->next)
		n++;
	q_unref_locked(q, n); /* the owner's reference keeps q alive while its loop runs */
	pthread_mutex_unlock(&q->mu);
	while ((j = list)) {
		list = j->next;
		if (j->cb) {
			idy_hash_cb cb = j->cb;
			j->cb = NULL;
			cb(&j->res, j->arg);
		}
		job_free(j);
	}
}

struct idy_hashq *idy_hashq_new(struct idy_hashpool *p, struct event_base *base)
{
	struct idy_hashq *q = gx_xcalloc(1, sizeof(*q));

	pthread_mutex_init(&q->mu, NULL);
	q->pool = p;
	q->refs = 1;
	q->ev = event_new(base, -1, 0, on_done, q);
	if (!q->ev) {
		gx_log_error("cannot create the bcrypt completion event");
		q_destroy(q);
		return NULL;
	}
	return q;
}

void idy_hashq_free(struct idy_hashq *q)
{
	struct idy_hash_job *list, *j;
	int n = 0;
	bool destroy;

	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->dead = true;
	list = q->done_head;
	q->done_head = q->done_tail = NULL;
	for (j = list; j; j = j->next)
		n++;
	destroy = q_unref_locked(q, n + 1);
	pthread_mutex_unlock(&q->mu);
	/* no pool thread touches q->ev once dead is set */
	event_free(q->ev);
	q->ev = NULL;
	while ((j = list)) {
		list = j->next;
		job_free(j);
	}
	if (destroy)
		q_destroy(q);
}

static char *dup_or_null(const char *s)
{
	return s ? gx_xstrdup(s) : NULL;
}

struct idy_hash_job *idy_hash_submit(struct idy_hashq *q, const struct idy_hash_spec *spec, idy_hash_cb cb, void *arg,
				     enum idy_hash_refusal *why)
{
	struct idy_hashpool *p;
	struct idy_hash_job *j;

	*why = IDY_HASH_FULL;
	if (!q)
		return NULL;
	p = q->pool;
	pthread_mutex_lock(&p->mu);
	if (p->waiting >= p->max_queue || p->stop) {
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	if (account_busy(p, spec->account)) {
		pthread_mutex_unlock(&p->mu);
		*why = IDY_HASH_ACCOUNT_BUSY;
		return NULL;
	}
	j = gx_xcalloc(1, sizeof(*j));
	j->q = q;
	j->op = spec->op;
	j->account = gx_xstrdup(spec->account);
	j->pw = gx_xstrdup(spec->pw ? spec->pw : "");
	j->current = dup_or_null(spec->current);
	j->hash = dup_or_null(spec->hash);
	j->email = dup_or_null(spec->email);
	j->first = dup_or_null(spec->first);
	j->last = dup_or_null(spec->last);
	j->check = spec->check;
	j->cost = spec->cost;
	j->cb = cb;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	q->refs++;
	pthread_mutex_unlock(&q->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->waiting++;
	j->inext = p->inflight;
	if (p->inflight)
		p->inflight->iprev = j;
	p->inflight = j;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return j;
}

void idy_hash_cancel(struct idy_hash_job *job)
{
	if (job)
		job->cb = NULL;
}
