/* Outbox write helper and command status endpoint (contract in gx/outbox.h).
 *
 * Waiting (Prefer: wait=N): each pool gets one waiter list (a pool attachment) and one LISTEN gx_command_status
 * subscription; a notification whose payload is a waiting command's id triggers a re-check query, and a per-request
 * timer re-checks once more at the deadline. Everything runs on the request's worker thread.
 */
#include "gx/outbox.h"
#include "gx/outbox_store.h"
#include "gx/http.h"
#include "gx/idem.h"
#include "gx/jwt.h"
#include "gx/log.h"
#include "gx/rand.h"
#include "gx/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <mbedtls/sha256.h>

#define MAX_WAIT_S 30
#define JSON_CT "application/json; charset=utf-8"
#define STATUS_CHANNEL "gx_command_status"

static char *g_tenant;

struct waitlist;

struct ob_ctx {
	struct gx_req *req;
	struct gx_pg_pool *pool;
	char id[37];
	char *request_id;
	char *body; /* 202 body bytes */
	size_t body_len;
	struct gx_conflict *conflicts; /* deep copy */
	size_t nconflicts;
	int wait_s;
	bool is_get;
	/* waiting */
	struct waitlist *wl;
	struct ob_ctx *prev, *next;
	struct event *timer;
	bool checking, recheck, deadline_passed;
};

struct waitlist {
	struct ob_ctx *head;
};

static const int waitlist_key;

void gx_outbox_configure(const char *tenant_id)
{
	free(g_tenant);
	g_tenant = gx_xstrdup(tenant_id);
}

static const char *tenant(void)
{
	return g_tenant;
}

int gx_outbox_prefer_wait(const char *prefer)
{
	const char *p = prefer;

	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == ';')
			p++;
		if (strncasecmp(p, "wait", 4) == 0) {
			const char *q = p + 4;
			while (*q == ' ')
				q++;
			if (*q == '=') {
				long v = 0;
				int digits = 0;
				q++;
				while (*q == ' ')
					q++;
				if (*q == '"')
					q++;
				while (isdigit((unsigned char)*q) && digits < 6) {
					v = v * 10 + (*q - '0');
					q++;
					digits++;
				}
				if (digits && (*q == '\0' || *q == ',' || *q == ';' || *q == ' ' || *q == '"'))
					return v > MAX_WAIT_S ? MAX_WAIT_S : (int)v;
				return 0;
			}
		}
		p = strpbrk(p, ",;");
	}
	return 0;
}

static void ctx_free(struct ob_ctx *c)
{
	if (c->timer)
		event_free(c->timer);
	for (size_t i = 0; i < c->nconflicts; i++) {
		free((char *)c->conflicts[i].constraint);
		free((char *)c->conflicts[i].code);
		free((char *)c->conflicts[i].message);
	}
	free(c->conflicts);
	free(c->request_id);
	free(c->body);
	free(c);
}

/* Commands that create a resource whose id we generate: the 202 names it as the original API did (pendingTxId,
 * loanId, ...) besides "aggregateId". */
static const struct {
	const char *command_type, *field;
} created_ids[] = {
	{ "PROPOSE_ORGANIZATION", "orgId" },
	{ "INITIATE_MULTISIG_TX", "pendingTxId" },
	{ "APPLY_FOR_LOAN", "loanId" },
	{ "SUBMIT_PROPOSAL", "proposalId" },
};

