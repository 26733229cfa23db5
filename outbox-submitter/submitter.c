/* outbox-submitter engine: claim, map, persist the proposal, send, settle (see submitter.h and
 * docs/outbox-submitter.md). Everything that decides or writes runs on the database thread; Fabric callbacks only
 * queue their result. */
#include "submitter.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <mbedtls/base64.h>

#include "gx/chaincode.h"
#include "gx/fabric_client.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/rollwin.h"
#include "gx/pg.h"
#include "gx/rand.h"
#include "gx/util.h"

#define GAUGE_EVERY_MS 2000
#define PROBE_OK_EVERY_MS 5000
#define PROBE_DOWN_EVERY_MS 1000
#define HEARTBEAT_MAX_MS 30000
#define CANCEL_GRACE_MS 1500
#define FLUSH_RETRY_MS 1000
#define CONNECT_BACKOFF_MAX_MS 5000
#define MSG_MAX 1000

/* ---- SQL ---- */

/* Claim: the oldest open command of each aggregate when it is PENDING and due (a newer command never overtakes an
 * older open one), plus in-flight rows whose lease ran out (a dead replica's). Row locks with SKIP LOCKED make two
 * replicas claim disjoint sets; the outer re-check drops rows another replica changed meanwhile. */
static const char SQL_CLAIM[] =
	"SELECT o.\"id\", o.\"commandType\"::text AS ctype, o.\"payload\"::text AS payload, o.\"attempts\","
	" o.\"payload\"->'_submission'->>'proposal' AS prop, o.\"payload\"->'_submission'->>'signature' AS sig,"
	" (EXTRACT(EPOCH FROM o.\"createdAt\") * 1000)::bigint AS created_ms"
	" FROM \"OutboxCommand\" o"
	" WHERE o.\"id\" IN ("
	"  (SELECT p.\"id\" FROM \"OutboxCommand\" p"
	"   WHERE p.\"status\" = 'PENDING' AND p.\"nextAttemptAt\" <= now()"
	"   AND NOT EXISTS (SELECT 1 FROM \"OutboxCommand\" q WHERE p.\"aggregateId\" IS NOT NULL"
	"    AND q.\"aggregateId\" = p.\"aggregateId\" AND q.\"status\" IN ('PENDING', 'LOCKED', 'SUBMITTED')"
	"    AND (q.\"createdAt\", q.\"id\") < (p.\"createdAt\", p.\"id\"))"
	"   ORDER BY p.\"nextAttemptAt\", p.\"createdAt\" LIMIT $2)"
	"  UNION ALL"
	"  (SELECT p.\"id\" FROM \"OutboxCommand\" p WHERE p.\"status\" IN ('LOCKED', 'SUBMITTED')"
	"   AND p.\"leaseUntil\" < now() ORDER BY p.\"leaseUntil\" LIMIT $1))"
	" AND ((o.\"status\" = 'PENDING' AND o.\"nextAttemptAt\" <= now())"
	"  OR (o.\"status\" IN ('LOCKED', 'SUBMITTED') AND o.\"leaseUntil\" < now()))"
	" ORDER BY o.\"createdAt\", o.\"id\" LIMIT $1"
	" FOR UPDATE OF o SKIP LOCKED";

/* Persist the proposal about to be sent and take (or keep) the lease. $8: rows are locked by our claim
 * transaction; otherwise only rows we still own are touched. */
static const char SQL_PERSIST[] =
	"UPDATE \"OutboxCommand\" o SET \"status\" = 'SUBMITTED', \"lockedBy\" = $1, \"lockedAt\" = now(),"
	" \"leaseUntil\" = now() + $2::bigint * interval '1 millisecond',"
	" \"submittedAt\" = COALESCE(o.\"submittedAt\", now()), \"updatedAt\" = now(), \"fabricTxId\" = u.tx,"
	" \"attempts\" = o.\"attempts\" + u.inc,"
	" \"payload\" = CASE WHEN u.sub IS NULL THEN o.\"payload\""
	"  ELSE jsonb_set(o.\"payload\", '{_submission}', u.sub::jsonb) END,"
	" \"aggregateId\" = COALESCE(o.\"aggregateId\", u.agg)"
	" FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::int[]) AS u(id, tx, sub, agg, inc)"
	" WHERE o.\"id\" = u.id AND ($8::bool OR (o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'))"
	" RETURNING o.\"id\"";

static const char SQL_FAIL[] =
	"WITH upd AS (UPDATE \"OutboxCommand\" o SET \"status\" = 'FAILED', \"errorCode\" = u.code, \"error\" = u.msg,"
	"  \"lockedBy\" = NULL, \"leaseUntil\" = NULL, \"updatedAt\" = now()"
	"  FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, code, msg)"
	"  WHERE o.\"id\" = u.id AND ($5::bool OR (o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'))"
	"  RETURNING o.\"id\")"
	" SELECT upd.\"id\", pg_notify('gx_command_status', upd.\"id\") FROM upd";

static const char SQL_COMMIT[] =
	"WITH upd AS (UPDATE \"OutboxCommand\" o SET"
	"  \"status\" = CASE WHEN o.\"status\" = 'PROJECTED' THEN o.\"status\" ELSE 'COMMITTED' END,"
	"  \"commitBlock\" = u.blk, \"committedAt\" = COALESCE(o.\"committedAt\", now()), \"lockedBy\" = NULL,"
	"  \"leaseUntil\" = NULL, \"errorCode\" = NULL, \"error\" = NULL, \"updatedAt\" = now()"
	"  FROM unnest($1::text[], $2::bigint[]) AS u(id, blk)"
	"  WHERE o.\"id\" = u.id AND o.\"status\" IN ('PENDING', 'LOCKED', 'SUBMITTED', 'PROJECTED')"
	"  RETURNING o.\"id\", o.\"createdAt\")"
	" SELECT upd.\"id\", EXTRACT(EPOCH FROM now() - upd.\"createdAt\")::float8 AS age,"
	" pg_notify('gx_command_status', upd.\"id\") FROM upd";

