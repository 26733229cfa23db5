/* gxctl commands list|show|requeue: the outbox operations of decisions §7 for operators (the same rules as
 * svc-admin's /api/v1/admin/commands routes, see docs/svc-admin.md). Re-queue resets FAILED commands to PENDING
 * (attempts 0, no error, nextAttemptAt now, no lease, fabricTxId and the stored proposal payload._submission
 * cleared so a new transaction is built), writes one
 * "AdminAuditLog" row per command (actor "gxctl:<user>", role OPERATOR) and NOTIFYs gx_outbox, in one transaction. */
#include "gxctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/util.h"

#define FILTER_WHERE \
	" \"tenantId\" = $1 AND ($2::text IS NULL OR \"status\"::text = $2) AND ($3::text IS NULL OR" \
	" \"commandType\"::text = $3) AND ($4::bigint IS NULL OR \"createdAt\" <= now() - $4::bigint * interval '1 second')" \
	" AND ($5::text IS NULL OR \"errorCode\" = $5)"

#define TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char SQL_LIST[] =
	"SELECT \"id\", \"status\"::text AS \"status\", \"commandType\"::text AS \"type\", \"attempts\","
	" coalesce(\"errorCode\", '-') AS \"errorCode\", " TS("\"createdAt\"") " AS \"createdAt\","
	" coalesce(\"error\", '') AS \"error\""
	" FROM \"OutboxCommand\" WHERE" FILTER_WHERE " ORDER BY \"createdAt\" DESC, \"id\" LIMIT $6::bigint";

static const char SQL_SHOW[] =
	"SELECT jsonb_pretty(to_jsonb(c) || jsonb_build_object('audit', coalesce((SELECT jsonb_agg(jsonb_build_object("
	" 'action', a.\"action\", 'actorId', a.\"actorId\", 'createdAt', " TS("a.\"createdAt\"") ")"
	" ORDER BY a.\"createdAt\", a.\"id\") FROM \"AdminAuditLog\" a WHERE a.\"targetType\" = 'COMMAND'"
	" AND a.\"targetId\" = c.\"id\"), '[]'::jsonb))) FROM \"OutboxCommand\" c WHERE c.\"tenantId\" = $1 AND c.\"id\" = $2";

#define REQUEUE_SET \
	" SET \"status\" = 'PENDING', \"attempts\" = 0, \"errorCode\" = NULL, \"error\" = NULL, \"nextAttemptAt\" = now()," \
	" \"fabricTxId\" = NULL, \"lockedBy\" = NULL, \"lockedAt\" = NULL, \"leaseUntil\" = NULL, \"submittedAt\" = NULL," \
	" \"commitBlock\" = NULL, \"committedAt\" = NULL, \"updatedAt\" = now(), \"payload\" = \"payload\" - '_submission'"

/* $1..$5 filter (status fixed FAILED), $6 limit, $7 actor, $8 ids (text[] or NULL for "by filter") */
static const char SQL_REQUEUE[] =
	"WITH f AS (SELECT \"id\", \"errorCode\", \"error\", \"attempts\" FROM \"OutboxCommand\" WHERE" FILTER_WHERE
	"   AND ($8::text[] IS NULL OR \"id\" = ANY($8::text[]))"
	"   ORDER BY \"createdAt\", \"id\" LIMIT $6::bigint FOR UPDATE),"
	" u AS (UPDATE \"OutboxCommand\" o" REQUEUE_SET " FROM f WHERE o.\"id\" = f.\"id\" RETURNING o.\"id\", o.\"createdAt\"),"
	" a AS (INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	"   \"targetId\", \"details\") SELECT $1, $7, 'OPERATOR', 'COMMAND_REQUEUE', 'COMMAND', u.\"id\","
	"   jsonb_build_object('previousStatus', 'FAILED', 'previousErrorCode', f.\"errorCode\", 'previousError',"
	"   f.\"error\", 'previousAttempts', f.\"attempts\") FROM u JOIN f USING (\"id\") RETURNING 1),"
	" n AS (SELECT pg_notify('gx_outbox', u.\"id\") FROM u)"
	" SELECT u.\"id\", (SELECT count(*) FROM a) + (SELECT count(*) FROM n) AS \"effects\" FROM u"
	" ORDER BY u.\"createdAt\", u.\"id\"";

