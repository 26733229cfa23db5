/* gxctl migrate up|status: apply or inspect the schema migrations embedded in the binary (gx/migrate.h). */
#include "gxctl.h"

#include <stdio.h>
#include <string.h>

#include "gx/migrate.h"

static void migrate_usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl migrate up       apply pending migrations (advisory lock; each file in its own transaction)\n"
		"       gxctl migrate status   list migrations: version, name, applied at, checksum\n"
		"\n"
		"up refuses to run (exit 1, naming the file) when an applied migration's checksum changed; running it\n"
		"again, or twice at once, is safe. A database created by the original system is adopted: 0001 is\n"
		"recorded as a baseline and 0002 converts it. status exits 1 when a checksum changed, else 0.\n"
		"This binary carries migrations up to version %d.\n\n%s",
		gx_migrate_expected_version(), GXCTL_DB_HELP);
}

int gxctl_migrate(int argc, char **argv)
{
	PGconn *conn;
	int rc, applied, pending, changed;

	if (gxctl_wants_help(argc, argv)) {
		migrate_usage(stdout);
		return GXCTL_OK;
	}
	if (argc != 2 || (strcmp(argv[1], "up") != 0 && strcmp(argv[1], "status") != 0)) {
		migrate_usage(stderr);
		return GXCTL_USAGE;
	}
	conn = gxctl_connect(&rc);
	if (!conn)
		return rc;
	if (strcmp(argv[1], "up") == 0) {
		rc = gx_migrate_up(conn, &applied) < 0 ? GXCTL_FAIL : GXCTL_OK;
	} else {
		rc = gx_migrate_status(conn, stdout, &pending, &changed) < 0 || changed ? GXCTL_FAIL : GXCTL_OK;
	}
	PQfinish(conn);
	return rc;
}
