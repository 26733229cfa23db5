/* Unit tests for gx/cfg.h: env table parsing and errors, startup logging and exit, help, DATABASE_URL conversion. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "gx/cfg.h"
#include "gx_test.h"

struct tcfg {
	long long port;
	char *secret;
	long long timeout_ms;
	bool flag;
	char *level;
	char *name;
	long long workers;
};

static const struct gx_cfg_key tkeys[] = {
	{ "T_PORT", GX_CFG_INT, "3001", 1, 65535, offsetof(struct tcfg, port), 0, NULL, "HTTP port" },
	{ "T_SECRET", GX_CFG_STR, NULL, 32, 0, offsetof(struct tcfg, secret), GX_CFG_REQUIRED | GX_CFG_SECRET, NULL,
	  "HS256 key" },
	{ "T_TIMEOUT", GX_CFG_MS, "5s", 1, 600000, offsetof(struct tcfg, timeout_ms), 0, NULL, "request timeout" },
	{ "T_FLAG", GX_CFG_BOOL, "false", 0, 0, offsetof(struct tcfg, flag), 0, NULL, "a switch" },
	{ "T_LEVEL", GX_CFG_ENUM, "info", 0, 0, offsetof(struct tcfg, level), 0, "trace|debug|info|warn", "level" },
	{ "T_NAME", GX_CFG_STR, NULL, 0, 8, offsetof(struct tcfg, name), 0, NULL, "optional name" },
	{ "T_WORKERS", GX_CFG_INT, NULL, 0, 0, offsetof(struct tcfg, workers), 0, NULL, "unbounded int" },
};
#define NKEYS GX_ARRAY_LEN(tkeys)
#define GOOD_SECRET "0123456789abcdef0123456789abcdef"

static void clear_env(void)
{
	for (size_t i = 0; i < NKEYS; i++)
		unsetenv(tkeys[i].name);
	unsetenv("DATABASE_URL");
	unsetenv("DATABASE_HOST");
	unsetenv("DATABASE_PORT");
	unsetenv("DATABASE_NAME");
	unsetenv("DATABASE_USER");
	unsetenv("DATABASE_PASSWORD");
}

GX_TEST(defaults_and_overrides)
{
	struct tcfg c;
	char err[512];

	clear_env();
	setenv("T_SECRET", GOOD_SECRET, 1);
	memset(&c, 0xa5, sizeof(c));
	GX_CHECK(gx_cfg_load(tkeys, NKEYS, &c, err, sizeof(err)) == 0);
	GX_CHECK_STR(err, "");
	GX_CHECK(c.port == 3001);
	GX_CHECK_STR(c.secret, GOOD_SECRET);
	GX_CHECK(c.timeout_ms == 5000);
	GX_CHECK(c.flag == false);
	GX_CHECK_STR(c.level, "info");
	GX_CHECK_STR(c.name, "");
	GX_CHECK(c.workers == 0);
	gx_cfg_free(tkeys, NKEYS, &c);
	GX_CHECK(c.secret == NULL && c.level == NULL && c.name == NULL);

	setenv("T_PORT", "8080", 1);
	setenv("T_TIMEOUT", "250ms", 1);
	setenv("T_FLAG", "YES", 1);
	setenv("T_LEVEL", "DEBUG", 1);
	setenv("T_NAME", "abc", 1);
	setenv("T_WORKERS", "-7", 1);
	GX_CHECK(gx_cfg_load(tkeys, NKEYS, &c, err, sizeof(err)) == 0);
	GX_CHECK(c.port == 8080 && c.timeout_ms == 250 && c.flag && c.workers == -7);
	GX_CHECK_STR(c.level, "debug"); /* stored as spelled in the table */
	GX_CHECK_STR(c.name, "abc");
	gx_cfg_free(tkeys, NKEYS, &c);

	/* set-but-empty is unset */
	setenv("T_PORT", "", 1);
	setenv("T_LEVEL", "", 1);
	GX_CHECK(gx_cfg_load(tkeys, NKEYS, &c, err, sizeof(err)) == 0);
	GX_CHECK(c.port == 3001);
	GX_CHECK_STR(c.level, "info");
	gx_cfg_free(tkeys, NKEYS, &c);
	clear_env();
}