/* The original API's 202 message for each command type (docs/compat.md); others get ours. */
static const struct {
	const char *command_type, *message;
} accepted_messages[] = {
	{ "CREATE_USER", "User registration initiated. Check status with command ID." },
	{ "BOOTSTRAP_SYSTEM", "System bootstrap initiated." },
	{ "INITIALIZE_COUNTRY_DATA", "Country data initialization initiated." },
	{ "INITIALIZE_COUNTRY", "Country data initialization initiated." },
	{ "UPDATE_SYSTEM_PARAMETER", "System parameter update initiated." },
	{ "PAUSE_SYSTEM", "System pause initiated." },
	{ "RESUME_SYSTEM", "System resume initiated." },
	{ "APPOINT_ADMIN", "Admin appointment initiated." },
	{ "ACTIVATE_TREASURY", "Treasury activation initiated." },
	{ "TRANSFER_TOKENS", "Transfer initiated. Check status with command ID." },
	{ "DISTRIBUTE_GENESIS", "Genesis distribution initiated. Check status with command ID." },
	{ "FREEZE_WALLET", "Wallet freeze initiated." },
	{ "UNFREEZE_WALLET", "Wallet unfreeze initiated." },
	{ "PROPOSE_ORGANIZATION", "Organization proposal initiated. All stakeholders must endorse." },
	{ "ENDORSE_MEMBERSHIP", "Membership endorsement initiated." },
	{ "ACTIVATE_ORGANIZATION", "Organization activation initiated." },
	{ "DEFINE_AUTH_RULE", "Authorization rule definition initiated." },
	{ "INITIATE_MULTISIG_TX", "Multi-signature transaction initiated. Waiting for approvals." },
	{ "APPROVE_MULTISIG_TX", "Multi-signature transaction approval initiated." },
	{ "APPLY_FOR_LOAN", "Loan application submitted. Pending approval." },
	{ "APPROVE_LOAN", "Loan approval initiated." },
	{ "SUBMIT_PROPOSAL", "Proposal submitted. Voting period started." },
	{ "CAST_VOTE", "Vote recorded." },
	{ "EXECUTE_PROPOSAL", "Proposal execution initiated." },
	{ "APPLY_VELOCITY_TAX", "Velocity tax application initiated." },
};

static const char *accepted_message(const char *command_type)
{
	for (size_t i = 0; command_type && i < GX_ARRAY_LEN(accepted_messages); i++)
		if (strcmp(command_type, accepted_messages[i].command_type) == 0)
			return accepted_messages[i].message;
	return "Command accepted; GET /api/v1/commands/{commandId} reports its progress";
}

static char *accepted_body(const char *id, const char *command_type, const char *aggregate_id, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "commandId", id);
	cJSON_AddStringToObject(o, "status", "ACCEPTED");
	cJSON_AddStringToObject(o, "message", accepted_message(command_type));
	if (aggregate_id && *aggregate_id) {
		cJSON_AddStringToObject(o, "aggregateId", aggregate_id);
		for (size_t i = 0; i < GX_ARRAY_LEN(created_ids); i++)
			if (command_type && strcmp(command_type, created_ids[i].command_type) == 0)
				cJSON_AddStringToObject(o, created_ids[i].field, aggregate_id);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s) {
		gx_log_fatal("out of memory serialising a response");
		abort();
	}
	*len = strlen(s);
	return s;
}

/* ---- the status document ---- */

static cJSON *str_or_null(const PGresult *res, const char *col)
{
	return gx_pg_isnull(res, 0, col) ? cJSON_CreateNull() : cJSON_CreateString(gx_pg_val(res, 0, col));
}

/* Prefer: wait ends at PROJECTED or FAILED: only then does the next read show the write (COMMITTED is on chain but
 * not yet in the read models). */
static bool is_final(const PGresult *res)
{
	return gx_outbox_store_status_final(gx_pg_val(res, 0, "status"));
}