/* Back to PENDING (retry with backoff, or release on drain); the stored proposal stays so the same tx id is sent
 * again. unc = 1 takes back the attempt the send counted (peer unreachable: nothing was sent). */
static const char SQL_RETRY[] =
	"UPDATE \"OutboxCommand\" o SET \"status\" = 'PENDING', \"lockedBy\" = NULL, \"leaseUntil\" = NULL,"
	" \"nextAttemptAt\" = now() + u.delay * interval '1 millisecond',"
	" \"errorCode\" = COALESCE(u.code, o.\"errorCode\"), \"error\" = COALESCE(u.msg, o.\"error\"),"
	" \"attempts\" = GREATEST(o.\"attempts\" - u.unc, 0), \"updatedAt\" = now()"
	" FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::int[]) AS u(id, delay, code, msg, unc)"
	" WHERE o.\"id\" = u.id AND o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'";

static const char SQL_DEFER[] =
	"UPDATE \"OutboxCommand\" SET \"nextAttemptAt\" = now() + interval '5 seconds', \"updatedAt\" = now()"
	" WHERE \"id\" = ANY($1::text[])";

static const char SQL_RENEW[] =
	"UPDATE \"OutboxCommand\" SET \"leaseUntil\" = now() + $2::bigint * interval '1 millisecond'"
	" WHERE \"lockedBy\" = $1 AND \"status\" IN ('LOCKED', 'SUBMITTED')";

static const char SQL_RELEASE_ALL[] =
	"UPDATE \"OutboxCommand\" SET \"status\" = 'PENDING', \"lockedBy\" = NULL, \"leaseUntil\" = NULL,"
	" \"nextAttemptAt\" = now(), \"updatedAt\" = now()"
	" WHERE \"lockedBy\" = $1 AND \"status\" IN ('LOCKED', 'SUBMITTED')";

static const char SQL_GAUGES[] =
	"SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(\"createdAt\")), 0)::float8"
	" FROM \"OutboxCommand\" WHERE \"status\" = 'PENDING'";

/* Every statement above is prepared once per connection under a fixed name and then run by name, so the server
 * parses and plans each text once per session instead of once per call. Keyed by the SQL constant's address. */
static const struct {
	const char *sql;
	const char *name;
} prep_stmts[] = {
	{ SQL_CLAIM, "sub_claim" },
	{ SQL_PERSIST, "sub_persist" },
	{ SQL_FAIL, "sub_fail" },
	{ SQL_COMMIT, "sub_commit" },
	{ SQL_RETRY, "sub_retry" },
	{ SQL_DEFER, "sub_defer" },
	{ SQL_RENEW, "sub_renew" },
	{ SQL_RELEASE_ALL, "sub_release_all" },
	{ SQL_GAUGES, "sub_gauges" },
};

#define SUB_NPREP GX_ARRAY_LEN(prep_stmts)

/* ---- state ---- */

enum job_outcome {
	OUT_NONE,	/* sent, waiting for the Fabric callback */
	OUT_COMMITTED,
	OUT_FAILED,
	OUT_RETRY,	/* back to PENDING after delay_ms */
	OUT_RELEASE,	/* drain: back to PENDING now */
	OUT_RESEND,	/* MVCC conflict: new proposal in prop, persist then send */
};

/* One claimed command. Owned by the database thread (listed in s->jobs) from claim until its outcome is written;
 * while a Fabric operation runs, only the callback touches res and next. */
struct job {
	struct sub *s;
	struct job *next; /* done queue link */
	size_t slot;	  /* index in s->jobs */
	char *id;
	struct gx_cc_call call;
	int attempts;	  /* counted attempts including the current send */
	int mvcc;	  /* re-endorsements after MVCC conflicts */
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
	struct gx_fabric_proposal *prop; /* RESEND only */
};

struct probe {
	struct sub *s;
	atomic_bool active;
};

struct sub {
	const struct sub_cfg *cfg;
	char *conninfo;
	char *worker_id;
	long long drain_ms;
	struct gx_fabric_id *ids[SUB_NIDS];
	struct gx_fabric_client *clients[SUB_NIDS];
	pthread_t fab_threads[SUB_NIDS];
	bool fab_started[SUB_NIDS];
	pthread_t db_thread;
	bool db_started;
	int efd;

	pthread_mutex_t lock; /* guards the done queue and peer_reason */
	struct job *done_head, **done_tail;
	char peer_reason[200];
	atomic_bool draining;
	_Atomic int64_t drain_start_ms;
	atomic_bool peer_ok;
	_Atomic int64_t heartbeat_ms;
	_Atomic int64_t queue_depth;	   /* last PENDING count read, for /health */
	struct gx_rollwin calls[SUB_NIDS]; /* Fabric operations per identity: noted by the database thread */
	struct probe probe;

	/* database thread only */
	PGconn *pg;
	bool prepared[SUB_NPREP]; /* prep_stmts[i] is prepared on pg; cleared with the connection */
	int64_t next_connect_ms, connect_backoff_ms;
	struct job **jobs;
	size_t njobs, cap;
	bool wake, cancelled;
	double window;		  /* adaptive in-flight limit, 1..max_in_flight */
	int64_t last_shrink_ms;
	int64_t next_poll_ms, next_renew_ms, next_gauge_ms, next_probe_ms, next_flush_ms;
};

static struct gx_metric *m_processed, *m_depth, *m_inflight, *m_oldest, *m_submit, *m_commit;
/* the original submitter's names beside ours (docs/compat.md) */
static struct gx_metric *m_orig_processed, *m_orig_depth, *m_orig_duration, *m_orig_status;

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

static void count(const char *outcome, double n)
{
	const char *v[] = { outcome };
	const char *ov[] = { orig_status(outcome) };

	if (n <= 0)
		return;
	gx_metrics_add(m_processed, v, n);
	if (ov[0])
		gx_metrics_add(m_orig_processed, ov, n);
}

