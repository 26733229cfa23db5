/* Reconciliation runs in the background (docs/reconcile.md §4): POST /api/v1/admin/reconcile starts one (202 with
 * its runId; 409 RECONCILE_RUNNING while one runs for the tenant, on any replica: the "ReconcileRun" partial unique
 * index), GET /api/v1/admin/reconcile/{runId} answers its status and report. The run itself is gx_reconcile_run()
 * on a thread of its own with two blocking sessions (one reads at the snapshot, one keeps the run row's heartbeat)
 * and its own Fabric client; --repair's rebuild needs SUPER_ADMIN. Metrics: gx_reconcile_*. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gx/cfg.h"
#include "gx/http.h"
#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/metrics.h"
#include "gx/pg.h"
#include "gx/reconcile.h"
#include "gx/util.h"
#include "gx/valid.h"
#include "admin.h"

#define OFF(f) offsetof(struct adm_cfg, f)
#define HEARTBEAT_US 2000000

static const struct gx_cfg_key own_rows[] = {
	{ "RECONCILE_PAGE_SIZE", GX_CFG_INT, "200", 1, GX_RECONCILE_PAGE_MAX, OFF(page_size), 0, NULL,
	  "reconcile: records per ledger Evaluate" },
	{ "RECONCILE_PEER_RATE", GX_CFG_INT, "20", 0, 100000, OFF(peer_rate), 0, NULL,
	  "reconcile: most Evaluate calls per second; 0 = unlimited" },
	{ "RECONCILE_DB_PAGE_SIZE", GX_CFG_INT, "500", 1, GX_RECONCILE_DB_PAGE_MAX, OFF(db_page_size), 0, NULL,
	  "reconcile: rows per read-model query" },
	{ "RECONCILE_DB_RATE", GX_CFG_INT, "20", 0, 100000, OFF(db_rate), 0, NULL,
	  "reconcile: most read-model queries per second; 0 = unlimited" },
	{ "RECONCILE_RECHECK_ROUNDS", GX_CFG_INT, "3", 0, 20, OFF(recheck_rounds), 0, NULL,
	  "reconcile: point re-reads of each candidate difference" },
	{ "RECONCILE_RECHECK_INTERVAL", GX_CFG_MS, "1s", 1, 600000, OFF(recheck_interval_ms), 0, NULL,
	  "reconcile: pause before each re-check round" },
	{ "RECONCILE_STALE_AFTER", GX_CFG_MS, "60s", 5000, 86400000, OFF(stale_ms), 0, NULL,
	  "reconcile: a RUNNING run without heartbeat this long is abandoned (its process died)" },
	{ "RECONCILE_METRICS_INTERVAL", GX_CFG_MS, "30s", 100, 3600000, OFF(metrics_interval_ms), 0, NULL,
	  "reconcile: how often the gx_reconcile_* gauges are read from the newest finished run of any replica or gxctl" },
	{ "RECONCILE_REPAIR_TIMEOUT", GX_CFG_MS, "120s", 1000, 86400000, OFF(repair_timeout_ms), 0, NULL,
	  "reconcile: longest wait for the projector's replay after a repair" },
};

size_t adm_cfg_rows(struct gx_cfg_key *out)
{
	size_t n = gx_fabric_cfg_rows(out, OFF(fabric), GX_FABRIC_CFG_PARTNER_ONLY);

	/* optional here: without an identity the reconcile routes answer 503, the rest of svc-admin works */
	for (size_t i = 0; i < n; i++) {
		if (!(out[i].flags & GX_CFG_REQUIRED))
			continue;
		out[i].flags &= ~(unsigned)GX_CFG_REQUIRED;
		out[i].min = 0;
	}
	memcpy(out + n, own_rows, sizeof(own_rows));
	return n + GX_ARRAY_LEN(own_rows);
}

/* ---- the background run ----------------------------------------------------------------------------------- */

struct adm_runner {
	pthread_mutex_t lock;
	pthread_t thread;
	bool busy;   /* a run thread is alive */
	bool joined; /* thread needs no join */
	char run_id[64];
	bool repair;
	PGconn *hb; /* the run row's session (run thread only) */
	int64_t last_hb_us;
	/* the gauges' refresher */
	pthread_t refresher;
	pthread_cond_t wake;
	bool stop;
};

static struct gx_metric *m_diff, *m_flight, *m_last, *m_runs, *m_duration;

