/* The per-connection prepared-statement cache of the asynchronous PostgreSQL pool (see pg_int.h).
 *
 * Every op runs in libpq pipeline mode (a single statement is "stmt, sync"; a transaction is "BEGIN, stmts, COMMIT,
 * sync"), so the first use of a DML text on a connection can queue PQsendPrepare right in front of its
 * PQsendQueryPrepared without a round trip of its own, and later uses send only Bind/Execute. Each connection keeps
 * a cache of SQL text (by content) -> statement name "gx<N>", bounded at PREP_MAX entries (beyond that statements go
 * unprepared through PQsendQueryParams). The op records what it queued (pipe[]) so the reader knows which results
 * belong to a prepare (skipped; a failed prepare is the statement's error, with the same sqlstate the unprepared
 * statement would have had) and which to a statement. An entry becomes usable for later ops once its prepare
 * returned COMMAND_OK (prepared statements are not transactional, so a later rollback does not undo it); entries
 * whose prepare failed or was skipped by an aborted pipeline are dropped when the op ends. Names are never reused on
 * a connection, and the cache is emptied whenever the PGconn goes away, so a reconnect (restart,
 * pg_terminate_backend, deadline) starts afresh. A statement failing with 0A000 (DDL changed the result type of a
 * cached plan) or 26000 (statement gone) is dropped from the cache and prepared anew on its next use; after 0A000 the
 * server still holds the old one, which is deallocated before the connection goes back to the pool (the stale list
 * counts against PREP_MAX until then). Statements that do not start with SELECT, INSERT, UPDATE, DELETE, WITH or
 * VALUES (BEGIN, SET, LISTEN, ...) always go unprepared.
 */
#include "pg_int.h"

#include "gx/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint32_t prep_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Worth preparing: DML and queries; utility statements (BEGIN, SET, LISTEN, ...) are not. */
static bool prep_eligible(const char *sql)
{
	static const char *const kw[] = { "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES" };

	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r' || *sql == '(')
		sql++;
	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++) {
		size_t n = strlen(kw[i]);
		if (strncasecmp(sql, kw[i], n) == 0 && !isalnum((unsigned char)sql[n]) && sql[n] != '_')
			return true;
	}
	return false;
}

static struct gx_pg_prep *prep_find(struct gx_pg_conn *c, const char *sql, uint32_t h)
{
	for (struct gx_pg_prep *p = c->prep[h % PREP_BUCKETS]; p; p = p->next)
		if (p->hash == h && strcmp(p->sql, sql) == 0)
			return p;
	return NULL;
}

static struct gx_pg_prep *prep_add(struct gx_pg_conn *c, const char *sql, uint32_t h)
{
	size_t len = strlen(sql);
	struct gx_pg_prep *p = gx_xmalloc(sizeof(*p) + len + 1);

	p->hash = h;
	p->ready = false;
	p->stale = false;
	snprintf(p->name, sizeof(p->name), "gx%u", c->prep_seq++);
	memcpy(p->sql, sql, len + 1);
	p->next = c->prep[h % PREP_BUCKETS];
	c->prep[h % PREP_BUCKETS] = p;
	c->nprep++;
	return p;
}

/* The statement of pipeline entry e failed with sqlstate: 0A000 "cached plan must not change result type" (or any
 * other feature_not_supported raised when the plan is made) and 26000 (no such statement) mean the entry must be
 * prepared afresh on its next use. After 0A000 the server still holds the statement: it goes to the stale list,
 * which is deallocated before the connection idles again, so that the server never holds more than PREP_MAX. */
void gx_pg_prep_failed(struct gx_pg_conn *c GX_UNUSED, const struct gx_pg_pipe_ent *e, const char *sqlstate)
{
	if (!e || !e->prep || !sqlstate)
		return;
	if (strcmp(sqlstate, "0A000") == 0) {
		e->prep->stale = e->prep->ready;
		e->prep->ready = false;
	} else if (strcmp(sqlstate, "26000") == 0) {
		e->prep->ready = false;
	}
}

static void prep_free_list(struct gx_pg_prep *p)
{
	while (p) {
		struct gx_pg_prep *next = p->next;
		free(p);
		p = next;
	}
}

void gx_pg_prep_prune(struct gx_pg_conn *c, bool all)
{
	for (int b = 0; b < PREP_BUCKETS; b++) {
		struct gx_pg_prep **pp = &c->prep[b];
		while (*pp) {
			struct gx_pg_prep *p = *pp;
			if (all || !p->ready) {
				*pp = p->next;
				c->nprep--;
				if (p->stale && !all) {
					p->next = c->stale;
					c->stale = p;
					c->nstale++;
				} else {
					free(p);
				}
			} else {
				pp = &p->next;
			}
		}
	}
	if (all) {
		prep_free_list(c->stale);
		c->stale = NULL;
		c->nstale = 0;
		c->prep_seq = 0;
	}
}

bool gx_pg_prep_has_stale(const struct gx_pg_conn *c)
{
	return c->stale != NULL;
}

void gx_pg_prep_send_deallocate(struct gx_pg_conn *c)
{
	char *sql = gx_xmalloc((size_t)c->nstale * (sizeof(c->stale->name) + 12) + 1);
	size_t len = 0;
	int ok;

	sql[0] = '\0';
	for (const struct gx_pg_prep *p = c->stale; p; p = p->next)
		len += (size_t)sprintf(sql + len, "DEALLOCATE %s;", p->name);
	prep_free_list(c->stale);
	c->stale = NULL;
	c->nstale = 0;
	c->state = CS_BUSY;
	c->internal = IK_DEALLOCATE;
	ok = PQsendQuery(c->pg, sql);
	free(sql);
	if (!ok) {
		gx_pg_conn_lost(c, GX_PG_ERR_CONNECTION, PQerrorMessage(c->pg));
		return;
	}
	gx_pg_arm_deadline(c);
	gx_pg_conn_flush(c);
}

static void pipe_push(struct gx_pg_op *op, enum pipe_kind kind, int stmt, struct gx_pg_prep *prep)
{
	struct gx_pg_pipe_ent *e = &op->pipe[op->npipe++];

	e->kind = kind;
	e->stmt = stmt;
	e->prep = prep;
}

int gx_pg_send_stmt(struct gx_pg_conn *c, struct gx_pg_op *op, int i, const struct gx_pg_stmt_copy *s)
{
	const char *const *params = (const char *const *)s->params;
	struct gx_pg_prep *p = NULL;

	if (i >= 0 && prep_eligible(s->sql)) {
		uint32_t h = prep_hash(s->sql);
		p = prep_find(c, s->sql, h);
		if (!p && c->nprep + c->nstale < PREP_MAX) {
			p = prep_add(c, s->sql, h);
			if (!PQsendPrepare(c->pg, p->name, s->sql, s->nparams, NULL))
				return 0;
			pipe_push(op, PK_PREPARE, i, p);
		}
	}
	pipe_push(op, i < 0 ? PK_UTIL : PK_STMT, i < 0 ? 0 : i, p);
	if (p)
		return PQsendQueryPrepared(c->pg, p->name, s->nparams, params, NULL, NULL, 0);
	return PQsendQueryParams(c->pg, s->sql, s->nparams, NULL, params, NULL, NULL, 0);
}
