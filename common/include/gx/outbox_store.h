/* The one owner of the "OutboxCommand" table: every statement on it, for the APIs, svc-admin, gxctl and the
 * outbox-submitter, stands in common/src/outbox_store.c and nowhere else. Callers name what they want done (enqueue,
 * in flight?, requeue, claim a batch, settle a batch); the SQL text, the status enumeration and the lease columns
 * stay here.
 */
#ifndef GX_OUTBOX_STORE_H
#define GX_OUTBOX_STORE_H

/* ==== The APIs, svc-admin and gxctl: status names, enqueue, the in-flight check, the status query, requeue ==== */

#include <stdbool.h>

/* "OutboxStatus", in the order of gx_outbox_store_status_names. */
enum gx_outbox_status {
	GX_OUTBOX_PENDING,
	GX_OUTBOX_LOCKED, /* claimed by a submitter: to clients still PENDING */
	GX_OUTBOX_SUBMITTED,
	GX_OUTBOX_COMMITTED,
	GX_OUTBOX_PROJECTED,
	GX_OUTBOX_FAILED,
};

/* The status names, NULL-terminated (for gx_valid_enum). */
extern const char *const gx_outbox_store_status_names[];
/* The status a client sees for a stored status name (LOCKED is PENDING; others as they are). */
const char *gx_outbox_store_public_status(const char *status);
/* True for PROJECTED and FAILED: nothing more happens to the command (Prefer: wait ends there, gx/outbox.h). */
bool gx_outbox_store_status_final(const char *status);

/* The write path (gx/outbox.h), statements of the caller's one transaction:
 *   insert: $1 id, $2 tenant, $3 service, $4 command type, $5 request id (the idempotency digest), $6 payload (JSON
 *           text), $7 aggregate id, $8 the HTTP request's X-Request-Id, $9 its W3C trace id (both may be NULL;
 *           the workers' log lines about the command carry them, design.md §8);
 *   notify: $1 id (NOTIFY gx_outbox for the submitter).
 * A retried request violates GX_OUTBOX_STORE_UNIQUE_REQUEST; existing ($1 tenant, $2 request id) then gives the
 * command's "id", "aggregateId", "commandType". */
#define GX_OUTBOX_STORE_UNIQUE_REQUEST "OutboxCommand_tenantId_requestId_key"
#define GX_OUTBOX_STORE_INSERT_NPARAMS 9
extern const char gx_outbox_store_insert_sql[];
extern const char gx_outbox_store_notify_sql[];
extern const char gx_outbox_store_existing_sql[];

/* The status document's row: $1 id, $2 tenant -> "id", "commandType", "status", "attempts", "errorCode", "error",
 * "fabricTxId", "commitBlock", "aggregateId", "createdBy" (payload._meta), and the ISO times "createdAt",
 * "updatedAt", "submittedAt", "committedAt", "projectedAt". */
extern const char gx_outbox_store_status_sql[];

/* The projection lag of /readyz: no parameters -> "state" (a projector checkpoint exists), "lag" (ms since the oldest
 * COMMITTED command was committed, 0 when none). */
extern const char gx_outbox_store_lag_sql[];

/* The re-queue of FAILED commands with its audit rows (the rule and the parameters: gx/requeue.h). */
extern const char gx_outbox_store_requeue_sql[];

/* ---- the operators' views (svc-admin /api/v1/admin/commands, gxctl commands; design.md §7) ----
 * The filter of both lists: $1 tenant, $2 status, $3 command type, $4 olderThanSeconds, $5 newerThanSeconds,
 * $6 errorCode (each NULL for any). */

/* svc-admin's page, newest first: the filter, $7 limit, $8 offset -> "total", "items" (JSON array text of
 * {commandId, commandType, status, service, attempts, errorCode, error, aggregateId, fabricTxId, blockNumber,
 * createdAt, updatedAt, nextAttemptAt, requeueable}). */
