/* outbox-submitter: delivery (submitter_int.h). Sends a command's proposal through the Fabric client of its
 * identity, takes results back from the poll threads (on_result only queues) and decides on the database thread
 * what each means: COMMITTED, FAILED, a retry with backoff, a re-endorsement after an MVCC conflict, or a release on
 * drain (docs/outbox-submitter.md). Also the jobs' list and the adaptive in-flight window. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/cc_error.h"
#include "gx/fabric_error.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/rand.h"
#include "gx/util.h"
#include "submitter_int.h"

struct job *sub_job_new(struct sub *s, const char *id, const char *request_id, const char *trace_id)
{
	struct job *j = gx_xcalloc(1, sizeof(*j));

	j->s = s;
	j->id = gx_xstrdup(id);
	j->request_id = gx_xstrdup(request_id);
	j->trace_id = gx_xstrdup(trace_id);
	j->log = (struct gx_log_ctx){ j->request_id, j->trace_id, NULL };
	if (s->njobs == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->jobs = gx_xrealloc(s->jobs, s->cap * sizeof(*s->jobs));
	}
	j->slot = s->njobs;
	s->jobs[s->njobs++] = j;
	return j;
}

void sub_job_free(struct sub *s, struct job *j)
{
	size_t last = s->njobs - 1;

	sub_watch_remove(s, j);
	sub_unpark(s, j);
	if (j->status_wait)
		s->nstatus_wait--;
	s->jobs[j->slot] = s->jobs[last];
	s->jobs[j->slot]->slot = j->slot;
	s->njobs = last;
	gx_cc_call_release(&j->call);
	gx_fabric_client_result_release(&j->res);
	gx_fabric_msg_proposal_free(j->prop);
	free(j->id);
	free(j->request_id);
	free(j->trace_id);
	free(j->code);
	free(j->msg);
	free(j);
}

static void job_settle(struct job *j, enum job_outcome o, const char *code, char *msg_owned)
{
	j->outcome = o;
	free(j->code);
	free(j->msg);
	j->code = code ? gx_xstrdup(code) : NULL;
	j->msg = msg_owned ? sub_clean_msg(msg_owned) : NULL;
	free(msg_owned);
}

/* Fabric poll thread: hand the result to the database thread. */
static void on_result(struct gx_fabric_result *r, void *arg)
{
	struct job *j = arg;
	struct sub *s = j->s;

	j->res = *r;
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&s->lock);
	j->next = NULL;
	*s->done_tail = j;
	s->done_tail = &j->next;
	pthread_mutex_unlock(&s->lock);
	sub_wake(s);
}

/* Start Endorse + Submit of p for j with one unit of the call budget held (p is consumed). */
void sub_job_start(struct sub *s, struct job *j, struct gx_fabric_proposal *p)
{
	int rc;

	j->sent_us = gx_mono_us();
	j->op_active = true;
	gx_log_set_ctx(&j->log); /* the client's own lines while starting the call are about this command */
	rc = gx_fabric_client_endorse_submit(s->clients[j->call.identity], p, on_result, j, &j->op_id);
	gx_log_set_ctx(NULL);
	if (rc < 0) {
		j->op_active = false;
		sub_call_give(s);
		j->delay_ms = s->cfg->backoff_base_ms;
		job_settle(j, OUT_RETRY, "FABRIC_LOCAL", gx_xstrdup("could not start the Fabric call"));
	}
	gx_fabric_msg_proposal_free(p);
}

/* Send p for j (p is consumed): at once when the call budget has room, else queued (watch.c). */
void sub_job_send(struct sub *s, struct job *j, struct gx_fabric_proposal *p)
{
	sub_watch_remove(s, j); /* a new proposal (MVCC) has a new tx id */
	memcpy(j->tx_id, p->tx_id, sizeof(j->tx_id));
	j->outcome = OUT_NONE;
	j->seen = j->awaiting = false;
	sub_watch_add(s, j);
	if (sub_call_take(s, false))
		sub_job_start(s, j, p);
	else
		sub_park(s, j, p);
}

void sub_job_release(struct job *j)
{
	job_settle(j, OUT_RELEASE, NULL, NULL);
}

