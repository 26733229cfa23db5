/* Internals shared by the api*.c files: the shared configuration (api_cfg.c), the process facts and handlers the API
 * main and the worker main both serve (api.c). Not a public header: only common/src/api*.c include it.
 */
#ifndef GX_API_INT_H
#define GX_API_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "gx/api.h"

/* ---- the shared configuration (api_cfg.c) ---- */

/* The rows a daemon loads besides its own: the common ones plus the API or worker ones, PORT's default (or
 * METRICS_PORT's, for workers) taken from the daemon table. */
#define GX_API_SHARED_ROWS_MAX 32
struct gx_api_keyset {
	struct gx_cfg_key rows[GX_API_SHARED_ROWS_MAX];
	size_t n;
	char port_def[16];
};

/* Build k for daemon d (borrowed), an API when api is true, else a worker. */
void gx_api_keyset_build(struct gx_api_keyset *k, const struct gx_daemon_info *d, bool api);
/* --help / --version (own: the service's rows, nown of them). Returns -1 to go on, else the exit code. */
int gx_api_parse_args(int argc, char **argv, const char *name, const struct gx_api_keyset *k,
		      const struct gx_cfg_key *own, size_t nown);
/* Load the shared rows into c and the service's own into own_cfg, build the conninfo, wait for PostgreSQL
 * (STARTUP_WAIT). Exits 2 on invalid configuration, 3 when the database stays unreachable. */
void gx_api_load_config(const char *name, struct gx_api_keyset *k, struct gx_api_config *c,
			const struct gx_cfg_key *own, size_t nown, void *own_cfg);
/* Free what gx_api_load_config loaded into c (the service's own rows are the caller's). */
void gx_api_free_config(struct gx_api_keyset *k, struct gx_api_config *c);
/* The HTTP server options of c (borrowed: c must outlive the server). */
void gx_api_http_opts(struct gx_http_opts *o, const struct gx_api_config *c);

/* ---- process facts and shared handlers (api.c) ---- */

/* Route flags of the health, metrics and openapi routes: not rate limited, access-logged at debug, no
 * Idempotency-Key handling. */
#define GX_API_SHARED_FLAGS (GX_ROUTE_NO_RL | GX_ROUTE_QUIET | GX_ROUTE_NO_IDEMP)

/* Read-only after startup: what /health, /readyz and /openapi.json report. */
struct gx_api_process {
	const char *service;
	const char *openapi;
	int64_t start_ms;
	long long lag_threshold_ms;
};
extern struct gx_api_process gx_api_process;

/* Start the log and the process facts for daemon name (borrowed, static); exits 2 when it is not in gx_daemons.
 * Returns its row. */
const struct gx_daemon_info *gx_api_startup(const char *name);
/* The original backend's health keys every body carries: service, timestamp, uptime. */
void gx_api_add_original_keys(cJSON *b);
/* Finish /readyz: add the checks that need no I/O (draining, redis, the service's own) to checks (owned, taken)
 * and answer, 200 when ok and those pass, else 503. */
void gx_api_readyz_finish(struct gx_req *req, cJSON *checks, bool ok);
/* GET /livez and GET /metrics, the same on APIs and workers. */
void gx_api_h_livez(struct gx_req *req);
void gx_api_h_metrics(struct gx_req *req);

/* ---- the API reference page (api_docs.c) ---- */

/* Read the page's assets from dir (DOCS_ASSETS, borrowed) and build the page of service (borrowed, static). Returns
 * 0, or -1 with the reason logged once: /docs then answers 503 DOCS_UNAVAILABLE. Runs before the workers start;
 * the loaded files are read-only afterwards. */
int gx_api_docs_load(const char *dir, const char *service);
/* Free what gx_api_docs_load read. */
void gx_api_docs_free(void);
/* GET /docs (the page) and GET /docs/{asset} (its script and stylesheet). */
void gx_api_h_docs(struct gx_req *req);
void gx_api_h_docs_asset(struct gx_req *req);

#endif
