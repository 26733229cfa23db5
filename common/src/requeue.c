/* The one re-queue statement of FAILED outbox commands, shared by svc-admin and gxctl (see gx/requeue.h for the
 * rule and the parameters). */
#include "gx/requeue.h"

/* The selection of table alias t: the given ids ($2), or FAILED commands matching the filter $3..$6. */
#define SELECTION(t) \
	" " t ".\"tenantId\" = $1 AND (($2::text[] IS NOT NULL AND " t ".\"id\" = ANY($2::text[])) OR ($2::text[] IS NULL" \
	" AND " t ".\"status\" = 'FAILED' AND ($3::text IS NULL OR " t ".\"commandType\"::text = $3)" \
	" AND ($4::text IS NULL OR " t ".\"errorCode\" = $4)" \
	" AND ($5::bigint IS NULL OR " t ".\"createdAt\" <= now() - $5::bigint * interval '1 second')" \
	" AND ($6::bigint IS NULL OR " t ".\"createdAt\" >= now() - $6::bigint * interval '1 second')))"

const char gx_requeue_sql[] =
	"WITH p AS (SELECT s.\"id\", s.\"errorCode\", s.\"error\", s.\"attempts\", s.\"createdAt\" FROM \"OutboxCommand\" s"
	"   WHERE" SELECTION("s") " AND " GX_REQUEUE_OK("s.\"status\"", "s.\"errorCode\"")
	"   ORDER BY s.\"createdAt\", s.\"id\" LIMIT $7::bigint FOR UPDATE),"
	" u AS (UPDATE \"OutboxCommand\" o SET \"status\" = 'PENDING', \"attempts\" = 0, \"errorCode\" = NULL,"
	"   \"error\" = NULL, \"nextAttemptAt\" = now(), \"lockedBy\" = NULL, \"lockedAt\" = NULL, \"leaseUntil\" = NULL,"
	"   \"commitBlock\" = NULL, \"committedAt\" = NULL, \"updatedAt\" = now()"
	"   FROM p WHERE o.\"id\" = p.\"id\" AND " GX_REQUEUE_OK("o.\"status\"", "o.\"errorCode\"") " RETURNING o.\"id\"),"
	" a AS (INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	"   \"targetId\", \"details\", \"requestId\", \"ipAddress\")"
	"   SELECT $1, $8, $9, 'COMMAND_REQUEUE', 'COMMAND', p.\"id\", jsonb_build_object('previousStatus', 'FAILED',"
	"   'previousErrorCode', p.\"errorCode\", 'previousError', p.\"error\", 'previousAttempts', p.\"attempts\")"
	"   || CASE WHEN $12::jsonb IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('batchFilter', $12::jsonb) END,"
	"   $10, $11 FROM u JOIN p USING (\"id\") RETURNING 1),"
	" n AS (SELECT pg_notify('gx_outbox', u.\"id\") FROM u),"
	" r AS (SELECT p.\"id\", 'FAILED' AS \"previousStatus\", coalesce(p.\"errorCode\", '') AS \"errorCode\","
	"   NULL::text AS \"refusal\", true AS \"requeued\", p.\"createdAt\" FROM p JOIN u USING (\"id\")"
	"   UNION ALL (SELECT c.\"id\", c.\"status\"::text, coalesce(c.\"errorCode\", ''),"
	"   " GX_REQUEUE_REFUSAL("c.\"errorCode\"") ", false, c.\"createdAt\" FROM \"OutboxCommand\" c WHERE"
	SELECTION("c") " AND c.\"id\" NOT IN (SELECT u.\"id\" FROM u) AND ($2::text[] IS NOT NULL OR NOT "
	GX_REQUEUE_OK("c.\"status\"", "c.\"errorCode\"") ")"
	"   ORDER BY c.\"createdAt\", c.\"id\" LIMIT $7::bigint))"
	" SELECT r.\"id\", r.\"previousStatus\", r.\"errorCode\", r.\"refusal\", r.\"requeued\","
	" (SELECT count(*) FROM a) + (SELECT count(*) FROM n) AS \"sideEffects\" FROM r ORDER BY r.\"createdAt\", r.\"id\"";
