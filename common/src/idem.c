/* Idempotency-Key records in "HttpIdempotency" (contract in gx/idem.h). */
#include "gx/idem.h"
#include "gx/api.h"
#include "gx/log.h"
#include "gx/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Insert an IN_FLIGHT record, or take over an expired one or a stale IN_FLIGHT one (its request died); otherwise
 * return what is there. The outer SELECT reads the statement's snapshot, so a record inserted concurrently by
 * another request may be invisible: zero rows then means "someone else just claimed it" (IN_FLIGHT). */
static const char SQL_BEGIN[] =
	"WITH ins AS ("
	" INSERT INTO \"HttpIdempotency\" (\"tenantId\", \"callerId\", \"idempotencyKey\", \"method\", \"path\","
	"  \"bodyHash\", \"state\", \"expiresAt\")"
	" VALUES ($1, $2, $3, $4, $5, $6, 'IN_FLIGHT', now() + interval '24 hours')"
	" ON CONFLICT (\"tenantId\", \"callerId\", \"idempotencyKey\") DO UPDATE"
	"  SET \"method\" = EXCLUDED.\"method\", \"path\" = EXCLUDED.\"path\", \"bodyHash\" = EXCLUDED.\"bodyHash\","
	"   \"state\" = 'IN_FLIGHT', \"statusCode\" = NULL, \"responseHeaders\" = NULL, \"responseBody\" = NULL,"
	"   \"commandId\" = NULL, \"createdAt\" = now(), \"updatedAt\" = now(),"
	"   \"expiresAt\" = now() + interval '24 hours'"
	"  WHERE \"HttpIdempotency\".\"expiresAt\" <= now()"
	"   OR (\"HttpIdempotency\".\"state\" = 'IN_FLIGHT'"
	"       AND \"HttpIdempotency\".\"updatedAt\" < now() - interval '60 seconds')"
	" RETURNING 1)"
	" SELECT 'NEW' AS \"outcome\", NULL::int AS \"statusCode\", NULL::text AS \"responseHeaders\","
	"  NULL::bytea AS \"responseBody\", NULL::text AS \"method\", NULL::text AS \"path\", NULL::text AS \"bodyHash\""
	" FROM ins"
	" UNION ALL"
	" SELECT h.\"state\"::text, h.\"statusCode\", h.\"responseHeaders\"::text, h.\"responseBody\", h.\"method\","
	"  h.\"path\", h.\"bodyHash\""
	" FROM \"HttpIdempotency\" h"
	" WHERE NOT EXISTS (SELECT 1 FROM ins)"
	"  AND h.\"tenantId\" = $1 AND h.\"callerId\" = $2 AND h.\"idempotencyKey\" = $3";

/* A record nobody holds: expired, or IN_FLIGHT for over 60 s (its request died). */
#define DEAD_COND(t) \
	t ".\"expiresAt\" <= now() OR (" t ".\"state\" = 'IN_FLIGHT' AND " t \
	  ".\"updatedAt\" < now() - interval '60 seconds')"

/* Read-only: a dead record reads as NEW, no row means NEW too. */
static const char SQL_LOOKUP[] =
	"SELECT CASE WHEN " DEAD_COND("h") " THEN 'NEW' ELSE h.\"state\"::text END AS \"outcome\","
	" h.\"statusCode\", h.\"responseHeaders\"::text AS \"responseHeaders\", h.\"responseBody\", h.\"method\","
	" h.\"path\", h.\"bodyHash\""
	" FROM \"HttpIdempotency\" h"
	" WHERE h.\"tenantId\" = $1 AND h.\"callerId\" = $2 AND h.\"idempotencyKey\" = $3";

static const char SQL_DROP_DEAD[] =
	"DELETE FROM \"HttpIdempotency\" h"
	" WHERE h.\"tenantId\" = $1 AND h.\"callerId\" = $2 AND h.\"idempotencyKey\" = $3 AND (" DEAD_COND("h") ")";

#define SQL_INSERT_COMPLETE \
	"INSERT INTO \"HttpIdempotency\" (\"tenantId\", \"callerId\", \"idempotencyKey\", \"method\", \"path\"," \
	" \"bodyHash\", \"state\", \"statusCode\", \"responseHeaders\", \"responseBody\", \"commandId\", \"expiresAt\")" \
	" VALUES ($1, $2, $3, $4, $5, $6, 'COMPLETE', $7::int, $8::jsonb, $9::bytea, $10, now() + interval '24 hours')"

