/* The "OutboxCommand" store: every statement on the table (gx/outbox_store.h). */
#include "gx/outbox_store.h"

/* ==== The APIs, svc-admin and gxctl ==== */

/* ---- end of the APIs' part ---- */

/* ==== The outbox-submitter ==== */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/util.h"

/* Growable text of one PostgreSQL array literal. */
static void arr_putc(struct gx_outbox_store_arr *a, char c)
{
	if (a->len + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 256;
		a->p = gx_xrealloc(a->p, a->cap);
	}
	a->p[a->len++] = c;
	a->p[a->len] = '\0';
}

void gx_outbox_store_arr_add(struct gx_outbox_store_arr *a, const char *v)
{
	arr_putc(a, a->len == 0 ? '{' : ',');
	if (!v) {
		for (const char *n = "NULL"; *n; n++)
			arr_putc(a, *n);
		return;
	}
	arr_putc(a, '"');
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			arr_putc(a, '\\');
		arr_putc(a, *v);
	}
	arr_putc(a, '"');
}

void gx_outbox_store_arr_addll(struct gx_outbox_store_arr *a, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	gx_outbox_store_arr_add(a, num);
}

const char *gx_outbox_store_arr_end(struct gx_outbox_store_arr *a)
{
	if (a->len == 0)
		arr_putc(a, '{');
	arr_putc(a, '}');
	return a->p;
}

void gx_outbox_store_arr_free(struct gx_outbox_store_arr *a)
{
	free(a->p);
	memset(a, 0, sizeof(*a));
}