static cJSON *status_doc(const PGresult *res)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "commandId", gx_pg_val(res, 0, "id"));
	cJSON_AddStringToObject(o, "commandType", gx_pg_val(res, 0, "commandType"));
	cJSON_AddStringToObject(o, "status", gx_outbox_store_public_status(gx_pg_val(res, 0, "status")));
	cJSON_AddNumberToObject(o, "attempts", (double)strtol(gx_pg_val(res, 0, "attempts"), NULL, 10));
	if (gx_pg_isnull(res, 0, "error") && gx_pg_isnull(res, 0, "errorCode")) {
		cJSON_AddNullToObject(o, "lastError");
	} else {
		cJSON *e = cJSON_AddObjectToObject(o, "lastError");
		cJSON_AddStringToObject(e, "code",
					gx_pg_isnull(res, 0, "errorCode") ? "UNKNOWN" : gx_pg_val(res, 0, "errorCode"));
		cJSON_AddStringToObject(e, "message", gx_pg_val(res, 0, "error"));
	}
	cJSON_AddItemToObject(o, "fabricTxId", str_or_null(res, "fabricTxId"));
	if (gx_pg_isnull(res, 0, "commitBlock"))
		cJSON_AddNullToObject(o, "blockNumber");
	else
		cJSON_AddNumberToObject(o, "blockNumber", (double)strtoll(gx_pg_val(res, 0, "commitBlock"), NULL, 10));
	cJSON_AddItemToObject(o, "createdAt", str_or_null(res, "createdAt"));
	cJSON_AddItemToObject(o, "updatedAt", str_or_null(res, "updatedAt"));
	cJSON_AddItemToObject(o, "submittedAt", str_or_null(res, "submittedAt"));
	cJSON_AddItemToObject(o, "committedAt", str_or_null(res, "committedAt"));
	cJSON_AddItemToObject(o, "projectedAt", str_or_null(res, "projectedAt"));
	cJSON_AddItemToObject(o, "aggregateId", str_or_null(res, "aggregateId"));
	return o;
}

/* ---- waiting ---- */

static void wait_detach(struct ob_ctx *c)
{
	if (!c->wl)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->wl->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->wl = NULL;
	c->prev = c->next = NULL;
	if (c->timer)
		evtimer_del(c->timer);
}

static void set_pref_applied(struct ob_ctx *c)
{
	char v[24];

	snprintf(v, sizeof(v), "wait=%d", c->wait_s);
	gx_reply_header(c->req, "Preference-Applied", v);
}

/* End a request that waited: 200 with the document, or the normal answer. Frees c. */
static void finish_with_doc(struct ob_ctx *c, const PGresult *res)
{
	wait_detach(c);
	set_pref_applied(c);
	gx_reply_json(c->req, 200, status_doc(res));
	ctx_free(c);
}

static void finish_pending(struct ob_ctx *c, const PGresult *res)
{
	wait_detach(c);
	set_pref_applied(c);
	if (c->is_get && res)
		gx_reply_json(c->req, 200, status_doc(res));
	else
		gx_reply_raw(c->req, 202, JSON_CT, c->body, c->body_len);
	ctx_free(c);
}

static void check(struct ob_ctx *c);

static void on_check(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct ob_ctx *c = arg;

	c->checking = false;
	if (err) {
		if (c->is_get) {
			wait_detach(c);
			gx_reply_pg_error(c->req, err);
			ctx_free(c);
		} else {
			/* the command is durably queued: the write still succeeded */
			gx_log_warn("command %s: status re-check failed (%s), answering 202", c->id, err->message);
			finish_pending(c, NULL);
		}
		return;
	}
	if (PQntuples(res) == 1 && is_final(res)) {
		finish_with_doc(c, res);
		return;
	}
	if (c->deadline_passed) {
		finish_pending(c, PQntuples(res) == 1 ? res : NULL);
		return;
	}
	if (c->recheck) {
		c->recheck = false;
		check(c);
	}
}

static void check(struct ob_ctx *c)
{
	const char *params[2] = { c->id, tenant() };

	if (c->checking) {
		c->recheck = true;
		return;
	}
	c->checking = true;
	if (gx_pg_query(c->pool, gx_outbox_store_status_sql, 2, params, on_check, c) < 0) {
		struct gx_pg_error e = { .kind = GX_PG_ERR_UNAVAILABLE };
		snprintf(e.message, sizeof(e.message), "cannot start the status query");
		on_check(NULL, &e, c);
	}
}