static void run_update(struct adm_runner *rn, const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(rn->hb, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		gx_log_error("reconcile run %s: updating its row failed: %s", rn->run_id, PQresultErrorMessage(res));
	PQclear(res);
}

static void heartbeat(void *arg)
{
	struct adm_runner *rn = arg;
	const char *params[1] = { rn->run_id };

	if (gx_mono_us() - rn->last_hb_us < HEARTBEAT_US)
		return;
	rn->last_hb_us = gx_mono_us();
	run_update(rn, "UPDATE \"ReconcileRun\" SET \"heartbeatAt\" = now() WHERE \"runId\" = $1", 1, params);
}

static void finish(struct adm_runner *rn, const char *tenant, cJSON *report, bool repaired, const char *error)
{
	static const char sql[] =
		"UPDATE \"ReconcileRun\" SET \"status\" = $2, \"outcome\" = $3, \"differenceCount\" = $4::int,"
		" \"inFlightCount\" = $5::int, \"report\" = $6::jsonb, \"error\" = $7, \"repaired\" = $8::boolean,"
		" \"finishedAt\" = now(), \"heartbeatAt\" = now() WHERE \"runId\" = $1";
	char nd[24] = "", nf[24] = "";
	char *txt = report ? cJSON_PrintUnformatted(report) : NULL;
	const cJSON *outcome = cJSON_GetObjectItemCaseSensitive(report, "outcome");
	const char *params[8] = { rn->run_id,
				  error ? "FAILED" : "DONE",
				  cJSON_IsString(outcome) ? outcome->valuestring : NULL,
				  NULL,
				  NULL,
				  txt,
				  error,
				  repaired ? "true" : "false" };
	const char *label[1] = { error ? "failed" : params[2] };

	if (report) {
		double d = cJSON_GetObjectItemCaseSensitive(report, "differenceCount")->valuedouble;
		double f = cJSON_GetObjectItemCaseSensitive(report, "inFlightCount")->valuedouble;

		snprintf(nd, sizeof(nd), "%.0f", d);
		snprintf(nf, sizeof(nf), "%.0f", f);
		params[3] = nd;
		params[4] = nf;
		gx_metrics_set(m_diff, NULL, d);
		gx_metrics_set(m_flight, NULL, f);
		gx_metrics_set(m_last, NULL, (double)gx_now_ms() / 1000.0);
		gx_metrics_set(m_duration, NULL,
			       cJSON_GetObjectItemCaseSensitive(report, "durationMs")->valuedouble / 1000.0);
	}
	gx_metrics_add(m_runs, label, 1);
	run_update(rn, sql, 8, params);
	gx_log_info("reconcile run %s (tenant %s) finished: %s", rn->run_id, tenant,
		    error       ? error
		    : params[2] ? params[2]
				: "");
	free(txt);
}

static void *run_thread(void *arg)
{
	struct adm_app *app = arg;
	struct adm_runner *rn = app->runner;
	const struct adm_cfg *c = app->cfg;
	struct gx_reconcile_opts o = {
		.tenant = app->tenant,
		.page_size = (int)c->page_size,
		.peer_rate = c->peer_rate ? (double)c->peer_rate : -1,
		.db_page_size = (int)c->db_page_size,
		.db_rate = c->db_rate ? (double)c->db_rate : -1,
		.recheck_rounds = (int)c->recheck_rounds,
		.recheck_interval_ms = (int)c->recheck_interval_ms,
		.progress = heartbeat,
		.arg = rn,
	};
	struct gx_fabric_id *id = NULL;
	struct gx_fabric_client *fc = NULL;
	PGconn *conn = gx_pg_connect_blocking(app->conninfo, "svc-admin-reconcile");
	char err[512] = "", *actor;
	cJSON *report = NULL;
	enum gx_reconcile_outcome out = GX_RECONCILE_FAILED;
	bool repaired = false;

	rn->hb = gx_pg_connect_blocking(app->conninfo, "svc-admin-reconcile-run");
	if (!rn->hb) {
		gx_log_error("reconcile run %s: no database session for its row", rn->run_id);
		goto out;
	}
	if (!conn) {
		finish(rn, app->tenant, NULL, false, "the database cannot be reached");
		goto out;
	}
	fc = gx_reconcile_client_new(&c->fabric, &id);
	if (!fc) {
		finish(rn, app->tenant, NULL, false, "the Fabric client could not be created (see the log)");
		goto out;
	}
	out = gx_reconcile_run(conn, fc, &o, &report, err, sizeof(err));
	if (out > GX_RECONCILE_CLEAN && rn->repair) {
		actor = gx_xasprintf("svc-admin:%s", rn->run_id);
		cJSON_Delete(report);
		report = NULL;
		if (gx_reconcile_repair(conn, app->tenant, actor, (int)c->repair_timeout_ms, err, sizeof(err)) == 0) {
			repaired = true;
			out = gx_reconcile_run(conn, fc, &o, &report, err, sizeof(err));
		} else {
			out = GX_RECONCILE_FAILED;
		}
		free(actor);
	}
	finish(rn, app->tenant, report, repaired, out == GX_RECONCILE_FAILED ? err : NULL);
out:
	cJSON_Delete(report);
	gx_fabric_client_free(fc);
	gx_fabric_id_free(id);
	if (conn)
		PQfinish(conn);
	if (rn->hb)
		PQfinish(rn->hb);
	rn->hb = NULL;
	pthread_mutex_lock(&rn->lock);
	rn->busy = false;
	pthread_mutex_unlock(&rn->lock);
	return NULL;
}

/* Every RECONCILE_METRICS_INTERVAL: the gauges from the newest finished run of the tenant, whoever ran it (another
 * replica, gxctl reconcile), so every replica exports the same figures. */
static void refresh(PGconn **conn, bool *down, const struct adm_app *app)
{
	static const char sql[] =
		"SELECT \"differenceCount\", \"inFlightCount\", extract(epoch FROM \"finishedAt\"),"
		" extract(epoch FROM \"finishedAt\" - \"startedAt\") FROM \"ReconcileRun\" WHERE \"tenantId\" = $1"
		" AND \"status\" = 'DONE' ORDER BY \"finishedAt\" DESC LIMIT 1";
	const char *params[1] = { app->tenant };
	PGresult *res;

	if (*conn && PQstatus(*conn) != CONNECTION_OK) {
		PQfinish(*conn);
		*conn = NULL;
	}
	if (!*conn) {
		/* quietly: a database outage is reported by the service's own readiness, once here is enough */
		*conn = PQconnectdb(app->conninfo);
		if (PQstatus(*conn) != CONNECTION_OK) {
			if (!*down)
				gx_log_warn("reconcile metrics: no database session; retrying every interval");
			*down = true;
			PQfinish(*conn);
			*conn = NULL;
			return;
		}
	}
	*down = false;
	res = PQexecParams(*conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		gx_metrics_set(m_diff, NULL, strtod(PQgetvalue(res, 0, 0), NULL));
		gx_metrics_set(m_flight, NULL, strtod(PQgetvalue(res, 0, 1), NULL));
		gx_metrics_set(m_last, NULL, strtod(PQgetvalue(res, 0, 2), NULL));
		gx_metrics_set(m_duration, NULL, strtod(PQgetvalue(res, 0, 3), NULL));
	} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		gx_log_warn("reconcile metrics: reading the newest run failed: %s", PQresultErrorMessage(res));
	}
	PQclear(res);
}

