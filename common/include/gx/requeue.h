/* Which FAILED outbox commands may be re-queued, and the parameters of the one re-queue statement
 * (docs/security.md "Requeue"), gx_outbox_store_requeue_sql in gx/outbox_store.h. svc-admin's
 * /api/v1/admin/commands routes and `gxctl commands` both use it, so the rule is written once.
 *
 * A command is re-queueable when it is FAILED and its stored "errorCode" is a failure the outbox-submitter itself
 * retries (common/src/fabric_error.c) and gave up on after MAX_RETRIES: the peer or orderer unreachable or
 * overloaded, a deadline, an interrupted call, an undecodable answer, a local failure, an MVCC/phantom conflict
 * that kept recurring. Everything else is final: a chaincode refusal (CHAINCODE_<status>: validation, insufficient
 * balance, not found, conflict, forbidden, paused system), an unmappable payload (MAPPING_ERROR), a request the
 * gateway refused (FABRIC_INVALID_ARGUMENT, FABRIC_PERMISSION_DENIED, ...), a transaction committed invalid for any
 * other reason (TX_<code>), or no stored code. The test is an allow-list: an unknown code is final.
 */
#ifndef GX_REQUEUE_H
#define GX_REQUEUE_H

/* The error codes that may be retried (SQL list, inside IN (...)). */
#define GX_REQUEUE_CODES \
	"'FABRIC_UNAVAILABLE', 'FABRIC_DEADLINE_EXCEEDED', 'FABRIC_RESOURCE_EXHAUSTED', 'FABRIC_CANCELLED'," \
	" 'FABRIC_INTERNAL', 'FABRIC_UNKNOWN', 'FABRIC_ABORTED', 'FABRIC_PROTOCOL', 'FABRIC_LOCAL'," \
	" 'TX_MVCC_READ_CONFLICT', 'TX_PHANTOM_READ_CONFLICT'"

/* SQL text expression: NULL when a failure with error code `code` (an SQL expression) may be re-queued, else why
 * not (one phrase, e.g. "the chaincode refused the command: a business refusal is final"). */
/* clang-format off */
#define GX_REQUEUE_REFUSAL(code) \
	"(CASE WHEN " code " IN (" GX_REQUEUE_CODES ") THEN NULL" \
	" WHEN " code " IS NULL THEN 'no failure reason is stored'" \
	" WHEN starts_with(" code ", 'CHAINCODE_') THEN 'the chaincode refused the command: a business refusal is final'" \
	" WHEN " code " = 'MAPPING_ERROR' THEN 'the payload cannot be mapped to a chaincode call'" \
	" WHEN starts_with(" code ", 'TX_') THEN 'the transaction was committed invalid'" \
	" WHEN starts_with(" code ", 'FABRIC_') THEN 'the gateway refused the request'" \
	" ELSE 'not a retryable failure' END)"
/* clang-format on */

/* SQL boolean expression: the command with status `status` and error code `code` (SQL expressions) may be
 * re-queued now. */
#define GX_REQUEUE_OK(status, code) "(" status "::text = 'FAILED' AND coalesce(" code ", '') IN (" GX_REQUEUE_CODES "))"

/* The re-queue statement (gx_outbox_store_requeue_sql), one transaction. It re-queues the oldest re-queueable
 * commands of the selection and reports the others.
 *   $1 tenant; $2 ids (text[] literal) or NULL to select by filter: FAILED commands with $3 commandType,
 *   $4 errorCode, $5 olderThanSeconds, $6 newerThanSeconds (each NULL for any); $7 limit (at most this many
 *   re-queued, and at most this many others reported); $8 actor id, $9 actor role, $10 request id, $11 client ip
 *   (NULL allowed), $12 the batch filter as JSON for the audit record (NULL: none).
 * Each re-queued command: status PENDING, attempts 0, error cleared, nextAttemptAt now, lease cleared; its tx id
 * and the submitter's stored signed proposal (payload._submission) are KEPT, so the submitter re-sends the same
 * transaction and an earlier copy that did reach the ledger counts once. One "AdminAuditLog" row
 * (COMMAND_REQUEUE) each and NOTIFY gx_outbox.
 * Rows, oldest first: "id", "previousStatus", "errorCode" ('' when none), "refusal" (NULL for a re-queued or
 * re-queueable command, else GX_REQUEUE_REFUSAL), "requeued" ('t'/'f'), "sideEffects" (audit rows + notifies).
 * By ids: one row per given id that exists (not re-queued: not FAILED, not re-queueable, or changed meanwhile).
 * By filter: the re-queued commands and the matching FAILED ones that are not re-queueable. */
#define GX_REQUEUE_NPARAMS 12

#endif
