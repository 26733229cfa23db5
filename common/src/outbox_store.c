/* The "OutboxCommand" store: every statement on the table (gx/outbox_store.h). */
#include "gx/outbox_store.h"

/* ==== The APIs, svc-admin and gxctl ==== */

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gx/log.h"
#include "gx/pg.h"
#include "gx/requeue.h"
#include "gx/util.h"

const char *const gx_outbox_store_status_names[] = { "PENDING",   "LOCKED", "SUBMITTED", "COMMITTED",
						     "PROJECTED", "FAILED", NULL };

const char *gx_outbox_store_public_status(const char *status)
{
	return strcmp(status, "LOCKED") == 0 ? "PENDING" : status;
}

bool gx_outbox_store_status_final(const char *status)
{
	return strcmp(status, "PROJECTED") == 0 || strcmp(status, "FAILED") == 0;
}

const char gx_outbox_store_insert_sql[] =
	"INSERT INTO \"OutboxCommand\" (\"id\", \"tenantId\", \"service\", \"commandType\", \"requestId\", \"payload\","
	" \"aggregateId\", \"httpRequestId\", \"traceId\")"
	" VALUES ($1, $2, $3, $4::\"CommandType\", $5, $6::jsonb, $7, $8, $9)";
const char gx_outbox_store_notify_sql[] = "SELECT pg_notify('gx_outbox', $1)";
const char gx_outbox_store_existing_sql[] =
	"SELECT \"id\", \"aggregateId\", \"commandType\"::text AS \"commandType\" FROM \"OutboxCommand\""
	" WHERE \"tenantId\" = $1 AND \"requestId\" = $2";
const char gx_outbox_store_status_sql[] =
	"SELECT \"id\", \"commandType\"::text AS \"commandType\", \"status\"::text AS \"status\", \"attempts\","
	" \"errorCode\", \"error\", \"fabricTxId\", \"commitBlock\", \"aggregateId\","
	" \"payload\"->'_meta'->>'createdBy' AS \"createdBy\","
	" " GX_SQL_ISO_TS("\"createdAt\"") " AS \"createdAt\", " GX_SQL_ISO_TS("\"updatedAt\"") " AS \"updatedAt\","
	" " GX_SQL_ISO_TS("\"submittedAt\"") " AS \"submittedAt\", " GX_SQL_ISO_TS("\"committedAt\"") " AS \"committedAt\","
	" " GX_SQL_ISO_TS("\"projectedAt\"") " AS \"projectedAt\""
	" FROM \"OutboxCommand\" WHERE \"id\" = $1 AND \"tenantId\" = $2";
const char gx_outbox_store_lag_sql[] =
	"SELECT EXISTS (SELECT 1 FROM \"ProjectorState\") AS state,"
	" COALESCE((extract(epoch FROM now() - min(\"committedAt\")) * 1000)::bigint, 0) AS lag"
	" FROM \"OutboxCommand\" WHERE \"status\" = 'COMMITTED'";

/* The selection of table alias t: the given ids ($2), or FAILED commands matching the filter $3..$6. */
/* clang-format off */
#define SELECTION(t) \
	" " t ".\"tenantId\" = $1 AND (($2::text[] IS NOT NULL AND " t ".\"id\" = ANY($2::text[])) OR ($2::text[] IS NULL" \
	" AND " t ".\"status\" = 'FAILED' AND ($3::text IS NULL OR " t ".\"commandType\"::text = $3)" \
	" AND ($4::text IS NULL OR " t ".\"errorCode\" = $4)" \
	" AND ($5::bigint IS NULL OR " t ".\"createdAt\" <= now() - $5::bigint * interval '1 second')" \
	" AND ($6::bigint IS NULL OR " t ".\"createdAt\" >= now() - $6::bigint * interval '1 second')))"
/* clang-format on */

const char gx_outbox_store_requeue_sql[] =
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

/* ---- the operators' views ---- */

#define FILTER_WHERE \
	" \"tenantId\" = $1 AND ($2::text IS NULL OR \"status\"::text = $2) AND ($3::text IS NULL OR" \
	" \"commandType\"::text = $3) AND ($4::bigint IS NULL OR \"createdAt\" <= now() - $4::bigint * interval '1 second')" \
	" AND ($5::bigint IS NULL OR \"createdAt\" >= now() - $5::bigint * interval '1 second')" \
	" AND ($6::text IS NULL OR \"errorCode\" = $6)"