static void *refresh_thread(void *arg)
{
	struct adm_app *app = arg;
	struct adm_runner *rn = app->runner;
	PGconn *conn = NULL;
	bool down = false;

	pthread_mutex_lock(&rn->lock);
	while (!rn->stop) {
		struct timespec ts;
		long long ms = app->cfg->metrics_interval_ms;

		pthread_mutex_unlock(&rn->lock);
		refresh(&conn, &down, app);
		pthread_mutex_lock(&rn->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(ms / 1000);
		ts.tv_nsec += (long)(ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!rn->stop)
			pthread_cond_timedwait(&rn->wake, &rn->lock, &ts);
	}
	pthread_mutex_unlock(&rn->lock);
	if (conn)
		PQfinish(conn);
	return NULL;
}

int adm_reconcile_init(struct adm_app *app)
{
	const char *outcome[] = { "outcome", NULL };

	app->runner = gx_xcalloc(1, sizeof(*app->runner));
	pthread_mutex_init(&app->runner->lock, NULL);
	app->runner->joined = true;
	m_diff = gx_metrics_gauge("gx_reconcile_differences", "differences found by the last reconcile run", NULL);
	m_flight =
		gx_metrics_gauge("gx_reconcile_in_flight", "entities still in flight at the end of the last run", NULL);
	m_last = gx_metrics_gauge("gx_reconcile_last_run_timestamp_seconds",
				  "end of the last finished reconcile run (Unix seconds)", NULL);
	m_duration = gx_metrics_gauge("gx_reconcile_duration_seconds", "duration of the last reconcile run", NULL);
	m_runs = gx_metrics_counter("gx_reconcile_runs_total", "reconcile runs by outcome", outcome);
	gx_metrics_set(m_diff, NULL, 0);
	gx_metrics_set(m_flight, NULL, 0);
	gx_metrics_set(m_last, NULL, 0);
	gx_metrics_set(m_duration, NULL, 0);
	pthread_cond_init(&app->runner->wake, NULL);
	if (pthread_create(&app->runner->refresher, NULL, refresh_thread, app) != 0) {
		gx_log_error("reconcile: cannot start the metrics thread");
		return -1;
	}
	return 0;
}

void adm_reconcile_fini(struct adm_app *app)
{
	struct adm_runner *rn = app->runner;

	if (!rn)
		return;
	pthread_mutex_lock(&rn->lock);
	rn->stop = true;
	pthread_cond_signal(&rn->wake);
	pthread_mutex_unlock(&rn->lock);
	pthread_join(rn->refresher, NULL);
	pthread_cond_destroy(&rn->wake);
	if (!rn->joined)
		pthread_join(rn->thread, NULL); /* a run is bounded; its row stays RUNNING only if the process dies */
	pthread_mutex_destroy(&rn->lock);
	free(rn);
	app->runner = NULL;
}

/* ---- POST /api/v1/admin/reconcile --------------------------------------------------------------------------- */

struct start {
	struct gx_req *req;
	bool repair;
	char stale[24];
};

/* clang-format off */
static const char SQL_ABANDON[] =
	"UPDATE \"ReconcileRun\" SET \"status\" = 'FAILED', \"error\" = 'abandoned: no heartbeat', \"finishedAt\" = now()"
	" WHERE \"tenantId\" = $1 AND \"status\" = 'RUNNING' AND \"heartbeatAt\" < now() - $2::bigint * interval '1 ms'";
static const char SQL_START[] =
	"INSERT INTO \"ReconcileRun\" (\"tenantId\", \"requestedBy\", \"repair\") VALUES ($1, $2, $3::boolean)"
	" RETURNING \"runId\"";
/* clang-format on */

static void on_started(PGresult *const *res, int nres, const struct gx_pg_error *err, void *arg)
{
	struct start *s = arg;
	struct gx_req *req = s->req;
	struct adm_app *app = gx_req_app(req);
	struct adm_runner *rn = app->runner;
	cJSON *body;

	if (err) {
		if (!strcmp(err->sqlstate, "23505")) {
			pthread_mutex_lock(&rn->lock);
			rn->busy = false;
			pthread_mutex_unlock(&rn->lock);
			gx_reply_error(req, 409, "RECONCILE_RUNNING", "a reconciliation is already running");
			return;
		}
		pthread_mutex_lock(&rn->lock);
		rn->busy = false;
		pthread_mutex_unlock(&rn->lock);
		gx_reply_pg_error(req, err);
		return;
	}
	pthread_mutex_lock(&rn->lock); /* another worker may be naming it in a 409 */
	snprintf(rn->run_id, sizeof(rn->run_id), "%s", PQgetvalue(res[nres - 1], 0, 0));
	pthread_mutex_unlock(&rn->lock);
	rn->repair = s->repair;
	rn->last_hb_us = gx_mono_us();
	if (pthread_create(&rn->thread, NULL, run_thread, app) != 0) {
		pthread_mutex_lock(&rn->lock);
		rn->busy = false;
		pthread_mutex_unlock(&rn->lock);
		gx_reply_error(req, 500, "INTERNAL", "could not start the reconcile thread");
		return;
	}
	rn->joined = false;
	gx_log_info("reconcile run %s started (repair %s)", rn->run_id, s->repair ? "yes" : "no");
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "runId", rn->run_id);
	cJSON_AddStringToObject(body, "status", "RUNNING");
	cJSON_AddBoolToObject(body, "repair", s->repair);
	gx_reply_json(req, 202, body);
}