static void metrics_init(void)
{
	static const char *const outcome[] = { "outcome", NULL };
	static const char *const status[] = { "status", NULL };
	static const double commit_buckets[] = { 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600 };
	static const double orig_buckets[] = { 0.1, 0.5, 1, 2, 5, 10, 30 };

	m_processed = gx_metrics_counter("gx_outbox_processed_total",
					 "commands settled by outcome: committed, failed, mapping_error, retry, conflict, "
					 "released", outcome);
	m_depth = gx_metrics_gauge("gx_outbox_queue_depth", "PENDING commands in the outbox (all replicas)", NULL);
	m_inflight = gx_metrics_gauge("gx_outbox_in_flight", "commands this replica has claimed and not settled",
				      NULL);
	m_oldest = gx_metrics_gauge("gx_outbox_oldest_pending_seconds", "age of the oldest PENDING command", NULL);
	m_submit = gx_metrics_histogram("gx_outbox_submit_seconds",
					"one Fabric round trip: endorse, submit and commit status of one send", NULL,
					commit_buckets, GX_ARRAY_LEN(commit_buckets));
	m_commit = gx_metrics_histogram("gx_outbox_commit_seconds", "command creation to COMMITTED", NULL,
					commit_buckets, GX_ARRAY_LEN(commit_buckets));
	m_orig_processed = gx_metrics_counter("outbox_commands_processed_total",
					      "commands processed by status: success, failed (will retry), max_retries "
					      "(given up)", status);
	m_orig_depth = gx_metrics_gauge("outbox_queue_depth", "PENDING commands in the outbox (all replicas)", NULL);
	m_orig_duration = gx_metrics_histogram("outbox_processing_duration_seconds",
					       "one Fabric round trip: endorse, submit and commit status of one send",
					       NULL, orig_buckets, GX_ARRAY_LEN(orig_buckets));
	m_orig_status = gx_metrics_gauge("outbox_worker_status", "1 while the submitter loop runs", NULL);
}

static void wake(struct sub *s)
{
	uint64_t one = 1;
	ssize_t rc;

	rc = write(s->efd, &one, sizeof(one));
	(void)rc; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
}

/* ---- small helpers ---- */

/* Growable text buffer for PostgreSQL array literals. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_putc(struct sbuf *b, char c)
{
	if (b->len + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->p = gx_xrealloc(b->p, b->cap);
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

/* Append one element (NULL = SQL NULL) to an array literal under construction ("{" is added first). */
static void arr_add(struct sbuf *b, const char *v)
{
	sb_putc(b, b->len == 0 ? '{' : ',');
	if (!v) {
		for (const char *n = "NULL"; *n; n++)
			sb_putc(b, *n);
		return;
	}
	sb_putc(b, '"');
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			sb_putc(b, '\\');
		sb_putc(b, *v);
	}
	sb_putc(b, '"');
}

static void arr_addll(struct sbuf *b, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	arr_add(b, num);
}

/* Finish the literal; an empty array is "{}". Returns the text (owned by b). */
static const char *arr_end(struct sbuf *b)
{
	if (b->len == 0)
		sb_putc(b, '{');
	sb_putc(b, '}');
	return b->p;
}

static void arr_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A copy of msg fit for a TEXT column: control and non-ASCII bytes become '?', at most MSG_MAX bytes. */
static char *clean_msg(const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;
	char *out;

	if (n > MSG_MAX)
		n = MSG_MAX;
	out = gx_xstrndup(msg ? msg : "", n);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return out;
}

static char *b64(const struct gx_fabric_msg_buf *in)
{
	size_t cap = 4 * ((in->len + 2) / 3) + 1, olen = 0;
	char *out = gx_xmalloc(cap);

	if (mbedtls_base64_encode((unsigned char *)out, cap, &olen, in->data, in->len) != 0)
		out[0] = '\0';
	else
		out[olen] = '\0';
	return out;
}

