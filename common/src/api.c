/* Daemon mains: the daemon/port table, shared configuration, shared health/metrics/openapi routes, and the
 * workers' health server with its background database check. */
#include "gx/api.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>
#include <libpq-fe.h>

#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/migrate.h"
#include "gx/outbox.h"
#include "gx/outbox_store.h"
#include "gx/pg.h"
#include "gx/redis.h"
#include "gx/util.h"

#define LIVEZ_MAX_AGE_MS 5000
#define WORKER_DB_CHECK_S 5
#define JSON_CT "application/json; charset=utf-8"

const struct gx_daemon_info gx_daemons[] = {
	{ "svc-identity", 3001, 3001 },     { "svc-admin", 3002, 3002 },        { "svc-tokenomics", 3003, 3003 },
	{ "svc-organization", 3004, 3004 }, { "svc-loanpool", 3005, 3005 },     { "svc-governance", 3006, 3006 },
	{ "svc-tax", 3007, 3007 },          { "outbox-submitter", 0, 9090 },    { "projector", 0, 9091 },
};
const size_t gx_daemons_len = GX_ARRAY_LEN(gx_daemons);

const struct gx_daemon_info *gx_daemon_lookup(const char *name)
{
	for (size_t i = 0; name && i < gx_daemons_len; i++)
		if (strcmp(gx_daemons[i].name, name) == 0)
			return &gx_daemons[i];
	return NULL;
}

/* ---- shared configuration ---- */

#define OFF(f) offsetof(struct gx_api_config, f)
#define LEVELS "trace|debug|info|warn|error|fatal"

/* Rows every daemon reads; PORT's default is filled in from gx_daemons at startup. */
static const struct gx_cfg_key common_keys[] = {
	{ "PORT", GX_CFG_INT, NULL, 1, 65535, OFF(port), 0, NULL, "HTTP listen port" },
	{ "BIND", GX_CFG_STR, "0.0.0.0", 1, 64, OFF(bind), 0, NULL, "listen address" },
	{ "HTTP_THREADS", GX_CFG_INT, "0", 0, 64, OFF(http_threads), 0, NULL, "HTTP worker threads, 0 = CPUs" },
	{ "LOG_LEVEL", GX_CFG_ENUM, "info", 0, 0, OFF(log_level), 0, LEVELS, "log threshold" },
	{ "DATABASE_URL", GX_CFG_STR, NULL, 0, 0, OFF(database_url), GX_CFG_SECRET, NULL,
	  "postgres:// URL; else DATABASE_HOST/PORT/NAME/USER/PASSWORD or libpq PG* variables" },
	{ "DRAIN_TIMEOUT", GX_CFG_MS, "3s", 0, 600000, OFF(drain_timeout_ms), 0, NULL,
	  "SIGTERM: wait this long for in-flight requests" },
	{ "DRAIN_DELAY", GX_CFG_MS, "1s", 0, 600000, OFF(drain_delay_ms), 0, NULL,
	  "SIGTERM: keep serving with /readyz 503 this long before closing the listener" },
	{ "STARTUP_WAIT", GX_CFG_MS, "30s", 0, 3600000, OFF(startup_wait_ms), 0, NULL,
	  "at start, wait this long for PostgreSQL, then exit 3 with one error line; 0 = start anyway and keep "
	  "retrying (/readyz 503 until it answers)" },
	{ "TENANT_ID", GX_CFG_STR, "default", 1, 64, OFF(tenant_id), 0, NULL, "tenant of this deployment" },
	{ "GX_ENV", GX_CFG_ENUM, "development", 0, 0, OFF(env), 0, "development|production", "environment" },
};