const struct gx_pgs_stmt gx_outbox_store_sub_stmts[GX_OUTBOX_STORE_NSUB] = {
	/* The oldest open command of each aggregate when it is PENDING and due (a newer command never overtakes an
	 * older open one), plus in-flight rows whose lease ran out (a dead replica's). Row locks with SKIP LOCKED make
	 * two replicas claim disjoint sets; the outer re-check drops rows another replica changed meanwhile. */
	[GX_OUTBOX_STORE_CLAIM] = { "sub_claim",
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
		" FOR UPDATE OF o SKIP LOCKED" },
	/* Persist the proposal about to be sent and take (or keep) the lease. $8: rows are locked by our claim
	 * transaction; otherwise only rows we still own are touched. */
	[GX_OUTBOX_STORE_PERSIST] = { "sub_persist",
		"UPDATE \"OutboxCommand\" o SET \"status\" = 'SUBMITTED', \"lockedBy\" = $1, \"lockedAt\" = now(),"
		" \"leaseUntil\" = now() + $2::bigint * interval '1 millisecond',"
		" \"submittedAt\" = COALESCE(o.\"submittedAt\", now()), \"updatedAt\" = now(), \"fabricTxId\" = u.tx,"
		" \"attempts\" = o.\"attempts\" + u.inc,"
		" \"payload\" = CASE WHEN u.sub IS NULL THEN o.\"payload\""
		"  ELSE jsonb_set(o.\"payload\", '{_submission}', u.sub::jsonb) END,"
		" \"aggregateId\" = COALESCE(o.\"aggregateId\", u.agg)"
		" FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::int[]) AS u(id, tx, sub, agg, inc)"
		" WHERE o.\"id\" = u.id AND ($8::bool OR (o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'))"
		" RETURNING o.\"id\"" },
	[GX_OUTBOX_STORE_FAIL] = { "sub_fail",
		"WITH upd AS (UPDATE \"OutboxCommand\" o SET \"status\" = 'FAILED', \"errorCode\" = u.code, \"error\" = u.msg,"
		"  \"lockedBy\" = NULL, \"leaseUntil\" = NULL, \"updatedAt\" = now()"
		"  FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, code, msg)"
		"  WHERE o.\"id\" = u.id AND ($5::bool OR (o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'))"
		"  RETURNING o.\"id\")"
		" SELECT upd.\"id\", pg_notify('gx_command_status', upd.\"id\") FROM upd" },
	[GX_OUTBOX_STORE_COMMIT] = { "sub_commit",
		"WITH upd AS (UPDATE \"OutboxCommand\" o SET"
		"  \"status\" = CASE WHEN o.\"status\" = 'PROJECTED' THEN o.\"status\" ELSE 'COMMITTED' END,"
		"  \"commitBlock\" = u.blk, \"committedAt\" = COALESCE(o.\"committedAt\", now()), \"lockedBy\" = NULL,"
		"  \"leaseUntil\" = NULL, \"errorCode\" = NULL, \"error\" = NULL, \"updatedAt\" = now()"
		"  FROM unnest($1::text[], $2::bigint[]) AS u(id, blk)"
		"  WHERE o.\"id\" = u.id AND o.\"status\" IN ('PENDING', 'LOCKED', 'SUBMITTED', 'PROJECTED')"
		"  RETURNING o.\"id\", o.\"createdAt\")"
		" SELECT upd.\"id\", EXTRACT(EPOCH FROM now() - upd.\"createdAt\")::float8 AS age,"
		" pg_notify('gx_command_status', upd.\"id\") FROM upd" },
	/* Back to PENDING (retry with backoff, or release on drain); the stored proposal stays so the same tx id is
	 * sent again. unc = 1 takes back the attempt the send counted (peer unreachable: nothing was sent). */
	[GX_OUTBOX_STORE_RETRY] = { "sub_retry",
		"UPDATE \"OutboxCommand\" o SET \"status\" = 'PENDING', \"lockedBy\" = NULL, \"leaseUntil\" = NULL,"
		" \"nextAttemptAt\" = now() + u.delay * interval '1 millisecond',"
		" \"errorCode\" = COALESCE(u.code, o.\"errorCode\"), \"error\" = COALESCE(u.msg, o.\"error\"),"
		" \"attempts\" = GREATEST(o.\"attempts\" - u.unc, 0), \"updatedAt\" = now()"
		" FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::int[]) AS u(id, delay, code, msg, unc)"
		" WHERE o.\"id\" = u.id AND o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'" },
	[GX_OUTBOX_STORE_DEFER] = { "sub_defer",
		"UPDATE \"OutboxCommand\" SET \"nextAttemptAt\" = now() + interval '5 seconds', \"updatedAt\" = now()"
		" WHERE \"id\" = ANY($1::text[])" },
	[GX_OUTBOX_STORE_RENEW] = { "sub_renew",
		"UPDATE \"OutboxCommand\" SET \"leaseUntil\" = now() + $2::bigint * interval '1 millisecond'"
		" WHERE \"lockedBy\" = $1 AND \"status\" IN ('LOCKED', 'SUBMITTED')" },
	[GX_OUTBOX_STORE_RELEASE_ALL] = { "sub_release_all",
		"UPDATE \"OutboxCommand\" SET \"status\" = 'PENDING', \"lockedBy\" = NULL, \"leaseUntil\" = NULL,"
		" \"nextAttemptAt\" = now(), \"updatedAt\" = now()"
		" WHERE \"lockedBy\" = $1 AND \"status\" IN ('LOCKED', 'SUBMITTED')" },
	[GX_OUTBOX_STORE_GAUGES] = { "sub_gauges",
		"SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(\"createdAt\")), 0)::float8"
		" FROM \"OutboxCommand\" WHERE \"status\" = 'PENDING'" },
};

const char gx_outbox_store_sql_projected[] =
	"WITH u AS (UPDATE \"OutboxCommand\" SET \"status\" = 'PROJECTED', \"projectedAt\" = now(),"
	" \"updatedAt\" = now(), \"commitBlock\" = COALESCE(\"commitBlock\", $2::bigint),"
	" \"committedAt\" = COALESCE(\"committedAt\", now())"
	" WHERE \"fabricTxId\" = ANY($1::text[]) AND \"status\" <> 'PROJECTED' RETURNING \"id\")"
	" SELECT count(pg_notify('gx_command_status', \"id\")) FROM u";


/* ---- end of the submitter's part ---- */