/* clang-format off */
#define ITEM_JSON(t) \
	"json_build_object('commandId', " t ".\"id\", 'commandType', " t ".\"commandType\", 'status', " t ".\"status\"," \
	" 'service', " t ".\"service\", 'attempts', " t ".\"attempts\", 'errorCode', " t ".\"errorCode\"," \
	" 'error', " t ".\"error\", 'aggregateId', " t ".\"aggregateId\", 'fabricTxId', " t ".\"fabricTxId\"," \
	" 'blockNumber', " t ".\"commitBlock\", 'createdAt', " GX_SQL_ISO_TS(t ".\"createdAt\"") "," \
	" 'updatedAt', " GX_SQL_ISO_TS(t ".\"updatedAt\"") ", 'nextAttemptAt', " GX_SQL_ISO_TS(t ".\"nextAttemptAt\"") "," \
	" 'requeueable', " GX_REQUEUE_OK(t ".\"status\"", t ".\"errorCode\"") ")"
/* clang-format on */

const char gx_outbox_store_list_sql[] =
	"WITH f AS (SELECT * FROM \"OutboxCommand\" WHERE" FILTER_WHERE ")"
	" SELECT (SELECT count(*) FROM f) AS \"total\","
	" coalesce((SELECT json_agg(" ITEM_JSON("x") " ORDER BY x.\"createdAt\" DESC, x.\"id\")"
	"  FROM (SELECT * FROM f ORDER BY \"createdAt\" DESC, \"id\" LIMIT $7::bigint OFFSET $8::bigint) x), '[]')::text"
	"  AS \"items\"";

const char gx_outbox_store_show_sql[] =
	"SELECT (" ITEM_JSON("c") "::jsonb || jsonb_build_object('payload', c.\"payload\", 'requestId', c.\"requestId\","
	" 'lockedBy', c.\"lockedBy\", 'leaseUntil', " GX_SQL_ISO_TS("c.\"leaseUntil\"") ","
	" 'submittedAt', " GX_SQL_ISO_TS("c.\"submittedAt\"") ", 'committedAt', " GX_SQL_ISO_TS("c.\"committedAt\"") ","
	" 'projectedAt', " GX_SQL_ISO_TS("c.\"projectedAt\"") ","
	" 'audit', coalesce((SELECT jsonb_agg(jsonb_build_object('action', a.\"action\", 'actorId', a.\"actorId\","
	"   'actorRole', a.\"actorRole\", 'details', a.\"details\", 'createdAt', " GX_SQL_ISO_TS("a.\"createdAt\"") ")"
	"   ORDER BY a.\"createdAt\", a.\"id\") FROM \"AdminAuditLog\" a WHERE a.\"tenantId\" = $1"
	"   AND a.\"targetType\" = 'COMMAND' AND a.\"targetId\" = c.\"id\"), '[]'::jsonb)))::text AS \"doc\""
	" FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1 AND c.\"id\" = $2";

const char gx_outbox_store_ctl_list_sql[] =
	"SELECT \"id\", \"status\"::text AS \"status\", \"commandType\"::text AS \"type\", \"attempts\","
	" coalesce(\"errorCode\", '-') AS \"errorCode\", " GX_SQL_ISO_TS("\"createdAt\"") " AS \"createdAt\","
	" coalesce(\"error\", '') AS \"error\","
	" CASE WHEN " GX_REQUEUE_OK("\"status\"", "\"errorCode\"") " THEN 'yes' ELSE 'no' END AS \"requeueable\""
	" FROM \"OutboxCommand\" WHERE" FILTER_WHERE " ORDER BY \"createdAt\" DESC, \"id\" LIMIT $7::bigint";

const char gx_outbox_store_ctl_show_sql[] =
	"SELECT jsonb_pretty(to_jsonb(c) || jsonb_build_object('audit', coalesce((SELECT jsonb_agg(jsonb_build_object("
	" 'action', a.\"action\", 'actorId', a.\"actorId\", 'createdAt', " GX_SQL_ISO_TS("a.\"createdAt\"") ")"
	" ORDER BY a.\"createdAt\", a.\"id\") FROM \"AdminAuditLog\" a WHERE a.\"targetType\" = 'COMMAND'"
	" AND a.\"targetId\" = c.\"id\"), '[]'::jsonb))) FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1 AND c.\"id\" = $2";

/* ---- probes ---- */