#define GX_OUTBOX_STORE_LIST_NPARAMS 8
extern const char gx_outbox_store_list_sql[];
/* svc-admin's document of one command: $1 tenant, $2 id -> "doc" (JSON text: the list item plus payload, requestId,
 * lockedBy, leaseUntil, submittedAt, committedAt, projectedAt and its "audit" history). */
extern const char gx_outbox_store_show_sql[];

/* gxctl's table, newest first: the filter, $7 limit -> columns 0 id, 1 status, 2 type, 3 attempts, 4 errorCode ('-'
 * when none), 5 createdAt, 6 error ('' when none), 7 requeueable ('yes'/'no'). */
#define GX_OUTBOX_STORE_CTL_LIST_NPARAMS 7
extern const char gx_outbox_store_ctl_list_sql[];
/* gxctl's view of one command: $1 tenant, $2 id -> one column, the row as pretty JSON with its "audit" history. */
extern const char gx_outbox_store_ctl_show_sql[];

/* ---- the commands a service statement asks about ----
 * A service statement embeds subqueries on the commands (alias c) that the store writes from a probe. Which commands
 * count (design.md §7):
 *   GX_OUTBOX_STORE_IN_FLIGHT  accepted and not yet projected (PENDING, LOCKED, SUBMITTED, COMMITTED): the check of
 *                              an operation whose projected outcome the read model shows (an execution, an approval
 *                              in progress: once PROJECTED, the read model answers);
 *   GX_OUTBOX_STORE_LIVE       accepted and not FAILED: the check of a command that succeeds once per target
 *                              (genesis, a vote, a registration, a bootstrap): a PROJECTED one still counts, whatever
 *                              the read model shows. */
enum gx_outbox_store_rule { GX_OUTBOX_STORE_IN_FLIGHT, GX_OUTBOX_STORE_LIVE };

/* What the subquery gives:
 *   GX_OUTBOX_STORE_EXISTS  boolean: such a command exists;
 *   GX_OUTBOX_STORE_NEWEST  text: the command type of the newest such command, NULL when none;
 *   GX_OUTBOX_STORE_COUNTS  text: a JSON object {status: count} of the tenant's commands (only tenant is used). */
enum gx_outbox_store_ask { GX_OUTBOX_STORE_EXISTS, GX_OUTBOX_STORE_NEWEST, GX_OUTBOX_STORE_COUNTS };

/* A payload field the commands must match: c."payload"->>'name' = value (an SQL expression); optional: any command
 * matches when value IS NULL. */
struct gx_outbox_store_field {
	const char *name, *value;
	bool optional;
};

#define GX_OUTBOX_STORE_MAX_FIELDS 2

/* Every text is a static SQL fragment (borrowed for the process). Written with designated initializers, e.g.
 *   { .ask = GX_OUTBOX_STORE_EXISTS, .rule = GX_OUTBOX_STORE_IN_FLIGHT, .tenant = "$1",
 *     .types = "'EXECUTE_PROPOSAL'", .fields = { { "proposalId", "$2", false } } }
 * (members left out are NULL: no aggregate, no field). */
struct gx_outbox_store_probe {
	enum gx_outbox_store_ask ask;
	enum gx_outbox_store_rule rule;
	const char *tenant;    /* the tenant, e.g. "$1" */
	const char *types;     /* c."commandType" IN (types): "'CAST_VOTE'", "$3::\"CommandType\"" */
	const char *aggregate; /* NULL, or c."aggregateId" = aggregate */
	struct gx_outbox_store_field fields[GX_OUTBOX_STORE_MAX_FIELDS];
};

/* The subquery of p (parenthesised, ready to stand as an expression). Caller frees. */
char *gx_outbox_store_probe_sql(const struct gx_outbox_store_probe *p);

#define GX_OUTBOX_STORE_MAX_PROBES 3

/* A service statement that embeds probes: tmpl with its n-th "%s" replaced by probes[n]'s subquery (the template
 * holds no other '%'). Define one static per statement; its text is built on first use (any thread) and kept for
 * the process. */
