/* Handler helpers the seven API services share: query parameters and paging read from the request, read-model
 * columns turned into JSON, the list reply, and the two ways a handler hands an on-chain change to the outbox
 * (an explicit aggregate, or the aggregate the chaincode mapping yields, with an optional admin audit row).
 *
 * Every function here runs on the request's worker thread, from a handler or a gx_pg callback. The gx_svc_reply_*,
 * gx_svc_enqueue and gx_svc_submit functions answer the request: after one, the caller must not touch req again.
 */
#ifndef GX_SVC_H
#define GX_SVC_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/valid.h"

struct gx_req;
struct gx_pg_error;

/* ---- request input ---- */

/* Integer query parameter name of req in [min, max], def when absent; an issue is added to v when malformed
 * (gx_valid_query_int). */
long long gx_svc_query_int(const struct gx_req *req, const char *name, long long min, long long max, long long def,
			   struct gx_verr *v);
/* ?limit (1..max, default def) and ?offset of req into *pg: 0, or -1 with issues added to v (gx_valid_paging). */
int gx_svc_paging(const struct gx_req *req, long long max, long long def, struct gx_valid_page *pg, struct gx_verr *v);
/* The end of a handler's validation: when v holds issues, answer 400 VALIDATION_FAILED with them (ends req) and
 * return true; else return false. Takes ownership of v (freed either way). */
bool gx_svc_invalid(struct gx_req *req, struct gx_verr *v);
/* Answer 400 VALIDATION_FAILED with the one issue of field (printf-style; ends req). */
void gx_svc_reply_invalid(struct gx_req *req, const char *field, const char *fmt, ...) GX_PRINTF(3, 4);

/* ---- read-model columns (res borrowed) ---- */

/* The head of a gx_pg callback that needs a row: answers a database error (gx_reply_pg_error), or 404 with code and
 * the printf-style message when res has no row. Returns true when the caller goes on with res (req still open),
 * false when req was answered. */
bool gx_svc_found(struct gx_req *req, const PGresult *res, const struct gx_pg_error *err, const char *code,
		  const char *fmt, ...) GX_PRINTF(5, 6);

/* Add the text column col of row as a JSON string under name, or null when the column is SQL NULL. */
void gx_svc_add_text(cJSON *obj, const char *name, const PGresult *res, int row, const char *col);
/* True when the column holds PostgreSQL's boolean true ("t"). */
bool gx_svc_true(const PGresult *res, int row, const char *col);
/* The "total" column of the first row as a number; 0 when there is no row or it is not an integer. */
long long gx_svc_total(const PGresult *res);

/* Answer 200 {"<field>": items, "total", "limit", "offset"} (design.md §3 list shape; ends req). Takes ownership of
 * items (a JSON array); pg is borrowed. */
void gx_svc_reply_list(struct gx_req *req, const char *field, cJSON *items, long long total,
		       const struct gx_valid_page *pg);

/* ---- on-chain writes: both answer 202 through gx_outbox_submit (ends req) ---- */

/* Enqueue command type with the aggregate aggregate_id (borrowed; may be NULL) and payload. Takes ownership of
 * payload (deleted before returning). */
void gx_svc_enqueue(struct gx_req *req, const char *type, const char *aggregate_id, cJSON *payload);

/* The "AdminAuditLog" row written in the same transaction as the command. All borrowed for the call. Actor, role,
 * request id and client IP come from the request; details is the payload. */
struct gx_svc_audit {
	const char *tenant;      /* "tenantId" */
	const char *action;      /* e.g. "WALLET_FREEZE" */
	const char *target_type; /* e.g. "WALLET" */
	const char *target_id;   /* may be NULL */
};
/* Enqueue command type with payload (borrowed). The payload is first checked against the docs/chaincode.md row of
 * type with gx_chaincode_map, which also yields the aggregate; a mismatch answers 500 INTERNAL. When audit is not
 * NULL the audit row is written in the same transaction (a request without caller claims then answers 500: an
 * audited write must be on an authenticated route). */
void gx_svc_submit(struct gx_req *req, const char *type, const cJSON *payload, const struct gx_svc_audit *audit);

#endif
