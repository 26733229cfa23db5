/* outbox-submitter: private declarations shared by the engine's files (not a public header: main.c sees only
 * submitter.h). The engine is split along its protocol (docs/outbox-submitter.md):
 *   submitter.c  the database thread's loop, periodic work, and the lifecycle behind submitter.h
 *   claim.c      claim a batch, map each row to a chaincode call, persist its proposal, the session setup
 *   deliver.c    send, take Fabric results back, classify them into outcomes, backoff and the in-flight window
 *   settle.c     write the outcomes: one table row per outcome (statement, columns, metrics)
 * One way: submitter.c -> claim.c, settle.c -> deliver.c. Everything here runs on the database thread unless noted.
 */
#ifndef SUBMITTER_INT_H
#define SUBMITTER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gx/chaincode.h"
#include "gx/fabric_client.h"
#include "gx/outbox_store.h"
#include "gx/log.h"
#include "gx/pg_sync.h"
#include "gx/rollwin.h"
#include "submitter.h"

#define MSG_MAX 1000
#define SUB_MAX_ID_SLOTS 64 /* host-name suffixes tried: -2 .. -64 */

enum job_outcome {
	OUT_NONE, /* sent, waiting for the Fabric callback */
	OUT_COMMITTED,
	OUT_FAILED,
	OUT_RETRY,   /* back to PENDING after delay_ms */
	OUT_RELEASE, /* drain: back to PENDING now */
	OUT_RESEND,  /* MVCC conflict: new proposal in prop, persist then send */
};

/* One claimed command. Owned by the database thread (listed in s->jobs) from claim until its outcome is written;
 * while a Fabric operation runs, only the callback touches res and next. */
struct job {
	struct sub *s;
	struct job *next; /* done queue link */
	size_t slot;      /* index in s->jobs */
	char *id;
	char *request_id, *trace_id; /* of the API request that enqueued it ("" when unknown) */
	struct gx_log_ctx log;       /* request_id and trace_id, for every line about the command */
	struct gx_cc_call call;
	int attempts; /* counted attempts including the current send */
	int mvcc;     /* re-endorsements after MVCC conflicts */
	int64_t sent_us;
	int64_t created_ms;
	uint64_t op_id;
	bool op_active;
	char tx_id[GX_FABRIC_TXID_SIZE];
	struct gx_fabric_result res;
	enum job_outcome outcome;
	uint64_t block;
	char *code, *msg; /* FAILED/RETRY reason */
	long long delay_ms;
	int uncount;
	/* Submit succeeded but its outcome is unknown: only CommitStatus may follow (docs/outbox-submitter.md) */
	bool status_wait;
	int status_tries;
	int64_t status_at_ms;
	struct gx_fabric_proposal *prop; /* RESEND only */
};

struct probe {
	struct sub *s;
	atomic_bool active;
};

struct sub {
	const struct sub_cfg *cfg;
	char *worker_id;   /* the name this session holds (database thread; design.md §7) */
	char *id_base;     /* WORKER_ID, or the host name when it is empty */
	bool id_fixed;     /* WORKER_ID was set: it is the only name tried */
	int id_slot;       /* worker_id is id_base (1) or id_base-<slot> */
	atomic_bool id_ok; /* false while the configured name is held by another live process (id_reason) */
	long long drain_ms;
	struct gx_fabric_id *ids[SUB_NIDS];
	struct gx_fabric_client *clients[SUB_NIDS];
	pthread_t fab_threads[SUB_NIDS];
	bool fab_started[SUB_NIDS];
	pthread_t db_thread;
	bool db_started;
	int efd;

	pthread_mutex_t lock; /* guards the done queue, peer_reason and id_reason */
	struct job *done_head, **done_tail;
	char peer_reason[200];
	char id_reason[200];
	atomic_bool draining;
	_Atomic int64_t drain_start_ms;
	atomic_bool peer_ok;
	atomic_bool no_plan; /* the last probe got FAILED_PRECONDITION (gx_outbox_peer_no_endorsers) */
	_Atomic int64_t heartbeat_ms;
	_Atomic int64_t queue_depth;       /* last PENDING count read, for /health */
	struct gx_rollwin calls[SUB_NIDS]; /* Fabric operations per identity: noted by the database thread */
	struct probe probe;

	/* database thread only */
	struct gx_pgs *db; /* the session: the outbox store's statements, LISTEN gx_outbox */
	struct job **jobs;
	size_t njobs, cap;
	bool wake, cancelled;
	double window;       /* adaptive in-flight limit, 1..max_in_flight */
	size_t nstatus_wait; /* jobs with status_wait set */
	int64_t last_shrink_ms;
	int64_t next_poll_ms, next_renew_ms, next_gauge_ms, next_probe_ms, next_flush_ms;
};

/* The engine's metrics (registered by sub_start). The orig_* ones carry the original submitter's names
 * (docs/compat.md). */
struct sub_metrics {
	struct gx_metric *processed, *depth, *inflight, *oldest, *submit, *commit;
	struct gx_metric *orig_processed, *orig_depth, *orig_duration, *orig_status, *no_plan;
};
extern struct sub_metrics sub_m;

/* Count n commands settled with outcome (gx_outbox_processed_total and the original's status beside it). */
void sub_count(const char *outcome, double n);
/* Wake the database thread (any thread). */
void sub_wake(struct sub *s);
/* Record what the peer probe or a send learnt about the peer (ok, or why not). */
void sub_peer_state(struct sub *s, bool ok, const char *why);

/* claim.c */
/* A copy of msg fit for a TEXT column: control and non-ASCII bytes become '?', at most MSG_MAX bytes. */
char *sub_clean_msg(const char *msg);
/* The JSON stored as payload._submission for proposal p. Caller frees. */
char *sub_submission_json(const struct gx_fabric_proposal *p);
/* Claim up to n commands, persist their proposals and send them. Returns the rows claimed, -1 on a database
 * failure (logged, rolled back). */
int sub_claim(struct sub *s, size_t n);
/* Connect when due and set the new session up: the worker's name, LISTEN, and the release of every row leased
 * under that name that s does not hold. */
void sub_db_connect(struct sub *s, bool now);
/* The ids of every command s holds, as one array literal (the renewal's and the release's parameter). */
void sub_held_ids(const struct sub *s, struct gx_outbox_store_arr *a);

/* deliver.c */
/* A new job for command id, enqueued by the request with X-Request-Id request_id and trace id trace_id ("" when
 * unknown; all copied), listed in s->jobs (owned there until sub_job_free). */
struct job *sub_job_new(struct sub *s, const char *id, const char *request_id, const char *trace_id);
void sub_job_free(struct sub *s, struct job *j);
/* Start the transact of p for j (p is consumed); a call that cannot start becomes a retry. */
void sub_job_send(struct sub *s, struct job *j, struct gx_fabric_proposal *p);
/* Take every queued Fabric result and classify it into an outcome. */
void sub_take_done(struct sub *s);
/* Ask CommitStatus again for the submitted jobs whose time has come (on drain: release them instead). */
void sub_status_due(struct sub *s, int64_t now);

/* A line about job j's command: its request id and trace id as the context, its id as "commandId" (design.md §8). */
#define sub_job_log(level, j, ...) \
	gx_log_write((level), &(j)->log, GX_LOG_FIELDS(GX_LOG_STR("commandId", (j)->id)), __VA_ARGS__)

/* settle.c */
/* Write every settled outcome (retried after FLUSH_RETRY_MS when the database fails). */
void sub_flush(struct sub *s);

#endif