static const char SQL_CLAIM[] = SQL_INSERT_COMPLETE;

static const char SQL_STORE[] = SQL_INSERT_COMPLETE
	" ON CONFLICT (\"tenantId\", \"callerId\", \"idempotencyKey\") DO UPDATE"
	"  SET \"method\" = EXCLUDED.\"method\", \"path\" = EXCLUDED.\"path\", \"bodyHash\" = EXCLUDED.\"bodyHash\","
	"   \"state\" = 'COMPLETE', \"statusCode\" = EXCLUDED.\"statusCode\","
	"   \"responseHeaders\" = EXCLUDED.\"responseHeaders\", \"responseBody\" = EXCLUDED.\"responseBody\","
	"   \"commandId\" = EXCLUDED.\"commandId\", \"createdAt\" = now(), \"updatedAt\" = now(),"
	"   \"expiresAt\" = EXCLUDED.\"expiresAt\""
	"  WHERE " DEAD_COND("\"HttpIdempotency\"");

static const char SQL_COMPLETE[] =
	"UPDATE \"HttpIdempotency\" SET \"state\" = 'COMPLETE', \"statusCode\" = $4::int,"
	" \"responseHeaders\" = $5::jsonb, \"responseBody\" = $6::bytea, \"commandId\" = $7, \"updatedAt\" = now()"
	" WHERE \"tenantId\" = $1 AND \"callerId\" = $2 AND \"idempotencyKey\" = $3";

static const char SQL_ABORT[] =
	"DELETE FROM \"HttpIdempotency\""
	" WHERE \"tenantId\" = $1 AND \"callerId\" = $2 AND \"idempotencyKey\" = $3 AND \"state\" = 'IN_FLIGHT'";

struct key_parts {
	char *tenant, *caller, *key; /* owned */
};

