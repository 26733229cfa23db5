/* The workers' main (outbox-submitter, projector): their health and metrics server on METRICS_PORT, with /readyz
 * answered from a background thread that checks the database and the schema every 5 s on its own blocking
 * connection, so a slow or dead server never holds up the health server's loop. */
#include "api_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/migrate.h"
#include "gx/pg.h"
#include "gx/util.h"

#define WORKER_DB_CHECK_S 5

struct dbcheck {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	const char *conninfo;
	const char *service;
	char db[32];     /* under lock */
	char schema[64]; /* under lock */
	bool ok;         /* under lock */
};

static struct dbcheck *worker_db; /* set once before serving */

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
		if (PQresultStatus(res) == PGRES_TUPLES_OK || !reused || attempt > 0 ||
		    PQstatus(*conn) == CONNECTION_OK)
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
	gx_api_readyz_finish(req, checks, ok);
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
	cJSON_AddStringToObject(b, "service", gx_api_process.service);
	gx_api_add_original_keys(b);
	cJSON_AddStringToObject(b, "version", GX_VERSION);
	cJSON_AddNumberToObject(b, "uptimeSeconds", (double)((gx_now_ms() - gx_api_process.start_ms) / 1000));
	if (!ok && reason[0])
		cJSON_AddStringToObject(b, "reason", reason);
	if (worker_health)
		worker_health(def->app, b);
	gx_reply_json(req, 200, b);
}

static const struct gx_route worker_routes[] = {
	{ "GET", "/health", h_worker_health, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
	{ "GET", "/livez", gx_api_h_livez, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
	{ "GET", "/readyz", h_worker_readyz, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
	{ "GET", "/metrics", gx_api_h_metrics, GX_AUTH_PUBLIC, GX_API_SHARED_FLAGS },
};

int gx_api_worker_main(int argc, char **argv, const struct gx_worker_service *svc)
{
	const struct gx_daemon_info *d = gx_api_startup(svc->name);
	struct dbcheck check = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct gx_api_config cfg = { 0 };
	struct gx_http_opts opts = { 0 };
	struct gx_http_def def = { 0 };
	struct gx_api_keyset k;
	void *app = NULL;
	char *conninfo = NULL;
	int rc;

	gx_api_keyset_build(&k, d, false);
	rc = gx_api_parse_args(argc, argv, svc->name, &k, svc->keys, svc->nkeys);
	if (rc >= 0)
		return rc;
	gx_api_load_config(svc->name, &k, &cfg, svc->keys, svc->nkeys, svc->cfg);
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
	gx_api_http_opts(&opts, &cfg);
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
	gx_api_free_config(&k, &cfg);
	return rc;
}