static const struct gx_cfg_key api_keys[] = {
	{ "PG_POOL_SIZE", GX_CFG_INT, "4", 1, 64, OFF(pg_pool_size), 0, NULL, "PostgreSQL connections per thread" },
	{ "REDIS_URL", GX_CFG_STR, "redis://127.0.0.1:6379", 1, 0, OFF(redis_url), GX_CFG_SECRET, NULL,
	  "redis://[:password@]host:port[/db] or unix:///path" },
	{ "JWT_SECRET", GX_CFG_STR, NULL, 32, 0, OFF(jwt_secret), GX_CFG_REQUIRED | GX_CFG_SECRET, NULL,
	  "HS256 key, at least 32 bytes" },
	{ "JWT_ISSUER", GX_CFG_STR, "gx-backend", 1, 63, OFF(jwt_issuer), 0, NULL, "JWT iss claim" },
	{ "CORS_ORIGINS", GX_CFG_STR, "", 0, 0, OFF(cors_origins), 0, NULL,
	  "allowed CORS origins: comma list, '*' or empty (off)" },
	{ "TRUSTED_PROXIES", GX_CFG_STR, "", 0, 0, OFF(trusted_proxies), 0, NULL,
	  "comma list of proxy IPs whose X-Forwarded-For is trusted" },
	{ "REQUEST_TIMEOUT", GX_CFG_MS, "30s", 100, 600000, OFF(request_timeout_ms), 0, NULL,
	  "idle timeout and per-request receive deadline (slow clients are closed)" },
	{ "MAX_BODY_BYTES", GX_CFG_INT, "1048576", 1024, 16777216, OFF(max_body), 0, NULL,
	  "largest accepted request body (413 above)" },
	{ "RATE_LIMIT_PER_MIN", GX_CFG_INT, "600", 0, 1000000, OFF(rl_rate), 0, NULL,
	  "sustained requests per minute per IP and per user, 0 = off" },
	{ "RATE_LIMIT_BURST", GX_CFG_INT, "100", 1, 1000000, OFF(rl_burst), 0, NULL, "burst per IP and per user" },
	{ "RATE_LIMIT_STRICT_PER_MIN", GX_CFG_INT, "10", 0, 1000000, OFF(rl_strict_rate), 0, NULL,
	  "login/register-class requests per minute, 0 = off" },
	{ "RATE_LIMIT_STRICT_BURST", GX_CFG_INT, "5", 1, 1000000, OFF(rl_strict_burst), 0, NULL,
	  "login/register-class burst" },
	{ "HSTS", GX_CFG_BOOL, "false", 0, 0, OFF(hsts), 0, NULL, "send Strict-Transport-Security" },
	{ "PROJECTION_LAG_THRESHOLD", GX_CFG_MS, "5s", 1, 86400000, OFF(projection_lag_ms), 0, NULL,
	  "/readyz checks.projectionLag is unhealthy above this (reported only: the API stays ready)" },
	{ "ORIGINAL_TOKENS_UNTIL", GX_CFG_INT, "0", 0, 4102444800LL, OFF(original_tokens_until), 0, NULL,
	  "cut-over: accept tokens the original backend issued with JWT_SECRET until this Unix time; 0 = never" },
};

static const struct gx_cfg_key worker_keys[] = {
	{ "PG_POOL_SIZE", GX_CFG_INT, "2", 1, 64, OFF(pg_pool_size), 0, NULL, "PostgreSQL connections" },
};

struct keyset {
	struct gx_cfg_key rows[GX_ARRAY_LEN(common_keys) + GX_ARRAY_LEN(api_keys)];
	size_t n;
	char port_def[16];
};

static void keyset_build(struct keyset *k, const struct gx_daemon_info *d, bool api)
{
	const struct gx_cfg_key *extra = api ? api_keys : worker_keys;
	size_t nextra = api ? GX_ARRAY_LEN(api_keys) : GX_ARRAY_LEN(worker_keys);

	memcpy(k->rows, common_keys, sizeof(common_keys));
	memcpy(k->rows + GX_ARRAY_LEN(common_keys), extra, nextra * sizeof(*extra));
	k->n = GX_ARRAY_LEN(common_keys) + nextra;
	snprintf(k->port_def, sizeof(k->port_def), "%d", api ? d->port : d->metrics_port);
	k->rows[0].def = k->port_def;
	if (!api) {
		k->rows[0].name = "METRICS_PORT";
		k->rows[0].help = "health and metrics listen port";
	}
}

static void print_help(const char *name, const struct keyset *k, const struct gx_cfg_key *own, size_t nown)
{
	printf("%s %s\nusage: %s [--help | --version]\n\n", name, GX_VERSION, name);
	gx_cfg_print_help(stdout, k->rows, k->n, name);
	if (own && nown)
		gx_cfg_print_help(stdout, own, nown, name);
}

/* --help / --version. Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, const char *name, const struct keyset *k, const struct gx_cfg_key *own,
		      size_t nown)
{
	if (argc < 2)
		return -1;
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		print_help(name, k, own, nown);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", name, GX_VERSION);
		return 0;
	}
	fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", name, argv[1]);
	return 2;
}

/* Load shared and own rows, build the conninfo; exits 2 on invalid configuration. */
/* STARTUP_WAIT: try PostgreSQL every 500 ms (each attempt bounded to 2 s) until it answers or wait_ms have passed;
 * then one fatal line naming the server's last answer and exit 3. wait_ms 0: no check at all. */