void reconcile_start(struct gx_req *req)
{
	struct adm_app *app = gx_req_app(req);
	struct adm_runner *rn = app->runner;
	const cJSON *body = gx_req_body(req), *repair = cJSON_GetObjectItemCaseSensitive(body, "repair");
	const struct gx_jwt_claims *cl = gx_req_claims(req);
	struct start *s;
	const char *p1[2], *p2[3];
	struct gx_pg_stmt st[2];

	if (repair && !cJSON_IsBool(repair)) {
		gx_svc_reply_invalid(req, "repair", "must be a boolean");
		return;
	}
	if (cJSON_IsTrue(repair) && strcmp(cl->role, "SUPER_ADMIN") != 0) {
		gx_reply_error(req, 403, "FORBIDDEN", "a repair rebuilds the projection and needs SUPER_ADMIN");
		return;
	}
	if (!app->cfg->fabric.cert[GX_FABRIC_CFG_PARTNER][0] || !app->cfg->fabric.key[GX_FABRIC_CFG_PARTNER][0]) {
		gx_reply_error(req, 503, "RECONCILE_UNAVAILABLE",
			       "reconciliation is not configured (FABRIC_CERT_PARTNER, FABRIC_KEY_PARTNER)");
		return;
	}
	pthread_mutex_lock(&rn->lock);
	if (rn->busy) {
		pthread_mutex_unlock(&rn->lock);
		gx_reply_error(req, 409, "RECONCILE_RUNNING", "a reconciliation is already running (run %s)",
			       rn->run_id);
		return;
	}
	rn->busy = true;
	pthread_mutex_unlock(&rn->lock);
	if (!rn->joined) { /* the previous run's thread has ended (busy was false) */
		pthread_join(rn->thread, NULL);
		rn->joined = true;
	}
	s = gx_xcalloc(1, sizeof(*s));
	s->req = req;
	s->repair = cJSON_IsTrue(repair);
	snprintf(s->stale, sizeof(s->stale), "%lld", app->cfg->stale_ms);
	gx_req_set_data(req, s, free);
	p1[0] = app->tenant;
	p1[1] = s->stale;
	p2[0] = app->tenant;
	p2[1] = cl->sub;
	p2[2] = s->repair ? "true" : "false";
	st[0] = (struct gx_pg_stmt){ SQL_ABANDON, 2, p1 };
	st[1] = (struct gx_pg_stmt){ SQL_START, 3, p2 };
	if (gx_pg_txn(gx_req_pg(req), st, 2, on_started, s) < 0) {
		pthread_mutex_lock(&rn->lock);
		rn->busy = false;
		pthread_mutex_unlock(&rn->lock);
		gx_reply_error(req, 503, "DB_UNAVAILABLE", "could not start the transaction");
	}
}