static const char *const RULE_SQL[] = {
	[GX_OUTBOX_STORE_IN_FLIGHT] = "c.\"status\" NOT IN ('FAILED', 'PROJECTED')",
	[GX_OUTBOX_STORE_LIVE] = "c.\"status\" <> 'FAILED'",
};

/* The WHERE condition of p's commands. Caller frees. */
static char *probe_where(const struct gx_outbox_store_probe *p)
{
	char *w = gx_xasprintf("c.\"tenantId\" = %s AND c.\"commandType\" IN (%s)", p->tenant, p->types), *t;

	if (p->aggregate) {
		t = gx_xasprintf("%s AND c.\"aggregateId\" = %s", w, p->aggregate);
		free(w);
		w = t;
	}
	for (size_t i = 0; i < GX_OUTBOX_STORE_MAX_FIELDS && p->fields[i].name; i++) {
		const struct gx_outbox_store_field *f = &p->fields[i];

		if (f->optional)
			t = gx_xasprintf("%s AND (%s::text IS NULL OR c.\"payload\"->>'%s' = %s)", w, f->value, f->name,
					 f->value);
		else
			t = gx_xasprintf("%s AND c.\"payload\"->>'%s' = %s", w, f->name, f->value);
		free(w);
		w = t;
	}
	t = gx_xasprintf("%s AND %s", w, RULE_SQL[p->rule]);
	free(w);
	return t;
}

char *gx_outbox_store_probe_sql(const struct gx_outbox_store_probe *p)
{
	char *w, *s;

	if (p->ask == GX_OUTBOX_STORE_COUNTS)
		return gx_xasprintf(
			"(SELECT coalesce(json_object_agg(s, n), '{}')::text FROM (SELECT \"status\"::text AS s,"
			" count(*) AS n FROM \"OutboxCommand\" WHERE \"tenantId\" = %s GROUP BY 1) x)",
			p->tenant);
	w = probe_where(p);
	if (p->ask == GX_OUTBOX_STORE_NEWEST)
		s = gx_xasprintf(
			"(SELECT c.\"commandType\"::text FROM \"OutboxCommand\" c WHERE %s"
			" ORDER BY c.\"createdAt\" DESC, c.\"id\" DESC LIMIT 1)",
			w);
	else
		s = gx_xasprintf("EXISTS (SELECT 1 FROM \"OutboxCommand\" c WHERE %s)", w);
	free(w);
	return s;
}

static char *sql_build(const struct gx_outbox_store_sql *s)
{
	char *out = gx_xstrdup(""), *t;
	const char *p = s->tmpl, *q;
	size_t n = 0;

	while ((q = strstr(p, "%s"))) {
		char *sub;

		if (n >= GX_OUTBOX_STORE_MAX_PROBES) {
			gx_log_fatal("outbox store: a statement template has more than %d probes",
				     GX_OUTBOX_STORE_MAX_PROBES);
			abort();
		}
		sub = gx_outbox_store_probe_sql(&s->probes[n++]);
		t = gx_xasprintf("%s%.*s%s", out, (int)(q - p), p, sub);
		free(sub);
		free(out);
		out = t;
		p = q + 2;
	}
	t = gx_xasprintf("%s%s", out, p);
	free(out);
	return t;
}

const char *gx_outbox_store_sql_text(struct gx_outbox_store_sql *s)
{
	char *text = atomic_load_explicit(&s->text, memory_order_acquire), *none = NULL;

	if (text)
		return text;
	text = sql_build(s);
	if (!atomic_compare_exchange_strong_explicit(&s->text, &none, text, memory_order_acq_rel,
						     memory_order_acquire)) {
		free(text); /* another thread built it first */
		return none;
	}
	return text;
}

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

/* The one lock order on "OutboxCommand" (design.md §7): a statement that changes several rows locks them first,
 * in "id" order, so the submitter's batches and the projector's PROJECTED mark never wait on each other in a
 * cycle. The CTE is materialized so the locks are taken in that order before the UPDATE touches a row. */
#define LOCK_IN_ID_ORDER(where) \
	"lk AS MATERIALIZED (SELECT \"id\" FROM \"OutboxCommand\" WHERE " where " ORDER BY \"id\" FOR UPDATE)"

