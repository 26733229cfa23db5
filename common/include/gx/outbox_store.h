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
 *   insert: $1 id, $2 tenant, $3 service, $4 command type, $5 request id, $6 payload (JSON text), $7 aggregate id;
 *   notify: $1 id (NOTIFY gx_outbox for the submitter).
 * A retried request violates GX_OUTBOX_STORE_UNIQUE_REQUEST; existing ($1 tenant, $2 request id) then gives the
 * command's "id", "aggregateId", "commandType". */
#define GX_OUTBOX_STORE_UNIQUE_REQUEST "OutboxCommand_tenantId_requestId_key"
#define GX_OUTBOX_STORE_INSERT_NPARAMS 7
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

/* Every text is a static SQL fragment (borrowed for the process). */
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

/* ---- end of the submitter's part ---- */

#endif
