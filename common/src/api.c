/* The API daemons' main (gx_api_main), the daemon/port table, and the shared routes: health, liveness, readiness
 * (database, schema, projection lag), metrics, the OpenAPI document, its reference page (api_docs.c) and command
 * status. The shared configuration is in api_cfg.c, the workers' main in api_worker.c. */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>
#include <libpq-fe.h>

#include "gx/apikey.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/migrate.h"
#include "gx/outbox.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/redis.h"
#include "gx/util.h"

#define LIVEZ_MAX_AGE_MS 5000
#define JSON_CT "application/json; charset=utf-8"

const struct gx_daemon_info gx_daemons[] = {
	{ "svc-identity", 3001, 3001 },     { "svc-admin", 3002, 3002 },     { "svc-tokenomics", 3003, 3003 },
	{ "svc-organization", 3004, 3004 }, { "svc-loanpool", 3005, 3005 },  { "svc-governance", 3006, 3006 },
	{ "svc-tax", 3007, 3007 },          { "outbox-submitter", 0, 9090 }, { "projector", 0, 9091 },
};
const size_t gx_daemons_len = GX_ARRAY_LEN(gx_daemons);

const struct gx_daemon_info *gx_daemon_lookup(const char *name)
{
	for (size_t i = 0; name && i < gx_daemons_len; i++)
		if (strcmp(gx_daemons[i].name, name) == 0)
			return &gx_daemons[i];
	return NULL;
}

/* ---- shared handlers ---- */

struct gx_api_process gx_api_process;

/* timestamp: ISO-8601 UTC with milliseconds; uptime: fractional seconds */
void gx_api_add_original_keys(cJSON *b)
{
	struct timespec ts;
	struct tm tm;
	char iso[64], when[32];
	long long now_ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(iso, sizeof(iso), "%s.%03dZ", when, (int)(ts.tv_nsec / 1000000));
	if (!cJSON_GetObjectItemCaseSensitive(b, "service"))
		cJSON_AddStringToObject(b, "service", gx_api_process.service);
	cJSON_AddStringToObject(b, "timestamp", iso);
	cJSON_AddNumberToObject(b, "uptime", (double)(now_ms - gx_api_process.start_ms) / 1000.0);
}

/* The original's memoryUsage object (Node's key set): rss from /proc, the heap from malloc's statistics;
 * external and arrayBuffers have no C counterpart and are 0. */
static cJSON *memory_usage(void)
{
	cJSON *m = cJSON_CreateObject();
	struct mallinfo2 mi = mallinfo2();
	long long rss_pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		long long size;
		if (fscanf(f, "%lld %lld", &size, &rss_pages) != 2)
			rss_pages = 0;
		fclose(f);
	}
	cJSON_AddNumberToObject(m, "rss", (double)(rss_pages * sysconf(_SC_PAGESIZE)));
	cJSON_AddNumberToObject(m, "heapTotal", (double)(mi.arena + mi.hblkhd));
	cJSON_AddNumberToObject(m, "heapUsed", (double)(mi.uordblks + mi.hblkhd));
	cJSON_AddNumberToObject(m, "external", 0);
	cJSON_AddNumberToObject(m, "arrayBuffers", 0);
	return m;
}

static void h_health(struct gx_req *req)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "status", "ok");
	cJSON_AddStringToObject(b, "service", gx_api_process.service);
	gx_api_add_original_keys(b);
	cJSON_AddStringToObject(b, "version", GX_VERSION);
	cJSON_AddNumberToObject(b, "uptimeSeconds", (double)((gx_now_ms() - gx_api_process.start_ms) / 1000));
	gx_reply_json(req, 200, b);
}

void gx_api_h_livez(struct gx_req *req)
{
	char reason[128] = "";
	cJSON *b = cJSON_CreateObject();
	bool ok = gx_http_workers_alive(LIVEZ_MAX_AGE_MS, reason, sizeof(reason));

	cJSON_AddStringToObject(b, "status", ok ? "alive" : "stalled");
	gx_api_add_original_keys(b);
	cJSON_AddItemToObject(b, "memoryUsage", memory_usage());
	if (!ok)
		cJSON_AddStringToObject(b, "reason", reason);
	gx_reply_json(req, ok ? 200 : 503, b);
}