/* clang-format off */
const struct gx_pgs_stmt gx_outbox_store_sub_stmts[GX_OUTBOX_STORE_NSUB] = {
	/* The oldest open command of each aggregate when it is PENDING and due (a newer command never overtakes an
	 * older open one), plus in-flight rows whose lease ran out (a dead replica's). Row locks with SKIP LOCKED make
	 * two replicas claim disjoint sets; the outer re-check drops rows another replica changed meanwhile. */
	[GX_OUTBOX_STORE_CLAIM] = { "sub_claim",
		"SELECT o.\"id\", o.\"commandType\"::text AS ctype, o.\"payload\"::text AS payload, o.\"attempts\","
		" o.\"payload\"->'_submission'->>'proposal' AS prop, o.\"payload\"->'_submission'->>'signature' AS sig,"
		" (EXTRACT(EPOCH FROM o.\"createdAt\") * 1000)::bigint AS created_ms,"
		" o.\"httpRequestId\" AS rid, o.\"traceId\" AS tid"
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
		"WITH " LOCK_IN_ID_ORDER("\"id\" = ANY($3::text[])") ","
		" upd AS (UPDATE \"OutboxCommand\" o SET \"status\" = 'SUBMITTED', \"lockedBy\" = $1, \"lockedAt\" = now(),"
		"  \"leaseUntil\" = now() + $2::bigint * interval '1 millisecond',"
		"  \"submittedAt\" = COALESCE(o.\"submittedAt\", now()), \"updatedAt\" = now(), \"fabricTxId\" = u.tx,"
		"  \"attempts\" = o.\"attempts\" + u.inc,"
		"  \"payload\" = CASE WHEN u.sub IS NULL THEN o.\"payload\""
		"   ELSE jsonb_set(o.\"payload\", '{_submission}', u.sub::jsonb) END,"
		"  \"aggregateId\" = COALESCE(o.\"aggregateId\", u.agg)"
		"  FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::int[]) AS u(id, tx, sub, agg, inc), lk"
		"  WHERE o.\"id\" = u.id AND o.\"id\" = lk.\"id\""
		"  AND ($8::bool OR (o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'))"
		"  RETURNING o.\"id\")"
		" SELECT \"id\" FROM upd" },
	[GX_OUTBOX_STORE_FAIL] = { "sub_fail",
		"WITH " LOCK_IN_ID_ORDER("\"id\" = ANY($2::text[])") ","
		" upd AS (UPDATE \"OutboxCommand\" o SET \"status\" = 'FAILED', \"errorCode\" = u.code, \"error\" = u.msg,"
		"  \"lockedBy\" = NULL, \"leaseUntil\" = NULL, \"updatedAt\" = now()"
		"  FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, code, msg), lk"
		"  WHERE o.\"id\" = u.id AND o.\"id\" = lk.\"id\""
		"  AND ($5::bool OR (o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'))"
		"  RETURNING o.\"id\")"
		" SELECT upd.\"id\", pg_notify('gx_command_status', upd.\"id\") FROM upd" },
	[GX_OUTBOX_STORE_COMMIT] = { "sub_commit",
		"WITH " LOCK_IN_ID_ORDER("\"id\" = ANY($1::text[])") ","
		" upd AS (UPDATE \"OutboxCommand\" o SET"
		"  \"status\" = CASE WHEN o.\"status\" = 'PROJECTED' THEN o.\"status\" ELSE 'COMMITTED' END,"
		"  \"commitBlock\" = u.blk, \"committedAt\" = COALESCE(o.\"committedAt\", now()), \"lockedBy\" = NULL,"
		"  \"leaseUntil\" = NULL, \"errorCode\" = NULL, \"error\" = NULL, \"updatedAt\" = now()"
		"  FROM unnest($1::text[], $2::bigint[]) AS u(id, blk), lk"
		"  WHERE o.\"id\" = u.id AND o.\"id\" = lk.\"id\""
		"  AND o.\"status\" IN ('PENDING', 'LOCKED', 'SUBMITTED', 'PROJECTED')"
		"  RETURNING o.\"id\", o.\"createdAt\")"
		" SELECT upd.\"id\", EXTRACT(EPOCH FROM now() - upd.\"createdAt\")::float8 AS age,"
		" pg_notify('gx_command_status', upd.\"id\") FROM upd" },
	/* Back to PENDING (retry with backoff, or release on drain); the stored proposal stays so the same tx id is
	 * sent again. unc = 1 takes back the attempt the send counted (peer unreachable: nothing was sent). */
	[GX_OUTBOX_STORE_RETRY] = { "sub_retry",
		"WITH " LOCK_IN_ID_ORDER("\"id\" = ANY($2::text[])") ""
		" UPDATE \"OutboxCommand\" o SET \"status\" = 'PENDING', \"lockedBy\" = NULL, \"leaseUntil\" = NULL,"
		" \"nextAttemptAt\" = now() + u.delay * interval '1 millisecond',"
		" \"errorCode\" = COALESCE(u.code, o.\"errorCode\"), \"error\" = COALESCE(u.msg, o.\"error\"),"
		" \"attempts\" = GREATEST(o.\"attempts\" - u.unc, 0), \"updatedAt\" = now()"
		" FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::int[]) AS u(id, delay, code, msg, unc), lk"
		" WHERE o.\"id\" = u.id AND o.\"id\" = lk.\"id\" AND o.\"lockedBy\" = $1 AND o.\"status\" = 'SUBMITTED'" },
	[GX_OUTBOX_STORE_DEFER] = { "sub_defer",
		"UPDATE \"OutboxCommand\" SET \"nextAttemptAt\" = now() + interval '5 seconds', \"updatedAt\" = now()"
		" WHERE \"id\" = ANY($1::text[])" },
	/* Only the rows the worker holds: a row leased under its name that it does not hold (a claim whose COMMIT
	 * answer was lost) runs out and is taken over, or is released at the next connect (RELEASE). */
	[GX_OUTBOX_STORE_RENEW] = { "sub_renew",
		"WITH " LOCK_IN_ID_ORDER("\"id\" = ANY($3::text[]) AND \"lockedBy\" = $1"
		"  AND \"status\" IN ('LOCKED', 'SUBMITTED')")
		" UPDATE \"OutboxCommand\" o SET \"leaseUntil\" = now() + $2::bigint * interval '1 millisecond'"
		" FROM lk WHERE o.\"id\" = lk.\"id\" AND o.\"lockedBy\" = $1 AND o.\"status\" IN ('LOCKED', 'SUBMITTED')" },
	/* Every row leased under the worker's name that it does not hold goes back to PENDING, due now, with its stored
	 * proposal (the same tx id on the next send); $2 '{}' releases all. */
	[GX_OUTBOX_STORE_RELEASE] = { "sub_release",
		"WITH " LOCK_IN_ID_ORDER("\"lockedBy\" = $1 AND \"status\" IN ('LOCKED', 'SUBMITTED')"
		"  AND NOT (\"id\" = ANY($2::text[]))")
		" UPDATE \"OutboxCommand\" o SET \"status\" = 'PENDING', \"lockedBy\" = NULL, \"leaseUntil\" = NULL,"
		" \"nextAttemptAt\" = now(), \"updatedAt\" = now()"
		" FROM lk WHERE o.\"id\" = lk.\"id\" AND o.\"lockedBy\" = $1 AND o.\"status\" IN ('LOCKED', 'SUBMITTED')"
		" RETURNING o.\"id\"" },
	/* The worker's name is held by one live session at a time: a session-level advisory lock, let go when the
	 * session ends (a killed process's at once). true when this session now holds $1. */
	[GX_OUTBOX_STORE_IDENTITY] = { "sub_identity",
		"SELECT pg_try_advisory_lock(hashtext('gx-outbox-worker'), hashtext($1))" },
	[GX_OUTBOX_STORE_GAUGES] = { "sub_gauges",
		"SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(\"createdAt\")), 0)::float8"
		" FROM \"OutboxCommand\" WHERE \"status\" = 'PENDING'" },
};
/* clang-format on */

const char gx_outbox_store_sql_projected[] =
	"WITH " LOCK_IN_ID_ORDER("\"fabricTxId\" = ANY($1::text[]) AND \"status\" <> 'PROJECTED'") ","
	" u AS (UPDATE \"OutboxCommand\" o SET \"status\" = 'PROJECTED', \"projectedAt\" = now(),"
	"  \"updatedAt\" = now(), \"commitBlock\" = COALESCE(o.\"commitBlock\", $2::bigint),"
	"  \"committedAt\" = COALESCE(o.\"committedAt\", now())"
	"  FROM lk WHERE o.\"id\" = lk.\"id\" AND o.\"status\" <> 'PROJECTED'"
	"  RETURNING o.\"id\", o.\"fabricTxId\", o.\"httpRequestId\", o.\"traceId\")"
	" SELECT \"id\", \"fabricTxId\" AS tx, \"httpRequestId\" AS rid, \"traceId\" AS tid,"
	" pg_notify('gx_command_status', \"id\") FROM u";

/* ---- end of the submitter's part ---- */
