/* Idempotency-Key store in "HttpIdempotency" (design.md §3): same key + same request replays the stored response
 * byte for byte, same key + different request -> MISMATCH (422), same key still running -> IN_FLIGHT (409). Records
 * live 24 h; expired records are ignored and replaced, and an IN_FLIGHT record older than 60 s (its request died) is
 * taken over by the next request with that key.
 *
 * Scoped key: the caller passes one string "<tenant>:<caller>:<rest>" (the http pipeline builds
 * tenant:sub-or-anon:service:header). It is stored as "tenantId" = text before the first ':', "callerId" = text
 * between the first and second ':', "idempotencyKey" = the rest (a key without two ':' is stored with tenant
 * GX_API_TENANT_DEFAULT and caller ""). The split is injective, so distinct scoped keys never collide.
 *
 * Stored response: status, headers as a JSON object {"Header-Name": "value", ...} (include Content-Type) and the
 * exact body bytes (BYTEA). What to store is the caller's choice; the pipeline stores 2xx-4xx and calls
 * gx_idem_abort() for 5xx, so a retry after a server failure runs again.
 *
 * Deferred claim (one commit per accepted outbox write): for a route flagged GX_ROUTE_OUTBOX_WRITE the pipeline only
 * looks the key up (gx_idem_lookup, a read: no commit) and runs the handler; the record is then written COMPLETE in
 * the handler's own transaction (gx_idem_claim_stmts, the outbox write) or, when the handler answers without
 * one (validation 4xx), stored before the reply goes out (gx_idem_store). Two racing requests serialise on the record's
 * primary key: the loser's transaction fails with 23505 "HttpIdempotency_pkey" and it answers from a new lookup.
 *
 * All calls run on the pool's thread; callbacks run once, later, on that thread (see gx/pg.h).
 */
#ifndef GX_IDEM_H
#define GX_IDEM_H

#include <stdbool.h>
#include <stddef.h>
#include "gx/pg.h"

enum gx_idem_state {
	GX_IDEM_NEW,       /* an IN_FLIGHT record is now ours: run the request, then complete or abort */
	GX_IDEM_REPLAY,    /* a completed record for the same request: send status/headers/body as stored */
	GX_IDEM_MISMATCH,  /* the key was used for a different method, path or body: 422 IDEMPOTENCY_KEY_REUSED */
	GX_IDEM_IN_FLIGHT, /* the same request is still running elsewhere: 409 IDEMPOTENCY_IN_PROGRESS */
};

/* Result of gx_idem_begin. Pointers are borrowed and valid during the callback only. */
struct gx_idem_hit {
	enum gx_idem_state state;
	int status;                /* REPLAY: HTTP status */
	const char *headers_json;  /* REPLAY: JSON object text ("{}" when none were stored) */
	const unsigned char *body; /* REPLAY: body bytes (not NUL-terminated; may be NULL when len is 0) */
	size_t body_len;
};

/* hit is NULL exactly when err is non-NULL (database failure: answer 503 via gx_reply_pg_error). */
typedef void (*gx_idem_cb)(const struct gx_idem_hit *hit, const struct gx_pg_error *err, void *arg);
/* err is NULL on success. */
typedef void (*gx_idem_done_cb)(const struct gx_pg_error *err, void *arg);

/* Claim scoped_key for (method, path, body_sha256_hex) or learn what it holds. All strings borrowed (copied).
 * Returns 0 when started (cb will run), -1 on bad arguments (logged). */
int gx_idem_begin(struct gx_pg_pool *pool, const char *scoped_key, const char *method, const char *path,
		  const char *body_sha256_hex, gx_idem_cb cb, void *arg);

/* Like gx_idem_begin but read-only (no record is written, nothing commits): NEW means no live record holds the key
 * (none, expired, or a stale IN_FLIGHT one); the caller then writes it with gx_idem_claim_stmts or gx_idem_store. */
int gx_idem_lookup(struct gx_pg_pool *pool, const char *scoped_key, const char *method, const char *path,
		   const char *body_sha256_hex, gx_idem_cb cb, void *arg);

/* Store the final response of a NEW record: status, headers_json (JSON object text, NULL for "{}"), body[0..len).
 * Borrowed, copied. cb may be NULL (failures are logged either way). Returns 0 when started, -1 on bad arguments. */
int gx_idem_complete(struct gx_pg_pool *pool, const char *scoped_key, int status, const char *headers_json,
		     const void *body, size_t len, gx_idem_done_cb cb, void *arg);

/* Drop a NEW record without storing a response (the request failed in a way a retry should redo). cb may be NULL. */
int gx_idem_abort(struct gx_pg_pool *pool, const char *scoped_key, gx_idem_done_cb cb, void *arg);

/* The completion as one statement for a caller's own transaction (gx_pg_txn), e.g. the outbox write: the record
 * commits or rolls back with the caller's data. The builder owns copies of everything; s->stmt is valid until
 * gx_idem_stmt_clear(s). command_id may be NULL. */
struct gx_idem_stmt {
	struct gx_pg_stmt stmt;
	const char *params[7];
	char *owned[7];
};
void gx_idem_complete_stmt(struct gx_idem_stmt *s, const char *scoped_key, int status, const char *headers_json,
			   const void *body, size_t len, const char *command_id);
void gx_idem_stmt_clear(struct gx_idem_stmt *s);

/* The deferred claim as two statements for the caller's transaction (put them first): drop a dead record (expired
 * or stale IN_FLIGHT) for the key, then INSERT the COMPLETE record. A live record makes the INSERT fail with 23505
 * on GX_IDEM_PKEY (after the holder's transaction ends). Owns copies; stmts valid until gx_idem_claim_clear(s). */
#define GX_IDEM_PKEY "HttpIdempotency_pkey"
struct gx_idem_claim {
	struct gx_pg_stmt stmts[2];
	const char *params[10];
	char *owned[10];
};
void gx_idem_claim_stmts(struct gx_idem_claim *s, const char *scoped_key, const char *method, const char *path,
			 const char *body_sha256_hex, int status, const char *headers_json, const void *body,
			 size_t len, const char *command_id);
void gx_idem_claim_clear(struct gx_idem_claim *s);

/* Store a COMPLETE record after a deferred claim's reply (no transaction of the caller's): inserts it, or replaces a
 * dead one; a live record is left as it is. cb may be NULL. Returns 0 when started, -1 on bad arguments. */
int gx_idem_store(struct gx_pg_pool *pool, const char *scoped_key, const char *method, const char *path,
		  const char *body_sha256_hex, int status, const char *headers_json, const void *body, size_t len,
		  gx_idem_done_cb cb, void *arg);

/* ---- the request's side (common/src/http_idem.c, which owns the request's idempotency state), for the outbox
 * write ---- */

struct gx_req;

/* True while req runs under a deferred claim (looked up NEW, no record written yet). */
bool gx_req_idem_deferred(const struct gx_req *req);
/* Fill s with the claim statements of req's deferred claim for the given final response. Call only when
 * gx_req_idem_deferred(req); release with gx_idem_claim_clear. */
void gx_req_idem_claim_stmts(const struct gx_req *req, struct gx_idem_claim *s, int status, const char *headers_json,
			     const void *body, size_t len, const char *command_id);
/* The handler's own transaction stored the response (gx/outbox.h does this; no-op without a key): the server then
 * does not store it again after the reply. */
void gx_req_idem_recorded(struct gx_req *req);
/* The deferred claim's transaction failed on GX_IDEM_PKEY (another request with the key won): look the key up again
 * and answer from it (replay, 422, 409). Ends req. */
void gx_req_idem_resolve(struct gx_req *req);

#endif