static void key_split(const char *scoped, struct key_parts *k)
{
	const char *c1 = strchr(scoped, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	if (!c2) {
		k->tenant = gx_xstrdup(GX_API_TENANT_DEFAULT);
		k->caller = gx_xstrdup("");
		k->key = gx_xstrdup(scoped);
		return;
	}
	k->tenant = gx_xstrndup(scoped, (size_t)(c1 - scoped));
	k->caller = gx_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
	k->key = gx_xstrdup(c2 + 1);
}

static void key_free(struct key_parts *k)
{
	free(k->tenant);
	free(k->caller);
	free(k->key);
}

struct begin_call {
	bool lookup; /* gx_idem_lookup: no row means NEW */
	gx_idem_cb cb;
	void *arg;
	char *method, *path, *hash;
};

static void on_begin(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct begin_call *b = arg;
	struct gx_idem_hit hit = { 0 };
	unsigned char *body = NULL;

	if (err) {
		b->cb(NULL, err, b->arg);
		goto out;
	}
	if (PQntuples(res) == 0) {
		/* begin: claimed concurrently, after our snapshot */
		hit.state = b->lookup ? GX_IDEM_NEW : GX_IDEM_IN_FLIGHT;
	} else if (strcmp(gx_pg_val(res, 0, "outcome"), "NEW") == 0) {
		hit.state = GX_IDEM_NEW;
	} else if (strcmp(gx_pg_val(res, 0, "method"), b->method) != 0 ||
		   strcmp(gx_pg_val(res, 0, "path"), b->path) != 0 ||
		   strcmp(gx_pg_val(res, 0, "bodyHash"), b->hash) != 0) {
		hit.state = GX_IDEM_MISMATCH;
	} else if (strcmp(gx_pg_val(res, 0, "outcome"), "COMPLETE") != 0) {
		hit.state = GX_IDEM_IN_FLIGHT;
	} else {
		const char *hex = gx_pg_val(res, 0, "responseBody");
		size_t hlen = strlen(hex);
		hit.state = GX_IDEM_REPLAY;
		hit.status = atoi(gx_pg_val(res, 0, "statusCode"));
		hit.headers_json =
			gx_pg_isnull(res, 0, "responseHeaders") ? "{}" : gx_pg_val(res, 0, "responseHeaders");
		if (hlen >= 2 && hex[0] == '\\' && hex[1] == 'x' && (hlen - 2) % 2 == 0) {
			hit.body_len = (hlen - 2) / 2;
			body = gx_xmalloc(hit.body_len + 1);
			if (gx_hex_decode(hex + 2, hit.body_len, body) < 0) {
				struct gx_pg_error e = { .kind = GX_PG_ERR_QUERY };
				snprintf(e.message, sizeof(e.message),
					 "stored idempotent response body is not hex bytea");
				gx_log_error("%s", e.message);
				b->cb(NULL, &e, b->arg);
				goto out;
			}
			hit.body = body;
		} else if (hlen) {
			struct gx_pg_error e = { .kind = GX_PG_ERR_QUERY };
			snprintf(e.message, sizeof(e.message),
				 "stored idempotent response body has an unexpected format");
			gx_log_error("%s", e.message);
			b->cb(NULL, &e, b->arg);
			goto out;
		}
	}
	b->cb(&hit, NULL, b->arg);
out:
	free(body);
	free(b->method);
	free(b->path);
	free(b->hash);
	free(b);
}

static int start_begin(struct gx_pg_pool *pool, bool lookup, const char *scoped_key, const char *method,
		       const char *path, const char *body_sha256_hex, gx_idem_cb cb, void *arg)
{
	struct key_parts k;
	struct begin_call *b;
	const char *params[6];
	int rc;

	if (!pool || !scoped_key || !*scoped_key || !method || !path || !body_sha256_hex || !cb) {
		gx_log_error("gx_idem_%s: bad arguments", lookup ? "lookup" : "begin");
		return -1;
	}
	key_split(scoped_key, &k);
	b = gx_xcalloc(1, sizeof(*b));
	b->lookup = lookup;
	b->cb = cb;
	b->arg = arg;
	b->method = gx_xstrdup(method);
	b->path = gx_xstrdup(path);
	b->hash = gx_xstrdup(body_sha256_hex);
	params[0] = k.tenant;
	params[1] = k.caller;
	params[2] = k.key;
	params[3] = method;
	params[4] = path;
	params[5] = body_sha256_hex;
	rc = lookup ? gx_pg_query(pool, SQL_LOOKUP, 3, params, on_begin, b)
		    : gx_pg_query(pool, SQL_BEGIN, 6, params, on_begin, b);
	key_free(&k);
	if (rc < 0) {
		free(b->method);
		free(b->path);
		free(b->hash);
		free(b);
	}
	return rc;
}

int gx_idem_begin(struct gx_pg_pool *pool, const char *scoped_key, const char *method, const char *path,
		  const char *body_sha256_hex, gx_idem_cb cb, void *arg)
{
	return start_begin(pool, false, scoped_key, method, path, body_sha256_hex, cb, arg);
}

int gx_idem_lookup(struct gx_pg_pool *pool, const char *scoped_key, const char *method, const char *path,
		   const char *body_sha256_hex, gx_idem_cb cb, void *arg)
{
	return start_begin(pool, true, scoped_key, method, path, body_sha256_hex, cb, arg);
}

static char *bytea_hex(const void *body, size_t len)
{
	char *hex = gx_xmalloc(2 * len + 3);

	hex[0] = '\\';
	hex[1] = 'x';
	gx_hex_encode(body, len, hex + 2);
	return hex;
}

/* The 10 parameters of SQL_INSERT_COMPLETE into owned[] / params[]. */
static void complete_params(char **owned, const char **params, const char *scoped_key, const char *method,
			    const char *path, const char *hash, int status, const char *headers_json, const void *body,
			    size_t len, const char *command_id)
{
	struct key_parts k;

	key_split(scoped_key, &k);
	owned[0] = k.tenant;
	owned[1] = k.caller;
	owned[2] = k.key;
	owned[3] = gx_xstrdup(method);
	owned[4] = gx_xstrdup(path);
	owned[5] = gx_xstrdup(hash);
	owned[6] = gx_xasprintf("%d", status);
	owned[7] = gx_xstrdup(headers_json ? headers_json : "{}");
	owned[8] = bytea_hex(body, len);
	owned[9] = command_id ? gx_xstrdup(command_id) : NULL;
	for (int i = 0; i < 10; i++)
		params[i] = owned[i];
}

void gx_idem_claim_stmts(struct gx_idem_claim *s, const char *scoped_key, const char *method, const char *path,
			 const char *body_sha256_hex, int status, const char *headers_json, const void *body,
			 size_t len, const char *command_id)
{
	memset(s, 0, sizeof(*s));
	complete_params(s->owned, s->params, scoped_key, method, path, body_sha256_hex, status, headers_json, body, len,
			command_id);
	s->stmts[0] = (struct gx_pg_stmt){ SQL_DROP_DEAD, 3, s->params };
	s->stmts[1] = (struct gx_pg_stmt){ SQL_CLAIM, 10, s->params };
}

void gx_idem_claim_clear(struct gx_idem_claim *s)
{
	for (int i = 0; i < 10; i++)
		free(s->owned[i]);
	memset(s, 0, sizeof(*s));
}

void gx_idem_complete_stmt(struct gx_idem_stmt *s, const char *scoped_key, int status, const char *headers_json,
			   const void *body, size_t len, const char *command_id)
{
	struct key_parts k;
	char *hex = gx_xmalloc(2 * len + 3);

	memset(s, 0, sizeof(*s));
	key_split(scoped_key, &k);
	hex[0] = '\\';
	hex[1] = 'x';
	gx_hex_encode(body, len, hex + 2);
	s->owned[0] = k.tenant;
	s->owned[1] = k.caller;
	s->owned[2] = k.key;
	s->owned[3] = gx_xasprintf("%d", status);
	s->owned[4] = gx_xstrdup(headers_json ? headers_json : "{}");
	s->owned[5] = hex;
	s->owned[6] = command_id ? gx_xstrdup(command_id) : NULL;
	for (int i = 0; i < 7; i++)
		s->params[i] = s->owned[i];
	s->stmt.sql = SQL_COMPLETE;
	s->stmt.nparams = 7;
	s->stmt.params = s->params;
}

void gx_idem_stmt_clear(struct gx_idem_stmt *s)
{
	for (int i = 0; i < 7; i++)
		free(s->owned[i]);
	memset(s, 0, sizeof(*s));
}

struct done_call {
	gx_idem_done_cb cb;
	void *arg;
	const char *what;
};

static void on_done(PGresult *res GX_UNUSED, const struct gx_pg_error *err, void *arg)
{
	struct done_call *d = arg;

	if (err)
		gx_log_error("idempotency %s failed: %s", d->what, err->message);
	if (d->cb)
		d->cb(err, d->arg);
	free(d);
}

static int run_done(struct gx_pg_pool *pool, const struct gx_pg_stmt *st, const char *what, gx_idem_done_cb cb,
		    void *arg)
{
	struct done_call *d = gx_xcalloc(1, sizeof(*d));
	int rc;

	d->cb = cb;
	d->arg = arg;
	d->what = what;
	rc = gx_pg_query(pool, st->sql, st->nparams, st->params, on_done, d);
	if (rc < 0)
		free(d);
	return rc;
}

int gx_idem_complete(struct gx_pg_pool *pool, const char *scoped_key, int status, const char *headers_json,
		     const void *body, size_t len, gx_idem_done_cb cb, void *arg)
{
	struct gx_idem_stmt s;
	int rc;

	if (!pool || !scoped_key || (len && !body) || status < 100 || status > 599) {
		gx_log_error("gx_idem_complete: bad arguments");
		return -1;
	}
	gx_idem_complete_stmt(&s, scoped_key, status, headers_json, body, len, NULL);
	rc = run_done(pool, &s.stmt, "complete", cb, arg);
	gx_idem_stmt_clear(&s);
	return rc;
}

int gx_idem_store(struct gx_pg_pool *pool, const char *scoped_key, const char *method, const char *path,
		  const char *body_sha256_hex, int status, const char *headers_json, const void *body, size_t len,
		  gx_idem_done_cb cb, void *arg)
{
	char *owned[10];
	const char *params[10];
	struct gx_pg_stmt st = { SQL_STORE, 10, params };
	int rc;

	if (!pool || !scoped_key || !method || !path || !body_sha256_hex || (len && !body) || status < 100 ||
	    status > 599) {
		gx_log_error("gx_idem_store: bad arguments");
		return -1;
	}
	complete_params(owned, params, scoped_key, method, path, body_sha256_hex, status, headers_json, body, len,
			NULL);
	rc = run_done(pool, &st, "store", cb, arg);
	for (int i = 0; i < 10; i++)
		free(owned[i]);
	return rc;
}

int gx_idem_abort(struct gx_pg_pool *pool, const char *scoped_key, gx_idem_done_cb cb, void *arg)
{
	struct key_parts k;
	const char *params[3];
	struct gx_pg_stmt st = { SQL_ABORT, 3, params };
	int rc;

	if (!pool || !scoped_key) {
		gx_log_error("gx_idem_abort: bad arguments");
		return -1;
	}
	key_split(scoped_key, &k);
	params[0] = k.tenant;
	params[1] = k.caller;
	params[2] = k.key;
	rc = run_done(pool, &st, "abort", cb, arg);
	key_free(&k);
	return rc;
}