static void on_deadline(evutil_socket_t fd GX_UNUSED, short what GX_UNUSED, void *arg)
{
	struct ob_ctx *c = arg;

	c->deadline_passed = true;
	check(c);
}

static void on_status_notify(const char *channel GX_UNUSED, const char *payload, void *arg)
{
	struct waitlist *wl = arg;
	struct ob_ctx *c, *next;

	for (c = wl->head; c; c = next) {
		next = c->next; /* check() never completes synchronously, but stay safe */
		if (strcmp(c->id, payload) == 0)
			check(c);
	}
}

static void start_wait(struct ob_ctx *c)
{
	struct waitlist *wl = gx_pg_pool_ext_get(c->pool, &waitlist_key);
	struct timeval tv = { c->wait_s, 0 };

	if (!wl) {
		wl = gx_xcalloc(1, sizeof(*wl));
		gx_pg_pool_ext_set(c->pool, &waitlist_key, wl, free);
		if (gx_pg_listen(c->pool, STATUS_CHANNEL, on_status_notify, wl) < 0)
			gx_log_warn("command status LISTEN unavailable: Prefer: wait falls back to the deadline check");
	}
	c->wl = wl;
	c->prev = NULL;
	c->next = wl->head;
	if (wl->head)
		wl->head->prev = c;
	wl->head = c;
	c->timer = evtimer_new(gx_req_base(c->req), on_deadline, c);
	if (!c->timer) {
		gx_log_fatal("cannot create a timer event");
		abort();
	}
	evtimer_add(c->timer, &tv);
}

/* ---- submit ---- */

static void on_existing(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct ob_ctx *c = arg;

	if (err) {
		gx_reply_pg_error(c->req, err);
		ctx_free(c);
		return;
	}
	if (PQntuples(res) != 1) {
		gx_reply_error(c->req, 500, "INTERNAL", "duplicate command request could not be resolved");
		ctx_free(c);
		return;
	}
	free(c->body);
	snprintf(c->id, sizeof(c->id), "%s", gx_pg_val(res, 0, "id"));
	c->body = accepted_body(c->id, gx_pg_val(res, 0, "commandType"),
				gx_pg_isnull(res, 0, "aggregateId") ? NULL : gx_pg_val(res, 0, "aggregateId"),
				&c->body_len);
	if (c->wait_s > 0) {
		start_wait(c);
		check(c);
		return;
	}
	gx_reply_raw(c->req, 202, JSON_CT, c->body, c->body_len);
	ctx_free(c);
}

static void on_txn(PGresult *const *res GX_UNUSED, int nres GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	struct ob_ctx *c = arg;

	if (!err) {
		gx_req_idem_recorded(c->req);
		if (c->wait_s > 0) {
			start_wait(c);
			return;
		}
		gx_reply_raw(c->req, 202, JSON_CT, c->body, c->body_len);
		ctx_free(c);
		return;
	}
	if (err->kind == GX_PG_ERR_QUERY && strcmp(err->sqlstate, "23505") == 0 &&
	    strcmp(err->constraint, GX_IDEM_PKEY) == 0 && gx_req_idem_deferred(c->req)) {
		/* another request with this Idempotency-Key committed first: answer what it stored */
		gx_req_idem_resolve(c->req);
		ctx_free(c);
		return;
	}
	if (err->kind == GX_PG_ERR_QUERY && strcmp(err->sqlstate, "23505") == 0 &&
	    strcmp(err->constraint, GX_OUTBOX_STORE_UNIQUE_REQUEST) == 0) {
		const char *params[2] = { tenant(), c->request_id };
		/* a retry of a request whose command exists: answer that command */
		if (gx_pg_query(c->pool, gx_outbox_store_existing_sql, 2, params, on_existing, c) < 0) {
			gx_reply_error(c->req, 500, "INTERNAL", "cannot look up the existing command");
			ctx_free(c);
		}
		return;
	}
	if (err->kind == GX_PG_ERR_QUERY && err->constraint[0] &&
	    (strcmp(err->sqlstate, "23505") == 0 || strcmp(err->sqlstate, "23503") == 0 ||
	     strcmp(err->sqlstate, "23P01") == 0)) {
		for (size_t i = 0; i < c->nconflicts; i++) {
			if (strcmp(c->conflicts[i].constraint, err->constraint) == 0) {
				gx_reply_error(c->req, c->conflicts[i].status, c->conflicts[i].code, "%s",
					       c->conflicts[i].message);
				ctx_free(c);
				return;
			}
		}
	}
	gx_reply_pg_error(c->req, err);
	ctx_free(c);
}