struct gx_outbox_store_sql {
	const char *tmpl;
	struct gx_outbox_store_probe probes[GX_OUTBOX_STORE_MAX_PROBES];
	_Atomic(char *) text; /* leave unset */
};

/* The statement's text (owned by s, valid for the process). */
const char *gx_outbox_store_sql_text(struct gx_outbox_store_sql *s);

/* ---- end of the APIs' part ---- */

/* ==== The outbox-submitter: claim, persist and settle a batch; the array parameters they take ==== */

#include <stddef.h>

#include "gx/pg_sync.h"

/* One PostgreSQL array literal under construction ("{\"a\",NULL,\"b\"}"), a batch statement's column. Start it
 * zeroed; the text is owned by the struct until gx_outbox_store_arr_free(). */
struct gx_outbox_store_arr {
	char *p;
	size_t len, cap;
};

/* Append one element (v NULL = SQL NULL; quotes and backslashes escaped), or a number. */
void gx_outbox_store_arr_add(struct gx_outbox_store_arr *a, const char *v);
void gx_outbox_store_arr_addll(struct gx_outbox_store_arr *a, long long v);
/* Close the literal ("{}" when nothing was added) and return its text (owned by a; add nothing after this). */
const char *gx_outbox_store_arr_end(struct gx_outbox_store_arr *a);
void gx_outbox_store_arr_free(struct gx_outbox_store_arr *a);

/* The submitter's statements, a gx_pgs statement table (docs/outbox-submitter.md). All parameters are text; the
 * array ones are gx_outbox_store_arr literals of equal length, one element per command. Every statement that
 * changes several rows locks them in "id" order first, the order the projector's mark below uses too. */
enum gx_outbox_store_sub_q {
	GX_OUTBOX_STORE_CLAIM,    /* $1 limit, $2 candidates: id, ctype, payload, attempts, prop, sig, created_ms,
				     rid, tid (the X-Request-Id and trace id of the request, NULL when unknown) */
	GX_OUTBOX_STORE_PERSIST,  /* $1 worker, $2 lease ms, $3 ids, $4 tx ids, $5 submissions (NULL = keep),
				     $6 aggregates, $7 attempt increments, $8 claiming: the ids still ours */
	GX_OUTBOX_STORE_FAIL,     /* $1 worker, $2 ids, $3 codes, $4 messages, $5 claiming: FAILED and notified */
	GX_OUTBOX_STORE_COMMIT,   /* $1 ids, $2 blocks: COMMITTED and notified; id, age (s since creation) */
	GX_OUTBOX_STORE_RETRY,    /* $1 worker, $2 ids, $3 delays ms, $4 codes, $5 messages, $6 uncount: PENDING */
	GX_OUTBOX_STORE_DEFER,    /* $1 ids: due again in 5 s (no proposal could be built) */
	GX_OUTBOX_STORE_RENEW,    /* $1 worker, $2 lease ms, $3 ids it holds: extend those leases only */
	GX_OUTBOX_STORE_RELEASE,  /* $1 worker, $2 ids it holds ('{}': none): every other row leased under its
				     name back to PENDING, due now; returns id */
	GX_OUTBOX_STORE_IDENTITY, /* $1 worker: take the worker's name for this session; one row, true when held */
	GX_OUTBOX_STORE_GAUGES,   /* PENDING count, age of the oldest PENDING in seconds */
	GX_OUTBOX_STORE_NSUB
};
extern const struct gx_pgs_stmt gx_outbox_store_sub_stmts[GX_OUTBOX_STORE_NSUB];

/* The projector's mark (docs/projector.md): $1 tx ids (text[]), $2 block; the originating commands become
 * PROJECTED (commitBlock and committedAt filled when missing) and are notified on gx_command_status at COMMIT.
 * Returns a row per command marked: "id", "tx" (its fabricTxId), "rid" and "tid" (the X-Request-Id and trace id of
 * the request, NULL when unknown). Static storage, for the projector's own statement table. */
extern const char gx_outbox_store_sql_projected[];

/* ---- end of the submitter's part ---- */

#endif
