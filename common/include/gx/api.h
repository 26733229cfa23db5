/* Daemon entry points: the one table of daemon names and ports, gx_api_main() for the seven HTTP APIs and
 * gx_api_worker_main() for the two workers' health/metrics servers.
 *
 * Both mains parse --help/--version, load the shared configuration table plus the service's own rows (invalid
 * configuration: one line, exit 2), log the effective configuration with secrets masked, call the service's init,
 * serve, and on SIGTERM/SIGINT drain (design.md §3) and return 0.
 *
 * Shared routes on every API (public, not rate limited, access-logged at debug when healthy):
 *   GET /health        200 {"status":"ok","service","version","uptimeSeconds"}
 *   GET /livez         200 {"status":"alive"}; 503 {"status":"stalled","reason"} when a worker loop missed its
 *                      heartbeat for 5 s
 *   GET /readyz        200 {"status":"ready","checks":{...}} or 503 {"status":"not_ready","checks":{...}}; checks:
 *                        draining: "no" | "yes" (yes fails readiness)
 *                        db:       "ok" | "unavailable" | "error" (fails)
 *                        schema:   "ok" | "behind: at N, need M" | "unknown" (behind/unknown fail)
 *                        redis:    "ok" | "degraded"; Redis down does NOT fail readiness: rate limits and
 *                                  access-token revocation checks fail open and count gx_redis_degraded_total
 *                        service:  "ok" | the service ready function's reason (fails)
 *   GET /metrics       Prometheus text (gx/metrics.h)
 *   GET /openapi.json  the service's OpenAPI document (404 when the service gives none)
 *   GET /api/v1/commands/{commandId}  command status (gx/outbox.h; public route, visibility checked there)
 * Workers serve /health, /livez, /readyz (db + schema checked by a background thread every 5 s, plus the service
 * ready function) and /metrics on METRICS_PORT.
 */
#ifndef GX_API_H
#define GX_API_H

#include <stdbool.h>
#include <stddef.h>

#include "gx/cfg.h"
#include "gx/http.h"

#ifndef GX_VERSION
#define GX_VERSION "0.1.0"
#endif

/* One row of the daemon table (design.md §1). port is the HTTP API port (0 for workers), metrics_port where
 * /metrics and health are served (the API port itself for APIs). */
struct gx_daemon_info {
	const char *name;
	int port;
	int metrics_port;
};

/* The nine daemons, in design.md §1 order. Static storage. */
extern const struct gx_daemon_info gx_daemons[];
extern const size_t gx_daemons_len;

/* Row for name (borrowed), or NULL when unknown. */
const struct gx_daemon_info *gx_daemon_lookup(const char *name);

/* The tenant of a deployment that sets no TENANT_ID: the default of the TENANT_ID row, the one place it is applied
 * (daemons read gx_api_config.tenant_id, tools gx_api_tenant_env). */
#define GX_API_TENANT_DEFAULT "default"

/* TENANT_ID as the daemons load it, for tools that load no configuration table (gxctl): the variable, or
 * GX_API_TENANT_DEFAULT when it is unset or empty. Borrowed from the environment or static. */
const char *gx_api_tenant_env(void);

/* The shared configuration every daemon loads (read-only once loaded). Strings are never NULL. */
struct gx_api_config {
	long long port;               /* PORT (APIs) or METRICS_PORT (workers) */
	char *bind;                   /* BIND */
	long long http_threads;       /* HTTP_THREADS, 0 = number of CPUs */
	char *log_level;              /* LOG_LEVEL */
	char *database_url;           /* DATABASE_URL as given (SECRET); use pg_conninfo */
	char *pg_conninfo;            /* libpq conninfo built by gx_cfg_pg_conninfo (owned by the main) */
	long long pg_pool_size;       /* PG_POOL_SIZE, per worker thread */
	char *redis_url;              /* REDIS_URL (APIs) */
	char *jwt_secret;             /* JWT_SECRET (APIs; >= 32 bytes) */
	char *jwt_issuer;             /* JWT_ISSUER */
	char *cors_origins;           /* CORS_ORIGINS */
	char *trusted_proxies;        /* TRUSTED_PROXIES */
	long long request_timeout_ms; /* REQUEST_TIMEOUT */
	long long drain_timeout_ms;   /* DRAIN_TIMEOUT */
	long long drain_delay_ms;     /* DRAIN_DELAY */
	long long startup_wait_ms;    /* STARTUP_WAIT: wait for PostgreSQL at start, then exit 3; 0 = do not wait */
	long long max_body;           /* MAX_BODY_BYTES */
	long long rl_rate, rl_burst;  /* RATE_LIMIT_PER_MIN, RATE_LIMIT_BURST */
	long long rl_strict_rate, rl_strict_burst; /* RATE_LIMIT_STRICT_PER_MIN, RATE_LIMIT_STRICT_BURST */
	char *tenant_id;                           /* TENANT_ID: never empty (default GX_API_TENANT_DEFAULT) */
	char *env;                                 /* GX_ENV: development | production */
	bool hsts;                                 /* HSTS */
	bool share_port;                           /* SHARE_PORT: share the port with another process listening on it */
	long long projection_lag_ms;               /* PROJECTION_LAG_THRESHOLD (APIs): /readyz checks.projectionLag */
	long long original_tokens_until;           /* ORIGINAL_TOKENS_UNTIL (APIs): cut-over, Unix seconds, 0 = off */
	char *docs_assets; /* DOCS_ASSETS (APIs): the /docs page's Swagger UI files, "" = no page */
};