static cJSON *payload_with_meta(const struct gx_req *req, const cJSON *payload)
{
	cJSON *p = cJSON_Duplicate(payload, 1);
	cJSON *meta;
	const struct gx_jwt_claims *cl = gx_req_claims(req);

	if (!p) {
		gx_log_fatal("out of memory copying a payload");
		abort();
	}
	cJSON_DeleteItemFromObjectCaseSensitive(p, "_meta");
	meta = cJSON_AddObjectToObject(p, "_meta");
	if (cl && cl->sub[0])
		cJSON_AddStringToObject(meta, "createdBy", cl->sub);
	else
		cJSON_AddNullToObject(meta, "createdBy");
	cJSON_AddStringToObject(meta, "requestId", gx_req_id(req));
	return p;
}

void gx_outbox_submit(struct gx_req *req, const struct gx_pg_stmt *domain_stmts, int n, const struct gx_outbox_cmd *cmd,
		      const struct gx_conflict *conflicts, size_t nconflicts)
{
	struct ob_ctx *c;
	const char *scoped = gx_req_idempotency_key(req);
	const struct gx_http_def *def = gx_req_def(req);
	struct gx_pg_stmt *st = NULL;
	struct gx_idem_stmt idem;
	struct gx_idem_claim claim;
	const char *ins[GX_OUTBOX_STORE_INSERT_NPARAMS], *notify[1];
	char *payload_s = NULL;
	cJSON *payload;
	int nst = 0;

	if (!cmd || !cmd->command_type || !cJSON_IsObject(cmd->payload) || n < 0 || (n > 0 && !domain_stmts)) {
		gx_reply_error(req, 500, "INTERNAL", "invalid outbox command");
		return;
	}
	c = gx_xcalloc(1, sizeof(*c));
	c->req = req;
	c->pool = gx_req_pg(req);
	c->wait_s = gx_outbox_prefer_wait(gx_req_header(req, "Prefer"));
	if (gx_uuid_v4(c->id) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate a command id");
		ctx_free(c);
		return;
	}
	if (scoped) {
		unsigned char h[32];
		char hex[65];
		if (mbedtls_sha256_ret((const unsigned char *)scoped, strlen(scoped), h, 0) != 0) {
			gx_reply_error(req, 500, "INTERNAL", "cannot hash the idempotency key");
			ctx_free(c);
			return;
		}
		gx_hex_encode(h, sizeof(h), hex);
		c->request_id = gx_xstrdup(hex);
	} else {
		c->request_id = gx_xstrdup(c->id);
	}
	if (nconflicts) {
		c->conflicts = gx_xcalloc(nconflicts, sizeof(*c->conflicts));
		for (size_t i = 0; i < nconflicts; i++) {
			c->conflicts[i].constraint = gx_xstrdup(conflicts[i].constraint ? conflicts[i].constraint : "");
			c->conflicts[i].status = conflicts[i].status;
			c->conflicts[i].code = gx_xstrdup(conflicts[i].code ? conflicts[i].code : "CONFLICT");
			c->conflicts[i].message = gx_xstrdup(conflicts[i].message ? conflicts[i].message : "conflict");
		}
		c->nconflicts = nconflicts;
	}
	c->body = accepted_body(c->id, cmd->command_type, cmd->aggregate_id, &c->body_len);

	payload = payload_with_meta(req, cmd->payload);
	payload_s = cJSON_PrintUnformatted(payload);
	cJSON_Delete(payload);
	if (!payload_s) {
		gx_log_fatal("out of memory serialising a payload");
		abort();
	}
	st = gx_xcalloc((size_t)n + 4, sizeof(*st));
	memset(&claim, 0, sizeof(claim));
	if (scoped && gx_req_idem_deferred(req)) {
		/* first, so that racing requests with the key serialise on the record before any domain statement */
		gx_req_idem_claim_stmts(req, &claim, 202, "{\"Content-Type\":\"" JSON_CT "\"}", c->body, c->body_len,
					c->id);
		st[nst++] = claim.stmts[0];
		st[nst++] = claim.stmts[1];
	}
	for (int i = 0; i < n; i++)
		st[nst++] = domain_stmts[i];
	ins[0] = c->id;
	ins[1] = tenant();
	ins[2] = def && def->service ? def->service : "unknown";
	ins[3] = cmd->command_type;
	ins[4] = c->request_id;
	ins[5] = payload_s;
	ins[6] = cmd->aggregate_id;
	ins[7] = gx_req_id(req)[0] ? gx_req_id(req) : NULL;
	ins[8] = gx_req_trace_id(req)[0] ? gx_req_trace_id(req) : NULL;
	st[nst++] = (struct gx_pg_stmt){ gx_outbox_store_insert_sql, GX_OUTBOX_STORE_INSERT_NPARAMS, ins };
	notify[0] = c->id;
	st[nst++] = (struct gx_pg_stmt){ gx_outbox_store_notify_sql, 1, notify };
	memset(&idem, 0, sizeof(idem));
	if (scoped && !gx_req_idem_deferred(req)) {
		gx_idem_complete_stmt(&idem, scoped, 202, "{\"Content-Type\":\"" JSON_CT "\"}", c->body, c->body_len,
				      c->id);
		st[nst++] = idem.stmt;
	}
	if (gx_pg_txn(c->pool, st, nst, on_txn, c) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot start the outbox transaction");
		ctx_free(c);
	}
	gx_idem_stmt_clear(&idem);
	gx_idem_claim_clear(&claim);
	free(st);
	free(payload_s);
}

