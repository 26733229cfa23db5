/* Reconciliation of the read models with the ledger (docs/reconcile.md): reads every account, organization,
 * multi-signature transaction, loan, proposal and system parameter from the chaincode's paged read functions
 * (docs/chaincode.md §6.8) and from PostgreSQL at one snapshot, compares them field by field, re-checks each
 * difference with point reads (an entity written while the run was reading is in flight, not a difference) and
 * builds a JSON report. Used by `gxctl reconcile` (common/gxctl/reconcile.c) and svc-admin's background runs
 * (svc-admin/reconcile.c).
 *
 * Everything here is blocking and single-threaded: one libpq connection and one Fabric client owned by the caller,
 * polled by these functions (gx_fabric_client_evaluate_sync); never combine with a running poll thread.
 */
#ifndef GX_RECONCILE_H
#define GX_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/fabric_cfg.h"
#include "gx/fabric_client.h"

/* Limits of the options (docs/reconcile.md). */
#define GX_RECONCILE_PAGE_MAX 1000 /* the chaincode's largest page */
#define GX_RECONCILE_DB_PAGE_MAX 10000

/* Options; strings borrowed for the call. Zero fields take the defaults in brackets. */
struct gx_reconcile_opts {
	const char *tenant;      /* TENANT_ID of the read models (required) */
	int page_size;           /* records per ledger page, 1..1000 [200] */
	double peer_rate;        /* most Evaluate calls per second, < 0 = unlimited [20] */
	int db_page_size;        /* rows per read-model page, 1..10000 [500] */
	double db_rate;          /* most read-model pages per second, < 0 = unlimited [20] */
	int recheck_rounds;      /* point re-reads of each candidate difference, 0..20 [3] */
	int recheck_interval_ms; /* pause before each round [1000] */
	int max_report;          /* most differences and in-flight entries listed (all are counted) [1000] */
	/* Called after every page and re-check round (e.g. a heartbeat); may be NULL. */
	void (*progress)(void *arg);
	void *arg;
};

enum gx_reconcile_outcome {
	GX_RECONCILE_CLEAN = 0,       /* ledger and read models agree */
	GX_RECONCILE_DIFFERENCES = 1, /* at least one difference */
	GX_RECONCILE_IN_FLIGHT = 2,   /* no difference, but entities still being written could not be settled */
	GX_RECONCILE_FAILED = -1,     /* could not run: peer or database error (err says which) */
};

/* Run one reconciliation. On success (outcome >= 0) *report gets the report (caller owns; cJSON_Delete):
 *   {"outcome":"clean"|"differences"|"in_flight","tenant","checkpoint":<projector lastBlock at the snapshot>,
 *    "counts":{"<entity>":{"ledger":n,"readModel":n}},"differenceCount":n,"inFlightCount":n,"resolvedOnRecheck":n,
 *    "differences":[{"entity","key","field","ledger","readModel","lastBlock"}],"inFlight":[...same...],
 *    "ledgerCalls":n,"dbPages":n,"durationMs":n}
 * ledger/readModel are strings or null (absent there); lastBlock is the newest projected block whose event names
 * the key, or null. On failure *report is NULL and err holds one line. */
enum gx_reconcile_outcome gx_reconcile_run(PGconn *conn, struct gx_fabric_client *fc, const struct gx_reconcile_opts *o,
					   cJSON **report, char *err, size_t errlen);

/* Repair: run `projector rebuild` (gx/projector_rebuild.h) in one transaction with an "AdminAuditLog" row (action
 * PROJECTOR_REBUILD, details.reason "reconcile"), then wait up to timeout_ms until the projector has replayed at
 * least to the checkpoint it had before. Returns 0, or -1 with err set (rebuild failed, or the replay did not get
 * there in time: the rebuild itself is committed then). */
int gx_reconcile_repair(PGconn *conn, const char *tenant, const char *actor, int timeout_ms, char *err, size_t errlen);

/* A Fabric client for reconciliation from the FABRIC_* rows (the partner identity reads; any channel member may
 * evaluate). *id gets the identity (free it after the client). NULL (logged) on failure. */
struct gx_fabric_client *gx_reconcile_client_new(const struct gx_fabric_cfg *cfg, struct gx_fabric_id **id);

#endif
