/* System-wide administration: POST /bootstrap (once), POST /system/pause and /system/resume (SUPER_ADMIN, through
 * the outbox), GET /system/status (public) and GET /counters (ADMIN), all computed from the read models. Both reads
 * also carry the original backend's answer, a SystemParameterRow under "status" / "counters".
 *
 * Pause state: the projected state is the newest SystemPaused/SystemResumed event; for the 409 checks of pause and
 * resume a not yet projected PAUSE_SYSTEM/RESUME_SYSTEM command counts as the newest word, so pausing twice in a
 * row is refused even before the projector caught up. The chain stays the final guard (a race ends as a FAILED
 * command with CHAINCODE_409). */
#include <stdlib.h>
#include <string.h>

#include "gx/fee.h"
#include "gx/http.h"
#include "gx/money.h"
#include "gx/outbox_store.h"
#include "gx/valid.h"
#include "admin.h"

static struct gx_outbox_store_sql sql_counters = {
	.tmpl = "SELECT (SELECT count(*) FROM \"UserProfile\" WHERE \"tenantId\" = $1 AND \"deletedAt\" IS NULL) AS \"users\","
		" (SELECT count(*) FROM \"UserProfile\" WHERE \"tenantId\" = $1 AND \"deletedAt\" IS NULL"
		"   AND \"role\" IN ('ADMIN', 'SUPER_ADMIN')) AS \"admins\","
		" (SELECT count(*) FROM \"Wallet\" WHERE \"tenantId\" = $1 AND \"deletedAt\" IS NULL) AS \"wallets\","
		" (SELECT count(DISTINCT coalesce(\"onChainTxId\", \"offTxId\")) FROM \"Transaction\" WHERE \"tenantId\" = $1)"
		"   AS \"transactions\","
		" (SELECT count(*) FROM \"Organization\" WHERE \"tenantId\" = $1) AS \"organizations\","
		" (SELECT count(*) FROM \"Loan\" WHERE \"tenantId\" = $1) AS \"loans\","
		" (SELECT count(*) FROM \"Proposal\" WHERE \"tenantId\" = $1) AS \"proposals\","
		" (SELECT count(*) FROM \"Country\" WHERE \"initializedAt\" IS NOT NULL) AS \"countriesInitialized\","
		" ((SELECT coalesce(sum(\"balanceQirat\"), 0) FROM \"Wallet\" WHERE \"tenantId\" = $1)"
		"  + (SELECT coalesce(sum(\"balanceQirat\"), 0) FROM \"Organization\" WHERE \"tenantId\" = $1)"
		"  + (SELECT coalesce(sum(\"balanceQirat\"), 0) FROM \"TreasuryAccount\" WHERE \"tenantId\" = $1)"
		"  + (SELECT coalesce(sum(\"balanceQirat\"), 0) FROM \"SystemAccount\" WHERE \"tenantId\" = $1))::text"
		"   AS \"totalSupply\","
		" %s AS \"commands\","
		" " GX_SQL_ISO_TS("now()") " AS \"computedAt\"",
			.probes = { { .ask = GX_OUTBOX_STORE_COUNTS, .rule = GX_OUTBOX_STORE_LIVE, .tenant = "$1" } }
	};

enum sys_op_kind { OP_BOOTSTRAP, OP_PAUSE, OP_RESUME };

struct sys_op {
	struct gx_req *req;
	enum sys_op_kind kind;
	char *reason; /* OP_PAUSE */
};

static void sys_op_free(void *p)
{
	struct sys_op *op = p;

	free(op->reason);
	free(op);
}

/* Paused, counting a not yet projected pause/resume command as the newest word. */
static bool effective_paused(const PGresult *res)
{
	if (!gx_pg_isnull(res, 0, "pendingChange"))
		return strcmp(gx_pg_val(res, 0, "pendingChange"), "PAUSE_SYSTEM") == 0;
	return gx_svc_true(res, 0, "paused");
}

