/* gxctl reconcile: compare the read models with the ledger (gx/reconcile.h, docs/reconcile.md) and report every
 * difference; --repair rebuilds the projection (what `gxctl projector rebuild` does) and checks again. */
#include "gxctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/cfg.h"
#include "gx/fabric_cfg.h"
#include "gx/reconcile.h"
#include "gx/util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl reconcile [--json] [--repair [--yes]] [--page-size N] [--peer-rate N] [--db-page-size N]\n"
		"                       [--db-rate N] [--recheck-rounds N] [--recheck-interval-ms MS] [--max-report N]\n"
		"                       [--repair-timeout-ms MS]\n"
		"\n"
		"Reads every account (balance, frozen flag, wallet history sum), organization, multi-signature transaction,\n"
		"loan, proposal (vote counts) and system parameter from the ledger through the chaincode's paged read\n"
		"functions, and the read models at one snapshot, and prints each difference: entity, key, field, ledger\n"
		"value, read-model value and the last projected block that touched the key. Differences are re-read\n"
		"(--recheck-rounds, every --recheck-interval-ms) before they are reported; an entity that blocks after the\n"
		"snapshot are still changing is reported as in flight. Load: --page-size records per Evaluate (1..%d,\n"
		"default 200) at most --peer-rate calls/s (default 20; -1 unlimited), --db-page-size rows per query\n"
		"(default 500) at most --db-rate queries/s (default 20). Writers are never blocked.\n"
		"--repair: when differences are found, rebuild the projection (as `gxctl projector rebuild --yes`, audited),\n"
		"wait for the replay (--repair-timeout-ms, default 120000) and reconcile again; needs --yes.\n"
		"--json: print the report as one JSON line instead of text.\n"
		"\n"
		"exit codes: 0 clean, 1 could not run (peer or database), 2 usage or configuration error,\n"
		"            3 differences found, 4 no difference but entities still in flight\n"
		"Fabric: FABRIC_PEER_ENDPOINT, FABRIC_TLS_*, FABRIC_MSP_ID, FABRIC_CHANNEL, FABRIC_CHAINCODE,\n"
		"FABRIC_CERT_PARTNER, FABRIC_KEY_PARTNER (as the projector). Tenant: TENANT_ID (default \"default\").\n\n%s",
		GX_RECONCILE_PAGE_MAX, GXCTL_DB_HELP);
}

static int num(const char *s, double min, double max, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (!*s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void print_list(const cJSON *list, const char *tag)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, list) {
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(e, "ledger");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "readModel");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "lastBlock");

		printf("%s %s %s %s ledger=%s readModel=%s lastBlock=", tag,
		       cJSON_GetObjectItemCaseSensitive(e, "entity")->valuestring,
		       cJSON_GetObjectItemCaseSensitive(e, "key")->valuestring,
		       cJSON_GetObjectItemCaseSensitive(e, "field")->valuestring,
		       cJSON_IsString(l) ? l->valuestring : "(absent)",
		       cJSON_IsString(d) ? d->valuestring : "(absent)");
		if (cJSON_IsNumber(b))
			printf("%.0f\n", b->valuedouble);
		else
			printf("(none)\n");
	}
}

static void print_report(const cJSON *rep, bool json)
{
	if (json) {
		char *txt = cJSON_PrintUnformatted(rep);

		printf("%s\n", txt);
		free(txt);
	} else {
		print_list(cJSON_GetObjectItemCaseSensitive(rep, "differences"), "DIFFERENCE");
		print_list(cJSON_GetObjectItemCaseSensitive(rep, "inFlight"), "IN_FLIGHT");
		printf("reconcile: %s: %.0f differences, %.0f in flight, %.0f settled on re-check (checkpoint %.0f, "
		       "%.0f ledger calls, %.0f database queries, %.0f ms)\n",
		       cJSON_GetObjectItemCaseSensitive(rep, "outcome")->valuestring,
		       cJSON_GetObjectItemCaseSensitive(rep, "differenceCount")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(rep, "inFlightCount")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(rep, "resolvedOnRecheck")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(rep, "checkpoint")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(rep, "ledgerCalls")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(rep, "dbPages")->valuedouble,
		       cJSON_GetObjectItemCaseSensitive(rep, "durationMs")->valuedouble);
	}
	fflush(stdout);
}

