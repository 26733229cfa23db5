/* projector: applies chaincode events to the read-model tables (docs/projector.md). Wiring: the configuration
 * table, the health/metrics server on METRICS_PORT (gx_api_worker_main), the projector thread (run.c) started by
 * init and stopped on SIGTERM, readiness (active, or a healthy standby) with the lag in its details, and the
 * `projector rebuild` operator command. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/api.h"
#include "gx/cfg.h"
#include "gx/fabric_cfg.h"
#include "gx/log.h"
#include "gx/util.h"
#include "projector.h"

static struct prj_cfg cfg;

/* The projector's own rows, after the shared FABRIC_* ones with the partner identity (gx/fabric_cfg.h). */
static const struct gx_cfg_key own_keys[] = {
	{ "PROJECTOR_NAME", GX_CFG_STR, "main-projector", 1, 128, offsetof(struct prj_cfg, name), 0, NULL,
	  "checkpoint row name in ProjectorState" },
	{ "LOCK_KEY", GX_CFG_INT, "7243019", -9223372036854775807LL, 9223372036854775807LL,
	  offsetof(struct prj_cfg, lock_key), 0, NULL, "PostgreSQL advisory lock key electing the active replica" },
	{ "RECONNECT_MAX_MS", GX_CFG_MS, "10s", 100, 600000, offsetof(struct prj_cfg, reconnect_max_ms), 0, NULL,
	  "maximum backoff between event stream reconnects" },
	{ "STANDBY_POLL_MS", GX_CFG_MS, "1s", 50, 60000, offsetof(struct prj_cfg, standby_poll_ms), 0, NULL,
	  "how often a standby replica tries to take the lock" },
	{ "PROJECTOR_STATEMENT_TIMEOUT", GX_CFG_MS, "60s", 1000, 3600000, offsetof(struct prj_cfg, stmt_timeout_ms), 0,
	  NULL, "statement_timeout of the projector's database session" },
};

static int prj_init(const struct gx_api_config *shared, void *c, void **app)
{
	struct prj *p = gx_xcalloc(1, sizeof(*p));
	int rc;

	p->cfg = c;
	p->tenant = gx_xstrdup(shared->tenant_id);
	p->conninfo = gx_xasprintf(
		"%s application_name=projector connect_timeout=5 keepalives=1 keepalives_idle=5"
		" keepalives_interval=2 keepalives_count=3 options='-c statement_timeout=%lld'",
		shared->pg_conninfo, p->cfg->stmt_timeout_ms);
	pthread_mutex_init(&p->mu, NULL);
	p->last_block = -1;
	p->chain_height = -1;
	atomic_init(&p->stop, false);
	rc = pthread_create(&p->thread, NULL, prj_thread_main, p);
	if (rc != 0) {
		gx_log_error("projector: pthread_create failed: %s", strerror(rc));
		free(p->conninfo);
		free(p->tenant);
		free(p);
		return -1;
	}
	p->thread_started = true;
	*app = p;
	return 0;
}

static void prj_drain(void *app)
{
	struct prj *p = app;

	if (p)
		atomic_store(&p->stop, true);
}

static void prj_fini(void *app)
{
	struct prj *p = app;

	if (!p)
		return;
	atomic_store(&p->stop, true);
	if (p->thread_started)
		pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->mu);
	free(p->conninfo);
	free(p->tenant);
	free(p);
}

/* Ready when active or a healthy standby; the reason string carries the lag either way. */
static bool prj_ready(void *app, char *reason, size_t len)
{
	struct prj *p = app;
	enum prj_role role;
	int64_t last, height, t;
	bool up;
	double lag = 0;

	pthread_mutex_lock(&p->mu);
	role = p->role;
	last = p->last_block;
	height = p->chain_height > last ? p->chain_height : last;
	t = p->last_block_time_ms;
	up = p->stream_up;
	pthread_mutex_unlock(&p->mu);
	if (height > last && t > 0)
		lag = (double)(gx_now_ms() - t) / 1000.0;
	switch (role) {
	case PRJ_ROLE_ACTIVE:
		snprintf(reason, len,
			 "active: lastBlock=%lld chainHeight=%lld blocksBehind=%lld lagSeconds=%.1f stream=%s",
			 (long long)last, (long long)height, (long long)(height - last), lag < 0 ? 0 : lag,
			 up ? "up" : "connecting");
		return true;
	case PRJ_ROLE_STANDBY:
		snprintf(reason, len, "standby: another replica holds the projector lock");
		return true;
	case PRJ_ROLE_NO_DB:
		snprintf(reason, len, "projector: no database session");
		return false;
	case PRJ_ROLE_STARTING:
	default:
		snprintf(reason, len, "projector: starting");
		return false;
	}
}

/* The original projector's /health keys: lastProcessedBlock (a decimal string), eventCounter, and one breaker
 * object for the event stream (CLOSED while it delivers; blocks applied and failures in the last 10 s). */
static void prj_health(void *app, cJSON *body)
{
	struct prj *p = app;
	cJSON *b = cJSON_CreateObject();
	char block[24];
	uint32_t ok = 0, fail = 0;
	uint64_t seen;
	bool up;

	pthread_mutex_lock(&p->mu);
	snprintf(block, sizeof(block), "%lld", (long long)(p->last_block < 0 ? 0 : p->last_block));
	seen = p->events_seen;
	up = p->stream_up;
	pthread_mutex_unlock(&p->mu);
	gx_rollwin_counts(&p->stream, gx_now_ms(), &ok, &fail);
	cJSON_AddStringToObject(body, "lastProcessedBlock", block);
	cJSON_AddNumberToObject(body, "eventCounter", (double)seen);
	cJSON_AddStringToObject(b, "state", up ? "CLOSED" : "OPEN");
	cJSON_AddNumberToObject(b, "successes", ok);
	cJSON_AddNumberToObject(b, "failures", fail);
	cJSON_AddNumberToObject(b, "openCount", 0);
	cJSON_AddItemToObject(body, "fabricCircuitBreaker", b);
}

int prj_rebuild_main(void)
{
	char err[256];
	char *conninfo = gx_cfg_pg_conninfo(err, sizeof(err));
	PGconn *c;
	PGresult *r;
	int rc = 1;

	if (!conninfo) {
		fprintf(stderr, "projector rebuild: %s\n", err);
		return 2;
	}
	c = PQconnectdb(conninfo);
	free(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "projector rebuild: cannot connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return 1;
	}
	r = PQexec(c, prj_rebuild_sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		printf("projector rebuild: checkpoint reset and read models cleared; the projector replays from block 0\n");
		rc = 0;
	} else {
		fprintf(stderr, "projector rebuild: failed: %s", PQerrorMessage(c));
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

int main(int argc, char **argv)
{
	static struct gx_cfg_key keys[GX_FABRIC_CFG_MAX_ROWS + GX_ARRAY_LEN(own_keys)];
	size_t n = gx_fabric_cfg_rows(keys, offsetof(struct prj_cfg, fabric), GX_FABRIC_CFG_PARTNER_ONLY);
	struct gx_worker_service svc = {
		.name = "projector",
		.keys = keys,
		.nkeys = n + GX_ARRAY_LEN(own_keys),
		.cfg = &cfg,
		.init = prj_init,
		.fini = prj_fini,
		.ready = prj_ready,
		.health = prj_health,
		.on_drain = prj_drain,
	};

	memcpy(keys + n, own_keys, sizeof(own_keys));
	if (argc == 2 && strcmp(argv[1], "rebuild") == 0)
		return prj_rebuild_main();
	return gx_api_worker_main(argc, argv, &svc);
}