static void on_op_state(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct sys_op *op = arg;
	struct gx_req *req = op->req;
	cJSON *payload;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	payload = cJSON_CreateObject();
	switch (op->kind) {
	case OP_BOOTSTRAP:
		if (gx_svc_true(res, 0, "bootstrapped") || gx_svc_true(res, 0, "bootstrapRequested")) {
			gx_reply_error(req, 409, "SYSTEM_ALREADY_BOOTSTRAPPED", "the system is already %s",
				       gx_svc_true(res, 0, "bootstrapped") ? "bootstrapped" : "being bootstrapped");
			break;
		}
		adm_submit(req, "BOOTSTRAP_SYSTEM", payload, "SYSTEM_BOOTSTRAP", "SYSTEM", NULL);
		break;
	case OP_PAUSE:
		if (effective_paused(res)) {
			gx_reply_error(req, 409, "SYSTEM_ALREADY_PAUSED", "the system is already paused%s",
				       gx_pg_isnull(res, 0, "pendingChange") ? "" : " (pause pending)");
			break;
		}
		cJSON_AddStringToObject(payload, "reason", op->reason);
		adm_submit(req, "PAUSE_SYSTEM", payload, "SYSTEM_PAUSE", "SYSTEM", NULL);
		break;
	case OP_RESUME:
		if (!effective_paused(res)) {
			gx_reply_error(req, 409, "SYSTEM_NOT_PAUSED", "the system is not paused%s",
				       gx_pg_isnull(res, 0, "pendingChange") ? "" : " (resume pending)");
			break;
		}
		adm_submit(req, "RESUME_SYSTEM", payload, "SYSTEM_RESUME", "SYSTEM", NULL);
		break;
	}
	cJSON_Delete(payload);
}

static void start_op(struct gx_req *req, enum sys_op_kind kind, const char *reason)
{
	const struct adm_app *app = gx_req_app(req);
	struct sys_op *op = gx_xcalloc(1, sizeof(*op));
	const char *params[1];

	op->req = req;
	op->kind = kind;
	op->reason = reason ? gx_xstrdup(reason) : NULL;
	gx_req_set_data(req, op, sys_op_free);
	params[0] = app->tenant;
	if (gx_pg_query(gx_req_pg(req), adm_sql_system_state(), 1, params, on_op_state, op) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the system state query");
}

void system_bootstrap(struct gx_req *req)
{
	start_op(req, OP_BOOTSTRAP, NULL);
}

void system_pause(struct gx_req *req)
{
	struct gx_verr *v = gx_verr_new();
	const char *reason = gx_valid_str(gx_req_body(req), "reason", true, 10, 500, v);

	if (reason && strlen(reason) > 500)
		gx_verr_add(v, "reason", "must be at most 500 bytes of UTF-8");
	if (gx_svc_invalid(req, v))
		return;
	start_op(req, OP_PAUSE, reason);
}

void system_resume(struct gx_req *req)
{
	start_op(req, OP_RESUME, NULL);
}

static void on_status(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	const struct adm_app *app = gx_req_app(req);
	cJSON *o;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "isPaused", gx_svc_true(res, 0, "paused"));
	gx_svc_add_text(o, "pauseReason", res, 0, "pauseReason");
	gx_svc_add_text(o, "lastUpdated", res, 0, "lastUpdated");
	gx_svc_add_text(o, "pendingChange", res, 0, "pendingChange");
	cJSON_AddBoolToObject(o, "isBootstrapped", gx_svc_true(res, 0, "bootstrapped"));
	gx_svc_add_text(o, "bootstrappedAt", res, 0, "bootstrappedAt");
	cJSON_AddBoolToObject(o, "countriesInitialized", gx_svc_true(res, 0, "countriesInitialized"));
	/* the original's answer: its SYSTEM_STATUS parameter row */
	adm_add_param_row(o, "status", app->tenant, "SYSTEM_STATUS",
			  gx_svc_true(res, 0, "paused") ? "PAUSED" : "ACTIVE", gx_pg_val(res, 0, "statusUpdatedAt"));
	gx_reply_json(req, 200, o);
}

