/* gxctl, the operator command line: the verb table's row type, each verb's entry point and shared helpers.
 *
 * Adding a verb: write common/gxctl/<verb>.c with `int gxctl_<verb>(int argc, char **argv)` (argv[0] is the verb
 * name; handle --help there), declare it here and add one row to the table in main.c.
 */
#ifndef GXCTL_H
#define GXCTL_H

#include <libpq-fe.h>

#include "gx/api.h" /* gx_api_tenant_env: TENANT_ID as the daemons read it */

/* Exit codes of every verb. */
enum gxctl_exit {
	GXCTL_OK = 0,          /* done */
	GXCTL_FAIL = 1,        /* the operation failed (database, file, refused migration, ...) */
	GXCTL_USAGE = 2,       /* bad arguments or configuration */
	GXCTL_DIFFERENCES = 3, /* reconcile: the read models differ from the ledger */
	GXCTL_IN_FLIGHT = 4,   /* reconcile: no difference, but entities still being written could not be settled */
};

/* One row of the verb table. All strings are static. */
struct gxctl_verb {
	const char *name;                  /* as typed: gxctl <name> ... */
	const char *summary;               /* one line for `gxctl --help` */
	int (*run)(int argc, char **argv); /* returns an enum gxctl_exit value */
};

/* Verbs. */
int gxctl_migrate(int argc, char **argv);
int gxctl_seed(int argc, char **argv);
int gxctl_create_super_admin(int argc, char **argv); /* super_admin.c */
int gxctl_commands(int argc, char **argv);           /* commands.c: list|show|requeue */
int gxctl_projector(int argc, char **argv);          /* projector.c: rebuild */
int gxctl_token(int argc, char **argv);              /* token.c: mint (development only) */
int gxctl_partner_key(int argc, char **argv);        /* partner_key.c: create|revoke */
int gxctl_reconcile(int argc, char **argv);          /* reconcile.c: read models vs ledger */

/* True when argv[1..argc-1] asks for help (-h or --help). */
int gxctl_wants_help(int argc, char **argv);

/* Connect to the database configured in the environment (DATABASE_URL, DATABASE_HOST/..., or libpq's PG*
 * variables; passwords never come from argv). Returns the connection (caller owns; PQfinish() it), or NULL with
 * *exit_code set: GXCTL_USAGE for a configuration error, GXCTL_FAIL when the server cannot be reached (both
 * reported on stderr or in the log). */
PGconn *gxctl_connect(int *exit_code);

/* The help text on database configuration shared by the verbs' --help. */
extern const char GXCTL_DB_HELP[];

#endif
