/* svc-organization private declarations: service state, handlers, and the small helpers its resource files share
 * (read-model JSON columns, timestamps). */
#ifndef ORG_H
#define ORG_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/api.h"

/* Timestamp column as ISO 8601 UTC with milliseconds (NULL stays NULL). */

/* The original's text for an unknown organization (404 ORG_NOT_FOUND). */
#define ORG_NOT_FOUND_MSG "Organization not found"

/* Service state, read-only once serving (gx_req_app). */
struct org_app {
	const char *tenant; /* TENANT_ID (first member: gx_api_main sets it, gx/api.h) */
};

/* propose.c */
void orgs_propose(struct gx_req *req); /* POST /api/v1/organizations */

/* organizations.c */
void orgs_get(struct gx_req *req);      /* GET  /api/v1/organizations/{orgId} */
void orgs_endorse(struct gx_req *req);  /* POST /api/v1/organizations/{orgId}/endorse */
void orgs_activate(struct gx_req *req); /* POST /api/v1/organizations/{orgId}/activate */

/* An organization-level operation: org_load reads the {orgId} organization (and whether a command of a type is in
 * flight), then calls step with its row. The op is attached to the request and freed with it. */
struct orgop {
	struct gx_req *req;
	void (*step)(struct orgop *op, const PGresult *res);
	char *org_id;
	char caller[64];
	/* rules */
	long long required;
	uint64_t threshold;
	cJSON *approvers;
	char approvers_field[40]; /* as the client named it: "approverIds" or "rule.approverGroup" */
	char *approver_key;       /* a lowering: the approvers sorted and joined by ',' (owned) */
	int tries;                /* a lowering: runs of SQL_RULE_CHANGE */
};
/* Start loading the organization of the {orgId} path parameter; inflight_type/inflight_user select the in-flight
 * command check (user may be NULL). Takes ownership of op (calloc'd; attached to req). */
void org_load(struct gx_req *req, struct orgop *op, const char *inflight_type, const char *inflight_user);
/* Enqueue command type with payload (borrowed) for the organization, answering the request. */
void org_submit(struct orgop *op, const char *type, cJSON *payload);

/* rules.c */
void orgs_rules(struct gx_req *req); /* POST /api/v1/organizations/{orgId}/rules */

/* multisig.c */
void multisig_initiate(struct gx_req *req); /* POST /api/v1/organizations/{orgId}/transactions */
void multisig_approve(struct gx_req *req);  /* POST /api/v1/transactions/{pendingTxId}/approve */
void multisig_pending(struct gx_req *req);  /* GET  /api/v1/organizations/{orgId}/transactions/pending */

/* routes.c */
extern const struct gx_route org_routes[];
extern const size_t org_routes_len;

/* Parse a JSON text column (borrowed); NULL/empty/invalid gives an empty array. Caller owns the result. */
cJSON *org_json_col(const char *text);
/* True when the JSON array arr (borrowed, may be NULL) holds the string s. */
bool org_json_has(const cJSON *arr, const char *s);
/* Add the Qirat decimal string qirat (canonical, from the read model or an event) as coins under name; returns -1
 * when it is not a canonical u64 (the caller answers 500). */
int org_add_coins(cJSON *obj, const char *name, const char *qirat);
/* JavaScript truthiness of a body field as the original's "required" checks test it: false for a missing field
 * (NULL), null, false, 0, "" (x borrowed). */
bool org_truthy(const cJSON *x);
/* The array a (borrowed, may be NULL) of min..max distinct ids, issues named after field ("field[i]" per item).
 * Returns a copy (caller owns) or NULL with issues added to v. */
struct gx_verr;
cJSON *org_read_ids(const cJSON *a, const char *field, int min, int max, struct gx_verr *v);

#endif