void gx_api_h_metrics(struct gx_req *req)
{
	size_t len = 0;
	char *text = gx_metrics_render(&len);

	gx_reply_raw(req, 200, GX_METRICS_CONTENT_TYPE, text, len);
	free(text);
}

static void h_openapi(struct gx_req *req)
{
	if (!gx_api_process.openapi) {
		gx_reply_error(req, 404, "NOT_FOUND", "this service publishes no OpenAPI document");
		return;
	}
	gx_reply_raw(req, 200, JSON_CT, gx_api_process.openapi, strlen(gx_api_process.openapi));
}

/* The original's checks.database object beside our "db" word: healthy when the database answered. */
static void add_database_check(cJSON *checks)
{
	const cJSON *db = cJSON_GetObjectItemCaseSensitive(checks, "db");
	cJSON *o = cJSON_CreateObject();

	if (cJSON_IsString(db) && strcmp(db->valuestring, "ok") == 0) {
		cJSON_AddStringToObject(o, "status", "healthy");
	} else {
		cJSON_AddStringToObject(o, "status", "unhealthy");
		cJSON_AddStringToObject(o, "message", cJSON_IsString(db) ? db->valuestring : "no database check");
	}
	cJSON_AddItemToObject(checks, "database", o);
}

void gx_api_readyz_finish(struct gx_req *req, cJSON *checks, bool ok)
{
	const struct gx_http_def *def = gx_req_def(req);
	struct gx_redis *redis = gx_req_redis(req);
	char reason[160] = "";
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(checks, "draining", gx_http_draining() ? "yes" : "no");
	ok = ok && !gx_http_draining();
	if (def->needs_redis)
		cJSON_AddStringToObject(checks, "redis", redis && gx_redis_ready(redis) ? "ok" : "degraded");
	if (def->ready) {
		bool sok = def->ready(def->app, reason, sizeof(reason));
		cJSON_AddStringToObject(checks, "service", reason[0] ? reason : (sok ? "ok" : "not ready"));
		ok = ok && sok;
	}
	cJSON_AddStringToObject(b, "status", ok ? "ready" : "not_ready");
	cJSON_AddStringToObject(b, "service", def->service);
	gx_api_add_original_keys(b);
	add_database_check(checks);
	cJSON_AddItemToObject(b, "checks", checks);
	gx_reply_json(req, ok ? 200 : 503, b);
}

static bool schema_check(cJSON *checks, int version)
{
	int need = gx_migrate_expected_version();
	char msg[64];

	if (version >= need) {
		cJSON_AddStringToObject(checks, "schema", "ok");
		return true;
	}
	snprintf(msg, sizeof(msg), "behind: at %d, need %d", version, need);
	cJSON_AddStringToObject(checks, "schema", msg);
	return false;
}

/* The read model's lag, as the original's checks.projectionLag reported it: milliseconds since the oldest command
 * that is on chain (COMMITTED) and not yet projected was committed, 0 when there is none, so an idle chain is not
 * lag. "unknown" until a projector has written its checkpoint. The statement: gx_outbox_store_lag_sql. */

struct readyz {
	struct gx_req *req;
	cJSON *checks;
	bool ok;
};

static void add_lag_check(cJSON *checks, PGresult *res, bool failed)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *v;
	long long lag;

	if (failed || PQntuples(res) != 1) {
		cJSON_AddStringToObject(o, "status", "error");
		cJSON_AddStringToObject(o, "message", "the projection lag could not be read");
	} else if (strcmp(gx_pg_val(res, 0, "state"), "t") != 0) {
		cJSON_AddStringToObject(o, "status", "unknown");
		cJSON_AddStringToObject(o, "message", "No projector state found (fresh deployment)");
	} else {
		lag = atoll(gx_pg_val(res, 0, "lag"));
		v = cJSON_CreateObject();
		cJSON_AddNumberToObject(v, "lagMs", (double)lag);
		if (lag > gx_api_process.lag_threshold_ms) {
			cJSON_AddStringToObject(o, "status", "unhealthy");
			cJSON_AddStringToObject(o, "message", "Projection lag exceeds threshold");
			cJSON_AddNumberToObject(v, "threshold", (double)gx_api_process.lag_threshold_ms);
		} else {
			cJSON_AddStringToObject(o, "status", "healthy");
		}
		cJSON_AddItemToObject(o, "value", v);
	}
	cJSON_AddItemToObject(checks, "projectionLag", o);
}

