/* gxctl commands list|show|requeue: the outbox operations of design.md §7 for operators (the same rules as
 * svc-admin's /api/v1/admin/commands routes, see docs/svc-admin.md). Re-queue runs the one statement of
 * gx/requeue.h: only FAILED commands whose failure may be retried are reset to PENDING (attempts 0, no error,
 * nextAttemptAt now, no lease; tx id and stored proposal kept), each with an "AdminAuditLog" row (actor
 * "gxctl:<user>", role OPERATOR) and a NOTIFY gx_outbox, in one transaction; business refusals are refused. */
#include "gxctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/pg.h"
#include "gx/outbox_store.h"
#include "gx/requeue.h"
#include "gx/util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl commands list [--status S] [--type T] [--error-code C] [--older-than SECONDS] [--limit N]\n"
		"       gxctl commands show ID\n"
		"       gxctl commands requeue ID...\n"
		"       gxctl commands requeue --failed [--type T] [--error-code C] [--older-than SECONDS] [--limit N]\n"
		"\n"
		"list    newest first: id, status, type, attempts, error code, re-queueable (RQ), created at, error\n"
		"        (default limit 50).\n"
		"        S is PENDING, LOCKED, SUBMITTED, COMMITTED, PROJECTED or FAILED.\n"
		"show    the whole command as JSON (payload, error, lease, tx id) with its audit history.\n"
		"requeue reset FAILED commands whose failure may be retried (peer or orderer unreachable, timeouts,\n"
		"        MVCC conflicts, ...) to PENDING (attempts 0, error cleared; the submitter re-sends the same\n"
		"        transaction), oldest first, with an audit record each (actor gxctl:$USER). A business refusal of\n"
		"        the chain (CHAINCODE_<status>, MAPPING_ERROR, ...) is never re-queued. By id, or every FAILED\n"
		"        command matching the filter with --failed (default limit 100, at most 1000; the refused ones are\n"
		"        listed as \"skipped\"). Exits 1 when a given id is missing, not FAILED or not re-queueable (the\n"
		"        others are still re-queued).\n"
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
	return gx_api_tenant_env();
}

static int cmd_list(PGconn *conn, const struct filter *f)
{
	const char *params[GX_OUTBOX_STORE_CTL_LIST_NPARAMS] = {
		tenant(), f->status, f->type, f->older, NULL, f->error_code, f->limit ? f->limit : "50"
	};
	PGresult *res = PQexecParams(conn, gx_outbox_store_ctl_list_sql, GX_OUTBOX_STORE_CTL_LIST_NPARAMS, NULL, params,
				     NULL, NULL, 0);
	int n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "gxctl: commands list failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		return GXCTL_FAIL;
	}
	n = PQntuples(res);
	printf("%-36s  %-9s  %-24s  %3s  %-24s  %-3s  %-24s  %s\n", "ID", "STATUS", "TYPE", "ATT", "ERROR CODE", "RQ",
	       "CREATED", "ERROR");
	for (int i = 0; i < n; i++)
		printf("%-36s  %-9s  %-24s  %3s  %-24s  %-3s  %-24s  %.80s\n", PQgetvalue(res, i, 0),
		       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
		       PQgetvalue(res, i, 7), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
	printf("(%d command%s)\n", n, n == 1 ? "" : "s");
	PQclear(res);
	return GXCTL_OK;
}

static int cmd_show(PGconn *conn, const char *id)
{
	const char *params[2] = { tenant(), id };
	PGresult *res = PQexecParams(conn, gx_outbox_store_ctl_show_sql, 2, NULL, params, NULL, NULL, 0);
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

/* Why the row i of a re-queue result was not re-queued (static or result-owned text). */
static const char *not_requeued_why(PGresult *res, int i, char *buf, size_t n)
{
	const char *prev = PQgetvalue(res, i, 1), *code = PQgetvalue(res, i, 2);

	if (strcmp(prev, "FAILED") != 0) {
		snprintf(buf, n, "%s (only FAILED commands are re-queued)", prev);
		return buf;
	}
	if (PQgetisnull(res, i, 3))
		return "FAILED, changed meanwhile";
	snprintf(buf, n, "NOT_REQUEUEABLE: failed with %s: %s", *code ? code : "no error code", PQgetvalue(res, i, 3));
	return buf;
}

static int cmd_requeue(PGconn *conn, const struct filter *f, const char **ids, int nids)
{
	const char *user = getenv("USER");
	char *actor = gx_xasprintf("gxctl:%s", user && *user ? user : "operator");
	char *arr = nids ? array_literal(ids, nids) : NULL;
	char lim[24], why[512];
	const char *params[GX_REQUEUE_NPARAMS] = { 0 };
	PGresult *res;
	int rc = GXCTL_OK, n, done = 0;

	snprintf(lim, sizeof(lim), "%d", nids);
	params[0] = tenant();
	params[1] = arr;
	params[2] = f->type;
	params[3] = f->error_code;
	params[4] = f->older;
	params[6] = nids ? lim : (f->limit ? f->limit : "100");
	params[7] = actor;
	params[8] = "OPERATOR";
	res = PQexecParams(conn, gx_outbox_store_requeue_sql, GX_REQUEUE_NPARAMS, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "gxctl: commands requeue failed: %s", PQresultErrorMessage(res));
		rc = GXCTL_FAIL;
		goto out;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		if (strcmp(PQgetvalue(res, i, 4), "t") == 0) {
			printf("requeued %s\n", PQgetvalue(res, i, 0));
			done++;
		} else if (nids) {
			fprintf(stderr, "gxctl: %s not re-queued: %s\n", PQgetvalue(res, i, 0),
				not_requeued_why(res, i, why, sizeof(why)));
			rc = GXCTL_FAIL;
		} else {
			printf("skipped  %s  %s\n", PQgetvalue(res, i, 0), not_requeued_why(res, i, why, sizeof(why)));
		}
	}
	printf("(%d command%s re-queued)\n", done, done == 1 ? "" : "s");
	for (int i = 0; i < nids; i++) {
		bool seen = false;

		for (int j = 0; j < n && !seen; j++)
			seen = strcmp(ids[i], PQgetvalue(res, j, 0)) == 0;
		if (!seen) {
			fprintf(stderr, "gxctl: %s not re-queued: not found\n", ids[i]);
			rc = GXCTL_FAIL;
		}
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
			fprintf(stderr,
				"gxctl: commands requeue: give command ids, or --failed to re-queue by filter\n");
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