/* Record a finished run in "ReconcileRun" (svc-admin's gauges show the newest run, whoever ran it). A failure is
 * reported and does not change the exit code: the report was printed. */
static void record(PGconn *conn, const char *tenant, const char *actor, const cJSON *rep, bool repair, bool repaired)
{
	static const char sql[] =
		"INSERT INTO \"ReconcileRun\" (\"tenantId\", \"status\", \"requestedBy\", \"repair\", \"repaired\","
		" \"outcome\", \"differenceCount\", \"inFlightCount\", \"report\", \"startedAt\", \"finishedAt\")"
		" VALUES ($1, 'DONE', $2, $3::boolean, $4::boolean, $5, $6::int, $7::int, $8::jsonb,"
		" now() - $9::bigint * interval '1 ms', now())";
	char nd[24], nf[24], ms[24], *txt = cJSON_PrintUnformatted(rep);
	const char *params[9] = { tenant,
				  actor,
				  repair ? "true" : "false",
				  repaired ? "true" : "false",
				  cJSON_GetObjectItemCaseSensitive(rep, "outcome")->valuestring,
				  nd,
				  nf,
				  txt,
				  ms };
	PGresult *res;

	snprintf(nd, sizeof(nd), "%.0f", cJSON_GetObjectItemCaseSensitive(rep, "differenceCount")->valuedouble);
	snprintf(nf, sizeof(nf), "%.0f", cJSON_GetObjectItemCaseSensitive(rep, "inFlightCount")->valuedouble);
	snprintf(ms, sizeof(ms), "%.0f", cJSON_GetObjectItemCaseSensitive(rep, "durationMs")->valuedouble);
	res = PQexecParams(conn, sql, 9, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fprintf(stderr, "gxctl: reconcile: the run was not recorded: %s", PQresultErrorMessage(res));
	PQclear(res);
	free(txt);
}

static int exit_of(enum gx_reconcile_outcome o)
{
	switch (o) {
	case GX_RECONCILE_CLEAN:
		return GXCTL_OK;
	case GX_RECONCILE_DIFFERENCES:
		return GXCTL_DIFFERENCES;
	case GX_RECONCILE_IN_FLIGHT:
		return GXCTL_IN_FLIGHT;
	case GX_RECONCILE_FAILED:
		break;
	}
	return GXCTL_FAIL;
}

struct args {
	struct gx_reconcile_opts o;
	bool json, repair, yes;
	int repair_timeout_ms;
};

static int parse(int argc, char **argv, struct args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double d;

		if (!strcmp(k, "--json")) {
			a->json = true;
			continue;
		}
		if (!strcmp(k, "--repair")) {
			a->repair = true;
			continue;
		}
		if (!strcmp(k, "--yes")) {
			a->yes = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "gxctl reconcile: unknown option or missing value: %s\n", k);
			return -1;
		}
		i++;
		if (!strcmp(k, "--page-size") && num(v, 1, GX_RECONCILE_PAGE_MAX, &d) == 0)
			a->o.page_size = (int)d;
		else if (!strcmp(k, "--peer-rate") && num(v, -1, 1e6, &d) == 0 && d != 0)
			a->o.peer_rate = d;
		else if (!strcmp(k, "--db-page-size") && num(v, 1, GX_RECONCILE_DB_PAGE_MAX, &d) == 0)
			a->o.db_page_size = (int)d;
		else if (!strcmp(k, "--db-rate") && num(v, -1, 1e6, &d) == 0 && d != 0)
			a->o.db_rate = d;
		else if (!strcmp(k, "--recheck-rounds") && num(v, 0, 20, &d) == 0)
			a->o.recheck_rounds = (int)d;
		else if (!strcmp(k, "--recheck-interval-ms") && num(v, 1, 600000, &d) == 0)
			a->o.recheck_interval_ms = (int)d;
		else if (!strcmp(k, "--max-report") && num(v, 1, 1e6, &d) == 0)
			a->o.max_report = (int)d;
		else if (!strcmp(k, "--repair-timeout-ms") && num(v, 1, 86400000, &d) == 0)
			a->repair_timeout_ms = (int)d;
		else {
			fprintf(stderr, "gxctl reconcile: bad option %s %s\n", k, v);
			return -1;
		}
	}
	if (a->repair && !a->yes) {
		fprintf(stderr, "gxctl reconcile: --repair erases and replays the read models: add --yes to confirm\n");
		return -1;
	}
	return 0;
}