void sub_job_committed(struct sub *s, struct job *j, uint64_t block, const char *source)
{
	const char *v[] = { source };
	double secs = (double)(gx_mono_us() - j->sent_us) / 1e6;

	gx_metrics_observe(sub_m.submit, NULL, secs);
	gx_metrics_observe(sub_m.orig_duration, NULL, secs);
	if (s->window < (double)s->cfg->max_in_flight)
		s->window += 0.2;
	j->block = block;
	sub_watch_block(s, block);
	gx_metrics_add(sub_m.commit_source, v, 1);
	job_settle(j, OUT_COMMITTED, NULL, NULL);
	atomic_store(&s->peer_ok, true);
}

static long long backoff_ms(const struct sub_cfg *c, int attempts)
{
	long long d = c->backoff_base_ms;
	uint32_t r = 0;

	for (int i = 1; i < attempts && d < c->backoff_max_ms; i++)
		d *= 2;
	if (d > c->backoff_max_ms)
		d = c->backoff_max_ms;
	if (gx_rand_bytes(&r, sizeof(r)) < 0)
		r = (uint32_t)gx_mono_us();
	/* full range jitter in [d/2, d] */
	return d / 2 + (long long)((double)(d - d / 2) * ((double)r / 4294967296.0));
}

/* The errorCode for a Fabric failure. */
static void error_code(const struct gx_fabric_error *e, char *out, size_t n)
{
	switch (e->kind) {
	case GX_FABRIC_ERR_GRPC:
		snprintf(out, n, "FABRIC_%s", gx_fabric_error_grpc_name(e->grpc_code));
		break;
	case GX_FABRIC_ERR_TX_INVALID:
		snprintf(out, n, "TX_%s", gx_fabric_error_tx_name(e->tx_code));
		break;
	case GX_FABRIC_ERR_PROTOCOL:
		snprintf(out, n, "FABRIC_PROTOCOL");
		break;
	default:
		snprintf(out, n, "FABRIC_LOCAL");
		break;
	}
}

/* The chaincode's own message of a chaincode failure ("insufficient balance ..."), else the full description. */
static char *chaincode_message(const struct gx_fabric_error *e)
{
	static const char tag[] = "chaincode response ";
	const char *src[1 + 8];
	size_t n = 0;

	if (e->kind == GX_FABRIC_ERR_CHAINCODE && e->message)
		return gx_xstrdup(e->message);
	for (size_t i = 0; i < e->n_details && n < 8; i++)
		src[n++] = e->details[i].message;
	src[n++] = e->message;
	for (size_t i = 0; i < n; i++) {
		const char *p = src[i] ? strstr(src[i], tag) : NULL;

		if (!p)
			continue;
		p += sizeof(tag) - 1;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == ',')
			p++;
		while (*p == ' ')
			p++;
		return gx_xstrdup(p);
	}
	return gx_fabric_error_describe(e);
}

/* The peer is saturated: deadlines ran out or it refused work. */
static bool overloaded(const struct gx_fabric_error *e)
{
	if (e->kind != GX_FABRIC_ERR_GRPC)
		return false;
	return e->grpc_code == 4 /* DEADLINE_EXCEEDED */ || e->grpc_code == 8 /* RESOURCE_EXHAUSTED */ ||
	       (e->message && strstr(e->message, "too many requests"));
}

/* Multiplicative decrease of the in-flight window, at most once a second (additive increase on each commit). */
static void shrink_window(struct sub *s)
{
	int64_t now = gx_now_ms();

	if (now - s->last_shrink_ms < 1000)
		return;
	s->last_shrink_ms = now;
	s->window = s->window * 0.7 < 50 ? 50 : s->window * 0.7;
	gx_log_info("peer overloaded: in-flight window lowered to %.0f", s->window);
}

/* Ask the commit status of j's tx id (the transaction may be ordered already) with one unit of the call budget
 * held; a call that cannot start becomes a retry. */
