/* gxctl shared helpers: database connection from the environment and --help detection. */
#include "gxctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/cfg.h"
#include "gx/pg.h"

const char GXCTL_DB_HELP[] =
	"Database: DATABASE_URL (postgres:// or postgresql://, percent-encoded password), or DATABASE_HOST,\n"
	"DATABASE_PORT, DATABASE_NAME, DATABASE_USER, DATABASE_PASSWORD, or libpq's PG* variables.\n"
	"Passwords are never taken from the command line.\n";

int gxctl_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

PGconn *gxctl_connect(int *exit_code)
{
	char err[256] = "";
	char *conninfo = gx_cfg_pg_conninfo(err, sizeof(err));
	PGconn *conn;

	if (!conninfo) {
		fprintf(stderr, "gxctl: bad database configuration: %s\n", err);
		*exit_code = GXCTL_USAGE;
		return NULL;
	}
	conn = gx_pg_connect_blocking(conninfo, "gxctl");
	free(conninfo);
	if (!conn) {
		*exit_code = GXCTL_FAIL;
		return NULL;
	}
	*exit_code = GXCTL_OK;
	return conn;
}