static int run(PGconn *conn, struct gx_fabric_client *fc, struct args *a)
{
	char err[512] = "", *actor;
	const char *user = getenv("USER");
	cJSON *rep = NULL;
	enum gx_reconcile_outcome o = gx_reconcile_run(conn, fc, &a->o, &rep, err, sizeof(err));
	int rc = GXCTL_FAIL;

	actor = gx_xasprintf("gxctl:%s", user && *user ? user : "operator");
	if (o == GX_RECONCILE_FAILED) {
		fprintf(stderr, "gxctl: reconcile could not run: %s\n", err);
		goto out;
	}
	print_report(rep, a->json);
	if (!a->repair || o == GX_RECONCILE_CLEAN) {
		record(conn, a->o.tenant, actor, rep, a->repair, false);
		rc = exit_of(o);
		goto out;
	}
	cJSON_Delete(rep);
	rep = NULL;
	if (gx_reconcile_repair(conn, a->o.tenant, actor, a->repair_timeout_ms, err, sizeof(err)) < 0) {
		fprintf(stderr, "gxctl: reconcile repair failed: %s\n", err);
		goto out;
	}
	if (!a->json)
		printf("reconcile: projection rebuilt and replayed; checking again\n");
	o = gx_reconcile_run(conn, fc, &a->o, &rep, err, sizeof(err));
	if (o == GX_RECONCILE_FAILED) {
		fprintf(stderr, "gxctl: reconcile could not run after the repair: %s\n", err);
		goto out;
	}
	print_report(rep, a->json);
	record(conn, a->o.tenant, actor, rep, true, true);
	rc = exit_of(o);
out:
	cJSON_Delete(rep);
	free(actor);
	return rc;
}

int gxctl_reconcile(int argc, char **argv)
{
	struct gx_cfg_key keys[GX_FABRIC_CFG_MAX_ROWS];
	struct gx_fabric_cfg fcfg;
	struct args a = { .o = { .recheck_rounds = 3 }, .repair_timeout_ms = 120000 };
	struct gx_fabric_client *fc;
	struct gx_fabric_id *id = NULL;
	char err[512];
	size_t nkeys;
	PGconn *conn;
	int rc;

	if (gxctl_wants_help(argc, argv)) {
		usage(stdout);
		return GXCTL_OK;
	}
	if (parse(argc, argv, &a) < 0) {
		usage(stderr);
		return GXCTL_USAGE;
	}
	a.o.tenant = gx_api_tenant_env();
	nkeys = gx_fabric_cfg_rows(keys, 0, GX_FABRIC_CFG_PARTNER_ONLY);
	if (gx_cfg_load(keys, nkeys, &fcfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "gxctl: reconcile: %s\n", err);
		return GXCTL_USAGE;
	}
	conn = gxctl_connect(&rc);
	if (!conn) {
		gx_cfg_free(keys, nkeys, &fcfg);
		return rc;
	}
	fc = gx_reconcile_client_new(&fcfg, &id);
	if (!fc) {
		fprintf(stderr, "gxctl: reconcile: cannot create the Fabric client (see the log)\n");
		rc = GXCTL_FAIL;
	} else {
		rc = run(conn, fc, &a);
	}
	gx_fabric_client_free(fc);
	gx_fabric_id_free(id);
	PQfinish(conn);
	gx_cfg_free(keys, nkeys, &fcfg);
	return rc;
}
