/* The write path of every on-chain change (design.md §3 and §7) and the command status endpoint.
 *
 * gx_outbox_submit() runs ONE transaction: the handler's domain statements, INSERT "OutboxCommand", NOTIFY
 * gx_outbox (payload: the command id) and, when the request carries an Idempotency-Key, the idempotency record of
 * the 202 response. Then it replies 202 {"commandId","status":"ACCEPTED","message","aggregateId"} (the same bytes
 * that were stored for replay). "requestId" is the hex SHA-256 of the request's scoped idempotency key (else the
 * command id), so a retried request never creates a second command: a unique violation on (tenantId, requestId)
 * answers the existing command's 202. Under a deferred idempotency claim (route flag GX_ROUTE_OUTBOX_WRITE, see
 * gx/idem.h) the record is written first in the same transaction, so the accepted write commits once; losing the
 * race on the record answers from the winner's record (replay, 422 or 409).
 *
 * Prefer: wait=N (1..30 s, larger values are capped) on a write or on GET /api/v1/commands/{id}: the reply waits
 * until the command is PROJECTED or FAILED, so the next read shows the write (LISTEN gx_command_status, which the
 * submitter and projector NOTIFY with the command id, plus a re-check at the deadline) and is 200 with the status
 * document (FAILED too: read "status" and "lastError"), or the normal answer (202 for writes) when still pending at the
 * deadline. Preference-Applied: wait=N is sent when waiting was done.
 *
 * Visibility: the creator's profile id is kept in payload._meta.createdBy. A command is readable by its creator and
 * admins; a command created without a token (e.g. registration) by anyone who has its (random UUID v4) id. Others
 * get 404 COMMAND_NOT_FOUND, never 403, so ids do not leak.
 */
#ifndef GX_OUTBOX_H
#define GX_OUTBOX_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "gx/pg.h"

struct gx_req;

/* Process settings, set once on the main thread before serving (gx_api_main does it): the tenant written to
 * "tenantId" (the loaded TENANT_ID, never NULL or empty). Copied. */
void gx_outbox_configure(const char *tenant_id);

/* The command to enqueue. All borrowed for the call. payload must be a JSON object (copied; "_meta" is added). */
struct gx_outbox_cmd {
	const char *command_type; /* a "CommandType" enum value, e.g. "TRANSFER_TOKENS" */
	const char *aggregate_id; /* wallet/org/loan/proposal id for per-aggregate ordering; may be NULL */
	const cJSON *payload;
};

/* How a violated unique or foreign-key constraint of the handler's domain statements is answered. */
struct gx_conflict {
	const char *constraint; /* e.g. "UserProfile_email_key" */
	int status;             /* e.g. 409 */
	const char *code;       /* e.g. "EMAIL_TAKEN" */
	const char *message;
};

/* Run the write transaction and answer the request (always: this ends req). domain_stmts[0..n) (n may be 0) and
 * conflicts[0..nconflicts) are borrowed for the call (copied). Other database failures answer via
 * gx_reply_pg_error (503/500). */
void gx_outbox_submit(struct gx_req *req, const struct gx_pg_stmt *domain_stmts, int n, const struct gx_outbox_cmd *cmd,
		      const struct gx_conflict *conflicts, size_t nconflicts);

/* Handler of GET /api/v1/commands/{commandId} (route parameter "commandId"): 200 {"commandId","commandType",
 * "status" (PENDING|SUBMITTED|COMMITTED|PROJECTED|FAILED),"attempts","lastError":{"code","message"}|null,
 * "fabricTxId","blockNumber","createdAt","updatedAt","submittedAt","committedAt","projectedAt","aggregateId"};
 * 404 COMMAND_NOT_FOUND. Honours Prefer: wait=N. */
void gx_outbox_status_handler(struct gx_req *req);

/* Parse the wait=N preference of a Prefer header value (NULL allowed): 0 when absent or invalid, else N capped at
 * 30. Exposed for tests. */
int gx_outbox_prefer_wait(const char *prefer);

#endif