/* ---- GET /api/v1/admin/reconcile/{runId} -------------------------------------------------------------------- */

/* clang-format off */
static const char SQL_SHOW[] =
	"SELECT \"runId\", \"status\", \"requestedBy\", \"repair\", \"repaired\", \"outcome\", \"differenceCount\","
	" \"inFlightCount\", \"error\", \"report\"::text AS \"report\","
	" to_char(\"startedAt\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS \"startedAt\","
	" to_char(\"heartbeatAt\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS \"heartbeatAt\","
	" to_char(\"finishedAt\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS \"finishedAt\""
	" FROM \"ReconcileRun\" WHERE \"tenantId\" = $1 AND \"runId\" = $2";
/* clang-format on */

static void on_show(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	const char *text[] = { "runId", "status",    "requestedBy", "outcome",
			       "error", "startedAt", "heartbeatAt", "finishedAt" };
	cJSON *body;

	if (!gx_svc_found(req, res, err, "RUN_NOT_FOUND", "reconcile run %s was not found", gx_req_param(req, "runId")))
		return;
	body = cJSON_CreateObject();
	for (size_t i = 0; i < GX_ARRAY_LEN(text); i++)
		gx_svc_add_text(body, text[i], res, 0, text[i]);
	cJSON_AddBoolToObject(body, "repair", gx_svc_true(res, 0, "repair"));
	cJSON_AddBoolToObject(body, "repaired", gx_svc_true(res, 0, "repaired"));
	adm_add_int(body, "differenceCount", res, 0, "differenceCount");
	adm_add_int(body, "inFlightCount", res, 0, "inFlightCount");
	if (gx_pg_isnull(res, 0, "report"))
		cJSON_AddNullToObject(body, "report");
	else
		cJSON_AddItemToObject(body, "report", cJSON_Parse(gx_pg_val(res, 0, "report")));
	gx_reply_json(req, 200, body);
}

void reconcile_show(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const char *id = gx_req_param(req, "runId");
	const char *params[2] = { app->tenant, id };

	if (!gx_valid_id(id)) {
		gx_svc_reply_invalid(req, "runId", "must be a run id");
		return;
	}
	if (gx_pg_query(gx_req_pg(req), SQL_SHOW, 2, params, on_show, req) < 0)
		gx_reply_error(req, 503, "DB_UNAVAILABLE", "could not start the query");
}