void sub_job_ask_status(struct sub *s, struct job *j)
{
	int rc;

	j->op_active = true;
	gx_log_set_ctx(&j->log);
	rc = gx_fabric_client_commit_status(s->clients[j->call.identity], j->tx_id, 0, on_result, j, &j->op_id);
	gx_log_set_ctx(NULL);
	if (rc == 0)
		return;
	j->op_active = false;
	sub_call_give(s);
	j->delay_ms = backoff_ms(s->cfg, j->attempts);
	job_settle(j, OUT_RETRY, "FABRIC_LOCAL", gx_xstrdup("could not start CommitStatus"));
}

/* CommitStatus for j now, or as soon as the call budget has room. */
static void ask_status(struct sub *s, struct job *j)
{
	if (sub_call_take(s, false)) {
		sub_job_ask_status(s, j);
		return;
	}
	j->status_at_ms = 0;
	if (!j->status_wait)
		s->nstatus_wait++;
	j->status_wait = true;
}

/* Submit succeeded and CommitStatus failed (deadline, peer restart): the transaction may be ordered, so nothing but
 * CommitStatus may follow until its outcome is known; asked again after a backoff, not counted as an attempt. */
static void wait_status(struct sub *s, struct job *j, const struct gx_fabric_error *e)
{
	char *d = gx_fabric_error_describe(e);

	j->status_tries++;
	j->status_at_ms = gx_now_ms() + backoff_ms(s->cfg, j->status_tries);
	if (!j->status_wait)
		s->nstatus_wait++;
	j->status_wait = true;
	sub_job_log(GX_LOG_INFO, j, "command %s: tx %s submitted, commit status unknown (%s); asking again in %lld ms",
		    j->id, j->tx_id, d, (long long)(j->status_at_ms - gx_now_ms()));
	free(d);
}

void sub_status_due(struct sub *s, int64_t now)
{
	bool draining = atomic_load(&s->draining);

	if (s->nstatus_wait == 0)
		return;
	for (size_t i = 0; i < s->njobs; i++) {
		struct job *j = s->jobs[i];

		if (!j->status_wait || (!draining && now < j->status_at_ms))
			continue;
		if (draining) {
			j->status_wait = false;
			s->nstatus_wait--;
			job_settle(j, OUT_RELEASE, NULL, NULL); /* the next owner re-sends the same tx id */
			continue;
		}
		if (!sub_call_take(s, false))
			break;
		j->status_wait = false;
		s->nstatus_wait--;
		sub_job_ask_status(s, j);
	}
}

/* A counted attempt failed with code and description d (owned): again after a backoff, or FAILED at MAX_RETRIES. */
static void retry_counted(const struct sub_cfg *c, struct job *j, const char *code, char *d)
{
	if (j->attempts >= c->max_retries) {
		char *m = gx_xasprintf("gave up after %d attempts: %s", j->attempts, d);

		free(d);
		job_settle(j, OUT_FAILED, code, m);
		return;
	}
	j->delay_ms = backoff_ms(c, j->attempts);
	job_settle(j, OUT_RETRY, code, d);
}

/* FAILED_PRECONDITION: the gateway could not build an endorsement plan (another organization's peers down, or the
 * channel or chaincode unknown to the peer). */
static bool no_plan(const struct gx_fabric_error *e)
{
	return e->kind == GX_FABRIC_ERR_GRPC && e->grpc_code == 9 /* FAILED_PRECONDITION */;
}