/* Where the image installs the /docs page's Swagger UI files (k8s/images/Containerfile, common/docs-ui/install.sh). */
#define GX_API_DOCS_ASSETS_DEFAULT "/usr/share/gx-backend/docs"

/* The OpenAPI document of an API binary: its directory's openapi.json, embedded by the Makefile. */
extern const char gx_openapi_doc[];

/* An API daemon's row: its main.c hands it to gx_api_main, e.g.
 *
 *   int main(int argc, char **argv)
 *   {
 *           const struct gx_api_service svc = {
 *                   .name = "svc-loanpool",
 *                   .routes = loan_routes,
 *                   .nroutes = loan_routes_len,
 *                   .openapi_json = gx_openapi_doc,
 *                   .app_size = sizeof(struct loan_app),
 *           };
 *
 *           return gx_api_main(argc, argv, &svc);
 *   }
 *
 * The row lives in main's frame (the route count is a link-time constant, not a constant expression), which
 * outlives the server.
 * All pointers borrowed for the process lifetime. */
struct gx_api_service {
	const char *name;              /* "svc-identity": must be in gx_daemons */
	const struct gx_route *routes; /* the service's own routes (shared ones are added) */
	size_t nroutes;
	const char *openapi_json;      /* the OpenAPI 3 document, or NULL */
	const struct gx_cfg_key *keys; /* the service's own config rows, or NULL */
	size_t nkeys;
	void *cfg; /* struct the rows fill (offsets into it) */
	/* The service state (gx_req_app) when gx_api_main builds it: app_size zeroed bytes, a struct whose first
	 * member is `const char *tenant`, set to the loaded TENANT_ID (borrowed, never empty); freed after fini.
	 * 0: init builds the state itself, or there is none. */
	size_t app_size;
	/* After config is loaded: with app_size, fill the rest of *app (do not replace it); without, build the state
	 * and set *app. Returns 0, or -1 (logged) to exit 1. May be NULL. Runs on the main thread before any worker
	 * starts. */
	int (*init)(const struct gx_api_config *shared, void *cfg, void **app);
	void (*fini)(void *app);            /* after the server stopped, before the state is freed; may be NULL */
	gx_http_ready_fn ready;             /* may be NULL */
	gx_http_worker_init_fn worker_init; /* may be NULL */
	gx_http_worker_free_fn worker_free; /* may be NULL */
	void (*on_drain)(void *app);        /* may be NULL */
};

/* Run an API daemon. Returns the process exit code (0 after a clean drain; exits 2 itself on bad configuration). */
int gx_api_main(int argc, char **argv, const struct gx_api_service *svc);

/* What a worker's main.c hands to gx_api_worker_main. The worker's own processing is started by init (its threads
 * or loops), told to stop by on_drain (called on SIGTERM) and joined by fini. */
struct gx_worker_service {
	const char *name; /* "outbox-submitter": must be in gx_daemons */
	const struct gx_cfg_key *keys;
	size_t nkeys;
	void *cfg;
	int (*init)(const struct gx_api_config *shared, void *cfg, void **app);
	void (*fini)(void *app);
	/* Extra readiness (beyond db and schema). Called from the health server's thread; must not block. */
	gx_http_ready_fn ready;
	/* The worker's own /health keys (the original's), added to body (borrowed). Called from the health server's
	 * thread; must not block. May be NULL. */
	void (*health)(void *app, cJSON *body);
	void (*on_drain)(void *app);
};

/* Run a worker daemon's health and metrics server on METRICS_PORT until SIGTERM. Returns the exit code. */
int gx_api_worker_main(int argc, char **argv, const struct gx_worker_service *svc);

#endif