/* For ids that were not re-queued: why (missing or not FAILED). */
static const char SQL_STATUS_OF[] =
	"SELECT x AS \"id\", coalesce((SELECT \"status\"::text FROM \"OutboxCommand\" WHERE \"tenantId\" = $1"
	" AND \"id\" = x), 'not found') AS \"status\" FROM unnest($2::text[]) x";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl commands list [--status S] [--type T] [--error-code C] [--older-than SECONDS] [--limit N]\n"
		"       gxctl commands show ID\n"
		"       gxctl commands requeue ID...\n"
		"       gxctl commands requeue --failed [--type T] [--error-code C] [--older-than SECONDS] [--limit N]\n"
		"\n"
		"list    newest first: id, status, type, attempts, error code, created at, error (default limit 50).\n"
		"        S is PENDING, LOCKED, SUBMITTED, COMMITTED, PROJECTED or FAILED.\n"
		"show    the whole command as JSON (payload, error, lease, tx id) with its audit history.\n"
		"requeue reset FAILED commands to PENDING (attempts 0, error cleared, fabricTxId cleared so the submitter\n"
		"        builds a new transaction), oldest first, with an audit record each (actor gxctl:$USER). By id, or\n"
		"        every FAILED command matching the filter with --failed (default limit 100, at most 1000).\n"
		"        Exits 1 when a given id is missing or not FAILED (the others are still re-queued).\n"
		"Tenant: TENANT_ID (default \"default\").\n\n%s",
		GXCTL_DB_HELP);
}

struct filter {
	const char *status, *type, *error_code, *older, *limit;
	bool failed;
};

static bool digits(const char *s, long long max)
{
	char *end;
	long long n;

	if (!s || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	return !*end && !errno && n <= max;
}

/* Parse options from argv[first..]; positional arguments are collected into ids (may be NULL to refuse them). */
static int parse(int argc, char **argv, int first, struct filter *f, const char ***ids, int *nids)
{
	for (int i = first; i < argc; i++) {
		const char **dst = NULL;

		if (strcmp(argv[i], "--failed") == 0) {
			f->failed = true;
			continue;
		}
		if (strcmp(argv[i], "--status") == 0)
			dst = &f->status;
		else if (strcmp(argv[i], "--type") == 0)
			dst = &f->type;
		else if (strcmp(argv[i], "--error-code") == 0)
			dst = &f->error_code;
		else if (strcmp(argv[i], "--older-than") == 0)
			dst = &f->older;
		else if (strcmp(argv[i], "--limit") == 0)
			dst = &f->limit;
		if (dst) {
			if (i + 1 >= argc) {
				fprintf(stderr, "gxctl: commands: missing value for %s\n", argv[i]);
				return -1;
			}
			*dst = argv[++i];
			continue;
		}
		if (argv[i][0] == '-' || !ids) {
			fprintf(stderr, "gxctl: commands: unexpected argument '%s' (see --help)\n", argv[i]);
			return -1;
		}
		(*ids)[(*nids)++] = argv[i];
	}
	if (f->older && !digits(f->older, 3153600000LL)) {
		fprintf(stderr, "gxctl: commands: --older-than must be a number of seconds\n");
		return -1;
	}
	return 0;
}

static const char *tenant(void)
{
	const char *t = getenv("TENANT_ID");

	return t && *t ? t : "default";
}

static int cmd_list(PGconn *conn, const struct filter *f)
{
	const char *params[6] = { tenant(), f->status, f->type, f->older, f->error_code, f->limit ? f->limit : "50" };
	PGresult *res = PQexecParams(conn, SQL_LIST, 6, NULL, params, NULL, NULL, 0);
	int n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "gxctl: commands list failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		return GXCTL_FAIL;
	}
	n = PQntuples(res);
	printf("%-36s  %-9s  %-24s  %3s  %-14s  %-24s  %s\n", "ID", "STATUS", "TYPE", "ATT", "ERROR CODE", "CREATED",
	       "ERROR");
	for (int i = 0; i < n; i++)
		printf("%-36s  %-9s  %-24s  %3s  %-14s  %-24s  %.80s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
		       PQgetvalue(res, i, 6));
	printf("(%d command%s)\n", n, n == 1 ? "" : "s");
	PQclear(res);
	return GXCTL_OK;
}

