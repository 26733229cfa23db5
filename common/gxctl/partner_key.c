/* gxctl partner-key: create and revoke partner API keys from the operator's shell (break-glass: no admin token,
 * no running svc-admin needed; docs/partners.md). The same SQL as svc-admin (gx/apikey.h), each change audited
 * with actor gxctl:$USER, role OPERATOR. A revocation here goes to the database only: every replica refuses the
 * key within a second through its cache of the key's row (gx/apikey.h), also when Redis is down. */
#include "gxctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/platform_util.h>

#include "gx/apikey.h"
#include "gx/util.h"
#include "gx/valid.h"

#define DEFAULT_EXPIRES_S (90LL * 86400)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl partner-key create --name NAME --scopes S1,S2,... [--rate PER_MIN] [--expires-in SECONDS]\n"
		"                                [--profile PROFILE_ID]\n"
		"       gxctl partner-key revoke KEY_ID\n"
		"\n"
		"create: prints the key's JSON object with \"apiKey\", the key itself, shown this once (only its SHA-256\n"
		"        is stored). --rate 1..%d (default 60), --expires-in 1..%lld seconds (default 90 days).\n"
		"        Scopes: docs/partners.md. TENANT_ID (default \"default\") names the tenant.\n"
		"revoke: marks the key revoked (the first revocation time is kept); every API refuses it within a second.\n"
		"        Prints the key's JSON object; exit 1 when there is no such key.\n\n%s",
		GX_APIKEY_RATE_MAX, GX_APIKEY_EXPIRES_MAX, GXCTL_DB_HELP);
}

static int parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (!*s || *end || errno || *out < min || *out > max) ? -1 : 0;
}

/* Split a comma list (borrowed) into up to max names pointing into a copy (returned; caller frees). */
static char *split_scopes(const char *list, const char **names, size_t max, size_t *n)
{
	char *copy = gx_xstrdup(list), *save = NULL;

	*n = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == max) {
			*n = max + 1;
			break;
		}
		names[(*n)++] = t;
	}
	return copy;
}