static void wait_for_database(const char *conninfo, long long wait_ms)
{
	int64_t start = gx_now_ms();
	char *ci;
	char last[256] = "";

	if (wait_ms <= 0)
		return;
	ci = gx_xasprintf("%s connect_timeout=2", conninfo);
	for (;;) {
		PGconn *c = PQconnectdb(ci);
		bool ok = PQstatus(c) == CONNECTION_OK;

		if (!ok)
			snprintf(last, sizeof(last), "%.*s", (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
		PQfinish(c);
		if (ok)
			break;
		if (gx_now_ms() - start >= wait_ms) {
			gx_log_fatal("PostgreSQL is unreachable at start (waited %lld ms, STARTUP_WAIT): %s", wait_ms, last);
			free(ci);
			exit(3);
		}
		nanosleep(&(struct timespec){ 0, 500 * 1000 * 1000 }, NULL);
	}
	free(ci);
}

static void load_config(const char *name, struct keyset *k, struct gx_api_config *c, const struct gx_cfg_key *own,
			size_t nown, void *own_cfg)
{
	enum gx_log_level level;
	char err[256];
	char *masked;

	gx_cfg_load_or_exit(k->rows, k->n, c, name);
	if (gx_log_level_parse(c->log_level, &level) == 0)
		gx_log_set_level(level);
	if (own && nown)
		gx_cfg_load_or_exit(own, nown, own_cfg, name);
	c->pg_conninfo = gx_cfg_pg_conninfo(err, sizeof(err));
	if (!c->pg_conninfo) {
		gx_log_fatal("invalid configuration: %s", err);
		exit(2);
	}
	masked = gx_cfg_conninfo_masked(c->pg_conninfo);
	{
		const char *kv[] = { "conninfo", masked, NULL };
		gx_log_kv(GX_LOG_INFO, kv, "database");
	}
	free(masked);
	if (strcmp(c->env, "production") == 0 && strcmp(c->cors_origins ? c->cors_origins : "", "*") == 0)
		gx_log_warn("CORS_ORIGINS='*' in production: any web origin may call this API");
	wait_for_database(c->pg_conninfo, c->startup_wait_ms);
}

static void free_config(struct keyset *k, struct gx_api_config *c)
{
	free(c->pg_conninfo);
	c->pg_conninfo = NULL;
	gx_cfg_free(k->rows, k->n, c);
}

static void opts_from_config(struct gx_http_opts *o, const struct gx_api_config *c)
{
	o->bind = c->bind;
	o->port = (int)c->port;
	o->threads = (int)c->http_threads;
	o->max_body = c->max_body > 0 ? (size_t)c->max_body : 1048576;
	o->request_timeout_ms = c->request_timeout_ms > 0 ? (int)c->request_timeout_ms : 30000;
	o->drain_timeout_ms = (int)c->drain_timeout_ms;
	o->drain_delay_ms = (int)c->drain_delay_ms;
	o->cors_origins = c->cors_origins;
	o->trusted_proxies = c->trusted_proxies;
	o->pg_conninfo = c->pg_conninfo;
	o->pg_pool_size = (int)c->pg_pool_size;
	o->redis_url = c->redis_url;
	o->jwt_key = (const unsigned char *)c->jwt_secret;
	o->jwt_key_len = c->jwt_secret ? strlen(c->jwt_secret) : 0;
	o->jwt_issuer = c->jwt_issuer;
	o->rl_rate = c->rl_rate;
	o->rl_burst = c->rl_burst;
	o->rl_strict_rate = c->rl_strict_rate;
	o->rl_strict_burst = c->rl_strict_burst;
	o->hsts = c->hsts;
	o->tenant_id = c->tenant_id;
	o->original_tokens_until = c->original_tokens_until;
}

/* ---- shared handlers ---- */

/* Read-only after startup: what /health and /openapi.json report. */
static struct {
	const char *service;
	const char *openapi;
	int64_t start_ms;
	long long lag_threshold_ms;
	bool worker;
} process;

static void reply_status_json(struct gx_req *req, int status, cJSON *body)
{
	gx_reply_json(req, status, body);
}

/* The original backend's health keys every body carries: service, timestamp (ISO-8601 UTC, milliseconds) and
 * uptime (fractional seconds). */
static void add_original_keys(cJSON *b)
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
		cJSON_AddStringToObject(b, "service", process.service);
	cJSON_AddStringToObject(b, "timestamp", iso);
	cJSON_AddNumberToObject(b, "uptime", (double)(now_ms - process.start_ms) / 1000.0);
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
	cJSON_AddStringToObject(b, "service", process.service);
	add_original_keys(b);
	cJSON_AddStringToObject(b, "version", GX_VERSION);
	cJSON_AddNumberToObject(b, "uptimeSeconds", (double)((gx_now_ms() - process.start_ms) / 1000));
	reply_status_json(req, 200, b);
}

static void h_livez(struct gx_req *req)
{
	char reason[128] = "";
	cJSON *b = cJSON_CreateObject();
	bool ok = gx_http_workers_alive(LIVEZ_MAX_AGE_MS, reason, sizeof(reason));

	cJSON_AddStringToObject(b, "status", ok ? "alive" : "stalled");
	add_original_keys(b);
	cJSON_AddItemToObject(b, "memoryUsage", memory_usage());
	if (!ok)
		cJSON_AddStringToObject(b, "reason", reason);
	reply_status_json(req, ok ? 200 : 503, b);
}

static void h_metrics(struct gx_req *req)
{
	size_t len = 0;
	char *text = gx_metrics_render(&len);

	gx_reply_raw(req, 200, GX_METRICS_CONTENT_TYPE, text, len);
	free(text);
}

static void h_openapi(struct gx_req *req)
{
	if (!process.openapi) {
		gx_reply_error(req, 404, "NOT_FOUND", "this service publishes no OpenAPI document");
		return;
	}
	gx_reply_raw(req, 200, JSON_CT, process.openapi, strlen(process.openapi));
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

/* Finish /readyz: add the checks that need no I/O and answer. */
static void readyz_finish(struct gx_req *req, cJSON *checks, bool ok)
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
	add_original_keys(b);
	add_database_check(checks);
	cJSON_AddItemToObject(b, "checks", checks);
	reply_status_json(req, ok ? 200 : 503, b);
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
		if (lag > process.lag_threshold_ms) {
			cJSON_AddStringToObject(o, "status", "unhealthy");
			cJSON_AddStringToObject(o, "message", "Projection lag exceeds threshold");
			cJSON_AddNumberToObject(v, "threshold", (double)process.lag_threshold_ms);
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
	readyz_finish(rz->req, rz->checks, rz->ok);
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
	readyz_finish(req, checks, ok);
}

static void on_schema_version(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	cJSON *checks = cJSON_CreateObject();
	int version = 0;

	if (err && strcmp(err->sqlstate, "42P01") == 0) {
		cJSON_AddStringToObject(checks, "db", "ok");
		readyz_finish(req, checks, schema_check(checks, 0));
	} else if (err) {
		cJSON_AddStringToObject(checks, "db", err->kind == GX_PG_ERR_QUERY ? "error" : "unavailable");
		cJSON_AddStringToObject(checks, "schema", "unknown");
		readyz_finish(req, checks, false);
	} else if (gx_migrate_version_from_result(res, &version) < 0) {
		cJSON_AddStringToObject(checks, "db", "ok");
		cJSON_AddStringToObject(checks, "schema", "unknown");
		readyz_finish(req, checks, false);
	} else {
		cJSON_AddStringToObject(checks, "db", "ok");
		readyz_lag(req, checks, schema_check(checks, version));
	}
}

static void h_readyz(struct gx_req *req)
{
	struct gx_pg_pool *pg = gx_req_pg(req);
	cJSON *checks;

	if (pg && gx_pg_pool_ready(pg) &&
	    gx_pg_query(pg, GX_MIGRATE_VERSION_SQL, 0, NULL, on_schema_version, req) == 0)
		return;
	checks = cJSON_CreateObject();
	if (pg) {
		cJSON_AddStringToObject(checks, "db", "unavailable");
		cJSON_AddStringToObject(checks, "schema", "unknown");
	}
	readyz_finish(req, checks, pg == NULL);
}

#define SHARED_FLAGS (GX_ROUTE_NO_RL | GX_ROUTE_QUIET | GX_ROUTE_NO_IDEMP)
static const struct gx_route shared_routes[] = {
	{ "GET", "/health", h_health, GX_AUTH_PUBLIC, SHARED_FLAGS },
	{ "GET", "/livez", h_livez, GX_AUTH_PUBLIC, SHARED_FLAGS },
	{ "GET", "/readyz", h_readyz, GX_AUTH_PUBLIC, SHARED_FLAGS },
	{ "GET", "/metrics", h_metrics, GX_AUTH_PUBLIC, SHARED_FLAGS },
	{ "GET", "/openapi.json", h_openapi, GX_AUTH_PUBLIC, SHARED_FLAGS },
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

static const struct gx_daemon_info *startup(const char *name)
{
	const struct gx_daemon_info *d = gx_daemon_lookup(name);

	gx_log_init(name);
	if (!d) {
		gx_log_fatal("daemon '%s' is not in the daemon table", name ? name : "");
		exit(2);
	}
	process.service = name;
	process.start_ms = gx_now_ms();
	return d;
}

int gx_api_main(int argc, char **argv, const struct gx_api_service *svc)
{
	const struct gx_daemon_info *d = startup(svc->name);
	struct gx_api_config cfg = { 0 };
	struct gx_http_opts opts = { 0 };
	struct gx_http_def def = { 0 };
	struct keyset k;
	void *app = NULL;
	int rc;

	keyset_build(&k, d, true);
	rc = parse_args(argc, argv, svc->name, &k, svc->keys, svc->nkeys);
	if (rc >= 0)
		return rc;
	load_config(svc->name, &k, &cfg, svc->keys, svc->nkeys, svc->cfg);
	gx_metrics_build_info(svc->name, GX_VERSION);
	process.openapi = svc->openapi_json;
	process.lag_threshold_ms = cfg.projection_lag_ms;
	gx_metrics_process_prefix("http_");
	gx_outbox_configure(cfg.tenant_id);
	if (svc->init && svc->init(&cfg, svc->cfg, &app) < 0) {
		rc = 1;
		goto out;
	}
	opts_from_config(&opts, &cfg);
	def.service = svc->name;
	def.routes = merge_routes(svc->routes, svc->nroutes, GX_ARRAY_LEN(shared_routes), &def.nroutes);
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
	if (svc->nkeys)
		gx_cfg_free(svc->keys, svc->nkeys, svc->cfg);
	free_config(&k, &cfg);
	return rc;
}

/* ---- workers: health server + background database check ---- */

struct dbcheck {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	const char *conninfo;
	const char *service;
	char db[32];        /* under lock */
	char schema[64];    /* under lock */
	bool ok;            /* under lock */
};

static struct dbcheck *worker_db;   /* set once before serving */

static void dbcheck_once(struct dbcheck *c, PGconn **conn)
{
	PGresult *res = NULL;
	char db[32] = "ok", schema[64] = "unknown";
	bool ok = false;
	int version = 0;

	for (int attempt = 0;; attempt++) {
		bool reused;

		if (*conn && PQstatus(*conn) != CONNECTION_OK) {
			PQfinish(*conn);
			*conn = NULL;
		}
		reused = *conn != NULL;
		if (!*conn)
			*conn = gx_pg_connect_blocking(c->conninfo, c->service);
		if (!*conn) {
			snprintf(db, sizeof(db), "unavailable");
			goto out;
		}
		res = PQexec(*conn, GX_MIGRATE_VERSION_SQL);
		/* a kept connection the server dropped since the last check (restart, pg_terminate_backend) says
		 * nothing about the server now: ask once more on a fresh one before reporting */
		if (PQresultStatus(res) == PGRES_TUPLES_OK || !reused || attempt > 0 || PQstatus(*conn) == CONNECTION_OK)
			break;
		PQclear(res);
		res = NULL;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (!state || strcmp(state, "42P01") != 0) {
			snprintf(db, sizeof(db), "%s", PQstatus(*conn) == CONNECTION_OK ? "error" : "unavailable");
			goto out;
		}
	} else if (gx_migrate_version_from_result(res, &version) < 0) {
		goto out;
	}
	ok = version >= gx_migrate_expected_version();
	if (ok)
		snprintf(schema, sizeof(schema), "ok");
	else
		snprintf(schema, sizeof(schema), "behind: at %d, need %d", version, gx_migrate_expected_version());
out:
	PQclear(res);
	pthread_mutex_lock(&c->lock);
	memcpy(c->db, db, sizeof(db));
	memcpy(c->schema, schema, sizeof(schema));
	c->ok = ok;
	pthread_mutex_unlock(&c->lock);
}

static void *dbcheck_main(void *arg)
{
	struct dbcheck *c = arg;
	PGconn *conn = NULL;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct timespec until;

		pthread_mutex_unlock(&c->lock);
		dbcheck_once(c, &conn);
		pthread_mutex_lock(&c->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += WORKER_DB_CHECK_S;
		while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&c->lock);
	if (conn)
		PQfinish(conn);
	return NULL;
}

static void h_worker_readyz(struct gx_req *req)
{
	struct dbcheck *c = worker_db;
	cJSON *checks = cJSON_CreateObject();
	bool ok;

	pthread_mutex_lock(&c->lock);
	cJSON_AddStringToObject(checks, "db", c->db);
	cJSON_AddStringToObject(checks, "schema", c->schema);
	ok = c->ok;
	pthread_mutex_unlock(&c->lock);
	readyz_finish(req, checks, ok);
}

static void (*worker_health)(void *app, cJSON *body); /* set once before serving */

/* A worker's /health, as the original workers answered it: always 200, "healthy" or "unhealthy" by the worker's
 * own readiness, then the worker's keys (queue depth, breakers, last block, ...). */
static void h_worker_health(struct gx_req *req)
{
	const struct gx_http_def *def = gx_req_def(req);
	char reason[160] = "";
	bool ok = !def->ready || def->ready(def->app, reason, sizeof(reason));
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "status", ok ? "healthy" : "unhealthy");
	cJSON_AddStringToObject(b, "service", process.service);
	add_original_keys(b);
	cJSON_AddStringToObject(b, "version", GX_VERSION);
	cJSON_AddNumberToObject(b, "uptimeSeconds", (double)((gx_now_ms() - process.start_ms) / 1000));
	if (!ok && reason[0])
		cJSON_AddStringToObject(b, "reason", reason);
	if (worker_health)
		worker_health(def->app, b);
	reply_status_json(req, 200, b);
}

static const struct gx_route worker_routes[] = {
	{ "GET", "/health", h_worker_health, GX_AUTH_PUBLIC, SHARED_FLAGS },
	{ "GET", "/livez", h_livez, GX_AUTH_PUBLIC, SHARED_FLAGS },
	{ "GET", "/readyz", h_worker_readyz, GX_AUTH_PUBLIC, SHARED_FLAGS },
	{ "GET", "/metrics", h_metrics, GX_AUTH_PUBLIC, SHARED_FLAGS },
};

int gx_api_worker_main(int argc, char **argv, const struct gx_worker_service *svc)
{
	const struct gx_daemon_info *d = startup(svc->name);
	struct dbcheck check = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct gx_api_config cfg = { 0 };
	struct gx_http_opts opts = { 0 };
	struct gx_http_def def = { 0 };
	struct keyset k;
	void *app = NULL;
	char *conninfo = NULL;
	int rc;

	keyset_build(&k, d, false);
	rc = parse_args(argc, argv, svc->name, &k, svc->keys, svc->nkeys);
	if (rc >= 0)
		return rc;
	load_config(svc->name, &k, &cfg, svc->keys, svc->nkeys, svc->cfg);
	gx_metrics_build_info(svc->name, GX_VERSION);
	if (svc->init && svc->init(&cfg, svc->cfg, &app) < 0) {
		rc = 1;
		goto out;
	}
	/* bound the blocking check so shutdown never waits on a dead server for long (later keywords win) */
	conninfo = gx_xasprintf("%s connect_timeout=3 options='-c statement_timeout=3000'", cfg.pg_conninfo);
	check.conninfo = conninfo;
	check.service = svc->name;
	snprintf(check.db, sizeof(check.db), "unknown");
	snprintf(check.schema, sizeof(check.schema), "unknown");
	worker_db = &check;
	rc = pthread_create(&check.thread, NULL, dbcheck_main, &check);
	if (rc != 0) {
		gx_log_error("pthread_create failed: %s", strerror(rc));
		rc = 1;
		goto out_fini;
	}
	opts_from_config(&opts, &cfg);
	opts.threads = 1;
	opts.max_body = 1024;
	opts.request_timeout_ms = 10000;
	def.service = svc->name;
	def.routes = worker_routes;
	def.nroutes = GX_ARRAY_LEN(worker_routes);
	def.app = app;
	def.ready = svc->ready;
	def.on_drain = svc->on_drain;
	worker_health = svc->health;
	rc = gx_http_run(&def, &opts);
	pthread_mutex_lock(&check.lock);
	check.stop = true;
	pthread_cond_signal(&check.cond);
	pthread_mutex_unlock(&check.lock);
	pthread_join(check.thread, NULL);
out_fini:
	if (svc->fini)
		svc->fini(app);
out:
	free(conninfo);
	if (svc->nkeys)
		gx_cfg_free(svc->keys, svc->nkeys, svc->cfg);
	free_config(&k, &cfg);
	return rc;
}
