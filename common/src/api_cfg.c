/* The configuration every daemon shares (the rows of design.md §8 that are not a service's own): the common, API and
 * worker rows, --help and --version, loading with STARTUP_WAIT, and the HTTP server options built from it. */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "gx/log.h"
#include "gx/util.h"

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
	{ "TENANT_ID", GX_CFG_STR, GX_API_TENANT_DEFAULT, 1, 64, OFF(tenant_id), 0, NULL, "tenant of this deployment" },
	{ "GX_ENV", GX_CFG_ENUM, "development", 0, 0, OFF(env), 0, "development|production", "environment" },
	{ "SHARE_PORT", GX_CFG_BOOL, "false", 0, 0, OFF(share_port), 0, NULL,
	  "listen even when another process already serves the port (both get connections), for a zero-downtime "
	  "restart on one host; false = exit 1 with one error line" },
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
	{ "DOCS_ASSETS", GX_CFG_STR, GX_API_DOCS_ASSETS_DEFAULT, 0, 4096, OFF(docs_assets), 0, NULL,
	  "directory with swagger-ui-bundle.js and swagger-ui.css of the /docs page (read at start; missing or empty: "
	  "/docs answers 503)" },
};

static const struct gx_cfg_key worker_keys[] = {
	{ "PG_POOL_SIZE", GX_CFG_INT, "2", 1, 64, OFF(pg_pool_size), 0, NULL, "PostgreSQL connections" },
};

const char *gx_api_tenant_env(void)
{
	const char *t = getenv("TENANT_ID");

	return t && *t ? t : GX_API_TENANT_DEFAULT;
}

_Static_assert(GX_ARRAY_LEN(common_keys) + GX_ARRAY_LEN(api_keys) <= GX_API_SHARED_ROWS_MAX,
	       "struct gx_api_keyset holds every shared row");

void gx_api_keyset_build(struct gx_api_keyset *k, const struct gx_daemon_info *d, bool api)
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

static void print_help(const char *name, const struct gx_api_keyset *k, const struct gx_cfg_key *own, size_t nown)
{
	printf("%s %s\nusage: %s [--help | --version]\n\n", name, GX_VERSION, name);
	gx_cfg_print_help(stdout, k->rows, k->n, name);
	if (own && nown)
		gx_cfg_print_help(stdout, own, nown, name);
}

int gx_api_parse_args(int argc, char **argv, const char *name, const struct gx_api_keyset *k,
		      const struct gx_cfg_key *own, size_t nown)
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
			gx_log_fatal("PostgreSQL is unreachable at start (waited %lld ms, STARTUP_WAIT): %s", wait_ms,
				     last);
			free(ci);
			exit(3);
		}
		nanosleep(&(struct timespec){ 0, 500 * 1000 * 1000 }, NULL);
	}
	free(ci);
}

/* Load shared and own rows, build the conninfo; exits 2 on invalid configuration. */
void gx_api_load_config(const char *name, struct gx_api_keyset *k, struct gx_api_config *c,
			const struct gx_cfg_key *own, size_t nown, void *own_cfg)
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
	gx_log_kv(GX_LOG_INFO, GX_LOG_FIELDS(GX_LOG_STR("conninfo", masked)), "database");
	free(masked);
	if (strcmp(c->env, "production") == 0 && strcmp(c->cors_origins ? c->cors_origins : "", "*") == 0)
		gx_log_warn("CORS_ORIGINS='*' in production: any web origin may call this API");
	wait_for_database(c->pg_conninfo, c->startup_wait_ms);
}

void gx_api_free_config(struct gx_api_keyset *k, struct gx_api_config *c)
{
	free(c->pg_conninfo);
	c->pg_conninfo = NULL;
	gx_cfg_free(k->rows, k->n, c);
}

void gx_api_http_opts(struct gx_http_opts *o, const struct gx_api_config *c)
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
	o->share_port = c->share_port;
	o->tenant_id = c->tenant_id;
	o->original_tokens_until = c->original_tokens_until;
}