/* Run the create or revoke statement and print the key's object, with text (the new key, or NULL) as "apiKey". */
static int run(PGconn *conn, const char *sql, int n, const char *const *p, const char *what, const char *text)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);
	int rc = GXCTL_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "gxctl: partner-key %s failed: %s", what, PQresultErrorMessage(res));
		rc = GXCTL_FAIL;
	} else if (PQntuples(res) != 1) {
		fprintf(stderr, "gxctl: partner-key %s: no key %s\n", what, p[1]);
		rc = GXCTL_FAIL;
	}
	if (rc == GXCTL_OK && text) /* the object's closing brace replaced by the key, shown this once */
		printf("%.*s,\"apiKey\":\"%s\"}\n", (int)strlen(PQgetvalue(res, 0, 0)) - 1, PQgetvalue(res, 0, 0),
		       text);
	else if (rc == GXCTL_OK)
		printf("%s\n", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

static int create(int argc, char **argv, const char *actor)
{
	const char *name = NULL, *scopes_arg = NULL, *rate_s = "60", *exp_s = NULL, *profile = NULL;
	const char *names[64];
	char id[GX_APIKEY_ID_LEN + 1], text[GX_APIKEY_TEXT_LEN + 1], hash[65], rate[24], exp[24], buf[160];
	const char *why = NULL, *p[12];
	char *copy, *literal = NULL;
	long long r, e = DEFAULT_EXPIRES_S;
	size_t n;
	PGconn *conn;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char **dst = strcmp(argv[i], "--name") == 0         ? &name
				   : strcmp(argv[i], "--scopes") == 0     ? &scopes_arg
				   : strcmp(argv[i], "--rate") == 0       ? &rate_s
				   : strcmp(argv[i], "--expires-in") == 0 ? &exp_s
				   : strcmp(argv[i], "--profile") == 0    ? &profile
									  : NULL;

		if (!dst || i + 1 >= argc) {
			fprintf(stderr, "gxctl: partner-key create: %s '%s' (see --help)\n",
				dst ? "missing value for" : "unknown argument", argv[i]);
			return GXCTL_USAGE;
		}
		*dst = argv[++i];
	}
	if (!name || !*name || strlen(name) > GX_APIKEY_NAME_MAX || !gx_valid_utf8(name) || !scopes_arg) {
		fprintf(stderr, "gxctl: partner-key create: --name (1..%d bytes) and --scopes are required\n",
			GX_APIKEY_NAME_MAX);
		return GXCTL_USAGE;
	}
	if (parse_ll(rate_s, 1, GX_APIKEY_RATE_MAX, &r) < 0 ||
	    (exp_s && parse_ll(exp_s, 1, GX_APIKEY_EXPIRES_MAX, &e) < 0) || (profile && !gx_valid_id(profile))) {
		fprintf(stderr, "gxctl: partner-key create: bad --rate, --expires-in or --profile (see --help)\n");
		return GXCTL_USAGE;
	}
	copy = split_scopes(scopes_arg, names, GX_ARRAY_LEN(names), &n);
	if (n > GX_ARRAY_LEN(names) || gx_apikey_scopes_check(names, n, &literal, buf, sizeof(buf), &why) < 0) {
		fprintf(stderr, "gxctl: partner-key create: --scopes %s\n", why ? why : "names too many scopes");
		free(copy);
		return GXCTL_USAGE;
	}
	free(copy);
	conn = gxctl_connect(&rc);
	if (!conn) {
		free(literal);
		return rc;
	}
	if (gx_apikey_generate(id, text, hash) < 0) {
		rc = GXCTL_FAIL;
		goto out;
	}
	snprintf(rate, sizeof(rate), "%lld", r);
	snprintf(exp, sizeof(exp), "%lld", e);
	p[0] = id;
	p[1] = gx_api_tenant_env();
	p[2] = name;
	p[3] = hash;
	p[4] = literal;
	p[5] = profile;
	p[6] = rate;
	p[7] = exp;
	p[8] = actor;
	p[9] = "OPERATOR";
	p[10] = NULL;
	p[11] = NULL;
	rc = run(conn, GX_APIKEY_SQL_CREATE, 12, p, "create", text);
out:
	mbedtls_platform_zeroize(text, sizeof(text));
	free(literal);
	PQfinish(conn);
	return rc;
}

static int revoke(int argc, char **argv, const char *actor)
{
	const char *p[6];
	PGconn *conn;
	int rc;

	if (argc != 2 || !gx_valid_id(argv[1])) {
		fprintf(stderr, "gxctl: partner-key revoke: one KEY_ID expected (see --help)\n");
		return GXCTL_USAGE;
	}
	conn = gxctl_connect(&rc);
	if (!conn)
		return rc;
	p[0] = gx_api_tenant_env();
	p[1] = argv[1];
	p[2] = actor;
	p[3] = "OPERATOR";
	p[4] = NULL;
	p[5] = NULL;
	rc = run(conn, GX_APIKEY_SQL_REVOKE, 6, p, "revoke", NULL);
	PQfinish(conn);
	return rc;
}

int gxctl_partner_key(int argc, char **argv)
{
	const char *user = getenv("USER");
	char *actor;
	int rc;

	if (gxctl_wants_help(argc, argv)) {
		usage(stdout);
		return GXCTL_OK;
	}
	if (argc < 2 || (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "revoke") != 0)) {
		usage(stderr);
		return GXCTL_USAGE;
	}
	actor = gx_xasprintf("gxctl:%s", user && *user ? user : "operator");
	rc = strcmp(argv[1], "create") == 0 ? create(argc - 1, argv + 1, actor) : revoke(argc - 1, argv + 1, actor);
	free(actor);
	return rc;
}
