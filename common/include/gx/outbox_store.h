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

/* ---- end of the submitter's part ---- */

#endif