/* ---- GET /api/v1/commands/{commandId} ---- */

static void on_status(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct ob_ctx *c = arg;
	const char *creator;

	if (err) {
		gx_reply_pg_error(c->req, err);
		ctx_free(c);
		return;
	}
	creator = PQntuples(res) == 1 ? gx_pg_val(res, 0, "createdBy") : NULL;
	if (!creator || (*creator && !gx_req_may_access(c->req, creator))) {
		gx_reply_error(c->req, 404, "COMMAND_NOT_FOUND", "command not found");
		ctx_free(c);
		return;
	}
	if (c->wait_s <= 0) {
		gx_reply_json(c->req, 200, status_doc(res));
		ctx_free(c);
		return;
	}
	if (is_final(res)) {
		finish_with_doc(c, res);
		return;
	}
	start_wait(c);
}

void gx_outbox_status_handler(struct gx_req *req)
{
	const char *id = gx_req_param(req, "commandId");
	struct ob_ctx *c;
	const char *params[2];

	if (!id || !gx_uuid_valid(id)) {
		gx_reply_error(req, 404, "COMMAND_NOT_FOUND", "command not found");
		return;
	}
	c = gx_xcalloc(1, sizeof(*c));
	c->req = req;
	c->pool = gx_req_pg(req);
	c->is_get = true;
	c->wait_s = gx_outbox_prefer_wait(gx_req_header(req, "Prefer"));
	snprintf(c->id, sizeof(c->id), "%s", id);
	params[0] = c->id;
	params[1] = tenant();
	if (gx_pg_query(c->pool, gx_outbox_store_status_sql, 2, params, on_status, c) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot start the status query");
		ctx_free(c);
	}
}