static int cmd_show(PGconn *conn, const char *id)
{
	const char *params[2] = { tenant(), id };
	PGresult *res = PQexecParams(conn, SQL_SHOW, 2, NULL, params, NULL, NULL, 0);
	int rc = GXCTL_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "gxctl: commands show failed: %s", PQresultErrorMessage(res));
		rc = GXCTL_FAIL;
	} else if (PQntuples(res) == 0) {
		fprintf(stderr, "gxctl: no command %s\n", id);
		rc = GXCTL_FAIL;
	} else {
		printf("%s\n", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rc;
}

/* PostgreSQL text[] literal of ids (each quoted). Caller frees. */
static char *array_literal(const char **ids, int n)
{
	size_t cap = 3, len = 0;
	char *s;

	for (int i = 0; i < n; i++)
		cap += 2 * strlen(ids[i]) + 3;
	s = gx_xmalloc(cap);
	s[len++] = '{';
	for (int i = 0; i < n; i++) {
		if (i)
			s[len++] = ',';
		s[len++] = '"';
		for (const char *p = ids[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				s[len++] = '\\';
			s[len++] = *p;
		}
		s[len++] = '"';
	}
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

static int cmd_requeue(PGconn *conn, const struct filter *f, const char **ids, int nids)
{
	const char *user = getenv("USER");
	char *actor = gx_xasprintf("gxctl:%s", user && *user ? user : "operator");
	char *arr = nids ? array_literal(ids, nids) : NULL;
	char lim[24];
	const char *params[8];
	PGresult *res = NULL;
	int rc = GXCTL_FAIL, n;

	snprintf(lim, sizeof(lim), "%d", nids ? nids : 0);
	params[0] = tenant();
	params[1] = "FAILED";
	params[2] = f->type;
	params[3] = f->older;
	params[4] = f->error_code;
	params[5] = nids ? lim : (f->limit ? f->limit : "100");
	params[6] = actor;
	params[7] = arr;
	res = PQexecParams(conn, SQL_REQUEUE, 8, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "gxctl: commands requeue failed: %s", PQresultErrorMessage(res));
		goto out;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		printf("requeued %s\n", PQgetvalue(res, i, 0));
	printf("(%d command%s re-queued)\n", n, n == 1 ? "" : "s");
	rc = GXCTL_OK;
	if (nids && n < nids) {
		const char **missing = gx_xcalloc((size_t)nids, sizeof(*missing));
		const char *p2[2];
		int nm = 0;
		char *marr;

		for (int i = 0; i < nids; i++) {
			bool done = false;

			for (int j = 0; j < n && !done; j++)
				done = strcmp(ids[i], PQgetvalue(res, j, 0)) == 0;
			if (!done)
				missing[nm++] = ids[i];
		}
		marr = array_literal(missing, nm);
		p2[0] = tenant();
		p2[1] = marr;
		PQclear(res);
		res = PQexecParams(conn, SQL_STATUS_OF, 2, NULL, p2, NULL, NULL, 0);
		for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++)
			fprintf(stderr, "gxctl: %s not re-queued: %s%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
				strcmp(PQgetvalue(res, i, 1), "not found") ? " (only FAILED commands are re-queued)" : "");
		free(marr);
		free(missing);
		rc = GXCTL_FAIL;
	}
out:
	PQclear(res);
	free(arr);
	free(actor);
	return rc;
}

int gxctl_commands(int argc, char **argv)
{
	struct filter f = { 0 };
	const char **ids = NULL;
	int nids = 0, rc;
	PGconn *conn;

	if (gxctl_wants_help(argc, argv)) {
		usage(stdout);
		return GXCTL_OK;
	}
	if (argc < 2) {
		usage(stderr);
		return GXCTL_USAGE;
	}
	ids = gx_xcalloc((size_t)argc, sizeof(*ids));
	rc = GXCTL_USAGE;
	if (strcmp(argv[1], "list") == 0) {
		if (parse(argc, argv, 2, &f, NULL, NULL) < 0 || f.failed)
			goto out;
		if (f.limit && (!digits(f.limit, 1000) || atoi(f.limit) < 1)) {
			fprintf(stderr, "gxctl: commands list: --limit must be 1..1000\n");
			goto out;
		}
	} else if (strcmp(argv[1], "show") == 0) {
		if (argc != 3 || argv[2][0] == '-') {
			fprintf(stderr, "gxctl: commands show takes one command id\n");
			goto out;
		}
	} else if (strcmp(argv[1], "requeue") == 0) {
		if (parse(argc, argv, 2, &f, &ids, &nids) < 0 || f.status)
			goto out;
		if (nids > 0 && (f.failed || f.type || f.error_code || f.older || f.limit)) {
			fprintf(stderr, "gxctl: commands requeue: give ids or --failed with filters, not both\n");
			goto out;
		}
		if (nids == 0 && !f.failed) {
			fprintf(stderr, "gxctl: commands requeue: give command ids, or --failed to re-queue by filter\n");
			goto out;
		}
		if (f.limit && (!digits(f.limit, 1000) || atoi(f.limit) < 1)) {
			fprintf(stderr, "gxctl: commands requeue: --limit must be 1..1000\n");
			goto out;
		}
	} else {
		fprintf(stderr, "gxctl: commands: unknown action '%s' (list, show, requeue)\n", argv[1]);
		goto out;
	}
	conn = gxctl_connect(&rc);
	if (!conn)
		goto out;
	if (strcmp(argv[1], "list") == 0)
		rc = cmd_list(conn, &f);
	else if (strcmp(argv[1], "show") == 0)
		rc = cmd_show(conn, argv[2]);
	else
		rc = cmd_requeue(conn, &f, ids, nids);
	PQfinish(conn);
out:
	free(ids);
	return rc;
}