/* Reported, never a reason to leave the load balancer: a lagging projector does not stop this API from answering
 * or from accepting writes (docs/compat.md). */
static void on_lag(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct readyz *rz = arg;

	add_lag_check(rz->checks, res, err != NULL);
	gx_api_readyz_finish(rz->req, rz->checks, rz->ok);
	free(rz);
}

/* Schema known: read the projection lag, then answer. */
static void readyz_lag(struct gx_req *req, cJSON *checks, bool ok)
{
	struct readyz *rz = gx_xcalloc(1, sizeof(*rz));

	rz->req = req;
	rz->checks = checks;
	rz->ok = ok;
	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_lag_sql, 0, NULL, on_lag, rz) == 0)
		return;
	free(rz);
	add_lag_check(checks, NULL, true);
	gx_api_readyz_finish(req, checks, ok);
}

static void on_schema_version(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	cJSON *checks = cJSON_CreateObject();
	int version = 0;

	if (err && strcmp(err->sqlstate, "42P01") == 0) {
		cJSON_AddStringToObject(checks, "db", "ok");
		gx_api_readyz_finish(req, checks, schema_check(checks, 0));
	} else if (err) {
		cJSON_AddStringToObject(checks, "db", err->kind == GX_PG_ERR_QUERY ? "error" : "unavailable");
		cJSON_AddStringToObject(checks, "schema", "unknown");
		gx_api_readyz_finish(req, checks, false);
	} else if (gx_migrate_version_from_result(res, &version) < 0) {
		cJSON_AddStringToObject(checks, "db", "ok");
		cJSON_AddStringToObject(checks, "schema", "unknown");
		gx_api_readyz_finish(req, checks, false);
	} else {
		cJSON_AddStringToObject(checks, "db", "ok");
		readyz_lag(req, checks, schema_check(checks, version));
	}
}

static void h_readyz(struct gx_req *req)
{
	struct gx_pg_pool *pg = gx_req_pg(req);
	cJSON *checks;

	if (pg && gx_pg_pool_ready(pg) && gx_pg_query(pg, GX_MIGRATE_VERSION_SQL, 0, NULL, on_schema_version, req) == 0)
		return;
	checks = cJSON_CreateObject();
	if (pg) {
		cJSON_AddStringToObject(checks, "db", "unavailable");
		cJSON_AddStringToObject(checks, "schema", "unknown");
	}
	gx_api_readyz_finish(req, checks, pg == NULL);
}