/* Decode base64 text into a new buffer; NULL when malformed. */
static unsigned char *unb64(const char *in, size_t *len)
{
	size_t n = strlen(in), cap = n / 4 * 3 + 3;
	unsigned char *out = gx_xmalloc(cap);

	if (n == 0 || mbedtls_base64_decode(out, cap, len, (const unsigned char *)in, n) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The JSON stored as payload._submission for proposal p. Caller frees. */
static char *submission_json(const struct gx_fabric_proposal *p)
{
	char *prop = b64(&p->bytes), *sig = b64(&p->signature);
	char *out = gx_xasprintf("{\"txId\":\"%s\",\"proposal\":\"%s\",\"signature\":\"%s\"}", p->tx_id, prop, sig);

	free(prop);
	free(sig);
	return out;
}

/* Rebuild the stored proposal of a command; NULL when absent or unusable (a new one is then built). */
static struct gx_fabric_proposal *stored_proposal(const char *id, const char *prop_b64, const char *sig_b64)
{
	struct gx_fabric_error err = { 0 };
	struct gx_fabric_proposal *p = NULL;
	unsigned char *bytes = NULL, *sig = NULL;
	size_t blen = 0, slen = 0;

	if (!*prop_b64 || !*sig_b64)
		return NULL;
	bytes = unb64(prop_b64, &blen);
	sig = unb64(sig_b64, &slen);
	if (bytes && sig)
		p = gx_fabric_msg_proposal_parse(bytes, blen, sig, slen, &err);
	if (!p)
		gx_log_warn("command %s: stored proposal unusable (%s); building a new one", id,
			    err.message ? err.message : "bad base64");
	gx_fabric_error_release(&err);
	free(bytes);
	free(sig);
	return p;
}

/* ---- jobs ---- */

static struct job *job_new(struct sub *s, const char *id)
{
	struct job *j = gx_xcalloc(1, sizeof(*j));

	j->s = s;
	j->id = gx_xstrdup(id);
	if (s->njobs == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->jobs = gx_xrealloc(s->jobs, s->cap * sizeof(*s->jobs));
	}
	j->slot = s->njobs;
	s->jobs[s->njobs++] = j;
	return j;
}

static void job_free(struct sub *s, struct job *j)
{
	size_t last = s->njobs - 1;

	s->jobs[j->slot] = s->jobs[last];
	s->jobs[j->slot]->slot = j->slot;
	s->njobs = last;
	gx_cc_call_release(&j->call);
	gx_fabric_client_result_release(&j->res);
	gx_fabric_msg_proposal_free(j->prop);
	free(j->id);
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
	j->msg = msg_owned ? clean_msg(msg_owned) : NULL;
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
	wake(s);
}

/* Start the transact of p for j (p is consumed). */
static void job_send(struct sub *s, struct job *j, struct gx_fabric_proposal *p)
{
	memcpy(j->tx_id, p->tx_id, sizeof(j->tx_id));
	j->outcome = OUT_NONE;
	j->sent_us = gx_mono_us();
	j->op_active = true;
	if (gx_fabric_client_transact(s->clients[j->call.identity], p, on_result, j, &j->op_id) < 0) {
		j->op_active = false;
		j->delay_ms = s->cfg->backoff_base_ms;
		job_settle(j, OUT_RETRY, "FABRIC_LOCAL", gx_xstrdup("could not start the Fabric call"));
	}
	gx_fabric_msg_proposal_free(p);
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

static void probe_peer_state(struct sub *s, bool ok, const char *why)
{
	pthread_mutex_lock(&s->lock);
	if (ok)
		s->peer_reason[0] = '\0';
	else
		snprintf(s->peer_reason, sizeof(s->peer_reason), "peer unreachable: %s", why ? why : "?");
	pthread_mutex_unlock(&s->lock);
	atomic_store(&s->peer_ok, ok);
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

/* Decide what a finished Fabric operation means for its command (database thread). */
static void classify(struct sub *s, struct job *j)
{
	const struct sub_cfg *c = s->cfg;
	struct gx_fabric_error *e = &j->res.err;
	char code[64];
	int cc;

	j->op_active = false;
	gx_rollwin_note(&s->calls[j->call.identity], e->kind == GX_FABRIC_ERR_NONE, gx_now_ms());
	if (j->res.op == GX_FABRIC_OP_TRANSACT) {
		double secs = (double)(gx_mono_us() - j->sent_us) / 1e6;

		gx_metrics_observe(m_submit, NULL, secs);
		gx_metrics_observe(m_orig_duration, NULL, secs);
	}
	if (e->kind == GX_FABRIC_ERR_NONE) {
		if (s->window < (double)c->max_in_flight)
			s->window += 0.2;
		j->block = j->res.block;
		job_settle(j, OUT_COMMITTED, NULL, NULL);
		atomic_store(&s->peer_ok, true);
	} else if (gx_fabric_error_is_duplicate(e)) {
		/* our own tx id is already on the ledger (a retry after an unknown outcome): ask how it ended */
		gx_log_debug("command %s: tx %s already submitted; asking its commit status", j->id, j->tx_id);
		gx_fabric_client_result_release(&j->res);
		j->op_active = true;
		if (gx_fabric_client_commit_status(s->clients[j->call.identity], j->tx_id, 0, on_result, j,
						   &j->op_id) == 0)
			return;
		j->op_active = false;
		j->delay_ms = backoff_ms(c, j->attempts);
		job_settle(j, OUT_RETRY, "FABRIC_LOCAL", gx_xstrdup("could not start CommitStatus"));
	} else if (gx_fabric_error_needs_new_txid(e) && j->mvcc < c->mvcc_max) {
		j->mvcc++;
		count("conflict", 1);
		gx_log_debug("command %s: %s on tx %s; re-endorsing (%d)", j->id, gx_fabric_error_tx_name(e->tx_code),
			     j->tx_id, j->mvcc);
		j->prop = gx_fabric_msg_proposal_new(s->ids[j->call.identity], c->channel, c->chaincode,
						     j->call.function, (const char *const *)j->call.argv,
						     j->call.argc);
		if (j->prop) {
			job_settle(j, OUT_RESEND, NULL, NULL);
		} else {
			j->delay_ms = backoff_ms(c, j->attempts);
			job_settle(j, OUT_RETRY, "FABRIC_LOCAL", gx_xstrdup("could not build a proposal"));
		}
	} else if ((cc = gx_fabric_error_chaincode_response(e)) > 0) {
		snprintf(code, sizeof(code), "CHAINCODE_%d", cc);
		job_settle(j, OUT_FAILED, code, chaincode_message(e));
	} else if (atomic_load(&s->draining) && e->kind == GX_FABRIC_ERR_GRPC && e->grpc_code == 1 /* CANCELLED */) {
		job_settle(j, OUT_RELEASE, NULL, NULL);
	} else if (gx_fabric_error_retryable(e)) {
		bool unreachable = e->kind == GX_FABRIC_ERR_GRPC && e->grpc_code == 14 /* UNAVAILABLE */ &&
				   j->res.stage == GX_FABRIC_STAGE_ENDORSE;
		char *d = gx_fabric_error_describe(e);

		error_code(e, code, sizeof(code));
		if (overloaded(e))
			shrink_window(s);
		if (unreachable) {
			/* nothing reached the peer: not an attempt; stop claiming until the probe sees the peer */
			probe_peer_state(s, false, d);
			j->uncount = 1;
			j->delay_ms = backoff_ms(c, 1);
			job_settle(j, OUT_RETRY, code, d);
		} else if (j->attempts >= c->max_retries) {
			char *m = gx_xasprintf("gave up after %d attempts: %s", j->attempts, d);

			free(d);
			job_settle(j, OUT_FAILED, code, m);
		} else {
			j->delay_ms = backoff_ms(c, j->attempts);
			job_settle(j, OUT_RETRY, code, d);
		}
	} else {
		error_code(e, code, sizeof(code));
		job_settle(j, OUT_FAILED, code, gx_fabric_error_describe(e));
	}
	gx_fabric_client_result_release(&j->res);
}

/* Take every queued Fabric result and classify it. */
static void take_done(struct sub *s)
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

/* ---- database ---- */

static void db_drop(struct sub *s)
{
	if (s->pg)
		PQfinish(s->pg);
	s->pg = NULL;
	memset(s->prepared, 0, sizeof(s->prepared));
}

/* The prep_stmts index of sql, or -1 for a statement that is not prepared. */
static int prep_index(const char *sql)
{
	for (size_t i = 0; i < SUB_NPREP; i++)
		if (prep_stmts[i].sql == sql)
			return (int)i;
	return -1;
}

/* Prepare prep_stmts[i] on the current connection unless done already. Returns 0, or -1 (logged; a broken
 * connection is dropped). */
static int db_prepare(struct sub *s, const char *what, int i)
{
	PGresult *r;

	if (s->prepared[i])
		return 0;
	r = PQprepare(s->pg, prep_stmts[i].name, prep_stmts[i].sql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		gx_log_error("%s: preparing %s failed: %s", what, prep_stmts[i].name,
			     r ? PQresultErrorMessage(r) : PQerrorMessage(s->pg));
		PQclear(r);
		if (PQstatus(s->pg) != CONNECTION_OK)
			db_drop(s);
		return -1;
	}
	PQclear(r);
	s->prepared[i] = true;
	return 0;
}

/* Run one statement (by name when it is one of prep_stmts); returns the result (caller PQclear()s) or NULL (logged;
 * a broken connection is dropped). */
static PGresult *db_exec(struct sub *s, const char *what, const char *sql, int n, const char *const *params)
{
	PGresult *r;
	ExecStatusType st;
	int i = prep_index(sql);

	if (!s->pg)
		return NULL;
	if (i >= 0) {
		if (db_prepare(s, what, i) < 0)
			return NULL;
		r = PQexecPrepared(s->pg, prep_stmts[i].name, n, params, NULL, NULL, 0);
	} else if (n == 0) {
		r = PQexec(s->pg, sql); /* BEGIN, COMMIT, ROLLBACK, LISTEN: one simple-protocol message */
	} else {
		r = PQexecParams(s->pg, sql, n, NULL, params, NULL, NULL, 0);
	}
	st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	gx_log_error("%s failed: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(s->pg));
	PQclear(r);
	if (PQstatus(s->pg) != CONNECTION_OK)
		db_drop(s);
	return NULL;
}

static int db_simple(struct sub *s, const char *what, const char *sql)
{
	PGresult *r = db_exec(s, what, sql, 0, NULL);

	PQclear(r);
	return r ? 0 : -1;
}

static void db_connect(struct sub *s)
{
	int64_t now = gx_now_ms();

	memset(s->prepared, 0, sizeof(s->prepared)); /* a new session has no prepared statements */
	s->pg = gx_pg_connect_blocking(s->conninfo, "outbox-submitter");
	if (s->pg && db_simple(s, "LISTEN gx_outbox", "LISTEN gx_outbox") < 0)
		db_drop(s);
	if (!s->pg) {
		s->connect_backoff_ms = s->connect_backoff_ms ? s->connect_backoff_ms * 2 : 200;
		if (s->connect_backoff_ms > CONNECT_BACKOFF_MAX_MS)
			s->connect_backoff_ms = CONNECT_BACKOFF_MAX_MS;
		s->next_connect_ms = now + s->connect_backoff_ms;
		return;
	}
	PQsetnonblocking(s->pg, 0);
	s->connect_backoff_ms = 0;
	s->wake = true;
	gx_log_info("database connected; worker %s listening on gx_outbox", s->worker_id);
	/* Holding no job, any row leased under our worker id is an earlier process's (same WORKER_ID after a crash,
	 * e.g. a restarted pod): release it, or SQL_RENEW would keep its lease alive forever. */
	if (s->njobs == 0) {
		const char *p[] = { s->worker_id };
		PGresult *r = db_exec(s, "releasing orphaned leases", SQL_RELEASE_ALL, 1, p);

		if (r && atoi(PQcmdTuples(r)) > 0)
			gx_log_info("released %s commands leased by an earlier process of worker %s", PQcmdTuples(r),
				    s->worker_id);
		PQclear(r);
	}
}

static void rollback(struct sub *s)
{
	if (s->pg && PQtransactionStatus(s->pg) != PQTRANS_IDLE)
		(void)db_simple(s, "ROLLBACK", "ROLLBACK");
}

/* Mark rows FAILED (ids/codes/msgs: array literals) and notify; claiming: rows are locked by our transaction. */
static int db_fail(struct sub *s, const char *ids, const char *codes, const char *msgs, bool claiming)
{
	const char *p[] = { s->worker_id, ids, codes, msgs, claiming ? "true" : "false" };
	PGresult *r = db_exec(s, "marking commands FAILED", SQL_FAIL, 5, p);

	PQclear(r);
	return r ? 0 : -1;
}

/* ---- claim ---- */

/* Claim up to n commands, persist their proposals and send them. Returns the number of rows claimed, -1 on a
 * database failure. */
static int claim(struct sub *s, size_t n)
{
	const struct sub_cfg *c = s->cfg;
	struct sbuf ids = { 0 }, txs = { 0 }, subs = { 0 }, aggs = { 0 }, incs = { 0 };
	struct sbuf fids = { 0 }, fcodes = { 0 }, fmsgs = { 0 }, defer = { 0 };
	struct job **batch = NULL;
	struct gx_fabric_proposal **props = NULL;
	char lim[24], cand[24], lease[24];
	PGresult *r = NULL, *u = NULL;
	int rows = -1, nb = 0, nfail = 0, ndefer = 0;

	snprintf(lim, sizeof(lim), "%zu", n);
	snprintf(cand, sizeof(cand), "%zu", n * 4);
	snprintf(lease, sizeof(lease), "%lld", c->lease_ms);
	if (db_simple(s, "BEGIN", "BEGIN") < 0)
		return -1;
	{
		const char *p[] = { lim, cand };

		r = db_exec(s, "claiming commands", SQL_CLAIM, 2, p);
	}
	if (!r)
		goto fail;
	rows = PQntuples(r);
	if (rows == 0) {
		PQclear(r);
		return db_simple(s, "COMMIT", "COMMIT") < 0 ? -1 : 0;
	}
	batch = gx_xcalloc((size_t)rows, sizeof(*batch));
	props = gx_xcalloc((size_t)rows, sizeof(*props));
	for (int i = 0; i < rows; i++) {
		const char *id = gx_pg_val(r, i, "id");
		cJSON *payload = cJSON_Parse(gx_pg_val(r, i, "payload"));
		struct gx_cc_call call = { 0 };
		char err[256];
		struct gx_fabric_proposal *p;
		struct job *j;
		char *subj = NULL;

		if (gx_chaincode_map(gx_pg_val(r, i, "ctype"), payload, &call, err, sizeof(err)) < 0) {
			char *m = clean_msg(err);

			cJSON_Delete(payload);
			arr_add(&fids, id);
			arr_add(&fcodes, "MAPPING_ERROR");
			arr_add(&fmsgs, m);
			free(m);
			nfail++;
			gx_log_warn("command %s cannot be mapped: %s", id, err);
			continue;
		}
		cJSON_Delete(payload);
		p = stored_proposal(id, gx_pg_val(r, i, "prop"), gx_pg_val(r, i, "sig"));
		if (!p) {
			p = gx_fabric_msg_proposal_new(s->ids[call.identity], c->channel, c->chaincode, call.function,
						       (const char *const *)call.argv, call.argc);
			if (!p) {
				gx_cc_call_release(&call);
				arr_add(&defer, id);
				ndefer++;
				continue;
			}
			subj = submission_json(p);
		}
		j = job_new(s, id);
		j->call = call;
		j->attempts = atoi(gx_pg_val(r, i, "attempts")) + 1;
		j->created_ms = atoll(gx_pg_val(r, i, "created_ms"));
		memcpy(j->tx_id, p->tx_id, sizeof(j->tx_id));
		arr_add(&ids, id);
		arr_add(&txs, p->tx_id);
		arr_add(&subs, subj);
		arr_add(&aggs, call.aggregate);
		arr_addll(&incs, 1);
		free(subj);
		batch[nb] = j;
		props[nb++] = p;
	}
	if (nb > 0) {
		const char *p[] = { s->worker_id, lease, arr_end(&ids), arr_end(&txs), arr_end(&subs), arr_end(&aggs),
				    arr_end(&incs), "true" };

		u = db_exec(s, "persisting proposals", SQL_PERSIST, 8, p);
		if (!u)
			goto fail;
		PQclear(u);
	}
	if (nfail > 0 && db_fail(s, arr_end(&fids), arr_end(&fcodes), arr_end(&fmsgs), true) < 0)
		goto fail;
	if (ndefer > 0) {
		const char *p[] = { arr_end(&defer) };

		u = db_exec(s, "deferring commands", SQL_DEFER, 1, p);
		if (!u)
			goto fail;
		PQclear(u);
	}
	if (db_simple(s, "COMMIT", "COMMIT") < 0)
		goto fail;
	count("mapping_error", nfail);
	for (int i = 0; i < nb; i++)
		job_send(s, batch[i], props[i]);
	goto out;
fail:
	rollback(s);
	for (int i = 0; i < nb; i++) {
		gx_fabric_msg_proposal_free(props[i]);
		job_free(s, batch[i]);
	}
	rows = -1;
out:
	PQclear(r);
	free(batch);
	free(props);
	arr_free(&ids);
	arr_free(&txs);
	arr_free(&subs);
	arr_free(&aggs);
	arr_free(&incs);
	arr_free(&fids);
	arr_free(&fcodes);
	arr_free(&fmsgs);
	arr_free(&defer);
	return rows;
}

/* ---- settling outcomes ---- */

static int flush_committed(struct sub *s)
{
	struct sbuf ids = { 0 }, blks = { 0 };
	PGresult *r;
	int n = 0;

	for (size_t i = 0; i < s->njobs; i++) {
		if (s->jobs[i]->outcome != OUT_COMMITTED)
			continue;
		arr_add(&ids, s->jobs[i]->id);
		arr_addll(&blks, (long long)s->jobs[i]->block);
		n++;
	}
	if (n == 0)
		return 0;
	{
		const char *p[] = { arr_end(&ids), arr_end(&blks) };

		r = db_exec(s, "marking commands COMMITTED", SQL_COMMIT, 2, p);
	}
	arr_free(&ids);
	arr_free(&blks);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		gx_metrics_observe(m_commit, NULL, atof(gx_pg_val(r, i, "age")));
	count("committed", PQntuples(r)); /* rows this replica moved to COMMITTED */
	PQclear(r);
	for (size_t i = s->njobs; i-- > 0;)
		if (s->jobs[i]->outcome == OUT_COMMITTED)
			job_free(s, s->jobs[i]);
	return 0;
}

static int flush_failed(struct sub *s)
{
	struct sbuf ids = { 0 }, codes = { 0 }, msgs = { 0 };
	int n = 0, rc;

	for (size_t i = 0; i < s->njobs; i++) {
		struct job *j = s->jobs[i];

		if (j->outcome != OUT_FAILED)
			continue;
		arr_add(&ids, j->id);
		arr_add(&codes, j->code);
		arr_add(&msgs, j->msg);
		gx_log_warn("command %s FAILED: %s %s", j->id, j->code, j->msg ? j->msg : "");
		n++;
	}
	if (n == 0)
		return 0;
	rc = db_fail(s, arr_end(&ids), arr_end(&codes), arr_end(&msgs), false);
	arr_free(&ids);
	arr_free(&codes);
	arr_free(&msgs);
	if (rc < 0)
		return -1;
	count("failed", n);
	for (size_t i = s->njobs; i-- > 0;)
		if (s->jobs[i]->outcome == OUT_FAILED)
			job_free(s, s->jobs[i]);
	return 0;
}

static int flush_retry(struct sub *s)
{
	struct sbuf ids = { 0 }, delays = { 0 }, codes = { 0 }, msgs = { 0 }, uncs = { 0 };
	int nretry = 0, nrel = 0;
	PGresult *r;

	for (size_t i = 0; i < s->njobs; i++) {
		struct job *j = s->jobs[i];

		if (j->outcome != OUT_RETRY && j->outcome != OUT_RELEASE)
			continue;
		arr_add(&ids, j->id);
		arr_addll(&delays, j->outcome == OUT_RETRY ? j->delay_ms : 0);
		arr_add(&codes, j->code);
		arr_add(&msgs, j->msg);
		arr_addll(&uncs, j->outcome == OUT_RETRY ? j->uncount : 1);
		if (j->outcome == OUT_RETRY) {
			nretry++;
			gx_log_debug("command %s: retry in %lld ms after %s %s", j->id, j->delay_ms, j->code,
				     j->msg ? j->msg : "");
		} else {
			nrel++;
		}
	}
	if (nretry + nrel == 0)
		return 0;
	{
		const char *p[] = { s->worker_id, arr_end(&ids), arr_end(&delays), arr_end(&codes), arr_end(&msgs),
				    arr_end(&uncs) };

		r = db_exec(s, "rescheduling commands", SQL_RETRY, 6, p);
	}
	arr_free(&ids);
	arr_free(&delays);
	arr_free(&codes);
	arr_free(&msgs);
	arr_free(&uncs);
	if (!r)
		return -1;
	PQclear(r);
	count("retry", nretry);
	count("released", nrel);
	for (size_t i = s->njobs; i-- > 0;)
		if (s->jobs[i]->outcome == OUT_RETRY || s->jobs[i]->outcome == OUT_RELEASE)
			job_free(s, s->jobs[i]);
	return 0;
}

/* MVCC conflicts: persist the new proposal of each, then send it; rows no longer ours are dropped. */
static int flush_resend(struct sub *s)
{
	struct sbuf ids = { 0 }, txs = { 0 }, subs = { 0 }, aggs = { 0 }, incs = { 0 };
	char lease[24];
	PGresult *r;
	int n = 0;

	snprintf(lease, sizeof(lease), "%lld", s->cfg->lease_ms);
	for (size_t i = 0; i < s->njobs; i++) {
		struct job *j = s->jobs[i];
		char *subj;

		if (j->outcome != OUT_RESEND)
			continue;
		subj = submission_json(j->prop);
		arr_add(&ids, j->id);
		arr_add(&txs, j->prop->tx_id);
		arr_add(&subs, subj);
		arr_add(&aggs, j->call.aggregate);
		arr_addll(&incs, 0);
		free(subj);
		n++;
	}
	if (n == 0)
		return 0;
	{
		const char *p[] = { s->worker_id, lease, arr_end(&ids), arr_end(&txs), arr_end(&subs), arr_end(&aggs),
				    arr_end(&incs), "false" };

		r = db_exec(s, "persisting re-endorsed proposals", SQL_PERSIST, 8, p);
	}
	arr_free(&ids);
	arr_free(&txs);
	arr_free(&subs);
	arr_free(&aggs);
	arr_free(&incs);
	if (!r)
		return -1;
	for (size_t i = s->njobs; i-- > 0;) {
		struct job *j = s->jobs[i];
		bool ours = false;

		if (j->outcome != OUT_RESEND)
			continue;
		for (int k = 0; k < PQntuples(r) && !ours; k++)
			ours = strcmp(PQgetvalue(r, k, 0), j->id) == 0;
		if (ours) {
			struct gx_fabric_proposal *p = j->prop;

			j->prop = NULL;
			job_send(s, j, p);
		} else {
			gx_log_warn("command %s: lease lost before re-endorsing; leaving it to its new owner", j->id);
			job_free(s, j);
		}
	}
	PQclear(r);
	return 0;
}

static void flush(struct sub *s)
{
	int64_t now = gx_now_ms();

	if (!s->pg || now < s->next_flush_ms)
		return;
	if (flush_committed(s) < 0 || flush_failed(s) < 0 || flush_retry(s) < 0 || flush_resend(s) < 0)
		s->next_flush_ms = now + FLUSH_RETRY_MS;
}

/* ---- periodic work ---- */

static void on_probe(struct gx_fabric_result *r, void *arg)
{
	struct probe *pr = arg;
	const struct gx_fabric_error *e = &r->err;
	bool ok = e->kind == GX_FABRIC_ERR_NONE || gx_fabric_error_chaincode_response(e) > 0;

	if (ok) {
		probe_peer_state(pr->s, true, NULL);
	} else {
		char *d = gx_fabric_error_describe(e);

		probe_peer_state(pr->s, false, d);
		free(d);
	}
	atomic_store(&pr->active, false);
	wake(pr->s);
}

static void probe_peer(struct sub *s)
{
	struct gx_fabric_client *c = s->clients[GX_CC_ID_PARTNER];
	struct gx_fabric_proposal *p;

	if (atomic_load(&s->probe.active))
		return;
	p = gx_fabric_msg_proposal_new(s->ids[GX_CC_ID_PARTNER], s->cfg->channel, s->cfg->chaincode,
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
	if (!s->pg)
		return;
	if (now >= s->next_renew_ms) {
		char lease[24];
		const char *p[] = { s->worker_id, lease };

		snprintf(lease, sizeof(lease), "%lld", s->cfg->lease_ms);
		PQclear(db_exec(s, "renewing leases", SQL_RENEW, 2, p));
		s->next_renew_ms = now + s->cfg->lease_ms / 3;
	}
	if (s->pg && now >= s->next_gauge_ms) {
		PGresult *r = db_exec(s, "reading queue depth", SQL_GAUGES, 0, NULL);

		if (r && PQntuples(r) == 1) {
			gx_metrics_set(m_depth, NULL, atof(PQgetvalue(r, 0, 0)));
			gx_metrics_set(m_orig_depth, NULL, atof(PQgetvalue(r, 0, 0)));
			atomic_store(&s->queue_depth, atoll(PQgetvalue(r, 0, 0)));
			gx_metrics_set(m_oldest, NULL, atof(PQgetvalue(r, 0, 1)));
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

	if (s->pg)
		fds[1].fd = PQsocket(s->pg);
	if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
		gx_log_error("poll failed: %s", strerror(errno));
	if (fds[0].revents & POLLIN) {
		ssize_t rc = read(s->efd, &v, sizeof(v));

		(void)rc;
	}
	if (s->pg && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
		PGnotify *n;

		if (!PQconsumeInput(s->pg)) {
			gx_log_error("database connection lost: %s", PQerrorMessage(s->pg));
			db_drop(s);
			return;
		}
		while ((n = PQnotifies(s->pg)) != NULL) {
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

	gx_metrics_set(m_orig_status, NULL, 1);
	while (true) {
		int64_t now = gx_now_ms();
		bool draining = atomic_load(&s->draining);
		size_t room;
		int timeout;

		atomic_store(&s->heartbeat_ms, now);
		if (!s->pg && now >= s->next_connect_ms)
			db_connect(s);
		take_done(s);
		flush(s);
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
		} else if (s->pg && atomic_load(&s->peer_ok) && room > 0 && (s->wake || now >= s->next_poll_ms)) {
			size_t want = room < (size_t)c->batch_size ? room : (size_t)c->batch_size;
			int got;

			s->wake = false;
			s->next_poll_ms = now + c->poll_ms;
			got = claim(s, want);
			if (got > 0 && (size_t)got == want)
				s->wake = true; /* more may be due */
			if (got > 0)
				gx_log_debug("claimed %d commands (%zu in flight)", got, s->njobs);
		}
		gx_metrics_set(m_inflight, NULL, (double)s->njobs);
		room = s->njobs < (size_t)s->window ? (size_t)s->window - s->njobs : 0;
		if (!draining && s->wake && room > 0 && s->pg && atomic_load(&s->peer_ok))
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
	take_done(s);
	s->next_flush_ms = 0;
	flush(s);
	if (!s->pg)
		db_connect(s);
	if (s->pg) {
		const char *p[] = { s->worker_id };
		PGresult *r = db_exec(s, "releasing leases", SQL_RELEASE_ALL, 1, p);

		if (r && atoi(PQcmdTuples(r)) > 0)
			gx_log_info("released %s leased commands", PQcmdTuples(r));
		PQclear(r);
	}
	gx_metrics_set(m_inflight, NULL, 0);
	gx_metrics_set(m_orig_status, NULL, 0);
	db_drop(s);
	gx_log_info("submitter loop stopped");
	return NULL;
}

static void *fabric_main(void *arg)
{
	gx_fabric_client_run(arg);
	return NULL;
}

/* ---- lifecycle ---- */

static void default_worker_id(struct sub *s)
{
	char host[128];

	if (s->cfg->worker_id && *s->cfg->worker_id) {
		s->worker_id = gx_xstrdup(s->cfg->worker_id);
		return;
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "submitter");
	host[sizeof(host) - 1] = '\0';
	s->worker_id = gx_xasprintf("%s-%ld", host, (long)getpid());
}

struct sub *sub_start(const struct sub_cfg *cfg, const char *conninfo, long long drain_ms)
{
	static const char *const id_names[SUB_NIDS] = { "super admin", "admin", "partner" };
	struct sub *s = gx_xcalloc(1, sizeof(*s));
	int rc;

	s->cfg = cfg;
	s->conninfo = gx_xasprintf("%s connect_timeout=5 options='-c statement_timeout=30000'", conninfo);
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
			.endpoint = cfg->peer_endpoint,
			.channel_id = cfg->channel,
			.chaincode_id = cfg->chaincode,
			.tls_ca_file = *cfg->tls_ca_file ? cfg->tls_ca_file : NULL,
			.tls_cert_file = *cfg->tls_cert_file ? cfg->tls_cert_file : NULL,
			.tls_key_file = *cfg->tls_key_file ? cfg->tls_key_file : NULL,
			.server_name = *cfg->tls_server_name ? cfg->tls_server_name : NULL,
			.wait_for_ready = false,
			.reconnect_max_ms = 5000,
			.endorse_timeout_ms = (int)cfg->endorse_timeout_ms,
			.commit_timeout_ms = (int)cfg->commit_timeout_ms,
		};

		s->ids[i] = gx_fabric_id_load(cfg->msp_id, cfg->cert[i], cfg->key[i]);
		if (!s->ids[i]) {
			gx_log_error("cannot load the %s identity (%s, %s)", id_names[i], cfg->cert[i], cfg->key[i]);
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
		    s->worker_id, cfg->peer_endpoint, cfg->channel, cfg->chaincode, cfg->batch_size,
		    cfg->max_in_flight);
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
	wake(s);
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
		job_free(s, s->jobs[s->njobs - 1]);
	free(s->jobs);
	for (int i = 0; i < SUB_NIDS; i++)
		gx_fabric_id_free(s->ids[i]);
	if (s->efd >= 0)
		close(s->efd);
	db_drop(s);
	pthread_mutex_destroy(&s->lock);
	free(s->conninfo);
	free(s->worker_id);
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