static int load_port(const char *v, long long *out)
{
	struct tcfg c;
	char err[512];
	int rc;

	setenv("T_SECRET", GOOD_SECRET, 1);
	setenv("T_PORT", v, 1);
	rc = gx_cfg_load(tkeys, NKEYS, &c, err, sizeof(err));
	if (rc == 0) {
		*out = c.port;
		gx_cfg_free(tkeys, NKEYS, &c);
	}
	return rc;
}

static int load_ms(const char *v, long long *out)
{
	struct tcfg c;
	char err[512];
	int rc;

	setenv("T_SECRET", GOOD_SECRET, 1);
	setenv("T_TIMEOUT", v, 1);
	rc = gx_cfg_load(tkeys, NKEYS, &c, err, sizeof(err));
	if (rc == 0) {
		*out = c.timeout_ms;
		gx_cfg_free(tkeys, NKEYS, &c);
	}
	return rc;
}

GX_TEST(number_parsing_is_strict)
{
	long long v = 0;

	clear_env();
	GX_CHECK(load_port("1", &v) == 0 && v == 1);
	GX_CHECK(load_port("65535", &v) == 0 && v == 65535);
	GX_CHECK(load_port("0", &v) == -1);
	GX_CHECK(load_port("65536", &v) == -1);
	GX_CHECK(load_port("-1", &v) == -1);
	GX_CHECK(load_port(" 80", &v) == -1);
	GX_CHECK(load_port("80 ", &v) == -1);
	GX_CHECK(load_port("+80", &v) == -1);
	GX_CHECK(load_port("0x50", &v) == -1);
	GX_CHECK(load_port("8e1", &v) == -1);
	GX_CHECK(load_port("99999999999999999999", &v) == -1);
	clear_env();

	GX_CHECK(load_ms("500ms", &v) == 0 && v == 500);
	GX_CHECK(load_ms("5s", &v) == 0 && v == 5000);
	GX_CHECK(load_ms("2m", &v) == 0 && v == 120000);
	GX_CHECK(load_ms("100", &v) == 0 && v == 100);
	GX_CHECK(load_ms("10m", &v) == 0 && v == 600000);
	GX_CHECK(load_ms("11m", &v) == -1); /* above max */
	GX_CHECK(load_ms("0", &v) == -1);   /* below min */
	GX_CHECK(load_ms("1h", &v) == -1);
	GX_CHECK(load_ms("5 s", &v) == -1);
	GX_CHECK(load_ms("-5s", &v) == -1);
	GX_CHECK(load_ms("5sec", &v) == -1);
	GX_CHECK(load_ms("1.5s", &v) == -1);
	GX_CHECK(load_ms("s", &v) == -1);
	GX_CHECK(load_ms("9999999999999999999ms", &v) == -1);
	GX_CHECK(load_ms("9999999999999999h", &v) == -1);
	clear_env();
}

GX_TEST(all_problems_in_one_line)
{
	struct tcfg c;
	char err[1024];

	clear_env();
	setenv("T_PORT", "abc", 1);
	GX_CHECK(gx_cfg_load(tkeys, NKEYS, &c, err, sizeof(err)) == -1);
	GX_CHECK_STR(err, "invalid configuration: T_PORT='abc' is not an integer; T_SECRET is required");
	/* string fields are released on failure */
	GX_CHECK(c.secret == NULL && c.level == NULL && c.name == NULL);

	setenv("T_PORT", "70000", 1);
	setenv("T_SECRET", "hunter2-short", 1);
	setenv("T_TIMEOUT", "5x", 1);
	setenv("T_FLAG", "maybe", 1);
	setenv("T_LEVEL", "verbose", 1);
	setenv("T_NAME", "waytoolongname", 1);
	setenv("T_WORKERS", "1\n2", 1);
	GX_CHECK(gx_cfg_load(tkeys, NKEYS, &c, err, sizeof(err)) == -1);
	GX_CHECK_STR(err,
		     "invalid configuration: T_PORT='70000' is out of range 1..65535; "
		     "T_SECRET='***' is too short (at least 32 bytes); "
		     "T_TIMEOUT='5x' is not a duration (e.g. 500ms, 5s, 2m); "
		     "T_FLAG='maybe' is not a boolean (true/false); "
		     "T_LEVEL='verbose' is not one of trace|debug|info|warn; "
		     "T_NAME='waytoolongname' is too long (at most 8 bytes); "
		     "T_WORKERS='1?2' is not an integer");
	GX_CHECK(strstr(err, "hunter2") == NULL);
	GX_CHECK(strchr(err, '\n') == NULL);
	/* a small buffer truncates but stays terminated */
	GX_CHECK(gx_cfg_load(tkeys, NKEYS, &c, err, 16) == -1);
	GX_CHECK(strlen(err) == 15);
	clear_env();
}