static const struct gx_route shared_routes[] = {
	{ "GET", "/health", h_health, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
	{ "GET", "/livez", gx_api_h_livez, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
	{ "GET", "/readyz", h_readyz, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
	{ "GET", "/metrics", gx_api_h_metrics, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
	{ "GET", "/openapi.json", h_openapi, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
	/* rate limited like any route: not a probe, and the bundle is large */
	{ "GET", "/docs", gx_api_h_docs, GX_AUTH_PUBLIC, GX_ROUTE_QUIET | GX_ROUTE_NO_IDEMP },
	{ "GET", "/docs/{asset}", gx_api_h_docs_asset, GX_AUTH_PUBLIC, GX_ROUTE_QUIET | GX_ROUTE_NO_IDEMP },
	/* public: the outbox module lets the creator and admins read a command, and anyone with the id of a command
	 * created without a token (ids are random UUIDs); others get 404 */
	{ "GET", "/api/v1/commands/{commandId}", gx_outbox_status_handler, GX_AUTH_PUBLIC, 0 },
};

static struct gx_route *merge_routes(const struct gx_route *own, size_t nown, size_t nshared, size_t *n)
{
	struct gx_route *r = gx_xcalloc(nshared + nown + 1, sizeof(*r));

	memcpy(r, shared_routes, nshared * sizeof(*r));
	if (nown)
		memcpy(r + nshared, own, nown * sizeof(*r));
	*n = nshared + nown;
	return r;
}

/* Every partner scope of this service (gx/apikey.h) should name one of its routes open to PARTNER_API: one that does
 * not (a renamed or removed route) is logged at start, as no key can use it (test_partner_keys.py starts every API
 * and asserts that none logs it). Not fatal: test daemons serve other tables under a service's name. */
static void check_scopes(const char *service, const struct gx_route *r, size_t n)
{
	for (size_t i = 0; i < gx_apikey_scopes_len; i++) {
		const struct gx_apikey_scope *s = &gx_apikey_scopes[i];
		bool found = false;

		if (strcmp(s->service, "*") != 0 && strcmp(s->service, service) != 0)
			continue;
		for (size_t j = 0; j < n && !found; j++)
			found = strcmp(r[j].method, s->method) == 0 && strcmp(r[j].path, s->path) == 0 &&
				r[j].auth <= GX_AUTH_PARTNER;
		if (!found)
			gx_log_warn("partner scope %s names %s %s, which %s does not serve to PARTNER_API", s->name,
				    s->method, s->path, service);
	}
}

const struct gx_daemon_info *gx_api_startup(const char *name)
{
	const struct gx_daemon_info *d = gx_daemon_lookup(name);

	gx_log_init(name);
	if (!d) {
		gx_log_fatal("daemon '%s' is not in the daemon table", name ? name : "");
		exit(2);
	}
	gx_api_process.service = name;
	gx_api_process.start_ms = gx_now_ms();
	return d;
}

int gx_api_main(int argc, char **argv, const struct gx_api_service *svc)
{
	const struct gx_daemon_info *d = gx_api_startup(svc->name);
	struct gx_api_config cfg = { 0 };
	struct gx_http_opts opts = { 0 };
	struct gx_http_def def = { 0 };
	struct gx_api_keyset k;
	void *app = NULL;
	int rc;

	gx_api_keyset_build(&k, d, true);
	rc = gx_api_parse_args(argc, argv, svc->name, &k, svc->keys, svc->nkeys);
	if (rc >= 0)
		return rc;
	gx_api_load_config(svc->name, &k, &cfg, svc->keys, svc->nkeys, svc->cfg);
	gx_metrics_build_info(svc->name, GX_VERSION);
	gx_api_process.openapi = svc->openapi_json;
	gx_api_docs_load(cfg.docs_assets, svc->name);
	gx_api_process.lag_threshold_ms = cfg.projection_lag_ms;
	gx_metrics_process_prefix("http_");
	gx_outbox_configure(cfg.tenant_id);
	if (svc->app_size) {
		/* a pointer to a struct points to its first member: the tenant (gx/api.h) */
		app = gx_xcalloc(1, svc->app_size);
		*(const char **)app = cfg.tenant_id;
	}
	if (svc->init && svc->init(&cfg, svc->cfg, &app) < 0) {
		rc = 1;
		goto out;
	}
	gx_api_http_opts(&opts, &cfg);
	def.service = svc->name;
	def.routes = merge_routes(svc->routes, svc->nroutes, GX_ARRAY_LEN(shared_routes), &def.nroutes);
	check_scopes(svc->name, def.routes, def.nroutes);
	def.app = app;
	def.ready = svc->ready;
	def.worker_init = svc->worker_init;
	def.worker_free = svc->worker_free;
	def.needs_pg = true;
	def.needs_redis = true;
	def.on_drain = svc->on_drain;
	rc = gx_http_run(&def, &opts);
	if (svc->fini)
		svc->fini(app);
	free((void *)def.routes);
out:
	gx_api_docs_free();
	if (svc->app_size)
		free(app);
	if (svc->nkeys)
		gx_cfg_free(svc->keys, svc->nkeys, svc->cfg);
	gx_api_free_config(&k, &cfg);
	return rc;
}