/* Decide what a finished Fabric operation means for its command (database thread). */
static void classify(struct sub *s, struct job *j)
{
	const struct sub_cfg *c = s->cfg;
	struct gx_fabric_error *e = &j->res.err;
	char code[64];
	int cc;

	j->op_active = false;
	sub_call_give(s);
	if (j->seen) {
		/* the events stream showed the transaction valid while this call ran: that is the outcome */
		sub_job_committed(s, j, j->seen_block, "events");
		gx_fabric_client_result_release(&j->res);
		return;
	}
	gx_rollwin_note(&s->calls[j->call.identity], e->kind == GX_FABRIC_ERR_NONE, gx_now_ms());
	if (e->kind == GX_FABRIC_ERR_NONE && j->res.op == GX_FABRIC_OP_ENDORSE_SUBMIT) {
		/* ordered: the events stream (or the fallback CommitStatus) tells the outcome (watch.c) */
		j->awaiting = true;
		j->await_ms = gx_now_ms();
		j->await_block = s->watch.last_block;
		atomic_store(&s->peer_ok, true);
	} else if (e->kind == GX_FABRIC_ERR_NONE) {
		sub_job_committed(s, j, j->res.block, "commit_status");
	} else if (gx_fabric_error_is_duplicate(e)) {
		/* our own tx id is already on the ledger (a retry after an unknown outcome): ask how it ended */
		sub_job_log(GX_LOG_DEBUG, j, "command %s: tx %s already submitted; asking its commit status", j->id,
			    j->tx_id);
		gx_fabric_client_result_release(&j->res);
		ask_status(s, j);
		return;
	} else if (gx_fabric_error_needs_new_txid(e) && j->mvcc < c->mvcc_max) {
		j->mvcc++;
		sub_count("conflict", 1);
		sub_job_log(GX_LOG_DEBUG, j, "command %s: %s on tx %s; re-endorsing (%d)", j->id,
			    gx_fabric_error_tx_name(e->tx_code), j->tx_id, j->mvcc);
		j->prop = gx_fabric_msg_proposal_new(s->ids[j->call.identity], c->fabric.channel, c->fabric.chaincode,
						     j->call.function, (const char *const *)j->call.argv, j->call.argc);
		if (j->prop) {
			job_settle(j, OUT_RESEND, NULL, NULL);
		} else {
			j->delay_ms = backoff_ms(c, j->attempts);
			job_settle(j, OUT_RETRY, "FABRIC_LOCAL", gx_xstrdup("could not build a proposal"));
		}
	} else if ((cc = gx_fabric_error_chaincode_response(e)) > 0) {
		char *m = chaincode_message(e);

		/* by the contract's message, not the status (a contractapi chaincode answers 500 for all) */
		snprintf(code, sizeof(code), "CHAINCODE_%d", gx_cc_error_class(m, cc));
		job_settle(j, OUT_FAILED, code, m);
	} else if (atomic_load(&s->draining) && e->kind == GX_FABRIC_ERR_GRPC && e->grpc_code == 1 /* CANCELLED */) {
		job_settle(j, OUT_RELEASE, NULL, NULL);
	} else if (j->res.stage == GX_FABRIC_STAGE_COMMIT && e->kind == GX_FABRIC_ERR_GRPC &&
		   gx_fabric_error_retryable(e)) {
		wait_status(s, j, e);
	} else if (no_plan(e) && j->res.stage == GX_FABRIC_STAGE_ENDORSE) {
		char *d = gx_fabric_error_describe(e);

		error_code(e, code, sizeof(code));
		s->next_probe_ms = 0; /* readiness learns whether the channel or chaincode is unknown */
		retry_counted(c, j, code, d);
	} else if (gx_fabric_error_retryable(e)) {
		bool unreachable = e->kind == GX_FABRIC_ERR_GRPC && e->grpc_code == 14 /* UNAVAILABLE */ &&
				   j->res.stage == GX_FABRIC_STAGE_ENDORSE;
		char *d = gx_fabric_error_describe(e);

		error_code(e, code, sizeof(code));
		if (overloaded(e))
			shrink_window(s);
		if (unreachable) {
			/* nothing reached the peer: not an attempt; stop claiming until the probe sees the peer */
			sub_peer_state(s, false, d);
			j->uncount = 1;
			j->delay_ms = backoff_ms(c, 1);
			job_settle(j, OUT_RETRY, code, d);
		} else {
			retry_counted(c, j, code, d);
		}
	} else {
		error_code(e, code, sizeof(code));
		job_settle(j, OUT_FAILED, code, gx_fabric_error_describe(e));
	}
	gx_fabric_client_result_release(&j->res);
}

/* Take every queued Fabric result and classify it. */
void sub_take_done(struct sub *s)
{
	struct job *head;

	pthread_mutex_lock(&s->lock);
	head = s->done_head;
	s->done_head = NULL;
	s->done_tail = &s->done_head;
	pthread_mutex_unlock(&s->lock);
	while (head) {
		struct job *j = head;

		head = j->next;
		j->next = NULL;
		classify(s, j);
	}
}