void system_status(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const char *params[1] = { app->tenant };

	if (gx_pg_query(gx_req_pg(req), adm_sql_system_state(), 1, params, on_status, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the system state query");
}

/* The original's "counters": a SystemParameterRow (its code returned whichever parameter row came first). Ours is a
 * real one, GLOBAL_COUNTERS, whose value is the counters as JSON text, with the counters its API document promised
 * (totalSupply in coins as a number, totalUsers, totalOrganizations) beside the row's keys. */
static int add_original_counters(cJSON *o, const char *tenant, const PGresult *res)
{
	cJSON *val = cJSON_CreateObject(), *row;
	uint64_t supply;
	char *text;
	int rc = -1;

	if (gx_fee_parse_u64(gx_pg_val(res, 0, "totalSupply"), &supply) < 0 ||
	    gx_money_add_number(val, "totalSupply", supply) < 0)
		goto out;
	adm_add_int(val, "totalUsers", res, 0, "users");
	adm_add_int(val, "totalOrganizations", res, 0, "organizations");
	if (!(text = cJSON_PrintUnformatted(val)))
		goto out;
	row = adm_add_param_row(o, "counters", tenant, "GLOBAL_COUNTERS", text, gx_pg_val(res, 0, "computedAt"));
	free(text);
	for (cJSON *c = val->child; c; c = c->next)
		cJSON_AddItemToObject(row, c->string, cJSON_Duplicate(c, true));
	rc = 0;
out:
	cJSON_Delete(val);
	return rc;
}

static void on_counters(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;
	const struct adm_app *app = gx_req_app(req);
	cJSON *o, *by, *cmds;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	by = cJSON_Parse(gx_pg_val(res, 0, "commands"));
	o = cJSON_CreateObject();
	adm_add_int(o, "totalUsers", res, 0, "users");
	adm_add_int(o, "totalAdmins", res, 0, "admins");
	adm_add_int(o, "totalWallets", res, 0, "wallets");
	adm_add_int(o, "totalTransactions", res, 0, "transactions");
	adm_add_int(o, "totalOrganizations", res, 0, "organizations");
	adm_add_int(o, "totalLoans", res, 0, "loans");
	adm_add_int(o, "totalProposals", res, 0, "proposals");
	adm_add_int(o, "countriesInitialized", res, 0, "countriesInitialized");
	if (!by || adm_add_amount(o, "totalSupply", "totalSupplyQirat", res, 0, "totalSupply") < 0) {
		cJSON_Delete(by);
		cJSON_Delete(o);
		gx_reply_error(req, 500, "INTERNAL", "counters hold values out of range (total supply '%.40s')",
			       gx_pg_val(res, 0, "totalSupply"));
		return;
	}
	if (add_original_counters(o, app->tenant, res) < 0) {
		cJSON_Delete(by);
		cJSON_Delete(o);
		gx_reply_error(req, 500, "INTERNAL", "could not build the counters");
		return;
	}
	cmds = cJSON_AddObjectToObject(o, "commands");
	for (size_t i = 0; gx_outbox_store_status_names[i]; i++) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(by, gx_outbox_store_status_names[i]);

		cJSON_AddNumberToObject(cmds, gx_outbox_store_status_names[i], cJSON_IsNumber(n) ? n->valuedouble : 0);
	}
	cJSON_Delete(by);
	gx_reply_json(req, 200, o);
}

void system_counters(struct gx_req *req)
{
	const struct adm_app *app = gx_req_app(req);
	const char *params[1] = { app->tenant };

	if (gx_pg_query(gx_req_pg(req), gx_outbox_store_sql_text(&sql_counters), 1, params, on_counters, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "could not start the counters query");
}
