/* svc-admin private declarations: service state, the handlers of every resource file and the helpers they share
 * (list paging, read-model value conversion, the audited outbox write path). */
#ifndef ADMIN_H
#define ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/api.h"
#include "gx/cfg.h"
#include "gx/fabric_cfg.h"
#include "gx/pg.h"
#include "gx/svc.h"

struct gx_verr;

/* svc-admin's own configuration rows (docs/configuration.md): the Fabric rows the reconciliation reads with
 * (optional here) and the RECONCILE_* rows. */
struct adm_cfg {
	struct gx_fabric_cfg fabric;
	long long page_size, peer_rate, db_page_size, db_rate, recheck_rounds;
	long long recheck_interval_ms, stale_ms, repair_timeout_ms, metrics_interval_ms;
};

struct adm_runner;

/* Service state, read-only once serving (gx_req_app) but for the runner (its own lock). */
struct adm_app {
	const char *tenant;        /* TENANT_ID (first member: gx_api_main sets it, gx/api.h) */
	const struct adm_cfg *cfg; /* main's */
	const char *conninfo;      /* libpq conninfo (borrowed from the shared configuration) */
	struct adm_runner *runner; /* reconcile.c: the background run, one at a time */
};

/* Allowed deviation of the sum of country allocations from 1 (in parts per billion): |sum - 1| <= 0.0001. */
#define ADM_COUNTRY_SUM_TOLERANCE_PPB 100000LL
/* Longest batch a single re-queue call may touch. */
#define ADM_REQUEUE_MAX 1000

/* system.c: bootstrap, pause/resume, status, counters */
void system_bootstrap(struct gx_req *req);
void system_pause(struct gx_req *req);
void system_resume(struct gx_req *req);
void system_status(struct gx_req *req);
void system_counters(struct gx_req *req);
/* countries.c: initialize, list, stats; treasury activation */
void countries_initialize(struct gx_req *req);
void countries_list(struct gx_req *req);
void countries_stats(struct gx_req *req);
void treasury_activate(struct gx_req *req);
/* parameters.c: update, list, one */
void parameters_update(struct gx_req *req);
void parameters_list(struct gx_req *req);
void parameters_get(struct gx_req *req);
/* admins.c: appoint an admin */
void admins_appoint(struct gx_req *req);
/* commands.c: outbox operations */
void commands_list(struct gx_req *req);
void commands_show(struct gx_req *req);
void commands_requeue(struct gx_req *req);
void commands_requeue_batch(struct gx_req *req);
/* partner_keys.c: partner API keys (docs/partners.md) */
void partner_keys_create(struct gx_req *req);
void partner_keys_list(struct gx_req *req);
void partner_keys_rotate(struct gx_req *req);
void partner_keys_revoke(struct gx_req *req);

/* reconcile.c: background reconciliation runs (docs/reconcile.md) */
void reconcile_start(struct gx_req *req);
void reconcile_show(struct gx_req *req);
/* Most rows adm_cfg_rows writes. */
#define ADM_CFG_MAX_ROWS (GX_FABRIC_CFG_MAX_ROWS + 9)
/* Write svc-admin's configuration rows into out (room for ADM_CFG_MAX_ROWS); returns their number. */
size_t adm_cfg_rows(struct gx_cfg_key *out);
/* Metrics and the runner (init, before serving); fini waits for a run in progress. */
int adm_reconcile_init(struct adm_app *app);
void adm_reconcile_fini(struct adm_app *app);

/* routes.c */
extern const struct gx_route adm_routes[];
extern const size_t adm_routes_len;

/* ---- submit.c: helpers ---- */

/* Paging of a list request whose query yields one row: "total" and "items", a JSON array text. */
struct adm_page {
	struct gx_req *req;
	struct gx_valid_page page; /* limit and offset, as numbers and text */
	const char *field;         /* member name of the items in the answer (static) */
};
/* Parse ?limit&offset (limit 1..max, default def) into a page attached to req (gx_req_set_data; freed with the
 * request). Returns it, or NULL after answering 400 VALIDATION_FAILED (req is then finished). */
struct adm_page *adm_page_new(struct gx_req *req, long long max, long long def, const char *field);
/* Run the list query sql ($1 tenant, $2 limit, $3 offset; one row of "total" and "items") and answer the page
 * under field (static), or 400 when ?limit/?offset are invalid. Ends req. */
void adm_list(struct gx_req *req, const char *sql, long long max, long long def, const char *field);
/* gx_pg callback of a list query (arg: the struct adm_page): answers {field: items, total, limit, offset}. */
void adm_on_page(PGresult *res, const struct gx_pg_error *err, void *arg);
/* Add an integer column as a JSON number (null when SQL NULL or not an integer). */
void adm_add_int(cJSON *obj, const char *name, const PGresult *res, int row, const char *col);
/* Add a Qirat NUMERIC column as coins under name and its integer string under name_qirat. Returns 0, or -1 when
 * the value is not a u64 Qirat amount (nothing added; the caller answers 500). */
int adm_add_amount(cJSON *obj, const char *name, const char *name_qirat, const PGresult *res, int row, const char *col);

/* Add obj[name] = the original's SystemParameterRow {"tenantId","paramKey","paramValue","updatedAt"} (all
 * strings, borrowed; updated_at an ISO 8601 time). Returns the new object. */
cJSON *adm_add_param_row(cJSON *obj, const char *name, const char *tenant, const char *key, const char *value,
			 const char *updated_at);

/* Enqueue an admin command and answer the request (ends req). payload (borrowed) must match the docs/chaincode.md
 * row of type (checked with gx_chaincode_map, which also yields the aggregate; a mismatch answers 500). In the same
 * transaction an "AdminAuditLog" row is written: actor = caller, action, target target_type/target_id (may be
 * NULL), details = payload. */
void adm_submit(struct gx_req *req, const char *type, const cJSON *payload, const char *action, const char *target_type,
		const char *target_id);

/* ISO 8601 UTC text of a timestamptz SQL expression (NULL stays NULL). */

/* One row describing the system from the read models and the outbox ($1 = tenant). Columns:
 *   paused (bool, from the newest SystemPaused/SystemResumed event), pauseReason, pauseChangedAt;
 *   pendingChange: PAUSE_SYSTEM | RESUME_SYSTEM of the newest not yet projected such command, or NULL;
 *   bootstrapped (bool: SystemBootstrapped projected), bootstrappedAt, bootstrapRequested (bool: a BOOTSTRAP_SYSTEM
 *   command that has not FAILED exists); countriesInitialized (bool), countriesRequested (bool, same rule);
 *   lastUpdated: time of the newest of those system events, or NULL; statusUpdatedAt: the same, or now() when
 *   there is none (the original's SYSTEM_STATUS row always had a time). */
const char *adm_sql_system_state(void);

#endif