GX_TEST(bad_default_is_reported)
{
	static const struct gx_cfg_key bad[] = {
		{ "T_TIMEOUT", GX_CFG_MS, "2h", 1, 600000, offsetof(struct tcfg, timeout_ms), 0, NULL, "timeout" },
	};
	struct tcfg c;
	char err[256];

	clear_env();
	GX_CHECK(gx_cfg_load(bad, 1, &c, err, sizeof(err)) == -1);
	GX_CHECK_STR(err, "invalid configuration: T_TIMEOUT='2h' is out of range 1..600000 ms (built-in default)");
	setenv("T_TIMEOUT", "1m", 1);
	GX_CHECK(gx_cfg_load(bad, 1, &c, err, sizeof(err)) == 0 && c.timeout_ms == 60000);
	clear_env();
}

/* Run fn in a child with stdout captured; returns the child's exit status (or -1) and its output in out. */
static int run_captured(void (*fn)(void), char *out, size_t cap)
{
	int fds[2], status = 0;
	size_t len = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (len + 1 < cap && (r = read(fds[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void child_load(void)
{
	struct tcfg c;

	gx_cfg_load_or_exit(tkeys, NKEYS, &c, "svc-test");
	gx_cfg_free(tkeys, NKEYS, &c);
}

GX_TEST(load_or_exit_logs)
{
	char out[4096];

	clear_env();
	setenv("T_PORT", "abc", 1);
	GX_CHECK(run_captured(child_load, out, sizeof(out)) == 2);
	GX_CHECK(strstr(out, "\"level\":\"fatal\"") != NULL);
	GX_CHECK(strstr(out,
			"\"msg\":\"invalid configuration: T_PORT='abc' is not an integer; "
			"T_SECRET is required\"") != NULL);
	GX_CHECK(strchr(out, '\n') == out + strlen(out) - 1); /* exactly one line */

	clear_env();
	setenv("T_SECRET", GOOD_SECRET, 1);
	setenv("T_PORT", "8080", 1);
	GX_CHECK(run_captured(child_load, out, sizeof(out)) == 0);
	GX_CHECK(strstr(out, "\"level\":\"info\"") != NULL);
	GX_CHECK(strstr(out, "\"msg\":\"svc-test configuration\"") != NULL);
	/* typed: integers and durations (ms) as JSON numbers, flags as booleans, text as strings */
	GX_CHECK(strstr(out, "\"T_PORT\":8080") != NULL);
	GX_CHECK(strstr(out, "\"T_SECRET\":\"***\"") != NULL);
	GX_CHECK(strstr(out, "\"T_TIMEOUT\":5000") != NULL);
	GX_CHECK(strstr(out, "\"T_FLAG\":false") != NULL);
	GX_CHECK(strstr(out, "\"T_LEVEL\":\"info\"") != NULL);
	GX_CHECK(strstr(out, GOOD_SECRET) == NULL);
	GX_CHECK(strchr(out, '\n') == out + strlen(out) - 1);
	clear_env();
}

GX_TEST(help_table)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	gx_cfg_print_help(f, tkeys, NKEYS, "svc-test");
	fclose(f);
	GX_CHECK(strstr(buf, "svc-test") != NULL);
	GX_CHECK(strstr(buf, "NAME") != NULL && strstr(buf, "DEFAULT") != NULL && strstr(buf, "REQUIRED") != NULL);
	GX_CHECK(strstr(buf, "T_PORT") != NULL && strstr(buf, "int[1..65535]") != NULL);
	GX_CHECK(strstr(buf, "duration[1..600000ms]") != NULL);
	GX_CHECK(strstr(buf, "trace|debug|info|warn") != NULL);
	GX_CHECK(strstr(buf, "string(>=32 bytes)") != NULL);
	GX_CHECK(strstr(buf, "(secret)") != NULL);
	/* one header, one title, one blank line and one line per key */
	{
		int lines = 0;
		for (char *p = buf; *p; p++)
			lines += *p == '\n';
		GX_CHECK(lines == (int)NKEYS + 3);
	}
	free(buf);
}

/* conninfo for a DATABASE_URL, or NULL; err receives the reason. */
static char *url_conninfo(const char *url, char *err, size_t errlen)
{
	clear_env();
	setenv("DATABASE_URL", url, 1);
	err[0] = '\0';
	return gx_cfg_pg_conninfo(err, errlen);
}

/* The value libpq itself reads for keyword in conninfo (caller frees), to prove the quoting is right. */
static char *libpq_value(const char *conninfo, const char *keyword)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	char *v = NULL;

	if (!opts)
		return gx_xstrdup("(unparseable)");
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val)
			v = gx_xstrdup(o->val);
	PQconninfoFree(opts);
	return v ? v : gx_xstrdup("(unset)");
}

#define CHECK_URL(url, want) \
	do { \
		char err_[256]; \
		char *ci_ = url_conninfo(url, err_, sizeof(err_)); \
		GX_CHECK_STR(ci_, want); \
		if (!ci_) \
			printf("#   error: %s\n", err_); \
		free(ci_); \
	} while (0)

GX_TEST(database_url_shapes)
{
	CHECK_URL("postgresql://gxuser:gxpass@localhost:5432/gxprotocol_dev?schema=public",
		  "user='gxuser' password='gxpass' host='localhost' port='5432' dbname='gxprotocol_dev'");
	CHECK_URL("postgres://gxuser:gxpass@db.internal/gx_protocol",
		  "user='gxuser' password='gxpass' host='db.internal' dbname='gx_protocol'");
	CHECK_URL("postgres://gx@db:6432/gx_protocol", "user='gx' host='db' port='6432' dbname='gx_protocol'");
	CHECK_URL("postgres://db", "host='db'");
	CHECK_URL("postgresql://", "");
	CHECK_URL("postgres://u:p@[::1]:5433/d", "user='u' password='p' host='::1' port='5433' dbname='d'");
	CHECK_URL("postgres://u@[2001:db8::7]/d", "user='u' host='2001:db8::7' dbname='d'");
	CHECK_URL("postgresql://%2Fvar%2Frun%2Fpostgresql/gx_protocol",
		  "host='/var/run/postgresql' dbname='gx_protocol'");
	CHECK_URL("postgres://u:pw@h/d?sslmode=require&application_name=svc-identity&connect_timeout=5",
		  "user='u' password='pw' host='h' dbname='d' sslmode='require' application_name='svc-identity' "
		  "connect_timeout='5'");
	CHECK_URL("postgres://u:pw@h/d?connection_limit=5&pool_timeout=10",
		  "user='u' password='pw' host='h' dbname='d'");
	CHECK_URL("POSTGRESQL://u@h/d", "user='u' host='h' dbname='d'");
	CHECK_URL("postgres://my%20user@h/my%2Fdb", "user='my user' host='h' dbname='my/db'");
}

GX_TEST(database_url_passwords)
{
	char err[256], *ci, *pw;

	/* encoded '/', '=', '@', ':', quote and backslash */
	ci = url_conninfo("postgresql://gx:p%2Fa%3Ds%40s%3Aw'o%5Crd@h:5432/gx_protocol", err, sizeof(err));
	GX_CHECK_STR(ci, "user='gx' password='p/a=s@s:w\\'o\\\\rd' host='h' port='5432' dbname='gx_protocol'");
	pw = libpq_value(ci, "password");
	GX_CHECK_STR(pw, "p/a=s@s:w'o\\rd");
	free(pw);
	free(ci);
	/* lowercase escapes and a literal %2F that must come out as '/' */
	ci = url_conninfo("postgres://gx:%2f%2F%3d@h/d", err, sizeof(err));
	pw = ci ? libpq_value(ci, "password") : NULL;
	GX_CHECK_STR(pw, "//=");
	free(pw);
	free(ci);
	/* raw '@' and ':' in a password still work (last '@' ends the userinfo, first ':' ends the user) */
	ci = url_conninfo("postgres://gx:p@ss:w@h/d", err, sizeof(err));
	GX_CHECK_STR(ci, "user='gx' password='p@ss:w' host='h' dbname='d'");
	free(ci);
	/* empty password is left out so libpq can still use PGPASSWORD/.pgpass */
	ci = url_conninfo("postgres://gx:@h/d", err, sizeof(err));
	GX_CHECK_STR(ci, "user='gx' host='h' dbname='d'");
	free(ci);
}

/* Shapes libpq's own URI parser brings: host lists (each with or without a port, [v6] among them) and a
 * percent-encoded IPv6 zone. */
GX_TEST(database_url_libpq_shapes)
{
	char err[256], *ci, *v;

	CHECK_URL("postgres://u:pw@h1:5432,h2:5433/d",
		  "user='u' password='pw' host='h1,h2' port='5432,5433' dbname='d'");
	CHECK_URL("postgresql://u@[::1]:5433,[2001:db8::7],h3/d?target_session_attrs=read-write",
		  "user='u' host='::1,2001:db8::7,h3' port='5433,,' dbname='d' target_session_attrs='read-write'");
	CHECK_URL("postgres://h1,h2:6432/d", "host='h1,h2' port=',6432' dbname='d'");
	CHECK_URL("postgres://u@[fe80::1%25eth0]:5432/d", "user='u' host='fe80::1%eth0' port='5432' dbname='d'");
	/* a raw '=' inside a value and a raw '@' in the query, as before */
	CHECK_URL("postgres://u@h/d?options=-csearch_path=gx",
		  "user='u' host='h' dbname='d' options='-csearch_path=gx'");
	CHECK_URL("postgres://h?application_name=a@b", "host='h' application_name='a@b'");
	/* what libpq reads back from a host list */
	ci = url_conninfo("postgres://u:p%40ss@h1:5432,h2/d", err, sizeof(err));
	v = ci ? libpq_value(ci, "host") : NULL;
	GX_CHECK_STR(v, "h1,h2");
	free(v);
	v = ci ? libpq_value(ci, "password") : NULL;
	GX_CHECK_STR(v, "p@ss");
	free(v);
	free(ci);
}

#define CHECK_URL_BAD(url, want_err) \
	do { \
		char err_[256]; \
		char *ci_ = url_conninfo(url, err_, sizeof(err_)); \
		GX_CHECK(ci_ == NULL); \
		GX_CHECK_STR(err_, want_err); \
		GX_CHECK(strstr(err_, "s3cr3t") == NULL); \
		free(ci_); \
	} while (0)

GX_TEST(database_url_errors)
{
	CHECK_URL_BAD("mysql://u:s3cr3t@h/d", "DATABASE_URL must start with postgres:// or postgresql://");
	CHECK_URL_BAD("postgresql:/h/d", "DATABASE_URL must start with postgres:// or postgresql://");
	CHECK_URL_BAD("h:5432/d", "DATABASE_URL must start with postgres:// or postgresql://");
	CHECK_URL_BAD("postgres://u:s3cr3t%zz@h/d", "DATABASE_URL has a bad percent-escape in its user or password");
	CHECK_URL_BAD("postgres://u:s3cr3t%2@h/d", "DATABASE_URL has a bad percent-escape in its user or password");
	CHECK_URL_BAD("postgres://u:s3cr3t%00@h/d", "DATABASE_URL has a bad percent-escape in its user or password");
	CHECK_URL_BAD("postgres://u:s3cr3t@h:abc/d", "DATABASE_URL has an invalid port");
	CHECK_URL_BAD("postgres://u:s3cr3t@h:70000/d", "DATABASE_URL has an invalid port");
	CHECK_URL_BAD("postgres://u:s3cr3t@h:/d", "DATABASE_URL has an invalid port");
	CHECK_URL_BAD("postgres://u:s3cr3t@[::1/d", "DATABASE_URL has a bad [IPv6] host");
	CHECK_URL_BAD("postgres://u:s3cr3t@[::1]x/d", "DATABASE_URL has a bad [IPv6] host");
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d%", "DATABASE_URL has a bad percent-escape in its database name");
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d?sslmode=sometimes", "DATABASE_URL has an invalid sslmode");
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d?connect_timeout=soon", "DATABASE_URL has an invalid connect_timeout");
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d?foo=bar", "DATABASE_URL has an unsupported query parameter");
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d?schema=other", "DATABASE_URL names a schema other than public");
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d?sslmode", "DATABASE_URL has a query parameter without '='");
	/* every port of a host list is checked, and a ':' without a port is refused there too */
	CHECK_URL_BAD("postgres://u:s3cr3t@h1:5432,h2:70000/d", "DATABASE_URL has an invalid port");
	CHECK_URL_BAD("postgres://u:s3cr3t@h1:,h2/d", "DATABASE_URL has an invalid port");
	CHECK_URL_BAD("postgres://u:s3cr3t@[::1]:,h2/d", "DATABASE_URL has an invalid port");
	CHECK_URL_BAD("postgres://u:s3cr3t@h1,[::1/d", "DATABASE_URL has a bad [IPv6] host");
	CHECK_URL_BAD("postgres://u:s3cr3t@[]/d", "DATABASE_URL has a bad [IPv6] host");
	CHECK_URL_BAD("postgres://u:s3cr3t@h%zz/d", "DATABASE_URL has a bad percent-escape in its host");
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d?sslmode=req%zz", "DATABASE_URL has a bad percent-escape in its query");
	/* libpq would read these as the connection's host, user or password: only url_params pass */
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d?host=evil", "DATABASE_URL has an unsupported query parameter");
	CHECK_URL_BAD("postgres://u@h/d?password=s3cr3t", "DATABASE_URL has an unsupported query parameter");
	CHECK_URL_BAD("postgres://u:s3cr3t@h/d?ssl=true", "DATABASE_URL has an unsupported query parameter");
}

GX_TEST(database_fallbacks)
{
	char err[256] = "", *ci;

	clear_env();
	ci = gx_cfg_pg_conninfo(err, sizeof(err));
	GX_CHECK_STR(ci, ""); /* libpq falls back to PG* itself */
	free(ci);

	setenv("DATABASE_HOST", "pg.local", 1);
	setenv("DATABASE_PORT", "5433", 1);
	setenv("DATABASE_NAME", "gx_protocol", 1);
	setenv("DATABASE_USER", "gx", 1);
	setenv("DATABASE_PASSWORD", "it's/a=secret@", 1);
	ci = gx_cfg_pg_conninfo(err, sizeof(err));
	GX_CHECK_STR(ci, "host='pg.local' port='5433' dbname='gx_protocol' user='gx' password='it\\'s/a=secret@'");
	free(ci);

	/* DATABASE_URL wins over the separate variables */
	setenv("DATABASE_URL", "postgres://other@h2/d2", 1);
	ci = gx_cfg_pg_conninfo(err, sizeof(err));
	GX_CHECK_STR(ci, "user='other' host='h2' dbname='d2'");
	free(ci);
	unsetenv("DATABASE_URL");

	setenv("DATABASE_PORT", "54x", 1);
	ci = gx_cfg_pg_conninfo(err, sizeof(err));
	GX_CHECK(ci == NULL);
	GX_CHECK_STR(err, "DATABASE_PORT='54x' is not a port number 1..65535");
	clear_env();
}

GX_TEST(conninfo_masking)
{
	char *m;

	m = gx_cfg_conninfo_masked("host='h' port='5432' user='gx' password='it\\'s secret' dbname='d'");
	GX_CHECK(strstr(m, "password='***'") != NULL);
	GX_CHECK(strstr(m, "secret") == NULL);
	GX_CHECK(strstr(m, "host='h'") != NULL && strstr(m, "user='gx'") != NULL && strstr(m, "dbname='d'") != NULL);
	free(m);
	m = gx_cfg_conninfo_masked("postgresql://gx:hunter2@db:5432/gx_protocol");
	GX_CHECK(strstr(m, "password='***'") != NULL && strstr(m, "hunter2") == NULL);
	GX_CHECK(strstr(m, "host='db'") != NULL);
	free(m);
	m = gx_cfg_conninfo_masked("host='h' dbname='d'");
	GX_CHECK_STR(m, "dbname='d' host='h'");
	free(m);
	m = gx_cfg_conninfo_masked("host='unterminated password=x");
	GX_CHECK_STR(m, "(invalid conninfo)");
	free(m);
	m = gx_cfg_conninfo_masked("");
	GX_CHECK_STR(m, "");
	free(m);
}

int main(void)
{
	GX_RUN(defaults_and_overrides);
	GX_RUN(number_parsing_is_strict);
	GX_RUN(all_problems_in_one_line);
	GX_RUN(bad_default_is_reported);
	GX_RUN(load_or_exit_logs);
	GX_RUN(help_table);
	GX_RUN(database_url_shapes);
	GX_RUN(database_url_passwords);
	GX_RUN(database_url_libpq_shapes);
	GX_RUN(database_url_errors);
	GX_RUN(database_fallbacks);
	GX_RUN(conninfo_masking);
	return gx_test_done();
}
