/* The one owner of the "OutboxCommand" table: every statement on it, for the APIs, svc-admin, gxctl and the
 * outbox-submitter, stands in common/src/outbox_store.c and nowhere else. Callers name what they want done (enqueue,
 * in flight?, requeue, claim a batch, settle a batch); the SQL text, the status enumeration and the lease columns
 * stay here.
 */
#ifndef GX_OUTBOX_STORE_H
#define GX_OUTBOX_STORE_H

/* ==== The APIs, svc-admin and gxctl: status names, enqueue, the in-flight check, the status query, requeue ==== */

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
 * array ones are gx_outbox_store_arr literals of equal length, one element per command. */
enum gx_outbox_store_sub_q {
	GX_OUTBOX_STORE_CLAIM,	     /* $1 limit, $2 candidates: id, ctype, payload, attempts, prop, sig, created_ms */
	GX_OUTBOX_STORE_PERSIST,     /* $1 worker, $2 lease ms, $3 ids, $4 tx ids, $5 submissions (NULL = keep),
					$6 aggregates, $7 attempt increments, $8 claiming: the ids still ours */
	GX_OUTBOX_STORE_FAIL,	     /* $1 worker, $2 ids, $3 codes, $4 messages, $5 claiming: FAILED and notified */
	GX_OUTBOX_STORE_COMMIT,	     /* $1 ids, $2 blocks: COMMITTED and notified; id, age (s since creation) */
	GX_OUTBOX_STORE_RETRY,	     /* $1 worker, $2 ids, $3 delays ms, $4 codes, $5 messages, $6 uncount: PENDING */
	GX_OUTBOX_STORE_DEFER,	     /* $1 ids: due again in 5 s (no proposal could be built) */
	GX_OUTBOX_STORE_RENEW,	     /* $1 worker, $2 lease ms: extend every lease of the worker */
	GX_OUTBOX_STORE_RELEASE_ALL, /* $1 worker: every row it leases back to PENDING, due now */
	GX_OUTBOX_STORE_GAUGES,	     /* PENDING count, age of the oldest PENDING in seconds */
	GX_OUTBOX_STORE_NSUB
};
extern const struct gx_pgs_stmt gx_outbox_store_sub_stmts[GX_OUTBOX_STORE_NSUB];

/* The projector's mark (docs/projector.md): $1 tx ids (text[]), $2 block; the originating commands become
 * PROJECTED (commitBlock and committedAt filled when missing) and are notified on gx_command_status at COMMIT.
 * Returns one row: the count. Static storage, for the projector's own statement table. */
extern const char gx_outbox_store_sql_projected[];


/* ---- end of the submitter's part ---- */

#endif
